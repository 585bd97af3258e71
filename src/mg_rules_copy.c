/*-------------------------------------------------------------------------
 *
 * mg_rules_copy.c
 *		Rule held_lock_work for COPY table TO.
 *
 * COPY table TO reads every row of the table under ACCESS SHARE, harmless
 * by itself; but while the transaction holds a write-blocking lock taken
 * earlier (ALTER TABLE, LOCK TABLE), the whole copy runs under that lock.
 * COPY (query) TO runs its query through the executor, and is judged there
 * (mg_executor.c) like any SELECT; so is COPY table TO on a table with row
 * security, which PostgreSQL turns into a query.
 *
 * COPY FROM is not judged: how many rows it will load is not known before
 * it reads them.  The lock-hold budget bounds it.
 *
 * PostgreSQL checks the server-file privileges and then SELECT on the table
 * or the listed columns before copying; a statement it would refuse is left
 * to it, so that its own error comes first.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_rules_copy.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"

#include "migration_guard.h"
#include "mg_compat.h"

/*
 * May the current role run this COPY TO?  The same checks as DoCopy(), in
 * its order.
 */
static bool
mg_copy_to_permitted(const CopyStmt *stmt, Oid relid)
{
	Oid			roleid = GetUserId();
	ListCell   *lc;

	if (stmt->filename != NULL &&
		!has_privs_of_role(roleid, stmt->is_program ?
						   ROLE_PG_EXECUTE_SERVER_PROGRAM :
						   ROLE_PG_WRITE_SERVER_FILES))
		return false;
	if (stmt->attlist == NIL)
		return pg_class_aclcheck(relid, roleid, ACL_SELECT) == ACLCHECK_OK ||
			pg_attribute_aclcheck_all(relid, roleid, ACL_SELECT,
									  ACLMASK_ALL) == ACLCHECK_OK;
	if (pg_class_aclcheck(relid, roleid, ACL_SELECT) == ACLCHECK_OK)
		return true;
	foreach(lc, stmt->attlist)
	{
		AttrNumber	attnum = get_attnum(relid, strVal(lfirst(lc)));

		if (attnum == InvalidAttrNumber ||
			pg_attribute_aclcheck(relid, attnum, roleid, ACL_SELECT) != ACLCHECK_OK)
			return false;
	}
	return true;
}

void
mg_rules_copy(CopyStmt *stmt, MGAnalysis *analysis)
{
	Oid			held_relid;
	LOCKMODE	held_mode;
	const char *held_relname;
	const char *held_stmt;
	Oid			relid;

	if (stmt->is_from || stmt->relation == NULL)
		return;
	if (!mg_lock_hold_current(&held_relid, &held_mode, &held_relname, &held_stmt))
		return;
	relid = mg_lookup_relation(stmt->relation);
	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION)
		return;					/* PostgreSQL's error, or another path */
	if (!mg_copy_to_permitted(stmt, relid) ||
		check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
		return;

	mg_add_finding(analysis, MG_RULE_HELD_LOCK_WORK, relid, false, NIL, held_mode,
				   psprintf("COPY ... TO reads every row of the table.  The transaction already holds %s lock on \"%s\", taken by \"%s\", until it ends.",
							mg_lockmode_name(held_mode), held_relname, held_stmt),
				   pstrdup("Commit the transaction that took the lock first, then run COPY in a transaction of its own."));
}
