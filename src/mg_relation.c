/*-------------------------------------------------------------------------
 *
 * mg_relation.c
 *		Helpers of the rules: record a finding, open and close a relation
 *		for analysis, look a relation name up without raising, read a
 *		statement's options.
 *
 * A low level: these functions call no other file of the extension, so
 * that mg_analyze.c, the rules files and mg_permission.c can all use them
 * without importing each other.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_relation.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/namespace.h"
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
			f->recurse |= recurse;
			if (f->relids == NIL || relids == NIL)
				f->relids = NIL;
			else
				f->relids = list_concat_unique_oid(f->relids, relids);
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
