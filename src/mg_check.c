/*-------------------------------------------------------------------------
 *
 * mg_check.c
 *		migration_guard.check(script): what a migration script would do on
 *		this server, without running it.
 *
 * The script is parsed with this server's own grammar and every statement
 * goes through the same rule engine and the same policy decision as the
 * ProcessUtility hook (mg_analyze_statement() and mg_decide()), so the
 * preflight and the hook cannot disagree.  Nothing is executed, audited or
 * written; the only locks are the ACCESS SHARE locks the rules take to read
 * a table's definition, released at once; it works on a hot standby.
 *
 * Each statement is analysed in its own subtransaction, so that an error in
 * one (a syntax error, a missing type) becomes an "error" row and the others
 * are still analysed.  The subtransaction is always rolled back: nothing it
 * did survives.
 *
 * If the whole script parses, statement boundaries come from the parser;
 * otherwise the script is cut at top-level semicolons with the server's own
 * lexer, and each piece is parsed on its own.
 *
 * Tables created earlier in the script are known: later statements on them
 * work on a new, empty table that no other session can see yet.
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
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "common/keywords.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parser.h"
#include "parser/scanner.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/tuplestore.h"

#include "migration_guard.h"
#include "mg_compat.h"

#define MG_CHECK_COLUMNS 11

/* One statement of the script */
typedef struct MGScriptStmt
{
	int			location;		/* byte offset in the script */
	int			len;			/* 0: to the end */
	Node	   *parsetree;		/* NULL if it must be parsed alone */
} MGScriptStmt;

/* One output row, held until its statement's subtransaction is over */
typedef struct MGCheckRow
{
	Datum		values[MG_CHECK_COLUMNS];
	bool		nulls[MG_CHECK_COLUMNS];
} MGCheckRow;

/* Output state */
typedef struct MGCheckState
{
	ReturnSetInfo *rsinfo;
	MemoryContext cxt;			/* per-query: outlives the subtransactions */
	List	   *pending;		/* MGCheckRow * of the current statement */
	const char *script;
	List	   *created;		/* "schema.name" or "name" of new tables */
	int			stmt_no;
	int			line;
	char	   *text;
} MGCheckState;

/*
 * Queue one row.  Rows are put into the tuplestore only after the
 * statement's subtransaction: a tuplestore that spills to disk while a
 * subtransaction is current would tie its file to that subtransaction.
 */
static void
mg_check_row(MGCheckState *st, const char *rule, const char *verdict,
			 const char *relation, const MGRelSize *size, LOCKMODE lockmode,
			 const char *message, const char *hint)
{
	MemoryContext old = MemoryContextSwitchTo(st->cxt);
	MGCheckRow *row = palloc(sizeof(MGCheckRow));
	Datum	   *values = row->values;
	bool	   *nulls = row->nulls;

	memset(nulls, 0, sizeof(row->nulls));
	values[0] = Int32GetDatum(st->stmt_no);
	values[1] = Int32GetDatum(st->line);
	values[2] = CStringGetTextDatum(st->text);
	if (rule)
		values[3] = CStringGetTextDatum(rule);
	else
		nulls[3] = true;
	values[4] = CStringGetTextDatum(verdict);
	if (relation)
		values[5] = CStringGetTextDatum(relation);
	else
		nulls[5] = true;
	if (size)
	{
		values[6] = Float8GetDatum(size->rows);
		values[7] = Int64GetDatum(size->bytes);
	}
	else
		nulls[6] = nulls[7] = true;
	if (lockmode != NoLock)
		values[8] = CStringGetTextDatum(mg_lockmode_name(lockmode));
	else
		nulls[8] = true;
	if (message)
		values[9] = CStringGetTextDatum(message);
	else
		nulls[9] = true;
	if (hint)
		values[10] = CStringGetTextDatum(hint);
	else
		nulls[10] = true;
	st->pending = lappend(st->pending, row);
	MemoryContextSwitchTo(old);
}

/*
 * Put the queued rows into the result.
 */
static void
mg_check_flush(MGCheckState *st)
{
	ListCell   *lc;

	foreach(lc, st->pending)
	{
		MGCheckRow *row = (MGCheckRow *) lfirst(lc);

		tuplestore_putvalues(st->rsinfo->setResult, st->rsinfo->setDesc,
							 row->values, row->nulls);
		pfree(row);
	}
	list_free(st->pending);
	st->pending = NIL;
}

/*
 * Skip whitespace and comments at the start of a statement, so that its
 * text and line number start at its first token.
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
			const char *close = strstr(p + 2, "*/");

			p = (close && close < end) ? close + 2 : end;
		}
		else
			break;
	}
	return p;
}

/*
 * Cut the script at top-level semicolons with the server's lexer.
 */
static List *
mg_split_script(const char *script)
{
	core_yy_extra_type yyextra;
	core_yyscan_t scanner;
	core_YYSTYPE yylval;
	YYLTYPE		yylloc;
	List	   *result = NIL;
	int			start = 0;

	scanner = scanner_init(script, &yyextra, &ScanKeywords, ScanKeywordTokens);
	for (;;)
	{
		int			tok = core_yylex(&yylval, &yylloc, scanner);

		if (tok == 0)
			break;
		if (tok == ';')
		{
			MGScriptStmt *s = palloc0(sizeof(MGScriptStmt));

			s->location = start;
			s->len = yylloc - start;
			result = lappend(result, s);
			start = yylloc + 1;
		}
	}
	scanner_finish(scanner);
	if (script[start] != '\0')
	{
		MGScriptStmt *s = palloc0(sizeof(MGScriptStmt));

		s->location = start;
		s->len = 0;
		result = lappend(result, s);
	}
	return result;
}

/*
 * The statements of the script: from one parse when it parses, else from
 * the lexer.  Errors of the whole-script parse are not reported here; each
 * piece reports its own.
 */
static List *
mg_script_statements(const char *script)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	List	   *volatile result = NIL;
	volatile bool parsed = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
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
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcontext);
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_END_TRY();

	if (parsed)
		return result;

	/* The lexer can fail too (an unterminated string): then one piece. */
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		result = mg_split_script(script);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		MGScriptStmt *s = palloc0(sizeof(MGScriptStmt));

		MemoryContextSwitchTo(oldcontext);
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		result = list_make1(s);
	}
	PG_END_TRY();
	return result;
}

/*
 * The relation a statement is about, if it has a single obvious one.
 */
static RangeVar *
mg_statement_relation(Node *stmt, bool *missing_ok)
{
	*missing_ok = false;
	switch (nodeTag(stmt))
	{
		case T_AlterTableStmt:
			*missing_ok = ((AlterTableStmt *) stmt)->missing_ok;
			return ((AlterTableStmt *) stmt)->relation;
		case T_IndexStmt:
			return ((IndexStmt *) stmt)->relation;
		case T_RefreshMatViewStmt:
			return ((RefreshMatViewStmt *) stmt)->relation;
		case T_ReindexStmt:
			return ((ReindexStmt *) stmt)->relation;
		case T_CreateTrigStmt:
			return ((CreateTrigStmt *) stmt)->relation;
		case T_RenameStmt:
			*missing_ok = ((RenameStmt *) stmt)->missing_ok;
			return ((RenameStmt *) stmt)->relation;
		default:
			return NULL;
	}
}

/* Key under which a new table is remembered */
static char *
mg_created_key(const RangeVar *rv)
{
	return rv->schemaname ? psprintf("%s.%s", rv->schemaname, rv->relname)
		: pstrdup(rv->relname);
}

static bool
mg_created_in_script(MGCheckState *st, const RangeVar *rv)
{
	ListCell   *lc;

	foreach(lc, st->created)
	{
		const char *key = (const char *) lfirst(lc);
		const char *dot = strrchr(key, '.');
		const char *name = dot ? dot + 1 : key;

		if (strcmp(name, rv->relname) != 0)
			continue;
		if (dot == NULL || rv->schemaname == NULL ||
			(strncmp(key, rv->schemaname, dot - key) == 0 &&
			 rv->schemaname[dot - key] == '\0'))
			return true;
	}
	return false;
}

/*
 * Remember the tables a statement creates, for the statements after it.
 */
static void
mg_note_created(MGCheckState *st, Node *stmt)
{
	RangeVar   *rv = NULL;
	MemoryContext old;

	if (IsA(stmt, CreateStmt))
		rv = ((CreateStmt *) stmt)->relation;
	else if (IsA(stmt, CreateTableAsStmt))
		rv = ((CreateTableAsStmt *) stmt)->into->rel;
	if (rv == NULL)
		return;
	old = MemoryContextSwitchTo(st->cxt);
	st->created = lappend(st->created, mg_created_key(rv));
	MemoryContextSwitchTo(old);
}

/*
 * Can the current role create objects in the schema a new relation would
 * go to?
 */
static bool
mg_check_create_privilege(MGCheckState *st, const RangeVar *rv)
{
	Oid			nspid;

	if (superuser())
		return true;
	if (rv->schemaname)
		nspid = get_namespace_oid(rv->schemaname, true);
	else
	{
		List	   *path = fetch_search_path(false);

		nspid = path ? linitial_oid(path) : InvalidOid;
	}
	if (!OidIsValid(nspid))
		return true;			/* the schema may come earlier in the script */
	if (mg_namespace_create_aclcheck(nspid, GetUserId()) == ACLCHECK_OK)
		return true;
	mg_check_row(st, "privilege", "error", NULL, NULL, NoLock,
				 psprintf("permission denied to create \"%s\" in schema \"%s\"",
						  rv->relname, get_namespace_name(nspid)),
				 psprintf("The role \"%s\" needs CREATE on schema \"%s\".",
						  GetUserNameFromId(GetUserId(), false),
						  get_namespace_name(nspid)));
	return false;
}

/*
 * Analyse one parsed statement and emit its rows.
 */
static void
mg_check_parsed(MGCheckState *st, Node *stmt)
{
	MGAnalysis	analysis;
	RangeVar   *rv;
	bool		missing_ok;
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

	analysis.command = GetCommandTagName(CreateCommandTag(stmt));
	analysis.query_string = st->script;
	analysis.statement = st->text;
	analysis.findings = NIL;
	analysis.audit_seqs = NIL;

	/* Relation created earlier in the script, missing, or not ours? */
	rv = mg_statement_relation(stmt, &missing_ok);
	if (rv != NULL)
	{
		Oid			relid;

		if (mg_created_in_script(st, rv))
		{
			mg_check_row(st, NULL, "ok", rv->relname, NULL, NoLock,
						 "works on a table created earlier in this script: new and empty, and invisible to other sessions until commit",
						 NULL);
			return;
		}
		relid = RangeVarGetRelidExtended(rv, NoLock, RVR_MISSING_OK, NULL, NULL);
		if (!OidIsValid(relid) && !missing_ok)
		{
			mg_check_row(st, NULL, "error", rv->relname, NULL, NoLock,
						 psprintf("relation \"%s\" does not exist", rv->relname),
						 "Create it first, or check the search_path of the migration role.");
			return;
		}
		if (OidIsValid(relid) && !mg_relation_ownercheck(relid, GetUserId()))
			mg_check_row(st, "privilege", "error", mg_relation_name(relid), NULL, NoLock,
						 psprintf("must be owner of table \"%s\"", mg_relation_name(relid)),
						 psprintf("The role \"%s\" does not own it; only the owner (or a member of the owning role) may alter it.",
								  GetUserNameFromId(GetUserId(), false)));
	}
	if (IsA(stmt, CreateStmt) &&
		!mg_check_create_privilege(st, ((CreateStmt *) stmt)->relation))
		return;

	mg_analyze_statement(stmt, &analysis);

	foreach(lc, analysis.findings)
	{
		MGFinding  *f = (MGFinding *) lfirst(lc);
		MGRelSize	size;
		MGDecision	d;

		if (!mg_decide(&analysis, f, &size, &d))
		{
			mg_check_row(st, mg_rule_name(f->rule), "ok", mg_relation_name(f->relid),
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
 * Check one statement of the script, in a subtransaction that is always
 * rolled back: an error becomes an "error" row.
 */
static void
mg_check_statement(MGCheckState *st, MGScriptStmt *s)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	const char *start = st->script + s->location;
	const char *end = s->len > 0 ? start + s->len : start + strlen(start);
	const char *p;
	volatile int line = 1;

	start = mg_skip_blank(start, end);
	if (start >= end)
		return;					/* an empty statement */
	for (p = st->script; p < start; p++)
		if (*p == '\n')
			line++;
	while (end > start && isspace((unsigned char) end[-1]))
		end--;

	st->stmt_no++;
	st->line = line;
	st->text = pnstrdup(start, end - start);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		Node	   *stmt = s->parsetree;

		if (stmt == NULL)
		{
			List	   *raw = raw_parser(st->text, RAW_PARSE_DEFAULT);

			stmt = raw ? linitial_node(RawStmt, raw)->stmt : NULL;
		}
		if (stmt != NULL)
			mg_check_parsed(st, stmt);
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		char	   *message;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;

		if (edata->cursorpos > 0)
		{
			int			errline = line;
			int			i;

			for (i = 0; i < edata->cursorpos - 1 && st->text[i]; i++)
				if (st->text[i] == '\n')
					errline++;
			message = psprintf("%s (line %d, position %d of the statement)",
							   edata->message, errline, edata->cursorpos);
		}
		else
			message = edata->message;
		mg_check_row(st, NULL, "error", NULL, NULL, NoLock, message,
					 edata->sqlerrcode == ERRCODE_UNDEFINED_OBJECT ||
					 edata->sqlerrcode == ERRCODE_UNDEFINED_TABLE ?
					 "If the object is created earlier in this script, this statement could not be checked." :
					 edata->hint);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	mg_check_flush(st);
}

/*
 * migration_guard.check(script text): one row per finding, in script order.
 */
PG_FUNCTION_INFO_V1(migration_guard_check);
Datum
migration_guard_check(PG_FUNCTION_ARGS)
{
	char	   *script = text_to_cstring(PG_GETARG_TEXT_PP(0));
	MGCheckState st;
	ListCell   *lc;

	mg_require_preloaded();
	InitMaterializedSRF(fcinfo, 0);

	memset(&st, 0, sizeof(st));
	st.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	st.cxt = st.rsinfo->econtext->ecxt_per_query_memory;
	st.script = script;

	foreach(lc, mg_script_statements(script))
	{
		CHECK_FOR_INTERRUPTS();
		mg_check_statement(&st, (MGScriptStmt *) lfirst(lc));
	}
	return (Datum) 0;
}
