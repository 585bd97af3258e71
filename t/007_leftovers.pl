# What failed migrations leave behind, on a real server: a CREATE INDEX
# CONCURRENTLY cancelled while it waits for an older snapshot leaves an
# invalid index; the retry with IF NOT EXISTS is rejected with the recipe;
# migration_guard.leftovers lists the index with its fix, which works, and
# the retry then passes.  An interrupted REINDEX CONCURRENTLY leaves a
# "_ccnew" copy, NOT VALID constraints are listed, and a concurrent build
# that starts under a too short statement_timeout is warned about (and then
# cancelled by it, leaving an invalid index as predicted).
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('leftovers');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'migration_guard'");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION migration_guard;
	CREATE TABLE t (id int, v int);
	INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g;
});

# A session with an open snapshot: a concurrent build waits for it before
# it marks its index valid.
sub start_snapshot_holder
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-d', $node->connstr('postgres'), '-c',
		  'SELECT pg_sleep(600) /* holder */' ],
		'>', \$out, '2>', \$err);
	$node->poll_query_until('postgres', q{
		SELECT count(*) = 1 FROM pg_stat_activity
		 WHERE query LIKE 'SELECT pg_sleep(600) /* holder */%' AND backend_xmin IS NOT NULL})
	  or die 'snapshot holder did not start';
	return $h;
}

sub stop_snapshot_holder
{
	my ($h) = @_;
	$node->safe_psql('postgres', q{
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		 WHERE query LIKE 'SELECT pg_sleep(600) /* holder */%'});
	$h->finish;
}

# Run a concurrent build in the background until it waits for the holder's
# snapshot; return its harness and output buffers.
sub start_waiting_build
{
	my ($sql) = @_;
	my %io = (out => '', err => '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-d', $node->connstr('postgres'), '-c', $sql ],
		'>', \$io{out}, '2>', \$io{err});
	$node->poll_query_until('postgres', qq{
		SELECT count(*) = 1 FROM pg_stat_activity
		 WHERE query = '$sql' AND wait_event_type = 'Lock' AND wait_event = 'virtualxid'})
	  or die "build did not wait: $sql";
	return ($h, \%io);
}

sub cancel_build
{
	my ($sql, $h, $io) = @_;
	$node->safe_psql('postgres', qq{
		SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query = '$sql'});
	$h->finish;
	like($io->{err}, qr/canceling statement due to user request/, "cancelled: $sql");
}

sub leftovers
{
	my ($where) = @_;
	return $node->safe_psql('postgres',
		"SELECT kind, name, in_progress, detail, fix FROM migration_guard.leftovers WHERE $where ORDER BY kind, name COLLATE \"C\"");
}

# 1. CREATE INDEX CONCURRENTLY, cancelled in its last wait.
my $cic = 'CREATE INDEX CONCURRENTLY t_v ON t (v)';
my $holder = start_snapshot_holder();
my ($h, $io) = start_waiting_build($cic);
is(leftovers(q{name = 't_v'}), 'invalid_index|t_v|t|being built right now (see pg_stat_progress_create_index)|',
	'a build in progress is marked so, without a fix');
cancel_build($cic, $h, $io);
is($node->safe_psql('postgres',
		q{SELECT indisvalid, indisready, indislive FROM pg_index WHERE indexrelid = 't_v'::regclass}),
	'f|t|t', 'the cancelled build left an invalid index, ready for writes');
stop_snapshot_holder($holder);

my ($ret, $stdout, $stderr) = $node->psql('postgres',
	'CREATE INDEX CONCURRENTLY IF NOT EXISTS t_v ON t (v)');
isnt($ret, 0, 'the retry with IF NOT EXISTS is rejected');
like($stderr, qr/ERROR:  CREATE INDEX would keep invalid index "public.t_v"/, 'the error names the index');
like($stderr, qr/DETAIL:  It is left over from a CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY that was cancelled or failed \(a timeout, a deadlock, a duplicate key\) after building it/,
	'the detail says what happened');
like($stderr, qr/HINT:  Drop it with DROP INDEX CONCURRENTLY public.t_v; then build the index again/,
	'the hint gives the recipe');
unlike($stderr, qr/already exists, skipping/, 'PostgreSQL never got to skip it');

my $row = leftovers(q{name = 't_v'});
is($row,
	'invalid_index|t_v|f|built but not valid (cancelled or failed after the build): writes update it, queries never use it|'
	  . 'DROP INDEX CONCURRENTLY public.t_v; CREATE INDEX CONCURRENTLY t_v ON public.t USING btree (v);',
	'the view lists it with its fix');
my $fix = (split /\|/, $row)[4];
$node->safe_psql('postgres', $fix);
is($node->safe_psql('postgres', q{SELECT indisvalid FROM pg_index WHERE indexrelid = 't_v'::regclass}),
	't', 'the fix rebuilt the index, valid');
is(leftovers(q{name = 't_v'}), '', 'and the view no longer lists it');
($ret, $stdout, $stderr) = $node->psql('postgres',
	'CREATE INDEX CONCURRENTLY IF NOT EXISTS t_v ON t (v)');
is($ret, 0, 'the retry now passes');
like($stderr, qr/NOTICE:  relation "t_v" already exists, skipping/, 'with PostgreSQL\'s NOTICE');

# 2. REINDEX CONCURRENTLY, cancelled in its wait: a "_ccnew" copy.
my $reindex = 'REINDEX INDEX CONCURRENTLY t_v';
$holder = start_snapshot_holder();
($h, $io) = start_waiting_build($reindex);
cancel_build($reindex, $h, $io);
stop_snapshot_holder($holder);
is($node->safe_psql('postgres', q{
	SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	 WHERE i.indrelid = 't'::regclass ORDER BY 1}),
	"t_v|t\nt_v_ccnew|f", 'the interrupted REINDEX left t_v_ccnew, invalid, next to t_v');
$row = leftovers(q{kind = 'invalid_index'});
is($row,
	'invalid_index|t_v_ccnew|f|copy of index t_v left by an interrupted REINDEX CONCURRENTLY|DROP INDEX CONCURRENTLY public.t_v_ccnew;',
	'the view lists the copy: dropping it is the whole fix');
$node->safe_psql('postgres', (split /\|/, $row)[4]);
is(leftovers(q{kind = 'invalid_index'}), '', 'the copy is gone');

# 3. DROP INDEX CONCURRENTLY, cancelled in its second wait, after it marked
# the index dead: a reader that started before it holds it in the first
# wait, one that started during the first wait holds it in the second.
sub start_reader
{
	my ($tag) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-d', $node->connstr('postgres'), '-c',
		  "SELECT pg_sleep(600) FROM t LIMIT 1 /* $tag */" ],
		'>', \$out, '2>', \$err);
	$node->poll_query_until('postgres', qq{
		SELECT count(*) = 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		 WHERE l.relation = 't'::regclass AND l.granted
		   AND a.query LIKE '%/* $tag */%' AND a.pid <> pg_backend_pid()})
	  or die "reader $tag did not start";
	return $h;
}

sub stop_reader
{
	my ($tag, $h) = @_;
	$node->safe_psql('postgres', qq{
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		 WHERE query LIKE '%/* $tag */%' AND pid <> pg_backend_pid()});
	$h->finish;
}

$node->safe_psql('postgres', 'CREATE INDEX CONCURRENTLY t_w ON t (v, id)');
my $drop = 'DROP INDEX CONCURRENTLY t_w';
my $reader_a = start_reader('reader A');
($h, $io) = start_waiting_build($drop);
my $reader_b = start_reader('reader B');
stop_reader('reader A', $reader_a);
$node->poll_query_until('postgres',
	q{SELECT NOT indislive FROM pg_index WHERE indexrelid = 't_w'::regclass})
  or die 'DROP INDEX CONCURRENTLY did not mark the index dead';
$node->poll_query_until('postgres', qq{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE query = '$drop' AND wait_event_type = 'Lock' AND wait_event = 'virtualxid'})
  or die 'DROP INDEX CONCURRENTLY did not wait again';
cancel_build($drop, $h, $io);
stop_reader('reader B', $reader_b);
is($node->safe_psql('postgres',
		q{SELECT indisvalid, indisready, indislive FROM pg_index WHERE indexrelid = 't_w'::regclass}),
	'f|f|f', 'the interrupted DROP INDEX CONCURRENTLY left a dead index');
($ret, $stdout, $stderr) = $node->psql('postgres',
	'CREATE INDEX CONCURRENTLY IF NOT EXISTS t_w ON t (v, id)');
like($stderr, qr/DETAIL:  It is left over from an interrupted DROP INDEX CONCURRENTLY/,
	'the retry with IF NOT EXISTS is rejected, saying why');
$row = leftovers(q{kind = 'invalid_index'});
is($row,
	'invalid_index|t_w|f|left by an interrupted DROP INDEX CONCURRENTLY|DROP INDEX CONCURRENTLY public.t_w;',
	'the view lists the dead index: finishing the drop is the fix');
$node->safe_psql('postgres', (split /\|/, $row)[4]);
is(leftovers(q{kind = 'invalid_index'}), '', 'the dead index is gone');

# 4. NOT VALID constraints (NOT NULL ... NOT VALID from 18 on; NOT ENFORCED
# ones cannot be validated and are not listed).
$node->safe_psql('postgres',
	'ALTER TABLE t ADD CONSTRAINT t_id_positive CHECK (id > 0) NOT VALID');
my $expected = "not_valid_check|t_id_positive|f|NOT VALID: rows that existed when it was added were never checked|"
  . "ALTER TABLE public.t VALIDATE CONSTRAINT t_id_positive;";
if ($node->pg_version >= 18)
{
	$node->safe_psql('postgres', q{
		ALTER TABLE t ADD CONSTRAINT t_v_not_null NOT NULL v NOT VALID;
		ALTER TABLE t ADD CONSTRAINT t_unenforced CHECK (id < 0) NOT ENFORCED;
	});
	$expected .= "\nnot_valid_not_null|t_v_not_null|f|NOT VALID: rows that existed when it was added were never checked|"
	  . "ALTER TABLE public.t VALIDATE CONSTRAINT t_v_not_null;";
}
$row = leftovers(q{kind <> 'invalid_index'});
is($row, $expected, 'NOT VALID constraints are listed with their fix');
$node->safe_psql('postgres', join("\n", map { (split /\|/)[4] } split /\n/, $row));
is(leftovers(q{kind <> 'invalid_index'}), '', 'validated, they are gone');

# 5. A concurrent build under a statement_timeout shorter than it can take
# (at least its size at 128 MB/s): warned, then cancelled by the timeout,
# leaving the invalid index the warning predicted.
$node->safe_psql('postgres', q{
	CREATE TABLE big (id int, v text);
	INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 1000000) g;
	VACUUM ANALYZE big;
});
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	SET statement_timeout = '200ms';
	CREATE INDEX CONCURRENTLY big_v ON big (v);
});
like($stderr,
	qr/WARNING:  CREATE INDEX on table "public.big" would probably be cancelled by "statement_timeout"\nDETAIL:  Building the index concurrently takes at least [0-9.]+ s at 128 MB\/s, longer than "statement_timeout" \(200ms\); a cancelled build leaves an invalid index behind\./,
	'a concurrent build under a too short statement_timeout is warned about');
like($stderr, qr/HINT:  Run SET statement_timeout = 0/, 'with the recipe');
like($stderr, qr/ERROR:  canceling statement due to statement timeout/, 'and the timeout cancels it');
like(leftovers(q{name = 'big_v'}), qr/^invalid_index\|big_v\|f\|/, 'leaving an invalid index');
is($node->safe_psql('postgres', q{
	SELECT action, reason FROM migration_guard.audit
	 WHERE rule = 'concurrent_index_timeout' ORDER BY seq DESC LIMIT 1}),
	'warned|migration_guard.concurrent_index_timeout_action = warn', 'the warning is audited');
# No statement_timeout: no warning.
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	DROP INDEX CONCURRENTLY big_v;
	CREATE INDEX CONCURRENTLY big_v ON big (v);
});
is($ret, 0, 'without statement_timeout the build runs');
unlike($stderr, qr/statement_timeout/, 'without a warning');

$node->stop;
done_testing();
