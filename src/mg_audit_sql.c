/*-------------------------------------------------------------------------
 *
 * mg_audit_sql.c
 *		SQL functions over the audit trail: the entries, the status
 *		(including how many entries retention dropped), and the reset.
 *
 * Access is granted by the install script (pg_read_all_stats, not PUBLIC).
 * Defense in depth: a role that was granted access but is not a member of
 * pg_read_all_stats sees the statement texts of its own sessions only.
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
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "migration_guard.h"
#include "mg_compat.h"

/* Fields of a decision line: "D", seq, then the body of mg_audit_decision */
#define MG_AUDIT_D_FIELDS 22
/* Columns of migration_guard.audit_entries() */
#define MG_AUDIT_COLUMNS 22

static int
mg_cmp_u64(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a;
	uint64		y = *(const uint64 *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * Split a line on tabs, in place.  Returns the number of fields.
 */
static int
mg_split(char *line, char **fields, int max)
{
	int			n = 0;

	fields[n++] = line;
	for (; *line && n < max + 1; line++)
	{
		if (*line == '\t')
		{
			*line = '\0';
			if (n < max)
				fields[n] = line + 1;
			n++;
		}
	}
	return n;
}

static Datum
mg_text_or_null(char *s, bool *isnull)
{
	s = mg_audit_unescape(s);
	*isnull = (s == NULL);
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/*
 * migration_guard.audit_entries(): every entry still kept, oldest first.
 */
PG_FUNCTION_INFO_V1(migration_guard_audit_entries);
Datum
migration_guard_audit_entries(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *data[2];
	Size		len[2];
	uint64	   *done = NULL;
	int			ndone = 0;
	int			maxdone = 64;
	bool		see_all;
	char	   *me;
	int			s;

	mg_require_preloaded();
	InitMaterializedSRF(fcinfo, 0);

	see_all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
	me = GetUserNameFromId(GetUserId(), false);

	mg_audit_lock(false);
	for (s = 0; s < 2; s++)
		data[s] = mg_audit_read_file(mg_audit_segments[s], &len[s]);
	mg_audit_unlock();

	/* First pass: which statements completed. */
	done = palloc(maxdone * sizeof(uint64));
	for (s = 0; s < 2; s++)
	{
		char	   *line = data[s];

		while (line && line < data[s] + len[s])
		{
			char	   *nl = strchr(line, '\n');

			if (nl == NULL)
				break;
			if (line[0] == 'O' && line[1] == '\t')
			{
				if (ndone == maxdone)
				{
					maxdone *= 2;
					done = repalloc(done, maxdone * sizeof(uint64));
				}
				done[ndone++] = strtou64(line + 2, NULL, 10);
			}
			line = nl + 1;
		}
	}
	qsort(done, ndone, sizeof(uint64), mg_cmp_u64);

	/* Second pass: the decisions. */
	for (s = 0; s < 2; s++)
	{
		char	   *line = data[s];

		while (line && line < data[s] + len[s])
		{
			char	   *nl = strchr(line, '\n');
			char	   *f[MG_AUDIT_D_FIELDS];
			Datum		values[MG_AUDIT_COLUMNS];
			bool		nulls[MG_AUDIT_COLUMNS];
			uint64		seq;
			int			i;

			if (nl == NULL)
				break;			/* torn last line */
			*nl = '\0';
			if (line[0] != 'D' ||
				mg_split(line, f, MG_AUDIT_D_FIELDS) != MG_AUDIT_D_FIELDS)
			{
				line = nl + 1;
				continue;		/* not a decision, or damaged */
			}
			line = nl + 1;

			memset(nulls, 0, sizeof(nulls));
			seq = strtou64(f[1], NULL, 10);
			values[0] = Int64GetDatum((int64) seq);
			values[1] = TimestampTzGetDatum((TimestampTz) strtoi64(f[2], NULL, 10));
			for (i = 3; i <= 7; i++)	/* database ... client_addr */
				values[i - 1] = mg_text_or_null(f[i], &nulls[i - 1]);
			values[7] = Int32GetDatum(atoi(f[8]));	/* pid */
			values[8] = mg_text_or_null(f[9], &nulls[8]);	/* command */
			values[9] = mg_text_or_null(f[10], &nulls[9]);	/* statement */
			if (!see_all && (nulls[2] || strcmp(TextDatumGetCString(values[2]), me) != 0))
				nulls[9] = true;
			for (i = 11; i <= 15; i++)	/* rule ... relation */
				values[i - 1] = mg_text_or_null(f[i], &nulls[i - 1]);
			values[15] = Float8GetDatum(strtod(f[16], NULL));
			values[16] = Int64GetDatum(strtoi64(f[17], NULL, 10));
			values[17] = mg_text_or_null(f[18], &nulls[17]);	/* lock_mode */
			values[18] = Int32GetDatum(atoi(f[19]));
			values[19] = Int64GetDatum(strtoi64(f[20], NULL, 10));
			values[20] = mg_text_or_null(f[21], &nulls[20]);	/* mode */
			if (strcmp(f[12], "rejected") == 0)
				values[21] = CStringGetTextDatum("rejected");
			else if (strcmp(f[12], "lock_timeout") == 0)
				values[21] = CStringGetTextDatum("failed");
			else if (bsearch(&seq, done, ndone, sizeof(uint64), mg_cmp_u64) != NULL)
				values[21] = CStringGetTextDatum("completed");
			else
				values[21] = CStringGetTextDatum("not completed");

			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}

/*
 * migration_guard.audit_status(): how much is kept, and how much retention
 * dropped since the last reset.
 */
PG_FUNCTION_INFO_V1(migration_guard_audit_status);
Datum
migration_guard_audit_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	uint64		first;
	uint64		next;
	uint64		base;
	int64		bytes = 0;
	int			s;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	mg_require_preloaded();

	mg_audit_lock(false);
	first = mg_audit_segment_seq(mg_audit_segments[0], false);
	if (first == 0)
		first = mg_audit_segment_seq(mg_audit_segments[1], false);
	next = mg_audit_next_seq();
	base = mg_audit_base_seq();
	for (s = 0; s < 2; s++)
	{
		Size		len;
		char	   *data = mg_audit_read_file(mg_audit_segments[s], &len);

		if (data)
		{
			bytes += len;
			pfree(data);
		}
	}
	mg_audit_unlock();

	if (first == 0)
		first = next;			/* empty: nothing kept */
	values[0] = Int64GetDatum((int64) (next - first));	/* entries kept */
	values[1] = Int64GetDatum((int64) (first > base ? first - base : 0));	/* dropped */
	values[2] = Int64GetDatum((int64) next);
	values[3] = Int64GetDatum(bytes);
	values[4] = Int64GetDatum((int64) mg_audit_max_size_kb * 1024);
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
	mg_audit_lock(true);
	mg_audit_reset_locked();
	mg_audit_unlock();
	ereport(LOG,
			errmsg("migration_guard audit trail reset by \"%s\"",
				   GetUserNameFromId(GetUserId(), false)));
	PG_RETURN_VOID();
}
