#!/bin/bash
# package-test.sh - test the Debian package, not the source tree: build
# postgresql-15-migration-guard with packaging/build-deb.sh inside a Debian 12
# (bookworm) chroot, install the .deb with apt into a bare bookworm chroot,
# start a server that preloads the installed library, run the demo against it,
# and purge the package again.
#
#   test/package-test.sh            build the package in the chroot, then test it
#   test/package-test.sh FILE.deb   test an already built package
#
# As root.  Two chroots made by test/pgchroot.sh, reused after the first run
# (PGCHROOT_DIR chooses where, default /var/cache/migration_guard/chroots):
#   bookworm          PostgreSQL 15 and its -dev package: the package is built here
#   pkgtest/bookworm  a bare debootstrap: the package is installed here with apt,
#                     which brings postgresql-15 as a dependency, and everything is
#                     purged again at the end
# The checkout is only read: a copy of it is shown as /src inside.  The last
# lines are "MGRESULT package N N" and "N passed, N failed".
#
# Environment: MG_PKGTEST_PORT  port of the throwaway servers (default 54339;
# they listen on a private Unix socket only).
set -uo pipefail

if [ "${1:-}" = --in-chroot ]; then
    # ---- inside the chroot, as root, in /src ---------------------------------------------
    deb=$2 port=$3
    pkg=postgresql-15-migration-guard
    bin=/usr/lib/postgresql/15/bin
    lib=/usr/lib/postgresql/15/lib/migration_guard.so
    ext=/usr/share/postgresql/15/extension
    # The version CREATE EXTENSION installs: the control file's default_version.
    extver=$(sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" /src/migration_guard.control)
    passed=0 failed=0
    ok() { passed=$((passed + 1)); echo "ok - $*"; }
    notok() { failed=$((failed + 1)); echo "not ok - $*"; }
    check() { local what=$1; shift; if "$@"; then ok "$what"; else notok "$what"; fi; }
    finish() { echo "$passed passed, $failed failed"; [ "$failed" = 0 ]; exit; }

    # A clean start: no earlier package, none of what it pulled in, and no
    # migration_guard file that a package did not put there.
    export DEBIAN_FRONTEND=noninteractive
    dpkg -s "$pkg" >/dev/null 2>&1 && dpkg --purge "$pkg" >/dev/null
    apt-get -q -y autoremove --purge >/dev/null 2>&1
    stray=$(ls "$lib" "$ext"/migration_guard* 2>/dev/null)
    if [ -n "$stray" ]; then
        notok "no migration_guard files before installing the package, found: $stray"
        finish
    fi
    echo "== installing $deb with apt (apt-get update first); its dependencies bring the server =="
    if ! apt-get -q -o Acquire::Retries=3 update >"/tmp/apt.log" 2>&1; then
        cat /tmp/apt.log; notok "apt-get update"; finish
    fi
    # postgresql-common first, so that no "main" cluster is created (the chroot
    # shares the host's network; no service starts anyway, see policy-rc.d).
    if ! apt-get -q -y install postgresql-common >/tmp/apt.log 2>&1; then
        cat /tmp/apt.log; notok "apt-get install postgresql-common"; finish
    fi
    grep -q '^create_main_cluster = false' /etc/postgresql-common/createcluster.conf ||
        echo 'create_main_cluster = false' >>/etc/postgresql-common/createcluster.conf
    apt-mark auto postgresql-common >/dev/null   # so that the final autoremove takes it too
    if apt-get -q -y install "./$deb" >/tmp/apt.log 2>&1; then
        ok "apt-get install ./$deb (with its dependencies: $(grep -c '^Setting up' /tmp/apt.log) packages)"
    else
        cat /tmp/apt.log; notok "apt-get install ./$deb"; finish
    fi
    check "package $pkg is installed" \
        sh -c "dpkg-query -W -f='\${Status}' $pkg | grep -q 'install ok installed'"
    check "$lib belongs to $pkg" sh -c "dpkg -S $lib | grep -q '^$pkg:'"
    check "$ext/migration_guard.control belongs to $pkg" \
        sh -c "dpkg -S $ext/migration_guard.control | grep -q '^$pkg:'"
    check "installed files match the package (dpkg --verify)" sh -c "[ -z \"\$(dpkg --verify $pkg)\" ]"

    # A server of the system's PostgreSQL 15 that preloads the packaged library.
    dir=$(mktemp -d /tmp/mg-pkgtest.XXXXXX)
    chown mgtest "$dir"
    cd "$dir" || exit 1
    as() { runuser -u mgtest -- "$@"; }
    trap 'as $bin/pg_ctl -D "$dir/data" -m immediate stop >/dev/null 2>&1; rm -rf "$dir"' EXIT
    as $bin/initdb -D "$dir/data" --locale=C -A trust >"$dir/initdb.log" 2>&1 || cat "$dir/initdb.log"
    if as $bin/pg_ctl -D "$dir/data" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses='' \
            -c shared_preload_libraries=migration_guard" start >/dev/null 2>&1; then
        ok "server starts with shared_preload_libraries = migration_guard"
    else
        cat "$dir/log"; notok "server starts with shared_preload_libraries = migration_guard"; finish
    fi
    pid=$(head -n 1 "$dir/data/postmaster.pid")
    check "the postmaster has mapped $lib" grep -q " $lib\$" "/proc/$pid/maps"
    q() { as $bin/psql -X -At -h "$dir" -p "$port" -d postgres -c "$1" 2>&1; }
    q 'CREATE EXTENSION migration_guard' >/dev/null
    got=$(q "SELECT extversion || ' ' || migration_guard.preloaded() FROM pg_extension WHERE extname = 'migration_guard'")
    check "CREATE EXTENSION: version $extver, preloaded() is true (got: $got)" test "$got" = "$extver true"
    got=$(q 'ALTER EXTENSION migration_guard UPDATE')
    check "ALTER EXTENSION migration_guard UPDATE: already at $extver" \
        grep -q "version \"$extver\" of extension \"migration_guard\" is already installed" <<<"$got"
    q 'DROP EXTENSION migration_guard' >/dev/null
    q "CREATE EXTENSION migration_guard VERSION '1.0'" >/dev/null
    q 'ALTER EXTENSION migration_guard UPDATE' >/dev/null
    got=$(q "SELECT extversion FROM pg_extension WHERE extname = 'migration_guard'")
    check "the package updates 1.0 to $extver (got: $got)" test "$got" = "$extver"
    as $bin/pg_ctl -D "$dir/data" -m fast stop >/dev/null 2>&1

    # The demo, with the packaged extension (MG_DEMO_NO_BUILD: nothing is built).
    echo "== demo/demo.sh against the package =="
    MG_DEMO_NO_BUILD=1 MG_DEMO_PORT=$port /src/demo/demo.sh >"$dir/demo.out" 2>&1
    rc=$?
    sed 's/^/    /' "$dir/demo.out"
    check "demo exits with status 0" test "$rc" = 0
    check "demo: the 5 statements of the unsafe migration are rejected" \
        test "$(grep -cE '^ERROR:  (ALTER TABLE|CREATE INDEX) would ' "$dir/demo.out")" = 5
    check "demo: the safe migration ran to its end (index and foreign key exist)" \
        sh -c "grep -q 'orders_customer_idx' '$dir/demo.out' && grep -q 'orders_customer_fk' '$dir/demo.out'"

    dpkg --purge "$pkg" >/dev/null 2>&1
    check "dpkg --purge $pkg removes the library and the extension files" \
        sh -c "! ls $lib $ext/migration_guard* >/dev/null 2>&1"
    # Leave the chroot as it was, so the next run tests the dependencies again.
    apt-get -q -y autoremove --purge >/dev/null 2>&1
    apt-get clean
    finish
fi

# ---- on the host ------------------------------------------------------------------------
fail() { echo "package-test: ERROR: $*" >&2; echo "MGRESULT package 0 1"; echo "0 passed, 1 failed"; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root (chroot, apt)"
src=$(cd "$(dirname "$0")/.." && pwd)
T0=$EPOCHREALTIME
elapsed() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", b - a }'; }
passed=0 failed=0

# The version must agree everywhere it is written.
ctl=$(sed -nE "s/^default_version *= *'([^']+)'.*/\1/p" "$src/migration_guard.control")
meta=$(sed -nE '0,/"version"/s/^ *"version": *"([^"]+)".*/\1/p' "$src/META.json")
deb=$(sed -nE '1s/^[^(]*\(([^)-]+)-[^)]*\).*/\1/p' "$src/debian/changelog")
if [ "$meta" = "$ctl.0" ] || [ "$meta" = "$ctl" ]; then
    if [ "$deb" = "$ctl" ]; then
        passed=$((passed + 1)); echo "ok - version $ctl in the control file, META.json ($meta) and debian/changelog"
    else
        failed=$((failed + 1)); echo "not ok - debian/changelog has $deb, the control file $ctl"
    fi
else
    failed=$((failed + 1)); echo "not ok - META.json has $meta, the control file $ctl"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mg-pkgtest-src.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -C "$src" --exclude=.git --exclude=dist --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
    -cf - . | tar -C "$work" -xf - || fail "cannot copy $src"
port=${MG_PKGTEST_PORT:-54339}

if [ $# -ge 1 ]; then
    [ -f "$1" ] || fail "$1: no such file"
    mkdir -p "$work/dist" && cp "$1" "$work/dist/" || fail "cannot copy $1"
    debfile=dist/$(basename "$1")
else
    echo "== building the package in a bookworm chroot (packaging/build-deb.sh) =="
    if ! PGCHROOT_SRC=$work "$src/test/pgchroot.sh" bookworm 15 -- packaging/build-deb.sh /src/dist; then
        fail "packaging/build-deb.sh failed in the bookworm chroot (see above)"
    fi
    debfile=$(cd "$work" && ls dist/postgresql-15-migration-guard_*.deb 2>/dev/null | head -n 1)
    [ -n "$debfile" ] || fail "build-deb.sh made no postgresql-15-migration-guard package"
    echo "== package built after $(elapsed) =="
fi

out=$work/inner.out
PGCHROOT_DIR=${PGCHROOT_DIR:-/var/cache/migration_guard/chroots}/pkgtest PGCHROOT_SRC=$work \
    "$src/test/pgchroot.sh" bookworm 0 -- \
    /src/test/package-test.sh --in-chroot "$debfile" "$port" 2>&1 | tee "$out"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
if [ -n "$line" ]; then
    set -- $line
    passed=$((passed + $1)) failed=$((failed + $3))
else
    failed=$((failed + 1)); echo "not ok - the test in the chroot did not finish"
fi
echo "== package test done after $(elapsed) =="
echo "MGRESULT package $passed $failed"   # the format of test/pg-installcheck.sh, for run-tests.sh
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
