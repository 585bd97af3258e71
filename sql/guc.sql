--
-- Policy settings: defaults, validation, and how they combine.
--
CREATE SCHEMA guc;
SET search_path = guc, public;
SELECT mg_big('t');
SELECT name, setting, unit, context, vartype, enumvals
  FROM pg_settings WHERE name LIKE 'migration_guard.%' ORDER BY name COLLATE "C";
\set VERBOSITY terse

-- Invalid values get clear errors.
SET migration_guard.mode = 'strict';
SET migration_guard.row_threshold = -1;
SET migration_guard.row_threshold = 'many';
SET migration_guard.size_threshold = '1 parsec';
SET migration_guard.validation_scan_action = 'maybe';
SET migration_guard.nonexistent = 1;

-- Units
SET migration_guard.size_threshold = '10GB';
SHOW migration_guard.size_threshold;
RESET migration_guard.size_threshold;

-- Per-rule actions: enforce rewrites, only warn on validation scans.
SET migration_guard.validation_scan_action = warn;
ALTER TABLE t ADD COLUMN r float8 DEFAULT random();
BEGIN;
ALTER TABLE t ADD CONSTRAINT pos CHECK (id > 0);
ROLLBACK;
-- The weaker of mode and rule action applies.
SET migration_guard.mode = warn;
SET migration_guard.validation_scan_action = enforce;
BEGIN;
ALTER TABLE t ADD CONSTRAINT pos CHECK (id > 0);
ROLLBACK;
SET migration_guard.mode = enforce;
SET migration_guard.table_rewrite_action = off;
BEGIN;
ALTER TABLE t ADD COLUMN r float8 DEFAULT random();
ROLLBACK;
RESET ALL;

-- The row threshold is a strict "above".
SELECT rows FROM migration_guard.estimate('t');
SET migration_guard.row_threshold = 20000;
BEGIN;
CREATE INDEX ON t (v);
ROLLBACK;
SET migration_guard.row_threshold = 19999;
CREATE INDEX ON t (v);
-- The size threshold alone: a wide table with few rows.
SET migration_guard.row_threshold = 1000000;
SELECT pg_size_pretty(bytes) FROM migration_guard.estimate('t');
SET migration_guard.size_threshold = '1MB';
CREATE INDEX ON t (v);
SET migration_guard.size_threshold = 0;
BEGIN;
CREATE INDEX ON t (v);
ROLLBACK;
RESET ALL;
