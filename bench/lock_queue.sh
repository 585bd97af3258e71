#!/bin/bash
# lock_queue.sh - what a DDL waiting for its lock costs the application,
# with migration_guard.lock_wait = queue and = no_queue (issue 13).
#
#   PGHOST=/path/to/socket PGPORT=54180 bench/lock_queue.sh
#
# Runs against an existing throwaway server that preloads migration_guard
# (as its superuser; creates and drops table lq_bench in database
# ${PGDATABASE:-postgres}).  For each mode, ROUNDS times: pgbench runs
# point SELECTs and UPDATEs on the table at a fixed rate (RATE per second;
# RATE=0: as fast as it can) for 10 s; at 3 s a
# reader takes ACCESS SHARE on the table for READER_SECS seconds; at 4 s an
# ALTER TABLE ... ADD COLUMN (ACCESS EXCLUSIVE, instant once granted)
# arrives, with migration_guard.lock_timeout = DDL_TIMEOUT.  Reported: the
# latency (p50, p99, max, in ms) of the pgbench transactions that started
# during the episode, from the DDL's arrival until the reader's end plus
# 1 s, and what became of the DDL.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-8}
RATE=${RATE:-800}
READER_SECS=${READER_SECS:-3}
DDL_TIMEOUT=${DDL_TIMEOUT:-5s}
DB=${PGDATABASE:-postgres}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

psql -X -q -d "$DB" -v ON_ERROR_STOP=1 <<SQL
DROP TABLE IF EXISTS lq_bench;
CREATE TABLE lq_bench (id int PRIMARY KEY, v int NOT NULL);
INSERT INTO lq_bench SELECT g, 0 FROM generate_series(1, 100000) g;
VACUUM ANALYZE lq_bench;
SQL

cat > "$WORK/oltp.sql" <<'SQL'
\set id random(1, 100000)
SELECT v FROM lq_bench WHERE id = :id;
UPDATE lq_bench SET v = v + 1 WHERE id = :id;
SQL

printf '%-9s %5s %8s %8s %8s %7s  %s\n' mode round p50_ms p99_ms max_ms n ddl
for round in $(seq 1 "$ROUNDS"); do
	for mode in queue no_queue; do
		rm -f "$WORK"/pgbench_log.*
		rate=()
		[ "$RATE" -gt 0 ] && rate=(-R "$RATE")
		(cd "$WORK" && pgbench -n -d "$DB" -f oltp.sql -c "$CLIENTS" -j 2 "${rate[@]}" -T 10 -l \
			--log-prefix=pgbench_log >/dev/null 2>&1) &
		bench=$!
		sleep 3
		psql -X -q -d "$DB" -c "BEGIN; SELECT count(*) FROM lq_bench; SELECT pg_sleep($READER_SECS); COMMIT;" >/dev/null &
		reader=$!
		sleep 1
		ddl_start=$(date +%s.%N)
		if psql -X -q -d "$DB" -v ON_ERROR_STOP=1 >/dev/null 2>"$WORK/ddl.err" <<SQL
SET lock_timeout = 0;
SET migration_guard.lock_timeout = '$DDL_TIMEOUT';
SET migration_guard.lock_wait = $mode;
ALTER TABLE lq_bench ADD COLUMN c_${mode}_$round int;
SQL
		then
			ddl="ok after $(echo "$(date +%s.%N) - $ddl_start" | bc | xargs printf '%.2f') s"
		else
			ddl="failed after $(echo "$(date +%s.%N) - $ddl_start" | bc | xargs printf '%.2f') s: $(grep -o 'ERROR:.*' "$WORK/ddl.err" | head -1)"
		fi
		wait "$reader" "$bench"
		# Log lines: client xact latency_us script epoch_s epoch_us [lag_us]
		# (the end of the transaction).  Its start is end - latency.
		cat "$WORK"/pgbench_log.* | awk -v from="$ddl_start" -v to="$(echo "$ddl_start + $READER_SECS" | bc)" '
			{ end = $5 + $6 / 1e6; start = end - $3 / 1e6;
			  if (start >= from && start <= to) printf "%.2f\n", $3 / 1000 }' | sort -n > "$WORK/lat"
		n=$(wc -l < "$WORK/lat")
		if [ "$n" -gt 0 ]; then
			p50=$(awk -v n="$n" 'NR == int((n + 1) * 0.50) || (NR == 1 && n < 2) { print; exit }' "$WORK/lat")
			p99=$(awk -v n="$n" 'NR == int(n * 0.99) || (NR == n && n < 100) { print; exit }' "$WORK/lat")
			max=$(tail -1 "$WORK/lat")
		else
			p50=-; p99=-; max=-
		fi
		printf '%-9s %5s %8s %8s %8s %7s  %s\n' "$mode" "$round" "$p50" "$p99" "$max" "$n" "$ddl"
	done
done

psql -X -q -d "$DB" -c 'DROP TABLE lq_bench;'
