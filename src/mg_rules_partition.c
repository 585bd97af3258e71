/*-------------------------------------------------------------------------
 *
 * mg_rules_partition.c
 *		Rules for ATTACH PARTITION and CREATE TABLE ... PARTITION OF.
 *
 * Attaching a partition proves that every row satisfies the partition
 * constraint, and attaching to (or creating a partition of) a table with a
 * DEFAULT partition proves that no row of the default partition belongs to
 * the new one.  Each proof is a full scan under ACCESS EXCLUSIVE, skipped
 * when the table's valid CHECK constraints already imply the constraint
 * (QueuePartitionConstraintValidation(), check_default_partition_contents()).
 *
 * The bound is read by mg_partition_bound.c, without evaluating anything:
 * only literals are converted.  A bound the guard cannot read is judged
 * conservatively: the scan is predicted.
 *
 * PostgreSQL rejects many ATTACH and CREATE statements before it scans
 * anything (a typed table, a missing column, a temporary relation under a
 * permanent one, an empty or overlapping range, ...).  Those conditions are
 * checked here first, from the catalog, and such a statement gets no
 * finding, so that PostgreSQL reports its own error; nothing in this file
 * raises one.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_rules_partition.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/htup_details.h"
#include "catalog/index.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "migration_guard.h"
#include "mg_compat.h"

#if MG_HAVE_SOFT_INPUT
#include "nodes/miscnodes.h"
#endif

#define MG_PARTITION_HINT \
	"Before attaching, add a CHECK constraint matching the partition bound with NOT VALID and validate it with VALIDATE CONSTRAINT (which does not block writes); ATTACH PARTITION then skips the scan.  For a DEFAULT partition, add a CHECK constraint that excludes the new partition's values the same way; with pg_partman, keep the default partition empty (premake, partition_data_proc), see \"pg_partman\" in the migration_guard README."

#define MG_ATTACH_INDEX_HINT \
	"Before attaching, create the partitioned table's indexes on the table with CREATE INDEX CONCURRENTLY (and for a unique or primary key index, add the constraint with ALTER TABLE ... ADD CONSTRAINT ... USING INDEX); ATTACH PARTITION then attaches them instead of building new ones."

/*
 * Which relations would have to be scanned to prove partConstraint (an
 * implicit-AND list in scanrel's attribute numbers) for scanrel?  Appends
 * their OIDs to *scanned.  Mirrors QueuePartitionConstraintValidation().
 */
static void
mg_partition_scan_targets(Relation scanrel, List *partConstraint, List **scanned)
{
	if (mg_constraint_implied(scanrel, partConstraint, true))
		return;

	if (scanrel->rd_rel->relkind == RELKIND_RELATION)
		*scanned = lappend_oid(*scanned, RelationGetRelid(scanrel));
	else if (scanrel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
	{
		PartitionDesc partdesc = RelationGetPartitionDesc(scanrel, true);
		int			i;

		for (i = 0; i < partdesc->nparts; i++)
		{
			Relation	part = mg_open_relation(partdesc->oids[i]);

			if (part == NULL)
				continue;
			/* A partition has its parent's columns: the map cannot fail. */
			mg_partition_scan_targets(part,
									  map_partition_varattnos(partConstraint, 1,
															  part, scanrel),
									  scanned);
			mg_close_relation(part);
		}
	}
}

/*
 * The part of ATExecAttachPartition()'s eval_const_expressions() that
 * matters for a partition constraint, which is built from constants: a NOT
 * is pushed down by negate_clause().  A DEFAULT partition's constraint is
 * the negation of the other partitions' bounds; left as NOT (...), no CHECK
 * constraint could be shown to imply it.  Nothing is evaluated.
 */
static Node *
mg_push_down_not(Node *node)
{
	if (is_notclause(node))
		return negate_clause((Node *) get_notclausearg((Expr *) node));
	if (is_andclause(node) || is_orclause(node))
	{
		BoolExpr   *b = (BoolExpr *) copyObject(node);
		ListCell   *lc;

		foreach(lc, b->args)
			lfirst(lc) = mg_push_down_not((Node *) lfirst(lc));
		return (Node *) b;
	}
	return node;
}

static List *
mg_simplify_partition_constraint(List *partConstraint)
{
	return list_make1(mg_push_down_not((Node *) make_ands_explicit(partConstraint)));
}

/*
 * get_proposed_default_constraint() without its eval_const_expressions():
 * the negation is pushed down by negate_clause(), which is the part of
 * const-simplification that matters for a constraint built from constants.
 */
static List *
mg_proposed_default_constraint(List *partBoundConstraint)
{
	Node	   *expr;

	expr = negate_clause((Node *) make_ands_explicit(partBoundConstraint));
	expr = (Node *) canonicalize_qual((Expr *) expr, true);
	return make_ands_implicit((Expr *) expr);
}

/*
 * The default partition of parent must be scanned when a partition with
 * bound partBoundConstraint (parent's attnos) is added.  Adds the finding.
 */
static void
mg_check_default_partition(Relation parent, Oid newpartoid,
						   List *partBoundConstraint, MGAnalysis *analysis)
{
	Oid			defaultoid;
	Relation	defaultrel;
	List	   *defConstraint;
	List	   *scanned = NIL;

	defaultoid = get_default_oid_from_partdesc(RelationGetPartitionDesc(parent, true));
	if (!OidIsValid(defaultoid) || defaultoid == newpartoid)
		return;

	defaultrel = mg_open_relation(defaultoid);
	if (defaultrel == NULL)
		return;
	if (partBoundConstraint == NIL)
		scanned = list_make1_oid(defaultoid);	/* bound not readable: assume the scan */
	else
	{
		defConstraint = mg_proposed_default_constraint(partBoundConstraint);
		defConstraint = map_partition_varattnos(defConstraint, 1, defaultrel, parent);
		mg_partition_scan_targets(defaultrel, defConstraint, &scanned);
	}
	mg_close_relation(defaultrel);

	if (scanned != NIL)
	{
		mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, defaultoid, false, scanned,
					   AccessExclusiveLock,
					   psprintf("The default partition \"%s\" is scanned to prove that none of its rows belongs to the new partition.",
								get_rel_name(defaultoid)),
					   pstrdup(MG_PARTITION_HINT));
	}
}

/*
 * Would ATExecAttachPartition() (and CreateInheritance(), which it calls)
 * accept attachrel as a partition of parent?  Each test is one of its
 * errors, in its order; the owner of parent was checked by the caller.
 */
static bool
mg_attach_is_valid(Relation parent, Relation attachrel)
{
	Oid			attachoid = RelationGetRelid(attachrel);
	TupleDesc	attdesc = RelationGetDescr(attachrel);
	TupleDesc	pardesc = RelationGetDescr(parent);
	char		ppers = parent->rd_rel->relpersistence;
	char		apers = attachrel->rd_rel->relpersistence;
	int			i;

	if ((attachrel->rd_rel->relkind != RELKIND_RELATION &&
		 attachrel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE &&
		 attachrel->rd_rel->relkind != RELKIND_FOREIGN_TABLE) ||
		!mg_relation_ownercheck(attachoid, GetUserId()))
		return false;
	if (attachrel->rd_rel->relispartition ||
		OidIsValid(attachrel->rd_rel->reloftype))
		return false;			/* "cannot attach a typed table as partition" */
	if (has_superclass(attachoid) ||
		(attachrel->rd_rel->relkind == RELKIND_RELATION &&
		 find_inheritance_children(attachoid, NoLock) != NIL))
		return false;			/* inheritance child or parent */
	if (list_member_oid(find_all_inheritors(attachoid, NoLock, NULL),
						RelationGetRelid(parent)))
		return false;			/* "circular inheritance not allowed" */
	if ((ppers != RELPERSISTENCE_TEMP && apers == RELPERSISTENCE_TEMP) ||
		(ppers == RELPERSISTENCE_TEMP && apers != RELPERSISTENCE_TEMP) ||
		(ppers == RELPERSISTENCE_TEMP && !parent->rd_islocaltemp) ||
		(apers == RELPERSISTENCE_TEMP && !attachrel->rd_islocaltemp))
		return false;

	/* Every column of attachrel must be in parent ... */
	for (i = 0; i < attdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(attdesc, i);

		if (att->attisdropped)
			continue;
#if MG_ATTACH_REJECTS_IDENTITY
		if (att->attidentity)
			return false;
#endif
		if (!SearchSysCacheExists2(ATTNAME, ObjectIdGetDatum(RelationGetRelid(parent)),
								   CStringGetDatum(NameStr(att->attname))))
			return false;		/* "... contains column ... not found in parent" */
	}
	if (FindTriggerIncompatibleWithInheritance(attachrel->trigdesc) != NULL)
		return false;

	/*
	 * ... and every column of parent in attachrel, alike
	 * (MergeAttributesIntoExisting(): "child table is missing column", "...
	 * has different type for column", ...).  This also guarantees that
	 * map_partition_varattnos() below cannot fail.
	 */
	for (i = 0; i < pardesc->natts; i++)
	{
		Form_pg_attribute patt = TupleDescAttr(pardesc, i);
		HeapTuple	tp;
		Form_pg_attribute catt;
		bool		ok;

		if (patt->attisdropped)
			continue;
		tp = SearchSysCacheAttName(attachoid, NameStr(patt->attname));
		if (!HeapTupleIsValid(tp))
			return false;
		catt = (Form_pg_attribute) GETSTRUCT(tp);
		ok = catt->atttypid == patt->atttypid &&
			catt->atttypmod == patt->atttypmod &&
			catt->attcollation == patt->attcollation &&
			(!patt->attnotnull || catt->attnotnull) &&
			(patt->attgenerated == '\0') == (catt->attgenerated == '\0');
		ReleaseSysCache(tp);
		if (!ok)
			return false;
	}

	/* MergeConstraintsIntoExisting(): "child table is missing constraint" */
	if (pardesc->constr != NULL)
	{
		for (i = 0; i < pardesc->constr->num_check; i++)
		{
			const char *name = pardesc->constr->check[i].ccname;
			bool		found = false;
			int			j;

			if (pardesc->constr->check[i].ccnoinherit)
				continue;
			for (j = 0; attdesc->constr != NULL && j < attdesc->constr->num_check; j++)
				if (strcmp(attdesc->constr->check[j].ccname, name) == 0)
					found = true;
			if (!found)
				return false;
		}
	}
	return true;
}

/*
 * The key column names of parent index indexoid, if it is a plain index
 * that mg_equivalent_index() can match: plain columns with their default
 * opclass and collation, no expressions, predicate or INCLUDE columns.
 * Otherwise NIL, and the caller assumes a build.
 */
static List *
mg_simple_index_columns(Oid indexoid, Oid parentoid, Oid amoid, bool *unique)
{
	HeapTuple	tp = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
	Form_pg_index idx;
	List	   *colnames = NIL;
	bool		simple;
	Datum		datum;
	oidvector  *indclass;
	oidvector  *indcollation;
	bool		isnull;
	int			i;

	if (!HeapTupleIsValid(tp))
		return NIL;
	idx = (Form_pg_index) GETSTRUCT(tp);
	*unique = idx->indisunique;
	simple = idx->indnkeyatts == idx->indnatts &&
		heap_attisnull(tp, Anum_pg_index_indexprs, NULL) &&
		heap_attisnull(tp, Anum_pg_index_indpred, NULL);
	datum = SysCacheGetAttr(INDEXRELID, tp, Anum_pg_index_indclass, &isnull);
	if (isnull)
		simple = false;
	indclass = (oidvector *) DatumGetPointer(datum);
	datum = SysCacheGetAttr(INDEXRELID, tp, Anum_pg_index_indcollation, &isnull);
	if (isnull)
		simple = false;
	indcollation = (oidvector *) DatumGetPointer(datum);
	for (i = 0; simple && i < idx->indnatts; i++)
	{
		AttrNumber	attnum = idx->indkey.values[i];
		Oid			typid;
		int32		typmod;
		Oid			collid;

		if (attnum <= 0)
		{
			simple = false;
			break;
		}
		get_atttypetypmodcoll(parentoid, attnum, &typid, &typmod, &collid);
		if (indclass->values[i] != GetDefaultOpClass(typid, amoid) ||
			indcollation->values[i] != collid)
			simple = false;
		else
			colnames = lappend(colnames, get_attname(parentoid, attnum, false));
	}
	ReleaseSysCache(tp);
	if (!simple)
	{
		list_free(colnames);
		return NIL;
	}
	return colnames;
}

/*
 * Does leaf (a plain table being attached, or one of its partitions) lack
 * an index matching parent index parentidx, so that
 * AttachPartitionEnsureIndexes() builds one under ACCESS EXCLUSIVE?  A
 * parent index that backs a constraint only takes an index that backs one.
 */
static bool
mg_attach_builds_index(Oid parentidx, Oid parentoid, Oid leaf)
{
	Oid			amoid = mg_relation_am(parentidx);
	bool		unique = false;
	List	   *colnames = mg_simple_index_columns(parentidx, parentoid, amoid,
												   &unique);
	Oid			match;

	if (colnames == NIL)
		return true;
	match = mg_equivalent_index(leaf, unique, amoid, colnames);
	if (!OidIsValid(match))
		return true;
	return OidIsValid(get_index_constraint(parentidx)) &&
		!OidIsValid(get_index_constraint(match));
}

/*
 * The tables that attaching attachrel builds an index on: each plain table
 * among attachrel and its partitions that lacks an equivalent of some index
 * of parent.  A foreign table gets no index (PostgreSQL rejects a unique
 * one).
 */
static List *
mg_attach_index_builds(Relation parent, Relation attachrel)
{
	List	   *parentidx;
	List	   *leaves;
	List	   *built = NIL;
	ListCell   *lc;

	if (attachrel->rd_rel->relkind == RELKIND_FOREIGN_TABLE)
		return NIL;
	parentidx = RelationGetIndexList(parent);
	if (parentidx == NIL)
		return NIL;
	leaves = find_all_inheritors(RelationGetRelid(attachrel), NoLock, NULL);
	foreach(lc, leaves)
	{
		Oid			leaf = lfirst_oid(lc);
		ListCell   *lci;

		if (get_rel_relkind(leaf) != RELKIND_RELATION)
			continue;
		foreach(lci, parentidx)
		{
			if (mg_attach_builds_index(lfirst_oid(lci), RelationGetRelid(parent),
									   leaf))
			{
				built = lappend_oid(built, leaf);
				break;
			}
		}
	}
	list_free(parentidx);
	return built;
}

/*
 * ALTER TABLE parent ATTACH PARTITION child FOR VALUES ...
 */
void
mg_rule_attach_partition(Relation parent, PartitionCmd *cmd,
						 MGAnalysis *analysis)
{
	Oid			partoid;
	Relation	attachrel;
	PartitionBoundSpec *bound;
	MGBound		readable;
	List	   *partBoundConstraint = NIL;
	List	   *partConstraint;
	List	   *scanned = NIL;
	List	   *built = NIL;
	bool		valid;

	if (parent->rd_rel->relkind != RELKIND_PARTITIONED_TABLE || cmd->bound == NULL)
		return;					/* PostgreSQL reports it */
	partoid = mg_lookup_relation(cmd->name);
	if (!OidIsValid(partoid))
		return;

	readable = mg_transform_bound(parent, cmd->bound, &bound);
	if (readable == MG_BOUND_INVALID)
		return;
	if (readable == MG_BOUND_OK && !mg_new_bound_is_valid(parent, bound))
		return;

	attachrel = mg_open_relation(partoid);
	if (attachrel == NULL)
		return;
	valid = mg_attach_is_valid(parent, attachrel);
	if (valid && readable == MG_BOUND_OK)
	{
		partBoundConstraint = mg_get_qual_from_partbound(parent, bound);
		partConstraint = list_concat_copy(partBoundConstraint,
										  RelationGetPartitionQual(parent));
		if (partConstraint != NIL)
		{
			partConstraint = map_partition_varattnos(partConstraint, 1,
													 attachrel, parent);
			partConstraint = mg_simplify_partition_constraint(partConstraint);
			mg_partition_scan_targets(attachrel, partConstraint, &scanned);
		}
	}
	else if (valid && (attachrel->rd_rel->relkind == RELKIND_RELATION ||
					   attachrel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE))
	{
		/*
		 * The bound is an expression PostgreSQL evaluates: without its value
		 * no CHECK constraint can be shown to imply it, so predict the scan,
		 * as PostgreSQL does unless such a constraint exists.
		 */
		if (attachrel->rd_rel->relkind == RELKIND_RELATION)
			scanned = list_make1_oid(partoid);
		else
			scanned = find_all_inheritors(partoid, NoLock, NULL);
	}
	if (valid)
		built = mg_attach_index_builds(parent, attachrel);
	if (valid)
		mg_rule_attach_foreign_keys(parent, attachrel, analysis);
	mg_close_relation(attachrel);
	if (!valid)
		return;

	if (scanned != NIL)
	{
		mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, partoid, false, scanned,
					   AccessExclusiveLock,
					   psprintf("Attaching \"%s\" scans it to prove that every row satisfies the partition bound, because no valid CHECK constraint implies it.",
								get_rel_name(partoid)),
					   pstrdup(MG_PARTITION_HINT));
	}
	if (built != NIL)
		mg_add_finding(analysis, MG_RULE_BLOCKING_INDEX_BUILD, partoid, false,
					   built, AccessExclusiveLock,
					   psprintf("Attaching \"%s\" builds the partitioned table's indexes that it has no equivalent of.",
								get_rel_name(partoid)),
					   pstrdup(MG_ATTACH_INDEX_HINT));

	if (!bound->is_default)
		mg_check_default_partition(parent, partoid, partBoundConstraint, analysis);
}

/*
 * CREATE TABLE ... PARTITION OF parent: only the default partition's scan
 * is work on existing data.  The statement must pass DefineRelation()'s and
 * MergeAttributes()'s checks first.
 */
void
mg_rules_create_partition(CreateStmt *stmt, MGAnalysis *analysis)
{
	Oid			parentoid;
	Relation	parent;
	PartitionBoundSpec *bound;
	MGBound		readable;
	char		newpers = stmt->relation->relpersistence;
	char		ppers;

	if (stmt->partbound == NULL || stmt->partbound->is_default ||
		list_length(stmt->inhRelations) != 1)
		return;
	if (OidIsValid(mg_lookup_relation(stmt->relation)))
		return;					/* "already exists", or IF NOT EXISTS skips */
	if (stmt->relation->schemaname != NULL &&
		strcmp(stmt->relation->schemaname, "pg_temp") == 0)
		newpers = RELPERSISTENCE_TEMP;
	parentoid = mg_lookup_relation(linitial_node(RangeVar, stmt->inhRelations));
	if (!OidIsValid(parentoid))
		return;
	parent = mg_open_relation(parentoid);
	if (parent == NULL)
		return;
	ppers = parent->rd_rel->relpersistence;
	if (parent->rd_rel->relkind == RELKIND_PARTITIONED_TABLE &&
		mg_relation_ownercheck(parentoid, GetUserId()) &&
		!(ppers != RELPERSISTENCE_TEMP && newpers == RELPERSISTENCE_TEMP) &&
		!(ppers == RELPERSISTENCE_TEMP && newpers != RELPERSISTENCE_TEMP) &&
		!(ppers == RELPERSISTENCE_TEMP && !parent->rd_islocaltemp))
	{
		readable = mg_transform_bound(parent, stmt->partbound, &bound);
		if (readable == MG_BOUND_OK && mg_new_bound_is_valid(parent, bound))
			mg_check_default_partition(parent, InvalidOid,
									   mg_get_qual_from_partbound(parent, bound),
									   analysis);
		else if (readable == MG_BOUND_UNKNOWN)
			mg_check_default_partition(parent, InvalidOid, NIL, analysis);
	}
	mg_close_relation(parent);
}

/*
 * The lock CREATE TABLE ... PARTITION OF takes first: ACCESS EXCLUSIVE on
 * the parent, by its owner.
 */
void
mg_locks_create_partition(CreateStmt *stmt, MGLockTargets *targets)
{
	if (stmt->partbound != NULL && stmt->inhRelations != NIL)
		mg_add_lock_target(targets, linitial_node(RangeVar, stmt->inhRelations),
						   AccessExclusiveLock, true, ACL_NO_RIGHTS);
}
