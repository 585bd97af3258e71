# Fault injection for the audit trail: whatever happens to its files or its
# disk, the cluster starts and stays up, DDL is still judged, nothing is
# renumbered, and every loss is counted.  Also: who sees what, the rate
# limit per role, encodings.
#
# The full-disk case needs a tiny tmpfs; test/pg-installcheck.sh mounts one
# when it runs as root and passes it in MG_TEST_TINY_FS.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('faults');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'migration_guard'
migration_guard.row_threshold = 1000
restart_after_crash = on
});
$node->start;
my $dir = $node->data_dir . '/migration_guard';
$node->safe_psql('postgres', q{
	CREATE EXTENSION migration_guard;
	CREATE TABLE big (id int, v text);
	INSERT INTO big SELECT g, 'v' FROM generate_series(1, 5000) g;
	ANALYZE big;
});

my $reject = 'ALTER TABLE big ADD COLUMN r float8 DEFAULT random()';

# Run the rejected DDL; returns its stderr.
sub reject_once
{
	my ($db, %opts) = @_;
	my ($ret, $out, $err) = $node->psql($db // 'postgres', $reject, %opts);
	return $err;
}

sub status
{
	return $node->safe_psql('postgres',
		q{SELECT entries, write_failures, suppressed, damaged FROM migration_guard.audit_status()});
}

sub max_seq
{
	return $node->safe_psql('postgres', q{SELECT coalesce(max(seq), 0) FROM migration_guard.audit});
}

# The extension at its newest version has the new status columns.
$node->safe_psql('postgres', q{ALTER EXTENSION migration_guard UPDATE});

reject_once() for 1 .. 3;
is($node->safe_psql('postgres', 'SELECT count(*) FROM migration_guard.audit'), '3', 'three entries');

# 1. An unreadable directory: the cluster restarts, DDL is still rejected,
#    the failed writes are counted.
chmod 0000, $dir or die;
$node->restart;
like(reject_once(), qr/would rewrite table "public.big"/, 'rejected with an unreadable audit directory');
like(reject_once(), qr/would rewrite table "public.big"/, 'and again');
my $st = $node->safe_psql('postgres',
	q{SELECT write_failures, last_write_error IS NOT NULL FROM migration_guard.audit_status()});
is($st, '2|t', 'both failed writes are counted, with the error');
like(slurp_file($node->logfile), qr/could not open migration_guard audit file/,
	'the unreadable segment is reported in the log at startup');
chmod 0700, $dir or die;

# 2. A file where the directory should be.
rename $dir, "$dir.saved" or die;
open(my $fh, '>', $dir) or die;
print $fh "not a directory\n";
close $fh;
$node->restart;
like(reject_once(), qr/would rewrite table/, 'rejected with a file in place of the directory');
like(slurp_file($node->logfile), qr/"migration_guard" in the data directory is not a directory/,
	'the postmaster says what is wrong');
unlink $dir or die;
rename "$dir.saved", $dir or die;
$node->restart;
my $before = max_seq();

# 3. Garbage tail, a NUL byte, a torn line: the readable entries stay,
#    damaged lines are counted, numbering does not go back.
open($fh, '>>', "$dir/audit.current") or die;
print $fh "D\t1\tgarbage\n";
print $fh "complete garbage line\n";
print $fh "D\t99\x00999\tNUL inside\n";
print $fh "D\t5\ttorn line without newline";
close $fh;
$node->restart;
is($node->safe_psql('postgres', 'SELECT count(*) FROM migration_guard.audit'), '3',
	'the three entries are still read past the damage');
reject_once();
my $after3 = max_seq(); ok($after3 > $before, "numbering continues above the highest number issued ($before -> $after3)");
is($node->safe_psql('postgres', q{SELECT damaged >= 3 FROM migration_guard.audit_status()}), 't',
	'damaged lines are counted');

# 4. Deleted segments: numbering still never goes back.
$before = max_seq();
$node->stop;
unlink "$dir/audit.current", "$dir/audit.previous";
$node->start;
reject_once();
ok(max_seq() > $before, 'after deleting the segments, numbering continues above '. $before);
is($node->safe_psql('postgres', q{SELECT dropped > 0 FROM migration_guard.audit_status()}), 't',
	'the deleted entries show as dropped');

# 5. A segment far bigger than any line (1.1 GB, sparse): startup does not
#    fail and memory stays bounded.
$node->stop;
system('truncate', '-s', '1100M', "$dir/audit.previous") == 0 or die;
$node->start;
like(reject_once(), qr/would rewrite table/, 'cluster up and guarding with a 1.1 GB damaged segment');
unlink "$dir/audit.previous";

# 6. A FIFO instead of audit.current: no session hangs on it, and another
#    session's statement_timeout is honoured; the failure is counted.
unlink "$dir/audit.current";
system('mkfifo', "$dir/audit.current") == 0 or die;
my $t0 = time;
my ($fr, $fo, $err) = $node->psql('postgres', "SET statement_timeout = 2000; $reject");
ok(time - $t0 < 10, 'DDL does not hang on a FIFO');
like($err, qr/would rewrite table/, 'and is still rejected');
like($node->safe_psql('postgres', 'SELECT last_write_error FROM migration_guard.audit_status()'),
	qr/not a regular file|No such device/, 'the FIFO is reported as the write error');
$t0 = time;
$node->safe_psql('postgres', 'SELECT count(*) FROM migration_guard.audit');
ok(time - $t0 < 10, 'reading the trail does not hang on a FIFO either');
unlink "$dir/audit.current";

# 7. Full disk.
SKIP:
{
	my $tiny = $ENV{MG_TEST_TINY_FS};
	skip 'MG_TEST_TINY_FS not set (needs root to mount a tmpfs)', 6
	  unless $tiny && -d $tiny && -w $tiny;
	$node->stop;
	system("cp -a $dir/. $tiny/") == 0 or die;
	rename $dir, "$dir.saved" or die;
	symlink $tiny, $dir or die;
	$node->start;
	reject_once();
	# A new segment, so that no write fits in the slack of a page.
	rename "$tiny/audit.current", "$tiny/audit.previous" or die;
	my $filler = "$tiny/filler";
	system("dd if=/dev/zero of=$filler bs=4k >/dev/null 2>&1");
	my $fails_before = $node->safe_psql('postgres', 'SELECT write_failures FROM migration_guard.audit_status()');
	my @errs = map { reject_once() } 1 .. 5;
	like($errs[0], qr/would rewrite table/, 'rejected on a full disk');
	like($errs[0], qr/could not write migration_guard audit entry/, 'the first failure is reported');
	unlike($errs[1], qr/could not write migration_guard audit entry/, 'the next ones are not repeated');
	is($node->safe_psql('postgres', 'SELECT write_failures FROM migration_guard.audit_status()') - $fails_before,
		5, 'every failed write is counted');

	# No audit, no DDL: a warned statement does not run without its entry.
	my ($ret, $out, $e) = $node->psql('postgres', qq{
		SET migration_guard.audit_on_failure = reject;
		SET migration_guard.mode = warn;
		$reject;});
	like($e, qr/statement not run: its migration_guard audit entry could not be written/,
		'audit_on_failure = reject refuses a warned statement');

	unlink $filler;
	reject_once();
	like($node->safe_psql('postgres',
		q{SELECT reason FROM migration_guard.audit WHERE action = 'write_failed' ORDER BY seq DESC LIMIT 1}),
		qr/^6 entries could not be written/, 'a record in the trail says which entries were lost');
	$node->stop;
	unlink $dir;
	system("rm -rf $dir.saved && mkdir $dir && cp -a $tiny/. $dir/ && rm -rf $tiny/*") == 0 or die;
	chmod 0700, $dir;
	$node->start;
}

# 8. Who sees what: pg_stat_activity's rule.  A role named like its
#    database must not see others' statements; a role sees its own.
$node->safe_psql('postgres', q{
	CREATE ROLE shop LOGIN;
	CREATE DATABASE shop OWNER shop;
	CREATE ROLE deploy LOGIN;
	CREATE ROLE deploy_friend LOGIN IN ROLE deploy;
	GRANT EXECUTE ON FUNCTION migration_guard.audit_entries() TO shop, deploy, deploy_friend;
	GRANT SELECT ON migration_guard.audit TO shop, deploy, deploy_friend;
	CREATE TABLE deploy_big (id int);
	INSERT INTO deploy_big SELECT generate_series(1, 5000);
	ANALYZE deploy_big;
	ALTER TABLE deploy_big OWNER TO deploy;
});
$node->safe_psql('shop', q{CREATE EXTENSION migration_guard;
	GRANT EXECUTE ON FUNCTION migration_guard.audit_entries() TO shop;
	GRANT SELECT ON migration_guard.audit TO shop;});
reject_once();		# a superuser's statement
my ($r2, $o2, $e2) = $node->psql('postgres',
	q{SET migration_guard.override_reason = 'secret-ticket'; ALTER TABLE deploy_big ADD COLUMN r float8 DEFAULT random()},
	extra_params => [ '-U', 'deploy' ]);
like($e2, qr/would rewrite table "public.deploy_big"/, 'deploy is rejected');
my $q = q{SELECT count(*) FILTER (WHERE statement IS NOT NULL), count(*) FILTER (WHERE override_reason IS NOT NULL)
	FROM migration_guard.audit WHERE relation = 'public.big' AND session_user_name <> current_user};
is($node->safe_psql('shop', $q, extra_params => [ '-U', 'shop' ]), '0|0',
	'a role named like its database sees no other role\'s statement');
my $own = q{SELECT statement, override_reason FROM migration_guard.audit WHERE relation = 'public.deploy_big'};
is($node->safe_psql('postgres', $own, extra_params => [ '-U', 'deploy' ]),
	'ALTER TABLE deploy_big ADD COLUMN r float8 DEFAULT random()|secret-ticket', 'a role sees its own statement');
is($node->safe_psql('postgres', $own, extra_params => [ '-U', 'deploy_friend' ]),
	'ALTER TABLE deploy_big ADD COLUMN r float8 DEFAULT random()|secret-ticket', 'so do members of that role');
is($node->safe_psql('postgres', $own, extra_params => [ '-U', 'shop' ]), '|', 'others do not');

# 9. Rate limit per role: one role cannot flush the trail; the others'
#    entries stay, rejections are still raised, suppressed ones are counted.
$node->safe_psql('postgres', q{ALTER SYSTEM SET migration_guard.audit_rate_limit = 5; SELECT pg_reload_conf()});
$node->poll_query_until('postgres', q{SELECT current_setting('migration_guard.audit_rate_limit') = '5'})
  or die 'reload not seen';
my $deploy_before = $node->safe_psql('postgres',
	q{SELECT count(*) FROM migration_guard.audit WHERE session_user_name = 'deploy'});
my $supp_before = $node->safe_psql('postgres', 'SELECT suppressed FROM migration_guard.audit_status()');
my $rejections = 0;
for (1 .. 12)
{
	my ($r, $o, $e) = $node->psql('postgres', 'ALTER TABLE deploy_big ADD COLUMN r float8 DEFAULT random()',
		extra_params => [ '-U', 'deploy' ]);
	$rejections++ if $e =~ /would rewrite table/;
}
is($rejections, 12, 'every statement is still rejected');
my $deploy_after = $node->safe_psql('postgres',
	q{SELECT count(*) FROM migration_guard.audit WHERE session_user_name = 'deploy'});
ok($deploy_after - $deploy_before <= 5, 'at most the limit is written (' . ($deploy_after - $deploy_before) . ')');
ok($node->safe_psql('postgres', 'SELECT suppressed FROM migration_guard.audit_status()') - $supp_before >= 7,
	'the rest is counted as suppressed');
like(slurp_file($node->logfile), qr/audit entries of role "deploy" are being suppressed/,
	'the suppression is logged');
like(reject_once(), qr/would rewrite table/, 'a superuser is not limited');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET migration_guard.audit_rate_limit; SELECT pg_reload_conf()});

# 10. Encodings: a LATIN1 database writes, UTF-8 and LATIN1 readers read.
$node->safe_psql('postgres', q{CREATE DATABASE latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0});
$node->safe_psql('latin1', q{CREATE EXTENSION migration_guard});
{
	local $ENV{PGCLIENTENCODING} = 'LATIN1';
	$node->safe_psql('latin1', qq{CREATE TABLE "caf\xe9" (id int); INSERT INTO "caf\xe9" SELECT generate_series(1, 5000); ANALYZE "caf\xe9";});
	my ($r, $o, $e) = $node->psql('latin1', qq{ALTER TABLE "caf\xe9" ADD COLUMN r float8 DEFAULT random() -- \xe9t\xe9});
	like($e, qr/would rewrite table/, 'rejected in a LATIN1 database');
}
is($node->safe_psql('postgres', q{SELECT relation FROM migration_guard.audit WHERE database = 'latin1' ORDER BY seq DESC LIMIT 1}),
	"public.caf\xc3\xa9", 'stored as UTF-8, read correctly from a UTF-8 database');
{
	local $ENV{PGCLIENTENCODING} = 'LATIN1';
	my ($r, $o, $e) = $node->psql('latin1',
		q{SELECT relation, statement FROM migration_guard.audit WHERE database = 'latin1' ORDER BY seq DESC LIMIT 1});
	is($e, '', 'a LATIN1 client of a LATIN1 database reads the whole trail');
	like($o, qr/^public\.caf\xe9\|.*-- \xe9t\xe9$/, 'and gets its texts in LATIN1');
	($r, $o, $e) = $node->psql('postgres',
		q{SELECT relation, statement FROM migration_guard.audit WHERE database = 'latin1'});
	is($e, '', 'a LATIN1 client of a UTF-8 database reads the trail');
	like($o, qr/^public\.caf\xe9\|/, 'converted to the client encoding');
}
$node->safe_psql('postgres', qq{CREATE TABLE "\xe6\x9d\xb1" (id int); INSERT INTO "\xe6\x9d\xb1" SELECT generate_series(1, 5000); ANALYZE "\xe6\x9d\xb1";});
$node->psql('postgres', qq{ALTER TABLE "\xe6\x9d\xb1" ADD COLUMN r float8 DEFAULT random()});
is($node->safe_psql('latin1', q{SELECT relation FROM migration_guard.audit WHERE relation LIKE 'public.%' ORDER BY seq DESC LIMIT 1}),
	'public.?', 'a character LATIN1 lacks reads as "?" in a LATIN1 database');

# 11. Log line values are escaped.
$node->safe_psql('postgres', qq{CREATE TABLE "new\nline ""q""" (id int); INSERT INTO "new\nline ""q""" SELECT generate_series(1, 5000); ANALYZE "new\nline ""q""";});
$node->psql('postgres', qq{ALTER TABLE "new\nline ""q""" ADD COLUMN r float8 DEFAULT random()});
like(slurp_file($node->logfile), qr/MIGRATION_GUARD: action=rejected rule=table_rewrite relation="public\.new\\nline \\"q\\""/,
	'a newline and quotes in a table name are escaped in the log line');

# 12. SIGKILL while sessions are writing: the postmaster restarts every
#     session; whatever was half written is damage, never a duplicate or a
#     reused number.
{
	my $script = $node->basedir . '/reject_loop.sql';
	open(my $sfh, '>', $script) or die;
	print $sfh q{DO $$ BEGIN ALTER TABLE big ADD COLUMN r float8 DEFAULT random(); EXCEPTION WHEN SQLSTATE 'MG001' THEN NULL; END $$;}, "\n";
	close $sfh;
	my $max_before = max_seq();
	my ($bout, $berr) = ('', '');
	my $bench = IPC::Run::start(
		[ 'pgbench', '-n', '-c', '6', '-j', '6', '-T', '20', '-f', $script,
		  '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \$bout, '2>', \$berr);
	$node->poll_query_until('postgres', qq{SELECT max(seq) > $max_before + 50 FROM migration_guard.audit})
	  or die 'no entries from the writers';
	my $victim = $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE query LIKE 'DO $$ BEGIN ALTER TABLE big%' AND pid <> pg_backend_pid() LIMIT 1});
	die 'no writer to kill' unless $victim =~ /^\d+$/;
	kill 'KILL', $victim;
	$bench->finish;
	$node->poll_query_until('postgres', 'SELECT true') or die 'server did not come back';
	is($node->safe_psql('postgres', 'SELECT count(*) = count(DISTINCT seq) FROM migration_guard.audit'), 't',
		'no sequence number appears twice after a SIGKILL among writers');
	my $max_crash = max_seq();
	reject_once();
	ok(max_seq() > $max_crash, 'numbering continues above every number issued before the crash');
}

# 13. audit_max_size is bounded.
my ($rr, $oo, $ee) = $node->psql('postgres', q{ALTER SYSTEM SET migration_guard.audit_max_size = '2GB'});
like($ee, qr/outside the valid range/, 'audit_max_size above 1 GB is refused');

$node->stop;
done_testing();
