--
-- The upgrade path: install each released version, check its objects,
-- update to the current one, and check again (as contrib/pg_stat_statements
-- does).  A database of its own, so that the others keep their extension.
--
\set SHOW_CONTEXT never
SELECT current_database() AS regdb \gset
CREATE DATABASE mg_oldext;
\c mg_oldext

CREATE EXTENSION migration_guard VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'migration_guard';
SELECT pg_describe_object(classid, objid, objsubid) AS object
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND classid <> 'pg_type'::regclass   -- 17+ also lists the views' row types
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'migration_guard')
 ORDER BY pg_describe_object(classid, objid, objsubid) COLLATE "C";
SELECT p.oid::regprocedure AS function, p.proisstrict AS strict, p.proconfig
  FROM pg_proc p
 WHERE p.pronamespace = 'migration_guard'::regnamespace
 ORDER BY p.oid::regprocedure::text COLLATE "C";
-- 1.0 answers NULL with NULL, or with no rows.
SELECT migration_guard.lock_modes_conflict(NULL, 'ShareLock');
SELECT count(*) FROM migration_guard.blockers('pg_class', NULL);

ALTER EXTENSION migration_guard UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'migration_guard';
SELECT pg_describe_object(classid, objid, objsubid) AS object
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND classid <> 'pg_type'::regclass   -- 17+ also lists the views' row types
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'migration_guard')
 ORDER BY pg_describe_object(classid, objid, objsubid) COLLATE "C";
SELECT p.oid::regprocedure AS function, p.proisstrict AS strict, p.proconfig
  FROM pg_proc p
 WHERE p.pronamespace = 'migration_guard'::regnamespace
 ORDER BY p.oid::regprocedure::text COLLATE "C";
SELECT migration_guard.lock_modes_conflict(NULL, 'ShareLock');
SELECT count(*) FROM migration_guard.blockers('pg_class', NULL);
SELECT count(*) >= 0 AS ok FROM migration_guard.guarded_tables;
-- A new installation is the same.
DROP EXTENSION migration_guard;
CREATE EXTENSION migration_guard;
SELECT extversion FROM pg_extension WHERE extname = 'migration_guard';
SELECT p.oid::regprocedure AS function, p.proisstrict AS strict, p.proconfig
  FROM pg_proc p
 WHERE p.pronamespace = 'migration_guard'::regnamespace
 ORDER BY p.oid::regprocedure::text COLLATE "C";
DROP EXTENSION migration_guard;
DROP SCHEMA migration_guard;

-- A 1.0 installation in a schema that another role prepared: 1.0 accepts
-- it, and the role's functions then run in a superuser's calls and views.  Updating
-- such an installation fails, and says what to do.
CREATE ROLE mg_oldext_owner;
ALTER DATABASE mg_oldext OWNER TO mg_oldext_owner;
SET ROLE mg_oldext_owner;
CREATE SCHEMA migration_guard;
CREATE FUNCTION migration_guard.trap() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'the schema owner''s code runs, as a superuser: %',
        (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user);
    RETURN true;
END
$$;
-- Before the installation: a closer match for the call in a view.
CREATE FUNCTION migration_guard.estimate(rel oid, recurse boolean,
    OUT rows float8, OUT bytes int8, OUT relations int4, OUT big boolean)
LANGUAGE sql AS 'SELECT 0::float8, 0::int8, 0, migration_guard.trap()';
RESET ROLE;
CREATE EXTENSION migration_guard VERSION '1.0';
-- After it: an overload that a call with a string literal prefers.
SET ROLE mg_oldext_owner;
CREATE FUNCTION migration_guard.blockers(relation text) RETURNS SETOF int
LANGUAGE sql AS 'SELECT 1 WHERE migration_guard.trap()';
RESET ROLE;
SELECT count(*) FROM migration_guard.blockers('pg_class');
CREATE TABLE one_table (id int);
SELECT count(*) FROM migration_guard.guarded_tables;
ALTER EXTENSION migration_guard UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'migration_guard';

\c :regdb
DROP DATABASE mg_oldext;
DROP ROLE mg_oldext_owner;
