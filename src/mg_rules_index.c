/*-------------------------------------------------------------------------
 *
 * mg_rules_index.c
 *		Rules for CREATE INDEX and REINDEX without CONCURRENTLY.
 *
 * CREATE INDEX holds SHARE on the table for the whole build (DefineIndex),
 * which blocks every write; CONCURRENTLY holds SHARE UPDATE EXCLUSIVE.
 * CREATE INDEX ON ONLY a partitioned table builds nothing (it creates an
 * invalid parent index to attach partition indexes to), and a build on a
 * partitioned table attaches an existing equivalent index of a partition
 * instead of building one, so only partitions without one count.
 * REINDEX holds SHARE on the table and ACCESS EXCLUSIVE on the index.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_rules_index.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/catalog.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "commands/defrem.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "migration_guard.h"
#include "mg_compat.h"

#define MG_INDEX_HINT \
	"Use CREATE INDEX CONCURRENTLY, which does not block writes (it cannot run inside a transaction block)."

#define MG_PARTITIONED_INDEX_HINT \
	"Create the index with CREATE INDEX ... ON ONLY the partitioned table, build it on each partition with CREATE INDEX CONCURRENTLY, then attach each one with ALTER INDEX ... ATTACH PARTITION."

/*
 * Is a DefElem option list's boolean option set?  (REINDEX, CLUSTER and
 * VACUUM take "(concurrently)", "(full)" and so on.)
 */
bool
mg_option_is_set(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *opt = lfirst_node(DefElem, lc);

		if (strcmp(opt->defname, name) == 0)
			return defGetBoolean(opt);
	}
	return false;
}

/*
 * Does partition partoid already have an index that DefineIndex would attach
 * instead of building one for stmt?  Only the simple case is recognised:
 * plain columns, no expressions, predicate, INCLUDE, opclass or collation;
 * anything else counts as a build, which can only over-warn.
 */
static bool
mg_partition_has_equivalent_index(Oid partoid, IndexStmt *stmt, Oid amoid)
{
	List	   *indexes;
	ListCell   *lc;
	bool		found = false;
	Relation	part;

	if (stmt->whereClause != NULL || stmt->indexIncludingParams != NIL ||
		stmt->excludeOpNames != NIL)
		return false;
	foreach(lc, stmt->indexParams)
	{
		IndexElem  *elem = lfirst_node(IndexElem, lc);

		if (elem->name == NULL || elem->collation != NIL || elem->opclass != NIL)
			return false;
	}

	part = mg_open_relation(partoid);
	if (part == NULL)
		return false;
	indexes = RelationGetIndexList(part);
	foreach(lc, indexes)
	{
		HeapTuple	tp = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index idx;
		ListCell   *lce;
		int			i = 0;
		bool		same = true;

		if (!HeapTupleIsValid(tp))
			continue;
		idx = (Form_pg_index) GETSTRUCT(tp);
		if (idx->indisunique != stmt->unique || !idx->indisvalid ||
			idx->indnatts != list_length(stmt->indexParams) ||
			idx->indnkeyatts != idx->indnatts ||
			mg_relation_am(idx->indexrelid) != amoid ||
			!heap_attisnull(tp, Anum_pg_index_indexprs, NULL) ||
			!heap_attisnull(tp, Anum_pg_index_indpred, NULL) ||
			has_superclass(idx->indexrelid))
			same = false;
		foreach(lce, stmt->indexParams)
		{
			IndexElem  *elem = lfirst_node(IndexElem, lce);

			if (!same)
				break;
			if (get_attnum(partoid, elem->name) != idx->indkey.values[i++])
				same = false;
		}
		ReleaseSysCache(tp);
		if (same)
		{
			found = true;
			break;
		}
	}
	list_free(indexes);
	mg_close_relation(part);
	return found;
}

/*
 * CREATE INDEX.
 */
void
mg_rules_create_index(IndexStmt *stmt, MGAnalysis *analysis)
{
	Oid			relid;
	char		relkind;
	Oid			amoid;
	List	   *built = NIL;
	ListCell   *lc;

	if (stmt->concurrent)
		return;
	relid = RangeVarGetRelidExtended(stmt->relation, NoLock, RVR_MISSING_OK,
									 NULL, NULL);
	if (!OidIsValid(relid))
		return;
	if (stmt->if_not_exists && stmt->idxname != NULL &&
		OidIsValid(get_relname_relid(stmt->idxname, get_rel_namespace(relid))))
		return;

	relkind = get_rel_relkind(relid);
	if (relkind != RELKIND_PARTITIONED_TABLE)
	{
		mg_add_finding(analysis, MG_RULE_BLOCKING_INDEX_BUILD, relid, false, NIL,
					   ShareLock,
					   pstrdup("Building an index without CONCURRENTLY reads the whole table."),
					   pstrdup(MG_INDEX_HINT));
		return;
	}

	/* ON ONLY the partitioned table builds nothing. */
	if (!stmt->relation->inh)
		return;

	amoid = get_am_oid(stmt->accessMethod ? stmt->accessMethod : DEFAULT_INDEX_TYPE,
					   true);
	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
	{
		Oid			partoid = lfirst_oid(lc);

		if (get_rel_relkind(partoid) == RELKIND_RELATION &&
			!mg_partition_has_equivalent_index(partoid, stmt, amoid))
			built = lappend_oid(built, partoid);
	}
	if (built != NIL)
		mg_add_finding(analysis, MG_RULE_BLOCKING_INDEX_BUILD, relid, true, built,
					   ShareLock,
					   pstrdup("Building an index on a partitioned table without ON ONLY builds it on every partition, all in one transaction."),
					   pstrdup(MG_PARTITIONED_INDEX_HINT));
}

/*
 * REINDEX.  REINDEX SCHEMA, DATABASE and SYSTEM process one table per
 * transaction; each table is judged on its own.
 */
void
mg_rules_reindex(ReindexStmt *stmt, MGAnalysis *analysis)
{
	const char *reason = "Rebuilding indexes without CONCURRENTLY reads the whole table, and holds ACCESS EXCLUSIVE lock on the index, which blocks queries that use it.";
	const char *hint = "Use REINDEX ... CONCURRENTLY, which does not block writes.";
	Oid			relid;

	if (mg_option_is_set(stmt->params, "concurrently"))
		return;

	switch (stmt->kind)
	{
		case REINDEX_OBJECT_INDEX:
			relid = RangeVarGetRelidExtended(stmt->relation, NoLock,
											 RVR_MISSING_OK, NULL, NULL);
			if (!OidIsValid(relid))
				return;
			if (get_rel_relkind(relid) == RELKIND_PARTITIONED_INDEX)
			{
				ListCell   *lc;

				foreach(lc, find_all_inheritors(relid, NoLock, NULL))
				{
					Oid			leaf = lfirst_oid(lc);

					if (get_rel_relkind(leaf) == RELKIND_INDEX)
						mg_add_finding(analysis, MG_RULE_BLOCKING_INDEX_BUILD,
									   IndexGetRelation(leaf, false), false, NIL,
									   ShareLock, pstrdup(reason), pstrdup(hint));
				}
				return;
			}
			mg_add_finding(analysis, MG_RULE_BLOCKING_INDEX_BUILD,
						   IndexGetRelation(relid, true), false, NIL, ShareLock,
						   pstrdup(reason), pstrdup(hint));
			break;

		case REINDEX_OBJECT_TABLE:
			relid = RangeVarGetRelidExtended(stmt->relation, NoLock,
											 RVR_MISSING_OK, NULL, NULL);
			if (OidIsValid(relid))
				mg_add_finding(analysis, MG_RULE_BLOCKING_INDEX_BUILD, relid,
							   true, NIL, ShareLock, pstrdup(reason), pstrdup(hint));
			break;

		default:
			{
				Oid			nspoid = InvalidOid;
				List	   *relids;
				ListCell   *lc;

				if (stmt->kind == REINDEX_OBJECT_SCHEMA)
				{
					nspoid = get_namespace_oid(stmt->name, true);
					if (!OidIsValid(nspoid))
						return;
				}
				relids = mg_list_relations(nspoid, stmt->kind == REINDEX_OBJECT_SYSTEM);
				/* Shared catalogs need more than the database's owner. */
				relids = mg_maintainable_relations(relids, MG_MAINTAIN_IN_SCHEMA);
				foreach(lc, relids)
				{
					if (MG_REINDEX_DATABASE_SKIPS_CATALOGS &&
						stmt->kind == REINDEX_OBJECT_DATABASE &&
						IsCatalogRelationOid(lfirst_oid(lc)))
						continue;
					mg_add_finding(analysis, MG_RULE_BLOCKING_INDEX_BUILD,
								   lfirst_oid(lc), false, NIL, ShareLock,
								   pstrdup(reason), pstrdup(hint));
				}
			}
			break;
	}
}
