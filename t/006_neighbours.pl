# The tools DBAs run beside the guard, in enforce mode: pg_repack (its
# private copies are exempt for superusers only), dump and restore three ways
# through the documented path, and pg_stat_statements and pgaudit preloaded
# before and after the guard.  Each part is skipped, and says so, when
# Debian's package for it is not installed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $bindir = `pg_config --bindir`;
chomp $bindir;
my $libdir = `pg_config --pkglibdir`;
chomp $libdir;
my $have_repack = -x "$bindir/pg_repack" && -f "$libdir/pg_repack.so";
my $have_pgaudit = -f "$libdir/pgaudit.so";
my $sharedir = `pg_config --sharedir`;
chomp $sharedir;
my $have_partman = -f "$sharedir/extension/pg_partman.control";

my $node = PostgreSQL::Test::Cluster->new('neighbours');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'migration_guard'
migration_guard.row_threshold = 1000
});
$node->start;

my $setup = q{
	BEGIN;
	CREATE TABLE big (id int PRIMARY KEY, v text, w int);
	INSERT INTO big SELECT g, 'v' || g, g % 7 FROM generate_series(1, 110000) g;
	CREATE INDEX big_v ON big (v);
	CREATE TABLE child (id int PRIMARY KEY, big_id int REFERENCES big);
	INSERT INTO child SELECT g, g FROM generate_series(1, 5000) g;
	COMMIT;
	ANALYZE;
};
$node->safe_psql('postgres', "CREATE EXTENSION migration_guard; $setup");

# The guard is on: a plain index build on big is rejected.
my ($ret, $out, $err) = $node->psql('postgres', 'CREATE INDEX big_w ON big (w)');
like($err, qr/would build an index on table "public.big"/, 'the guard is enforcing');

SKIP:
{
	skip 'pg_repack is not installed (Debian package postgresql-NN-repack)', 10 unless $have_repack;
	$node->safe_psql('postgres', 'CREATE EXTENSION pg_repack');
	my $filenode = sub {
		$node->safe_psql('postgres', q{SELECT relfilenode FROM pg_class WHERE oid = 'big'::regclass});
	};
	for my $opts ([ '-t', 'big' ], [ '-I', 'big' ], [ '-n', '-t', 'big' ], [ '-j', '2', '-t', 'big' ])
	{
		my $before = $filenode->();
		$node->command_ok([ 'pg_repack', '-h', $node->host, '-p', $node->port, '-d', 'postgres', @$opts ],
			"pg_repack @$opts succeeds in enforce mode");
		isnt($filenode->(), $before, "pg_repack @$opts really rewrote the table") if $opts->[0] ne '-I';
	}
	$node->command_ok([ 'pg_repack', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-x', '-t', 'big' ],
		'pg_repack -x (indexes only) succeeds');
	is($node->safe_psql('postgres',
		q{SELECT count(*) > 0 FROM migration_guard.audit WHERE reason = 'private working copy of pg_repack' AND action = 'allowed'}),
		't', 'the exempt builds are audited');

	# A migration role cannot use the exemption, even with CREATE on the
	# schema pg_repack uses.
	$node->safe_psql('postgres', q{
		CREATE ROLE migrator LOGIN;
		GRANT USAGE, CREATE ON SCHEMA repack TO migrator;
		SET ROLE migrator;
		CREATE TABLE repack.table_99 AS SELECT g AS id FROM generate_series(1, 20000) g;
		ANALYZE repack.table_99;
	});
	($ret, $out, $err) = $node->psql('postgres', 'CREATE INDEX ON repack.table_99 (id)',
		extra_params => [ '-U', 'migrator' ]);
	like($err, qr/would build an index on table "repack.table_99"/,
		'a non-superuser gets no exemption in pg_repack\'s schema');
}

# Dump and restore.  pg_restore's rejection explains the restore path; the
# documented path restores everything; a migration role cannot take it.
my $dump = $node->basedir . '/db.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-h', $node->host, '-p', $node->port, '-f', $dump,
	'-N', 'repack', 'postgres' ], 'pg_dump');
my $restored = sub {
	my ($db) = @_;
	return $node->safe_psql($db, q{SELECT (SELECT count(*) FROM pg_indexes WHERE tablename IN ('big', 'child'))}
		  . q{ || '/' || (SELECT count(*) FROM big) || '/' || (SELECT count(*) FROM pg_constraint WHERE contype = 'f')});
};
# pg_restore names itself unless PGAPPNAME says otherwise (the test
# framework sets it).
delete $ENV{PGAPPNAME};
$node->safe_psql('postgres', 'CREATE DATABASE r0; CREATE DATABASE r1; CREATE DATABASE r2; CREATE DATABASE r3; CREATE DATABASE r4');
$node->command_fails_like([ 'pg_restore', '-h', $node->host, '-p', $node->port, '-d', 'r0', '--exit-on-error', $dump ],
	qr/To restore a dump, run pg_restore as a superuser with PGOPTIONS/,
	'a guarded restore is rejected with the restore recipe in the hint');
{
	local $ENV{PGOPTIONS} = '-c migration_guard.mode=off';
	$node->command_ok([ 'pg_restore', '-h', $node->host, '-p', $node->port, '-d', 'r1', '--exit-on-error', $dump ],
		'pg_restore with the documented setting');
	$node->command_ok([ 'pg_restore', '-j', '2', '-h', $node->host, '-p', $node->port, '-d', 'r2', '--exit-on-error', $dump ],
		'pg_restore -j 2 with the documented setting');
}
$node->command_ok([ 'pg_restore', '--single-transaction', '-h', $node->host, '-p', $node->port, '-d', 'r3', '--exit-on-error', $dump ],
	'pg_restore --single-transaction needs no setting: the tables are new in its transaction');
is($restored->('r1'), '3/110000/1', 'plain restore: every index, row and foreign key');
is($restored->('r2'), '3/110000/1', 'parallel restore: every index, row and foreign key');
is($restored->('r3'), '3/110000/1', 'single-transaction restore: every index, row and foreign key');
is($node->safe_psql('postgres',
	q{SELECT count(*) > 0 FROM migration_guard.audit WHERE database = 'r1' AND action = 'allowed' AND application_name = 'pg_restore'}),
	't', 'the restore with the guard off is audited (the table is big by the default policy)');
$node->safe_psql('postgres', 'CREATE ROLE restorer LOGIN; ALTER DATABASE r4 OWNER TO restorer');
{
	local $ENV{PGOPTIONS} = '-c migration_guard.mode=off';
	$node->command_fails_like([ 'pg_restore', '-U', 'restorer', '-h', $node->host, '-p', $node->port, '-d', 'r4', $dump ],
		qr/permission denied to set parameter "migration_guard.mode"/,
		'a non-superuser cannot take the restore path');
}

# pg_partman: routine maintenance passes in enforce mode; with a big default
# partition it is rejected, and the error partman re-raises names the recipe.
SKIP:
{
	skip 'pg_partman is not installed (Debian package postgresql-NN-partman)', 3 unless $have_partman;
	$node->safe_psql('postgres', q{
		CREATE SCHEMA partman;
		CREATE EXTENSION pg_partman SCHEMA partman;
		CREATE TABLE events (id bigint, created_at timestamptz NOT NULL, v text) PARTITION BY RANGE (created_at);
		SELECT partman.create_parent('public.events', 'created_at', 'native', 'daily', p_premake := 3);
		INSERT INTO events SELECT g, now() + (g % 3) * interval '1 day', 'x' FROM generate_series(1, 20000) g;
		ANALYZE events;
		UPDATE partman.part_config SET premake = 6 WHERE parent_table = 'public.events';
	});
	($ret, $out, $err) = $node->psql('postgres', 'SELECT partman.run_maintenance()');
	is($ret, 0, 'routine partman maintenance passes in enforce mode');
	$node->safe_psql('postgres', q{
		INSERT INTO events_default SELECT g, now() + interval '60 days', 'x' FROM generate_series(1, 20000) g;
		ANALYZE events_default;
		UPDATE partman.part_config SET premake = 12 WHERE parent_table = 'public.events';
	});
	($ret, $out, $err) = $node->psql('postgres', 'SELECT partman.run_maintenance()');
	like($err, qr/would scan table "public.events_default"/, 'a big default partition stops the attach');
	like($err, qr/CHECK constraint that excludes the new partition.*with pg_partman, keep the default partition empty/s,
		'the error partman re-raises carries the recipe, partman included');
}

# pg_stat_statements and pgaudit, preloaded before and after the guard.
SKIP:
{
	skip 'pgaudit is not installed (Debian package postgresql-NN-pgaudit)', 8 unless $have_pgaudit;
	for my $order ('pg_stat_statements,pgaudit,migration_guard', 'migration_guard,pgaudit,pg_stat_statements')
	{
		$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = '$order'
pgaudit.log = 'ddl'
});
		$node->restart;
		$node->safe_psql('postgres', q{
			CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
			CREATE EXTENSION IF NOT EXISTS pgaudit;
			SELECT pg_stat_statements_reset();
		});
		my $logpos = -s $node->logfile;
		($ret, $out, $err) = $node->psql('postgres', 'CREATE INDEX big_w ON big (w)');
		like($err, qr/ERROR:  CREATE INDEX would build an index/, "$order: still rejected");
		($ret, $out, $err) = $node->psql('postgres', 'CREATE INDEX CONCURRENTLY big_w ON big (w)');
		is($ret, 0, "$order: the safe recipe runs");
		like(substr(slurp_file($node->logfile), $logpos), qr/AUDIT: SESSION,.*CREATE INDEX CONCURRENTLY big_w/,
			"$order: pgaudit logs the DDL that ran");
		is($node->safe_psql('postgres',
			q{SELECT count(*) > 0 FROM pg_stat_statements WHERE query LIKE 'CREATE INDEX CONCURRENTLY big_w%'}),
			't', "$order: pg_stat_statements counts it");
		$node->safe_psql('postgres', 'DROP INDEX big_w');
	}
}

$node->stop;
done_testing();
