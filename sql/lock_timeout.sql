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
-- Up to the no_queue section below: PostgreSQL's own wait in the lock queue,
-- under the guard's lock_timeout.
SHOW migration_guard.lock_wait;
SET migration_guard.lock_wait = queue;

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
-- migration_guard.lock_wait = no_queue (the default): the statement's locks
-- are taken with conditional attempts before it runs, never in the queue.
-- A prepared transaction in the way fails it at once, with the reason
-- before the report.  The message is PostgreSQL's for a lock not obtained.
RESET migration_guard.lock_wait;
SET migration_guard.lock_timeout = '1h';
ALTER TABLE t ADD COLUMN c int;
-- In a transaction block and a subtransaction, a DO block, a PL/pgSQL
-- exception block; NOWAIT is PostgreSQL's own single attempt.
\set VERBOSITY terse
BEGIN;
SAVEPOINT s;
TRUNCATE t;
ROLLBACK TO s;
LOCK TABLE t IN ACCESS EXCLUSIVE MODE;
ROLLBACK TO s;
LOCK TABLE t IN ACCESS EXCLUSIVE MODE NOWAIT;
ROLLBACK;
DO $$ BEGIN ALTER TABLE lock_timeout.t ADD COLUMN c int; END $$;
DO $$
BEGIN
	ALTER TABLE lock_timeout.t ADD COLUMN c int;
EXCEPTION WHEN lock_not_available THEN
	RAISE NOTICE 'caught %', SQLSTATE;
END $$;
-- CREATE INDEX takes SHARE, which ACCESS SHARE does not conflict with;
-- DROP INDEX takes ACCESS EXCLUSIVE on the table first, as PostgreSQL does.
CREATE INDEX t_id ON t (id);
DROP INDEX t_id;
-- Outside a transaction block LOCK TABLE is PostgreSQL's error, not ours.
LOCK TABLE t IN ACCESS EXCLUSIVE MODE;
-- A relation created in this transaction: held already, no attempt.
BEGIN;
CREATE TABLE fresh (id int);
ALTER TABLE fresh ADD COLUMN c int;
ROLLBACK;
-- A role that may not alter the table takes no lock ahead: PostgreSQL's
-- permission error, not a lock failure.
CREATE ROLE lt_other;
GRANT USAGE ON SCHEMA lock_timeout TO lt_other;
SET ROLE lt_other;
ALTER TABLE t ADD COLUMN c int;
RESET ROLE;
REVOKE USAGE ON SCHEMA lock_timeout FROM lt_other;
DROP ROLE lt_other;
-- With no lock timeout at all, nothing bounds the attempts: PostgreSQL's own
-- wait applies (here ended by statement_timeout).
SET migration_guard.lock_timeout = 0;
SET statement_timeout = '50ms';
ALTER TABLE t ADD COLUMN c int;
RESET statement_timeout;
-- idle_blocker_timeout: 10s by default, 0 disables it.
SHOW migration_guard.idle_blocker_timeout;
SET migration_guard.idle_blocker_timeout = 0;
SET migration_guard.idle_blocker_timeout = 'soon';   -- the range message differs by major
SET migration_guard.lock_wait = sometimes;
\set VERBOSITY default
RESET migration_guard.idle_blocker_timeout;
SET migration_guard.lock_timeout = '100ms';
-- Restored after success too.
COMMIT PREPARED 'reader';
ALTER TABLE t ADD COLUMN c int;
SHOW lock_timeout;
-- Only superusers (or roles granted SET) can change it.
CREATE ROLE lt_user;
SET ROLE lt_user;
SET migration_guard.lock_timeout = 0;
SET migration_guard.lock_wait = queue;
SET migration_guard.idle_blocker_timeout = 0;
RESET ROLE;
DROP ROLE lt_user;
