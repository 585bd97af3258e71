--
-- check(script, single_transaction): the script's own transactions, for
-- rules held_lock_work and backfill.
--
CREATE SCHEMA check_xact;
SET search_path = check_xact, public;
SELECT mg_big('cx');
SELECT mg_big('cx_other');
CREATE TABLE cx_small (n int);

-- cx_check(script, single): the rows that say something.
CREATE FUNCTION cx_check(script text, single boolean)
RETURNS TABLE (stmt_no int, rule text, verdict text, relation text, lock_mode text, message text)
LANGUAGE sql AS $$
    SELECT stmt_no, rule, verdict, relation, lock_mode,
           regexp_replace(message, 'about \d+|up to \d+', 'N', 'g')
      FROM migration_guard.check(script, single)
     WHERE rule IS NOT NULL AND rule <> 'unclassified'
$$;

-- The NOT VALID recipe in one transaction: VALIDATE runs under the lock.
SELECT * FROM cx_check($$
BEGIN;
ALTER TABLE cx ADD CONSTRAINT cx_pos CHECK (id > 0) NOT VALID;
ALTER TABLE cx VALIDATE CONSTRAINT cx_pos;
COMMIT;
$$, false);
-- The same, each in its own transaction: nothing.
SELECT * FROM cx_check($$
ALTER TABLE cx ADD CONSTRAINT cx_pos CHECK (id > 0) NOT VALID;
ALTER TABLE cx VALIDATE CONSTRAINT cx_pos;
$$, false);
-- ... unless the framework wraps the whole script in one transaction.
SELECT * FROM cx_check($$
ALTER TABLE cx ADD CONSTRAINT cx_pos CHECK (id > 0) NOT VALID;
ALTER TABLE cx VALIDATE CONSTRAINT cx_pos;
$$, true);
-- ADD COLUMN then the backfill, in one transaction: rejected; with a WHERE
-- clause it is an upper bound, so a warning.
SELECT * FROM cx_check($$
BEGIN;
ALTER TABLE cx ADD COLUMN c int;
UPDATE cx SET c = 1;
UPDATE cx SET c = 1 WHERE id < 100;
DELETE FROM cx_other;
INSERT INTO cx_small VALUES (1), (2);
COMMIT;
UPDATE cx SET c = 1;
$$, false);
-- LOCK TABLE, then work on another table.
SELECT * FROM cx_check($$
BEGIN;
LOCK TABLE cx_other IN SHARE MODE;
COPY cx TO stdout;
ROLLBACK;
COPY cx TO stdout;
$$, false);
-- A table created by the script holds back nobody.
SELECT * FROM cx_check($$
BEGIN;
CREATE TABLE cx_new (id int);
ALTER TABLE cx_new ADD COLUMN c int;
UPDATE cx SET v = v;
COMMIT;
$$, false);
-- backfill_row_limit: the transaction's total.
SET migration_guard.backfill_row_limit = 30000;
SELECT * FROM cx_check($$
BEGIN;
UPDATE cx SET v = v;
UPDATE cx_other SET v = v;
COMMIT;
UPDATE cx SET v = v;
UPDATE cx_other SET v = v;
$$, false);
RESET migration_guard.backfill_row_limit;
-- check(script) follows the script's BEGIN and COMMIT too.
SELECT count(*) FROM migration_guard.check($$
BEGIN;
ALTER TABLE cx ADD COLUMN c int;
UPDATE cx SET c = 1;
COMMIT;
$$) WHERE rule = 'held_lock_work';
-- NULL arguments are errors.
SELECT * FROM migration_guard.check(NULL, true);
SELECT * FROM migration_guard.check('SELECT 1', NULL);
-- Nothing of the script ran.
SELECT count(*) FROM pg_constraint WHERE conname = 'cx_pos';
SELECT count(*) FROM pg_class WHERE relname = 'cx_new';

DROP SCHEMA check_xact CASCADE;
