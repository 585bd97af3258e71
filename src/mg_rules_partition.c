/*-------------------------------------------------------------------------
 *
 * mg_rules_partition.c
 *		Rules for ATTACH PARTITION and CREATE TABLE ... PARTITION OF.
 *
 * Attaching a partition proves that every row satisfies the partition
 * constraint, and attaching to (or creating a partition of) a table with a
 * DEFAULT partition proves that no row of the default partition belongs to
 * the new one.  Each proof is a full scan under ACCESS EXCLUSIVE, skipped
 * when the table's valid CHECK constraints already imply the constraint.
 * The decision below is the one QueuePartitionConstraintValidation() and
 * check_default_partition_contents() make, computed with the same exported
 * functions.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_rules_partition.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "commands/tablecmds.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_utilcmd.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/rel.h"

#include "migration_guard.h"
#include "mg_compat.h"

#define MG_PARTITION_HINT \
	"Before attaching, add a CHECK constraint matching the partition bound with NOT VALID and validate it with VALIDATE CONSTRAINT (which does not block writes); ATTACH PARTITION then skips the scan.  For a DEFAULT partition, add a CHECK constraint that excludes the new partition's values the same way."

/*
 * Which relations would have to be scanned to prove partConstraint for
 * scanrel (expressed in scanrel's attribute numbers)?  Appends their OIDs to
 * *scanned.  Mirrors QueuePartitionConstraintValidation().
 */
static void
mg_partition_scan_targets(Relation scanrel, List *partConstraint, List **scanned)
{
	if (PartConstraintImpliedByRelConstraint(scanrel, partConstraint))
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
			mg_partition_scan_targets(part,
									  map_partition_varattnos(partConstraint, 1,
															  part, scanrel),
									  scanned);
			mg_close_relation(part);
		}
	}
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
	defConstraint = get_proposed_default_constraint(partBoundConstraint);
	defConstraint = map_partition_varattnos(defConstraint, 1, defaultrel, parent);
	mg_partition_scan_targets(defaultrel, defConstraint, &scanned);
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
 * ALTER TABLE parent ATTACH PARTITION child FOR VALUES ...
 */
void
mg_rule_attach_partition(Relation parent, PartitionCmd *cmd,
						 MGAnalysis *analysis)
{
	Oid			partoid;
	Relation	attachrel;
	ParseState *pstate;
	PartitionBoundSpec *bound;
	List	   *partBoundConstraint;
	List	   *partConstraint;
	List	   *scanned = NIL;

	if (parent->rd_rel->relkind != RELKIND_PARTITIONED_TABLE || cmd->bound == NULL)
		return;
	partoid = RangeVarGetRelidExtended(cmd->name, NoLock, RVR_MISSING_OK,
									   NULL, NULL);
	if (!OidIsValid(partoid))
		return;

	pstate = make_parsestate(NULL);
	pstate->p_sourcetext = analysis->query_string;
	bound = transformPartitionBound(pstate, parent, cmd->bound);

	partBoundConstraint = mg_get_qual_from_partbound(parent, bound);
	partConstraint = list_concat_copy(partBoundConstraint,
									  RelationGetPartitionQual(parent));

	attachrel = mg_open_relation(partoid);
	if (attachrel == NULL)
		return;
	if (partConstraint != NIL)
	{
		partConstraint = (List *) eval_const_expressions(NULL, (Node *) partConstraint);
		partConstraint = list_make1(make_ands_explicit(partConstraint));
		partConstraint = map_partition_varattnos(partConstraint, 1, attachrel, parent);
		mg_partition_scan_targets(attachrel, partConstraint, &scanned);
	}
	mg_close_relation(attachrel);

	if (scanned != NIL)
	{
		mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, partoid, false, scanned,
						   AccessExclusiveLock,
						   psprintf("Attaching \"%s\" scans it to prove that every row satisfies the partition bound, because no valid CHECK constraint implies it.",
									get_rel_name(partoid)),
						   pstrdup(MG_PARTITION_HINT));
	}

	if (!bound->is_default)
		mg_check_default_partition(parent, partoid, partBoundConstraint, analysis);
}

/*
 * CREATE TABLE ... PARTITION OF parent: only the default partition's scan
 * is work on existing data.
 */
void
mg_rules_create_partition(CreateStmt *stmt, MGAnalysis *analysis)
{
	Oid			parentoid;
	Relation	parent;
	ParseState *pstate;
	PartitionBoundSpec *bound;

	if (stmt->partbound == NULL || stmt->partbound->is_default ||
		list_length(stmt->inhRelations) != 1)
		return;
	parentoid = RangeVarGetRelidExtended(linitial_node(RangeVar, stmt->inhRelations),
										 NoLock, RVR_MISSING_OK, NULL, NULL);
	if (!OidIsValid(parentoid))
		return;
	parent = mg_open_relation(parentoid);
	if (parent == NULL)
		return;
	if (parent->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
	{
		pstate = make_parsestate(NULL);
		pstate->p_sourcetext = analysis->query_string;
		bound = transformPartitionBound(pstate, parent, stmt->partbound);
		mg_check_default_partition(parent, InvalidOid,
								   mg_get_qual_from_partbound(parent, bound),
								   analysis);
	}
	mg_close_relation(parent);
}
