/*-------------------------------------------------------------------------
 *
 * mg_rules_maintenance.c
 *		Rules for statements that rewrite whole tables by design: VACUUM
 *		FULL, CLUSTER, REFRESH MATERIALIZED VIEW, and ALTER TABLE ALL IN
 *		TABLESPACE ... SET TABLESPACE.
 *
 * All of them hold ACCESS EXCLUSIVE while they copy the table.  None of the
 * first three fires the table_rewrite event trigger; the rewrite detector in
 * mg_utility.c sees them all the same.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_rules_maintenance.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/heapam.h"
#include "access/tableam.h"
#include "catalog/catalog.h"
#include "catalog/dependency.h"
#include "access/genam.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_database.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_rewrite.h"
#include "catalog/pg_tablespace.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/tablespace.h"
#include "commands/user.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "migration_guard.h"
#include "mg_compat.h"

#define MG_VACUUM_FULL_HINT \
	"Use plain VACUUM, which does not block reads or writes; to shrink a bloated table online, use a tool that rebuilds it without a long lock, such as pg_repack or pg_squeeze."

/*
 * Tables and materialized views of this database (of one schema if nspoid
 * is valid; only system catalogs if catalogs_only), skipping temporary and
 * TOAST tables.  A sequential scan of pg_class: these are statements that
 * walk the whole database anyway.
 */
List *
mg_list_relations(Oid nspoid, bool catalogs_only)
{
	Relation	classrel;
	TableScanDesc scan;
	HeapTuple	tup;
	List	   *result = NIL;

	classrel = table_open(RelationRelationId, AccessShareLock);
	scan = table_beginscan_catalog(classrel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_class cls = (Form_pg_class) GETSTRUCT(tup);

		if (cls->relkind != RELKIND_RELATION && cls->relkind != RELKIND_MATVIEW)
			continue;
		if (cls->relpersistence == RELPERSISTENCE_TEMP ||
			IsToastNamespace(cls->relnamespace))
			continue;
		if (OidIsValid(nspoid) && cls->relnamespace != nspoid)
			continue;
		if (catalogs_only && !IsCatalogNamespace(cls->relnamespace))
			continue;
		result = lappend_oid(result, cls->oid);
	}
	table_endscan(scan);
	table_close(classrel, AccessShareLock);

	/* Judge in OID order, so the first rejection is the same every time. */
	list_sort(result, list_oid_cmp);
	return result;
}

/*
 * The relations a VACUUM FULL, CLUSTER or REPACK of relid copies for the
 * current role: a partitioned table stands for its partitions, less those
 * the role may not process, which PostgreSQL skips (vacuum_rel(),
 * get_tables_to_cluster_partitioned()); an inheritance parent only for
 * itself.  NIL means relid alone.
 */
static List *
mg_copied_partitions(Oid relid)
{
	if (get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE)
		return NIL;
	return mg_maintainable_relations(find_all_inheritors(relid, NoLock, NULL),
									 MG_MAINTAIN_VACUUM);
}

/*
 * A full copy of one table (VACUUM FULL, CLUSTER, REPACK), unless a
 * partitioned table has no partition the role may process.
 */
static void
mg_add_copy_finding(MGAnalysis *analysis, Oid relid, char *reason, char *hint)
{
	List	   *parts = mg_copied_partitions(relid);

	if (parts == NIL && get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE)
		return;
	mg_add_finding(analysis, MG_RULE_TABLE_REWRITE, relid, false, parts,
				   AccessExclusiveLock, reason, hint);
}

/*
 * VACUUM FULL.  Without a table list it processes every table.  Either way
 * a table the role may not vacuum is skipped, by PostgreSQL with a WARNING.
 */
void
mg_rules_vacuum(VacuumStmt *stmt, MGAnalysis *analysis)
{
	List	   *relids = NIL;
	ListCell   *lc;

	if (!stmt->is_vacuumcmd || !mg_option_is_set(stmt->options, "full"))
		return;

	if (stmt->rels == NIL)
		relids = mg_list_relations(InvalidOid, false);
	foreach(lc, stmt->rels)
	{
		VacuumRelation *vrel = lfirst_node(VacuumRelation, lc);
		Oid			relid = vrel->oid;

		if (!OidIsValid(relid) && vrel->relation != NULL)
			relid = RangeVarGetRelidExtended(vrel->relation, NoLock,
											 RVR_MISSING_OK, NULL, NULL);
		if (OidIsValid(relid))
			relids = lappend_oid(relids, relid);
	}

	foreach(lc, mg_maintainable_relations(relids, MG_MAINTAIN_VACUUM))
		mg_add_copy_finding(analysis, lfirst_oid(lc),
							pstrdup("VACUUM FULL writes a new copy of the table and rebuilds its indexes."),
							pstrdup(MG_VACUUM_FULL_HINT));
}

/*
 * Tables with a clustered index: what CLUSTER without a table reclusters.
 */
static List *
mg_clustered_relations(void)
{
	Relation	indexrel;
	TableScanDesc scan;
	HeapTuple	tup;
	List	   *relids = NIL;

	/* One pass over pg_index, as get_tables_to_cluster() does. */
	indexrel = table_open(IndexRelationId, AccessShareLock);
	scan = table_beginscan_catalog(indexrel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_index idx = (Form_pg_index) GETSTRUCT(tup);

		if (idx->indisclustered)
			relids = list_append_unique_oid(relids, idx->indrelid);
	}
	table_endscan(scan);
	table_close(indexrel, AccessShareLock);
	list_sort(relids, list_oid_cmp);
	return relids;
}

/*
 * CLUSTER, and from 19 REPACK: a full copy of each table.  Without a table,
 * CLUSTER reclusters every table previously clustered and REPACK every
 * table.
 */
static void
mg_rules_copy_tables(RangeVar *relation, bool clustered_only,
					 MGAnalysis *analysis)
{
	List	   *relids = NIL;
	ListCell   *lc;

	if (relation != NULL)
	{
		Oid			relid = RangeVarGetRelidExtended(relation, NoLock,
													 RVR_MISSING_OK, NULL, NULL);

		if (OidIsValid(relid))
			relids = list_make1_oid(relid);
	}
	else if (clustered_only)
		relids = mg_clustered_relations();
	else
		relids = mg_list_relations(InvalidOid, false);

	/* Without a table, PostgreSQL skips those the role may not maintain. */
	if (relation == NULL)
		relids = mg_maintainable_relations(relids, MG_MAINTAIN_TABLE);

	foreach(lc, relids)
		mg_add_copy_finding(analysis, lfirst_oid(lc),
					   psprintf("%s writes a new copy of the table and rebuilds its indexes.",
								analysis->command),
					   pstrdup(MG_HAVE_REPACK ?
							   "Use REPACK (CONCURRENTLY), which lets reads and writes go on; plain VACUUM and ANALYZE do not block writes either." :
							   "Keep the table's order with a periodic online rebuild (pg_repack --order-by) instead of CLUSTER; plain VACUUM and ANALYZE do not block writes."));
}

#if MG_HAVE_REPACK
void
mg_rules_repack(RepackStmt *stmt, MGAnalysis *analysis)
{
	if (mg_option_is_set(stmt->params, "concurrently"))
		return;
	mg_rules_copy_tables(stmt->relation ? stmt->relation->relation : NULL,
						 stmt->command == REPACK_COMMAND_CLUSTER, analysis);
}
#else
void
mg_rules_cluster(ClusterStmt *stmt, MGAnalysis *analysis)
{
	mg_rules_copy_tables(stmt->relation, true, analysis);
}
#endif

/*
 * Add to *relids the relations that the query of view or materialized view
 * viewoid reads: those its "_RETURN" rule depends on in pg_depend (which
 * records every relation of the rule's range table), through views
 * recursively, with the partitions and inheritance children of each table.
 * Only the catalog is read; nothing is evaluated.  A function that reads
 * tables is invisible here, so the size can only be too small for it.
 */
static void
mg_add_query_relations(Oid viewoid, List **relids, List **seen)
{
	HeapTuple	tp;
	Oid			ruleoid;
	Relation	depRel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *refs = NIL;
	ListCell   *lc;

	check_stack_depth();
	if (list_member_oid(*seen, viewoid))
		return;
	*seen = lappend_oid(*seen, viewoid);

	tp = SearchSysCache2(RULERELNAME, ObjectIdGetDatum(viewoid),
						 CStringGetDatum("_RETURN"));
	if (!HeapTupleIsValid(tp))
		return;
	ruleoid = ((Form_pg_rewrite) GETSTRUCT(tp))->oid;
	ReleaseSysCache(tp);

	depRel = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_depend_classid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(RewriteRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_objid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(ruleoid));
	scan = systable_beginscan(depRel, DependDependerIndexId, true, NULL, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tup);

		if (dep->refclassid == RelationRelationId && dep->refobjid != viewoid &&
			dep->deptype == DEPENDENCY_NORMAL)
			refs = list_append_unique_oid(refs, dep->refobjid);
	}
	systable_endscan(scan);
	table_close(depRel, AccessShareLock);

	foreach(lc, refs)
	{
		Oid			refoid = lfirst_oid(lc);

		switch (get_rel_relkind(refoid))
		{
			case RELKIND_VIEW:
				mg_add_query_relations(refoid, relids, seen);
				break;
			case RELKIND_RELATION:
			case RELKIND_PARTITIONED_TABLE:
			case RELKIND_MATVIEW:
			case RELKIND_FOREIGN_TABLE:
				*relids = list_concat_unique_oid(*relids,
												 find_all_inheritors(refoid, NoLock, NULL));
				break;
			default:
				break;			/* a sequence, a composite type's relation */
		}
	}
}

/*
 * Is the materialized view populated (pg_class.relispopulated)?  A WITH NO
 * DATA one is empty, and REFRESH fills it from its query just the same.
 */
static bool
mg_matview_is_populated(Oid relid)
{
	HeapTuple	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	bool		populated = true;

	if (HeapTupleIsValid(tp))
	{
		populated = ((Form_pg_class) GETSTRUCT(tp))->relispopulated;
		ReleaseSysCache(tp);
	}
	return populated;
}

/*
 * REFRESH MATERIALIZED VIEW without CONCURRENTLY.  WITH NO DATA only
 * empties it, which is quick.  Otherwise the materialized view stays under
 * ACCESS EXCLUSIVE while its defining query runs (refresh_by_heap_swap()
 * after the query): how long that takes depends above all on the relations
 * the query reads, so those are measured, with the materialized view itself
 * for the writing of the new copy (and so that the rewrite detector in
 * mg_utility.c knows it was judged).  A small result of a big query is as
 * dangerous as a big one.
 */
void
mg_rules_refresh_matview(RefreshMatViewStmt *stmt, MGAnalysis *analysis)
{
	Oid			relid;
	List	   *relids = NIL;
	List	   *seen = NIL;

	if (stmt->concurrent || stmt->skipData)
		return;
	relid = RangeVarGetRelidExtended(stmt->relation, NoLock, RVR_MISSING_OK,
									 NULL, NULL);
	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_MATVIEW)
		return;					/* PostgreSQL reports it */
	relids = list_make1_oid(relid);
	mg_add_query_relations(relid, &relids, &seen);
	mg_add_finding(analysis, MG_RULE_TABLE_REWRITE, relid, false, relids,
				   AccessExclusiveLock,
				   pstrdup("REFRESH MATERIALIZED VIEW without CONCURRENTLY runs its defining query and writes the result into a new copy; the size given is that of the materialized view and of the relations its query reads."),
				   mg_matview_is_populated(relid) ?
				   pstrdup("Use REFRESH MATERIALIZED VIEW CONCURRENTLY, which lets queries read the old contents meanwhile; it needs a unique index on the materialized view.") :
				   pstrdup("A materialized view that is not populated cannot be refreshed CONCURRENTLY: drop it and create it again WITH DATA, which locks no existing relation against writes, before anything uses it."));
}

/*
 * ALTER TABLE | INDEX | MATERIALIZED VIEW ALL IN TABLESPACE ... SET
 * TABLESPACE: the relations of this database that would move (the same
 * filter as AlterTableMoveAll(), OWNED BY included).  PostgreSQL fails the
 * whole statement on a relation the role does not own, before it moves
 * anything: then there is nothing to judge.
 */
void
mg_rules_move_all(AlterTableMoveAllStmt *stmt, MGAnalysis *analysis)
{
	Oid			orig = get_tablespace_oid(stmt->orig_tablespacename, true);
	Oid			dest = get_tablespace_oid(stmt->new_tablespacename, true);
	Relation	classrel;
	TableScanDesc scan;
	HeapTuple	tup;
	List	   *relids = NIL;
	List	   *owners = NIL;
	bool		denied = false;
	ListCell   *lc;

	if (!OidIsValid(orig) || !OidIsValid(dest))
		return;
	if (stmt->roles != NIL)
		owners = roleSpecsToIds(stmt->roles);
	if (orig == MyDatabaseTableSpace)
		orig = InvalidOid;
	if (dest == MyDatabaseTableSpace)
		dest = InvalidOid;
	if (orig == dest)
		return;

	classrel = table_open(RelationRelationId, AccessShareLock);
	scan = table_beginscan_catalog(classrel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_class cls = (Form_pg_class) GETSTRUCT(tup);

		if (cls->reltablespace != orig ||
			IsCatalogNamespace(cls->relnamespace) || cls->relisshared ||
			isAnyTempNamespace(cls->relnamespace) ||
			IsToastNamespace(cls->relnamespace))
			continue;
		/*
		 * Partitioned tables and indexes have no blocks to copy; whether a
		 * major moves them too does not matter for the decision below, as
		 * only relations the role owns are then judged.
		 */
		if ((stmt->objtype == OBJECT_TABLE && cls->relkind != RELKIND_RELATION) ||
			(stmt->objtype == OBJECT_INDEX && cls->relkind != RELKIND_INDEX) ||
			(stmt->objtype == OBJECT_MATVIEW && cls->relkind != RELKIND_MATVIEW))
			continue;
		if (owners != NIL && !list_member_oid(owners, cls->relowner))
			continue;
		if (!mg_owns_relation(cls->oid))
			denied = true;
		relids = lappend_oid(relids, cls->oid);
	}
	table_endscan(scan);
	table_close(classrel, AccessShareLock);
	if (denied)
		return;					/* PostgreSQL raises "must be owner" */
	list_sort(relids, list_oid_cmp);

	foreach(lc, relids)
		mg_add_finding(analysis, MG_RULE_TABLE_REWRITE, lfirst_oid(lc), false,
					   NIL, AccessExclusiveLock,
					   pstrdup("Moving a relation to another tablespace copies every block of it."),
					   pstrdup("Move big tables in a maintenance window, or copy the data into a new table in the target tablespace online and swap the tables in one short transaction."));
}

/*
 * The lock REFRESH MATERIALIZED VIEW takes: ACCESS EXCLUSIVE, or EXCLUSIVE
 * when CONCURRENTLY, by the owner.
 */
void
mg_locks_refresh_matview(RefreshMatViewStmt *stmt, MGLockTargets *targets)
{
	mg_add_lock_target(targets, stmt->relation,
					   stmt->concurrent ? ExclusiveLock : AccessExclusiveLock,
					   true, ACL_NO_RIGHTS);
}

/*
 * Is a client session (not an autovacuum worker, which movedb() would stop)
 * connected to the database?  Read from the backend status array, which
 * signals nobody, unlike CountOtherDBBackends().  Prepared transactions of
 * the database, which also make PostgreSQL refuse, are not seen.
 */
static bool
mg_database_has_sessions(Oid dboid)
{
	int			n;
	int			i;
	bool		found = false;

	mg_clear_backend_status_snapshot();
	n = pgstat_fetch_stat_numbackends();
	for (i = 1; i <= n && !found; i++)
	{
		LocalPgBackendStatus *local = mg_local_beentry_by_index(i);

		if (local != NULL &&
			local->backendStatus.st_databaseid == dboid &&
			local->backendStatus.st_backendType == B_BACKEND &&
			local->backendStatus.st_procpid != MyProcPid)
			found = true;
	}
	mg_clear_backend_status_snapshot();
	return found;
}

/*
 * ALTER DATABASE d SET TABLESPACE t: movedb() copies every file of d's
 * default tablespace directory to t, holding ACCESS EXCLUSIVE on the
 * database, so nobody can connect to d until the copy is done (PostgreSQL
 * requires that nobody is connected when it starts).  There is no online
 * form.  Judged only where PostgreSQL would go on to the copy (AlterDatabase()
 * and movedb(), in their order): the option alone, at top level, a database
 * other than the current one that the role owns, a tablespace it may create
 * in that is not pg_global and not already d's, and no client session in d
 * (mg_database_has_sessions()).
 */
void
mg_rules_alter_database(AlterDatabaseStmt *stmt, MGAnalysis *analysis)
{
	DefElem    *opt;
	const char *spcname;
	Oid			dboid;
	Oid			spcoid;
	Oid			cur;
	HeapTuple	tp;

	if (list_length(stmt->options) != 1)
		return;
	opt = linitial_node(DefElem, stmt->options);
	if (strcmp(opt->defname, "tablespace") != 0 || opt->arg == NULL ||
		!IsA(opt->arg, String))
		return;
	spcname = strVal(opt->arg);
	if (!mg_current_statement_is_top_level())
		return;					/* "cannot run inside a transaction block" */

	dboid = get_database_oid(stmt->dbname, true);
	if (!OidIsValid(dboid) || dboid == MyDatabaseId ||
		!mg_database_ownercheck(dboid, GetUserId()))
		return;
	spcoid = get_tablespace_oid(spcname, true);
	if (!OidIsValid(spcoid) || spcoid == GLOBALTABLESPACE_OID ||
		mg_tablespace_create_aclcheck(spcoid, GetUserId()) != ACLCHECK_OK)
		return;
	tp = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid));
	if (!HeapTupleIsValid(tp))
		return;
	cur = ((Form_pg_database) GETSTRUCT(tp))->dattablespace;
	ReleaseSysCache(tp);
	if (cur == spcoid || mg_database_has_sessions(dboid))
		return;

	mg_add_database_finding(analysis, MG_RULE_TABLE_REWRITE, dboid,
							psprintf("Moving database \"%s\" to tablespace \"%s\" copies every file of it, and nobody can connect to the database until the copy is done.",
									 stmt->dbname, spcname),
							pstrdup("There is no online way to move a whole database: run it in a maintenance window, or create a new database in the target tablespace and move the data into it with pg_dump and pg_restore or logical replication, then switch the applications over."));
}
