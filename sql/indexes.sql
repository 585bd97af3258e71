--
-- CREATE INDEX and REINDEX without CONCURRENTLY.
--
CREATE SCHEMA indexes;
SET search_path = indexes, public;
SELECT mg_big('t');
\set VERBOSITY terse

CREATE INDEX t_v ON t (v);
CREATE UNIQUE INDEX t_id ON t (id);
CREATE INDEX t_expr ON t (lower(v)) WHERE id > 10;
CREATE INDEX ON ONLY t (v);          -- ONLY means nothing on a plain table
SELECT * FROM mg_modes('CREATE INDEX t_v ON t (v)');

-- Safe
CREATE INDEX CONCURRENTLY t_v ON t (v);
CREATE INDEX IF NOT EXISTS t_v ON t (v);
CREATE INDEX CONCURRENTLY IF NOT EXISTS t_v ON t (v);

-- REINDEX
REINDEX INDEX t_v;
REINDEX TABLE t;
REINDEX (VERBOSE) TABLE t;
SELECT * FROM mg_modes('REINDEX TABLE t');
REINDEX INDEX CONCURRENTLY t_v;
REINDEX (CONCURRENTLY) TABLE t;
REINDEX SCHEMA indexes;
CREATE SCHEMA empty_schema;
REINDEX SCHEMA empty_schema;
-- A table with no index and no TOAST table has nothing to rebuild.
CREATE SCHEMA noindex_schema;
CREATE TABLE noindex_schema.plain (id int NOT NULL);
INSERT INTO noindex_schema.plain SELECT g FROM generate_series(1, 20000) g;
ANALYZE noindex_schema.plain;
REINDEX SCHEMA noindex_schema;
REINDEX TABLE noindex_schema.plain;
CREATE INDEX ON noindex_schema.plain (id);
REINDEX SCHEMA noindex_schema;
CREATE INDEX CONCURRENTLY ON noindex_schema.plain (id);
REINDEX SCHEMA CONCURRENTLY noindex_schema;

-- Tables nobody else can see: created in this transaction, or temporary.
BEGIN;
CREATE TABLE fresh AS SELECT * FROM t;
CREATE INDEX ON fresh (v);
ALTER TABLE fresh ALTER COLUMN id TYPE bigint;
COMMIT;
CREATE INDEX ON fresh (id);
CREATE TEMP TABLE tmp AS SELECT * FROM t;
CREATE INDEX ON tmp (v);
ALTER TABLE tmp ALTER COLUMN id TYPE bigint;
-- An existing table that was altered in this transaction is not exempt.
BEGIN;
ALTER TABLE t ADD COLUMN extra int;
CREATE INDEX ON t (extra);
ROLLBACK;
-- Nor is one that was truncated and reloaded (still visible to others).
BEGIN;
TRUNCATE fresh;
-- (The reload under TRUNCATE's lock is held_lock_work, see backfill.sql.)
SET LOCAL migration_guard.held_lock_work_action = off;
INSERT INTO fresh SELECT * FROM t;
CREATE INDEX ON fresh (v);
ROLLBACK;

-- Materialized views
CREATE MATERIALIZED VIEW mv AS SELECT * FROM t;
CREATE INDEX ON mv (id);
CREATE UNIQUE INDEX CONCURRENTLY mv_id ON mv (id);

\set VERBOSITY default
CREATE INDEX ON t (n);
