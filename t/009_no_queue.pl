# migration_guard.lock_wait: what the isolation tester cannot show, because
# a no_queue DDL retries outside the lock manager and the tester sees no
# wait.  With no_queue, a DDL behind a long reader never joins the lock
# queue: another session's SELECT on the table runs at once while the DDL
# retries, and the DDL succeeds once the reader commits.  With queue, that
# SELECT waits behind the DDL.  Two migrations taking two tables in
# opposite orders at the same time both end within the lock timeout.  An
# autovacuum worker in the way is cancelled after deadlock_timeout, as for a
# queued waiter, unless it prevents wraparound: then the DDL fails at once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('no_queue');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'migration_guard'
autovacuum_naptime = 1s
log_min_messages = debug1
});
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

# The autovacuum worker vacuuming table $table, waited for up to 60 s.
sub autovacuum_on
{
	my ($table) = @_;
	for (1 .. 120)
	{
		my $q = $node->safe_psql('postgres',
			"SELECT query FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' "
			  . "AND query LIKE '%public.$table%'");
		return $q if $q ne '';
		select(undef, undef, undef, 0.5);
	}
	return '';
}

# Slow autovacuums: dead rows, and a cost limit that makes them crawl.
my $slow = 'autovacuum_vacuum_cost_delay = 100, autovacuum_vacuum_cost_limit = 1';
$node->safe_psql('postgres',
	"CREATE TABLE av (id int, pad text) WITH ($slow, autovacuum_vacuum_threshold = 0, "
	  . "autovacuum_vacuum_scale_factor = 0); "
	  . "INSERT INTO av SELECT g, repeat('x', 100) FROM generate_series(1, 100000) g; "
	  . 'DELETE FROM av;');
SKIP:
{
	my $q = autovacuum_on('av');
	skip 'no autovacuum of av within 60 s', 2 if $q eq '';
	my $log_offset = -s $node->logfile;
	my ($rc, $out, $err) = $node->psql('postgres',
		"SET lock_timeout = 0; SET migration_guard.lock_timeout = '60s'; "
		  . 'ALTER TABLE av ADD COLUMN c int;');
	is($rc, 0, 'plain autovacuum in the way: cancelled, the DDL succeeds');
	like(slurp_file($node->logfile, $log_offset),
		qr/sending cancel to blocking autovacuum PID \d+\n.*DETAIL:  Process \d+ waits for AccessExclusiveLock on relation \d+ of database \d+\./,
		'plain autovacuum in the way: PostgreSQL\'s log message');
}

# An anti-wraparound autovacuum: age(relfrozenxid) past the table's
# autovacuum_freeze_max_age (100000, the least allowed).
$node->safe_psql('postgres',
	'CREATE TABLE wr (id int, pad text) WITH (autovacuum_enabled = off); '
	  . "INSERT INTO wr SELECT g, repeat('x', 100) FROM generate_series(1, 100000) g; "
	  . 'CREATE TABLE xid_burn (i int);');
$node->safe_psql('postgres',
	'DO $$ BEGIN FOR i IN 1..110000 LOOP BEGIN INSERT INTO xid_burn VALUES (i); '
	  . 'EXCEPTION WHEN others THEN NULL; END; END LOOP; END $$;');
$node->safe_psql('postgres',
	"ALTER TABLE wr SET (autovacuum_freeze_max_age = 100000, $slow);");
SKIP:
{
	my $q = autovacuum_on('wr');
	skip 'no autovacuum of wr within 60 s', 2 if $q eq '';
	my $t2 = time();
	my ($rc, $out, $err) = $node->psql('postgres',
		"SET lock_timeout = 0; SET migration_guard.lock_timeout = '60s'; "
		  . 'ALTER TABLE wr ADD COLUMN c int;');
	like($err,
		qr/could not obtain lock on relation "public\.wr"\nDETAIL:  The lock is held by an autovacuum worker preventing transaction ID wraparound/,
		"anti-wraparound autovacuum in the way ($q): fails with the reason");
	ok(time() - $t2 < 30, 'anti-wraparound autovacuum in the way: at once');
}

done_testing();
