--
-- migration_guard.check() and the hook agree: every statement of the rule
-- tests' corpus is checked, then executed (in a subtransaction that is rolled
-- back), and the two verdicts are compared.
--
CREATE SCHEMA agree;
SET search_path = agree, public;
SELECT mg_big('t');
CREATE INDEX CONCURRENTLY t_id ON t (id);
CREATE INDEX CONCURRENTLY t_v ON t (v);
SELECT mg_big('parent_big');
CREATE UNIQUE INDEX CONCURRENTLY parent_big_pkey ON parent_big (id);
ALTER TABLE parent_big ADD PRIMARY KEY USING INDEX parent_big_pkey;
CREATE TABLE m (id int, k int, v text) PARTITION BY RANGE (k);
CREATE TABLE m1 PARTITION OF m FOR VALUES FROM (0) TO (100);
CREATE TABLE md PARTITION OF m DEFAULT;
INSERT INTO m SELECT g, g % 100, 'v' FROM generate_series(1, 12000) g;
INSERT INTO md SELECT g, 1000, 'v' FROM generate_series(1, 12000) g;
CREATE TABLE m4 (id int, k int, v text);
INSERT INTO m4 SELECT g, 350, 'v' FROM generate_series(1, 20000) g;
ANALYZE m, m4;
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
CREATE DOMAIN code AS int;
CREATE TABLE coded (c code);
INSERT INTO coded SELECT generate_series(1, 20000);
CREATE MATERIALIZED VIEW mv AS SELECT * FROM parent_big;
CREATE TYPE pair AS (a int, b text);
CREATE TABLE typed OF pair;
INSERT INTO typed SELECT g, 'x' FROM generate_series(1, 20000) g;
ANALYZE;

CREATE FUNCTION mg_agree(stmt text, OUT check_verdict text, OUT hook_verdict text)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT CASE WHEN bool_or(verdict = 'reject') THEN 'reject'
                WHEN bool_or(verdict = 'error') THEN 'error'
                ELSE 'ok' END
      INTO check_verdict FROM migration_guard.check(stmt);
    BEGIN
        EXECUTE stmt;
        RAISE EXCEPTION USING ERRCODE = 'P0099', MESSAGE = 'undo';
    EXCEPTION
        WHEN SQLSTATE 'P0099' THEN hook_verdict := 'ok';
        WHEN SQLSTATE 'MG001' THEN hook_verdict := 'reject';
        WHEN OTHERS THEN hook_verdict := 'error';
    END;
END
$$;

CREATE TABLE corpus (n serial, stmt text);
INSERT INTO corpus (stmt) VALUES
    ('ALTER TABLE t ADD COLUMN r float8 DEFAULT random()'),
    ('ALTER TABLE t ADD COLUMN c timestamptz DEFAULT clock_timestamp()'),
    ('ALTER TABLE t ADD COLUMN s serial'),
    ('ALTER TABLE t ADD COLUMN i int GENERATED ALWAYS AS IDENTITY'),
    ('ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (id * 2) STORED'),
    ('ALTER TABLE t ADD COLUMN d positive'),
    ('ALTER TABLE t ADD COLUMN r2 int DEFAULT (random() * 0)::int'),
    ('ALTER TABLE t ADD COLUMN k1 int'),
    ('ALTER TABLE t ADD COLUMN k2 int DEFAULT 42'),
    ('ALTER TABLE t ADD COLUMN k3 text NOT NULL DEFAULT ''x'''),
    ('ALTER TABLE t ADD COLUMN k4 timestamptz DEFAULT now()'),
    ('ALTER TABLE t ADD COLUMN k5 int DEFAULT (abs(-3) + 1)'),
    ('ALTER TABLE t ADD COLUMN c int CHECK (c > 0)'),
    ('ALTER TABLE t ADD COLUMN p_id int REFERENCES parent_big (id)'),
    ('ALTER TABLE t ADD COLUMN p_id2 int DEFAULT 1 REFERENCES parent_big (id)'),
    ('ALTER TABLE t ADD COLUMN code int UNIQUE'),
    ('ALTER TABLE t ALTER COLUMN id TYPE bigint'),
    ('ALTER TABLE t ALTER COLUMN n TYPE int'),
    ('ALTER TABLE t ALTER COLUMN n TYPE numeric(10,3)'),
    ('ALTER TABLE t ALTER COLUMN n TYPE numeric(12,2)'),
    ('ALTER TABLE t ALTER COLUMN vc TYPE varchar(5)'),
    ('ALTER TABLE t ALTER COLUMN vc TYPE varchar(20)'),
    ('ALTER TABLE t ALTER COLUMN vc TYPE text'),
    ('ALTER TABLE t ALTER COLUMN v TYPE varchar(100)'),
    ('ALTER TABLE t ALTER COLUMN v TYPE int USING length(v)'),
    ('ALTER TABLE t ALTER COLUMN v TYPE text COLLATE "C"'),
    ('ALTER TABLE t ALTER COLUMN v SET NOT NULL'),
    ('ALTER TABLE t ALTER COLUMN id SET NOT NULL'),
    ('ALTER TABLE t ADD CONSTRAINT pos CHECK (id > 0)'),
    ('ALTER TABLE t ADD CONSTRAINT pos CHECK (id > 0) NOT VALID'),
    ('ALTER TABLE t ADD CONSTRAINT t_fk FOREIGN KEY (id) REFERENCES parent_big (id)'),
    ('ALTER TABLE t ADD CONSTRAINT t_fk FOREIGN KEY (id) REFERENCES parent_big (id) NOT VALID'),
    ('ALTER TABLE t ADD PRIMARY KEY (id)'),
    ('ALTER TABLE t ADD CONSTRAINT t_v_key UNIQUE (v)'),
    ('ALTER TABLE t SET UNLOGGED'),
    ('ALTER TABLE t SET LOGGED'),
    ('ALTER TABLE t SET ACCESS METHOD heap'),
    ('ALTER TABLE t ALTER COLUMN n SET DEFAULT 1'),
    ('ALTER TABLE t DROP COLUMN vc'),
    ('ALTER TABLE t RENAME COLUMN vc TO vc2'),
    ('ALTER TABLE t SET (fillfactor = 90)'),
    ('CREATE INDEX ON t (v)'),
    ('CREATE UNIQUE INDEX ON t (id)'),
    ('CREATE INDEX ON t (lower(v)) WHERE id > 10'),
    ('REINDEX TABLE t'),
    ('REINDEX INDEX t_v'),
    ('CLUSTER t USING t_id'),
    ('CREATE INDEX ON m (id)'),
    ('CREATE INDEX ON ONLY m (id)'),
    ('ALTER TABLE m ADD COLUMN r float8 DEFAULT random()'),
    ('ALTER TABLE m ALTER COLUMN v SET NOT NULL'),
    ('ALTER TABLE m1 ALTER COLUMN v SET NOT NULL'),
    ('CREATE TABLE m2 PARTITION OF m FOR VALUES FROM (100) TO (200)'),
    ('ALTER TABLE m ATTACH PARTITION m4 FOR VALUES FROM (300) TO (400)'),
    ('ALTER DOMAIN code ADD CONSTRAINT code_pos CHECK (VALUE > 0)'),
    ('ALTER DOMAIN code ADD CONSTRAINT code_pos CHECK (VALUE > 0) NOT VALID'),
    ('ALTER DOMAIN code SET NOT NULL'),
    ('REFRESH MATERIALIZED VIEW mv'),
    ('REFRESH MATERIALIZED VIEW mv WITH NO DATA'),
    ('ALTER TYPE pair ALTER ATTRIBUTE a TYPE bigint CASCADE'),
    ('ALTER TABLE no_such_table ADD COLUMN a int'),
    ('CREATE TABLE fresh (id int)');

-- Every row agrees; the disagreements, if any, are listed.
SELECT count(*) AS statements,
       count(*) FILTER (WHERE hook_verdict = 'reject') AS rejected,
       count(*) FILTER (WHERE check_verdict = hook_verdict) AS agree
  FROM corpus, mg_agree(stmt);
SELECT n, stmt, check_verdict, hook_verdict
  FROM corpus, mg_agree(stmt)
 WHERE check_verdict <> hook_verdict
 ORDER BY n;
