/*-------------------------------------------------------------------------
 *
 * mg_rules_index.c
 *		Rules for CREATE INDEX and REINDEX without CONCURRENTLY, and for what
 *		failed concurrent builds leave behind.
 *
 * CREATE INDEX holds SHARE on the table for the whole build (DefineIndex),
 * which blocks every write; CONCURRENTLY holds SHARE UPDATE EXCLUSIVE.
 * CREATE INDEX ON ONLY a partitioned table builds nothing (it creates an
 * invalid parent index to attach partition indexes to), and a build on a
 * partitioned table attaches an existing equivalent index of a partition
 * instead of building one, so only partitions without one count.
 * REINDEX holds SHARE on the table and ACCESS EXCLUSIVE on the index.
 *
 * A CREATE INDEX CONCURRENTLY that fails or is cancelled after its first
 * transaction (deploy timeout, deadlock, duplicate key of a UNIQUE index)
 * leaves an invalid index, which queries never use; REINDEX CONCURRENTLY
 * leaves a "_ccnew" or "_ccold" copy.  A retry with IF NOT EXISTS then
 * "succeeds" with a NOTICE and builds nothing: invalid_index_exists rejects
 * it, whatever the table's size.  concurrent_index_timeout warns when a
 * concurrent build starts under a statement_timeout it will probably not
 * meet, the usual way such leftovers are made.
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
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
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
 * Does relation relid have a valid index, not yet attached to a parent
 * index, that PostgreSQL would attach instead of building one: same access
 * method, same uniqueness, plain key columns colnames (a list of column
 * names, so that partitions with other attribute numbers compare right),
 * no expressions, predicate or INCLUDE columns?  Returns its OID, or
 * InvalidOid.  The opclass and collation are not compared, so callers only
 * ask for indexes that use the defaults; anything else counts as a build,
 * which can only over-warn.  Used for CREATE INDEX on a partitioned table
 * (DefineIndex) and for ATTACH PARTITION (AttachPartitionEnsureIndexes).
 */
Oid
mg_equivalent_index(Oid relid, bool unique, Oid amoid, List *colnames)
{
	List	   *indexes;
	ListCell   *lc;
	Oid			found = InvalidOid;
	Relation	rel;

	rel = mg_open_relation(relid);
	if (rel == NULL)
		return InvalidOid;
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		HeapTuple	tp = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index idx;
		ListCell   *lcn;
		int			i = 0;
		bool		same = true;

		if (!HeapTupleIsValid(tp))
			continue;
		idx = (Form_pg_index) GETSTRUCT(tp);
		if (idx->indisunique != unique || !idx->indisvalid ||
			idx->indnatts != list_length(colnames) ||
			idx->indnkeyatts != idx->indnatts ||
			mg_relation_am(idx->indexrelid) != amoid ||
			!heap_attisnull(tp, Anum_pg_index_indexprs, NULL) ||
			!heap_attisnull(tp, Anum_pg_index_indpred, NULL) ||
			has_superclass(idx->indexrelid))
			same = false;
		foreach(lcn, colnames)
		{
			if (!same)
				break;
			if (get_attnum(relid, (const char *) lfirst(lcn)) != idx->indkey.values[i++])
				same = false;
		}
		ReleaseSysCache(tp);
		if (same)
		{
			found = lfirst_oid(lc);
			break;
		}
	}
	list_free(indexes);
	mg_close_relation(rel);
	return found;
}

/*
 * Does partition partoid already have an index that DefineIndex would attach
 * instead of building one for stmt?  Only the simple case is recognised:
 * plain columns, no expressions, predicate, INCLUDE, opclass or collation.
 */
static bool
mg_partition_has_equivalent_index(Oid partoid, IndexStmt *stmt, Oid amoid)
{
	List	   *colnames = NIL;
	ListCell   *lc;

	if (stmt->whereClause != NULL || stmt->indexIncludingParams != NIL ||
		stmt->excludeOpNames != NIL)
		return false;
	foreach(lc, stmt->indexParams)
	{
		IndexElem  *elem = lfirst_node(IndexElem, lc);

		if (elem->name == NULL || elem->collation != NIL || elem->opclass != NIL)
			return false;
		colnames = lappend(colnames, elem->name);
	}
	return OidIsValid(mg_equivalent_index(partoid, stmt->unique, amoid,
										  colnames));
}

/*
 * How fast CREATE INDEX CONCURRENTLY gets through a table, in bytes of table
 * (heap and TOAST) per second, from its start to its end: both table scans,
 * the sort, the index writes and the waits, on an otherwise idle server.
 * Measured on the development machine (PostgreSQL 15, 2 vCPUs, 292 MB
 * table of 4 million rows, see "Leftovers" in the README): a btree on a
 * sequential integer column built at 108-115 MB/s, on a random integer at
 * 59-75 MB/s, on an md5 text at 20 MB/s.  The constant is above all of
 * them, so the estimate is a lower bound: when even it exceeds
 * statement_timeout, the build will almost surely be cancelled.
 */
#define MG_CIC_BYTES_PER_SECOND		(128.0 * 1024 * 1024)

/*
 * What an invalid index's flags say happened to it, for the DETAIL.
 */
static const char *
mg_invalid_index_story(bool ready, bool live)
{
	if (!live)
		return "It is left over from an interrupted DROP INDEX CONCURRENTLY: queries do not use it and writes no longer update it.";
	if (!ready)
		return "It is left over from a CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY that was cancelled or failed before its build completed: queries do not use it and writes do not update it.";
	return "It is left over from a CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY that was cancelled or failed (a timeout, a deadlock, a duplicate key) after building it: writes keep it up to date, but queries never use it.";
}

/*
 * CREATE INDEX ... IF NOT EXISTS name.  Returns true if the name is taken in
 * the table's schema, where DefineIndex puts the index (a schema in the
 * index name is a syntax error): PostgreSQL then only reports that it
 * exists and builds nothing.  If what exists is an invalid index, that
 * retry would pass while the index stays unusable, so the rule
 * invalid_index_exists fires.  A valid index, or an index of another table,
 * keeps the NOTICE.
 */
static bool
mg_rule_existing_index(IndexStmt *stmt, Oid relid, MGAnalysis *analysis)
{
	Oid			nspoid;
	Oid			indexoid;
	HeapTuple	tp;
	Form_pg_index idx;
	bool		valid;
	bool		ready;
	bool		live;
	Oid			tableoid;
	const char *qualified;

	if (!stmt->if_not_exists || stmt->idxname == NULL)
		return false;
	nspoid = get_rel_namespace(relid);
	indexoid = get_relname_relid(stmt->idxname, nspoid);
	if (!OidIsValid(indexoid))
		return false;

	/*
	 * A partitioned index is invalid by design until every partition has
	 * one attached (CREATE INDEX ON ONLY); DROP INDEX CONCURRENTLY does not
	 * apply to it.  Anything but an index is PostgreSQL's business.
	 */
	if (get_rel_relkind(indexoid) != RELKIND_INDEX)
		return true;
	tp = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
	if (!HeapTupleIsValid(tp))
		return true;
	idx = (Form_pg_index) GETSTRUCT(tp);
	valid = idx->indisvalid;
	ready = idx->indisready;
	live = idx->indislive;
	tableoid = idx->indrelid;
	ReleaseSysCache(tp);

	/*
	 * An index of another table that only shares the name is a naming
	 * clash, not this statement's leftover: dropping it would be wrong.
	 */
	if ((valid && ready && live) || tableoid != relid)
		return true;

	qualified = quote_qualified_identifier(get_namespace_name(nspoid),
										   stmt->idxname);
	mg_add_finding(analysis, MG_RULE_INVALID_INDEX_EXISTS, indexoid, false,
				   list_make1_oid(tableoid),
				   stmt->concurrent ? ShareUpdateExclusiveLock : ShareLock,
				   psprintf("%s  With IF NOT EXISTS, PostgreSQL only reports that the index exists and skips the build, so the index would stay invalid.",
							mg_invalid_index_story(ready, live)),
				   psprintf("Drop it with DROP INDEX CONCURRENTLY %s; then build the index again.  If another session is building it right now (see pg_stat_progress_create_index), wait for that build to end instead.",
							qualified));
	return true;
}

/*
 * A concurrent build (CREATE INDEX CONCURRENTLY, REINDEX INDEX or TABLE
 * CONCURRENTLY) of an index on relid under a statement_timeout shorter than
 * the build's expected duration: the timeout would cancel it and leave an
 * invalid index (or a "_ccnew" copy).  The estimate (MG_CIC_BYTES_PER_SECOND,
 * one pass over the table however many indexes are built) needs the table's
 * size, so this rule measures; the policy then applies the thresholds as for
 * any rule.  CONCURRENTLY on a partitioned table is left to PostgreSQL.
 */
static void
mg_rule_concurrent_index_timeout(Oid relid, bool rebuild, MGAnalysis *analysis)
{
	MGRelSize	size;
	double		seconds;
	char		relkind;

	if (StatementTimeout <= 0 || !OidIsValid(relid))
		return;
	relkind = get_rel_relkind(relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_MATVIEW)
		return;
	mg_measure(relid, false, &size);
	if (size.nrels == 0)
		return;
	seconds = (double) size.bytes / MG_CIC_BYTES_PER_SECOND;
	if (seconds * 1000.0 <= (double) StatementTimeout)
		return;

	mg_add_finding(analysis, MG_RULE_CONCURRENT_INDEX_TIMEOUT, relid, false, NIL,
				   ShareUpdateExclusiveLock,
				   psprintf(rebuild ?
							"Rebuilding indexes concurrently takes at least %.*f s at %.0f MB/s, longer than \"statement_timeout\" (%s); a cancelled rebuild leaves an invalid \"_ccnew\" or \"_ccold\" index behind." :
							"Building the index concurrently takes at least %.*f s at %.0f MB/s, longer than \"statement_timeout\" (%s); a cancelled build leaves an invalid index behind.",
							seconds < 10.0 ? 1 : 0, seconds,
							MG_CIC_BYTES_PER_SECOND / (1024 * 1024),
							GetConfigOptionByName("statement_timeout", NULL, false)),
				   pstrdup("Run SET statement_timeout = 0 (or a value above the expected duration) in the same session before the statement."));
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

	relid = RangeVarGetRelidExtended(stmt->relation, NoLock, RVR_MISSING_OK,
									 NULL, NULL);
	if (!OidIsValid(relid))
		return;
	if (mg_rule_existing_index(stmt, relid, analysis))
		return;
	if (stmt->concurrent)
	{
		mg_rule_concurrent_index_timeout(relid, false, analysis);
		return;
	}

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
 * Does a REINDEX of this table rebuild anything?  reindex_relation()
 * rebuilds the table's indexes and its TOAST table's index; a table with
 * neither has nothing to rebuild.  relhasindex can stay true after the last
 * index is dropped (until VACUUM clears it), which only errs towards judging.
 */
static bool
mg_reindex_rebuilds_something(Oid relid)
{
	HeapTuple	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Form_pg_class cls;
	bool		result;

	if (!HeapTupleIsValid(tp))
		return false;
	cls = (Form_pg_class) GETSTRUCT(tp);
	result = cls->relkind == RELKIND_PARTITIONED_TABLE || cls->relhasindex ||
		OidIsValid(cls->reltoastrelid);
	ReleaseSysCache(tp);
	return result;
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
	{
		/* Only a rebuild on one table is estimated, not SCHEMA or DATABASE. */
		if (stmt->kind == REINDEX_OBJECT_INDEX || stmt->kind == REINDEX_OBJECT_TABLE)
		{
			relid = RangeVarGetRelidExtended(stmt->relation, NoLock,
											 RVR_MISSING_OK, NULL, NULL);
			if (OidIsValid(relid) && stmt->kind == REINDEX_OBJECT_INDEX)
				relid = get_rel_relkind(relid) == RELKIND_INDEX ?
					IndexGetRelation(relid, true) : InvalidOid;
			mg_rule_concurrent_index_timeout(relid, true, analysis);
		}
		return;
	}

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
			if (OidIsValid(relid) && mg_reindex_rebuilds_something(relid))
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
					if (!mg_reindex_rebuilds_something(lfirst_oid(lc)))
						continue;
					mg_add_finding(analysis, MG_RULE_BLOCKING_INDEX_BUILD,
								   lfirst_oid(lc), false, NIL, ShareLock,
								   pstrdup(reason), pstrdup(hint));
				}
			}
			break;
	}
}

/*
 * The lock CREATE INDEX takes first: SHARE on the table, by the owner.
 * CONCURRENTLY blocks no writes.
 */
void
mg_locks_create_index(IndexStmt *stmt, MGLockTargets *targets)
{
	if (!stmt->concurrent)
		mg_add_lock_target(targets, stmt->relation, ShareLock,
						   true, ACL_NO_RIGHTS);
}

/*
 * The locks REINDEX TABLE or INDEX takes first: SHARE on the table, by the
 * owner; for an index, its table SHARE and then the index ACCESS EXCLUSIVE,
 * as PostgreSQL's RangeVar callback does.  CONCURRENTLY blocks no writes;
 * a partitioned table or index, and REINDEX SCHEMA, DATABASE and SYSTEM,
 * run one transaction per relation and are left alone.
 */
void
mg_locks_reindex(ReindexStmt *stmt, MGLockTargets *targets)
{
	Oid			relid;
	char		relkind;

	if (mg_option_is_set(stmt->params, "concurrently") ||
		(stmt->kind != REINDEX_OBJECT_TABLE && stmt->kind != REINDEX_OBJECT_INDEX))
		return;
	/* Partitioned: one transaction per partition; left alone. */
	relid = RangeVarGetRelidExtended(stmt->relation, NoLock,
									 RVR_MISSING_OK, NULL, NULL);
	relkind = get_rel_relkind(relid);
	if (relkind == RELKIND_PARTITIONED_TABLE || relkind == RELKIND_PARTITIONED_INDEX)
		return;
	mg_add_lock_target(targets, stmt->relation, ShareLock, true, ACL_NO_RIGHTS);
	targets->index_heap_mode = ShareLock;
	targets->index_mode = AccessExclusiveLock;
}
