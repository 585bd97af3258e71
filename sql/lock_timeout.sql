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
