/* migration_guard--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION migration_guard UPDATE TO '1.1'" to load this file. \quit

-- CREATE EXTENSION runs migration_guard--1.0.sql and then this script, so
-- everything below also holds for a new installation.

-- The schema must be the extension's alone.  Its functions are called by
-- superusers: a role that owns the schema, or may create objects in it,
-- could add an overload (migration_guard.blockers(text)) or an operator
-- that a superuser's call or one of the views then runs, or drop the
-- schema.  CREATE EXTENSION reuses a schema of that name if one exists, so
-- a role with CREATE on the database can prepare it in advance; refuse
-- such a schema here, at installation and at every update.
--
-- Every name is qualified with pg_catalog: while this script runs, the
-- schema is on the search_path and may hold another role's objects.
DO $$
DECLARE
    nsp pg_catalog.oid;
    ext pg_catalog.oid;
    owner_name pg_catalog.name;
    owner_super boolean;
    creator pg_catalog.name;
    n_foreign pg_catalog.int8;
    first_foreign pg_catalog.text;
    why pg_catalog.text;
BEGIN
    SELECT n.oid, r.rolname, r.rolsuper
      INTO nsp, owner_name, owner_super
      FROM pg_catalog.pg_namespace n
      JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
     WHERE n.nspname OPERATOR(pg_catalog.=) 'migration_guard';
    SELECT e.oid INTO ext
      FROM pg_catalog.pg_extension e
     WHERE e.extname OPERATOR(pg_catalog.=) 'migration_guard';

    IF NOT owner_super THEN
        why := pg_catalog.format('Schema "migration_guard" is owned by role "%s", which is not a superuser and could add functions or operators there that a superuser would then run.',
                                 owner_name);
    END IF;

    -- Any role but a superuser that may create objects in the schema:
    -- through PUBLIC, a grant, membership in a role, or ownership.
    IF why IS NULL THEN
        IF EXISTS (SELECT FROM pg_catalog.pg_namespace n,
                          pg_catalog.aclexplode(n.nspacl) a
                    WHERE n.oid OPERATOR(pg_catalog.=) nsp
                      AND a.grantee OPERATOR(pg_catalog.=) 0
                      AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE') THEN
            why := 'Every role may create objects in schema "migration_guard" (CREATE is granted to PUBLIC), such as functions or operators that a superuser would then run.';
        ELSE
            SELECT r.rolname INTO creator
              FROM pg_catalog.pg_roles r
             WHERE NOT r.rolsuper
               AND pg_catalog.has_schema_privilege(r.oid, nsp, 'CREATE')
             ORDER BY r.rolname OPERATOR(pg_catalog.~~) 'pg\_%', r.rolname
             LIMIT 1;
            IF creator IS NOT NULL THEN
                why := pg_catalog.format('Role "%s" is not a superuser but may create objects in schema "migration_guard", such as functions or operators that a superuser would then run.',
                                         creator);
            END IF;
        END IF;
    END IF;

    -- Anything in the schema (as DROP SCHEMA sees it: every object that
    -- depends on it) that is neither the extension nor one of its members.
    IF why IS NULL THEN
        SELECT pg_catalog.count(*),
               pg_catalog.min(pg_catalog.concat_ws(' ', i.type, i.identity))
          INTO n_foreign, first_foreign
          FROM pg_catalog.pg_depend d,
               pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid) i
         WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
           AND d.refobjid OPERATOR(pg_catalog.=) nsp
           AND NOT (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
                    AND d.objid OPERATOR(pg_catalog.=) ext)
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend m
                            WHERE m.classid OPERATOR(pg_catalog.=) d.classid
                              AND m.objid OPERATOR(pg_catalog.=) d.objid
                              AND m.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
                              AND m.refobjid OPERATOR(pg_catalog.=) ext
                              AND m.deptype OPERATOR(pg_catalog.=) 'e');
        IF n_foreign OPERATOR(pg_catalog.>) 0 THEN
            why := pg_catalog.format('Schema "migration_guard" contains %s object(s) that do not belong to extension "migration_guard", such as %s.',
                                     n_foreign, first_foreign);
        END IF;
    END IF;

    IF why IS NOT NULL THEN
        RAISE EXCEPTION 'schema "migration_guard" can be changed by roles other than superusers'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = why,
                  HINT = 'Drop or rename schema "migration_guard" (after DROP EXTENSION migration_guard if it is installed), then run CREATE EXTENSION migration_guard again.';
    END IF;
END
$$;

-- Every function resolves names in pg_catalog only, whatever the caller's
-- search_path: no overload, operator or table of another role that comes
-- first in it can stand in for what the function calls.  The C functions
-- resolve no names today (relations arrive as OIDs); pinning them keeps it
-- so.  The exception is check(): it resolves the script's names exactly as
-- the migration will, with the caller's search_path, and executes nothing.
--
-- Strict input: a NULL argument is an error, not an empty answer.
ALTER FUNCTION migration_guard.preloaded()
    SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION migration_guard.estimate(regclass, boolean)
    CALLED ON NULL INPUT
    SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION migration_guard.lock_modes_conflict(text, text)
    CALLED ON NULL INPUT
    SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION migration_guard.audit_entries()
    SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION migration_guard.audit_status()
    SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION migration_guard.audit_reset()
    SET search_path = pg_catalog, pg_temp;

-- blockers(): NULL arguments and a relation that does not exist are
-- errors (1.0 returned no rows), and every call is qualified.
CREATE OR REPLACE FUNCTION migration_guard.blockers(
    relation regclass,
    lock_mode text DEFAULT 'AccessExclusiveLock',
    OUT pid integer,
    OUT usename name,
    OUT application_name text,
    OUT state text,
    OUT state_duration interval,
    OUT xact_age interval,
    OUT mode text,
    OUT granted boolean,
    OUT wait_duration interval,
    OUT query text)
RETURNS SETOF record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF blockers.relation IS NULL THEN
        RAISE EXCEPTION 'argument "relation" must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF blockers.lock_mode IS NULL THEN
        RAISE EXCEPTION 'argument "lock_mode" must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_class c
                    WHERE c.oid = blockers.relation) THEN
        RAISE EXCEPTION 'relation with OID % does not exist',
                        blockers.relation::pg_catalog.oid
            USING ERRCODE = 'undefined_table';
    END IF;
    -- Validates lock_mode even when nobody holds a lock.
    PERFORM migration_guard.lock_modes_conflict(blockers.lock_mode,
                                                blockers.lock_mode);
    RETURN QUERY
    SELECT l.pid, a.usename, a.application_name, a.state,
           pg_catalog.now() - a.state_change, pg_catalog.now() - a.xact_start,
           l.mode, l.granted, pg_catalog.now() - l.waitstart, a.query
      FROM pg_catalog.pg_locks l
      LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'relation'
       AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                          WHERE d.datname = pg_catalog.current_database())
       AND l.relation = blockers.relation
       AND l.pid IS DISTINCT FROM pg_catalog.pg_backend_pid()
       AND migration_guard.lock_modes_conflict(l.mode, blockers.lock_mode)
     ORDER BY l.granted DESC, a.xact_start NULLS FIRST, l.pid;
END
$$;

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
    OUT damaged bigint,
    OUT origin bigint,
    OUT last_copy timestamptz,
    OUT copy_error text)
RETURNS record
AS 'MODULE_PATHNAME', 'migration_guard_audit_status'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION migration_guard.audit_status() IS
'Entries kept, dropped by retention since the last reset, lost to write failures and suppressed by the rate limit since the server started, damaged lines, and the copy to migration_guard.audit_log';

REVOKE ALL ON FUNCTION migration_guard.audit_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION migration_guard.audit_status() TO pg_read_all_stats;

-- What failed migrations leave behind, one row per object, with the
-- statement that fixes it:
--   * invalid indexes: a CREATE INDEX CONCURRENTLY that was cancelled or
--     failed, the "_ccnew"/"_ccold" copies of an interrupted REINDEX
--     CONCURRENTLY, an interrupted DROP INDEX CONCURRENTLY.  Partitioned
--     indexes are left out: they are invalid by design until an index of
--     every partition is attached.
--   * NOT VALID constraints never validated: CHECK, FOREIGN KEY and (on
--     PostgreSQL 18+) NOT NULL, any contype with convalidated = false, but
--     not NOT ENFORCED ones (18+), which cannot be validated.  Inherited
--     constraints are validated through their parent and not listed.
-- An invalid index with a twin (same table, same definition) that is valid,
-- or that is an original of which it is a _ccnew/_ccold copy, only needs
-- dropping; any other is dropped and built again.  in_progress marks an
-- index that a CREATE INDEX or REINDEX is building right now, as far as the
-- caller may see it in pg_stat_progress_create_index (other roles' builds
-- are visible to pg_read_all_stats only); it has no fix.
-- The catalogs keep no creation time, so age is always NULL.
-- security_invoker: the caller sees exactly the catalog rows it could read
-- itself, only of the current database.
CREATE VIEW migration_guard.leftovers
WITH (security_invoker = true) AS
WITH invalid AS (
    SELECT i.indexrelid, i.indrelid, i.indisready, i.indislive,
           c.relname, c.relnamespace,
           c.relname OPERATOR(pg_catalog.~) '_cc(new|old)[0-9]*$' AS cc_copy,
           EXISTS (SELECT FROM pg_catalog.pg_stat_progress_create_index p
                    WHERE p.index_relid OPERATOR(pg_catalog.=) i.indexrelid
                      AND p.datid OPERATOR(pg_catalog.=)
                          (SELECT d.oid FROM pg_catalog.pg_database d
                            WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()))
             AS in_progress,
           (SELECT tc.relname
              FROM pg_catalog.pg_index j
              JOIN pg_catalog.pg_class tc ON tc.oid OPERATOR(pg_catalog.=) j.indexrelid
             WHERE j.indrelid OPERATOR(pg_catalog.=) i.indrelid
               AND j.indexrelid OPERATOR(pg_catalog.<>) i.indexrelid
               AND j.indislive
               AND (j.indisvalid
                    OR (c.relname OPERATOR(pg_catalog.~) '_cc(new|old)[0-9]*$'
                        AND tc.relname OPERATOR(pg_catalog.!~) '_cc(new|old)[0-9]*$'))
               AND tc.relam OPERATOR(pg_catalog.=) c.relam
               AND j.indisunique OPERATOR(pg_catalog.=) i.indisunique
               AND j.indkey OPERATOR(pg_catalog.=) i.indkey
               AND j.indclass OPERATOR(pg_catalog.=) i.indclass
               AND j.indcollation OPERATOR(pg_catalog.=) i.indcollation
               AND j.indoption OPERATOR(pg_catalog.=) i.indoption
               AND pg_catalog.pg_get_expr(j.indexprs, j.indrelid)
                   IS NOT DISTINCT FROM pg_catalog.pg_get_expr(i.indexprs, i.indrelid)
               AND pg_catalog.pg_get_expr(j.indpred, j.indrelid)
                   IS NOT DISTINCT FROM pg_catalog.pg_get_expr(i.indpred, i.indrelid)
             ORDER BY j.indisvalid DESC, tc.relname
             LIMIT 1) AS twin
      FROM pg_catalog.pg_index i
      JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid
     WHERE NOT (i.indisvalid AND i.indisready AND i.indislive)
       AND c.relkind OPERATOR(pg_catalog.=) 'i'
       AND (c.relpersistence OPERATOR(pg_catalog.<>) 't'
            OR c.relnamespace OPERATOR(pg_catalog.=) pg_catalog.pg_my_temp_schema())
)
SELECT 'invalid_index'::pg_catalog.text AS kind,
       n.nspname AS schema,
       t.relname AS "table",
       v.relname AS name,
       CASE
           WHEN v.in_progress THEN
               'being built right now (see pg_stat_progress_create_index)'
           WHEN NOT v.indislive THEN
               'left by an interrupted DROP INDEX CONCURRENTLY'
           WHEN v.twin IS NOT NULL AND v.cc_copy THEN
               pg_catalog.format('copy of index %I left by an interrupted REINDEX CONCURRENTLY', v.twin)
           WHEN v.twin IS NOT NULL THEN
               pg_catalog.format('duplicate of valid index %I', v.twin)
           WHEN NOT v.indisready THEN
               'not built (cancelled or failed during the build): queries do not use it, writes do not update it'
           ELSE
               'built but not valid (cancelled or failed after the build): writes update it, queries never use it'
       END AS detail,
       v.in_progress,
       NULL::pg_catalog.interval AS age,
       CASE
           WHEN v.in_progress THEN NULL
           WHEN NOT v.indislive OR v.twin IS NOT NULL THEN
               pg_catalog.format('DROP INDEX CONCURRENTLY %I.%I;', n.nspname, v.relname)
           ELSE
               pg_catalog.format('DROP INDEX CONCURRENTLY %I.%I; %s;', n.nspname, v.relname,
                                 pg_catalog.regexp_replace(pg_catalog.pg_get_indexdef(v.indexrelid),
                                                           '^CREATE (UNIQUE )?INDEX ',
                                                           'CREATE \1INDEX CONCURRENTLY '))
       END AS fix
  FROM invalid v
  JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) v.indrelid
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) v.relnamespace
UNION ALL
SELECT CASE con.contype
           WHEN 'c' THEN 'not_valid_check'
           WHEN 'f' THEN 'not_valid_foreign_key'
           WHEN 'n' THEN 'not_valid_not_null'
           ELSE pg_catalog.concat('not_valid_', con.contype)
       END,
       n.nspname,
       t.relname,
       con.conname,
       'NOT VALID: rows that existed when it was added were never checked',
       false,
       NULL::pg_catalog.interval,
       pg_catalog.format('ALTER TABLE %I.%I VALIDATE CONSTRAINT %I;',
                         n.nspname, t.relname, con.conname)
  FROM pg_catalog.pg_constraint con
  JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) con.conrelid
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) t.relnamespace
 WHERE NOT con.convalidated
   AND con.conislocal
   AND con.conparentid OPERATOR(pg_catalog.=) 0
   -- conenforced exists from 18 on; read it without naming the column.
   AND (pg_catalog.to_jsonb(con) OPERATOR(pg_catalog.->>) 'conenforced')
       IS DISTINCT FROM 'false'
   AND (t.relpersistence OPERATOR(pg_catalog.<>) 't'
        OR t.relnamespace OPERATOR(pg_catalog.=) pg_catalog.pg_my_temp_schema());

COMMENT ON VIEW migration_guard.leftovers IS
'Invalid indexes and NOT VALID constraints left by failed or unfinished migrations, with the statement that fixes each';

GRANT SELECT ON migration_guard.leftovers TO PUBLIC;

-- The audit trail beyond one server (README "Failover and standbys"): a
-- background worker of the server copies the entries of its files into
-- this table, in the database named by migration_guard.audit_database, at
-- most about a second behind them.  Physical replication takes the rows to
-- every standby and a promotion keeps them.  (origin, seq) is the key:
-- seq is unique per origin, the random number of the server that wrote the
-- entry, so copying an entry again changes nothing.  session_user_oid
-- decides who may read the protected texts, as in audit_entries().
-- Only superusers read the table directly; everyone else through the
-- audit view.  pg_dump does not dump its rows: it is not a configuration
-- table, and a non-superuser's dump must not fail on it.
CREATE TABLE migration_guard.audit_log (
    seq bigint NOT NULL,
    ts timestamptz,
    database text,
    session_user_name text,
    current_user_name text,
    application_name text,
    client_addr text,
    pid integer,
    command text,
    statement text,
    rule text,
    action text,
    reason text,
    override_reason text,
    relation text,
    est_rows float8,
    bytes bigint,
    lock_mode text,
    row_threshold integer,
    size_threshold bigint,
    mode text,
    outcome text,
    origin bigint NOT NULL,
    session_user_oid oid,
    PRIMARY KEY (origin, seq)
);
-- The copy raises each server's numbering above the highest seq here.
CREATE INDEX audit_log_seq_idx ON migration_guard.audit_log (seq);

COMMENT ON TABLE migration_guard.audit_log IS
'Copy of the audit trail of every server of the replication group, replicated to standbys (read it through the audit view)';

REVOKE ALL ON migration_guard.audit_log FROM PUBLIC;

-- This server's file entries, with the origin of each.  The audit view
-- calls it, so everyone may execute it; it then requires EXECUTE on
-- audit_entries(), so that 1.0's grants keep deciding who reads the view.
CREATE FUNCTION migration_guard.audit_file_entries(
    OUT seq bigint,
    OUT ts timestamptz,
    OUT database text,
    OUT session_user_name text,
    OUT current_user_name text,
    OUT application_name text,
    OUT client_addr text,
    OUT pid integer,
    OUT command text,
    OUT statement text,
    OUT rule text,
    OUT action text,
    OUT reason text,
    OUT override_reason text,
    OUT relation text,
    OUT est_rows float8,
    OUT bytes bigint,
    OUT lock_mode text,
    OUT row_threshold integer,
    OUT size_threshold bigint,
    OUT mode text,
    OUT outcome text,
    OUT origin bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'migration_guard_audit_entries'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION migration_guard.audit_file_entries() IS
'The audit entries in this server''s files, with the origin of each';

GRANT EXECUTE ON FUNCTION migration_guard.audit_file_entries() TO PUBLIC;

-- The view: the table's rows, and this server's file entries not (yet) in
-- it, each entry once.  On a primary that is its files plus the rows of
-- the servers it was promoted from; on a standby the primary's rows plus
-- its own files.  Texts of table rows follow audit_entries()' rule: the
-- statement, the override reason and a lock wait's reason are shown to
-- members of the entry's session user (by OID and name, so that an OID
-- reused by another role, e.g. after pg_upgrade, shows nothing) and to
-- pg_read_all_stats.  An outcome the file knows and the copy has not
-- caught up with yet is taken from the file.  The view reads the table
-- with its owner's rights; the columns of 1.0 keep their order.
CREATE OR REPLACE VIEW migration_guard.audit AS
WITH f AS MATERIALIZED (
    SELECT * FROM migration_guard.audit_file_entries()
), t AS (
    SELECT l.*,
           (pg_catalog.pg_has_role('pg_read_all_stats'::pg_catalog.name, 'USAGE')
            OR EXISTS (SELECT FROM pg_catalog.pg_roles r
                        WHERE r.oid OPERATOR(pg_catalog.=) l.session_user_oid
                          AND r.rolname OPERATOR(pg_catalog.=) l.session_user_name
                          AND pg_catalog.pg_has_role(r.oid, 'USAGE'))) AS visible
      FROM migration_guard.audit_log l
)
SELECT t.seq, t.ts, t.database, t.session_user_name, t.current_user_name,
       t.application_name, t.client_addr, t.pid, t.command,
       CASE WHEN t.visible THEN t.statement END AS statement,
       t.rule, t.action,
       CASE WHEN t.visible OR t.action OPERATOR(pg_catalog.<>) 'lock_timeout'
            THEN t.reason END AS reason,
       CASE WHEN t.visible THEN t.override_reason END AS override_reason,
       t.relation, t.est_rows, t.bytes, t.lock_mode, t.row_threshold,
       t.size_threshold, t.mode,
       CASE WHEN t.outcome OPERATOR(pg_catalog.=) 'not completed'
                 AND EXISTS (SELECT FROM f
                              WHERE f.origin OPERATOR(pg_catalog.=) t.origin
                                AND f.seq OPERATOR(pg_catalog.=) t.seq
                                AND f.outcome OPERATOR(pg_catalog.=) 'completed')
            THEN 'completed' ELSE t.outcome END AS outcome,
       t.origin
  FROM t
UNION ALL
SELECT f.*
  FROM f
 WHERE NOT EXISTS (SELECT FROM migration_guard.audit_log l
                    WHERE l.origin OPERATOR(pg_catalog.=) f.origin
                      AND l.seq OPERATOR(pg_catalog.=) f.seq);

COMMENT ON VIEW migration_guard.audit IS
'Every guard decision still kept, by this server and (through migration_guard.audit_log) the servers of its replication group';

COMMENT ON FUNCTION migration_guard.audit_reset() IS
'Empty this server''s audit files and, on a primary in migration_guard.audit_database, table migration_guard.audit_log (superusers only)';

-- Preflight with the script's transaction structure: rules held_lock_work
-- and backfill follow BEGIN/COMMIT in the script, or, with
-- single_transaction, treat the whole script as one transaction (as
-- frameworks that wrap a migration run it).  Names resolve with the
-- caller's search_path, as for check(script).
CREATE FUNCTION migration_guard.check(
    script text,
    single_transaction boolean,
    OUT stmt_no integer,
    OUT line integer,
    OUT statement text,
    OUT rule text,
    OUT verdict text,
    OUT relation text,
    OUT est_rows float8,
    OUT bytes bigint,
    OUT lock_mode text,
    OUT message text,
    OUT hint text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'migration_guard_check'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migration_guard.check(text, boolean) IS
'Check a migration script against this server, following its transactions (or treating it as one): one row per finding, in script order; nothing is executed';

-- guarded_tables shows the action of every rule that judges a table by its
-- size; the rules of 1.1 are appended (CREATE OR REPLACE VIEW only adds
-- columns at the end, so a query on 1.0's columns keeps working).
CREATE OR REPLACE VIEW migration_guard.guarded_tables AS
    SELECT c.oid::regclass AS relation,
           c.relkind,
           e.rows AS est_rows,
           e.bytes,
           pg_catalog.pg_size_pretty(e.bytes) AS size,
           e.relations,
           pg_catalog.current_setting('migration_guard.mode') AS mode,
           pg_catalog.current_setting('migration_guard.table_rewrite_action') AS table_rewrite,
           pg_catalog.current_setting('migration_guard.blocking_index_build_action') AS blocking_index_build,
           pg_catalog.current_setting('migration_guard.validation_scan_action') AS validation_scan,
           pg_catalog.current_setting('migration_guard.concurrent_index_timeout_action') AS concurrent_index_timeout,
           pg_catalog.current_setting('migration_guard.held_lock_work_action') AS held_lock_work,
           pg_catalog.current_setting('migration_guard.backfill_action') AS backfill,
           pg_catalog.current_setting('migration_guard.replica_lag_action') AS replica_lag
      FROM pg_catalog.pg_class c
     CROSS JOIN LATERAL migration_guard.estimate(c.oid, true) e
     WHERE c.relkind IN ('r', 'p', 'm')
       AND NOT c.relispartition
       AND c.relpersistence <> 't'
       AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
       AND e.big;
