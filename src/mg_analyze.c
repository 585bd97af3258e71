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
#include "catalog/pg_inherits.h"
#include "nodes/pg_list.h"
#include "storage/lmgr.h"
#include "utils/rel.h"

#include "migration_guard.h"
#include "mg_compat.h"

/*
 * The relations a finding with these fields is measured on (mg_decide()).
 */
static List *
mg_finding_relations(Oid relid, bool recurse, List *relids)
{
	if (relids != NIL)
		return list_copy(relids);
	if (recurse && has_subclass(relid))
		return find_all_inheritors(relid, NoLock, NULL);
	return list_make1_oid(relid);
}

/*
 * Record a finding, unless the same rule already fired on the same relation
 * in this statement (ALTER TABLE t ADD COLUMN a serial, ADD COLUMN b serial
 * rewrites t once).  relids, when not NIL, lists exactly the relations the
 * work touches (the partitions that need a scan, say); NIL means relid, with
 * its partitions and children if recurse.
 */
void
mg_add_finding(MGAnalysis *analysis, MGRule rule, Oid relid, bool recurse,
			   List *relids, LOCKMODE lockmode, char *reason, char *hint)
{
	MGFinding  *f;
	ListCell   *lc;

	if (!OidIsValid(relid))
		return;					/* gone, or never there: nothing to judge */

	foreach(lc, analysis->findings)
	{
		f = (MGFinding *) lfirst(lc);
		if (f->rule == rule && f->relid == relid)
		{
			/*
			 * The union of what both touch; an exact list may name relations
			 * that are not relid's partitions (a referenced table, say).
			 */
			if (f->relids != NIL || relids != NIL)
				f->relids = list_concat_unique_oid(mg_finding_relations(f->relid, f->recurse,
																		f->relids),
												   mg_finding_relations(relid, recurse,
																		relids));
			f->recurse |= recurse;
			f->lockmode = Max(f->lockmode, lockmode);
			return;
		}
	}

	f = palloc0(sizeof(MGFinding));
	f->rule = rule;
	f->relid = relid;
	f->recurse = recurse;
	f->relids = relids;
	f->lockmode = lockmode;
	f->reason = reason;
	f->hint = hint;
	analysis->findings = lappend(analysis->findings, f);
}

/*
 * Open a relation for analysis, or return NULL if it no longer exists.
 *
 * The relcache may only be read under a lock.  ACCESS SHARE conflicts only
 * with ACCESS EXCLUSIVE, so it is normally granted at once; it is released
 * again after the analysis (mg_close_relation), so that the statement does
 * not later upgrade a lock we took, which could deadlock two sessions that
 * alter the same table.  If another session holds ACCESS EXCLUSIVE, we wait
 * for it like the statement itself would.
 */
Relation
mg_open_relation(Oid relid)
{
	Relation	rel;

	if (!ConditionalLockRelationOid(relid, AccessShareLock))
		LockRelationOid(relid, AccessShareLock);
	rel = try_relation_open(relid, NoLock);
	if (rel == NULL)
		UnlockRelationOid(relid, AccessShareLock);
	return rel;
}

/*
 * Close a relation opened by mg_open_relation and drop our lock on it.  A
 * lock the transaction held before is kept: lock counts are per holder.
 */
void
mg_close_relation(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);

	relation_close(rel, NoLock);
	UnlockRelationOid(relid, AccessShareLock);
}

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
		case T_CopyStmt:
			/* Only work under a lock held earlier (mg_rules_copy.c) */
			return mg_lock_hold_current(NULL, NULL, NULL, NULL);
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
		case T_CopyStmt:
			mg_rules_copy((CopyStmt *) stmt, analysis);
			break;
		case T_CreateStmt:
			mg_rules_create_partition((CreateStmt *) stmt, analysis);
			break;
		default:
			/* Nothing proportional to a table's size under a write lock. */
			break;
	}
}
