/*-------------------------------------------------------------------------
 *
 * mg_check.c
 *		migration_guard.check(script): what a migration script would do on
 *		this server, without running it.
 *
 * The script is parsed with this server's own grammar and every statement
 * goes through the same rule engine and the same policy decision as the
 * ProcessUtility hook (mg_analyze_statement() and mg_decide()), so the
 * preflight and the hook cannot disagree.  Nothing is executed, evaluated,
 * audited or written; the only locks are the ACCESS SHARE locks needed to
 * read a table's definition, held until the statement's subtransaction is
 * rolled back; it works on a hot standby.
 *
 * Each statement is analysed in its own subtransaction, so that an error in
 * one (a syntax error, a missing column) becomes an "error" row and the
 * others are still analysed.  The subtransaction is always rolled back:
 * nothing it did survives.  Only errors that describe the statement become
 * rows (see mg_is_statement_error); a cancel, statement_timeout, shutdown,
 * out of memory or an internal error ends the whole call, as it would end
 * any other query.
 *
 * Lock waits are bounded: the call runs with lock_timeout set to
 * migration_guard.lock_timeout (1 s if that is 0, the session's lock_timeout
 * if stricter).  The statement's relation, and its partitions and children
 * when it recurses, are locked first (mg_check_catalog.c), so that a
 * statement whose table is locked by another session gets a "lock_wait" row
 * naming the relation, and the check goes on; later statements on a
 * relation that already timed out do not wait again.  (A wait inside the rules, on a relation not known
 * here, gets a lock_wait row without a relation name: by the time the error
 * arrives, the lock manager has forgotten which lock it was.)
 *
 * If the whole script parses, statement boundaries come from the parser;
 * otherwise the script is cut at top-level semicolons with the server's own
 * lexer, and each piece is parsed on its own.  A lexical error (an
 * unterminated quote or comment, trailing junk after a number) only affects
 * its own piece: an unterminated token swallows the rest of the script, as
 * it would on the server, and becomes one error row; after any other lexical
 * error the cut resumes at the next semicolon.
 *
 * Before the rules, mg_check_catalog.c reports what PostgreSQL would reject
 * (missing relations and columns, say), from the catalog as the script has
 * changed it so far: tables created earlier in the script are new and
 * empty, columns and relations it added, renamed or dropped are known.
 *
 * Everything is linear in the size of the script: lines and characters are
 * counted incrementally, the script's own tables and columns are in hash
 * tables, and each statement's memory is freed after it.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_check.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "common/keywords.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "parser/parser.h"
#include "parser/scanner.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/tuplestore.h"

#include "migration_guard.h"
#include "mg_check.h"
#include "mg_compat.h"

/* Lock wait bound when migration_guard.lock_timeout is 0 (disabled) */
#define MG_CHECK_LOCK_TIMEOUT_MS 1000

/*
 * After this many lexical errors, the rest of the script is one piece: each
 * resumed scan copies the rest of the script, so without a bound a script
 * made of lexical errors would take quadratic time.
 */
#define MG_MAX_LEX_ERRORS 1000

/* One statement of the script */
typedef struct MGScriptStmt
{
	int			location;		/* byte offset in the script */
	int			len;			/* 0: to the end */
	Node	   *parsetree;		/* NULL if it must be parsed alone */
} MGScriptStmt;

/*
 * Does this error describe the statement (PostgreSQL would reject it), so
 * that it belongs in the report as an "error" row?
 *
 * Only these classes do: syntax and access rules (42: undefined objects,
 * missing privileges, wrong object types), feature not supported (0A), data
 * exceptions (22: invalid input, bad encoding), integrity and dependency
 * rules (23, 2B), invalid schema, catalog, grantor or role names (3F, 3D, 0L,
 * 0P), cardinality (21), program limits of the statement (54: too complex,
 * too many columns) and objects not in the state it needs (55, except lock
 * waits, reported on their own).
 *
 * Everything else says that the check itself cannot go on, and is
 * re-thrown: query cancel and statement_timeout (57014) and the rest of
 * class 57 (shutdown, crash of another backend); insufficient resources (53:
 * out of memory, disk full, out of shared memory for locks), where carrying on
 * would fail again or hide the real problem behind thousands of rows; system
 * and internal errors (58, XX); transaction rollbacks (40: a deadlock or
 * serialization failure is the calling transaction's, not the statement's);
 * and any class not listed.  FATAL and PANIC never come back here.
 */
static bool
mg_is_statement_error(int sqlerrcode)
{
	if (sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
		return false;
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_FEATURE_NOT_SUPPORTED:
		case ERRCODE_INVALID_GRANTOR:
		case ERRCODE_INVALID_ROLE_SPECIFICATION:
		case ERRCODE_CARDINALITY_VIOLATION:
		case ERRCODE_DATA_EXCEPTION:
		case ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION:
		case ERRCODE_DEPENDENT_PRIVILEGE_DESCRIPTORS_STILL_EXIST:
		case ERRCODE_INVALID_CATALOG_NAME:
		case ERRCODE_INVALID_SCHEMA_NAME:
		case ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION:
		case ERRCODE_PROGRAM_LIMIT_EXCEEDED:
		case ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE:
			return true;
		default:
			return false;
	}
}

/*
 * Catch-block helper: copy the current error into the statement's context,
 * roll back the subtransaction and, unless it is a statement error (or a
 * lock wait, when lock_wait_ok), re-throw it: the whole call ends.
 */
static ErrorData *
mg_catch_error(MemoryContext cxt, ResourceOwner owner, bool lock_wait_ok)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;

	if (!mg_is_statement_error(edata->sqlerrcode) &&
		!(lock_wait_ok && edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE))
		ReThrowError(edata);
	return edata;
}

/*
 * Skip whitespace and comments (nested, as the server's lexer reads them)
 * at the start of a statement, so that its text and line number start at its
 * first token.  Never reads past end.  A comment that is never closed is
 * where the statement starts: parsing it gives the error.
 */
static const char *
mg_skip_blank(const char *p, const char *end)
{
	while (p < end)
	{
		if (isspace((unsigned char) *p))
			p++;
		else if (p + 1 < end && p[0] == '-' && p[1] == '-')
		{
			while (p < end && *p != '\n')
				p++;
		}
		else if (p + 1 < end && p[0] == '/' && p[1] == '*')
		{
			const char *open = p;
			int			depth = 1;

			p += 2;
			while (p < end && depth > 0)
			{
				if (p + 1 < end && p[0] == '/' && p[1] == '*')
				{
					depth++;
					p += 2;
				}
				else if (p + 1 < end && p[0] == '*' && p[1] == '/')
				{
					depth--;
					p += 2;
				}
				else
					p++;
			}
			/* An unclosed comment is not blank: the parser must see it. */
			if (depth > 0)
				return open;
		}
		else
			break;
	}
	return p;
}

/*
 * Line number and character offset of a position in the script.  Positions
 * are asked for in increasing order, so counting goes on from the last one:
 * linear in the script, not in statements times script.
 */
static void
mg_advance_position(MGCheckState *st, const char *pos)
{
	const char *p = st->scan_pos;

	if (pos < p)
	{
		/* cannot happen, but stay correct: count again from the start */
		p = st->script;
		st->scan_line = 1;
		st->scan_chars = 0;
	}
	while (p < pos)
	{
		if (*p == '\n')
			st->scan_line++;
		p += pg_mblen(p);
		st->scan_chars++;
	}
	st->scan_pos = p;
}

/* State of the lexer-based cut, in memory so that it survives an error */
typedef struct MGSplitState
{
	List	   *result;			/* MGScriptStmt * */
	int			start;			/* byte offset of the current piece */
	int			offset;			/* byte offset where this scan began */
	int			yylloc;			/* last token's offset, from offset */
} MGSplitState;

static void
mg_add_piece(MGSplitState *ss, int location, int len)
{
	MGScriptStmt *s = palloc0(sizeof(MGScriptStmt));

	s->location = location;
	s->len = len;
	ss->result = lappend(ss->result, s);
}

/*
 * Cut the script at top-level semicolons with the server's lexer, from
 * ss->offset on.  A lexical error leaves ss as far as the cut got.
 */
static void
mg_split_from(const char *script, MGSplitState *ss)
{
	core_yy_extra_type yyextra;
	core_yyscan_t scanner;
	core_YYSTYPE yylval;

	ss->yylloc = 0;
	scanner = scanner_init(script + ss->offset, &yyextra, &ScanKeywords,
						   ScanKeywordTokens);
	for (;;)
	{
		int			tok = core_yylex(&yylval, &ss->yylloc, scanner);

		if (tok == 0)
			break;
		if (tok == ';')
		{
			mg_add_piece(ss, ss->start, ss->offset + ss->yylloc - ss->start);
			ss->start = ss->offset + ss->yylloc + 1;
		}
	}
	scanner_finish(scanner);
}

/*
 * Does a lexical error at p come from a token that was never closed (a
 * quoted string or identifier, a dollar quote, a comment)?  The server reads
 * such a token to the end of the input, so the rest of the script is one
 * statement.
 */
static bool
mg_token_is_unclosed(const char *p)
{
	if (p[0] == '\'')
		return true;
	if (p[0] == '/' && p[1] == '*')
		return true;
	if (p[0] == '"')
		return p[1] != '"';		/* "" is a zero-length identifier */
	if (strchr("EeBbXxNn", p[0]) && p[0] != '\0' && p[1] == '\'')
		return true;
	if ((p[0] == 'U' || p[0] == 'u') && p[1] == '&' &&
		(p[2] == '\'' || p[2] == '"'))
		return true;
	if (p[0] == '$')
	{
		const char *q = p + 1;

		/* $$ or $tag$, tag as the lexer's dolq_start/dolq_cont */
		if (*q != '$' && !(isalpha((unsigned char) *q) || *q == '_' ||
						   IS_HIGHBIT_SET(*q)))
			return false;
		while (isalnum((unsigned char) *q) || *q == '_' || IS_HIGHBIT_SET(*q))
			q++;
		return *q == '$';
	}
	return false;
}

/*
 * Cut the script with the lexer, surviving lexical errors: the pieces
 * before an error are kept; an unclosed token makes the rest one piece;
 * after any other error, cutting resumes at the next semicolon.
 */
static List *
mg_split_script(const char *script, MemoryContext cxt, ResourceOwner owner)
{
	/* in memory, not in registers that the longjmp of an error restores */
	MGSplitState *ss = palloc0(sizeof(MGSplitState));
	int			errors = 0;

	for (;;)
	{
		volatile bool failed = false;
		const char *errpos;
		const char *next;

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(cxt);
		PG_TRY();
		{
			mg_split_from(script, ss);
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
		}
		PG_CATCH();
		{
			FreeErrorData(mg_catch_error(cxt, owner, false));
			failed = true;
		}
		PG_END_TRY();

		if (!failed)
			break;
		CHECK_FOR_INTERRUPTS();
		errpos = script + ss->offset + ss->yylloc;
		if (++errors > MG_MAX_LEX_ERRORS || mg_token_is_unclosed(errpos) ||
			(next = strchr(errpos, ';')) == NULL)
			break;				/* the rest is one piece */
		mg_add_piece(ss, ss->start, (next - script) - ss->start);
		ss->start = ss->offset = (next - script) + 1;
	}
	if (script[ss->start] != '\0')
		mg_add_piece(ss, ss->start, 0);
	return ss->result;
}

/*
 * The statements of the script: from one parse when it parses, else from
 * the lexer.  Errors of the whole-script parse are not reported here; each
 * piece reports its own.
 */
static List *
mg_script_statements(const char *script)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	List	   *volatile result = NIL;
	volatile bool parsed = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		List	   *raw = raw_parser(script, RAW_PARSE_DEFAULT);
		ListCell   *lc;

		foreach(lc, raw)
		{
			RawStmt    *rs = lfirst_node(RawStmt, lc);
			MGScriptStmt *s = palloc0(sizeof(MGScriptStmt));

			s->location = rs->stmt_location;
			s->len = rs->stmt_len;
			s->parsetree = rs->stmt;
			result = lappend(result, s);
		}
		parsed = true;
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		FreeErrorData(mg_catch_error(cxt, owner, false));
	}
	PG_END_TRY();

	if (parsed)
		return result;
	return mg_split_script(script, cxt, owner);
}

/*
 * Analyse one parsed statement and emit its rows.
 */
static void
mg_check_parsed(MGCheckState *st, Node *stmt, const char *source)
{
	MGAnalysis	analysis;
	ListCell   *lc;

	/* Plain queries are not DDL; DO and CALL run code nobody can see now. */
	switch (nodeTag(stmt))
	{
		case T_SelectStmt:
		case T_InsertStmt:
		case T_UpdateStmt:
		case T_DeleteStmt:
#if MG_PG15_GTE
		case T_MergeStmt:
#endif
			if (mg_check_dml(st, stmt))
				return;
			mg_check_row(st, NULL, "ok", NULL, NULL, NoLock,
						 "not DDL: data changes are not checked by the guard", NULL);
			return;
		case T_DoStmt:
		case T_CallStmt:
			mg_check_row(st, "unclassified", "warn", NULL, NULL, NoLock,
						 "cannot be analysed before it runs: it executes code",
						 "The guard still checks each statement it runs.");
			return;
		default:
			break;
	}

	mg_check_xact_statement(st, stmt);
	if (!mg_check_prerequisites(st, &stmt))
		return;

	mg_analysis_init(&analysis, GetCommandTagName(CreateCommandTag(stmt)),
					 source, st->text);

	mg_check_xact_simulate(st);
	mg_analyze_statement(stmt, &analysis);
	mg_check_xact_note_locks(st, stmt);

	foreach(lc, analysis.findings)
	{
		MGFinding  *f = (MGFinding *) lfirst(lc);
		MGRelSize	size;
		MGDecision	d;

		if (!mg_decide(&analysis, f, &size, &d))
		{
			mg_check_row(st, mg_rule_name(f->rule), "ok", mg_finding_object_name(f),
						 &size, f->lockmode,
						 psprintf("%s; below the thresholds", mg_finding_message(&analysis, f)),
						 NULL);
			continue;
		}
		mg_check_row(st, mg_rule_name(f->rule),
					 d.action == MG_VERDICT_REJECTED ? "reject" :
					 d.action == MG_VERDICT_WARNED ? "warn" : "ok",
					 d.relation, &size, f->lockmode,
					 d.action == MG_VERDICT_ALLOWED ?
					 psprintf("%s; allowed: %s", mg_finding_message(&analysis, f), d.why) :
					 mg_finding_message(&analysis, f),
					 mg_finding_hint(f, d.action == MG_VERDICT_REJECTED));
	}
	if (analysis.findings == NIL)
		mg_check_row(st, NULL, "ok", NULL, NULL, NoLock,
					 "no work proportional to a table's size under a write-blocking lock",
					 NULL);
	mg_note_created(st, stmt);
}

/*
 * Report an error of one statement: a lock wait that timed out, or an
 * error PostgreSQL would raise for it.  script_relative: the error position
 * counts from the start of the script, not of the statement.
 */
static void
mg_report_error(MGCheckState *st, ErrorData *edata, Oid lock_relid,
				bool script_relative)
{
	char	   *message = edata->message;
	int			pos = edata->cursorpos;

	if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
	{
		char	   *relname = OidIsValid(lock_relid) ?
			mg_relation_name(lock_relid) : NULL;
		bool		found;

		if (OidIsValid(lock_relid))
			hash_search(st->lock_failed, &lock_relid, HASH_ENTER, &found);
		mg_check_row(st, "lock_wait", "error", relname, NULL, AccessShareLock,
					 relname ?
					 psprintf("could not check: waited %d ms for a lock on relation \"%s\" held by another session",
							  st->lock_timeout_ms, relname) :
					 psprintf("could not check: waited %d ms for a lock held by another session",
							  st->lock_timeout_ms),
					 "The statement itself would wait behind the same session.  migration_guard.blockers() lists the sessions in the way.");
		return;
	}

	if (script_relative)
		pos -= st->stmt_chars;
	if (pos > 0 && st->text != NULL)
	{
		int			errline = st->line;
		const char *p = st->text;
		int			i;

		for (i = 1; i < pos && *p; i++)
		{
			if (*p == '\n')
				errline++;
			p += pg_mblen(p);
		}
		message = psprintf("%s (line %d, position %d of the statement)",
						   edata->message, errline, pos);
	}
	mg_check_row(st, NULL, "error", NULL, NULL, NoLock, message,
				 edata->sqlerrcode == ERRCODE_UNDEFINED_OBJECT ||
				 edata->sqlerrcode == ERRCODE_UNDEFINED_TABLE ?
				 "If the object is created earlier in this script, this statement could not be checked." :
				 edata->hint);
}

/*
 * Check one statement of the script, in a subtransaction that is always
 * rolled back: a statement error becomes an "error" row, anything else ends
 * the call.
 */
static void
mg_check_statement(MGCheckState *st, MGScriptStmt *s)
{
	MemoryContext cxt = st->stmt_cxt;
	MemoryContext oldcontext = MemoryContextSwitchTo(cxt);
	ResourceOwner owner = CurrentResourceOwner;
	const char *start = st->script + s->location;
	const char *end = s->len > 0 ? start + s->len : start + strlen(start);

	start = mg_skip_blank(start, end);
	if (start >= end)
	{
		MemoryContextSwitchTo(oldcontext);
		return;					/* an empty statement */
	}
	mg_advance_position(st, start);
	while (end > start && isspace((unsigned char) end[-1]))
		end--;

	st->stmt_no++;
	st->line = st->scan_line;
	st->stmt_chars = st->scan_chars;
	st->text = pnstrdup(start, end - start);
	st->waiting_relid = InvalidOid;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		Node	   *stmt = s->parsetree;

		if (stmt == NULL)
		{
			List	   *raw = raw_parser(st->text, RAW_PARSE_DEFAULT);

			stmt = raw ? linitial_node(RawStmt, raw)->stmt : NULL;
		}
		if (stmt != NULL)
			mg_check_parsed(st, stmt, s->parsetree ? st->script : st->text);
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata = mg_catch_error(cxt, owner, true);

		mg_report_error(st, edata, st->waiting_relid, s->parsetree != NULL);
		st->waiting_relid = InvalidOid;
	}
	PG_END_TRY();
	mg_check_flush(st);
	MemoryContextSwitchTo(oldcontext);
}

/*
 * Bound every lock wait of the call: migration_guard.lock_timeout, or 1 s
 * if that is disabled, or the session's lock_timeout if it is stricter.  Set
 * at a new GUC nest level, like a function's SET clause, popped by the
 * caller or by transaction abort.
 */
static int
mg_check_set_lock_timeout(MGCheckState *st)
{
	int			nestlevel;
	int			bound = mg_lock_timeout_ms > 0 ? mg_lock_timeout_ms :
		MG_CHECK_LOCK_TIMEOUT_MS;

	if (LockTimeout > 0 && LockTimeout < bound)
		bound = LockTimeout;
	st->lock_timeout_ms = bound;
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("lock_timeout", psprintf("%d", bound),
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	return nestlevel;
}

/*
 * migration_guard.check(script text): one row per finding, in script order.
 */
PG_FUNCTION_INFO_V1(migration_guard_check);
Datum
migration_guard_check(PG_FUNCTION_ARGS)
{
	char	   *script;
	MGCheckState st;
	ListCell   *lc;
	List	   *stmts;
	int			nestlevel;

	mg_require_preloaded();
	/* check(script, single_transaction) of 1.1; check(script) is strict */
	mg_require_arg(fcinfo, 0, "script");
	if (PG_NARGS() > 1)
		mg_require_arg(fcinfo, 1, "single_transaction");
	script = text_to_cstring(PG_GETARG_TEXT_PP(0));
	InitMaterializedSRF(fcinfo, 0);

	memset(&st, 0, sizeof(st));
	st.single_transaction = PG_NARGS() > 1 && PG_GETARG_BOOL(1);
	st.in_xact = st.single_transaction;
	st.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	st.cxt = st.rsinfo->econtext->ecxt_per_query_memory;
	st.stmt_cxt = AllocSetContextCreate(CurrentMemoryContext,
										"migration_guard check statement",
										ALLOCSET_DEFAULT_SIZES);
	st.script = script;
	st.scan_pos = script;
	st.scan_line = 1;
	mg_check_create_hashes(&st);

	nestlevel = mg_check_set_lock_timeout(&st);
	stmts = mg_script_statements(script);
	foreach(lc, stmts)
	{
		CHECK_FOR_INTERRUPTS();
		mg_check_statement(&st, (MGScriptStmt *) lfirst(lc));
	}
	mg_lock_hold_simulate(InvalidOid, NoLock, NULL, NULL);
	AtEOXact_GUC(true, nestlevel);
	MemoryContextDelete(st.stmt_cxt);
	return (Datum) 0;
}
