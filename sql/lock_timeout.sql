--
-- migration_guard.lock_timeout and blocker diagnostics.  A prepared
-- transaction holds the lock: it stays in the way without another session.
--
-- (19 adds a CONTEXT line with OIDs to lock waits: not shown.)
\set SHOW_CONTEXT never
CREATE SCHEMA lock_timeout;
SET search_path = lock_timeout, public;
CREATE TABLE t (id int);
SHOW migration_guard.lock_timeout;
SET migration_guard.lock_timeout = '100ms';

-- Nobody in the way yet.
SELECT * FROM migration_guard.blockers('t');
BEGIN;
LOCK TABLE t IN ACCESS SHARE MODE;
PREPARE TRANSACTION 'reader';

SELECT pid, mode, granted FROM migration_guard.blockers('t');
SELECT pid, mode, granted FROM migration_guard.blockers('t', 'ShareLock');   -- no conflict
SELECT pid, mode, granted FROM migration_guard.blockers('t', 'ACCESS EXCLUSIVE');
SELECT * FROM migration_guard.blockers('t', 'BigLock');
SELECT * FROM migration_guard.blockers('no_such_table');
SELECT migration_guard.lock_modes_conflict('RowExclusiveLock', 'ShareLock'),
       migration_guard.lock_modes_conflict('AccessShareLock', 'ShareLock'),
       migration_guard.lock_modes_conflict('share update exclusive', 'ShareUpdateExclusiveLock');

-- The session's lock_timeout is 0: the guard's 100ms applies and the error
-- names what was in the way.
SHOW lock_timeout;
ALTER TABLE t ADD COLUMN c int;
SHOW lock_timeout;                -- restored after the error
-- Inside a transaction and a subtransaction, restored as well.
BEGIN;
SAVEPOINT s;
DROP TABLE t;
ROLLBACK TO s;
SHOW lock_timeout;
COMMIT;
-- Statements that do not block writes are not affected.
SELECT * FROM migration_guard.blockers('t', 'ShareUpdateExclusiveLock');
VACUUM t;
ALTER TABLE t SET (fillfactor = 90);
-- Session stricter than the guard: the session's value applies.
SET lock_timeout = '10ms';
SET migration_guard.lock_timeout = '1h';
TRUNCATE t;
SHOW lock_timeout;
RESET lock_timeout;
-- 0 disables it (the test would hang without the session's own timeout);
-- the blockers are still named.
\set VERBOSITY default
SET migration_guard.lock_timeout = 0;
SET lock_timeout = '20ms';
BEGIN;
LOCK TABLE t IN ACCESS EXCLUSIVE MODE;
ROLLBACK;
-- NOWAIT too.
BEGIN;
LOCK TABLE t IN ACCESS EXCLUSIVE MODE NOWAIT;
ROLLBACK;
RESET lock_timeout;
SET migration_guard.lock_timeout = '100ms';
-- Each failed lock wait is in the audit trail, with who was in the way.
SELECT action, rule, command, statement, relation, lock_mode, outcome,
       reason LIKE '%a prepared transaction holds AccessShareLock%' AS names_blocker
  FROM migration_guard.audit WHERE rule = 'lock_wait' ORDER BY seq DESC LIMIT 2;
-- The report is added where the error is caught, once: a DO block running
-- the statement shows it once, and so does an ALTER TABLE whose event
-- trigger's LOCK TABLE timed out (both statements have lock targets).
SELECT count(*) AS lock_waits FROM migration_guard.audit WHERE rule = 'lock_wait' \gset
DO $$ BEGIN ALTER TABLE t ADD COLUMN c int; END $$;
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION lock_first() RETURNS event_trigger LANGUAGE plpgsql AS
$$ BEGIN LOCK TABLE lock_timeout.t IN ACCESS EXCLUSIVE MODE; END $$;
CREATE EVENT TRIGGER lock_first ON ddl_command_start WHEN TAG IN ('ALTER TABLE')
  EXECUTE FUNCTION lock_first();
ALTER TABLE t ADD COLUMN c int;
DROP EVENT TRIGGER lock_first;
-- One entry each, the second from the LOCK TABLE that waited.
SELECT command, statement, relation FROM migration_guard.audit
 WHERE rule = 'lock_wait' ORDER BY seq OFFSET :lock_waits;
-- An error of the statement keeps its own DETAIL (the report follows it)
-- and HINT; a WARNING with SQLSTATE 55P03 is not a failed lock wait and is
-- left alone.
CREATE FUNCTION raise_lock_error() RETURNS event_trigger LANGUAGE plpgsql AS
$$ BEGIN
	RAISE WARNING 'a warning with SQLSTATE 55P03' USING ERRCODE = 'lock_not_available';
	RAISE EXCEPTION 'custom lock error' USING ERRCODE = 'lock_not_available',
		DETAIL = 'Custom detail.', HINT = 'Custom hint.';
END $$;
CREATE EVENT TRIGGER raise_lock_error ON ddl_command_start WHEN TAG IN ('ALTER TABLE')
  EXECUTE FUNCTION raise_lock_error();
ALTER TABLE t ADD COLUMN c int;
\echo :LAST_ERROR_SQLSTATE
DROP EVENT TRIGGER raise_lock_error;
DROP FUNCTION lock_first(), raise_lock_error();
-- A statement timeout is not a lock failure: PostgreSQL's error as it is,
-- no report, no audit entry.  Nor is a query cancel (the same path).
SELECT count(*) AS lock_waits FROM migration_guard.audit WHERE rule = 'lock_wait' \gset
SET migration_guard.lock_timeout = 0;
SET statement_timeout = '50ms';
ALTER TABLE t ADD COLUMN c int;
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
SET migration_guard.lock_timeout = '100ms';
SELECT count(*) - :lock_waits AS new_entries FROM migration_guard.audit WHERE rule = 'lock_wait';
-- The guard's timeout, the session's and NOWAIT all keep SQLSTATE 55P03.
\set VERBOSITY sqlstate
ALTER TABLE t ADD COLUMN c int;
SET lock_timeout = '10ms';
SET migration_guard.lock_timeout = '1h';
ALTER TABLE t ADD COLUMN c int;
RESET lock_timeout;
SET migration_guard.lock_timeout = '100ms';
BEGIN;
LOCK TABLE t IN ACCESS EXCLUSIVE MODE NOWAIT;
ROLLBACK;
\set VERBOSITY default
-- Restored after success too.
COMMIT PREPARED 'reader';
ALTER TABLE t ADD COLUMN c int;
SHOW lock_timeout;
-- Only superusers (or roles granted SET) can change it.
CREATE ROLE lt_user;
SET ROLE lt_user;
SET migration_guard.lock_timeout = 0;
RESET ROLE;
DROP ROLE lt_user;
