--
-- migration_guard.check(): a preflight of a migration script, through the
-- hook's own rule engine and policy.
--
CREATE SCHEMA check_;
SET search_path = check_, public;
SELECT mg_big('t');
CREATE INDEX CONCURRENTLY t_id ON t (id);

-- A realistic script: one row per finding, in script order, with lines.
SELECT stmt_no, line, statement, rule, verdict, relation, est_rows, lock_mode
  FROM migration_guard.check($$
-- add a column the unsafe way
ALTER TABLE t ADD COLUMN created timestamptz DEFAULT clock_timestamp();
ALTER TABLE t ADD COLUMN flag boolean NOT NULL DEFAULT false;  /* safe */
CREATE INDEX t_v ON t (v);
CREATE INDEX CONCURRENTLY t_v ON t (v);
ALTER TABLE t ADD CONSTRAINT pos CHECK (id > 0) NOT VALID;
ALTER TABLE t VALIDATE CONSTRAINT pos;
ALTER TABLE t ALTER COLUMN id TYPE bigint;
CREATE TABLE fresh (id int, v text);
ALTER TABLE fresh ADD COLUMN r float8 DEFAULT random();
CREATE INDEX ON fresh (v);
INSERT INTO fresh SELECT id, v FROM t;
DO $do$ BEGIN PERFORM 1; END $do$;
$$);

-- Messages and hints are the hook's.
SELECT verdict, message, hint FROM migration_guard.check('CREATE INDEX ON t (n)');

-- A syntax error mid-script: reported with its position, the rest analysed.
SELECT stmt_no, line, verdict, rule, message
  FROM migration_guard.check($$ALTER TABLE t ADD COLUMN a int;
ALTER TABLE t ADD COLUMN b int DEFAULT random()::int;
ALTER TABEL t ADD COLUMN c int;
CREATE INDEX ON t (vc);$$);

-- Syntax this server does not know is an error, not a crash.
-- (SET EXPRESSION is 17+, this form is never valid; the position varies.)
SELECT verdict, message LIKE 'syntax error at or near%' AS syntax_error
  FROM migration_guard.check('ALTER TABLE t ALTER COLUMN v SET EXPRESSION AS (1) VIRTUAL');

-- Missing relations and missing privileges.
SELECT stmt_no, verdict, rule, message FROM migration_guard.check($$
ALTER TABLE no_such_table ADD COLUMN a int;
ALTER TABLE IF EXISTS no_such_table ADD COLUMN a int;
CREATE INDEX ON no_such_table (a);
$$);
CREATE ROLE check_user;
GRANT USAGE ON SCHEMA check_ TO check_user;
SET ROLE check_user;
SELECT stmt_no, verdict, rule, message FROM migration_guard.check($$
ALTER TABLE t ADD COLUMN a int;
CREATE TABLE check_.mine (id int);
$$);
RESET ROLE;
DROP OWNED BY check_user;
DROP ROLE check_user;

-- The same policy settings as the hook.
SET migration_guard.mode = warn;
SELECT verdict FROM migration_guard.check('CREATE INDEX ON t (v)');
SET migration_guard.mode = off;
SELECT verdict, message FROM migration_guard.check('CREATE INDEX ON t (v)');
RESET migration_guard.mode;
SET migration_guard.blocking_index_build_action = warn;
SELECT verdict FROM migration_guard.check('CREATE INDEX ON t (v)');
RESET migration_guard.blocking_index_build_action;

-- Nothing was changed, nothing audited.
SELECT count(*) FROM pg_attribute WHERE attrelid = 'check_.t'::regclass AND attname IN ('created', 'flag');
SELECT to_regclass('check_.fresh');

-- Bad input.
SELECT * FROM migration_guard.check(NULL);
SELECT * FROM migration_guard.check('');
SELECT count(*) FROM migration_guard.check('   ;;  -- nothing but comments
;');
SELECT stmt_no, verdict, message FROM migration_guard.check('this is not SQL at all');
SELECT stmt_no, verdict, message FROM migration_guard.check('SELECT ''unterminated');
SELECT stmt_no, verdict, message FROM migration_guard.check(E'ALTER TABLE t ADD COLUMN x text DEFAULT \'\xc3\xa9t\xc3\xa9\';');
SELECT convert_from('\xc3'::bytea, 'UTF8');

-- A lexical error does not hide the statements before it: an unterminated
-- quote or comment takes the rest of the script, as on the server; after
-- trailing junk (15+), cutting resumes at the next semicolon.
\set VERBOSITY terse
SELECT stmt_no, line, verdict, rule, left(message, 40) AS message
  FROM migration_guard.check($$CREATE INDEX ON t (v);
ALTER TABLE t ADD COLUMN r float8 DEFAULT random();
SELECT 'never closed;
CREATE INDEX ON t (n);$$);
SELECT stmt_no, verdict, rule, left(message, 30) AS message
  FROM migration_guard.check($$CREATE INDEX ON t (v); /* not closed; CREATE INDEX ON t (n);$$);
SELECT stmt_no, verdict, rule, left(message, 30) AS message
  FROM migration_guard.check($q$CREATE INDEX ON t (v); SELECT $tag$ not closed; CREATE INDEX ON t (n);$q$);
SELECT stmt_no, verdict, rule, message LIKE 'trailing junk%' AS junk
  FROM migration_guard.check($$CREATE INDEX ON t (v); SELECT 1abc; CREATE INDEX ON t (n);$$);
-- A zero-length identifier is not an unclosed one.
SELECT stmt_no, verdict, rule FROM migration_guard.check($$SELECT ""; CREATE INDEX ON t (v);$$);
-- Nested comments before a statement; its line is the line of its first token.
SELECT stmt_no, line, statement FROM migration_guard.check(E'/* a /* nested */\n comment */\n-- and a line\nSELECT 1;\n\n  SELECT 2');

-- What PostgreSQL would reject is an error, read from the catalog: missing
-- columns, columns that already exist, partitions of tables that are not
-- partitioned.  Columns added, renamed or dropped earlier in the script count.
SELECT stmt_no, verdict, relation, message FROM migration_guard.check($$
ALTER TABLE t ALTER COLUMN nope TYPE bigint;
ALTER TABLE t ALTER COLUMN nope SET NOT NULL;
ALTER TABLE t DROP COLUMN nope;
ALTER TABLE t DROP COLUMN IF EXISTS nope;
ALTER TABLE t ALTER COLUMN nope SET DEFAULT 1;
ALTER TABLE t ADD COLUMN v text;
ALTER TABLE t ADD COLUMN IF NOT EXISTS v text;
ALTER TABLE t ADD COLUMN fresh int, ALTER COLUMN fresh SET DEFAULT 0;
ALTER TABLE t ALTER COLUMN fresh DROP DEFAULT;
ALTER TABLE t RENAME COLUMN fresh TO fresher;
ALTER TABLE t ALTER COLUMN fresh DROP DEFAULT;
ALTER TABLE t ALTER COLUMN fresher DROP DEFAULT;
ALTER TABLE t DROP COLUMN fresher;
ALTER TABLE t DROP COLUMN fresher;
ALTER TABLE t RENAME COLUMN nope TO nope2;
ALTER TABLE t RENAME COLUMN id TO v;
$$);
CREATE TABLE parted (id int) PARTITION BY LIST (id);
SELECT stmt_no, verdict, relation, message FROM migration_guard.check($$
CREATE TABLE p1 PARTITION OF t FOR VALUES IN (1);
CREATE TABLE p2 PARTITION OF no_such_parent FOR VALUES IN (1);
CREATE TABLE p3 PARTITION OF parted FOR VALUES IN (1);
CREATE TABLE kid () INHERITS (no_such_parent);
CREATE TABLE newparted (id int) PARTITION BY LIST (id);
CREATE TABLE p4 PARTITION OF newparted FOR VALUES IN (1);
ALTER TABLE t ATTACH PARTITION p3 FOR VALUES IN (1);
ALTER TABLE parted ATTACH PARTITION no_such_part FOR VALUES IN (2);
$$);
DROP TABLE parted;
-- Index and constraint columns must exist too.
SELECT stmt_no, verdict, rule, message FROM migration_guard.check($$
CREATE INDEX ON t (nope);
CREATE INDEX ON t (id) INCLUDE (nope);
ALTER TABLE t ADD PRIMARY KEY (nope);
ALTER TABLE t ADD FOREIGN KEY (nope) REFERENCES t (id);
ALTER TABLE t ADD COLUMN k int, ADD UNIQUE (k);
$$);
-- DROP and TRUNCATE need their relations; dropped ones are gone for the
-- statements after them, until the script creates them again.
SELECT stmt_no, verdict, relation, message FROM migration_guard.check($$
DROP TABLE no_such_table;
DROP TABLE IF EXISTS no_such_table, t;
TRUNCATE no_such_table;
CREATE INDEX ON t (v);
TRUNCATE t;
CREATE TABLE t (id int);
CREATE INDEX ON t (id);
$$);

-- A table renamed by the script is followed: known by its new name only
-- (and reported by its catalog name).
SELECT stmt_no, verdict, rule, relation, message FROM migration_guard.check($$
ALTER TABLE t RENAME TO t_old;
CREATE INDEX ON t (v);
CREATE INDEX ON t_old (v);
ALTER TABLE t_old RENAME TO t_older;
ALTER TABLE t_old ADD COLUMN a int;
ALTER TABLE t_older RENAME TO check_;
CREATE TABLE t (id int);
ALTER TABLE t RENAME TO t_new;
CREATE INDEX ON t_new (id);
$$);

-- check() leaves lock_timeout as it was, and audits nothing.
SET lock_timeout = '7s';
SELECT count(*) AS audited_before FROM migration_guard.audit \gset
SELECT count(*) FROM migration_guard.check('CREATE INDEX ON t (v); ALTER TABLE t ALTER COLUMN v TYPE int');
SHOW lock_timeout;
SELECT count(*) = :audited_before AS nothing_audited FROM migration_guard.audit;
RESET lock_timeout;
\set VERBOSITY default

-- Tens of thousands of statements.
SELECT count(*), count(DISTINCT stmt_no), max(stmt_no), count(*) FILTER (WHERE verdict = 'reject')
  FROM migration_guard.check((SELECT string_agg(
        CASE WHEN g % 1000 = 0 THEN 'CREATE INDEX ON t (v);' ELSE 'ALTER TABLE t ALTER COLUMN v SET DEFAULT ''x'';' END, E'\n')
        FROM generate_series(1, 10000) g));

-- A type change without USING that has no assignment cast: PostgreSQL's
-- error, with its hint; with USING, or with a cast, the rules judge it.
SELECT verdict, message, hint
  FROM migration_guard.check($$ALTER TABLE t ALTER COLUMN v TYPE point;
ALTER TABLE t ALTER COLUMN v TYPE point USING point(1, 2);
ALTER TABLE t ALTER COLUMN id TYPE text$$);
