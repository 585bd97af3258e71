#!/bin/bash
# pg-installcheck.sh - build migration_guard against one PostgreSQL major and
# run its whole test suite (pg_regress, isolation, TAP) on throwaway servers.
#
#   PG_CONFIG=/usr/lib/postgresql/N/bin/pg_config test/pg-installcheck.sh
#
# Run from the source tree, as root (it installs the module and runs the
# servers as the unprivileged user $MG_TEST_USER, created if missing) or as
# an ordinary user who can write to PostgreSQL's lib and share directories.
# The servers listen only on a private Unix socket, on ports chosen by
# pg_regress and PostgreSQL::Test::Cluster (never 5432), and are stopped at
# the end.  The last line is "MGRESULT <major> <passed> <failed>".
set -uo pipefail

PG_CONFIG=${PG_CONFIG:-pg_config}
major=$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
user=${MG_TEST_USER:-mgtest}
cflags=${MG_TEST_CFLAGS:--Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare -Werror}
src=$(pwd)
say() { echo "[PG $major] $*"; }

as_user() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$user" -- env PATH="$PATH" LANG=C.UTF-8 LC_ALL=C.UTF-8 \
            ${MG_TEST_TINY_FS:+MG_TEST_TINY_FS="$MG_TEST_TINY_FS"} "$@"
    else
        "$@"
    fi
}

if [ "$(id -u)" = 0 ] && ! id "$user" >/dev/null 2>&1; then
    useradd --system --create-home --shell /bin/bash "$user"
fi

# A private copy of the tree, writable by the test user: pg_regress writes
# results/ and its temporary instance next to the tests.
work=$(mktemp -d "${TMPDIR:-/tmp}/mg-test-$major.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -C "$src" --exclude=.git --exclude='tmp_*' --exclude=results --exclude=output_iso \
    --exclude='*.o' --exclude='*.so' -cf - . | tar -C "$work" -xf -
[ "$(id -u)" = 0 ] && chown -R "$user" "$work"
cd "$work" || exit 1

say "building with -Werror"
if ! as_user make -s PG_CONFIG="$PG_CONFIG" PG_CFLAGS="$cflags" >build.log 2>&1; then
    cat build.log
    say "build failed"
    echo "MGRESULT $major 0 1"
    exit 1
fi
if ! make -s PG_CONFIG="$PG_CONFIG" install >>build.log 2>&1; then
    cat build.log
    say "install failed"
    echo "MGRESULT $major 0 1"
    exit 1
fi

passed=0
failed=0

# pg_regress and isolation: their summary line gives the counts.
count_regress() {
    local log=$1 n m
    if grep -qE 'All [0-9]+ tests passed' "$log"; then
        n=$(grep -oE 'All [0-9]+ tests passed' "$log" | grep -oE '[0-9]+')
        passed=$((passed + n))
    elif grep -qE '[0-9]+ of [0-9]+ tests failed' "$log"; then
        m=$(grep -oE '[0-9]+ of [0-9]+ tests failed' "$log" | awk '{print $1}')
        n=$(grep -oE '[0-9]+ of [0-9]+ tests failed' "$log" | awk '{print $3}')
        passed=$((passed + n - m))
        failed=$((failed + m))
    else
        failed=$((failed + 1))
    fi
}

run_suite() {
    local name=$1; shift
    say "running $name"
    as_user make PG_CONFIG="$PG_CONFIG" installcheck "$@" >"$name.log" 2>&1
    local rc=$?
    sed "s/^/[PG $major] /" "$name.log" | grep -vE '^\[PG [0-9]+\] (make|rm|echo|/)' || true
    return $rc
}

run_suite regress ISOLATION= TAP_TESTS=
count_regress regress.log
# For developers: keep the outputs, e.g. to make a version's expected file.
if [ -n "${MG_KEEP_RESULTS:-}" ]; then
    mkdir -p "$MG_KEEP_RESULTS/$major" && cp results/*.out "$MG_KEEP_RESULTS/$major/"
fi
[ -f regression.diffs ] && { say "regression.diffs:"; cat regression.diffs; rm -f regression.diffs; }

run_suite isolation REGRESS= TAP_TESTS=
count_regress isolation.log
[ -f output_iso/regression.diffs ] && { say "isolation diffs:"; cat output_iso/regression.diffs; }

# TAP: the audit fault tests fill a tiny tmpfs to test a full disk; only
# root can mount it.  Without it those cases are skipped, and say so.
tiny=""
if [ "$(id -u)" = 0 ]; then
    tiny=$(mktemp -d "${TMPDIR:-/tmp}/mg-tiny-$major.XXXXXX")
    if mount -t tmpfs -o size=256k,mode=0700 tmpfs "$tiny" 2>/dev/null; then
        chown "$user" "$tiny"
        export MG_TEST_TINY_FS="$tiny"
        trap 'umount "$tiny" 2>/dev/null; rmdir "$tiny" 2>/dev/null; rm -rf "$work"' EXIT
    else
        say "cannot mount a tmpfs: the full-disk test is skipped"
        rmdir "$tiny"
        tiny=""
    fi
fi

# TAP: prove prints "Files=N, Tests=M" and "Failed X/Y subtests" per file.
run_suite tap REGRESS= ISOLATION=
tests=$(grep -oE 'Tests=[0-9]+' tap.log | grep -oE '[0-9]+' | tail -1)
tapfail=$(grep -oE 'Failed [0-9]+/[0-9]+ subtests' tap.log | awk -F'[ /]' '{s+=$2} END {print s+0}')
if [ -z "$tests" ]; then
    failed=$((failed + 1))
else
    if grep -q 'Result: FAIL' tap.log && [ "$tapfail" = 0 ]; then
        tapfail=1
    fi
    passed=$((passed + tests - tapfail))
    failed=$((failed + tapfail))
    for f in tmp_check/log/regress_log_*; do
        [ -f "$f" ] && grep -q 'not ok' "$f" && { say "$f:"; tail -50 "$f"; }
    done
fi

# The differential oracle (test/oracle/run.sh): PostgreSQL's own core
# regression suite without and with the guard, compared statement by
# statement.  One counted test; MG_SKIP_ORACLE=1 skips it.
if [ "${MG_SKIP_ORACLE:-}" = 1 ]; then
    say "differential oracle skipped (MG_SKIP_ORACLE=1)"
else
    say "running the differential oracle"
    mkdir -p "$work/oracle_run"
    [ "$(id -u)" = 0 ] && chown "$user" "$work/oracle_run"
    if PG_CONFIG="$PG_CONFIG" MG_TEST_USER="$user" MG_TEST_CFLAGS="$cflags" \
        test/oracle/run.sh "$work/oracle_run" >oracle.log 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
    sed "s/^/[PG $major] /" oracle.log
fi

say "$passed passed, $failed failed"
echo "MGRESULT $major $passed $failed"
[ "$failed" = 0 ]
