/*-------------------------------------------------------------------------
 *
 * migration_guard.c
 *		Module entry point: policy settings and hook installation.
 *
 * migration_guard must be loaded through shared_preload_libraries.  Loaded
 * any other way (LOAD, or a call of one of its SQL functions) it installs no
 * hook at all, and its SQL functions refuse to run, so that the guard is never
 * silently active in one session and absent in the others.
 *
 * Every policy setting is PGC_SUSET: a migration role cannot relax it with
 * SET, set_config(), a function's SET clause or ALTER ROLE; a superuser can,
 * and can delegate that right with GRANT SET ON PARAMETER.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/migration_guard.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "migration_guard.h"
#include "mg_compat.h"

MG_MODULE_MAGIC;

/*---- GUC variables ----*/

/* migration_guard.mode: master switch */
int			mg_mode = MG_ACTION_ENFORCE;

/* migration_guard.row_threshold: a relation above this many rows is big */
int			mg_row_threshold = MG_DEFAULT_ROW_THRESHOLD;

/* migration_guard.size_threshold: ... or above this size (kB, 0 = off) */
int			mg_size_threshold_kb = MG_DEFAULT_SIZE_THRESHOLD_KB;

/*
 * migration_guard.<rule>_action: what to do when a rule fires.  The boot
 * values are mg_rule_default_action(); these initial values only have to
 * match them until the GUCs are defined.
 */
int			mg_rule_action[MG_NUM_RULES] = {
	MG_ACTION_ENFORCE, MG_ACTION_ENFORCE, MG_ACTION_ENFORCE,
	MG_ACTION_ENFORCE, MG_ACTION_WARN, MG_ACTION_ENFORCE, MG_ACTION_ENFORCE,
	MG_ACTION_ENFORCE
};

/* migration_guard.static_analysis: testing knob for the rewrite detector */
bool		mg_static_analysis = true;

/* Were we loaded by shared_preload_libraries?  SQL functions check this. */
bool		mg_preloaded = false;

static const struct config_enum_entry mg_audit_options[] = {
	{"off", MG_AUDIT_OFF, false},
	{"rejected", MG_AUDIT_REJECTED, false},
	{"warned", MG_AUDIT_WARNED, false},
	{"all", MG_AUDIT_ALL, false},
	{NULL, 0, false}
};

static const struct config_enum_entry mg_action_options[] = {
	{"off", MG_ACTION_OFF, false},
	{"warn", MG_ACTION_WARN, false},
	{"enforce", MG_ACTION_ENFORCE, false},
	{NULL, 0, false}
};

void		_PG_init(void);

/*
 * Longest migration_guard.override_reason kept, in bytes.  Any role may set
 * it and it is copied into every audit entry of the session, so it needs a
 * bound; 1 kB holds a ticket number and a sentence or two.
 */
#define MG_OVERRIDE_REASON_MAX 1024

/*
 * Check hook of migration_guard.override_reason: cut a longer value to
 * MG_OVERRIDE_REASON_MAX bytes at a character boundary.
 *
 * Cutting rather than rejecting: the reason only annotates the audit, so a
 * long one must not fail the migration that sets it, and a rejection would
 * make PostgreSQL repeat the whole value in its "invalid value for
 * parameter" error (and in the server log).  SHOW shows what is kept.
 */
static bool
mg_check_override_reason(char **newval, void **extra, GucSource source)
{
	size_t		len;
	int			cut;
	char	   *kept;

	if (*newval == NULL)
		return true;
	len = strlen(*newval);
	if (len <= MG_OVERRIDE_REASON_MAX)
		return true;

	if (GetDatabaseEncoding() == PG_SQL_ASCII)
	{
		/*
		 * Encoding unknown (the postmaster, or a SQL_ASCII database): do not
		 * split what looks like a UTF-8 sequence.
		 */
		cut = MG_OVERRIDE_REASON_MAX;
		while (cut > 0 && ((unsigned char) (*newval)[cut] & 0xC0) == 0x80)
			cut--;
	}
	else
		cut = pg_mbcliplen(*newval, (int) len, MG_OVERRIDE_REASON_MAX);

	kept = (char *) mg_guc_malloc(cut + 1);
	if (kept == NULL)
		return false;
	memcpy(kept, *newval, cut);
	kept[cut] = '\0';
	mg_guc_free(*newval);
	*newval = kept;
	return true;
}

/*
 * Define the GUCs.  Policy is PGC_SUSET throughout: see the file header.
 */
static void
mg_define_gucs(void)
{
	MGRule		rule;

	DefineCustomEnumVariable("migration_guard.mode",
							 "Sets what migration_guard does with unsafe DDL on big tables.",
							 "\"enforce\" rejects the statement, \"warn\" lets it run with a warning, "
							 "\"off\" disables the guard.  Per-rule actions can only weaken it.",
							 &mg_mode,
							 MG_ACTION_ENFORCE,
							 mg_action_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("migration_guard.row_threshold",
							"Sets the estimated row count above which a relation is big.",
							"DDL that holds a write-blocking lock while doing work "
							"proportional to the size of a big relation is guarded.  "
							"0 makes every non-empty relation big.",
							&mg_row_threshold,
							MG_DEFAULT_ROW_THRESHOLD,
							0, INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migration_guard.size_threshold",
							"Sets the on-disk size above which a relation is big.",
							"Counts the table and its TOAST table.  0 disables the size "
							"threshold, leaving only the row threshold.",
							&mg_size_threshold_kb,
							MG_DEFAULT_SIZE_THRESHOLD_KB,
							0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	for (rule = 0; rule < MG_NUM_RULES; rule++)
	{
		DefineCustomEnumVariable(mg_rule_guc_name(rule),
								 psprintf("Sets the action for rule \"%s\".",
										  mg_rule_name(rule)),
								 "\"enforce\" rejects, \"warn\" warns, \"off\" ignores the rule.  "
								 "The weaker of this and \"migration_guard.mode\" applies.",
								 &mg_rule_action[rule],
								 mg_rule_default_action(rule),
								 mg_action_options,
								 PGC_SUSET,
								 0,
								 NULL, NULL, NULL);
	}

	DefineCustomIntVariable("migration_guard.lock_timeout",
							"Sets the longest wait for a write-blocking lock by DDL.",
							"Applies to each utility statement that locks an existing "
							"relation in SHARE mode or stronger, when the session's own "
							"lock_timeout is 0 or larger.  0 disables it.",
							&mg_lock_timeout_ms,
							5000,
							0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("migration_guard.audit",
							 "Sets which guard decisions the audit trail keeps.",
							 "\"rejected\", \"warned\" (rejected and warned), \"all\" (also statements "
							 "that ran only because the policy was relaxed), or \"off\".",
							 &mg_audit_level,
							 MG_AUDIT_ALL,
							 mg_audit_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("migration_guard.audit_max_size",
							"Sets the disk space kept for the audit trail.",
							"When half of it is filled, the older half is dropped and counted.",
							&mg_audit_max_size_kb,
							16 * 1024,
							64, 1024 * 1024,
							PGC_SIGHUP,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migration_guard.audit_statement_max",
							"Sets the longest statement text kept in the audit trail.",
							"Longer texts are cut, in bytes.",
							&mg_audit_statement_max,
							4096,
							0, 1024 * 1024,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("migration_guard.log_decisions",
							 "Writes each guard decision to the server log.",
							 "One line starting with \"MIGRATION_GUARD:\".",
							 &mg_log_decisions,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("migration_guard.override_reason",
							   "Sets the reason recorded in the audit trail for an override.",
							   "Any role may set it; it only annotates the audit entries.  "
							   "Longer values are cut to 1024 bytes.",
							   &mg_override_reason,
							   "",
							   PGC_USERSET,
							   0,
							   mg_check_override_reason, NULL, NULL);

	DefineCustomBoolVariable("migration_guard.static_analysis",
							 "Analyses statements before they run (testing only).",
							 "Off leaves only the rewrite detector, which judges table rewrites "
							 "as they begin; index builds and scans are then not guarded.",
							 &mg_static_analysis,
							 true,
							 PGC_SUSET,
							 GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL,
							 NULL, NULL, NULL);

	mg_define_window_gucs();
	mg_audit_define_gucs();
	mg_audit_copy_define_guc();
	mg_lock_hold_init();
	mg_define_lock_wait_gucs();
	mg_define_replica_gucs();

	MarkGUCPrefixReserved("migration_guard");
}

/*
 * Module load callback.
 */
void
_PG_init(void)
{
	/*
	 * Loaded too late to guard every session: install nothing.  The SQL
	 * functions report the problem with a hint (mg_sql.c), and so does
	 * CREATE EXTENSION.
	 */
	if (!process_shared_preload_libraries_in_progress)
		return;

	mg_preloaded = true;
	mg_define_gucs();
	mg_audit_install_hooks();
	mg_audit_copy_register();
	mg_install_hooks();
	mg_executor_install_hooks();
}
