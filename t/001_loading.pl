# Loading: without shared_preload_libraries the guard says so and its SQL
# functions refuse to run; with it, every database is guarded whether or not
# CREATE EXTENSION was run there; binary upgrade mode is left alone.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('loading');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE TABLE big (id int, v text);
	INSERT INTO big SELECT g, 'v' FROM generate_series(1, 200000) g;
	ANALYZE big;
});

# Not preloaded: CREATE EXTENSION warns, the functions error with a hint.
my ($ret, $stdout, $stderr) =
  $node->psql('postgres', 'CREATE EXTENSION migration_guard');
is($ret, 0, 'CREATE EXTENSION works without the preload');
like($stderr, qr/migration_guard is not loaded via "shared_preload_libraries"/,
	'CREATE EXTENSION warns that nothing is guarded');

($ret, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT * FROM migration_guard.estimate('big')});
isnt($ret, 0, 'estimate() refuses to run');
like($stderr, qr/must be loaded via "shared_preload_libraries"/, 'error names the setting');
like($stderr, qr/HINT:  Add migration_guard to "shared_preload_libraries" and restart the server/,
	'hint says how to fix it');
is($node->safe_psql('postgres', 'SELECT migration_guard.preloaded()'), 'f',
	'preloaded() reports false');

# A LOAD in one session does not half-enable the guard.
($ret, $stdout, $stderr) = $node->psql('postgres',
	q{LOAD 'migration_guard'; BEGIN; CREATE INDEX ON big (v); ROLLBACK;});
is($ret, 0, 'LOAD installs no hook');

# Preloaded: guarded everywhere, with or without the extension.
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'migration_guard'");
$node->restart;
is($node->safe_psql('postgres', 'SELECT migration_guard.preloaded()'), 't',
	'preloaded() reports true after restart');
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', q{
	CREATE TABLE big (id int, v text);
	INSERT INTO big SELECT g, 'v' FROM generate_series(1, 200000) g;
});
($ret, $stdout, $stderr) = $node->psql('other', 'CREATE INDEX ON big (v)');
isnt($ret, 0, 'guarded in a database without the extension');
like($stderr, qr/CREATE INDEX would build an index on table "public.big"/, 'with the guard\'s message');

# The extended query protocol, through pgbench.
my $script = $node->basedir . '/ddl.sql';
open(my $fh, '>', $script) or die;
print $fh "ALTER TABLE big ADD COLUMN r float8 DEFAULT random();\n";
close $fh;
for my $proto ('simple', 'extended', 'prepared')
{
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(
		[ 'pgbench', '-n', '-t', '1', '-M', $proto, '-f', $script,
		  '-h', $node->host, '-p', $node->port, 'other' ],
		'>', \$out, '2>', \$err);
	like($err, qr/would rewrite table "public.big"/, "rejected over the $proto protocol");
}

# Binary upgrade mode: pg_upgrade's own DDL is never touched.
# (pg_ctl directly: the test module has no way to pass -b.)
$node->stop;
system_or_bail('pg_ctl', '-w', '-D', $node->data_dir, '-l', $node->logfile,
	'-o', '-b', 'start');
# (A statement that creates no relation: those need preassigned OIDs there.)
($ret, $stdout, $stderr) = $node->psql('other',
	'BEGIN; ALTER TABLE big ADD CONSTRAINT pos CHECK (id > 0); ROLLBACK;');
is($ret, 0, 'nothing is guarded in binary upgrade mode') or diag($stderr);
system_or_bail('pg_ctl', '-w', '-D', $node->data_dir, '-m', 'fast', 'stop');
$node->start;
($ret, $stdout, $stderr) = $node->psql('other', 'CREATE INDEX ON big (v)');
isnt($ret, 0, 'guarded again after a normal start');

$node->stop;
done_testing();
