/*-------------------------------------------------------------------------
 *
 * migration_guard.h
 *		Declarations shared by the files of migration_guard.
 *
 * The guard works in three steps, each in its own set of files:
 *
 *	1. mg_rules_*.c look at one utility statement, without executing or
 *	   locking anything, and produce "findings": a relation that the
 *	   statement would lock in a mode that blocks writes while doing work
 *	   proportional to the relation's size, with the reason and the safe
 *	   recipe.
 *	2. mg_size.c measures each finding's relation (and the partitions or
 *	   inheritance children the statement touches) from the files on disk,
 *	   without taking a lock.
 *	3. mg_policy.c compares the measurement with the thresholds, applies the
 *	   mode and the per-rule action, and rejects or warns.
 *
 * mg_utility.c drives the three steps from the ProcessUtility hook, and from
 * the object access hook as a second line for table rewrites that the static
 * analysis did not predict.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/migration_guard.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MIGRATION_GUARD_H
#define MIGRATION_GUARD_H

#include "postgres.h"

#include "nodes/parsenodes.h"
#include "storage/lockdefs.h"
#include "utils/relcache.h"

#include "mg_compat.h"

/*
 * SQLSTATE of every rejection by the guard.  Class "MG" is not used by
 * PostgreSQL (implementation-defined classes start with 5-9 or I-Z), so
 * migration tools can catch exactly our rejections.
 */
#define ERRCODE_MG_UNSAFE_DDL	MAKE_SQLSTATE('M','G','0','0','1')

/* The rules.  Their names are stable: errors, audit and README use them. */
typedef enum MGRule
{
	MG_RULE_TABLE_REWRITE,
	MG_RULE_BLOCKING_INDEX_BUILD,
	MG_RULE_VALIDATION_SCAN,
	MG_RULE_INVALID_INDEX_EXISTS,	/* size-independent, see mg_policy.c */
	MG_RULE_CONCURRENT_INDEX_TIMEOUT,	/* warns by default */
	MG_RULE_BACKFILL,			/* DML rows, see mg_executor.c */
	MG_RULE_HELD_LOCK_WORK		/* DML under a held lock, ditto */
} MGRule;

#define MG_NUM_RULES (MG_RULE_HELD_LOCK_WORK + 1)

/* Values of migration_guard.mode and of the per-rule actions, weakest first */
typedef enum MGAction
{
	MG_ACTION_OFF,
	MG_ACTION_WARN,
	MG_ACTION_ENFORCE
} MGAction;

/*
 * One relation that a statement would hold under a write-blocking lock while
 * doing work that grows with its size.
 */
typedef struct MGFinding
{
	MGRule		rule;
	Oid			relid;			/* relation whose size decides */
	bool		recurse;		/* add up partitions and inheritance children */
	List	   *relids;			/* if not NIL: exactly these relations */
	LOCKMODE	lockmode;		/* lock held while the work runs */
	char	   *reason;			/* DETAIL sentence: what the work is */
	char	   *hint;			/* HINT: the safe recipe for this case */
} MGFinding;

/* What the rules found in one statement */
typedef struct MGAnalysis
{
	const char *command;		/* command tag, e.g. "ALTER TABLE" */
	const char *query_string;	/* source text, for error positions */
	const char *statement;		/* this statement's text, for the audit */
	List	   *audit_seqs;		/* audit entries of statements that ran */
	List	   *findings;		/* list of MGFinding * */
} MGAnalysis;

/* Size of a finding's relations, as measured by mg_size.c */
typedef struct MGRelSize
{
	double		rows;			/* estimated live rows */
	int64		bytes;			/* heap plus TOAST on disk */
	int			nrels;			/* relations measured (not exempt) */
	List	   *relids;			/* OIDs of every relation looked at */
} MGRelSize;

/* What the policy decided for one finding */
typedef enum MGVerdict
{
	MG_VERDICT_ALLOWED,			/* ran, though the default policy rejects it */
	MG_VERDICT_WARNED,
	MG_VERDICT_REJECTED
} MGVerdict;

/* Values of migration_guard.audit: which verdicts are kept */
typedef enum MGAuditLevel
{
	MG_AUDIT_OFF,
	MG_AUDIT_REJECTED,
	MG_AUDIT_WARNED,			/* rejected and warned */
	MG_AUDIT_ALL				/* also allowed by a relaxed policy */
} MGAuditLevel;

/* One decision, as the audit trail records it */
typedef struct MGDecision
{
	MGRule		rule;
	MGVerdict	action;
	const char *why;			/* what relaxed the policy, or NULL */
	const char *command;
	const char *statement;
	const char *relation;
	double		rows;
	int64		bytes;
	LOCKMODE	lockmode;
} MGDecision;

/* Relations a statement locks in a write-blocking mode (mg_lock_timeout.c) */
#define MG_MAX_LOCK_TARGETS 8
typedef struct MGLockTargets
{
	int			n;
	Oid			relid[MG_MAX_LOCK_TARGETS];
	LOCKMODE	mode[MG_MAX_LOCK_TARGETS];
	char	   *relname[MG_MAX_LOCK_TARGETS];	/* for the blocker report */
} MGLockTargets;

/* Boot values of the thresholds: "the default policy" in the audit */
#define MG_DEFAULT_ROW_THRESHOLD		100000
#define MG_DEFAULT_SIZE_THRESHOLD_KB	(16 * 1024)

/* migration_guard.c: policy settings */
extern int	mg_mode;
extern int	mg_row_threshold;
extern int	mg_size_threshold_kb;
extern int	mg_rule_action[MG_NUM_RULES];
extern bool mg_preloaded;
extern bool mg_static_analysis;

/* mg_lock_timeout.c */
extern int	mg_lock_timeout_ms;
extern bool mg_lock_targets(Node *stmt, MGLockTargets *targets);
extern int	mg_apply_lock_timeout(void);
extern void mg_restore_lock_timeout(int nestlevel);
extern ErrorData *mg_report_lock_failure(const MGLockTargets *targets,
										 MemoryContext cxt);
extern LOCKMODE mg_parse_lock_mode(const char *name);

/* mg_lock_acquire.c */
extern void mg_define_lock_wait_gucs(void);
extern void mg_acquire_lock_targets(Node *stmt, const MGLockTargets *targets);

/* Values of migration_guard.audit_on_failure */
typedef enum MGAuditFailure
{
	MG_AUDIT_FAILURE_CONTINUE,
	MG_AUDIT_FAILURE_REJECT
} MGAuditFailure;

/* mg_audit.c: the trail's internals are in mg_audit.h */
extern int	mg_audit_level;
extern int	mg_audit_max_size_kb;
extern int	mg_audit_statement_max;
extern int	mg_audit_rate_limit;
extern int	mg_audit_on_failure;
extern bool mg_log_decisions;
extern char *mg_override_reason;
extern void mg_audit_define_gucs(void);
extern void mg_audit_install_hooks(void);
extern uint64 mg_audit_decision(const MGDecision *d);
extern uint64 mg_audit_lock_wait(const char *command, const char *statement,
								 const char *relation, LOCKMODE lockmode,
								 const char *blockers);
extern void mg_audit_outcome(uint64 seq);

/* A lock-hold audit record, composed where catalog access is allowed */
typedef struct MGHoldRecord
{
	char	   *fields;			/* who, command, statement, relation, lock */
	char	   *log;			/* the same for the server log line */
	Oid			session_user;
} MGHoldRecord;
extern void mg_audit_lock_hold_prepare(MGHoldRecord *rec, const char *command,
									   const char *statement, const char *relation,
									   LOCKMODE lockmode);
extern uint64 mg_audit_lock_hold(const MGHoldRecord *rec, bool terminated,
								 int64 held_ms, int budget_ms);

/* mg_lock_hold.c */
extern int	mg_lock_hold_timeout_ms;
extern void mg_lock_hold_init(void);
extern void mg_lock_hold_after_statement(const MGLockTargets *targets,
										 const char *command,
										 const char *statement);
extern bool mg_lock_hold_current(Oid *relid, LOCKMODE *mode,
								 const char **relname, const char **statement);

/* mg_executor.c */
extern int	mg_backfill_row_limit;
extern void mg_executor_install_hooks(void);
extern void mg_backfill_before_copy(const CopyStmt *stmt, const char *statement);
extern void mg_backfill_after_copy(const CopyStmt *stmt, uint64 rows);

/* mg_encoding.c */
extern char *mg_text_replace_unconvertible(const char *s, int src, int dst,
										   bool convert);

/* mg_exempt.c */
extern const char *mg_tool_private_relation(Oid relid);

/* mg_sql.c */
extern void mg_require_preloaded(void);
extern char *mg_quote_arg(const char *s, int max_bytes);

/* mg_window.c */
extern char *mg_maintenance_window;
extern char *mg_maintenance_window_timezone;
extern void mg_define_window_gucs(void);
extern bool mg_in_maintenance_window(void);

/* mg_utility.c */
extern void mg_install_hooks(void);
extern const char *mg_current_command(void);
extern const char *mg_current_statement_text(void);
extern bool mg_current_is_top_level(void);

/* mg_policy.c */
extern const char *mg_rule_name(MGRule rule);
extern const char *mg_rule_guc_name(MGRule rule);
extern int	mg_rule_default_action(MGRule rule);
extern bool mg_rule_is_size_independent(MGRule rule);
extern const char *mg_lockmode_name(LOCKMODE mode);
extern const char *mg_verdict_name(MGVerdict verdict);
extern const char *mg_verdict_mode_name(void);
extern void mg_judge_findings(MGAnalysis *analysis, List **judged_relids);
extern bool mg_decide(const MGAnalysis *analysis, const MGFinding *f,
					  MGRelSize *size, MGDecision *d);
extern char *mg_finding_message(const MGAnalysis *analysis, const MGFinding *f);
extern char *mg_finding_detail(const MGFinding *f, const MGRelSize *size);
extern char *mg_finding_hint(const MGFinding *f, bool enforced);

/* mg_size.c */
extern void mg_measure(Oid relid, bool recurse, MGRelSize *size);
extern void mg_measure_list(List *relids, MGRelSize *size);
extern bool mg_is_big(const MGRelSize *size);
extern bool mg_is_above(const MGRelSize *size, int row_threshold,
						int size_threshold_kb);
extern char *mg_relation_name(Oid relid);
extern Oid	mg_relation_am(Oid relid);

/* mg_analyze.c: statement dispatch */
extern bool mg_statement_is_analysable(Node *stmt);
extern void mg_analyze_statement(Node *stmt, MGAnalysis *analysis);
extern void mg_add_finding(MGAnalysis *analysis, MGRule rule, Oid relid,
						   bool recurse, List *relids, LOCKMODE lockmode,
						   char *reason, char *hint);
extern Relation mg_open_relation(Oid relid);
extern void mg_close_relation(Relation rel);

/* mg_permission.c: what the role may run, as PostgreSQL checks it */
typedef enum MGMaintenance
{
	MG_MAINTAIN_TABLE,			/* CLUSTER, REINDEX TABLE, REFRESH: MAINTAIN */
	MG_MAINTAIN_VACUUM,			/* VACUUM: MAINTAIN, or database owner */
	MG_MAINTAIN_IN_SCHEMA		/* a table of REINDEX SCHEMA/DATABASE/SYSTEM */
} MGMaintenance;

extern bool mg_statement_permitted(Node *stmt);
extern bool mg_owns_relation(Oid relid);
extern bool mg_may_maintain(Oid relid, MGMaintenance kind);
extern List *mg_maintainable_relations(List *relids, MGMaintenance kind);

/* mg_rules_alter_table.c */
extern void mg_rules_alter_table(AlterTableStmt *stmt, MGAnalysis *analysis);
extern Oid	mg_lookup_relation(const RangeVar *rv);

/* mg_rules_column.c */
extern bool mg_lookup_type(const TypeName *typeName, Oid *typid, int32 *typmod);
extern bool mg_column_def_has_default(ColumnDef *def);
extern void mg_rule_add_column(Relation rel, ColumnDef *def, LOCKMODE lockmode,
							   bool recurse, bool fk_validated,
							   MGAnalysis *analysis);
extern void mg_rule_alter_column_type(Relation rel, AlterTableCmd *cmd,
									  LOCKMODE lockmode, bool recurse,
									  MGAnalysis *analysis);

/* mg_rules_constraint.c */
extern bool mg_constraint_implied(Relation rel, List *test, bool use_not_null);
extern void mg_rule_add_constraint(Relation rel, Constraint *con,
								   LOCKMODE lockmode, bool recurse,
								   MGAnalysis *analysis);
extern void mg_rule_set_not_null(Relation rel, const char *colname,
								 LOCKMODE lockmode, bool recurse,
								 MGAnalysis *analysis);
extern void mg_rules_alter_domain(AlterDomainStmt *stmt, MGAnalysis *analysis);

/* mg_rules_validate.c */
extern void mg_rule_validate_constraint(Relation rel, const char *conname,
										LOCKMODE lockmode, bool recurse,
										MGAnalysis *analysis);

/* mg_rules_foreign_key.c */
extern List *mg_fk_checked_relations(Oid fkrelid, bool recurse, Oid pkoid);
extern void mg_rule_attach_foreign_keys(Relation parent, Relation attachrel,
										MGAnalysis *analysis);
extern void mg_rule_alter_type_foreign_keys(Relation rel, AttrNumber attnum,
											Oid newtype, bool rewrite,
											const char *change,
											LOCKMODE lockmode,
											MGAnalysis *analysis);
extern void mg_rule_detach_partition(Relation parent, PartitionCmd *cmd,
									 LOCKMODE lockmode, MGAnalysis *analysis);

/* mg_rules_copy.c */
extern void mg_rules_copy(CopyStmt *stmt, MGAnalysis *analysis);

/* mg_rules_partition.c */
extern void mg_rule_attach_partition(Relation parent, PartitionCmd *cmd,
									 MGAnalysis *analysis);
extern void mg_rules_create_partition(CreateStmt *stmt, MGAnalysis *analysis);

/* mg_rules_index.c */
extern bool mg_option_is_set(List *options, const char *name);
extern Oid	mg_equivalent_index(Oid relid, bool unique, Oid amoid,
								List *colnames);
extern void mg_rules_create_index(IndexStmt *stmt, MGAnalysis *analysis);
extern void mg_rules_reindex(ReindexStmt *stmt, MGAnalysis *analysis);

/* mg_rules_maintenance.c */
extern List *mg_list_relations(Oid nspoid, bool catalogs_only);
extern void mg_rules_vacuum(VacuumStmt *stmt, MGAnalysis *analysis);
#if MG_HAVE_REPACK
extern void mg_rules_repack(RepackStmt *stmt, MGAnalysis *analysis);
#else
extern void mg_rules_cluster(ClusterStmt *stmt, MGAnalysis *analysis);
#endif
extern void mg_rules_refresh_matview(RefreshMatViewStmt *stmt,
									 MGAnalysis *analysis);
extern void mg_rules_move_all(AlterTableMoveAllStmt *stmt,
							  MGAnalysis *analysis);

#endif							/* MIGRATION_GUARD_H */
