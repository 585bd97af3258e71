/*-------------------------------------------------------------------------
 *
 * mg_rules_lock_only.c
 *		The locks of the statements that no rule judges: they do no work
 *		that grows with a table's size, but take a write-blocking lock,
 *		which the lock timeout, the queue-free acquisition and the
 *		lock-hold budget still bound.
 *
 * TRUNCATE, LOCK TABLE, CREATE TRIGGER, CREATE RULE, CREATE and ALTER
 * POLICY, RENAME, ALTER ... SET SCHEMA and DROP of a relation.  For each:
 * the relations it locks first, in PostgreSQL's order, what lets the role
 * lock them in PostgreSQL's own check, and the relation kinds it accepts
 * (see MGLockTargets).
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_rules_lock_only.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/namespace.h"
#include "nodes/makefuncs.h"

#include "migration_guard.h"
#include "mg_compat.h"

/*
 * TRUNCATE locks each table ACCESS EXCLUSIVE; the TRUNCATE privilege is
 * what PostgreSQL checks, not ownership.
 */
void
mg_locks_truncate(TruncateStmt *stmt, MGLockTargets *targets)
{
	static const char relkinds[] = {RELKIND_RELATION, RELKIND_PARTITIONED_TABLE,
	RELKIND_FOREIGN_TABLE, '\0'};
	ListCell   *lc;

	foreach(lc, stmt->relations)
		mg_add_lock_target(targets, lfirst_node(RangeVar, lc),
						   AccessExclusiveLock, false, ACL_TRUNCATE);
	targets->relkinds = relkinds;
}

/*
 * LOCK TABLE takes its mode on each table; LockTableAclCheck() lets the
 * owner, or a role with UPDATE, DELETE or TRUNCATE, take a mode stronger
 * than ROW EXCLUSIVE.  NOWAIT asks for PostgreSQL's own single attempt, and
 * outside a transaction block LOCK TABLE is an error, which a lock failure
 * must not replace: none is taken ahead then.
 */
void
mg_locks_lock_table(LockStmt *stmt, MGLockTargets *targets)
{
	static const char relkinds[] = {RELKIND_RELATION, RELKIND_PARTITIONED_TABLE,
	RELKIND_VIEW, '\0'};
	ListCell   *lc;

	foreach(lc, stmt->relations)
		mg_add_lock_target(targets, lfirst_node(RangeVar, lc), stmt->mode,
						   true, ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE);
	targets->relkinds = relkinds;
	targets->not_ahead = stmt->nowait || !IsTransactionBlock();
}

/* CREATE TRIGGER: SHARE ROW EXCLUSIVE, with the TRIGGER privilege */
void
mg_locks_create_trigger(CreateTrigStmt *stmt, MGLockTargets *targets)
{
	mg_add_lock_target(targets, stmt->relation, ShareRowExclusiveLock,
					   false, ACL_TRIGGER);
}

/* CREATE RULE: ACCESS EXCLUSIVE, by the owner */
void
mg_locks_create_rule(RuleStmt *stmt, MGLockTargets *targets)
{
	mg_add_lock_target(targets, stmt->relation, AccessExclusiveLock,
					   true, ACL_NO_RIGHTS);
}

/* CREATE POLICY: ACCESS EXCLUSIVE, by the owner */
void
mg_locks_create_policy(CreatePolicyStmt *stmt, MGLockTargets *targets)
{
	mg_add_lock_target(targets, stmt->table, AccessExclusiveLock,
					   true, ACL_NO_RIGHTS);
}

/* ALTER POLICY: ACCESS EXCLUSIVE, by the owner */
void
mg_locks_alter_policy(AlterPolicyStmt *stmt, MGLockTargets *targets)
{
	mg_add_lock_target(targets, stmt->table, AccessExclusiveLock,
					   true, ACL_NO_RIGHTS);
}

/*
 * RENAME of a relation or of something in one (a column, constraint,
 * trigger, policy or rule): ACCESS EXCLUSIVE, by the owner.  ALTER INDEX
 * ... RENAME takes SHARE UPDATE EXCLUSIVE, which blocks no writes.
 */
void
mg_locks_rename(RenameStmt *stmt, MGLockTargets *targets)
{
	if (stmt->relation == NULL || stmt->renameType == OBJECT_INDEX)
		return;
	mg_add_lock_target(targets, stmt->relation, AccessExclusiveLock,
					   true, ACL_NO_RIGHTS);
	switch (stmt->renameType)
	{
		case OBJECT_COLUMN:
		case OBJECT_TABCONSTRAINT:
		case OBJECT_TRIGGER:
		case OBJECT_POLICY:
		case OBJECT_RULE:
			targets->relkinds = NULL;
			break;
		default:
			targets->relkinds = mg_object_type_relkinds(stmt->renameType);
			break;
	}
}

/* ALTER ... SET SCHEMA of a relation: ACCESS EXCLUSIVE, by the owner */
void
mg_locks_set_schema(AlterObjectSchemaStmt *stmt, MGLockTargets *targets)
{
	if (stmt->relation == NULL)
		return;
	mg_add_lock_target(targets, stmt->relation, AccessExclusiveLock,
					   true, ACL_NO_RIGHTS);
	targets->relkinds = mg_object_type_relkinds(stmt->objectType);
}

/*
 * DROP of relations: ACCESS EXCLUSIVE on each, by the owner.  PostgreSQL's
 * RangeVar callback locks an index's table first, and a partition's parent
 * first.  DROP INDEX CONCURRENTLY blocks no writes.
 */
void
mg_locks_drop(DropStmt *stmt, MGLockTargets *targets)
{
	static const char table_kinds[] = {RELKIND_RELATION,
	RELKIND_PARTITIONED_TABLE, '\0'};
	ListCell   *lc;

	if (stmt->concurrent ||
		(stmt->removeType != OBJECT_TABLE && stmt->removeType != OBJECT_INDEX &&
		 stmt->removeType != OBJECT_MATVIEW && stmt->removeType != OBJECT_VIEW &&
		 stmt->removeType != OBJECT_FOREIGN_TABLE))
		return;
	foreach(lc, stmt->objects)
		mg_add_lock_target(targets, makeRangeVarFromNameList((List *) lfirst(lc)),
						   AccessExclusiveLock, true, ACL_NO_RIGHTS);
	targets->relkinds = stmt->removeType == OBJECT_TABLE ? table_kinds :
		mg_object_type_relkinds(stmt->removeType);
	targets->index_heap_mode = AccessExclusiveLock;
	targets->index_mode = AccessExclusiveLock;
	targets->parent_first = true;
}
