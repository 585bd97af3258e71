/*-------------------------------------------------------------------------
 *
 * mg_lock_timeout.c
 *		Never wait forever for a lock: an automatic lock_timeout for DDL, and
 *		the sessions that were in the way when a lock wait timed out.
 *
 * A DDL statement that waits for ACCESS EXCLUSIVE behind a session that is
 * idle in transaction makes every later query on the table queue behind it.
 * For each utility statement that takes a lock blocking writes (SHARE or
 * stronger) on an existing relation, migration_guard.lock_timeout applies
 * when the session's own lock_timeout is 0 or larger: the stricter of the two
 * wins.  It is set at a new GUC nest level for exactly that statement, like a
 * function's SET clause, so the session's value is back afterwards on
 * success and on error alike (transaction or subtransaction abort pops it).
 *
 * Statements that run as several transactions (VACUUM, database-wide
 * REINDEX) are left alone: a GUC nest level cannot span their internal
 * commits.
 *
 * When such a statement fails with lock_not_available (a lock timeout, the
 * guard's or the session's, or NOWAIT), the ProcessUtility hook catches the
 * error and mg_report_lock_failure() adds a DETAIL naming every session that
 * held or queued for a conflicting lock on the statement's relations: pid,
 * role, application, state and for how long, transaction age, lock mode,
 * and the start of its query where the caller may see it (same rule as
 * pg_stat_activity).  It records the failed wait in the audit trail, then
 * the hook re-throws the error.  This is done there, where an error may be
 * raised, and not in an error context callback, which may only format what
 * is already collected: reading the lock table, the backend status array
 * and the catalogs, and writing the audit, can all fail.  The relation
 * names are collected before the statement runs, with the lock targets.
 * Taking the locks without joining the queue is in mg_lock_acquire.c.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_lock_timeout.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"


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
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "migration_guard.h"
#include "mg_compat.h"

/* migration_guard.lock_timeout, in milliseconds; 0 disables */
int			mg_lock_timeout_ms = 5000;

/* At most this many blockers are listed in the DETAIL. */
#define MG_MAX_BLOCKERS 5

/* Bytes of a blocker's query shown, before "..." */
#define MG_QUERY_SNIPPET_BYTES 57

#define MG_LOCK_WAIT_HINT "Retry when the blocking transactions have ended; migration_guard.blockers() lists them before a migration.  pg_terminate_backend() ends a session that is idle in transaction."

/*
 * The report added to an error last (in TopMemoryContext), so that an outer
 * statement does not add it again to the same error.
 */
static char *mg_last_report = NULL;

/*
 * Apply migration_guard.lock_timeout to the statement about to run, if it is
 * stricter than the session's.  Returns the GUC nest level to pop with
 * mg_restore_lock_timeout(), or 0 if nothing was set.
 */
int
mg_apply_lock_timeout(void)
{
	int			nestlevel;

	if (mg_lock_timeout_ms <= 0 ||
		(LockTimeout > 0 && LockTimeout <= mg_lock_timeout_ms))
		return 0;

	nestlevel = NewGUCNestLevel();
	(void) set_config_option("lock_timeout", psprintf("%d", mg_lock_timeout_ms),
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	return nestlevel;
}

/*
 * Put the session's lock_timeout back after a successful statement.  On
 * error, transaction or subtransaction abort does it.
 */
void
mg_restore_lock_timeout(int nestlevel)
{
	if (nestlevel > 0)
		AtEOXact_GUC(true, nestlevel);
}

/* The state of a backend, as pg_stat_activity spells it */
static const char *
mg_backend_state_name(BackendState state)
{
	switch (state)
	{
		case STATE_IDLE:
			return "idle";
		case STATE_RUNNING:
			return "active";
		case STATE_IDLEINTRANSACTION:
			return "idle in transaction";
		case STATE_FASTPATH:
			return "fastpath function call";
		case STATE_IDLEINTRANSACTION_ABORTED:
			return "idle in transaction (aborted)";
		case STATE_DISABLED:
			return "disabled";
		default:
			return "unknown";
	}
}

/* Seconds since ts, for messages */
static double
mg_seconds_since(TimestampTz ts)
{
	if (ts == 0)
		return 0;
	return (double) (GetCurrentTimestamp() - ts) / USECS_PER_SEC;
}

/* Lock mode names as pg_locks spells them */
static const char *
mg_lock_mode_name(LOCKMODE mode)
{
	return GetLockmodeName(DEFAULT_LOCKMETHOD, mode);
}

/*
 * The start of a blocker's query, for the report: at most
 * MG_QUERY_SNIPPET_BYTES bytes, cut at a character boundary.
 *
 * The text is in the encoding of the blocker's database.  Relation locks
 * belong to one database and only its backends take them, so that is our
 * database's encoding and pg_mbcliplen() applies; a backend of another
 * database (which cannot hold such a lock, but its slot may be reused by
 * the time we read it) gets no text.
 */
static char *
mg_query_snippet(PgBackendStatus *be)
{
	char	   *query;
	int			len;

	if (be->st_databaseid != MyDatabaseId)
		return NULL;
	query = pgstat_clip_activity(be->st_activity_raw);
	len = strlen(query);
	if (len <= MG_QUERY_SNIPPET_BYTES + 3)
		return query;
	len = pg_mbcliplen(query, len, MG_QUERY_SNIPPET_BYTES);
	return psprintf("%.*s...", len, query);
}

/*
 * Describe one blocking backend: who, doing what, for how long.
 */
static void
mg_describe_backend(StringInfo buf, int pid, const char *modes, bool granted)
{
	int			n = pgstat_fetch_stat_numbackends();
	int			i;

	for (i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *local = mg_local_beentry_by_index(i);
		PgBackendStatus *be;
		char	   *rolname;

		if (local == NULL)
			continue;
		be = &local->backendStatus;
		if (be->st_procpid != pid)
			continue;

		rolname = GetUserNameFromId(be->st_userid, true);
		appendStringInfo(buf, "pid %d (role \"%s\", application \"%s\", %s for %.0f s, transaction age %.0f s) %s %s",
						 pid, rolname ? rolname : "?",
						 be->st_appname ? be->st_appname : "",
						 mg_backend_state_name(be->st_state),
						 mg_seconds_since(be->st_state_start_timestamp),
						 mg_seconds_since(be->st_xact_start_timestamp),
						 granted ? "holds" : "waits for", modes);

		/* The query only where pg_stat_activity would show it to us. */
		if (has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS) ||
			has_privs_of_role(GetUserId(), be->st_userid))
		{
			char	   *query = mg_query_snippet(be);

			if (query != NULL)
				appendStringInfo(buf, ", query: %s", query);
		}
		return;
	}
	/* Prepared transactions have no backend. */
	appendStringInfo(buf, "%s %s %s",
					 pid == 0 ? "a prepared transaction" : psprintf("pid %d", pid),
					 granted ? "holds" : "waits for", modes);
}

/*
 * Sessions holding or waiting for a lock on relid that conflicts with mode.
 * Returns how many were described into buf.
 */
static int
mg_describe_blockers(StringInfo buf, Oid relid, LOCKMODE mode)
{
	LockData   *locks = GetLockStatusData();
	int			found = 0;
	int			i;

	for (i = 0; i < locks->nelements && found < MG_MAX_BLOCKERS; i++)
	{
		LockInstanceData *inst = &locks->locks[i];
		StringInfoData modes;
		bool		conflict = false;
		LOCKMODE	m;

		if (inst->locktag.locktag_type != LOCKTAG_RELATION ||
			inst->locktag.locktag_field1 != MyDatabaseId ||
			inst->locktag.locktag_field2 != relid ||
			inst->pid == MyProcPid)
			continue;

		initStringInfo(&modes);
		for (m = 1; m <= MaxLockMode; m++)
		{
			if ((inst->holdMask & LOCKBIT_ON(m)) && DoLockModesConflict(m, mode))
			{
				appendStringInfo(&modes, "%s%s", modes.len ? ", " : "", mg_lock_mode_name(m));
				conflict = true;
			}
		}
		if (conflict)
		{
			appendStringInfoString(buf, found++ ? "; " : "");
			mg_describe_backend(buf, inst->pid, modes.data, true);
		}
		else if (inst->waitLockMode != NoLock && DoLockModesConflict(inst->waitLockMode, mode))
		{
			appendStringInfoString(buf, found++ ? "; " : "");
			mg_describe_backend(buf, inst->pid, mg_lock_mode_name(inst->waitLockMode), false);
		}
	}
	return found;
}

/*
 * The blocker report: for each lock target, who was in the way.  NULL if
 * nobody was (the lock was released in the meantime, or the wait was on
 * another object).
 */
static char *
mg_blocker_report(const MGLockTargets *targets)
{
	StringInfoData buf;
	int			found = 0;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < targets->n; i++)
	{
		int			before = buf.len;

		if (found > 0)
			appendStringInfoString(&buf, "  ");
		appendStringInfo(&buf, "Waiting for %s on relation \"%s\": ",
						 mg_lock_mode_name(targets->mode[i]),
						 targets->relname[i]);
		if (mg_describe_blockers(&buf, targets->relid[i], targets->mode[i]) == 0)
		{
			buf.len = before;
			buf.data[before] = '\0';
			continue;
		}
		appendStringInfoChar(&buf, '.');
		found++;
	}
	if (found == 0)
	{
		pfree(buf.data);
		return NULL;
	}
	return buf.data;
}

/*
 * The text with every character that the client encoding cannot represent
 * replaced by "?".  The DETAIL is converted to the client encoding when the
 * error is sent; a character without an equivalent (a CJK character in a
 * UTF8 database, for a LATIN1 client) would make that conversion fail, and
 * the client would get the conversion error (22P05) instead of 55P03.
 */
static char *
mg_client_safe_text(const char *s)
{
	return mg_text_replace_unconvertible(s, GetDatabaseEncoding(),
										 pg_get_client_encoding(), false);
}

/*
 * Record a lock wait that failed in the audit trail, with who was in the
 * way as its reason.
 */
static void
mg_audit_lock_timeout(const MGLockTargets *targets, const char *blockers)
{
	(void) mg_audit_lock_wait(mg_current_command(), mg_current_statement_text(),
							  targets->relname[0], targets->mode[0], blockers);
}

/*
 * Was the blocker report added to this error already, by a nested
 * statement (an event trigger's LOCK TABLE inside ALTER TABLE)?  A fresh
 * error from PostgreSQL never carries our text, so comparing the DETAIL
 * with the last report added is exact enough.
 */
static bool
mg_already_reported(const ErrorData *edata)
{
	return mg_last_report != NULL && edata->detail != NULL &&
		strstr(edata->detail, mg_last_report) != NULL;
}

/*
 * Remember the report added last, for mg_already_reported().
 */
static void
mg_remember_report(const char *report)
{
	char	   *copy = MemoryContextStrdup(TopMemoryContext, report);

	if (mg_last_report != NULL)
		pfree(mg_last_report);
	mg_last_report = copy;
}

/*
 * Called from the PG_CATCH of the ProcessUtility hook for a statement with
 * lock targets, with the error still in flight.  On lock_not_available,
 * collect who was in the way, audit it, and return a copy of the error with
 * the report added to its DETAIL (after an existing one) and the guard's
 * HINT if the error has none; the caller re-throws it with ReThrowError().
 * Message, SQLSTATE and every other field stay as PostgreSQL made them.
 * Returns NULL, leaving the error in flight as it is, for every other
 * error (query cancel, statement timeout, deadlock, ...) and for an error
 * that already carries the report; the caller then re-throws that error.
 *
 * Why the collection is safe here, and not in an error context callback:
 * an ERROR was raised, but the transaction is still in progress (it is
 * aborted later, by PostgresMain or the PL/pgSQL exception block that
 * catches the re-thrown error), so catalog lookups work, and errors may be
 * raised: a failure is caught below and the original error re-thrown
 * unchanged.  The lock wait is over: in 15 and 18 alike, a lock timeout is
 * raised by ProcessInterrupts() right after LockErrorCleanup() took us off
 * the wait queue and released the lock partition LWLock, and
 * ProcessInterrupts() acts only with InterruptHoldoffCount == 0, so no
 * LWLock (each one holds interrupts) is held.  NOWAIT is raised after a
 * conditional lock request returned, and the row-lock NOWAIT errors after
 * the buffer lock was released: the lock table and the backend status
 * array can be read like pg_locks and pg_stat_activity do.
 */
ErrorData *
mg_report_lock_failure(const MGLockTargets *targets, MemoryContext cxt)
{
	ErrorData  *edata;
	char	   *volatile detail = NULL;
	char	   *volatile hint = NULL;

	/*
	 * geterrcode() only reads the top of the error stack, which in PG_CATCH
	 * is the error in flight: other errors pass without an allocation.
	 */
	if (targets->n == 0 || geterrcode() != ERRCODE_LOCK_NOT_AVAILABLE)
		return NULL;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	if (mg_already_reported(edata))
		return NULL;
	FlushErrorState();

	PG_TRY();
	{
		char	   *report = mg_blocker_report(targets);

		if (report != NULL)
		{
			char	   *shown = mg_client_safe_text(report);

			detail = edata->detail == NULL ? shown :
				psprintf("%s\n%s", edata->detail, shown);
			if (edata->hint == NULL)
				hint = pstrdup(MG_LOCK_WAIT_HINT);
			mg_audit_lock_timeout(targets, report);
			mg_remember_report(shown);
		}
	}
	PG_CATCH();
	{
		/* Nothing of the report then; the original error goes on. */
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		detail = NULL;
		hint = NULL;
	}
	PG_END_TRY();

	if (detail != NULL)
		edata->detail = detail;
	if (hint != NULL)
		edata->hint = hint;
	return edata;
}

