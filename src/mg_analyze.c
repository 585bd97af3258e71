/*-------------------------------------------------------------------------
 *
 * mg_analyze.c
 *		The analysis of one utility statement: what it locks, and what the
 *		rules of its family find in it.
 *
 * One result, MGAnalysis, read by everything: the lock targets (the
 * relations the statement locks in a write-blocking mode, in PostgreSQL's
 * order) by the lock timeout, the blocker report and its audit record, the
 * queue-free acquisition and the lock-hold budget; the findings by the
 * policy, the audit and check().  Each rules file contributes both for the
 * statements it owns (mg_locks_*() and mg_rules_*()), and
 * mg_rules_lock_only.c the locks of the statements no rule judges; this
 * file only dispatches on the statement type.
 *
 * The locks come first and cheaply, for every statement, before the lock
 * timeout is applied and before the guard looks up or locks anything: they
 * are catalog-cache lookups without a lock.  The findings come second, for
 * the statements whose rules apply, under that lock timeout.
 *
 * The rules only read: they never execute the statement, never modify its
 * parse tree (which may be read-only), and take no lock stronger than what
 * catalog lookups take.  A statement the rules do not know is not guarded by
 * the static analysis; table rewrites are still caught at execution time by
 * the rewrite detector in mg_utility.c.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_analyze.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/pg_list.h"

#include "migration_guard.h"
#include "mg_compat.h"

/*
 * Start the analysis of a statement: nothing found, nothing locked yet.
 */
void
mg_analysis_init(MGAnalysis *analysis, const char *command,
				 const char *query_string, const char *statement)
{
	analysis->command = command;
	analysis->query_string = query_string;
	analysis->statement = statement;
	analysis->findings = NIL;
	analysis->audit_seqs = NIL;
	analysis->analysable = false;
	analysis->locks.n = 0;
}

/*
 * The first part of the analysis, for every utility statement: which
 * existing relations it locks in a mode that blocks writes
 * (analysis->locks), and whether the rules apply to it
 * (analysis->analysable).  A cheap test on the node type first, so that
 * the hook does no work for the statements of ordinary traffic (BEGIN,
 * COMMIT, SET, ...).  Statements that run as several transactions take no
 * targets: the lock timeout's GUC nest level cannot span their commits.
 * Returns whether there are lock targets.
 */
bool
mg_analyze_locks(Node *stmt, MGAnalysis *analysis)
{
	MGLockTargets *locks = &analysis->locks;

	/* No targets, any relkind, and no special lock order (NoLock is 0) */
	memset(locks, 0, sizeof(MGLockTargets));
	analysis->analysable = false;
	switch (nodeTag(stmt))
	{
		case T_AlterTableStmt:
			mg_locks_alter_table((AlterTableStmt *) stmt, locks);
			analysis->analysable = true;
			break;
		case T_IndexStmt:
			mg_locks_create_index((IndexStmt *) stmt, locks);
			analysis->analysable = true;
			break;
		case T_ReindexStmt:
			mg_locks_reindex((ReindexStmt *) stmt, locks);
			analysis->analysable = true;
			break;
		case T_VacuumStmt:
#if MG_HAVE_REPACK
		case T_RepackStmt:
#else
		case T_ClusterStmt:
#endif
		case T_AlterTableMoveAllStmt:
		case T_AlterDomainStmt:
			/* Several transactions, or no relation lock of their own */
			analysis->analysable = true;
			break;
		case T_RefreshMatViewStmt:
			mg_locks_refresh_matview((RefreshMatViewStmt *) stmt, locks);
			analysis->analysable = true;
			break;
		case T_AlterDatabaseStmt:
			analysis->analysable = true;
			break;
		case T_CreateStmt:
			mg_locks_create_partition((CreateStmt *) stmt, locks);
			analysis->analysable = ((CreateStmt *) stmt)->partbound != NULL;
			break;
		case T_TruncateStmt:
			mg_locks_truncate((TruncateStmt *) stmt, locks);
			break;
		case T_LockStmt:
			mg_locks_lock_table((LockStmt *) stmt, locks);
			break;
		case T_CreateTrigStmt:
			mg_locks_create_trigger((CreateTrigStmt *) stmt, locks);
			break;
		case T_RuleStmt:
			mg_locks_create_rule((RuleStmt *) stmt, locks);
			break;
		case T_CreatePolicyStmt:
			mg_locks_create_policy((CreatePolicyStmt *) stmt, locks);
			break;
		case T_AlterPolicyStmt:
			mg_locks_alter_policy((AlterPolicyStmt *) stmt, locks);
			break;
		case T_RenameStmt:
			mg_locks_rename((RenameStmt *) stmt, locks);
			break;
		case T_AlterObjectSchemaStmt:
			mg_locks_set_schema((AlterObjectSchemaStmt *) stmt, locks);
			break;
		case T_DropStmt:
			mg_locks_drop((DropStmt *) stmt, locks);
			break;
		case T_CopyStmt:
			/* Only work under a lock held earlier (mg_rules_copy.c) */
			analysis->analysable = mg_lock_hold_current(NULL, NULL, NULL, NULL);
			break;
		default:
			break;
	}
	return locks->n > 0;
}

/*
 * The second part of the analysis: find what a statement would do to big
 * relations.  Findings are appended to analysis->findings; nothing is
 * judged here.
 *
 * A statement that PostgreSQL would refuse to the current role (privileges,
 * ownership, a missing object) has no findings: PostgreSQL's own error then
 * comes first, and nothing about a relation the role cannot touch is
 * measured, reported or audited (mg_permission.c).
 */
void
mg_analyze_statement(Node *stmt, MGAnalysis *analysis)
{
	if (!mg_statement_permitted(stmt))
		return;

	switch (nodeTag(stmt))
	{
		case T_AlterTableStmt:
			mg_rules_alter_table((AlterTableStmt *) stmt, analysis);
			break;
		case T_IndexStmt:
			mg_rules_create_index((IndexStmt *) stmt, analysis);
			break;
		case T_ReindexStmt:
			mg_rules_reindex((ReindexStmt *) stmt, analysis);
			break;
		case T_VacuumStmt:
			mg_rules_vacuum((VacuumStmt *) stmt, analysis);
			break;
#if MG_HAVE_REPACK
		case T_RepackStmt:
			mg_rules_repack((RepackStmt *) stmt, analysis);
			break;
#else
		case T_ClusterStmt:
			mg_rules_cluster((ClusterStmt *) stmt, analysis);
			break;
#endif
		case T_RefreshMatViewStmt:
			mg_rules_refresh_matview((RefreshMatViewStmt *) stmt, analysis);
			break;
		case T_AlterTableMoveAllStmt:
			mg_rules_move_all((AlterTableMoveAllStmt *) stmt, analysis);
			break;
		case T_AlterDomainStmt:
			mg_rules_alter_domain((AlterDomainStmt *) stmt, analysis);
			break;
		case T_CopyStmt:
			mg_rules_copy((CopyStmt *) stmt, analysis);
			break;
		case T_AlterDatabaseStmt:
			mg_rules_alter_database((AlterDatabaseStmt *) stmt, analysis);
			break;
		case T_CreateStmt:
			mg_rules_create_partition((CreateStmt *) stmt, analysis);
			break;
		default:
			/* Nothing proportional to a table's size under a write lock. */
			break;
	}
}
