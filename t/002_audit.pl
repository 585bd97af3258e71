# The audit trail keeps every decision: 8 concurrent sessions, a backend
# killed with SIGKILL (the postmaster then reinitializes shared memory), an
# immediate shutdown and a clean restart; each decision is also one server
# log line.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('audit');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'migration_guard'
migration_guard.row_threshold = 1000
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION migration_guard;
	CREATE TABLE big (id int, v text);
	INSERT INTO big SELECT g, 'v' FROM generate_series(1, 5000) g;
	ANALYZE big;
});

my $count_sql = q{SELECT count(*), count(DISTINCT seq), max(seq) - min(seq) + 1
	FROM migration_guard.audit WHERE action = 'rejected' AND relation = 'public.big'};

# 8 sessions at once, 25 rejections each; each rejection is caught so the
# session goes on.
my $script = $node->basedir . '/reject.sql';
open(my $fh, '>', $script) or die "could not write $script: $!";
print $fh q{DO $$ BEGIN ALTER TABLE big ADD COLUMN r float8 DEFAULT random(); EXCEPTION WHEN SQLSTATE 'MG001' THEN NULL; END $$;}, "\n";
close $fh;
$node->command_ok([ 'pgbench', '-n', '-c', '8', '-j', '8', '-t', '25', '-f', $script, 'postgres' ],
	'8 concurrent sessions produce rejections');
is($node->safe_psql('postgres', $count_sql), '200|200|200',
	'200 rejections recorded, each exactly once, numbered without gaps');
is($node->safe_psql('postgres',
	q{SELECT count(DISTINCT pid) FROM migration_guard.audit WHERE relation = 'public.big'}),
	'8', 'entries come from the 8 sessions');

# SIGKILL of a backend: the postmaster restarts all sessions and
# reinitializes shared memory.
my ($out, $err) = ('', '');
my $sleeper = IPC::Run::start(
	[ 'psql', '-X', '-h', $node->host, '-p', $node->port, '-c', 'SELECT pg_sleep(600)', 'postgres' ],
	'>', \$out, '2>', \$err);
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(600)'})
  or die 'sleeper did not start';
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(600)'});
kill 'KILL', $pid;
$sleeper->finish;
$node->poll_query_until('postgres', 'SELECT true') or die 'server did not come back';
like(slurp_file($node->logfile), qr/terminated by signal 9/, 'the backend was killed');
is($node->safe_psql('postgres', $count_sql), '200|200|200', 'entries survive the crash restart');

for my $i (1 .. 10)
{
	my ($ret, $o, $e) = $node->psql('postgres', 'ALTER TABLE big ADD COLUMN r float8 DEFAULT random()');
	like($e, qr/would rewrite table/, "rejection $i after the crash") if $i == 1;
}
is($node->safe_psql('postgres', $count_sql), '210|210|210',
	'numbering continues after the crash, without gaps or duplicates');

# Immediate shutdown, then a clean restart.
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', $count_sql), '210|210|210', 'entries survive an immediate shutdown');
$node->restart;
is($node->safe_psql('postgres', $count_sql), '210|210|210', 'entries survive a clean restart');
my $entry = $node->safe_psql('postgres', q{
	SELECT database, session_user_name, command, rule, action, lock_mode, mode, outcome,
	       est_rows = 5000, row_threshold
	  FROM migration_guard.audit ORDER BY seq DESC LIMIT 1});
is($entry, 'postgres|' . $node->safe_psql('postgres', 'SELECT session_user')
	. '|ALTER TABLE|table_rewrite|rejected|ACCESS EXCLUSIVE|enforce|rejected|t|1000',
	'fields of an entry');

# One server log line per decision, with a stable prefix; can be turned off.
my $log = slurp_file($node->logfile);
my $lines = () = $log =~ /MIGRATION_GUARD: action=rejected rule=table_rewrite relation="public.big"/g;
is($lines, 210, 'one log line per rejection');
$node->safe_psql('postgres', q{ALTER SYSTEM SET migration_guard.log_decisions = off; SELECT pg_reload_conf();});
my $logsize = -s $node->logfile;
$node->psql('postgres', 'ALTER TABLE big ADD COLUMN r float8 DEFAULT random()');
unlike(substr(slurp_file($node->logfile), $logsize), qr/MIGRATION_GUARD:/,
	'no log line with migration_guard.log_decisions = off');
is($node->safe_psql('postgres', q{SELECT count(*) FROM migration_guard.audit}), '211',
	'the trail still records it');

$node->stop;
done_testing();
