--
-- Rule "backfill": DML judged by how many rows it will modify.
--
CREATE SCHEMA backfill;
SET search_path = backfill, public;

-- backfill_try(stmt): run one statement; a rejection is reported by its
-- message with the estimates replaced by N (they follow the table's pages,
-- which earlier updates and autovacuum change).
CREATE FUNCTION backfill_try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ran';
EXCEPTION WHEN SQLSTATE 'MG001' THEN
    RETURN 'rejected: ' || regexp_replace(SQLERRM, 'about \d+', 'about N', 'g');
END
$$;

SELECT mg_big('big');

-- Off by default: application roles run batch jobs.
SHOW migration_guard.backfill_row_limit;
SELECT mg_big('free');
UPDATE free SET n = 0;

-- A single statement estimated above the limit is rejected before it starts.
SET migration_guard.backfill_row_limit = 5000;
SELECT mg_big('fresh');
UPDATE fresh SET n = 0;
SELECT count(*) FROM fresh WHERE n = 0;

\set VERBOSITY terse
-- The same work in batches, each its own transaction, passes.
UPDATE fresh SET n = 1 WHERE id <= 2000;
UPDATE fresh SET n = 1 WHERE id > 2000 AND id <= 4000;
UPDATE fresh SET n = 1 WHERE id > 4000 AND id <= 6000;
UPDATE fresh SET n = 1 WHERE id > 6000 AND id <= 8000;
SELECT count(*) FROM fresh WHERE n = 1;

-- Batches inside one transaction count together: the statement that would
-- take the total across the limit is rejected.
SELECT mg_big('xact');
BEGIN;
UPDATE xact SET n = 2 WHERE id <= 2000;
UPDATE xact SET n = 2 WHERE id > 2000 AND id <= 4000;
SELECT backfill_try('UPDATE xact SET n = 2 WHERE id > 4000 AND id <= 6000');
ROLLBACK;

-- The recipe: a procedure that commits after each batch.
CREATE PROCEDURE backfill_batches(tbl regclass) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 0..9 LOOP
        EXECUTE format('UPDATE %s SET n = 2 WHERE id > $1 AND id <= $2', tbl)
          USING i * 2000, (i + 1) * 2000;
        COMMIT;
    END LOOP;
END
$$;
CALL backfill_batches('xact');
SELECT count(*) FROM xact WHERE n = 2;

-- So do nested statements: a loop of small batches in a DO block.
SELECT mg_big('loop');
DO $$
BEGIN
    FOR i IN 0..9 LOOP
        UPDATE loop SET n = 3 WHERE id > i * 2000 AND id <= (i + 1) * 2000;
        RAISE NOTICE 'batch % done', i + 1;
    END LOOP;
EXCEPTION WHEN SQLSTATE 'MG001' THEN
    RAISE NOTICE '%', regexp_replace(SQLERRM, 'about \d+', 'about N', 'g');
END
$$;
SELECT statement FROM migration_guard.audit ORDER BY seq DESC LIMIT 1;
-- The total is per transaction: the next one starts from zero.
UPDATE loop SET n = 3 WHERE id <= 2000;

-- Every kind of DML, and data-modifying WITH queries.
SELECT backfill_try('DELETE FROM big');
SELECT backfill_try('INSERT INTO big SELECT * FROM big');
SELECT backfill_try('MERGE INTO big USING big AS s ON big.id = s.id WHEN MATCHED THEN UPDATE SET n = 4');
SELECT backfill_try('WITH d AS (DELETE FROM big RETURNING id) SELECT count(*) FROM d');
-- A partitioned table: the rows of its partitions add up.
CREATE TABLE parted (id int, n int) PARTITION BY RANGE (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10000);
CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (10000) TO (20000);
SET migration_guard.backfill_row_limit = 0;
INSERT INTO parted SELECT g, 0 FROM generate_series(0, 19999) g;
ANALYZE parted;
SET migration_guard.backfill_row_limit = 5000;
SELECT backfill_try('UPDATE parted SET n = 1');
UPDATE parted SET n = 1 WHERE id < 2000;
-- Reads, small statements and plans that are only explained run.
SELECT count(*) FROM big;
INSERT INTO big VALUES (0, 'v0', 0, 'x', now());
EXPLAIN (COSTS OFF) UPDATE big SET n = 5;

-- Stale statistics: analyzed when small, grown since.  The planner's
-- estimate follows the table's current pages, and so does the guard.
SET migration_guard.backfill_row_limit = 0;
SELECT mg_big('stale', 100);
INSERT INTO stale SELECT g, 'v', g, 'x', now() FROM generate_series(101, 20000) g;
SET migration_guard.backfill_row_limit = 5000;
SELECT backfill_try('UPDATE stale SET n = 0');

-- Nobody else sees the rows of a temporary table or of a table created in
-- this transaction: exempt, and not counted.
CREATE TEMP TABLE tmp AS SELECT * FROM big;
UPDATE tmp SET n = 6;
BEGIN;
CREATE TABLE copy (LIKE big);
INSERT INTO copy SELECT * FROM big;
UPDATE copy SET n = 6;
UPDATE big SET n = 6 WHERE id <= 2000;
COMMIT;

-- The limit is a policy setting: only a superuser may change it.
CREATE ROLE backfill_user;
SET ROLE backfill_user;
SET migration_guard.backfill_row_limit = 0;
RESET ROLE;
DROP ROLE backfill_user;

-- Limit 0 lets everything run; so do mode off and the rule's action off.
SET migration_guard.backfill_row_limit = 0;
UPDATE big SET n = 7;
SET migration_guard.backfill_row_limit = 5000;
SET migration_guard.mode = off;
UPDATE big SET n = 7;
RESET migration_guard.mode;
SET migration_guard.backfill_action = off;
UPDATE big SET n = 7;

-- Warn: the statement runs with one warning per transaction.
SET migration_guard.backfill_action = warn;
SELECT mg_big('warned');
\set VERBOSITY default
BEGIN;
UPDATE warned SET n = 8;
UPDATE warned SET n = 9;
COMMIT;
RESET migration_guard.backfill_action;
RESET migration_guard.backfill_row_limit;

-- held_lock_work: a big statement while the transaction holds a
-- write-blocking lock runs under that lock, whatever backfill_row_limit.
SELECT mg_big('held');
CREATE INDEX CONCURRENTLY ON held (id);
SHOW migration_guard.backfill_row_limit;
BEGIN;
ALTER TABLE held ADD COLUMN c int;
UPDATE held SET c = 1;
ROLLBACK;
-- Small statements under the lock (reading few rows by index), or the big
-- one after COMMIT, run.
BEGIN;
ALTER TABLE held ADD COLUMN c int;
UPDATE held SET c = 1 WHERE id <= 2000;
COMMIT;
UPDATE held SET c = 1;
-- A lock on another table blocks that table as long.
BEGIN;
LOCK TABLE free IN SHARE MODE;
SELECT backfill_try('DELETE FROM held');
ROLLBACK;
-- Warn, and off.
SET migration_guard.held_lock_work_action = warn;
SELECT mg_big('heldw');
BEGIN;
ALTER TABLE heldw ADD COLUMN d int;
UPDATE heldw SET d = 1;
ROLLBACK;
SET migration_guard.held_lock_work_action = off;
BEGIN;
ALTER TABLE held ADD COLUMN d int;
UPDATE held SET d = 1;
ROLLBACK;
RESET migration_guard.held_lock_work_action;

-- Every decision is audited.
SELECT command, rule, action, reason, relation, lock_mode, outcome, statement
  FROM migration_guard.audit WHERE rule IN ('backfill', 'held_lock_work') ORDER BY seq;

DROP SCHEMA backfill CASCADE;
