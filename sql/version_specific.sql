--
-- Statements whose syntax or safety depends on the PostgreSQL major.  One
-- expected output per major: version_specific.out (15),
-- version_specific_1.out (17), version_specific_2.out (18 and 19, so
-- nothing here may differ between those two).
--
CREATE SCHEMA version_specific;
SET search_path = version_specific, public;
SELECT mg_big('t');
\set VERBOSITY terse
SET migration_guard.mode = off;
ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (id * 2) STORED;
RESET migration_guard.mode;

-- 17+: a new expression for a stored generated column rewrites the table.
ALTER TABLE t ALTER COLUMN g SET EXPRESSION AS (id * 3);

-- 18+: virtual generated columns are computed on read: no rewrite, also
-- when neither STORED nor VIRTUAL is given (VIRTUAL is the default).
ALTER TABLE t ADD COLUMN gv int GENERATED ALWAYS AS (id * 2) VIRTUAL;
ALTER TABLE t ADD COLUMN gd int GENERATED ALWAYS AS (id * 2);
ALTER TABLE t ADD COLUMN gs int GENERATED ALWAYS AS (id * 2) STORED;

-- 18+: NOT NULL on a new virtual generated column is checked by computing
-- it for every row; the recipe checks it with a CHECK constraint, NOT VALID
-- then VALIDATE.  Changing a virtual column's type converts no data.
ALTER TABLE t ADD COLUMN gvn int GENERATED ALWAYS AS (id * 2) VIRTUAL NOT NULL;
ALTER TABLE t ADD COLUMN gvn int GENERATED ALWAYS AS (id * 2) VIRTUAL;
ALTER TABLE t ADD CONSTRAINT gvn_nn CHECK (gvn IS NOT NULL) NOT VALID;
ALTER TABLE t VALIDATE CONSTRAINT gvn_nn;
ALTER TABLE t ALTER COLUMN gv TYPE bigint;

-- 18+: a NOT ENFORCED constraint is not checked against existing rows.
ALTER TABLE t ADD CONSTRAINT ne CHECK (id > 0) NOT ENFORCED;
ALTER TABLE t ADD COLUMN c2 int CHECK (c2 > 0) NOT ENFORCED;
ALTER TABLE t ADD CONSTRAINT e CHECK (id > 0) ENFORCED;

-- 18+: a named NOT NULL constraint, NOT VALID then VALIDATE.
ALTER TABLE t ADD CONSTRAINT n_nn NOT NULL n;
ALTER TABLE t ADD CONSTRAINT n_nn NOT NULL n NOT VALID;

-- Every major: SET ACCESS METHOD to the current one is a no-op.
ALTER TABLE t SET ACCESS METHOD heap;

-- 18+: SET NOT NULL over that NOT VALID not-null constraint validates it
-- with a scan under ACCESS EXCLUSIVE (15, 17: a new constraint, with the
-- CHECK recipe).  A valid ADD CONSTRAINT ... NOT NULL over it gets
-- PostgreSQL's error.  The recipe: VALIDATE CONSTRAINT, which does not block
-- writes and leaves the column NOT NULL, so SET NOT NULL has nothing to do.
SELECT rule, verdict, message, hint
  FROM migration_guard.check('ALTER TABLE t ALTER COLUMN n SET NOT NULL');
ALTER TABLE t ALTER COLUMN n SET NOT NULL;
ALTER TABLE t ADD CONSTRAINT n_nn2 NOT NULL n;
ALTER TABLE t VALIDATE CONSTRAINT n_nn;
ALTER TABLE t ALTER COLUMN n SET NOT NULL;

-- 17+: ALTER DOMAIN ... ADD [CONSTRAINT c] NOT NULL checks every column of
-- the domain, like SET NOT NULL; on a domain already NOT NULL it does
-- nothing.  The recipe: a CHECK NOT VALID, which checks new values at once.
CREATE DOMAIN vs_code AS int;
CREATE TABLE vs_coded (c vs_code);
INSERT INTO vs_coded SELECT generate_series(1, 20000);
ANALYZE vs_coded;
ALTER DOMAIN vs_code ADD NOT NULL;
ALTER DOMAIN vs_code ADD CONSTRAINT vs_code_nn NOT NULL;
ALTER DOMAIN vs_code ADD CONSTRAINT vs_code_nn CHECK (VALUE IS NOT NULL) NOT VALID;
SET migration_guard.mode = off;
ALTER DOMAIN vs_code SET NOT NULL;
RESET migration_guard.mode;
ALTER DOMAIN vs_code ADD NOT NULL;

-- 18+: ALTER CONSTRAINT ... ENFORCED validates a NOT ENFORCED foreign key
-- by scanning the referencing table.  There is no NOT VALID form, so the
-- recipe replaces the constraint: DROP, ADD ... NOT VALID, then VALIDATE.
-- NOT ENFORCED, an enforced one, or a missing one: nothing to judge.
CREATE TABLE vs_parent (id int PRIMARY KEY);
INSERT INTO vs_parent SELECT generate_series(1, 20000);
SET migration_guard.mode = off;
ALTER TABLE t ADD CONSTRAINT t_fk FOREIGN KEY (id) REFERENCES vs_parent NOT ENFORCED;
RESET migration_guard.mode;
ALTER TABLE t ALTER CONSTRAINT t_fk ENFORCED;
SELECT rule, verdict, lock_mode, message
  FROM migration_guard.check('ALTER TABLE t ALTER CONSTRAINT t_fk ENFORCED');
ALTER TABLE t ALTER CONSTRAINT t_fk NOT ENFORCED;
ALTER TABLE t ALTER CONSTRAINT t_missing ENFORCED;
BEGIN;
ALTER TABLE t DROP CONSTRAINT IF EXISTS t_fk;
ALTER TABLE t ADD CONSTRAINT t_fk FOREIGN KEY (id) REFERENCES vs_parent NOT VALID;
COMMIT;
ALTER TABLE t VALIDATE CONSTRAINT t_fk;
ALTER TABLE t ALTER CONSTRAINT t_fk ENFORCED;

-- 18+: a primary key over a NOT VALID not-null constraint gets PostgreSQL's
-- error (15, 17: an index build, or with USING INDEX a NOT NULL scan).
ALTER TABLE t ADD CONSTRAINT ts_nn NOT NULL ts NOT VALID;
ALTER TABLE t ADD PRIMARY KEY (ts);
CREATE UNIQUE INDEX CONCURRENTLY t_ts_key ON t (ts);
ALTER TABLE t ADD PRIMARY KEY USING INDEX t_ts_key;
