# migration_guard.lock_hold_timeout: a transaction that holds a write-blocking
# lock on an existing table past the budget is ended: a running statement is
# cancelled (57014), a session idle in transaction is terminated (FATAL,
# 25P03).  Both are audited with the relation, the lock, the statement and
# how long it was held.  The budget is settable per role by a superuser, not
# by the role; it does not run while the policy is relaxed (mode = warn); a
# lock released by ROLLBACK TO SAVEPOINT, or on a temporary table, does not
# count.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('lock_hold');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'migration_guard'
migration_guard.lock_hold_timeout = '1s'
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION migration_guard;
	CREATE ROLE migrator LOGIN;
	CREATE TABLE t (id int);
	CREATE TABLE m (id int);
	ALTER TABLE m OWNER TO migrator;
});

# Run $sql in psql (verbose errors); returns (exit code, stdout, stderr).
sub run
{
	my ($sql, @opts) = @_;
	my ($out, $err) = ('', '');
	my $rc = $node->psql('postgres', "\\set VERBOSITY verbose\n" . $sql,
		stdout => \$out, stderr => \$err, @opts);
	return ($rc, $out, $err);
}

# A running statement is cancelled, with the details.
my ($rc, $out, $err) = run(q{
BEGIN;
ALTER TABLE t ADD COLUMN c int;
SELECT pg_sleep(10);
});
like($err, qr/ERROR:  57014: canceling statement due to lock hold timeout on relation "public\.t"/,
	'a statement running under the lock past the budget is cancelled');
like($err, qr/DETAIL:  The transaction has held ACCESS EXCLUSIVE on relation "public\.t" for 1\.\d s, since statement: ALTER TABLE t ADD COLUMN c int/,
	'the error names the lock, the relation, the statement and how long');
like($err, qr/HINT:  "migration_guard\.lock_hold_timeout" is 1000 ms\./, 'the hint names the setting');

# Idle in transaction after the DDL: terminated.
($rc, $out, $err) = run(q{
BEGIN;
ALTER TABLE t ADD COLUMN c int;
\! sleep 3
SELECT 'still here';
});
like($err, qr/FATAL:  25P03: terminating connection due to lock hold timeout on relation "public\.t"/,
	'a session idle in transaction under the lock is terminated');
like($err, qr/DETAIL:  The transaction has held ACCESS EXCLUSIVE on relation "public\.t" for \d\.\d s, since statement: ALTER TABLE t ADD COLUMN c int/,
	'the termination has the details');
unlike($out, qr/still here/, 'the session did not go on');

# Both are in the audit trail.
is($node->safe_psql('postgres', q{
	SELECT string_agg(concat_ws('|', rule, action, command, statement, relation, lock_mode, outcome,
		reason ~ '^The lock was held for \d+\.\d s; "migration_guard\.lock_hold_timeout" was 1000 ms\.$'), E'\n' ORDER BY seq)
	  FROM migration_guard.audit WHERE rule = 'lock_hold'}),
	"lock_hold|cancelled|ALTER TABLE|ALTER TABLE t ADD COLUMN c int|public.t|ACCESS EXCLUSIVE|failed|t\n"
	  . "lock_hold|terminated|ALTER TABLE|ALTER TABLE t ADD COLUMN c int|public.t|ACCESS EXCLUSIVE|failed|t",
	'the audit has one entry per ended transaction, with the details');
like(slurp_file($node->logfile),
	qr/MIGRATION_GUARD: action=terminated rule=lock_hold relation="public\.t" lock="ACCESS EXCLUSIVE" command="ALTER TABLE".* held_ms=\d+ budget_ms=1000 seq=\d+/,
	'and a server log line');

# LOCK TABLE in SHARE mode counts; a shorter hold passes.
($rc, $out, $err) = run(q{
BEGIN;
LOCK TABLE t IN SHARE MODE;
SELECT pg_sleep(0.3);
SELECT 'short hold passed';
COMMIT;
BEGIN;
LOCK TABLE t IN SHARE MODE;
SELECT pg_sleep(10);
});
like($out, qr/short hold passed/, 'a hold shorter than the budget passes');
like($err, qr/canceling statement due to lock hold timeout on relation "public\.t"/,
	'SHARE mode counts');
like($err, qr/held SHARE on relation/, 'and is named');

# Not counted: a temporary table, a table created in the transaction, a lock
# released by ROLLBACK TO SAVEPOINT, and any hold while the policy is relaxed.
($rc, $out, $err) = run(q{
CREATE TEMP TABLE tmp (id int);
BEGIN;
LOCK TABLE tmp IN ACCESS EXCLUSIVE MODE;
SELECT pg_sleep(1.5);
COMMIT;
BEGIN;
CREATE TABLE fresh (id int);
ALTER TABLE fresh ADD COLUMN c int;
SELECT pg_sleep(1.5);
ROLLBACK;
BEGIN;
SAVEPOINT s;
ALTER TABLE t ADD COLUMN c int;
ROLLBACK TO SAVEPOINT s;
SELECT pg_sleep(1.5);
COMMIT;
SET migration_guard.mode = warn;
BEGIN;
ALTER TABLE t ADD COLUMN c int;
SELECT pg_sleep(1.5);
ROLLBACK;
SELECT 'all passed';
});
is($err, '', 'no cancel for a temporary table, a new table, a rolled back savepoint, mode = warn');
like($out, qr/all passed/, 'the session went on');

# Back to enforce within the transaction: the budget counts from there.
($rc, $out, $err) = run(q{
SET migration_guard.mode = warn;
BEGIN;
ALTER TABLE t ADD COLUMN c int;
SELECT pg_sleep(1.5);
SET LOCAL migration_guard.mode = enforce;
SELECT pg_sleep(0.3);
SELECT 'postponed';
SELECT pg_sleep(10);
});
like($out, qr/postponed/, 'time under the override does not count');
like($err, qr/canceling statement due to lock hold timeout/, 'the budget applies again once enforced');

# Per role, by a superuser; the role cannot relax it.
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET migration_guard.lock_hold_timeout = '10s';
	SELECT pg_reload_conf();
	ALTER ROLE migrator SET migration_guard.lock_hold_timeout = '1s';
});
$node->poll_query_until('postgres', q{SELECT current_setting('migration_guard.lock_hold_timeout') = '10s'})
  or die 'reload did not take effect';
my $sql = q{
BEGIN;
ALTER TABLE m ADD COLUMN c int;
SELECT pg_sleep(2);
SELECT 'not cancelled';
ROLLBACK;
};
($rc, $out, $err) = run($sql);
like($out, qr/not cancelled/, 'other roles have the server default');
($rc, $out, $err) = run($sql, extra_params => [ '-U', 'migrator' ]);
like($err, qr/canceling statement due to lock hold timeout on relation "public\.m"/,
	'ALTER ROLE ... SET applies to the role');
($rc, $out, $err) = run(q{SET migration_guard.lock_hold_timeout = 0;},
	extra_params => [ '-U', 'migrator' ]);
like($err, qr/permission denied to set parameter "migration_guard\.lock_hold_timeout"/,
	'the role cannot switch it off');

$node->stop;
done_testing();
