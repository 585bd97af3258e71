/*-------------------------------------------------------------------------
 *
 * mg_audit_copy.c
 *		The audit trail beyond one server: a background worker copies the
 *		entries of the files into the table migration_guard.audit_log of
 *		migration_guard.audit_database, whence physical replication takes
 *		them to every standby, and a promotion keeps them.
 *
 * The files stay the primary record: they are written at decision time,
 * survive the rollback of a rejected statement, and need no transaction.
 * The table is a copy, at most about MG_COPY_INTERVAL_MS behind them, and
 * made idempotent by its key (origin, seq): the origin is a random number
 * of each server (mg_audit_load_origin() in mg_audit.c), chosen anew when
 * its data directory may be a copy of another's, so two servers never write
 * the same key.  Why not a WAL resource manager: a standby without the
 * library could not replay its records and would stop; ordinary table rows
 * replay everywhere, survive pg_upgrade, and cost nothing when no DDL runs.
 *
 * Two workers:
 *	- the launcher, started with the server (also on a hot standby), has no
 *	  database: it looks the audit database up in pg_database, waits (and
 *	  says so once) while it does not exist, and starts the copier in it,
 *	  again whenever the copier exits;
 *	- the copier, connected to the audit database, once a second (latch
 *	  timeout) checks that the table is there (the extension at 1.1 or
 *	  later; else it says so once and waits), raises this server's
 *	  numbering above every number in the table (so that seq keeps
 *	  increasing across a promotion or pg_upgrade), and, unless the server
 *	  is in recovery, inserts the lines of the files it has not read yet.
 *
 * It reads the files incrementally: it remembers how far it read the newest
 * segment (by inode), so that a rotation is followed, and after a reset, a
 * failed pass or a start it reads everything again, which the key makes
 * harmless.  Copy failures are logged once per burst and shown by
 * audit_status(); nothing a session does waits for the copier.
 *
 * The copier locks the table ROW EXCLUSIVE before it takes the files'
 * shared flock; audit_reset() locks it SHARE ROW EXCLUSIVE before the
 * exclusive flock, so that it never empties the table under a pass that would then
 * commit rows of the files it removes, and no one waits for a flock while
 * holding what the other needs.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_audit_copy.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"

#include "migration_guard.h"
#include "mg_audit.h"
#include "mg_compat.h"

/* How often the copier looks at the files: the copy's window */
#define MG_COPY_INTERVAL_MS		1000
/* How long the launcher waits before it looks again or restarts the copier */
#define MG_COPY_RETRY_MS		5000

/* Report-once flags (mg_audit_copy_log_once()) */
#define MG_COPY_LOG_NO_DATABASE 0
#define MG_COPY_LOG_NO_TABLE	1

/* The table, if it is migration_guard's own: a member of the extension */
#define MG_COPY_TABLE_SQL \
	"SELECT c.oid FROM pg_catalog.pg_class c" \
	"  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace" \
	"  JOIN pg_catalog.pg_depend d ON d.objid OPERATOR(pg_catalog.=) c.oid" \
	"  JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid" \
	" WHERE n.nspname OPERATOR(pg_catalog.=) 'migration_guard'" \
	"   AND c.relname OPERATOR(pg_catalog.=) 'audit_log'" \
	"   AND c.relkind OPERATOR(pg_catalog.=) 'r'" \
	"   AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass" \
	"   AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass" \
	"   AND d.deptype OPERATOR(pg_catalog.=) 'e'" \
	"   AND e.extname OPERATOR(pg_catalog.=) 'migration_guard'"

#define MG_COPY_INSERT_SQL \
	"INSERT INTO migration_guard.audit_log (seq, ts, database, session_user_name," \
	" current_user_name, application_name, client_addr, pid, command, statement," \
	" rule, action, reason, override_reason, relation, est_rows, bytes, lock_mode," \
	" row_threshold, size_threshold, mode, outcome, origin, session_user_oid)" \
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15," \
	" $16, $17, $18, $19, $20, $21, $22, $23, $24)" \
	" ON CONFLICT (origin, seq) DO NOTHING"

#define MG_COPY_OUTCOME_SQL \
	"UPDATE migration_guard.audit_log SET outcome = 'completed'" \
	" WHERE origin OPERATOR(pg_catalog.=) $1 AND seq OPERATOR(pg_catalog.=) $2" \
	"   AND outcome OPERATOR(pg_catalog.=) 'not completed'"

#define MG_COPY_NARGS (MG_AUDIT_COLUMNS + 2)

/* migration_guard.audit_database; empty: no copy */
char	   *mg_audit_database = NULL;

/* How far the copier has read the files: the newest segment it read */
typedef struct MGCopyHead
{
	bool		valid;
	dev_t		dev;
	ino_t		ino;
	off_t		offset;			/* after the last complete line read */
	uint64		resets;			/* mg_audit_reset_count() then */
} MGCopyHead;

static MGCopyHead mg_copy_head;

/* The last pass failed (and the failure was logged) */
static bool mg_copy_failing = false;

/* Prepared per pass, when there is something to copy */
static SPIPlanPtr mg_copy_insert_plan;
static SPIPlanPtr mg_copy_outcome_plan;

PGDLLEXPORT void mg_audit_copy_launcher_main(Datum arg);
PGDLLEXPORT void mg_audit_copy_main(Datum arg);

void
mg_audit_copy_define_guc(void)
{
	DefineCustomStringVariable("migration_guard.audit_database",
							   "Sets the database whose table migration_guard.audit_log receives a copy of the audit trail.",
							   "The table is replicated to standbys and kept by a promotion.  "
							   "Empty: entries stay in each server's files only.",
							   &mg_audit_database,
							   "postgres",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);
}

/*
 * Register the launcher, from _PG_init under shared_preload_libraries.
 * Nothing under pg_upgrade: its servers must not write anything of ours.
 */
void
mg_audit_copy_register(void)
{
	BackgroundWorker worker;

	if (IsBinaryUpgrade || mg_audit_database == NULL || mg_audit_database[0] == '\0')
		return;
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = MG_COPY_RETRY_MS / 1000;
	strlcpy(worker.bgw_library_name, "migration_guard", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "mg_audit_copy_launcher_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "migration_guard audit copy launcher", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "migration_guard audit copy launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

/* Sleep on the latch; handles a reload and interrupts (SIGTERM exits). */
static void
mg_copy_sleep(long ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/*---- the launcher ----*/

/*
 * The audit database's OID, or InvalidOid.  Without a database only the
 * shared catalogs' own descriptors are at hand, not their indexes: scan
 * pg_database (a few rows) as the logical replication launcher does.
 */
static Oid
mg_copy_look_up_database(void)
{
	Oid			dboid = InvalidOid;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (strcmp(NameStr(db->datname), mg_audit_database) == 0)
		{
			dboid = db->oid;
			break;
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return dboid;
}

/* Start the copier in the database; false if no worker slot was free */
static bool
mg_copy_start_copier(Oid dboid, BackgroundWorkerHandle **handle)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "migration_guard", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "mg_audit_copy_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "migration_guard audit copy", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "migration_guard audit copy", BGW_MAXLEN);
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;
	return RegisterDynamicBackgroundWorker(&worker, handle);
}

void
mg_audit_copy_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* No database: only the shared catalogs, to find the audit database. */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	for (;;)
	{
		BackgroundWorkerHandle *handle;
		Oid			dboid = mg_copy_look_up_database();
		static bool no_slot_logged = false;

		if (!OidIsValid(dboid))
		{
			if (mg_audit_copy_log_once(MG_COPY_LOG_NO_DATABASE, true))
				ereport(LOG,
						errmsg("migration_guard audit entries are not copied: database \"%s\" does not exist",
							   mg_audit_database),
						errdetail("They stay in the files of each server; the copy starts when the database exists."),
						errhint("Create the database, or set \"migration_guard.audit_database\" to another one and restart the server."));
			mg_copy_sleep(MG_COPY_RETRY_MS);
			continue;
		}
		(void) mg_audit_copy_log_once(MG_COPY_LOG_NO_DATABASE, false);
		(void) mg_audit_copy_dboid(dboid, true);

		if (mg_copy_start_copier(dboid, &handle))
		{
			no_slot_logged = false;
			(void) WaitForBackgroundWorkerShutdown(handle);
		}
		else if (!no_slot_logged)
		{
			ereport(LOG,
					errmsg("could not start the migration_guard audit copy worker: no background worker slot is free"),
					errdetail("It is tried again every %d seconds; until then entries stay in the files.",
							  MG_COPY_RETRY_MS / 1000),
					errhint("Raise \"max_worker_processes\"."));
			no_slot_logged = true;
		}
		mg_copy_sleep(MG_COPY_RETRY_MS);
	}
}

/*---- the copier ----*/

/* The table's OID if it is there and migration_guard's own, else InvalidOid */
static Oid
mg_copy_table_oid(void)
{
	bool		isnull;
	Datum		d;

	if (SPI_execute(MG_COPY_TABLE_SQL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look for table migration_guard.audit_log");
	if (SPI_processed == 0)
		return InvalidOid;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? InvalidOid : DatumGetObjectId(d);
}

/*
 * Lock the table if it is migration_guard's own; false if it is not there.
 * The check is repeated under the lock, which keeps the extension from
 * being dropped: so the name used afterwards cannot have come to mean a
 * table of another role, whose triggers would run with our rights.
 */
static bool
mg_copy_lock_table(LOCKMODE mode)
{
	Oid			relid = mg_copy_table_oid();

	if (!OidIsValid(relid))
		return false;
	LockRelationOid(relid, mode);
	return mg_copy_table_oid() == relid;
}

/* The highest sequence number in the table, 0 if it is empty */
static uint64
mg_copy_table_max_seq(void)
{
	bool		isnull;
	Datum		d;

	if (SPI_execute("SELECT pg_catalog.max(seq) FROM migration_guard.audit_log",
					true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the highest number of migration_guard.audit_log");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull || DatumGetInt64(d) <= 0)
		return 0;
	return (uint64) DatumGetInt64(d);
}

static void
mg_copy_prepare(void)
{
	Oid			types[MG_COPY_NARGS] = {
		INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		FLOAT8OID, INT8OID, TEXTOID, INT4OID, INT8OID, TEXTOID, TEXTOID,
		INT8OID, OIDOID
	};
	Oid			outcome_types[2] = {INT8OID, INT8OID};

	mg_copy_insert_plan = SPI_prepare(MG_COPY_INSERT_SQL, MG_COPY_NARGS, types);
	mg_copy_outcome_plan = SPI_prepare(MG_COPY_OUTCOME_SQL, 2, outcome_types);
	if (mg_copy_insert_plan == NULL || mg_copy_outcome_plan == NULL)
		elog(ERROR, "could not prepare the copy to migration_guard.audit_log: %s",
			 SPI_result_code_string(SPI_result));
}

/* Copy one line: an entry is inserted, an outcome marks its entry */
static void
mg_copy_line(char *line, MGVisibility *vis, const MGDoneSet *none)
{
	Datum		values[MG_COPY_NARGS];
	bool		isnull[MG_COPY_NARGS];
	char		nulls[MG_COPY_NARGS];
	char		type;
	uint64		seq;
	int64		origin;
	Oid			role;
	int			i;

	if (!mg_audit_parse_seq(line, &type, &seq))
		return;
	if (mg_copy_insert_plan == NULL)
		mg_copy_prepare();
	if (type == MG_AUDIT_REC_OUTCOME)
	{
		char	   *f[MG_AUDIT_MAX_FIELDS];
		int			nf = mg_audit_split(line, f, MG_AUDIT_MAX_FIELDS);
		Datum		key[2];

		if (!mg_audit_record_fields_ok(type, nf))
			return;
		key[0] = Int64GetDatum(mg_audit_field_origin(f, nf, type));
		key[1] = Int64GetDatum((int64) seq);
		if (SPI_execute_plan(mg_copy_outcome_plan, key, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not record an outcome in migration_guard.audit_log");
		return;
	}
	if (!mg_audit_line_row(line, none, vis, values, isnull, &origin, &role))
		return;
	values[MG_AUDIT_COL_ORIGIN] = Int64GetDatum(origin);
	isnull[MG_AUDIT_COL_ORIGIN] = false;
	values[MG_AUDIT_COL_ORIGIN + 1] = ObjectIdGetDatum(role);
	isnull[MG_AUDIT_COL_ORIGIN + 1] = !OidIsValid(role);
	for (i = 0; i < MG_COPY_NARGS; i++)
		nulls[i] = isnull[i] ? 'n' : ' ';
	if (SPI_execute_plan(mg_copy_insert_plan, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not insert into migration_guard.audit_log");
}

/*
 * Copy the lines of an open segment from byte from on.  Returns the offset
 * after the last complete line.
 */
static off_t
mg_copy_segment(MGAuditReader *r, off_t from, MemoryContext linecxt)
{
	MGVisibility vis;
	MGDoneSet	none;
	char	   *line;
	off_t		done = from;

	memset(&vis, 0, sizeof(vis));
	vis.see_all = true;			/* the table keeps everything; the view hides */
	memset(&none, 0, sizeof(none));
	if (from > 0 && lseek(r->fd, from, SEEK_SET) != from)
		ereport(ERROR,
				errcode_for_file_access(),
				errmsg("could not seek in migration_guard audit file \"%s\": %m", r->path));
	while ((line = mg_audit_reader_next(r)) != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(linecxt);

		mg_copy_line(line, &vis, &none);
		MemoryContextSwitchTo(old);
		MemoryContextReset(linecxt);
		done = from + r->bytes - (r->end - r->start);
	}
	return done;
}

/*
 * Is this the file the copier read last?  An inode number can be reused
 * by the file that replaces a removed one: a reset is counted, and a file
 * shorter than what was read is another one.
 */
static bool
mg_copy_same_file(const MGCopyHead *head, const struct stat *st, uint64 resets)
{
	return head->valid && head->resets == resets &&
		head->dev == st->st_dev && head->ino == st->st_ino &&
		st->st_size >= head->offset;
}

/*
 * Copy what is new in the files, under their shared lock (appenders go on;
 * rotation waits for the next append; a reset waits).  Returns how far the
 * files were read, to be remembered once the transaction commits.
 */
static MGCopyHead
mg_copy_files(MemoryContext linecxt)
{
	MGCopyHead	head = {false};
	MGAuditReader prev;
	MGAuditReader cur;
	struct stat pst;
	struct stat cst;
	bool		have_prev;
	bool		have_cur;
	off_t		prev_from = -1;
	off_t		cur_from = 0;
	off_t		prev_end = 0;
	off_t		cur_end = 0;
	int			lockfd;
	uint64		resets;

	lockfd = mg_audit_lock_file(false, true);
	resets = mg_audit_reset_count();
	have_prev = mg_audit_reader_open(&prev, MG_AUDIT_PREVIOUS, LOG) &&
		fstat(prev.fd, &pst) == 0;
	have_cur = mg_audit_reader_open(&cur, MG_AUDIT_CURRENT, LOG) &&
		fstat(cur.fd, &cst) == 0;

	if (have_cur && mg_copy_same_file(&mg_copy_head, &cst, resets))
		cur_from = mg_copy_head.offset;
	else if (have_prev && mg_copy_same_file(&mg_copy_head, &pst, resets))
		prev_from = mg_copy_head.offset;	/* it was rotated */
	else
		prev_from = 0;			/* a start, a reset or a failed pass */

	if (have_prev && prev_from >= 0)
		prev_end = mg_copy_segment(&prev, prev_from, linecxt);
	if (have_cur)
		cur_end = mg_copy_segment(&cur, cur_from, linecxt);
	mg_audit_reader_close(&prev);
	mg_audit_reader_close(&cur);
	mg_audit_unlock_file(lockfd);

	head.resets = resets;
	if (have_cur)
	{
		head.valid = true;
		head.dev = cst.st_dev;
		head.ino = cst.st_ino;
		head.offset = cur_end;
	}
	else if (have_prev && prev_from >= 0)
	{
		head.valid = true;
		head.dev = pst.st_dev;
		head.ino = pst.st_ino;
		head.offset = prev_end;
	}
	return head;
}

/*
 * One pass: check the table, raise the numbering above it, and on a
 * primary copy what is new.  Returns whether the table was there.
 */
static bool
mg_copy_pass(MemoryContext linecxt)
{
	bool		in_recovery = RecoveryInProgress();
	MGCopyHead	head = mg_copy_head;
	bool		ready;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "migration_guard: copying audit entries");

	/* In recovery: only follow the primary's numbers, for a promotion. */
	ready = mg_copy_lock_table(in_recovery ? AccessShareLock : RowExclusiveLock);
	if (ready && mg_audit_copy_log_once(MG_COPY_LOG_NO_TABLE, false))
		ereport(LOG,
				errmsg("migration_guard audit entries are copied to table \"migration_guard.audit_log\" in database \"%s\"",
					   mg_audit_database));
	else if (!ready && mg_audit_copy_log_once(MG_COPY_LOG_NO_TABLE, true))
		ereport(LOG,
				errmsg("migration_guard audit entries are not copied: table \"migration_guard.audit_log\" does not exist in database \"%s\"",
					   mg_audit_database),
				errdetail("They stay in the files of each server; the copy starts when the table exists."),
				errhint("Run CREATE EXTENSION migration_guard, or ALTER EXTENSION migration_guard UPDATE, in database \"%s\".",
						mg_audit_database));
	if (ready)
	{
		mg_audit_advance_seq(mg_copy_table_max_seq() + 1);
		if (!in_recovery)
		{
			/* Prepared at the first line to copy; freed by SPI_finish(). */
			mg_copy_insert_plan = mg_copy_outcome_plan = NULL;
			head = mg_copy_files(linecxt);
		}
	}
	else
		head.valid = false;		/* read everything once the table is there */

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	mg_copy_head = head;
	return ready;
}

/*
 * Copier's error recovery: a failed pass is rolled back and logged once
 * per burst, and the next one reads the files from the start.  Errors are
 * not swallowed; the worker's state is restored so that it goes on.
 */
static void
mg_copy_failed(MemoryContext loopcxt)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(loopcxt);
	edata = CopyErrorData();
	FlushErrorState();
	AbortCurrentTransaction();	/* also ends SPI, snapshots, files, flock */
	mg_copy_head.valid = false;
	pgstat_report_activity(STATE_IDLE, NULL);

	mg_audit_copy_note(false, mg_audit_to_utf8(edata->message));
	if (!mg_copy_failing)
		ereport(LOG,
				errmsg("could not copy migration_guard audit entries to table \"migration_guard.audit_log\": %s",
					   edata->message),
				errdetail("The entries stay in the files and are copied when this works again; until then, further failures are only shown by migration_guard.audit_status()."));
	mg_copy_failing = true;
	FreeErrorData(edata);
}

void
mg_audit_copy_main(Datum arg)
{
	MemoryContext loopcxt;
	MemoryContext linecxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg), InvalidOid, 0);

	/*
	 * Our own table only, whatever postgresql.conf says: names resolve in
	 * pg_catalog, no read-only default stops the copy, and the guard's own
	 * DML rule never judges it.
	 */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("migration_guard.backfill_row_limit", "0", PGC_SUSET, PGC_S_OVERRIDE);

	loopcxt = AllocSetContextCreate(TopMemoryContext, "migration_guard audit copy",
									ALLOCSET_DEFAULT_SIZES);
	linecxt = AllocSetContextCreate(TopMemoryContext, "migration_guard audit copy line",
									ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		volatile bool ok = true;
		volatile bool ready = false;

		MemoryContextSwitchTo(loopcxt);
		PG_TRY();
		{
			ready = mg_copy_pass(linecxt);
		}
		PG_CATCH();
		{
			mg_copy_failed(loopcxt);
			ok = false;
		}
		PG_END_TRY();
		if (ok && !ready)
			mg_audit_copy_note(false,
							   psprintf("table \"migration_guard.audit_log\" does not exist in database \"%s\"",
										mg_audit_to_utf8(mg_audit_database)));
		else if (ok)
		{
			mg_audit_copy_note(true, NULL);
			if (mg_copy_failing)
				ereport(LOG,
						errmsg("migration_guard audit entries are copied again"));
			mg_copy_failing = false;
		}
		MemoryContextReset(loopcxt);
		MemoryContextReset(linecxt);
		mg_copy_sleep(MG_COPY_INTERVAL_MS);
	}
}

/*
 * audit_reset() on a primary, in the audit database: empty the table too,
 * in the caller's transaction.  Elsewhere the table is not this server's
 * to empty (a standby's is the primary's copy), and only the files are
 * reset.
 */
void
mg_audit_copy_reset_table(void)
{
	if (RecoveryInProgress() || mg_audit_database == NULL ||
		mg_audit_database[0] == '\0' ||
		get_database_oid(mg_audit_database, true) != MyDatabaseId)
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (mg_copy_lock_table(ShareRowExclusiveLock))
	{
		if (SPI_execute("DELETE FROM migration_guard.audit_log", false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not empty migration_guard.audit_log");
	}
	SPI_finish();
}
