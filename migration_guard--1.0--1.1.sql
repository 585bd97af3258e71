/* migration_guard--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION migration_guard UPDATE TO '1.1'" to load this file. \quit

-- CREATE EXTENSION runs migration_guard--1.0.sql and then this script, so
-- everything below also holds for a new installation.

-- The schema must be the extension's alone.  Its functions are called by
-- superusers: a role that owns the schema, or may create objects in it,
-- could add an overload (migration_guard.blockers(text)) or an operator
-- that a superuser's call or one of the views then runs, or drop the
-- schema.  CREATE EXTENSION reuses a schema of that name if one exists, so
-- a role with CREATE on the database can prepare it in advance; refuse
-- such a schema here, at installation and at every update.
--
-- Every name is qualified with pg_catalog: while this script runs, the
-- schema is on the search_path and may hold another role's objects.
DO $$
DECLARE
    nsp pg_catalog.oid;
    ext pg_catalog.oid;
    owner_name pg_catalog.name;
    owner_super boolean;
    creator pg_catalog.name;
    n_foreign pg_catalog.int8;
    first_foreign pg_catalog.text;
    why pg_catalog.text;
BEGIN
    SELECT n.oid, r.rolname, r.rolsuper
      INTO nsp, owner_name, owner_super
      FROM pg_catalog.pg_namespace n
      JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
     WHERE n.nspname OPERATOR(pg_catalog.=) 'migration_guard';
    SELECT e.oid INTO ext
      FROM pg_catalog.pg_extension e
     WHERE e.extname OPERATOR(pg_catalog.=) 'migration_guard';

    IF NOT owner_super THEN
        why := pg_catalog.format('Schema "migration_guard" is owned by role "%s", which is not a superuser and could add functions or operators there that a superuser would then run.',
                                 owner_name);
    END IF;

    -- Any role but a superuser that may create objects in the schema:
    -- through PUBLIC, a grant, membership in a role, or ownership.
    IF why IS NULL THEN
        IF EXISTS (SELECT FROM pg_catalog.pg_namespace n,
                          pg_catalog.aclexplode(n.nspacl) a
                    WHERE n.oid OPERATOR(pg_catalog.=) nsp
                      AND a.grantee OPERATOR(pg_catalog.=) 0
                      AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE') THEN
            why := 'Every role may create objects in schema "migration_guard" (CREATE is granted to PUBLIC), such as functions or operators that a superuser would then run.';
        ELSE
            SELECT r.rolname INTO creator
              FROM pg_catalog.pg_roles r
             WHERE NOT r.rolsuper
               AND pg_catalog.has_schema_privilege(r.oid, nsp, 'CREATE')
             ORDER BY r.rolname OPERATOR(pg_catalog.~~) 'pg\_%', r.rolname
             LIMIT 1;
            IF creator IS NOT NULL THEN
                why := pg_catalog.format('Role "%s" is not a superuser but may create objects in schema "migration_guard", such as functions or operators that a superuser would then run.',
                                         creator);
            END IF;
        END IF;
    END IF;

    -- Anything in the schema (as DROP SCHEMA sees it: every object that
    -- depends on it) that is neither the extension nor one of its members.
    IF why IS NULL THEN
        SELECT pg_catalog.count(*),
               pg_catalog.min(pg_catalog.concat_ws(' ', i.type, i.identity))
          INTO n_foreign, first_foreign
          FROM pg_catalog.pg_depend d,
               pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid) i
         WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
           AND d.refobjid OPERATOR(pg_catalog.=) nsp
           AND NOT (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
                    AND d.objid OPERATOR(pg_catalog.=) ext)
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend m
                            WHERE m.classid OPERATOR(pg_catalog.=) d.classid
                              AND m.objid OPERATOR(pg_catalog.=) d.objid
                              AND m.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
                              AND m.refobjid OPERATOR(pg_catalog.=) ext
                              AND m.deptype OPERATOR(pg_catalog.=) 'e');
        IF n_foreign OPERATOR(pg_catalog.>) 0 THEN
            why := pg_catalog.format('Schema "migration_guard" contains %s object(s) that do not belong to extension "migration_guard", such as %s.',
                                     n_foreign, first_foreign);
        END IF;
    END IF;

    IF why IS NOT NULL THEN
        RAISE EXCEPTION 'schema "migration_guard" can be changed by roles other than superusers'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = why,
                  HINT = 'Drop or rename schema "migration_guard" (after DROP EXTENSION migration_guard if it is installed), then run CREATE EXTENSION migration_guard again.';
    END IF;
END
$$;

-- Every function resolves names in pg_catalog only, whatever the caller's
-- search_path: no overload, operator or table of another role that comes
-- first in it can stand in for what the function calls.  The C functions
-- resolve no names today (relations arrive as OIDs); pinning them keeps it
-- so.  The exception is check(): it resolves the script's names exactly as
-- the migration will, with the caller's search_path, and executes nothing.
--
-- Strict input: a NULL argument is an error, not an empty answer.
ALTER FUNCTION migration_guard.preloaded()
    SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION migration_guard.estimate(regclass, boolean)
    CALLED ON NULL INPUT
    SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION migration_guard.lock_modes_conflict(text, text)
    CALLED ON NULL INPUT
    SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION migration_guard.audit_entries()
    SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION migration_guard.audit_status()
    SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION migration_guard.audit_reset()
    SET search_path = pg_catalog, pg_temp;

-- blockers(): NULL arguments and a relation that does not exist are
-- errors (1.0 returned no rows), and every call is qualified.
CREATE OR REPLACE FUNCTION migration_guard.blockers(
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
    IF blockers.relation IS NULL THEN
        RAISE EXCEPTION 'argument "relation" must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF blockers.lock_mode IS NULL THEN
        RAISE EXCEPTION 'argument "lock_mode" must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_class c
                    WHERE c.oid = blockers.relation) THEN
        RAISE EXCEPTION 'relation with OID % does not exist',
                        blockers.relation::pg_catalog.oid
            USING ERRCODE = 'undefined_table';
    END IF;
    -- Validates lock_mode even when nobody holds a lock.
    PERFORM migration_guard.lock_modes_conflict(blockers.lock_mode,
                                                blockers.lock_mode);
    RETURN QUERY
    SELECT l.pid, a.usename, a.application_name, a.state,
           pg_catalog.now() - a.state_change, pg_catalog.now() - a.xact_start,
           l.mode, l.granted, pg_catalog.now() - l.waitstart, a.query
      FROM pg_catalog.pg_locks l
      LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'relation'
       AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                          WHERE d.datname = pg_catalog.current_database())
       AND l.relation = blockers.relation
       AND l.pid IS DISTINCT FROM pg_catalog.pg_backend_pid()
       AND migration_guard.lock_modes_conflict(l.mode, blockers.lock_mode)
     ORDER BY l.granted DESC, a.xact_start NULLS FIRST, l.pid;
END
$$;

-- audit_status(): also what could not be written, what the rate limit
-- suppressed, and the damaged lines in the files.
DROP FUNCTION migration_guard.audit_status();
CREATE FUNCTION migration_guard.audit_status(
    OUT entries bigint,
    OUT dropped bigint,
    OUT next_seq bigint,
    OUT bytes bigint,
    OUT max_bytes bigint,
    OUT write_failures bigint,
    OUT last_write_error text,
    OUT last_write_failure timestamptz,
    OUT suppressed bigint,
    OUT damaged bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'migration_guard_audit_status'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION migration_guard.audit_status() IS
'Entries kept, dropped by retention since the last reset, lost to write failures and suppressed by the rate limit since the server started, and damaged lines';

REVOKE ALL ON FUNCTION migration_guard.audit_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION migration_guard.audit_status() TO pg_read_all_stats;
