--
-- DDL reaches the guard however it is issued.
--
CREATE SCHEMA nested;
SET search_path = nested, public;
SELECT mg_big('t');
\set VERBOSITY terse

DO $$ BEGIN ALTER TABLE t ADD COLUMN r float8 DEFAULT random(); END $$;
DO $$ BEGIN EXECUTE 'CREATE INDEX ON t (v)'; END $$;
DO $$ BEGIN EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE bigint', 't', 'id'); END $$;

CREATE FUNCTION sql_fn() RETURNS void LANGUAGE sql
AS $$ ALTER TABLE t ALTER COLUMN v SET NOT NULL $$;
SELECT sql_fn();

CREATE FUNCTION plpgsql_fn() RETURNS void LANGUAGE plpgsql
AS $$ BEGIN CREATE INDEX ON t (n); END $$;
SELECT plpgsql_fn();

CREATE PROCEDURE proc() LANGUAGE plpgsql
AS $$ BEGIN ALTER TABLE t ADD COLUMN s serial; COMMIT; END $$;
CALL proc();

CREATE FUNCTION definer_fn() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = nested, public
AS $$ BEGIN ALTER TABLE t ALTER COLUMN id TYPE bigint; END $$;
SELECT definer_fn();

-- A function that tries to relax the policy for itself: SET clauses are
-- checked like SET (superusers may, see security.sql for other roles).
CREATE FUNCTION relaxed_fn() RETURNS void LANGUAGE plpgsql
SET migration_guard.mode = 'warn'
AS $$ BEGIN ALTER TABLE t ADD COLUMN r2 float8 DEFAULT random(); END $$;
SELECT relaxed_fn();
ALTER TABLE t DROP COLUMN r2;

-- Event trigger functions run DDL too.
CREATE FUNCTION et_fn() RETURNS event_trigger LANGUAGE plpgsql
AS $$ BEGIN IF tg_tag = 'COMMENT' THEN ALTER TABLE t ADD COLUMN r3 float8 DEFAULT random(); END IF; END $$;
CREATE EVENT TRIGGER et ON ddl_command_end EXECUTE FUNCTION et_fn();
COMMENT ON TABLE t IS 'guarded';
DROP EVENT TRIGGER et;

-- Several statements in one query string, in one implicit transaction.
SELECT 1 \; CREATE INDEX ON t (vc) \; SELECT 2;
-- ... where a table created earlier in the same string is exempt.
CREATE TABLE copy AS SELECT * FROM t \; CREATE INDEX ON copy (v);

-- Dynamic SQL with a recursion through a function calling itself.
CREATE FUNCTION run(q text, depth int) RETURNS void LANGUAGE plpgsql
AS $$ BEGIN IF depth > 0 THEN PERFORM run(q, depth - 1); ELSE EXECUTE q; END IF; END $$;
SELECT run('REINDEX TABLE t', 5);

-- Prepared statements cannot hold DDL; EXPLAIN ANALYZE of CREATE TABLE AS
-- creates a new table, which is not guarded.
EXPLAIN (COSTS OFF) CREATE TABLE t_copy2 AS SELECT * FROM t;
