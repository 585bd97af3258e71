/* migration_guard--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION migration_guard UPDATE TO '1.1'" to load this file. \quit

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
