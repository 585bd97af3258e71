# Preflight: bin/migration-guard-check's report, exit codes and JSON, and
# migration_guard.check() on a hot standby giving the primary's verdicts;
# check() under cancel, statement_timeout and lock waits, on a 100,000
# statement script, and the client on NOTICEs, NUL bytes and LATIN1 files.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use Time::HiRes qw(time);
use File::Basename qw(dirname);
use Cwd qw(abs_path);

my $client = abs_path(dirname(__FILE__) . '/../bin/migration-guard-check');

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1, extra => [ '--encoding=UTF8', '--locale=C' ]);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'migration_guard'");
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION migration_guard;
	CREATE TABLE big (id int, v text);
	INSERT INTO big SELECT g, 'v' || g FROM generate_series(1, 200000) g;
	ANALYZE big;
	SELECT format('CREATE TABLE l%s (id int)', g) FROM generate_series(1, 20) g \gexec
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

# --- check() is a query like any other: cancel and statement_timeout end it.
# A session holds ACCESS EXCLUSIVE on twenty tables; each statement of the
# script waits for one of them.
my $holder = $primary->background_psql('postgres');
$holder->query_safe('BEGIN; LOCK TABLE '
	  . join(', ', map { "l$_" } 1 .. 20)
	  . ' IN ACCESS EXCLUSIVE MODE');
my $locked_script = join(" ", map { "ALTER TABLE l$_ ALTER COLUMN id TYPE bigint;" } 1 .. 20);

# Runs SQL in psql, in the background; returns the harness and output refs.
sub start_psql
{
	my ($sql, $appname) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-A', '-t', '-d', $primary->connstr('postgres') . " application_name=$appname", '-c', $sql ],
		'>', \$out, '2>', \$err,
		IPC::Run::timeout(120));
	return ($h, \$out, \$err);
}

my $t0 = time;
my ($stdout_t, $stderr_t) = ('', '');
$primary->psql('postgres',
	"SET migration_guard.lock_timeout = '1s'; SET statement_timeout = '1500ms';
	 SELECT count(*) FROM migration_guard.check('$locked_script')",
	stdout => \$stdout_t, stderr => \$stderr_t, timeout => 120);
my $elapsed = time - $t0;
like($stderr_t, qr/canceling statement due to statement timeout/,
	'statement_timeout ends check(), it is not turned into a row');
cmp_ok($elapsed, '<', 5 * 1.5, 'and check() returns within about the timeout');

my ($h, $out, $err) = start_psql(
	"SET migration_guard.lock_timeout = '10s'; SELECT count(*) FROM migration_guard.check('$locked_script')",
	'mgcancel');
$primary->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'mgcancel' AND wait_event_type = 'Lock'")
  or die 'check() never waited for the lock';
$t0 = time;
$primary->safe_psql('postgres',
	"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'mgcancel'");
eval { $h->finish; };
$elapsed = time - $t0;
is($@, '', 'a cancelled check() returns');
like($$err, qr/canceling statement due to user request/, 'cancel ends check()');
cmp_ok($elapsed, '<', 10, 'at once, not after waiting for the other statements');

# --- Lock waits are bounded and reported, naming the relation; the check goes
# on with the next statement, and does not wait again for the same table.
my $lock_sql = q{SELECT stmt_no, verdict, rule, relation, message
	FROM migration_guard.check('CREATE INDEX ON l1 (id); CREATE INDEX ON big (v); ALTER TABLE l1 ADD COLUMN x int; CREATE INDEX ON l2 (id)')};
$t0 = time;
my $rows = $primary->safe_psql('postgres',
	"SET migration_guard.lock_timeout = '200ms'; $lock_sql", timeout => 120);
$elapsed = time - $t0;
like($rows, qr/^1\|error\|lock_wait\|public\.l1\|could not check: waited 200 ms for a lock on relation "public\.l1"/m,
	'a lock wait behind ACCESS EXCLUSIVE is a lock_wait row naming the relation');
like($rows, qr/^2\|reject\|blocking_index_build\|public\.big\|/m, 'the next statement is still checked');
like($rows, qr/^3\|error\|lock_wait\|public\.l1\|relation "public\.l1" is still locked/m,
	'a table that already timed out is not waited for again');
like($rows, qr/^4\|error\|lock_wait\|public\.l2\|/m, 'another locked table is waited for and reported too');
cmp_ok($elapsed, '<', 5, 'two short waits, not forever');

$t0 = time;
$rows = $primary->safe_psql('postgres',
	"SET migration_guard.lock_timeout = 0; SELECT verdict, rule, relation FROM migration_guard.check('CREATE INDEX ON l3 (id)')",
	timeout => 120);
$elapsed = time - $t0;
is($rows, 'error|lock_wait|public.l3', 'with migration_guard.lock_timeout = 0, check() still bounds its waits');
cmp_ok($elapsed, '<', 5, 'to 1 s');
$holder->query_safe('COMMIT');
$holder->quit;

# --- 100,000 statements, plain and mixed DDL: linear, so seconds, not minutes.
# (The time is not asserted beyond the 60 s timeout; it is in the README.)
my ($out100k, $timed_out) = ('', 0);
$primary->psql('postgres',
	q{SELECT count(*), count(DISTINCT stmt_no) FROM migration_guard.check(repeat('SELECT 1;', 100000))},
	stdout => \$out100k, timeout => 60, timed_out => \$timed_out);
ok(!$timed_out && $out100k eq '100000|100000', '100,000 statements are checked') or diag($out100k);
($out100k, $timed_out) = ('', 0);
$primary->psql('postgres',
	q{SELECT count(*), count(*) FILTER (WHERE verdict = 'error') FROM migration_guard.check((SELECT string_agg(format(
		'CREATE TABLE n%s (id int); ALTER TABLE big ADD COLUMN c%s int; CREATE INDEX ON n%s (id); ALTER TABLE big ALTER COLUMN c%s SET DEFAULT 1;',
		g, g, g, g), E'\n') FROM generate_series(1, 25000) g))},
	stdout => \$out100k, timeout => 60, timed_out => \$timed_out);
ok(!$timed_out && $out100k eq '100000|0', '100,000 mixed DDL statements are checked, script state included')
  or diag($out100k);

# --- The client.
# An unterminated quote at the end: the earlier rejections are still there.
my $tail = write_file('005_tail.sql', "ALTER TABLE big ADD COLUMN r float8 DEFAULT random();\nCREATE INDEX ON big (v);\nSELECT 'never closed;\n");
$primary->command_checks_all([ $client, $tail ], 1,
	[ qr/005_tail\.sql: 3 statements, 2 rejected, 0 warnings, 1 errors/,
	  qr/005_tail\.sql:1: REJECT \[table_rewrite\]/,
	  qr/005_tail\.sql:2: REJECT \[blocking_index_build\]/,
	  qr/005_tail\.sql:3: ERROR: unterminated quoted string/ ],
	[ qr/^$/ ], 'an unterminated quote at the end hides nothing before it');

# NOTICEs and WARNINGs of the server go to stderr and do not break the report.
my $notice = write_file('006_notice.sql', 'ALTER TABLE big ADD COLUMN ' . ('x' x 70) . " int;\nCREATE INDEX ON big (v);\nSELECT 'a\\\\b';\n");
{
	# 19 no longer has standard_conforming_strings = off, whose WARNING the
	# test provokes; there only the NOTICE is checked.
	my $pre19 = $primary->safe_psql('postgres', 'SHOW server_version_num') < 190000;
	local $ENV{PGOPTIONS} = $pre19 ? '-c standard_conforming_strings=off' : '';
	$primary->command_checks_all([ $client, $notice ], 1,
		[ qr/006_notice\.sql: 3 statements, 1 rejected, 0 warnings, 0 errors/,
		  qr/006_notice\.sql:2: REJECT \[blocking_index_build\]/ ],
		[ qr/NOTICE:  identifier "x{70}" will be truncated/,
		  $pre19 ? qr/WARNING:  nonstandard use of \\\\ in a string literal/ : qr// ],
		'NOTICE and WARNING: passed to stderr, the report is intact');
}

# A NUL byte: a clear error with its offset, exit 3, not a silently cut file.
my $nul = write_file('007_nul.sql', "ALTER TABLE big ADD COLUMN note3 text;\0CREATE INDEX ON big (v);\n");
$primary->command_checks_all([ $client, $nul ], 3, [ qr/1 file\(s\) could not be checked/ ],
	[ qr/file ".*007_nul\.sql" contains a NUL byte at offset 38/ ],
	'a NUL byte: exit 3 and its offset');

# LATIN1: invalid as UTF8 (the default) is a clear error; with --encoding it
# is read right.
my $latin1 = write_file('008_latin1.sql', "ALTER TABLE big ADD COLUMN label text DEFAULT '\xe9t\xe9';\nCREATE INDEX ON big (v);\n");
$primary->command_checks_all([ $client, $latin1 ], 3, [ qr/could not be checked/ ],
	[ qr/008_latin1\.sql" is not valid in encoding UTF8: invalid byte sequence for encoding "UTF8": 0xe9/,
	  qr/hint: name the file's encoding with --encoding/ ],
	'a LATIN1 file read as UTF8: exit 3 and a clear error');
IPC::Run::run([ $client, '--encoding', 'LATIN1', '--format', 'json', $latin1 ],
	'>', \$stdout, '2>', \$stderr,
	init => sub { $ENV{PGHOST} = $primary->host; $ENV{PGPORT} = $primary->port; });
$json = eval { decode_json($stdout) };
ok($json, 'LATIN1 with --encoding LATIN1: JSON parses') or diag($stdout, $stderr);
is($json->{files}[0]{findings}[0]{statement}, "ALTER TABLE big ADD COLUMN label text DEFAULT '\x{e9}t\x{e9}'",
	'and the text is read as LATIN1');
is($json->{files}[0]{findings}[1]{verdict}, 'reject', 'and checked');
$primary->command_checks_all([ $client, '--encoding', 'NO_SUCH', $latin1 ], 2, [ qr/^$/ ],
	[ qr/unrecognized encoding "NO_SUCH"/ ], 'an unknown encoding: usage error');

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
