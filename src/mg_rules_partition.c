/*-------------------------------------------------------------------------
 *
 * mg_rules_partition.c
 *		Rules for ATTACH PARTITION and CREATE TABLE ... PARTITION OF.
 *
 * Attaching a partition proves that every row satisfies the partition
 * constraint, and attaching to (or creating a partition of) a table with a
 * DEFAULT partition proves that no row of the default partition belongs to
 * the new one.  Each proof is a full scan under ACCESS EXCLUSIVE, skipped
 * when the table's valid CHECK constraints already imply the constraint
 * (QueuePartitionConstraintValidation(), check_default_partition_contents()).
 *
 * The bound is not transformed with transformPartitionBound(): that
 * evaluates any expression in it (a volatile function would run once here
 * and once more in PostgreSQL, and an untrusted script given to
 * migration_guard.check() would run), and it raises for every mistake in the
 * bound.  Only literals, written as such or cast to the key's own type, are
 * converted, with the key type's built-in input function and only where that
 * cannot fail (mg_input_datum()).  A bound the guard cannot read is judged
 * conservatively: the scan is predicted.
 *
 * PostgreSQL rejects many ATTACH and CREATE statements before it scans
 * anything (a typed table, a missing column, a temporary relation under a
 * permanent one, an empty or overlapping range, ...).  Those conditions are
 * checked here first, from the catalog, and such a statement gets no
 * finding, so that PostgreSQL reports its own error; nothing in this file
 * raises one.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_rules_partition.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/htup_details.h"
#include "catalog/index.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "migration_guard.h"
#include "mg_compat.h"

#if MG_HAVE_SOFT_INPUT
#include "nodes/miscnodes.h"
#endif

#define MG_PARTITION_HINT \
	"Before attaching, add a CHECK constraint matching the partition bound with NOT VALID and validate it with VALIDATE CONSTRAINT (which does not block writes); ATTACH PARTITION then skips the scan.  For a DEFAULT partition, add a CHECK constraint that excludes the new partition's values the same way; with pg_partman, keep the default partition empty (premake, partition_data_proc), see \"pg_partman\" in the migration_guard README."

#define MG_ATTACH_INDEX_HINT \
	"Before attaching, create the partitioned table's indexes on the table with CREATE INDEX CONCURRENTLY (and for a unique or primary key index, add the constraint with ALTER TABLE ... ADD CONSTRAINT ... USING INDEX); ATTACH PARTITION then attaches them instead of building new ones."

/* What the guard can make of a partition bound */
typedef enum MGBound
{
	MG_BOUND_OK,				/* converted exactly as PostgreSQL would */
	MG_BOUND_UNKNOWN,			/* not readable without evaluating it */
	MG_BOUND_INVALID			/* PostgreSQL rejects the statement */
} MGBound;

#if !MG_HAVE_SOFT_INPUT
/*
 * Before 16, input functions can only report bad input by raising an error,
 * so only text the guard has checked itself is given to them: a decimal
 * integer, and ISO dates and timestamps (YYYY-MM-DD[ HH:MM[:SS[.f]]] and,
 * for timestamptz, an optional +HH[:MM] offset), which mean the same under
 * every DateStyle.
 */
static bool
mg_digits(const char **p, int n, int min, int max)
{
	int			v = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		if (!isdigit((unsigned char) (*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return v >= min && v <= max;
}

/*
 * Would int2in/int4in/int8in of 15 accept this text (optional white space,
 * an optional sign, decimal digits, optional white space, within range)?
 * This is exactly what they accept, so false means PostgreSQL raises.
 */
static bool
mg_safe_integer_text(const char *s, int64 min, int64 max)
{
	uint64		v = 0;
	bool		neg = false;
	bool		digits = false;

	while (isspace((unsigned char) *s))
		s++;
	if (*s == '+' || *s == '-')
		neg = (*s++ == '-');
	for (; isdigit((unsigned char) *s); s++)
	{
		int			d = *s - '0';

		digits = true;
		if (v > (PG_UINT64_MAX - d) / 10)
			return false;		/* out of range */
		v = v * 10 + d;
	}
	while (isspace((unsigned char) *s))
		s++;
	if (!digits || *s != '\0')
		return false;
	if (neg)
		return v <= (uint64) (-(min + 1)) + 1;
	return v <= (uint64) max;
}

static bool
mg_safe_datetime_text(const char *s, Oid typid)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *p = s;
	int			year,
				month,
				day;

	if (!mg_digits(&p, 4, 1, 9999) || *p++ != '-')
		return false;
	year = atoi(s);
	month = atoi(p);
	if (!mg_digits(&p, 2, 1, 12) || *p++ != '-')
		return false;
	day = atoi(p);
	if (!mg_digits(&p, 2, 1, mdays[month - 1]))
		return false;
	if (month == 2 && day == 29 &&
		!(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
		return false;
	if (*p == '\0')
		return true;
	if (typid == DATEOID || *p++ != ' ')
		return false;
	if (!mg_digits(&p, 2, 0, 23) || *p++ != ':' || !mg_digits(&p, 2, 0, 59))
		return false;
	if (*p == ':')
	{
		p++;
		if (!mg_digits(&p, 2, 0, 59))
			return false;
		if (*p == '.')
		{
			int			n = 0;

			for (p++; isdigit((unsigned char) *p); p++)
				n++;
			if (n < 1 || n > 6)
				return false;
		}
	}
	if (*p != '\0' && typid == TIMESTAMPTZOID && (*p == '+' || *p == '-'))
	{
		p++;
		if (!mg_digits(&p, 2, 0, 15))
			return false;
		if (*p == ':')
		{
			p++;
			if (!mg_digits(&p, 2, 0, 59))
				return false;
		}
	}
	return *p == '\0';
}
#endif

/*
 * Convert the text of a literal to a value of the key type with the type's
 * input function, as coercing the literal does in transformExpr(), if that
 * is safe: the type is a base type with a built-in input function (no
 * domain, whose CHECK would have to be evaluated, and no input function
 * that someone other than PostgreSQL wrote), and the function cannot raise
 * (16+: it reports bad input softly; 15: the text was checked above).  If
 * the text is bad and exact says PostgreSQL converts the same text the same
 * way, the statement is INVALID; otherwise UNKNOWN.
 */
static MGBound
mg_input_datum(Oid typid, int32 typmod, const char *str, bool exact,
			   Datum *value)
{
	HeapTuple	tp = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	Form_pg_type typ;
	Oid			typinput;
	Oid			typioparam;
	bool		base;
	MGBound		fails = exact ? MG_BOUND_INVALID : MG_BOUND_UNKNOWN;

	if (!HeapTupleIsValid(tp))
		return MG_BOUND_UNKNOWN;
	typ = (Form_pg_type) GETSTRUCT(tp);
	base = typ->typtype == TYPTYPE_BASE && typ->typisdefined;
	typinput = typ->typinput;
	typioparam = getTypeIOParam(tp);
	ReleaseSysCache(tp);
	if (!base || typinput >= FirstGenbkiObjectId)
		return MG_BOUND_UNKNOWN;

#if MG_HAVE_SOFT_INPUT
	{
		ErrorSaveContext escontext = {T_ErrorSaveContext};
		FmgrInfo	flinfo;

		fmgr_info(typinput, &flinfo);
		if (!InputFunctionCallSafe(&flinfo, (char *) str, typioparam, typmod,
								   (Node *) &escontext, value))
			return fails;
		return MG_BOUND_OK;
	}
#else
	switch (typid)
	{
		case INT2OID:
			if (!mg_safe_integer_text(str, PG_INT16_MIN, PG_INT16_MAX))
				return fails;
			break;
		case INT4OID:
			if (!mg_safe_integer_text(str, PG_INT32_MIN, PG_INT32_MAX))
				return fails;
			break;
		case INT8OID:
			if (!mg_safe_integer_text(str, PG_INT64_MIN, PG_INT64_MAX))
				return fails;
			break;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			if (typmod >= 0)
				return MG_BOUND_UNKNOWN;	/* too long a value would raise */
			break;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			/* other spellings may be valid: unknown, not invalid */
			if (typmod >= 0 || !mg_safe_datetime_text(str, typid))
				return MG_BOUND_UNKNOWN;
			break;
		default:
			return MG_BOUND_UNKNOWN;
	}
	*value = OidInputFunctionCall(typinput, (char *) str, typioparam, typmod);
	return MG_BOUND_OK;
#endif
}

/*
 * The Const that transformPartitionBoundValue() would make of one raw bound
 * value for key column i, if it is a literal (see the file header).
 */
static MGBound
mg_bound_const(Node *raw, PartitionKey key, int i, Const **result)
{
	Oid			typid = key->parttypid[i];
	int32		typmod = key->parttypmod[i];
	A_Const    *c;
	const char *str;
	Datum		value = (Datum) 0;
	bool		numeric_key;

	if (get_typtype(typid) != TYPTYPE_BASE)
		return MG_BOUND_UNKNOWN;	/* a domain's CHECK would be evaluated */

	if (IsA(raw, TypeCast))
	{
		TypeCast   *tc = (TypeCast *) raw;
		Oid			casttype;
		int32		casttypmod = -1;

		if (!mg_lookup_type(tc->typeName, &casttype, &casttypmod) ||
			casttype != typid || (casttypmod >= 0 && casttypmod != typmod))
			return MG_BOUND_UNKNOWN;
		raw = tc->arg;
	}
	if (!IsA(raw, A_Const))
		return MG_BOUND_UNKNOWN;	/* an expression: PostgreSQL evaluates it */
	c = (A_Const *) raw;

	/*
	 * A numeric literal is an int4, int8 or numeric constant, converted by
	 * an assignment cast; for the numeric key types that gives the value
	 * the input function gives for its text, and input that the cast would
	 * round (1.5 for an integer key) fails softly and stays unknown.
	 */
	numeric_key = (typid == INT2OID || typid == INT4OID || typid == INT8OID ||
				   typid == NUMERICOID || typid == FLOAT4OID || typid == FLOAT8OID);
	if (c->isnull)
		str = NULL;
	else if (IsA(&c->val, Integer) && numeric_key)
		str = psprintf("%d", intVal(&c->val));
	else if (IsA(&c->val, Float) && numeric_key)
		str = castNode(Float, &c->val)->fval;
	else if (IsA(&c->val, String))
		str = strVal(&c->val);
	else
		return MG_BOUND_UNKNOWN;

	if (str != NULL)
	{
		/*
		 * A string literal is given to the input function by PostgreSQL too,
		 * so its failure is PostgreSQL's error; a numeric one is cast.
		 */
		MGBound		r = mg_input_datum(typid, typmod, str,
									   IsA(&c->val, String), &value);

		if (r != MG_BOUND_OK)
			return r;
	}
	*result = makeConst(typid, typmod, key->partcollation[i],
						key->parttyplen[i], value, str == NULL,
						key->parttypbyval[i]);
	return MG_BOUND_OK;
}

/*
 * Range bound values (transformPartitionRangeBounds(): MINVALUE and MAXVALUE
 * are ColumnRefs, no NULL, once infinite the rest likewise).
 */
static MGBound
mg_range_datums(List *raw, PartitionKey key, List **result)
{
	PartitionRangeDatumKind kind = PARTITION_RANGE_DATUM_VALUE;
	ListCell   *lc;

	*result = NIL;
	if (list_length(raw) != key->partnatts)
		return MG_BOUND_INVALID;
	foreach(lc, raw)
	{
		Node	   *expr = lfirst(lc);
		PartitionRangeDatum *prd = makeNode(PartitionRangeDatum);
		ColumnRef  *cref = (ColumnRef *) expr;

		prd->kind = PARTITION_RANGE_DATUM_VALUE;
		if (IsA(expr, ColumnRef) && list_length(cref->fields) == 1 &&
			IsA(linitial(cref->fields), String) &&
			strcmp(strVal(linitial(cref->fields)), "minvalue") == 0)
			prd->kind = PARTITION_RANGE_DATUM_MINVALUE;
		else if (IsA(expr, ColumnRef) && list_length(cref->fields) == 1 &&
				 IsA(linitial(cref->fields), String) &&
				 strcmp(strVal(linitial(cref->fields)), "maxvalue") == 0)
			prd->kind = PARTITION_RANGE_DATUM_MAXVALUE;
		else
		{
			Const	   *value;
			MGBound		r = mg_bound_const(expr, key, foreach_current_index(lc), &value);

			if (r != MG_BOUND_OK)
				return r;
			if (value->constisnull)
				return MG_BOUND_INVALID;	/* "cannot specify NULL in range bound" */
			prd->value = (Node *) value;
		}
		if (kind != PARTITION_RANGE_DATUM_VALUE && prd->kind != kind)
			return MG_BOUND_INVALID;	/* "every bound following MAXVALUE ..." */
		kind = prd->kind;
		prd->location = exprLocation(expr);
		*result = lappend(*result, prd);
	}
	return MG_BOUND_OK;
}

/*
 * transformPartitionBound() for bounds made of literals.
 */
static MGBound
mg_transform_bound(Relation parent, PartitionBoundSpec *raw,
				   PartitionBoundSpec **result)
{
	PartitionKey key = RelationGetPartitionKey(parent);
	PartitionBoundSpec *spec;
	ListCell   *lc;
	MGBound		r;

	if (key == NULL)
		return MG_BOUND_INVALID;
	spec = makeNode(PartitionBoundSpec);
	spec->strategy = key->strategy;
	spec->is_default = raw->is_default;
	spec->location = raw->location;
	*result = spec;
	if (raw->is_default)
		return key->strategy == PARTITION_STRATEGY_HASH ? MG_BOUND_INVALID : MG_BOUND_OK;
	if (raw->strategy != key->strategy)
		return MG_BOUND_INVALID;

	switch (key->strategy)
	{
		case PARTITION_STRATEGY_HASH:
			if (raw->modulus <= 0 || raw->remainder < 0 ||
				raw->remainder >= raw->modulus)
				return MG_BOUND_INVALID;
			spec->modulus = raw->modulus;
			spec->remainder = raw->remainder;
			return MG_BOUND_OK;
		case PARTITION_STRATEGY_LIST:
			foreach(lc, raw->listdatums)
			{
				Const	   *value;

				r = mg_bound_const(lfirst(lc), key, 0, &value);
				if (r != MG_BOUND_OK)
					return r;
				if (!list_member(spec->listdatums, value))
					spec->listdatums = lappend(spec->listdatums, value);
			}
			return MG_BOUND_OK;
		case PARTITION_STRATEGY_RANGE:
			r = mg_range_datums(raw->lowerdatums, key, &spec->lowerdatums);
			if (r == MG_BOUND_OK)
				r = mg_range_datums(raw->upperdatums, key, &spec->upperdatums);
			return r;
		default:
			return MG_BOUND_UNKNOWN;
	}
}

/*
 * partition_rbound_cmp(), which is static in partbounds.c: compare two range
 * bounds (lists of PartitionRangeDatum), each a lower or an upper bound.
 */
static int
mg_rbound_cmp(PartitionKey key, List *datums1, bool lower1,
			  List *datums2, bool lower2)
{
	ListCell   *lc1;
	ListCell   *lc2;

	forboth(lc1, datums1, lc2, datums2)
	{
		PartitionRangeDatum *d1 = lfirst_node(PartitionRangeDatum, lc1);
		PartitionRangeDatum *d2 = lfirst_node(PartitionRangeDatum, lc2);
		int			i = foreach_current_index(lc1);
		int32		cmp;

		if (d1->kind != d2->kind)
			return d1->kind < d2->kind ? -1 : 1;
		if (d1->kind != PARTITION_RANGE_DATUM_VALUE)
			break;				/* both infinite, and so are the rest */
		cmp = DatumGetInt32(FunctionCall2Coll(&key->partsupfunc[i],
											  key->partcollation[i],
											  castNode(Const, d1->value)->constvalue,
											  castNode(Const, d2->value)->constvalue));
		if (cmp != 0)
			return cmp;
	}
	if (lower1 != lower2)
		return lower1 ? 1 : -1;
	return 0;
}

/*
 * Does the stored bound of an existing partition conflict with the new one?
 */
static bool
mg_bounds_overlap(PartitionKey key, PartitionBoundSpec *spec,
				  PartitionBoundSpec *old)
{
	ListCell   *lc1;
	ListCell   *lc2;

	if (old->is_default || spec->is_default)
		return old->is_default && spec->is_default;

	switch (key->strategy)
	{
		case PARTITION_STRATEGY_HASH:

			/*
			 * Every modulus must divide the next larger one; with that, the
			 * remainders conflict if they agree modulo the smaller modulus.
			 */
			if (spec->modulus % old->modulus == 0)
				return spec->remainder % old->modulus == old->remainder;
			if (old->modulus % spec->modulus == 0)
				return old->remainder % spec->modulus == spec->remainder;
			return true;
		case PARTITION_STRATEGY_LIST:
			foreach(lc1, spec->listdatums)
			{
				Const	   *c1 = lfirst_node(Const, lc1);

				foreach(lc2, old->listdatums)
				{
					Const	   *c2 = lfirst_node(Const, lc2);

					if (c1->constisnull || c2->constisnull)
					{
						if (c1->constisnull && c2->constisnull)
							return true;
					}
					else if (DatumGetInt32(FunctionCall2Coll(&key->partsupfunc[0],
															 key->partcollation[0],
															 c1->constvalue,
															 c2->constvalue)) == 0)
						return true;
				}
			}
			return false;
		case PARTITION_STRATEGY_RANGE:
			return mg_rbound_cmp(key, spec->lowerdatums, true, old->upperdatums, false) < 0 &&
				mg_rbound_cmp(key, old->lowerdatums, true, spec->upperdatums, false) < 0;
		default:
			return true;
	}
}

/*
 * check_new_partition_bound() without raising: false if PostgreSQL would
 * reject the bound (an empty range, a conflict with an existing partition,
 * a second default partition).  Existing bounds are read from pg_class.
 */
static bool
mg_new_bound_is_valid(Relation parent, PartitionBoundSpec *spec)
{
	PartitionKey key = RelationGetPartitionKey(parent);
	PartitionDesc partdesc = RelationGetPartitionDesc(parent, false);
	int			i;

	if (key->strategy == PARTITION_STRATEGY_RANGE && !spec->is_default &&
		mg_rbound_cmp(key, spec->lowerdatums, true, spec->upperdatums, false) >= 0)
		return false;			/* "empty range bound specified for partition" */

	for (i = 0; i < partdesc->nparts; i++)
	{
		HeapTuple	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(partdesc->oids[i]));
		Datum		d;
		bool		isnull;
		bool		overlap = false;

		if (!HeapTupleIsValid(tp))
			continue;
		d = SysCacheGetAttr(RELOID, tp, Anum_pg_class_relpartbound, &isnull);
		if (!isnull)
			overlap = mg_bounds_overlap(key, spec,
										castNode(PartitionBoundSpec,
												 stringToNode(TextDatumGetCString(d))));
		ReleaseSysCache(tp);
		if (overlap)
			return false;
	}
	return true;
}

/*
 * Which relations would have to be scanned to prove partConstraint (an
 * implicit-AND list in scanrel's attribute numbers) for scanrel?  Appends
 * their OIDs to *scanned.  Mirrors QueuePartitionConstraintValidation().
 */
static void
mg_partition_scan_targets(Relation scanrel, List *partConstraint, List **scanned)
{
	if (mg_constraint_implied(scanrel, partConstraint, true))
		return;

	if (scanrel->rd_rel->relkind == RELKIND_RELATION)
		*scanned = lappend_oid(*scanned, RelationGetRelid(scanrel));
	else if (scanrel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
	{
		PartitionDesc partdesc = RelationGetPartitionDesc(scanrel, true);
		int			i;

		for (i = 0; i < partdesc->nparts; i++)
		{
			Relation	part = mg_open_relation(partdesc->oids[i]);

			if (part == NULL)
				continue;
			/* A partition has its parent's columns: the map cannot fail. */
			mg_partition_scan_targets(part,
									  map_partition_varattnos(partConstraint, 1,
															  part, scanrel),
									  scanned);
			mg_close_relation(part);
		}
	}
}

/*
 * get_proposed_default_constraint() without its eval_const_expressions():
 * the negation is pushed down by negate_clause(), which is the part of
 * const-simplification that matters for a constraint built from constants.
 */
static List *
mg_proposed_default_constraint(List *partBoundConstraint)
{
	Node	   *expr;

	expr = negate_clause((Node *) make_ands_explicit(partBoundConstraint));
	expr = (Node *) canonicalize_qual((Expr *) expr, true);
	return make_ands_implicit((Expr *) expr);
}

/*
 * The default partition of parent must be scanned when a partition with
 * bound partBoundConstraint (parent's attnos) is added.  Adds the finding.
 */
static void
mg_check_default_partition(Relation parent, Oid newpartoid,
						   List *partBoundConstraint, MGAnalysis *analysis)
{
	Oid			defaultoid;
	Relation	defaultrel;
	List	   *defConstraint;
	List	   *scanned = NIL;

	defaultoid = get_default_oid_from_partdesc(RelationGetPartitionDesc(parent, true));
	if (!OidIsValid(defaultoid) || defaultoid == newpartoid)
		return;

	defaultrel = mg_open_relation(defaultoid);
	if (defaultrel == NULL)
		return;
	if (partBoundConstraint == NIL)
		scanned = list_make1_oid(defaultoid);	/* bound not readable: assume the scan */
	else
	{
		defConstraint = mg_proposed_default_constraint(partBoundConstraint);
		defConstraint = map_partition_varattnos(defConstraint, 1, defaultrel, parent);
		mg_partition_scan_targets(defaultrel, defConstraint, &scanned);
	}
	mg_close_relation(defaultrel);

	if (scanned != NIL)
	{
		mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, defaultoid, false, scanned,
					   AccessExclusiveLock,
					   psprintf("The default partition \"%s\" is scanned to prove that none of its rows belongs to the new partition.",
								get_rel_name(defaultoid)),
					   pstrdup(MG_PARTITION_HINT));
	}
}

/*
 * Would ATExecAttachPartition() (and CreateInheritance(), which it calls)
 * accept attachrel as a partition of parent?  Each test is one of its
 * errors, in its order; the owner of parent was checked by the caller.
 */
static bool
mg_attach_is_valid(Relation parent, Relation attachrel)
{
	Oid			attachoid = RelationGetRelid(attachrel);
	TupleDesc	attdesc = RelationGetDescr(attachrel);
	TupleDesc	pardesc = RelationGetDescr(parent);
	char		ppers = parent->rd_rel->relpersistence;
	char		apers = attachrel->rd_rel->relpersistence;
	int			i;

	if ((attachrel->rd_rel->relkind != RELKIND_RELATION &&
		 attachrel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE &&
		 attachrel->rd_rel->relkind != RELKIND_FOREIGN_TABLE) ||
		!mg_relation_ownercheck(attachoid, GetUserId()))
		return false;
	if (attachrel->rd_rel->relispartition ||
		OidIsValid(attachrel->rd_rel->reloftype))
		return false;			/* "cannot attach a typed table as partition" */
	if (has_superclass(attachoid) ||
		(attachrel->rd_rel->relkind == RELKIND_RELATION &&
		 find_inheritance_children(attachoid, NoLock) != NIL))
		return false;			/* inheritance child or parent */
	if (list_member_oid(find_all_inheritors(attachoid, NoLock, NULL),
						RelationGetRelid(parent)))
		return false;			/* "circular inheritance not allowed" */
	if ((ppers != RELPERSISTENCE_TEMP && apers == RELPERSISTENCE_TEMP) ||
		(ppers == RELPERSISTENCE_TEMP && apers != RELPERSISTENCE_TEMP) ||
		(ppers == RELPERSISTENCE_TEMP && !parent->rd_islocaltemp) ||
		(apers == RELPERSISTENCE_TEMP && !attachrel->rd_islocaltemp))
		return false;

	/* Every column of attachrel must be in parent ... */
	for (i = 0; i < attdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(attdesc, i);

		if (att->attisdropped)
			continue;
#if MG_ATTACH_REJECTS_IDENTITY
		if (att->attidentity)
			return false;
#endif
		if (!SearchSysCacheExists2(ATTNAME, ObjectIdGetDatum(RelationGetRelid(parent)),
								   CStringGetDatum(NameStr(att->attname))))
			return false;		/* "... contains column ... not found in parent" */
	}
	if (FindTriggerIncompatibleWithInheritance(attachrel->trigdesc) != NULL)
		return false;

	/*
	 * ... and every column of parent in attachrel, alike
	 * (MergeAttributesIntoExisting(): "child table is missing column", "...
	 * has different type for column", ...).  This also guarantees that
	 * map_partition_varattnos() below cannot fail.
	 */
	for (i = 0; i < pardesc->natts; i++)
	{
		Form_pg_attribute patt = TupleDescAttr(pardesc, i);
		HeapTuple	tp;
		Form_pg_attribute catt;
		bool		ok;

		if (patt->attisdropped)
			continue;
		tp = SearchSysCacheAttName(attachoid, NameStr(patt->attname));
		if (!HeapTupleIsValid(tp))
			return false;
		catt = (Form_pg_attribute) GETSTRUCT(tp);
		ok = catt->atttypid == patt->atttypid &&
			catt->atttypmod == patt->atttypmod &&
			catt->attcollation == patt->attcollation &&
			(!patt->attnotnull || catt->attnotnull) &&
			(patt->attgenerated == '\0') == (catt->attgenerated == '\0');
		ReleaseSysCache(tp);
		if (!ok)
			return false;
	}

	/* MergeConstraintsIntoExisting(): "child table is missing constraint" */
	if (pardesc->constr != NULL)
	{
		for (i = 0; i < pardesc->constr->num_check; i++)
		{
			const char *name = pardesc->constr->check[i].ccname;
			bool		found = false;
			int			j;

			if (pardesc->constr->check[i].ccnoinherit)
				continue;
			for (j = 0; attdesc->constr != NULL && j < attdesc->constr->num_check; j++)
				if (strcmp(attdesc->constr->check[j].ccname, name) == 0)
					found = true;
			if (!found)
				return false;
		}
	}
	return true;
}

/*
 * The key column names of parent index indexoid, if it is a plain index
 * that mg_equivalent_index() can match: plain columns with their default
 * opclass and collation, no expressions, predicate or INCLUDE columns.
 * Otherwise NIL, and the caller assumes a build.
 */
static List *
mg_simple_index_columns(Oid indexoid, Oid parentoid, Oid amoid, bool *unique)
{
	HeapTuple	tp = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
	Form_pg_index idx;
	List	   *colnames = NIL;
	bool		simple;
	Datum		datum;
	oidvector  *indclass;
	oidvector  *indcollation;
	bool		isnull;
	int			i;

	if (!HeapTupleIsValid(tp))
		return NIL;
	idx = (Form_pg_index) GETSTRUCT(tp);
	*unique = idx->indisunique;
	simple = idx->indnkeyatts == idx->indnatts &&
		heap_attisnull(tp, Anum_pg_index_indexprs, NULL) &&
		heap_attisnull(tp, Anum_pg_index_indpred, NULL);
	datum = SysCacheGetAttr(INDEXRELID, tp, Anum_pg_index_indclass, &isnull);
	if (isnull)
		simple = false;
	indclass = (oidvector *) DatumGetPointer(datum);
	datum = SysCacheGetAttr(INDEXRELID, tp, Anum_pg_index_indcollation, &isnull);
	if (isnull)
		simple = false;
	indcollation = (oidvector *) DatumGetPointer(datum);
	for (i = 0; simple && i < idx->indnatts; i++)
	{
		AttrNumber	attnum = idx->indkey.values[i];
		Oid			typid;
		int32		typmod;
		Oid			collid;

		if (attnum <= 0)
		{
			simple = false;
			break;
		}
		get_atttypetypmodcoll(parentoid, attnum, &typid, &typmod, &collid);
		if (indclass->values[i] != GetDefaultOpClass(typid, amoid) ||
			indcollation->values[i] != collid)
			simple = false;
		else
			colnames = lappend(colnames, get_attname(parentoid, attnum, false));
	}
	ReleaseSysCache(tp);
	if (!simple)
	{
		list_free(colnames);
		return NIL;
	}
	return colnames;
}

/*
 * Does leaf (a plain table being attached, or one of its partitions) lack
 * an index matching parent index parentidx, so that
 * AttachPartitionEnsureIndexes() builds one under ACCESS EXCLUSIVE?  A
 * parent index that backs a constraint only takes an index that backs one.
 */
static bool
mg_attach_builds_index(Oid parentidx, Oid parentoid, Oid leaf)
{
	Oid			amoid = mg_relation_am(parentidx);
	bool		unique = false;
	List	   *colnames = mg_simple_index_columns(parentidx, parentoid, amoid,
												   &unique);
	Oid			match;

	if (colnames == NIL)
		return true;
	match = mg_equivalent_index(leaf, unique, amoid, colnames);
	if (!OidIsValid(match))
		return true;
	return OidIsValid(get_index_constraint(parentidx)) &&
		!OidIsValid(get_index_constraint(match));
}

/*
 * The tables that attaching attachrel builds an index on: each plain table
 * among attachrel and its partitions that lacks an equivalent of some index
 * of parent.  A foreign table gets no index (PostgreSQL rejects a unique
 * one).
 */
static List *
mg_attach_index_builds(Relation parent, Relation attachrel)
{
	List	   *parentidx;
	List	   *leaves;
	List	   *built = NIL;
	ListCell   *lc;

	if (attachrel->rd_rel->relkind == RELKIND_FOREIGN_TABLE)
		return NIL;
	parentidx = RelationGetIndexList(parent);
	if (parentidx == NIL)
		return NIL;
	leaves = find_all_inheritors(RelationGetRelid(attachrel), NoLock, NULL);
	foreach(lc, leaves)
	{
		Oid			leaf = lfirst_oid(lc);
		ListCell   *lci;

		if (get_rel_relkind(leaf) != RELKIND_RELATION)
			continue;
		foreach(lci, parentidx)
		{
			if (mg_attach_builds_index(lfirst_oid(lci), RelationGetRelid(parent),
									   leaf))
			{
				built = lappend_oid(built, leaf);
				break;
			}
		}
	}
	list_free(parentidx);
	return built;
}

/*
 * ALTER TABLE parent ATTACH PARTITION child FOR VALUES ...
 */
void
mg_rule_attach_partition(Relation parent, PartitionCmd *cmd,
						 MGAnalysis *analysis)
{
	Oid			partoid;
	Relation	attachrel;
	PartitionBoundSpec *bound;
	MGBound		readable;
	List	   *partBoundConstraint = NIL;
	List	   *partConstraint;
	List	   *scanned = NIL;
	List	   *built = NIL;
	bool		valid;

	if (parent->rd_rel->relkind != RELKIND_PARTITIONED_TABLE || cmd->bound == NULL)
		return;					/* PostgreSQL reports it */
	partoid = mg_lookup_relation(cmd->name);
	if (!OidIsValid(partoid))
		return;

	readable = mg_transform_bound(parent, cmd->bound, &bound);
	if (readable == MG_BOUND_INVALID)
		return;
	if (readable == MG_BOUND_OK && !mg_new_bound_is_valid(parent, bound))
		return;

	attachrel = mg_open_relation(partoid);
	if (attachrel == NULL)
		return;
	valid = mg_attach_is_valid(parent, attachrel);
	if (valid && readable == MG_BOUND_OK)
	{
		partBoundConstraint = mg_get_qual_from_partbound(parent, bound);
		partConstraint = list_concat_copy(partBoundConstraint,
										  RelationGetPartitionQual(parent));
		if (partConstraint != NIL)
		{
			partConstraint = map_partition_varattnos(partConstraint, 1,
													 attachrel, parent);
			mg_partition_scan_targets(attachrel, partConstraint, &scanned);
		}
	}
	else if (valid && (attachrel->rd_rel->relkind == RELKIND_RELATION ||
					   attachrel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE))
	{
		/*
		 * The bound is an expression PostgreSQL evaluates: without its value
		 * no CHECK constraint can be shown to imply it, so predict the scan,
		 * as PostgreSQL does unless such a constraint exists.
		 */
		if (attachrel->rd_rel->relkind == RELKIND_RELATION)
			scanned = list_make1_oid(partoid);
		else
			scanned = find_all_inheritors(partoid, NoLock, NULL);
	}
	if (valid)
		built = mg_attach_index_builds(parent, attachrel);
	if (valid)
		mg_rule_attach_foreign_keys(parent, attachrel, analysis);
	mg_close_relation(attachrel);
	if (!valid)
		return;

	if (scanned != NIL)
	{
		mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, partoid, false, scanned,
					   AccessExclusiveLock,
					   psprintf("Attaching \"%s\" scans it to prove that every row satisfies the partition bound, because no valid CHECK constraint implies it.",
								get_rel_name(partoid)),
					   pstrdup(MG_PARTITION_HINT));
	}
	if (built != NIL)
		mg_add_finding(analysis, MG_RULE_BLOCKING_INDEX_BUILD, partoid, false,
					   built, AccessExclusiveLock,
					   psprintf("Attaching \"%s\" builds the partitioned table's indexes that it has no equivalent of.",
								get_rel_name(partoid)),
					   pstrdup(MG_ATTACH_INDEX_HINT));

	if (!bound->is_default)
		mg_check_default_partition(parent, partoid, partBoundConstraint, analysis);
}

/*
 * CREATE TABLE ... PARTITION OF parent: only the default partition's scan
 * is work on existing data.  The statement must pass DefineRelation()'s and
 * MergeAttributes()'s checks first.
 */
void
mg_rules_create_partition(CreateStmt *stmt, MGAnalysis *analysis)
{
	Oid			parentoid;
	Relation	parent;
	PartitionBoundSpec *bound;
	MGBound		readable;
	char		newpers = stmt->relation->relpersistence;
	char		ppers;

	if (stmt->partbound == NULL || stmt->partbound->is_default ||
		list_length(stmt->inhRelations) != 1)
		return;
	if (OidIsValid(mg_lookup_relation(stmt->relation)))
		return;					/* "already exists", or IF NOT EXISTS skips */
	if (stmt->relation->schemaname != NULL &&
		strcmp(stmt->relation->schemaname, "pg_temp") == 0)
		newpers = RELPERSISTENCE_TEMP;
	parentoid = mg_lookup_relation(linitial_node(RangeVar, stmt->inhRelations));
	if (!OidIsValid(parentoid))
		return;
	parent = mg_open_relation(parentoid);
	if (parent == NULL)
		return;
	ppers = parent->rd_rel->relpersistence;
	if (parent->rd_rel->relkind == RELKIND_PARTITIONED_TABLE &&
		mg_relation_ownercheck(parentoid, GetUserId()) &&
		!(ppers != RELPERSISTENCE_TEMP && newpers == RELPERSISTENCE_TEMP) &&
		!(ppers == RELPERSISTENCE_TEMP && newpers != RELPERSISTENCE_TEMP) &&
		!(ppers == RELPERSISTENCE_TEMP && !parent->rd_islocaltemp))
	{
		readable = mg_transform_bound(parent, stmt->partbound, &bound);
		if (readable == MG_BOUND_OK && mg_new_bound_is_valid(parent, bound))
			mg_check_default_partition(parent, InvalidOid,
									   mg_get_qual_from_partbound(parent, bound),
									   analysis);
		else if (readable == MG_BOUND_UNKNOWN)
			mg_check_default_partition(parent, InvalidOid, NIL, analysis);
	}
	mg_close_relation(parent);
}
