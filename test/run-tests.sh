#!/bin/bash
# run-tests.sh - the project's test command.
#
#   test/run-tests.sh            PostgreSQL 15 (Debian 12) natively, then the
#                                newer majors of $PG_MATRIX in Debian chroots
#   PG_MATRIX= test/run-tests.sh PostgreSQL 15 only
#   PG_MATRIX="sid:19" test/run-tests.sh --no-native   one chosen major
#
# Installs what is missing (as root), builds with warnings as errors, runs
# the whole suite on throwaway servers as an unprivileged user, and ends with
# one line "N passed, N failed" counting every major.  A failing major is
# named.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

PG_MATRIX=${PG_MATRIX-trixie:17 sid:18}
native=1
[ "${1:-}" = --no-native ] && native=0

total_passed=0
total_failed=0
failed_majors=""

tally() {
    local line
    line=$(grep '^MGRESULT ' "$1" | tail -1)
    if [ -z "$line" ]; then
        total_failed=$((total_failed + 1))
        failed_majors="$failed_majors $2"
        return
    fi
    set -- $line
    total_passed=$((total_passed + $3))
    total_failed=$((total_failed + $4))
    [ "$4" != 0 ] && failed_majors="$failed_majors $2"
}

if [ "$native" = 1 ]; then
    if [ "$(id -u)" = 0 ]; then
        need=""
        for p in postgresql-15 postgresql-server-dev-15 build-essential libipc-run-perl \
                 postgresql-15-repack postgresql-15-pgaudit postgresql-15-partman; do
            dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need="$need $p"
        done
        if [ -n "$need" ]; then
            echo "installing:$need"
            apt-get update -q || { echo "apt-get update failed (see above)"; exit 1; }
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need ||
                { echo "could not install:$need (see above)"; exit 1; }
        fi
    fi
    out=$(mktemp)
    PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config test/pg-installcheck.sh 2>&1 | tee "$out"
    tally "$out" 15
    rm -f "$out"
fi

for entry in $PG_MATRIX; do
    suite=${entry%%:*}
    major=${entry##*:}
    out=$(mktemp)
    echo "== PostgreSQL $major ($suite chroot) =="
    # No blind retry: pgchroot.sh retries what can be transient (debootstrap each download,
    # apt with Acquire::Retries) and prints the cause of anything else.
    if ! test/pgchroot.sh "$suite" "$major" >/dev/null; then
        echo "could not prepare a $suite chroot with PostgreSQL $major (cause above)"
        echo "MGRESULT $major 0 1" >"$out"
    else
        PGCHROOT_SRC="$PWD" PGCHROOT_PASSENV="MG_TEST_CFLAGS MG_KEEP_RESULTS MG_SKIP_ORACLE" \
            test/pgchroot.sh "$suite" "$major" -- test/pg-installcheck.sh 2>&1 | tee "$out"
    fi
    tally "$out" "$major"
    rm -f "$out"
done

# The Debian package, built and installed on a fresh root (not this tree),
# with the demo run against it.  MG_SKIP_PACKAGE=1 leaves it out.
if [ -z "${MG_SKIP_PACKAGE:-}" ]; then
    echo "== Debian package =="
    out=$(mktemp)
    test/package-test.sh 2>&1 | tee "$out"
    tally "$out" package
    rm -f "$out"
fi

[ -n "$failed_majors" ] && echo "failed on PostgreSQL:$failed_majors"
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" = 0 ]
