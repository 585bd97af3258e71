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

\set VERBOSITY default
ALTER TABLE t ALTER COLUMN id TYPE bigint;
