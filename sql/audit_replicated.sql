--
-- The audit table that replication carries to standbys: its setting, its
-- shape and privileges, and the view that shows the table's rows and this
-- server's file entries, each entry once, with the visibility rule of the
-- files.  The copy itself and failover are tested by t/010_audit_failover.pl;
-- here rows are put into the table by hand, as the copy would.
--
CREATE SCHEMA audit_replicated;
SET search_path = audit_replicated, public;
\set VERBOSITY terse

-- The database of the table is fixed at server start.
SHOW migration_guard.audit_database;
SET migration_guard.audit_database = 'other';
SELECT context FROM pg_settings WHERE name = 'migration_guard.audit_database';

-- Its shape: the view's columns, the origin, and the session user's OID.
SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull
  FROM pg_attribute a
 WHERE a.attrelid = 'migration_guard.audit_log'::regclass AND a.attnum > 0
 ORDER BY a.attnum;
SELECT pg_get_indexdef(i.indexrelid) AS index
  FROM pg_index i WHERE i.indrelid = 'migration_guard.audit_log'::regclass
 ORDER BY pg_get_indexdef(i.indexrelid) COLLATE "C";
-- The view keeps 1.0's columns in their order and adds the origin.
SELECT a.attnum, a.attname FROM pg_attribute a
 WHERE a.attrelid = 'migration_guard.audit'::regclass AND a.attnum > 20
 ORDER BY a.attnum;

-- This server's origin; no copy here: the table is in another database,
-- where the extension is not created (the worker says so once it runs).
DO $$
BEGIN
    FOR i IN 1 .. 100 LOOP
        EXIT WHEN (SELECT copy_error IS NOT NULL FROM migration_guard.audit_status());
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT origin > 0 AS has_origin, last_copy, copy_error FROM migration_guard.audit_status();

-- Roles: the one that ran the statements, one that may read the view, and
-- a DBA.  Nobody but superusers reads the table itself.
CREATE ROLE mg_repl_author;
CREATE ROLE mg_repl_reader;
CREATE ROLE mg_repl_dba IN ROLE pg_read_all_stats;
GRANT SELECT ON migration_guard.audit TO mg_repl_author, mg_repl_reader;
GRANT EXECUTE ON FUNCTION migration_guard.audit_entries() TO mg_repl_author, mg_repl_reader;
SELECT r.rolname, has_table_privilege(r.rolname, 'migration_guard.audit_log', 'SELECT') AS can_select,
       has_table_privilege(r.rolname, 'migration_guard.audit_log', 'INSERT') AS can_insert
  FROM pg_roles r
 WHERE r.rolname IN ('mg_repl_author', 'mg_repl_reader', 'mg_repl_dba')
 ORDER BY 1;
SET ROLE mg_repl_dba;
SELECT count(*) FROM migration_guard.audit_log;
RESET ROLE;
-- Executing audit_file_entries() takes what audit_entries() takes.
CREATE ROLE mg_repl_nobody;
SET ROLE mg_repl_nobody;
SELECT count(*) FROM migration_guard.audit_file_entries();
RESET ROLE;
DROP ROLE mg_repl_nobody;

-- Entries of another server (origin 7): a decision, a lock wait and one
-- whose role name no longer matches its OID (as after pg_upgrade).
INSERT INTO migration_guard.audit_log (origin, seq, ts, database, session_user_name,
    current_user_name, command, statement, rule, action, reason, override_reason,
    relation, est_rows, bytes, lock_mode, row_threshold, size_threshold, mode,
    outcome, session_user_oid)
SELECT 7, v.seq, '2026-01-01 00:00:00+00', 'db', v.rolname, v.rolname, 'ALTER TABLE',
       v.stmt, v.rule, v.action, v.reason, v.override, 'public.t', 1e6, 1e8,
       'ACCESS EXCLUSIVE', 100000, 16777216, 'warn', v.outcome, v.roloid
  FROM (VALUES
        (1000001, 'mg_repl_author', 'mg_repl_author'::regrole::oid, 'ALTER TABLE t ADD c int DEFAULT random()',
         'table_rewrite', 'warned', NULL, 'INC-1', 'completed'),
        (1000002, 'mg_repl_author', 'mg_repl_author'::regrole::oid, 'ALTER TABLE t ADD d int',
         'lock_wait', 'lock_timeout', 'pid 42: SELECT secret()', NULL, 'failed'),
        (1000003, 'mg_repl_author', 'mg_repl_reader'::regrole::oid, 'ALTER TABLE t ADD e int',
         'table_rewrite', 'rejected', NULL, NULL, 'rejected'))
       AS v(seq, rolname, roloid, stmt, rule, action, reason, override, outcome);

-- The author sees its texts; the reader sees the entries without them; a
-- mismatched OID and name shows no texts, not even to that OID's role.
SET ROLE mg_repl_author;
SELECT seq, origin, action, statement, reason, override_reason, outcome
  FROM migration_guard.audit WHERE origin = 7 ORDER BY seq;
SET ROLE mg_repl_reader;
SELECT seq, origin, action, statement, reason, override_reason, outcome
  FROM migration_guard.audit WHERE origin = 7 ORDER BY seq;
SET ROLE mg_repl_dba;
SELECT seq, origin, action, statement, reason, override_reason, outcome
  FROM migration_guard.audit WHERE origin = 7 ORDER BY seq;
RESET ROLE;

-- A file entry that is also in the table is shown once.  A warned
-- statement that completes: the file has its outcome.
SELECT mg_big('t');
SET migration_guard.mode = warn;
CREATE INDEX t_id ON t (id);
RESET migration_guard.mode;
SELECT max(seq) AS file_seq, min(origin) = max(origin) AS one_origin
  FROM migration_guard.audit_file_entries() \gset
SELECT outcome FROM migration_guard.audit_file_entries() WHERE seq = :file_seq;
-- As the copy would write it, before it has read the outcome line.
INSERT INTO migration_guard.audit_log
SELECT seq, ts, database, session_user_name, current_user_name, application_name,
       client_addr, pid, command, statement, rule, action, reason, override_reason,
       'copied ' || relation, est_rows, bytes, lock_mode, row_threshold, size_threshold,
       mode, 'not completed', origin, session_user_name::regrole::oid
  FROM migration_guard.audit_file_entries() WHERE seq = :file_seq;
SELECT count(*), min(relation) AS relation, min(outcome) AS outcome
  FROM migration_guard.audit
 WHERE seq = :file_seq AND origin = (SELECT origin FROM migration_guard.audit_status());
-- Same number, other origin: another entry.
UPDATE migration_guard.audit_log SET origin = 8
 WHERE seq = :file_seq AND origin <> 7;
SELECT count(*) FROM migration_guard.audit WHERE seq = :file_seq;
-- The reports read the view, so they count the table's rows too.
SELECT rejected, warned FROM migration_guard.audit_top_tables WHERE relation = 'public.t';

-- Only superusers write the table; the view cannot be written.
SET ROLE mg_repl_dba;
DELETE FROM migration_guard.audit_log;
RESET ROLE;
DELETE FROM migration_guard.audit WHERE origin = 7;

DELETE FROM migration_guard.audit_log;
DROP TABLE t;
REVOKE ALL ON migration_guard.audit FROM mg_repl_author, mg_repl_reader;
REVOKE ALL ON FUNCTION migration_guard.audit_entries() FROM mg_repl_author, mg_repl_reader;
DROP ROLE mg_repl_author, mg_repl_reader, mg_repl_dba;
DROP SCHEMA audit_replicated;
