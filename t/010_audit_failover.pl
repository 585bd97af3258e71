# The audit trail survives failover: the copy worker puts the file entries
# of the primary into migration_guard.audit_log, streaming replication takes
# them to a standby made with pg_basebackup, and after its promotion every
# entry is still there, once, with its number; new entries on the new
# primary get new numbers.  A standby without the library still replays.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'migration_guard'
migration_guard.row_threshold = 1000
});
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION migration_guard;
	CREATE ROLE migrator LOGIN;
	CREATE TABLE big (id int);
	INSERT INTO big SELECT g FROM generate_series(1, 5000) g;
	ANALYZE big;
	ALTER TABLE big OWNER TO migrator;
});

# Each entry as (origin, seq, action, outcome); the view must list each once.
my $entries_sql = q{SELECT string_agg(concat_ws(':', origin, seq, action, outcome), ' ' ORDER BY seq)
	FROM migration_guard.audit};
my $dups_sql = q{SELECT count(*) - count(DISTINCT (origin, seq)), count(*) - count(DISTINCT seq)
	FROM migration_guard.audit};

sub reject
{
	my ($node) = @_;
	my ($rc, $out, $err) = (0, '', '');
	$rc = $node->psql('postgres', 'ALTER TABLE big ALTER id TYPE bigint',
		stdout => \$out, stderr => \$err, extra_params => [ '-U', 'migrator' ]);
	like($err, qr/would rewrite table/, $node->name . ': the rewrite is rejected');
}

sub wait_copied_db
{
	my ($node, $db, $n) = @_;
	$node->poll_query_until($db,
		"SELECT count(*) = $n FROM migration_guard.audit_log")
	  or die $node->name . ": the copy did not reach $n rows";
}

sub wait_copied
{
	my ($node, $n) = @_;
	wait_copied_db($node, 'postgres', $n);
}

# Rejected and warned (a warned statement completes: its outcome follows).
reject($primary);
$primary->safe_psql('postgres', q{
	SET migration_guard.mode = warn;
	CREATE INDEX big_id ON big (id);
});
wait_copied($primary, 2);
$primary->poll_query_until('postgres',
	q{SELECT outcome = 'completed' FROM migration_guard.audit_log WHERE action = 'warned'})
  or die 'the outcome was not copied';
my $origin_p = $primary->safe_psql('postgres',
	'SELECT origin FROM migration_guard.audit_status()');
ok($origin_p > 0, 'the primary has an origin');
is($primary->safe_psql('postgres', $dups_sql), '0|0',
	'on the primary, file and table entries are shown once');

# A standby from a base backup, which also copies the primary's files.
$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->start;

# A standby that does not load the library replays the same WAL.
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init_from_backup($primary, 'b1', has_streaming => 1);
$plain->append_conf('postgresql.conf', "shared_preload_libraries = ''\n");
$plain->start;

# Entries after the backup reach the standby through the table only.
reject($primary);
reject($primary);
wait_copied($primary, 4);
$primary->wait_for_catchup($standby, 'replay');
$primary->wait_for_catchup($plain, 'replay');

my $on_primary = $primary->safe_psql('postgres', $entries_sql);
like($on_primary, qr/^\d+:1:rejected:rejected \d+:2:warned:completed \d+:3:rejected:rejected \d+:4:rejected:rejected$/,
	'four entries on the primary');
is($standby->safe_psql('postgres', $entries_sql), $on_primary,
	'the standby shows the same entries with the same numbers');
is($standby->safe_psql('postgres', $dups_sql), '0|0', 'each once on the standby');
is($standby->safe_psql('postgres',
	q{SELECT count(*) FROM migration_guard.audit_file_entries()}), '0',
	"the base backup's copy of the primary's files is set aside on the standby");
ok(-f $standby->data_dir . '/migration_guard/audit.inherited.current',
	'... and kept for inspection');
isnt($standby->safe_psql('postgres', 'SELECT origin FROM migration_guard.audit_status()'),
	$origin_p, 'the standby has an origin of its own');
is($standby->safe_psql('postgres',
	q{SELECT statement FROM migration_guard.audit WHERE seq = 3}),
	'ALTER TABLE big ALTER id TYPE bigint', 'texts are replicated');
# The standby follows the primary's numbering, ready for a promotion.
$standby->poll_query_until('postgres',
	q{SELECT next_seq > 4 FROM migration_guard.audit_status()})
  or die 'the standby did not raise its numbering';
is($plain->safe_psql('postgres', q{SELECT count(*) FROM migration_guard.audit_log}),
	'4', 'a standby without shared_preload_libraries replays the rows');

# Promotion: everything is there, new entries get new numbers.
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
  or die 'the standby was not promoted';
reject($standby);
wait_copied($standby, 5);
my $after = $standby->safe_psql('postgres', $entries_sql);
like($after, qr/^\Q$on_primary\E (\d+):(\d+):rejected:rejected$/,
	'after the promotion: every entry once, and the new one');
$after =~ /(\d+):(\d+):rejected:rejected$/;
my ($origin_s, $seq_s) = ($1, $2);
ok($seq_s > 4, "the new entry's number ($seq_s) is above every earlier one");
isnt($origin_s, $origin_p, 'and comes from the new primary');
is($standby->safe_psql('postgres', $dups_sql), '0|0', 'no duplicates after the promotion');

# The new primary restarts: its files and the table still agree.
$standby->restart;
wait_copied($standby, 5);
is($standby->safe_psql('postgres', $entries_sql), $after, 'a restart changes nothing');
is($standby->safe_psql('postgres', 'SELECT origin FROM migration_guard.audit_status()'),
	$origin_s, 'a restarted primary keeps its origin');

# audit_reset() on the primary of the audit database empties the table too.
$standby->safe_psql('postgres', 'SELECT migration_guard.audit_reset()');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM migration_guard.audit'), '0',
	'audit_reset() empties files and table');
reject($standby);
wait_copied($standby, 1);
ok($standby->safe_psql('postgres', 'SELECT seq FROM migration_guard.audit') > $seq_s,
	'numbering goes on after the reset');

$plain->stop;
$standby->stop;
$primary->stop;

# The waiting states and failures are each logged once, and the copy
# catches up.
my $lone = PostgreSQL::Test::Cluster->new('lone');
$lone->init;
$lone->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'migration_guard'
migration_guard.row_threshold = 1000
migration_guard.audit_database = 'trail'
});
$lone->start;

sub count_in_log
{
	my ($node, $re) = @_;
	my @hits = slurp_file($node->logfile) =~ /$re/g;
	return scalar @hits;
}

sub wait_in_log
{
	my ($node, $re) = @_;
	for (1 .. 300)
	{
		return if count_in_log($node, $re) > 0;
		usleep(100_000);
	}
	die "not logged: $re";
}

my $no_db = qr/audit entries are not copied: database "trail" does not exist/;
wait_in_log($lone, $no_db);
sleep 6;	# past the launcher's retry
is(count_in_log($lone, $no_db), 1, 'a missing audit database is logged once');
$lone->safe_psql('postgres', q{
	CREATE EXTENSION migration_guard;
	CREATE TABLE big (id int);
	INSERT INTO big SELECT g FROM generate_series(1, 5000) g;
	ANALYZE big;
	CREATE ROLE migrator LOGIN;
	ALTER TABLE big OWNER TO migrator;
	CREATE DATABASE trail;
});
my $no_table = qr/table "migration_guard.audit_log" does not exist in database "trail"/;
wait_in_log($lone, $no_table);
reject($lone);
sleep 2;
is(count_in_log($lone, $no_table), 1, 'a missing table is logged once');
like($lone->safe_psql('postgres', 'SELECT copy_error FROM migration_guard.audit_status()'),
	$no_table, 'audit_status() says why nothing is copied');
$lone->safe_psql('trail', 'CREATE EXTENSION migration_guard');
wait_copied_db($lone, 'trail', 1);
is($lone->safe_psql('postgres',
	'SELECT copy_error IS NULL AND last_copy IS NOT NULL FROM migration_guard.audit_status()'), 't',
	'the copy catches up once the extension is created');

# A failing copy: logged once per burst, retried, then caught up.
$lone->safe_psql('trail',
	'ALTER TABLE migration_guard.audit_log ADD CONSTRAINT no_rows CHECK (seq < 0) NOT VALID');
reject($lone);
reject($lone);
my $fail = qr/could not copy migration_guard audit entries/;
wait_in_log($lone, $fail);
sleep 3;
is(count_in_log($lone, $fail), 1, 'a failing copy is logged once');
like($lone->safe_psql('postgres', 'SELECT copy_error FROM migration_guard.audit_status()'),
	qr/no_rows/, 'with its error in audit_status()');
$lone->safe_psql('trail', 'ALTER TABLE migration_guard.audit_log DROP CONSTRAINT no_rows');
wait_copied_db($lone, 'trail', 3);
wait_in_log($lone, qr/audit entries are copied again/);
is($lone->safe_psql('trail', $dups_sql), '0|0', 'nothing twice after the retries');
my $workers = q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type LIKE 'migration_guard audit copy%'};
is($lone->safe_psql('postgres', $workers), '2', 'the launcher and the copier run');

# An empty audit_database: no workers, the files alone.
$lone->append_conf('postgresql.conf', "migration_guard.audit_database = ''\n");
$lone->restart;
is($lone->safe_psql('postgres', $workers), '0', 'no copy without an audit database');
reject($lone);
is($lone->safe_psql('postgres', q{SELECT count(*) FROM migration_guard.audit_file_entries()}), '4',
	'entries are still written to the files');
$lone->stop;
done_testing();
