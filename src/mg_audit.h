/*-------------------------------------------------------------------------
 *
 * mg_audit.h
 *		Internals of the audit trail, shared by mg_audit.c (writing),
 *		mg_audit_file.c (file access) and mg_audit_sql.c (reading).
 *
 * The rest of the guard only sees the record functions declared in
 * migration_guard.h.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_audit.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MG_AUDIT_H
#define MG_AUDIT_H

#include "lib/stringinfo.h"
#include "utils/timestamp.h"

#define MG_AUDIT_DIR		"migration_guard"
#define MG_AUDIT_CURRENT	MG_AUDIT_DIR "/audit.current"
#define MG_AUDIT_PREVIOUS	MG_AUDIT_DIR "/audit.previous"
#define MG_AUDIT_BASE		MG_AUDIT_DIR "/audit.base"
#define MG_AUDIT_SEQFILE	MG_AUDIT_DIR "/audit.seq"
#define MG_AUDIT_LOCKFILE	MG_AUDIT_DIR "/audit.lock"
#define MG_AUDIT_ORIGINFILE	MG_AUDIT_DIR "/audit.origin"
#define MG_AUDIT_INHERITED_CURRENT	MG_AUDIT_DIR "/audit.inherited.current"
#define MG_AUDIT_INHERITED_PREVIOUS	MG_AUDIT_DIR "/audit.inherited.previous"

/*
 * Longest line a reader accepts.  A decision line holds at most
 * audit_statement_max (1 MB) of statement text, which escaping can double,
 * plus short fields; anything longer is damage.
 */
#define MG_AUDIT_MAX_LINE	(3 * 1024 * 1024)

/*
 * Sequence numbers are reserved in blocks persisted in audit.seq, so that
 * numbering never goes back even if segments are damaged or deleted.  After
 * a clean shutdown or a crash restart the exact next number is persisted;
 * only a killed postmaster or an OS crash can skip at most this many.
 */
#define MG_AUDIT_SEQ_BLOCK	64

/*
 * Record types, the first field of each line:
 *	D	a decision of the rules (mg_audit_decision)
 *	L	a lock wait that failed, with who was in the way
 *	H	a transaction held a write-blocking lock past lock_hold_timeout
 *	W	entries that could not be written (a burst of write failures)
 *	O	the statement of decision <seq> completed (no number of its own)
 *
 * From 1.1 on, every record ends with the origin of the server that wrote
 * it (mg_audit_origin()): numbers are unique per origin, so (origin, seq)
 * identifies an entry across a primary, its standbys and its promotions.
 * Records without it were written before 1.1 and have origin 0.
 */
#define MG_AUDIT_REC_DECISION	'D'
#define MG_AUDIT_REC_LOCK_WAIT	'L'
#define MG_AUDIT_REC_WRITE_FAIL	'W'
#define MG_AUDIT_REC_LOCK_HOLD	'H'
#define MG_AUDIT_REC_OUTCOME	'O'

/*
 * Fields of each record type, counting the type and the number, without
 * the origin (one more field when it is there)
 */
#define MG_AUDIT_D_FIELDS_1_0	22	/* a decision, as 1.0 wrote it */
#define MG_AUDIT_D_FIELDS		23	/* ... with the session user's OID */
#define MG_AUDIT_L_FIELDS		15
#define MG_AUDIT_W_FIELDS		7
#define MG_AUDIT_H_FIELDS		17
#define MG_AUDIT_O_FIELDS		3
#define MG_AUDIT_MAX_FIELDS		24

/* Columns of migration_guard.audit_entries(), and the origin after them */
#define MG_AUDIT_COLUMNS		22
#define MG_AUDIT_COL_ORIGIN		22

/* Reads one segment line by line in bounded memory (mg_audit_file.c) */
typedef struct MGAuditReader
{
	int			fd;
	const char *path;
	char	   *buf;
	int			bufsize;
	int			start;			/* first unread byte in buf */
	int			end;			/* end of valid data in buf */
	bool		eof;
	int64		bytes;			/* bytes read so far */
	int64		damaged;		/* lines skipped: NUL, too long, torn */
	int			elevel;			/* level for read errors (LOG, WARNING) */
} MGAuditReader;

/* A snapshot of the shared counters, for audit_status() */
typedef struct MGAuditCounters
{
	uint64		next_seq;
	int64		write_failures;
	int			last_errno;
	TimestampTz last_failure;
	int64		suppressed;
	int64		damaged_at_start;
} MGAuditCounters;

/* Who may read the protected texts of an entry (cached per call) */
typedef struct MGVisibility
{
	bool		see_all;
	Oid			last_role;
	bool		last_visible;
} MGVisibility;

/* The entries whose statement completed, sorted by (origin, seq) */
typedef struct MGDoneEntry
{
	int64		origin;
	uint64		seq;
} MGDoneEntry;

typedef struct MGDoneSet
{
	MGDoneEntry *entries;
	int			n;
	int			max;
} MGDoneSet;

/* What the copy to the audit table reports in audit_status() */
typedef struct MGCopyStatus
{
	TimestampTz last_copy;		/* end of the last complete pass, or 0 */
	char		error[128];		/* why the last pass failed, or "" */
} MGCopyStatus;

/* mg_audit_file.c */
extern bool mg_audit_read_problem;
extern bool mg_audit_reader_open(MGAuditReader *r, const char *path, int elevel);
extern char *mg_audit_reader_next(MGAuditReader *r);
extern void mg_audit_reader_close(MGAuditReader *r);
extern bool mg_audit_parse_seq(const char *line, char *type, uint64 *seq);
extern bool mg_audit_record_complete(const char *line, char type);
extern bool mg_audit_record_fields_ok(char type, int nfields);
extern int64 mg_audit_field_origin(char **fields, int nfields, char type);
extern int	mg_audit_split(char *line, char **fields, int max);
extern char *mg_audit_unescape(char *s);
extern void mg_audit_append_field(StringInfo buf, const char *s);
extern char *mg_audit_to_utf8(const char *s);
extern char *mg_audit_from_utf8(const char *s);
extern uint64 mg_audit_read_number(const char *path, int elevel);
extern bool mg_audit_write_number(const char *path, uint64 value, int elevel);
extern int	mg_audit_lock_file(bool exclusive, bool wait);
extern void mg_audit_unlock_file(int fd);

/* mg_audit.c */
extern const char *const mg_audit_segments[2];
extern void mg_audit_counters(MGAuditCounters *c);
extern char *mg_audit_last_error(void);
extern void mg_audit_reset_trail(void (*with_table) (void));
extern int64 mg_audit_origin(void);
extern uint64 mg_audit_reset_count(void);
extern void mg_audit_advance_seq(uint64 next);
extern void mg_audit_copy_note(bool ok, const char *error);
extern void mg_audit_copy_status(MGCopyStatus *status);
extern bool mg_audit_copy_log_once(int what, bool problem);
extern Oid	mg_audit_copy_dboid(Oid set, bool do_set);

/* mg_audit_copy.c */
extern char *mg_audit_database;
extern void mg_audit_copy_reset_table(void);

/* mg_audit_sql.c */
extern bool mg_audit_line_row(char *line, const MGDoneSet *done, MGVisibility *vis,
							  Datum *values, bool *nulls, int64 *origin, Oid *role);
extern void mg_audit_collect_done(MGDoneSet *done);

#endif							/* MG_AUDIT_H */
