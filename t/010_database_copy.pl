# ALTER DATABASE ... SET TABLESPACE is judged only where PostgreSQL would go
# on to copy the database.  PostgreSQL refuses the move while a client
# session is connected to the database: the guard then leaves it its own
# error.  Once the session is gone, the copy is judged on the database's
# files.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('database_copy');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'migration_guard'
allow_in_place_tablespaces = on
migration_guard.size_threshold = '1MB'
});
$node->start;
$node->safe_psql('postgres', "CREATE TABLESPACE spc LOCATION ''");
$node->safe_psql('postgres', 'CREATE DATABASE moved');

my $client = $node->background_psql('moved');
$client->query_safe('SELECT 1');
my ($ret, $out, $err) = $node->psql('postgres', 'ALTER DATABASE moved SET TABLESPACE spc');
like($err, qr/database "moved" is being accessed by other users/,
	'with a session in the database: PostgreSQL refuses');
unlike($err, qr/would copy database/, 'and the guard does not answer first');
$client->quit;

$node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = 'moved'})
  or die 'the session did not end';
($ret, $out, $err) = $node->psql('postgres', 'ALTER DATABASE moved SET TABLESPACE spc');
like($err, qr/ALTER DATABASE would copy database "moved" while nobody can connect to it/,
	'alone: the copy is judged');
like($err, qr/Its files take \d+ [kM]B, above "migration_guard.size_threshold" \(1024 kB\)/,
	'on the size of its files');
like($err, qr/HINT:  There is no online way to move a whole database/, 'with the recipe');
is($node->safe_psql('postgres',
		q{SELECT spcname FROM pg_database d JOIN pg_tablespace s ON s.oid = d.dattablespace WHERE datname = 'moved'}),
	'pg_default', 'and the database did not move');

$node->stop;
done_testing();
