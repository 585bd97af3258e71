# migration_guard.lock_wait: what the isolation tester cannot show, because
# a no_queue DDL retries outside the lock manager and the tester sees no
# wait.  With no_queue, a DDL behind a long reader never joins the lock
# queue: another session's SELECT on the table runs at once while the DDL
# retries, and the DDL succeeds once the reader commits.  With queue, that
# SELECT waits behind the DDL.  Two migrations taking two tables in
# opposite orders at the same time both end within the lock timeout.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('no_queue');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'migration_guard'");
$node->start;
$node->safe_psql('postgres',
	'CREATE EXTENSION migration_guard; CREATE TABLE q (id int); INSERT INTO q VALUES (1); '
	  . 'CREATE TABLE a (id int); CREATE TABLE b (id int);');

# Wait until the ALTER TABLE of the session with this application name
# is running; return its wait event type and whether it waits in the
# lock manager.
sub ddl_state
{
	my ($app) = @_;
	my $sql = "SELECT coalesce(wait_event_type, '-') || '|' || "
	  . "EXISTS (SELECT FROM pg_locks l WHERE l.pid = s.pid AND NOT l.granted) "
	  . "FROM pg_stat_activity s WHERE application_name = '$app' "
	  . "AND query LIKE 'ALTER TABLE%' AND state = 'active'";
	for (1 .. 100)
	{
		my $r = $node->safe_psql('postgres', $sql);
		return $r if $r ne '' && $r !~ /^-\|/;
		select(undef, undef, undef, 0.05);
	}
	return 'not running';
}

foreach my $mode ('no_queue', 'queue')
{
	my $reader = $node->background_psql('postgres');
	$reader->query_safe('BEGIN; SELECT count(*) FROM q;');

	my $migrator = $node->background_psql('postgres');
	$migrator->query_safe("SET application_name = 'mig_$mode'; SET lock_timeout = 0; "
		  . "SET migration_guard.lock_timeout = '60s'; "
		  . "SET migration_guard.idle_blocker_timeout = 0; "
		  . "SET migration_guard.lock_wait = $mode;");
	$migrator->query_until(qr/started/,
		"\\echo started\nALTER TABLE q ADD COLUMN c_$mode int;\n\\echo altered\n");

	my $state = ddl_state("mig_$mode");
	my ($app_rc, $app_out, $app_err) = (0, '', '');
	my $t0 = time();
	$app_rc = $node->psql('postgres',
		"SET statement_timeout = '1s'; SELECT count(*) FROM q;",
		stdout => \$app_out, stderr => \$app_err);
	my $app_secs = time() - $t0;

	if ($mode eq 'no_queue')
	{
		is($state, 'Extension|false',
			'no_queue: the DDL retries (wait event type Extension), not in the lock queue');
		is($app_rc, 0, 'no_queue: a SELECT on the table runs while the DDL waits');
		ok($app_secs < 1, 'no_queue: ... at once');
	}
	else
	{
		is($state, 'Lock|true', 'queue: the DDL waits in the lock queue');
		like($app_err, qr/canceling statement due to statement timeout/,
			'queue: a SELECT on the table waits behind the DDL');
	}

	$reader->query_safe('COMMIT;');
	$migrator->query_until(qr/altered/, '');
	is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_attribute WHERE attrelid = 'q'::regclass AND attname = 'c_$mode'"),
		'1', "$mode: the DDL succeeds once the reader commits");
	$reader->quit;
	$migrator->quit;
}

# Opposite orders, at the same time: each session holds (in SHARE mode) the
# table the other alters.  PostgreSQL's deadlock detector would fail one;
# no_queue adds no deadlock, and no deadlock check sees the cycle: the
# first to spend its lock timeout (2 s) fails with 55P03, and its abort may
# let the other succeed within its own.  None hangs.
my @s;
foreach my $pair (['a', 'b'], ['b', 'a'])
{
	my $h = $node->background_psql('postgres', on_error_stop => 0);
	$h->query_safe("SET lock_timeout = 0; SET migration_guard.lock_timeout = '2s'; "
		  . "BEGIN; LOCK TABLE $pair->[0] IN SHARE MODE;");
	push @s, [ $h, $pair->[1] ];
}
my $t1 = time();
foreach my $x (@s)
{
	$x->[0]->query_until(qr/started/,
		"\\echo started\nALTER TABLE $x->[1] ADD COLUMN d int;\n\\echo ended :LAST_ERROR_SQLSTATE\n");
}
my $failed = 0;
foreach my $x (@s)
{
	my $out = $x->[0]->query_until(qr/ended \w+/, '');
	like($out, qr/ended (55P03|00000)/,
		"opposite orders: ALTER TABLE $x->[1] fails with 55P03 or succeeds");
	$failed++ if $out =~ /55P03/;
}
ok($failed >= 1, 'opposite orders: at least one fails with 55P03');
my $secs = time() - $t1;
ok($secs < 10, 'opposite orders: both end within the lock timeout');
$_->[0]->quit foreach @s;

done_testing();
