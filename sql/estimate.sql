--
-- migration_guard.estimate() on every kind of input.
--
CREATE SCHEMA estimate;
SET search_path = estimate, public;
SELECT mg_big('t');
CREATE VIEW v AS SELECT * FROM t;
CREATE INDEX CONCURRENTLY t_id ON t (id);
CREATE TABLE empty_t (id int);

SELECT rows, bytes > 0 AS has_bytes, relations, big FROM migration_guard.estimate('t');
SELECT rows, bytes, relations, big FROM migration_guard.estimate('v');
SELECT rows, bytes, relations, big FROM migration_guard.estimate('empty_t');
SELECT relations, big FROM migration_guard.estimate('t_id');
SELECT relations FROM migration_guard.estimate('pg_class');   -- mapped catalog
SELECT relations FROM migration_guard.estimate('pg_database'); -- shared catalog
SELECT * FROM migration_guard.estimate(NULL);
SELECT * FROM migration_guard.estimate('t', NULL);
SELECT * FROM migration_guard.estimate(0);
SELECT * FROM migration_guard.estimate(123456789);
SELECT * FROM migration_guard.estimate('no_such_table');
