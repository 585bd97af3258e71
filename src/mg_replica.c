/*-------------------------------------------------------------------------
 *
 * mg_replica.c
 *		How much WAL a statement would write, and the replica gate (rule
 *		"replica_lag").
 *
 * A rewrite or an index build that the policy lets run (warn mode, a
 * maintenance window, a relaxed rule, raised thresholds, a tool's private
 * copy), or a backfill it lets through, writes WAL in proportion to the
 * relation: standbys fall behind and replication slots retain it.  Only the
 * primary sees every standby's replay position and every slot, and only the
 * guard knows, before the statement starts, roughly how much it will write.
 *
 * WAL estimates (bytes), shown in the DETAIL of every rejection and warning:
 *
 * - table_rewrite: the new copy of the heap and TOAST table (what mg_size.c
 *   measured) plus the indexes, which are rebuilt: their current size.
 *   ALTER TABLE inserts the new rows one by one, each with its own WAL
 *   record header; VACUUM FULL, CLUSTER and the like log whole pages.
 * - blocking_index_build, concurrent_index_timeout: a new index, estimated
 *   from the heap as a B-tree over narrow keys: one leaf tuple per row
 *   (8-byte tuple header, 16 bytes of key, 4-byte line pointer) at the
 *   default leaf fill factor of 90%.  Wider keys, GIN and GiST indexes write
 *   more; a REINDEX rebuilds existing indexes, so for it the current size of
 *   the table's indexes is used instead (all of them: also for REINDEX
 *   INDEX, which errs on the large side).
 * - validation_scan, invalid_index_exists: almost none (hint bits can cost
 *   full-page images with checksums on, but not in proportion to a rewrite).
 * - backfill, held_lock_work (mg_executor.c): rows times the table's average
 *   row width on disk (heap bytes over estimated rows, both from the catalog
 *   and the files) plus a record header; for INSERT, UPDATE and MERGE also
 *   one entry per index (their bytes per row, plus a record header each:
 *   an UPDATE is assumed not to be HOT); and for UPDATE, DELETE and MERGE
 *   one full-page image per heap page touched (at most the table's pages),
 *   since the first change of a page after a checkpoint logs the whole
 *   page.  INSERT fills new pages, which need no image.
 *
 * Measured on PostgreSQL 15, a table of a million rows (id int primary key,
 * md5 text, bigint), estimate / WAL written: ALTER COLUMN TYPE 125 / 119 MB,
 * CREATE INDEX on the bigint 30 / 20 MB, VACUUM FULL 116 / 113 MB, UPDATE of
 * 300000 rows 144 / 130 MB, INSERT of 300000 rows 73 / 68 MB.
 *
 * The gate.  Every finding that the policy lets run and that is big by the
 * current or the default thresholds (the decisions mg_decide() reports: the
 * others write little WAL), and every DML statement that rule backfill or
 * held_lock_work lets run, is judged before it starts, unless its estimate
 * is zero:
 *
 * - migration_guard.max_replica_lag: a standby (any walsender streaming or
 *   catching up) whose replay position is further behind the current WAL
 *   insert position than this.  Bytes, not time: replay_lag freezes while
 *   replay is paused or stuck, which is exactly when it matters.
 * - migration_guard.max_slot_retained_wal: a replication slot whose retained
 *   WAL (current position minus restart_lsn) plus the statement's estimate
 *   would exceed this budget.
 *
 * The action is the weaker of migration_guard.mode and
 * migration_guard.replica_lag_action.  A maintenance window does not relax
 * it: the window makes long locks acceptable, and replicas fall behind at
 * any hour.  On a standby (and during recovery) the gate does nothing.
 *
 * Locking: a walsender's fields are copied under its spinlock; the slots are
 * copied under ReplicationSlotControlLock, shared, and each slot's spinlock,
 * into an array allocated before the lock is taken.  Nothing is allocated,
 * written or reported while a lock is held, and nothing here waits: the gate
 * only reads positions that the walsenders and slots publish anyway.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_replica.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "access/xlog.h"
#include "fmgr.h"
#include "replication/slot.h"
#include "replication/walsender.h"
#include "replication/walsender_private.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"

#include "migration_guard.h"
#include "mg_compat.h"

/* migration_guard.max_replica_lag: kB, 0 = off */
int			mg_max_replica_lag_kb = 0;

/* migration_guard.max_slot_retained_wal: kB, 0 = off */
int			mg_max_slot_retained_wal_kb = 0;

/* A B-tree leaf tuple over narrow keys, with its line pointer (see above) */
#define MG_INDEX_TUPLE_BYTES	28.0
#define MG_INDEX_FILL			0.9

/*
 * WAL record and block headers of one heap row change (beyond what the
 * tuple's own header and line pointer count on disk), and of one index
 * entry insertion, about.
 */
#define MG_ROW_RECORD_BYTES		32.0
#define MG_INDEX_RECORD_BYTES	48.0

/* Row width assumed for a table too small to tell */
#define MG_MIN_ROW_WIDTH		32.0

/* A standby or slot past its limit, as the gate reports it */
typedef struct MGReplicaLag
{
	bool		is_slot;
	char		name[NAMEDATALEN];	/* application_name or slot name */
	int			pid;			/* walsender PID, for a standby */
	uint64		behind;			/* replay lag, or WAL retained */
} MGReplicaLag;

static int64
mg_clamp_bytes(double bytes)
{
	if (!(bytes > 0))
		return 0;
	if (bytes >= (double) PG_INT64_MAX)
		return PG_INT64_MAX;
	return (int64) bytes;
}

/* Pretty size, as pg_size_pretty() prints it */
static char *
mg_pretty(int64 bytes)
{
	return text_to_cstring(DatumGetTextPP(DirectFunctionCall1(pg_size_pretty,
															  Int64GetDatum(bytes))));
}

/*
 * WAL that one finding's work would write, by its rule (see the file
 * header).
 */
int64
mg_wal_estimate(const MGAnalysis *analysis, const MGFinding *f,
				const MGRelSize *size)
{
	bool		reindex = analysis->command != NULL &&
		strcmp(analysis->command, "REINDEX") == 0;
	bool		alter_table = analysis->command != NULL &&
		strcmp(analysis->command, "ALTER TABLE") == 0;

	switch (f->rule)
	{
		case MG_RULE_TABLE_REWRITE:
			return mg_clamp_bytes((double) size->bytes +
								  (double) mg_index_bytes(size->relids, NULL) +
								  (alter_table ? size->rows * MG_ROW_RECORD_BYTES : 0));
		case MG_RULE_BLOCKING_INDEX_BUILD:
		case MG_RULE_CONCURRENT_INDEX_TIMEOUT:
			if (reindex)
				return mg_index_bytes(size->relids, NULL);
			return mg_clamp_bytes(size->rows * MG_INDEX_TUPLE_BYTES / MG_INDEX_FILL);
		case MG_RULE_VALIDATION_SCAN:
		case MG_RULE_INVALID_INDEX_EXISTS:
			return 0;
		case MG_RULE_BACKFILL:
		case MG_RULE_HELD_LOCK_WORK:
		case MG_RULE_REPLICA_LAG:
			/* DML is estimated by mg_wal_estimate_dml() */
			return 0;
	}
	return 0;
}

/*
 * WAL that a DML statement modifying about rows rows of a table of the
 * given size would write (see the file header).
 */
int64
mg_wal_estimate_dml(CmdType operation, double rows, const MGRelSize *size)
{
	double		width = MG_MIN_ROW_WIDTH;
	double		per_row;
	double		images = 0;

	if (size->rows >= 1 && size->bytes > 0)
		width = Max(width, (double) size->bytes / size->rows);
	per_row = width + MG_ROW_RECORD_BYTES;
	if (operation != CMD_DELETE)
	{
		int			nindexes = 0;
		int64		index_bytes = mg_index_bytes(size->relids, &nindexes);

		if (size->rows >= 1)
			per_row += (double) index_bytes / size->rows;
		per_row += nindexes * MG_INDEX_RECORD_BYTES;
	}
	if (operation != CMD_INSERT)
		images = Min(rows, ceil((double) size->bytes / BLCKSZ)) * BLCKSZ;
	return mg_clamp_bytes(rows * per_row + images);
}

/*
 * The sentence about the estimate that ends a DETAIL, with its two leading
 * spaces.
 */
char *
mg_wal_sentence(int64 wal_bytes)
{
	if (wal_bytes <= 0)
		return pstrdup("  It would write almost no WAL.");
	return psprintf("  It would write about %s of WAL.", mg_pretty(wal_bytes));
}

/*
 * application_name of the walsender with this PID, as pg_stat_replication
 * shows it, or NULL.  The backend status snapshot is taken afresh.
 */
static char *
mg_walsender_name(int pid)
{
	int			n;
	int			i;

	mg_clear_backend_status_snapshot();
	n = pgstat_fetch_stat_numbackends();
	for (i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *local = mg_local_beentry_by_index(i);

		if (local == NULL || local->backendStatus.st_procpid != pid)
			continue;
		if (local->backendStatus.st_appname == NULL ||
			local->backendStatus.st_appname[0] == '\0')
			return NULL;
		return pstrdup(local->backendStatus.st_appname);
	}
	return NULL;
}

/*
 * The standby furthest behind in replay, if it is further behind than
 * migration_guard.max_replica_lag.  A standby that has not reported a replay
 * position yet is not judged.
 */
static bool
mg_lagging_standby(XLogRecPtr now, MGReplicaLag *lag)
{
	uint64		limit = (uint64) mg_max_replica_lag_kb * 1024;
	uint64		worst = 0;
	int			worst_pid = 0;
	int			i;
	char	   *name;

	if (mg_max_replica_lag_kb <= 0 || WalSndCtl == NULL)
		return false;

	for (i = 0; i < max_wal_senders; i++)
	{
		WalSnd	   *walsnd = &WalSndCtl->walsnds[i];
		pid_t		pid;
		WalSndState state;
		XLogRecPtr	apply;

		SpinLockAcquire(&walsnd->mutex);
		pid = walsnd->pid;
		state = walsnd->state;
		apply = walsnd->apply;
		SpinLockRelease(&walsnd->mutex);

		if (pid == 0 || XLogRecPtrIsInvalid(apply) || apply >= now ||
			(state != WALSNDSTATE_STREAMING && state != WALSNDSTATE_CATCHUP))
			continue;
		if (now - apply > worst)
		{
			worst = now - apply;
			worst_pid = (int) pid;
		}
	}
	if (worst <= limit)
		return false;

	memset(lag, 0, sizeof(*lag));
	lag->is_slot = false;
	lag->pid = worst_pid;
	lag->behind = worst;
	name = mg_walsender_name(worst_pid);
	if (name != NULL)
		strlcpy(lag->name, name, sizeof(lag->name));
	else
		snprintf(lag->name, sizeof(lag->name), "walsender %d", worst_pid);
	return true;
}

/*
 * The slot retaining the most WAL, if that plus the statement's estimate
 * would exceed migration_guard.max_slot_retained_wal.
 */
static bool
mg_full_slot(XLogRecPtr now, int64 wal_bytes, MGReplicaLag *lag)
{
	uint64		budget = (uint64) mg_max_slot_retained_wal_kb * 1024;
	XLogRecPtr *restart;
	NameData   *names;
	int			nslots = 0;
	int			worst = -1;
	uint64		retained;
	int			i;

	if (mg_max_slot_retained_wal_kb <= 0 || ReplicationSlotCtl == NULL ||
		max_replication_slots <= 0)
		return false;

	/* Allocated before the lock: nothing below may fail while it is held. */
	restart = palloc(sizeof(XLogRecPtr) * max_replication_slots);
	names = palloc(sizeof(NameData) * max_replication_slots);

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (i = 0; i < max_replication_slots; i++)
	{
		ReplicationSlot *s = &ReplicationSlotCtl->replication_slots[i];

		if (!s->in_use)
			continue;
		SpinLockAcquire(&s->mutex);
		restart[nslots] = MG_SLOT_INVALIDATED(s) ? InvalidXLogRecPtr :
			s->data.restart_lsn;
		names[nslots] = s->data.name;
		SpinLockRelease(&s->mutex);
		nslots++;
	}
	LWLockRelease(ReplicationSlotControlLock);

	/* A slot that retains nothing yet will retain the statement's WAL. */
	for (i = 0; i < nslots; i++)
	{
		if (XLogRecPtrIsInvalid(restart[i]))
			continue;
		if (worst < 0 || restart[i] < restart[worst])
			worst = i;
	}
	retained = worst < 0 || restart[worst] >= now ? 0 : now - restart[worst];
	if (worst < 0 || (double) retained + (double) wal_bytes <= (double) budget)
	{
		pfree(restart);
		pfree(names);
		return false;
	}

	memset(lag, 0, sizeof(*lag));
	lag->is_slot = true;
	strlcpy(lag->name, NameStr(names[worst]), sizeof(lag->name));
	lag->behind = retained;
	pfree(restart);
	pfree(names);
	return true;
}

/*
 * Audit and report a gate decision: ERROR for a rejection (which does not
 * return), WARNING otherwise.  Returns the audit entry of a warning.
 */
static uint64
mg_gate_report(const MGDecision *allowed, const MGReplicaLag *lag,
			   int64 wal_bytes, int action)
{
	MGDecision	d = *allowed;
	MGFinding	f;
	bool		reject = action == MG_ACTION_ENFORCE;
	char	   *wal = mg_pretty(wal_bytes);
	char	   *behind = mg_pretty((int64) lag->behind);
	char	   *what;
	uint64		seq;

	what = lag->is_slot ?
		psprintf("replication slot \"%s\" retains %s of WAL", lag->name, behind) :
		psprintf("standby \"%s\" is %s behind in replay", lag->name, behind);

	d.rule = MG_RULE_REPLICA_LAG;
	d.action = reject ? MG_VERDICT_REJECTED : MG_VERDICT_WARNED;
	d.why = reject ? what :
		psprintf("%s; %s", what,
				 mg_mode == MG_ACTION_WARN ? "migration_guard.mode = warn" :
				 "migration_guard.replica_lag_action = warn");
	seq = mg_audit_decision(&d);

	memset(&f, 0, sizeof(f));
	f.rule = MG_RULE_REPLICA_LAG;
	if (lag->is_slot)
	{
		f.hint = "Let the slot's consumer catch up, or drop the slot if it is abandoned (see restart_lsn in pg_replication_slots), then run the statement again.";
		ereport(reject ? ERROR : WARNING,
				errcode(ERRCODE_MG_UNSAFE_DDL),
				errmsg("%s on \"%s\" would write about %s of WAL while replication slot \"%s\" retains %s",
					   d.command, d.relation, wal, lag->name, behind),
				errdetail("Replication slot \"%s\" retains %s of WAL; with the statement's about %s it would retain more than \"migration_guard.max_slot_retained_wal\" (%s).",
						  lag->name, behind, wal,
						  mg_pretty((int64) mg_max_slot_retained_wal_kb * 1024)),
				errhint("%s", mg_finding_hint(&f, reject)));
	}
	else
	{
		f.hint = "Wait until the standby has replayed the WAL it lags behind (see replay_lsn in pg_stat_replication), then run the statement again.";
		ereport(reject ? ERROR : WARNING,
				errcode(ERRCODE_MG_UNSAFE_DDL),
				errmsg("%s on \"%s\" would write about %s of WAL while standby \"%s\" is %s behind",
					   d.command, d.relation, wal, lag->name, behind),
				errdetail("Standby \"%s\" (walsender PID %d) has not replayed the last %s of WAL, more than \"migration_guard.max_replica_lag\" (%s).  The statement would add about %s.",
						  lag->name, lag->pid, behind,
						  mg_pretty((int64) mg_max_replica_lag_kb * 1024), wal),
				errhint("%s", mg_finding_hint(&f, reject)));
	}
	return seq;
}

/*
 * The replica gate, for a decision that lets a statement run, and the WAL
 * that the statement's allowed work would write: reject or warn by policy
 * when a standby lags or a slot would retain too much.  Returns the audit
 * entry of a warning (0 when nothing was said).
 */
uint64
mg_replica_gate(const MGDecision *d, int64 wal_bytes)
{
	int			action;
	XLogRecPtr	now;
	MGReplicaLag lag;

	if (mg_max_replica_lag_kb <= 0 && mg_max_slot_retained_wal_kb <= 0)
		return 0;
	if (d->action == MG_VERDICT_REJECTED || wal_bytes <= 0 || IsBinaryUpgrade)
		return 0;
	action = Min(mg_mode, mg_rule_action[MG_RULE_REPLICA_LAG]);
	if (action == MG_ACTION_OFF)
		return 0;
	/* A standby's own standbys follow the primary's WAL, not ours. */
	if (RecoveryInProgress())
		return 0;

	now = GetXLogInsertRecPtr();
	if (mg_lagging_standby(now, &lag) || mg_full_slot(now, wal_bytes, &lag))
		return mg_gate_report(d, &lag, wal_bytes, action);
	return 0;
}

/*
 * Define the gate's settings; called from _PG_init.  Its action,
 * migration_guard.replica_lag_action, is defined with the other rules'.
 */
void
mg_define_replica_gucs(void)
{
	DefineCustomIntVariable("migration_guard.max_replica_lag",
							"Sets the replay lag of a standby above which statements that write much WAL are judged by rule \"replica_lag\".",
							"Bytes of WAL between the primary's current position and a standby's replay "
							"position, as pg_stat_replication shows them.  0 disables the check.",
							&mg_max_replica_lag_kb,
							0,
							0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migration_guard.max_slot_retained_wal",
							"Sets the WAL a replication slot may retain, counting the estimate of the statement about to run.",
							"A statement whose WAL estimate would take a slot's retained WAL (current "
							"position minus restart_lsn) above it is judged by rule \"replica_lag\".  "
							"0 disables the check.",
							&mg_max_slot_retained_wal_kb,
							0,
							0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
}
