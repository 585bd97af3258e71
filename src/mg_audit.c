/*-------------------------------------------------------------------------
 *
 * mg_audit.c
 *		The audit trail: every guard decision and every failed lock wait,
 *		kept through rollbacks, crashes and restarts, and every loss
 *		counted.
 *
 * A rejected statement aborts its transaction, so a row written to a table
 * in that transaction would vanish with it; shared memory alone is lost when
 * a backend crash makes the postmaster reinitialize it.  The trail is
 * therefore a pair of append-only files in the data directory, written at
 * decision time, before the rejection is raised:
 *
 *		$PGDATA/migration_guard/audit.current	entries being appended
 *		$PGDATA/migration_guard/audit.previous	the segment before it
 *		$PGDATA/migration_guard/audit.base		first sequence number after
 *												the last reset
 *		$PGDATA/migration_guard/audit.seq		sequence numbers below this
 *												may have been issued
 *		$PGDATA/migration_guard/audit.origin	this server's origin, which
 *												ends every record (see
 *												mg_audit_load_origin())
 *
 * Each entry is one line (mg_audit.h lists the record types), written with
 * a single write() on an O_APPEND descriptor and fdatasync()ed: DDL is rare,
 * so durability per entry is affordable.
 *
 * What may never happen, and how:
 *
 * - The cluster never stops because of these files.  The postmaster
 *   rebuilds the shared state from them at startup and after a crash, and
 *   every read problem there (permissions, a file where the directory
 *   should be, NUL bytes, torn or overlong lines, garbage) is a LOG line;
 *   readable entries are kept and damaged ones counted.
 * - Numbering never goes back.  Numbers are handed out from blocks
 *   persisted in audit.seq before use, and the exact next number is
 *   persisted at shutdown and before a crash restart.
 * - No loss goes unseen.  A write that fails (ENOSPC, EIO, a failed
 *   fdatasync, a file that is not a regular file) still consumes its
 *   sequence number, is counted in audit_status() with its error and time,
 *   and is reported once per burst; when writing works again a "W" record
 *   says which numbers were lost.  migration_guard.audit_on_failure =
 *   reject refuses to run a statement whose audit entry could not be
 *   written.
 * - No session waits on another's disk.  There is no LWLock: a spinlock
 *   protects the counters (never held across I/O), and appends, rotation,
 *   reset and readers coordinate with flock() on audit.lock, whose waits
 *   are interruptible (mg_audit_file.c).
 * - No role can flush the others' entries out.  Each role (by session user;
 *   superusers exempt) may add at most migration_guard.audit_rate_limit
 *   entries per minute; entries above it are not written but counted
 *   ("suppressed") and reported once per burst.
 *
 * Beyond this server: mg_audit_copy.c copies the entries into a table that
 * replication takes to the standbys.
 *
 * Retention: when audit.current grows past half of
 * migration_guard.audit_max_size it becomes audit.previous, replacing the
 * older segment, whose entries are dropped (audit_status() counts them).
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
#include "pgstat.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"	/* get_database_name() from 19 on */
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "migration_guard.h"
#include "mg_audit.h"
#include "mg_compat.h"

/* Roles are rate-limited in this many buckets (hashed by role OID). */
#define MG_RATE_BUCKETS 128

typedef struct MGRateBucket
{
	Oid			role;
	bool		suppressing;	/* reported that this role is limited */
	double		tokens;
	TimestampTz last;
} MGRateBucket;

/* Shared state, protected by mutex; nothing under it does I/O. */
typedef struct MGAuditShared
{
	slock_t		mutex;
	uint64		next_seq;		/* number of the next entry */
	uint64		reserved;		/* numbers below this are in audit.seq */
	bool		extending;		/* a backend is persisting a new block */
	bool		numbering_known;	/* the files could be read */
	int64		write_failures; /* since server start */
	char		last_error[128];
	TimestampTz last_failure;
	bool		in_burst;		/* the last write failed */
	uint64		burst_first;
	uint64		burst_last;
	int64		burst_count;
	int64		suppressed;		/* entries over a role's rate limit */
	int64		damaged_at_start;
	int64		origin;			/* this server's origin, see mg_audit_origin() */
	/* the copy to the audit table (mg_audit_copy.c) */
	Oid			copy_dboid;		/* migration_guard.audit_database, looked up */
	bool		copy_logged[2]; /* MG_COPY_LOG_*: reported once */
	TimestampTz last_copy;
	char		copy_error[128];
	uint64		resets;			/* audit_reset() calls: new files, maybe same inodes */
	MGRateBucket buckets[MG_RATE_BUCKETS];
} MGAuditShared;

static MGAuditShared *mg_audit_shared = NULL;

/*---- GUC variables ----*/
int			mg_audit_level = MG_AUDIT_ALL;
int			mg_audit_max_size_kb = 16 * 1024;
int			mg_audit_statement_max = 4096;
bool		mg_log_decisions = true;
char	   *mg_override_reason = NULL;
int			mg_audit_rate_limit = 60;
int			mg_audit_on_failure = MG_AUDIT_FAILURE_CONTINUE;

static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
#if MG_PG15_GTE
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif

static const struct config_enum_entry mg_audit_failure_options[] = {
	{"continue", MG_AUDIT_FAILURE_CONTINUE, false},
	{"reject", MG_AUDIT_FAILURE_REJECT, false},
	{NULL, 0, false}
};

/*
 * The settings that belong to the trail alone (the older ones are defined
 * with the rest of the policy in migration_guard.c).
 */
void
mg_audit_define_gucs(void)
{
	DefineCustomIntVariable("migration_guard.audit_rate_limit",
							"Sets how many audit entries one role may add per minute.",
							"Entries above it are counted as suppressed instead of written, "
							"so that no role can push the others' entries out of the trail.  "
							"Superusers are not limited.  0 disables the limit.",
							&mg_audit_rate_limit,
							60,
							0, 100000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("migration_guard.audit_on_failure",
							 "Sets what happens to a statement whose audit entry cannot be written.",
							 "\"continue\" runs it (the loss is counted and logged); \"reject\" "
							 "refuses to run a warned or allowed statement without its entry.",
							 &mg_audit_on_failure,
							 MG_AUDIT_FAILURE_CONTINUE,
							 mg_audit_failure_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
}

/*---- shared memory ----*/

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
}

/*
 * Highest sequence number in a segment, and its damaged lines.  Reports
 * read problems at LOG: this runs in the postmaster.
 */
static uint64
mg_audit_scan_max_seq(const char *path, int64 *damaged)
{
	MGAuditReader r;
	char	   *line;
	uint64		max = 0;

	if (!mg_audit_reader_open(&r, path, LOG))
		return 0;
	while ((line = mg_audit_reader_next(&r)) != NULL)
	{
		char		type;
		uint64		seq;

		if (!mg_audit_parse_seq(line, &type, &seq))
		{
			r.damaged++;
			continue;
		}
		if (!mg_audit_record_complete(line, type))
			r.damaged++;
		/* Even a damaged record's number may have been issued. */
		if (type != MG_AUDIT_REC_OUTCOME)
			max = Max(max, seq);
	}
	*damaged += r.damaged;
	mg_audit_reader_close(&r);
	return max;
}

/*
 * Persist the exact next number when the shared state goes away (shutdown,
 * or reinitialization after a backend crash), so that a restart continues
 * without a gap.  Registered in the postmaster only.
 */
static void
mg_audit_shmem_exit(int code, Datum arg)
{
	uint64		next;

	if (mg_audit_shared == NULL)
		return;
	next = mg_audit_shared->next_seq;
	(void) mg_audit_write_number(MG_AUDIT_SEQFILE, next, LOG);
}

/*
 * The next sequence number according to the files: above every number
 * found in a segment, the base and the persisted reservation.  Sets
 * *known to false if a file existed but could not be read: then the
 * numbering is not safe to use.  Reports at LOG; never raises an error.
 */
static uint64
mg_audit_scan_next_seq(int64 *damaged, bool *known)
{
	uint64		current;
	uint64		previous;
	uint64		base;
	uint64		persisted;

	/* Max() evaluates its arguments twice: read each file once. */
	mg_audit_read_problem = false;
	current = mg_audit_scan_max_seq(MG_AUDIT_CURRENT, damaged);
	previous = mg_audit_scan_max_seq(MG_AUDIT_PREVIOUS, damaged);
	base = mg_audit_read_number(MG_AUDIT_BASE, LOG);
	persisted = mg_audit_read_number(MG_AUDIT_SEQFILE, LOG);
	*known = !mg_audit_read_problem;
	return Max(Max(current, previous) + 1, Max(base, persisted));
}

/*
 * This server's origin: the number that, with the sequence number,
 * identifies its entries in the audit table of every server of the
 * replication group (see mg_audit_copy.c).  It is kept in audit.origin and
 * chosen anew whenever the data directory may be a copy of another
 * server's: when it starts from a base backup (backup_label) or as a
 * standby or for archive recovery (standby.signal, recovery.signal).  A
 * primary's crash restart keeps it, since its numbering continues.
 *
 * A base backup also copies the other server's segments: they are that
 * server's entries, which its own copy puts in the table, so they are set
 * aside (audit.inherited.*, for inspection) rather than shown and copied
 * again as this server's.  Runs in the postmaster: every problem is a LOG.
 */
static int64
mg_audit_load_origin(void)
{
	struct stat st;
	bool		from_backup = stat("backup_label", &st) == 0;
	bool		copy = from_backup ||
		stat("standby.signal", &st) == 0 ||
		stat("recovery.signal", &st) == 0;
	uint64		origin = mg_audit_read_number(MG_AUDIT_ORIGINFILE, LOG);

	if (from_backup)
	{
		if (stat(MG_AUDIT_CURRENT, &st) == 0)
			(void) durable_rename(MG_AUDIT_CURRENT, MG_AUDIT_INHERITED_CURRENT, LOG);
		if (stat(MG_AUDIT_PREVIOUS, &st) == 0)
			(void) durable_rename(MG_AUDIT_PREVIOUS, MG_AUDIT_INHERITED_PREVIOUS, LOG);
	}
	if (origin > 0 && origin <= PG_INT64_MAX && !copy)
		return (int64) origin;

	origin = 0;
	while (origin == 0)
	{
		if (!pg_strong_random(&origin, sizeof(origin)))
			origin = (uint64) GetCurrentTimestamp() ^ ((uint64) MyProcPid << 32);
		origin &= PG_INT64_MAX;
	}
	/* On failure the origin still holds until the next start. */
	(void) mg_audit_write_number(MG_AUDIT_ORIGINFILE, origin, LOG);
	return (int64) origin;
}

/*
 * Rebuild the shared state from the files, in the postmaster.  Nothing here
 * may raise an ERROR, which would stop the cluster: every problem is a LOG.
 */
static void
mg_audit_rebuild(void)
{
	struct stat st;
	int64		damaged = 0;
	uint64		next;
	bool		known;

	if (stat(MG_AUDIT_DIR, &st) < 0)
	{
		if (errno != ENOENT || MakePGDirectory(MG_AUDIT_DIR) < 0)
			ereport(LOG,
					errcode_for_file_access(),
					errmsg("could not create migration_guard audit directory \"%s\": %m",
						   MG_AUDIT_DIR),
					errdetail("Audit entries cannot be written and are counted as write failures."));
	}
	else if (!S_ISDIR(st.st_mode))
		ereport(LOG,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("\"%s\" in the data directory is not a directory", MG_AUDIT_DIR),
				errdetail("Audit entries cannot be written and are counted as write failures."),
				errhint("Move it away and restart the server."));

	mg_audit_shared->origin = mg_audit_load_origin();
	next = mg_audit_scan_next_seq(&damaged, &known);
	if (damaged > 0)
		ereport(LOG,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("migration_guard audit trail has " INT64_FORMAT " damaged lines, which are skipped",
					   damaged),
				errdetail("The other entries are kept; numbering continues at " UINT64_FORMAT ".",
						  next));

	mg_audit_shared->next_seq = next;
	mg_audit_shared->damaged_at_start = damaged;
	mg_audit_shared->numbering_known = known;
	if (known)
	{
		mg_audit_shared->reserved = next + MG_AUDIT_SEQ_BLOCK;
		(void) mg_audit_write_number(MG_AUDIT_SEQFILE, mg_audit_shared->reserved, LOG);
	}
	else
		ereport(LOG,
				errmsg("migration_guard audit trail cannot be read: entries are not written until it can"),
				errdetail("Numbering could otherwise reuse sequence numbers.  Every entry meanwhile is counted as a write failure."));
}

/*
 * In a backend, when the postmaster could not read the files: try again,
 * under the file lock.  Returns whether the numbering is now known.
 */
static bool
mg_audit_rescan(void)
{
	int			lockfd;
	int64		damaged = 0;
	bool		known;
	uint64		next;

	lockfd = mg_audit_lock_file(true, true);
	next = mg_audit_scan_next_seq(&damaged, &known);
	if (known)
		known = mg_audit_write_number(MG_AUDIT_SEQFILE, next + MG_AUDIT_SEQ_BLOCK, LOG);
	if (known)
	{
		SpinLockAcquire(&mg_audit_shared->mutex);
		if (!mg_audit_shared->numbering_known)
		{
			mg_audit_shared->next_seq = Max(mg_audit_shared->next_seq, next);
			mg_audit_shared->reserved = mg_audit_shared->next_seq + MG_AUDIT_SEQ_BLOCK;
			mg_audit_shared->numbering_known = true;
		}
		SpinLockRelease(&mg_audit_shared->mutex);
	}
	mg_audit_unlock_file(lockfd);
	return known;
}

/*
 * Create or attach to the shared state.  Whoever creates it (the
 * postmaster, at startup and after a crash) rebuilds it from the files,
 * after releasing AddinShmemInitLock: no I/O under an LWLock.
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
		memset(mg_audit_shared, 0, sizeof(MGAuditShared));
		SpinLockInit(&mg_audit_shared->mutex);
		mg_audit_shared->next_seq = 1;
		mg_audit_shared->reserved = 1;
	}
	LWLockRelease(AddinShmemInitLock);

	if (!found)
	{
		mg_audit_rebuild();
		if (!IsUnderPostmaster)
			on_shmem_exit(mg_audit_shmem_exit, (Datum) 0);
	}
}

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

/*---- numbering ----*/

/*
 * Reserve the next block of numbers in audit.seq.  Runs without the
 * spinlock; "extending" keeps others waiting (interruptibly) meanwhile.
 */
static void
mg_audit_reservation_done(uint64 target)
{
	SpinLockAcquire(&mg_audit_shared->mutex);
	mg_audit_shared->reserved = Max(mg_audit_shared->reserved, target);
	mg_audit_shared->extending = false;
	SpinLockRelease(&mg_audit_shared->mutex);
}

static void
mg_audit_extend_reservation(uint64 from)
{
	uint64		target = from + MG_AUDIT_SEQ_BLOCK;

	PG_TRY();
	{
		/* On failure numbering goes on; only crash safety is reduced. */
		(void) mg_audit_write_number(MG_AUDIT_SEQFILE, target, LOG);
	}
	PG_CATCH();
	{
		mg_audit_reservation_done(target);
		PG_RE_THROW();
	}
	PG_END_TRY();
	mg_audit_reservation_done(target);
}

/*
 * Take the next sequence number; 0 if the files cannot be read, so that no
 * number is handed out that may already be in use.
 */
static uint64
mg_audit_take_seq(void)
{
	for (;;)
	{
		uint64		seq = 0;
		bool		extend = false;
		bool		known;

		SpinLockAcquire(&mg_audit_shared->mutex);
		known = mg_audit_shared->numbering_known;
		SpinLockRelease(&mg_audit_shared->mutex);
		if (!known && !mg_audit_rescan())
			return 0;

		SpinLockAcquire(&mg_audit_shared->mutex);
		if (mg_audit_shared->next_seq < mg_audit_shared->reserved)
			seq = mg_audit_shared->next_seq++;
		else if (!mg_audit_shared->extending)
		{
			mg_audit_shared->extending = true;
			extend = true;
			seq = mg_audit_shared->next_seq;
		}
		SpinLockRelease(&mg_audit_shared->mutex);

		if (extend)
			mg_audit_extend_reservation(seq);
		else if (seq > 0)
			return seq;
		else
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 1, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	}
}

/*---- rate limit ----*/

/*
 * May this role add another entry?  A token bucket per role: the limit per
 * minute, refilled continuously, with the same burst.
 */
static bool
mg_audit_rate_ok(Oid role)
{
	MGRateBucket *b;
	TimestampTz now;
	bool		ok;
	bool		report = false;
	double		limit = mg_audit_rate_limit;

	if (limit <= 0 || superuser_arg(role))
		return true;
	now = GetCurrentTimestamp();

	SpinLockAcquire(&mg_audit_shared->mutex);
	b = &mg_audit_shared->buckets[role % MG_RATE_BUCKETS];
	if (b->role != role)
	{
		b->role = role;
		b->tokens = limit;
		b->last = now;
		b->suppressing = false;
	}
	b->tokens = Min(limit, b->tokens + (double) (now - b->last) * limit / (60.0 * USECS_PER_SEC));
	b->last = now;
	ok = b->tokens >= 1.0;
	if (ok)
	{
		b->tokens -= 1.0;
		b->suppressing = false;
	}
	else
	{
		mg_audit_shared->suppressed++;
		report = !b->suppressing;
		b->suppressing = true;
	}
	SpinLockRelease(&mg_audit_shared->mutex);

	if (report)
		ereport(LOG,
				errmsg("migration_guard audit entries of role \"%s\" are being suppressed",
					   GetUserNameFromId(role, true) ? GetUserNameFromId(role, true) : "?"),
				errdetail("The role exceeded \"migration_guard.audit_rate_limit\" (%d entries per minute); suppressed entries are counted in migration_guard.audit_status().",
						  mg_audit_rate_limit),
				errhidestmt(true));
	return ok;
}

/*---- writing ----*/

/*
 * Rename audit.current to audit.previous if it is past half the budget.
 * Only tries once: if a reader or appender holds the file lock, the next
 * append rotates.
 */
static void
mg_audit_maybe_rotate(off_t size)
{
	int			lockfd;
	struct stat st;

	if ((int64) size * 2 < (int64) mg_audit_max_size_kb * 1024)
		return;
	lockfd = mg_audit_lock_file(true, false);
	if (lockfd < 0)
		return;
	if (stat(MG_AUDIT_CURRENT, &st) == 0 &&
		(int64) st.st_size * 2 >= (int64) mg_audit_max_size_kb * 1024)
		(void) durable_rename(MG_AUDIT_CURRENT, MG_AUDIT_PREVIOUS, LOG);
	mg_audit_unlock_file(lockfd);
}

/*
 * Append one complete line (ending in '\n') to audit.current; *size is then
 * the file's size, for the caller to rotate once it has released the file
 * lock.  Returns false and the reason in err on failure.  Never raises an
 * error for an I/O problem.
 */
static bool
mg_audit_write_raw(const char *line, int len, char *err, size_t errlen,
				   off_t *size)
{
	int			fd;
	struct stat st;
	off_t		end;
	char		last;
	bool		ok = false;

	fd = OpenTransientFile(MG_AUDIT_CURRENT,
						   O_RDWR | O_APPEND | O_CREAT | O_NONBLOCK | PG_BINARY);
	if (fd < 0)
	{
		snprintf(err, errlen, "could not open \"%s\": %m", MG_AUDIT_CURRENT);
		return false;
	}
	if (fstat(fd, &st) < 0)
		snprintf(err, errlen, "could not stat \"%s\": %m", MG_AUDIT_CURRENT);
	else if (!S_ISREG(st.st_mode))
		snprintf(err, errlen, "\"%s\" is not a regular file", MG_AUDIT_CURRENT);
	else
	{
		/*
		 * A backend killed in the middle of write() leaves a line without
		 * its newline: end it, so that only that fragment is damaged.
		 */
		end = st.st_size;
		if (end > 0 && pread(fd, &last, 1, end - 1) == 1 && last != '\n' &&
			write(fd, "\n", 1) != 1)
			snprintf(err, errlen, "could not write to \"%s\": %m", MG_AUDIT_CURRENT);
		else
		{
			ssize_t		done;

			errno = 0;
			done = write(fd, line, len);
			if (done != len)
			{
				if (done >= 0 && errno == 0)
					errno = ENOSPC;
				snprintf(err, errlen, "could not write to \"%s\": %m", MG_AUDIT_CURRENT);
			}
			else if (pg_fdatasync(fd) != 0)
				snprintf(err, errlen, "could not fdatasync \"%s\": %m", MG_AUDIT_CURRENT);
			else
				ok = true;
			end = st.st_size + Max(done, 0);
		}
	}
	CloseTransientFile(fd);
	*size = ok ? end : 0;
	return ok;
}

/* Forward: a burst of failures ended */
static void mg_audit_write_burst_record(uint64 first, uint64 last, int64 count,
										const char *error);

/*
 * Count the result of one write; report the first failure of a burst, and
 * record a burst that just ended.
 */
static void
mg_audit_note_result(bool ok, uint64 seq, const char *err)
{
	bool		report_start = false;
	bool		burst_ended = false;
	uint64		first = 0,
				last = 0;
	int64		count = 0;
	char		error[128];

	SpinLockAcquire(&mg_audit_shared->mutex);
	if (!ok)
	{
		mg_audit_shared->write_failures++;
		mg_audit_shared->last_failure = GetCurrentTimestamp();
		strlcpy(mg_audit_shared->last_error, err, sizeof(mg_audit_shared->last_error));
		if (!mg_audit_shared->in_burst)
		{
			mg_audit_shared->in_burst = true;
			mg_audit_shared->burst_first = seq;
			mg_audit_shared->burst_count = 0;
			report_start = true;
		}
		mg_audit_shared->burst_last = Max(mg_audit_shared->burst_last, seq);
		if (mg_audit_shared->burst_first == 0)
			mg_audit_shared->burst_first = seq;
		mg_audit_shared->burst_count++;
	}
	else if (mg_audit_shared->in_burst)
	{
		mg_audit_shared->in_burst = false;
		burst_ended = true;
		first = mg_audit_shared->burst_first;
		last = mg_audit_shared->burst_last;
		count = mg_audit_shared->burst_count;
		strlcpy(error, mg_audit_shared->last_error, sizeof(error));
	}
	SpinLockRelease(&mg_audit_shared->mutex);

	if (report_start)
		ereport(WARNING,
				errcode(ERRCODE_IO_ERROR),
				seq > 0 ?
				errmsg("could not write migration_guard audit entry " UINT64_FORMAT, seq) :
				errmsg("could not write migration_guard audit entry"),
				errdetail("%s", err),
				errhint("Further failures are counted in migration_guard.audit_status() and reported again when writing works."));
	if (burst_ended)
	{
		ereport(LOG,
				errmsg("migration_guard audit trail is written again after " INT64_FORMAT " failed entries (" UINT64_FORMAT " to " UINT64_FORMAT ")",
					   count, first, last),
				errhidestmt(true));
		mg_audit_write_burst_record(first, last, count, error);
	}
}

/*
 * Write one numbered record: take the number, then the file lock shared,
 * then append.  Returns the number (consumed even if the write failed, so
 * that the loss shows; 0 if none could be issued) and whether it was
 * written.
 */
static uint64
mg_audit_write_record(char type, const char *body, bool *written)
{
	StringInfoData line;
	int			lockfd;
	uint64		seq;
	char		err[256] = "";
	off_t		size;
	bool		ok;

	seq = mg_audit_take_seq();
	if (seq == 0)
	{
		snprintf(err, sizeof(err), "the audit files cannot be read, so no sequence number can be issued safely");
		mg_audit_note_result(false, 0, err);
		*written = false;
		return 0;
	}
	lockfd = mg_audit_lock_file(false, true);
	initStringInfo(&line);
	appendStringInfo(&line, "%c\t" UINT64_FORMAT "\t%s\t" INT64_FORMAT "\n",
					 type, seq, body, mg_audit_shared->origin);
	ok = mg_audit_write_raw(line.data, line.len, err, sizeof(err), &size);
	mg_audit_unlock_file(lockfd);
	pfree(line.data);
	if (ok)
		mg_audit_maybe_rotate(size);

	mg_audit_note_result(ok, seq, err);
	*written = ok;
	return seq;
}

static void
mg_audit_write_burst_record(uint64 first, uint64 last, int64 count,
							const char *error)
{
	StringInfoData body;
	bool		written;

	initStringInfo(&body);
	appendStringInfo(&body, INT64_FORMAT, (int64) GetCurrentTimestamp());
	mg_audit_append_field(&body, psprintf(UINT64_FORMAT, first));
	mg_audit_append_field(&body, psprintf(UINT64_FORMAT, last));
	mg_audit_append_field(&body, psprintf(INT64_FORMAT, count));
	mg_audit_append_field(&body, mg_audit_to_utf8(error));
	(void) mg_audit_write_record(MG_AUDIT_REC_WRITE_FAIL, body.data, &written);
	pfree(body.data);
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

/* The statement text as kept: cut at audit_statement_max, on a character */
static char *
mg_audit_clip_statement(const char *s)
{
	int			len;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	if (len > mg_audit_statement_max)
		len = pg_mbcliplen(s, len, mg_audit_statement_max);
	return pnstrdup(s, len);
}

/*
 * The fields every record starts with: when, where, who.
 */
static void
mg_audit_append_who(StringInfo body)
{
	appendStringInfo(body, INT64_FORMAT, (int64) GetCurrentTimestamp());
	mg_audit_append_field(body, mg_audit_to_utf8(get_database_name(MyDatabaseId)));
	mg_audit_append_field(body, mg_audit_to_utf8(GetUserNameFromId(GetSessionUserId(), true)));
	mg_audit_append_field(body, mg_audit_to_utf8(GetUserNameFromId(GetUserId(), true)));
	mg_audit_append_field(body, mg_audit_to_utf8(application_name));
	mg_audit_append_field(body, mg_client_addr());
	mg_audit_append_field(body, psprintf("%d", MyProcPid));
}

/*
 * Append key="value" to a server log line, logfmt-style: quotes,
 * backslashes and line breaks inside values are escaped, so a value can
 * never split the line or fake another key.  Tokens of our own (action,
 * rule) are written bare, as 1.0 did.
 */
static void
mg_logfmt(StringInfo buf, const char *key, const char *value)
{
	const char *s;

	appendStringInfo(buf, "%s%s=\"", buf->len > 0 ? " " : "", key);
	for (s = value ? value : ""; *s; s++)
	{
		if (*s == '"' || *s == '\\')
			appendStringInfoChar(buf, '\\');
		if (*s == '\n')
			appendStringInfoString(buf, "\\n");
		else if (*s == '\r')
			appendStringInfoString(buf, "\\r");
		else
			appendStringInfoChar(buf, *s);
	}
	appendStringInfoChar(buf, '"');
}

static void
mg_logfmt_token(StringInfo buf, const char *key, const char *token)
{
	appendStringInfo(buf, "%s%s=%s", buf->len > 0 ? " " : "", key, token);
}

static void
mg_audit_log_line(StringInfo fields)
{
	if (mg_log_decisions)
		ereport(LOG_SERVER_ONLY,
				errmsg("MIGRATION_GUARD: %s", fields->data),
				errhidestmt(true),
				errhidecontext(true));
}

/*
 * Write a record if the role's rate allows it.  Returns its number, or 0 if
 * it was suppressed; *written tells whether it reached the disk.
 */
static uint64
mg_audit_keep(char type, const char *body, bool *written)
{
	*written = false;
	if (mg_audit_shared == NULL)
		return 0;
	if (!mg_audit_rate_ok(GetSessionUserId()))
		return 0;
	return mg_audit_write_record(type, body, written);
}

/*
 * Under migration_guard.audit_on_failure = reject, a statement that would
 * run must not run without its entry.
 */
static void
mg_audit_require_written(bool written, uint64 seq)
{
	if (written || mg_audit_on_failure != MG_AUDIT_FAILURE_REJECT)
		return;
	ereport(ERROR,
			errcode(ERRCODE_IO_ERROR),
			errmsg("statement not run: its migration_guard audit entry could not be written"),
			seq > 0 ?
			errdetail("Entry " UINT64_FORMAT " was lost; see migration_guard.audit_status().", seq) :
			errdetail("The entry was suppressed by \"migration_guard.audit_rate_limit\"."),
			errhint("\"migration_guard.audit_on_failure\" is \"reject\": fix the audit trail's disk, or wait and retry."));
}

/*
 * Record that a lock wait failed, with who was in the way.  Called where an
 * error is allowed (not from an error context callback).
 */
uint64
mg_audit_lock_wait(const char *command, const char *statement,
				   const char *relation, LOCKMODE lockmode,
				   const char *blockers)
{
	StringInfoData body;
	StringInfoData log;
	uint64		seq = 0;
	bool		written;

	if (mg_audit_level >= MG_AUDIT_REJECTED)
	{
		initStringInfo(&body);
		mg_audit_append_who(&body);
		mg_audit_append_field(&body, command);
		mg_audit_append_field(&body, mg_audit_to_utf8(mg_audit_clip_statement(statement)));
		mg_audit_append_field(&body, mg_audit_to_utf8(relation));
		mg_audit_append_field(&body, mg_lockmode_name(lockmode));
		mg_audit_append_field(&body, mg_audit_to_utf8(blockers));
		mg_audit_append_field(&body, psprintf("%u", GetSessionUserId()));
		seq = mg_audit_keep(MG_AUDIT_REC_LOCK_WAIT, body.data, &written);
		pfree(body.data);
	}

	initStringInfo(&log);
	mg_logfmt_token(&log, "action", "lock_timeout");
	mg_logfmt(&log, "relation", relation);
	mg_logfmt(&log, "lock", mg_lockmode_name(lockmode));
	mg_logfmt(&log, "command", command);
	mg_logfmt(&log, "user", GetUserNameFromId(GetSessionUserId(), true));
	mg_logfmt(&log, "database", get_database_name(MyDatabaseId));
	mg_logfmt_token(&log, "seq", psprintf(UINT64_FORMAT, seq));
	mg_audit_log_line(&log);
	return seq;
}

/*
 * Compose a lock-hold record ahead, while catalog access is allowed: who,
 * the statement that took the lock, the relation and the mode.  Allocated
 * in the current memory context.
 */
void
mg_audit_lock_hold_prepare(MGHoldRecord *rec, const char *command,
						   const char *statement, const char *relation,
						   LOCKMODE lockmode)
{
	StringInfoData body;
	StringInfoData log;

	initStringInfo(&body);
	mg_audit_append_field(&body, mg_audit_to_utf8(get_database_name(MyDatabaseId)));
	mg_audit_append_field(&body, mg_audit_to_utf8(GetUserNameFromId(GetSessionUserId(), true)));
	mg_audit_append_field(&body, mg_audit_to_utf8(GetUserNameFromId(GetUserId(), true)));
	mg_audit_append_field(&body, mg_audit_to_utf8(application_name));
	mg_audit_append_field(&body, mg_client_addr());
	mg_audit_append_field(&body, psprintf("%d", MyProcPid));
	mg_audit_append_field(&body, command);
	mg_audit_append_field(&body, mg_audit_to_utf8(mg_audit_clip_statement(statement)));
	mg_audit_append_field(&body, mg_audit_to_utf8(relation));
	mg_audit_append_field(&body, mg_lockmode_name(lockmode));
	rec->fields = body.data;

	initStringInfo(&log);
	mg_logfmt(&log, "relation", relation);
	mg_logfmt(&log, "lock", mg_lockmode_name(lockmode));
	mg_logfmt(&log, "command", command);
	mg_logfmt(&log, "user", GetUserNameFromId(GetSessionUserId(), true));
	mg_logfmt(&log, "database", get_database_name(MyDatabaseId));
	rec->log = log.data;
	rec->session_user = GetSessionUserId();
}

/*
 * Record that the guard ended a transaction that held its lock too long.
 * Called from the transaction abort callbacks, where I/O is allowed but
 * catalog access is not: the record was composed by
 * mg_audit_lock_hold_prepare(), only the times are added.  Not subject to
 * audit_rate_limit (whose superuser check reads the catalog): there is at
 * most one such record per lock_hold_timeout and session.
 */
uint64
mg_audit_lock_hold(const MGHoldRecord *rec, bool terminated, int64 held_ms,
				   int budget_ms)
{
	StringInfoData body;
	StringInfoData log;
	const char *action = terminated ? "terminated" : "cancelled";
	uint64		seq = 0;
	bool		written;

	if (rec->fields == NULL)
		return 0;
	if (mg_audit_level >= MG_AUDIT_REJECTED && mg_audit_shared != NULL)
	{
		initStringInfo(&body);
		appendStringInfo(&body, INT64_FORMAT "\t%s", (int64) GetCurrentTimestamp(),
						 rec->fields);
		mg_audit_append_field(&body, action);
		mg_audit_append_field(&body, psprintf(INT64_FORMAT, held_ms));
		mg_audit_append_field(&body, psprintf("%d", budget_ms));
		mg_audit_append_field(&body, psprintf("%u", rec->session_user));
		seq = mg_audit_write_record(MG_AUDIT_REC_LOCK_HOLD, body.data, &written);
		pfree(body.data);
	}

	initStringInfo(&log);
	mg_logfmt_token(&log, "action", action);
	mg_logfmt_token(&log, "rule", "lock_hold");
	appendStringInfo(&log, " %s held_ms=" INT64_FORMAT " budget_ms=%d seq=" UINT64_FORMAT,
					 rec->log, held_ms, budget_ms, seq);
	mg_audit_log_line(&log);
	pfree(log.data);
	return seq;
}

/*
 * Record one decision.  Returns its sequence number (0 if not recorded).
 * Also writes the server log line, even when the trail is off or failed.
 */
uint64
mg_audit_decision(const MGDecision *d)
{
	StringInfoData body;
	StringInfoData log;
	const char *rule = mg_rule_name(d->rule);
	uint64		seq = 0;
	bool		written = false;
	bool		keep;

	keep = (mg_audit_level >= MG_AUDIT_REJECTED && d->action == MG_VERDICT_REJECTED) ||
		(mg_audit_level >= MG_AUDIT_WARNED && d->action == MG_VERDICT_WARNED) ||
		(mg_audit_level >= MG_AUDIT_ALL && d->action == MG_VERDICT_ALLOWED);

	if (keep)
	{
		initStringInfo(&body);
		mg_audit_append_who(&body);
		mg_audit_append_field(&body, d->command);
		mg_audit_append_field(&body, mg_audit_to_utf8(mg_audit_clip_statement(d->statement)));
		mg_audit_append_field(&body, rule);
		mg_audit_append_field(&body, mg_verdict_name(d->action));
		mg_audit_append_field(&body, mg_audit_to_utf8(d->why));
		mg_audit_append_field(&body, (mg_override_reason && mg_override_reason[0]) ?
							  mg_audit_to_utf8(mg_override_reason) : NULL);
		mg_audit_append_field(&body, mg_audit_to_utf8(d->relation));
		mg_audit_append_field(&body, psprintf("%.0f", d->rows));
		mg_audit_append_field(&body, psprintf(INT64_FORMAT, d->bytes));
		mg_audit_append_field(&body, mg_lockmode_name(d->lockmode));
		mg_audit_append_field(&body, psprintf("%d", mg_row_threshold));
		mg_audit_append_field(&body, psprintf(INT64_FORMAT, (int64) mg_size_threshold_kb * 1024));
		mg_audit_append_field(&body, mg_verdict_mode_name());
		mg_audit_append_field(&body, psprintf("%u", GetSessionUserId()));
		seq = mg_audit_keep(MG_AUDIT_REC_DECISION, body.data, &written);
		pfree(body.data);
	}

	initStringInfo(&log);
	mg_logfmt_token(&log, "action", mg_verdict_name(d->action));
	mg_logfmt_token(&log, "rule", rule);
	mg_logfmt(&log, "relation", d->relation);
	appendStringInfo(&log, " rows=%.0f bytes=" INT64_FORMAT, d->rows, d->bytes);
	mg_logfmt(&log, "lock", mg_lockmode_name(d->lockmode));
	mg_logfmt(&log, "command", d->command);
	mg_logfmt(&log, "user", GetUserNameFromId(GetSessionUserId(), true));
	mg_logfmt(&log, "database", get_database_name(MyDatabaseId));
	mg_logfmt(&log, "reason", d->why);
	appendStringInfo(&log, " seq=" UINT64_FORMAT, seq);
	mg_audit_log_line(&log);
	pfree(log.data);

	if (keep && d->action != MG_VERDICT_REJECTED)
		mg_audit_require_written(written, seq);
	return written ? seq : 0;
}

/*
 * Record that the statement of decision seq completed.  Outcome lines take
 * no number and no rate: they only annotate a decision already kept.
 */
void
mg_audit_outcome(uint64 seq)
{
	char	   *line;
	int			lockfd;
	char		err[256] = "";
	off_t		size;

	if (seq == 0 || mg_audit_shared == NULL)
		return;
	line = psprintf("%c\t" UINT64_FORMAT "\tcompleted\t" INT64_FORMAT "\n",
					MG_AUDIT_REC_OUTCOME, seq, mg_audit_shared->origin);
	lockfd = mg_audit_lock_file(false, true);
	if (!mg_audit_write_raw(line, strlen(line), err, sizeof(err), &size))
		ereport(LOG,
				errcode(ERRCODE_IO_ERROR),
				errmsg("could not record the outcome of migration_guard audit entry " UINT64_FORMAT ": %s",
					   seq, err));
	mg_audit_unlock_file(lockfd);
	pfree(line);
}

/*---- for the SQL functions ----*/

void
mg_audit_counters(MGAuditCounters *c)
{
	if (mg_audit_shared == NULL)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("migration_guard must be loaded via \"shared_preload_libraries\""));
	SpinLockAcquire(&mg_audit_shared->mutex);
	c->next_seq = mg_audit_shared->next_seq;
	c->write_failures = mg_audit_shared->write_failures;
	c->last_failure = mg_audit_shared->last_failure;
	c->suppressed = mg_audit_shared->suppressed;
	c->damaged_at_start = mg_audit_shared->damaged_at_start;
	SpinLockRelease(&mg_audit_shared->mutex);
	c->last_errno = 0;
}

/*
 * The last write error, copied out of shared memory.
 */
char *
mg_audit_last_error(void)
{
	char		error[128];

	SpinLockAcquire(&mg_audit_shared->mutex);
	strlcpy(error, mg_audit_shared->last_error, sizeof(error));
	SpinLockRelease(&mg_audit_shared->mutex);
	return error[0] ? pstrdup(error) : NULL;
}

/*
 * Empty the trail.  The sequence continues; audit.base records where, so
 * nothing counts as dropped.  Waits (interruptibly) for appenders and
 * readers to finish.  with_table, if given, empties the audit table first,
 * before the file lock is taken: it may wait for table locks, and no
 * appender may wait behind those.
 */
void
mg_audit_reset_trail(void (*with_table) (void))
{
	int			lockfd;
	uint64		next;

	if (mg_audit_shared == NULL)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("migration_guard must be loaded via \"shared_preload_libraries\""));
	if (with_table)
		with_table();
	lockfd = mg_audit_lock_file(true, true);
	if (lockfd < 0)
		ereport(ERROR,
				errcode_for_file_access(),
				errmsg("could not lock file \"%s\": %m", MG_AUDIT_LOCKFILE));
	SpinLockAcquire(&mg_audit_shared->mutex);
	next = mg_audit_shared->next_seq;
	SpinLockRelease(&mg_audit_shared->mutex);

	if (!mg_audit_write_number(MG_AUDIT_BASE, next, WARNING))
		ereport(ERROR,
				errcode_for_file_access(),
				errmsg("could not reset the migration_guard audit trail"),
				errdetail("\"%s\" could not be written.", MG_AUDIT_BASE));
	if (unlink(MG_AUDIT_CURRENT) < 0 && errno != ENOENT)
		ereport(ERROR,
				errcode_for_file_access(),
				errmsg("could not remove file \"%s\": %m", MG_AUDIT_CURRENT));
	if (unlink(MG_AUDIT_PREVIOUS) < 0 && errno != ENOENT)
		ereport(ERROR,
				errcode_for_file_access(),
				errmsg("could not remove file \"%s\": %m", MG_AUDIT_PREVIOUS));
	SpinLockAcquire(&mg_audit_shared->mutex);
	mg_audit_shared->resets++;
	SpinLockRelease(&mg_audit_shared->mutex);
	mg_audit_unlock_file(lockfd);
}

/* How many resets there were: the copy reads everything after one */
uint64
mg_audit_reset_count(void)
{
	uint64		n;

	SpinLockAcquire(&mg_audit_shared->mutex);
	n = mg_audit_shared->resets;
	SpinLockRelease(&mg_audit_shared->mutex);
	return n;
}

/*---- for the copy to the audit table (mg_audit_copy.c) ----*/

int64
mg_audit_origin(void)
{
	return mg_audit_shared ? mg_audit_shared->origin : 0;
}

/*
 * Make sure no number below next is issued from now on: the audit table
 * holds entries numbered up to next - 1, by this server or (replicated)
 * by the primary it follows or followed.  Numbers are unique per origin
 * anyway; this keeps them increasing across a promotion or pg_upgrade,
 * so that seq alone still orders the entries.
 */
void
mg_audit_advance_seq(uint64 next)
{
	volatile bool ok = false;

	for (;;)
	{
		SpinLockAcquire(&mg_audit_shared->mutex);
		if (next <= mg_audit_shared->next_seq)
		{
			SpinLockRelease(&mg_audit_shared->mutex);
			return;
		}
		if (!mg_audit_shared->extending)
		{
			mg_audit_shared->extending = true;
			SpinLockRelease(&mg_audit_shared->mutex);
			break;
		}
		SpinLockRelease(&mg_audit_shared->mutex);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	/* Persist first: a crash must not bring the lower numbers back. */
	PG_TRY();
	{
		ok = mg_audit_write_number(MG_AUDIT_SEQFILE, next + MG_AUDIT_SEQ_BLOCK, LOG);
	}
	PG_CATCH();
	{
		mg_audit_reservation_done(0);
		PG_RE_THROW();
	}
	PG_END_TRY();

	SpinLockAcquire(&mg_audit_shared->mutex);
	mg_audit_shared->next_seq = Max(mg_audit_shared->next_seq, next);
	/* Without the file, the next number taken tries to persist again. */
	mg_audit_shared->reserved = Max(mg_audit_shared->reserved,
									ok ? next + MG_AUDIT_SEQ_BLOCK : next);
	mg_audit_shared->extending = false;
	SpinLockRelease(&mg_audit_shared->mutex);
}

/*
 * Record the result of a copy pass for audit_status(): the time of a
 * complete one, or why it did not copy.
 */
void
mg_audit_copy_note(bool ok, const char *error)
{
	SpinLockAcquire(&mg_audit_shared->mutex);
	if (ok)
	{
		mg_audit_shared->last_copy = GetCurrentTimestamp();
		mg_audit_shared->copy_error[0] = '\0';
	}
	else
		strlcpy(mg_audit_shared->copy_error, error ? error : "",
				sizeof(mg_audit_shared->copy_error));
	SpinLockRelease(&mg_audit_shared->mutex);
}

void
mg_audit_copy_status(MGCopyStatus *status)
{
	SpinLockAcquire(&mg_audit_shared->mutex);
	status->last_copy = mg_audit_shared->last_copy;
	strlcpy(status->error, mg_audit_shared->copy_error, sizeof(status->error));
	SpinLockRelease(&mg_audit_shared->mutex);
}

/*
 * Report-once flags for the copy's waiting states (they survive restarts
 * of the worker).  With problem set, returns true the first time; with
 * problem clear, resets the flag and returns whether it was set.
 */
bool
mg_audit_copy_log_once(int what, bool problem)
{
	bool		was;

	Assert(what >= 0 && what < lengthof(mg_audit_shared->copy_logged));
	SpinLockAcquire(&mg_audit_shared->mutex);
	was = mg_audit_shared->copy_logged[what];
	mg_audit_shared->copy_logged[what] = problem;
	SpinLockRelease(&mg_audit_shared->mutex);
	return problem ? !was : was;
}

/* The audit database's OID as last looked up; with do_set, store set */
Oid
mg_audit_copy_dboid(Oid set, bool do_set)
{
	Oid			dboid;

	SpinLockAcquire(&mg_audit_shared->mutex);
	if (do_set)
		mg_audit_shared->copy_dboid = set;
	dboid = mg_audit_shared->copy_dboid;
	SpinLockRelease(&mg_audit_shared->mutex);
	return dboid;
}

/* Paths, for the SQL functions, oldest first */
const char *const mg_audit_segments[2] = {MG_AUDIT_PREVIOUS, MG_AUDIT_CURRENT};
