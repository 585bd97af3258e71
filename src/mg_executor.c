/*-------------------------------------------------------------------------
 *
 * mg_executor.c
 *		Judge DML by how many rows it will modify (rules "backfill" and
 *		"held_lock_work").
 *
 * A backfill run as one statement, or as many small statements inside one
 * transaction, keeps every row it touched locked until commit, holds back
 * vacuum and replication, and leaves the whole table's worth of dead rows
 * behind.  migration_guard.backfill_row_limit (0 = off, the default, since
 * application roles run batch jobs; a DBA sets it for the migration role)
 * bounds the rows one transaction may modify:
 *
 * - Before a DML statement starts, its estimate is added to the rows that
 *   the transaction's earlier DML statements (including nested ones, e.g. a
 *   PL/pgSQL loop of small UPDATEs in a DO block) actually modified.  Above
 *   the limit, the statement is rejected (or warned, by the usual mode and
 *   rule action) before it has modified anything.
 * - The estimate is the planner's row estimate of the rows fed to the
 *   ModifyTable node, and for UPDATE, DELETE and MERGE at most the target's
 *   size as mg_size.c measures it.  The planner scales reltuples by the
 *   table's current number of pages, so a table that grew since it was
 *   analyzed is still estimated by its current size.
 * - Temporary tables and tables created in this transaction are exempt, as
 *   for every rule: nobody else sees their rows.
 *
 * Rule held_lock_work: while the transaction holds a write-blocking lock on
 * an existing relation (as mg_lock_hold.c tracks it for the lock-hold
 * budget: ADD COLUMN, then a backfill in the same transaction), a DML
 * statement estimated above migration_guard.row_threshold rows runs under
 * that lock from start to end, and is judged as if it took the lock itself.
 *
 * The hooks look at the limit before anything else, so that sessions without
 * a limit (the OLTP path) pay a few instructions per statement.  Nothing here
 * evaluates an expression: only the finished plan is read, after PostgreSQL
 * has run its own checks (permissions, read-only transactions) in
 * ExecutorStart, so the error it would raise for a statement is unchanged.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_executor.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/parallel.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
#include "storage/lock.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "migration_guard.h"
#include "mg_compat.h"

/* migration_guard.backfill_row_limit: 0 = off */
int			mg_backfill_row_limit = 0;

/* Rows modified by the completed DML statements of this transaction */
static uint64 mg_xact_rows = 0;

/* A warning about this transaction's total was given already */
static bool mg_xact_warned = false;

/*
 * The audit entry of the last warned statement, marked completed when that
 * statement's executor ends (a nested warned statement may take its place:
 * the outer one then stays "not completed", which errs on the safe side).
 */
static uint64 mg_warned_seq = 0;
static uint64 mg_warned_gate_seq = 0;	/* its replica gate warning */
static const EState *mg_warned_estate = NULL;

static ExecutorStart_hook_type prev_executor_start = NULL;
static ExecutorEnd_hook_type prev_executor_end = NULL;

static const char *const mg_backfill_recipe =
"Modify the rows in batches of a few thousand by key range, each batch in its own transaction: "
"a loop in the client, or a procedure that runs COMMIT after each batch.";

/*
 * Does this operation modify rows of its target?
 */
static inline bool
mg_is_dml(CmdType operation)
{
	return operation == CMD_INSERT || operation == CMD_UPDATE ||
		operation == CMD_DELETE || operation == CMD_MERGE;
}

static const char *
mg_dml_command(CmdType operation)
{
	switch (operation)
	{
		case CMD_INSERT:
			return "INSERT";
		case CMD_UPDATE:
			return "UPDATE";
		case CMD_DELETE:
			return "DELETE";
		case CMD_MERGE:
			return "MERGE";
		default:
			return "SELECT";
	}
}

/*
 * Target relation of a ModifyTable node: the root of a partitioned or
 * inheritance target, else the table named in the statement.
 */
static Oid
mg_modify_target(const PlannedStmt *pstmt, const ModifyTable *mt)
{
	Index		rti = mt->rootRelation > 0 ? mt->rootRelation : mt->nominalRelation;

	if (rti == 0 || rti > (Index) list_length(pstmt->rtable))
		return InvalidOid;
	return rt_fetch(rti, pstmt->rtable)->relid;
}

/*
 * Is the target exempt, as mg_size.c exempts relations: temporary, or
 * created in this transaction (whose creator holds ACCESS EXCLUSIVE)?
 */
static bool
mg_target_exempt(Oid relid)
{
	LOCKTAG		tag;
	Relation	rel;
	bool		created;

	if (!OidIsValid(relid) || get_rel_persistence(relid) == RELPERSISTENCE_TEMP)
		return true;

	SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
	if (!mg_lock_held_by_me(&tag, AccessExclusiveLock))
		return false;
	rel = try_relation_open(relid, NoLock);
	if (rel == NULL)
		return true;
	created = rel->rd_createSubid != InvalidSubTransactionId;
	relation_close(rel, NoLock);
	return created;
}

/*
 * The rows a ModifyTable node is expected to modify.  Its own plan_rows is 0
 * without RETURNING; the rows it consumes are those of its subplan.
 */
static double
mg_modify_estimate(const ModifyTable *mt, Oid relid, MGRelSize *size)
{
	const Plan *sub = outerPlan(&mt->plan);
	double		rows = sub ? sub->plan_rows : mt->plan.plan_rows;

	mg_measure(relid, true, size);
	if (mt->operation != CMD_INSERT && rows > size->rows)
		rows = size->rows;
	return rows;
}

/* Why a non-enforcing action let a statement pass, for the audit */
static const char *
mg_relaxed_why(MGRule rule)
{
	return mg_mode == MG_ACTION_WARN ? "migration_guard.mode = warn" :
		psprintf("%s = warn", mg_rule_guc_name(rule));
}

/*
 * Audit and report one decision (ERROR for a rejection, WARNING otherwise).
 */
static void
mg_report_dml(const QueryDesc *qd, MGDecision *d, const char *message,
			  const char *detail, const char *recipe)
{
	MGFinding	f;
	uint64		seq;
	bool		reject = d->action == MG_VERDICT_REJECTED;

	seq = mg_audit_decision(d);
	if (!reject)
	{
		mg_warned_seq = seq;
		mg_warned_estate = qd->estate;
	}

	memset(&f, 0, sizeof(f));
	f.rule = d->rule;
	f.hint = (char *) recipe;
	ereport(reject ? ERROR : WARNING,
			errcode(ERRCODE_MG_UNSAFE_DDL),
			errmsg_internal("%s", message),
			errdetail_internal("%s", detail),
			errhint("%s", mg_finding_hint(&f, reject)));
}

/*
 * Rule backfill: would this node take the transaction above the limit?
 * Returns true when it warned: the statement goes on, and *wal is its WAL
 * estimate (computed only when it is reported: it costs a catalog scan).
 */
static bool
mg_judge_backfill(const QueryDesc *qd, CmdType operation, double estimate,
				  const MGRelSize *size, int64 *wal, MGDecision *d)
{
	const char *command = mg_dml_command(operation);
	double		total = (double) mg_xact_rows + estimate;
	int			action;
	char	   *message;
	char	   *detail;

	if (total <= (double) mg_backfill_row_limit)
		return false;
	action = Min(mg_mode, mg_rule_action[MG_RULE_BACKFILL]);
	if (action == MG_ACTION_OFF)
		return false;			/* the default policy (limit 0) passes it */
	if (action == MG_ACTION_WARN && mg_xact_rows > 0 && mg_xact_warned)
		return false;			/* one warning per transaction is enough */

	d->rule = MG_RULE_BACKFILL;
	d->action = action == MG_ACTION_ENFORCE ? MG_VERDICT_REJECTED : MG_VERDICT_WARNED;
	d->why = action == MG_ACTION_WARN ? mg_relaxed_why(MG_RULE_BACKFILL) : NULL;
	d->rows = total;

	if (mg_xact_rows == 0)
		message = psprintf(_("%s would modify about %.0f rows of table \"%s\", above \"migration_guard.backfill_row_limit\" (%d)"),
						   command, estimate, d->relation, mg_backfill_row_limit);
	else
		message = psprintf(_("%s of table \"%s\" would bring the rows modified by this transaction to about %.0f, above \"migration_guard.backfill_row_limit\" (%d)"),
						   command, d->relation, total, mg_backfill_row_limit);
	*wal = mg_wal_estimate_dml(operation, estimate, size);
	detail = psprintf("The statement is estimated to modify about %.0f rows; the table has about %.0f rows.  "
					  "The transaction has modified " UINT64_FORMAT " rows before it.  "
					  "Every modified row stays locked until the transaction ends, and the dead rows it leaves behind are not vacuumed until then.%s",
					  estimate, size->rows, mg_xact_rows, mg_wal_sentence(*wal));
	if (action == MG_ACTION_WARN)
		mg_xact_warned = true;
	mg_report_dml(qd, d, message, detail, mg_backfill_recipe);
	return true;
}

/*
 * Rule held_lock_work: a big statement while the transaction holds a
 * write-blocking lock runs, as a whole, under that lock.  Judged like DDL
 * that would take the lock itself: against row_threshold, with the mode,
 * the rule's action and the maintenance window.  Returns true when it
 * warned, with *wal, as for backfill.
 */
static bool
mg_judge_held_lock(const QueryDesc *qd, CmdType operation, double estimate,
				   const MGRelSize *size, int64 *wal, MGDecision *d)
{
	const char *command = mg_dml_command(operation);
	Oid			held_relid;
	LOCKMODE	held_mode;
	const char *held_relname;
	const char *held_stmt;
	int			action;
	char	   *message;
	char	   *detail;

	if (estimate <= (double) mg_row_threshold)
		return false;
	if (!mg_lock_hold_current(&held_relid, &held_mode, &held_relname, &held_stmt))
		return false;
	action = Min(mg_mode, mg_rule_action[MG_RULE_HELD_LOCK_WORK]);
	if (action == MG_ACTION_OFF)
		return false;

	d->rule = MG_RULE_HELD_LOCK_WORK;
	d->rows = estimate;
	d->lockmode = held_mode;
	if (action == MG_ACTION_ENFORCE && mg_in_maintenance_window())
	{
		d->action = MG_VERDICT_WARNED;
		d->why = "maintenance window";
	}
	else if (action == MG_ACTION_ENFORCE)
		d->action = MG_VERDICT_REJECTED;
	else
	{
		d->action = MG_VERDICT_WARNED;
		d->why = mg_relaxed_why(MG_RULE_HELD_LOCK_WORK);
	}

	message = psprintf(_("%s would modify about %.0f rows of table \"%s\" while the transaction holds %s lock on \"%s\""),
					   command, estimate, d->relation, mg_lockmode_name(held_mode),
					   held_relname);
	*wal = mg_wal_estimate_dml(operation, estimate, size);
	detail = psprintf("The lock was taken by \"%s\" and is held until the transaction ends, which blocks %s on \"%s\" for the whole statement.  "
					  "The statement is estimated to modify about %.0f rows, above \"migration_guard.row_threshold\" (%d rows).%s",
					  held_stmt,
					  held_mode == AccessExclusiveLock ? "all reads and writes" : "all writes",
					  held_relname, estimate, mg_row_threshold, mg_wal_sentence(*wal));
	mg_report_dml(qd, d, message, detail,
				  "Commit the schema change first, then modify the rows in batches of a few thousand by key range, each batch in its own transaction.");
	return true;
}

/*
 * Judge one ModifyTable node by both rules, and a statement that either
 * lets run with a warning by the replica gate (mg_replica.c).
 */
static void
mg_judge_modify(const QueryDesc *qd, const ModifyTable *mt)
{
	Oid			relid = mg_modify_target(qd->plannedstmt, mt);
	MGRelSize	size;
	double		estimate;
	int64		wal = 0;
	int64		backfill_wal = 0;
	MGDecision	d;
	MGDecision	backfill;
	bool		backfill_warned = false;
	const char *command = mg_dml_command(mt->operation);
	uint64		seq;

	if (mg_target_exempt(relid))
		return;
	estimate = mg_modify_estimate(mt, relid, &size);
	if (size.nrels == 0)
		return;

	memset(&d, 0, sizeof(d));
	d.command = command;
	d.statement = qd->sourceText;
	d.relation = mg_relation_name(relid);
	d.bytes = size.bytes;
	d.lockmode = RowExclusiveLock;

	/* Each rule fills its own copy. */
	backfill = d;
	if (mg_backfill_row_limit > 0)
		backfill_warned = mg_judge_backfill(qd, mt->operation, estimate, &size,
											&backfill_wal, &backfill);
	if (mg_judge_held_lock(qd, mt->operation, estimate, &size, &wal, &d))
		seq = mg_replica_gate(&d, wal);
	else if (backfill_warned)
		seq = mg_replica_gate(&backfill, backfill_wal);
	else
		return;
	if (seq > 0)
	{
		mg_warned_gate_seq = seq;
		mg_warned_estate = qd->estate;
	}
}

/*
 * Judge every ModifyTable node of a statement: the top one, and those of
 * data-modifying WITH queries, which would otherwise be a way around.
 */
static void
mg_judge_statement(const QueryDesc *qd)
{
	const PlannedStmt *pstmt = qd->plannedstmt;
	ListCell   *lc;

	if (pstmt->planTree && IsA(pstmt->planTree, ModifyTable))
		mg_judge_modify(qd, (const ModifyTable *) pstmt->planTree);
	if (!pstmt->hasModifyingCTE)
		return;
	foreach(lc, pstmt->subplans)
	{
		const Plan *sub = (const Plan *) lfirst(lc);

		if (sub && IsA(sub, ModifyTable))
			mg_judge_modify(qd, (const ModifyTable *) sub);
	}
}

static void
mg_executor_start(QueryDesc *queryDesc, int eflags)
{
	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);

	/* The OLTP path: no limit and no write-blocking lock held. */
	if (mg_backfill_row_limit <= 0 &&
		!mg_lock_hold_current(NULL, NULL, NULL, NULL))
		return;
	if (IsBinaryUpgrade || IsParallelWorker() ||
		(eflags & EXEC_FLAG_EXPLAIN_ONLY) || queryDesc->plannedstmt == NULL)
		return;
	if (!mg_is_dml(queryDesc->operation) && !queryDesc->plannedstmt->hasModifyingCTE)
		return;
	mg_judge_statement(queryDesc);
}

/*
 * Add the rows a DML statement modified to the transaction's total.  Rows
 * modified by data-modifying WITH queries are not in es_processed; their
 * estimate counts instead.
 */
static void
mg_count_statement(const QueryDesc *qd)
{
	const PlannedStmt *pstmt = qd->plannedstmt;
	ListCell   *lc;

	if (pstmt->planTree && IsA(pstmt->planTree, ModifyTable) &&
		!mg_target_exempt(mg_modify_target(pstmt, (const ModifyTable *) pstmt->planTree)))
		mg_xact_rows += qd->estate->es_processed;
	if (!pstmt->hasModifyingCTE)
		return;
	foreach(lc, pstmt->subplans)
	{
		const Plan *sub = (const Plan *) lfirst(lc);
		Oid			relid;
		MGRelSize	size;

		if (sub == NULL || !IsA(sub, ModifyTable))
			continue;
		relid = mg_modify_target(pstmt, (const ModifyTable *) sub);
		if (!mg_target_exempt(relid))
			mg_xact_rows += (uint64) mg_modify_estimate((const ModifyTable *) sub,
													   relid, &size);
	}
}

static void
mg_executor_end(QueryDesc *queryDesc)
{
	if (mg_backfill_row_limit > 0 && !IsBinaryUpgrade && !IsParallelWorker() &&
		queryDesc->estate != NULL && queryDesc->plannedstmt != NULL &&
		!(queryDesc->estate->es_top_eflags & EXEC_FLAG_EXPLAIN_ONLY) &&
		(mg_is_dml(queryDesc->operation) || queryDesc->plannedstmt->hasModifyingCTE))
		mg_count_statement(queryDesc);
	if ((mg_warned_seq > 0 || mg_warned_gate_seq > 0) &&
		queryDesc->estate == mg_warned_estate)
	{
		mg_audit_outcome(mg_warned_seq);
		mg_audit_outcome(mg_warned_gate_seq);
		mg_warned_seq = 0;
		mg_warned_gate_seq = 0;
		mg_warned_estate = NULL;
	}

	if (prev_executor_end)
		prev_executor_end(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

/* The total is per transaction. */
static void
mg_executor_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			mg_xact_rows = 0;
			mg_xact_warned = false;
			mg_warned_seq = 0;
			mg_warned_gate_seq = 0;
			mg_warned_estate = NULL;
			break;
		default:
			break;
	}
}

/*
 * Define the setting and install the hooks; called from _PG_init.
 */
void
mg_executor_install_hooks(void)
{
	DefineCustomIntVariable("migration_guard.backfill_row_limit",
							"Sets the most rows that the DML statements of one transaction may modify.",
							"A statement estimated to take the transaction above it is judged by rule "
							"\"backfill\".  0 disables the limit.",
							&mg_backfill_row_limit,
							0,
							0, INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = mg_executor_start;
	prev_executor_end = ExecutorEnd_hook;
	ExecutorEnd_hook = mg_executor_end;
	RegisterXactCallback(mg_executor_xact_callback, NULL);
}
