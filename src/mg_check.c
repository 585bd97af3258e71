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
 * when it recurses, are locked here first, so that a statement whose table
 * is locked by another session gets a "lock_wait" row naming the relation,
 * and the check goes on; later statements on a relation that already timed
 * out do not wait again.  (A wait inside the rules, on a relation not known
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
 * Tables created earlier in the script are known: later statements on them
 * work on a new, empty table that no other session can see yet.  Columns
 * added, renamed or dropped earlier in the script are known too, so that
 * references to missing columns can be reported from the catalog.
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
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "common/hashfn.h"
#include "common/keywords.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "miscadmin.h"
#include "parser/parser.h"
#include "parser/scanner.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/tuplestore.h"

#include "migration_guard.h"
#include "mg_compat.h"

#define MG_CHECK_COLUMNS 11

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

/* One output row, held until its statement's subtransaction is over */
typedef struct MGCheckRow
{
	Datum		values[MG_CHECK_COLUMNS];
	bool		nulls[MG_CHECK_COLUMNS];
} MGCheckRow;

/* A table created by the script, by name */
typedef struct MGCreatedEntry
{
	char		relname[NAMEDATALEN];	/* hash key */
	bool		unqualified;	/* created without a schema name */
	List	   *schemas;		/* schema names it was created in */
} MGCreatedEntry;

/* A column the script added (exists) or dropped or renamed away */
typedef struct MGColumnKey
{
	Oid			relid;
	char		colname[NAMEDATALEN];
} MGColumnKey;

typedef struct MGColumnEntry
{
	MGColumnKey key;
	bool		exists;
} MGColumnEntry;

/* A relation the script dropped, or renamed (then only its old name is gone) */
typedef struct MGGoneEntry
{
	Oid			relid;			/* hash key */
	bool		dropped;
} MGGoneEntry;

/* A relation's new name, given by the script */
typedef struct MGRenamedEntry
{
	char		relname[NAMEDATALEN];	/* hash key */
	Oid			relid;			/* InvalidOid once renamed again */
} MGRenamedEntry;

/* Output state */
typedef struct MGCheckState
{
	ReturnSetInfo *rsinfo;
	MemoryContext cxt;			/* per-query: outlives the statements */
	MemoryContext stmt_cxt;		/* one statement's rows and work, reset */
	List	   *pending;		/* MGCheckRow * of the current statement */
	const char *script;
	HTAB	   *created;		/* MGCreatedEntry */
	HTAB	   *columns;		/* MGColumnEntry */
	HTAB	   *lock_failed;	/* OIDs whose lock wait timed out */
	HTAB	   *gone;			/* MGGoneEntry */
	HTAB	   *renamed;		/* MGRenamedEntry */
	int			lock_timeout_ms;	/* bound on each lock wait */
	Oid			waiting_relid;	/* relation being locked, for the report */
	/* incremental position: line and character count at scan_pos */
	const char *scan_pos;
	int			scan_line;
	int			scan_chars;
	int			stmt_chars;		/* characters before the statement */
	int			stmt_no;
	int			line;
	char	   *text;
} MGCheckState;

/*
 * Queue one row, in the statement's memory context.  Rows are put into the
 * tuplestore only after the statement's subtransaction: a tuplestore that
 * spills to disk while a subtransaction is current would tie its file to
 * that subtransaction.
 */
static void
mg_check_row(MGCheckState *st, const char *rule, const char *verdict,
			 const char *relation, const MGRelSize *size, LOCKMODE lockmode,
			 const char *message, const char *hint)
{
	MemoryContext old = MemoryContextSwitchTo(st->stmt_cxt);
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
 * Put the queued rows into the result, then free everything the statement
 * allocated.
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
	}
	st->pending = NIL;
	st->text = NULL;
	MemoryContextReset(st->stmt_cxt);
}

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

static bool
mg_created_in_script(MGCheckState *st, const RangeVar *rv)
{
	char		key[NAMEDATALEN];
	MGCreatedEntry *e;
	ListCell   *lc;

	strlcpy(key, rv->relname, NAMEDATALEN);
	e = hash_search(st->created, key, HASH_FIND, NULL);
	if (e == NULL)
		return false;
	if (e->unqualified || rv->schemaname == NULL)
		return true;
	foreach(lc, e->schemas)
		if (strcmp((char *) lfirst(lc), rv->schemaname) == 0)
			return true;
	return false;
}

/* Remember a new table by name */
static void
mg_note_created_rv(MGCheckState *st, const RangeVar *rv)
{
	MGCreatedEntry *e;
	char		key[NAMEDATALEN];
	bool		found;

	strlcpy(key, rv->relname, NAMEDATALEN);
	e = hash_search(st->created, key, HASH_ENTER, &found);
	if (!found)
	{
		e->unqualified = false;
		e->schemas = NIL;
	}
	if (rv->schemaname == NULL)
		e->unqualified = true;
	else
	{
		MemoryContext old = MemoryContextSwitchTo(st->cxt);

		e->schemas = lappend(e->schemas, pstrdup(rv->schemaname));
		MemoryContextSwitchTo(old);
	}
}

/*
 * Remember the tables a statement creates, for the statements after it.
 */
static void
mg_note_created(MGCheckState *st, Node *stmt)
{
	RangeVar   *rv = NULL;

	if (IsA(stmt, CreateStmt))
		rv = ((CreateStmt *) stmt)->relation;
	else if (IsA(stmt, CreateTableAsStmt))
		rv = ((CreateTableAsStmt *) stmt)->into->rel;
	if (rv != NULL)
		mg_note_created_rv(st, rv);
}

/*
 * Does the column exist, as far as the catalog and the script so far say?
 */
static bool
mg_column_exists(MGCheckState *st, Oid relid, const char *colname)
{
	MGColumnKey key;
	MGColumnEntry *e;

	memset(&key, 0, sizeof(key));
	key.relid = relid;
	strlcpy(key.colname, colname, NAMEDATALEN);
	e = hash_search(st->columns, &key, HASH_FIND, NULL);
	if (e != NULL)
		return e->exists;
	return get_attnum(relid, colname) != InvalidAttrNumber;
}

/* Remember that the script adds or removes a column */
static void
mg_note_column(MGCheckState *st, Oid relid, const char *colname, bool exists)
{
	MGColumnKey key;
	MGColumnEntry *e;

	memset(&key, 0, sizeof(key));
	key.relid = relid;
	strlcpy(key.colname, colname, NAMEDATALEN);
	e = hash_search(st->columns, &key, HASH_ENTER, NULL);
	e->exists = exists;
}

static void
mg_report_missing_column(MGCheckState *st, Oid relid, const char *colname)
{
	mg_check_row(st, NULL, "error", mg_relation_name(relid), NULL, NoLock,
				 psprintf("column \"%s\" of relation \"%s\" does not exist",
						  colname, get_rel_name(relid)),
				 "If the column is created outside this script, it must exist before the script runs.");
}

/*
 * The column references of an ALTER TABLE, read from the catalog and from
 * what the script did before: PostgreSQL rejects a statement that alters or
 * drops a column that does not exist, or adds one that does.  Columns the
 * statement adds or drops are noted for the statements after it, even when
 * one of its other subcommands is an error: a real run would stop the
 * script at this statement, so what comes after is moot.  Returns false if
 * an error row was emitted.
 */
static bool
mg_check_alter_columns(MGCheckState *st, AlterTableStmt *ats, Oid relid)
{
	bool		ok = true;
	ListCell   *lc;

	foreach(lc, ats->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (MG_AT_IS_ADD_COLUMN(cmd->subtype) && IsA(cmd->def, ColumnDef))
		{
			const char *colname = ((ColumnDef *) cmd->def)->colname;

			if (!cmd->missing_ok && mg_column_exists(st, relid, colname))
			{
				mg_check_row(st, NULL, "error", mg_relation_name(relid), NULL,
							 NoLock,
							 psprintf("column \"%s\" of relation \"%s\" already exists",
									  colname, get_rel_name(relid)),
							 NULL);
				ok = false;
			}
			else
				mg_note_column(st, relid, colname, true);
			continue;
		}
		switch (cmd->subtype)
		{
			case AT_DropColumn:
				if (!mg_column_exists(st, relid, cmd->name))
				{
					if (!cmd->missing_ok)
					{
						mg_report_missing_column(st, relid, cmd->name);
						ok = false;
					}
				}
				else
					mg_note_column(st, relid, cmd->name, false);
				break;
			case AT_ColumnDefault:
			case AT_DropNotNull:
			case AT_SetNotNull:
			case AT_SetStatistics:
			case AT_SetOptions:
			case AT_ResetOptions:
			case AT_SetStorage:
			case AT_SetCompression:
			case AT_AlterColumnType:
			case AT_AlterColumnGenericOptions:
			case AT_AddIdentity:
			case AT_SetIdentity:
			case AT_DropIdentity:
			case AT_DropExpression:
#if MG_HAVE_AT_SET_EXPRESSION
			case AT_SetExpression:
#endif
				/* SET STATISTICS on an index column has a number, no name */
				if (cmd->name != NULL && !mg_column_exists(st, relid, cmd->name))
				{
					mg_report_missing_column(st, relid, cmd->name);
					ok = false;
				}
				break;
			default:
				break;
		}
	}
	return ok;
}

/*
 * Columns named in a list of String (a constraint's keys) or of IndexElem
 * (an index's columns; expressions are not looked at) must exist.  Returns
 * false if an error row was emitted.
 */
static bool
mg_check_column_list(MGCheckState *st, Oid relid, List *columns)
{
	ListCell   *lc;

	foreach(lc, columns)
	{
		Node	   *n = (Node *) lfirst(lc);
		const char *colname = NULL;

		if (IsA(n, String))
			colname = strVal(n);
		else if (IsA(n, IndexElem))
			colname = ((IndexElem *) n)->name;
		if (colname != NULL && !mg_column_exists(st, relid, colname))
		{
			mg_report_missing_column(st, relid, colname);
			return false;
		}
	}
	return true;
}

/*
 * The columns of a PRIMARY KEY, UNIQUE, EXCLUDE or FOREIGN KEY constraint
 * added by ALTER TABLE.
 */
static bool
mg_check_constraint_columns(MGCheckState *st, AlterTableStmt *ats, Oid relid)
{
	ListCell   *lc;

	foreach(lc, ats->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		Constraint *con;

		if (!MG_AT_IS_ADD_CONSTRAINT(cmd->subtype) || !IsA(cmd->def, Constraint))
			continue;
		con = (Constraint *) cmd->def;
		if (con->indexname != NULL)
			continue;			/* USING INDEX: the index has the columns */
		if (!mg_check_column_list(st, relid, con->keys) ||
			!mg_check_column_list(st, relid, con->including) ||
			!mg_check_column_list(st, relid, con->fk_attrs))
			return false;
	}
	return true;
}

/*
 * RENAME COLUMN: the old name must exist and the new one must not.
 */
static bool
mg_check_rename_column(MGCheckState *st, RenameStmt *rn, Oid relid)
{
	if (!mg_column_exists(st, relid, rn->subname))
	{
		mg_report_missing_column(st, relid, rn->subname);
		return false;
	}
	if (mg_column_exists(st, relid, rn->newname))
	{
		mg_check_row(st, NULL, "error", mg_relation_name(relid), NULL, NoLock,
					 psprintf("column \"%s\" of relation \"%s\" already exists",
							  rn->newname, get_rel_name(relid)),
					 NULL);
		return false;
	}
	mg_note_column(st, relid, rn->subname, false);
	mg_note_column(st, relid, rn->newname, true);
	return true;
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
 * The OID of an existing relation, by the name it has at this point of the
 * script: a relation the script renamed is found by its new name (*renamed
 * is then set: the catalog does not know that name), not by its old one;
 * one it dropped is not found.  InvalidOid if there is none.
 */
static Oid
mg_existing_relation(MGCheckState *st, RangeVar *rv, bool *renamed)
{
	char		key[NAMEDATALEN];
	MGRenamedEntry *e;
	Oid			relid;

	if (renamed)
		*renamed = false;
	strlcpy(key, rv->relname, NAMEDATALEN);
	e = hash_search(st->renamed, key, HASH_FIND, NULL);
	if (e != NULL && OidIsValid(e->relid))
	{
		char	   *nspname = get_namespace_name(get_rel_namespace(e->relid));
		MGGoneEntry *g = hash_search(st->gone, &e->relid, HASH_FIND, NULL);

		if ((rv->schemaname == NULL ||
			 (nspname != NULL && strcmp(nspname, rv->schemaname) == 0)) &&
			(g == NULL || !g->dropped))
		{
			if (renamed)
				*renamed = true;
			return e->relid;
		}
	}
	relid = RangeVarGetRelidExtended(rv, NoLock, RVR_MISSING_OK, NULL, NULL);
	if (OidIsValid(relid) &&
		hash_search(st->gone, &relid, HASH_FIND, NULL) != NULL)
		return InvalidOid;
	return relid;
}

/*
 * ALTER TABLE/INDEX/VIEW/... RENAME TO: the new name must be free; the
 * statements after it know the relation by that name only.  Returns false
 * if an error row was emitted.
 */
static bool
mg_note_rename(MGCheckState *st, Oid relid, const char *oldname,
			   const char *newname)
{
	RangeVar   *newrv = makeRangeVar(get_namespace_name(get_rel_namespace(relid)),
									 pstrdup(newname), -1);
	char		key[NAMEDATALEN];
	MGRenamedEntry *e;
	MGGoneEntry *g;

	if (OidIsValid(mg_existing_relation(st, newrv, NULL)) ||
		mg_created_in_script(st, newrv))
	{
		mg_check_row(st, NULL, "error", mg_relation_name(relid), NULL, NoLock,
					 psprintf("relation \"%s\" already exists", newname),
					 NULL);
		return false;
	}
	/* The catalog name is gone; so is a name the script gave it before. */
	g = hash_search(st->gone, &relid, HASH_ENTER, NULL);
	g->dropped = false;
	strlcpy(key, oldname, NAMEDATALEN);
	e = hash_search(st->renamed, key, HASH_FIND, NULL);
	if (e != NULL && e->relid == relid)
		e->relid = InvalidOid;
	strlcpy(key, newname, NAMEDATALEN);
	e = hash_search(st->renamed, key, HASH_ENTER, NULL);
	e->relid = relid;
	return true;
}

static void
mg_report_missing_relation(MGCheckState *st, const RangeVar *rv)
{
	mg_check_row(st, NULL, "error", rv->relname, NULL, NoLock,
				 psprintf("relation \"%s\" does not exist", rv->relname),
				 "Create it first, or check the search_path of the migration role.");
}

/*
 * Take ACCESS SHARE on a relation the statement is about, to read its
 * definition, waiting at most lock_timeout.  A relation whose lock wait
 * already timed out in this call is not waited for again: if it is still
 * locked, a "lock_wait" row says so at once and false is returned.
 */
static bool
mg_check_lock(MGCheckState *st, Oid relid)
{
	if (!ConditionalLockRelationOid(relid, AccessShareLock))
	{
		if (hash_search(st->lock_failed, &relid, HASH_FIND, NULL) != NULL)
		{
			mg_check_row(st, "lock_wait", "error", mg_relation_name(relid), NULL,
						 AccessShareLock,
						 psprintf("relation \"%s\" is still locked by another session",
								  mg_relation_name(relid)),
						 "An earlier statement of this script already waited for it.  migration_guard.blockers() lists the sessions in the way.");
			return false;
		}
		st->waiting_relid = relid;
		LockRelationOid(relid, AccessShareLock);
		st->waiting_relid = InvalidOid;
	}

	/*
	 * Dropped between the name lookup and the lock (the session we waited
	 * for may have dropped it): the lock has read the invalidations, so the
	 * syscache now knows.
	 */
	if (get_rel_relkind(relid) == '\0')
	{
		mg_check_row(st, NULL, "error", NULL, NULL, NoLock,
					 "relation was dropped by another session while being checked",
					 NULL);
		return false;
	}
	return true;
}

/*
 * A statement that recurses (no ONLY) reads and locks the partitions and
 * inheritance children too, and the rules read their definitions: take
 * their locks here, so that a wait names the child that is locked.
 */
static bool
mg_check_lock_inheritors(MGCheckState *st, const RangeVar *rv, Oid relid)
{
	List	   *children;
	ListCell   *lc;

	if (!rv->inh || !has_subclass(relid))
		return true;
	children = find_all_inheritors(relid, NoLock, NULL);
	foreach(lc, children)
	{
		Oid			child = lfirst_oid(lc);

		if (child != relid && !mg_check_lock(st, child))
			return false;
	}
	return true;
}

/*
 * CREATE TABLE: its parents (INHERITS or PARTITION OF) must exist, and the
 * parent of a partition must be partitioned.  Returns false if an error row
 * was emitted.
 */
static bool
mg_check_create_parents(MGCheckState *st, CreateStmt *cs)
{
	ListCell   *lc;

	foreach(lc, cs->inhRelations)
	{
		RangeVar   *parent = lfirst_node(RangeVar, lc);
		Oid			relid;

		if (mg_created_in_script(st, parent))
			continue;
		relid = mg_existing_relation(st, parent, NULL);
		if (!OidIsValid(relid))
		{
			mg_report_missing_relation(st, parent);
			return false;
		}
		if (!mg_check_lock(st, relid))
			return false;
		if (cs->partbound != NULL &&
			get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE)
		{
			mg_check_row(st, NULL, "error", mg_relation_name(relid), NULL, NoLock,
						 psprintf("cannot create a partition of table \"%s\": it is not partitioned",
								  mg_relation_name(relid)),
						 NULL);
			return false;
		}
	}
	return true;
}

/*
 * ALTER TABLE ... ATTACH PARTITION: the table must be partitioned and the
 * partition must exist.  Returns false if an error row was emitted.
 */
static bool
mg_check_attach(MGCheckState *st, AlterTableStmt *ats, Oid relid)
{
	ListCell   *lc;

	if (ats->objtype != OBJECT_TABLE)
		return true;
	foreach(lc, ats->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		RangeVar   *part;

		if (cmd->subtype != AT_AttachPartition)
			continue;
		if (get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE)
		{
			mg_check_row(st, NULL, "error", mg_relation_name(relid), NULL, NoLock,
						 psprintf("cannot attach a partition to table \"%s\": it is not partitioned",
								  mg_relation_name(relid)),
						 NULL);
			return false;
		}
		part = ((PartitionCmd *) cmd->def)->name;
		if (!mg_created_in_script(st, part) &&
			!OidIsValid(mg_existing_relation(st, part, NULL)))
		{
			mg_report_missing_relation(st, part);
			return false;
		}
	}
	return true;
}

/*
 * DROP TABLE, INDEX, VIEW, ... and TRUNCATE: every relation must exist,
 * unless IF EXISTS.  Dropped relations are remembered: the statements after
 * the drop cannot use them.  Returns false if an error row was emitted.
 */
static bool
mg_check_relation_list(MGCheckState *st, Node *stmt)
{
	List	   *rvs = NIL;
	bool		missing_ok = false;
	bool		drops = false;
	ListCell   *lc;

	if (IsA(stmt, TruncateStmt))
		rvs = ((TruncateStmt *) stmt)->relations;
	else if (IsA(stmt, DropStmt))
	{
		DropStmt   *ds = (DropStmt *) stmt;

		switch (ds->removeType)
		{
			case OBJECT_TABLE:
			case OBJECT_INDEX:
			case OBJECT_VIEW:
			case OBJECT_MATVIEW:
			case OBJECT_FOREIGN_TABLE:
			case OBJECT_SEQUENCE:
				break;
			default:
				return true;
		}
		foreach(lc, ds->objects)
			rvs = lappend(rvs, makeRangeVarFromNameList((List *) lfirst(lc)));
		missing_ok = ds->missing_ok;
		drops = true;
	}

	foreach(lc, rvs)
	{
		RangeVar   *rv = lfirst_node(RangeVar, lc);
		Oid			relid;

		if (mg_created_in_script(st, rv))
			continue;
		relid = mg_existing_relation(st, rv, NULL);
		if (!OidIsValid(relid))
		{
			if (missing_ok)
				continue;
			mg_report_missing_relation(st, rv);
			return false;
		}
		if (drops)
		{
			MGGoneEntry *g = hash_search(st->gone, &relid, HASH_ENTER, NULL);

			g->dropped = true;
		}
	}
	return true;
}

/* Is this a RENAME TO of a relation (not of a column, constraint, ...)? */
static bool
mg_is_relation_rename(Node *stmt)
{
	if (!IsA(stmt, RenameStmt))
		return false;
	switch (((RenameStmt *) stmt)->renameType)
	{
		case OBJECT_TABLE:
		case OBJECT_INDEX:
		case OBJECT_VIEW:
		case OBJECT_MATVIEW:
		case OBJECT_FOREIGN_TABLE:
		case OBJECT_SEQUENCE:
			return true;
		default:
			return false;
	}
}

/*
 * What PostgreSQL would reject before doing anything, read from the catalog
 * (never by running the statement): a missing relation, a missing or
 * duplicate column, a partition of a table that is not partitioned, a
 * missing privilege.  Takes the statement's lock on its relation.  Returns
 * false if the statement is done with (rows emitted, no analysis to do).
 *
 * A statement on a relation the script renamed gets, in *stmtp, a copy of
 * itself that names the relation as the catalog does, for the rules.
 */
static bool
mg_check_prerequisites(MGCheckState *st, Node **stmtp)
{
	Node	   *stmt = *stmtp;
	RangeVar   *rv;
	bool		missing_ok;
	bool		renamed;
	const char *written;
	Oid			relid;

	if (IsA(stmt, CreateStmt))
		return mg_check_create_parents(st, (CreateStmt *) stmt) &&
			mg_check_create_privilege(st, ((CreateStmt *) stmt)->relation);
	if (IsA(stmt, DropStmt) || IsA(stmt, TruncateStmt))
		return mg_check_relation_list(st, stmt);

	rv = mg_statement_relation(stmt, &missing_ok);
	if (rv == NULL)
		return true;
	if (mg_created_in_script(st, rv))
	{
		if (mg_is_relation_rename(stmt))
			mg_note_created_rv(st, makeRangeVar(rv->schemaname,
												((RenameStmt *) stmt)->newname, -1));
		mg_check_row(st, NULL, "ok", rv->relname, NULL, NoLock,
					 "works on a table created earlier in this script: new and empty, and invisible to other sessions until commit",
					 NULL);
		return false;
	}
	written = rv->relname;
	relid = mg_existing_relation(st, rv, &renamed);
	if (!OidIsValid(relid))
	{
		if (missing_ok)
			return true;
		mg_report_missing_relation(st, rv);
		return false;
	}
	if (renamed)
	{
		*stmtp = stmt = copyObject(stmt);
		rv = mg_statement_relation(stmt, &missing_ok);
		rv->schemaname = get_namespace_name(get_rel_namespace(relid));
		rv->relname = get_rel_name(relid);
	}
	if (!mg_check_lock(st, relid) || !mg_check_lock_inheritors(st, rv, relid))
		return false;
	if (!mg_relation_ownercheck(relid, GetUserId()))
		mg_check_row(st, "privilege", "error", mg_relation_name(relid), NULL, NoLock,
					 psprintf("must be owner of table \"%s\"", mg_relation_name(relid)),
					 psprintf("The role \"%s\" does not own it; only the owner (or a member of the owning role) may alter it.",
							  GetUserNameFromId(GetUserId(), false)));
	if (IsA(stmt, AlterTableStmt))
		return mg_check_alter_columns(st, (AlterTableStmt *) stmt, relid) &&
			mg_check_constraint_columns(st, (AlterTableStmt *) stmt, relid) &&
			mg_check_attach(st, (AlterTableStmt *) stmt, relid);
	if (IsA(stmt, IndexStmt))
		return mg_check_column_list(st, relid, ((IndexStmt *) stmt)->indexParams) &&
			mg_check_column_list(st, relid, ((IndexStmt *) stmt)->indexIncludingParams);
	if (IsA(stmt, RenameStmt) &&
		((RenameStmt *) stmt)->renameType == OBJECT_COLUMN)
		return mg_check_rename_column(st, (RenameStmt *) stmt, relid);
	if (mg_is_relation_rename(stmt))
		return mg_note_rename(st, relid, written, ((RenameStmt *) stmt)->newname);
	return true;
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

	if (!mg_check_prerequisites(st, &stmt))
		return;

	analysis.command = GetCommandTagName(CreateCommandTag(stmt));
	analysis.query_string = source;
	analysis.statement = st->text;
	analysis.findings = NIL;
	analysis.audit_seqs = NIL;

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

/* The script's own tables, columns and locked relations */
static void
mg_check_create_hashes(MGCheckState *st)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(MGCreatedEntry);
	ctl.hcxt = st->cxt;
	st->created = hash_create("migration_guard check tables", 64, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	ctl.keysize = sizeof(MGColumnKey);
	ctl.entrysize = sizeof(MGColumnEntry);
	st->columns = hash_create("migration_guard check columns", 64, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(Oid);
	st->lock_failed = hash_create("migration_guard check locks", 16, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.entrysize = sizeof(MGGoneEntry);
	st->gone = hash_create("migration_guard check drops", 16, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(MGRenamedEntry);
	st->renamed = hash_create("migration_guard check renames", 16, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
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
	List	   *stmts;
	int			nestlevel;

	mg_require_preloaded();
	InitMaterializedSRF(fcinfo, 0);

	memset(&st, 0, sizeof(st));
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
	AtEOXact_GUC(true, nestlevel);
	MemoryContextDelete(st.stmt_cxt);
	return (Datum) 0;
}
