/*-------------------------------------------------------------------------
 *
 * mg_check_rows.c
 *		The result rows of migration_guard.check(): queued while a
 *		statement is analysed, put into the result after it.
 *
 * Both mg_check.c (the script and its statements) and mg_check_catalog.c
 * (what PostgreSQL would reject) emit rows; this file calls neither, so
 * that they do not import each other.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_check_rows.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "migration_guard.h"
#include "mg_check.h"
#include "mg_compat.h"

#define MG_CHECK_COLUMNS 11

/* One output row, held until its statement's subtransaction is over */
typedef struct MGCheckRow
{
	Datum		values[MG_CHECK_COLUMNS];
	bool		nulls[MG_CHECK_COLUMNS];
} MGCheckRow;

/*
 * Queue one row, in the statement's memory context.  Rows are put into the
 * tuplestore only after the statement's subtransaction: a tuplestore that
 * spills to disk while a subtransaction is current would tie its file to
 * that subtransaction.
 */
void
mg_check_row(MGCheckState *st, const char *rule, const char *verdict,
			 const char *relation, const MGRelSize *size, LOCKMODE lockmode,
			 const char *message, const char *hint)
{
	MemoryContext old = MemoryContextSwitchTo(st->stmt_cxt);
	MGCheckRow *row = palloc(sizeof(MGCheckRow));
	Datum	   *values = row->values;
	bool	   *nulls = row->nulls;

	memset(nulls, 0, sizeof(row->nulls));
	values[0] = Int32GetDatum(st->stmt_no);
	values[1] = Int32GetDatum(st->line);
	values[2] = CStringGetTextDatum(st->text);
	if (rule)
		values[3] = CStringGetTextDatum(rule);
	else
		nulls[3] = true;
	values[4] = CStringGetTextDatum(verdict);
	if (relation)
		values[5] = CStringGetTextDatum(relation);
	else
		nulls[5] = true;
	if (size)
	{
		values[6] = Float8GetDatum(size->rows);
		values[7] = Int64GetDatum(size->bytes);
	}
	else
		nulls[6] = nulls[7] = true;
	if (lockmode != NoLock)
		values[8] = CStringGetTextDatum(mg_lockmode_name(lockmode));
	else
		nulls[8] = true;
	if (message)
		values[9] = CStringGetTextDatum(message);
	else
		nulls[9] = true;
	if (hint)
		values[10] = CStringGetTextDatum(hint);
	else
		nulls[10] = true;
	st->pending = lappend(st->pending, row);
	MemoryContextSwitchTo(old);
}

/*
 * Put the queued rows into the result, then free everything the statement
 * allocated.
 */
void
mg_check_flush(MGCheckState *st)
{
	ListCell   *lc;

	foreach(lc, st->pending)
	{
		MGCheckRow *row = (MGCheckRow *) lfirst(lc);

		tuplestore_putvalues(st->rsinfo->setResult, st->rsinfo->setDesc,
							 row->values, row->nulls);
	}
	st->pending = NIL;
	st->text = NULL;
	MemoryContextReset(st->stmt_cxt);
}
