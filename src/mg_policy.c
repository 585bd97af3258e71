/*-------------------------------------------------------------------------
 *
 * mg_policy.c
 *		Turn findings into verdicts: measure, compare, reject or warn.
 *
 * A finding only matters when its relation is big (mg_size.c).  The action
 * is the weaker of migration_guard.mode and the rule's own action, so a DBA
 * can enforce rewrites yet only warn on validation scans, and "off" anywhere
 * means off.  Every rejection uses ERRCODE_MG_UNSAFE_DDL; a warning carries
 * the same message, detail and recipe (the hint of a rejection also names
 * the settings that enforce the rule).
 *
 * Most rules are about size: a long lock only hurts on a big relation.  A
 * rule marked size-independent (invalid_index_exists: a retry that silently
 * keeps an invalid index is wrong on a table of any size) is decided by the
 * mode and its action alone; the thresholds and the maintenance window,
 * which only make long locks acceptable, do not apply to it.
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
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "migration_guard.h"
#include "mg_compat.h"

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
 * Build the DETAIL: what the work is, which lock it holds, the size that
 * makes it dangerous, and the WAL it would write (mg_wal_estimate()).
 */
char *
mg_finding_detail(const MGFinding *f, const MGRelSize *size, int64 wal_bytes)
{
	StringInfoData buf;

	/* Its reason says it all: the size is not what makes it wrong. */
	if (mg_rule_is_size_independent(f->rule))
		return psprintf("%s%s", f->reason, mg_wal_sentence(wal_bytes));

	initStringInfo(&buf);
	appendStringInfoString(&buf, f->reason);
	/* Weaker modes block no writes (CREATE INDEX CONCURRENTLY). */
	if (f->lockmode >= ShareLock)
		appendStringInfo(&buf,
						 "  The statement holds %s lock for the whole operation, which blocks %s.",
						 mg_lockmode_name(f->lockmode),
						 f->lockmode == AccessExclusiveLock ?
						 "all reads and writes" : "all writes");
	if (OidIsValid(f->database))
	{
		/* No rows: its blocks count as rows (mg_measure_database). */
		appendStringInfo(&buf, "  Its files take %s", mg_size_pretty(size->bytes));
		if (size->rows > (double) mg_row_threshold &&
			!(mg_size_threshold_kb > 0 &&
			  size->bytes > (int64) mg_size_threshold_kb * 1024))
			appendStringInfo(&buf, ", %.0f blocks, above \"migration_guard.row_threshold\" (%d rows, one per block).",
							 size->rows, mg_row_threshold);
		else
			appendStringInfo(&buf, ", above \"migration_guard.size_threshold\" (%s).",
							 mg_size_pretty((int64) mg_size_threshold_kb * 1024));
		return buf.data;
	}
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
	appendStringInfoString(&buf, mg_wal_sentence(wal_bytes));
	return buf.data;
}

/*
 * The object a finding is about, for messages and the audit: a relation's
 * qualified name, or a database's name.
 */
char *
mg_finding_object_name(const MGFinding *f)
{
	char	   *dbname;

	if (!OidIsValid(f->database))
		return mg_relation_name(f->relid);
	dbname = get_database_name(f->database);
	return dbname ? dbname : psprintf("OID %u", f->database);
}

/*
 * The primary message of a finding: the statement and the table.
 */
char *
mg_finding_message(const MGAnalysis *analysis, const MGFinding *f)
{
	const char *relname = mg_finding_object_name(f);
	const char *noun = OidIsValid(f->database) ? "database" : mg_relkind_noun(f->relid);

	if (OidIsValid(f->database) && f->rule == MG_RULE_TABLE_REWRITE)
		return psprintf(_("%s would copy database \"%s\" while nobody can connect to it"),
						analysis->command, relname);

	switch (f->rule)
	{
		case MG_RULE_TABLE_REWRITE:
			return psprintf(_("%s would rewrite %s \"%s\""),
							analysis->command, noun, relname);
		case MG_RULE_BLOCKING_INDEX_BUILD:
			return psprintf(_("%s would build an index on %s \"%s\" while blocking writes"),
							analysis->command, noun, relname);
		case MG_RULE_VALIDATION_SCAN:
			return psprintf(_("%s would scan %s \"%s\" while blocking writes"),
							analysis->command, noun, relname);
		case MG_RULE_INVALID_INDEX_EXISTS:
			return psprintf(_("%s would keep invalid %s \"%s\""),
							analysis->command, noun, relname);
		case MG_RULE_CONCURRENT_INDEX_TIMEOUT:
			return psprintf(_("%s on %s \"%s\" would probably be cancelled by \"statement_timeout\""),
							analysis->command, noun, relname);
		case MG_RULE_BACKFILL:
			return psprintf(_("%s would modify too many rows of %s \"%s\""),
							analysis->command, noun, relname);
		case MG_RULE_HELD_LOCK_WORK:
			return psprintf(_("%s would work on %s \"%s\" while the transaction holds a write-blocking lock"),
							analysis->command, noun, relname);
		case MG_RULE_REPLICA_LAG:
			/* Not a finding: mg_replica.c words its own messages. */
			return psprintf(_("%s would write WAL for %s \"%s\" while a replica lags"),
							analysis->command, noun, relname);
	}
	return pstrdup("unrecognized rule");
}

/*
 * Report one big finding at the given level (ERROR or WARNING).  The texts
 * are built by the functions above, which migration_guard.check() uses too.
 */
static void
mg_report(const MGAnalysis *analysis, const MGFinding *f,
		  const MGRelSize *size, int64 wal_bytes, int elevel)
{
	ereport(elevel,
			errcode(ERRCODE_MG_UNSAFE_DDL),
			errmsg_internal("%s", mg_finding_message(analysis, f)),
			errdetail_internal("%s", mg_finding_detail(f, size, wal_bytes)),
			errhint("%s", mg_finding_hint(f, elevel >= ERROR)));
}

static const char *
mg_action_name(int action)
{
	return action == MG_ACTION_OFF ? "off" : action == MG_ACTION_WARN ? "warn" : "enforce";
}

/*
 * Would the shipped defaults (both thresholds at their boot values) call
 * this relation big?  Decides whether a relaxed policy let a statement pass
 * that the default policy would have rejected.
 */
static bool
mg_is_big_by_default(const MGRelSize *size)
{
	return mg_is_above(size, MG_DEFAULT_ROW_THRESHOLD, MG_DEFAULT_SIZE_THRESHOLD_KB);
}

/*
 * Decide one finding: measure its relations and apply the policy.  For a
 * big relation the action is the weaker of migration_guard.mode and the
 * rule's action, and a maintenance window turns enforce into warn.  Returns
 * false when the relations are small under both the current and the default
 * thresholds (nothing to report or audit); otherwise fills *d.  Shared by
 * the hook and migration_guard.check(), so both always agree.
 */
bool
mg_decide(const MGAnalysis *analysis, const MGFinding *f, MGRelSize *size,
		  MGDecision *d)
{
	bool		size_independent;
	bool		big;
	int			action;
	const char *tool;

	if (OidIsValid(f->database))
		mg_measure_database(f->database, size);
	else if (f->relids != NIL)
		mg_measure_list(f->relids, size);
	else
		mg_measure(f->relid, f->recurse, size);

	size_independent = mg_rule_is_size_independent(f->rule);
	big = size_independent || mg_is_big(size);
	action = Min(mg_mode, mg_rule_action[f->rule]);

	memset(d, 0, sizeof(*d));
	d->rule = f->rule;
	d->command = analysis->command;
	d->statement = analysis->statement;
	d->rows = size->rows;
	d->bytes = size->bytes;
	d->lockmode = f->lockmode;

	if (big && action >= MG_ACTION_WARN && OidIsValid(f->relid) &&
		(tool = mg_tool_private_relation(f->relid)) != NULL)
	{
		/* A maintenance tool's private copy: nobody else uses it. */
		d->action = MG_VERDICT_ALLOWED;
		d->why = psprintf("private working copy of %s", tool);
	}
	else if (big && action == MG_ACTION_ENFORCE && !size_independent &&
			 mg_in_maintenance_window())
	{
		d->action = MG_VERDICT_WARNED;
		d->why = "maintenance window";
	}
	else if (big && action == MG_ACTION_ENFORCE)
		d->action = MG_VERDICT_REJECTED;
	else if (big && action == MG_ACTION_WARN)
	{
		d->action = MG_VERDICT_WARNED;
		d->why = mg_mode == MG_ACTION_WARN ? "migration_guard.mode = warn" :
			psprintf("%s = warn", mg_rule_guc_name(f->rule));
	}
	else if (size_independent || mg_is_big_by_default(size))
	{
		d->action = MG_VERDICT_ALLOWED;
		if (big)
			d->why = mg_mode == MG_ACTION_OFF ? "migration_guard.mode = off" :
				psprintf("%s = %s", mg_rule_guc_name(f->rule),
						 mg_action_name(mg_rule_action[f->rule]));
		else
			d->why = psprintf("thresholds raised (row_threshold = %d, size_threshold = %d kB)",
							  mg_row_threshold, mg_size_threshold_kb);
	}
	else
		return false;			/* small by any policy: nothing to say */

	d->relation = mg_finding_object_name(f);
	return true;
}

/*
 * Judge every finding of a statement.  Each decision is audited before it
 * is reported, so a rejection is never lost; so is a pass that the default
 * policy would have rejected.  Warnings are emitted as they come; the first
 * enforced finding raises the rejection, before the statement has taken any
 * lock of its own.
 *
 * A finding that the policy lets run then goes through the replica gate
 * (mg_replica.c), with the WAL that the statement's findings allowed so far
 * would write together.
 *
 * The OIDs of all relations measured are appended to *judged_relids, so the
 * rewrite detector in mg_utility.c does not judge them a second time; the
 * audit sequence numbers of decisions that let the statement run go to
 * analysis->audit_seqs, for the outcome record.
 */
void
mg_judge_findings(MGAnalysis *analysis, List **judged_relids)
{
	ListCell   *lc;
	int64		statement_wal = 0;

	foreach(lc, analysis->findings)
	{
		MGFinding  *f = (MGFinding *) lfirst(lc);
		MGRelSize	size;
		MGDecision	d;
		bool		noteworthy;
		uint64		seq;
		int64		wal;

		noteworthy = mg_decide(analysis, f, &size, &d);
		if (judged_relids)
			*judged_relids = list_concat_unique_oid(*judged_relids, size.relids);
		if (!noteworthy)
			continue;

		wal = mg_wal_estimate(analysis, f, &size);
		seq = mg_audit_decision(&d);
		if (d.action == MG_VERDICT_REJECTED)
			mg_report(analysis, f, &size, wal, ERROR);
		if (d.action == MG_VERDICT_WARNED)
			mg_report(analysis, f, &size, wal, WARNING);

		/* The statement goes on: its outcome is recorded when it ends. */
		if (seq > 0)
			analysis->audit_seqs = lappend(analysis->audit_seqs,
										   psprintf(UINT64_FORMAT, seq));

		/* Allowed to run: unless a replica lags too far behind. */
		statement_wal = statement_wal > PG_INT64_MAX - wal ? PG_INT64_MAX :
			statement_wal + wal;
		seq = mg_replica_gate(&d, statement_wal);
		if (seq > 0)
			analysis->audit_seqs = lappend(analysis->audit_seqs,
										   psprintf(UINT64_FORMAT, seq));
	}
}
