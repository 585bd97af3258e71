--
-- Foreign key checks: PostgreSQL proves a foreign key (or that a partition
-- may leave the key space of one) with a join of both tables, under a
-- write-blocking lock on both, so the finding is sized by both sides.
--
CREATE SCHEMA foreign_keys;
SET search_path = foreign_keys, public;
-- Two tables below the threshold (10000 rows), above it together.
CREATE TABLE pk (id int PRIMARY KEY, code varchar(10) UNIQUE);
INSERT INTO pk SELECT g, 'c' || g FROM generate_series(1, 8000) g;
CREATE TABLE fk (id int, pid int, code varchar(10));
INSERT INTO fk SELECT g, g, 'c' || g FROM generate_series(1, 8000) g;
ANALYZE pk;
ANALYZE fk;
-- Planner settings that make the checks read whole tables, as they do on
-- big tables; the statistics are flushed before each reading of them.
SET enable_indexscan = off;
SET enable_indexonlyscan = off;
SET enable_bitmapscan = off;
SET max_parallel_workers_per_gather = 0;

-- ADD FOREIGN KEY: the DETAIL names the referenced table; both are sized.
ALTER TABLE fk ADD CONSTRAINT fk_pid FOREIGN KEY (pid) REFERENCES pk;
\set VERBOSITY terse
SELECT rule, verdict, relation, est_rows FROM migration_guard.check(
    'ALTER TABLE fk ADD CONSTRAINT fk_pid FOREIGN KEY (pid) REFERENCES pk');
-- PostgreSQL does read the referenced table.
SELECT FROM pg_stat_force_next_flush();
SELECT seq_scan AS scans FROM pg_stat_user_tables WHERE relid = 'pk'::regclass \gset
BEGIN;
SET LOCAL migration_guard.mode = off;
ALTER TABLE fk ADD CONSTRAINT fk_pid FOREIGN KEY (pid) REFERENCES pk;
ROLLBACK;
SELECT FROM pg_stat_force_next_flush();
SELECT seq_scan - :scans AS scans FROM pg_stat_user_tables WHERE relid = 'pk'::regclass;
-- The recipe.
ALTER TABLE fk ADD CONSTRAINT fk_pid FOREIGN KEY (pid) REFERENCES pk NOT VALID;
ALTER TABLE fk VALIDATE CONSTRAINT fk_pid;
ALTER TABLE fk ADD CONSTRAINT fk_code FOREIGN KEY (code) REFERENCES pk (code) NOT VALID;
ALTER TABLE fk VALIDATE CONSTRAINT fk_code;
-- A new column with a default and REFERENCES is checked the same way.
ALTER TABLE fk ADD COLUMN p2 int DEFAULT 1 REFERENCES pk;
-- No referencing row: the join stops at once, nothing of pk is read.
CREATE TABLE fk_empty (pid int);
ALTER TABLE fk_empty ADD FOREIGN KEY (pid) REFERENCES pk;
-- A handful of rows: with the default planner settings pk is probed
-- through its index, not read.
RESET enable_indexscan;
RESET enable_indexonlyscan;
RESET enable_bitmapscan;
CREATE TABLE fk_tiny (pid int);
INSERT INTO fk_tiny VALUES (1), (2);
ANALYZE fk_tiny;
SELECT FROM pg_stat_force_next_flush();
SELECT seq_scan AS scans FROM pg_stat_user_tables WHERE relid = 'pk'::regclass \gset
ALTER TABLE fk_tiny ADD FOREIGN KEY (pid) REFERENCES pk;
SELECT FROM pg_stat_force_next_flush();
SELECT seq_scan - :scans AS scans FROM pg_stat_user_tables WHERE relid = 'pk'::regclass;
SET enable_indexscan = off;
SET enable_indexonlyscan = off;
SET enable_bitmapscan = off;

-- ALTER COLUMN TYPE of a key column adds the key again.  int to bigint
-- rewrites the altered table and validates the key, reading the other one:
-- the finding names it.
\set VERBOSITY default
ALTER TABLE pk ALTER COLUMN id TYPE bigint;
\set VERBOSITY terse
ALTER TABLE fk ALTER COLUMN pid TYPE bigint;
SELECT rule, verdict, relation, est_rows FROM migration_guard.check(
    'ALTER TABLE fk ALTER COLUMN pid TYPE bigint');
SELECT FROM pg_stat_force_next_flush();
SELECT seq_scan AS scans FROM pg_stat_user_tables WHERE relid = 'pk'::regclass \gset
BEGIN;
SET LOCAL migration_guard.mode = off;
ALTER TABLE fk ALTER COLUMN pid TYPE bigint;
ROLLBACK;
SELECT FROM pg_stat_force_next_flush();
SELECT seq_scan - :scans AS scans FROM pg_stat_user_tables WHERE relid = 'pk'::regclass;
-- A relabeling keeps the key's operator and cast: it is not checked again.
ALTER TABLE fk ALTER COLUMN code TYPE varchar(20);
ALTER TABLE pk ALTER COLUMN code TYPE varchar(20);
SELECT FROM pg_stat_force_next_flush();
SELECT seq_scan AS scans FROM pg_stat_user_tables WHERE relid = 'pk'::regclass \gset
ALTER TABLE fk ALTER COLUMN code TYPE text;
SELECT FROM pg_stat_force_next_flush();
SELECT seq_scan - :scans AS scans FROM pg_stat_user_tables WHERE relid = 'pk'::regclass;
-- A type the key cannot follow: PostgreSQL's error, not a predicted check.
ALTER TABLE fk ALTER COLUMN code TYPE int USING length(code);
-- A key that is not validated is added back NOT VALID, without a check.
CREATE TABLE fk_nv (pid int);
INSERT INTO fk_nv SELECT g FROM generate_series(1, 8000) g;
ALTER TABLE fk_nv ADD CONSTRAINT fk_nv_pid FOREIGN KEY (pid) REFERENCES pk NOT VALID;
ALTER TABLE fk_nv ALTER COLUMN pid TYPE bigint;
-- A partition's own key on the column is added again too.
CREATE TABLE fkp (k int, pid int) PARTITION BY RANGE (k);
CREATE TABLE fkp_1 PARTITION OF fkp FOR VALUES FROM (0) TO (100000);
INSERT INTO fkp SELECT g, g FROM generate_series(1, 8000) g;
ANALYZE fkp_1;
ALTER TABLE fkp_1 ADD CONSTRAINT fkp_1_pid FOREIGN KEY (pid) REFERENCES pk NOT VALID;
ALTER TABLE fkp_1 VALIDATE CONSTRAINT fkp_1_pid;
ALTER TABLE fkp ALTER COLUMN pid TYPE bigint;
-- The recipe: drop the key, change the type, add it back NOT VALID.
ALTER TABLE fk DROP CONSTRAINT fk_pid;
ALTER TABLE fk ALTER COLUMN pid TYPE bigint;
ALTER TABLE fk ADD CONSTRAINT fk_pid FOREIGN KEY (pid) REFERENCES pk NOT VALID;
ALTER TABLE fk VALIDATE CONSTRAINT fk_pid;

-- ATTACH PARTITION to a referencing table validates the parent's key on
-- the attached table, unless it has a valid equivalent one.
CREATE TABLE fa (id int, pid int REFERENCES pk) PARTITION BY RANGE (id);
CREATE TABLE fa_1 (id int, pid int, CHECK (id >= 0 AND id < 100000));
INSERT INTO fa_1 SELECT g, g FROM generate_series(1, 8000) g;
ANALYZE fa_1;
\set VERBOSITY default
ALTER TABLE fa ATTACH PARTITION fa_1 FOR VALUES FROM (0) TO (100000);
\set VERBOSITY terse
SELECT rule, verdict, relation, est_rows FROM migration_guard.check(
    'ALTER TABLE fa ATTACH PARTITION fa_1 FOR VALUES FROM (0) TO (100000)');
-- A NOT VALID one is validated too.
ALTER TABLE fa_1 ADD CONSTRAINT fa_1_pid FOREIGN KEY (pid) REFERENCES pk NOT VALID;
ALTER TABLE fa ATTACH PARTITION fa_1 FOR VALUES FROM (0) TO (100000);
-- The recipe: validate it first.
ALTER TABLE fa_1 VALIDATE CONSTRAINT fa_1_pid;
ALTER TABLE fa ATTACH PARTITION fa_1 FOR VALUES FROM (0) TO (100000);

-- DETACH PARTITION of a referenced table checks that no referencing row
-- points into the partition, holding SHARE lock on the referencing table.
CREATE TABLE pp (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE pp_1 PARTITION OF pp FOR VALUES FROM (0) TO (100000);
CREATE TABLE pp_2 PARTITION OF pp FOR VALUES FROM (100000) TO (200000);
CREATE TABLE pp_3 PARTITION OF pp FOR VALUES FROM (200000) TO (300000);
INSERT INTO pp SELECT g FROM generate_series(1, 8000) g;
INSERT INTO pp SELECT 100000 + g FROM generate_series(1, 8000) g;
CREATE TABLE fd (pid int REFERENCES pp);
INSERT INTO fd SELECT 100000 + g FROM generate_series(1, 8000) g;
ANALYZE pp;
ANALYZE fd;
\set VERBOSITY default
ALTER TABLE pp DETACH PARTITION pp_1;
\set VERBOSITY terse
ALTER TABLE pp DETACH PARTITION pp_1 CONCURRENTLY;
-- Where PostgreSQL refuses CONCURRENTLY, its error comes first.
BEGIN;
ALTER TABLE pp DETACH PARTITION pp_1 CONCURRENTLY;
ROLLBACK;
DO $$ BEGIN ALTER TABLE pp DETACH PARTITION pp_1 CONCURRENTLY; END $$;
SELECT rule, verdict, relation, est_rows FROM migration_guard.check(
    'ALTER TABLE pp DETACH PARTITION pp_1');
SELECT FROM pg_stat_force_next_flush();
SELECT seq_scan AS scans FROM pg_stat_user_tables WHERE relid = 'fd'::regclass \gset
BEGIN;
SET LOCAL migration_guard.mode = off;
ALTER TABLE pp DETACH PARTITION pp_1;
ROLLBACK;
SELECT FROM pg_stat_force_next_flush();
SELECT seq_scan - :scans AS scans FROM pg_stat_user_tables WHERE relid = 'fd'::regclass;
-- An empty partition and a small referencing table: quick.
ALTER TABLE pp DETACH PARTITION pp_3;
-- The recipe: drop the key, detach, add the key back NOT VALID.
ALTER TABLE fd DROP CONSTRAINT fd_pid_fkey;
ALTER TABLE pp DETACH PARTITION pp_1;
ALTER TABLE fd ADD CONSTRAINT fd_pid_fkey FOREIGN KEY (pid) REFERENCES pp NOT VALID;
ALTER TABLE fd VALIDATE CONSTRAINT fd_pid_fkey;
-- A self-referencing key: the partitioned table itself is the referencing one.
CREATE TABLE sr (id int PRIMARY KEY, parent int REFERENCES sr) PARTITION BY RANGE (id);
CREATE TABLE sr_1 PARTITION OF sr FOR VALUES FROM (0) TO (100000);
CREATE TABLE sr_2 PARTITION OF sr FOR VALUES FROM (100000) TO (200000);
INSERT INTO sr SELECT g, NULL FROM generate_series(1, 12000) g;
ANALYZE sr;
ALTER TABLE sr DETACH PARTITION sr_2;
-- With a DEFAULT partition, PostgreSQL refuses CONCURRENTLY: its error.
CREATE TABLE sr_d PARTITION OF sr DEFAULT;
ALTER TABLE sr DETACH PARTITION sr_2 CONCURRENTLY;
RESET enable_indexscan;
RESET enable_indexonlyscan;
RESET enable_bitmapscan;
RESET max_parallel_workers_per_gather;
