--
-- ALTER COLUMN ... TYPE: a rewrite unless PostgreSQL can relabel the data.
--
CREATE SCHEMA alter_type;
SET search_path = alter_type, public;
SELECT mg_big('t');
CREATE INDEX CONCURRENTLY t_v ON t (v);
CREATE INDEX CONCURRENTLY t_vc ON t (vc);
\set VERBOSITY terse

-- Unsafe: the data is converted, the table rewritten.
ALTER TABLE t ALTER COLUMN id TYPE bigint;
ALTER TABLE t ALTER COLUMN n TYPE int;
ALTER TABLE t ALTER COLUMN n TYPE numeric(10,3);
ALTER TABLE t ALTER COLUMN vc TYPE varchar(5);
ALTER TABLE t ALTER COLUMN v TYPE varchar(100);
ALTER TABLE t ALTER COLUMN v TYPE int USING length(v);
ALTER TABLE t ALTER COLUMN vc TYPE text USING vc || '';
CREATE DOMAIN short_text AS text CHECK (length(VALUE) < 100);
ALTER TABLE t ALTER COLUMN v TYPE short_text;
SET TimeZone = 'America/New_York';
ALTER TABLE t ALTER COLUMN ts TYPE timestamptz;
SELECT * FROM mg_modes('ALTER TABLE t ALTER COLUMN id TYPE bigint');

-- Safe: binary-coercible, no row touched, indexes kept.
ALTER TABLE t ALTER COLUMN vc TYPE varchar(20);
ALTER TABLE t ALTER COLUMN vc TYPE varchar(20);
ALTER TABLE t ALTER COLUMN vc TYPE text;
ALTER TABLE t ALTER COLUMN n TYPE numeric(12,2);
ALTER TABLE t ALTER COLUMN n TYPE numeric;
CREATE DOMAIN any_text AS text;
ALTER TABLE t ALTER COLUMN v TYPE any_text;
ALTER TABLE t ALTER COLUMN v TYPE text;
SET TimeZone = 'UTC';
ALTER TABLE t ALTER COLUMN ts TYPE timestamptz;
ALTER TABLE t ALTER COLUMN ts TYPE timestamp;
RESET TimeZone;

-- No rewrite, but the index on the column changes collation: rebuilt.
ALTER TABLE t ALTER COLUMN v TYPE text COLLATE "C";
SELECT * FROM mg_modes('ALTER TABLE t ALTER COLUMN v TYPE text COLLATE "C"');
-- The recipe: build the new index first, then the change keeps it.
CREATE INDEX CONCURRENTLY t_v_c ON t (v COLLATE "C");
DROP INDEX CONCURRENTLY t_v;
ALTER TABLE t ALTER COLUMN v TYPE text COLLATE "C";

-- No rewrite, but every CHECK constraint on the column is dropped, added
-- again and validated by a full scan under ACCESS EXCLUSIVE.
CREATE TABLE c (id int, v varchar(64) CONSTRAINT c_v CHECK (length(v) < 60));
INSERT INTO c SELECT g, 'x' FROM generate_series(1, 20000) g;
ANALYZE c;
ALTER TABLE c ALTER COLUMN v TYPE varchar(127);
ALTER TABLE c ALTER COLUMN v TYPE text;
SELECT rule, verdict, relation, est_rows FROM migration_guard.check(
    'ALTER TABLE c ALTER COLUMN v TYPE varchar(127)');
-- A column without one is not scanned.
ALTER TABLE c ALTER COLUMN id TYPE int;
-- PostgreSQL does read every row (the statistics are flushed before each
-- reading of them).
SELECT FROM pg_stat_force_next_flush();
SELECT seq_scan AS scans, seq_tup_read AS tuples FROM pg_stat_user_tables
WHERE relid = 'c'::regclass \gset
SET migration_guard.mode = off;
ALTER TABLE c ALTER COLUMN v TYPE varchar(100);
RESET migration_guard.mode;
SELECT FROM pg_stat_force_next_flush();
SELECT seq_scan - :scans AS scans, seq_tup_read - :tuples >= 20000 AS read_all
FROM pg_stat_user_tables WHERE relid = 'c'::regclass;
-- The recipe: drop the constraint, change the type, add it back NOT VALID
-- and validate it without blocking writes.
ALTER TABLE c DROP CONSTRAINT c_v;
ALTER TABLE c ALTER COLUMN v TYPE varchar(127);
ALTER TABLE c ADD CONSTRAINT c_v CHECK (length(v) < 60) NOT VALID;
-- A NOT VALID constraint is added back NOT VALID, without a scan.
SELECT FROM pg_stat_force_next_flush();
SELECT seq_scan AS scans FROM pg_stat_user_tables WHERE relid = 'c'::regclass \gset
ALTER TABLE c ALTER COLUMN v TYPE varchar(200);
SELECT FROM pg_stat_force_next_flush();
SELECT seq_scan - :scans AS scans FROM pg_stat_user_tables WHERE relid = 'c'::regclass;
ALTER TABLE c VALIDATE CONSTRAINT c_v;
-- On a partitioned table, each partition with the constraint is scanned.
CREATE TABLE cp (k int, v varchar(64) CHECK (v <> '')) PARTITION BY RANGE (k);
CREATE TABLE cp1 PARTITION OF cp FOR VALUES FROM (0) TO (100);
CREATE TABLE cp2 PARTITION OF cp FOR VALUES FROM (100) TO (200);
INSERT INTO cp SELECT g % 200, 'x' FROM generate_series(1, 30000) g;
ANALYZE cp;
SELECT rule, verdict, relation, est_rows FROM migration_guard.check(
    'ALTER TABLE cp ALTER COLUMN v TYPE text');

-- On a partitioned table, an index on the column is created again, with
-- its index on every partition, even by a relabeling that keeps the
-- operator class: TryReuseIndex() keeps the storage of plain indexes only.
CREATE TABLE ip (k int, v varchar(64)) PARTITION BY RANGE (k);
CREATE TABLE ip1 PARTITION OF ip FOR VALUES FROM (0) TO (100);
CREATE TABLE ip2 PARTITION OF ip FOR VALUES FROM (100) TO (200);
CREATE INDEX ip_v ON ip (v);
INSERT INTO ip SELECT g % 200, 'x' || g FROM generate_series(1, 30000) g;
ANALYZE ip;
SELECT rule, verdict, relation, est_rows FROM migration_guard.check(
    'ALTER TABLE ip ALTER COLUMN v TYPE varchar(64) COLLATE "C"');
ALTER TABLE ip ALTER COLUMN v TYPE varchar(127);
SELECT relfilenode AS ip1_file FROM pg_class WHERE relname = 'ip1_v_idx' \gset
SET migration_guard.mode = off;
ALTER TABLE ip ALTER COLUMN v TYPE varchar(127);
RESET migration_guard.mode;
SELECT relfilenode <> :ip1_file AS rebuilt FROM pg_class WHERE relname = 'ip1_v_idx';
SELECT relfilenode AS ip1_file FROM pg_class WHERE relname = 'ip1_v_idx' \gset
SET migration_guard.mode = off;
ALTER TABLE ip ALTER COLUMN v TYPE varchar(64) COLLATE "C";
RESET migration_guard.mode;
SELECT relfilenode <> :ip1_file AS rebuilt FROM pg_class WHERE relname = 'ip1_v_idx';
-- The recipe: drop the index, change the type, then build the index again
-- without blocking writes.
DROP INDEX ip_v;
ALTER TABLE ip ALTER COLUMN v TYPE varchar(200) COLLATE "C";
CREATE INDEX ip_v ON ONLY ip (v);
CREATE INDEX CONCURRENTLY ip1_v ON ip1 (v);
CREATE INDEX CONCURRENTLY ip2_v ON ip2 (v);
ALTER INDEX ip_v ATTACH PARTITION ip1_v;
ALTER INDEX ip_v ATTACH PARTITION ip2_v;

-- A statement PostgreSQL rejects gets PostgreSQL's error (from 18 on with
-- its position: alter_type_1.out).
ALTER TABLE t ALTER COLUMN vc TYPE varchar(0);
ALTER TABLE t ALTER COLUMN vc TYPE no_such_type;
ALTER TABLE t ALTER COLUMN no_such_column TYPE bigint;
ALTER TABLE t ALTER COLUMN ts TYPE int;

-- A USING expression is judged without running it: a conversion, so a
-- rewrite.  same_int() claims to be immutable but advances a sequence.
CREATE SEQUENCE using_calls;
SELECT setval('using_calls', 100);
CREATE FUNCTION same_int(i int) RETURNS int
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM nextval('using_calls');
    RETURN i;
END
$$;
SELECT rule, verdict FROM migration_guard.check(
    'ALTER TABLE t ALTER COLUMN id TYPE int USING same_int(0) + id');
SELECT last_value FROM using_calls;
-- USING that only names the column is no conversion.
ALTER TABLE t ALTER COLUMN vc TYPE text USING vc;

\set VERBOSITY default
ALTER TABLE t ALTER COLUMN id TYPE bigint;
