--
-- Strict input: every SQL function answers NULL, empty, huge and malformed
-- arguments with a clear error, and quotes at most 64 bytes of a bad value.
--
CREATE SCHEMA strict_input;
SET search_path = strict_input, public;
CREATE TABLE t (id int);
\set SHOW_CONTEXT never

-- NULL is an error, not an empty answer.
SELECT * FROM migration_guard.estimate(NULL);
SELECT * FROM migration_guard.estimate('t', NULL);
SELECT migration_guard.lock_modes_conflict(NULL, 'ShareLock');
SELECT migration_guard.lock_modes_conflict('ShareLock', NULL);
SELECT * FROM migration_guard.blockers(NULL);
SELECT * FROM migration_guard.blockers('t', NULL);
SELECT * FROM migration_guard.blockers(NULL, NULL);

-- A relation that does not exist (regclass '-' is OID 0).
SELECT * FROM migration_guard.estimate('-');
SELECT * FROM migration_guard.blockers('-');
SELECT * FROM migration_guard.estimate('no_such_table');
-- A relation without storage is measured as nothing.
CREATE VIEW v AS SELECT 1 AS one;
SELECT * FROM migration_guard.estimate('v');

-- Lock modes: as pg_locks spells them or as LOCK TABLE does, in any case.
SELECT m AS mode, migration_guard.lock_modes_conflict(m, 'RowExclusiveLock') AS conflicts
  FROM (VALUES ('AccessExclusiveLock'), ('accessexclusivelock'), ('ACCESS EXCLUSIVE'),
               (E'access\n\t exclusive'), ('Share'), ('ShareUpdateExclusiveLock'),
               ('share update exclusive'), ('AccessShareLock'), ('ROW SHARE')) v(m);
-- Nothing else.
SELECT migration_guard.lock_modes_conflict('', 'ShareLock');
SELECT migration_guard.lock_modes_conflict(' ', 'ShareLock');
SELECT migration_guard.lock_modes_conflict(' share', 'ShareLock');
SELECT migration_guard.lock_modes_conflict('share ', 'ShareLock');
SELECT migration_guard.lock_modes_conflict('ACCESS_EXCLUSIVE', 'ShareLock');
SELECT migration_guard.lock_modes_conflict('ACCESS EXCLUSIVE LOCK', 'ShareLock');
SELECT migration_guard.lock_modes_conflict('AccessExclusive', 'ShareLock');
SELECT migration_guard.lock_modes_conflict('accessexclusive lock', 'ShareLock');
SELECT migration_guard.lock_modes_conflict('Share Lock', 'ShareLock');
SELECT migration_guard.lock_modes_conflict('s h a r e', 'ShareLock');
SELECT migration_guard.lock_modes_conflict('lock', 'ShareLock');
SELECT migration_guard.lock_modes_conflict('ShareLockLock', 'ShareLock');
SELECT migration_guard.lock_modes_conflict('NoLock', 'ShareLock');
SELECT migration_guard.lock_modes_conflict('ShareLock', 'exclusive mode');
SELECT * FROM migration_guard.blockers('t', 'ACCESS EXCLUSIVE LOCK');
-- A huge value is cut in the message, at a character boundary.
SELECT migration_guard.lock_modes_conflict(repeat('x', 1000000), 'ShareLock');
SELECT migration_guard.lock_modes_conflict(repeat('é', 100), 'ShareLock');
SELECT * FROM migration_guard.blockers('t', repeat('Share', 100000));

-- The same functions keep working on good input.
SELECT relations, big FROM migration_guard.estimate('t', false);
SELECT count(*) FROM migration_guard.blockers('t', 'share');

DROP SCHEMA strict_input CASCADE;
