#!/usr/bin/perl
# compare.pl - the differential oracle's judge (see test/oracle/run.sh).
#
#   compare.pl --allowlist FILE --major N --results-a DIR --results-b DIR
#              --log OBSERVER_LOG [--findings FILE]
#
# 1. Output: each test's output with the guard (B) must equal the output
#    without it (A), except for the guard's own WARNING blocks (WARNING line
#    and its DETAIL/HINT/CONTEXT lines), which may only be added.
# 2. Verdicts: the observer's lines are grouped by top-level statement (a
#    statement with all utility statements it ran, nested in functions, DO
#    blocks or CREATE SCHEMA).  In each group:
#      observed work   = a relation that got a new relfilenode with data, an
#                        index build on a non-empty heap, or a sequential scan
#                        that returned rows, while this backend held SHARE or
#                        stronger on it (or on its heap / TOAST owner), on a
#                        relation that is neither temporary nor created in
#                        the same transaction;
#      prediction      = an MG001 warning of the rules table_rewrite,
#                        blocking_index_build or validation_scan;
#    and a work item is predicted when a warning names its relation, its
#    heap or TOAST owner, or one of their partition/inheritance ancestors.
#    Disagreements: "unpredicted" (observed work, no warning) and "false"
#    (a warning, and no work at all on that relation, its partitions,
#    indexes or TOAST).  Each must match an allow-list entry.
#
# Allow-list lines (test/oracle/allowlist), fields separated by " | ":
#    class | majors | test | command tag | relation | reason
# class is unpredicted, false or output; majors a comma list or *; test,
# tag and relation are shell globs (* and ?).  For "output" entries the
# tag and relation fields are *.  The reason is required.
use strict;
use warnings;
use Getopt::Long;
use JSON::PP;
use File::Temp qw(tempfile);

my ($allowfile, $major, $resa, $resb, $logfile, $findings);
GetOptions('allowlist=s' => \$allowfile, 'major=s' => \$major,
           'results-a=s' => \$resa, 'results-b=s' => \$resb,
           'log=s' => \$logfile, 'findings=s' => \$findings)
    or die "usage: see the header of $0\n";
die "usage: see the header of $0\n" unless $allowfile && $major && $resa && $resb && $logfile;

my $FIRST_NORMAL_OID = 16384;
my $SHARE_LOCK = 5;
my $ACCESS_EXCLUSIVE_LOCK = 8;
# Containers: the utility statements they run have records of their own,
# and the DML they run is judged by other rules than the DDL ones.
my %CONTAINER = map { $_ => 1 } ('DO', 'CALL');
my %PREDICTING_RULE = map { $_ => 1 } qw(table_rewrite blocking_index_build validation_scan);

# ---- allow-list ----
my @allow;
open(my $af, '<', $allowfile) or die "cannot open $allowfile: $!\n";
while (my $line = <$af>)
{
    chomp $line;
    next if $line =~ /^\s*(#|$)/;
    my @f = split /\s+\|\s+/, $line, 6;
    die "$allowfile:$.: expected 6 fields separated by \" | \"\n" unless @f == 6 && $f[5] =~ /\S/;
    die "$allowfile:$.: unknown class $f[0]\n" unless $f[0] =~ /^(unpredicted|false|output)$/;
    push @allow, { class => $f[0], majors => $f[1], test => glob_re($f[2]),
                   tag => glob_re($f[3]), rel => glob_re($f[4]), reason => $f[5],
                   line => $., used => 0 };
}
close $af;

sub glob_re
{
    my $g = shift;
    my $re = quotemeta($g);
    $re =~ s/\\\*/.*/g;
    $re =~ s/\\\?/./g;
    return qr/^$re$/;
}

sub allowed
{
    my ($class, $test, $tag, $rel) = @_;
    for my $a (@allow)
    {
        next unless $a->{class} eq $class;
        next unless $a->{majors} eq '*' || grep { $_ eq $major } split /,/, $a->{majors};
        next unless $test =~ $a->{test} && $tag =~ $a->{tag} && $rel =~ $a->{rel};
        $a->{used}++;
        return $a;
    }
    return undef;
}

my @report;          # lines for the findings file
my $unexplained = 0;

# ---- 1. outputs ----
my $GUARD_WARNING = qr/^WARNING:  .*(?:would (?:rewrite|copy database|build an index|scan|keep invalid|modify|read|work on|bring the rows|write WAL)|would probably be cancelled)/;

# Is a block of added lines made of the guard's warnings only?
sub guard_lines_only
{
    my @lines = @_;
    my $in_block = 0;
    my $in_context = 0;
    my $in_quote = 0;    # inside a quoted statement that spans lines
    for my $l (@lines)
    {
        if ($in_quote)
        {
            $in_quote = 0 if (($l =~ tr/"//) % 2) == 1;
            next;
        }
        if ($l =~ $GUARD_WARNING) { $in_block = 1; $in_context = 0; next; }
        return 0 unless $in_block;
        if ($l =~ /^(?:DETAIL|HINT):  /)
        {
            $in_context = 0;
            $in_quote = (($l =~ tr/"//) % 2) == 1;
            next;
        }
        if ($l =~ /^CONTEXT:  /) { $in_context = 1; next; }
        next if $in_context && $l =~ /^(?:PL\/pgSQL |SQL |extension script|while )/;
        return 0;
    }
    return 1;
}

# A copy of an output without the lines that name a TOAST table by its OID
# when a multi-table CLUSTER, VACUUM or ANALYZE skips it: which ones appear
# depends on the OIDs that parallel tests were given, in either run.
sub stable_copy
{
    my ($path) = @_;
    open(my $in, '<', $path) or die "cannot read $path: $!\n";
    my ($out, $name) = tempfile(UNLINK => 1);
    while (my $l = <$in>)
    {
        next if $l =~ /^WARNING:  permission denied to (?:cluster|vacuum|analyze) "pg_toast_\d+", skipping it$/;
        print $out $l;
    }
    close($out);
    close($in);
    return $name;
}

my ($nfiles, $ndiff) = (0, 0);
my %files;
opendir(my $da, $resa) or die "cannot open $resa: $!\n";
$files{$_} = 1 for grep { /\.out$/ } readdir $da;
closedir $da;
opendir(my $db, $resb) or die "cannot open $resb: $!\n";
$files{$_} = 1 for grep { /\.out$/ } readdir $db;
closedir $db;
for my $f (sort keys %files)
{
    (my $test = $f) =~ s/\.out$//;
    $nfiles++;
    my @bad;
    if (!-f "$resa/$f" || !-f "$resb/$f")
    {
        push @bad, "output missing in " . (-f "$resa/$f" ? "B" : "A");
    }
    else
    {
        open(my $d, '-|', 'diff', stable_copy("$resa/$f"), stable_copy("$resb/$f"))
          or die "cannot run diff: $!\n";
        my @hunk;
        my $head;
        my $flush = sub {
            return unless defined $head;
            if ($head =~ /^\d+(?:,\d+)?a\d+(?:,\d+)?$/ && guard_lines_only(@hunk))
            {
                # only guard warnings added
            }
            else
            {
                push @bad, "$head: " . join(' / ', map { substr($_, 0, 120) } @hunk[0 .. ($#hunk < 3 ? $#hunk : 3)]);
            }
        };
        while (my $l = <$d>)
        {
            chomp $l;
            if ($l =~ /^\d+(?:,\d+)?[acd]\d+(?:,\d+)?$/)
            {
                $flush->();
                $head = $l;
                @hunk = ();
            }
            elsif ($l =~ /^[<>] (.*)$/ || $l =~ /^([<>])$/)
            {
                push @hunk, ($l =~ /^> (.*)$/ ? $1 : "<A-only> " . substr($l, 2));
            }
        }
        $flush->();
        close $d;
    }
    next unless @bad;
    $ndiff++;
    my $a = allowed('output', $test, '*', '*');
    my $mark = $a ? "allowed (allowlist line $a->{line}: $a->{reason})" : "UNEXPLAINED";
    $unexplained++ unless $a;
    push @report, "output\t$test\t$mark\t" . scalar(@bad) . " hunk(s): $bad[0]";
}

# ---- 2. verdicts ----
my (%rec, %parent);
open(my $lf, '<', $logfile) or die "cannot open $logfile: $!\n";
my $json = JSON::PP->new;
my $nstmt = 0;
while (my $line = <$lf>)
{
    my $r = eval { $json->decode($line) };
    next unless $r;
    my $backend = "$r->{start}.$r->{pid}";
    $rec{$backend}{$r->{seq}} = $r;
    $parent{$backend}{$r->{seq}} = $r->{parent};
    $nstmt++;
}
close $lf;

sub root_of
{
    my ($backend, $seq) = @_;
    my $n = 0;
    while ($parent{$backend}{$seq} && $n++ < 1000)
    {
        my $p = $parent{$backend}{$seq};
        last unless exists $parent{$backend}{$p};
        $seq = $p;
    }
    return $parent{$backend}{$seq} || $seq;
}

my %group;
for my $backend (keys %rec)
{
    for my $seq (keys %{ $rec{$backend} })
    {
        my $root = root_of($backend, $seq);
        push @{ $group{"$backend.$root"} }, $rec{$backend}{$seq};
    }
}

sub nonempty
{
    my $w = shift;
    return $w->{kind} eq 'i' ? $w->{subjblocks} > 0 : $w->{blocks} > 0;
}

# Only REFRESH writes a materialized view: below ACCESS EXCLUSIVE its lock
# blocks nobody who reads it.
sub blocking
{
    my $w = shift;
    return $w->{subjkind} eq 'm' ? $w->{lockmode} >= $ACCESS_EXCLUSIVE_LOCK : $w->{lockmode} >= $SHARE_LOCK;
}

sub observed
{
    my $w = shift;
    return $w->{subject} >= $FIRST_NORMAL_OID && blocking($w) &&
        !$w->{temp} && !$w->{created} && nonempty($w);
}

sub covers
{
    my ($p, $w) = @_;
    if ($p->{rel})
    {
        return 1 if $p->{rel} == $w->{rel} || $p->{rel} == $w->{subject};
        return 1 if grep { $_ == $p->{rel} } @{ $w->{ancestors} };
    }
    else
    {
        return 1 if $p->{name} eq $w->{subjname} || $p->{name} eq $w->{name};
    }
    # the other tables its DETAIL says it works on (a foreign key's)
    for my $t (split /\|/, $p->{also} // '')
    {
        return 1 if $t eq $w->{subjname} || $t eq $w->{name};
    }
    return 0;
}

my %KIND = (r => 'new relfilenode', i => 'index build', s => 'scan');
my ($npred, $nobs, $nagree, $nunpred, $nfalse) = (0, 0, 0, 0, 0);
for my $g (sort keys %group)
{
    my @recs = sort { $a->{seq} <=> $b->{seq} } @{ $group{$g} };
    my $top = $recs[-1];
    (my $test = $top->{app} // '') =~ s{^pg_regress/}{};
    my (@preds, @work);
    for my $r (@recs)
    {
        push @preds, map { { %$_, tag => $r->{tag}, query => $r->{query} } }
            grep { $PREDICTING_RULE{ $_->{rule} } } @{ $r->{pred} };
        push @work, map { { %$_, tag => $r->{tag}, query => $r->{query} } } @{ $r->{work} }
            unless $CONTAINER{ $r->{tag} };
    }

    # observed work, one entry per subject relation
    my %obs;
    for my $w (grep { observed($_) } @work)
    {
        my $o = $obs{ $w->{subject} } //= { w => $w, kinds => {} };
        $o->{kinds}{ "$KIND{$w->{kind}}" . ($w->{rel} != $w->{subject} ? " of $w->{name}" : '') . " under $w->{lock}" } = 1;
    }
    for my $s (sort keys %obs)
    {
        my $w = $obs{$s}{w};
        $nobs++;
        if (grep { my $p = $_; grep { observed($_) && $_->{subject} == $s && covers($p, $_) } @work } @preds)
        {
            $nagree++;
            next;
        }
        $nunpred++;
        my $a = allowed('unpredicted', $test, $w->{tag}, $w->{subjname});
        $unexplained++ unless $a;
        my $mark = $a ? "allowed (allowlist line $a->{line}: $a->{reason})" : "UNEXPLAINED";
        push @report, join("\t", 'unpredicted', $test, $mark, $w->{tag}, $w->{subjname},
                           'observed: ' . join('; ', sort keys %{ $obs{$s}{kinds} }),
                           'predicted: nothing', $w->{query});
    }

    my %seen;
    for my $p (@preds)
    {
        my $key = "$p->{rule}/" . ($p->{rel} || $p->{name});
        next if $seen{$key}++;
        $npred++;
        next if grep { covers($p, $_) } @work;
        $nfalse++;
        my $a = allowed('false', $test, $p->{tag}, $p->{name});
        $unexplained++ unless $a;
        my $mark = $a ? "allowed (allowlist line $a->{line}: $a->{reason})" : "UNEXPLAINED";
        my @other = map { "$KIND{$_->{kind}} of $_->{name}" } @work;
        push @report, join("\t", 'false', $test, $mark, $p->{tag}, $p->{name},
                           'observed: ' . (@other ? join('; ', @other[0 .. ($#other < 4 ? $#other : 4)]) : 'nothing'),
                           "predicted: $p->{rule} ($p->{message})", $p->{query});
    }
}

if ($findings)
{
    open(my $ff, '>', $findings) or die "cannot write $findings: $!\n";
    print $ff "$_\n" for @report;
    close $ff;
}
for my $r (@report)
{
    print "[oracle $major] $r\n" if $r =~ /\tUNEXPLAINED\t/;
}
for my $a (@allow)
{
    next if $a->{used};
    next unless $a->{majors} eq '*' || grep { $_ eq $major } split /,/, $a->{majors};
    print "[oracle $major] note: allowlist line $a->{line} matched nothing\n";
}
my $nallowed = scalar(@report) - $unexplained;
print "[oracle $major] outputs: $nfiles files, $ndiff differ beyond the guard's warnings\n";
print "[oracle $major] statements: $nstmt, predicted: $npred, observed: $nobs, agreed: $nagree, "
    . "unpredicted: $nunpred, false predictions: $nfalse\n";
print "[oracle $major] disagreements and output differences: " . scalar(@report)
    . ", allow-listed: $nallowed, unexplained: $unexplained\n";
exit($unexplained ? 1 : 0);
