--
-- Constraints proved by scanning the table under a write-blocking lock.
--
CREATE SCHEMA constraints;
SET search_path = constraints, public;
SELECT mg_big('t');
SELECT mg_big('parent_big');
CREATE UNIQUE INDEX CONCURRENTLY parent_big_pkey ON parent_big (id);
ALTER TABLE parent_big ADD PRIMARY KEY USING INDEX parent_big_pkey;
\set VERBOSITY terse

-- SET NOT NULL
ALTER TABLE t ALTER COLUMN v SET NOT NULL;
SELECT * FROM mg_modes('ALTER TABLE t ALTER COLUMN v SET NOT NULL');
ALTER TABLE t ALTER COLUMN id SET NOT NULL;          -- already NOT NULL
ALTER TABLE t ADD CONSTRAINT v_nn CHECK (v IS NOT NULL) NOT VALID;
ALTER TABLE t ALTER COLUMN v SET NOT NULL;           -- CHECK not validated yet
ALTER TABLE t VALIDATE CONSTRAINT v_nn;
ALTER TABLE t ALTER COLUMN v SET NOT NULL;           -- proved by the CHECK
ALTER TABLE t DROP CONSTRAINT v_nn;

-- CHECK
ALTER TABLE t ADD CONSTRAINT pos CHECK (id > 0);
SELECT * FROM mg_modes('ALTER TABLE t ADD CONSTRAINT pos CHECK (id > 0)');
ALTER TABLE t ADD CONSTRAINT pos CHECK (id > 0) NOT VALID;
ALTER TABLE t VALIDATE CONSTRAINT pos;
ALTER TABLE t ADD COLUMN c int CHECK (c > 0);
ALTER TABLE t ADD COLUMN c int;
ALTER TABLE t ADD CONSTRAINT c_pos CHECK (c > 0) NOT VALID;

-- FOREIGN KEY: scans the referencing table, locks both.
ALTER TABLE t ADD CONSTRAINT t_fk FOREIGN KEY (id) REFERENCES parent_big (id);
SELECT * FROM mg_modes('ALTER TABLE t ADD CONSTRAINT t_fk FOREIGN KEY (id) REFERENCES parent_big (id)');
ALTER TABLE t ADD CONSTRAINT t_fk FOREIGN KEY (id) REFERENCES parent_big (id) NOT VALID;
ALTER TABLE t VALIDATE CONSTRAINT t_fk;
-- A new column referencing the big table is all NULL: nothing to check.
ALTER TABLE t ADD COLUMN p_id int REFERENCES parent_big (id);
-- ... unless it gets a default.
ALTER TABLE t ADD COLUMN p_id2 int DEFAULT 1 REFERENCES parent_big (id);
-- A small table that was never analyzed, referencing a big one: the check
-- reads the whole referenced table into a hash, so both count.
CREATE TABLE child_small (id int, p int);
INSERT INTO child_small VALUES (1, 1), (2, 2);
ALTER TABLE child_small ADD CONSTRAINT cs_fk FOREIGN KEY (p) REFERENCES parent_big (id);

-- PRIMARY KEY / UNIQUE / EXCLUDE build an index.
ALTER TABLE t ADD PRIMARY KEY (id);
ALTER TABLE t ADD CONSTRAINT t_v_key UNIQUE (v);
ALTER TABLE t ADD COLUMN code int UNIQUE;
SELECT * FROM mg_modes('ALTER TABLE t ADD PRIMARY KEY (id)');
CREATE UNIQUE INDEX CONCURRENTLY t_pkey ON t (id);
ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY USING INDEX t_pkey;
CREATE UNIQUE INDEX CONCURRENTLY t_v_key ON t (v);
ALTER TABLE t ADD CONSTRAINT t_v_key UNIQUE USING INDEX t_v_key;
-- A primary key over a nullable column sets NOT NULL: a scan.
SELECT mg_big('t2');
ALTER TABLE t2 ALTER COLUMN id DROP NOT NULL;
CREATE UNIQUE INDEX CONCURRENTLY t2_pkey ON t2 (id);
ALTER TABLE t2 ADD CONSTRAINT t2_pkey PRIMARY KEY USING INDEX t2_pkey;

-- Domains: every column of the domain type is checked.
CREATE DOMAIN code AS int;
CREATE TABLE coded (c code);
INSERT INTO coded SELECT generate_series(1, 20000);
ANALYZE coded;
ALTER DOMAIN code ADD CONSTRAINT code_pos CHECK (VALUE > 0);
ALTER DOMAIN code SET NOT NULL;
ALTER DOMAIN code ADD CONSTRAINT code_pos CHECK (VALUE > 0) NOT VALID;
ALTER DOMAIN code VALIDATE CONSTRAINT code_pos;
ALTER DOMAIN code SET DEFAULT 1;
-- Where PostgreSQL raises first or changes nothing, its own behaviour: a
-- name in use, a constraint that does not exist, a domain already NOT NULL.
ALTER DOMAIN code ADD CONSTRAINT code_pos CHECK (VALUE > 1);
ALTER DOMAIN code VALIDATE CONSTRAINT code_missing;
-- A CHECK expression PostgreSQL rejects: its error, not a scan.
ALTER DOMAIN code ADD CONSTRAINT code_fn CHECK (mg_no_such_function(VALUE) > 0);
ALTER DOMAIN code ADD CONSTRAINT code_col CHECK (other_col > 0);
ALTER DOMAIN code ADD CONSTRAINT code_sub CHECK (VALUE IN (SELECT 1));
ALTER DOMAIN code ADD CONSTRAINT code_max CHECK (max(VALUE) > 0);
SET migration_guard.mode = off;
ALTER DOMAIN code SET NOT NULL;
RESET migration_guard.mode;
ALTER DOMAIN code SET NOT NULL;
ALTER DOMAIN code DROP NOT NULL;
ALTER DOMAIN code DROP CONSTRAINT code_pos;

\set VERBOSITY default
ALTER TABLE t2 ADD CONSTRAINT t2_fk FOREIGN KEY (id) REFERENCES parent_big (id);

\set VERBOSITY terse
-- Proving NOT NULL from a CHECK constraint does not run the constraint's
-- functions.  limit_of() claims to be immutable but advances a sequence.
CREATE SEQUENCE check_calls;
CREATE FUNCTION limit_of() RETURNS int
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM nextval('check_calls');
    RETURN 1000000;
END
$$;
SELECT mg_big('t3');
ALTER TABLE t3 ADD CONSTRAINT t3_v CHECK (v IS NOT NULL AND id < limit_of()) NOT VALID;
ALTER TABLE t3 VALIDATE CONSTRAINT t3_v;
SELECT last_value AS calls_before FROM check_calls \gset
SELECT rule, verdict FROM migration_guard.check('ALTER TABLE t3 ALTER COLUMN v SET NOT NULL');
SELECT last_value = :calls_before AS no_call FROM check_calls;
-- The hook makes no call beyond PostgreSQL's own: the same as with the guard off.
BEGIN;
SELECT last_value AS calls_before FROM check_calls \gset
ALTER TABLE t3 ALTER COLUMN v SET NOT NULL;
SELECT last_value - :calls_before AS calls_enforce FROM check_calls \gset
ROLLBACK;
BEGIN;
SET LOCAL migration_guard.mode = off;
SELECT last_value AS calls_before FROM check_calls \gset
ALTER TABLE t3 ALTER COLUMN v SET NOT NULL;
SELECT last_value - :calls_before AS calls_off FROM check_calls \gset
ROLLBACK;
SELECT :calls_enforce = :calls_off AS same_calls;

-- A foreign key to a table that does not exist: PostgreSQL's error.
ALTER TABLE t ADD CONSTRAINT t_fk_missing FOREIGN KEY (id) REFERENCES no_such_table (id);

-- ALTER DOMAIN by someone who does not own the domain: PostgreSQL's error.
CREATE ROLE constraints_other;
GRANT USAGE ON SCHEMA constraints TO constraints_other;
SET ROLE constraints_other;
ALTER DOMAIN code ADD CONSTRAINT code_pos CHECK (VALUE > 0);
RESET ROLE;
REVOKE USAGE ON SCHEMA constraints FROM constraints_other;
DROP ROLE constraints_other;
