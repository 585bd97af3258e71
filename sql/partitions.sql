--
-- Partitioned tables: sizes add up over the partitions a statement touches;
-- ATTACH and a DEFAULT partition are scanned unless CHECK constraints prove
-- the bound.
--
CREATE SCHEMA partitions;
SET search_path = partitions, public;
CREATE TABLE m (id int, k int, v text) PARTITION BY RANGE (k);
CREATE TABLE m1 PARTITION OF m FOR VALUES FROM (0) TO (100);
CREATE TABLE m2 PARTITION OF m FOR VALUES FROM (100) TO (200);
-- Each partition is small (6000 rows); together they are big.
INSERT INTO m SELECT g, g % 200, 'v' FROM generate_series(1, 12000) g;
CREATE TABLE md PARTITION OF m DEFAULT;
INSERT INTO md SELECT g, 1000, 'v' FROM generate_series(1, 12000) g;
ANALYZE m;
\set VERBOSITY terse

SELECT rows, relations, big FROM migration_guard.estimate('m');
SELECT rows, relations, big FROM migration_guard.estimate('m1');
SELECT rows, relations, big FROM migration_guard.estimate('m', false);

-- Recursing statements count every partition.
ALTER TABLE m ADD COLUMN r float8 DEFAULT random();
ALTER TABLE m ALTER COLUMN id TYPE bigint;
ALTER TABLE m ALTER COLUMN v SET NOT NULL;
ALTER TABLE m ADD CONSTRAINT pos CHECK (id > 0);
CREATE INDEX ON m (id);
-- ... a single partition does not.
ALTER TABLE m1 ALTER COLUMN v SET NOT NULL;
CREATE INDEX ON m1 (id);

-- The safe recipe for an index on a partitioned table.
CREATE INDEX m_id ON ONLY m (id);
CREATE INDEX CONCURRENTLY m1_id ON m1 (id);
CREATE INDEX CONCURRENTLY m2_id ON m2 (id);
CREATE INDEX CONCURRENTLY md_id ON md (id);
ALTER INDEX m_id ATTACH PARTITION m1_id;
ALTER INDEX m_id ATTACH PARTITION m2_id;
ALTER INDEX m_id ATTACH PARTITION md_id;
-- With an equivalent index on every partition, nothing is built.
CREATE INDEX CONCURRENTLY m1_k ON m1 (k);
CREATE INDEX CONCURRENTLY m2_k ON m2 (k);
CREATE INDEX CONCURRENTLY md_k ON md (k);
CREATE INDEX m_k ON m (k);

-- A new partition: the default partition is scanned.
CREATE TABLE m3 PARTITION OF m FOR VALUES FROM (200) TO (300);
SELECT * FROM mg_modes('CREATE TABLE m3 PARTITION OF m FOR VALUES FROM (200) TO (300)');
-- ... unless its CHECK constraint excludes the new range.
ALTER TABLE md ADD CONSTRAINT md_k CHECK (k >= 1000) NOT VALID;
ALTER TABLE md VALIDATE CONSTRAINT md_k;
CREATE TABLE m3 PARTITION OF m FOR VALUES FROM (200) TO (300);

-- ATTACH PARTITION scans the table being attached.
CREATE TABLE m4 (id int, k int, v text);
INSERT INTO m4 SELECT g, 350, 'v' FROM generate_series(1, 20000) g;
ANALYZE m4;
ALTER TABLE m ATTACH PARTITION m4 FOR VALUES FROM (300) TO (400);
SELECT * FROM mg_modes('ALTER TABLE m ATTACH PARTITION m4 FOR VALUES FROM (300) TO (400)');
ALTER TABLE m4 ADD CONSTRAINT m4_k CHECK (k IS NOT NULL AND k >= 300 AND k < 400) NOT VALID;
ALTER TABLE m4 VALIDATE CONSTRAINT m4_k;
-- ... and builds each index of m that m4 has no equivalent of, under ACCESS
-- EXCLUSIVE (AttachPartitionEnsureIndexes), even with the scan skipped.
ALTER TABLE m ATTACH PARTITION m4 FOR VALUES FROM (300) TO (400);
SELECT rule, verdict, relation, est_rows FROM migration_guard.check(
    'ALTER TABLE m ATTACH PARTITION m4 FOR VALUES FROM (300) TO (400)');
CREATE INDEX CONCURRENTLY m4_id ON m4 (id);
ALTER TABLE m ATTACH PARTITION m4 FOR VALUES FROM (300) TO (400);  -- m_k missing
-- The safe recipe: every index built concurrently first.
CREATE INDEX CONCURRENTLY m4_k ON m4 (k);
ALTER TABLE m ATTACH PARTITION m4 FOR VALUES FROM (300) TO (400);
-- PostgreSQL attached m4's own indexes and built none.
SELECT c.relname FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
WHERE x.indrelid = 'm4'::regclass ORDER BY 1;
SELECT count(*) FROM pg_inherits WHERE inhrelid IN ('m4_id'::regclass, 'm4_k'::regclass);
ALTER TABLE m DETACH PARTITION m4;
-- Without the guard, PostgreSQL does build the indexes on attach.
CREATE TABLE m6 (id int, k int, v text);
INSERT INTO m6 SELECT g, 750, 'v' FROM generate_series(1, 20000) g;
ANALYZE m6;
SET migration_guard.mode = off;
ALTER TABLE m6 ADD CONSTRAINT m6_k CHECK (k IS NOT NULL AND k >= 700 AND k < 800);
ALTER TABLE m ATTACH PARTITION m6 FOR VALUES FROM (700) TO (800);
RESET migration_guard.mode;
SELECT count(*) AS built, bool_and(pg_relation_size(indexrelid) > 0) AS on_disk
FROM pg_index WHERE indrelid = 'm6'::regclass;
ALTER TABLE m DETACH PARTITION m6;
DROP TABLE m6;
-- A primary key of the parent only takes an index that backs a constraint.
CREATE TABLE pk (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE pk1 (id int NOT NULL);
INSERT INTO pk1 SELECT generate_series(1, 20000);
ANALYZE pk1;
ALTER TABLE pk1 ADD CONSTRAINT pk1_b CHECK (id IS NOT NULL AND id >= 1 AND id < 100000) NOT VALID;
ALTER TABLE pk1 VALIDATE CONSTRAINT pk1_b;
CREATE UNIQUE INDEX CONCURRENTLY pk1_id ON pk1 (id);
SELECT rule, verdict, relation FROM migration_guard.check(
    'ALTER TABLE pk ATTACH PARTITION pk1 FOR VALUES FROM (1) TO (100000)');
ALTER TABLE pk1 ADD CONSTRAINT pk1_pkey PRIMARY KEY USING INDEX pk1_id;
ALTER TABLE pk ATTACH PARTITION pk1 FOR VALUES FROM (1) TO (100000);
SELECT count(*) FROM pg_inherits WHERE inhrelid = 'pk1_pkey'::regclass;

-- The guard never evaluates a partition bound.  bound_of() logs every call
-- and advances a sequence (which no rollback undoes).
CREATE TABLE bound_calls (v int);
CREATE SEQUENCE bound_seq;
SELECT setval('bound_seq', 100);
CREATE FUNCTION bound_of(v int) RETURNS int
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bound_calls VALUES (v);
    PERFORM nextval('bound_seq');
    RETURN v;
END
$$;
CREATE TABLE q (k int) PARTITION BY RANGE (k);
-- The hook: one call, the one PostgreSQL makes, guard on or off.
CREATE TABLE q1 PARTITION OF q FOR VALUES FROM (0) TO (bound_of(100));
SELECT count(*) FROM bound_calls;
SET migration_guard.mode = off;
CREATE TABLE q2 PARTITION OF q FOR VALUES FROM (bound_of(100)) TO (200);
RESET migration_guard.mode;
SELECT count(*) FROM bound_calls;
CREATE TABLE q3 (k int);
ALTER TABLE q ATTACH PARTITION q3 FOR VALUES FROM (bound_of(200)) TO (300);
SELECT count(*) FROM bound_calls;
-- migration_guard.check(): no call at all.
SELECT verdict FROM migration_guard.check($$
CREATE TABLE q4 PARTITION OF q FOR VALUES FROM (300) TO (bound_of(400));
ALTER TABLE q DETACH PARTITION q3;
ALTER TABLE q ATTACH PARTITION q3 FOR VALUES FROM (bound_of(200)) TO (300)
$$);
SELECT last_value FROM bound_seq;
-- A bound the guard cannot read is judged conservatively: the scan.
SELECT rule, verdict, relation FROM migration_guard.check(
    'ALTER TABLE m ATTACH PARTITION m4 FOR VALUES FROM (bound_of(300)) TO (400)');
-- ... while literals are read, and the safe recipe is recognised.
SELECT rule, verdict, relation FROM migration_guard.check(
    'ALTER TABLE m ATTACH PARTITION m4 FOR VALUES FROM (''300'') TO (400::int)');

-- Statements PostgreSQL rejects get PostgreSQL's error, also when the
-- analysis runs with the guard off (migration_guard.audit = all).
CREATE TYPE qrow AS (id int, k int, v text, extra int);
CREATE TABLE q_typed OF qrow;
INSERT INTO q_typed SELECT g, 450, 'v', 0 FROM generate_series(1, 20000) g;
CREATE TABLE q_extra (id int, k int, v text, extra int);
INSERT INTO q_extra SELECT g, 450, 'v', 0 FROM generate_series(1, 20000) g;
CREATE TABLE q_missing (id int, k int);
INSERT INTO q_missing SELECT g, 450 FROM generate_series(1, 20000) g;
ANALYZE q_typed, q_extra, q_missing;
CREATE TEMP TABLE tq (id int, k int, v text) PARTITION BY RANGE (k);
CREATE TEMP TABLE tqd PARTITION OF tq DEFAULT;
INSERT INTO tqd SELECT g, 1000, 'v' FROM generate_series(1, 20000) g;
ANALYZE tqd;
ALTER TABLE m ATTACH PARTITION q_typed FOR VALUES FROM (400) TO (500);
ALTER TABLE m ATTACH PARTITION q_extra FOR VALUES FROM (400) TO (500);
ALTER TABLE m ATTACH PARTITION q_missing FOR VALUES FROM (400) TO (500);
CREATE TABLE tq1 PARTITION OF tq FOR VALUES FROM (0) TO (100);
CREATE TABLE m5 PARTITION OF m FOR VALUES FROM (500) TO (500);
CREATE TABLE m5 PARTITION OF m FOR VALUES FROM (600) TO (500);
CREATE TABLE m5 PARTITION OF m FOR VALUES FROM ('x') TO (600);
CREATE TABLE m5 PARTITION OF m FOR VALUES FROM (150) TO (250);
ALTER TABLE m ATTACH PARTITION m4 FOR VALUES FROM (350) TO (350);
SET migration_guard.mode = off;
SET migration_guard.audit = 'all';
ALTER TABLE m ATTACH PARTITION q_typed FOR VALUES FROM (400) TO (500);
ALTER TABLE m ATTACH PARTITION q_missing FOR VALUES FROM (400) TO (500);
CREATE TABLE m5 PARTITION OF m FOR VALUES FROM (500) TO (500);
RESET migration_guard.audit;
RESET migration_guard.mode;
-- The same attach, once valid, is judged as before.
ALTER TABLE m ATTACH PARTITION q_extra FOR VALUES FROM (400) TO (500);
ALTER TABLE q_extra DROP COLUMN extra;
ALTER TABLE m ATTACH PARTITION q_extra FOR VALUES FROM (400) TO (500);
ALTER TABLE q_extra ADD CONSTRAINT q_extra_k CHECK (k IS NOT NULL AND k >= 400 AND k < 500) NOT VALID;
ALTER TABLE q_extra VALIDATE CONSTRAINT q_extra_k;
CREATE INDEX CONCURRENTLY q_extra_id ON q_extra (id);
CREATE INDEX CONCURRENTLY q_extra_k ON q_extra (k);
ALTER TABLE m ATTACH PARTITION q_extra FOR VALUES FROM (400) TO (500);

-- ATTACH ... DEFAULT scans the table unless its CHECK constraints exclude
-- every other partition's values.
CREATE TABLE dq (k int, v int) PARTITION BY LIST (k);
CREATE TABLE dq1 PARTITION OF dq FOR VALUES IN (1);
CREATE TABLE dq_default (k int, v int);
INSERT INTO dq_default SELECT 2, g FROM generate_series(1, 20000) g;
ANALYZE dq_default;
ALTER TABLE dq ATTACH PARTITION dq_default DEFAULT;
ALTER TABLE dq_default ADD CONSTRAINT dq_default_k CHECK (k > 1) NOT VALID;
ALTER TABLE dq_default VALIDATE CONSTRAINT dq_default_k;
ALTER TABLE dq ATTACH PARTITION dq_default DEFAULT;

-- Date bounds are read too, so the recipe works for them.
CREATE TABLE dp (k date, v int) PARTITION BY RANGE (k);
CREATE TABLE dp_default PARTITION OF dp DEFAULT;
INSERT INTO dp_default SELECT '2030-01-01', g FROM generate_series(1, 20000) g;
ANALYZE dp_default;
CREATE TABLE dp1 PARTITION OF dp FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
ALTER TABLE dp_default ADD CONSTRAINT dp_default_k CHECK (k >= '2030-01-01') NOT VALID;
ALTER TABLE dp_default VALIDATE CONSTRAINT dp_default_k;
CREATE TABLE dp1 PARTITION OF dp FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE dp2 PARTITION OF dp FOR VALUES FROM ('2026-02-01'::date) TO (MAXVALUE);
CREATE TABLE dp3 PARTITION OF dp FOR VALUES FROM ('2025-12-01') TO ('2026-01-15');
