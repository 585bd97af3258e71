# Which locks the queue-free acquisition takes ahead of PostgreSQL, and
# which it leaves to PostgreSQL: what each statement's rules file records
# with its lock targets (who may lock them, the relation kinds the
# statement accepts, the order PostgreSQL locks them in).  A statement whose
# locks are taken ahead retries outside the lock manager while a reader is
# in the way (wait event type Extension, no ungranted lock); one left to
# PostgreSQL waits in its lock queue.  A statement that PostgreSQL rejects
# before it locks (no privilege, wrong relation kind, LOCK TABLE outside a
# transaction block) or that asks for PostgreSQL's own single attempt
# (NOWAIT) gets PostgreSQL's error at once, never a lock failure after the
# lock timeout.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('lock_ahead');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'migration_guard'
autovacuum = off
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION migration_guard;
CREATE ROLE mig;
CREATE TABLE t_rename (a int);
ALTER TABLE t_rename OWNER TO mig;
CREATE TABLE t_truncate (a int);
GRANT TRUNCATE ON t_truncate TO mig;
CREATE TABLE t_denied (a int);
CREATE TABLE t_trigger (a int);
GRANT TRIGGER ON t_trigger TO mig;
CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TABLE t_parent (id int PRIMARY KEY);
GRANT REFERENCES ON t_parent TO mig;
CREATE TABLE t_child (pid int);
ALTER TABLE t_child OWNER TO mig;
CREATE TABLE t_dropidx (a int);
CREATE INDEX i_dropidx ON t_dropidx (a);
ALTER TABLE t_dropidx OWNER TO mig;
CREATE TABLE t_reindex (a int);
CREATE INDEX i_reindex ON t_reindex (a);
ALTER TABLE t_reindex OWNER TO mig;
CREATE TABLE p_drop (a int) PARTITION BY RANGE (a);
CREATE TABLE p_drop_1 PARTITION OF p_drop FOR VALUES FROM (0) TO (10);
ALTER TABLE p_drop OWNER TO mig;
ALTER TABLE p_drop_1 OWNER TO mig;
CREATE TABLE t_lock (a int);
ALTER TABLE t_lock OWNER TO mig;
CREATE VIEW v_notable AS SELECT * FROM t_lock;
ALTER VIEW v_notable OWNER TO mig;
});

my $setup = "SET lock_timeout = 0; SET migration_guard.lock_timeout = '60s'; "
  . "SET migration_guard.idle_blocker_timeout = 0; "
  . "SET migration_guard.lock_wait = no_queue; SET ROLE mig;";

# Wait until the session with this application name is waiting; return its
# wait event type and whether it waits in the lock manager.
sub waiting_state
{
	my ($app) = @_;
	my $sql = "SELECT coalesce(wait_event_type, '-') || '|' || "
	  . "EXISTS (SELECT FROM pg_locks l WHERE l.pid = s.pid AND NOT l.granted) "
	  . "FROM pg_stat_activity s WHERE application_name = '$app' "
	  . "AND state = 'active'";
	for (1 .. 200)
	{
		my $r = $node->safe_psql('postgres', $sql);
		return $r if $r ne '' && $r !~ /^-\|/;
		select(undef, undef, undef, 0.05);
	}
	return 'not waiting';
}

# Run ddl as mig while a reader holds reader_lock; report how it waits,
# then let it finish and return its SQLSTATE.
sub wait_kind
{
	my ($name, $reader_lock, $ddl) = @_;
	my $reader = $node->background_psql('postgres');
	$reader->query_safe("BEGIN; $reader_lock");
	my $mig = $node->background_psql('postgres', on_error_stop => 0);
	$mig->query_safe("SET application_name = '$name'; $setup");
	$mig->query_until(qr/started/,
		"\\echo started\n$ddl\n\\echo ended :LAST_ERROR_SQLSTATE\n");
	my $state = waiting_state($name);
	$reader->query_safe('COMMIT;');
	my $out = $mig->query_until(qr/ended \w+/, '');
	$reader->quit;
	$mig->quit;
	my ($sqlstate) = $out =~ /ended (\w+)/;
	return ($state, $sqlstate);
}

# Ownership, a privilege instead of ownership, foreign keys, index targets.
my @ahead = (
	[ 'rename', 'LOCK TABLE t_rename IN ACCESS SHARE MODE;',
		'ALTER TABLE t_rename RENAME COLUMN a TO b;', 'RENAME by the owner' ],
	[ 'truncate', 'LOCK TABLE t_truncate IN ACCESS SHARE MODE;',
		'TRUNCATE t_truncate;', 'TRUNCATE with the TRUNCATE privilege' ],
	[ 'trigger', 'LOCK TABLE t_trigger IN ROW EXCLUSIVE MODE;',
		'CREATE TRIGGER tg BEFORE INSERT ON t_trigger FOR EACH ROW EXECUTE FUNCTION trg();',
		'CREATE TRIGGER with the TRIGGER privilege' ],
	[ 'fk', 'LOCK TABLE t_parent IN ROW EXCLUSIVE MODE;',
		'ALTER TABLE t_child ADD FOREIGN KEY (pid) REFERENCES t_parent;',
		'a foreign key: the referenced table with the REFERENCES privilege' ],
	[ 'dropidx', 'LOCK TABLE t_dropidx IN ACCESS SHARE MODE;',
		'DROP INDEX i_dropidx;', 'DROP INDEX: its table first' ],
	[ 'reindex', 'LOCK TABLE t_reindex IN ROW EXCLUSIVE MODE;',
		'REINDEX INDEX i_reindex;', 'REINDEX INDEX: its table first' ]);
foreach my $c (@ahead)
{
	my ($state, $sqlstate) = wait_kind($c->[0], $c->[1], $c->[2]);
	is($state, 'Extension|false', "$c->[3]: taken ahead, not in the lock queue");
	is($sqlstate, '00000', "$c->[3]: succeeds once the reader commits");
}

# DROP of a partition: PostgreSQL locks the parent first, so nothing ahead.
my ($state, $sqlstate) = wait_kind('droppart', 'LOCK TABLE p_drop IN ACCESS SHARE MODE;',
	'DROP TABLE p_drop_1;');
is($state, 'Lock|true', 'DROP of a partition: left to PostgreSQL, whose lock queue it waits in');
is($sqlstate, '00000', 'DROP of a partition: succeeds once the reader commits');

# PostgreSQL's own error, at once, while a reader holds the relation.
my @at_once = (
	[ 'LOCK TABLE t_lock IN ACCESS EXCLUSIVE MODE NOWAIT;', '55P03',
		'LOCK TABLE ... NOWAIT: PostgreSQL\'s single attempt', 1 ],
	[ 'LOCK TABLE t_lock IN ACCESS EXCLUSIVE MODE;', '25P01',
		'LOCK TABLE outside a transaction block: PostgreSQL\'s error', 0 ],
	[ 'TRUNCATE t_denied;', '42501',
		'TRUNCATE without the privilege: PostgreSQL\'s permission error', 0 ],
	[ 'DROP TABLE v_notable;', '42809',
		'DROP TABLE of a view: PostgreSQL\'s wrong-kind error', 0 ]);
foreach my $c (@at_once)
{
	my $reader = $node->background_psql('postgres');
	$reader->query_safe('BEGIN; LOCK TABLE t_lock IN ACCESS SHARE MODE; '
		  . 'LOCK TABLE t_denied IN ACCESS SHARE MODE; SELECT FROM v_notable;');
	my $sql = $c->[3] ? "BEGIN;\n$c->[0]\n\\echo ended :LAST_ERROR_SQLSTATE\nROLLBACK;\n"
	  : "$c->[0]\n\\echo ended :LAST_ERROR_SQLSTATE\n";
	my ($out, $err) = ('', '');
	my $t0 = time();
	$node->psql('postgres', "$setup\n$sql", stdout => \$out, stderr => \$err,
		on_error_stop => 0);
	my $secs = time() - $t0;
	$reader->query_safe('COMMIT;');
	$reader->quit;
	like($out, qr/ended $c->[1]/, "$c->[2] ($c->[1])");
	ok($secs < 10, "$c->[2]: at once, not after the lock timeout");
}

done_testing();
