# Preflight: bin/migration-guard-check's report, exit codes and JSON, and
# migration_guard.check() on a hot standby giving the primary's verdicts.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use File::Basename qw(dirname);
use Cwd qw(abs_path);

my $client = abs_path(dirname(__FILE__) . '/../bin/migration-guard-check');

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'migration_guard'");
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION migration_guard;
	CREATE TABLE big (id int, v text);
	INSERT INTO big SELECT g, 'v' || g FROM generate_series(1, 200000) g;
	ANALYZE big;
});

my $dir = $primary->basedir;
sub write_file
{
	my ($name, $text) = @_;
	open(my $fh, '>', "$dir/$name") or die "could not write $name: $!";
	print $fh $text;
	close $fh;
	return "$dir/$name";
}
my $safe = write_file('001_safe.sql', "ALTER TABLE big ADD COLUMN note text;\nCREATE INDEX CONCURRENTLY big_v ON big (v);\n");
my $unsafe = write_file('002_unsafe.sql', "-- the unsafe one\nALTER TABLE big ADD COLUMN r float8 DEFAULT random();\nCREATE INDEX ON big (v);\n");
my $warny = write_file('003_do.sql', "DO \$\$ BEGIN PERFORM 1; END \$\$;\n");
my $broken = write_file('004_broken.sql', "ALTER TABEL big ADD COLUMN x int;\n");

# command_* run with PGHOST/PGPORT of the node.
$primary->command_ok([ $client, $safe ], 'safe migration: exit 0');
$primary->command_checks_all([ $client, $unsafe ], 1,
	[ qr/002_unsafe\.sql:2: REJECT \[table_rewrite\] public\.big \(200000 rows/,
	  qr/002_unsafe\.sql:3: REJECT \[blocking_index_build\]/,
	  qr/hint: Use CREATE INDEX CONCURRENTLY/ ],
	[ qr/^$/ ], 'unsafe migration: exit 1, readable report by file and line');
$primary->command_ok([ $client, $warny ], 'a warning alone: exit 0');
$primary->command_fails_like([ $client, '--fail-on-warn', $warny ], qr/^$/,
	'--fail-on-warn: exit 1 on a warning');
$primary->command_checks_all([ $client, $broken ], 1, [ qr/ERROR: syntax error at or near "TABEL"/ ],
	[ qr/^$/ ], 'a syntax error fails the check');
$primary->command_checks_all([ $client, '--format', 'yaml', $safe ], 2, [ qr/^$/ ],
	[ qr/--format must be text or json/ ], 'bad option: exit 2');
$primary->command_checks_all([ $client, "$dir/missing.sql" ], 2, [ qr/^$/ ],
	[ qr/cannot read file/ ], 'missing file: exit 2');

my ($stdout, $stderr);
IPC::Run::run([ $client, '--format', 'json', $safe, $unsafe ],
	'>', \$stdout, '2>', \$stderr,
	init => sub { $ENV{PGHOST} = $primary->host; $ENV{PGPORT} = $primary->port; });
my $json = eval { decode_json($stdout) };
ok($json, 'JSON output parses') or diag($stdout);
is(scalar @{ $json->{files} }, 2, 'one entry per file');
is($json->{summary}{rejected}, 2, 'summary counts the rejections');
is($json->{summary}{exit_status}, 1, 'summary carries the exit status');
is($json->{files}[1]{findings}[0]{verdict}, 'reject', 'findings carry the verdict');
is($json->{files}[1]{findings}[0]{line}, 2, 'and the line');

# A hot standby: same verdicts as the primary, and no write anywhere.
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
my $script = q{SELECT stmt_no, verdict, rule, relation, est_rows, message
	FROM migration_guard.check($$ALTER TABLE big ADD COLUMN r float8 DEFAULT random();
	ALTER TABLE big ADD COLUMN note2 text; CREATE INDEX ON big (v);
	ALTER TABLE big ALTER COLUMN v SET NOT NULL; CREATE TABLE t2 (id int);
	CREATE INDEX ON t2 (id);$$)};
my $on_primary = $primary->safe_psql('postgres', $script);
my $on_standby = $standby->safe_psql('postgres', $script);
is($on_standby, $on_primary, 'the standby reports the same verdicts as the primary');
like($on_standby, qr/reject\|table_rewrite\|public\.big\|200000/, 'including the rejections');
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'it ran on a standby');

$standby->stop;
$primary->stop;
done_testing();
