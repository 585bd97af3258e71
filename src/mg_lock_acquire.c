/*-------------------------------------------------------------------------
 *
 * mg_lock_acquire.c
 *		Take a DDL statement's write-blocking locks without ever joining
 *		PostgreSQL's lock queue.
 *
 * Without joining the queue (migration_guard.lock_wait = no_queue, the
 * default): even bounded, a wait in PostgreSQL's lock queue makes every
 * later query on the table queue behind the DDL.  So after the verdict,
 * mg_acquire_lock_targets() takes the statement's first locks itself with
 * conditional attempts (which never queue), all of them or none, retried
 * with backoff until the lock timeout is spent, and fails with 55P03 then,
 * or at once when the blocker is known to stay (a prepared transaction, an
 * anti-wraparound autovacuum, a session idle in transaction for longer than
 * migration_guard.idle_blocker_timeout).  A plain autovacuum in the way is
 * cancelled as PostgreSQL cancels it for a queued waiter.  The blocker
 * report is added by the same path as for a lock timeout.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_lock_acquire.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_inherits.h"
#include "commands/tablecmds.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "migration_guard.h"
#include "mg_compat.h"

/* Values of migration_guard.lock_wait */
typedef enum MGLockWait
{
	MG_LOCK_WAIT_QUEUE,			/* PostgreSQL's own wait in the lock queue */
	MG_LOCK_WAIT_NO_QUEUE		/* conditional attempts, never queued */
} MGLockWait;

static const struct config_enum_entry mg_lock_wait_options[] = {
	{"queue", MG_LOCK_WAIT_QUEUE, false},
	{"no_queue", MG_LOCK_WAIT_NO_QUEUE, false},
	{NULL, 0, false}
};

/* migration_guard.lock_wait */
static int	mg_lock_wait = MG_LOCK_WAIT_NO_QUEUE;

/* migration_guard.idle_blocker_timeout, in milliseconds; 0 disables */
static int	mg_idle_blocker_timeout_ms = 10000;

/*
 * Retries of the conditional attempts: the first after about 1 ms, each
 * ceiling twice the one before, up to 10 ms.  A conditional attempt only
 * succeeds at a moment when no other transaction holds a conflicting lock,
 * and under steady OLTP on the table such moments are short and few once
 * the long blocker has gone (bench/lock_queue.sh measured the table free
 * 0 to 13 % of the time on a loaded machine): at ten attempts a second the
 * DDL missed them for seconds and failed its lock timeout; at about 130 a
 * second (5 to 10 ms apart) it got the lock within a second of the
 * reader's end.  Each failed attempt costs a scan of the lock table
 * (mg_check_blockers()); about 2 % of a CPU while waiting.
 */
#define MG_RETRY_FIRST_MS	1
#define MG_RETRY_MAX_MS		10

/* How often the sessions in the way are looked at while retrying */
#define MG_BLOCKER_CHECK_MS	100

/*---- Taking the locks without joining the lock queue ----*/

/*
 * The locks taken ahead of PostgreSQL: the same relations in the same
 * modes and the same order as the statement itself takes first.
 */
#define MG_MAX_AHEAD (2 * MG_MAX_LOCK_TARGETS)

typedef struct MGAheadLocks
{
	int			n;
	Oid			relid[MG_MAX_AHEAD];
	LOCKMODE	mode[MG_MAX_AHEAD];
} MGAheadLocks;

/*
 * Define migration_guard.lock_wait and migration_guard.idle_blocker_timeout.
 */
void
mg_define_lock_wait_gucs(void)
{
	DefineCustomEnumVariable("migration_guard.lock_wait",
							 "Sets how DDL waits for a write-blocking lock.",
							 "\"no_queue\" takes the locks with conditional attempts, retried until "
							 "the lock timeout is spent, so that no query queues behind the DDL; "
							 "\"queue\" waits in PostgreSQL's lock queue.",
							 &mg_lock_wait,
							 MG_LOCK_WAIT_NO_QUEUE,
							 mg_lock_wait_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("migration_guard.idle_blocker_timeout",
							"Sets how long a blocker may have been idle in transaction before DDL stops waiting for it.",
							"With lock_wait = no_queue, a write-blocking lock held by a session idle "
							"in transaction for longer than this fails the statement at once.  "
							"0 disables it.",
							&mg_idle_blocker_timeout_ms,
							10000,
							0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
}

static void
mg_ahead_add(MGAheadLocks *ahead, Oid relid, LOCKMODE mode)
{
	if (ahead->n >= MG_MAX_AHEAD)
		return;
	ahead->relid[ahead->n] = relid;
	ahead->mode[ahead->n] = mode;
	ahead->n++;
}

/* Does the current role hold one of the privileges in mask on relid? */
static bool
mg_has_any_privilege(Oid relid, AclMode mask)
{
	AclMode		bit;

	for (bit = 1; bit != 0 && bit <= mask; bit <<= 1)
	{
		if ((mask & bit) &&
			pg_class_aclcheck(relid, GetUserId(), bit) == ACLCHECK_OK)
			return true;
	}
	return false;
}

/*
 * May the current role lock target i before PostgreSQL checks its
 * permission?  PostgreSQL checks before it locks (the RangeVar callbacks),
 * so that nobody locks a relation the statement may not touch; the guard
 * takes a lock ahead only where PostgreSQL's check would pass: ownership,
 * or a privilege the statement accepts, as the statement's rules file
 * recorded with the target.  Where in doubt: false, and PostgreSQL takes
 * the lock as usual.
 */
static bool
mg_may_lock_ahead(const MGLockTargets *targets, int i)
{
	Oid			relid = targets->relid[i];

	if (superuser())
		return true;
	return (targets->owner_may[i] && mg_owns_relation(relid)) ||
		(targets->privilege[i] != ACL_NO_RIGHTS &&
		 mg_has_any_privilege(relid, targets->privilege[i]));
}

/*
 * Is relkind one the statement accepts?  PostgreSQL checks the kind before
 * it locks (the RangeVar callbacks); a relation of the wrong kind gets
 * PostgreSQL's error, never a lock failure, so it is left to PostgreSQL.
 */
static bool
mg_relkind_fits(const MGLockTargets *targets, char relkind)
{
	return targets->relkinds == NULL ||
		(relkind != '\0' && strchr(targets->relkinds, relkind) != NULL);
}

/* Do we hold a lock on relid in mode, or ACCESS EXCLUSIVE, already? */
static bool
mg_relation_locked_by_me(Oid relid, LOCKMODE mode)
{
	LOCKTAG		tag;

	SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
	return mg_lock_held_by_me(&tag, mode) ||
		mg_lock_held_by_me(&tag, AccessExclusiveLock);
}

/*
 * Which of the statement's lock targets to take ahead, in which order and
 * mode.  Only a prefix of the locks PostgreSQL takes for the statement, in
 * its order, so that taking them first changes no lock order.  What the
 * order is comes with the targets, from the statement's rules file:
 *
 * - the heap before the index where PostgreSQL's RangeVar callback locks
 *   the heap first (index_heap_mode: DROP INDEX takes ACCESS EXCLUSIVE on
 *   both, REINDEX INDEX SHARE on the table and ACCESS EXCLUSIVE on the
 *   index); other index targets are left to PostgreSQL;
 * - nothing from a partition whose parent PostgreSQL locks first (DROP);
 * - nothing after a relation with inheritance children or a view: PostgreSQL
 *   locks those children or base relations next (unless before_recursion:
 *   a lone ATTACH PARTITION locks the partition before any recursion);
 * - nothing from the first relation the role may not lock ahead, of a kind
 *   the statement does not accept (both are PostgreSQL's errors, raised
 *   before it locks), or that is temporary (no other session queues for
 *   those anyway), on.
 *
 * A relation this transaction holds in the mode (or ACCESS EXCLUSIVE)
 * already, such as one it created, needs no attempt.
 */
static void
mg_plan_ahead(Node *stmt, const MGLockTargets *targets, MGAheadLocks *ahead)
{
	int			i;

	ahead->n = 0;
	/* LOCK TABLE NOWAIT, say (see MGLockTargets) */
	if (targets->not_ahead)
		return;
	if (!mg_statement_permitted(stmt))
		return;

	for (i = 0; i < targets->n; i++)
	{
		Oid			relid = targets->relid[i];
		LOCKMODE	mode = targets->mode[i];
		char		relkind = get_rel_relkind(relid);

		if (relkind == '\0' || !mg_relkind_fits(targets, relkind) ||
			get_rel_persistence(relid) == RELPERSISTENCE_TEMP ||
			!mg_may_lock_ahead(targets, i))
			break;
		if (targets->parent_first && get_rel_relispartition(relid))
			break;

		if (relkind == RELKIND_INDEX || relkind == RELKIND_PARTITIONED_INDEX)
		{
			Oid			heap = IndexGetRelation(relid, true);

			if (!OidIsValid(heap) || targets->index_heap_mode == NoLock)
				break;
			mg_ahead_add(ahead, heap, targets->index_heap_mode);
			mg_ahead_add(ahead, relid, targets->index_mode);
		}
		else if (!mg_relation_locked_by_me(relid, mode))
			mg_ahead_add(ahead, relid, mode);

		if (i + 1 < targets->n &&
			(relkind == RELKIND_VIEW || has_subclass(relid)) &&
			!targets->before_recursion)
			break;
	}
}

/*
 * One round: every lock in order, conditionally.  All or nothing: on the
 * first one not granted, release those this round took, so that between
 * rounds the transaction holds nothing it did not hold before and cannot
 * be part of a deadlock that the plain statement would not be part of.
 * Returns the index of the lock not granted, or -1 when all are held.
 *
 * The release only takes back this round's count: a lock the transaction
 * held before keeps its own count.
 */
static int
mg_try_lock_all(const MGAheadLocks *ahead)
{
	int			i;

	for (i = 0; i < ahead->n; i++)
	{
		if (!ConditionalLockRelationOid(ahead->relid[i], ahead->mode[i]))
		{
			int			j;

			for (j = i - 1; j >= 0; j--)
				UnlockRelationOid(ahead->relid[j], ahead->mode[j]);
			return i;
		}
	}
	return -1;
}

/* The backend status of pid, from a fresh snapshot, or NULL */
static PgBackendStatus *
mg_backend_status(int pid)
{
	int			n = pgstat_fetch_stat_numbackends();
	int			i;

	for (i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *local = mg_local_beentry_by_index(i);

		if (local != NULL && local->backendStatus.st_procpid == pid)
			return &local->backendStatus;
	}
	return NULL;
}

/* Is the autovacuum worker pid, with these status flags, preventing wraparound? */
static bool
mg_autovacuum_for_wraparound(int pid, uint8 flags)
{
#if MG_HAVE_WRAPAROUND_FLAG
	(void) pid;
	return (flags & PROC_VACUUM_FOR_WRAPAROUND) != 0;
#else
	PgBackendStatus *be = mg_backend_status(pid);

	(void) flags;
	return be != NULL && be->st_activity_raw != NULL &&
		strstr(be->st_activity_raw, "(to prevent wraparound)") != NULL;
#endif
}

/*
 * Cancel the autovacuum worker pid that is in our way, as ProcSleep() does
 * for a lock waiter once deadlock_timeout has passed, with its log message.
 */
static void
mg_cancel_autovacuum(int pid, Oid relid, LOCKMODE mode)
{
	LOCKTAG		tag;
	StringInfoData locktagbuf;

	SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
	initStringInfo(&locktagbuf);
	DescribeLockTag(&locktagbuf, &tag);
	ereport(DEBUG1,
			errmsg_internal("sending cancel to blocking autovacuum PID %d", pid),
			errdetail_log("Process %d waits for %s on %s.", MyProcPid,
						  GetLockmodeName(DEFAULT_LOCKMETHOD, mode), locktagbuf.data));
	pfree(locktagbuf.data);

	if (kill(pid, SIGINT) < 0)
		ereport(WARNING,
				errmsg("could not send signal to process %d: %m", pid));
}

/*
 * Look at the sessions that hold a lock on relid conflicting with mode.
 * Returns the reason (a DETAIL sentence) when waiting for one of them is
 * known to be in vain: a prepared transaction (it holds its locks until
 * COMMIT PREPARED), an autovacuum worker preventing wraparound (PostgreSQL
 * never cancels it), a session idle in transaction for longer than
 * migration_guard.idle_blocker_timeout.  A plain autovacuum worker is
 * cancelled once we have waited deadlock_timeout, as PostgreSQL cancels it
 * for a queued waiter; *cancelled (in keep_cxt) remembers whom we
 * signalled.  Everything else is allocated in the current memory context,
 * which the caller resets after each round.
 */
static char *
mg_check_blockers(Oid relid, LOCKMODE mode, TimestampTz wait_start,
				  List **cancelled, MemoryContext keep_cxt)
{
	LockData   *locks = GetLockStatusData();
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	/* The backend states as they are now, not as at our first look. */
	mg_clear_backend_status_snapshot();

	for (i = 0; i < locks->nelements; i++)
	{
		LockInstanceData *inst = &locks->locks[i];
		LOCKMODE	m;
		bool		conflict = false;
		uint8		flags = 0;
		PGPROC	   *proc;
		PgBackendStatus *be;

		if (inst->locktag.locktag_type != LOCKTAG_RELATION ||
			inst->locktag.locktag_field1 != MyDatabaseId ||
			inst->locktag.locktag_field2 != relid ||
			inst->pid == MyProcPid)
			continue;
		for (m = 1; m <= MaxLockMode; m++)
			if ((inst->holdMask & LOCKBIT_ON(m)) && DoLockModesConflict(m, mode))
				conflict = true;
		if (!conflict)
			continue;

		/* Prepared transactions hold their locks with a dummy proc, pid 0. */
		if (inst->pid == 0)
			return pstrdup("The lock is held by a prepared transaction, which keeps it until COMMIT PREPARED or ROLLBACK PREPARED.");

		LWLockAcquire(ProcArrayLock, LW_SHARED);
		proc = BackendPidGetProcWithLock(inst->pid);
		if (proc != NULL)
			flags = proc->statusFlags;
		LWLockRelease(ProcArrayLock);

		if (flags & PROC_IS_AUTOVACUUM)
		{
			if (mg_autovacuum_for_wraparound(inst->pid, flags))
				return pstrdup("The lock is held by an autovacuum worker preventing transaction ID wraparound, which is not cancelled for a lock request.");
			if (TimestampDifferenceExceeds(wait_start, now, DeadlockTimeout) &&
				!list_member_int(*cancelled, inst->pid))
			{
				MemoryContext oldcxt = MemoryContextSwitchTo(keep_cxt);

				*cancelled = lappend_int(*cancelled, inst->pid);
				MemoryContextSwitchTo(oldcxt);
				mg_cancel_autovacuum(inst->pid, relid, mode);
			}
			continue;
		}

		be = mg_backend_status(inst->pid);
		if (mg_idle_blocker_timeout_ms > 0 && be != NULL &&
			(be->st_state == STATE_IDLEINTRANSACTION ||
			 be->st_state == STATE_IDLEINTRANSACTION_ABORTED) &&
			TimestampDifferenceExceeds(be->st_state_start_timestamp, now,
									   mg_idle_blocker_timeout_ms))
			return pstrdup("The lock is held by a session idle in transaction for longer than migration_guard.idle_blocker_timeout.");
	}
	return NULL;
}

/* Milliseconds to sleep before attempt number attempt + 1, with jitter */
static long
mg_retry_delay_ms(int attempt)
{
	long		ceiling = (long) MG_RETRY_FIRST_MS << Min(attempt, 10);

	ceiling = Min(ceiling, MG_RETRY_MAX_MS);
	/* Half the ceiling, plus up to the other half at random */
	return ceiling / 2 +
		(long) mg_random_range(0, ceiling - ceiling / 2);
}

static void
mg_fail_lock(Oid relid, const char *reason)
{
	ereport(ERROR,
			errcode(ERRCODE_LOCK_NOT_AVAILABLE),
			errmsg("could not obtain lock on relation \"%s\"", mg_relation_name(relid)),
			reason ? errdetail_internal("%s", reason) : 0);
}

/*
 * With migration_guard.lock_wait = no_queue, take the statement's
 * write-blocking locks before PostgreSQL runs it, without ever joining the
 * lock queue, so that no query on the table queues behind the DDL while it
 * waits.  Conditional attempts, all or nothing, retried with exponential
 * backoff and jitter until the lock timeout (the stricter of
 * migration_guard.lock_timeout and the session's, as applied by
 * mg_apply_lock_timeout()) is spent; then, or at once when the blocker is
 * known to stay, 55P03.  The ProcessUtility hook adds the blocker report.
 *
 * The locks are taken in CurrentResourceOwner, exactly as PostgreSQL's own
 * lock for the statement would be: released at the end of the
 * (sub)transaction, and PostgreSQL's own request then finds them held.
 * With no lock timeout at all there is nothing to bound the retries:
 * PostgreSQL's own wait (queue and deadlock detection) applies.
 */
void
mg_acquire_lock_targets(Node *stmt, const MGLockTargets *targets)
{
	MGAheadLocks ahead;
	TimestampTz start;
	List	   *cancelled = NIL;
	MemoryContext round_cxt;
	TimestampTz last_check = 0;
	int			attempt;

	if (mg_lock_wait != MG_LOCK_WAIT_NO_QUEUE || LockTimeout <= 0)
		return;
	mg_plan_ahead(stmt, targets, &ahead);
	if (ahead.n == 0)
		return;

	/*
	 * Each round reads the whole lock table: in a context of its own, reset
	 * after each round, or an hour-long lock timeout would pile them up.
	 */
	round_cxt = AllocSetContextCreate(CurrentMemoryContext,
									  "migration_guard lock attempts",
									  ALLOCSET_DEFAULT_SIZES);
	start = GetCurrentTimestamp();
	for (attempt = 0;; attempt++)
	{
		int			failed = mg_try_lock_all(&ahead);
		MemoryContext oldcxt;
		char	   *reason;
		long		elapsed_ms;
		long		delay;

		if (failed < 0)
			break;

		/*
		 * Reading the lock table holds all its partition locks while it is
		 * copied: once per MG_BLOCKER_CHECK_MS, not at every attempt.
		 */
		if (attempt == 0 ||
			TimestampDifferenceExceeds(last_check, GetCurrentTimestamp(),
									   MG_BLOCKER_CHECK_MS))
		{
			last_check = GetCurrentTimestamp();
			oldcxt = MemoryContextSwitchTo(round_cxt);
			reason = mg_check_blockers(ahead.relid[failed], ahead.mode[failed],
									   start, &cancelled, oldcxt);
			MemoryContextSwitchTo(oldcxt);
			if (reason != NULL)
				mg_fail_lock(ahead.relid[failed], reason);
			MemoryContextReset(round_cxt);
		}

		elapsed_ms = (long) ((GetCurrentTimestamp() - start) / 1000);
		if (elapsed_ms >= LockTimeout)
			mg_fail_lock(ahead.relid[failed], NULL);

		delay = Min(mg_retry_delay_ms(attempt), LockTimeout - elapsed_ms);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 delay, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(round_cxt);
	list_free(cancelled);
}
