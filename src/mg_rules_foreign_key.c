/*-------------------------------------------------------------------------
 *
 * mg_rules_foreign_key.c
 *		Foreign key checks that read both tables of the key.
 *
 * PostgreSQL proves a foreign key, and proves that a partition may leave
 * the key space of one, with a join of the two tables (RI_Initial_Check(),
 * RI_PartitionRemove_Check() in ri_triggers.c), holding a write-blocking
 * lock on both meanwhile.  Depending on the plan, that join reads the
 * referencing table and the referenced one in full, so a finding for it is
 * sized by both: the referencing rows and, unless there are none or the
 * referenced table is so much bigger that only its index is probed, the
 * referenced table with its partitions.  The paths that run such a join:
 *
 * - ADD FOREIGN KEY without NOT VALID, and an inline REFERENCES validated
 *   by ADD COLUMN (mg_rules_constraint.c, mg_rules_column.c use
 *   mg_fk_checked_relations()).
 * - ATTACH PARTITION to a referencing partitioned table, when the attached
 *   table has no valid foreign key equivalent to the parent's
 *   (CloneFkReferencing(): one is created and validated; from 18 a NOT
 *   VALID equivalent is attached and validated, which costs the same).
 * - ALTER COLUMN TYPE of a column of a foreign key, on either side:
 *   ATPostAlterTypeCleanup() adds the key again, and ATAddForeignKeyConstraint()
 *   validates it unless neither table is rewritten and the equality operator
 *   and the cast from the referencing column to it stay the same
 *   (TryReuseForeignKey(), old_check_ok).
 * - DETACH PARTITION of a partition of a referenced partitioned table:
 *   ATDetachCheckNoForeignKeyRefs() joins the referencing table (under
 *   SHARE lock, also with CONCURRENTLY) with the partition.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_rules_foreign_key.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/partition.h"
#include "partitioning/partdesc.h"
#include "catalog/pg_am.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "parser/parse_coerce.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "migration_guard.h"
#include "mg_compat.h"

#define MG_FK_TYPE_HINT \
	"Drop the foreign key, change the type, then add the foreign key again with NOT VALID and run ALTER TABLE ... VALIDATE CONSTRAINT, which does not block writes."

#define MG_FK_DETACH_HINT \
	"Drop the foreign key first, detach the partition, then add the foreign key again with NOT VALID and run ALTER TABLE ... VALIDATE CONSTRAINT, which does not block writes."

#define MG_FK_ATTACH_HINT \
	"Before attaching, add the partitioned table's foreign key to the table with NOT VALID and validate it with ALTER TABLE ... VALIDATE CONSTRAINT, which does not block writes: ATTACH PARTITION then uses it instead of checking every row."

/* A foreign key as pg_constraint stores it */
typedef struct MGForeignKey
{
	Oid			conoid;
	Oid			conrelid;
	Oid			confrelid;
	Oid			conindid;
	Oid			conparentid;
	bool		validated;
	bool		enforced;
	int			nkeys;
	AttrNumber	conkey[INDEX_MAX_KEYS];
	AttrNumber	confkey[INDEX_MAX_KEYS];
	Oid			conpfeqop[INDEX_MAX_KEYS];
	char		matchtype;
	char		updtype;
	char		deltype;
	bool		deferrable;
	bool		deferred;
} MGForeignKey;

/*
 * Copy a 1-D array column of a pg_constraint row; false if it is not one.
 */
static bool
mg_constraint_array(HeapTuple tup, AttrNumber attnum, Oid elemtype,
					int elemsize, void *dest, int *n)
{
	bool		isnull;
	Datum		d = SysCacheGetAttr(CONSTROID, tup, attnum, &isnull);
	ArrayType  *arr;

	if (isnull)
		return false;
	arr = DatumGetArrayTypeP(d);
	if (ARR_NDIM(arr) != 1 || ARR_HASNULL(arr) || ARR_ELEMTYPE(arr) != elemtype ||
		ARR_DIMS(arr)[0] < 1 || ARR_DIMS(arr)[0] > INDEX_MAX_KEYS)
		return false;
	*n = ARR_DIMS(arr)[0];
	memcpy(dest, ARR_DATA_PTR(arr), (Size) *n * elemsize);
	return true;
}

/*
 * Read foreign key conoid; false if it is not a well-formed foreign key.
 */
static bool
mg_read_foreign_key(Oid conoid, MGForeignKey *fk)
{
	HeapTuple	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
	Form_pg_constraint con;
	int			n1 = 0,
				n2 = 0,
				n3 = 0;
	bool		ok;

	if (!HeapTupleIsValid(tup))
		return false;
	con = (Form_pg_constraint) GETSTRUCT(tup);
	memset(fk, 0, sizeof(*fk));
	fk->conoid = conoid;
	fk->conrelid = con->conrelid;
	fk->confrelid = con->confrelid;
	fk->conindid = con->conindid;
	fk->conparentid = con->conparentid;
	fk->validated = con->convalidated;
	fk->enforced = MG_CONFORM_IS_ENFORCED(con);
	fk->matchtype = con->confmatchtype;
	fk->updtype = con->confupdtype;
	fk->deltype = con->confdeltype;
	fk->deferrable = con->condeferrable;
	fk->deferred = con->condeferred;
	ok = con->contype == CONSTRAINT_FOREIGN &&
		mg_constraint_array(tup, Anum_pg_constraint_conkey, INT2OID,
							sizeof(int16), fk->conkey, &n1) &&
		mg_constraint_array(tup, Anum_pg_constraint_confkey, INT2OID,
							sizeof(int16), fk->confkey, &n2) &&
		mg_constraint_array(tup, Anum_pg_constraint_conpfeqop, OIDOID,
							sizeof(Oid), fk->conpfeqop, &n3) &&
		n1 == n2 && n2 == n3;
	fk->nkeys = n1;
	ReleaseSysCache(tup);
	return ok;
}

/*
 * A relation with its partitions and inheritance children, or alone.
 */
static List *
mg_with_children(Oid relid, bool recurse)
{
	if (recurse && has_subclass(relid))
		return find_all_inheritors(relid, NoLock, NULL);
	return list_make1_oid(relid);
}

/*
 * How many times bigger than the referencing rows the referenced table can
 * be and still be read in full.  The check is an anti-join; the planner
 * hashes (or sorts) the whole referenced table only while that is cheaper
 * than probing its unique index once per referencing row, which with the
 * default costs stops somewhere between 10 and 200 rows per referencing
 * row.  Beyond that the work is the referencing rows' alone.
 */
#define MG_FK_FULL_READ_RATIO 100.0

/*
 * The relations a foreign key check of fkside against pkoid reads in full:
 * the referencing ones, and the referenced table (all its partitions if it
 * is partitioned; a foreign key references only the table itself
 * otherwise) unless there are no referencing rows (every join reads its
 * outer side first and stops when it is empty) or the referenced table is
 * too big for anything but index probes (MG_FK_FULL_READ_RATIO).  A
 * referencing side that mg_measure_list() exempts (temporary, or created in
 * this transaction) counts as no rows: the verdict stays what it was before
 * the referenced side was counted.
 */
static List *
mg_fk_join_relations(List *fkside, Oid pkoid)
{
	List	   *pkside;
	MGRelSize	fksize;
	MGRelSize	pksize;

	if (!OidIsValid(pkoid))
		return fkside;
	mg_measure_list(fkside, &fksize);
	if (fksize.nrels == 0 || fksize.bytes == 0)
		return fkside;
	pkside = mg_with_children(pkoid,
							  get_rel_relkind(pkoid) == RELKIND_PARTITIONED_TABLE);
	mg_measure_list(pkside, &pksize);
	if (pksize.rows > MG_FK_FULL_READ_RATIO * Max(fksize.rows, 1.0))
		return fkside;
	return list_concat_unique_oid(list_copy(fkside), pkside);
}

/*
 * What validating a new foreign key of fkrelid (with its partitions if
 * recurse) against pkoid reads, for the finding's relids.
 */
List *
mg_fk_checked_relations(Oid fkrelid, bool recurse, Oid pkoid)
{
	return mg_fk_join_relations(mg_with_children(fkrelid, recurse), pkoid);
}

/* ---- ATTACH PARTITION ---- */

/*
 * Does the table to attach have a validated foreign key that
 * tryAttachPartitionForeignKey() would take for the parent's key pfk?
 * Same referenced table, columns (by name), operators and actions.
 */
static bool
mg_has_equivalent_fk(Relation attachrel, Oid parentoid, const MGForeignKey *pfk)
{
	List	   *fks = RelationGetFKeyList(attachrel);
	ListCell   *lc;

	foreach(lc, fks)
	{
		ForeignKeyCacheInfo *info = lfirst_node(ForeignKeyCacheInfo, lc);
		MGForeignKey fk;
		bool		same = true;
		int			i;

		if (info->confrelid != pfk->confrelid || info->nkeys != pfk->nkeys ||
			!mg_read_foreign_key(info->conoid, &fk))
			continue;
		for (i = 0; i < pfk->nkeys && same; i++)
		{
			char	   *colname = get_attname(parentoid, pfk->conkey[i], true);

			same = colname != NULL &&
				get_attnum(RelationGetRelid(attachrel), colname) == fk.conkey[i] &&
				fk.confkey[i] == pfk->confkey[i] &&
				fk.conpfeqop[i] == pfk->conpfeqop[i];
		}
		if (same && fk.validated && !OidIsValid(fk.conparentid) &&
			fk.deferrable == pfk->deferrable && fk.deferred == pfk->deferred &&
			fk.updtype == pfk->updtype && fk.deltype == pfk->deltype &&
			fk.matchtype == pfk->matchtype)
			return true;
	}
	return false;
}

/*
 * ATTACH PARTITION: every enforced foreign key of the parent that the
 * attached table has no valid equivalent of is validated on it.  Only the
 * parent's own keys count, not the rows that point to the partitions of a
 * partitioned referenced table (CloneFkReferencing() skips those).
 */
void
mg_rule_attach_foreign_keys(Relation parent, Relation attachrel,
							MGAnalysis *analysis)
{
	Oid			parentoid = RelationGetRelid(parent);
	Oid			partoid = RelationGetRelid(attachrel);
	List	   *fks = RelationGetFKeyList(parent);
	List	   *conoids = NIL;
	List	   *relids = NIL;
	List	   *pknames = NIL;
	ListCell   *lc;

	foreach(lc, fks)
		conoids = lappend_oid(conoids, lfirst_node(ForeignKeyCacheInfo, lc)->conoid);
	foreach(lc, fks)
	{
		ForeignKeyCacheInfo *info = lfirst_node(ForeignKeyCacheInfo, lc);
		MGForeignKey pfk;

		if (!mg_read_foreign_key(info->conoid, &pfk) || !pfk.enforced ||
			list_member_oid(conoids, pfk.conparentid) ||
			mg_has_equivalent_fk(attachrel, parentoid, &pfk))
			continue;
		relids = list_concat_unique_oid(relids,
										mg_fk_checked_relations(partoid, true,
																pfk.confrelid));
		pknames = list_append_unique_oid(pknames, pfk.confrelid);
	}
	if (relids == NIL)
		return;
	mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, partoid, false, relids,
				   AccessExclusiveLock,
				   psprintf("Attaching \"%s\" validates the partitioned table's foreign key on it, which checks every row against table \"%s\" with a join that can read both in full, under SHARE ROW EXCLUSIVE lock on the referenced table; the size given is that of both.",
							get_rel_name(partoid),
							mg_relation_name(linitial_oid(pknames))),
				   pstrdup(MG_FK_ATTACH_HINT));
}

/* ---- ALTER COLUMN TYPE ---- */

/*
 * findFkeyCast() of tablecmds.c: the coercion from sourcetype to targettype
 * that a foreign key check applies.
 */
static CoercionPathType
mg_fk_cast(Oid targettype, Oid sourcetype, Oid *funcid)
{
	if (targettype == sourcetype)
	{
		*funcid = InvalidOid;
		return COERCION_PATH_RELABELTYPE;
	}
	return find_coercion_pathway(targettype, sourcetype, COERCION_IMPLICIT, funcid);
}

/*
 * The operator class of the referenced key column pkattnum in index indexoid.
 */
static Oid
mg_fk_index_opclass(Oid indexoid, AttrNumber pkattnum)
{
	HeapTuple	tp = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
	Form_pg_index idx;
	oidvector  *indclass;
	bool		isnull;
	Oid			opclass = InvalidOid;
	int			i;

	if (!HeapTupleIsValid(tp))
		return InvalidOid;
	idx = (Form_pg_index) GETSTRUCT(tp);
	indclass = (oidvector *) DatumGetPointer(SysCacheGetAttr(INDEXRELID, tp,
															 Anum_pg_index_indclass,
															 &isnull));
	for (i = 0; !isnull && i < idx->indnkeyatts; i++)
		if (idx->indkey.values[i] == pkattnum)
			opclass = indclass->values[i];
	ReleaseSysCache(tp);
	return opclass;
}

/* What ATAddForeignKeyConstraint() makes of a key column added again */
typedef enum MGFKRecheck
{
	MG_FK_KEPT,					/* old_check_ok stays: no check */
	MG_FK_CHECKED,				/* validated again */
	MG_FK_INVALID				/* "cannot be implemented": PostgreSQL's error */
} MGFKRecheck;

/*
 * Would ATAddForeignKeyConstraint() keep old_check_ok for key column i of
 * fk after the referencing column becomes newfktype and the referenced one
 * newpktype?  It recomputes the equality operator as it does for a new key
 * and compares it, then the cast from the referencing column to it.  Only a
 * btree key is understood; anything else is assumed checked.
 */
static MGFKRecheck
mg_fk_column_recheck(const MGForeignKey *fk, int i, Oid oldfktype,
					  Oid newfktype, Oid oldpktype, Oid newpktype)
{
	Oid			opclass = mg_fk_index_opclass(fk->conindid, fk->confkey[i]);
	Oid			amoid;
	Oid			opfamily;
	Oid			opcintype;
	Oid			fktyped;
	Oid			pfeqop;
	Oid			ffeqop = InvalidOid;
	Oid			right;
	Oid			oldfunc;
	Oid			newfunc;
	CoercionPathType oldpath;
	CoercionPathType newpath;

	/* A column dropped meanwhile: PostgreSQL will tell. */
	if (!OidIsValid(opclass) || !OidIsValid(oldfktype) || !OidIsValid(newfktype) ||
		!OidIsValid(oldpktype) || !OidIsValid(newpktype))
		return MG_FK_CHECKED;
	amoid = mg_relation_am(fk->conindid);
	if (amoid != BTREE_AM_OID)
		return MG_FK_CHECKED;
	/* A rebuilt index takes the new type's default for a default opclass. */
	if (newpktype != oldpktype && opclass == GetDefaultOpClass(oldpktype, amoid))
		opclass = GetDefaultOpClass(newpktype, amoid);
	if (!OidIsValid(opclass))
		return MG_FK_INVALID;	/* the index cannot be built: its error */
	opfamily = get_opclass_family(opclass);
	opcintype = get_opclass_input_type(opclass);

	fktyped = getBaseType(newfktype);
	right = fktyped;
	pfeqop = get_opfamily_member(opfamily, opcintype, fktyped, BTEqualStrategyNumber);
	if (OidIsValid(pfeqop))
		ffeqop = get_opfamily_member(opfamily, fktyped, fktyped, BTEqualStrategyNumber);
	if (!OidIsValid(pfeqop) || !OidIsValid(ffeqop))
	{
		Oid			input[2] = {newpktype, newfktype};
		Oid			target[2] = {opcintype, opcintype};

		if (!can_coerce_type(2, input, target, COERCION_IMPLICIT))
			return MG_FK_INVALID;
		pfeqop = get_opfamily_member(opfamily, opcintype, opcintype,
									 BTEqualStrategyNumber);
		right = opcintype;
	}
	if (pfeqop != fk->conpfeqop[i])
		return MG_FK_CHECKED;

	oldpath = mg_fk_cast(right, oldfktype, &oldfunc);
	newpath = mg_fk_cast(right, newfktype, &newfunc);
	if (oldpath == newpath && oldfunc == newfunc &&
		(!IsPolymorphicType(right) || newfktype == oldfktype))
		return MG_FK_KEPT;
	return MG_FK_CHECKED;
}

/*
 * Is foreign key fk validated again when column attnum of relid changes
 * from oldtype to newtype?  Always after a rewrite of the altered table;
 * otherwise when a key column's operator or cast changes.  Not when the key
 * cannot be implemented for the new type: PostgreSQL then raises its error.
 */
static bool
mg_fk_revalidated(const MGForeignKey *fk, Oid relid, AttrNumber attnum,
				  Oid newtype, bool rewrite)
{
	bool		checked = rewrite;
	int			i;

	for (i = 0; i < fk->nkeys; i++)
	{
		bool		fkside = fk->conrelid == relid && fk->conkey[i] == attnum;
		bool		pkside = fk->confrelid == relid && fk->confkey[i] == attnum;
		Oid			fktype = get_atttype(fk->conrelid, fk->conkey[i]);
		Oid			pktype = get_atttype(fk->confrelid, fk->confkey[i]);

		if (!fkside && !pkside)
			continue;
		switch (mg_fk_column_recheck(fk, i, fktype, fkside ? newtype : fktype,
									 pktype, pkside ? newtype : pktype))
		{
			case MG_FK_INVALID:
				return false;
			case MG_FK_CHECKED:
				checked = true;
				break;
			case MG_FK_KEPT:
				break;
		}
	}
	return checked;
}

/*
 * The top-level foreign keys that use column attnum of relid, on either
 * side, from pg_depend as ATExecAlterColumnType() finds them.  Keys of
 * partitions that a parent's key created are added again by recursing from
 * the parent's, so only keys without a parent count.
 */
static List *
mg_fks_on_column(Oid relid, AttrNumber attnum)
{
	Relation	depRel;
	ScanKeyData key[3];
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *result = NIL;

	depRel = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(RelationRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	ScanKeyInit(&key[2], Anum_pg_depend_refobjsubid, BTEqualStrategyNumber,
				F_INT4EQ, Int32GetDatum((int32) attnum));
	scan = systable_beginscan(depRel, DependReferenceIndexId, true, NULL, 3, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tup);

		if (dep->classid == ConstraintRelationId)
			result = list_append_unique_oid(result, dep->objid);
	}
	systable_endscan(scan);
	table_close(depRel, AccessShareLock);
	return result;
}

/*
 * ALTER COLUMN TYPE of column attnum of rel to newtype (or, from 17, SET
 * EXPRESSION of a stored generated column, which rewrites the table and
 * adds its dependent constraints again the same way): each validated,
 * enforced foreign key on the column that is added again with a check
 * scans the table at the other end too (under ACCESS EXCLUSIVE, which
 * ATPostAlterTypeCleanup() takes on it).  The finding names that other
 * table, since the altered one is already reported if it is rewritten.
 * change says what the statement does to the column, for the DETAIL.
 */
void
mg_rule_alter_type_foreign_keys(Relation rel, AttrNumber attnum, Oid newtype,
								bool rewrite, const char *change,
								LOCKMODE lockmode, MGAnalysis *analysis)
{
	Oid			relid = RelationGetRelid(rel);
	char	   *colname = get_attname(relid, attnum, true);
	List	   *rels;
	ListCell   *lcr;

	if (colname == NULL)
		return;

	/*
	 * The change recurses to partitions and children (PostgreSQL refuses it
	 * with ONLY), each adding its own keys on the column again.
	 */
	rels = has_subclass(relid) ? find_all_inheritors(relid, NoLock, NULL) :
		list_make1_oid(relid);
	foreach(lcr, rels)
	{
		Oid			tableid = lfirst_oid(lcr);
		AttrNumber	colnum = get_attnum(tableid, colname);
		ListCell   *lc;

		if (colnum == InvalidAttrNumber)
			continue;
		foreach(lc, mg_fks_on_column(tableid, colnum))
		{
			MGForeignKey fk;
			Oid			other;
			char	   *conname;
			List	   *relids;

			if (!mg_read_foreign_key(lfirst_oid(lc), &fk) ||
				OidIsValid(fk.conparentid) || !fk.validated || !fk.enforced ||
				!mg_fk_revalidated(&fk, tableid, colnum, newtype, rewrite))
				continue;
			other = fk.conrelid == tableid ? fk.confrelid : fk.conrelid;
			conname = get_constraint_name(fk.conoid);
			if (conname == NULL)
				continue;		/* dropped meanwhile */
			relids = mg_fk_checked_relations(fk.conrelid, true, fk.confrelid);
			mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, other, false, relids,
						   lockmode,
						   psprintf("%s \"%s\" adds foreign key \"%s\" again and validates it, which checks every row of table \"%s\" against table \"%s\" with a join that can read both in full; the size given is that of both.",
									change, colname, conname,
									mg_relation_name(fk.conrelid),
									mg_relation_name(fk.confrelid)),
						   pstrdup(MG_FK_TYPE_HINT));
		}
	}
}

/* ---- DETACH PARTITION ---- */

/*
 * Is partoid a partition of parent that DETACH can detach, as PostgreSQL
 * reads it from the partition descriptor (without one pending detach)?
 */
static bool
mg_is_attached_partition(Relation parent, Oid partoid)
{
	PartitionDesc partdesc = RelationGetPartitionDesc(parent, true);
	int			i;

	for (i = 0; i < partdesc->nparts; i++)
		if (partdesc->oids[i] == partoid)
			return true;
	return false;
}

/*
 * DETACH PARTITION [CONCURRENTLY]: for every foreign key that references
 * the partitioned table, PostgreSQL checks that no referencing row points
 * into the partition (ATDetachCheckNoForeignKeyRefs(), for the keys that
 * GetParentedForeignKeyRefs() finds: those whose row for this partition
 * has a parent).  The referencing table is held under SHARE lock.
 */
void
mg_rule_detach_partition(Relation parent, PartitionCmd *cmd, LOCKMODE lockmode,
						 MGAnalysis *analysis)
{
	Oid			parentoid = RelationGetRelid(parent);
	Oid			partoid = mg_lookup_relation(cmd->name);
	Relation	conrel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *fkrels = NIL;
	ListCell   *lc;

	if (!OidIsValid(partoid) || !mg_is_attached_partition(parent, partoid))
		return;					/* PostgreSQL reports it */
	/* CONCURRENTLY: PostgreSQL's errors come first (utility.c, tablecmds.c). */
	if (cmd->concurrent &&
		(IsTransactionBlock() || IsSubTransaction() ||
		 !mg_current_is_top_level() ||
		 OidIsValid(get_default_oid_from_partdesc(RelationGetPartitionDesc(parent, true)))))
		return;

	conrel = table_open(ConstraintRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_constraint_confrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(partoid));
	scan = systable_beginscan(conrel, InvalidOid, false, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tup);

		if (con->contype == CONSTRAINT_FOREIGN && OidIsValid(con->conparentid))
			fkrels = list_append_unique_oid(fkrels, con->conrelid);
	}
	systable_endscan(scan);
	table_close(conrel, AccessShareLock);

	foreach(lc, fkrels)
	{
		Oid			fkoid = lfirst_oid(lc);
		List	   *relids;
		LOCKMODE	mode = ShareLock;

		/* The query reads the partition, with its partitions, in the join. */
		relids = list_concat_unique_oid(mg_with_children(fkoid, true),
										mg_with_children(partoid, true));
		if (fkoid == parentoid)
			mode = Max(mode, lockmode);
		mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, fkoid, false, relids,
					   mode,
					   psprintf("Detaching \"%s\" first checks that no row of table \"%s\" references it, with a join that can read both in full while the referencing table is held under SHARE lock, also with CONCURRENTLY; the size given is that of both.",
								get_rel_name(partoid), mg_relation_name(fkoid)),
					   pstrdup(MG_FK_DETACH_HINT));
	}
}
