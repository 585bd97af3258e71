--
-- The replica gate (rule replica_lag): its settings, and a replication slot
-- budget on a server without standbys (t/011_replica_gate.pl has a real
-- standby).
--
CREATE SCHEMA replica;
SET search_path = replica, public;
SELECT mg_big('t');
\set VERBOSITY terse

-- Invalid values get clear errors.
-- (the range's wording differs between majors: only the SQLSTATE)
\set VERBOSITY sqlstate
SET migration_guard.max_replica_lag = -1;
\set VERBOSITY terse
SET migration_guard.max_replica_lag = 'lots';
SET migration_guard.max_replica_lag = '1 parsec';
SET migration_guard.max_replica_lag = '3TB';
-- (the range's wording differs between majors: only the SQLSTATE)
\set VERBOSITY sqlstate
SET migration_guard.max_slot_retained_wal = -1;
\set VERBOSITY terse
SET migration_guard.max_slot_retained_wal = '10 minutes';
SET migration_guard.replica_lag_action = 'maybe';

-- Units
SET migration_guard.max_replica_lag = '64MB';
SHOW migration_guard.max_replica_lag;
SET migration_guard.max_slot_retained_wal = '1GB';
SHOW migration_guard.max_slot_retained_wal;
SET migration_guard.max_slot_retained_wal = 4096;
SHOW migration_guard.max_slot_retained_wal;
RESET ALL;

-- Policy settings: a migration role cannot relax them.
CREATE ROLE replica_migrator;
SET ROLE replica_migrator;
SET migration_guard.max_replica_lag = 0;
SET migration_guard.max_slot_retained_wal = 0;
SET migration_guard.replica_lag_action = off;
RESET ROLE;
DROP ROLE replica_migrator;

-- replica_try(stmt): run a statement in a subtransaction that is rolled
-- back; report a rejection with its sizes (which vary) masked.
CREATE FUNCTION replica_try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE stmt;
        RAISE EXCEPTION USING ERRCODE = 'P0099', MESSAGE = 'undo';
    EXCEPTION
        WHEN SQLSTATE 'P0099' THEN
            RETURN 'ran';
        WHEN SQLSTATE 'MG001' THEN
            RETURN regexp_replace(SQLERRM, '\d+ (bytes|kB|MB)', 'N', 'g');
    END;
END
$$;

-- No standby: the lag limit holds nothing back.
SET client_min_messages = error;
SET migration_guard.table_rewrite_action = warn;
SET migration_guard.max_replica_lag = '1kB';
SELECT replica_try('ALTER TABLE replica.t ALTER COLUMN id TYPE bigint');
RESET migration_guard.max_replica_lag;

-- A slot that retains WAL from now on, and a budget the rewrite's estimate
-- does not fit in.
SELECT 1 FROM pg_create_physical_replication_slot('replica_held', true);
SET migration_guard.max_slot_retained_wal = '64kB';
SELECT replica_try('ALTER TABLE replica.t ALTER COLUMN id TYPE bigint');
-- A rejection by the rule itself comes first; the gate is not consulted.
RESET migration_guard.table_rewrite_action;
SELECT replica_try('ALTER TABLE replica.t ALTER COLUMN id TYPE bigint');
-- Work that writes almost no WAL is not gated.
SET migration_guard.validation_scan_action = warn;
SELECT replica_try('ALTER TABLE replica.t ADD CHECK (id > 0)');
-- The rule's own action, and the mode, weaken the gate.
SET migration_guard.table_rewrite_action = warn;
SET migration_guard.replica_lag_action = warn;
SELECT replica_try('ALTER TABLE replica.t ALTER COLUMN id TYPE bigint');
SET migration_guard.replica_lag_action = off;
SELECT replica_try('ALTER TABLE replica.t ALTER COLUMN id TYPE bigint');
RESET migration_guard.replica_lag_action;
SET migration_guard.mode = warn;
SELECT replica_try('ALTER TABLE replica.t ALTER COLUMN id TYPE bigint');
RESET migration_guard.mode;
-- DML that rule held_lock_work lets run is gated by its own estimate.
SET migration_guard.held_lock_work_action = warn;
BEGIN;
ALTER TABLE replica.t ADD COLUMN c int;
SELECT replica_try('UPDATE replica.t SET c = 1');
ROLLBACK;
RESET migration_guard.held_lock_work_action;
-- A budget the estimate fits in.
SET migration_guard.max_slot_retained_wal = '1GB';
SELECT replica_try('ALTER TABLE replica.t ALTER COLUMN id TYPE bigint');
-- Without the slot, nothing is retained.
SET migration_guard.max_slot_retained_wal = '64kB';
SELECT pg_drop_replication_slot('replica_held');
SELECT replica_try('ALTER TABLE replica.t ALTER COLUMN id TYPE bigint');
RESET ALL;

-- Every gate decision is audited, with what was in the way.
SELECT command, relation, action,
       regexp_replace(reason, '\d+ (bytes|kB|MB)', 'N', 'g') AS reason
  FROM migration_guard.audit WHERE rule = 'replica_lag' ORDER BY seq;

DROP FUNCTION replica_try(text);
DROP SCHEMA replica CASCADE;
