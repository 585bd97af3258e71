/*-------------------------------------------------------------------------
 *
 * mg_rules_column.c
 *		Rules for ALTER TABLE ... ADD COLUMN and ALTER COLUMN ... TYPE.
 *
 * Both follow PostgreSQL's own decision, computed the same way before the
 * statement runs:
 *
 * - ADD COLUMN (ATExecAddColumn): the default is cooked and planned as
 *   PostgreSQL does; a non-volatile default is stored in the catalog as the
 *   column's "missing" value (PostgreSQL 11+) and nothing is rewritten.  A
 *   volatile default (serial's nextval() included), an identity column, a
 *   stored generated column or a domain with constraints rewrites the table.
 *   Inline PRIMARY KEY / UNIQUE build an index, inline CHECK is validated by
 *   a scan, and an inline FOREIGN KEY is validated by a scan only when the
 *   column gets a non-null default (transformAlterTableStmt).
 * - ALTER COLUMN TYPE (ATPrepAlterColumnType): the conversion expression is
 *   built and planned exactly as PostgreSQL builds it, and the table is
 *   rewritten unless ATColumnChangeRequiresRewrite() would accept it (a
 *   relabeling such as varchar widening or varchar to text, a domain without
 *   constraints, timestamp <-> timestamptz when the session time zone is
 *   UTC).  When there is no rewrite, indexes on the column whose operator
 *   class or collation changes are still rebuilt (CheckIndexCompatible).
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_rules_column.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/heap.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_relation.h"
#include "parser/parse_type.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "migration_guard.h"
#include "mg_compat.h"

static const char *const mg_serial_types[] = {
	"smallserial", "serial2", "serial", "serial4", "bigserial", "serial8", NULL
};

/*
 * Is this column type one of the serial pseudo-types?  Mirrors the test in
 * transformColumnDefinition(): unqualified or pg_catalog-qualified.
 */
static bool
mg_is_serial_type(const TypeName *typeName)
{
	const char *name;
	int			i;

	if (typeName == NULL || typeName->pct_type || typeName->arrayBounds != NIL)
		return false;
	if (list_length(typeName->names) == 1)
		name = strVal(linitial(typeName->names));
	else if (list_length(typeName->names) == 2 &&
			 strcmp(strVal(linitial(typeName->names)), "pg_catalog") == 0)
		name = strVal(lsecond(typeName->names));
	else
		return false;

	for (i = 0; mg_serial_types[i] != NULL; i++)
		if (strcmp(name, mg_serial_types[i]) == 0)
			return true;
	return false;
}

/*
 * Would PostgreSQL store this default as a "missing" value, or must it
 * evaluate it for every row?  cooked is a cooked default expression or NULL.
 */
static bool
mg_default_is_volatile(Node *cooked)
{
	Expr	   *planned;

	if (cooked == NULL)
		return false;
	planned = expression_planner((Expr *) cooked);
	return contain_volatile_functions((Node *) planned);
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
	bool		serial = mg_is_serial_type(def->typeName);
	List	   *checks = NIL;
	List	   *foreign = NIL;
	bool		has_index = false;
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
		Oid			typid;
		int32		typmod;
		Node	   *cooked = NULL;

		typenameTypeIdAndMod(NULL, def->typeName, &typid, &typmod);
		if (mg_domain_has_constraints(typid))
			reason = psprintf("Adding column \"%s\" of domain type %s, which has constraints, checks them for every row, which rewrites the table.",
							  def->colname, format_type_be(typid));
		else
		{
			if (raw_default != NULL)
			{
				ParseState *pstate = make_parsestate(NULL);

				pstate->p_sourcetext = analysis->query_string;
				cooked = cookDefault(pstate, copyObject(raw_default),
									 typid, typmod, def->colname, '\0');
			}
			else
				cooked = get_typdefault(typid);

			if (mg_default_is_volatile(cooked))
				reason = psprintf("Adding column \"%s\" with a volatile default evaluates the default for every row, which rewrites the table.",
								  def->colname);
		}
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

	if (checks != NIL)
		mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, relid, recurse, NIL,
					   lockmode,
					   psprintf("Adding column \"%s\" with a CHECK constraint checks every row.",
								def->colname),
					   pstrdup("Add the column first, then ALTER TABLE ... ADD CONSTRAINT ... CHECK (...) NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT, which does not block writes."));

	if (foreign != NIL && fk_validated)
		mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, relid, recurse, NIL,
					   Max(lockmode, ShareRowExclusiveLock),
					   psprintf("Adding column \"%s\" with a default and a FOREIGN KEY checks every row against the referenced table.",
								def->colname),
					   pstrdup("Add the column, then ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT, which does not block writes."));
}

/*
 * ATColumnChangeRequiresRewrite(), which is static in tablecmds.c: can the
 * planned conversion expression be applied without touching the data?
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

			if (mg_domain_has_constraints(d->resulttype))
				return true;
			expr = (Node *) d->arg;
		}
		else if (IsA(expr, FuncExpr))
		{
			FuncExpr   *f = (FuncExpr *) expr;

			if ((f->funcid == F_TIMESTAMPTZ_TIMESTAMP ||
				 f->funcid == F_TIMESTAMP_TIMESTAMPTZ) &&
				!TimestampTimestampTzRequiresRewrite())
				expr = linitial(f->args);
			else
				return true;
		}
		else
			return true;
	}
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
	AttrNumber	attnum;
	Oid			oldtype;
	Oid			oldcoll;
	Oid			targettype;
	int32		targettypmod;
	Oid			targetcoll;
	ParseState *pstate;
	ParseNamespaceItem *nsitem;
	Node	   *transform;
	List	   *indexes;
	ListCell   *lc;

	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		return;

	tp = SearchSysCacheAttName(relid, cmd->name);
	if (!HeapTupleIsValid(tp))
		return;					/* PostgreSQL reports the missing column */
	att = (Form_pg_attribute) GETSTRUCT(tp);
	attnum = att->attnum;
	oldtype = att->atttypid;
	oldcoll = att->attcollation;

	typenameTypeIdAndMod(NULL, def->typeName, &targettype, &targettypmod);
	targetcoll = GetColumnDefCollation(NULL, def, targettype);

	pstate = make_parsestate(NULL);
	pstate->p_sourcetext = analysis->query_string;
	nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock,
										   NULL, false, true);
	addNSItemToQuery(pstate, nsitem, false, true, true);

	if (def->raw_default != NULL)
		transform = transformExpr(pstate, copyObject(def->raw_default),
								  EXPR_KIND_ALTER_COL_TRANSFORM);
	else
		transform = (Node *) makeVar(1, attnum, att->atttypid, att->atttypmod,
									 att->attcollation, 0);
	ReleaseSysCache(tp);

	transform = coerce_to_target_type(pstate, transform, exprType(transform),
									  targettype, targettypmod,
									  COERCION_ASSIGNMENT,
									  COERCE_IMPLICIT_CAST, -1);
	if (transform == NULL)
		return;					/* PostgreSQL reports the impossible cast */
	assign_expr_collations(pstate, transform);
	transform = (Node *) expression_planner((Expr *) transform);

	if (mg_column_change_requires_rewrite(transform, attnum))
	{
		mg_add_finding(analysis, MG_RULE_TABLE_REWRITE, relid, recurse, NIL, lockmode,
					   psprintf("Changing the type of column \"%s\" from %s to %s converts every row, which rewrites the table and rebuilds its indexes.",
								cmd->name, format_type_be(oldtype),
								format_type_with_typemod(targettype, targettypmod)),
					   pstrdup("Add a new column of the new type, keep both in sync with a trigger, backfill it in batches, then swap the columns in one short transaction.  Changes that only relabel the data (varchar(n) to a larger n or to text, numeric to a larger precision at the same scale) do not rewrite."));
		return;
	}

	/* No rewrite; but an index whose definition changes is rebuilt. */
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		bool		uses_column;

		if (!mg_index_survives_type_change(indexoid, attnum, oldtype, oldcoll,
										   targettype, targetcoll, &uses_column))
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
}
