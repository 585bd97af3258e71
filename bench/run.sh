#!/bin/bash
# run.sh - measure what migration_guard costs, and write BENCHMARKS.md.
#
#   bench/run.sh
#
# As root on Debian 12 (issue #7).  Installs what is missing (PostgreSQL 15
# and its development files), builds migration_guard in a temporary copy of
# the tree and installs it.  Then, as the unprivileged user mgtest, it
# creates ONE throwaway cluster (own data directory, socket in a private
# directory, port 54330, no TCP) and measures the same PostgreSQL binary
# with and without migration_guard in shared_preload_libraries, restarted
# between the two configurations and interleaved A B A B ...:
#
#   1. OLTP: pgbench TPC-B-like and select-only;
#   2. DDL: bench/ddl.sql, cheap DDL on temporary and small tables; and
#      the same once more in one server session, the guard's analysis on
#      and off alternating (no restart noise);
#   3. time to verdict of a rejected rewrite and a rejected index build on
#      tables of 1 thousand, 1 million and 10 million rows, beside the time
#      the same statement holds its lock when the guard is off;
#   4. a perf profile of the server during 1 and 2, with the guard;
#   5. when the measured commit has them: the cost of an audit entry per
#      rejection (issue #3) and the time of migration_guard.check() on
#      scripts of 1 to 1000 statements (issue #5).
#
# Finally it writes BENCHMARKS.md at the top of the tree (medians, spread,
# every raw figure, the exact commands), stops the server and removes
# everything it created.  About 17 minutes on a 2-core machine.
#
# Settings (environment):
#   MG_BENCH_ROUNDS=6       interleaved rounds (each: one A and one B session)
#   MG_BENCH_DURATION=20    seconds per pgbench run
#   MG_BENCH_SCALE=10       pgbench scale
#   MG_BENCH_REPS=200       attempts per time-to-verdict case
#   MG_BENCH_BUDGET=1140    seconds; the slow 10M-row measurements are
#                           skipped when they would end after this
#   MG_BENCH_PORT=54330     never 5432
#   MG_BENCH_REF=HEAD       the commit to build; "worktree" builds the work
#                           tree as it is, uncommitted changes included
#   MG_BENCH_OUT=<file>     report file (default: BENCHMARKS.md)
#   MG_BENCH_KEEP=1         keep the temporary directory
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

PGBIN=/usr/lib/postgresql/15/bin
PORT=${MG_BENCH_PORT:-54330}
ROUNDS=${MG_BENCH_ROUNDS:-6}
DURATION=${MG_BENCH_DURATION:-20}
SCALE=${MG_BENCH_SCALE:-10}
REPS=${MG_BENCH_REPS:-200}
BUDGET=${MG_BENCH_BUDGET:-1140}
REF=${MG_BENCH_REF:-HEAD}
OUT=${MG_BENCH_OUT:-$repo/BENCHMARKS.md}
CLIENTS=2
user=mgtest

say() { printf '[%4ds] %s\n' "$SECONDS" "$*"; }
die() { say "ERROR: $*" >&2; exit 1; }

case "$PORT" in
    5432|55432) die "port $PORT belongs to another server; choose another MG_BENCH_PORT" ;;
esac

# ---------------------------------------------------------------- setup

if [ "$(id -u)" = 0 ]; then
    need=""
    for p in postgresql-15 postgresql-contrib postgresql-server-dev-15 build-essential; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need="$need $p"
    done
    if [ -n "$need" ]; then
        say "installing:$need"
        apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need
    fi
    id "$user" >/dev/null 2>&1 || useradd --system --create-home --shell /bin/bash "$user"
    as_user() { runuser -u "$user" -- env LC_ALL=C LANG=C "$@"; }
else
    user=$(id -un)
    as_user() { env LC_ALL=C LANG=C "$@"; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mg-bench.XXXXXX")
data=$work/data
sock=$work/sock
res=$work/res
server_up=0
bg_pids=""

cleanup() {
    local rc=$?
    for p in $bg_pids; do
        kill "$p" 2>/dev/null || true
    done
    if [ "$server_up" = 1 ] || [ -f "$data/postmaster.pid" ]; then
        as_user "$PGBIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 ||
            as_user "$PGBIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ "${MG_BENCH_KEEP:-0}" = 1 ]; then
        say "kept $work"
    else
        rm -rf "$work"
    fi
    [ "$rc" = 0 ] || say "failed (exit $rc)" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/src" "$work/lib" "$sock" "$res"

# -------------------------------------------------------------- build

# Default: the last commit, not the work tree, which other engineers may be
# editing while the benchmark runs.
if [ "$REF" != worktree ]; then
    git -C "$repo" archive "$REF" | tar -C "$work/src" -xf -
    subject=$(git -C "$repo" log -1 --format=%s "$REF")
    [ "${#subject}" -le 72 ] || subject="${subject:0:70}..."
    source_desc="commit $(git -C "$repo" rev-parse "$REF") (\"$subject\")"
else
    tar -C "$repo" --exclude=.git --exclude='tmp_*' --exclude=results --exclude=output_iso \
        --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . | tar -C "$work/src" -xf -
    head=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
    dirty=$(git -C "$repo" status --porcelain -- src Makefile migration_guard.control 'migration_guard--*.sql' 2>/dev/null |
        awk '{print $2}' | tr '\n' ' ' || true)
    if [ -n "$dirty" ]; then
        source_desc="work tree at commit $head, with uncommitted changes to: $dirty"
    else
        source_desc="work tree at commit $head (no uncommitted changes to the module)"
    fi
fi
say "building migration_guard ($source_desc)"
if ! (cd "$work/src" && make PG_CONFIG=$PGBIN/pg_config >"$work/build.log" 2>&1 &&
    make PG_CONFIG=$PGBIN/pg_config install >>"$work/build.log" 2>&1); then
    cat "$work/build.log"
    die "build failed"
fi
# The sessions with the guard preload this private copy by absolute path:
# a "make install" from another checkout while the benchmark runs cannot
# swap the binary between rounds.
cp "$work/src/migration_guard.so" "$work/lib/migration_guard.so"
so_sha=$(sha256sum "$work/lib/migration_guard.so" | awk '{print $1}')
cp "$repo/bench/ddl.sql" "$work/ddl.sql"
[ "$(id -u)" = 0 ] && chown -R "$user" "$work"
chmod 700 "$sock"

# ------------------------------------------------------------- cluster

say "initdb (as $user, port $PORT, socket in $sock)"
as_user "$PGBIN/initdb" -D "$data" --locale=C -E UTF8 -A trust >"$work/initdb.log"
cat >>"$data/postgresql.conf" <<EOF

# bench/run.sh: identical in both configurations
listen_addresses = ''
port = $PORT
unix_socket_directories = '$sock'
shared_buffers = 512MB
max_wal_size = 8GB
checkpoint_timeout = 30min
synchronous_commit = off
autovacuum = off
jit = off
log_min_messages = warning
# the only difference between A and B:
include 'bench_mode.conf'
EOF
server_conf=$(sed -n '/^# bench\/run.sh/,$p' "$data/postgresql.conf" | sed "s|$work|<tmp>|g")

psql_() { as_user "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$PORT" -d "${DB:-bench}" "$@"; }
DB=postgres

# start_server with|without
start_server() {
    if [ "$1" = with ]; then
        echo "shared_preload_libraries = '$work/lib/migration_guard.so'" >"$data/bench_mode.conf"
    else
        echo "shared_preload_libraries = ''" >"$data/bench_mode.conf"
    fi
    [ "$(id -u)" = 0 ] && chown "$user" "$data/bench_mode.conf"
    if ! as_user "$PGBIN/pg_ctl" -D "$data" -l "$work/server.log" -w -t 120 start >/dev/null; then
        tail -20 "$work/server.log" >&2
        die "the server did not start $1 the guard"
    fi
    server_up=1
    local mode
    mode=$(psql_ -At -c "SELECT coalesce(current_setting('migration_guard.mode', true), 'not loaded')")
    case "$1:$mode" in
        with:enforce|without:"not loaded") ;;
        *) die "server started $1 the guard, but migration_guard.mode is '$mode'" ;;
    esac
}
stop_server() {
    as_user "$PGBIN/pg_ctl" -D "$data" -m fast -w -t 120 stop >/dev/null
    server_up=0
}
load1() { cut -d' ' -f1 /proc/loadavg; }

start_server without
psql_ -c "CREATE DATABASE bench"
DB=bench
pg_version=$(psql_ -At -c "SELECT version()")
psql_ -c "CREATE EXTENSION pg_prewarm"
stop_server
# write back what the load dirtied, so that the first round does not pay for it
sync

# ------------------------------------------------------ rounds A B A B

# CPU seconds used so far by the server: the postmaster, its live children
# (checkpointer, WAL writer, ...) and the children it has reaped (every
# backend of a finished pgbench run), from /proc/<pid>/stat.
server_cpu() {
    local pm
    pm=$(head -1 "$data/postmaster.pid")
    { echo "$pm"; ps --ppid "$pm" -o pid=; } | while read -r p; do
        cat "/proc/$p/stat" 2>/dev/null || true
    done | awk -v hz="$(getconf CLK_TCK)" '
        { sub(/^[^)]*\) /, "") }          # fields now start at "state"
        NR == 1 { t += $14 + $15 }        # cutime, cstime: reaped children
        { t += $12 + $13 }                # utime, stime
        END { printf "%.2f\n", t / hz }'
}
# CPU seconds used by the whole machine (every process), from /proc/stat
machine_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '/^cpu / {printf "%.2f\n", ($2 + $3 + $4 + $7 + $8 + $9) / hz}' /proc/stat
}
# CPU seconds of this shell's waited-for children (pgbench among them), into
# CLIENT_CPU: "times" must run in this shell, not in a $(...) subshell.
client_cpu() {
    times >"$work/times"
    CLIENT_CPU=$(sed -n 2p "$work/times" | awk '{
        for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] }
        printf "%.3f\n", t }')
}
# prep "<statements>": run them one by one (VACUUM refuses a multi-statement
# string), quietly
prep() { { echo "SET client_min_messages = warning;"; echo "$1;"; } | psql_ >/dev/null; }

# One pgbench run: run_pgbench <workload> <cfg> <round> <pgbench args...>.
# Appends to raw.tsv: workload cfg round tps latency_ms transactions
# server_cpu_s client_cpu_s machine_cpu_s elapsed_s load1_before load1_after,
# and keeps the per-statement latencies (-r) of the run.
run_pgbench() {
    local wl=$1 cfg=$2 round=$3
    shift 3
    local log="$res/$wl.$cfg.$round.log" l0 l1 tps lat n s0 s1 c0 c1 m0 m1 e0 e1
    sleep 0.5                       # let the postmaster reap the last psql
    l0=$(load1); s0=$(server_cpu); m0=$(machine_cpu); e0=$(date +%s.%N)
    client_cpu; c0=$CLIENT_CPU
    if ! as_user env PGOPTIONS="${PGB_OPTIONS:-}" "$PGBIN/pgbench" -h "$sock" -p "$PORT" "$@" bench >"$log" 2>&1; then
        cat "$log"
        die "pgbench $wl failed"
    fi
    client_cpu; c1=$CLIENT_CPU
    e1=$(date +%s.%N)
    sleep 0.5                       # let the postmaster reap the backends
    s1=$(server_cpu); m1=$(machine_cpu); l1=$(load1)
    if grep -q 'aborted' "$log"; then
        cat "$log"
        die "pgbench $wl: a client aborted"
    fi
    tps=$(sed -nE 's/^tps = ([0-9.]+) \(without initial connection time\).*/\1/p' "$log")
    lat=$(sed -nE 's/^latency average = ([0-9.]+) ms.*/\1/p' "$log")
    n=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$log")
    [ -n "$tps" ] && [ -n "$n" ] || { cat "$log"; die "no tps in pgbench output"; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$wl" "$cfg" "$round" "$tps" "$lat" "$n" \
        "$(awk -v a="$s0" -v b="$s1" 'BEGIN {print b - a}')" \
        "$(awk -v a="$c0" -v b="$c1" 'BEGIN {print b - a}')" \
        "$(awk -v a="$m0" -v b="$m1" 'BEGIN {print b - a}')" \
        "$(awk -v a="$e0" -v b="$e1" 'BEGIN {print b - a}')" "$l0" "$l1" >>"$res/raw.tsv"
    # per-statement average latencies: "<ms> <failures> <command>"
    awk -v wl="$wl" -v cfg="$cfg" -v r="$round" '
        /statement latencies/ { on = 1; next }
        on && $1 ~ /^[0-9.]+$/ && $2 ~ /^[0-9]+$/ {
            cmd = $0; sub(/^ *[0-9.]+ +[0-9]+ +/, "", cmd)
            printf "%s\t%s\t%s\t%s\t%s\n", wl, cfg, r, cmd, $1 }' "$log" >>"$res/stmt.tsv"
    say "  $wl $cfg round $round: $tps tps, $(tail -1 "$res/raw.tsv" | awk -F'\t' '{o = ($9 - $7 - $8) / ($10 * ncpu) * 100; printf "%.1f µs server CPU per transaction, others used %.0f %% of the CPUs", $7 * 1e6 / $6, (o < 0) ? 0 : o}' ncpu="$NCPU")"
}

NCPU=$(nproc)
PGB_COMMON=(-n -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" -r)
cmd_tpcb="pgbench -b tpcb-like ${PGB_COMMON[*]} bench"
cmd_select="pgbench -S ${PGB_COMMON[*]} bench"
cmd_ddl="pgbench -f bench/ddl.sql ${PGB_COMMON[*]} bench"
prep_tpcb="VACUUM pgbench_branches, pgbench_tellers, pgbench_accounts; TRUNCATE pgbench_history; CHECKPOINT"
prep_select="CHECKPOINT"
prep_ddl="DROP TABLE IF EXISTS p_0, p_1; VACUUM FULL pg_class, pg_attribute, pg_type, pg_depend, pg_index, pg_attrdef, pg_constraint; CHECKPOINT"
: >"$res/raw.tsv"
: >"$res/stmt.tsv"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_rounds=$SECONDS
for round in $(seq 1 "$ROUNDS"); do
    for cfg in with without; do
        say "round $round/$ROUNDS, $cfg the guard"
        start_server "$cfg"
        # Fresh pgbench tables in every session: TPC-B's updates bloat
        # pgbench_accounts and its index run after run, which would make
        # each session slower than the one before.  The guard would reject
        # pgbench's own ADD PRIMARY KEY, hence mode = off for this client.
        as_user env PGOPTIONS="-c migration_guard.mode=off" "$PGBIN/pgbench" -i -q -s "$SCALE" \
            -h "$sock" -p "$PORT" bench >"$res/init.log" 2>&1 || { cat "$res/init.log"; die "pgbench -i failed"; }
        psql_ -c "CHECKPOINT"
        sync
        psql_ -At -c "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c WHERE c.relname LIKE 'pgbench%'" >/dev/null
        as_user "$PGBIN/pgbench" -h "$sock" -p "$PORT" -b tpcb-like -n -c "$CLIENTS" -j "$CLIENTS" -T 3 bench >/dev/null 2>&1
        prep "$prep_tpcb"
        run_pgbench tpcb "$cfg" "$round" -b tpcb-like "${PGB_COMMON[@]}"
        prep "$prep_select"
        run_pgbench select "$cfg" "$round" -S "${PGB_COMMON[@]}"
        prep "$prep_ddl"
        run_pgbench ddl "$cfg" "$round" -f "$work/ddl.sql" "${PGB_COMMON[@]}"
        stop_server
    done
done
t_rounds=$((SECONDS - t_rounds))

# ------------------------------------------------------------- perf

perf_note=""
start_server with
if command -v perf >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    # perf_profile <name> <pgbench args...>: 8 s of system-wide cpu-clock
    # samples in the middle of a 12 s run; report the share of each shared
    # object in the samples of the postgres processes.
    perf_profile() {
        local name=$1
        shift
        as_user "$PGBIN/pgbench" -h "$sock" -p "$PORT" -n -c "$CLIENTS" -j "$CLIENTS" -T 12 "$@" bench \
            >"$res/perf.$name.pgbench" 2>&1 &
        local pg=$!
        bg_pids="$bg_pids $pg"
        sleep 2
        perf record -q -e cpu-clock -F 999 -a -o "$work/perf.$name.data" -- sleep 8 >/dev/null 2>&1 ||
            perf_note="perf record failed"
        wait "$pg" || die "pgbench under perf failed"
        bg_pids=""
        perf report -i "$work/perf.$name.data" --stdio --comm postgres --sort dso \
            --percentage relative 2>/dev/null | grep -E '^ +[0-9.]+%' >"$res/perf.$name.dso" || true
        perf report -i "$work/perf.$name.data" --stdio --comm postgres --sort dso,sym \
            --percentage relative 2>/dev/null | grep -E '^ +[0-9.]+%' |
            grep 'migration_guard' | head -8 >"$res/perf.$name.sym" || true
        perf report -i "$work/perf.$name.data" --stdio --sort comm 2>/dev/null |
            grep -E '^ +[0-9.]+%' | head -6 >"$res/perf.$name.comm" || true
    }
    say "perf profile, with the guard: tpcb-like"
    prep "$prep_tpcb"
    perf_profile tpcb -b tpcb-like
    say "perf profile, with the guard: DDL"
    prep "$prep_ddl"
    perf_profile ddl -f "$work/ddl.sql"
else
    perf_note="perf is not installed (or not root): no profile"
fi

# -------------------------------------------------- time to verdict

# The DDL workload once more, in this one server session with the guard
# loaded: its analysis on (the defaults) and off, alternating.  No restart
# between the two, so none of the noise a restart brings.
SESS_PAIRS=6
SESS_T=4
off_options="-c migration_guard.mode=off"
if [ "$(psql_ -At -c "SELECT current_setting('migration_guard.audit', true) IS NOT NULL")" = t ]; then
    off_options+=" -c migration_guard.audit=off"
fi
say "DDL in one session, the guard's analysis on and off: $SESS_PAIRS pairs of ${SESS_T}s"
for round in $(seq 1 "$SESS_PAIRS"); do
    for cfg in with without; do
        prep "$prep_ddl"
        PGB_OPTIONS=""
        [ "$cfg" = without ] && PGB_OPTIONS=$off_options
        run_pgbench ddlsess "$cfg" "$round" -f "$work/ddl.sql" -n -c "$CLIENTS" -j "$CLIENTS" -T "$SESS_T" -r
    done
done
PGB_OPTIONS=""

say "loading the tables for time to verdict"
sizes="1k 1m"
declare -A nrows=([1k]=1000 [1m]=1000000 [10m]=10000000)
if [ "$SECONDS" -lt $((BUDGET - 150)) ]; then
    sizes="1k 1m 10m"
else
    verdict_note="The 10,000,000-row table was not loaded: at ${SECONDS}s the run would have exceeded its ${BUDGET}s budget."
fi
for s in $sizes; do
    t0=$SECONDS
    psql_ -c "CREATE TABLE big_$s (id bigint, v text, ts timestamptz, n numeric)" \
        -c "INSERT INTO big_$s SELECT g, md5(g::text), '2026-01-01'::timestamptz + g * interval '1 second', (g % 10000) / 100.0 FROM generate_series(1, ${nrows[$s]}) g" \
        -c "VACUUM ANALYZE big_$s"
    say "  big_$s: ${nrows[$s]} rows in $((SECONDS - t0))s"
done
psql_ -c "CHECKPOINT"
psql_ <<'SQL'
-- One attempt per iteration, each in its own subtransaction; the time is
-- taken from just before the statement to just after its MG001 error was
-- caught.  Any other outcome stops the benchmark.
CREATE FUNCTION bench_verdict(stmt text, reps int) RETURNS SETOF float8
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
BEGIN
    FOR i IN 1..reps LOOP
        t0 := clock_timestamp();
        BEGIN
            EXECUTE stmt;
            RAISE EXCEPTION 'statement was not rejected: %', stmt;
        EXCEPTION WHEN SQLSTATE 'MG001' THEN
            RETURN NEXT extract(epoch FROM clock_timestamp() - t0) * 1000;
        END;
    END LOOP;
END
$$;
SQL

stmt_rewrite() { echo "ALTER TABLE big_$1 ADD COLUMN r float8 DEFAULT random()"; }
stmt_index() { echo "CREATE INDEX ON big_$1 (v)"; }
session_set() { [ "$1" = 1k ] && echo "SET migration_guard.row_threshold = 500;" || true; }
# client-side timings: psql \timing around each statement, "Time: x ms"
times_of() { sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p'; }

: >"$res/verdict.tsv"
: >"$res/unguarded.tsv"
# measure_verdict <size> <rewrite|index> <key> <session SQL>: $REPS attempts
# server-side and $REPS client-side, into verdict.tsv under <key>
measure_verdict() {
    local s=$1 k=$2 key=$3 pre=$4 stmt n_err
    stmt=$(stmt_$k "$s")
    { echo "$pre"; echo "SELECT ms FROM bench_verdict(\$q\$$stmt\$q\$, $REPS) ms;"; } |
        psql_ -At | awk -v key="$key" -v k="$k" '{print key "\t" k "\tserver\t" $1}' >>"$res/verdict.tsv"
    {
        echo "$pre"
        printf '%s\n' '\set VERBOSITY sqlstate'
        printf '%s\n' '\timing on'
        for _ in $(seq 1 "$REPS"); do echo "$stmt;"; done
    } >"$work/client.sql"
    [ "$(id -u)" = 0 ] && chown "$user" "$work/client.sql"
    psql_ -v ON_ERROR_STOP=0 -f "$work/client.sql" >"$res/client.out" 2>"$res/client.err" || true
    n_err=$(grep -c 'ERROR:  MG001' "$res/client.err" || true)
    [ "$n_err" = "$REPS" ] || { head "$res/client.err"; die "expected $REPS MG001 errors, got $n_err"; }
    times_of <"$res/client.out" | awk -v key="$key" -v k="$k" '{print key "\t" k "\tclient\t" $1}' >>"$res/verdict.tsv"
}
# the audit trail (issue #3), when the measured commit has it, records
# every rejection: measure it separately on the 1M table
has_audit=$(psql_ -At -c "SELECT current_setting('migration_guard.audit', true) IS NOT NULL")
audit_setting=$(psql_ -At -c "SELECT coalesce(current_setting('migration_guard.audit', true), '')")
declare -A tbl_rows tbl_size sample
for s in $sizes; do
    tbl_rows[$s]=$(psql_ -At -c "SELECT reltuples::bigint FROM pg_class WHERE relname = 'big_$s'")
    tbl_size[$s]=$(psql_ -At -c "SELECT pg_size_pretty(pg_table_size('big_$s'))")
    for k in rewrite index; do
        say "  time to verdict, $s rows, $k: $REPS attempts server-side, $REPS client-side"
        # one rejection in full, for the report
        sample[$s.$k]=$( { session_set "$s"; echo "$(stmt_$k "$s");"; } | psql_ -v ON_ERROR_STOP=0 2>&1 |
            grep -E '^(psql:.*ERROR|DETAIL)' | sed -E 's/^psql:[^:]*:[0-9]+: //' | cut -c1-400 || true)
        measure_verdict "$s" "$k" "$s" "$(session_set "$s")"
        if [ "$s" = 1m ] && [ "$has_audit" = t ]; then
            say "  time to verdict, $s rows, $k, migration_guard.audit = off"
            measure_verdict "$s" "$k" "$s.noaudit" "SET migration_guard.audit = off;"
        fi
    done
done

# unguarded: how long the statement holds its lock, guard off, rolled back
declare -A ureps=([1k]=20 [1m]=5 [10m]=3)
declare -A ug_median
for s in $sizes; do
    for k in rewrite index; do
        n=${ureps[$s]}
        if [ "$s" = 10m ]; then
            # estimate from the 1M figure: 10x the rows, plus 50 %
            est=$(awk -v m="${ug_median[1m.$k]}" -v n="$n" 'BEGIN {printf "%d", m * 10 * n * 1.5 / 1000 + 5}')
            if [ $((SECONDS + est)) -gt "$BUDGET" ]; then
                say "  unguarded $s $k: skipped (about ${est}s would exceed the ${BUDGET}s budget)"
                echo -e "$s\t$k\tskipped\t$est" >>"$res/unguarded.tsv"
                continue
            fi
        fi
        say "  unguarded lock time, $s rows, $k: $n runs in BEGIN ... ROLLBACK, migration_guard.mode = off"
        {
            echo "SET migration_guard.mode = off;"
            for _ in $(seq 1 "$n"); do
                echo "BEGIN;"
                printf '%s\n' '\timing on'
                echo "$(stmt_$k "$s");"
                printf '%s\n' '\timing off'
                echo "ROLLBACK;"
            done
        } >"$work/unguarded.sql"
        [ "$(id -u)" = 0 ] && chown "$user" "$work/unguarded.sql"
        psql_ -f "$work/unguarded.sql" | times_of >"$res/ug.$s.$k"
        [ "$(wc -l <"$res/ug.$s.$k")" = "$n" ] || die "unguarded $s $k: expected $n timings"
        awk -v s="$s" -v k="$k" '{print s "\t" k "\tms\t" $1}' "$res/ug.$s.$k" >>"$res/unguarded.tsv"
        ug_median[$s.$k]=$(sort -g "$res/ug.$s.$k" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
    done
done
# preflight (issue #5), when the measured commit has migration_guard.check():
# its SQL objects are created from the install script with MODULE_PATHNAME
# pointing at the preloaded private copy (CREATE EXTENSION would bind them
# to $libdir's copy, which another checkout may have replaced).
has_preflight=f
: >"$res/preflight.tsv"
if grep -q "migration_guard_check" "$work/src/migration_guard--1.0.sql" 2>/dev/null; then
    has_preflight=t
    { echo "CREATE SCHEMA migration_guard;"
      sed -e '/^\\echo/d' -e "s|MODULE_PATHNAME|$work/lib/migration_guard.so|g" "$work/src/migration_guard--1.0.sql"
    } | psql_ >/dev/null 2>"$res/preflight.err" || { cat "$res/preflight.err"; die "could not create the SQL functions"; }
    for n in 1 10 100 1000; do
        f="$work/script.$n.sql"
        for i in $(seq 1 "$n"); do
            case $((i % 4)) in
                1) echo "ALTER TABLE big_1m ADD COLUMN c$i float8 DEFAULT random();" ;;
                2) echo "CREATE INDEX ON big_1m (v);" ;;
                3) echo "ALTER TABLE big_1k ADD COLUMN c$i int;" ;;
                0) echo "CREATE INDEX CONCURRENTLY ON big_1m (ts);" ;;
            esac
        done >"$f"
        [ "$(id -u)" = 0 ] && chown "$user" "$f"
        r=20
        say "  preflight: migration_guard.check() of a $n-statement script, $r times"
        {
            echo "SELECT count(*) FILTER (WHERE verdict = 'reject') AS rejected, count(*) AS findings FROM migration_guard.check(pg_read_file('$f'));"
            printf '%s\n' '\timing on'
            for _ in $(seq 1 "$r"); do echo "SELECT count(*) FROM migration_guard.check(pg_read_file('$f'));"; done
        } >"$work/preflight.sql"
        [ "$(id -u)" = 0 ] && chown "$user" "$work/preflight.sql"
        psql_ -At -f "$work/preflight.sql" >"$res/preflight.out"
        verdicts=$(head -1 "$res/preflight.out")
        times_of <"$res/preflight.out" | awk -v n="$n" -v v="$verdicts" '{print n "\t" v "\t" $1}' >>"$res/preflight.tsv"
    done
fi
stop_server
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
total=$SECONDS

# ------------------------------------------------------------- report

say "writing $OUT"

# stats: numbers on stdin -> "n median p95 min max mean q1 q3"
stats() {
    sort -g | awk '
        function q(p,   h, lo, hi) {
            h = 1 + p * (n - 1); lo = int(h); hi = (lo < n) ? lo + 1 : n
            return a[lo] + (h - lo) * (a[hi] - a[lo])
        }
        { a[NR] = $1; s += $1 }
        END {
            n = NR
            if (n == 0) { print "0 - - - - - - -"; exit }
            printf "%d %.6g %.6g %.6g %.6g %.6g %.6g %.6g\n", n, q(0.5), q(0.95), a[1], a[n], s / n, q(0.25), q(0.75)
        }'
}
col() { echo "$1" | awk -v i="$2" '{print $i}'; }
fmt() { awk -v x="$1" -v d="${2:-1}" 'BEGIN {printf "%.*f", d, x}'; }
pct() { awk -v r="$1" 'BEGIN {printf "%+.2f %%", (r - 1) * 100}'; }
# per-run figures: tps, server CPU µs per transaction, others' CPU share %
tps_of() { awk -F'\t' -v w="$1" -v c="$2" '$1 == w && $2 == c {print $4}' "$res/raw.tsv"; }
cpu_of() { awk -F'\t' -v w="$1" -v c="$2" '$1 == w && $2 == c {print $7 * 1e6 / $6}' "$res/raw.tsv"; }
# per-round ratios with/without, same round: field 4 (tps) or "cpu"
pair_ratios() {
    awk -F'\t' -v w="$1" -v f="$2" '$1 == w {
            v = (f == "cpu") ? $7 * 1e6 / $6 : $4
            t[$3 "." $2] = v; r[$3] = 1 }
        END {for (k in r) if ((k ".without") in t && (k ".with") in t) print t[k ".with"] / t[k ".without"]}' "$res/raw.tsv"
}
# per-round ratios (tps, CPU/txn) of the rounds where other jobs used less
# than $1 % of the CPUs in both sessions, all three runs of the workload
quiet_ratios() {
    awk -F'\t' -v w="$2" -v q="$1" -v ncpu="$NCPU" -v f="$3" '$1 == w {
            o = ($9 - $7 - $8) / ($10 * ncpu) * 100
            v = (f == "cpu") ? $7 * 1e6 / $6 : $4
            t[$3 "." $2] = v; if (o >= q) bad[$3] = 1; r[$3] = 1 }
        END {for (k in r) if (!(k in bad) && (k ".without") in t && (k ".with") in t) print t[k ".with"] / t[k ".without"]}' "$res/raw.tsv"
}
ratio_of() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.4f", a / b}'; }
within() { awk -v r="$1" -v t="$2" 'BEGIN {d = (r - 1) * 100; if (d < 0) d = -d; exit !(d <= t)}'; }

declare -A summary_rows missed perf_share
for name in tpcb ddl; do
    f="$res/perf.$name.dso"
    if [ -s "$f" ]; then
        perf_share[$name]=$(awk '$2 ~ /migration_guard/ {gsub("%", "", $1); v = $1} END {print (v == "") ? "0.00" : v}' "$f")
    fi
done
# the largest share of the CPUs other jobs used during the runs of a workload
others_max() {
    awk -F'\t' -v w="$1" -v ncpu="$NCPU" '$1 == w {o = ($9 - $7 - $8) / ($10 * ncpu) * 100; if (o > m) m = o}
        END {printf "%.0f", m}' "$res/raw.tsv"
}
straddles() { awk -v lo="$1" -v hi="$2" 'BEGIN {exit !(lo < 1 && hi > 1)}'; }
oltp_section() {
    local wl=$1 title=$2 target=$3 cmd=$4 intro=${5:-}
    local sw sn sr cw cn cr ratio cratio noise cnoise verdict cverdict
    sw=$(tps_of "$wl" with | stats)
    sn=$(tps_of "$wl" without | stats)
    sr=$(pair_ratios "$wl" 4 | stats)
    cw=$(cpu_of "$wl" with | stats)
    cn=$(cpu_of "$wl" without | stats)
    cr=$(pair_ratios "$wl" cpu | stats)
    ratio=$(ratio_of "$(col "$sw" 2)" "$(col "$sn" 2)")
    cratio=$(ratio_of "$(col "$cw" 2)" "$(col "$cn" 2)")
    # spread of the baseline itself: (max - min) / median of the runs without
    noise=$(awk -v lo="$(col "$sn" 4)" -v hi="$(col "$sn" 5)" -v m="$(col "$sn" 2)" 'BEGIN {printf "%.1f", (hi - lo) / m * 100}')
    cnoise=$(awk -v lo="$(col "$cn" 4)" -v hi="$(col "$cn" 5)" -v m="$(col "$cn" 2)" 'BEGIN {printf "%.1f", (hi - lo) / m * 100}')
    if within "$ratio" "$target"; then verdict="met"; else verdict="**missed**"; fi
    if within "$cratio" "$target"; then cverdict="met"; else cverdict="**missed**"; fi
    if [ "$verdict" != met ] || [ "$cverdict" != met ]; then
        local why
        why="$title: throughput with/without $ratio ($(pct "$ratio")), server CPU per transaction with/without $cratio ($(pct "$cratio")); target ±$target %."
        why+="  Per-round ratios range from $(fmt "$(col "$sr" 4)" 4) to $(fmt "$(col "$sr" 5)" 4) for throughput"
        why+=" and from $(fmt "$(col "$cr" 4)" 4) to $(fmt "$(col "$cr" 5)" 4) for CPU per transaction"
        if straddles "$(col "$sr" 4)" "$(col "$sr" 5)" && straddles "$(col "$cr" 4)" "$(col "$cr" 5)"; then
            why+=", on both sides of 1: no consistent difference."
        else
            why+="."
        fi
        why+="  Without the guard alone, throughput spreads $noise % and CPU per transaction $cnoise % (max − min over median); other jobs used up to $(others_max "$wl") % of the CPUs during these runs."
        if [ "$wl" = select ]; then
            why+="  This workload never reaches the guard's hook (it has no utility statement), so its ratio is the noise floor of the comparison itself."
        elif [ -n "${perf_share[$wl]:-}" ]; then
            why+="  perf attributes ${perf_share[$wl]} % of the server's CPU samples in this workload to migration_guard.so (below)."
        fi
        missed[$wl]=$why
    fi
    summary_rows[$wl]="| $title | $(fmt "$(col "$sw" 2)") tps, $(fmt "$(col "$cw" 2)") µs | $(fmt "$(col "$sn" 2)") tps, $(fmt "$(col "$cn" 2)") µs | $ratio ($(pct "$ratio")): $verdict | $cratio ($(pct "$cratio")): $cverdict | ±$target % |"
    {
        echo "### $title"
        echo
        [ -z "$intro" ] || printf '%s\n\n' "$intro"
        echo '```'
        echo "$cmd"
        echo '```'
        echo
        echo "| round | with: tps | with: server CPU µs/txn | with: others' CPU | without: tps | without: server CPU µs/txn | without: others' CPU | tps with/without | CPU/txn with/without |"
        echo "|---|---|---|---|---|---|---|---|---|"
        for r in $(seq 1 "$ROUNDS"); do
            awk -F'\t' -v w="$wl" -v r="$r" -v ncpu="$NCPU" '
                $1 == w && $3 == r { t[$2] = $4; c[$2] = $7 * 1e6 / $6; o[$2] = ($9 - $7 - $8) / ($10 * ncpu) * 100; if (o[$2] < 0) o[$2] = 0 }
                END { printf "| %d | %.1f | %.1f | %.0f %% | %.1f | %.1f | %.0f %% | %.4f | %.4f |\n", r, t["with"], c["with"], o["with"], t["without"], c["without"], o["without"], t["with"] / t["without"], c["with"] / c["without"] }' "$res/raw.tsv"
        done
        echo
        echo "| | median | min | max | IQR |"
        echo "|---|---|---|---|---|"
        echo "| tps with the guard | $(fmt "$(col "$sw" 2)") | $(fmt "$(col "$sw" 4)") | $(fmt "$(col "$sw" 5)") | $(fmt "$(col "$sw" 7)")–$(fmt "$(col "$sw" 8)") |"
        echo "| tps without | $(fmt "$(col "$sn" 2)") | $(fmt "$(col "$sn" 4)") | $(fmt "$(col "$sn" 5)") | $(fmt "$(col "$sn" 7)")–$(fmt "$(col "$sn" 8)") |"
        echo "| server CPU µs/txn with the guard | $(fmt "$(col "$cw" 2)") | $(fmt "$(col "$cw" 4)") | $(fmt "$(col "$cw" 5)") | $(fmt "$(col "$cw" 7)")–$(fmt "$(col "$cw" 8)") |"
        echo "| server CPU µs/txn without | $(fmt "$(col "$cn" 2)") | $(fmt "$(col "$cn" 4)") | $(fmt "$(col "$cn" 5)") | $(fmt "$(col "$cn" 7)")–$(fmt "$(col "$cn" 8)") |"
        echo
        echo "- Throughput, ratio of the medians with/without: **$ratio** ($(pct "$ratio")); target ±$target %: $verdict."
        echo "  Per-round ratios: median $(fmt "$(col "$sr" 2)" 4), min $(fmt "$(col "$sr" 4)" 4), max $(fmt "$(col "$sr" 5)" 4)."
        echo "  The runs without the guard alone spread $noise % (max − min over median)."
        echo "- Server CPU per transaction, ratio of the medians with/without: **$cratio** ($(pct "$cratio")); $cverdict."
        echo "  Per-round ratios: median $(fmt "$(col "$cr" 2)" 4), min $(fmt "$(col "$cr" 4)" 4), max $(fmt "$(col "$cr" 5)" 4)."
        echo "  The runs without the guard alone spread $cnoise %."
        local qt qc
        qt=$(quiet_ratios 5 "$wl" 4 | stats)
        qc=$(quiet_ratios 5 "$wl" cpu | stats)
        if [ "$(col "$qt" 1)" -gt 0 ]; then
            echo "- Only the $(col "$qt" 1) rounds in which other jobs used under 5 % of the CPUs in both sessions:"
            echo "  throughput ratio median $(fmt "$(col "$qt" 2)" 4) (min $(fmt "$(col "$qt" 4)" 4), max $(fmt "$(col "$qt" 5)" 4)),"
            echo "  CPU per transaction ratio median $(fmt "$(col "$qc" 2)" 4) (min $(fmt "$(col "$qc" 4)" 4), max $(fmt "$(col "$qc" 5)" 4))."
        else
            echo "- No round had other jobs under 5 % of the CPUs in both sessions."
        fi
        echo
        echo "Average latency per statement (pgbench -r), median over the rounds:"
        echo
        echo "| statement | with, ms | without, ms | with − without, µs |"
        echo "|---|---|---|---|"
        awk -F'\t' -v w="$wl" '$1 == w {print $4}' "$res/stmt.tsv" | awk '!seen[$0]++' | while IFS= read -r c; do
            a=$(awk -F'\t' -v w="$wl" -v c="$c" '$1 == w && $2 == "with" && $4 == c {print $5}' "$res/stmt.tsv" | stats)
            b=$(awk -F'\t' -v w="$wl" -v c="$c" '$1 == w && $2 == "without" && $4 == c {print $5}' "$res/stmt.tsv" | stats)
            d=$(awk -v x="$(col "$a" 2)" -v y="$(col "$b" 2)" 'BEGIN {printf "%+.0f", (x - y) * 1000}')
            printf '| `%s` | %.3f | %.3f | %s |\n' "${c//|/\\|}" "$(col "$a" 2)" "$(col "$b" 2)" "$d"
        done
        echo
    } >>"$res/oltp.md"
}
: >"$res/oltp.md"
{
    echo "## 1. OLTP overhead"
    echo
    echo "Target: with/without within ±1 %."
    echo
} >>"$res/oltp.md"
oltp_section tpcb "TPC-B-like" 1 "$cmd_tpcb"
oltp_section select "select-only" 1 "$cmd_select"
{
    echo "## 2. DDL overhead"
    echo
    echo "Target: with/without within ±3 %.  One pgbench transaction is the 10"
    echo "statements of [bench/ddl.sql](bench/ddl.sql), each in its own transaction"
    echo "(autocommit):"
    echo
    echo '```sql'
    grep -v '^--' "$repo/bench/ddl.sql"
    echo '```'
    echo
} >>"$res/oltp.md"
oltp_section ddl "DDL (bench/ddl.sql)" 3 "$cmd_ddl"
sess_intro="The server is restarted between the sessions above, and a restart alone
moves these figures by several per cent (see the select-only control).
Here the same workload runs $SESS_PAIRS times with the guard's analysis on and
off, alternating, in one session of the server with the guard loaded.
\"with\" is the defaults (\`migration_guard.mode = enforce\`${audit_setting:+,
\`audit = $audit_setting\`}); \"without\" is
\`PGOPTIONS='$off_options'\`: the hook is still called, but judges
nothing and audits nothing."
ROUNDS_SAVED=$ROUNDS
ROUNDS=$SESS_PAIRS
oltp_section ddlsess "DDL in one server session, the guard's analysis on/off" 3 \
    "PGOPTIONS='<on: empty; off: $off_options>' pgbench -f bench/ddl.sql -n -c $CLIENTS -j $CLIENTS -T $SESS_T -r bench" \
    "$sess_intro"
ROUNDS=$ROUNDS_SAVED

# time to verdict
verdict_md=""
verdict_md+="| table | rows | size | statement | server-side median | p95 | min | max | client-side median | p95 | unguarded: lock held, median | min | max | runs |"$'\n'
verdict_md+="|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"$'\n'
verdict_ok=1
declare -A vmed umed
for s in $sizes; do
    for k in rewrite index; do
        sv=$(awk -F'\t' -v s="$s" -v k="$k" '$1 == s && $2 == k && $3 == "server" {print $4}' "$res/verdict.tsv" | stats)
        cv=$(awk -F'\t' -v s="$s" -v k="$k" '$1 == s && $2 == k && $3 == "client" {print $4}' "$res/verdict.tsv" | stats)
        vmed[$s.$k]=$(col "$cv" 2)
        awk -v a="$(col "$sv" 2)" -v b="$(col "$cv" 2)" 'BEGIN {exit !(a < 5 && b < 5)}' || verdict_ok=0
        if awk -F"\t" -v s="$s" -v k="$k" '$1 == s && $2 == k && $3 == "skipped" {f = 1} END {exit !f}' "$res/unguarded.tsv"; then
            ug="skipped (time budget) | | | 0"
            umed[$s.$k]="skipped (time budget)"
        else
            uv=$(awk -F'\t' -v s="$s" -v k="$k" '$1 == s && $2 == k && $3 == "ms" {print $4}' "$res/unguarded.tsv" | stats)
            ug="$(fmt "$(col "$uv" 2)" 1) ms | $(fmt "$(col "$uv" 4)" 1) | $(fmt "$(col "$uv" 5)" 1) | $(col "$uv" 1)"
            umed[$s.$k]="$(fmt "$(col "$uv" 2)" 1) ms"
        fi
        verdict_md+="| big_$s | ${tbl_rows[$s]} | ${tbl_size[$s]} | \`$(stmt_$k "$s")\` | $(fmt "$(col "$sv" 2)" 3) ms | $(fmt "$(col "$sv" 3)" 3) | $(fmt "$(col "$sv" 4)" 3) | $(fmt "$(col "$sv" 5)" 3) | $(fmt "$(col "$cv" 2)" 3) ms | $(fmt "$(col "$cv" 3)" 3) | $ug |"$'\n'
    done
done
# flat in table size: the largest median at most twice the smallest, or 1 ms apart
flat=$(for s in $sizes; do for k in rewrite index; do echo "${vmed[$s.$k]}"; done; done | sort -g |
    awk 'NR == 1 {lo = $1} {hi = $1} END {print (hi <= 2 * lo || hi - lo < 1) ? "flat" : "not flat"; }')
vrange=$(for s in $sizes; do for k in rewrite index; do echo "${vmed[$s.$k]}"; done; done | sort -g |
    awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.3f–%.3f ms", lo, hi}')
if [ "$verdict_ok" = 1 ] && [ "$flat" = flat ]; then
    vverdict="met"
else
    vverdict="**missed**"
    missed[verdict]="Time to verdict: medians $vrange, $flat in table size (target: under 5 ms and flat)."
fi
vsummary="| table | rows | rewrite rejected in | rewrite unguarded: lock held | index build rejected in | index build unguarded: lock held |"$'\n'
vsummary+="|---|---|---|---|---|---|"$'\n'
for s in $sizes; do
    vsummary+="| big_$s | ${tbl_rows[$s]} | $(fmt "${vmed[$s.rewrite]}" 3) ms | ${umed[$s.rewrite]} | $(fmt "${vmed[$s.index]}" 3) ms | ${umed[$s.index]} |"$'\n'
done

audit_md=""
if [ "$has_audit" = t ]; then
    audit_md+="| statement on big_1m | audit = $audit_setting: server-side median | audit = off | difference | audit = $audit_setting: client-side median | audit = off | difference |"$'\n'
    audit_md+="|---|---|---|---|---|---|---|"$'\n'
    for k in rewrite index; do
        a1=$(awk -F'\t' -v k="$k" '$1 == "1m" && $2 == k && $3 == "server" {print $4}' "$res/verdict.tsv" | stats)
        a0=$(awk -F'\t' -v k="$k" '$1 == "1m.noaudit" && $2 == k && $3 == "server" {print $4}' "$res/verdict.tsv" | stats)
        b1=$(awk -F'\t' -v k="$k" '$1 == "1m" && $2 == k && $3 == "client" {print $4}' "$res/verdict.tsv" | stats)
        b0=$(awk -F'\t' -v k="$k" '$1 == "1m.noaudit" && $2 == k && $3 == "client" {print $4}' "$res/verdict.tsv" | stats)
        audit_md+="| \`$(stmt_$k 1m)\` | $(fmt "$(col "$a1" 2)" 3) ms | $(fmt "$(col "$a0" 2)" 3) ms | $(awk -v x="$(col "$a1" 2)" -v y="$(col "$a0" 2)" 'BEGIN {printf "%+.3f", x - y}') ms | $(fmt "$(col "$b1" 2)" 3) ms | $(fmt "$(col "$b0" 2)" 3) ms | $(awk -v x="$(col "$b1" 2)" -v y="$(col "$b0" 2)" 'BEGIN {printf "%+.3f", x - y}') ms |"$'\n'
    done
fi
preflight_md=""
if [ "$has_preflight" = t ]; then
    preflight_md+="| statements in the script | findings (rejected) | runs | median | min | max | per statement |"$'\n'
    preflight_md+="|---|---|---|---|---|---|---|"$'\n'
    for n in 1 10 100 1000; do
        pv=$(awk -F'\t' -v n="$n" '$1 == n {print $3}' "$res/preflight.tsv" | stats)
        fv=$(awk -F'\t' -v n="$n" '$1 == n {split($2, a, "|"); print a[2] " (" a[1] ")"; exit}' "$res/preflight.tsv")
        preflight_md+="| $n | $fv | $(col "$pv" 1) | $(fmt "$(col "$pv" 2)" 2) ms | $(fmt "$(col "$pv" 4)" 2) | $(fmt "$(col "$pv" 5)" 2) | $(awk -v m="$(col "$pv" 2)" -v n="$n" 'BEGIN {printf "%.1f µs", m * 1000 / n}') |"$'\n'
    done
fi

perf_md=""
for name in tpcb ddl; do
    f="$res/perf.$name.dso"
    [ -s "$f" ] || continue
    share=$(awk '$2 ~ /migration_guard/ {gsub("%", "", $1); print $1}' "$f")
    share=${share:-0.00}
    perf_md+="**$([ $name = tpcb ] && echo "TPC-B-like" || echo "DDL (bench/ddl.sql)")**, with the guard: migration_guard.so has **${share} %** of the CPU samples of the postgres processes."$'\n\n'
    perf_md+="| share of samples | shared object |"$'\n'"|---|---|"$'\n'
    perf_md+=$(head -8 "$f" | awk '{printf "| %s | `%s` |\n", $1, $2}')$'\n\n'
    if [ -s "$res/perf.$name.comm" ]; then
        perf_md+="All samples of the machine by process name (swapper = idle):"$'\n\n'
        perf_md+="| share of all samples | process |"$'\n'"|---|---|"$'\n'
        perf_md+=$(awk '{c = $2; for (i = 3; i <= NF; i++) c = c " " $i; printf "| %s | `%s` |\n", $1, c}' "$res/perf.$name.comm")$'\n\n'
    fi
    if [ -s "$res/perf.$name.sym" ]; then
        perf_md+="Functions of migration_guard.so in the profile (share of the postgres samples):"$'\n\n'
        perf_md+=$(awk '{sym = ""; for (i = 4; i <= NF; i++) sym = sym (i > 4 ? " " : "") $i; printf "- %s `%s`\n", $1, sym}' "$res/perf.$name.sym")$'\n\n'
    fi
done
[ -n "$perf_md" ] || perf_md="No profile: ${perf_note:-perf produced no samples}."$'\n'

cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
virt=$(systemd-detect-virt 2>/dev/null || echo unknown)
gcc_v=$(gcc --version | head -1)
pgbench_v=$("$PGBIN/pgbench" --version)
kernel=$(uname -r)
debian=$(cat /etc/debian_version 2>/dev/null || echo unknown)
perf_v=$(perf --version 2>/dev/null || echo "not installed")
fmt_min() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

{
cat <<EOF
# Benchmarks

What migration_guard costs, measured by [bench/run.sh](bench/run.sh)
(issue #7).  The same PostgreSQL binary runs with and without
\`migration_guard\` in \`shared_preload_libraries\`, restarted between the two,
in $ROUNDS interleaved rounds (with, without, with, without, ...).  Every
figure is a median with its spread; the raw figure of every round follows.

Generated on $(date -u '+%Y-%m-%d %H:%M UTC') in $(fmt_min "$total") (the $ROUNDS rounds: $(fmt_min "$t_rounds")).

## Summary

Throughput (tps) and server CPU time per transaction (µs), medians of
$ROUNDS rounds:

| workload | with the guard | without | throughput with/without | CPU per transaction with/without | target |
|---|---|---|---|---|---|
${summary_rows[tpcb]}
${summary_rows[select]}
${summary_rows[ddl]}
${summary_rows[ddlsess]}

Time to verdict, client-side median of $REPS attempts, beside the time the
same statement holds its write-blocking lock when the guard lets it run
(\`big_1k\` with \`migration_guard.row_threshold = 500\`):

$vsummary
Target under 5 ms and flat in table size: $vverdict (medians $vrange, $flat).

EOF
if [ "${#missed[@]}" -gt 0 ]; then
    echo "Targets missed:"
    echo
    for k in tpcb select ddl ddlsess verdict; do
        [ -n "${missed[$k]:-}" ] && echo "- ${missed[$k]}"
    done
    echo
    echo "See \"Reading the figures\" below for what these spreads and the profile say."
    echo
else
    echo "All targets met."
    echo
fi
cat <<EOF
## Machine and software

| | |
|---|---|
| CPUs (nproc) | $(nproc) |
| CPU model | $cpu_model |
| RAM | $mem |
| virtualization | $virt |
| kernel | $kernel |
| Debian | $debian |
| load average (1, 5, 15 min) | at the start of the rounds: $load_start; at the end: $load_end |
| PostgreSQL | $pg_version |
| pgbench | $pgbench_v |
| compiler | $gcc_v |
| perf | $perf_v |
| migration_guard | built from the $source_desc |
| migration_guard.so | sha256 \`$so_sha\` |

The machine is shared: other jobs (test suites, another development server)
may run during the benchmark.  How much of the CPUs they used during each
run is in the raw tables ("others' CPU").

## Method

\`bench/run.sh\` (as root) builds and installs the module, then runs
everything as the unprivileged user \`$user\` on one throwaway cluster
(\`initdb --locale=C -E UTF8\`), port $PORT, socket in a private directory,
no TCP.  Settings added to \`postgresql.conf\`, the same in both
configurations:

\`\`\`
$server_conf
\`\`\`

\`bench_mode.conf\` holds the only difference:

- with the guard: \`shared_preload_libraries = '<tmp>/lib/migration_guard.so'\`,
  the freshly built module (sha256 above; the same file that \`make install\`
  installed, preloaded by path so that an install from another checkout
  during the run cannot change it), defaults otherwise
  (\`migration_guard.mode = enforce\`);
- without: \`shared_preload_libraries = ''\`.

Each start is checked: \`migration_guard.mode\` must read \`enforce\` with the
guard and be undefined without it.

Data: every session starts with a fresh \`pgbench -i -s $SCALE\` (its client
sets \`migration_guard.mode = off\`, since the guard rejects pgbench's own
\`ADD PRIMARY KEY\` on the $((SCALE * 100000))-row \`pgbench_accounts\`), then
\`CHECKPOINT\` and \`sync\`.  With the tables kept from session to session,
TPC-B's updates bloated \`pgbench_accounts\` and its index run after run:
every session was slower than the one before (select-only lost 20 % over
the 12 sessions of a quiet run), which favoured the configuration measured
first in each round.
Autovacuum is off so that it cannot land in one configuration's runs and
not the other's.  Instead each run starts from the same state:

| before | statements (psql, then pgbench with \`-n\`) |
|---|---|
| TPC-B-like | \`$prep_tpcb\` |
| select-only | \`$prep_select\` |
| DDL | \`$prep_ddl\` |

(\`VACUUM FULL\` of the catalogs that the DDL churns, so that their growth
cannot favour the earlier session of each round.)  \`synchronous_commit =
off\` keeps the runs CPU-bound rather than bound by the virtual disk's flush
latency, which would hide small CPU costs.

One round = one session with the guard, then one without.  Each session:
start the server; \`pgbench -i\` as above; \`pg_prewarm\` the pgbench tables and indexes; 3 s of
TPC-B-like warm-up (discarded); the three measured runs ($DURATION s each,
$CLIENTS clients, $CLIENTS threads, simple protocol); stop the server.
For each run:

- **tps**: pgbench's "tps (without initial connection time)";
- **server CPU µs/txn**: user + system CPU time of the server during the
  run (postmaster, its live children and the backends it reaped, from
  \`/proc/<pid>/stat\`), divided by the transactions pgbench completed.  It
  counts the work the server did, whatever else the machine was doing, so
  it is much less sensitive than tps to other jobs on a shared machine;
- **others' CPU**: the CPU time of all processes of the machine
  (\`/proc/stat\`) minus the server's and pgbench's, as a share of the
  $NCPU CPUs during the run: how much other jobs competed with it.

"with/without" is the ratio of the medians.  For throughput 1.0000 means
no cost and 0.9900 1 % fewer transactions per second with the guard; for
CPU per transaction 1.0100 means 1 % more CPU per transaction with it.

Where the guard runs: the ProcessUtility hook sees utility statements only.
In TPC-B-like those are the \`BEGIN\` and \`END\` of each transaction; the
select-only script has none, so there the guard's only possible cost is
being loaded.  In the DDL script every statement but the \`INSERT\` is a
utility statement.

EOF
cat "$res/oltp.md"
cat <<EOF
## 3. Time to verdict

Target: under 5 ms median, flat in table size.  Tables
$(for s in $sizes; do printf "\`big_%s\` " "$s"; done)of
\`(id bigint, v text, ts timestamptz, n numeric)\`, \`v = md5(id::text)\`,
loaded by \`INSERT ... SELECT ... FROM generate_series\`, then
\`VACUUM ANALYZE\`, with the guard loaded at its defaults
(\`row_threshold = 100000\`, \`size_threshold = 16MB\`).
**The 1,000-row table is not big at these defaults: its session sets
\`migration_guard.row_threshold = 500\`, so that it is rejected too.**
${verdict_note:-}

- **server-side**: $REPS attempts in a loop, each in its own subtransaction
  (PL/pgSQL \`BEGIN ... EXCEPTION WHEN SQLSTATE 'MG001'\`), timed with
  \`clock_timestamp()\` from before the statement to after its error was
  caught.  The function stops the benchmark if a statement is not rejected.
  \`SELECT ms FROM bench_verdict('<statement>', $REPS) ms;\`
- **client-side**: $REPS times the statement in one psql session with
  \`\timing on\` (round trip over the Unix socket, including the error
  message with its DETAIL and HINT); all $REPS must fail with MG001.
- **unguarded**: the time the same statement holds its lock when it runs:
  \`SET migration_guard.mode = off\`, then \`BEGIN; <statement>; ROLLBACK;\`
  with psql \`\timing\` on the statement only (the lock is held until the
  ROLLBACK, so this is a lower bound; in autocommit the commit adds to it).

All times in ms.

$verdict_md
The rejection as the client sees it, per table:

\`\`\`
EOF
for s in $sizes; do
    for k in rewrite index; do
        echo "-- big_$s, $k$(session_set "$s" | sed 's/^/ (after /; s/;$/)/')"
        echo "${sample[$s.$k]}"
    done
done
cat <<EOF
\`\`\`

## perf profile

With the guard, during a 12 s run (8 s sampled, \`perf record -e cpu-clock
-F 999 -a\`), reported with \`perf report --comm postgres --sort dso
--percentage relative\`: the share of the server's CPU time spent in each
shared object.  This measures the guard's cost directly, without the
run-to-run noise of throughput.  Debian's binaries are stripped, so the main
\`postgres\` executable is not broken down by function.

$perf_md
EOF
if [ "$has_audit" = f ] && [ "$has_preflight" = f ]; then
cat <<EOF
## Preflight check and audit trail: not yet implemented (issues #5, #3)

The preflight check of migration scripts (issue #5) and the audit trail of
verdicts (issue #3) do not exist in the measured commit, so they have no
figures here.  When they land, this file should gain: the time to
preflight a script as a function of its statement count, and the cost of
recording a verdict in the DDL workload and in the time to verdict.

EOF
else
    echo "## Preflight check and audit trail (issues #5, #3)"
    echo
    if [ "$has_preflight" = t ]; then
        echo "**Preflight check (issue #5)**: \`migration_guard.check(script)\` on scripts"
        echo "that cycle through a rejected rewrite and a rejected index build on"
        echo "\`big_1m\`, an \`ADD COLUMN\` without default on \`big_1k\` and a \`CREATE"
        echo "INDEX CONCURRENTLY\` on \`big_1m\`; psql \`\\timing\` of"
        echo "\`SELECT count(*) FROM migration_guard.check(pg_read_file('<script>'))\`."
        echo "(Its SQL objects were created from the install script with"
        echo "\`MODULE_PATHNAME\` set to the preloaded private copy.)"
        echo
        echo "$preflight_md"
    else
        echo "**Preflight check (issue #5): not yet implemented** in the measured"
        echo "commit, so it has no figures here."
        echo
    fi
    if [ "$has_audit" = t ]; then
        echo "**Audit trail (issue #3)**: on at its default"
        echo "(\`migration_guard.audit = $audit_setting\`) in every measurement above.  The DDL"
        echo "workload writes no entry (nothing in it is rejected, warned or let through"
        echo "by a relaxed policy), so its figure includes only the audit check.  Every"
        echo "rejection in section 3 writes one entry; the cost of that write, from the"
        echo "same $REPS attempts run once more in a session with"
        echo "\`SET migration_guard.audit = off\`:"
        echo
        echo "$audit_md"
    else
        echo "**Audit trail (issue #3): not yet implemented** in the measured commit."
        echo
    fi
fi
cat <<EOF
## Reading the figures

- On a shared 2-core machine, throughput moves by several per cent between
  identical runs whenever other jobs run: see "others' CPU" beside each run.
  A throughput ratio means something only against the spread of the runs
  without the guard and against the per-round ratios; a median over
  interleaved rounds tolerates a disturbed run or two, not more.
- Select-only is the control: it has no utility statement, so the guard is
  loaded but its hook is never called.  Its per-round ratios show how far
  two configurations that do the same work drift apart on this machine.
- Server CPU per transaction counts the work the server did, so it barely
  depends on how much of the machine the benchmark got.  It still rises a
  little when other jobs share the CPUs and their caches.
- The perf share of migration_guard.so is the guard's own CPU time, measured
  directly.  It does not include the work the guard causes inside
  \`postgres\` (catalog lookups for the analysis, the ACCESS SHARE lock taken
  and released to read an ALTER TABLE's target, a memory context per
  statement), which the CPU per transaction and the per-statement latencies
  do include.
- The per-statement latencies show where a cost appears: only utility
  statements reach the guard.
- For DDL, the comparison inside one server session (analysis on/off) is
  the sharper figure: it has no restart between the two sides, so its
  spread is a fraction of the restarted sessions'.  It leaves out only
  what the loaded but idle hook costs, which perf shows to be small.

## Reproduce

\`\`\`sh
bench/run.sh        # as root on Debian 12; about 17 minutes on 2 cores
\`\`\`

Settings: \`MG_BENCH_ROUNDS\` ($ROUNDS), \`MG_BENCH_DURATION\` ($DURATION s),
\`MG_BENCH_SCALE\` ($SCALE), \`MG_BENCH_REPS\` ($REPS), \`MG_BENCH_BUDGET\`
(${BUDGET} s: the 10M-row lock-time measurements are skipped when they would
end later), \`MG_BENCH_PORT\` ($PORT), \`MG_BENCH_REF\` (the commit to build, default
\`HEAD\`; \`worktree\` builds the work tree with its uncommitted changes), \`MG_BENCH_KEEP=1\` (keep the temporary directory
with every pgbench log).
EOF
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
[ "$(id -u)" = 0 ] && chown --reference="$repo/README.md" "$OUT" 2>/dev/null || true
say "done in $(fmt_min "$SECONDS"); report: $OUT"
