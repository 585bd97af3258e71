/*-------------------------------------------------------------------------
 *
 * mg_analyze.c
 *		Dispatch a utility statement to the rules of its family.
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

#include "access/relation.h"
#include "nodes/pg_list.h"
#include "storage/lmgr.h"
#include "utils/rel.h"

#include "migration_guard.h"
#include "mg_compat.h"

/*
 * Could the rules find anything in this statement?  A cheap test on the
 * node type, so that the hook does no work for the statements of ordinary
 * traffic (BEGIN, COMMIT, SET, ...).
 */
bool
mg_statement_is_analysable(Node *stmt)
{
	switch (nodeTag(stmt))
	{
		case T_AlterTableStmt:
		case T_IndexStmt:
		case T_ReindexStmt:
		case T_VacuumStmt:
#if MG_HAVE_REPACK
		case T_RepackStmt:
#else
		case T_ClusterStmt:
#endif
		case T_RefreshMatViewStmt:
		case T_AlterTableMoveAllStmt:
		case T_AlterDomainStmt:
			return true;
		case T_CreateStmt:
			return ((CreateStmt *) stmt)->partbound != NULL;
		default:
			return false;
	}
}

/*
 * Find what a statement would do to big relations.  Findings are appended to
 * analysis->findings; nothing is judged here.
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
		case T_CreateStmt:
			mg_rules_create_partition((CreateStmt *) stmt, analysis);
			break;
		default:
			/* Nothing proportional to a table's size under a write lock. */
			break;
	}
}
