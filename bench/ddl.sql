-- bench/ddl.sql - cheap DDL for "pgbench -f": the workload of figure 2 in
-- BENCHMARKS.md.  Every statement runs in its own transaction (autocommit),
-- so each one passes through the guard's ProcessUtility hook on its own.
--
-- A temporary table first (the guard recognises it as exempt), then a small
-- permanent table created by an earlier transaction: the guard analyses each
-- statement on it in full and measures its size, and lets it through
-- because 100 rows are far below the thresholds.  Names carry the client id
-- so concurrent clients never collide.
CREATE TEMP TABLE t_:client_id (id int, v text);
ALTER TABLE t_:client_id ADD COLUMN x int DEFAULT 0;
CREATE INDEX ON t_:client_id (id);
DROP TABLE t_:client_id;
CREATE TABLE p_:client_id (id int, v text);
INSERT INTO p_:client_id SELECT g, 'row ' || g FROM generate_series(1, 100) g;
ALTER TABLE p_:client_id ADD COLUMN x int DEFAULT 0;
CREATE INDEX ON p_:client_id (id);
ALTER TABLE p_:client_id ADD CHECK (x >= 0);
DROP TABLE p_:client_id;
