/*-------------------------------------------------------------------------
 *
 * mg_rules_column.c
 *		Rules for ALTER TABLE ... ADD COLUMN and ALTER COLUMN ... TYPE.
 *
 * Both follow PostgreSQL's own decision, judged before the statement runs
 * and without evaluating, or even parse-analysing, anything the user wrote:
 * the guard never runs a default, a USING expression or a domain's CHECK
 * (migration_guard.check() may be given an untrusted script), and it never
 * raises an error for a statement PostgreSQL would reject with its own.
 *
 * - ADD COLUMN (ATExecAddColumn): a non-volatile default is stored in the
 *   catalog as the column's "missing" value (PostgreSQL 11+) and nothing is
 *   rewritten.  A volatile default (serial's nextval() included), an
 *   identity column, a stored generated column or a domain with constraints
 *   (19: with a volatile CHECK) rewrites the table.  Volatility is read from
 *   pg_proc for every function or operator the raw expression names, and
 *   domain constraints from pg_constraint.  Inline PRIMARY KEY / UNIQUE
 *   build an index, inline CHECK is validated by a scan, and an inline
 *   FOREIGN KEY is validated by a scan only when the column gets a non-null
 *   default (transformAlterTableStmt).
 * - ALTER COLUMN TYPE (ATPrepAlterColumnType): the conversion of the column
 *   is built as PostgreSQL builds it (from the column's Var; a USING
 *   expression other than the column itself counts as a conversion), and
 *   the table is rewritten unless ATColumnChangeRequiresRewrite() would
 *   accept it (a relabeling such as varchar widening or varchar to text, a
 *   domain without constraints, timestamp <-> timestamptz when the session
 *   time zone is UTC).  When there is no rewrite, indexes on the column
 *   whose operator class or collation changes are still rebuilt
 *   (CheckIndexCompatible), and every CHECK constraint on the column is
 *   dropped and added again by ATPostAlterTypeCleanup(), which validates a
 *   validated one with a full scan of the table (measured on 15 with
 *   pg_stat_user_tables.seq_scan); a NOT VALID one is added back NOT VALID
 *   and costs nothing.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_rules_column.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/supportnodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_type.h"
#include "pgtime.h"
#include "catalog/indexing.h"
#include "catalog/pg_inherits.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "migration_guard.h"
#include "mg_compat.h"

static const char *const mg_serial_types[] = {
	"smallserial", "serial2", "serial", "serial4", "bigserial", "serial8", NULL
};

/*
 * What the guard can tell about an expression of the statement without
 * running or even parse-analysing it.  Ordered: combining two verdicts keeps
 * the larger one.
 */
typedef enum MGExprVerdict
{
	MG_EXPR_STABLE,				/* no volatile function */
	MG_EXPR_UNKNOWN,			/* cannot tell: judged like a volatile one */
	MG_EXPR_VOLATILE,			/* calls a volatile function */
	MG_EXPR_INVALID				/* PostgreSQL rejects it: leave it the error */
} MGExprVerdict;

/*
 * Is this column type one of the serial pseudo-types?  Mirrors the test in
 * transformColumnDefinition(): only an unqualified name is a serial;
 * "pg_catalog.serial" names a type that does not exist.
 */
static bool
mg_is_serial_type(const TypeName *typeName)
{
	const char *name;
	int			i;

	if (typeName == NULL || typeName->pct_type ||
		list_length(typeName->names) != 1)
		return false;
	name = strVal(linitial(typeName->names));
	for (i = 0; mg_serial_types[i] != NULL; i++)
		if (strcmp(name, mg_serial_types[i]) == 0)
			return true;
	return false;
}

/*
 * The namespace a qualified name's schema part designates, checked the way
 * LookupExplicitNamespace() does but without raising: InvalidOid if it does
 * not exist or the user lacks USAGE (PostgreSQL then reports that).  names
 * is a list of 2 or 3 String nodes; *last gets the unqualified name.
 */
static Oid
mg_lookup_qualified_namespace(List *names, const char **last)
{
	const char *schema;
	Oid			nspid;

	if (list_length(names) == 3)
	{
		if (strcmp(strVal(linitial(names)), get_database_name(MyDatabaseId)) != 0)
			return InvalidOid;
		names = list_delete_first(list_copy(names));
	}
	if (list_length(names) != 2)
		return InvalidOid;
	schema = strVal(linitial(names));
	*last = strVal(lsecond(names));
	if (strcmp(schema, "pg_temp") == 0)
		return LookupExplicitNamespace(schema, true);	/* no ACL check */
	nspid = get_namespace_oid(schema, true);
	if (OidIsValid(nspid) &&
		mg_namespace_usage_aclcheck(nspid, GetUserId()) != ACLCHECK_OK)
		return InvalidOid;
	return nspid;
}

/*
 * Type modifier of a built-in type, computed as its typmodin function would,
 * or false if the modifiers are not plain integers within the range that
 * function accepts silently (then PostgreSQL raises an error or a warning,
 * or it is not a type we know).  typenameTypeMod() is not called: it runs
 * the type's typmodin function, which raises on bad modifiers and, for a
 * user-defined type, is not ours to run.
 */
static bool
mg_builtin_typmod(Oid typid, List *typmods, int32 *typmod)
{
	int32		args[2] = {0, 0};
	int			nargs = 0;
	Oid			elemtype = get_element_type(typid);
	ListCell   *lc;

	if (OidIsValid(elemtype))
		typid = elemtype;
	foreach(lc, typmods)
	{
		A_Const    *c = (A_Const *) lfirst(lc);

		if (!IsA(c, A_Const) || c->isnull || !IsA(&c->val, Integer) || nargs >= 2)
			return false;
		args[nargs++] = intVal(&c->val);
	}
	switch (typid)
	{
		case VARCHAROID:
		case BPCHAROID:
			if (nargs != 1 || args[0] < 1 || args[0] > MaxAttrSize)
				return false;
			*typmod = VARHDRSZ + args[0];
			return true;
		case BITOID:
		case VARBITOID:
			if (nargs != 1 || args[0] < 1 || args[0] > MaxAttrSize * BITS_PER_BYTE)
				return false;
			*typmod = args[0];
			return true;
		case NUMERICOID:
			/* 15+: precision 1..1000, scale -1000..1000 */
			if (nargs < 1 || args[0] < 1 || args[0] > 1000 ||
				(nargs == 2 && (args[1] < -1000 || args[1] > 1000)))
				return false;
			*typmod = ((args[0] << 16) | ((nargs == 2 ? args[1] : 0) & 0x7ff)) + VARHDRSZ;
			return true;
		case TIMEOID:
		case TIMETZOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			/* above 6, PostgreSQL warns and reduces it */
			if (nargs != 1 || args[0] < 0 || args[0] > 6)
				return false;
			*typmod = args[0];
			return true;
		default:
			return false;
	}
}

/*
 * Are the modifiers of this type name ones PostgreSQL rejects (or, for a
 * time precision above 6, reduces with a warning)?  Only known for integer
 * modifiers of the built-in types mg_builtin_typmod() understands; for any
 * other the answer is no (we cannot tell).
 */
static bool
mg_typmods_rejected(const TypeName *typeName, Oid typid)
{
	A_Const    *one;
	int32		typmod;
	ListCell   *lc;

	if (typeName->typmods == NIL)
		return false;
	foreach(lc, typeName->typmods)
	{
		A_Const    *c = (A_Const *) lfirst(lc);

		if (!IsA(c, A_Const) || c->isnull || !IsA(&c->val, Integer))
			return false;		/* other spellings: we cannot tell */
	}
	one = makeNode(A_Const);
	one->val.ival.type = T_Integer;
	one->val.ival.ival = 1;
	one->location = -1;
	/* A modifier of 1 works: we know this type's modifiers. */
	return mg_builtin_typmod(typid, list_make1(one), &typmod) &&
		!mg_builtin_typmod(typid, typeName->typmods, &typmod);
}

/*
 * Look a type name up as typenameTypeIdAndMod() would, without raising and
 * without running code: false if PostgreSQL would reject the name (no such
 * type, a shell type, a schema or type without USAGE, bad modifiers) or if
 * the modifiers cannot be computed safely (see mg_builtin_typmod).  typmod
 * may be NULL when only the type matters.
 */
bool
mg_lookup_type(const TypeName *typeName, Oid *typid, int32 *typmod)
{
	Oid			oid;
	HeapTuple	tp;
	bool		defined;

	if (typeName == NULL || typeName->pct_type || typeName->setof)
		return false;
	if (typeName->names == NIL)
		oid = typeName->typeOid;
	else if (list_length(typeName->names) == 1)
		oid = TypenameGetTypidExtended(strVal(linitial(typeName->names)), true);
	else
	{
		const char *name = NULL;
		Oid			nspid = mg_lookup_qualified_namespace(typeName->names, &name);

		if (!OidIsValid(nspid))
			return false;
		oid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
							  PointerGetDatum(name), ObjectIdGetDatum(nspid));
	}
	if (!OidIsValid(oid))
		return false;
	if (typeName->arrayBounds != NIL)
	{
		oid = get_array_type(oid);
		if (!OidIsValid(oid))
			return false;
	}

	tp = SearchSysCache1(TYPEOID, ObjectIdGetDatum(oid));
	if (!HeapTupleIsValid(tp))
		return false;
	defined = ((Form_pg_type) GETSTRUCT(tp))->typisdefined;
	ReleaseSysCache(tp);
	if (!defined || mg_type_usage_aclcheck(oid, GetUserId()) != ACLCHECK_OK)
		return false;

	if (typmod != NULL)
	{
		if (typeName->typmods == NIL)
			*typmod = typeName->typemod;
		else if (!mg_builtin_typmod(oid, typeName->typmods, typmod))
			return false;
	}
	*typid = oid;
	return true;
}

/*
 * The volatility of the functions (or operators, oprkind != 0) named names
 * that a call with nargs arguments could resolve to, judged from pg_proc
 * alone: resolving the overload would need the argument types, hence parse
 * analysis.  If every candidate agrees the verdict is theirs; if they
 * disagree, UNKNOWN; if there is none, INVALID (PostgreSQL reports that the
 * function does not exist), except that a one-argument call of a type name
 * is a cast, judged by its argument.
 */
static MGExprVerdict
mg_candidates_volatility(List *names, int nargs, char oprkind)
{
	const char *name;
	Oid			nspid = InvalidOid;
	List	   *path = NIL;
	CatCList   *list;
	bool		any_volatile = false;
	bool		any_other = false;
	bool		all_invalid = true;
	int			i;

	if (list_length(names) == 1)
	{
		name = strVal(linitial(names));
		path = fetch_search_path(true);
	}
	else
	{
		nspid = mg_lookup_qualified_namespace(names, &name);
		if (!OidIsValid(nspid))
			return MG_EXPR_INVALID;
	}

	list = SearchSysCacheList1(oprkind ? OPERNAMENSP : PROCNAMEARGSNSP,
							   CStringGetDatum(name));
	for (i = 0; i < list->n_members; i++)
	{
		HeapTuple	tup = &list->members[i]->tuple;
		Oid			nsp;
		Oid			funcid;
		char		volatility;

		if (oprkind)
		{
			Form_pg_operator op = (Form_pg_operator) GETSTRUCT(tup);

			nsp = op->oprnamespace;
			if (op->oprkind != oprkind)
				continue;
			funcid = op->oprcode;
		}
		else
		{
			Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(tup);
			int			mandatory = proc->pronargs - proc->pronargdefaults;

			nsp = proc->pronamespace;
			if (nargs < mandatory ||
				(nargs > proc->pronargs && !OidIsValid(proc->provariadic)))
				continue;
			funcid = proc->oid;
			/* In a DEFAULT, aggregates, window and set-returning functions are errors. */
			if (proc->prokind == PROKIND_FUNCTION && !proc->proretset)
				all_invalid = false;
		}
		if (OidIsValid(nspid) ? nsp != nspid : !list_member_oid(path, nsp))
			continue;

		if (oprkind)
			all_invalid = false;
		volatility = func_volatile(funcid);
		if (volatility == PROVOLATILE_VOLATILE)
			any_volatile = true;
		else
			any_other = true;
	}
	ReleaseSysCacheList(list);

	if (!any_volatile && !any_other)
	{
		Oid			typid;
		TypeName   *tn = makeTypeNameFromNameList(names);

		if (!oprkind && nargs == 1 && mg_lookup_type(tn, &typid, NULL))
			return MG_EXPR_STABLE;
		return MG_EXPR_INVALID;
	}
	if (all_invalid)
		return MG_EXPR_INVALID;
	if (any_volatile)
		return any_other ? MG_EXPR_UNKNOWN : MG_EXPR_VOLATILE;
	return MG_EXPR_STABLE;
}

static MGExprVerdict mg_raw_expr_volatility(Node *node);

/*
 * Set while a domain CHECK expression is judged, where VALUE stands for the
 * value (replace_domain_constraint_value() in typecmds.c).
 */
static bool mg_value_is_allowed = false;

/* Is this column reference the domain's VALUE? */
static bool
mg_is_value_ref(ColumnRef *cref)
{
	return list_length(cref->fields) == 1 && IsA(linitial(cref->fields), String) &&
		strcmp(strVal(linitial(cref->fields)), "value") == 0;
}

static MGExprVerdict
mg_raw_list_volatility(List *nodes)
{
	MGExprVerdict result = MG_EXPR_STABLE;
	ListCell   *lc;

	foreach(lc, nodes)
		result = Max(result, mg_raw_expr_volatility((Node *) lfirst(lc)));
	return result;
}

/*
 * Would this raw (not parse-analysed) DEFAULT expression call a volatile
 * function?  The guard does not run transformExpr(): it raises for every
 * mistake in the expression (before PostgreSQL could report its own error),
 * and coercing a literal calls the input function of its type.  Functions
 * and operators are judged by name (mg_candidates_volatility).  Not seen
 * here: the cast functions that coercion adds, which in PostgreSQL's catalog
 * are never volatile (a user-defined volatile cast would be missed, and then
 * the rewrite detector still catches the rewrite), and the inlining of a
 * volatile SQL function whose body is not (judged volatile here; PostgreSQL
 * would store a missing value).
 */
static MGExprVerdict
mg_raw_expr_volatility(Node *node)
{
	check_stack_depth();
	if (node == NULL)
		return MG_EXPR_STABLE;

	switch (nodeTag(node))
	{
		case T_A_Const:
		case T_SQLValueFunction:
			return MG_EXPR_STABLE;
		case T_TypeCast:
			return mg_raw_expr_volatility(((TypeCast *) node)->arg);
		case T_CollateClause:
			return mg_raw_expr_volatility(((CollateClause *) node)->arg);
		case T_NamedArgExpr:
			return mg_raw_expr_volatility((Node *) ((NamedArgExpr *) node)->arg);
		case T_FuncCall:
			{
				FuncCall   *fc = (FuncCall *) node;

				if (fc->agg_star || fc->agg_distinct || fc->agg_order != NIL ||
					fc->agg_filter != NULL || fc->over != NULL)
					return MG_EXPR_INVALID;
				return Max(mg_candidates_volatility(fc->funcname,
													list_length(fc->args), 0),
						   mg_raw_list_volatility(fc->args));
			}
		case T_A_Expr:
			{
				A_Expr	   *a = (A_Expr *) node;
				MGExprVerdict result;

				result = Max(mg_raw_expr_volatility(a->lexpr),
							 mg_raw_expr_volatility(a->rexpr));
				if (a->kind == AEXPR_OP || a->kind == AEXPR_OP_ANY ||
					a->kind == AEXPR_OP_ALL)
					result = Max(result,
								 mg_candidates_volatility(a->name, 0,
														  a->lexpr ? 'b' : 'l'));
				/* The other kinds use the built-in comparison operators. */
				return result;
			}
		case T_List:			/* IN (...) and BETWEEN operands */
			return mg_raw_list_volatility((List *) node);
		case T_BoolExpr:
			return mg_raw_list_volatility(((BoolExpr *) node)->args);
		case T_NullTest:
			return mg_raw_expr_volatility((Node *) ((NullTest *) node)->arg);
		case T_BooleanTest:
			return mg_raw_expr_volatility((Node *) ((BooleanTest *) node)->arg);
		case T_CoalesceExpr:
			return mg_raw_list_volatility(((CoalesceExpr *) node)->args);
		case T_MinMaxExpr:
			return mg_raw_list_volatility(((MinMaxExpr *) node)->args);
		case T_RowExpr:
			return mg_raw_list_volatility(((RowExpr *) node)->args);
		case T_A_ArrayExpr:
			return mg_raw_list_volatility(((A_ArrayExpr *) node)->elements);
		case T_CaseExpr:
			{
				CaseExpr   *c = (CaseExpr *) node;
				MGExprVerdict result;
				ListCell   *lc;

				result = Max(mg_raw_expr_volatility((Node *) c->arg),
							 mg_raw_expr_volatility((Node *) c->defresult));
				foreach(lc, c->args)
				{
					CaseWhen   *w = lfirst_node(CaseWhen, lc);

					result = Max(result, mg_raw_expr_volatility((Node *) w->expr));
					result = Max(result, mg_raw_expr_volatility((Node *) w->result));
				}
				return result;
			}
		case T_ColumnRef:		/* no column references in a DEFAULT */
			if (mg_value_is_allowed && mg_is_value_ref((ColumnRef *) node))
				return MG_EXPR_STABLE;
			return MG_EXPR_INVALID;
		case T_ParamRef:
		case T_SubLink:			/* no subqueries either */
		case T_GroupingFunc:
			return MG_EXPR_INVALID;
		default:
			return MG_EXPR_UNKNOWN;
	}
}

/*
 * Would PostgreSQL reject this raw CHECK expression of ALTER DOMAIN ... ADD
 * CONSTRAINT when it parse-analyses it (a function or operator that does
 * not exist, a column reference other than VALUE, a subquery, an
 * aggregate)?  Judged by mg_raw_expr_volatility(), without running or
 * analysing anything; what it cannot tell is taken as accepted.
 */
bool
mg_domain_check_rejected(Node *raw_expr)
{
	MGExprVerdict verdict;

	mg_value_is_allowed = true;
	PG_TRY();
	{
		verdict = mg_raw_expr_volatility(raw_expr);
	}
	PG_FINALLY();
	{
		mg_value_is_allowed = false;
	}
	PG_END_TRY();
	return verdict == MG_EXPR_INVALID;
}

/*
 * What the catalog says of a domain's constraints (DomainHasConstraints()
 * without the type cache, whose loading plans the CHECK expressions and so
 * folds their immutable functions): any CHECK or NOT NULL on the domain or
 * the domains it is based on; whether a CHECK calls a volatile function;
 * whether NOT NULL is among them.  False if typid is not a domain.
 */
static bool
mg_domain_constraints(Oid typid, bool *has_volatile, bool *has_not_null)
{
	bool		found = false;
	Relation	conrel = NULL;

	*has_volatile = false;
	*has_not_null = false;
	for (;;)
	{
		HeapTuple	tp = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
		Form_pg_type typ;
		Oid			domainoid = typid;
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	contup;

		if (!HeapTupleIsValid(tp))
			break;
		typ = (Form_pg_type) GETSTRUCT(tp);
		if (typ->typtype != TYPTYPE_DOMAIN)
		{
			ReleaseSysCache(tp);
			break;
		}
		if (typ->typnotnull)
			found = *has_not_null = true;
		typid = typ->typbasetype;
		ReleaseSysCache(tp);

		if (conrel == NULL)
			conrel = table_open(ConstraintRelationId, AccessShareLock);
		ScanKeyInit(&key, Anum_pg_constraint_contypid, BTEqualStrategyNumber,
					F_OIDEQ, ObjectIdGetDatum(domainoid));
		scan = systable_beginscan(conrel, ConstraintTypidIndexId, true, NULL, 1, &key);
		while (HeapTupleIsValid(contup = systable_getnext(scan)))
		{
			Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(contup);
			bool		isnull;
			Datum		bin;

			found = true;
			if (con->contype != CONSTRAINT_CHECK)
				continue;		/* NOT NULL (17+ also lists it here) */
			bin = heap_getattr(contup, Anum_pg_constraint_conbin,
							   RelationGetDescr(conrel), &isnull);
			if (!isnull &&
				contain_volatile_functions(stringToNode(TextDatumGetCString(bin))))
				*has_volatile = true;
		}
		systable_endscan(scan);
	}
	if (conrel != NULL)
		table_close(conrel, AccessShareLock);
	return found;
}

/*
 * The type's own default, as build_column_default() would take it when the
 * column has none (get_typdefault() without converting a base type's text
 * default, which would call its input function).  *has_default says whether
 * there is one; the result is its volatility.
 */
static MGExprVerdict
mg_type_default_volatility(Oid typid, bool *has_default)
{
	HeapTuple	tp = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	MGExprVerdict result = MG_EXPR_STABLE;
	bool		isnull;
	Datum		d;

	*has_default = false;
	if (!HeapTupleIsValid(tp))
		return result;
	d = SysCacheGetAttr(TYPEOID, tp, Anum_pg_type_typdefaultbin, &isnull);
	if (!isnull)
	{
		*has_default = true;
		if (contain_volatile_functions(stringToNode(TextDatumGetCString(d))))
			result = MG_EXPR_VOLATILE;
	}
	else
	{
		(void) SysCacheGetAttr(TYPEOID, tp, Anum_pg_type_typdefault, &isnull);
		*has_default = !isnull;		/* a constant */
	}
	ReleaseSysCache(tp);
	return result;
}

/*
 * Does a new column get a default in transformColumnDefinition()'s sense: an
 * explicit DEFAULT, or serial's nextval()?
 */
bool
mg_column_def_has_default(ColumnDef *def)
{
	ListCell   *lc;

	if (def->raw_default != NULL || mg_is_serial_type(def->typeName))
		return true;
	foreach(lc, def->constraints)
		if (lfirst_node(Constraint, lc)->contype == CONSTR_DEFAULT)
			return true;
	return false;
}

/*
 * Why ADD COLUMN of a plain (not serial, identity or generated) column
 * rewrites the table, or NULL if it does not (ATExecAddColumn): a volatile
 * default, or a domain with constraints (15-18: always; 19: if a CHECK is
 * volatile, or if the default fails them, which is assumed not to happen
 * except for NULL in a NOT NULL domain, when PostgreSQL itself then fails
 * on the first row).  *invalid is set if PostgreSQL rejects the column.
 */
static char *
mg_add_column_rewrite_reason(ColumnDef *def, Node *raw_default, bool *invalid)
{
	Oid			typid;
	MGExprVerdict verdict;
	bool		has_default = raw_default != NULL;
	bool		domain_volatile;
	bool		domain_not_null;
	bool		domain_constrained;

	*invalid = false;
	if (!mg_lookup_type(def->typeName, &typid, NULL) ||
		mg_typmods_rejected(def->typeName, typid))
	{
		*invalid = true;		/* PostgreSQL reports the type */
		return NULL;
	}
	if (has_default)
		verdict = mg_raw_expr_volatility(raw_default);
	else
		verdict = mg_type_default_volatility(typid, &has_default);
	if (verdict == MG_EXPR_INVALID)
	{
		*invalid = true;
		return NULL;
	}

	domain_constrained = mg_domain_constraints(typid, &domain_volatile,
											   &domain_not_null);
	if (domain_constrained)
	{
#if MG_DOMAIN_FAST_DEFAULT
		if (!has_default && domain_not_null && !domain_volatile)
		{
			*invalid = true;	/* NULL fails: any row raises the error */
			return NULL;
		}
		if (domain_volatile)
#endif
			return psprintf("Adding column \"%s\" of domain type %s, which has constraints, checks them for every row, which rewrites the table.",
							def->colname, format_type_be(typid));
	}

	if (verdict == MG_EXPR_VOLATILE)
		return psprintf("Adding column \"%s\" with a volatile default evaluates the default for every row, which rewrites the table.",
						def->colname);
	if (verdict == MG_EXPR_UNKNOWN)
		return psprintf("Adding column \"%s\" with a default that may call a volatile function (it is judged without running it) evaluates the default for every row, which rewrites the table.",
						def->colname);
	return NULL;
}

/* Does the column definition carry a constraint of this type? */
static bool
mg_has_constraint_of(ColumnDef *def, ConstrType contype)
{
	ListCell   *lc;

	foreach(lc, def->constraints)
		if (lfirst_node(Constraint, lc)->contype == contype)
			return true;
	return false;
}

/*
 * ALTER TABLE ... ADD COLUMN.  fk_validated says whether inline foreign keys
 * are validated: transformAlterTableStmt() skips that when no new column of
 * the statement has a default and it adds no table-level foreign key.
 */
void
mg_rule_add_column(Relation rel, ColumnDef *def, LOCKMODE lockmode,
				   bool recurse, bool fk_validated, MGAnalysis *analysis)
{
	Oid			relid = RelationGetRelid(rel);
	char		relkind = rel->rd_rel->relkind;
	Node	   *raw_default = def->raw_default;
	bool		identity = def->identity != '\0';
	bool		generated_stored = def->generated == ATTRIBUTE_GENERATED_STORED;
	bool		generated_virtual = false;
	bool		not_null = def->is_not_null;
	bool		serial = mg_is_serial_type(def->typeName);
	List	   *checks = NIL;
	List	   *foreign = NIL;
	List	   *fkrelids = NIL;
	bool		has_index = false;
	bool		invalid = false;
	char	   *reason = NULL;
	ListCell   *lc;

	/* Only tables have rows; ADD COLUMN IF NOT EXISTS on a present column is a no-op. */
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		return;
	if (get_attnum(relid, def->colname) != InvalidAttrNumber)
		return;

	foreach(lc, def->constraints)
	{
		Constraint *con = lfirst_node(Constraint, lc);

		/* "CHECK (...) NOT ENFORCED" (18+): the CHECK just added is not checked. */
		if (MG_CONSTR_IS_ATTR_NOT_ENFORCED(con))
		{
			Constraint *prev = foreach_current_index(lc) > 0 ?
				list_nth_node(Constraint, def->constraints, foreach_current_index(lc) - 1) : NULL;

			if (prev != NULL && prev->contype == CONSTR_CHECK)
				checks = list_delete_ptr(checks, prev);
			if (prev != NULL && prev->contype == CONSTR_FOREIGN)
				foreign = list_delete_ptr(foreign, prev);
			continue;
		}

		switch (con->contype)
		{
			case CONSTR_DEFAULT:
				raw_default = con->raw_expr;
				break;
			case CONSTR_IDENTITY:
				identity = true;
				break;
			case CONSTR_GENERATED:
				if (!MG_GENERATED_IS_VIRTUAL(con))
					generated_stored = true;
				else
					generated_virtual = true;
				break;
			case CONSTR_NOTNULL:
				not_null = true;
				break;
			case CONSTR_PRIMARY:
			case CONSTR_UNIQUE:
			case CONSTR_EXCLUSION:
				has_index = true;
				break;
			case CONSTR_CHECK:
				if (!con->skip_validation && MG_CONSTRAINT_IS_ENFORCED(con))
					checks = lappend(checks, con);
				break;
			case CONSTR_FOREIGN:
				if (!con->skip_validation && MG_CONSTRAINT_IS_ENFORCED(con))
					foreign = lappend(foreign, con);
				break;
			default:
				break;
		}
	}

	/*
	 * transformColumnDefinition() rejects an array of serial, serial's own
	 * default then conflicts with any other (a DEFAULT, identity, generation
	 * expression), and the integer types take no modifier.
	 */
	if (serial &&
		(def->typeName->arrayBounds != NIL || def->typeName->typmods != NIL ||
		 raw_default != NULL || identity || def->generated != '\0' ||
		 mg_has_constraint_of(def, CONSTR_GENERATED)))
		return;

	if (serial)
		reason = psprintf("Adding serial column \"%s\" fills it with nextval() for every row, which rewrites the table.",
						  def->colname);
	else if (identity)
		reason = psprintf("Adding identity column \"%s\" fills it for every row, which rewrites the table.",
						  def->colname);
	else if (generated_stored)
		reason = psprintf("Adding stored generated column \"%s\" computes it for every row, which rewrites the table.",
						  def->colname);
	else
	{
		reason = mg_add_column_rewrite_reason(def, raw_default, &invalid);
		if (invalid)
			return;				/* PostgreSQL rejects the column */
	}

	if (reason != NULL)
		mg_add_finding(analysis, MG_RULE_TABLE_REWRITE, relid, recurse, NIL, lockmode,
					   reason,
					   pstrdup("Add the column without a default (or with a constant one), backfill it in batches, then set the default with ALTER TABLE ... ALTER COLUMN ... SET DEFAULT.  For an identifier, fill it from a sequence the same way."));

	if (has_index)
		mg_add_finding(analysis, MG_RULE_BLOCKING_INDEX_BUILD, relid, recurse, NIL,
					   lockmode,
					   psprintf("Adding column \"%s\" with a PRIMARY KEY or UNIQUE constraint builds an index over the whole table.",
								def->colname),
					   pstrdup("Add the column first, build the index with CREATE UNIQUE INDEX CONCURRENTLY, then add the constraint with ALTER TABLE ... ADD CONSTRAINT ... USING INDEX."));

	/*
	 * A virtual generated column has no stored value to prove NOT NULL
	 * with: phase 3 computes it for every row (verify_new_notnull, 18+).
	 */
	if (generated_virtual && not_null)
		mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, relid, recurse, NIL,
					   lockmode,
					   psprintf("Adding virtual generated column \"%s\" with NOT NULL computes it for every row to check it.",
								def->colname),
					   pstrdup("Add the column without NOT NULL, then ALTER TABLE ... ADD CONSTRAINT ... CHECK (column IS NOT NULL) NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT, which does not block writes."));

	if (checks != NIL)
		mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, relid, recurse, NIL,
					   lockmode,
					   psprintf("Adding column \"%s\" with a CHECK constraint checks every row.",
								def->colname),
					   pstrdup("Add the column first, then ALTER TABLE ... ADD CONSTRAINT ... CHECK (...) NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT, which does not block writes."));

	foreach(lc, foreign)
		fkrelids = list_concat_unique_oid(fkrelids,
										  mg_fk_checked_relations(relid, recurse,
																  mg_lookup_relation(((Constraint *) lfirst(lc))->pktable)));
	if (foreign != NIL && fk_validated)
		mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, relid, recurse, fkrelids,
					   Max(lockmode, ShareRowExclusiveLock),
					   psprintf("Adding column \"%s\" with a default and a FOREIGN KEY checks every row against the referenced table, with a join that can read both in full; the size given is that of both.",
								def->colname),
					   pstrdup("Add the column, then ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT, which does not block writes."));
}

/*
 * A length coercion (varchar(n), numeric(p,s), timestamp(p), ...) that its
 * planner support function proves to be a no-op becomes a RelabelType, as
 * eval_const_expressions() would make it through simplify_function().  Only
 * the support functions of built-in functions are called: they inspect the
 * expression, they never evaluate it.  Anything else is returned unchanged.
 */
static Node *
mg_simplify_length_coercion(FuncExpr *f)
{
	SupportRequestSimplify req;
	Oid			prosupport;
	Node	   *newexpr;

	if (f->funcid >= FirstGenbkiObjectId)
		return (Node *) f;
	prosupport = get_func_support(f->funcid);
	if (!OidIsValid(prosupport) || prosupport >= FirstGenbkiObjectId)
		return (Node *) f;
	req.type = T_SupportRequestSimplify;
	req.root = NULL;
	req.fcall = f;
	newexpr = (Node *) DatumGetPointer(OidFunctionCall1(prosupport,
														PointerGetDatum(&req)));
	return newexpr ? newexpr : (Node *) f;
}

/*
 * ATColumnChangeRequiresRewrite(), which is static in tablecmds.c: can the
 * conversion expression be applied without touching the data?  PostgreSQL
 * plans the expression first; the only planning step that matters here,
 * turning a no-op length coercion into a relabeling, is done by
 * mg_simplify_length_coercion(), without evaluating anything.
 */
static bool
mg_column_change_requires_rewrite(Node *expr, AttrNumber varattno)
{
	for (;;)
	{
		if (IsA(expr, Var) && ((Var *) expr)->varattno == varattno)
			return false;
		else if (IsA(expr, RelabelType))
			expr = (Node *) ((RelabelType *) expr)->arg;
		else if (IsA(expr, CoerceToDomain))
		{
			CoerceToDomain *d = (CoerceToDomain *) expr;
			bool		has_volatile;
			bool		has_not_null;

			if (mg_domain_constraints(d->resulttype, &has_volatile, &has_not_null))
				return true;
			expr = (Node *) d->arg;
		}
		else if (IsA(expr, FuncExpr))
		{
			FuncExpr   *f = (FuncExpr *) expr;
			Node	   *simplified;

			if ((f->funcid == F_TIMESTAMPTZ_TIMESTAMP ||
				 f->funcid == F_TIMESTAMP_TIMESTAMPTZ) &&
				!TimestampTimestampTzRequiresRewrite())
			{
				expr = linitial(f->args);
				continue;
			}
			simplified = mg_simplify_length_coercion(f);
			if (simplified == expr)
				return true;
			expr = simplified;
		}
		else
			return true;
	}
}

/*
 * The conversion ALTER COLUMN ... TYPE applies, built as
 * ATPrepAlterColumnType() builds it but from the column's Var only: the
 * USING expression is not parse-analysed (see mg_raw_expr_volatility()).
 * USING that just names the column, possibly cast to the target type, is
 * the same conversion; any other USING computes new values, so it is
 * reported as a rewrite (NULL), which is what PostgreSQL does unless the
 * expression reduces to the column itself.
 */
static Node *
mg_column_conversion(Node *using, const char *colname, Var *var,
					 Oid targettype, int32 targettypmod)
{
	CoercionContext ccontext = COERCION_ASSIGNMENT;
	Node	   *expr = (Node *) var;

	if (using != NULL && IsA(using, TypeCast))
	{
		TypeCast   *tc = (TypeCast *) using;
		Oid			casttype;
		int32		casttypmod;

		if (!mg_lookup_type(tc->typeName, &casttype, &casttypmod) ||
			casttype != targettype || casttypmod != targettypmod)
			return NULL;
		using = tc->arg;
		ccontext = COERCION_EXPLICIT;
	}
	if (using != NULL)
	{
		ColumnRef  *cref = (ColumnRef *) using;

		if (!IsA(using, ColumnRef) || list_length(cref->fields) != 1 ||
			!IsA(linitial(cref->fields), String) ||
			strcmp(strVal(linitial(cref->fields)), colname) != 0)
			return NULL;
	}
	return coerce_to_target_type(NULL, expr, var->vartype,
								 targettype, targettypmod, ccontext,
								 COERCE_IMPLICIT_CAST, -1);
}

/*
 * Does an index that depends on the column survive a type change without a
 * rebuild?  CheckIndexCompatible() in indexcmds.c keeps an index only when it
 * has no expressions or predicate, is valid, and its operator classes and
 * collations come out the same for the new type.  The re-created index keeps
 * an operator class or collation that was given explicitly and takes the new
 * type's defaults otherwise, as pg_get_indexdef() prints it.
 */
static bool
mg_index_survives_type_change(Oid indexoid, AttrNumber attnum,
							  Oid oldtype, Oid oldcoll,
							  Oid newtype, Oid newcoll, bool *uses_column)
{
	HeapTuple	tp;
	Form_pg_index idx;
	Oid			amoid;
	bool		isnull;
	oidvector  *indclass;
	oidvector  *indcoll;
	bool		survives = true;
	int			i;

	*uses_column = false;
	tp = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
	if (!HeapTupleIsValid(tp))
		return true;
	idx = (Form_pg_index) GETSTRUCT(tp);

	/* Expressions and predicates: does any of them use the column? */
	if (!heap_attisnull(tp, Anum_pg_index_indexprs, NULL) ||
		!heap_attisnull(tp, Anum_pg_index_indpred, NULL))
	{
		Bitmapset  *attrs = NULL;
		int			anum;

		for (anum = Anum_pg_index_indexprs; anum <= Anum_pg_index_indpred; anum++)
		{
			Datum		d = SysCacheGetAttr(INDEXRELID, tp, anum, &isnull);

			if (!isnull)
				pull_varattnos(stringToNode(TextDatumGetCString(d)), 1, &attrs);
		}
		if (bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, attrs))
		{
			*uses_column = true;
			survives = false;
		}
	}

	indclass = (oidvector *) DatumGetPointer(SysCacheGetAttr(INDEXRELID, tp,
															 Anum_pg_index_indclass,
															 &isnull));
	indcoll = (oidvector *) DatumGetPointer(SysCacheGetAttr(INDEXRELID, tp,
															Anum_pg_index_indcollation,
															&isnull));
	amoid = mg_relation_am(indexoid);

	for (i = 0; i < idx->indnkeyatts; i++)
	{
		Oid			opclass = indclass->values[i];
		Oid			newopclass;
		Oid			coll = indcoll->values[i];
		Oid			newidxcoll;

		if (idx->indkey.values[i] != attnum)
			continue;
		*uses_column = true;

		if (opclass == GetDefaultOpClass(oldtype, amoid))
			newopclass = GetDefaultOpClass(newtype, amoid);
		else
			newopclass = opclass;
		newidxcoll = (coll == oldcoll) ? newcoll : coll;

		if (newopclass != opclass || newidxcoll != coll ||
			(IsPolymorphicType(get_opclass_input_type(opclass)) && oldtype != newtype))
			survives = false;
	}
	/* Included (non-key) columns are just stored: they follow the type. */
	for (; i < idx->indnatts; i++)
		if (idx->indkey.values[i] == attnum)
			*uses_column = true;

	if (*uses_column && !idx->indisvalid)
		survives = false;
	ReleaseSysCache(tp);
	return survives;
}

/*
 * The collation the column gets (GetColumnDefCollation() without raising):
 * false if the COLLATE clause cannot be resolved safely.
 */
static bool
mg_column_def_collation(ColumnDef *def, Oid typid, Oid *collid)
{
	List	   *names;

	*collid = get_typcollation(typid);
	if (def->collClause == NULL)
		return true;
	names = def->collClause->collname;
	if (list_length(names) != 1 || !OidIsValid(*collid))
		return false;
	*collid = get_collation_oid(names, true);
	return OidIsValid(*collid);
}

/*
 * Has relation relid a validated CHECK constraint that uses column colname?
 * Such a constraint is re-added, and so validated again by a scan, when the
 * column's type changes (pg_get_constraintdef_command() keeps NOT VALID, so
 * a constraint that is not validated is not scanned).
 */
static bool
mg_column_has_check(Oid relid, const char *colname)
{
	AttrNumber	attnum = get_attnum(relid, colname);
	Relation	conrel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	if (attnum <= 0)
		return false;
	conrel = table_open(ConstraintRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_constraint_conrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(conrel, ConstraintRelidTypidNameIndexId, true,
							  NULL, 1, &key);
	while (!found && HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tup);
		Datum		datum;
		bool		isnull;
		ArrayType  *arr;
		int16	   *keys;
		int			n;
		int			i;

		if (con->contype != CONSTRAINT_CHECK || !con->convalidated)
			continue;
		datum = heap_getattr(tup, Anum_pg_constraint_conkey,
							 RelationGetDescr(conrel), &isnull);
		if (isnull)
			continue;
		arr = DatumGetArrayTypeP(datum);
		if (ARR_NDIM(arr) != 1 || ARR_HASNULL(arr) || ARR_ELEMTYPE(arr) != INT2OID)
			continue;
		n = ARR_DIMS(arr)[0];
		keys = (int16 *) ARR_DATA_PTR(arr);
		for (i = 0; i < n; i++)
			if (keys[i] == attnum)
				found = true;
	}
	systable_endscan(scan);
	table_close(conrel, AccessShareLock);
	return found;
}

/*
 * The tables (rel, and its partitions or children if recurse) whose CHECK
 * constraints on column colname a type change without rewrite validates.
 */
static List *
mg_tables_rechecked(Relation rel, const char *colname, bool recurse)
{
	List	   *relids;
	List	   *result = NIL;
	ListCell   *lc;

	if (recurse)
		relids = find_all_inheritors(RelationGetRelid(rel), NoLock, NULL);
	else
		relids = list_make1_oid(RelationGetRelid(rel));
	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);

		if (get_rel_relkind(relid) == RELKIND_RELATION &&
			mg_column_has_check(relid, colname))
			result = lappend_oid(result, relid);
	}
	return result;
}

/*
 * ALTER TABLE ... ALTER COLUMN ... TYPE.
 */
void
mg_rule_alter_column_type(Relation rel, AlterTableCmd *cmd, LOCKMODE lockmode,
						  bool recurse, MGAnalysis *analysis)
{
	Oid			relid = RelationGetRelid(rel);
	ColumnDef  *def = castNode(ColumnDef, cmd->def);
	HeapTuple	tp;
	Form_pg_attribute att;
	bool		virtual;
	AttrNumber	attnum;
	Oid			oldtype;
	Oid			oldcoll;
	Oid			targettype;
	int32		targettypmod;
	Oid			targetcoll;
	Var		   *var;
	Node	   *transform;
	List	   *indexes;
	List	   *rechecked;
	ListCell   *lc;

	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		return;

	tp = SearchSysCacheAttName(relid, cmd->name);
	if (!HeapTupleIsValid(tp))
		return;					/* PostgreSQL reports the missing column */
	att = (Form_pg_attribute) GETSTRUCT(tp);
	attnum = att->attnum;
	virtual = MG_ATTRIBUTE_IS_VIRTUAL(att);
	oldtype = att->atttypid;
	oldcoll = att->attcollation;
	var = makeVar(1, attnum, att->atttypid, att->atttypmod, att->attcollation, 0);
	ReleaseSysCache(tp);
	if (attnum <= 0)
		return;					/* system column: PostgreSQL rejects it */

	if (!mg_lookup_type(def->typeName, &targettype, NULL) ||
		get_typtype(targettype) == TYPTYPE_PSEUDO)
		return;					/* PostgreSQL reports the type */
	if (mg_typmods_rejected(def->typeName, targettype))
		return;					/* PostgreSQL rejects the modifiers */
	targettypmod = -1;
	if (!mg_lookup_type(def->typeName, &targettype, &targettypmod))
		transform = NULL;		/* modifiers we cannot compute: a rewrite */
	else
		transform = mg_column_conversion(def->raw_default, cmd->name, var,
										 targettype, targettypmod);

	if (transform == NULL && def->raw_default == NULL &&
		!can_coerce_type(1, &oldtype, &targettype, COERCION_ASSIGNMENT))
		return;					/* PostgreSQL reports the impossible cast */

	/* A virtual generated column has no stored data to convert (18+). */
	if (!virtual &&
		(transform == NULL || mg_column_change_requires_rewrite(transform, attnum)))
	{
		mg_add_finding(analysis, MG_RULE_TABLE_REWRITE, relid, recurse, NIL, lockmode,
					   psprintf("Changing the type of column \"%s\" from %s to %s converts every row, which rewrites the table and rebuilds its indexes.",
								cmd->name, format_type_be(oldtype),
								format_type_with_typemod(targettype, targettypmod)),
					   pstrdup("Add a new column of the new type, keep both in sync with a trigger, backfill it in batches, then swap the columns in one short transaction.  Changes that only relabel the data (varchar(n) to a larger n or to text, numeric to a larger precision at the same scale) do not rewrite."));
		mg_rule_alter_type_foreign_keys(rel, attnum, targettype, true,
										"Changing the type of column", lockmode,
										analysis);
		return;
	}
	mg_rule_alter_type_foreign_keys(rel, attnum, targettype, false,
									"Changing the type of column", lockmode,
									analysis);
	if (!mg_column_def_collation(def, targettype, &targetcoll))
		targetcoll = InvalidOid;	/* unknown: indexes on the column are rebuilt */

	/* No rewrite; but an index whose definition changes is rebuilt. */
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		bool		uses_column;

		bool		survives;

		survives = mg_index_survives_type_change(indexoid, attnum, oldtype, oldcoll,
												 targettype, targetcoll, &uses_column);

		/*
		 * A partitioned index on the column is always created again, and its
		 * partitions' indexes with it, from scratch: TryReuseIndex() keeps
		 * the storage of plain indexes only.
		 */
		if (uses_column && rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		{
			mg_add_finding(analysis, MG_RULE_BLOCKING_INDEX_BUILD, relid, true, NIL,
						   lockmode,
						   psprintf("Changing the type of column \"%s\" of a partitioned table does not rewrite it, but partitioned index \"%s\" on the column is created again, which builds its index on every partition.",
									cmd->name, get_rel_name(indexoid)),
						   pstrdup("Drop the index, change the type, then build the index again without blocking writes: CREATE INDEX ON ONLY the partitioned table, CREATE INDEX CONCURRENTLY on each partition, then ALTER INDEX ... ATTACH PARTITION for each."));
			break;
		}
		if (!survives)
		{
			mg_add_finding(analysis, MG_RULE_BLOCKING_INDEX_BUILD, relid, recurse, NIL,
						   lockmode,
						   psprintf("Changing the type of column \"%s\" does not rewrite the table, but index \"%s\" on it changes operator class or collation and is rebuilt.",
									cmd->name, get_rel_name(indexoid)),
						   pstrdup("Build the index for the new definition first with CREATE INDEX CONCURRENTLY, drop the old index with DROP INDEX CONCURRENTLY, then change the column type."));
			break;
		}
	}
	list_free(indexes);

	rechecked = mg_tables_rechecked(rel, cmd->name, recurse);
	if (rechecked != NIL)
		mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, relid, false, rechecked,
					   lockmode,
					   psprintf("Changing the type of column \"%s\" does not rewrite the table, but every validated CHECK constraint on the column is added again and validated by a full scan.",
								cmd->name),
					   pstrdup("Drop the CHECK constraints on the column, change the type, add them again with NOT VALID, then run ALTER TABLE ... VALIDATE CONSTRAINT, which does not block writes."));
}
