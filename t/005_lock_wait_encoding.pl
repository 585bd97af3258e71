# The blocker report quotes the start of the blocking session's query.  Cut
# in the middle of a multibyte character, or holding a character that the
# client encoding cannot represent, it made sending the error fail, and a
# migration tool got 22021 or 22P05 instead of the 55P03 it retries on.
# Here the cut position (byte 57) falls inside a character, in a UTF8, a
# LATIN1 and a SQL_ASCII database, for UTF8 and LATIN1 clients: the DDL
# session gets 55P03 with the DETAIL, cut at a character boundary, and
# what the client encoding cannot represent shown as "?".
use strict;
use warnings;
use Encode ();
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('encoding');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'migration_guard'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION migration_guard');

for my $enc ('UTF8', 'LATIN1', 'SQL_ASCII')
{
	my $db = lc($enc) . '_db';
	$node->safe_psql('postgres',
		"CREATE DATABASE $db ENCODING '$enc' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
	$node->safe_psql($db,
		'CREATE EXTENSION migration_guard; CREATE TABLE t (id int); INSERT INTO t VALUES (1);');
}

# Characters, as bytes in each encoding
my %e_acute = (UTF8 => "\xc3\xa9", LATIN1 => "\xe9");
my $cjk_ri = "\xe6\x97\xa5";    # U+65E5, not in LATIN1
my $cjk_hon = "\xe6\x9c\xac";   # U+672C

# A blocker: holds ACCESS SHARE on t while its query, which starts with
# $comment, runs.  $comment is in the database's encoding.
sub start_blocker
{
	my ($db, $enc, $comment) = @_;
	my ($out, $err) = ('', '');
	local $ENV{PGCLIENTENCODING} = $enc;
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-d', $node->connstr($db), '-c',
		  "/* $comment */ SELECT pg_sleep(600) FROM t" ],
		'>', \$out, '2>', \$err);
	$node->poll_query_until($db, q{
		SELECT count(*) = 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		 WHERE l.relation = 't'::regclass AND l.granted
		   AND a.query LIKE '%pg_sleep(600)%' AND a.pid <> pg_backend_pid()})
	  or die "blocker did not start in $db";
	return $h;
}

sub stop_blocker
{
	my ($db, $h) = @_;
	$node->safe_psql($db, q{
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		 WHERE query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()});
	$h->finish;
	$node->poll_query_until($db,
		q{SELECT count(*) = 0 FROM pg_locks WHERE relation = 't'::regclass})
	  or die "blocker did not end in $db";
	return;
}

# The DDL session's error, as the client received it (bytes in $enc)
sub ddl_error
{
	my ($db, $enc) = @_;
	my ($out, $err) = ('', '');
	local $ENV{PGCLIENTENCODING} = $enc;
	$node->psql($db, qq{SET migration_guard.lock_timeout = '100ms';
\\set VERBOSITY verbose
ALTER TABLE t ADD COLUMN c int;},
		stdout => \$out, stderr => \$err);
	return $err;
}

# Check one case: the error is 55P03 and its DETAIL quotes $snippet (bytes
# in the client encoding).
sub check_case
{
	my ($name, $db, $enc, $snippet) = @_;
	my $err = ddl_error($db, $enc);

	like($err, qr/ERROR:  55P03: (?:canceling statement due to lock timeout|could not obtain lock on relation "public\.t")/,
		"$name: SQLSTATE 55P03");
	like($err,
		qr/DETAIL:  Waiting for AccessExclusiveLock on relation "public\.t": pid \d+ \(role "[^"]*", application "[^"]*", active for \d+ s, transaction age \d+ s\) holds AccessShareLock, query: \Q$snippet\E\.\.\.\.\n/,
		"$name: the DETAIL quotes the query up to a character boundary");
	if ($enc eq 'UTF8')
	{
		my $copy = $err;
		ok(eval { Encode::decode('UTF-8', $copy, Encode::FB_CROAK); 1 },
			"$name: the error is valid UTF8");
	}
	return;
}

my $pad50 = 'a' x 50;
my ($h, $comment);

# UTF8 database, é at bytes 56-57: the cut leaves it out.  U+65E5 before it
# reaches a UTF8 client as it is, a LATIN1 client as "?".
$comment = "$cjk_ri$pad50$e_acute{UTF8}";
$h = start_blocker('utf8_db', 'UTF8', $comment);
check_case('UTF8 database, UTF8 client, two-byte character at the cut',
	'utf8_db', 'UTF8', "/* $cjk_ri$pad50");
check_case('UTF8 database, LATIN1 client, two-byte character at the cut',
	'utf8_db', 'LATIN1', "/* ?$pad50");
stop_blocker('utf8_db', $h);

# UTF8 database, U+672C at bytes 55-57; é before it is shown, converted for
# the LATIN1 client.
$comment = "$e_acute{UTF8}$pad50$cjk_hon";
$h = start_blocker('utf8_db', 'UTF8', $comment);
check_case('UTF8 database, UTF8 client, three-byte character at the cut',
	'utf8_db', 'UTF8', "/* $e_acute{UTF8}$pad50");
check_case('UTF8 database, LATIN1 client, three-byte character at the cut',
	'utf8_db', 'LATIN1', "/* $e_acute{LATIN1}$pad50");
stop_blocker('utf8_db', $h);

# LATIN1 database: one byte per character, é at byte 56 is the last one
# kept.
$comment = "$e_acute{LATIN1}" . ('a' x 52) . "$e_acute{LATIN1}$e_acute{LATIN1}";
$h = start_blocker('latin1_db', 'LATIN1', $comment);
check_case('LATIN1 database, LATIN1 client',
	'latin1_db', 'LATIN1', "/* $e_acute{LATIN1}" . ('a' x 52) . $e_acute{LATIN1});
check_case('LATIN1 database, UTF8 client',
	'latin1_db', 'UTF8', "/* $e_acute{UTF8}" . ('a' x 52) . $e_acute{UTF8});
stop_blocker('latin1_db', $h);

# SQL_ASCII database: bytes, not characters, so the cut may split a UTF8
# sequence; a UTF8 client validates what it gets, so every non-ASCII byte
# is shown as "?".
$comment = "$cjk_ri$pad50$e_acute{UTF8}";
$h = start_blocker('sql_ascii_db', 'UTF8', $comment);
check_case('SQL_ASCII database, UTF8 client',
	'sql_ascii_db', 'UTF8', "/* ???$pad50?");
stop_blocker('sql_ascii_db', $h);

# The audit keeps the report as the server has it, in the database's
# encoding: U+65E5 and é, no "?".
is($node->safe_psql('utf8_db', q{
	SELECT count(*) FROM migration_guard.audit
	 WHERE rule = 'lock_wait' AND database = 'utf8_db' AND reason LIKE '%query: /* ' || chr(26085) || '%'}),
	'2', 'the audit reason has the query in the database encoding');

$node->stop;
done_testing();
