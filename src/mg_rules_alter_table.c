/*-------------------------------------------------------------------------
 *
 * mg_rules_alter_table.c
 *		Rules for ALTER TABLE, ALTER INDEX and ALTER MATERIALIZED VIEW.
 *
 * The statement's lock is what PostgreSQL itself will request:
 * AlterTableGetLockLevel() over all subcommands.  Each subcommand that does
 * work proportional to the table's size is handed to the rule for it.  The
 * statement recurses to partitions and inheritance children unless ONLY was
 * given, and so do the findings.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_rules_alter_table.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_attribute.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/tablecmds.h"
#include "commands/tablespace.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "migration_guard.h"
#include "mg_compat.h"

#define MG_REWRITE_HINT_PERSISTENCE \
	"Create a new table with the wanted persistence, copy the data into it in batches, then swap the tables in one short transaction."

/*
 * SET LOGGED / SET UNLOGGED: a no-op when the table already is.
 */
static void
mg_rule_set_persistence(Relation rel, bool logged, LOCKMODE lockmode,
						MGAnalysis *analysis)
{
	char		target = logged ? RELPERSISTENCE_PERMANENT : RELPERSISTENCE_UNLOGGED;

	if (rel->rd_rel->relpersistence == target ||
		rel->rd_rel->relkind != RELKIND_RELATION)
		return;
	mg_add_finding(analysis, MG_RULE_TABLE_REWRITE, RelationGetRelid(rel), false,
				   NIL, lockmode,
				   psprintf("Changing the table to %s writes a new copy of it.",
							logged ? "LOGGED" : "UNLOGGED"),
				   pstrdup(MG_REWRITE_HINT_PERSISTENCE));
}

#if MG_HAVE_AT_SET_ACCESS_METHOD
/*
 * SET ACCESS METHOD: a no-op when it already uses it (ATPrepSetAccessMethod).
 * A NULL name means DEFAULT (17+).
 */
static void
mg_rule_set_access_method(Relation rel, const char *amname, LOCKMODE lockmode,
						  MGAnalysis *analysis)
{
	Oid			amoid;

	if (!RELKIND_HAS_STORAGE(rel->rd_rel->relkind))
		return;
	amoid = get_table_am_oid(amname ? amname : default_table_access_method, true);
	if (!OidIsValid(amoid) || amoid == rel->rd_rel->relam)
		return;
	mg_add_finding(analysis, MG_RULE_TABLE_REWRITE, RelationGetRelid(rel), false,
				   NIL, lockmode,
				   psprintf("Changing the access method to \"%s\" writes a new copy of the table.",
							amname ? amname : default_table_access_method),
				   pstrdup("Create a new table with the wanted access method, copy the data into it in batches, then swap the tables in one short transaction."));
}
#endif

/*
 * SET TABLESPACE: copies every block (ATExecSetTableSpace), unless it is
 * already there.  Relations without storage only change a default.
 */
static void
mg_rule_set_tablespace(Relation rel, const char *spcname, LOCKMODE lockmode,
					   MGAnalysis *analysis)
{
	Oid			spcoid = get_tablespace_oid(spcname, true);
	Oid			cur = rel->rd_rel->reltablespace;

	if (!OidIsValid(spcoid) || !RELKIND_HAS_STORAGE(rel->rd_rel->relkind))
		return;
	if (!OidIsValid(cur))
		cur = MyDatabaseTableSpace;
	if (spcoid == cur)
		return;
	mg_add_finding(analysis, MG_RULE_TABLE_REWRITE, RelationGetRelid(rel), false,
				   NIL, lockmode,
				   psprintf("Moving it to tablespace \"%s\" copies every block.", spcname),
				   pstrdup("Move big relations in a maintenance window, or copy the data into a new table in the target tablespace online and swap the tables in one short transaction."));
}

#if MG_HAVE_AT_SET_EXPRESSION
/*
 * SET EXPRESSION (17+): a stored generated column is recomputed for every
 * row (ATExecSetExpression); a virtual one (18+) is not.
 */
static void
mg_rule_set_expression(Relation rel, const char *colname, LOCKMODE lockmode,
					   bool recurse, MGAnalysis *analysis)
{
	HeapTuple	tp = SearchSysCacheAttName(RelationGetRelid(rel), colname);
	bool		stored;
	AttrNumber	attnum;
	Oid			atttype;

	if (!HeapTupleIsValid(tp))
		return;
	stored = ((Form_pg_attribute) GETSTRUCT(tp))->attgenerated == ATTRIBUTE_GENERATED_STORED;
	attnum = ((Form_pg_attribute) GETSTRUCT(tp))->attnum;
	atttype = ((Form_pg_attribute) GETSTRUCT(tp))->atttypid;
	ReleaseSysCache(tp);
	if (!stored)
		return;
	mg_add_finding(analysis, MG_RULE_TABLE_REWRITE, RelationGetRelid(rel),
				   recurse, NIL, lockmode,
				   psprintf("Changing the expression of stored generated column \"%s\" recomputes it for every row, which rewrites the table.",
							colname),
				   pstrdup("Add a new stored generated column with the new expression in a maintenance window, or replace the column with a plain one filled by a trigger and backfilled in batches."));
	/* The rewrite adds the column's foreign keys again, validated. */
	mg_rule_alter_type_foreign_keys(rel, attnum, atttype, true,
									"Changing the expression of column", lockmode,
									analysis);
}
#endif

/*
 * Would the inline foreign keys of ADD COLUMN be validated?  See
 * transformAlterTableStmt(): yes if a new column has a default or the
 * statement adds a table-level foreign key.
 */
static bool
mg_alter_validates_inline_fks(List *cmds)
{
	ListCell   *lc;

	foreach(lc, cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (MG_AT_IS_ADD_COLUMN(cmd->subtype) &&
			mg_column_def_has_default(castNode(ColumnDef, cmd->def)))
			return true;
		if (MG_AT_IS_ADD_CONSTRAINT(cmd->subtype) && IsA(cmd->def, Constraint) &&
			((Constraint *) cmd->def)->contype == CONSTR_FOREIGN)
			return true;
	}
	return false;
}

/*
 * ALTER TYPE composite ALTER ATTRIBUTE ... TYPE ... CASCADE changes the
 * column of every table typed with it (find_typed_table_dependencies()):
 * each is judged like ALTER TABLE ... ALTER COLUMN ... TYPE.
 */
static void
mg_rules_alter_composite_type(Relation typrel, List *cmds, MGAnalysis *analysis)
{
	Relation	classrel;
	ScanKeyData key;
	TableScanDesc scan;
	HeapTuple	tup;
	List	   *typed = NIL;
	ListCell   *lc;

	classrel = table_open(RelationRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_class_reloftype, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(typrel->rd_rel->reltype));
	scan = table_beginscan_catalog(classrel, 1, &key);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
		typed = lappend_oid(typed, ((Form_pg_class) GETSTRUCT(tup))->oid);
	table_endscan(scan);
	table_close(classrel, AccessShareLock);

	foreach(lc, typed)
	{
		Relation	rel = mg_open_relation(lfirst_oid(lc));
		ListCell   *lcc;

		if (rel == NULL)
			continue;
		foreach(lcc, cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lcc);

			if (cmd->subtype == AT_AlterColumnType && cmd->behavior == DROP_CASCADE)
				mg_rule_alter_column_type(rel, cmd, AccessExclusiveLock, true, analysis);
		}
		mg_close_relation(rel);
	}
}

/*
 * ALTER TABLE and friends.
 */
void
mg_rules_alter_table(AlterTableStmt *stmt, MGAnalysis *analysis)
{
	LOCKMODE	lockmode;
	Oid			relid;
	Relation	rel;
	bool		recurse = stmt->relation->inh;
	bool		fk_validated;
	ListCell   *lc;

	switch (stmt->objtype)
	{
		case OBJECT_TABLE:
		case OBJECT_MATVIEW:
		case OBJECT_INDEX:
		case OBJECT_TYPE:
			break;
		default:
			/* Views, sequences, foreign tables: no rows of their own. */
			return;
	}

	lockmode = AlterTableGetLockLevel(stmt->cmds);
	relid = mg_lookup_relation(stmt->relation);
	if (!OidIsValid(relid))
		return;					/* PostgreSQL reports it, or IF EXISTS */
	rel = mg_open_relation(relid);
	if (rel == NULL)
		return;

	/*
	 * PostgreSQL checks ownership before anything else (in the callback of
	 * its relation lookup); a statement it rejects for that is not ours to
	 * reject with another error.
	 */
	if (!mg_relation_ownercheck(relid, GetUserId()))
	{
		mg_close_relation(rel);
		return;
	}
	if (stmt->objtype == OBJECT_TYPE)
	{
		if (rel->rd_rel->relkind == RELKIND_COMPOSITE_TYPE)
			mg_rules_alter_composite_type(rel, stmt->cmds, analysis);
		mg_close_relation(rel);
		return;
	}

	fk_validated = mg_alter_validates_inline_fks(stmt->cmds);
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (MG_AT_IS_ADD_COLUMN(cmd->subtype))
		{
			ColumnDef  *def = castNode(ColumnDef, cmd->def);

			mg_rule_add_column(rel, def, lockmode, recurse, fk_validated, analysis);
			continue;
		}
		if (MG_AT_IS_ADD_CONSTRAINT(cmd->subtype))
		{
			if (IsA(cmd->def, Constraint))
				mg_rule_add_constraint(rel, (Constraint *) cmd->def, lockmode,
									   recurse, analysis);
			continue;
		}

		switch (cmd->subtype)
		{
			case AT_AlterColumnType:
				mg_rule_alter_column_type(rel, cmd, lockmode, recurse, analysis);
				break;
			case AT_SetNotNull:
				mg_rule_set_not_null(rel, cmd->name, lockmode, recurse, analysis);
				break;
			case AT_AlterConstraint:
				mg_rule_alter_constraint(rel, cmd->def, lockmode, recurse, analysis);
				break;
			case AT_SetLogged:
			case AT_SetUnLogged:
				mg_rule_set_persistence(rel, cmd->subtype == AT_SetLogged,
										lockmode, analysis);
				break;
#if MG_HAVE_AT_SET_ACCESS_METHOD
			case AT_SetAccessMethod:
				mg_rule_set_access_method(rel, cmd->name, lockmode, analysis);
				break;
#endif
#if MG_HAVE_AT_SET_EXPRESSION
			case AT_SetExpression:
				mg_rule_set_expression(rel, cmd->name, lockmode, recurse, analysis);
				break;
#endif
			case AT_SetTableSpace:
				mg_rule_set_tablespace(rel, cmd->name, lockmode, analysis);
				break;
			case AT_ValidateConstraint:
				mg_rule_validate_constraint(rel, cmd->name, lockmode, recurse,
											analysis);
				break;
			case AT_DetachPartition:
				if (stmt->objtype == OBJECT_TABLE &&
					rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
					mg_rule_detach_partition(rel, (PartitionCmd *) cmd->def,
											 lockmode, analysis);
				break;
			case AT_AttachPartition:
				if (stmt->objtype == OBJECT_TABLE)
					mg_rule_attach_partition(rel, (PartitionCmd *) cmd->def,
											 analysis);
				break;
			default:
				/* No work on the rows (see the README's list of safe ones). */
				break;
		}
	}
	mg_close_relation(rel);
}

/*
 * The locks ALTER TABLE takes first, in PostgreSQL's order: the table, at
 * the level of its strongest subcommand, by the owner; the partition being
 * attached, ACCESS EXCLUSIVE, by its owner; the table a foreign key
 * references, SHARE ROW EXCLUSIVE, with the REFERENCES privilege.  A lone
 * ATTACH PARTITION locks the partition before it recurses to anything.
 */
void
mg_locks_alter_table(AlterTableStmt *stmt, MGLockTargets *targets)
{
	ListCell   *lc;

	mg_add_lock_target(targets, stmt->relation,
					   AlterTableGetLockLevel(stmt->cmds), true, ACL_NO_RIGHTS);
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		/* The partition being attached is locked ACCESS EXCLUSIVE. */
		if (cmd->subtype == AT_AttachPartition && stmt->objtype == OBJECT_TABLE)
			mg_add_lock_target(targets, ((PartitionCmd *) cmd->def)->name,
							   AccessExclusiveLock, true, ACL_NO_RIGHTS);
		/* A foreign key locks the referenced table too. */
		if (MG_AT_IS_ADD_CONSTRAINT(cmd->subtype) && IsA(cmd->def, Constraint) &&
			((Constraint *) cmd->def)->contype == CONSTR_FOREIGN)
			mg_add_lock_target(targets, ((Constraint *) cmd->def)->pktable,
							   ShareRowExclusiveLock, false, ACL_REFERENCES);
	}
	targets->relkinds = mg_object_type_relkinds(stmt->objtype);
	targets->before_recursion = list_length(stmt->cmds) == 1 &&
		linitial_node(AlterTableCmd, stmt->cmds)->subtype == AT_AttachPartition;
}
