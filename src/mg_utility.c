/*-------------------------------------------------------------------------
 *
 * mg_utility.c
 *		The hooks: judge every utility statement before it runs, and catch
 *		table rewrites at the moment they begin.
 *
 * ProcessUtility hook.  Every utility statement, top-level or nested (DO
 * blocks, PL/pgSQL EXECUTE, SQL and PL functions, procedures, SECURITY
 * DEFINER functions, each statement of a multi-statement query string, the
 * extended protocol), reaches it before PostgreSQL looks up or locks
 * anything.  The rules analyse it and the policy rejects or warns there, so
 * a rejection costs no lock wait and no table work.  Only
 * PROCESS_UTILITY_SUBCOMMAND is skipped: those are steps PostgreSQL generates
 * for a statement that was judged already.
 *
 * Object access hook, the second line.  Every table rewrite (ALTER TABLE,
 * VACUUM FULL, CLUSTER, REFRESH MATERIALIZED VIEW, REPACK) starts by creating
 * a transient heap with make_new_heap(), whose pg_class row names the table
 * being rewritten in relrewrite.  Its post-create hook fires before a single
 * row is copied.  A rewrite of a relation that the ProcessUtility hook did
 * not already judge, because the static analysis did not predict it, is
 * judged there as "table_rewrite".  This is the signal PostgreSQL gives the
 * table_rewrite event trigger, but it needs no CREATE EXTENSION in each
 * database, also covers VACUUM FULL and CLUSTER, and cannot be switched off
 * with "SET event_triggers = off".
 *
 * Both hooks always chain to the previous hook, also when the guard is off,
 * and do nothing during binary upgrade.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_utility.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "catalog/dependency.h"
#include "catalog/pg_depend.h"
#include "miscadmin.h"
#include "tcop/cmdtag.h"
#include "tcop/utility.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "migration_guard.h"
#include "mg_compat.h"

/*
 * What the second line needs to know about the statement being executed.
 * A stack, because utility statements nest (a DO block runs ALTER TABLE).
 */
typedef struct MGStatement
{
	const char *command;		/* command tag */
	bool		transient_heap_ok;	/* REFRESH ... CONCURRENTLY and the like */
	List	   *judged_relids;	/* relations already judged for it */
	List	   *audit_seqs;		/* audit entries to mark completed */
	const char *statement;		/* its text, for the audit, if computed */
	PlannedStmt *pstmt;			/* to compute it later */
	const char *query_string;
	MemoryContext cxt;			/* where judged_relids lives */
	bool		top_level;		/* PROCESS_UTILITY_TOPLEVEL */
	struct MGStatement *outer;
} MGStatement;

static MGStatement *mg_current_statement = NULL;

static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static object_access_hook_type prev_object_access_hook = NULL;

/*
 * Statements whose make_new_heap() is not a rewrite under a long lock: the
 * concurrent refresh builds its new contents in a transient heap while
 * readers go on, and WITH NO DATA swaps in an empty one.
 */
static bool
mg_statement_uses_transient_heap(Node *parsetree)
{
	if (IsA(parsetree, RefreshMatViewStmt))
		return ((RefreshMatViewStmt *) parsetree)->concurrent ||
			((RefreshMatViewStmt *) parsetree)->skipData;
#if MG_HAVE_REPACK
	if (IsA(parsetree, RepackStmt))
		return mg_option_is_set(((RepackStmt *) parsetree)->params, "concurrently");
#endif
	return false;
}

/*
 * Copy a list of audit sequence numbers (as strings) into the current
 * memory context.
 */
static List *
mg_copy_seqs(List *seqs)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, seqs)
		result = lappend(result, pstrdup((char *) lfirst(lc)));
	return result;
}

/*
 * The text of this statement alone, out of a query string that may hold
 * several.
 */
static const char *
mg_statement_text(PlannedStmt *pstmt, const char *queryString)
{
	if (queryString == NULL)
		return NULL;
	if (pstmt->stmt_location >= 0 && pstmt->stmt_len > 0 &&
		pstmt->stmt_location + pstmt->stmt_len <= (int) strlen(queryString))
		return pnstrdup(queryString + pstmt->stmt_location, pstmt->stmt_len);
	if (pstmt->stmt_location > 0 && pstmt->stmt_location < (int) strlen(queryString))
		return pstrdup(queryString + pstmt->stmt_location);
	return queryString;
}

/*
 * Analyse and judge one statement.  The analysis runs in its own memory
 * context, freed at once; only the judged relations are kept, in the
 * caller's context, for the second line.
 */
static void
mg_guard_statement(Node *parsetree, const char *queryString, MGStatement *stmt)
{
	MemoryContext analysis_cxt;
	MemoryContext oldcxt;
	MGAnalysis	analysis;
	List	   *judged = NIL;

	analysis_cxt = AllocSetContextCreate(CurrentMemoryContext,
										 "migration_guard analysis",
										 ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(analysis_cxt);

	analysis.command = stmt->command;
	analysis.query_string = queryString;
	analysis.statement = stmt->statement;
	analysis.findings = NIL;
	analysis.audit_seqs = NIL;
	mg_analyze_statement(parsetree, &analysis);
	mg_judge_findings(&analysis, &judged);

	MemoryContextSwitchTo(oldcxt);
	stmt->judged_relids = list_copy(judged);
	stmt->audit_seqs = mg_copy_seqs(analysis.audit_seqs);
	MemoryContextDelete(analysis_cxt);
}

/*
 * ProcessUtility hook: judge, then run the statement.
 */
static void
mg_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				  bool readOnlyTree, ProcessUtilityContext context,
				  ParamListInfo params, QueryEnvironment *queryEnv,
				  DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	MGStatement stmt;
	volatile bool active;
	volatile bool guarded;
	volatile bool has_targets = false;
	MGLockTargets targets;
	volatile int nestlevel = 0;

	active = !IsBinaryUpgrade &&
		context != PROCESS_UTILITY_SUBCOMMAND &&
		IsTransactionState() &&
		!IsAbortedTransactionBlockState();
	guarded = active &&
		(mg_mode != MG_ACTION_OFF || mg_audit_level == MG_AUDIT_ALL) &&
		mg_static_analysis && mg_statement_is_analysable(parsetree);

	stmt.command = GetCommandTagName(CreateCommandTag(parsetree));
	stmt.transient_heap_ok = mg_statement_uses_transient_heap(parsetree);
	stmt.judged_relids = NIL;
	stmt.audit_seqs = NIL;
	stmt.statement = guarded ? mg_statement_text(pstmt, queryString) : NULL;
	stmt.pstmt = pstmt;
	stmt.query_string = queryString;
	stmt.cxt = CurrentMemoryContext;
	stmt.top_level = context == PROCESS_UTILITY_TOPLEVEL;
	stmt.outer = mg_current_statement;

	/*
	 * The lock timeout covers our own analysis too, which may have to wait
	 * for ACCESS SHARE behind a session holding ACCESS EXCLUSIVE.  The
	 * blocker report applies whichever lock timeout fired.
	 */
	if (active)
		has_targets = mg_lock_targets(parsetree, &targets);
	if (has_targets)
		nestlevel = mg_apply_lock_timeout();

	mg_current_statement = &stmt;
	PG_TRY();
	{
		if (guarded)
			mg_guard_statement(parsetree, queryString, &stmt);
		/* After the verdict: a rejected statement takes no lock. */
		if (has_targets)
			mg_acquire_lock_targets(parsetree, &targets);
		if (active && mg_backfill_row_limit > 0 && IsA(parsetree, CopyStmt))
			mg_backfill_before_copy((CopyStmt *) parsetree,
									mg_statement_text(pstmt, queryString));

		if (prev_ProcessUtility)
			(*prev_ProcessUtility) (pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
	}
	PG_CATCH();
	{
		ErrorData  *edata = NULL;

		/*
		 * A failed lock wait gets the blocker report, while this statement
		 * is still the current one for its audit entry.  Any other error
		 * goes on untouched.
		 */
		if (has_targets)
			edata = mg_report_lock_failure(&targets, stmt.cxt);
		mg_current_statement = stmt.outer;
		if (edata != NULL)
			ReThrowError(edata);
		PG_RE_THROW();
	}
	PG_END_TRY();
	mg_current_statement = stmt.outer;

	/* On error, transaction or subtransaction abort pops the nest level. */
	mg_restore_lock_timeout(nestlevel);

	/* Rows loaded by COPY FROM count towards the backfill limit. */
	if (active && mg_backfill_row_limit > 0 && IsA(parsetree, CopyStmt) &&
		qc != NULL)
		mg_backfill_after_copy((CopyStmt *) parsetree, qc->nprocessed);

	/* A write-blocking lock left held starts the lock-hold budget. */
	if (active)
		mg_lock_hold_after_statement(has_targets ? &targets : NULL, stmt.command,
									 has_targets && stmt.statement == NULL ?
									 mg_statement_text(pstmt, queryString) :
									 stmt.statement);

	/* Statements that ran despite a finding: record that they completed. */
	if (stmt.audit_seqs != NIL)
	{
		ListCell   *lc;

		foreach(lc, stmt.audit_seqs)
			mg_audit_outcome(strtou64((char *) lfirst(lc), NULL, 10));
	}
}

/*
 * Command tag and text of the statement being executed, for the audit of a
 * lock timeout.
 */
const char *
mg_current_command(void)
{
	return mg_current_statement ? mg_current_statement->command : "statement";
}

/*
 * Is the statement being judged at top level, as PostgreSQL's isTopLevel
 * tells PreventInTransactionBlock()?  Outside the hook (the statements
 * migration_guard.check() analyses) it counts as top level.
 */
bool
mg_current_is_top_level(void)
{
	return mg_current_statement ? mg_current_statement->top_level : true;
}

const char *
mg_current_statement_text(void)
{
	MGStatement *stmt = mg_current_statement;

	if (stmt == NULL)
		return NULL;
	return stmt->statement ? stmt->statement :
		mg_statement_text(stmt->pstmt, stmt->query_string);
}

/*
 * If relid is the transient heap of a rewrite, return the relation being
 * rewritten.  The new pg_class row is not visible to the catalog caches yet
 * (no CommandCounterIncrement since it was inserted), hence SnapshotSelf.
 */
static Oid
mg_rewritten_relation(Oid relid)
{
	Relation	classrel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			result = InvalidOid;

	classrel = table_open(RelationRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_class_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(classrel, ClassOidIndexId, true, SnapshotSelf,
							  1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		result = ((Form_pg_class) GETSTRUCT(tup))->relrewrite;
	systable_endscan(scan);
	table_close(classrel, AccessShareLock);
	return result;
}

/*
 * A rewrite of oldrelid is starting.  Judge it unless its statement was
 * judged for that relation already.
 */
static void
mg_judge_starting_rewrite(Oid oldrelid)
{
	MGStatement *stmt = mg_current_statement;
	MGAnalysis	analysis;
	List	   *judged = NIL;
	MemoryContext oldcxt;

	if (stmt != NULL &&
		(stmt->transient_heap_ok || list_member_oid(stmt->judged_relids, oldrelid)))
		return;

	analysis.command = stmt ? stmt->command : "statement";
	analysis.query_string = NULL;
	analysis.statement = stmt == NULL ? NULL :
		stmt->statement ? stmt->statement :
		mg_statement_text(stmt->pstmt, stmt->query_string);
	analysis.findings = NIL;
	analysis.audit_seqs = NIL;
	mg_add_finding(&analysis, MG_RULE_TABLE_REWRITE, oldrelid, false, NIL,
				   AccessExclusiveLock,
				   pstrdup("PostgreSQL is about to write a new copy of the table (detected as the rewrite began)."),
				   pstrdup("Find which part of the statement rewrites the table and use its online alternative from the migration_guard README."));
	mg_judge_findings(&analysis, &judged);

	if (stmt != NULL)
	{
		oldcxt = MemoryContextSwitchTo(stmt->cxt);
		stmt->judged_relids = list_concat_unique_oid(stmt->judged_relids, judged);
		stmt->audit_seqs = list_concat(stmt->audit_seqs,
									   mg_copy_seqs(analysis.audit_seqs));
		MemoryContextSwitchTo(oldcxt);
	}
}

/*
 * The table a TOAST table belongs to (its internal dependency), or
 * InvalidOid.  A rewrite copies the TOAST table along with its table, in a
 * transient heap of its own: that is part of the table's rewrite, whose
 * size already counts the TOAST bytes, and its chunks are not rows.
 */
static Oid
mg_toast_owner(Oid toastrelid)
{
	Relation	deprel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			owner = InvalidOid;

	deprel = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_depend_classid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(RelationRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_objid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(toastrelid));
	scan = systable_beginscan(deprel, DependDependerIndexId, true, NULL, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tup);

		if (dep->deptype == DEPENDENCY_INTERNAL &&
			dep->refclassid == RelationRelationId)
		{
			owner = dep->refobjid;
			break;
		}
	}
	systable_endscan(scan);
	table_close(deprel, AccessShareLock);
	return owner;
}

/*
 * Object access hook: the second line for table rewrites.
 */
static void
mg_object_access(ObjectAccessType access, Oid classId, Oid objectId,
				 int subId, void *arg)
{
	ObjectAccessPostCreate *pc = (ObjectAccessPostCreate *) arg;
	Oid			oldrelid;

	if (prev_object_access_hook)
		(*prev_object_access_hook) (access, classId, objectId, subId, arg);

	if (access != OAT_POST_CREATE || classId != RelationRelationId ||
		subId != 0 || pc == NULL || !pc->is_internal)
		return;
	if ((mg_mode == MG_ACTION_OFF && mg_audit_level != MG_AUDIT_ALL) ||
		IsBinaryUpgrade)
		return;

	oldrelid = mg_rewritten_relation(objectId);
	if (OidIsValid(oldrelid) && get_rel_relkind(oldrelid) == RELKIND_TOASTVALUE)
		oldrelid = mg_toast_owner(oldrelid);
	if (OidIsValid(oldrelid))
		mg_judge_starting_rewrite(oldrelid);
}

/*
 * Install both hooks, keeping the previous ones to chain to.
 */
void
mg_install_hooks(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = mg_ProcessUtility;
	prev_object_access_hook = object_access_hook;
	object_access_hook = mg_object_access;
}
