/*-------------------------------------------------------------------------
 *
 * mg_rules_constraint.c
 *		Rules for constraints that are proved by scanning existing rows.
 *
 * - ADD CONSTRAINT ... CHECK and FOREIGN KEY validate every row in phase 3
 *   of ALTER TABLE, unless NOT VALID (or, from 18, NOT ENFORCED).  The safe
 *   recipe, NOT VALID then VALIDATE CONSTRAINT, validates under SHARE UPDATE
 *   EXCLUSIVE, which does not block writes, so VALIDATE is never a finding.
 *   A foreign key holds SHARE ROW EXCLUSIVE on both tables while the
 *   referencing table is checked; its size is what the check costs.
 * - ADD PRIMARY KEY / UNIQUE / EXCLUDE build an index, except with USING
 *   INDEX; a primary key over nullable columns also sets NOT NULL.
 * - SET NOT NULL scans unless the column is already NOT NULL or a valid
 *   CHECK constraint implies it (NotNullImpliedByRelConstraints()).
 * - ALTER DOMAIN ADD CONSTRAINT / SET NOT NULL / VALIDATE CONSTRAINT check
 *   every column of the domain type in every table, under SHARE lock.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_rules_constraint.c
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
#include "catalog/pg_depend.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/tablecmds.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_type.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "migration_guard.h"
#include "mg_compat.h"

#define MG_NOT_VALID_HINT \
	"Add the constraint with NOT VALID, then run ALTER TABLE ... VALIDATE CONSTRAINT in a separate statement: it checks existing rows without blocking writes."

#define MG_NOT_NULL_HINT \
	"Add CHECK (column IS NOT NULL) NOT VALID, run VALIDATE CONSTRAINT (which does not block writes), then SET NOT NULL, which then skips the scan; the CHECK constraint can be dropped afterwards."

/*
 * Do the valid CHECK constraints of rel (and, with use_not_null, its NOT NULL
 * columns) prove every clause of test, an implicit-AND list in rel's
 * attribute numbers?  This is ConstraintImpliedByRelConstraint() and
 * PartConstraintImpliedByRelConstraint() without their const-simplification
 * of the CHECK expressions: eval_const_expressions() would run the
 * immutable functions of a constraint that the table's owner wrote (and can
 * raise their errors), and the guard never executes another role's code.
 * The stored expressions are already parse-analysed, so the only proofs
 * lost are those that need a constant subexpression folded (CHECK (k < 10 +
 * 5)); then the scan is predicted, which is the conservative verdict.
 * predicate_implied_by() itself only compares constants with the btree
 * operators of built-in or superuser-installed operator classes.
 */
bool
mg_constraint_implied(Relation rel, List *test, bool use_not_null)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	TupleConstr *constr = tupdesc->constr;
	List	   *proven = NIL;
	int			i;

	if (constr == NULL)
		return false;
	if (use_not_null && constr->has_not_null)
	{
		for (i = 0; i < tupdesc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(tupdesc, i);
			NullTest   *ntest;

			if (!att->attnotnull || att->attisdropped)
				continue;
			ntest = makeNode(NullTest);
			ntest->arg = (Expr *) makeVar(1, att->attnum, att->atttypid,
										  att->atttypmod, att->attcollation, 0);
			ntest->nulltesttype = IS_NOT_NULL;
			ntest->argisrow = false;
			ntest->location = -1;
			proven = lappend(proven, ntest);
		}
	}
	for (i = 0; i < constr->num_check; i++)
	{
		Node	   *cexpr;

		if (!constr->check[i].ccvalid)
			continue;
		cexpr = stringToNode(constr->check[i].ccbin);
		cexpr = (Node *) canonicalize_qual((Expr *) cexpr, true);
		proven = list_concat(proven, make_ands_implicit((Expr *) cexpr));
	}
	if (proven == NIL)
		return false;
	return predicate_implied_by(test, proven, true);
}

/*
 * Would SET NOT NULL on this column need a scan?  Not if it is NOT NULL
 * already or a valid CHECK constraint proves it (NotNullImpliedByRelConstraints).
 */
static bool
mg_not_null_needs_scan(Relation rel, const char *colname)
{
	HeapTuple	tp;
	Form_pg_attribute att;
	NullTest   *nulltest;
	bool		needs_scan;

	if (!RELKIND_HAS_STORAGE(rel->rd_rel->relkind))
		return false;
	tp = SearchSysCacheAttName(RelationGetRelid(rel), colname);
	if (!HeapTupleIsValid(tp))
		return false;
	att = (Form_pg_attribute) GETSTRUCT(tp);
	if (att->attnotnull)
	{
		ReleaseSysCache(tp);
		return false;
	}

	nulltest = makeNode(NullTest);
	nulltest->arg = (Expr *) makeVar(1, att->attnum, att->atttypid,
									 att->atttypmod, att->attcollation, 0);
	nulltest->nulltesttype = IS_NOT_NULL;
	nulltest->argisrow = false;
	nulltest->location = -1;
	ReleaseSysCache(tp);

	needs_scan = !mg_constraint_implied(rel, list_make1(nulltest), false);
	return needs_scan;
}

/*
 * ALTER TABLE ... ALTER COLUMN ... SET NOT NULL, and the implicit one of a
 * primary key.  With recursion, each partition or child decides for itself.
 */
void
mg_rule_set_not_null(Relation rel, const char *colname, LOCKMODE lockmode,
					 bool recurse, MGAnalysis *analysis)
{
	Oid			relid = RelationGetRelid(rel);
	List	   *children;
	List	   *scanned = NIL;
	ListCell   *lc;

	if (recurse && has_subclass(relid))
		children = find_all_inheritors(relid, NoLock, NULL);
	else
		children = list_make1_oid(relid);

	foreach(lc, children)
	{
		Oid			childoid = lfirst_oid(lc);
		Relation	child;

		if (childoid == relid)
		{
			if (mg_not_null_needs_scan(rel, colname))
				scanned = lappend_oid(scanned, childoid);
			continue;
		}
		child = mg_open_relation(childoid);
		if (child == NULL)
			continue;
		if (mg_not_null_needs_scan(child, colname))
			scanned = lappend_oid(scanned, childoid);
		mg_close_relation(child);
	}

	if (scanned != NIL)
	{
		mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, relid, recurse, NIL,
						   lockmode,
						   psprintf("Setting column \"%s\" NOT NULL scans the table to check every row, because no valid CHECK constraint proves it.",
									colname),
						   pstrdup(MG_NOT_NULL_HINT));
	}
}

/*
 * Referenced table of a foreign key, for the message.
 */
static char *
mg_fk_target_name(Constraint *con)
{
	Oid			pkoid = mg_lookup_relation(con->pktable);

	return OidIsValid(pkoid) ? mg_relation_name(pkoid) : con->pktable->relname;
}

/*
 * ALTER TABLE ... ADD [CONSTRAINT name] ...
 */
void
mg_rule_add_constraint(Relation rel, Constraint *con, LOCKMODE lockmode,
					   bool recurse, MGAnalysis *analysis)
{
	Oid			relid = RelationGetRelid(rel);
	ListCell   *lc;

	switch (con->contype)
	{
		case CONSTR_CHECK:
			if (con->skip_validation || !MG_CONSTRAINT_IS_ENFORCED(con))
				break;
			mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, relid, recurse, NIL,
						   lockmode,
						   pstrdup("Adding a CHECK constraint without NOT VALID checks every existing row."),
						   pstrdup(MG_NOT_VALID_HINT));
			break;

		case CONSTR_FOREIGN:
			if (con->skip_validation || !MG_CONSTRAINT_IS_ENFORCED(con))
				break;
			if (!OidIsValid(mg_lookup_relation(con->pktable)))
				break;			/* PostgreSQL reports the missing table */
			mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, relid, recurse,
						   mg_fk_checked_relations(relid, recurse,
												   mg_lookup_relation(con->pktable)),
						   lockmode,
						   psprintf("Adding a FOREIGN KEY without NOT VALID checks every existing row against table \"%s\" with a join that can read both tables in full, holding SHARE ROW EXCLUSIVE lock on both, which blocks writes to both; the size given is that of both.",
									mg_fk_target_name(con)),
						   pstrdup(MG_NOT_VALID_HINT));
			break;

		case CONSTR_PRIMARY:
		case CONSTR_UNIQUE:
		case CONSTR_EXCLUSION:
			if (con->indexname == NULL)
			{
				bool		partitioned = rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE;

				mg_add_finding(analysis, MG_RULE_BLOCKING_INDEX_BUILD, relid,
							   recurse, NIL, lockmode,
							   pstrdup("Adding a PRIMARY KEY, UNIQUE or EXCLUDE constraint builds its index over the whole table."),
							   partitioned ?
							   pstrdup("Build a matching unique index with CREATE UNIQUE INDEX CONCURRENTLY on each partition first: adding the constraint to the partitioned table then attaches those indexes instead of building new ones.") :
							   pstrdup("Build the index first with CREATE UNIQUE INDEX CONCURRENTLY, then add the constraint with ALTER TABLE ... ADD CONSTRAINT ... PRIMARY KEY USING INDEX (or UNIQUE USING INDEX), which only takes a brief lock."));
				break;
			}
			/* USING INDEX: only a primary key's NOT NULL may need a scan. */
			if (con->contype == CONSTR_PRIMARY)
			{
				Oid			indexoid = get_relname_relid(con->indexname,
														 RelationGetNamespace(rel));
				HeapTuple	tp;

				if (!OidIsValid(indexoid))
					break;
				tp = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
				if (HeapTupleIsValid(tp))
				{
					Form_pg_index idx = (Form_pg_index) GETSTRUCT(tp);
					int			i;

					for (i = 0; i < idx->indnkeyatts; i++)
					{
						char	   *colname = get_attname(relid, idx->indkey.values[i], true);

						if (colname != NULL)
							mg_rule_set_not_null(rel, colname, lockmode, false, analysis);
					}
					ReleaseSysCache(tp);
				}
			}
			break;

		case CONSTR_NOTNULL:
			/* ADD CONSTRAINT name NOT NULL column (18+), NOT VALID skips. */
			if (con->skip_validation)
				break;
			foreach(lc, con->keys)
				mg_rule_set_not_null(rel, strVal(lfirst(lc)), lockmode, recurse,
									 analysis);
			break;

		default:
			break;
	}
}

/*
 * Relations with a column of the domain or of a domain over it.  Mirrors
 * get_rels_with_domain() in typecmds.c, reading pg_depend.
 */
static void
mg_rels_with_domain(Oid domainoid, List **relids)
{
	Relation	deprel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;

	check_stack_depth();
	deprel = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(TypeRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(domainoid));
	scan = systable_beginscan(deprel, DependReferenceIndexId, true, NULL, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tup);

		if (dep->classid == TypeRelationId &&
			get_typtype(dep->objid) == TYPTYPE_DOMAIN)
			mg_rels_with_domain(dep->objid, relids);
		else if (dep->classid == RelationRelationId && dep->objsubid > 0)
			*relids = list_append_unique_oid(*relids, dep->objid);
	}
	systable_endscan(scan);
	table_close(deprel, AccessShareLock);
}

/*
 * ALTER DOMAIN.  Every table with a column of the domain is checked under
 * SHARE lock: one finding per table, each judged on its own size.
 */
void
mg_rules_alter_domain(AlterDomainStmt *stmt, MGAnalysis *analysis)
{
	TypeName   *typename;
	Oid			domainoid;
	const char *reason;
	const char *hint;
	List	   *relids = NIL;
	ListCell   *lc;

	switch (stmt->subtype)
	{
		case 'C':				/* ADD CONSTRAINT */
			{
				Constraint *con = (Constraint *) stmt->def;

				if (con == NULL || !IsA(con, Constraint) ||
					con->contype != CONSTR_CHECK || con->skip_validation)
					return;
				reason = "Adding a CHECK constraint to the domain checks every value of it in this table.";
				hint = "Add the domain constraint with NOT VALID (new values are checked at once), then validate it with ALTER DOMAIN ... VALIDATE CONSTRAINT when a write pause on the tables is acceptable, or add the CHECK to the table columns instead with NOT VALID and VALIDATE CONSTRAINT.";
				break;
			}
		case 'O':				/* SET NOT NULL */
			reason = "Setting the domain NOT NULL checks every value of it in this table.";
			hint = "Add a CHECK (VALUE IS NOT NULL) constraint to the domain with NOT VALID instead: new values are checked at once.";
			break;
		case 'V':				/* VALIDATE CONSTRAINT */
			reason = "Validating a domain constraint checks every value of the domain in this table under SHARE lock, unlike VALIDATE CONSTRAINT on a table.";
			hint = "Add the CHECK to the table columns instead with NOT VALID and ALTER TABLE ... VALIDATE CONSTRAINT, which does not block writes, or validate the domain constraint when a write pause is acceptable.";
			break;
		default:
			return;
	}

	typename = makeTypeNameFromNameList(stmt->typeName);
	if (!mg_lookup_type(typename, &domainoid, NULL) ||
		get_typtype(domainoid) != TYPTYPE_DOMAIN ||
		!mg_type_ownercheck(domainoid, GetUserId()))
		return;					/* PostgreSQL reports the error */

	mg_rels_with_domain(domainoid, &relids);
	foreach(lc, relids)
		mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, lfirst_oid(lc), false, NIL,
					   ShareLock, pstrdup(reason), pstrdup(hint));
}
