/*-------------------------------------------------------------------------
 *
 * mg_statement.c
 *		The utility statement being executed: its command tag and text, for
 *		the second line and the audit of whatever happens while it runs.
 *
 * A stack, because utility statements nest (a DO block runs ALTER TABLE).
 * The ProcessUtility hook pushes each statement and pops it on success and
 * on error.  A low level: this file calls no other file of the extension,
 * so that the hooks and the lock code can both read the current statement
 * without importing each other.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_statement.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"

#include "migration_guard.h"
#include "mg_compat.h"

static MGStatement *mg_current_statement = NULL;

/*
 * The text of this statement alone, out of a query string that may hold
 * several.
 */
const char *
mg_statement_text(PlannedStmt *pstmt, const char *queryString)
{
	if (queryString == NULL)
		return NULL;
	if (pstmt->stmt_location >= 0 && pstmt->stmt_len > 0 &&
		pstmt->stmt_location + pstmt->stmt_len <= (int) strlen(queryString))
		return pnstrdup(queryString + pstmt->stmt_location, pstmt->stmt_len);
	if (pstmt->stmt_location > 0 && pstmt->stmt_location < (int) strlen(queryString))
		return pstrdup(queryString + pstmt->stmt_location);
	return queryString;
}

/*
 * Make stmt the statement being executed, inside the current one.
 */
void
mg_statement_push(MGStatement *stmt)
{
	stmt->outer = mg_current_statement;
	mg_current_statement = stmt;
}

/*
 * The statement stmt is over, on success or on error: its outer one is the
 * current one again.
 */
void
mg_statement_pop(MGStatement *stmt)
{
	mg_current_statement = stmt->outer;
}

/* The statement being executed, or NULL outside any utility statement */
MGStatement *
mg_statement_current(void)
{
	return mg_current_statement;
}

/*
 * Command tag and text of the statement being executed, for the audit of a
 * lock timeout.
 */
const char *
mg_current_command(void)
{
	return mg_current_statement ? mg_current_statement->command : "statement";
}

const char *
mg_current_statement_text(void)
{
	MGStatement *stmt = mg_current_statement;

	if (stmt == NULL)
		return NULL;
	return stmt->statement ? stmt->statement :
		mg_statement_text(stmt->pstmt, stmt->query_string);
}

/*
 * Is the statement being judged one that PreventInTransactionBlock() takes
 * for top level?  Outside the hook (migration_guard.check()), statements are
 * judged as the script would run them: at top level.
 */
bool
mg_current_statement_is_top_level(void)
{
	MGStatement *stmt = mg_current_statement;

	if (stmt == NULL)
		return true;
	return stmt->top_level && !IsTransactionBlock() && !IsSubTransaction();
}

/*
 * Is the statement being judged at top level, as PostgreSQL's isTopLevel
 * tells PreventInTransactionBlock()?  Outside the hook (the statements
 * migration_guard.check() analyses) it counts as top level.
 */
bool
mg_current_is_top_level(void)
{
	return mg_current_statement ? mg_current_statement->top_level : true;
}
