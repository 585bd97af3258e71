/*-------------------------------------------------------------------------
 *
 * mg_audit.c
 *		The audit trail: every guard decision, kept through rollbacks,
 *		crashes and restarts.
 *
 * A rejected statement aborts its transaction, so a row written to a table
 * in that transaction would vanish with it; shared memory alone is lost when
 * a backend crash makes the postmaster reinitialize it.  The trail is
 * therefore an append-only file in the data directory, written at decision
 * time, before the rejection is raised:
 *
 *		$PGDATA/migration_guard/audit.current	entries being appended
 *		$PGDATA/migration_guard/audit.previous	the segment before it
 *		$PGDATA/migration_guard/audit.base		first sequence number after
 *												the last reset
 *
 * Each entry is one line, written with a single write() on an O_APPEND file
 * descriptor and then fdatasync()ed: DDL is rare, so durability per entry is
 * affordable, and an entry survives ROLLBACK, SIGKILL of its backend, an
 * immediate shutdown and an OS crash.  A reader ignores a last line without
 * its newline (a backend killed in the middle of write()).
 *
 * Retention: when audit.current grows past half of migration_guard.audit_max_size
 * it becomes audit.previous, replacing the older segment, whose entries are
 * dropped.  Entries carry a sequence number, so the number dropped is always
 * known: the first sequence number still present minus audit.base.  Writing
 * never blocks or fails DDL: an I/O error is reported as a WARNING, and the
 * decision still reaches the server log.
 *
 * Locking: one LWLock in shared memory.  Appending and rotating take it
 * exclusively; reading takes it shared, so a reader never sees a rotation
 * half done.  The shared state (next sequence number) is rebuilt from the
 * files whenever shared memory is (re)initialized, which is what makes the
 * numbering survive a crash restart.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_audit.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands/dbcommands.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"	/* get_database_name() from 19 on */
#include "utils/timestamp.h"

#include "migration_guard.h"
#include "mg_compat.h"

#define MG_AUDIT_DIR		"migration_guard"
#define MG_AUDIT_CURRENT	MG_AUDIT_DIR "/audit.current"
#define MG_AUDIT_PREVIOUS	MG_AUDIT_DIR "/audit.previous"
#define MG_AUDIT_BASE		MG_AUDIT_DIR "/audit.base"

/* Shared state, protected by lock */
typedef struct MGAuditShared
{
	LWLock	   *lock;
	uint64		next_seq;		/* sequence number of the next entry */
} MGAuditShared;

static MGAuditShared *mg_audit_shared = NULL;

/*---- GUC variables ----*/
int			mg_audit_level = MG_AUDIT_ALL;
int			mg_audit_max_size_kb = 16 * 1024;
int			mg_audit_statement_max = 4096;
bool		mg_log_decisions = true;
char	   *mg_override_reason = NULL;

static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
#if MG_PG15_GTE
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif

/*
 * Append s to buf, escaping what would break the one-line, tab-separated
 * format.  NULL is written as \N.
 */
static void
mg_append_field(StringInfo buf, const char *s)
{
	if (buf->len > 0 && buf->data[buf->len - 1] != '\n')
		appendStringInfoChar(buf, '\t');
	if (s == NULL)
	{
		appendStringInfoString(buf, "\\N");
		return;
	}
	for (; *s; s++)
	{
		switch (*s)
		{
			case '\\':
				appendStringInfoString(buf, "\\\\");
				break;
			case '\t':
				appendStringInfoString(buf, "\\t");
				break;
			case '\n':
				appendStringInfoString(buf, "\\n");
				break;
			case '\r':
				appendStringInfoString(buf, "\\r");
				break;
			default:
				appendStringInfoChar(buf, *s);
		}
	}
}

/*
 * Undo mg_append_field's escaping in place; returns NULL for \N.
 */
char *
mg_audit_unescape(char *s)
{
	char	   *r = s;
	char	   *w = s;

	if (strcmp(s, "\\N") == 0)
		return NULL;
	while (*r)
	{
		if (*r == '\\' && r[1] != '\0')
		{
			r++;
			*w++ = (*r == 't') ? '\t' : (*r == 'n') ? '\n' : (*r == 'r') ? '\r' : *r;
			r++;
		}
		else
			*w++ = *r++;
	}
	*w = '\0';
	return s;
}

/*
 * Read a whole segment; returns NULL if it does not exist.
 */
char *
mg_audit_read_file(const char *path, Size *len)
{
	int			fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	struct stat st;
	char	   *data;
	ssize_t		got;

	if (fd < 0)
	{
		if (errno == ENOENT)
			return NULL;
		ereport(ERROR,
				errcode_for_file_access(),
				errmsg("could not open file \"%s\": %m", path));
	}
	if (fstat(fd, &st) < 0)
		ereport(ERROR,
				errcode_for_file_access(),
				errmsg("could not stat file \"%s\": %m", path));
	data = palloc(st.st_size + 1);
	got = read(fd, data, st.st_size);
	if (got < 0)
		ereport(ERROR,
				errcode_for_file_access(),
				errmsg("could not read file \"%s\": %m", path));
	CloseTransientFile(fd);
	data[got] = '\0';
	*len = got;
	return data;
}

/*
 * Sequence number of the first or last complete decision line of a
 * segment, or 0 if it has none.  Used at startup and for the status.
 */
uint64
mg_audit_segment_seq(const char *path, bool last)
{
	Size		len;
	char	   *data = mg_audit_read_file(path, &len);
	char	   *line;
	uint64		result = 0;

	if (data == NULL)
		return 0;
	line = data;
	while (line < data + len)
	{
		char	   *nl = strchr(line, '\n');

		if (nl == NULL)
			break;				/* torn last line */
		if (line[0] == 'D' && line[1] == '\t')
		{
			uint64		seq = strtou64(line + 2, NULL, 10);

			result = seq;
			if (!last)
				break;
		}
		line = nl + 1;
	}
	pfree(data);
	return result;
}

/*
 * First sequence number after the last reset (1 if never reset).
 */
uint64
mg_audit_base_seq(void)
{
	Size		len;
	char	   *data = mg_audit_read_file(MG_AUDIT_BASE, &len);
	uint64		base = 1;

	if (data != NULL)
	{
		base = strtou64(data, NULL, 10);
		pfree(data);
	}
	return base > 0 ? base : 1;
}

/*
 * Shared memory: one struct and one LWLock.
 */
static Size
mg_audit_shmem_size(void)
{
	return MAXALIGN(sizeof(MGAuditShared));
}

static void
mg_audit_shmem_request(void)
{
#if MG_PG15_GTE
	if (prev_shmem_request_hook)
		(*prev_shmem_request_hook) ();
#endif
	RequestAddinShmemSpace(mg_audit_shmem_size());
	RequestNamedLWLockTranche("migration_guard", 1);
}

/*
 * Create or attach to the shared state.  In the postmaster (startup, and
 * reinitialization after a backend crash), rebuild the next sequence number
 * from the files.
 */
static void
mg_audit_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		(*prev_shmem_startup_hook) ();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	mg_audit_shared = ShmemInitStruct("migration_guard", mg_audit_shmem_size(), &found);
	if (!found)
	{
		uint64		last;

		mg_audit_shared->lock = &(GetNamedLWLockTranche("migration_guard"))->lock;
		(void) MakePGDirectory(MG_AUDIT_DIR);
		last = mg_audit_segment_seq(MG_AUDIT_CURRENT, true);
		if (last == 0)
			last = mg_audit_segment_seq(MG_AUDIT_PREVIOUS, true);
		mg_audit_shared->next_seq = Max(last + 1, mg_audit_base_seq());
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Install the shared memory hooks (from _PG_init, while preloading).
 */
void
mg_audit_install_hooks(void)
{
#if MG_PG15_GTE
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = mg_audit_shmem_request;
#else
	mg_audit_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = mg_audit_shmem_startup;
}

/*
 * Rotate when audit.current is past half the budget.  Caller holds the lock
 * exclusively.
 */
static void
mg_audit_maybe_rotate(void)
{
	struct stat st;

	if (stat(MG_AUDIT_CURRENT, &st) < 0)
		return;
	if ((int64) st.st_size * 2 < (int64) mg_audit_max_size_kb * 1024)
		return;
	/* On failure (reported as a WARNING), keep appending to the current one. */
	(void) durable_rename(MG_AUDIT_CURRENT, MG_AUDIT_PREVIOUS, WARNING);
}

/*
 * Append one line (ending in '\n') to the trail; assigns and returns its
 * sequence number through *seq if seq is not NULL.  The line must not yet
 * hold the sequence number: it is prefixed here, under the lock.
 */
static bool
mg_audit_append(char type, const char *body, uint64 *seq)
{
	StringInfoData line;
	int			fd;
	bool		ok = true;
	uint64		myseq = 0;

	if (mg_audit_shared == NULL)
		return false;

	initStringInfo(&line);
	LWLockAcquire(mg_audit_shared->lock, LW_EXCLUSIVE);
	mg_audit_maybe_rotate();
	if (type == 'D')
	{
		myseq = mg_audit_shared->next_seq;
		appendStringInfo(&line, "D\t" UINT64_FORMAT "\t%s\n", myseq, body);
	}
	else
		appendStringInfo(&line, "%c\t%s\n", type, body);

	fd = OpenTransientFile(MG_AUDIT_CURRENT, O_RDWR | O_APPEND | O_CREAT | PG_BINARY);
	if (fd >= 0)
	{
		off_t		end = lseek(fd, 0, SEEK_END);
		char		last;

		/*
		 * A backend killed in the middle of write() leaves a line without
		 * its newline: end it, so that only that fragment is unreadable.
		 * A short write of our own is undone.
		 */
		if (end > 0 && pread(fd, &last, 1, end - 1) == 1 && last != '\n' &&
			write(fd, "\n", 1) != 1)
			ok = false;
		end = lseek(fd, 0, SEEK_END);
		if (ok && write(fd, line.data, line.len) != line.len)
		{
			ok = false;
			if (ftruncate(fd, end) != 0)
				ereport(WARNING,
						errcode_for_file_access(),
						errmsg("could not truncate file \"%s\": %m", MG_AUDIT_CURRENT));
		}
		else if (pg_fdatasync(fd) != 0)
			ok = false;
	}
	else
		ok = false;
	if (!ok)
		ereport(WARNING,
				errcode_for_file_access(),
				errmsg("could not write migration_guard audit entry to \"%s\": %m",
					   MG_AUDIT_CURRENT));
	if (fd >= 0)
		CloseTransientFile(fd);
	if (ok && type == 'D')
		mg_audit_shared->next_seq++;
	LWLockRelease(mg_audit_shared->lock);

	if (seq)
		*seq = ok ? myseq : 0;
	pfree(line.data);
	return ok;
}

/*
 * Client address of this session, or NULL for a Unix socket: what
 * inet_client_addr() returns (libpq-be.h cannot be included without the
 * GSSAPI headers).
 */
static char *
mg_client_addr(void)
{
	LOCAL_FCINFO(fcinfo, 0);
	Datum		addr;

	InitFunctionCallInfoData(*fcinfo, NULL, 0, InvalidOid, NULL, NULL);
	addr = inet_client_addr(fcinfo);
	if (fcinfo->isnull)
		return NULL;
	return DatumGetCString(DirectFunctionCall1(inet_out, addr));
}

/*
 * Record one decision.  Returns its sequence number (0 if not recorded).
 * Also writes the server log line, even when the trail is off or failed.
 */
uint64
mg_audit_decision(const MGDecision *d)
{
	StringInfoData body;
	char	   *statement = NULL;
	uint64		seq = 0;
	bool		keep;

	keep = (mg_audit_level >= MG_AUDIT_REJECTED &&
			(d->action == MG_VERDICT_REJECTED || d->action == MG_VERDICT_LOCK_TIMEOUT)) ||
		(mg_audit_level >= MG_AUDIT_WARNED && d->action == MG_VERDICT_WARNED) ||
		(mg_audit_level >= MG_AUDIT_ALL && d->action == MG_VERDICT_ALLOWED);

	if (d->statement != NULL)
	{
		int			len = strlen(d->statement);

		if (len > mg_audit_statement_max)
			len = pg_mbcliplen(d->statement, len, mg_audit_statement_max);
		statement = pnstrdup(d->statement, len);
	}

	initStringInfo(&body);
	appendStringInfo(&body, INT64_FORMAT, (int64) GetCurrentTimestamp());
	mg_append_field(&body, get_database_name(MyDatabaseId));
	mg_append_field(&body, GetUserNameFromId(GetSessionUserId(), true));
	mg_append_field(&body, GetUserNameFromId(GetUserId(), true));
	mg_append_field(&body, application_name);
	mg_append_field(&body, mg_client_addr());
	mg_append_field(&body, psprintf("%d", MyProcPid));
	mg_append_field(&body, d->command);
	mg_append_field(&body, statement);
	mg_append_field(&body, d->rule_name ? d->rule_name : mg_rule_name(d->rule));
	mg_append_field(&body, mg_verdict_name(d->action));
	mg_append_field(&body, d->why);
	mg_append_field(&body, (mg_override_reason && mg_override_reason[0]) ? mg_override_reason : NULL);
	mg_append_field(&body, d->relation);
	mg_append_field(&body, psprintf("%.0f", d->rows));
	mg_append_field(&body, psprintf(INT64_FORMAT, d->bytes));
	mg_append_field(&body, mg_lockmode_name(d->lockmode));
	mg_append_field(&body, psprintf("%d", mg_row_threshold));
	mg_append_field(&body, psprintf(INT64_FORMAT, (int64) mg_size_threshold_kb * 1024));
	mg_append_field(&body, mg_verdict_mode_name());

	if (keep)
		(void) mg_audit_append('D', body.data, &seq);

	if (mg_log_decisions)
		ereport(LOG_SERVER_ONLY,
				errmsg("MIGRATION_GUARD: action=%s rule=%s relation=\"%s\" rows=%.0f bytes=" INT64_FORMAT " lock=\"%s\" command=\"%s\" user=\"%s\" database=\"%s\" reason=\"%s\" seq=" UINT64_FORMAT,
					   mg_verdict_name(d->action),
					   d->rule_name ? d->rule_name : mg_rule_name(d->rule),
					   d->relation, d->rows, d->bytes,
					   mg_lockmode_name(d->lockmode), d->command,
					   GetUserNameFromId(GetSessionUserId(), true),
					   get_database_name(MyDatabaseId),
					   d->why ? d->why : "", seq),
				errhidestmt(true),
				errhidecontext(true));
	pfree(body.data);
	return seq;
}

/*
 * Record that the statement of decision seq completed.
 */
void
mg_audit_outcome(uint64 seq)
{
	if (seq > 0)
		(void) mg_audit_append('O', psprintf(UINT64_FORMAT "\tcompleted", seq), NULL);
}

/*
 * Lock for readers (shared) and for reset (exclusive).
 */
void
mg_audit_lock(bool exclusive)
{
	if (mg_audit_shared == NULL)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("migration_guard must be loaded via \"shared_preload_libraries\""));
	LWLockAcquire(mg_audit_shared->lock, exclusive ? LW_EXCLUSIVE : LW_SHARED);
}

void
mg_audit_unlock(void)
{
	LWLockRelease(mg_audit_shared->lock);
}

/*
 * Next sequence number; caller holds the lock.
 */
uint64
mg_audit_next_seq(void)
{
	return mg_audit_shared->next_seq;
}

/*
 * Empty the trail.  Caller holds the lock exclusively.  The sequence
 * continues; audit.base records where, so nothing counts as dropped.
 */
void
mg_audit_reset_locked(void)
{
	char	   *base = psprintf(UINT64_FORMAT "\n", mg_audit_shared->next_seq);
	int			fd;

	fd = OpenTransientFile(MG_AUDIT_BASE ".tmp",
						   O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (fd < 0 || write(fd, base, strlen(base)) != (ssize_t) strlen(base) ||
		pg_fsync(fd) != 0)
		ereport(ERROR,
				errcode_for_file_access(),
				errmsg("could not write file \"%s\": %m", MG_AUDIT_BASE ".tmp"));
	CloseTransientFile(fd);
	durable_rename(MG_AUDIT_BASE ".tmp", MG_AUDIT_BASE, ERROR);
	if (unlink(MG_AUDIT_CURRENT) < 0 && errno != ENOENT)
		ereport(ERROR,
				errcode_for_file_access(),
				errmsg("could not remove file \"%s\": %m", MG_AUDIT_CURRENT));
	if (unlink(MG_AUDIT_PREVIOUS) < 0 && errno != ENOENT)
		ereport(ERROR,
				errcode_for_file_access(),
				errmsg("could not remove file \"%s\": %m", MG_AUDIT_PREVIOUS));
}

/* Paths, for the SQL functions */
const char *const mg_audit_segments[2] = {MG_AUDIT_PREVIOUS, MG_AUDIT_CURRENT};
