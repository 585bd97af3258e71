/*-------------------------------------------------------------------------
 *
 * mg_exempt.c
 *		Relations that only a maintenance tool can see in use: work on them
 *		blocks nobody.
 *
 * pg_repack rebuilds a table online by copying it into a private table in
 * the schema of its extension (repack.table_<oid>), building the indexes
 * there, and swapping files at the end under a short ACCESS EXCLUSIVE lock.
 * The copy is big, and its index builds take SHARE on it, but no
 * application uses it: rejecting them stops the very tool the guard's
 * VACUUM FULL hint recommends.
 *
 * The exemption must not be a door for a migration role: it applies only
 * when the current role is a superuser (pg_repack requires one), the
 * relation lives in a schema that belongs to the installed pg_repack
 * extension (its script creates "repack"), and it is owned by a superuser.
 * A non-superuser can neither run as a superuser nor own such a relation,
 * whatever it is granted.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_exempt.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "migration_guard.h"
#include "mg_compat.h"

/*
 * Is relid a working copy of pg_repack's, used by a superuser?  Returns
 * the tool's name for the audit, or NULL.
 */
const char *
mg_tool_private_relation(Oid relid)
{
	HeapTuple	tp;
	Form_pg_class cls;
	Oid			extoid;
	bool		result = false;

	if (!superuser())
		return NULL;
	extoid = get_extension_oid("pg_repack", true);
	if (!OidIsValid(extoid))
		return NULL;

	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tp))
		return NULL;
	cls = (Form_pg_class) GETSTRUCT(tp);
	if (getExtensionOfObject(NamespaceRelationId, cls->relnamespace) == extoid &&
		superuser_arg(cls->relowner))
		result = true;
	ReleaseSysCache(tp);
	return result ? "pg_repack" : NULL;
}
