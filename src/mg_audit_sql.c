/*-------------------------------------------------------------------------
 *
 * mg_audit_sql.c
 *		SQL functions over the audit trail: the entries, the status
 *		(what is kept, dropped, lost, suppressed or damaged), and the reset.
 *
 * Access is granted by the install script (pg_read_all_stats, not PUBLIC).
 * Within that, visibility follows pg_stat_activity's rule: the statement
 * text, the override reason and the queries named in a lock wait's reason
 * are shown to the role that ran the statement (its session user), to
 * members of that role, and to pg_read_all_stats; otherwise they are NULL.
 *
 * Segments are read line by line in bounded memory under the trail's file
 * lock (shared), so a reader never sees a rotation half done and never
 * holds an LWLock.  Damaged lines are skipped and counted.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_audit_sql.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "migration_guard.h"
#include "mg_audit.h"
#include "mg_compat.h"


/* The session user of an entry: its OID field, or (1.0) by name */
static Oid
mg_entry_role(const char *oid_field, const char *rolname)
{
	if (oid_field != NULL)
		return (Oid) strtoul(oid_field, NULL, 10);
	if (rolname != NULL)
		return get_role_oid(rolname, true);
	return InvalidOid;
}

static bool
mg_entry_visible(MGVisibility *v, Oid role)
{
	if (v->see_all)
		return true;
	if (!OidIsValid(role))
		return false;
	if (role != v->last_role)
	{
		v->last_role = role;
		v->last_visible = has_privs_of_role(GetUserId(), role);
	}
	return v->last_visible;
}

static int
mg_cmp_done(const void *a, const void *b)
{
	const MGDoneEntry *x = (const MGDoneEntry *) a;
	const MGDoneEntry *y = (const MGDoneEntry *) b;

	if (x->origin != y->origin)
		return x->origin < y->origin ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : 0;
}

/* A text field, unescaped and in the database encoding, or NULL */
static void
mg_put_text(Datum *values, bool *nulls, int col, char *field)
{
	char	   *s = field ? mg_audit_unescape(field) : NULL;

	nulls[col] = (s == NULL);
	if (s != NULL)
		values[col] = CStringGetTextDatum(mg_audit_from_utf8(s));
}

static void
mg_put_cstring(Datum *values, bool *nulls, int col, const char *s)
{
	nulls[col] = (s == NULL);
	if (s != NULL)
		values[col] = CStringGetTextDatum(s);
}

/* The entries whose statement completed, from the outcome lines */
void
mg_audit_collect_done(MGDoneSet *done)
{
	int			s;

	done->n = 0;
	done->max = 64;
	done->entries = palloc(done->max * sizeof(MGDoneEntry));
	for (s = 0; s < 2; s++)
	{
		MGAuditReader r;
		char	   *line;

		if (!mg_audit_reader_open(&r, mg_audit_segments[s], WARNING))
			continue;
		while ((line = mg_audit_reader_next(&r)) != NULL)
		{
			char	   *f[MG_AUDIT_MAX_FIELDS];
			char		type;
			uint64		seq;
			int			nf;

			if (!mg_audit_parse_seq(line, &type, &seq) || type != MG_AUDIT_REC_OUTCOME)
				continue;
			if (done->n == done->max)
			{
				done->max *= 2;
				done->entries = repalloc_huge(done->entries, done->max * sizeof(MGDoneEntry));
			}
			nf = mg_audit_split(line, f, MG_AUDIT_MAX_FIELDS);
			done->entries[done->n].origin = mg_audit_field_origin(f, nf, type);
			done->entries[done->n].seq = seq;
			done->n++;
		}
		mg_audit_reader_close(&r);
	}
	qsort(done->entries, done->n, sizeof(MGDoneEntry), mg_cmp_done);
}

/*
 * The fields every record starts with, into columns 0 to 7: seq, ts,
 * database, session and current user, application, client address, pid.
 */
static void
mg_put_who(char **f, Datum *values, bool *nulls)
{
	int			i;

	values[0] = Int64GetDatum((int64) strtou64(f[1], NULL, 10));
	values[1] = TimestampTzGetDatum((TimestampTz) strtoi64(f[2], NULL, 10));
	for (i = 3; i <= 7; i++)	/* database ... client_addr */
		mg_put_text(values, nulls, i - 1, f[i]);
	values[7] = Int32GetDatum(atoi(f[8]));	/* pid */
}

/*
 * One decision line into a row.  False if it is damaged.
 */
static bool
mg_decision_row(char **f, int nf, const MGDoneSet *done, MGVisibility *vis,
				Datum *values, bool *nulls, Oid *role)
{
	MGDoneEntry key;
	bool		visible;
	bool		lock_wait;

	if (!mg_audit_record_fields_ok(MG_AUDIT_REC_DECISION, nf))
		return false;
	key.origin = mg_audit_field_origin(f, nf, MG_AUDIT_REC_DECISION);
	key.seq = strtou64(f[1], NULL, 10);
	*role = mg_entry_role(nf >= MG_AUDIT_D_FIELDS ? f[22] : NULL,
						  mg_audit_unescape(pstrdup(f[4])));
	visible = mg_entry_visible(vis, *role);
	lock_wait = strcmp(f[12], "lock_timeout") == 0;

	mg_put_who(f, values, nulls);
	mg_put_text(values, nulls, 8, f[9]);	/* command */
	mg_put_text(values, nulls, 9, visible ? f[10] : NULL);	/* statement */
	mg_put_text(values, nulls, 10, f[11]);	/* rule */
	mg_put_text(values, nulls, 11, f[12]);	/* action */
	mg_put_text(values, nulls, 12, (visible || !lock_wait) ? f[13] : NULL); /* reason */
	mg_put_text(values, nulls, 13, visible ? f[14] : NULL);	/* override_reason */
	mg_put_text(values, nulls, 14, f[15]);	/* relation */
	values[15] = Float8GetDatum(strtod(f[16], NULL));
	values[16] = Int64GetDatum(strtoi64(f[17], NULL, 10));
	mg_put_text(values, nulls, 17, f[18]);	/* lock_mode */
	values[18] = Int32GetDatum(atoi(f[19]));
	values[19] = Int64GetDatum(strtoi64(f[20], NULL, 10));
	mg_put_text(values, nulls, 20, f[21]);	/* mode */
	if (strcmp(f[12], "rejected") == 0)
		mg_put_cstring(values, nulls, 21, "rejected");
	else if (lock_wait)
		mg_put_cstring(values, nulls, 21, "failed");
	else if (done->n > 0 &&
			 bsearch(&key, done->entries, done->n, sizeof(MGDoneEntry), mg_cmp_done) != NULL)
		mg_put_cstring(values, nulls, 21, "completed");
	else
		mg_put_cstring(values, nulls, 21, "not completed");
	return true;
}

/*
 * One lock-wait line into a row: rule lock_wait, action lock_timeout.
 */
static bool
mg_lock_wait_row(char **f, int nf, MGVisibility *vis, Datum *values, bool *nulls,
				 Oid *role)
{
	bool		visible;

	if (!mg_audit_record_fields_ok(MG_AUDIT_REC_LOCK_WAIT, nf))
		return false;
	*role = mg_entry_role(f[14], NULL);
	visible = mg_entry_visible(vis, *role);
	mg_put_who(f, values, nulls);
	mg_put_text(values, nulls, 8, f[9]);	/* command */
	mg_put_text(values, nulls, 9, visible ? f[10] : NULL);	/* statement */
	mg_put_cstring(values, nulls, 10, "lock_wait");
	mg_put_cstring(values, nulls, 11, "lock_timeout");
	mg_put_text(values, nulls, 12, visible ? f[13] : NULL);	/* who was in the way */
	nulls[13] = true;			/* override_reason */
	mg_put_text(values, nulls, 14, f[11]);	/* relation */
	nulls[15] = nulls[16] = true;	/* not measured */
	mg_put_text(values, nulls, 17, f[12]);	/* lock_mode */
	nulls[18] = nulls[19] = nulls[20] = true;
	mg_put_cstring(values, nulls, 21, "failed");
	return true;
}

/*
 * One lock-hold line into a row: rule lock_hold, action cancelled or
 * terminated.
 */
static bool
mg_lock_hold_row(char **f, int nf, MGVisibility *vis, Datum *values, bool *nulls,
				 Oid *role)
{
	bool		visible;

	if (!mg_audit_record_fields_ok(MG_AUDIT_REC_LOCK_HOLD, nf))
		return false;
	*role = mg_entry_role(f[16], NULL);
	visible = mg_entry_visible(vis, *role);
	mg_put_who(f, values, nulls);
	mg_put_text(values, nulls, 8, f[9]);	/* command that took the lock */
	mg_put_text(values, nulls, 9, visible ? f[10] : NULL);	/* statement */
	mg_put_cstring(values, nulls, 10, "lock_hold");
	mg_put_text(values, nulls, 11, f[13]);	/* cancelled, terminated */
	mg_put_cstring(values, nulls, 12,
				   psprintf("The lock was held for %.1f s; \"migration_guard.lock_hold_timeout\" was %s ms.",
							(double) strtoi64(f[14], NULL, 10) / 1000.0, f[15]));
	nulls[13] = true;			/* override_reason */
	mg_put_text(values, nulls, 14, f[11]);	/* relation */
	nulls[15] = nulls[16] = true;	/* not measured */
	mg_put_text(values, nulls, 17, f[12]);	/* lock_mode */
	nulls[18] = nulls[19] = nulls[20] = true;
	mg_put_cstring(values, nulls, 21, "failed");
	return true;
}

/*
 * One write-failure line into a row: which entries were lost, and why.
 */
static bool
mg_write_failure_row(char **f, int nf, Datum *values, bool *nulls)
{
	int			i;

	if (!mg_audit_record_fields_ok(MG_AUDIT_REC_WRITE_FAIL, nf))
		return false;
	for (i = 0; i < MG_AUDIT_COLUMNS; i++)
		nulls[i] = true;
	values[0] = Int64GetDatum((int64) strtou64(f[1], NULL, 10));
	nulls[0] = false;
	values[1] = TimestampTzGetDatum((TimestampTz) strtoi64(f[2], NULL, 10));
	nulls[1] = false;
	mg_put_cstring(values, nulls, 10, "audit_write");
	mg_put_cstring(values, nulls, 11, "write_failed");
	mg_put_cstring(values, nulls, 12,
				   psprintf("%s entries could not be written (sequence numbers %s to %s): %s",
							f[5], f[3], f[4],
							mg_audit_from_utf8(mg_audit_unescape(f[6]) ? f[6] : "")));
	mg_put_cstring(values, nulls, 21, "lost");
	return true;
}

/*
 * audit_file_entries() is EXECUTE-able by everyone, because the audit view
 * calls it: it serves whoever may run audit_entries(), so that the grants
 * of 1.0 (to pg_read_all_stats, or to any role a DBA chose) keep deciding
 * who reads the view, with the same error for the others.
 */
static void
mg_require_audit_entries_privilege(void)
{
	List	   *name = list_make2(makeString("migration_guard"),
								  makeString("audit_entries"));
	Oid			fn = LookupFuncName(name, 0, NULL, true);

	if (!OidIsValid(fn) ||
		!DatumGetBool(DirectFunctionCall2(has_function_privilege_id,
										  ObjectIdGetDatum(fn),
										  CStringGetTextDatum("EXECUTE"))))
		ereport(ERROR,
				errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				errmsg("permission denied for function %s", "audit_entries"));
}

/*
 * One line of a segment into a row of audit_entries(), with the entry's
 * origin and session user (InvalidOid if none).  False for outcome lines
 * and damage.  The line is modified.
 */
bool
mg_audit_line_row(char *line, const MGDoneSet *done, MGVisibility *vis,
				  Datum *values, bool *nulls, int64 *origin, Oid *role)
{
	char	   *f[MG_AUDIT_MAX_FIELDS];
	char		type;
	uint64		seq;
	int			nf;

	if (!mg_audit_parse_seq(line, &type, &seq) || type == MG_AUDIT_REC_OUTCOME)
		return false;
	memset(nulls, 0, MG_AUDIT_COLUMNS * sizeof(bool));
	nf = mg_audit_split(line, f, MG_AUDIT_MAX_FIELDS);
	*role = InvalidOid;
	*origin = mg_audit_field_origin(f, nf, type);
	if (type == MG_AUDIT_REC_DECISION)
		return mg_decision_row(f, nf, done, vis, values, nulls, role);
	if (type == MG_AUDIT_REC_LOCK_WAIT)
		return mg_lock_wait_row(f, nf, vis, values, nulls, role);
	if (type == MG_AUDIT_REC_LOCK_HOLD)
		return mg_lock_hold_row(f, nf, vis, values, nulls, role);
	return mg_write_failure_row(f, nf, values, nulls);
}

/*
 * migration_guard.audit_entries(): every entry still kept in this server's
 * files, oldest first.  audit_file_entries() (1.1) is the same function
 * with the origin as a 23rd column.
 */
PG_FUNCTION_INFO_V1(migration_guard_audit_entries);
Datum
migration_guard_audit_entries(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MGVisibility vis;
	MGDoneSet	done;
	int			lockfd;
	int			s;
	bool		with_origin;

	mg_require_preloaded();
	InitMaterializedSRF(fcinfo, 0);
	with_origin = rsinfo->setDesc->natts > MG_AUDIT_COL_ORIGIN;
	if (rsinfo->setDesc->natts != MG_AUDIT_COLUMNS + (with_origin ? 1 : 0))
		elog(ERROR, "unexpected number of columns of audit_entries()");
	if (with_origin)
		mg_require_audit_entries_privilege();

	memset(&vis, 0, sizeof(vis));
	vis.see_all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);

	lockfd = mg_audit_lock_file(false, true);
	mg_audit_collect_done(&done);
	for (s = 0; s < 2; s++)
	{
		MGAuditReader r;
		char	   *line;

		if (!mg_audit_reader_open(&r, mg_audit_segments[s], WARNING))
			continue;
		while ((line = mg_audit_reader_next(&r)) != NULL)
		{
			Datum		values[MG_AUDIT_COLUMNS + 1];
			bool		nulls[MG_AUDIT_COLUMNS + 1];
			int64		origin;
			Oid			role;

			if (!mg_audit_line_row(line, &done, &vis, values, nulls, &origin, &role))
				continue;
			values[MG_AUDIT_COL_ORIGIN] = Int64GetDatum(origin);
			nulls[MG_AUDIT_COL_ORIGIN] = false;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		mg_audit_reader_close(&r);
	}
	mg_audit_unlock_file(lockfd);
	return (Datum) 0;
}

/*
 * migration_guard.audit_status(): what is kept, what retention dropped
 * since the last reset, what could not be written or was suppressed since
 * the server started, and the damaged lines in the files.  Fills as many
 * columns as the installed version of the function declares.
 */
PG_FUNCTION_INFO_V1(migration_guard_audit_status);
Datum
migration_guard_audit_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[13];
	bool		nulls[13];
	MGAuditCounters c;
	MGCopyStatus copy;
	uint64		first = 0;
	uint64		base;
	int64		entries = 0;
	int64		bytes = 0;
	int64		damaged = 0;
	char	   *last_error;
	int			lockfd;
	int			s;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (tupdesc->natts > lengthof(values))
		elog(ERROR, "unexpected number of columns of audit_status()");
	mg_require_preloaded();

	lockfd = mg_audit_lock_file(false, true);
	mg_audit_counters(&c);
	base = mg_audit_read_number(MG_AUDIT_BASE, WARNING);
	base = Max(base, 1);
	for (s = 0; s < 2; s++)
	{
		MGAuditReader r;
		char	   *line;

		if (!mg_audit_reader_open(&r, mg_audit_segments[s], WARNING))
			continue;
		while ((line = mg_audit_reader_next(&r)) != NULL)
		{
			char		type;
			uint64		seq;

			if (!mg_audit_parse_seq(line, &type, &seq) ||
				!mg_audit_record_complete(line, type))
				r.damaged++;
			else if (type != MG_AUDIT_REC_OUTCOME)
			{
				entries++;
				if (first == 0 || seq < first)
					first = seq;
			}
		}
		bytes += r.bytes;
		damaged += r.damaged;
		mg_audit_reader_close(&r);
	}
	mg_audit_unlock_file(lockfd);
	last_error = mg_audit_last_error();

	if (first == 0)
		first = c.next_seq;		/* empty: everything before is gone */
	memset(nulls, 0, sizeof(nulls));
	values[0] = Int64GetDatum(entries);
	values[1] = Int64GetDatum((int64) (first > base ? first - base : 0));
	values[2] = Int64GetDatum((int64) c.next_seq);
	values[3] = Int64GetDatum(bytes);
	values[4] = Int64GetDatum((int64) mg_audit_max_size_kb * 1024);
	values[5] = Int64GetDatum(c.write_failures);
	if (last_error)
		values[6] = CStringGetTextDatum(mg_audit_from_utf8(last_error));
	else
		nulls[6] = true;
	if (c.last_failure != 0)
		values[7] = TimestampTzGetDatum(c.last_failure);
	else
		nulls[7] = true;
	values[8] = Int64GetDatum(c.suppressed);
	values[9] = Int64GetDatum(damaged);
	mg_audit_copy_status(&copy);
	values[10] = Int64GetDatum(mg_audit_origin());
	if (copy.last_copy != 0)
		values[11] = TimestampTzGetDatum(copy.last_copy);
	else
		nulls[11] = true;
	if (copy.error[0])
		values[12] = CStringGetTextDatum(mg_audit_from_utf8(copy.error));
	else
		nulls[12] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * migration_guard.audit_reset(): superusers only, whatever was granted.
 */
PG_FUNCTION_INFO_V1(migration_guard_audit_reset);
Datum
migration_guard_audit_reset(PG_FUNCTION_ARGS)
{
	if (!superuser())
		ereport(ERROR,
				errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				errmsg("permission denied to reset the migration_guard audit trail"),
				errdetail("Only superusers may reset it."));
	mg_require_preloaded();
	mg_audit_reset_trail(mg_audit_copy_reset_table);
	ereport(LOG,
			errmsg("migration_guard audit trail reset by \"%s\"",
				   GetUserNameFromId(GetUserId(), false)));
	PG_RETURN_VOID();
}
