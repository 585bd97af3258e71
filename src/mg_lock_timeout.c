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
 * guard's or the session's, or NOWAIT), an error context callback adds a
 * DETAIL naming every session that held or queued for a conflicting lock on
 * the statement's relations: pid, role, application, state and for how
 * long, transaction age, lock mode, and the start of its query where the
 * caller may see it (same rule as pg_stat_activity).  The callback reads
 * only the lock table and the backend status array, which are in shared
 * memory; at that point the lock wait has been cleaned up and no LWLock is
 * held.
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
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_authid.h"
#include "commands/tablecmds.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "migration_guard.h"
#include "mg_compat.h"

/* migration_guard.lock_timeout, in milliseconds; 0 disables */
int			mg_lock_timeout_ms = 5000;

/* At most this many blockers are listed in the DETAIL. */
#define MG_MAX_BLOCKERS 5

/* Set when a DETAIL was added, so outer nested statements do not repeat it. */
static bool mg_blockers_reported = false;

/*
 * Add (relid, mode) to a statement's lock targets.
 */
static void
mg_add_target(MGLockTargets *targets, RangeVar *rv, LOCKMODE mode)
{
	Oid			relid;

	if (rv == NULL || mode < ShareLock)
		return;
	relid = RangeVarGetRelidExtended(rv, NoLock, RVR_MISSING_OK, NULL, NULL);
	if (!OidIsValid(relid) || targets->n >= MG_MAX_LOCK_TARGETS)
		return;
	targets->relid[targets->n] = relid;
	targets->mode[targets->n] = mode;
	targets->n++;
}

/*
 * Which existing relations would this statement lock in a mode that blocks
 * writes?  Fills targets; returns false for statements that take no such
 * lock, or that run as several transactions.
 */
bool
mg_lock_targets(Node *stmt, MGLockTargets *targets)
{
	ListCell   *lc;

	targets->n = 0;
	switch (nodeTag(stmt))
	{
		case T_AlterTableStmt:
			{
				AlterTableStmt *ats = (AlterTableStmt *) stmt;

				mg_add_target(targets, ats->relation,
							  AlterTableGetLockLevel(ats->cmds));
				foreach(lc, ats->cmds)
				{
					AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

					/* The partition being attached is locked ACCESS EXCLUSIVE. */
					if (cmd->subtype == AT_AttachPartition && ats->objtype == OBJECT_TABLE)
						mg_add_target(targets, ((PartitionCmd *) cmd->def)->name,
									  AccessExclusiveLock);
					/* A foreign key locks the referenced table too. */
					if (MG_AT_IS_ADD_CONSTRAINT(cmd->subtype) && IsA(cmd->def, Constraint) &&
						((Constraint *) cmd->def)->contype == CONSTR_FOREIGN)
						mg_add_target(targets, ((Constraint *) cmd->def)->pktable,
									  ShareRowExclusiveLock);
				}
				break;
			}
		case T_IndexStmt:
			if (!((IndexStmt *) stmt)->concurrent)
				mg_add_target(targets, ((IndexStmt *) stmt)->relation, ShareLock);
			break;
		case T_ReindexStmt:
			{
				ReindexStmt *rs = (ReindexStmt *) stmt;

				Oid			relid;
				char		relkind;

				if (mg_option_is_set(rs->params, "concurrently") ||
					(rs->kind != REINDEX_OBJECT_TABLE && rs->kind != REINDEX_OBJECT_INDEX))
					break;
				/* Partitioned: one transaction per partition; left alone. */
				relid = RangeVarGetRelidExtended(rs->relation, NoLock,
												 RVR_MISSING_OK, NULL, NULL);
				relkind = get_rel_relkind(relid);
				if (relkind == RELKIND_PARTITIONED_TABLE || relkind == RELKIND_PARTITIONED_INDEX)
					break;
				mg_add_target(targets, rs->relation, ShareLock);
				break;
			}
		case T_RefreshMatViewStmt:
			{
				RefreshMatViewStmt *rm = (RefreshMatViewStmt *) stmt;

				mg_add_target(targets, rm->relation,
							  rm->concurrent ? ExclusiveLock : AccessExclusiveLock);
				break;
			}
		case T_TruncateStmt:
			foreach(lc, ((TruncateStmt *) stmt)->relations)
				mg_add_target(targets, lfirst_node(RangeVar, lc), AccessExclusiveLock);
			break;
		case T_LockStmt:
			foreach(lc, ((LockStmt *) stmt)->relations)
				mg_add_target(targets, lfirst_node(RangeVar, lc),
							  ((LockStmt *) stmt)->mode);
			break;
		case T_CreateTrigStmt:
			mg_add_target(targets, ((CreateTrigStmt *) stmt)->relation,
						  ShareRowExclusiveLock);
			break;
		case T_RuleStmt:
			mg_add_target(targets, ((RuleStmt *) stmt)->relation, AccessExclusiveLock);
			break;
		case T_CreatePolicyStmt:
			mg_add_target(targets, ((CreatePolicyStmt *) stmt)->table, AccessExclusiveLock);
			break;
		case T_AlterPolicyStmt:
			mg_add_target(targets, ((AlterPolicyStmt *) stmt)->table, AccessExclusiveLock);
			break;
		case T_CreateStmt:
			/* CREATE TABLE ... PARTITION OF locks the parent. */
			if (((CreateStmt *) stmt)->partbound != NULL &&
				((CreateStmt *) stmt)->inhRelations != NIL)
				mg_add_target(targets,
							  linitial_node(RangeVar, ((CreateStmt *) stmt)->inhRelations),
							  AccessExclusiveLock);
			break;
		case T_RenameStmt:
			{
				RenameStmt *rn = (RenameStmt *) stmt;

				if (rn->relation != NULL && rn->renameType != OBJECT_INDEX)
					mg_add_target(targets, rn->relation, AccessExclusiveLock);
				break;
			}
		case T_AlterObjectSchemaStmt:
			if (((AlterObjectSchemaStmt *) stmt)->relation != NULL)
				mg_add_target(targets, ((AlterObjectSchemaStmt *) stmt)->relation,
							  AccessExclusiveLock);
			break;
		case T_DropStmt:
			{
				DropStmt   *ds = (DropStmt *) stmt;

				if (ds->concurrent ||
					(ds->removeType != OBJECT_TABLE && ds->removeType != OBJECT_INDEX &&
					 ds->removeType != OBJECT_MATVIEW && ds->removeType != OBJECT_VIEW &&
					 ds->removeType != OBJECT_FOREIGN_TABLE))
					break;
				foreach(lc, ds->objects)
					mg_add_target(targets, makeRangeVarFromNameList((List *) lfirst(lc)),
								  AccessExclusiveLock);
				break;
			}
		default:
			break;
	}
	return targets->n > 0;
}

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
		if (has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS) ||
			has_privs_of_role(GetUserId(), be->st_userid))
		{
			char	   *query = pgstat_clip_activity(be->st_activity_raw);

			if (strlen(query) > 60)
				strcpy(query + 57, "...");
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
 * Record a lock wait that failed in the audit trail, with who was in the
 * way as its reason.  Called from the error context callback, where the
 * lock wait has been cleaned up and no LWLock is held.
 */
static void
mg_audit_lock_timeout(MGLockTargets *targets, const char *blockers)
{
	MGDecision	d;

	memset(&d, 0, sizeof(d));
	d.rule_name = "lock_wait";
	d.action = MG_VERDICT_LOCK_TIMEOUT;
	d.why = blockers;
	d.command = mg_current_command();
	d.statement = mg_current_statement_text();
	d.relation = mg_relation_name(targets->relid[0]);
	d.lockmode = targets->mode[0];
	(void) mg_audit_decision(&d);
}

/*
 * Error context callback: on lock_not_available, say who was in the way.
 */
static void
mg_lock_timeout_context(void *arg)
{
	MGLockTargets *targets = (MGLockTargets *) arg;
	StringInfoData buf;
	int			found = 0;
	int			i;

	if (mg_blockers_reported || geterrcode() != ERRCODE_LOCK_NOT_AVAILABLE)
		return;
	mg_blockers_reported = true;

	initStringInfo(&buf);
	for (i = 0; i < targets->n; i++)
	{
		int			before = buf.len;

		if (found > 0)
			appendStringInfoString(&buf, "  ");
		appendStringInfo(&buf, "Waiting for %s on relation \"%s\": ",
						 mg_lock_mode_name(targets->mode[i]),
						 mg_relation_name(targets->relid[i]));
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
		return;
	errdetail_internal("%s", buf.data);
	mg_audit_lock_timeout(targets, buf.data);
	errhint("Retry when the blocking transactions have ended; migration_guard.blockers() lists them before a migration.  pg_terminate_backend() ends a session that is idle in transaction.");
}

/*
 * Push the error context callback for a statement with lock targets.  The
 * caller pops it (error_context_stack = ctx->previous) when done.
 */
void
mg_push_lock_context(ErrorContextCallback *ctx, MGLockTargets *targets)
{
	mg_blockers_reported = false;
	ctx->callback = mg_lock_timeout_context;
	ctx->arg = targets;
	ctx->previous = error_context_stack;
	error_context_stack = ctx;
}

/*
 * Parse a lock mode name, in any case: as pg_locks spells it
 * ("AccessExclusiveLock") or as LOCK TABLE does ("ACCESS EXCLUSIVE", its
 * key words separated by whitespace).  Nothing else: no underscores, no
 * surrounding whitespace, no words run together, no "LOCK" after the
 * LOCK TABLE words.  An error quotes at most 64 bytes of the name.
 */
LOCKMODE
mg_parse_lock_mode(const char *name)
{
	/* LOCK TABLE's words for the modes 1 .. MaxLockMode, in lower case */
	static const char *const lock_table_names[] = {
		NULL, "access share", "row share", "row exclusive",
		"share update exclusive", "share", "share row exclusive",
		"exclusive", "access exclusive"
	};
	const char *space = " \t\n\r\f";	/* whitespace as SQL sees it */
	size_t		len = strlen(name);
	LOCKMODE	m;

	StaticAssertStmt(lengthof(lock_table_names) == MaxLockMode + 1,
					 "a LOCK TABLE name for each lock mode");

	/* The longest valid name is 22 bytes; do not scan a huge one. */
	if (len <= 64)
	{
		char		words[65];
		char	   *w = words;
		const char *s = name;
		bool		stray_space = false;

		for (m = 1; m <= MaxLockMode; m++)
		{
			if (pg_strcasecmp(name, GetLockmodeName(DEFAULT_LOCKMETHOD, m)) == 0)
				return m;
		}

		/*
		 * Words in lower case, each run of whitespace made one space;
		 * whitespace before the first word or after the last is wrong.
		 */
		while (*s)
		{
			if (strchr(space, *s) != NULL)
			{
				while (*s != '\0' && strchr(space, *s) != NULL)
					s++;
				if (w == words || *s == '\0')
				{
					stray_space = true;
					break;
				}
				*w++ = ' ';
			}
			else
				*w++ = pg_ascii_tolower((unsigned char) *s++);
		}
		*w = '\0';
		if (!stray_space)
		{
			for (m = 1; m <= MaxLockMode; m++)
			{
				if (strcmp(words, lock_table_names[m]) == 0)
					return m;
			}
		}
	}
	ereport(ERROR,
			errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			errmsg("unrecognized lock mode: \"%s\"", mg_quote_arg(name, 64)),
			errhint("Use a mode as pg_locks spells it, such as \"AccessExclusiveLock\" or \"ShareLock\"."));
	return NoLock;				/* keep compiler quiet */
}
