/*-------------------------------------------------------------------------
 *
 * mg_size.c
 *		Measure how big a relation is, cheaply and without taking a lock.
 *
 * The guard must decide in milliseconds whatever the table's size, must not
 * wait behind the locks it is trying to protect, and must not be fooled by
 * stale statistics.  So:
 *
 * - The size is read from the relation's files (one stat() per 1 GB
 *   segment, like pg_relation_size()), with no lock: the same figure whether
 *   or not another session holds ACCESS EXCLUSIVE on the table.
 * - The row count is the current number of pages times a density.  The
 *   density comes from pg_class (reltuples / relpages, as the planner does)
 *   when the table was ever vacuumed or analyzed; otherwise from the width of
 *   its columns.  A table that was analyzed when small and has grown since,
 *   or bulk-loaded and never analyzed, therefore still counts as big:
 *   reltuples alone is never trusted.
 * - Temporary tables, and tables created in the current transaction, are
 *   invisible to other sessions: nobody can be blocked by work on them, so
 *   they are exempt.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_size.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_database.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_tablespace_d.h"
#include "miscadmin.h"
#include "storage/bufpage.h"
#include "storage/fd.h"
#include "storage/itemid.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "migration_guard.h"
#include "mg_compat.h"

/*
 * Bytes in all segments of one fork of a relation; 0 if it has no file.
 */
static int64
mg_fork_bytes(Form_pg_class cls)
{
	Oid			spcoid;
	Oid			dboid;
	char	   *path;
	int64		total = 0;
	unsigned int segno;

	if (cls->relisshared)
	{
		spcoid = GLOBALTABLESPACE_OID;
		dboid = InvalidOid;
	}
	else
	{
		spcoid = OidIsValid(cls->reltablespace) ? cls->reltablespace : MyDatabaseTableSpace;
		dboid = MyDatabaseId;
	}
	path = mg_relation_path(spcoid, dboid, cls->relfilenode, MAIN_FORKNUM);

	for (segno = 0;; segno++)
	{
		char		segpath[MAXPGPATH];
		struct stat st;

		if (segno == 0)
			snprintf(segpath, sizeof(segpath), "%s", path);
		else
			snprintf(segpath, sizeof(segpath), "%s.%u", path, segno);

		if (stat(segpath, &st) < 0)
		{
			if (errno == ENOENT)
				break;
			ereport(ERROR,
					errcode_for_file_access(),
					errmsg("could not stat file \"%s\": %m", segpath));
		}
		total += st.st_size;
	}
	pfree(path);
	return total;
}

/*
 * On-disk size of the main fork of a relation, from its pg_class row.
 * Mapped catalogs have no relfilenode in pg_class; for them the size that
 * the last VACUUM or ANALYZE recorded is good enough.
 */
static int64
mg_class_bytes(Form_pg_class cls)
{
	if (!OidIsValid(cls->relfilenode))
		return (int64) cls->relpages * BLCKSZ;
	return mg_fork_bytes(cls);
}

/*
 * Rows per page when the table was never vacuumed or analyzed: the page
 * capacity for tuples as wide as its columns.  Fixed-width columns count
 * their width; variable-width ones count 8 bytes, not the planner's 32 or
 * more: short values are stored with a 1-byte header and long ones are moved
 * to TOAST, leaving an 18-byte pointer.  Erring on the narrow side means
 * erring on the side of more rows, which is the safe side for a guard.
 */
static double
mg_density_from_width(Oid relid, int natts)
{
	int32		width = 0;
	int			attnum;
	double		tuple_width;

	for (attnum = 1; attnum <= natts; attnum++)
	{
		HeapTuple	tp = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid),
										 Int16GetDatum(attnum));
		Form_pg_attribute att;

		if (!HeapTupleIsValid(tp))
			continue;
		att = (Form_pg_attribute) GETSTRUCT(tp);
		if (!att->attisdropped)
			width += att->attlen > 0 ? att->attlen : 8;
		ReleaseSysCache(tp);
	}
	tuple_width = MAXALIGN(SizeofHeapTupleHeader) + MAXALIGN(width) + sizeof(ItemIdData);
	return (BLCKSZ - SizeOfPageHeaderData) / tuple_width;
}

/*
 * Was this relation created in the current transaction?  Its creator holds
 * ACCESS EXCLUSIVE until commit, so without that lock the answer is no, and
 * with it the relcache entry may be opened safely.
 */
static bool
mg_created_in_this_transaction(Oid relid)
{
	LOCKTAG		tag;
	Relation	rel;
	bool		created;

	SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
	if (!mg_lock_held_by_me(&tag, AccessExclusiveLock))
		return false;

	rel = try_relation_open(relid, NoLock);
	if (rel == NULL)
		return false;
	created = rel->rd_createSubid != InvalidSubTransactionId;
	relation_close(rel, NoLock);
	return created;
}

/*
 * Measure one relation.  Returns false when it has no storage or is exempt.
 */
static bool
mg_measure_one(Oid relid, double *rows, int64 *bytes)
{
	HeapTuple	tp;
	Form_pg_class cls;
	int64		main_bytes;
	double		density;
	Oid			toastoid;

	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tp))
		return false;
	cls = (Form_pg_class) GETSTRUCT(tp);

	if (!RELKIND_HAS_STORAGE(cls->relkind) ||
		cls->relpersistence == RELPERSISTENCE_TEMP ||
		mg_created_in_this_transaction(relid))
	{
		ReleaseSysCache(tp);
		return false;
	}

	main_bytes = mg_class_bytes(cls);
	if (cls->relpages > 0 && cls->reltuples >= 0)
		density = cls->reltuples / cls->relpages;
	else
		density = mg_density_from_width(relid, cls->relnatts);
	*rows = rint(density * (double) (main_bytes / BLCKSZ));
	*bytes = main_bytes;
	toastoid = cls->reltoastrelid;
	ReleaseSysCache(tp);

	/* A rewrite copies the TOAST table too. */
	if (OidIsValid(toastoid))
	{
		tp = SearchSysCache1(RELOID, ObjectIdGetDatum(toastoid));
		if (HeapTupleIsValid(tp))
		{
			*bytes += mg_class_bytes((Form_pg_class) GETSTRUCT(tp));
			ReleaseSysCache(tp);
		}
	}
	return true;
}

/*
 * Measure a relation, adding up its partitions and inheritance children when
 * the statement recurses to them.
 */
void
mg_measure(Oid relid, bool recurse, MGRelSize *size)
{
	if (recurse && has_subclass(relid))
		mg_measure_list(find_all_inheritors(relid, NoLock, NULL), size);
	else
		mg_measure_list(list_make1_oid(relid), size);
}

/*
 * Measure exactly the given relations and add them up.
 */
void
mg_measure_list(List *relids, MGRelSize *size)
{
	ListCell   *lc;

	size->rows = 0;
	size->bytes = 0;
	size->nrels = 0;
	size->relids = relids;

	foreach(lc, relids)
	{
		double		rows;
		int64		bytes;

		if (mg_measure_one(lfirst_oid(lc), &rows, &bytes))
		{
			size->rows += rows;
			size->bytes += bytes;
			size->nrels++;
		}
	}
}

/*
 * Measure the files that ALTER DATABASE ... SET TABLESPACE copies: every
 * file in the database's directory of its default tablespace (movedb()
 * copies that directory; relations placed in other tablespaces stay where
 * they are).  Like db_dir_size() behind pg_database_size(), one stat() per
 * file, with no lock and nothing of the database's own run.  A database has
 * no row count: each 8 kB block counts as one row, the least a non-empty
 * heap block holds, so row_threshold still applies to it.
 */
void
mg_measure_database(Oid dboid, MGRelSize *size)
{
	HeapTuple	tp;
	Oid			spcoid;
	char	   *path;
	DIR		   *dir;
	struct dirent *de;

	size->rows = 0;
	size->bytes = 0;
	size->nrels = 0;
	size->relids = NIL;

	tp = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid));
	if (!HeapTupleIsValid(tp))
		return;
	spcoid = ((Form_pg_database) GETSTRUCT(tp))->dattablespace;
	ReleaseSysCache(tp);

	path = GetDatabasePath(dboid, spcoid);
	dir = AllocateDir(path);
	while ((de = ReadDirExtended(dir, path, LOG)) != NULL)
	{
		char		filename[MAXPGPATH];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(filename, sizeof(filename), "%s/%s", path, de->d_name);
		if (stat(filename, &st) < 0)
		{
			if (errno == ENOENT)
				continue;		/* dropped meanwhile */
			ereport(ERROR,
					errcode_for_file_access(),
					errmsg("could not stat file \"%s\": %m", filename));
		}
		if (S_ISREG(st.st_mode))
			size->bytes += st.st_size;
	}
	if (dir != NULL)
		FreeDir(dir);
	pfree(path);
	size->rows = (double) (size->bytes / BLCKSZ);
	size->nrels = 1;
}

/*
 * Is a measured relation above either threshold?
 */
bool
mg_is_big(const MGRelSize *size)
{
	return mg_is_above(size, mg_row_threshold, mg_size_threshold_kb);
}

/*
 * Is a measured relation above either of the given thresholds?
 */
bool
mg_is_above(const MGRelSize *size, int row_threshold, int size_threshold_kb)
{
	if (size->nrels == 0)
		return false;
	if (size->rows > (double) row_threshold)
		return true;
	return size_threshold_kb > 0 &&
		size->bytes > (int64) size_threshold_kb * 1024;
}

/*
 * Schema-qualified name of a relation, for messages.  Like PostgreSQL's own
 * messages, it is not quoted as an identifier: the message quotes it.
 */
char *
mg_relation_name(Oid relid)
{
	char	   *relname = get_rel_name(relid);
	char	   *nspname;

	if (relname == NULL)
		return psprintf("OID %u", relid);
	nspname = get_namespace_name(get_rel_namespace(relid));
	return psprintf("%s.%s", nspname ? nspname : "?", relname);
}

/*
 * Access method of a relation (get_rel_relam() is 16+ only).
 */
Oid
mg_relation_am(Oid relid)
{
	HeapTuple	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			amoid;

	if (!HeapTupleIsValid(tp))
		return InvalidOid;
	amoid = ((Form_pg_class) GETSTRUCT(tp))->relam;
	ReleaseSysCache(tp);
	return amoid;
}

/*
 * Bytes of the permanent indexes of the given relations, from their files
 * and without a lock on them, as for heaps: what rebuilding them writes to
 * the WAL.  The indexes are found in pg_index (the relcache entry would
 * need a lock on the table); temporary and unlogged ones write no WAL.
 * *nindexes, if not NULL, is set to the number of indexes counted.
 */
int64
mg_index_bytes(List *relids, int *nindexes)
{
	Relation	indexrel;
	ListCell   *lc;
	int64		total = 0;
	int			n = 0;

	indexrel = table_open(IndexRelationId, AccessShareLock);
	foreach(lc, relids)
	{
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tup;

		ScanKeyInit(&key, Anum_pg_index_indrelid, BTEqualStrategyNumber,
					F_OIDEQ, ObjectIdGetDatum(lfirst_oid(lc)));
		scan = systable_beginscan(indexrel, IndexIndrelidIndexId, true, NULL,
								  1, &key);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Oid			indexoid = ((Form_pg_index) GETSTRUCT(tup))->indexrelid;
			HeapTuple	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(indexoid));
			Form_pg_class cls;

			if (!HeapTupleIsValid(tp))
				continue;
			cls = (Form_pg_class) GETSTRUCT(tp);
			if (RELKIND_HAS_STORAGE(cls->relkind) &&
				cls->relpersistence == RELPERSISTENCE_PERMANENT)
			{
				total += mg_class_bytes(cls);
				n++;
			}
			ReleaseSysCache(tp);
		}
		systable_endscan(scan);
	}
	table_close(indexrel, AccessShareLock);
	if (nindexes)
		*nindexes = n;
	return total;
}
