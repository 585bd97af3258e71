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
 * A COPY that PostgreSQL would refuse to the role (mg_permission.c) never
 * gets here, so its own error comes first.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_rules_copy.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"

#include "migration_guard.h"
#include "mg_compat.h"

void
mg_rules_copy(CopyStmt *stmt, MGAnalysis *analysis)
{
	Oid			relid;

	if (stmt->is_from || stmt->relation == NULL ||
		!mg_lock_hold_current(NULL, NULL, NULL, NULL))
		return;
	relid = mg_lookup_relation(stmt->relation);
	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION)
		return;					/* PostgreSQL's error, or another path */
	if (check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
		return;

	(void) mg_add_held_lock_finding(analysis, relid, false,
									"COPY ... TO reads every row of the table.",
									pstrdup("Commit the transaction that took the lock first, then run COPY in a transaction of its own."));
}
