#!/bin/bash
# demo.sh - see migration_guard stop a dangerous migration, then let the safe
# version of the same migration through.
#
#   demo/demo.sh
#
# As root on Debian 12: installs what is missing (PostgreSQL 15 and its
# development files), builds and installs migration_guard, starts a
# throwaway server with it preloaded (own data directory and socket, port
# 54329), loads a 1,000,000-row orders table, runs demo/unsafe_migration.sql
# and demo/safe_migration.sql, then stops the server and removes it.
set -euo pipefail
cd "$(dirname "$0")/.."

PGBIN=/usr/lib/postgresql/15/bin
PORT=${MG_DEMO_PORT:-54329}
user=mgtest

if [ "$(id -u)" = 0 ]; then
    need=""
    for p in postgresql-15 postgresql-server-dev-15 build-essential; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need="$need $p"
    done
    if [ -n "$need" ]; then
        apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need
    fi
    id "$user" >/dev/null 2>&1 || useradd --system --create-home --shell /bin/bash "$user"
    run() { runuser -u "$user" -- "$@"; }
else
    run() { "$@"; }
fi

make -s PG_CONFIG=$PGBIN/pg_config
make -s PG_CONFIG=$PGBIN/pg_config install

dir=$(mktemp -d /tmp/mg-demo.XXXXXX)
[ "$(id -u)" = 0 ] && chown "$user" "$dir"
cleanup() {
    run $PGBIN/pg_ctl -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

run $PGBIN/initdb -D "$dir/data" --locale=C -A trust >/dev/null
run $PGBIN/pg_ctl -D "$dir/data" -l "$dir/log" -w \
    -o "-p $PORT -k $dir -c listen_addresses='' -c shared_preload_libraries=migration_guard" start >/dev/null
psql() { run $PGBIN/psql -X -q -h "$dir" -p "$PORT" -d postgres "$@"; }

echo "== loading 1,000,000 orders =="
psql <<'SQL'
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

echo
echo "== the unsafe migration: every statement is rejected before it takes a lock =="
psql -f demo/unsafe_migration.sql 2>&1 | sed -e 's/^psql:[^:]*:[0-9]*: //'

echo
echo "== the safe migration: everything passes =="
psql -f demo/safe_migration.sql 2>&1 | sed -e 's/^psql:[^:]*:[0-9]*: //'
psql -c '\d orders'
