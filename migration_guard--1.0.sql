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
