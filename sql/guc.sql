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

SET search_path = guc, public;

-- The maintenance window: exactly the documented grammar, nothing else.
-- ALTER SYSTEM runs the check hook; the details are the product here.
\set VERBOSITY default
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon, 01:00-02:00';
ALTER SYSTEM SET migration_guard.maintenance_window = ',mon 01:00-02:00';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon,,tue 01:00-02:00';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon 24:00-24:00';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon 24:00-01:00';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon 01:00-01:00';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon 01:00-02:00;';
ALTER SYSTEM SET migration_guard.maintenance_window = '; mon 01:00-02:00';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon 01:00-02:00;; tue 01:00-02:00';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon 001:00-02:00';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon 1:00-02:00';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon 01:00-02:000';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon 01:00 - 02:00';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon 01:00-02:00 x';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon 01:60-02:00';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon 24:01-02:00';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon 99999999999:00-02:00';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon-mon 01:00-02:00';
ALTER SYSTEM SET migration_guard.maintenance_window = 'monday 01:00-02:00';
ALTER SYSTEM SET migration_guard.maintenance_window = '*,mon 01:00-02:00';
ALTER SYSTEM SET migration_guard.maintenance_window = 'sat, sun 01:00-02:00';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon';
ALTER SYSTEM SET migration_guard.maintenance_window = '01:00-02:00';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon 01:00-';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon 01:00-02:00-03:00';
SELECT string_agg('mon 01:00-02:00', '; ') AS many_windows FROM generate_series(1, 17) \gset
ALTER SYSTEM SET migration_guard.maintenance_window = :'many_windows';
-- A long bad value is quoted in the detail only up to 64 bytes.
SELECT 'mon 01:00-02:00; ' || repeat('x', 100) || ' 01:00-02:00' AS long_window \gset
ALTER SYSTEM SET migration_guard.maintenance_window = :'long_window';
-- What is accepted: day names in any case, whitespace around the windows
-- and between days and times, 24:00 as an end, windows past midnight.
ALTER SYSTEM SET migration_guard.maintenance_window = 'Mon-FRI 01:00-02:00';
ALTER SYSTEM SET migration_guard.maintenance_window = E' sat,sun\t01:00-05:00 ;\tfri-mon 22:00-02:00 ';
ALTER SYSTEM SET migration_guard.maintenance_window = '* 00:00-24:00; mon 23:00-00:00';
ALTER SYSTEM SET migration_guard.maintenance_window = '   ';
ALTER SYSTEM RESET migration_guard.maintenance_window;

-- The time zone: what PostgreSQL accepts for its own TimeZone, nothing
-- else (no leap-second zones such as right/UTC).
\set VERBOSITY terse
ALTER SYSTEM SET migration_guard.maintenance_window_timezone = 'right/UTC';
ALTER SYSTEM SET migration_guard.maintenance_window_timezone = 'Mars/Olympus_Mons';
\set VERBOSITY default
SELECT repeat('Europe/', 40) AS long_zone \gset
ALTER SYSTEM SET migration_guard.maintenance_window_timezone = :'long_zone';
ALTER SYSTEM SET migration_guard.maintenance_window_timezone = 'europe/berlin';
ALTER SYSTEM SET migration_guard.maintenance_window_timezone = 'UTC';
ALTER SYSTEM RESET migration_guard.maintenance_window_timezone;

\set VERBOSITY terse
-- override_reason: any role may set it, so it is bounded: cut to 1024
-- bytes at a character boundary, never rejected.
SELECT set_config('migration_guard.override_reason', repeat('x', 9000000), false) IS NOT NULL AS set;
SELECT octet_length(current_setting('migration_guard.override_reason'));
SELECT set_config('migration_guard.override_reason', 'x' || repeat('é', 600), false) IS NOT NULL AS set;
SELECT octet_length(current_setting('migration_guard.override_reason')),
       length(current_setting('migration_guard.override_reason'));
SET migration_guard.override_reason = 'INC-4711';
SHOW migration_guard.override_reason;
-- The audit entry keeps the cut reason.
SELECT set_config('migration_guard.override_reason', repeat('r', 5000), false) IS NOT NULL AS set;
SET migration_guard.mode = warn;
CREATE INDEX ON t (v);
RESET migration_guard.mode;
SELECT action, octet_length(override_reason) FROM migration_guard.audit ORDER BY seq DESC LIMIT 1;
RESET ALL;
