/*-------------------------------------------------------------------------
 *
 * mg_check.h
 *		State shared by the files of migration_guard.check():
 *		mg_check.c (the script and its statements), mg_check_catalog.c
 *		(what PostgreSQL would reject, read from the catalog and from what
 *		the script did before) and mg_check_rows.c (the result rows, which
 *		both of the others emit).
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_check.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MG_CHECK_H
#define MG_CHECK_H

#include "postgres.h"

#include "nodes/execnodes.h"
#include "nodes/parsenodes.h"
#include "storage/lockdefs.h"
#include "utils/hsearch.h"

#include "migration_guard.h"

/* The state of one call: output, the script's own changes, position */
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
	/* the script's transaction (mg_check_xact.c) */
	bool		single_transaction; /* the whole script is one transaction */
	bool		in_xact;		/* inside a transaction of the script */
	Oid			held_relid;		/* first write-blocking lock it would hold */
	LOCKMODE	held_mode;
	char	   *held_relname;	/* in cxt */
	char	   *held_stmt;		/* the statement that took it, in cxt */
	double		xact_rows;		/* rows its DML would modify so far */
} MGCheckState;

/* mg_check_rows.c */
extern void mg_check_row(MGCheckState *st, const char *rule,
						 const char *verdict, const char *relation,
						 const MGRelSize *size, LOCKMODE lockmode,
						 const char *message, const char *hint);
extern void mg_check_flush(MGCheckState *st);

/* mg_check_catalog.c */
extern void mg_check_create_hashes(MGCheckState *st);
extern bool mg_check_prerequisites(MGCheckState *st, Node **stmtp);
extern void mg_note_created(MGCheckState *st, Node *stmt);

/* mg_check_xact.c */
extern void mg_check_xact_statement(MGCheckState *st, Node *stmt);
extern void mg_check_xact_simulate(MGCheckState *st);
extern void mg_check_xact_note_locks(MGCheckState *st, Node *stmt);
extern bool mg_check_dml(MGCheckState *st, Node *stmt);

#endif							/* MG_CHECK_H */
