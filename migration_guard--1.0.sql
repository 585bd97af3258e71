/* migration_guard--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION migration_guard" to load this file. \quit

CREATE FUNCTION migration_guard.preloaded()
RETURNS boolean
AS 'MODULE_PATHNAME', 'migration_guard_preloaded'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION migration_guard.preloaded() IS
'True when migration_guard is loaded via shared_preload_libraries, so that every session is guarded';

CREATE FUNCTION migration_guard.estimate(
    rel regclass,
    recurse boolean DEFAULT true,
    OUT rows float8,
    OUT bytes int8,
    OUT relations int4,
    OUT big boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'migration_guard_estimate'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION migration_guard.estimate(regclass, boolean) IS
'Rows and bytes of a relation (with its partitions and children if recurse) as the guard measures them, and whether it is above a threshold';

CREATE FUNCTION migration_guard.lock_modes_conflict(held text, requested text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'migration_guard_lock_modes_conflict'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION migration_guard.lock_modes_conflict(text, text) IS
'Whether a lock held in the first mode blocks a request in the second (names as in pg_locks)';

-- The sessions that now hold or wait for a lock on the relation that
-- conflicts with lock_mode: a preflight before running a migration.  Not
-- SECURITY DEFINER: query texts follow pg_stat_activity's visibility rules
-- for the caller.
CREATE FUNCTION migration_guard.blockers(
    relation regclass,
    lock_mode text DEFAULT 'AccessExclusiveLock',
    OUT pid integer,
    OUT usename name,
    OUT application_name text,
    OUT state text,
    OUT state_duration interval,
    OUT xact_age interval,
    OUT mode text,
    OUT granted boolean,
    OUT wait_duration interval,
    OUT query text)
RETURNS SETOF record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Validates lock_mode even when nobody holds a lock.
    PERFORM migration_guard.lock_modes_conflict(lock_mode, lock_mode);
    RETURN QUERY
    SELECT l.pid, a.usename, a.application_name, a.state,
           now() - a.state_change, now() - a.xact_start,
           l.mode, l.granted, now() - l.waitstart, a.query
      FROM pg_locks l
      LEFT JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'relation'
       AND l.database = (SELECT d.oid FROM pg_database d
                          WHERE d.datname = current_database())
       AND l.relation = blockers.relation
       AND l.pid IS DISTINCT FROM pg_backend_pid()
       AND migration_guard.lock_modes_conflict(l.mode, lock_mode)
     ORDER BY l.granted DESC, a.xact_start NULLS FIRST, l.pid;
END
$$;

COMMENT ON FUNCTION migration_guard.blockers(regclass, text) IS
'Sessions holding or waiting for a lock on the relation that conflicts with the given mode';

-- The audit trail: every decision, kept in the data directory (see README).
CREATE FUNCTION migration_guard.audit_entries(
    OUT seq bigint,
    OUT ts timestamptz,
    OUT database text,
    OUT session_user_name text,
    OUT current_user_name text,
    OUT application_name text,
    OUT client_addr text,
    OUT pid integer,
    OUT command text,
    OUT statement text,
    OUT rule text,
    OUT action text,
    OUT reason text,
    OUT override_reason text,
    OUT relation text,
    OUT est_rows float8,
    OUT bytes bigint,
    OUT lock_mode text,
    OUT row_threshold integer,
    OUT size_threshold bigint,
    OUT mode text,
    OUT outcome text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'migration_guard_audit_entries'
LANGUAGE C STRICT VOLATILE;

CREATE VIEW migration_guard.audit AS
    SELECT * FROM migration_guard.audit_entries();

COMMENT ON VIEW migration_guard.audit IS
'Every guard decision still kept: rejected, warned, and allowed by a relaxed policy';

CREATE FUNCTION migration_guard.audit_status(
    OUT entries bigint,
    OUT dropped bigint,
    OUT next_seq bigint,
    OUT bytes bigint,
    OUT max_bytes bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'migration_guard_audit_status'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION migration_guard.audit_status() IS
'Entries kept, entries dropped by retention since the last reset, and disk use of the audit trail';

CREATE FUNCTION migration_guard.audit_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'migration_guard_audit_reset'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION migration_guard.audit_reset() IS
'Empty the audit trail (superusers only)';

CREATE VIEW migration_guard.audit_rejections_daily AS
    SELECT ts::date AS day,
           session_user_name AS role,
           count(*) AS rejections,
           count(DISTINCT relation) AS tables
      FROM migration_guard.audit
     WHERE action = 'rejected'
     GROUP BY 1, 2;

COMMENT ON VIEW migration_guard.audit_rejections_daily IS
'Rejections per role per day';

CREATE VIEW migration_guard.audit_top_tables AS
    SELECT relation,
           count(*) AS decisions,
           count(*) FILTER (WHERE action = 'rejected') AS rejected,
           count(*) FILTER (WHERE action = 'warned') AS warned,
           count(*) FILTER (WHERE action = 'allowed') AS allowed,
           max(ts) AS last_decision
      FROM migration_guard.audit
     GROUP BY relation;

COMMENT ON VIEW migration_guard.audit_top_tables IS
'The most-guarded tables: decisions per table';

CREATE VIEW migration_guard.audit_overrides AS
    SELECT ts, session_user_name, current_user_name, application_name,
           relation, rule, action, reason, override_reason,
           command, statement, outcome
      FROM migration_guard.audit
     WHERE action IN ('warned', 'allowed');

COMMENT ON VIEW migration_guard.audit_overrides IS
'Statements that ran although the guard found them unsafe: who, when, what and why';

-- Readable by DBAs (pg_read_all_stats, which pg_monitor includes), not by
-- PUBLIC; only superusers reset.
REVOKE ALL ON FUNCTION migration_guard.audit_entries() FROM PUBLIC;
REVOKE ALL ON FUNCTION migration_guard.audit_status() FROM PUBLIC;
REVOKE ALL ON FUNCTION migration_guard.audit_reset() FROM PUBLIC;
REVOKE ALL ON migration_guard.audit, migration_guard.audit_rejections_daily,
    migration_guard.audit_top_tables, migration_guard.audit_overrides FROM PUBLIC;
GRANT EXECUTE ON FUNCTION migration_guard.audit_entries() TO pg_read_all_stats;
GRANT EXECUTE ON FUNCTION migration_guard.audit_status() TO pg_read_all_stats;
GRANT SELECT ON migration_guard.audit, migration_guard.audit_rejections_daily,
    migration_guard.audit_top_tables, migration_guard.audit_overrides TO pg_read_all_stats;

-- What the guard protects, before anything happens: the tables above a
-- threshold now, with the policy of the session that reads the view.
CREATE VIEW migration_guard.guarded_tables AS
    SELECT c.oid::regclass AS relation,
           c.relkind,
           e.rows AS est_rows,
           e.bytes,
           pg_catalog.pg_size_pretty(e.bytes) AS size,
           e.relations,
           pg_catalog.current_setting('migration_guard.mode') AS mode,
           pg_catalog.current_setting('migration_guard.table_rewrite_action') AS table_rewrite,
           pg_catalog.current_setting('migration_guard.blocking_index_build_action') AS blocking_index_build,
           pg_catalog.current_setting('migration_guard.validation_scan_action') AS validation_scan
      FROM pg_catalog.pg_class c
     CROSS JOIN LATERAL migration_guard.estimate(c.oid, true) e
     WHERE c.relkind IN ('r', 'p', 'm')
       AND NOT c.relispartition
       AND c.relpersistence <> 't'
       AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
       AND e.big;

COMMENT ON VIEW migration_guard.guarded_tables IS
'Tables above the guard''s thresholds now, with their size and the policy that applies';

GRANT SELECT ON migration_guard.guarded_tables TO PUBLIC;

-- Preflight: what a migration script would do here, without running it.
CREATE FUNCTION migration_guard.check(
    script text,
    OUT stmt_no integer,
    OUT line integer,
    OUT statement text,
    OUT rule text,
    OUT verdict text,
    OUT relation text,
    OUT est_rows float8,
    OUT bytes bigint,
    OUT lock_mode text,
    OUT message text,
    OUT hint text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'migration_guard_check'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION migration_guard.check(text) IS
'Check a migration script against this server: one row per finding, in script order; nothing is executed';

GRANT USAGE ON SCHEMA migration_guard TO PUBLIC;

-- Installing is allowed without the preload (a dump must restore anywhere),
-- but say loudly that nothing is guarded.
DO $$
BEGIN
    IF NOT migration_guard.preloaded() THEN
        RAISE WARNING 'migration_guard is not loaded via "shared_preload_libraries"'
            USING DETAIL = 'No statement is guarded until it is.',
                  HINT = 'Add migration_guard to "shared_preload_libraries" and restart the server.';
    END IF;
END
$$;
