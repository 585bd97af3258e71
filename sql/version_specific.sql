--
-- Statements whose syntax or safety depends on the PostgreSQL major.  One
-- expected output per major: version_specific.out (15),
-- version_specific_1.out (17), version_specific_2.out (18 and 19).
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

-- 18+: a NOT ENFORCED constraint is not checked against existing rows.
ALTER TABLE t ADD CONSTRAINT ne CHECK (id > 0) NOT ENFORCED;
ALTER TABLE t ADD COLUMN c2 int CHECK (c2 > 0) NOT ENFORCED;
ALTER TABLE t ADD CONSTRAINT e CHECK (id > 0) ENFORCED;

-- 18+: a named NOT NULL constraint, NOT VALID then VALIDATE.
ALTER TABLE t ADD CONSTRAINT n_nn NOT NULL n;
ALTER TABLE t ADD CONSTRAINT n_nn NOT NULL n NOT VALID;

-- Every major: SET ACCESS METHOD to the current one is a no-op.
ALTER TABLE t SET ACCESS METHOD heap;
