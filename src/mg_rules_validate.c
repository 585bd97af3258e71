/*-------------------------------------------------------------------------
 *
 * mg_rules_validate.c
 *		Rule for ALTER TABLE ... VALIDATE CONSTRAINT.
 *
 * VALIDATE CONSTRAINT is the second half of the safe recipe: it checks
 * every row under SHARE UPDATE EXCLUSIVE, which blocks no writes.  It only
 * stays safe when nothing stronger is held while it scans:
 *
 * - Another subcommand of the same ALTER TABLE raises the statement's lock
 *   (AlterTableGetLockLevel() takes the strongest over all subcommands):
 *   the scan then runs under that lock, rule validation_scan.
 * - The transaction already holds a write-blocking lock on an existing
 *   relation (the NOT VALID constraint was added, or LOCK TABLE was run,
 *   earlier in the same transaction, as mg_lock_hold.c tracks): the scan
 *   runs while that lock is held, rule held_lock_work.
 *
 * A constraint that is already valid is not checked again by PostgreSQL,
 * and one that does not exist is PostgreSQL's error to report; except in
 * migration_guard.check() following a script's transaction, where it was
 * most likely added NOT VALID earlier in the script, which ran nothing.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_rules_validate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_constraint.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "migration_guard.h"

/*
 * Is the named constraint of rel one that VALIDATE CONSTRAINT would check?
 */
static bool
mg_constraint_needs_validation(Relation rel, const char *conname)
{
	Oid			conoid;
	HeapTuple	tup;
	bool		needs = false;

	if (conname == NULL)
		return false;
	conoid = get_relation_constraint_oid(RelationGetRelid(rel), conname, true);
	if (!OidIsValid(conoid))
		return mg_lock_hold_simulated();
	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
	if (!HeapTupleIsValid(tup))
		return false;
	needs = !((Form_pg_constraint) GETSTRUCT(tup))->convalidated;
	ReleaseSysCache(tup);
	return needs;
}

/*
 * ALTER TABLE ... VALIDATE CONSTRAINT conname, in a statement whose lock is
 * lockmode.
 */
void
mg_rule_validate_constraint(Relation rel, const char *conname, LOCKMODE lockmode,
							bool recurse, MGAnalysis *analysis)
{
	if (!mg_constraint_needs_validation(rel, conname))
		return;

	if (lockmode >= ShareLock)
	{
		mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, RelationGetRelid(rel),
					   recurse, NIL, lockmode,
					   psprintf("VALIDATE CONSTRAINT checks every row of the table, here under the lock of another subcommand of the same statement."),
					   pstrdup("Run VALIDATE CONSTRAINT as a statement and transaction of its own: it then takes only SHARE UPDATE EXCLUSIVE lock, which does not block writes."));
		return;
	}

	(void) mg_add_held_lock_finding(analysis, RelationGetRelid(rel), recurse,
									"VALIDATE CONSTRAINT checks every row of the table.",
									pstrdup("Commit the transaction that took the lock first, then run VALIDATE CONSTRAINT in a transaction of its own: it then takes only SHARE UPDATE EXCLUSIVE lock, which does not block writes."));
}
