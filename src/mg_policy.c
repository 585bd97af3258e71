/*-------------------------------------------------------------------------
 *
 * mg_policy.c
 *		Turn findings into verdicts: measure, compare, reject or warn.
 *
 * A finding only matters when its relation is big (mg_size.c).  The action
 * is the weaker of migration_guard.mode and the rule's own action, so a DBA
 * can enforce rewrites yet only warn on validation scans, and "off" anywhere
 * means off.  Every rejection uses ERRCODE_MG_UNSAFE_DDL; a warning carries
 * exactly the same message, detail and hint.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_policy.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"

#include "migration_guard.h"

/* Stable rule ids, indexed by MGRule */
static const char *const mg_rule_names[MG_NUM_RULES] = {
	"table_rewrite",
	"blocking_index_build",
	"validation_scan"
};

/* The GUC that sets each rule's action, indexed by MGRule */
static const char *const mg_rule_gucs[MG_NUM_RULES] = {
	"migration_guard.table_rewrite_action",
	"migration_guard.blocking_index_build_action",
	"migration_guard.validation_scan_action"
};

const char *
mg_rule_name(MGRule rule)
{
	Assert(rule >= 0 && rule < MG_NUM_RULES);
	return mg_rule_names[rule];
}

const char *
mg_rule_guc_name(MGRule rule)
{
	Assert(rule >= 0 && rule < MG_NUM_RULES);
	return mg_rule_gucs[rule];
}

/*
 * Lock mode as spelled in LOCK TABLE and in the documentation, which is what
 * a DBA reads in an error message (pg_locks spells it "AccessExclusiveLock").
 */
const char *
mg_lockmode_name(LOCKMODE mode)
{
	switch (mode)
	{
		case AccessShareLock:
			return "ACCESS SHARE";
		case RowShareLock:
			return "ROW SHARE";
		case RowExclusiveLock:
			return "ROW EXCLUSIVE";
		case ShareUpdateExclusiveLock:
			return "SHARE UPDATE EXCLUSIVE";
		case ShareLock:
			return "SHARE";
		case ShareRowExclusiveLock:
			return "SHARE ROW EXCLUSIVE";
		case ExclusiveLock:
			return "EXCLUSIVE";
		case AccessExclusiveLock:
			return "ACCESS EXCLUSIVE";
	}
	return "unrecognized";
}

/* Pretty size, as pg_size_pretty() prints it */
static char *
mg_size_pretty(int64 bytes)
{
	return text_to_cstring(DatumGetTextPP(DirectFunctionCall1(pg_size_pretty,
															  Int64GetDatum(bytes))));
}

/* What kind of object a relation is, for messages */
static const char *
mg_relkind_noun(Oid relid)
{
	switch (get_rel_relkind(relid))
	{
		case RELKIND_MATVIEW:
			return "materialized view";
		case RELKIND_INDEX:
		case RELKIND_PARTITIONED_INDEX:
			return "index";
		default:
			return "table";
	}
}

/*
 * Build the DETAIL: what the work is, which lock it holds, and the size that
 * makes it dangerous.
 */
static char *
mg_detail(const MGFinding *f, const MGRelSize *size)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, f->reason);
	appendStringInfo(&buf,
					 "  The statement holds %s lock for the whole operation, which blocks %s.",
					 mg_lockmode_name(f->lockmode),
					 f->lockmode == AccessExclusiveLock ?
					 "all reads and writes" : "all writes");
	if (size->nrels > 1)
		appendStringInfo(&buf,
						 "  The %d relations it works on hold about %.0f rows (%s)",
						 size->nrels, size->rows, mg_size_pretty(size->bytes));
	else
		appendStringInfo(&buf, "  The %s has about %.0f rows (%s)",
						 mg_relkind_noun(linitial_oid(size->relids)),
						 size->rows, mg_size_pretty(size->bytes));

	if (size->rows > (double) mg_row_threshold)
		appendStringInfo(&buf, ", above \"migration_guard.row_threshold\" (%d rows).",
						 mg_row_threshold);
	else
		appendStringInfo(&buf, ", above \"migration_guard.size_threshold\" (%s).",
						 mg_size_pretty((int64) mg_size_threshold_kb * 1024));
	return buf.data;
}

/*
 * Report one big finding at the given level (ERROR or WARNING).
 */
static void
mg_report(const MGAnalysis *analysis, const MGFinding *f,
		  const MGRelSize *size, int elevel)
{
	const char *relname = mg_relation_name(f->relid);
	const char *noun = mg_relkind_noun(f->relid);
	char	   *detail = mg_detail(f, size);
	char	   *hint;

	if (elevel >= ERROR)
		hint = psprintf("%s  Rule \"%s\" is enforced by \"migration_guard.mode\" and \"%s\".",
						f->hint, mg_rule_name(f->rule), mg_rule_guc_name(f->rule));
	else
		hint = pstrdup(f->hint);

	switch (f->rule)
	{
		case MG_RULE_TABLE_REWRITE:
			ereport(elevel,
					errcode(ERRCODE_MG_UNSAFE_DDL),
					errmsg("%s would rewrite %s \"%s\"",
						   analysis->command, noun, relname),
					errdetail_internal("%s", detail),
					errhint("%s", hint));
			break;
		case MG_RULE_BLOCKING_INDEX_BUILD:
			ereport(elevel,
					errcode(ERRCODE_MG_UNSAFE_DDL),
					errmsg("%s would build an index on %s \"%s\" while blocking writes",
						   analysis->command, noun, relname),
					errdetail_internal("%s", detail),
					errhint("%s", hint));
			break;
		case MG_RULE_VALIDATION_SCAN:
			ereport(elevel,
					errcode(ERRCODE_MG_UNSAFE_DDL),
					errmsg("%s would scan %s \"%s\" while blocking writes",
						   analysis->command, noun, relname),
					errdetail_internal("%s", detail),
					errhint("%s", hint));
			break;
	}
}

/*
 * Judge every finding of a statement.  Warnings are emitted as they come;
 * the first finding that is enforced raises the rejection, before the
 * statement has taken any lock of its own.
 *
 * The OIDs of all relations measured are appended to *judged_relids, so the
 * rewrite detector in mg_utility.c does not judge them a second time.
 */
void
mg_judge_findings(MGAnalysis *analysis, List **judged_relids)
{
	ListCell   *lc;

	foreach(lc, analysis->findings)
	{
		MGFinding  *f = (MGFinding *) lfirst(lc);
		MGRelSize	size;
		int			action;

		if (f->relids != NIL)
			mg_measure_list(f->relids, &size);
		else
			mg_measure(f->relid, f->recurse, &size);
		if (judged_relids)
			*judged_relids = list_concat_unique_oid(*judged_relids, size.relids);

		if (!mg_is_big(&size))
			continue;

		action = Min(mg_mode, mg_rule_action[f->rule]);
		if (action == MG_ACTION_OFF)
			continue;

		mg_report(analysis, f, &size,
				  action == MG_ACTION_ENFORCE ? ERROR : WARNING);
	}
}
