/*-------------------------------------------------------------------------
 *
 * mg_check_xact.c
 *		migration_guard.check(): the script's own transaction structure, for
 *		rules held_lock_work and backfill.
 *
 * The hook judges work under a lock that an earlier statement of the same
 * transaction took, and the rows that the transaction's DML statements
 * modify in total.  check() runs nothing, so it follows the script instead:
 * BEGIN (or START TRANSACTION) opens a transaction block, COMMIT, END,
 * ROLLBACK, ABORT and PREPARE TRANSACTION close it; with single_transaction
 * the whole script is one transaction, as frameworks that wrap a migration
 * run it.  Outside a block every statement is its own transaction.
 *
 * Inside a transaction, the first utility statement that would take a
 * SHARE or stronger lock on an existing, non-temporary relation (its lock
 * targets, from the same analysis as the hook's: a table the script
 * created does not exist yet and has none) is remembered, and every later
 * statement of the transaction is analysed as if that lock were held
 * (mg_lock_hold_simulate), so VALIDATE CONSTRAINT and COPY TO get the
 * hook's verdict.  ROLLBACK TO
 * SAVEPOINT keeps it: which locks the savepoint released is not known
 * without running the script, and keeping errs on the side of a warning.
 *
 * DML is estimated without the planner, which check() must not run (it
 * folds constants, evaluating functions): UPDATE, DELETE and MERGE by the
 * target's size as measured now, exact without WHERE and an upper bound
 * with one; INSERT ... VALUES by its rows.  An upper bound never rejects:
 * its verdict is at most "warn".  INSERT ... SELECT and SELECT are not
 * estimated.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_check_xact.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "tcop/utility.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "migration_guard.h"
#include "mg_check.h"
#include "mg_compat.h"

/* Forget the transaction's lock and rows: it ended. */
static void
mg_check_xact_end(MGCheckState *st)
{
	st->held_relid = InvalidOid;
	st->held_mode = NoLock;
	st->held_relname = NULL;
	st->held_stmt = NULL;
	st->xact_rows = 0;
	st->in_xact = st->single_transaction;
}

/*
 * Follow transaction control statements.  Called for every utility
 * statement before it is analysed.
 */
void
mg_check_xact_statement(MGCheckState *st, Node *stmt)
{
	TransactionStmt *ts;

	if (!IsA(stmt, TransactionStmt))
		return;
	ts = (TransactionStmt *) stmt;
	switch (ts->kind)
	{
		case TRANS_STMT_BEGIN:
		case TRANS_STMT_START:
			st->in_xact = true;
			break;
		case TRANS_STMT_COMMIT:
		case TRANS_STMT_ROLLBACK:
		case TRANS_STMT_PREPARE:
			mg_check_xact_end(st);
			break;
		default:
			/* SAVEPOINT, RELEASE, ROLLBACK TO: see the file header */
			break;
	}
}

/*
 * Before a statement is analysed: the lock its transaction would hold, if
 * any, is seen as held by the rules.
 */
void
mg_check_xact_simulate(MGCheckState *st)
{
	mg_lock_hold_simulate(st->held_relid, st->held_mode, st->held_relname,
						  st->held_stmt);
}

/*
 * After a utility statement was analysed: in a transaction, remember the
 * first write-blocking lock it would take on an existing relation.
 */
void
mg_check_xact_note_locks(MGCheckState *st, Node *stmt)
{
	MGAnalysis	analysis;
	const MGLockTargets *targets = &analysis.locks;
	int			i;

	mg_lock_hold_simulate(InvalidOid, NoLock, NULL, NULL);
	if (!st->in_xact || OidIsValid(st->held_relid))
		return;
	mg_analysis_init(&analysis, NULL, NULL, NULL);
	if (!mg_analyze_locks(stmt, &analysis))
		return;
	for (i = 0; i < targets->n; i++)
	{
		Oid			relid = targets->relid[i];

		if (targets->mode[i] < ShareLock || !OidIsValid(relid) ||
			get_rel_persistence(relid) == RELPERSISTENCE_TEMP)
			continue;
		st->held_relid = relid;
		st->held_mode = targets->mode[i];
		st->held_relname = MemoryContextStrdup(st->cxt, mg_relation_name(relid));
		st->held_stmt = MemoryContextStrdup(st->cxt, st->text);
		return;
	}
}

/*
 * The target of a DML statement and how many rows it would modify, without
 * planning; false if not estimated.
 */
static bool
mg_check_dml_estimate(Node *stmt, Oid *relid, bool *recurse, double *rows,
					  bool *exact, MGRelSize *size)
{
	RangeVar   *rv = NULL;
	Node	   *where = NULL;
	double		values = -1;

	switch (nodeTag(stmt))
	{
		case T_UpdateStmt:
			rv = ((UpdateStmt *) stmt)->relation;
			where = ((UpdateStmt *) stmt)->whereClause;
			break;
		case T_DeleteStmt:
			rv = ((DeleteStmt *) stmt)->relation;
			where = ((DeleteStmt *) stmt)->whereClause;
			break;
#if MG_PG15_GTE
		case T_MergeStmt:
			rv = ((MergeStmt *) stmt)->relation;
			where = (Node *) rv;	/* the join decides: an upper bound */
			break;
#endif
		case T_InsertStmt:
			{
				InsertStmt *is = (InsertStmt *) stmt;
				SelectStmt *sel = (SelectStmt *) is->selectStmt;

				if (sel == NULL || !IsA(sel, SelectStmt) || sel->valuesLists == NIL)
					return false;
				rv = is->relation;
				values = list_length(sel->valuesLists);
				break;
			}
		default:
			return false;
	}
	*relid = mg_lookup_relation(rv);
	if (!OidIsValid(*relid) || get_rel_persistence(*relid) == RELPERSISTENCE_TEMP)
		return false;
	*recurse = rv->inh;
	mg_measure(*relid, *recurse, size);
	if (size->nrels == 0)
		return false;
	*rows = values >= 0 ? values : size->rows;
	*exact = values >= 0 || where == NULL;
	return true;
}

/* One row for a DML verdict */
static void
mg_check_dml_row(MGCheckState *st, const MGDecision *d, bool exact,
				 const MGRelSize *size, LOCKMODE lockmode, const char *message,
				 const char *hint)
{
	bool		reject = d->action == MG_VERDICT_REJECTED && exact;
	MGFinding	f;

	memset(&f, 0, sizeof(f));
	f.rule = d->rule;
	f.hint = (char *) hint;
	mg_check_row(st, mg_rule_name(d->rule),
				 reject ? "reject" : d->action == MG_VERDICT_ALLOWED ? "ok" : "warn",
				 d->relation, size, lockmode, message, mg_finding_hint(&f, reject));
}

/*
 * A DML statement of the script: rules held_lock_work and backfill as the
 * hook would apply them.  Returns false (no rows emitted) when neither
 * applies.
 */
bool
mg_check_dml(MGCheckState *st, Node *stmt)
{
	Oid			relid;
	bool		recurse;
	double		rows;
	bool		exact;
	MGRelSize	size;
	MGDecision	d;
	bool		any = false;
	const char *command = GetCommandTagName(CreateCommandTag(stmt));
	const char *upto;

	if (!OidIsValid(st->held_relid) && mg_backfill_row_limit <= 0)
		return false;
	if (!mg_check_dml_estimate(stmt, &relid, &recurse, &rows, &exact, &size))
		return false;
	upto = exact ? "about" : "up to";

	memset(&d, 0, sizeof(d));
	d.relation = mg_relation_name(relid);
	if (OidIsValid(st->held_relid) && mg_held_lock_verdict(rows, &d))
	{
		mg_check_dml_row(st, &d, exact, &size, st->held_mode,
						 psprintf("%s would modify %s %.0f rows of table \"%s\" while the transaction holds %s lock on \"%s\", taken by \"%s\"",
								  command, upto, rows, d.relation,
								  mg_lockmode_name(st->held_mode), st->held_relname,
								  st->held_stmt),
						 "Commit the schema change first, then modify the rows in batches of a few thousand by key range, each batch in its own transaction.");
		any = true;
	}

	memset(&d, 0, sizeof(d));
	d.relation = mg_relation_name(relid);
	if (mg_backfill_verdict((st->in_xact ? st->xact_rows : 0) + rows, &d))
	{
		mg_check_dml_row(st, &d, exact, &size, RowExclusiveLock,
						 psprintf("%s would bring the rows modified by this transaction to %s %.0f, above \"migration_guard.backfill_row_limit\" (%d)",
								  command, upto,
								  (st->in_xact ? st->xact_rows : 0) + rows,
								  mg_backfill_row_limit),
						 "Modify the rows in batches of a few thousand by key range, each batch in its own transaction: a loop in the client, or a procedure that runs COMMIT after each batch.");
		any = true;
	}
	if (st->in_xact)
		st->xact_rows += rows;
	return any;
}
