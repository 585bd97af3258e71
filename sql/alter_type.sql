--
-- ALTER COLUMN ... TYPE: a rewrite unless PostgreSQL can relabel the data.
--
CREATE SCHEMA alter_type;
SET search_path = alter_type, public;
SELECT mg_big('t');
CREATE INDEX CONCURRENTLY t_v ON t (v);
CREATE INDEX CONCURRENTLY t_vc ON t (vc);
\set VERBOSITY terse

-- Unsafe: the data is converted, the table rewritten.
ALTER TABLE t ALTER COLUMN id TYPE bigint;
ALTER TABLE t ALTER COLUMN n TYPE int;
ALTER TABLE t ALTER COLUMN n TYPE numeric(10,3);
ALTER TABLE t ALTER COLUMN vc TYPE varchar(5);
ALTER TABLE t ALTER COLUMN v TYPE varchar(100);
ALTER TABLE t ALTER COLUMN v TYPE int USING length(v);
ALTER TABLE t ALTER COLUMN vc TYPE text USING vc || '';
CREATE DOMAIN short_text AS text CHECK (length(VALUE) < 100);
ALTER TABLE t ALTER COLUMN v TYPE short_text;
SET TimeZone = 'America/New_York';
ALTER TABLE t ALTER COLUMN ts TYPE timestamptz;
SELECT * FROM mg_modes('ALTER TABLE t ALTER COLUMN id TYPE bigint');

-- Safe: binary-coercible, no row touched, indexes kept.
ALTER TABLE t ALTER COLUMN vc TYPE varchar(20);
ALTER TABLE t ALTER COLUMN vc TYPE varchar(20);
ALTER TABLE t ALTER COLUMN vc TYPE text;
ALTER TABLE t ALTER COLUMN n TYPE numeric(12,2);
ALTER TABLE t ALTER COLUMN n TYPE numeric;
CREATE DOMAIN any_text AS text;
ALTER TABLE t ALTER COLUMN v TYPE any_text;
ALTER TABLE t ALTER COLUMN v TYPE text;
SET TimeZone = 'UTC';
ALTER TABLE t ALTER COLUMN ts TYPE timestamptz;
ALTER TABLE t ALTER COLUMN ts TYPE timestamp;
RESET TimeZone;

-- No rewrite, but the index on the column changes collation: rebuilt.
ALTER TABLE t ALTER COLUMN v TYPE text COLLATE "C";
SELECT * FROM mg_modes('ALTER TABLE t ALTER COLUMN v TYPE text COLLATE "C"');
-- The recipe: build the new index first, then the change keeps it.
CREATE INDEX CONCURRENTLY t_v_c ON t (v COLLATE "C");
DROP INDEX CONCURRENTLY t_v;
ALTER TABLE t ALTER COLUMN v TYPE text COLLATE "C";

-- A statement PostgreSQL rejects gets PostgreSQL's error (from 18 on with
-- its position: alter_type_1.out).
ALTER TABLE t ALTER COLUMN vc TYPE varchar(0);
ALTER TABLE t ALTER COLUMN vc TYPE no_such_type;
ALTER TABLE t ALTER COLUMN no_such_column TYPE bigint;
ALTER TABLE t ALTER COLUMN ts TYPE int;

-- A USING expression is judged without running it: a conversion, so a
-- rewrite.  same_int() claims to be immutable but advances a sequence.
CREATE SEQUENCE using_calls;
SELECT setval('using_calls', 100);
CREATE FUNCTION same_int(i int) RETURNS int
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM nextval('using_calls');
    RETURN i;
END
$$;
SELECT rule, verdict FROM migration_guard.check(
    'ALTER TABLE t ALTER COLUMN id TYPE int USING same_int(0) + id');
SELECT last_value FROM using_calls;
-- USING that only names the column is no conversion.
ALTER TABLE t ALTER COLUMN vc TYPE text USING vc;

\set VERBOSITY default
ALTER TABLE t ALTER COLUMN id TYPE bigint;
