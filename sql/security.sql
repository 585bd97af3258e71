--
-- A role without the right cannot relax the guard, by any route.
--
CREATE SCHEMA security;
SET search_path = security, public;
SELECT mg_big('t');
CREATE ROLE migrator LOGIN;
GRANT USAGE, CREATE ON SCHEMA security TO migrator;
ALTER TABLE t OWNER TO migrator;
CREATE ROLE delegate LOGIN;
\set VERBOSITY terse

SET ROLE migrator;
SET migration_guard.mode = off;
BEGIN;
SET LOCAL migration_guard.mode = off;
ROLLBACK;
SELECT set_config('migration_guard.mode', 'off', false);
SET migration_guard.table_rewrite_action = off;
SET migration_guard.row_threshold = 100000000;
SET migration_guard.size_threshold = 0;
ALTER ROLE migrator SET migration_guard.mode = off;
ALTER DATABASE contrib_regression SET migration_guard.mode = off;
RESET migration_guard.mode;               -- even RESET needs the right
SHOW migration_guard.mode;
DO $$ BEGIN PERFORM set_config('migration_guard.mode', 'off', true); END $$;
CREATE FUNCTION sneaky() RETURNS void LANGUAGE plpgsql
SET migration_guard.mode = 'off'
AS $$ BEGIN ALTER TABLE t ADD COLUMN r float8 DEFAULT random(); END $$;
CREATE FUNCTION sneaky_definer() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
AS $$ BEGIN PERFORM set_config('migration_guard.mode', 'off', true);
              ALTER TABLE t ADD COLUMN r float8 DEFAULT random(); END $$;
SELECT sneaky_definer();
-- Typos in the reserved prefix are errors, not silent placeholders.
SET migration_guard.mdoe = off;
-- The owner of the table is still guarded.
ALTER TABLE t ADD COLUMN r float8 DEFAULT random();
CREATE INDEX ON t (v);
RESET ROLE;

-- A superuser can delegate the right to relax it.
GRANT SET ON PARAMETER migration_guard.mode TO delegate;
SET ROLE delegate;
SET migration_guard.mode = warn;
SET migration_guard.table_rewrite_action = warn;
SHOW migration_guard.mode;
RESET ROLE;
RESET migration_guard.mode;
REVOKE SET ON PARAMETER migration_guard.mode FROM delegate;

-- Superusers are guarded too; relaxing is an explicit decision.
SHOW is_superuser;
ALTER TABLE t ADD COLUMN r float8 DEFAULT random();
SET migration_guard.mode = warn;
ALTER TABLE t ADD COLUMN r float8 DEFAULT random();
RESET migration_guard.mode;

-- Per-role policy set by a superuser applies at login.
ALTER ROLE delegate SET migration_guard.validation_scan_action = warn;
SELECT rolname, setconfig FROM pg_db_role_setting JOIN pg_roles ON setrole = pg_roles.oid
 WHERE rolname = 'delegate';
ALTER ROLE delegate RESET ALL;

DROP FUNCTION sneaky_definer();
ALTER TABLE t OWNER TO CURRENT_USER;
DROP OWNED BY migrator, delegate;
DROP ROLE migrator;
DROP ROLE delegate;
