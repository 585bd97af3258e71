/*-------------------------------------------------------------------------
 *
 * mg_names.c
 *		The rules' names and fixed properties, lock modes and verdicts as
 *		errors and the audit spell them, lock mode names parsed back, user
 *		values quoted for an error, and a finding's HINT (its recipe and
 *		the settings that enforce it).
 *
 * The lowest level: these functions call no other file of the extension,
 * so that the audit, the policy, the lock code and the SQL functions can
 * all use them without importing each other.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_names.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "storage/lock.h"
#include "utils/guc.h"

#include "migration_guard.h"
#include "mg_compat.h"

/* Stable rule ids, indexed by MGRule */
static const char *const mg_rule_names[MG_NUM_RULES] = {
	"table_rewrite",
	"blocking_index_build",
	"validation_scan",
	"invalid_index_exists",
	"concurrent_index_timeout",
	"backfill",
	"held_lock_work",
	"replica_lag"
};

/* The GUC that sets each rule's action, indexed by MGRule */
static const char *const mg_rule_gucs[MG_NUM_RULES] = {
	"migration_guard.table_rewrite_action",
	"migration_guard.blocking_index_build_action",
	"migration_guard.validation_scan_action",
	"migration_guard.invalid_index_exists_action",
	"migration_guard.concurrent_index_timeout_action",
	"migration_guard.backfill_action",
	"migration_guard.held_lock_work_action",
	"migration_guard.replica_lag_action"
};

/*
 * Boot value of each rule's action, indexed by MGRule.  A build that may
 * outlast statement_timeout is only likely to fail, so it warns.
 */
static const int mg_rule_defaults[MG_NUM_RULES] = {
	MG_ACTION_ENFORCE,
	MG_ACTION_ENFORCE,
	MG_ACTION_ENFORCE,
	MG_ACTION_ENFORCE,
	MG_ACTION_WARN,
	MG_ACTION_ENFORCE,
	MG_ACTION_ENFORCE,
	MG_ACTION_ENFORCE
};

/* Rules that apply whatever the relation's size (see the file header) */
static const bool mg_rule_size_independent[MG_NUM_RULES] = {
	false, false, false, true, false, false, false, false
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

int
mg_rule_default_action(MGRule rule)
{
	Assert(rule >= 0 && rule < MG_NUM_RULES);
	return mg_rule_defaults[rule];
}

bool
mg_rule_is_size_independent(MGRule rule)
{
	Assert(rule >= 0 && rule < MG_NUM_RULES);
	return mg_rule_size_independent[rule];
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

const char *
mg_verdict_name(MGVerdict verdict)
{
	switch (verdict)
	{
		case MG_VERDICT_ALLOWED:
			return "allowed";
		case MG_VERDICT_WARNED:
			return "warned";
		case MG_VERDICT_REJECTED:
			return "rejected";
	}
	return "unrecognized";
}

/* migration_guard.mode as it reads in the audit */
const char *
mg_verdict_mode_name(void)
{
	return mg_mode == MG_ACTION_OFF ? "off" :
		mg_mode == MG_ACTION_WARN ? "warn" : "enforce";
}

/*
 * A user-supplied value for an error message: at most max_bytes of it, cut
 * at a character boundary, with "..." when cut.  A value may be megabytes
 * long; the error need not repeat it.
 */
char *
mg_quote_arg(const char *s, int max_bytes)
{
	size_t		len = strlen(s);
	int			cut;

	if (len <= (size_t) max_bytes)
		return pstrdup(s);
	cut = pg_mbcliplen(s, (int) Min(len, (size_t) max_bytes + MAX_MULTIBYTE_CHAR_LEN),
					   max_bytes);
	return psprintf("%.*s...", cut, s);
}

/*
 * Parse a lock mode name, in any case: as pg_locks spells it
 * ("AccessExclusiveLock") or as LOCK TABLE does ("ACCESS EXCLUSIVE", its
 * key words separated by whitespace).  Nothing else: no underscores, no
 * surrounding whitespace, no words run together, no "LOCK" after the
 * LOCK TABLE words.  An error quotes at most 64 bytes of the name.
 */
LOCKMODE
mg_parse_lock_mode(const char *name)
{
	/* LOCK TABLE's words for the modes 1 .. MaxLockMode, in lower case */
	static const char *const lock_table_names[] = {
		NULL, "access share", "row share", "row exclusive",
		"share update exclusive", "share", "share row exclusive",
		"exclusive", "access exclusive"
	};
	const char *space = " \t\n\r\f";	/* whitespace as SQL sees it */
	size_t		len = strlen(name);
	LOCKMODE	m;

	StaticAssertStmt(lengthof(lock_table_names) == MaxLockMode + 1,
					 "a LOCK TABLE name for each lock mode");

	/* The longest valid name is 22 bytes; do not scan a huge one. */
	if (len <= 64)
	{
		char		words[65];
		char	   *w = words;
		const char *s = name;
		bool		stray_space = false;

		for (m = 1; m <= MaxLockMode; m++)
		{
			if (pg_strcasecmp(name, GetLockmodeName(DEFAULT_LOCKMETHOD, m)) == 0)
				return m;
		}

		/*
		 * Words in lower case, each run of whitespace made one space;
		 * whitespace before the first word or after the last is wrong.
		 */
		while (*s)
		{
			if (strchr(space, *s) != NULL)
			{
				while (*s != '\0' && strchr(space, *s) != NULL)
					s++;
				if (w == words || *s == '\0')
				{
					stray_space = true;
					break;
				}
				*w++ = ' ';
			}
			else
				*w++ = pg_ascii_tolower((unsigned char) *s++);
		}
		*w = '\0';
		if (!stray_space)
		{
			for (m = 1; m <= MaxLockMode; m++)
			{
				if (strcmp(words, lock_table_names[m]) == 0)
					return m;
			}
		}
	}
	ereport(ERROR,
			errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			errmsg("unrecognized lock mode: \"%s\"", mg_quote_arg(name, 64)),
			errhint("Use a mode as pg_locks spells it, such as \"AccessExclusiveLock\" or \"ShareLock\"."));
	return NoLock;				/* keep compiler quiet */
}

/*
 * The HINT: the safe recipe, and for a rejection the settings enforcing it.
 */
char *
mg_finding_hint(const MGFinding *f, bool enforced)
{
	const char *restore = "";

	/*
	 * The online recipes do not apply to a restore, which builds every
	 * index of a freshly loaded table: say how a DBA restores instead.
	 * pg_restore always identifies itself (fallback_application_name).
	 */
	if (enforced && application_name != NULL &&
		strcmp(application_name, "pg_restore") == 0)
		restore = "  To restore a dump, run pg_restore as a superuser with PGOPTIONS='-c migration_guard.mode=off' (audited), or restore with --single-transaction; see \"Dump and restore\" in the migration_guard README.";
	if (enforced)
		return psprintf("%s  Rule \"%s\" is enforced by \"migration_guard.mode\" and \"%s\".%s",
						f->hint, mg_rule_name(f->rule), mg_rule_guc_name(f->rule),
						restore);
	return pstrdup(f->hint);
}
