/*-------------------------------------------------------------------------
 *
 * mg_sql.c
 *		SQL-callable functions of migration_guard.
 *
 * Each function first checks that the library was preloaded: the guard's
 * hooks only exist in that case, and reporting sizes or settings from a
 * library that guards nothing would mislead.
 *
 * Input is strict: a NULL argument is an error rather than an empty answer
 * (the functions are CALLED ON NULL INPUT from version 1.1 so that they can
 * say so), and a bad value is an error that quotes at most 64 bytes of it.
 * None of them resolves a name: relations arrive as OIDs, so the caller's
 * search_path does not matter (and the SQL declarations pin it anyway).
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_sql.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "storage/lock.h"
#include "mb/pg_wchar.h"
#include "utils/lsyscache.h"

#include "migration_guard.h"
#include "mg_compat.h"

/*
 * Refuse to run when the guard is not active in every session.
 */
void
mg_require_preloaded(void)
{
	if (!mg_preloaded)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("migration_guard must be loaded via \"shared_preload_libraries\""),
				errdetail("Without it, no statement is guarded."),
				errhint("Add migration_guard to \"shared_preload_libraries\" and restart the server."));
}

/*
 * Error for a NULL argument.  Functions declared STRICT (1.0) are never
 * called with one, so this only fires under the 1.1 declarations.
 */
void
mg_require_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("argument \"%s\" must not be null", argname));
}

/*
 * migration_guard.preloaded(): is the guard active?  Never errors, so the
 * install script can warn instead of failing (a dump restored on a server
 * without the preload must still restore).
 */
PG_FUNCTION_INFO_V1(migration_guard_preloaded);
Datum
migration_guard_preloaded(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(mg_preloaded);
}

/*
 * migration_guard.estimate(rel regclass, recurse boolean)
 *		RETURNS TABLE (rows float8, bytes int8, relations int, big boolean)
 *
 * What the guard believes about a relation, measured exactly as the hook
 * measures it: lets a DBA see why a statement was or was not guarded.
 */
PG_FUNCTION_INFO_V1(migration_guard_estimate);
Datum
migration_guard_estimate(PG_FUNCTION_ARGS)
{
	Oid			relid;
	bool		recurse;
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	MGRelSize	size;

	mg_require_preloaded();
	mg_require_arg(fcinfo, 0, "rel");
	mg_require_arg(fcinfo, 1, "recurse");
	relid = PG_GETARG_OID(0);
	recurse = PG_GETARG_BOOL(1);
	if (get_rel_name(relid) == NULL)
		ereport(ERROR,
				errcode(ERRCODE_UNDEFINED_TABLE),
				errmsg("relation with OID %u does not exist", relid));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	mg_measure(relid, recurse, &size);
	values[0] = Float8GetDatum(size.rows);
	values[1] = Int64GetDatum(size.bytes);
	values[2] = Int32GetDatum(size.nrels);
	values[3] = BoolGetDatum(mg_is_big(&size));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * migration_guard.lock_modes_conflict(held text, requested text) RETURNS bool
 *
 * Does a lock held (or awaited) in one mode block a request in the other?
 * Mode names as in pg_locks or LOCK TABLE; an unknown name is an error.
 */
PG_FUNCTION_INFO_V1(migration_guard_lock_modes_conflict);
Datum
migration_guard_lock_modes_conflict(PG_FUNCTION_ARGS)
{
	LOCKMODE	held;
	LOCKMODE	requested;

	mg_require_preloaded();
	mg_require_arg(fcinfo, 0, "held");
	mg_require_arg(fcinfo, 1, "requested");
	held = mg_parse_lock_mode(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	requested = mg_parse_lock_mode(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_RETURN_BOOL(DoLockModesConflict(held, requested));
}
