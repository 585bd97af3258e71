# The replica gate (rule replica_lag): a big rewrite that a maintenance
# window lets run is held back while a streaming standby's replay is paused
# and released once it has caught up; a logical slot that never advances
# holds back a rewrite and a backfill whose WAL would take it past its
# budget.  Every gate decision is audited.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 'logical');
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'migration_guard'
migration_guard.row_threshold = 1000
migration_guard.maintenance_window = '* 00:00-24:00'
});
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION migration_guard;
	CREATE TABLE big (id int PRIMARY KEY, v text);
	INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;
	ANALYZE big;
	CREATE TABLE filler (v text);
});

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

# Run a statement on the primary with the gate's settings; returns
# (exit code, stdout, stderr).
sub run_gated
{
	my ($settings, $sql) = @_;
	my ($stdout, $stderr);
	my $ret = $primary->psql('postgres', "$settings\n$sql",
		stdout => \$stdout, stderr => \$stderr);
	return ($ret, $stdout, $stderr);
}

my $lag = q{SET migration_guard.max_replica_lag = '1MB';};
my $rewrite = 'ALTER TABLE big ALTER COLUMN id TYPE bigint;';

# The standby stops replaying; the primary writes about 4 MB of WAL.
$standby->safe_psql('postgres', 'SELECT pg_wal_replay_pause()');
$primary->safe_psql('postgres',
	q{INSERT INTO filler SELECT repeat('y', 1000) FROM generate_series(1, 4000)});
$primary->poll_query_until('postgres', q{
	SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), replay_lsn) > 2 * 1024 * 1024
	  FROM pg_stat_replication WHERE application_name = 'standby'})
  or die 'the standby did not fall behind';

my ($ret, $out, $err) = run_gated($lag, $rewrite);
isnt($ret, 0, 'the allowed rewrite is rejected while the standby lags');
like($err, qr/WARNING:  ALTER TABLE would rewrite table "public.big"/,
	'the maintenance window let the rewrite itself run');
like($err,
	qr/ERROR:  ALTER TABLE on "public.big" would write about \d+ (kB|MB) of WAL while standby "standby" is \d+ (kB|MB) behind/,
	'the rejection names the standby, the estimate and the lag');
like($err, qr/DETAIL:  Standby "standby" \(walsender PID \d+\) has not replayed the last \d+ (kB|MB) of WAL, more than "migration_guard.max_replica_lag" \(1024 kB\)/,
	'the detail gives the limit');
like($err, qr/HINT:  Wait until the standby has replayed .* pg_stat_replication.*Rule "replica_lag" is enforced by "migration_guard.mode" and "migration_guard.replica_lag_action"/,
	'the hint says what to wait for and what enforces it');
is($primary->safe_psql('postgres', q{SELECT data_type FROM information_schema.columns
	WHERE table_name = 'big' AND column_name = 'id'}), 'integer', 'the table was not rewritten');
is($primary->safe_psql('postgres', q{SELECT action, relation, reason ~ '^standby "standby" is \d+ (kB|MB) behind in replay$'
	FROM migration_guard.audit WHERE rule = 'replica_lag' ORDER BY seq}),
	'rejected|public.big|t', 'the gate decision is audited with the standby');

# Below the limit the gate does not fire; off, it does not look.
($ret, $out, $err) = run_gated(q{SET migration_guard.max_replica_lag = '1GB';}, 'BEGIN; ' . $rewrite . ' ROLLBACK;');
is($ret, 0, 'a lag below the limit lets the statement run');
unlike($err, qr/standby/, 'and says nothing about the standby');

# Replay resumes: once the standby has caught up, the same statement runs.
$standby->safe_psql('postgres', 'SELECT pg_wal_replay_resume()');
$primary->wait_for_catchup($standby);
($ret, $out, $err) = run_gated($lag, $rewrite);
is($ret, 0, 'the rewrite runs once the standby has caught up');
unlike($err, qr/standby/, 'without a word about the standby');
is($primary->safe_psql('postgres', q{SELECT data_type FROM information_schema.columns
	WHERE table_name = 'big' AND column_name = 'id'}), 'bigint', 'the table was rewritten');

# A logical slot that never advances, and a budget.
$primary->safe_psql('postgres',
	q{SELECT pg_create_logical_replication_slot('stuck', 'test_decoding')});
my $budget = q{SET migration_guard.max_slot_retained_wal = '2MB';};

($ret, $out, $err) = run_gated($budget, 'VACUUM FULL big;');
isnt($ret, 0, 'a rewrite that would take the slot past its budget is rejected');
like($err,
	qr/ERROR:  VACUUM on "public.big" would write about \d+ (kB|MB) of WAL while replication slot "stuck" retains \d+ (bytes|kB|MB)/,
	'the rejection names the slot');
like($err, qr/DETAIL:  Replication slot "stuck" retains \d+ (bytes|kB|MB) of WAL; with the statement's about \d+ (kB|MB) it would retain more than "migration_guard.max_slot_retained_wal" \(2048 kB\)/,
	'the detail gives the budget');
like($err, qr/HINT:  Let the slot's consumer catch up, or drop the slot if it is abandoned/,
	'the hint says how to release it');

# A budget the estimate fits in lets it run.
($ret, $out, $err) = run_gated(q{SET migration_guard.max_slot_retained_wal = '1GB';}, 'VACUUM FULL big;');
is($ret, 0, 'within the budget the rewrite runs');
unlike($err, qr/slot/, 'without a word about the slot');

# With the rule's action at warn, the statement runs with a warning.
($ret, $out, $err) = run_gated($budget . ' SET migration_guard.replica_lag_action = warn;',
	'VACUUM FULL big;');
is($ret, 0, 'replica_lag_action = warn lets the rewrite run');
like($err, qr/WARNING:  VACUUM on "public.big" would write about .* while replication slot "stuck" retains/,
	'with a warning naming the slot');

# A backfill that rule backfill lets run is gated by its estimate too.
($ret, $out, $err) = run_gated($budget
	. q{ SET migration_guard.backfill_row_limit = 1000; SET migration_guard.backfill_action = warn;},
	q{UPDATE big SET v = v || 'z';});
isnt($ret, 0, 'a warned backfill is rejected by the slot budget');
like($err, qr/WARNING:  UPDATE would modify about 20000 rows of table "public.big".*It would write about \d+ (kB|MB) of WAL\./s,
	'the backfill warning carries its WAL estimate');
like($err, qr/ERROR:  UPDATE on "public.big" would write about \d+ (kB|MB) of WAL while replication slot "stuck" retains/,
	'the gate names the slot');

is($primary->safe_psql('postgres', q{SELECT string_agg(command || ':' || action, ',' ORDER BY seq)
	FROM migration_guard.audit WHERE rule = 'replica_lag' AND reason LIKE 'replication slot "stuck"%'}),
	'VACUUM:rejected,VACUUM:warned,UPDATE:rejected', 'the slot decisions are audited');

# Without the slot, the budget holds nothing back.
$primary->safe_psql('postgres', q{SELECT pg_drop_replication_slot('stuck')});
($ret, $out, $err) = run_gated($budget, 'VACUUM FULL big;');
is($ret, 0, 'the rewrite runs once the slot is gone');

# The standby has replayed all of it.
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT count(*) FROM big'), '20000',
	'the standby has replayed everything');

$standby->stop;
$primary->stop;
done_testing();
