--
-- Rule held_lock_work beyond DML: VALIDATE CONSTRAINT, SELECT and COPY
-- while the transaction holds a write-blocking lock taken earlier.
--
CREATE SCHEMA held_lock;
SET search_path = held_lock, public;
SELECT mg_big('hl');
SELECT mg_big('hl_other');
CREATE TABLE hl_keyed (id int PRIMARY KEY, v text);
INSERT INTO hl_keyed SELECT g, 'v' || g FROM generate_series(1, 20000) g;
ANALYZE hl_keyed;
CREATE TABLE hl_small (n bigint);

-- The unsafe recipe: NOT VALID and VALIDATE in one transaction.  The scan
-- would run under the ACCESS EXCLUSIVE lock that ADD CONSTRAINT took.
BEGIN;
ALTER TABLE hl ADD CONSTRAINT hl_pos CHECK (id > 0) NOT VALID;
ALTER TABLE hl VALIDATE CONSTRAINT hl_pos;
ROLLBACK;
-- The safe recipe: each in its own transaction.
ALTER TABLE hl ADD CONSTRAINT hl_pos CHECK (id > 0) NOT VALID;
ALTER TABLE hl VALIDATE CONSTRAINT hl_pos;

\set VERBOSITY terse
-- A lock held on another table blocks that table as long.
BEGIN;
LOCK TABLE hl_other IN SHARE MODE;
ALTER TABLE hl ADD CONSTRAINT hl_pos2 CHECK (id > 0) NOT VALID;
ROLLBACK;
ALTER TABLE hl ADD CONSTRAINT hl_pos2 CHECK (id > 0) NOT VALID;
BEGIN;
LOCK TABLE hl_other IN SHARE MODE;
ALTER TABLE hl VALIDATE CONSTRAINT hl_pos2;
ROLLBACK;
-- A constraint that is already valid is not checked again.
BEGIN;
LOCK TABLE hl_other IN SHARE MODE;
ALTER TABLE hl VALIDATE CONSTRAINT hl_pos;
ROLLBACK;
-- A missing constraint is PostgreSQL's error.
BEGIN;
LOCK TABLE hl_other IN SHARE MODE;
ALTER TABLE hl VALIDATE CONSTRAINT no_such_constraint;
ROLLBACK;
-- Another subcommand of the same statement raises its lock: the scan then
-- blocks writes by itself, whatever the transaction holds.
ALTER TABLE hl ADD COLUMN extra int, VALIDATE CONSTRAINT hl_pos2;
ALTER TABLE hl VALIDATE CONSTRAINT hl_pos2;

-- Reads under the lock: a full-table SELECT, INSERT ... SELECT, COPY.
BEGIN;
ALTER TABLE hl ADD COLUMN c int;
SELECT count(*) FROM hl_other;
ROLLBACK;
BEGIN;
ALTER TABLE hl ADD COLUMN c int;
INSERT INTO hl_small SELECT count(*) FROM hl_other;
ROLLBACK;
BEGIN;
ALTER TABLE hl ADD COLUMN c int;
COPY hl_other TO stdout;
ROLLBACK;
BEGIN;
ALTER TABLE hl ADD COLUMN c int;
COPY (SELECT * FROM hl_other) TO stdout;
ROLLBACK;
-- A read of a few rows by index, or of a small table, runs.
BEGIN;
ALTER TABLE hl ADD COLUMN c int;
SELECT v FROM hl_keyed WHERE id = 42;
SELECT count(*) FROM hl_small;
COPY hl_small TO stdout;
ROLLBACK;
-- After COMMIT the lock is gone: the same reads run.
ALTER TABLE hl ADD COLUMN c int;
SELECT count(*) FROM hl_other;
COPY (SELECT count(*) FROM hl_other) TO stdout;
-- A lock on a table created in this transaction blocks nobody.
BEGIN;
CREATE TABLE hl_new (id int);
LOCK TABLE hl_new IN ACCESS EXCLUSIVE MODE;
SELECT count(*) FROM hl_other;
ROLLBACK;
-- With the lock-hold budget off, work under the lock is still judged.
SET migration_guard.lock_hold_timeout = 0;
BEGIN;
ALTER TABLE hl ADD COLUMN d int;
UPDATE hl SET d = 1;
ROLLBACK;
BEGIN;
ALTER TABLE hl ADD COLUMN d int;
SELECT count(*) FROM hl_other;
ROLLBACK;
RESET migration_guard.lock_hold_timeout;
-- Warn mode lets it run with a warning.
SET migration_guard.held_lock_work_action = warn;
BEGIN;
ALTER TABLE hl ADD COLUMN d int;
SELECT count(*) FROM hl_other;
ROLLBACK;
RESET migration_guard.held_lock_work_action;

-- A role without SELECT gets PostgreSQL's permission error, not ours.
CREATE ROLE hl_reader;
GRANT USAGE ON SCHEMA held_lock TO hl_reader;
GRANT ALL ON hl_small TO hl_reader;
SET ROLE hl_reader;
BEGIN;
LOCK TABLE hl_small IN ACCESS EXCLUSIVE MODE;
COPY hl_other TO stdout;
ROLLBACK;
RESET ROLE;

SELECT command, rule, action, relation, lock_mode
  FROM migration_guard.audit
 WHERE rule = 'held_lock_work' AND relation LIKE 'held_lock.%' ORDER BY seq;

-- guarded_tables shows every size rule's action.
SET migration_guard.backfill_action = warn;
SELECT DISTINCT table_rewrite, held_lock_work, backfill, replica_lag, concurrent_index_timeout
  FROM migration_guard.guarded_tables WHERE relation = 'hl'::regclass;
RESET migration_guard.backfill_action;

DROP SCHEMA held_lock CASCADE;
DROP ROLE hl_reader;

-- backfill_row_limit: rows loaded by COPY FROM count towards the
-- transaction's total; a COPY FROM into a transaction already above the
-- limit is rejected before it starts.
CREATE SCHEMA held_lock_copy;
SET search_path = held_lock_copy, public;
CREATE TABLE hc (n int);
INSERT INTO hc SELECT g FROM generate_series(1, 50) g;
ANALYZE hc;
SET migration_guard.backfill_row_limit = 60;
BEGIN;
COPY hc FROM stdin;
1
2
3
4
5
6
7
8
9
10
11
12
13
14
15
16
17
18
19
20
\.
UPDATE hc SET n = n + 1 WHERE n <= 0;
UPDATE hc SET n = n + 1;
ROLLBACK;
BEGIN;
UPDATE hc SET n = n + 1;
COPY hc FROM stdin;
1
2
3
4
5
6
7
8
9
10
11
12
13
14
15
16
17
18
19
20
\.
COPY hc FROM stdin;
1
\.
ROLLBACK;
-- Each batch in its own transaction passes.
COPY hc FROM stdin;
1
2
3
4
5
6
7
8
9
10
\.
UPDATE hc SET n = n + 1 WHERE n <= 30;
RESET migration_guard.backfill_row_limit;
SELECT command, rule, action, relation
  FROM migration_guard.audit
 WHERE rule = 'backfill' AND relation LIKE 'held_lock_copy.%' ORDER BY seq;
DROP SCHEMA held_lock_copy CASCADE;
