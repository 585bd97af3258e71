#!/bin/bash
# lock_queue.sh - what a DDL waiting for its lock costs the application
# (issue 13, item 5): the same reader episode with no DDL at all, with a DDL
# and no guard, and with the guard in migration_guard.lock_wait = queue and
# = no_queue, side by side in one run.
#
#   bench/lock_queue.sh
#
# As root (the servers, psql and pgbench run as the unprivileged user
# $LQ_USER) or as any user.  Installs nothing: it preloads a private copy of
# the migration_guard.so that "$PG_CONFIG --pkglibdir" holds (or
# $LQ_MODULE), so that a "make install" while it runs cannot swap the
# binary between rounds.  It starts two throwaway servers of the same
# binaries (own data directories, a private socket directory, no TCP,
# ports $LQ_PORT and $LQ_PORT + 1): one preloads migration_guard, the other
# does not (and a third with LQ_ALT_MODULE).  They are stopped and
# everything is removed at the end.  A whole run (12 rounds of 4
# configurations) takes about 9 minutes.
#
# One episode: pgbench runs point SELECTs and UPDATEs on table lq_bench
# (100,000 rows) at a fixed rate (RATE per second; RATE=0: as fast as it
# can) for DURATION seconds; at READER_AT seconds a reader takes ACCESS
# SHARE on the table for READER_SECS seconds; 1 s later an ALTER TABLE ...
# ADD COLUMN (ACCESS EXCLUSIVE, instant once granted) arrives.  The four
# configurations, interleaved round by round (the order rotates each
# round), so that the machine's noise hits all of them alike:
#
#   no_ddl    the guard's server, the same episode without the DDL
#   no_guard  the server without the guard, plain PostgreSQL: the DDL waits
#             in the lock queue (lock_timeout = DDL_TIMEOUT)
#   queue     the guard's server, lock_wait = queue, lock_timeout =
#             DDL_TIMEOUT: PostgreSQL's wait in the queue, bounded
#   no_queue  the guard's server, lock_wait = no_queue (the default)
#
# Reported per episode: latency (p50, p99, max, in ms) of the pgbench
# transactions scheduled during the episode, from the DDL's arrival (for
# no_ddl: the moment it would arrive) to the reader's end plus 1 s;
# throughput over the same window (transactions that ended in it, per
# second); when the DDL completed, counted from its arrival and from the
# reader's end (server clock: clock_timestamp() just before the reader's
# COMMIT and just after the DDL's); the machine's busy CPU share during the
# episode.  Then min / median / max over the rounds, and the issue's target.
#
# Settings (environment):
#   ROUNDS=12          interleaved rounds (each: one episode per configuration)
#   CLIENTS=8          pgbench clients
#   RATE=800           pgbench transactions per second (0: unthrottled)
#   READER_AT=3        seconds into pgbench when the reader starts
#   READER_SECS=3      seconds the reader holds ACCESS SHARE
#   DURATION           pgbench seconds (default READER_AT + READER_SECS + 4)
#   DDL_TIMEOUT=5s     lock timeout of the DDL
#   LQ_CONFIGS="no_ddl no_guard queue no_queue"
#   LQ_PORT=55170      the guard's server; LQ_PORT + 1 the plain one; never 5432
#   LQ_USER=mgtest     the user the servers run as, when run as root
#   LQ_KEEP=1          keep the temporary directory (pgbench logs, server logs)
#   LQ_MODULE=<file>   the migration_guard.so to preload (default: the
#                      installed one)
#   LQ_ALT_MODULE=<file>  another build, to compare: a third server (port
#                      LQ_PORT + 2) preloads it, and configuration
#                      no_queue_alt (added to the default list) is no_queue
#                      on that server
#   PG_CONFIG=pg_config
set -euo pipefail

ROUNDS=${ROUNDS:-12}
CLIENTS=${CLIENTS:-8}
RATE=${RATE:-800}
READER_AT=${READER_AT:-3}
READER_SECS=${READER_SECS:-3}
DURATION=${DURATION:-$((READER_AT + READER_SECS + 4))}
DDL_TIMEOUT=${DDL_TIMEOUT:-5s}
CONFIGS=${LQ_CONFIGS:-no_ddl no_guard queue no_queue${LQ_ALT_MODULE:+ no_queue_alt}}
PORT=${LQ_PORT:-55170}
PG_CONFIG=${PG_CONFIG:-pg_config}
user=${LQ_USER:-mgtest}

say() { printf '[%4ds] %s\n' "$SECONDS" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

case "$PORT" in
	5432|5431|55432|55431) die "port $PORT or the next belongs to another server; choose another LQ_PORT" ;;
esac
for c in $CONFIGS; do
	case "$c" in
		no_ddl|no_guard|queue|no_queue) ;;
		no_queue_alt) [ -n "${LQ_ALT_MODULE:-}" ] || die "no_queue_alt needs LQ_ALT_MODULE" ;;
		*) die "unknown configuration \"$c\" in LQ_CONFIGS" ;;
	esac
done
[ "$DURATION" -ge $((READER_AT + READER_SECS + 3)) ] ||
	die "DURATION must cover the reader's end plus 3 s"

PGBIN=$("$PG_CONFIG" --bindir)
so=${LQ_MODULE:-$("$PG_CONFIG" --pkglibdir)/migration_guard.so}
[ -f "$so" ] || die "$so is missing: make install first"
servers="guard plain"
if [ -n "${LQ_ALT_MODULE:-}" ]; then
	[ -f "$LQ_ALT_MODULE" ] || die "$LQ_ALT_MODULE is missing"
	servers="$servers alt"
fi

if [ "$(id -u)" = 0 ]; then
	id "$user" >/dev/null 2>&1 || die "user $user does not exist"
	as_user() { runuser -u "$user" -- env LC_ALL=C LANG=C "$@"; }
else
	user=$(id -un)
	as_user() { env LC_ALL=C LANG=C "$@"; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mg-lock-queue.XXXXXX")
sock=$work/sock
declare -A port=([guard]=$PORT [plain]=$((PORT + 1)) [alt]=$((PORT + 2)))

cleanup() {
	local rc=$? s
	for s in $servers; do
		if [ -f "$work/$s/postmaster.pid" ]; then
			as_user "$PGBIN/pg_ctl" -D "$work/$s" -m fast -w stop >/dev/null 2>&1 ||
				as_user "$PGBIN/pg_ctl" -D "$work/$s" -m immediate -w stop >/dev/null 2>&1 || true
		fi
	done
	if [ "${LQ_KEEP:-0}" = 1 ]; then
		say "kept $work"
	else
		rm -rf "$work"
	fi
	[ "$rc" = 0 ] || say "failed (exit $rc)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$sock" "$work/lib" "$work/log"
cp "$so" "$work/lib/migration_guard.so"
so_sha=$(sha256sum "$work/lib/migration_guard.so" | cut -c1-12)
if [ -n "${LQ_ALT_MODULE:-}" ]; then
	mkdir "$work/lib-alt"
	cp "$LQ_ALT_MODULE" "$work/lib-alt/migration_guard.so"
	so_sha="$so_sha (alt: $(sha256sum "$work/lib-alt/migration_guard.so" | cut -c1-12))"
fi
[ "$(id -u)" = 0 ] && chown -R "$user" "$work"
chmod 700 "$sock"

# psql_ <server> [psql options]: a session on that server's postgres database
psql_() {
	local s=$1
	shift
	as_user "$PGBIN/psql" -X -q -h "$sock" -p "${port[$s]}" -d postgres "$@"
}

# ------------------------------------------------------------- servers

for s in $servers; do
	as_user "$PGBIN/initdb" -D "$work/$s" --locale=C -E UTF8 -A trust >"$work/log/initdb-$s.log"
	case "$s" in
		guard) preload="$work/lib/migration_guard.so" ;;
		alt) preload="$work/lib-alt/migration_guard.so" ;;
		plain) preload="" ;;
	esac
	cat >>"$work/$s/postgresql.conf" <<EOF

# bench/lock_queue.sh: identical on every server but for the preload
listen_addresses = ''
port = ${port[$s]}
unix_socket_directories = '$sock'
jit = off
log_min_messages = warning
shared_preload_libraries = '$preload'
EOF
	as_user "$PGBIN/pg_ctl" -D "$work/$s" -l "$work/log/server-$s.log" -w -t 120 start >/dev/null ||
		{ tail -20 "$work/log/server-$s.log" >&2; die "the $s server did not start"; }
	# The table's own autovacuum is off: a VACUUM between episodes keeps
	# every episode on the same table, and no autovacuum or autoanalyze gets
	# in the DDL's way by chance.
	psql_ "$s" -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE lq_bench (id int PRIMARY KEY, v int NOT NULL) WITH (autovacuum_enabled = off);
INSERT INTO lq_bench SELECT g, 0 FROM generate_series(1, 100000) g;
VACUUM ANALYZE lq_bench;
SQL
done
mode=$(psql_ guard -At -c "SELECT current_setting('migration_guard.mode', true) || ' ' || current_setting('migration_guard.lock_wait', true)")
plain=$(psql_ plain -At -c "SELECT coalesce(current_setting('migration_guard.mode', true), 'not loaded')")
[ "$plain" = "not loaded" ] || die "the plain server has migration_guard loaded"
case "$mode" in
	"enforce no_queue") ;;
	*) die "the guard's server has migration_guard.mode and lock_wait '$mode', not 'enforce no_queue'" ;;
esac
if [ -n "${LQ_ALT_MODULE:-}" ]; then
	mode=$(psql_ alt -At -c "SELECT current_setting('migration_guard.mode', true) || ' ' || current_setting('migration_guard.lock_wait', true)")
	[ "$mode" = "enforce no_queue" ] || die "the alt server has migration_guard.mode and lock_wait '$mode'"
fi
pg_version=$(psql_ guard -At -c "SHOW server_version")

cat >"$work/oltp.sql" <<'SQL'
\set id random(1, 100000)
SELECT v FROM lq_bench WHERE id = :id;
UPDATE lq_bench SET v = v + 1 WHERE id = :id;
SQL
[ "$(id -u)" = 0 ] && chown "$user" "$work/oltp.sql"

# Busy and total CPU ticks of the whole machine, from /proc/stat
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }

# ------------------------------------------------------------- episodes

# The settings of the DDL's session, per configuration
ddl_settings() {
	case "$1" in
		no_guard) echo "SET lock_timeout = '$DDL_TIMEOUT';" ;;
		no_queue_alt) ddl_settings no_queue ;;
		*) echo "SET lock_timeout = 0; SET migration_guard.lock_timeout = '$DDL_TIMEOUT'; SET migration_guard.lock_wait = $1;" ;;
	esac
}

# episode <config> <round>: one line of raw figures on stdout
episode() {
	local config=$1 round=$2 s=guard ep rate=() bench reader t0 t1 tot0 tot1 arrive done_ reader_end ddl err
	[ "$config" = no_guard ] && s=plain
	[ "$config" = no_queue_alt ] && s=alt
	ep=$work/ep-$config-$round
	mkdir -p "$ep"
	[ "$(id -u)" = 0 ] && chown "$user" "$ep"

	# The same table for every episode: no column left from the last one,
	# its dead rows vacuumed, its dirty pages written.
	psql_ "$s" -v ON_ERROR_STOP=1 -c 'ALTER TABLE lq_bench DROP COLUMN IF EXISTS lq_c' \
		-c 'VACUUM lq_bench' -c 'CHECKPOINT' 2>>"$work/log/setup.log"
	sleep 0.5

	[ "$RATE" -gt 0 ] && rate=(-R "$RATE")
	read -r t0 tot0 <<<"$(machine_ticks)"
	(cd "$ep" && as_user "$PGBIN/pgbench" -n -h "$sock" -p "${port[$s]}" -d postgres \
		-f "$work/oltp.sql" -c "$CLIENTS" -j 2 "${rate[@]}" -T "$DURATION" \
		-l --log-prefix=log >"$ep/pgbench.out" 2>&1) &
	bench=$!
	sleep "$READER_AT"
	psql_ "$s" -At >"$ep/reader.out" 2>&1 <<SQL &
BEGIN;
SELECT 'count ' || count(*) FROM lq_bench;
SELECT 'start ' || extract(epoch FROM clock_timestamp());
SELECT pg_sleep($READER_SECS);
SELECT 'end ' || extract(epoch FROM clock_timestamp());
COMMIT;
SQL
	reader=$!
	sleep 1
	if [ "$config" = no_ddl ]; then
		psql_ "$s" -At -c "SELECT 'arrive ' || extract(epoch FROM clock_timestamp())" >"$ep/ddl.out" 2>&1
	else
		# No ON_ERROR_STOP: after a failed DDL, "done" is the time of failure.
		psql_ "$s" -At >"$ep/ddl.out" 2>&1 <<SQL
$(ddl_settings "$config")
SELECT 'arrive ' || extract(epoch FROM clock_timestamp());
ALTER TABLE lq_bench ADD COLUMN lq_c int;
SELECT 'done ' || extract(epoch FROM clock_timestamp());
SQL
	fi
	wait "$reader"
	wait "$bench" || die "pgbench failed in $config round $round: $(tail -3 "$ep/pgbench.out")"
	read -r t1 tot1 <<<"$(machine_ticks)"

	arrive=$(awk '$1 == "arrive" {print $2}' "$ep/ddl.out")
	done_=$(awk '$1 == "done" {print $2}' "$ep/ddl.out")
	reader_end=$(awk '$1 == "end" {print $2}' "$ep/reader.out")
	[ -n "$arrive" ] && [ -n "$reader_end" ] ||
		die "no timestamps in $config round $round: $(cat "$ep/ddl.out" "$ep/reader.out")"
	err=$(grep -o 'ERROR:.*' "$ep/ddl.out" | head -1 || true)
	if [ "$config" = no_ddl ]; then
		ddl="-"
	elif [ -n "$err" ]; then
		ddl="failed: $err"
	else
		ddl="ok"
	fi

	# pgbench log lines: client xact latency_us script epoch_s epoch_us
	# [lag_us], at the end of the transaction.  With a rate, the latency
	# counts from the scheduled start (lag included): the start is end -
	# latency.  Into $ep/lat: the latencies (ms) of the transactions that
	# started in the window; on stdout: how many ended in it.
	to=$(echo "$reader_end + 1" | bc)
	ended=$(cat "$ep"/log.* | awk -v from="$arrive" -v to="$to" -v lat="$ep/lat.unsorted" '
		{ end = $5 + $6 / 1e6; start = end - $3 / 1e6
		  if (start >= from && start <= to) printf "%.3f\n", $3 / 1000 >lat
		  if (end >= from && end <= to) ended++ }
		END { print ended + 0 }')
	touch "$ep/lat.unsorted"
	sort -g "$ep/lat.unsorted" >"$ep/lat"
	awk -v from="$arrive" -v to="$to" -v ended="$ended" -v done_="${done_:--}" -v rend="$reader_end" \
		-v busy="$((t1 - t0))" -v tot="$((tot1 - tot0))" -v config="$config" -v round="$round" -v ddl="$ddl" '
		{ lat[NR] = $1 }
		END {
			n = NR
			if (done_ == "-") { wait = "-"; after = "-" }
			else { wait = sprintf("%.3f", done_ - from); after = sprintf("%.3f", done_ - rend) }
			if (n == 0) { p50 = "-"; p99 = "-"; max = "-" }
			else {
				p50 = lat[int(n * 0.50 + 0.999999)]; p99 = lat[int(n * 0.99 + 0.999999)]; max = lat[n]
			}
			printf "%s %s %s %s %s %d %.0f %s %s %.0f %s\n", config, round, p50, p99, max,
				n, ended / (to - from), wait, after, (tot > 0 ? 100 * busy / tot : 0), ddl
		}' "$ep/lat"
}

say "PostgreSQL $pg_version from $PGBIN, migration_guard.so $so_sha; $ROUNDS rounds of: $CONFIGS"
say "pgbench $CLIENTS clients at ${RATE}/s for ${DURATION}s; reader at ${READER_AT}s for ${READER_SECS}s; DDL 1 s later, timeout $DDL_TIMEOUT"
raw=$work/raw
: >"$raw"
printf '%-12s %5s %8s %8s %8s %6s %6s %9s %9s %5s  %s\n' \
	config round p50_ms p99_ms max_ms n tps ddl_s after_s busy% ddl
set -- $CONFIGS
nconf=$#
for round in $(seq 1 "$ROUNDS"); do
	# Rotate the order each round: no configuration always runs first.
	order=()
	for i in $(seq 0 $((nconf - 1))); do
		j=$(((i + round - 1) % nconf + 1))
		order+=("${!j}")
	done
	for config in "${order[@]}"; do
		line=$(episode "$config" "$round")
		echo "$line" >>"$raw"
		echo "$line" | awk '{ ddl = $11; for (i = 12; i <= NF; i++) ddl = ddl " " $i
			printf "%-12s %5s %8s %8s %8s %6s %6s %9s %9s %5s  %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ddl }'
	done
done

# ------------------------------------------------------------- summary

# min / median / max of a column over the rounds of a configuration
mmm() {
	awk -v c="$1" -v k="$2" '$1 == c && $k != "-" {print $k}' "$raw" | sort -g |
		awk '{v[NR] = $1} END {
			if (NR == 0) { print "-"; exit }
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%s / %s / %s\n", v[1] + 0, m + 0, v[NR] + 0 }'
}
echo
echo "Min / median / max over $ROUNDS rounds (latency in ms, DDL times in s):"
echo
echo "| configuration | OLTP p50 | OLTP p99 | OLTP max | throughput (tps) | DDL done after arrival | DDL done after reader's end | DDL failed | machine busy % |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in $CONFIGS; do
	fails=$(awk -v c="$c" '$1 == c && $11 == "failed:"' "$raw" | wc -l)
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$c" "$(mmm "$c" 3)" "$(mmm "$c" 4)" \
		"$(mmm "$c" 5)" "$(mmm "$c" 7)" "$(mmm "$c" 8)" "$(mmm "$c" 9)" \
		"$([ "$c" = no_ddl ] && echo - || echo "$fails of $ROUNDS")" "$(mmm "$c" 10)"
done

# The target, per round: p99 of each DDL configuration over the p99 of
# no_ddl in the same round.
if echo " $CONFIGS " | grep -q ' no_ddl '; then
	echo
	for c in $CONFIGS; do
		[ "$c" = no_ddl ] && continue
		awk -v c="$c" '$1 == "no_ddl" {b[$2] = $4} $1 == c {p[$2] = $4; a[$2] = $9}
			END {
				for (r in p) if (r in b && b[r] > 0) {
					q = p[r] / b[r]; n++; if (q <= 2) ok++
					if (a[r] != "-" && a[r] <= 1) in1++
					if (min == "" || q < min) min = q; if (q > max) max = q }
				printf "%s: p99 / no_ddl p99 in the same round: %.2f to %.2f, within 2x in %d of %d rounds; DDL done within 1 s of the reader'"'"'s end in %d of %d\n",
					c, min, max, ok, n, in1, n }' "$raw"
	done
fi
