#!/bin/bash
# demo.sh - see migration_guard stop a dangerous migration, then let the safe
# version of the same migration through.
#
#   demo/demo.sh
#
# As root on Debian 12: installs what is missing (PostgreSQL 15 and its
# development files, apt-get update first), builds and installs
# migration_guard, starts a throwaway server with it preloaded (own data
# directory and socket, port 54329), loads a 1,000,000-row orders table, runs
# demo/unsafe_migration.sql and demo/safe_migration.sql, then stops the server
# and removes it.  It works from any checkout, even one the server's user
# cannot enter (e.g. under /root): everything that user needs is copied into
# a private temporary directory that it owns.
#
# Environment:
#   MG_DEMO_PORT       port of the throwaway server (default 54329)
#   MG_DEMO_PG_CONFIG  pg_config of the PostgreSQL to use (default Debian's 15)
#   MG_DEMO_NO_BUILD   1: use the migration_guard already installed (e.g. from
#                      the Debian package) instead of building this tree
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)

PG_CONFIG=${MG_DEMO_PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PORT=${MG_DEMO_PORT:-54329}
user=mgtest
dir=""

fail() { echo "demo: ERROR: $*" >&2; exit 1; }
# Any other failing command names itself rather than ending the demo silently.
trap 'rc=$?; echo "demo: ERROR: command failed (status $rc) at line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR

if [ "$(id -u)" = 0 ]; then
    if [ -z "${MG_DEMO_PG_CONFIG:-}" ]; then
        need=""
        pkgs="postgresql-15"
        [ "${MG_DEMO_NO_BUILD:-0}" = 1 ] || pkgs="$pkgs postgresql-server-dev-15 build-essential"
        for p in $pkgs; do
            dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need="$need $p"
        done
        if [ -n "$need" ]; then
            echo "== installing:$need =="
            apt-get update -q || fail "apt-get update failed (see above)"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need ||
                fail "could not install$need (see above)"
        fi
    fi
    if ! id "$user" >/dev/null 2>&1; then
        useradd --system --create-home --shell /bin/bash "$user" || fail "could not create user $user"
    fi
    run() { runuser -u "$user" -- "$@"; }
else
    run() { "$@"; }
fi
if [ -x "$PG_CONFIG" ]; then
    PGBIN=$("$PG_CONFIG" --bindir)
elif [ "${MG_DEMO_NO_BUILD:-0}" = 1 ]; then
    PGBIN=$(dirname "$PG_CONFIG")   # pg_config comes with the -dev package only
else
    fail "$PG_CONFIG not found (set MG_DEMO_PG_CONFIG to a PostgreSQL's pg_config)"
fi
[ -x "$PGBIN/initdb" ] || fail "$PGBIN/initdb not found: is PostgreSQL installed there?"

# The private directory: owned by the server's user, mode 0700.  The server,
# psql and the SQL files all live here, so nothing needs the checkout's path.
dir=$(mktemp -d /tmp/mg-demo.XXXXXX)
cleanup() {
    if [ -n "$dir" ] && [ -d "$dir/data" ]; then
        (cd "$dir" && run "$PGBIN/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1) || true
    fi
    [ -n "$dir" ] && rm -rf "$dir"
}
trap cleanup EXIT
cp "$src/demo/unsafe_migration.sql" "$src/demo/safe_migration.sql" "$dir/" ||
    fail "cannot read the demo scripts in $src/demo"
[ "$(id -u)" = 0 ] && chown -R "$user" "$dir"
cd "$dir"

if [ "${MG_DEMO_NO_BUILD:-0}" != 1 ]; then
    # Build in a copy, as the invoking user: the checkout is only read.
    mkdir "$dir/build"
    tar -C "$src" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . |
        tar -C "$dir/build" -xf - || fail "cannot copy the source tree $src"
    if ! make -C "$dir/build" -s PG_CONFIG="$PG_CONFIG" >"$dir/build.log" 2>&1 ||
       ! make -C "$dir/build" -s PG_CONFIG="$PG_CONFIG" install >>"$dir/build.log" 2>&1; then
        cat "$dir/build.log" >&2
        fail "building or installing migration_guard failed (output above)"
    fi
fi

if ! run "$PGBIN/initdb" -D "$dir/data" --locale=C -A trust >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    fail "initdb failed (output above)"
fi
if ! run "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
        -o "-p $PORT -k $dir -c listen_addresses='' -c shared_preload_libraries=migration_guard" \
        start >/dev/null 2>&1; then
    cat "$dir/log" >&2 2>/dev/null || true
    fail "the server did not start (server log above)"
fi
psql() { run "$PGBIN/psql" -X -q -v ON_ERROR_STOP=0 -h "$dir" -p "$PORT" -d postgres "$@"; }
[ "$(psql -At -c 'SHOW shared_preload_libraries')" = migration_guard ] ||
    fail "the server runs without migration_guard preloaded"

echo "== loading 1,000,000 orders =="
psql -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION migration_guard;
CREATE TABLE customers (id bigint PRIMARY KEY, name text);
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 50000) g;
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    customer_id bigint,
    status text,
    quantity int,
    total numeric(12,2),
    created_at timestamptz
);
INSERT INTO orders
SELECT g, 1 + g % 50000, 'paid', 1 + g % 7, (g % 10000) / 100.0,
       '2026-01-01'::timestamptz + g * interval '1 second'
  FROM generate_series(1, 1000000) g;
SQL
psql -c "SELECT pg_size_pretty(bytes) AS size, rows AS estimated_rows, big FROM migration_guard.estimate('orders')"

# The unsafe script's statements fail by design, so psql's status is not
# checked there; the filter only shortens psql's "psql:FILE:LINE: " prefix.
echo
echo "== the unsafe migration: every statement is rejected before it takes a lock =="
psql -f unsafe_migration.sql 2>&1 | sed -e 's/^psql:[^:]*:[0-9]*: //' || true

echo
echo "== the safe migration: everything passes =="
psql -v ON_ERROR_STOP=1 -f safe_migration.sql 2>&1 | sed -e 's/^psql:[^:]*:[0-9]*: //'
psql -c '\d orders'
