/*-------------------------------------------------------------------------
 *
 * mg_relation.c
 *		Helpers of the rules: record a finding or a lock target, open and
 *		close a relation for analysis, look a relation name up without
 *		raising, read a statement's options.
 *
 * A low level: these functions call no other file of the extension but
 * mg_size.c's mg_relation_name(), so that mg_analyze.c, the rules files
 * and mg_permission.c can all use them without importing each other.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_relation.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_inherits.h"

#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
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
	f->database = InvalidOid;
	f->recurse = recurse;
	f->relids = relids;
	f->lockmode = lockmode;
	f->reason = reason;
	f->hint = hint;
	analysis->findings = lappend(analysis->findings, f);
}

/*
 * Record a finding on a whole database: the work copies its files.
 */
void
mg_add_database_finding(MGAnalysis *analysis, MGRule rule, Oid dboid,
						char *reason, char *hint)
{
	MGFinding  *f;

	if (!OidIsValid(dboid))
		return;
	f = palloc0(sizeof(MGFinding));
	f->rule = rule;
	f->relid = InvalidOid;
	f->database = dboid;
	f->lockmode = AccessExclusiveLock;
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
 * The relation a RangeVar names, or InvalidOid.  Unlike
 * RangeVarGetRelidExtended(..., RVR_MISSING_OK, ...), which still raises
 * for a cross-database reference or a schema without USAGE, this never
 * raises: where PostgreSQL would, the statement is left to PostgreSQL,
 * which then reports its own error.
 */
Oid
mg_lookup_relation(const RangeVar *rv)
{
	Oid			nspid;

	if (rv == NULL || rv->relname == NULL)
		return InvalidOid;
	if (rv->catalogname != NULL &&
		strcmp(rv->catalogname, get_database_name(MyDatabaseId)) != 0)
		return InvalidOid;
	if (rv->schemaname == NULL)
		return RelnameGetRelid(rv->relname);
	if (strcmp(rv->schemaname, "pg_temp") == 0)
		nspid = LookupExplicitNamespace(rv->schemaname, true);	/* no ACL check */
	else
	{
		nspid = get_namespace_oid(rv->schemaname, true);
		if (OidIsValid(nspid) &&
			mg_namespace_usage_aclcheck(nspid, GetUserId()) != ACLCHECK_OK)
			return InvalidOid;
	}
	if (!OidIsValid(nspid))
		return InvalidOid;
	return get_relname_relid(rv->relname, nspid);
}

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
 * Add (relid, mode) to a statement's lock targets, with the relation's name
 * for the blocker report: schema-qualified from the catalog caches (no lock
 * is taken), or as the statement spells it if that lookup finds nothing.
 * owner_may and privilege say what lets the role lock it in PostgreSQL's
 * own check (see MGLockTargets).  Returns false if nothing was added (no
 * such relation, a mode that does not block writes, no room).
 */
bool
mg_add_lock_target(MGLockTargets *targets, RangeVar *rv, LOCKMODE mode,
				   bool owner_may, AclMode privilege)
{
	Oid			relid;
	char	   *relname;

	if (rv == NULL || mode < ShareLock)
		return false;
	relid = RangeVarGetRelidExtended(rv, NoLock, RVR_MISSING_OK, NULL, NULL);
	if (!OidIsValid(relid) || targets->n >= MG_MAX_LOCK_TARGETS)
		return false;
	if (get_rel_name(relid) != NULL)
		relname = mg_relation_name(relid);
	else if (rv->schemaname != NULL)
		relname = psprintf("%s.%s", rv->schemaname, rv->relname);
	else
		relname = pstrdup(rv->relname);
	targets->relid[targets->n] = relid;
	targets->mode[targets->n] = mode;
	targets->relname[targets->n] = relname;
	targets->owner_may[targets->n] = owner_may;
	targets->privilege[targets->n] = privilege;
	targets->n++;
	return true;
}

/*
 * The relation kinds that a statement on objects of this type accepts, for
 * MGLockTargets.relkinds: NULL for any (ALTER TABLE also serves other
 * relations), "" for none.
 */
const char *
mg_object_type_relkinds(ObjectType objtype)
{
	static const char index_kinds[] = {RELKIND_INDEX, RELKIND_PARTITIONED_INDEX, '\0'};
	static const char view_kinds[] = {RELKIND_VIEW, '\0'};
	static const char matview_kinds[] = {RELKIND_MATVIEW, '\0'};
	static const char sequence_kinds[] = {RELKIND_SEQUENCE, '\0'};
	static const char foreign_kinds[] = {RELKIND_FOREIGN_TABLE, '\0'};

	switch (objtype)
	{
		case OBJECT_TABLE:
			return NULL;
		case OBJECT_INDEX:
			return index_kinds;
		case OBJECT_VIEW:
			return view_kinds;
		case OBJECT_MATVIEW:
			return matview_kinds;
		case OBJECT_SEQUENCE:
			return sequence_kinds;
		case OBJECT_FOREIGN_TABLE:
			return foreign_kinds;
		default:
			return "";
	}
}
