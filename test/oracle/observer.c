/*-------------------------------------------------------------------------
 *
 * observer.c
 *		Test-only module of the differential oracle: records, for every
 *		utility statement, what the server really did.
 *
 * It shares no code and no header with migration_guard: it must not inherit
 * the guard's mistakes.  Preloaded after the guard, its ProcessUtility hook
 * runs outside the guard's, so it sees the state before the guard looks at
 * a statement and after everything has run.  For each statement it writes
 * one JSON line to the file named by oracle_observer.log:
 *
 *	- "work": relations that got a new relfilenode in the statement (heap,
 *	  TOAST or index: smgrGetPendingDeletes(false) lists the files created in
 *	  the transaction, so a new entry is a rewrite, a copy or an index build),
 *	  with the number of blocks of the new file, and relations that were
 *	  sequentially scanned (the transaction's pending pgstat counters
 *	  pg_stat_get_xact_numscans/tuples_returned, before and after);
 *	- for each, the strongest relation lock this backend held on its
 *	  "subject" (the table, for an index or a TOAST relation), whether the
 *	  relation holding the data is temporary, empty, or was created in this
 *	  transaction, and the subject's inheritance/partition ancestors;
 *	- "pred": the guard's verdicts, i.e. its MG001 warnings, captured with an
 *	  emit_log_hook and attributed to the innermost running statement; the
 *	  relation named in the message is resolved to an OID after the
 *	  statement.
 *
 * Statements that commit internally (VACUUM, CLUSTER without a table,
 * CREATE INDEX CONCURRENTLY, REINDEX CONCURRENTLY, procedures that COMMIT)
 * are observed at each internal commit too, from a pre-commit callback, so
 * their new files and locks are not lost.
 *
 * The observer never takes a lock that outlives its own look-up (catalog
 * locks are released at once), never changes the parse tree, and only
 * reads.  test/oracle/compare.pl classifies the lines.
 *
 * IDENTIFICATION
 *		test/oracle/observer.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/storage.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"

#if PG_VERSION_NUM >= 160000
#include "utils/relfilenumbermap.h"
typedef RelFileLocator ObsFile;
#define OBS_FILE_SPC(f) ((f).spcOid)
#define OBS_FILE_REL(f) ((f).relNumber)
#define ObsRelidByFile(spc, rel) RelidByRelfilenumber((spc), (rel))
#else
#include "utils/relfilenodemap.h"
typedef RelFileNode ObsFile;
#define OBS_FILE_SPC(f) ((f).spcNode)
#define OBS_FILE_REL(f) ((f).relNode)
#define ObsRelidByFile(spc, rel) RelidByRelfilenode((spc), (rel))
#endif

PG_MODULE_MAGIC;

#define OBS_MG_SQLSTATE MAKE_SQLSTATE('M','G','0','0','1')
#define OBS_QUERY_MAX 300

void		_PG_init(void);

/* One relation the statement worked on */
typedef struct ObsWork
{
	Oid			relid;			/* the relation with the work */
	char		kind;			/* 'r' new file (rewrite/copy), 'i' index
								 * build, 's' scan */
	int64		blocks;			/* new file's blocks; tuples for a scan */
	Oid			subject;		/* heap of an index, table of a TOAST rel */
	char	   *relname;
	char	   *subjname;
	bool		temp;			/* subject is temporary */
	bool		created;		/* subject created in this transaction */
	int64		subjblocks;		/* subject's main fork, at observation */
	char		relkind;
	char		subjkind;
	List	   *ancestors;		/* of the subject: OIDs */
} ObsWork;

typedef struct ObsPred
{
	char	   *message;
	char	   *rule;
	char	   *name;
	char	   *also;			/* other tables the DETAIL says it works on:
								 * its 'table "x"' phrases, '|'-separated */
} ObsPred;

typedef struct ObsScanEntry
{
	Oid			relid;
	int64		numscans;
	int64		tuples;
} ObsScanEntry;

typedef struct ObsLockEntry
{
	Oid			relid;
	int			before;			/* strongest mode held before the statement */
	int			max;			/* strongest mode held at any observation */
} ObsLockEntry;

/* One running utility statement */
typedef struct ObsStmt
{
	struct ObsStmt *up;		/* the statement running this one */
	int			seq;
	int			parent;
	int			depth;
	const char *tag;
	char	   *query;
	bool		observe;		/* false: statement kinds that do no DDL work */
	int			ncommits;		/* internal commits seen */
	ObsFile    *files;			/* files created before, in this xact */
	int			nfiles;
	HTAB	   *scans;			/* ObsScanEntry by relid, before */
	HTAB	   *locks;			/* ObsLockEntry by relid */
	List	   *work;			/* ObsWork */
	List	   *preds;			/* ObsPred */
} ObsStmt;

static char *obs_log_path = NULL;
static int	obs_fd = -1;
static int	obs_seq = 0;
static ObsStmt *obs_top = NULL;	/* innermost running statement */
static MemoryContext obs_cxt = NULL;

static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static emit_log_hook_type prev_emit_log_hook = NULL;

/*
 * Statement kinds that never do work proportional to a table under a lock
 * of their own: transaction control, settings, cursors, and the DML-like
 * utility statements (the guard judges DML by other rules).  They are
 * neither snapshotted nor logged.
 */
static bool
obs_is_ignored(Node *stmt)
{
	switch (nodeTag(stmt))
	{
		case T_TransactionStmt:
		case T_VariableSetStmt:
		case T_VariableShowStmt:
		case T_DiscardStmt:
		case T_PrepareStmt:
		case T_ExecuteStmt:
		case T_DeallocateStmt:
		case T_DeclareCursorStmt:
		case T_FetchStmt:
		case T_ClosePortalStmt:
		case T_NotifyStmt:
		case T_ListenStmt:
		case T_UnlistenStmt:
		case T_CheckPointStmt:
		case T_LoadStmt:
		case T_ConstraintsSetStmt:
		case T_ExplainStmt:
		case T_CopyStmt:
		case T_LockStmt:
			return true;
		default:
			return false;
	}
}

/* ---- snapshots ---- */

static int
obs_strongest(LOCKMASK mask)
{
	int			m;

	for (m = MaxLockMode; m > 0; m--)
		if (mask & LOCKBIT_ON(m))
			return m;
	return NoLock;
}

/*
 * Fold this backend's relation locks into the statement's lock table:
 * before == true records the state before the statement.
 */
static void
obs_snap_locks(ObsStmt *s, bool before)
{
	LockData   *ld = GetLockStatusData();
	int			i;

	for (i = 0; i < ld->nelements; i++)
	{
		LockInstanceData *li = &ld->locks[i];
		ObsLockEntry *e;
		bool		found;
		int			mode;

		if (li->pid != MyProcPid ||
			li->locktag.locktag_type != LOCKTAG_RELATION ||
			li->locktag.locktag_field1 != MyDatabaseId)
			continue;
		mode = obs_strongest(li->holdMask);
		if (mode == NoLock)
			continue;
		e = hash_search(s->locks, &li->locktag.locktag_field2, HASH_ENTER, &found);
		if (!found)
		{
			e->before = NoLock;
			e->max = NoLock;
		}
		if (before && mode > e->before)
			e->before = mode;
		if (mode > e->max)
			e->max = mode;
	}
}

static int
obs_lock_of(ObsStmt *s, Oid relid, bool before)
{
	ObsLockEntry *e = hash_search(s->locks, &relid, HASH_FIND, NULL);

	if (e == NULL)
		return NoLock;
	return before ? e->before : e->max;
}

/* The pgstat counters of every user table and matview, before the statement */
static void
obs_snap_scans(ObsStmt *s)
{
	Relation	pgclass;
	TableScanDesc scan;
	HeapTuple	tup;

	pgclass = table_open(RelationRelationId, AccessShareLock);
	scan = table_beginscan_catalog(pgclass, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_class c = (Form_pg_class) GETSTRUCT(tup);
		ObsScanEntry *e;
		Oid			relid = c->oid;

		if (relid < FirstNormalObjectId ||
			(c->relkind != RELKIND_RELATION && c->relkind != RELKIND_MATVIEW &&
			 c->relkind != RELKIND_TOASTVALUE))
			continue;
		e = hash_search(s->scans, &relid, HASH_ENTER, NULL);
		e->numscans = DatumGetInt64(DirectFunctionCall1(pg_stat_get_xact_numscans,
														ObjectIdGetDatum(relid)));
		e->tuples = DatumGetInt64(DirectFunctionCall1(pg_stat_get_xact_tuples_returned,
													  ObjectIdGetDatum(relid)));
	}
	table_endscan(scan);
	/* release at once: the observer must not change what pg_locks shows */
	table_close(pgclass, AccessShareLock);
}

static void
obs_snap_files(ObsStmt *s)
{
	ObsFile    *files = NULL;
	int			n = smgrGetPendingDeletes(false, &files);

	s->nfiles = n;
	s->files = NULL;
	if (n > 0)
	{
		s->files = MemoryContextAlloc(obs_cxt, sizeof(ObsFile) * n);
		memcpy(s->files, files, sizeof(ObsFile) * n);
		pfree(files);
	}
}

/* ---- relation facts ---- */

static char *
obs_relname(Oid relid)
{
	char	   *rel = get_rel_name(relid);
	char	   *nsp;

	if (rel == NULL)
		return psprintf("OID %u", relid);
	nsp = get_namespace_name(get_rel_namespace(relid));
	return psprintf("%s.%s", nsp ? nsp : "?", rel);
}

/* Direct parents in pg_inherits (partitions and inheritance children) */
static List *
obs_parents(Oid relid)
{
	Relation	inh = table_open(InheritsRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *result = NIL;

	ScanKeyInit(&key, Anum_pg_inherits_inhrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(inh, InheritsRelidSeqnoIndexId, true, NULL, 1, &key);
	while ((tup = systable_getnext(scan)) != NULL)
		result = lappend_oid(result, ((Form_pg_inherits) GETSTRUCT(tup))->inhparent);
	systable_endscan(scan);
	table_close(inh, AccessShareLock);
	return result;
}

static List *
obs_ancestors(Oid relid)
{
	List	   *todo = obs_parents(relid);
	List	   *result = NIL;

	while (todo != NIL)
	{
		Oid			p = linitial_oid(todo);

		todo = list_delete_first(todo);
		if (list_member_oid(result, p) || list_length(result) > 100)
			continue;
		result = lappend_oid(result, p);
		todo = list_concat(todo, obs_parents(p));
	}
	return result;
}

/* The table a TOAST relation belongs to, from its name pg_toast_<oid> */
static Oid
obs_toast_owner(Oid toastid)
{
	char	   *name = get_rel_name(toastid);
	unsigned int owner;

	if (name != NULL && sscanf(name, "pg_toast_%u", &owner) == 1)
		return (Oid) owner;
	return InvalidOid;
}

/* Blocks of the main fork, and temp/created flags, without locking */
static void
obs_rel_facts(Oid relid, int64 *blocks, bool *temp, bool *created, char *relkind)
{
	Relation	rel = RelationIdGetRelation(relid);

	*blocks = -1;
	*temp = false;
	*created = false;
	*relkind = '?';
	if (rel == NULL)
		return;
	*relkind = rel->rd_rel->relkind;
	*temp = rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP;
	*created = rel->rd_createSubid != InvalidSubTransactionId;
	if (RELKIND_HAS_STORAGE(rel->rd_rel->relkind))
		*blocks = RelationGetNumberOfBlocks(rel);
	RelationClose(rel);
}

/*
 * Record work on relid.  The facts that decide whether other sessions care
 * (temporary, created in this transaction, empty) are those of the relation
 * that holds the data: the heap of an index, else the relation itself.  The
 * subject, whose lock counts and whose name the guard would use, is the
 * table a TOAST relation belongs to, else that same relation.  Sequences
 * are skipped: their files have one row whatever the table's size.
 */
static void
obs_add_work(ObsStmt *s, Oid relid, char kind, int64 blocks)
{
	MemoryContext old;
	ObsWork    *w;
	char		relkind = get_rel_relkind(relid);
	Oid			direct = relid;
	char		directkind;

	if (relkind == RELKIND_SEQUENCE || relkind == '\0')
		return;
	old = MemoryContextSwitchTo(obs_cxt);
	w = palloc0(sizeof(ObsWork));
	w->relid = relid;
	w->kind = kind;
	w->blocks = blocks;
	w->relkind = relkind;
	w->relname = obs_relname(relid);
	if (relkind == RELKIND_INDEX || relkind == RELKIND_PARTITIONED_INDEX)
	{
		Oid			heap = IndexGetRelation(relid, true);

		if (OidIsValid(heap))
			direct = heap;
		if (kind == 'r')
			w->kind = 'i';
	}
	obs_rel_facts(direct, &w->subjblocks, &w->temp, &w->created, &directkind);
	w->subject = direct;
	if (directkind == RELKIND_TOASTVALUE)
	{
		Oid			owner = obs_toast_owner(direct);

		if (OidIsValid(owner) && get_rel_name(owner) != NULL)
			w->subject = owner;
	}
	w->subjkind = get_rel_relkind(w->subject);
	w->subjname = obs_relname(w->subject);
	w->ancestors = obs_ancestors(w->subject);
	s->work = lappend(s->work, w);
	MemoryContextSwitchTo(old);
}

/*
 * The files created since the statement started (or since its last
 * internal commit): each is a relation's new relfilenode.
 */
static void
obs_collect_files(ObsStmt *s)
{
	ObsFile    *files = NULL;
	int			n = smgrGetPendingDeletes(false, &files);
	int			i,
				j;

	for (i = 0; i < n; i++)
	{
		bool		old = false;
		Oid			spc = OBS_FILE_SPC(files[i]);
		Oid			relid;
		Relation	rel;
		int64		blocks = -1;

		for (j = 0; j < s->nfiles && !old; j++)
			old = memcmp(&files[i], &s->files[j], sizeof(ObsFile)) == 0;
		if (old)
			continue;
		if (spc == MyDatabaseTableSpace)
			spc = InvalidOid;
		relid = ObsRelidByFile(spc, OBS_FILE_REL(files[i]));
		if (!OidIsValid(relid))
			continue;			/* dropped again */
		rel = RelationIdGetRelation(relid);
		if (rel == NULL)
			continue;
		if (RELKIND_HAS_STORAGE(rel->rd_rel->relkind))
			blocks = RelationGetNumberOfBlocks(rel);
		RelationClose(rel);
		obs_add_work(s, relid, 'r', blocks);
	}
	if (files)
		pfree(files);
}

static void
obs_collect_scans(ObsStmt *s)
{
	HASH_SEQ_STATUS st;
	ObsScanEntry *e;
	List	   *scanned = NIL;
	List	   *tuples = NIL;
	ListCell   *lc,
			   *lc2;

	hash_seq_init(&st, s->scans);
	while ((e = hash_seq_search(&st)) != NULL)
	{
		int64	   *d;
		int64		n = DatumGetInt64(DirectFunctionCall1(pg_stat_get_xact_numscans,
														  ObjectIdGetDatum(e->relid)));
		int64		t = DatumGetInt64(DirectFunctionCall1(pg_stat_get_xact_tuples_returned,
														  ObjectIdGetDatum(e->relid)));

		if (n > e->numscans)
		{
			scanned = lappend_oid(scanned, e->relid);
			d = palloc(sizeof(int64));
			*d = t - e->tuples;
			tuples = lappend(tuples, d);
		}
	}
	/* relation look-ups must not run inside the hash scan */
	forboth(lc, scanned, lc2, tuples)
		obs_add_work(s, lfirst_oid(lc), 's', *(int64 *) lfirst(lc2));
}

/* ---- the log ---- */

static void
obs_json_str(StringInfo buf, const char *key, const char *val)
{
	appendStringInfo(buf, "\"%s\":", key);
	escape_json(buf, val ? val : "");
}

static const char *
obs_lockname(int mode)
{
	return mode == NoLock ? "none" : GetLockmodeName(DEFAULT_LOCKMETHOD, mode);
}

static Oid
obs_resolve_name(const char *qualified)
{
	const char *dot;

	for (dot = strchr(qualified, '.'); dot != NULL; dot = strchr(dot + 1, '.'))
	{
		char	   *nsp = pnstrdup(qualified, dot - qualified);
		Oid			nspid = get_namespace_oid(nsp, true);

		if (OidIsValid(nspid))
		{
			Oid			relid = get_relname_relid(dot + 1, nspid);

			if (OidIsValid(relid))
				return relid;
		}
	}
	return InvalidOid;
}

static void
obs_write(ObsStmt *s, bool ok)
{
	StringInfoData buf;
	ListCell   *lc;
	bool		first;

	if (obs_fd < 0)
	{
		obs_fd = open(obs_log_path, O_WRONLY | O_APPEND | O_CREAT, 0600);
		if (obs_fd < 0)
			ereport(ERROR,
					errcode_for_file_access(),
					errmsg("could not open file \"%s\": %m", obs_log_path));
	}
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"start\":%ld,\"pid\":%d,\"seq\":%d,\"parent\":%d,\"depth\":%d,\"ok\":%s,\"commits\":%d,",
					 (long) MyStartTime, MyProcPid, s->seq, s->parent, s->depth, ok ? "true" : "false", s->ncommits);
	obs_json_str(&buf, "app", application_name);
	appendStringInfoChar(&buf, ',');
	obs_json_str(&buf, "tag", s->tag);
	appendStringInfoChar(&buf, ',');
	obs_json_str(&buf, "query", s->query);
	appendStringInfoString(&buf, ",\"pred\":[");
	first = true;
	foreach(lc, s->preds)
	{
		ObsPred    *p = lfirst(lc);
		Oid			relid = ok ? obs_resolve_name(p->name) : InvalidOid;

		appendStringInfo(&buf, "%s{\"rel\":%u,", first ? "" : ",", relid);
		obs_json_str(&buf, "rule", p->rule);
		appendStringInfoChar(&buf, ',');
		obs_json_str(&buf, "name", p->name);
		appendStringInfoChar(&buf, ',');
		obs_json_str(&buf, "also", p->also);
		appendStringInfoChar(&buf, ',');
		obs_json_str(&buf, "message", p->message);
		appendStringInfoChar(&buf, '}');
		first = false;
	}
	appendStringInfoString(&buf, "],\"work\":[");
	first = true;
	foreach(lc, s->work)
	{
		ObsWork    *w = lfirst(lc);
		ListCell   *lc2;
		int			lock = obs_lock_of(s, w->subject, false);
		int			before = obs_lock_of(s, w->subject, true);

		appendStringInfo(&buf, "%s{\"kind\":\"%c\",\"rel\":%u,\"subject\":%u,\"blocks\":" INT64_FORMAT
						 ",\"subjblocks\":" INT64_FORMAT ",\"lockmode\":%d,\"lockbefore\":%d,"
						 "\"temp\":%s,\"created\":%s,\"relkind\":\"%c\",\"subjkind\":\"%c\",",
						 first ? "" : ",", w->kind, w->relid, w->subject, w->blocks,
						 w->subjblocks, lock, before, w->temp ? "true" : "false",
						 w->created ? "true" : "false", w->relkind,
						 w->subjkind ? w->subjkind : '?');
		obs_json_str(&buf, "lock", obs_lockname(lock));
		appendStringInfoChar(&buf, ',');
		obs_json_str(&buf, "name", w->relname);
		appendStringInfoChar(&buf, ',');
		obs_json_str(&buf, "subjname", w->subjname);
		appendStringInfoString(&buf, ",\"ancestors\":[");
		foreach(lc2, w->ancestors)
			appendStringInfo(&buf, "%s%u", lc2 == list_head(w->ancestors) ? "" : ",",
							 lfirst_oid(lc2));
		appendStringInfoString(&buf, "]}");
		first = false;
	}
	appendStringInfoString(&buf, "]}\n");
	if (write(obs_fd, buf.data, buf.len) != buf.len)
		ereport(WARNING,
				errcode_for_file_access(),
				errmsg("could not write file \"%s\": %m", obs_log_path));
	pfree(buf.data);
}

/* ---- hooks ---- */

/* Observe every running statement at an internal commit */
static void
obs_xact_callback(XactEvent event, void *arg)
{
	ObsStmt    *s;

	if (event != XACT_EVENT_PRE_COMMIT)
		return;
	for (s = obs_top; s != NULL; s = s->up)
	{
		if (!s->observe)
			continue;
		s->ncommits++;
		obs_snap_locks(s, false);
		obs_collect_files(s);
		/* the next transaction starts without files of its own */
		s->nfiles = 0;
	}
}

/*
 * The tables a warning's DETAIL names as worked on too (a foreign key's
 * other table: 'against table "x"', 'of table "x"'), '|'-separated.
 */
static char *
obs_detail_tables(const char *detail)
{
	StringInfoData buf;
	const char *p = detail;

	initStringInfo(&buf);
	while (p != NULL && (p = strstr(p, "table \"")) != NULL)
	{
		const char *start = p + strlen("table \"");
		const char *end = strchr(start, '"');

		if (end == NULL)
			break;
		if (buf.len > 0)
			appendStringInfoChar(&buf, '|');
		appendBinaryStringInfo(&buf, start, end - start);
		p = end + 1;
	}
	return buf.data;
}

/*
 * The guard's verdicts: its warnings with SQLSTATE MG001.  The message
 * says the rule ("would rewrite", "would build an index on", "would scan")
 * and ends with the relation's qualified name in double quotes.
 */
static void
obs_emit_log(ErrorData *edata)
{
	if (edata->elevel == WARNING && edata->sqlerrcode == OBS_MG_SQLSTATE &&
		obs_top != NULL && edata->message != NULL)
	{
		ObsStmt    *s = obs_top;
		MemoryContext old = MemoryContextSwitchTo(obs_cxt);
		ObsPred    *p = palloc0(sizeof(ObsPred));
		const char *msg = edata->message;
		const char *open = strchr(msg, '"');
		const char *close = strrchr(msg, '"');

		p->message = pstrdup(msg);
		p->rule = strstr(msg, " would rewrite ") ? "table_rewrite" :
			strstr(msg, " would build an index on ") ? "blocking_index_build" :
			strstr(msg, " would scan ") ? "validation_scan" : "other";
		p->name = (open && close > open) ? pnstrdup(open + 1, close - open - 1) : pstrdup("");
		p->also = obs_detail_tables(edata->detail);
		s->preds = lappend(s->preds, p);
		MemoryContextSwitchTo(old);
	}
	if (prev_emit_log_hook)
		(*prev_emit_log_hook) (edata);
}

static char *
obs_query_text(PlannedStmt *pstmt, const char *queryString)
{
	int			loc = pstmt->stmt_location;
	int			len = pstmt->stmt_len;
	int			total;
	char	   *q;
	char	   *c;

	if (queryString == NULL)
		return pstrdup("");
	total = strlen(queryString);
	if (loc < 0 || loc > total)
		loc = 0;
	if (len <= 0 || loc + len > total)
		len = total - loc;
	if (len > OBS_QUERY_MAX)
		len = OBS_QUERY_MAX;
	q = pnstrdup(queryString + loc, len);
	for (c = q; *c; c++)
		if (*c == '\n' || *c == '\t' || *c == '\r')
			*c = ' ';
	return q;
}

static void
obs_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	ObsStmt    *s;
	MemoryContext old;
	HASHCTL		ctl;

	if (obs_log_path == NULL || obs_log_path[0] == '\0' || IsBinaryUpgrade ||
		obs_is_ignored(parsetree) || !IsTransactionState() ||
		IsAbortedTransactionBlockState())
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
		return;
	}

	if (obs_cxt == NULL)
		obs_cxt = AllocSetContextCreate(TopMemoryContext, "oracle observer",
										ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(obs_cxt);
	s = palloc0(sizeof(ObsStmt));
	s->seq = ++obs_seq;
	s->up = obs_top;
	s->parent = obs_top ? obs_top->seq : 0;
	s->depth = obs_top ? obs_top->depth + 1 : 0;
	s->tag = CreateCommandName(parsetree);
	s->query = obs_query_text(pstmt, queryString);
	s->observe = true;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(ObsScanEntry);
	ctl.hcxt = obs_cxt;
	s->scans = hash_create("observer scans", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.entrysize = sizeof(ObsLockEntry);
	s->locks = hash_create("observer locks", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	MemoryContextSwitchTo(old);

	obs_snap_locks(s, true);
	obs_snap_files(s);
	obs_snap_scans(s);
	obs_top = s;

	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
	}
	PG_CATCH();
	{
		/* the statement failed: forget it, its work is rolled back */
		obs_top = s->up;
		if (obs_top == NULL)
			MemoryContextReset(obs_cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (IsTransactionState())
	{
		obs_snap_locks(s, false);
		obs_collect_files(s);
		obs_collect_scans(s);
	}
	obs_top = s->up;
	obs_write(s, true);
	if (obs_top == NULL)
		MemoryContextReset(obs_cxt);
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("the oracle observer must be loaded via \"shared_preload_libraries\""));

	DefineCustomStringVariable("oracle_observer.log",
							   "Sets the file the oracle observer appends its records to.",
							   "Empty disables the observer.",
							   &obs_log_path,
							   "",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = obs_ProcessUtility;
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = obs_emit_log;
	RegisterXactCallback(obs_xact_callback, NULL);
}
