--
-- The extension's objects cannot be taken over: its schema belongs to a
-- superuser and to the extension alone, and its functions resolve names in
-- pg_catalog whatever search_path the caller has.
--
\set SHOW_CONTEXT never
SELECT current_database() AS regdb \gset

-- Every object of the extension, and how each function runs.
SELECT pg_describe_object(classid, objid, objsubid) AS object
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND classid <> 'pg_type'::regclass   -- 17+ also lists the views' row types
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'migration_guard')
 ORDER BY pg_describe_object(classid, objid, objsubid) COLLATE "C";
SELECT p.oid::regprocedure AS function, p.proisstrict AS strict,
       p.prosecdef AS security_definer, p.proconfig
  FROM pg_proc p
 WHERE p.pronamespace = 'migration_guard'::regnamespace
 ORDER BY p.oid::regprocedure::text COLLATE "C";
-- The schema is a superuser's; other roles may only use it.
SELECT r.rolsuper AS owner_is_superuser
  FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner
 WHERE n.nspname = 'migration_guard';
SELECT a.grantee = 0 AS to_public, a.privilege_type
  FROM pg_namespace n, aclexplode(n.nspacl) a
 WHERE n.nspname = 'migration_guard' AND a.grantee <> n.nspowner;

-- The attacker: a role that may create schemas in this database.
CREATE ROLE mg_mallory;
DO $$
BEGIN
    EXECUTE format('GRANT CREATE ON DATABASE %I TO mg_mallory', current_database());
END
$$;
CREATE SCHEMA extension_objects;
CREATE TABLE extension_objects.t (id int);
GRANT USAGE ON SCHEMA extension_objects TO mg_mallory;

-- It can neither add to the extension's schema nor change or drop it.
\set VERBOSITY terse
SET ROLE mg_mallory;
CREATE FUNCTION migration_guard.blockers(text) RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE OR REPLACE FUNCTION migration_guard.preloaded() RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR migration_guard.= (LEFTARG = oid, RIGHTARG = regclass, FUNCTION = pg_catalog.oideq);
CREATE TABLE migration_guard.pg_locks (pid int);
CREATE VIEW migration_guard.evil AS SELECT 1 AS one;
ALTER FUNCTION migration_guard.estimate(regclass, boolean) SET search_path = public;
DROP FUNCTION migration_guard.preloaded();
DROP VIEW migration_guard.guarded_tables;
DROP SCHEMA migration_guard CASCADE;
ALTER SCHEMA migration_guard RENAME TO mg_old;
ALTER SCHEMA migration_guard OWNER TO mg_mallory;
GRANT CREATE ON SCHEMA migration_guard TO mg_mallory;
DROP EXTENSION migration_guard;
RESET ROLE;
\set VERBOSITY default

-- Its own schema first in search_path, with look-alikes of everything the
-- extension calls: pg_catalog functions, the extension's own functions,
-- operators that match the argument types better than pg_catalog's, and
-- tables named like the catalogs.  None of them may run in a superuser's
-- call of the extension.
SET ROLE mg_mallory;
CREATE SCHEMA mallory;
CREATE FUNCTION mallory.trap() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'mallory''s code runs, as a superuser: %',
        (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user);
    RETURN true;
END
$$;
CREATE FUNCTION mallory.now() RETURNS timestamptz LANGUAGE sql
    AS 'SELECT pg_catalog.now() WHERE mallory.trap()';
CREATE FUNCTION mallory.pg_backend_pid() RETURNS int LANGUAGE sql
    AS 'SELECT pg_catalog.pg_backend_pid() WHERE mallory.trap()';
CREATE FUNCTION mallory.current_database() RETURNS name LANGUAGE sql
    AS 'SELECT pg_catalog.current_database() WHERE mallory.trap()';
CREATE FUNCTION mallory.lock_modes_conflict(text, text) RETURNS boolean LANGUAGE sql
    AS 'SELECT mallory.trap()';
CREATE FUNCTION mallory.estimate(oid, boolean) RETURNS record LANGUAGE sql
    AS 'SELECT (0::float8, 0::int8, 0, mallory.trap())';
CREATE FUNCTION mallory.oid_eq_regclass(oid, regclass) RETURNS boolean LANGUAGE sql
    AS 'SELECT mallory.trap() AND $1 OPERATOR(pg_catalog.=) $2::oid';
CREATE OPERATOR mallory.= (LEFTARG = oid, RIGHTARG = regclass,
                           FUNCTION = mallory.oid_eq_regclass);
CREATE FUNCTION mallory.text_eq(text, text) RETURNS boolean LANGUAGE sql
    AS 'SELECT mallory.trap() AND $1 OPERATOR(pg_catalog.=) $2';
CREATE OPERATOR mallory.= (LEFTARG = text, RIGHTARG = text, FUNCTION = mallory.text_eq);
CREATE FUNCTION mallory.ts_minus(timestamptz, timestamptz) RETURNS interval LANGUAGE sql
    AS 'SELECT $1 OPERATOR(pg_catalog.-) $2 WHERE mallory.trap()';
CREATE OPERATOR mallory.- (LEFTARG = timestamptz, RIGHTARG = timestamptz,
                           FUNCTION = mallory.ts_minus);
CREATE VIEW mallory.pg_locks AS SELECT * FROM pg_catalog.pg_locks WHERE mallory.trap();
CREATE VIEW mallory.pg_stat_activity AS
    SELECT * FROM pg_catalog.pg_stat_activity WHERE mallory.trap();
CREATE VIEW mallory.pg_class AS SELECT * FROM pg_catalog.pg_class WHERE mallory.trap();
RESET ROLE;

-- The database owner can make that everyone's search_path (ALTER DATABASE
-- ... SET search_path); a session's SET has the same effect.
SET search_path = mallory, pg_catalog, public;
SELECT now() IS NOT NULL AS trap_works;
SELECT count(*) FROM migration_guard.blockers('extension_objects.t');
SELECT count(*) FROM migration_guard.blockers('extension_objects.t', 'ShareLock');
-- A prepared transaction holds a lock: the whole query runs.
BEGIN;
LOCK TABLE extension_objects.t IN ROW EXCLUSIVE MODE;
PREPARE TRANSACTION 'mg_extension_objects';
SELECT pid, mode, granted, state_duration IS NULL AS no_session
  FROM migration_guard.blockers('extension_objects.t');
SELECT pid, mode FROM migration_guard.blockers('extension_objects.t', 'ACCESS SHARE');
COMMIT PREPARED 'mg_extension_objects';
SELECT rows, bytes, relations, big FROM migration_guard.estimate('extension_objects.t');
SELECT migration_guard.lock_modes_conflict('ShareLock', 'RowExclusiveLock');
SELECT count(*) >= 0 AS ok FROM migration_guard.guarded_tables;
SELECT count(*) >= 0 AS ok FROM migration_guard.audit;
SELECT count(*) >= 0 AS ok FROM migration_guard.audit_overrides;
SELECT entries >= 0 AS ok FROM migration_guard.audit_status();
SELECT migration_guard.preloaded();
RESET search_path;

-- A schema named migration_guard that existed before CREATE EXTENSION is
-- refused unless only superusers control it and it holds nothing else.
CREATE DATABASE mg_hijack OWNER mg_mallory;
\c mg_hijack
-- The database owner prepares the schema, with an overload in it.
SET ROLE mg_mallory;
CREATE SCHEMA migration_guard;
CREATE FUNCTION migration_guard.blockers(relation text) RETURNS int LANGUAGE sql AS 'SELECT 1';
RESET ROLE;
CREATE EXTENSION migration_guard;
-- Also without the overload.
DROP FUNCTION migration_guard.blockers(text);
CREATE EXTENSION migration_guard;
-- A superuser's schema in which another role may create objects.
DROP SCHEMA migration_guard;
CREATE SCHEMA migration_guard;
GRANT CREATE ON SCHEMA migration_guard TO mg_mallory;
CREATE EXTENSION migration_guard;
REVOKE CREATE ON SCHEMA migration_guard FROM mg_mallory;
GRANT CREATE ON SCHEMA migration_guard TO PUBLIC;
CREATE EXTENSION migration_guard;
REVOKE CREATE ON SCHEMA migration_guard FROM PUBLIC;
-- ... or that holds objects of its own (a table, a function).
CREATE TABLE migration_guard.notes (note text);
CREATE FUNCTION migration_guard.blockers(relation text) RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE EXTENSION migration_guard;
DROP TABLE migration_guard.notes;
DROP FUNCTION migration_guard.blockers(text);
-- An empty schema of a superuser is fine.
CREATE EXTENSION migration_guard;
SELECT extversion FROM pg_extension WHERE extname = 'migration_guard';
-- and now even the database owner cannot change it.
\set VERBOSITY terse
SET ROLE mg_mallory;
CREATE FUNCTION migration_guard.blockers(text) RETURNS int LANGUAGE sql AS 'SELECT 1';
DROP SCHEMA migration_guard CASCADE;
DROP EXTENSION migration_guard;
RESET ROLE;
\set VERBOSITY default

\c :regdb
DROP DATABASE mg_hijack;
DROP SCHEMA extension_objects CASCADE;
DROP OWNED BY mg_mallory CASCADE;
DROP ROLE mg_mallory;
