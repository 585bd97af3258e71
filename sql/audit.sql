--
-- The audit trail: what is recorded, who may read it, overrides, retention.
--
CREATE SCHEMA audit;
SET search_path = audit, public;
-- Bigger than the shipped default threshold, so that "allowed" (a pass the
-- default policy would have rejected) can be shown.
SELECT mg_big('t', 120000);
SELECT mg_big('t_small');
SELECT migration_guard.audit_reset();
SELECT entries, dropped FROM migration_guard.audit_status();
\set VERBOSITY terse

-- A rejection, a warning (mode), an override with a reason, a rule action,
-- raised thresholds, and a statement the default policy also lets through.
ALTER TABLE t ADD COLUMN r float8 DEFAULT random();
SET migration_guard.mode = warn;
BEGIN;
CREATE INDEX t_v ON t (v);
ROLLBACK;
RESET migration_guard.mode;
BEGIN;
SET LOCAL migration_guard.mode = off;
SET LOCAL migration_guard.override_reason = 'INC-42: index needed now';
CREATE INDEX t_v ON t (v);
ROLLBACK;
SET migration_guard.validation_scan_action = off;
ALTER TABLE t ADD CONSTRAINT pos CHECK (id > 0);
RESET migration_guard.validation_scan_action;
SET migration_guard.row_threshold = 1000000;
ALTER TABLE t_small ADD CONSTRAINT pos2 CHECK (id > 0);   -- small by the defaults too: not recorded
ALTER TABLE t ALTER COLUMN v SET NOT NULL;
RESET migration_guard.row_threshold;
-- A failing statement after a warning: outcome stays "not completed".
SET migration_guard.mode = warn;
ALTER TABLE t ALTER COLUMN id TYPE smallint;   -- ids above 32767: fails while rewriting
RESET migration_guard.mode;

SELECT seq - (SELECT min(seq) FROM migration_guard.audit) AS n, database,
       session_user_name = session_user AS session_ok,
       current_user_name = current_user AS current_ok, application_name, client_addr IS NULL AS unix_socket,
       pid = pg_backend_pid() AS my_pid, command, statement, rule, action, reason,
       override_reason, relation, est_rows, bytes > 0 AS has_bytes, lock_mode,
       row_threshold, size_threshold, mode, outcome
  FROM migration_guard.audit ORDER BY seq;
SELECT entries, dropped FROM migration_guard.audit_status();

-- The reports.
SELECT role = current_user AS me, day = current_date AS today, rejections, tables
  FROM migration_guard.audit_rejections_daily;
SELECT relation, decisions, rejected, warned, allowed FROM migration_guard.audit_top_tables;
SELECT session_user_name = session_user AS me, relation, rule, action, reason,
       override_reason, outcome
  FROM migration_guard.audit_overrides ORDER BY ts;
SELECT relation, est_rows, mode FROM migration_guard.guarded_tables
 WHERE relation IN ('audit.t'::regclass, 'audit.t_small'::regclass)
 ORDER BY relation::text COLLATE "C";

-- Who may read and reset it.
CREATE ROLE audit_nobody;
CREATE ROLE audit_dba IN ROLE pg_read_all_stats;
CREATE ROLE audit_granted;
GRANT USAGE ON SCHEMA audit TO audit_nobody, audit_dba, audit_granted;
GRANT SELECT ON migration_guard.audit TO audit_granted;
GRANT EXECUTE ON FUNCTION migration_guard.audit_entries() TO audit_granted;
SET ROLE audit_nobody;
SELECT count(*) FROM migration_guard.audit;
SELECT * FROM migration_guard.audit_entries();
SELECT * FROM migration_guard.audit_overrides;
SELECT * FROM migration_guard.audit_status();
SELECT migration_guard.audit_reset();
SELECT count(*) > 0 AS sees_guarded_tables FROM migration_guard.guarded_tables;
RESET ROLE;
SET ROLE audit_dba;
SELECT count(*), count(statement) FROM migration_guard.audit;
SELECT migration_guard.audit_reset();
RESET ROLE;
SET ROLE audit_granted;
-- Granted explicitly but not a DBA: others' statement texts are hidden.
SELECT count(*), count(statement) FROM migration_guard.audit;
RESET ROLE;

-- The trail is not transactional: a rolled-back rejection is still there.
BEGIN;
ALTER TABLE t ALTER COLUMN id TYPE bigint;
ROLLBACK;
SELECT action, relation FROM migration_guard.audit ORDER BY seq DESC LIMIT 1;

-- Settings
SET migration_guard.audit = 'sometimes';
SET migration_guard.audit = rejected;
SET migration_guard.mode = warn;
BEGIN;
CREATE INDEX ON t (v);
ROLLBACK;
RESET migration_guard.mode;
SELECT count(*) FILTER (WHERE action = 'warned' AND relation = 'audit.t' AND statement = 'CREATE INDEX ON t (v)') AS warned_kept
  FROM migration_guard.audit;
RESET migration_guard.audit;
SET migration_guard.audit_statement_max = 20;
ALTER TABLE t ADD COLUMN r2 float8 DEFAULT random();
SELECT statement FROM migration_guard.audit ORDER BY seq DESC LIMIT 1;
RESET migration_guard.audit_statement_max;
SET ROLE audit_nobody;
SET migration_guard.audit = off;
SET migration_guard.override_reason = 'anyone may annotate';
RESET ROLE;

-- Maintenance window: rejections become warnings, audited as such.
ALTER SYSTEM SET migration_guard.maintenance_window = 'someday 25:00';
ALTER SYSTEM SET migration_guard.maintenance_window = 'mon-fri 09:00';
ALTER SYSTEM SET migration_guard.maintenance_window_timezone = 'Mars/Olympus_Mons';
ALTER SYSTEM SET migration_guard.maintenance_window = 'fri-mon 22:00-02:00; sat,sun 01:00-05:00';
ALTER SYSTEM SET migration_guard.maintenance_window = '* 00:00-24:00';
ALTER SYSTEM SET migration_guard.maintenance_window_timezone = 'Europe/Berlin';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SHOW migration_guard.maintenance_window;
SET migration_guard.maintenance_window = '';
BEGIN;
CREATE INDEX ON t (v);
ROLLBACK;
SELECT action, reason, outcome FROM migration_guard.audit ORDER BY seq DESC LIMIT 1;
ALTER SYSTEM RESET migration_guard.maintenance_window;
ALTER SYSTEM RESET migration_guard.maintenance_window_timezone;

-- Retention: past half of audit_max_size the older half is dropped and
-- counted; DDL is never blocked.
ALTER SYSTEM SET migration_guard.audit_max_size = '64kB';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SELECT migration_guard.audit_reset();
DO $$
BEGIN
    FOR i IN 1..600 LOOP
        BEGIN
            ALTER TABLE t ADD COLUMN r float8 DEFAULT random();
        EXCEPTION WHEN SQLSTATE 'MG001' THEN
            NULL;
        END;
    END LOOP;
END
$$;
SELECT entries < 600 AS some_dropped, entries + dropped AS total, bytes <= max_bytes AS within_budget
  FROM migration_guard.audit_status();
SELECT count(*) = (SELECT entries FROM migration_guard.audit_status()) AS view_matches,
       max(seq) - min(seq) + 1 = count(*) AS contiguous
  FROM migration_guard.audit;
ALTER SYSTEM RESET migration_guard.audit_max_size;
SELECT pg_reload_conf();

DROP OWNED BY audit_nobody, audit_dba, audit_granted;
DROP ROLE audit_nobody, audit_dba, audit_granted;
