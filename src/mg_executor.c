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
#include "nodes/nodeFuncs.h"
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
	if (!reject && qd != NULL)
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
 * The verdict of rule backfill for a transaction whose DML would modify
 * "total" rows; false if the rule has nothing to say.  Shared with check().
 */
bool
mg_backfill_verdict(double total, MGDecision *d)
{
	int			action;

	if (mg_backfill_row_limit <= 0 || total <= (double) mg_backfill_row_limit)
		return false;
	action = Min(mg_mode, mg_rule_action[MG_RULE_BACKFILL]);
	if (action == MG_ACTION_OFF)
		return false;
	d->rule = MG_RULE_BACKFILL;
	d->action = action == MG_ACTION_ENFORCE ? MG_VERDICT_REJECTED : MG_VERDICT_WARNED;
	d->why = action == MG_ACTION_WARN ? mg_relaxed_why(MG_RULE_BACKFILL) : NULL;
	d->rows = total;
	return true;
}

/*
 * Rule backfill: would this node take the transaction above the limit?
 * Returns true when it warned: the statement goes on, and *wal is its WAL
 * estimate (computed only when it is reported: it costs a catalog scan).
 */
static bool
mg_judge_backfill(const QueryDesc *qd, const char *command, CmdType operation,
				  double estimate, const MGRelSize *size, int64 *wal,
				  MGDecision *d)
{
	double		total = (double) mg_xact_rows + estimate;
	char	   *message;
	char	   *detail;

	if (!mg_backfill_verdict(total, d))
		return false;
	if (d->action == MG_VERDICT_WARNED && mg_xact_rows > 0 && mg_xact_warned)
		return false;			/* one warning per transaction is enough */

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
	if (d->action == MG_VERDICT_WARNED)
		mg_xact_warned = true;
	mg_report_dml(qd, d, message, detail, mg_backfill_recipe);
	return true;
}

/*
 * The verdict of rule held_lock_work for a statement estimated to work on
 * "estimate" rows while the transaction holds a write-blocking lock: judged
 * like DDL that would take the lock itself, against row_threshold, with the
 * mode, the rule's action and the maintenance window.  False if the rule
 * has nothing to say.  Shared with check().
 */
bool
mg_held_lock_verdict(double estimate, MGDecision *d)
{
	int			action;

	if (estimate <= (double) mg_row_threshold)
		return false;
	action = Min(mg_mode, mg_rule_action[MG_RULE_HELD_LOCK_WORK]);
	if (action == MG_ACTION_OFF)
		return false;

	d->rule = MG_RULE_HELD_LOCK_WORK;
	d->rows = estimate;
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
	return true;
}

/*
 * Rule held_lock_work: a big statement while the transaction holds a
 * write-blocking lock runs, as a whole, under that lock.  "verb" is what
 * the statement does to the rows ("modify", "read"); size is the modified
 * table's, for the WAL estimate (NULL: it only reads, and writes almost no
 * WAL).  Returns true when it warned (a rejection does not return), with
 * *wal, as for backfill.
 */
static bool
mg_judge_held_lock(const QueryDesc *qd, const char *command, const char *verb,
				   CmdType operation, double estimate, const MGRelSize *size,
				   int64 *wal, MGDecision *d, const char *recipe)
{
	Oid			held_relid;
	LOCKMODE	held_mode;
	const char *held_relname;
	const char *held_stmt;
	char	   *message;
	char	   *detail;

	if (estimate <= (double) mg_row_threshold)
		return false;
	if (!mg_lock_hold_current(&held_relid, &held_mode, &held_relname, &held_stmt))
		return false;
	if (!mg_held_lock_verdict(estimate, d))
		return false;
	d->lockmode = held_mode;

	message = psprintf(_("%s would %s about %.0f rows of table \"%s\" while the transaction holds %s lock on \"%s\""),
					   command, verb, estimate, d->relation,
					   mg_lockmode_name(held_mode), held_relname);
	*wal = size ? mg_wal_estimate_dml(operation, estimate, size) : 0;
	detail = psprintf("The lock was taken by \"%s\" and is held until the transaction ends, which blocks %s on \"%s\" for the whole statement.  "
					  "The statement is estimated to %s about %.0f rows, above \"migration_guard.row_threshold\" (%d rows).%s",
					  held_stmt,
					  held_mode == AccessExclusiveLock ? "all reads and writes" : "all writes",
					  held_relname, verb, estimate, mg_row_threshold,
					  mg_wal_sentence(*wal));
	mg_report_dml(qd, d, message, detail, recipe);
	return true;
}

static const char *const mg_held_modify_recipe =
"Commit the schema change first, then modify the rows in batches of a few thousand by key range, each batch in its own transaction.";

/*
 * The biggest relation scan of a running plan, for rule held_lock_work.
 * A sequential scan reads the whole relation, as measured now (statistics
 * may be stale); an index or bitmap scan reads the rows the planner
 * expects, at most the relation's size.
 */
typedef struct MGScanWork
{
	const EState *estate;
	Oid			relid;
	double		rows;
	int64		bytes;
} MGScanWork;

static bool
mg_scan_work_walker(PlanState *ps, void *context)
{
	MGScanWork *w = (MGScanWork *) context;
	const Plan *plan = ps->plan;
	bool		whole = false;
	Index		scanrelid = 0;

	switch (nodeTag(plan))
	{
		case T_SeqScan:
			whole = true;
			scanrelid = ((const Scan *) plan)->scanrelid;
			break;
		case T_SampleScan:
		case T_IndexScan:
		case T_IndexOnlyScan:
		case T_BitmapHeapScan:
			scanrelid = ((const Scan *) plan)->scanrelid;
			break;
		default:
			break;
	}
	if (scanrelid > 0 && scanrelid <= (Index) list_length(w->estate->es_range_table))
	{
		Oid			relid = exec_rt_fetch(scanrelid, (EState *) w->estate)->relid;
		MGRelSize	size;

		if (!mg_target_exempt(relid))
		{
			double		rows;

			mg_measure(relid, false, &size);
			rows = whole ? size.rows : Min(plan->plan_rows, size.rows);
			if (size.nrels > 0 && rows > w->rows)
			{
				w->relid = relid;
				w->rows = rows;
				w->bytes = size.bytes;
			}
		}
	}
	return planstate_tree_walker(ps, mg_scan_work_walker, context);
}

/*
 * Rule held_lock_work for the rows a statement reads: a full-table SELECT,
 * COPY (query) TO, INSERT ... SELECT from a big table, under a held lock.
 */
static void
mg_judge_scans(const QueryDesc *qd)
{
	MGScanWork	w;
	MGDecision	d;
	int64		wal;

	if (qd->planstate == NULL || qd->estate == NULL)
		return;
	memset(&w, 0, sizeof(w));
	w.estate = qd->estate;
	(void) mg_scan_work_walker(qd->planstate, &w);
	if (!OidIsValid(w.relid))
		return;

	memset(&d, 0, sizeof(d));
	d.command = mg_dml_command(qd->operation);
	d.statement = qd->sourceText;
	d.relation = mg_relation_name(w.relid);
	d.bytes = w.bytes;
	(void) mg_judge_held_lock(qd, d.command, "read", qd->operation, w.rows, NULL,
							  &wal, &d,
							  "Commit the schema change first, then run the query in its own transaction.");
}

/*
 * Judge one ModifyTable node by both rules, and a statement that either
 * lets run with a warning by the replica gate (mg_replica.c).  Returns
 * true if held_lock_work warned.
 */
static bool
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
	bool		held_warned;
	const char *command = mg_dml_command(mt->operation);
	uint64		seq;

	if (mg_target_exempt(relid))
		return false;
	estimate = mg_modify_estimate(mt, relid, &size);
	if (size.nrels == 0)
		return false;

	memset(&d, 0, sizeof(d));
	d.command = command;
	d.statement = qd->sourceText;
	d.relation = mg_relation_name(relid);
	d.bytes = size.bytes;
	d.lockmode = RowExclusiveLock;

	/* Each rule fills its own copy. */
	backfill = d;
	if (mg_backfill_row_limit > 0)
		backfill_warned = mg_judge_backfill(qd, command, mt->operation, estimate,
											&size, &backfill_wal, &backfill);
	held_warned = mg_judge_held_lock(qd, command, "modify", mt->operation,
									 estimate, &size, &wal, &d,
									 mg_held_modify_recipe);

	/* Let run with a warning: unless a replica lags too far behind. */
	if (held_warned)
		seq = mg_replica_gate(&d, wal);
	else if (backfill_warned)
		seq = mg_replica_gate(&backfill, backfill_wal);
	else
		return false;
	if (seq > 0)
	{
		mg_warned_gate_seq = seq;
		mg_warned_estate = qd->estate;
	}
	return held_warned;
}

/*
 * Judge every ModifyTable node of a statement: the top one, and those of
 * data-modifying WITH queries, which would otherwise be a way around.
 * Returns true if rule held_lock_work reported on one of them.
 */
static bool
mg_judge_statement(const QueryDesc *qd)
{
	const PlannedStmt *pstmt = qd->plannedstmt;
	ListCell   *lc;
	bool		held_reported = false;

	if (pstmt->planTree && IsA(pstmt->planTree, ModifyTable))
		held_reported |= mg_judge_modify(qd, (const ModifyTable *) pstmt->planTree);
	if (!pstmt->hasModifyingCTE)
		return held_reported;
	foreach(lc, pstmt->subplans)
	{
		const Plan *sub = (const Plan *) lfirst(lc);

		if (sub && IsA(sub, ModifyTable))
			held_reported |= mg_judge_modify(qd, (const ModifyTable *) sub);
	}
	return held_reported;
}

static void
mg_executor_start(QueryDesc *queryDesc, int eflags)
{
	bool		held;
	bool		reported = false;

	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);

	/* The OLTP path: no limit and no write-blocking lock held. */
	held = mg_lock_hold_current(NULL, NULL, NULL, NULL);
	if (mg_backfill_row_limit <= 0 && !held)
		return;
	if (IsBinaryUpgrade || IsParallelWorker() ||
		(eflags & EXEC_FLAG_EXPLAIN_ONLY) || queryDesc->plannedstmt == NULL)
		return;
	if (mg_is_dml(queryDesc->operation) || queryDesc->plannedstmt->hasModifyingCTE)
		reported = mg_judge_statement(queryDesc);

	/* What it reads under the lock: once per statement is enough. */
	if (held && !reported)
		mg_judge_scans(queryDesc);
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

/*
 * COPY ... FROM loads rows without the executor's ModifyTable, and how many
 * it will load is not known before it reads them.  The rows it loaded count
 * towards the transaction's total once it has run, and a COPY FROM into a
 * transaction already above the limit is judged before it starts, like a
 * DML statement estimated at no rows.  A COPY that PostgreSQL would refuse
 * to the role is left to it (mg_statement_permitted()).
 */
static Oid
mg_copy_from_target(const CopyStmt *stmt)
{
	Oid			relid;

	if (mg_backfill_row_limit <= 0 || !stmt->is_from || stmt->relation == NULL ||
		IsBinaryUpgrade || IsParallelWorker())
		return InvalidOid;
	relid = mg_lookup_relation(stmt->relation);
	if (!OidIsValid(relid) || mg_target_exempt(relid))
		return InvalidOid;
	return relid;
}

void
mg_backfill_before_copy(const CopyStmt *stmt, const char *statement)
{
	Oid			relid;
	MGRelSize	size;
	MGDecision	d;
	int64		wal;

	if (mg_backfill_row_limit <= 0 || mg_xact_rows <= (uint64) mg_backfill_row_limit)
		return;
	relid = mg_copy_from_target(stmt);
	if (!OidIsValid(relid) || !mg_statement_permitted((Node *) stmt))
		return;
	mg_measure(relid, true, &size);
	memset(&d, 0, sizeof(d));
	d.command = "COPY";
	d.statement = statement;
	d.relation = mg_relation_name(relid);
	d.bytes = size.bytes;
	d.lockmode = RowExclusiveLock;
	(void) mg_judge_backfill(NULL, "COPY", CMD_INSERT, 0, &size, &wal, &d);
}

void
mg_backfill_after_copy(const CopyStmt *stmt, uint64 rows)
{
	if (OidIsValid(mg_copy_from_target(stmt)))
		mg_xact_rows += rows;
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
