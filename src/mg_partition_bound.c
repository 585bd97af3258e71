/*-------------------------------------------------------------------------
 *
 * mg_partition_bound.c
 *		Read a partition bound as transformPartitionBound() and
 *		check_new_partition_bound() would, without evaluating anything and
 *		without raising, for the partition rules.
 *
 * The bound is not transformed with transformPartitionBound(): that
 * evaluates any expression in it (a volatile function would run once here
 * and once more in PostgreSQL, and an untrusted script given to
 * migration_guard.check() would run), and it raises for every mistake in the
 * bound.  Only literals, written as such or cast to the key's own type, are
 * converted, with the key type's built-in input function and only where that
 * cannot fail (mg_input_datum()).  A bound the guard cannot read is
 * MG_BOUND_UNKNOWN, and the rules then predict the scan.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_partition_bound.c
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
MGBound
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
bool
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
