--
-- The size that decides: real tables of millions of rows, never analyzed or
-- analyzed when small, at the shipped default threshold.
--
CREATE SCHEMA size;
SET search_path = size, public;
SET migration_guard.row_threshold = 100000;   -- the default (see guc.sql)
CREATE TABLE huge (id bigint NOT NULL, payload text, created timestamptz);
INSERT INTO huge SELECT g, md5(g::text), '2026-01-01' FROM generate_series(1, 2000000) g;
-- Never analyzed: pg_class knows nothing yet.
SELECT reltuples, relpages FROM pg_class WHERE relname = 'huge';
SELECT rows BETWEEN 1500000 AND 4000000 AS about_two_million, big
  FROM migration_guard.estimate('huge');
\set VERBOSITY terse

-- Every unsafe pattern is rejected before any work starts.
ALTER TABLE huge ADD COLUMN r float8 DEFAULT random();
ALTER TABLE huge ADD COLUMN s bigserial;
ALTER TABLE huge ALTER COLUMN id TYPE int;
ALTER TABLE huge ALTER COLUMN payload SET NOT NULL;
ALTER TABLE huge ADD CONSTRAINT pos CHECK (id > 0);
ALTER TABLE huge ADD PRIMARY KEY (id);
CREATE INDEX ON huge (id);
REINDEX TABLE huge;
VACUUM FULL huge;
CLUSTER huge USING huge_id;
ALTER TABLE huge SET UNLOGGED;

-- The safe recipes pass.
ALTER TABLE huge ADD COLUMN flag boolean NOT NULL DEFAULT false;
ALTER TABLE huge ADD COLUMN note text;
ALTER TABLE huge ALTER COLUMN note SET DEFAULT 'n/a';
CREATE UNIQUE INDEX CONCURRENTLY huge_id ON huge (id);
ALTER TABLE huge ADD CONSTRAINT huge_pkey PRIMARY KEY USING INDEX huge_id;
CLUSTER huge USING huge_pkey;   -- the index exists now: a rewrite, rejected
ALTER TABLE huge ADD CONSTRAINT pos CHECK (id > 0) NOT VALID;
ALTER TABLE huge VALIDATE CONSTRAINT pos;
ALTER TABLE huge ADD CONSTRAINT payload_nn CHECK (payload IS NOT NULL) NOT VALID;
ALTER TABLE huge VALIDATE CONSTRAINT payload_nn;
ALTER TABLE huge ALTER COLUMN payload SET NOT NULL;
ALTER TABLE huge DROP CONSTRAINT payload_nn;

-- Analyzed when small, grown since: still big.
CREATE TABLE grown (id int, v text);
INSERT INTO grown SELECT g, 'v' FROM generate_series(1, 1000) g;
ANALYZE grown;
INSERT INTO grown SELECT g, 'v' FROM generate_series(1, 300000) g;
SELECT reltuples FROM pg_class WHERE relname = 'grown';
SELECT rows > 250000 AS counted_now, big FROM migration_guard.estimate('grown');
CREATE INDEX ON grown (id);

-- Emptied by TRUNCATE: small again.
TRUNCATE grown;
SELECT rows, big FROM migration_guard.estimate('grown');
CREATE INDEX ON grown (id);

-- Unlogged tables are visible to everyone: guarded.  Temporary ones are not.
CREATE UNLOGGED TABLE ulog AS SELECT * FROM huge LIMIT 200000;
CREATE INDEX ON ulog (id);
CREATE TEMP TABLE tmp AS SELECT * FROM huge LIMIT 200000;
CREATE INDEX ON tmp (id);

-- TOAST chunks are not rows: a table of 1,000 wide rows (6 MB, almost all
-- of it TOAST) is small by rows and by size; its rewrite, which also copies
-- its TOAST table, passes.  The same rewrite is judged on the table itself
-- (with its TOAST bytes) once the threshold is below its rows.
CREATE TABLE toasty (id int, doc text);
ALTER TABLE toasty ALTER COLUMN doc SET STORAGE EXTERNAL;
INSERT INTO toasty SELECT g, repeat(md5(g::text), 180) FROM generate_series(1, 1000) g;
SELECT rows < 2000 AS rows_are_rows, bytes > 5000000 AS toast_counted_in_bytes, big
  FROM migration_guard.estimate('toasty');
VACUUM FULL toasty;
ALTER TABLE toasty ALTER COLUMN id TYPE bigint;
SET migration_guard.static_analysis = off;   -- only the rewrite detector
ALTER TABLE toasty ALTER COLUMN id TYPE int;
SET migration_guard.row_threshold = 500;
ALTER TABLE toasty ALTER COLUMN id TYPE bigint;
RESET migration_guard.row_threshold;
RESET migration_guard.static_analysis;
