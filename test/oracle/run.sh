#!/bin/bash
# run.sh - the differential oracle: PostgreSQL's own core regression suite,
# run twice on throwaway servers, (A) without migration_guard and (B) with
# the guard in warn mode at thresholds 0 plus the test-only observer, then
#   1. every test's output of B must equal A's but for the guard's warnings,
#   2. every utility statement's verdict must match what the server did
#      (test/oracle/compare.pl, allow-list test/oracle/allowlist).
#
#   PG_CONFIG=... test/oracle/run.sh <workdir>
#
# Run from a copy of the source tree in which migration_guard is already
# built and installed (test/pg-installcheck.sh does both, then calls this).
# As root, the servers run as $MG_TEST_USER.  The last line is
# "ORACLE PASS" or "ORACLE FAIL".  MG_ORACLE_KEEP=<dir> keeps the outputs
# and the observer's log there.
set -uo pipefail

PG_CONFIG=${PG_CONFIG:-pg_config}
out=${1:?usage: run.sh <workdir>}
user=${MG_TEST_USER:-mgtest}
here=$(cd "$(dirname "$0")" && pwd)
major=$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
version=$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9.]+).*/\1/')
bindir=$("$PG_CONFIG" --bindir)
pg_regress=$(dirname "$("$PG_CONFIG" --pgxs)")/../test/regress/pg_regress
say() { echo "[oracle $major] $*"; }
fail() { say "$*"; echo "ORACLE FAIL"; exit 1; }

as_user() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$user" -- env PATH="$PATH" LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"
    else
        "$@"
    fi
}

start=$(date +%s)
read -r pgsrc pgsrcversion < <("$here/fetch-pgsrc.sh" "$major" "$version") ||
    fail "cannot fetch the PostgreSQL $major regression suite"
[ -d "$pgsrc/src/test/regress/sql" ] || fail "no regression suite in $pgsrc"
say "core suite $(basename "$pgsrc") ($pgsrcversion) on server $version"

mkdir -p "$out"
cp -r "$pgsrc/src/test/regress" "$out/regress"
# "ignore:" lines (up to 15) are a syntax error for a newer pg_regress.
sed -i '/^ignore:/d' "$out/regress/parallel_schedule"
mkdir -p "$out/lib"
cp "$pgsrc/src/test/regress/regress.c" "$pgsrc/contrib/spi/autoinc.c" \
   "$pgsrc/contrib/spi/refint.c" "$out/lib/"
cat >"$out/lib/Makefile" <<'EOF'
MODULES = regress autoinc refint
PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
EOF
cp "$here/observer.c" "$here/Makefile" "$out/"
[ "$(id -u)" = 0 ] && chown -R "$user" "$out"
if ! as_user make -s -C "$out/lib" PG_CONFIG="$PG_CONFIG" >"$out/build.log" 2>&1; then
    # Another major's suite (see fetch-pgsrc.sh): newer headers no longer
    # pull in utils/array.h for regress.c.
    sed -i 's|^#include "postgres.h"|#include "postgres.h"\n#include "utils/array.h"|' "$out/lib/regress.c"
    as_user make -s -C "$out/lib" PG_CONFIG="$PG_CONFIG" >"$out/build.log" 2>&1 ||
        { cat "$out/build.log"; fail "cannot build the regression suite's C functions"; }
fi
as_user make -s -C "$out" PG_CONFIG="$PG_CONFIG" \
    PG_CFLAGS="${MG_TEST_CFLAGS:--Wall -Werror}" >>"$out/build.log" 2>&1 ||
    { cat "$out/build.log"; fail "cannot build the observer"; }

# Settings of both servers.  Parallel maintenance workers would do part of
# an index build in other backends, out of the observer's sight.
cat >"$out/common.conf" <<EOF
max_parallel_maintenance_workers = 0
# Autovacuum would change the row estimates the guard reads, at random times.
autovacuum = off
log_min_messages = warning
EOF
cp "$out/common.conf" "$out/A.conf"
# B: the guard warns about everything it would reject at thresholds 0, and
# nothing of it can change PostgreSQL's behaviour: no lock timeout, no
# queue-free lock attempts, no lock-hold or idle-blocker limits.
cat "$out/common.conf" - >"$out/B.conf" <<EOF
shared_preload_libraries = 'migration_guard,$out/observer'
migration_guard.mode = warn
migration_guard.row_threshold = 0
migration_guard.size_threshold = 0
migration_guard.lock_timeout = 0
migration_guard.lock_wait = queue
migration_guard.lock_hold_timeout = 0
migration_guard.idle_blocker_timeout = 0
migration_guard.audit = all
oracle_observer.log = '$out/observer.log'
EOF
[ "$(id -u)" = 0 ] && chown -R "$user" "$out"

run_core() {
    local name=$1 t0
    t0=$(date +%s)
    (cd "$out/regress" && as_user "$pg_regress" --bindir="$bindir" --dlpath="$out/lib" \
        --inputdir="$out/regress" --outputdir="$out/$name" --temp-instance="$out/tmp_$name" \
        --temp-config="$out/$name.conf" \
        --max-concurrent-tests=20 --schedule="$out/regress/parallel_schedule" \
        >"$out/$name.log" 2>&1)
    # the core suite's own expected files are not the point: A is
    say "run $name: $(grep -cE ' \.\.\. (ok|FAILED|failed)|^(ok|not ok) +[0-9]' "$out/$name.log") tests, $(( $(date +%s) - t0 )) s"
    rm -rf "$out/tmp_$name"
    [ -d "$out/$name/results" ] || { tail -20 "$out/$name.log"; fail "run $name produced no results"; }
}
mkdir -p "$out/A"
[ "$(id -u)" = 0 ] && chown "$user" "$out/A"
# MG_ORACLE_REUSE_A=1 (a developer's aid) keeps run A's results from an
# earlier run in the same directory.
if [ -z "${MG_ORACLE_REUSE_A:-}" ] || [ ! -d "$out/A/results" ]; then
    run_core A
fi
rm -rf "$out/B" "$out/tmp_B" "$out/observer.log"
mkdir -p "$out/B"
[ "$(id -u)" = 0 ] && chown "$user" "$out/B"
run_core B

rc=0
perl "$here/compare.pl" --allowlist "$here/allowlist" --major "$major" \
    --results-a "$out/A/results" --results-b "$out/B/results" \
    --log "$out/observer.log" --findings "$out/findings.txt" || rc=1
if [ -n "${MG_ORACLE_KEEP:-}" ]; then
    mkdir -p "$MG_ORACLE_KEEP/$major"
    cp -r "$out/A/results" "$MG_ORACLE_KEEP/$major/A"
    cp -r "$out/B/results" "$MG_ORACLE_KEEP/$major/B"
    cp "$out/observer.log" "$out/findings.txt" "$MG_ORACLE_KEEP/$major/" 2>/dev/null
fi
say "wall time $(( $(date +%s) - start )) s"
if [ $rc = 0 ]; then echo "ORACLE PASS"; else echo "ORACLE FAIL"; fi
exit $rc
