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
