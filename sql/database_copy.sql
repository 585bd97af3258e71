--
-- ALTER DATABASE ... SET TABLESPACE copies every file of the database, and
-- nobody can connect to it meanwhile: judged as table_rewrite, sized by the
-- database's files.
--
SET migration_guard.size_threshold = '1MB';
CREATE TABLESPACE mg_dbcopy_spc LOCATION '';
CREATE DATABASE mg_dbcopy;
\set VERBOSITY terse

-- Unsafe: a database bigger than the threshold.
ALTER DATABASE mg_dbcopy SET TABLESPACE mg_dbcopy_spc;
SELECT rule, verdict, relation, lock_mode, message, est_rows > 0 AS has_blocks,
       bytes > 1024 * 1024 AS above_threshold, hint
  FROM migration_guard.check('ALTER DATABASE mg_dbcopy SET TABLESPACE mg_dbcopy_spc');
SET migration_guard.mode = warn;
SELECT rule, verdict FROM migration_guard.check('ALTER DATABASE mg_dbcopy SET TABLESPACE mg_dbcopy_spc');
RESET migration_guard.mode;

-- Where PostgreSQL raises or does nothing, its own behaviour: the current
-- database, a transaction block, an unknown tablespace or database, the
-- tablespace it is already in, pg_global.
ALTER DATABASE :"DBNAME" SET TABLESPACE mg_dbcopy_spc;
BEGIN;
ALTER DATABASE mg_dbcopy SET TABLESPACE mg_dbcopy_spc;
ROLLBACK;
ALTER DATABASE mg_dbcopy SET TABLESPACE mg_dbcopy_missing;
ALTER DATABASE mg_dbcopy_missing SET TABLESPACE mg_dbcopy_spc;
ALTER DATABASE mg_dbcopy SET TABLESPACE pg_default;
ALTER DATABASE mg_dbcopy SET TABLESPACE pg_global;
-- Another owner's database: PostgreSQL's error.
CREATE ROLE mg_dbcopy_other;
SET ROLE mg_dbcopy_other;
ALTER DATABASE mg_dbcopy SET TABLESPACE mg_dbcopy_spc;
RESET ROLE;
DROP ROLE mg_dbcopy_other;

-- The recipe's first step: a new database in the target tablespace.  Its
-- data then comes in by pg_dump and pg_restore or logical replication.
CREATE DATABASE mg_dbcopy_new TABLESPACE mg_dbcopy_spc;
DROP DATABASE mg_dbcopy_new;

-- Small enough (below both thresholds): it runs, and the database moves.
SET migration_guard.size_threshold = '1GB';
SET migration_guard.row_threshold = 1000000;
ALTER DATABASE mg_dbcopy SET TABLESPACE mg_dbcopy_spc;
SELECT spcname FROM pg_database d JOIN pg_tablespace s ON s.oid = d.dattablespace
 WHERE datname = 'mg_dbcopy';
RESET migration_guard.row_threshold;
RESET migration_guard.size_threshold;

DROP DATABASE mg_dbcopy;
DROP TABLESPACE mg_dbcopy_spc;
