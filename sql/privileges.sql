--
-- A statement is judged only once the role would be allowed to run it.  On
-- a table the role cannot touch, PostgreSQL's own error comes first and
-- the audit trail gains nothing; maintenance commands over many tables skip
-- the tables PostgreSQL skips for the role.
--
CREATE SCHEMA privileges;
SET search_path = privileges, public;
-- Big tables of the superuser: t (clustered, with a NOT VALID check, a
-- materialized view, a table in another tablespace) and loose.
SELECT mg_big('t');
CREATE UNIQUE INDEX CONCURRENTLY t_id ON t (id);
ALTER TABLE t CLUSTER ON t_id;
ALTER TABLE t ADD CONSTRAINT t_pos CHECK (id > 0) NOT VALID;
CREATE MATERIALIZED VIEW mv AS SELECT * FROM t;
SELECT mg_big('loose');
CREATE TABLESPACE mg_priv_space LOCATION '';
CREATE TABLE away TABLESPACE mg_priv_space AS SELECT * FROM t;
-- mg_outsider owns a partitioned table and a big table, nothing else.
CREATE ROLE mg_outsider;
CREATE ROLE mg_owner;
GRANT USAGE, CREATE ON SCHEMA privileges TO mg_outsider, mg_owner;
CREATE TABLE parted (id int NOT NULL, v text, n numeric(10,2), vc varchar(10), ts timestamp)
  PARTITION BY RANGE (id);
ALTER TABLE parted OWNER TO mg_outsider;
SELECT mg_big('child');
ALTER TABLE child OWNER TO mg_outsider;
-- ... and a partitioned table whose big partition is the superuser's.
CREATE TABLE vp (id int) PARTITION BY RANGE (id);
CREATE TABLE vp_1 PARTITION OF vp FOR VALUES FROM (1) TO (100001);
INSERT INTO vp SELECT generate_series(1, 20000);
ALTER TABLE vp OWNER TO mg_outsider;
-- mg_owner owns a big clustered table.
SELECT mg_big('owned');
CREATE INDEX CONCURRENTLY owned_id ON owned (id);
ALTER TABLE owned CLUSTER ON owned_id;
ALTER TABLE owned OWNER TO mg_owner;
SELECT migration_guard.audit_reset();
\set VERBOSITY terse

-- PostgreSQL's ownership error, not a rejection naming the table.
SET ROLE mg_outsider;
ALTER TABLE t ADD COLUMN r float8 DEFAULT random();
CREATE INDEX ON t (v);
ALTER TABLE t VALIDATE CONSTRAINT t_pos;
ALTER TABLE t ALTER COLUMN v TYPE varchar(5);
ALTER TABLE parted ATTACH PARTITION loose FOR VALUES FROM (1) TO (100000);
REINDEX SCHEMA privileges;
REINDEX DATABASE contrib_regression;
-- A foreign key needs REFERENCES on the referenced table.
ALTER TABLE child ADD FOREIGN KEY (id) REFERENCES t (id);
-- Owner up to 16, MAINTAIN from 17: the texts differ, the SQLSTATE not.
\set VERBOSITY sqlstate
CLUSTER t;
REINDEX TABLE t;
REINDEX INDEX t_id;
REFRESH MATERIALIZED VIEW mv;
ALTER TABLE ALL IN TABLESPACE mg_priv_space SET TABLESPACE pg_default;
\set VERBOSITY terse
-- VACUUM skips a table the role may not vacuum, with a WARNING whose text
-- depends on the major; so do CLUSTER and VACUUM FULL without a table.
SET client_min_messages = error;
VACUUM FULL t;
VACUUM (FULL) t, mv;
VACUUM FULL vp;                 -- skips the partition
CLUSTER;
VACUUM FULL;
RESET client_min_messages;
RESET ROLE;
-- Only VACUUM FULL without a table was judged: on the role's own table.
SELECT action, command, relation FROM migration_guard.audit ORDER BY seq;
SELECT migration_guard.audit_reset();

-- The role that counts is the one PostgreSQL checks: a SECURITY DEFINER
-- function of mg_outsider cannot alter t, even when a superuser calls it.
CREATE FUNCTION outsider_alters_t() RETURNS void LANGUAGE plpgsql
SECURITY DEFINER AS $$ BEGIN ALTER TABLE privileges.t ADD COLUMN r float8 DEFAULT random(); END $$;
ALTER FUNCTION outsider_alters_t() OWNER TO mg_outsider;
SELECT outsider_alters_t();
-- CREATE TABLE ... PARTITION OF needs the parent's ownership; IF NOT EXISTS
-- of an existing table does nothing.
CREATE TABLE loose_parted (id int) PARTITION BY RANGE (id);
CREATE TABLE loose_parted_default PARTITION OF loose_parted DEFAULT;
INSERT INTO loose_parted SELECT generate_series(1, 20000);
SET ROLE mg_outsider;
CREATE TABLE loose_1 PARTITION OF loose_parted FOR VALUES FROM (1) TO (10);
RESET ROLE;
CREATE TABLE IF NOT EXISTS loose_parted_default PARTITION OF loose_parted FOR VALUES FROM (1) TO (10);
-- ALL IN TABLESPACE ... OWNED BY: only the role's relations would move.
ALTER TABLE ALL IN TABLESPACE mg_priv_space OWNED BY mg_outsider SET TABLESPACE pg_default;
SELECT count(*) AS audit_entries FROM migration_guard.audit;

-- The owner is still guarded, and the bare commands name its table only.
SET ROLE mg_owner;
ALTER TABLE owned ADD COLUMN r float8 DEFAULT random();
CREATE INDEX ON owned (v);
CLUSTER owned;
REINDEX TABLE owned;
VACUUM FULL owned;
CLUSTER;
VACUUM FULL;
CREATE FUNCTION owner_alters_owned() RETURNS void LANGUAGE plpgsql
SECURITY DEFINER AS $$ BEGIN ALTER TABLE privileges.owned ADD COLUMN r float8 DEFAULT random(); END $$;
RESET ROLE;
SET ROLE mg_outsider;
SELECT owner_alters_owned();
-- An index needs CREATE on the table's schema, a move CREATE on the
-- tablespace, even for the owner.
RESET ROLE;
REVOKE CREATE ON SCHEMA privileges FROM mg_owner;
SET ROLE mg_owner;
CREATE INDEX ON owned (v);
ALTER TABLE owned SET TABLESPACE mg_priv_space;
-- The database owner may vacuum every table that is not shared.
RESET ROLE;
ALTER DATABASE contrib_regression OWNER TO mg_owner;
SET ROLE mg_owner;
VACUUM FULL t;
RESET ROLE;
ALTER DATABASE contrib_regression OWNER TO CURRENT_USER;
-- With REFERENCES, the foreign key's validation scan is judged.
RESET ROLE;
GRANT REFERENCES ON t TO mg_outsider;
SET ROLE mg_outsider;
ALTER TABLE child ADD FOREIGN KEY (id) REFERENCES t (id);
RESET ROLE;
-- A superuser may do anything, so it is judged everywhere.
ALTER TABLE parted ATTACH PARTITION loose FOR VALUES FROM (1) TO (100000);
ALTER TABLE ALL IN TABLESPACE mg_priv_space SET TABLESPACE pg_default;
CREATE TABLE loose_1 PARTITION OF loose_parted FOR VALUES FROM (1) TO (10);
SELECT action, command, relation FROM migration_guard.audit ORDER BY seq;

DROP TABLE away;
DROP TABLESPACE mg_priv_space;
DROP OWNED BY mg_outsider, mg_owner;
DROP ROLE mg_outsider, mg_owner;
DROP SCHEMA privileges CASCADE;
