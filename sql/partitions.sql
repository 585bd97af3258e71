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
ALTER TABLE m ATTACH PARTITION m4 FOR VALUES FROM (300) TO (400);
ALTER TABLE m DETACH PARTITION m4;
