/*-------------------------------------------------------------------------
 *
 * migration_guard.h
 *		Declarations shared by the files of migration_guard.
 *
 * The guard works in three steps, each in its own set of files:
 *
 *	1. The analysis (mg_analyze.c) of one utility statement, without
 *	   executing it or locking anything stronger than catalog reads, yields
 *	   one result, MGAnalysis, that everything else reads:
 *	   - its lock targets: the existing relations it locks in a mode that
 *	     blocks writes, in PostgreSQL's order, read by the lock timeout
 *	     and blocker report (mg_lock_timeout.c), the queue-free acquisition
 *	     (mg_lock_acquire.c) and the lock-hold budget (mg_lock_hold.c);
 *	   - its "findings": a relation that the statement would lock in a
 *	     mode that blocks writes while doing work proportional to the
 *	     relation's size, with the reason and the safe recipe, read by the
 *	     policy, the audit and check() (mg_check*.c).
 *	   Each mg_rules_*.c file contributes both for the statements of its
 *	   family (mg_locks_*() and mg_rules_*()); mg_rules_lock_only.c has the
 *	   locks of the statements that no rule judges.
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
 * No two files call each other, directly or in a loop.  The lowest level
 * calls no other file: mg_names.c (names of rules, lock modes and verdicts,
 * lock-mode parsing, quoting), mg_statement.c (the statement being
 * executed), mg_size.c, mg_encoding.c, mg_exempt.c.  Just above them is
 * mg_relation.c (helpers of the rules: findings, lock targets, opening and
 * looking up relations); then mg_permission.c, mg_partition_bound.c and
 * the rules files, which call each other only downwards
 * (mg_rules_alter_table.c hands subcommands to the column, constraint and
 * partition files); then mg_analyze.c; the audit, the policy, the lock
 * code, check() and the hooks on top.  A helper that two files need, where
 * neither may call the other, goes down a level.
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

#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
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
	MG_RULE_HELD_LOCK_WORK,		/* DML under a held lock, ditto */
	MG_RULE_REPLICA_LAG			/* WAL while replicas lag, mg_replica.c */
} MGRule;

#define MG_NUM_RULES (MG_RULE_REPLICA_LAG + 1)

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
	Oid			database;		/* if valid: the work copies this database's
								 * files (relid is then invalid) */
	LOCKMODE	lockmode;		/* lock held while the work runs */
	char	   *reason;			/* DETAIL sentence: what the work is */
	char	   *hint;			/* HINT: the safe recipe for this case */
} MGFinding;

/*
 * The relations a statement locks in a write-blocking mode (SHARE or
 * stronger), in the order PostgreSQL locks them first, as the rules file
 * of the statement computes them (mg_analyze_locks()).  The lock timeout,
 * the blocker report and its audit record, the queue-free acquisition and
 * the lock-hold budget all read them.  The rest says which of them the
 * guard may take ahead of PostgreSQL without changing PostgreSQL's error
 * or lock order (mg_lock_acquire.c).
 */
#define MG_MAX_LOCK_TARGETS 8
typedef struct MGLockTargets
{
	int			n;
	Oid			relid[MG_MAX_LOCK_TARGETS];
	LOCKMODE	mode[MG_MAX_LOCK_TARGETS];
	char	   *relname[MG_MAX_LOCK_TARGETS];	/* for the blocker report */
	/* PostgreSQL lets the role lock target i if it owns it ... */
	bool		owner_may[MG_MAX_LOCK_TARGETS];
	/* ... or holds one of these privileges on it */
	AclMode		privilege[MG_MAX_LOCK_TARGETS];
	const char *relkinds;		/* relkinds the statement accepts; NULL: any */
	LOCKMODE	index_heap_mode;	/* an index target: its table is locked
									 * first in this mode; NoLock: leave index
									 * targets to PostgreSQL */
	LOCKMODE	index_mode;		/* ... and then the index in this one */
	bool		parent_first;	/* a partition's parent is locked before it */
	bool		before_recursion;	/* every target is locked before any
									 * inheritance child or view base */
	bool		not_ahead;		/* take none ahead: PostgreSQL's own single
								 * attempt, or its own error, comes first */
} MGLockTargets;

/* What the analysis found in one statement: findings and locks */
typedef struct MGAnalysis
{
	const char *command;		/* command tag, e.g. "ALTER TABLE" */
	const char *query_string;	/* source text, for error positions */
	const char *statement;		/* this statement's text, for the audit */
	List	   *audit_seqs;		/* audit entries of statements that ran */
	List	   *findings;		/* list of MGFinding * */
	bool		analysable;		/* rules apply (mg_analyze_locks()) */
	MGLockTargets locks;		/* what it locks, in PostgreSQL's order */
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
extern int	mg_apply_lock_timeout(void);
extern void mg_restore_lock_timeout(int nestlevel);
extern ErrorData *mg_report_lock_failure(const MGLockTargets *targets,
										 MemoryContext cxt);

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

/* mg_audit_copy.c: the copy of the trail into migration_guard.audit_log */
extern void mg_audit_copy_define_guc(void);
extern void mg_audit_copy_register(void);
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
extern void mg_lock_hold_simulate(Oid relid, LOCKMODE mode, const char *relname,
								  const char *statement);
extern bool mg_lock_hold_simulated(void);
extern bool mg_add_held_lock_finding(MGAnalysis *analysis, Oid relid,
									 bool recurse, const char *work, char *hint);

/* mg_executor.c */
extern int	mg_backfill_row_limit;
extern void mg_executor_install_hooks(void);
extern bool mg_backfill_verdict(double total, MGDecision *d);
extern bool mg_held_lock_verdict(double estimate, MGDecision *d);
extern void mg_backfill_before_copy(const CopyStmt *stmt, const char *statement);
extern void mg_backfill_after_copy(const CopyStmt *stmt, uint64 rows);

/* mg_names.c: the lowest level, calls no other file */
extern const char *mg_rule_name(MGRule rule);
extern const char *mg_rule_guc_name(MGRule rule);
extern int	mg_rule_default_action(MGRule rule);
extern bool mg_rule_is_size_independent(MGRule rule);
extern const char *mg_lockmode_name(LOCKMODE mode);
extern const char *mg_verdict_name(MGVerdict verdict);
extern const char *mg_verdict_mode_name(void);
extern LOCKMODE mg_parse_lock_mode(const char *name);
extern char *mg_quote_arg(const char *s, int max_bytes);
extern char *mg_finding_hint(const MGFinding *f, bool enforced);

/* mg_encoding.c */
extern char *mg_text_replace_unconvertible(const char *s, int src, int dst,
										   bool convert);

/* mg_exempt.c */
extern const char *mg_tool_private_relation(Oid relid);

/* mg_sql.c */
extern void mg_require_preloaded(void);
extern void mg_require_arg(FunctionCallInfo fcinfo, int argno, const char *argname);

/* mg_replica.c */
extern int	mg_max_replica_lag_kb;
extern int	mg_max_slot_retained_wal_kb;
extern void mg_define_replica_gucs(void);
extern int64 mg_wal_estimate(const MGAnalysis *analysis, const MGFinding *f,
							 const MGRelSize *size);
extern int64 mg_wal_estimate_dml(CmdType operation, double rows,
								 const MGRelSize *size);
extern char *mg_wal_sentence(int64 wal_bytes);
extern uint64 mg_replica_gate(const MGDecision *d, int64 wal_bytes);

/* mg_window.c */
extern char *mg_maintenance_window;
extern char *mg_maintenance_window_timezone;
extern void mg_define_window_gucs(void);
extern bool mg_in_maintenance_window(void);

/* mg_utility.c */
extern void mg_install_hooks(void);

/*
 * What the second line needs to know about the statement being executed.
 * A stack, because utility statements nest (a DO block runs ALTER TABLE).
 */
typedef struct MGStatement
{
	const char *command;		/* command tag */
	bool		transient_heap_ok;	/* REFRESH ... CONCURRENTLY and the like */
	List	   *judged_relids;	/* relations already judged for it */
	List	   *audit_seqs;		/* audit entries to mark completed */
	const char *statement;		/* its text, for the audit, if computed */
	PlannedStmt *pstmt;			/* to compute it later */
	const char *query_string;
	MemoryContext cxt;			/* where judged_relids lives */
	bool		top_level;		/* PROCESS_UTILITY_TOPLEVEL */
	struct MGStatement *outer;
} MGStatement;

/* mg_statement.c: the statement being executed, calls no other file */
extern void mg_statement_push(MGStatement *stmt);
extern void mg_statement_pop(MGStatement *stmt);
extern MGStatement *mg_statement_current(void);
extern const char *mg_statement_text(PlannedStmt *pstmt, const char *queryString);
extern const char *mg_current_command(void);
extern const char *mg_current_statement_text(void);
extern bool mg_current_statement_is_top_level(void);
extern bool mg_current_is_top_level(void);

/* mg_policy.c */
extern void mg_judge_findings(MGAnalysis *analysis, List **judged_relids);
extern bool mg_decide(const MGAnalysis *analysis, const MGFinding *f,
					  MGRelSize *size, MGDecision *d);
extern char *mg_finding_message(const MGAnalysis *analysis, const MGFinding *f);
extern char *mg_finding_detail(const MGFinding *f, const MGRelSize *size,
							   int64 wal_bytes);
extern char *mg_finding_object_name(const MGFinding *f);

/* mg_size.c */
extern void mg_measure(Oid relid, bool recurse, MGRelSize *size);
extern void mg_measure_list(List *relids, MGRelSize *size);
extern void mg_measure_database(Oid dboid, MGRelSize *size);
extern bool mg_is_big(const MGRelSize *size);
extern bool mg_is_above(const MGRelSize *size, int row_threshold,
						int size_threshold_kb);
extern char *mg_relation_name(Oid relid);
extern Oid	mg_relation_am(Oid relid);
extern int64 mg_index_bytes(List *relids, int *nindexes);

/* mg_relation.c: helpers of the rules, call only mg_size.c */
extern void mg_add_finding(MGAnalysis *analysis, MGRule rule, Oid relid,
						   bool recurse, List *relids, LOCKMODE lockmode,
						   char *reason, char *hint);
extern void mg_add_database_finding(MGAnalysis *analysis, MGRule rule,
									Oid dboid, char *reason, char *hint);
extern Relation mg_open_relation(Oid relid);
extern void mg_close_relation(Relation rel);
extern Oid	mg_lookup_relation(const RangeVar *rv);
extern bool mg_option_is_set(List *options, const char *name);
extern bool mg_add_lock_target(MGLockTargets *targets, RangeVar *rv,
							   LOCKMODE mode, bool owner_may,
							   AclMode privilege);
extern const char *mg_object_type_relkinds(ObjectType objtype);

/* mg_analyze.c: the analysis, dispatched on the statement type */
extern void mg_analysis_init(MGAnalysis *analysis, const char *command,
							 const char *query_string, const char *statement);
extern bool mg_analyze_locks(Node *stmt, MGAnalysis *analysis);
extern void mg_analyze_statement(Node *stmt, MGAnalysis *analysis);

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
extern void mg_locks_alter_table(AlterTableStmt *stmt, MGLockTargets *targets);

/* mg_rules_column.c */
extern bool mg_lookup_type(const TypeName *typeName, Oid *typid, int32 *typmod);
extern bool mg_column_def_has_default(ColumnDef *def);
extern bool mg_domain_check_rejected(Node *raw_expr);
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
extern void mg_rule_alter_constraint(Relation rel, Node *def, LOCKMODE lockmode,
									 bool recurse, MGAnalysis *analysis);
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

/* mg_partition_bound.c: a partition bound, read without evaluating it */
/* What the guard can make of a partition bound */
typedef enum MGBound
{
	MG_BOUND_OK,				/* converted exactly as PostgreSQL would */
	MG_BOUND_UNKNOWN,			/* not readable without evaluating it */
	MG_BOUND_INVALID			/* PostgreSQL rejects the statement */
} MGBound;

extern MGBound mg_transform_bound(Relation parent, PartitionBoundSpec *raw,
								  PartitionBoundSpec **result);
extern bool mg_new_bound_is_valid(Relation parent, PartitionBoundSpec *spec);

/* mg_rules_partition.c */
extern void mg_rule_attach_partition(Relation parent, PartitionCmd *cmd,
									 MGAnalysis *analysis);
extern void mg_rules_create_partition(CreateStmt *stmt, MGAnalysis *analysis);
extern void mg_locks_create_partition(CreateStmt *stmt, MGLockTargets *targets);

/* mg_rules_index.c */
extern Oid	mg_equivalent_index(Oid relid, bool unique, Oid amoid,
								List *colnames);
extern void mg_rules_create_index(IndexStmt *stmt, MGAnalysis *analysis);
extern void mg_rules_reindex(ReindexStmt *stmt, MGAnalysis *analysis);
extern void mg_locks_create_index(IndexStmt *stmt, MGLockTargets *targets);
extern void mg_locks_reindex(ReindexStmt *stmt, MGLockTargets *targets);

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
extern void mg_locks_refresh_matview(RefreshMatViewStmt *stmt,
									 MGLockTargets *targets);

/* mg_rules_lock_only.c: locks of the statements that no rule judges */
extern void mg_locks_truncate(TruncateStmt *stmt, MGLockTargets *targets);
extern void mg_locks_lock_table(LockStmt *stmt, MGLockTargets *targets);
extern void mg_locks_create_trigger(CreateTrigStmt *stmt,
									MGLockTargets *targets);
extern void mg_locks_create_rule(RuleStmt *stmt, MGLockTargets *targets);
extern void mg_locks_create_policy(CreatePolicyStmt *stmt,
								   MGLockTargets *targets);
extern void mg_locks_alter_policy(AlterPolicyStmt *stmt,
								  MGLockTargets *targets);
extern void mg_locks_rename(RenameStmt *stmt, MGLockTargets *targets);
extern void mg_locks_set_schema(AlterObjectSchemaStmt *stmt,
								MGLockTargets *targets);
extern void mg_locks_drop(DropStmt *stmt, MGLockTargets *targets);

extern void mg_rules_alter_database(AlterDatabaseStmt *stmt,
									MGAnalysis *analysis);

#endif							/* MIGRATION_GUARD_H */
