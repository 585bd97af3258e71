/*-------------------------------------------------------------------------
 *
 * mg_lock_hold.c
 *		A budget for how long a transaction may hold a write-blocking lock:
 *		migration_guard.lock_hold_timeout.
 *
 * Frameworks wrap a migration in one transaction.  A cheap statement that
 * takes ACCESS EXCLUSIVE keeps the lock until COMMIT, and whatever runs
 * after it (a backfill, a loop of small batches, pg_sleep, client think
 * time) runs under that lock while every query on the table queues.
 * lock_timeout bounds the wait for a lock, never the hold, and PostgreSQL
 * has no lock-hold timeout.
 *
 * What counts.  After each utility statement, the ProcessUtility hook hands
 * us the lock targets of the statement's analysis (mg_analyze_locks(): the
 * relations it locks in SHARE mode or stronger, LOCK TABLE included).  Each target that
 * the transaction now holds in that mode or a stronger one, that is not
 * temporary and that was not created by this transaction (rd_createSubid),
 * is remembered with the time, the statement and a prepared audit record.
 * rd_firstRelfilelocatorSubid is deliberately not looked at: TRUNCATE or a
 * rewrite of an existing table sets it, and other sessions queue behind
 * that lock all the same.  A relation dropped by the statement has no
 * relcache entry left to tell whether it existed before, and is not
 * counted.  The clock runs from the end of the first such statement (its
 * own run time is bounded by lock_timeout and the guard's rules).
 *
 * Ending the transaction.  A timeout of our own (RegisterTimeout) fires
 * when the budget is spent and then again every tick (at most 1 s).  A
 * signal handler may only set flags, so it uses PostgreSQL's own:
 *
 *	- QueryCancelPending: ProcessInterrupts() raises "canceling statement
 *	  due to user request" (57014) at its next CHECK_FOR_INTERRUPTS, which
 *	  interrupts pg_sleep, a long UPDATE or a lock wait alike.  57014 is
 *	  also what statement_timeout raises: a spent time budget, not a lock
 *	  that could not be had (55P03), which migration tools retry on; a
 *	  retry would only hold the lock for as long again.
 *	- While the backend waits for the client's next message (idle in
 *	  transaction, or COPY FROM STDIN waiting for data), a cancel is held
 *	  off (SocketBackend() and CopyGetData() use HOLD_CANCEL_INTERRUPTS, and
 *	  ProcessInterrupts() drops a cancel while DoingCommandRead).  So if at
 *	  the next tick the transaction still holds the lock and our error was
 *	  not emitted, and the cancel is either still held off
 *	  (QueryCancelHoldoffCount > 0) or was consumed without effect three
 *	  times (QueryCancelPending is false again: it arrived as the client's
 *	  next statement was being read, or a PL/pgSQL block caught it), the
 *	  handler escalates to ProcDiePending, which ProcessClientReadInterrupt()
 *	  honours while the backend waits for the client: the session ends with
 *	  FATAL, as for idle_in_transaction_session_timeout.  A subtransaction
 *	  rollback after our error reached the client (a savepoint) is audited
 *	  as a cancel and, if the lock is still held, the next tick starts over.
 *
 * An emit_log_hook rewrites PostgreSQL's generic message into ours (which
 * relation, which lock, taken by which statement, held for how long) and
 * sets the SQLSTATE of the termination to 25P03, the one of the idle in
 * transaction timeout.  It only formats what was collected when the lock
 * was taken; it does no I/O and looks nothing up.
 *
 * The audit record is written from the transaction abort callback (for the
 * FATAL too: proc_exit aborts the transaction).  I/O is allowed there and
 * the transaction is known to end; catalog access is not, so everything
 * that needs the catalogs (names of the database, roles, relation) was put
 * into the record when the lock was noted, and only the times are added.
 *
 * Explicit override.  The budget does not run while the session's policy
 * is relaxed: migration_guard.mode is warn or off (PGC_SUSET: only a
 * superuser or a role granted SET on it can set it, also per role or
 * database), or a maintenance window is open (as of the end of the last
 * utility statement; the handler cannot compute it).  A tick that finds
 * the policy relaxed restarts the count, so the time spent under the
 * override does not count and the budget starts again once the policy is
 * back to enforce.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_lock_hold.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "migration_guard.h"
#include "mg_compat.h"

/* migration_guard.lock_hold_timeout, in milliseconds; 0 disables */
int			mg_lock_hold_timeout_ms = 10000;

/* Locks remembered per transaction; later ones only matter after a rollback */
#define MG_MAX_HELD_LOCKS 8

/* Bytes of the statement quoted in the error */
#define MG_HOLD_STATEMENT_BYTES 100

/* The longest time between two looks after the budget is spent */
#define MG_HOLD_MAX_TICK_MS 1000

/* Cancels consumed without effect before the session is terminated */
#define MG_HOLD_MAX_CANCELS 3

/* What the handler asked PostgreSQL to do */
#define MG_HOLD_NONE		0
#define MG_HOLD_CANCEL		1
#define MG_HOLD_TERMINATE	2

/* One write-blocking lock the transaction holds, in TopTransactionContext */
typedef struct MGHeldLock
{
	Oid			relid;
	LOCKMODE	mode;			/* the strongest mode held */
	char	   *relname;		/* schema-qualified */
	char	   *statement;		/* the statement that took it, clipped */
	TimestampTz since;
	SubTransactionId subid;		/* (sub)transaction that took it */
	MGHoldRecord rec;			/* the audit record, composed ahead */
} MGHeldLock;

/* Oldest first: the first one starts the clock and is the one reported. */
static MGHeldLock mg_held[MG_MAX_HELD_LOCKS];
static int	mg_nheld = 0;

/* A lock that check() says the script would hold (mg_lock_hold_simulate) */
static struct
{
	bool		active;
	Oid			relid;
	LOCKMODE	mode;
	const char *relname;
	const char *statement;
}			mg_hold_sim;

/* Shared with the timeout handler */
static volatile sig_atomic_t mg_hold_armed = false;
static volatile sig_atomic_t mg_hold_window_open = false;
static volatile sig_atomic_t mg_hold_request = MG_HOLD_NONE;
static volatile sig_atomic_t mg_hold_delivered = false;
static volatile sig_atomic_t mg_hold_cancels = 0;
static volatile TimestampTz mg_hold_count_from = 0;

static bool mg_hold_timeout_registered = false;
static TimeoutId mg_hold_timeout_id;

static emit_log_hook_type prev_emit_log_hook = NULL;

/*
 * Timeout handler: only flags.  See the file header for the escalation from
 * cancel to terminate.
 */
static void
mg_hold_timeout_handler(void)
{
	int			budget = mg_lock_hold_timeout_ms;
	TimestampTz now;

	if (!mg_hold_armed || budget <= 0)
		return;
	now = GetCurrentTimestamp();
	if (mg_mode != MG_ACTION_ENFORCE || mg_hold_window_open)
	{
		mg_hold_count_from = now;
		return;
	}
	if (now < TimestampTzPlusMilliseconds(mg_hold_count_from, budget))
		return;

	if (mg_hold_request == MG_HOLD_TERMINATE || mg_hold_delivered ||
		(mg_hold_request == MG_HOLD_CANCEL && QueryCancelPending &&
		 QueryCancelHoldoffCount == 0))
		return;					/* already asked, or on its way */

	if (mg_hold_request == MG_HOLD_CANCEL &&
		(QueryCancelHoldoffCount > 0 || mg_hold_cancels >= MG_HOLD_MAX_CANCELS))
	{
		/*
		 * The backend waits for the client with the cancel held off, or
		 * cancels are consumed (caught) while the transaction goes on
		 * holding.
		 */
		mg_hold_request = MG_HOLD_TERMINATE;
		ProcDiePending = true;
		InterruptPending = true;
	}
	else
	{
		/* First try, or the last cancel came too late to do anything. */
		mg_hold_request = MG_HOLD_CANCEL;
		mg_hold_cancels++;
		QueryCancelPending = true;
		InterruptPending = true;
	}
	/* timeout.c sets our latch. */
}

/* Ticks after the budget is spent: often enough to escalate quickly. */
static int
mg_hold_tick_ms(void)
{
	return Max(10, Min(mg_lock_hold_timeout_ms, MG_HOLD_MAX_TICK_MS));
}

static void
mg_hold_disarm(void)
{
	if (mg_hold_armed)
		disable_timeout(mg_hold_timeout_id, false);
	mg_hold_armed = false;
}

/* Forget every lock: the transaction ended or the budget was switched off. */
static void
mg_hold_reset(void)
{
	mg_hold_disarm();
	mg_nheld = 0;
	mg_hold_request = MG_HOLD_NONE;
	mg_hold_delivered = false;
	mg_hold_cancels = 0;
}

/* Start the clock from the oldest lock still held. */
static void
mg_hold_arm(void)
{
	TimestampTz fin;

	mg_hold_disarm();
	if (mg_nheld == 0 || mg_lock_hold_timeout_ms <= 0)
		return;
	if (!mg_hold_timeout_registered)
	{
		mg_hold_timeout_id = RegisterTimeout(USER_TIMEOUT, mg_hold_timeout_handler);
		mg_hold_timeout_registered = true;
	}
	mg_hold_count_from = mg_held[0].since;
	fin = TimestampTzPlusMilliseconds(mg_held[0].since, mg_lock_hold_timeout_ms);
	mg_hold_armed = true;
	mg_enable_timeout_every(mg_hold_timeout_id, fin, mg_hold_tick_ms());
}

/* Is relid already remembered in mode or a stronger one? */
static bool
mg_hold_known(Oid relid, LOCKMODE mode)
{
	int			i;

	for (i = 0; i < mg_nheld; i++)
		if (mg_held[i].relid == relid && mg_held[i].mode >= mode)
			return true;
	return false;
}

/*
 * The strongest mode, at least "mode", in which this transaction holds a
 * lock on rel; NoLock if none.
 */
static LOCKMODE
mg_hold_strongest_held(Relation rel, LOCKMODE mode)
{
	LOCKTAG		tag;
	LOCKMODE	m;

	SET_LOCKTAG_RELATION(tag, rel->rd_lockInfo.lockRelId.dbId,
						 rel->rd_lockInfo.lockRelId.relId);
	for (m = AccessExclusiveLock; m >= mode; m--)
		if (mg_lock_held_by_me(&tag, m))
			return m;
	return NoLock;
}

/* The start of the statement, cut at a character boundary */
static char *
mg_hold_clip(const char *s)
{
	int			len;

	if (s == NULL)
		return pstrdup("?");
	len = strlen(s);
	if (len <= MG_HOLD_STATEMENT_BYTES + 3)
		return pstrdup(s);
	len = pg_mbcliplen(s, len, MG_HOLD_STATEMENT_BYTES);
	return psprintf("%.*s...", len, s);
}

/*
 * Remember one lock target if the transaction holds it and others can
 * queue behind it.
 */
static void
mg_hold_note_target(Oid relid, LOCKMODE mode, const char *relname,
					const char *command, const char *statement)
{
	Relation	rel;
	LOCKMODE	held;
	bool		counts;
	MemoryContext oldcxt;
	MGHeldLock *h;

	if (mg_nheld >= MG_MAX_HELD_LOCKS || mg_hold_known(relid, mode))
		return;
	rel = RelationIdGetRelation(relid);
	if (rel == NULL)
		return;
	counts = rel->rd_rel->relpersistence != RELPERSISTENCE_TEMP &&
		rel->rd_createSubid == InvalidSubTransactionId;
	held = counts ? mg_hold_strongest_held(rel, mode) : NoLock;
	RelationClose(rel);
	if (held == NoLock || mg_hold_known(relid, held))
		return;

	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	h = &mg_held[mg_nheld];
	h->relid = relid;
	h->mode = held;
	h->relname = pstrdup(relname ? relname : "?");
	h->statement = mg_hold_clip(statement);
	h->subid = GetCurrentSubTransactionId();
	mg_audit_lock_hold_prepare(&h->rec, command, statement, h->relname, held);
	h->since = GetCurrentTimestamp();
	MemoryContextSwitchTo(oldcxt);
	mg_nheld++;
}

/*
 * migration_guard.check() runs no statement of the script, so no lock of it
 * is held; while it analyses a statement that the script runs after one
 * that would take a write-blocking lock in the same transaction, it tells
 * us that lock, and the rules see it as held.  relid InvalidOid ends it.
 * The strings must outlive the analysis.  Transaction abort ends it too.
 */
void
mg_lock_hold_simulate(Oid relid, LOCKMODE mode, const char *relname,
					  const char *statement)
{
	mg_hold_sim.active = OidIsValid(relid);
	mg_hold_sim.relid = relid;
	mg_hold_sim.mode = mode;
	mg_hold_sim.relname = relname;
	mg_hold_sim.statement = statement;
}

/*
 * Rule held_lock_work for a utility statement whose work, described by
 * "work" (a DETAIL sentence), grows with relid's size: a finding if the
 * transaction holds a write-blocking lock, judged as if the statement took
 * it.  Returns whether there was one.
 */
bool
mg_add_held_lock_finding(MGAnalysis *analysis, Oid relid, bool recurse,
						 const char *work, char *hint)
{
	Oid			held_relid;
	LOCKMODE	held_mode;
	const char *held_relname;
	const char *held_stmt;

	if (!mg_lock_hold_current(&held_relid, &held_mode, &held_relname, &held_stmt))
		return false;
	mg_add_finding(analysis, MG_RULE_HELD_LOCK_WORK, relid, recurse, NIL, held_mode,
				   psprintf("%s  The transaction already holds %s lock on \"%s\", taken by \"%s\", until it ends.",
							work, mg_lockmode_name(held_mode), held_relname, held_stmt),
				   hint);
	return true;
}

/* Is check() analysing a statement as if a lock of its script were held? */
bool
mg_lock_hold_simulated(void)
{
	return mg_hold_sim.active;
}

/*
 * The oldest write-blocking lock that the transaction holds (the one the
 * budget runs from), for rule held_lock_work in mg_executor.c: false if none.
 * Out parameters may be NULL.  Cheap: called before every DML statement.
 */
bool
mg_lock_hold_current(Oid *relid, LOCKMODE *mode, const char **relname,
					 const char **statement)
{
	if (mg_hold_sim.active)
	{
		if (relid)
			*relid = mg_hold_sim.relid;
		if (mode)
			*mode = mg_hold_sim.mode;
		if (relname)
			*relname = mg_hold_sim.relname;
		if (statement)
			*statement = mg_hold_sim.statement;
		return true;
	}
	if (mg_nheld == 0)
		return false;
	if (relid)
		*relid = mg_held[0].relid;
	if (mode)
		*mode = mg_held[0].mode;
	if (relname)
		*relname = mg_held[0].relname;
	if (statement)
		*statement = mg_held[0].statement;
	return true;
}

/*
 * Called by the ProcessUtility hook after each utility statement that
 * completed, with its lock targets (or NULL) and its command tag and text.
 */
void
mg_lock_hold_after_statement(const MGLockTargets *targets, const char *command,
							 const char *statement)
{
	int			before = mg_nheld;
	int			i;

	/*
	 * The locks are tracked even with the budget off: rule held_lock_work
	 * needs them.  mg_hold_arm() starts no clock then.
	 */
	if (MyBackendType != B_BACKEND || IsParallelWorker())
		return;
	if (targets == NULL && mg_nheld == 0)
		return;

	mg_hold_window_open = mg_in_maintenance_window();
	if (targets == NULL)
		return;

	for (i = 0; i < targets->n; i++)
		mg_hold_note_target(targets->relid[i], targets->mode[i],
							targets->relname[i], command, statement);
	if ((before == 0 && mg_nheld > 0) ||
		(mg_nheld > 0 && !mg_hold_armed && mg_lock_hold_timeout_ms > 0))
		mg_hold_arm();
	else if (mg_hold_armed && mg_lock_hold_timeout_ms <= 0)
		mg_hold_disarm();
}

/*
 * emit_log_hook: turn PostgreSQL's generic cancel or termination, which our
 * handler asked for, into our error.  Formats only what was collected.
 */
static void
mg_hold_emit_log(ErrorData *edata)
{
	int			request = mg_hold_request;

	if (request != MG_HOLD_NONE && mg_nheld > 0 && !mg_hold_delivered &&
		edata->message_id != NULL)
	{
		bool		cancel = request == MG_HOLD_CANCEL &&
			edata->elevel == ERROR &&
			edata->sqlerrcode == ERRCODE_QUERY_CANCELED &&
			strcmp(edata->message_id, "canceling statement due to user request") == 0;
		bool		terminate = request == MG_HOLD_TERMINATE &&
			edata->elevel == FATAL &&
			edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN &&
			strcmp(edata->message_id, "terminating connection due to administrator command") == 0;

		if (cancel || terminate)
		{
			const MGHeldLock *h = &mg_held[0];
			double		held = (double) (GetCurrentTimestamp() - h->since) / USECS_PER_SEC;

			mg_hold_delivered = true;
			if (terminate)
			{
				edata->sqlerrcode = ERRCODE_IDLE_IN_TRANSACTION_SESSION_TIMEOUT;
				edata->message = psprintf("terminating connection due to lock hold timeout on relation \"%s\"",
										  h->relname);
			}
			else
				edata->message = psprintf("canceling statement due to lock hold timeout on relation \"%s\"",
										  h->relname);
			edata->detail = psprintf("The transaction has held %s on relation \"%s\" for %.1f s, since statement: %s",
									 mg_lockmode_name(h->mode), h->relname, held,
									 h->statement);
			edata->hint = psprintf("\"migration_guard.lock_hold_timeout\" is %d ms.  Commit right after the DDL statement and run backfills in their own short transactions.",
								   mg_lock_hold_timeout_ms);
		}
	}
	if (prev_emit_log_hook)
		(*prev_emit_log_hook) (edata);
}

/* Audit the end of a hold that the guard ended, then forget it. */
static void
mg_hold_abort(void)
{
	if (mg_nheld > 0 && mg_hold_request != MG_HOLD_NONE)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(TopTransactionContext);
		int64		held_ms = (GetCurrentTimestamp() - mg_held[0].since) / 1000;

		(void) mg_audit_lock_hold(&mg_held[0].rec,
								  mg_hold_request == MG_HOLD_TERMINATE,
								  held_ms, mg_lock_hold_timeout_ms);
		MemoryContextSwitchTo(oldcxt);
	}
	mg_hold_reset();
}

static void
mg_hold_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			mg_hold_sim.active = false;
			mg_hold_abort();
			break;
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			/* Locks are released (or handed to the prepared transaction). */
			mg_hold_reset();
			break;
		default:
			break;
	}
}

/*
 * A rolled back subtransaction releases the locks it took: forget them and
 * restart the clock from the oldest lock left, if any.  A committed one
 * hands its locks to its parent.
 */
static void
mg_hold_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	int			i;
	int			kept = 0;

	if (mg_nheld == 0)
		return;
	if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		for (i = 0; i < mg_nheld; i++)
			if (mg_held[i].subid >= mySubid)
				mg_held[i].subid = parentSubid;
		return;
	}
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;

	/*
	 * The client got our cancel and rolled back to a savepoint: that
	 * statement's end is audited, and the transaction, if it still holds a
	 * lock, starts over with the budget spent (cancelled or terminated at the
	 * next tick).  A cancel caught inside the server is not reset: it
	 * escalates to termination.
	 */
	if (mg_hold_request != MG_HOLD_NONE && mg_hold_delivered)
	{
		(void) mg_audit_lock_hold(&mg_held[0].rec, false,
								  (GetCurrentTimestamp() - mg_held[0].since) / 1000,
								  mg_lock_hold_timeout_ms);
		mg_hold_request = MG_HOLD_NONE;
		mg_hold_delivered = false;
	}

	for (i = 0; i < mg_nheld; i++)
		if (mg_held[i].subid < mySubid)
			mg_held[kept++] = mg_held[i];
	if (kept == mg_nheld)
		return;
	mg_nheld = kept;
	mg_hold_request = MG_HOLD_NONE;
	mg_hold_delivered = false;
	mg_hold_arm();
}

/*
 * Define the setting and install the hooks; called from _PG_init.
 */
void
mg_lock_hold_init(void)
{
	DefineCustomIntVariable("migration_guard.lock_hold_timeout",
							"Sets the longest time a transaction may hold a write-blocking lock.",
							"Counts from the first utility statement that leaves a lock in SHARE "
							"mode or stronger held on an existing relation.  A running statement "
							"is cancelled, a session idle in transaction is terminated.  0 disables it.",
							&mg_lock_hold_timeout_ms,
							10000,
							0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = mg_hold_emit_log;
	RegisterXactCallback(mg_hold_xact_callback, NULL);
	RegisterSubXactCallback(mg_hold_subxact_callback, NULL);
}
