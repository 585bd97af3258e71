--
-- What failed migrations leave behind: invalid indexes and NOT VALID
-- constraints (migration_guard.leftovers), and the retry with IF NOT EXISTS
-- that would keep an invalid index (rule invalid_index_exists).
--
-- A CREATE UNIQUE INDEX CONCURRENTLY over duplicate values fails after its
-- first transaction and leaves an invalid index, deterministically; so does
-- a REINDEX CONCURRENTLY of that index (its "_ccnew" copy).  Cancelled
-- builds are in t/007_leftovers.pl.
--
CREATE SCHEMA leftovers;
SET search_path = leftovers, public;
CREATE TABLE small (id int, v int);
INSERT INTO small SELECT g, g % 10 FROM generate_series(1, 100) g;
-- (Other tests leave NOT VALID constraints of their own: only this test's
-- schemas are looked at.)
CREATE VIEW mine AS
    SELECT * FROM migration_guard.leftovers
     WHERE schema IN ('leftovers', 'Odd Schema');
SELECT * FROM mine;

\set VERBOSITY terse
CREATE UNIQUE INDEX CONCURRENTLY small_v_key ON small (v);
SELECT i.indisvalid, i.indisready, i.indislive
  FROM pg_index i WHERE i.indexrelid = 'small_v_key'::regclass;
\set VERBOSITY default

-- The retry would "succeed" with a NOTICE and keep the invalid index: it is
-- rejected with the recipe, whatever the table's size (100 rows), with or
-- without CONCURRENTLY and UNIQUE.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS small_v_key ON small (v);
\set VERBOSITY terse
CREATE INDEX IF NOT EXISTS small_v_key ON small (v);
CREATE INDEX CONCURRENTLY IF NOT EXISTS small_v_key ON small (v);
-- Without IF NOT EXISTS, PostgreSQL's own error comes first.
CREATE INDEX small_v_key ON small (v);
-- The name is looked up in the table's schema, as PostgreSQL does, not on
-- the search_path.
RESET search_path;
CREATE INDEX IF NOT EXISTS small_v_key ON leftovers.small (v);
CREATE TABLE public.lo_other (v int);
CREATE INDEX IF NOT EXISTS small_v_key ON public.lo_other (v);
DROP TABLE public.lo_other;
SET search_path = leftovers, public;
-- An index of another table that only shares the name is not this
-- statement's leftover: PostgreSQL's NOTICE, no finding.
CREATE TABLE other (v int);
CREATE INDEX IF NOT EXISTS small_v_key ON other (v);
DROP TABLE other;

-- The thresholds do not apply, not even set to their maximum, and neither
-- does a maintenance window, which only makes long locks acceptable.
SET migration_guard.row_threshold = 2147483647;
SET migration_guard.size_threshold = 0;
CREATE INDEX IF NOT EXISTS small_v_key ON small (v);
RESET migration_guard.row_threshold;
RESET migration_guard.size_threshold;
ALTER SYSTEM SET migration_guard.maintenance_window = '* 00:00-24:00';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
CREATE INDEX IF NOT EXISTS small_v_key ON small (v);
ALTER SYSTEM RESET migration_guard.maintenance_window;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);

-- Its own action, and the mode, like any rule.
SHOW migration_guard.invalid_index_exists_action;
SELECT * FROM mg_modes('CREATE INDEX IF NOT EXISTS small_v_key ON small (v)');
SET migration_guard.invalid_index_exists_action = warn;
CREATE INDEX IF NOT EXISTS small_v_key ON small (v);
SET migration_guard.invalid_index_exists_action = off;
CREATE INDEX IF NOT EXISTS small_v_key ON small (v);
RESET migration_guard.invalid_index_exists_action;
-- check() sees it like any rule.
SELECT stmt_no, rule, verdict, relation, lock_mode, message
  FROM migration_guard.check('CREATE INDEX IF NOT EXISTS small_v_key ON leftovers.small (v);');
-- ... and so does the audit.
SELECT rule, action, relation, reason FROM migration_guard.audit
 WHERE rule = 'invalid_index_exists' ORDER BY seq DESC LIMIT 3;

-- An interrupted REINDEX CONCURRENTLY leaves a "_ccnew" copy.
REINDEX INDEX CONCURRENTLY small_v_key;
-- NOT VALID constraints that were never validated.
ALTER TABLE small ADD CONSTRAINT small_id_positive CHECK (id > 0) NOT VALID;
CREATE TABLE parent (id int PRIMARY KEY);
INSERT INTO parent SELECT g FROM generate_series(1, 100) g;
ALTER TABLE small ADD CONSTRAINT small_id_fk FOREIGN KEY (id) REFERENCES parent NOT VALID;
ALTER TABLE small ADD CONSTRAINT small_v_checked CHECK (v >= 0);
\set VERBOSITY default

-- One row each, with the statement that fixes it.
\x on
SELECT * FROM mine ORDER BY kind, name COLLATE "C";
\x off

-- Every role may read it (it shows what the role could read in pg_class
-- itself, and runs with the role's own privileges).
CREATE ROLE lo_reader;
SET ROLE lo_reader;
SELECT kind, schema, "table", name FROM migration_guard.leftovers
 WHERE schema = 'leftovers' ORDER BY kind, name COLLATE "C";
RESET ROLE;
DROP ROLE lo_reader;
SELECT c.reloptions FROM pg_class c WHERE c.oid = 'migration_guard.leftovers'::regclass;

-- The fixes, as the view spells them.  The unique index needs its
-- duplicates gone first.
DELETE FROM small WHERE id > 10;
DROP INDEX CONCURRENTLY leftovers.small_v_key_ccnew;
DROP INDEX CONCURRENTLY leftovers.small_v_key;
CREATE UNIQUE INDEX CONCURRENTLY small_v_key ON leftovers.small USING btree (v);
ALTER TABLE leftovers.small VALIDATE CONSTRAINT small_id_fk;
ALTER TABLE leftovers.small VALIDATE CONSTRAINT small_id_positive;
SELECT * FROM mine;
-- A valid index keeps PostgreSQL's NOTICE, nothing more.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS small_v_key ON small (v);
CREATE INDEX IF NOT EXISTS small_v_key ON small (v);

-- Names that need quoting, and an index with expressions and a predicate:
-- its rebuild is its own definition, made CONCURRENTLY.
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."T t" ("Col" int, v text);
INSERT INTO "Odd Schema"."T t" VALUES (1, 'a'), (1, 'a');
\set VERBOSITY terse
CREATE UNIQUE INDEX CONCURRENTLY "my idx" ON "Odd Schema"."T t" (lower(v), "Col") WHERE "Col" > 0;
CREATE INDEX IF NOT EXISTS "my idx" ON "Odd Schema"."T t" (v);
\set VERBOSITY default
SELECT kind, schema, "table", name, fix FROM mine;
DROP SCHEMA "Odd Schema" CASCADE;

-- concurrent_index_timeout: a concurrent build that starts under a
-- statement_timeout shorter than it can take (at least the table's size at
-- 128 MB/s) is warned about, not rejected.  check() reads the session's
-- statement_timeout; a function's SET clause sets it without arming the
-- timer of the running statement.
SELECT mg_big('big');
CREATE FUNCTION check_under_timeout(script text)
RETURNS TABLE (rule text, verdict text, relation text, message text)
LANGUAGE sql SET statement_timeout = '1ms'
AS $$ SELECT rule, verdict, relation, message FROM migration_guard.check(script) $$;
SHOW migration_guard.concurrent_index_timeout_action;
SELECT * FROM check_under_timeout('CREATE INDEX CONCURRENTLY big_v ON leftovers.big (v);');
-- No timeout, a small table, or a build that is not concurrent (judged by
-- blocking_index_build): no such finding.
SELECT rule, verdict, relation FROM migration_guard.check('CREATE INDEX CONCURRENTLY big_v ON leftovers.big (v);');
SELECT * FROM check_under_timeout('CREATE INDEX CONCURRENTLY small_id ON leftovers.small (id);');
SELECT * FROM check_under_timeout('CREATE INDEX big_v ON leftovers.big (v);');
-- A concurrent rebuild of the table's indexes, or of one of them, alike.
CREATE INDEX CONCURRENTLY big_id ON big (id);
SELECT * FROM check_under_timeout('REINDEX INDEX CONCURRENTLY leftovers.big_id; REINDEX TABLE CONCURRENTLY leftovers.big;');
-- Enforced only when a DBA asks for it.
SET migration_guard.concurrent_index_timeout_action = enforce;
SELECT * FROM check_under_timeout('CREATE INDEX CONCURRENTLY big_v ON leftovers.big (v);');
RESET migration_guard.concurrent_index_timeout_action;

DROP SCHEMA leftovers CASCADE;
