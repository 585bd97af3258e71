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
 *   CHECK constraint implies it (NotNullImpliedByRelConstraints()).  From
 *   18, over a NOT VALID not-null constraint it validates that constraint,
 *   with a scan and no CHECK shortcut; VALIDATE CONSTRAINT does the same
 *   without blocking writes.
 * - ALTER CONSTRAINT ... ENFORCED (18+: foreign keys, 19+: CHECK) checks
 *   every row of a constraint that was NOT ENFORCED.
 * - ALTER DOMAIN ADD CONSTRAINT / ADD NOT NULL (17+) / SET NOT NULL /
 *   VALIDATE CONSTRAINT check every column of the domain type in every
 *   table, under SHARE lock.
 * Nothing is found where PostgreSQL raises its own error first or has
 * nothing to do.
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
#include "catalog/pg_constraint.h"
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

/* 18+ validates a NOT VALID not-null constraint itself, without blocking writes. */
#if MG_HAVE_NOT_VALID_NOT_NULL
#define MG_NOT_NULL_HINT \
	"Add the constraint with ALTER TABLE ... ADD CONSTRAINT name NOT NULL column NOT VALID, then run ALTER TABLE ... VALIDATE CONSTRAINT name in a separate statement: it checks existing rows without blocking writes and leaves the column NOT NULL."
#else
#define MG_NOT_NULL_HINT \
	"Add CHECK (column IS NOT NULL) NOT VALID, run VALIDATE CONSTRAINT (which does not block writes), then SET NOT NULL, which then skips the scan; the CHECK constraint can be dropped afterwards."
#endif

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

			/* 18+: a NOT VALID not-null constraint proves nothing. */
			if (!mg_attr_has_valid_not_null(tupdesc, i) || att->attisdropped)
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
 * Would a new not-null constraint on this column need a scan?  Not if the
 * column has one already or a valid CHECK constraint proves it
 * (NotNullImpliedByRelConstraints).
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

/* What a column's existing not-null constraint makes of SET NOT NULL */
typedef enum MGNotNullState
{
	MG_NN_NONE,					/* no constraint: a new one is added */
	MG_NN_DONE,					/* nothing to check, or PostgreSQL rejects it */
	MG_NN_VALIDATES				/* a NOT VALID one (18+) is validated */
} MGNotNullState;

#if MG_HAVE_NOT_VALID_NOT_NULL
/*
 * The column's not-null constraint, as ATExecSetNotNull() (18+) treats it
 * at the top of the statement: a NO INHERIT one with recursion is an error,
 * an inherited one only becomes local, a valid one is kept, and a NOT VALID
 * one is validated by ATExecValidateConstraint(), on this table and (with
 * recursion) every child, with no shortcut through CHECK constraints.
 * *name gets the constraint's name for the hint.
 */
static MGNotNullState
mg_not_null_state(Relation rel, const char *colname, bool recurse,
				  char **name)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), colname);
	HeapTuple	tup;
	Form_pg_constraint con;
	MGNotNullState state;

	if (attnum <= 0)
		return MG_NN_DONE;		/* PostgreSQL reports the column */
	tup = findNotNullConstraintAttnum(RelationGetRelid(rel), attnum);
	if (!HeapTupleIsValid(tup))
		return MG_NN_NONE;
	con = (Form_pg_constraint) GETSTRUCT(tup);
	if ((con->connoinherit && recurse) || !con->conislocal || con->convalidated)
		state = MG_NN_DONE;
	else if (!recurse && !con->connoinherit &&
			 find_inheritance_children(RelationGetRelid(rel), NoLock) != NIL)
		state = MG_NN_DONE;		/* "must be validated on child tables too" */
	else
		state = MG_NN_VALIDATES;
	*name = pstrdup(NameStr(con->conname));
	heap_freetuple(tup);
	return state;
}

/* Does the column have a NOT VALID not-null constraint (18+)? */
static bool
mg_has_invalid_not_null(Relation rel, const char *colname)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), colname);

	return attnum > 0 &&
		TupleDescCompactAttr(RelationGetDescr(rel), attnum - 1)->attnullability == ATTNULLABLE_INVALID;
}
#endif

/*
 * SET NOT NULL over a NOT VALID not-null constraint (18+): the constraint is
 * validated under the statement's ACCESS EXCLUSIVE lock, on the table and on
 * each child whose own constraint is not valid yet.
 */
static void
mg_rule_validate_not_null(Relation rel, const char *colname, const char *conname,
						  LOCKMODE lockmode, bool recurse, MGAnalysis *analysis)
{
#if MG_HAVE_NOT_VALID_NOT_NULL
	Oid			relid = RelationGetRelid(rel);
	List	   *scanned = NIL;
	ListCell   *lc;

	if (recurse && has_subclass(relid))
	{
		foreach(lc, find_all_inheritors(relid, NoLock, NULL))
		{
			Oid			childoid = lfirst_oid(lc);
			Relation	child;

			if (childoid == relid)
				continue;
			child = mg_open_relation(childoid);
			if (child == NULL)
				continue;
			if (RELKIND_HAS_STORAGE(child->rd_rel->relkind) &&
				mg_has_invalid_not_null(child, colname))
				scanned = lappend_oid(scanned, childoid);
			mg_close_relation(child);
		}
	}
	if (RELKIND_HAS_STORAGE(rel->rd_rel->relkind))
		scanned = lappend_oid(scanned, relid);
	if (scanned == NIL)
		return;
	mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, relid, recurse, scanned,
				   lockmode,
				   psprintf("Setting column \"%s\" NOT NULL validates its NOT VALID not-null constraint \"%s\", which scans the table to check every row.",
							colname, conname),
				   psprintf("Run ALTER TABLE ... VALIDATE CONSTRAINT %s instead: it checks the same rows under SHARE UPDATE EXCLUSIVE, which does not block writes, and leaves the column NOT NULL.",
							quote_identifier(conname)));
#endif
}

/*
 * A new not-null constraint on the column (SET NOT NULL, ADD CONSTRAINT ...
 * NOT NULL, a primary key): with recursion, each partition or child decides
 * for itself.
 */
static void
mg_rule_new_not_null(Relation rel, const char *colname, LOCKMODE lockmode,
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
 * ALTER TABLE ... ALTER COLUMN ... SET NOT NULL, and the implicit one of a
 * primary key.
 */
void
mg_rule_set_not_null(Relation rel, const char *colname, LOCKMODE lockmode,
					 bool recurse, MGAnalysis *analysis)
{
	MGNotNullState state = MG_NN_NONE;
	char	   *conname = NULL;

#if MG_HAVE_NOT_VALID_NOT_NULL
	state = mg_not_null_state(rel, colname, recurse, &conname);
#endif
	if (state == MG_NN_VALIDATES)
		mg_rule_validate_not_null(rel, colname, conname, lockmode, recurse,
								  analysis);
	else if (state == MG_NN_NONE)
		mg_rule_new_not_null(rel, colname, lockmode, recurse, analysis);
}

/*
 * ALTER TABLE ... ADD [CONSTRAINT c] NOT NULL column (18+), valid.  Over a
 * NOT VALID one PostgreSQL raises "incompatible NOT VALID constraint"
 * (AdjustNotNullInheritance()); over a valid one nothing is checked.
 */
static void
mg_rule_add_not_null(Relation rel, const char *colname, LOCKMODE lockmode,
					 bool recurse, MGAnalysis *analysis)
{
#if MG_HAVE_NOT_VALID_NOT_NULL
	if (mg_has_invalid_not_null(rel, colname))
		return;
#endif
	mg_rule_new_not_null(rel, colname, lockmode, recurse, analysis);
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
 * Does a primary key over these columns meet a not-null constraint that
 * PostgreSQL 18+ refuses for it, a NOT VALID or NO INHERIT one
 * (verifyNotNullPKCompatible(), or "incompatible NOT VALID constraint")?
 * Then PostgreSQL raises its error before building anything.
 */
static bool
mg_pk_meets_unusable_not_null(Relation rel, Constraint *con)
{
#if MG_HAVE_NOT_VALID_NOT_NULL
	Oid			relid = RelationGetRelid(rel);
	List	   *colnames = NIL;
	ListCell   *lc;

	if (con->indexname == NULL)
	{
		foreach(lc, con->keys)
			colnames = lappend(colnames, strVal(lfirst(lc)));
	}
	else
	{
		Oid			indexoid = get_relname_relid(con->indexname,
												 RelationGetNamespace(rel));
		HeapTuple	tp;

		if (!OidIsValid(indexoid))
			return false;
		tp = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
		if (HeapTupleIsValid(tp))
		{
			Form_pg_index idx = (Form_pg_index) GETSTRUCT(tp);
			int			i;

			for (i = 0; i < idx->indnkeyatts; i++)
			{
				char	   *colname = get_attname(relid, idx->indkey.values[i], true);

				if (colname != NULL)
					colnames = lappend(colnames, colname);
			}
			ReleaseSysCache(tp);
		}
	}
	foreach(lc, colnames)
	{
		HeapTuple	tup = findNotNullConstraint(relid, (char *) lfirst(lc));
		bool		unusable;

		if (!HeapTupleIsValid(tup))
			continue;
		unusable = !((Form_pg_constraint) GETSTRUCT(tup))->convalidated ||
			((Form_pg_constraint) GETSTRUCT(tup))->connoinherit;
		heap_freetuple(tup);
		if (unusable)
			return true;
	}
#endif
	return false;
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

	if (con->contype == CONSTR_PRIMARY && mg_pk_meets_unusable_not_null(rel, con))
		return;					/* PostgreSQL reports the constraint */

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
				mg_rule_add_not_null(rel, strVal(lfirst(lc)), lockmode, recurse,
									 analysis);
			break;

		default:
			break;
	}
}

#if MG_HAVE_ALTER_CONSTRAINT_ENFORCED
/*
 * The table's own constraint of that name, copied, or NULL
 * (ATExecAlterConstraint() looks it up the same way).
 */
static HeapTuple
mg_table_constraint(Oid relid, const char *conname)
{
	Relation	conrel;
	ScanKeyData key[3];
	SysScanDesc scan;
	HeapTuple	tup;

	conrel = table_open(ConstraintRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_constraint_conrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	ScanKeyInit(&key[1], Anum_pg_constraint_contypid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(InvalidOid));
	ScanKeyInit(&key[2], Anum_pg_constraint_conname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum(conname));
	scan = systable_beginscan(conrel, ConstraintRelidTypidNameIndexId, true,
							  NULL, 3, key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		tup = heap_copytuple(tup);
	systable_endscan(scan);
	table_close(conrel, AccessShareLock);
	return tup;
}
#endif

/*
 * ALTER TABLE ... ALTER CONSTRAINT name ENFORCED on a NOT ENFORCED
 * constraint (18+: foreign keys; 19+: CHECK constraints too).  Phase 3 then
 * checks every existing row: a foreign key on each leaf table of the
 * referencing side (triggers are created on the referenced table under SHARE
 * ROW EXCLUSIVE), a CHECK on the table and its children.  No NOT VALID form
 * exists (the grammar rejects it), so the recipe replaces the constraint.
 * Nothing is found where PostgreSQL changes nothing (already ENFORCED) or
 * raises first: no such constraint, a constraint derived from a parent's, a
 * type whose enforceability cannot change, ONLY where children must follow.
 */
void
mg_rule_alter_constraint(Relation rel, Node *def, LOCKMODE lockmode,
						 bool recurse, MGAnalysis *analysis)
{
#if MG_HAVE_ALTER_CONSTRAINT_ENFORCED
	ATAlterConstraint *cmdcon;
	Oid			relid = RelationGetRelid(rel);
	bool		partitioned = rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE;
	HeapTuple	tup;
	Form_pg_constraint con;

	if (def == NULL || !IsA(def, ATAlterConstraint))
		return;
	cmdcon = (ATAlterConstraint *) def;
	if (!cmdcon->alterEnforceability || !cmdcon->is_enforced || cmdcon->conname == NULL)
		return;
	if (partitioned && !recurse)
		return;					/* "constraint must be altered in child tables too" */
	tup = mg_table_constraint(relid, cmdcon->conname);
	if (tup == NULL)
		return;
	con = (Form_pg_constraint) GETSTRUCT(tup);
	if (con->conenforced || OidIsValid(con->conparentid))
	{
		heap_freetuple(tup);
		return;
	}

	if (con->contype == CONSTRAINT_FOREIGN)
	{
		Oid			pkoid = con->confrelid;

		mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, relid, partitioned, NIL,
					   lockmode,
					   psprintf("Making foreign key \"%s\" ENFORCED checks every existing row against table \"%s\", and holds SHARE ROW EXCLUSIVE lock on that table, which blocks writes to it.",
								cmdcon->conname, mg_relation_name(pkoid)),
					   psprintf("Replace the constraint instead: in one transaction, ALTER TABLE ... DROP CONSTRAINT %s, ADD CONSTRAINT %s FOREIGN KEY ... NOT VALID (new rows are checked at once); then ALTER TABLE ... VALIDATE CONSTRAINT %s in a separate statement, which does not block writes.",
								quote_identifier(cmdcon->conname),
								quote_identifier(cmdcon->conname),
								quote_identifier(cmdcon->conname)));
	}
	else if (con->contype == CONSTRAINT_CHECK && MG_ALTER_CHECK_ENFORCEABILITY)
	{
		bool		children = !con->connoinherit && has_subclass(relid);

		/* ONLY with children: "constraint must be altered on child tables too" */
		if (!children || recurse)
			mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, relid, children, NIL,
						   lockmode,
						   psprintf("Making CHECK constraint \"%s\" ENFORCED checks every existing row.",
									cmdcon->conname),
						   psprintf("Replace the constraint instead: in one transaction, ALTER TABLE ... DROP CONSTRAINT %s, ADD CONSTRAINT %s CHECK (...) NOT VALID (new rows are checked at once); then ALTER TABLE ... VALIDATE CONSTRAINT %s in a separate statement, which does not block writes.",
									quote_identifier(cmdcon->conname),
									quote_identifier(cmdcon->conname),
									quote_identifier(cmdcon->conname)));
	}
	heap_freetuple(tup);
#endif
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
 * The domain's constraint of that name (pg_constraint, conrelid 0), as
 * AlterDomainValidateConstraint() finds it: false if there is none.
 */
static bool
mg_domain_constraint(Oid domainoid, const char *conname, char *contype,
					 bool *validated)
{
	Relation	conrel;
	ScanKeyData key[3];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	conrel = table_open(ConstraintRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_constraint_conrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(InvalidOid));
	ScanKeyInit(&key[1], Anum_pg_constraint_contypid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(domainoid));
	ScanKeyInit(&key[2], Anum_pg_constraint_conname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum(conname));
	scan = systable_beginscan(conrel, ConstraintRelidTypidNameIndexId, true,
							  NULL, 3, key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tup);

		found = true;
		*contype = con->contype;
		*validated = con->convalidated;
	}
	systable_endscan(scan);
	table_close(conrel, AccessShareLock);
	return found;
}

/*
 * Would this ALTER DOMAIN subcommand check the values stored in tables
 * (typecmds.c)?  Only where PostgreSQL goes on to the check: a statement it
 * rejects first (a constraint name in use, a constraint that does not exist
 * or is not a CHECK) or that changes nothing (a domain already NOT NULL; from
 * 19, a constraint already validated) is left to it.  *reason and *hint get
 * the texts of the finding.
 */
static bool
mg_domain_change_checks_values(AlterDomainStmt *stmt, Oid domainoid,
							   const char **reason, const char **hint)
{
	bool		typnotnull;
	HeapTuple	tp;
	char		contype;
	bool		validated;

	tp = SearchSysCache1(TYPEOID, ObjectIdGetDatum(domainoid));
	if (!HeapTupleIsValid(tp))
		return false;
	typnotnull = ((Form_pg_type) GETSTRUCT(tp))->typnotnull;
	ReleaseSysCache(tp);

	switch (stmt->subtype)
	{
		case 'C':				/* ADD CONSTRAINT */
			{
				Constraint *con = (Constraint *) stmt->def;

				if (con == NULL || !IsA(con, Constraint) || con->skip_validation)
					return false;
				if (con->conname != NULL &&
					ConstraintNameIsUsed(CONSTRAINT_DOMAIN, domainoid, con->conname))
					return false;	/* PostgreSQL: already exists */
				if (con->contype == CONSTR_CHECK)
				{
					if (mg_domain_check_rejected(con->raw_expr))
						return false;	/* PostgreSQL reports the expression */
					*reason = "Adding a CHECK constraint to the domain checks every value of it in this table.";
					*hint = "Add the domain constraint with NOT VALID (new values are checked at once), then validate it with ALTER DOMAIN ... VALIDATE CONSTRAINT when a write pause on the tables is acceptable, or add the CHECK to the table columns instead with NOT VALID and VALIDATE CONSTRAINT.";
					return true;
				}
				/* ADD [CONSTRAINT c] NOT NULL (17+): as SET NOT NULL */
				if (con->contype != CONSTR_NOTNULL || typnotnull)
					return false;
				*reason = "Adding a NOT NULL constraint to the domain checks every value of it in this table.";
				*hint = "Add a CHECK (VALUE IS NOT NULL) constraint to the domain with NOT VALID instead: new values are checked at once.";
				return true;
			}
		case 'O':				/* SET NOT NULL */
			if (typnotnull)
				return false;
			*reason = "Setting the domain NOT NULL checks every value of it in this table.";
			*hint = "Add a CHECK (VALUE IS NOT NULL) constraint to the domain with NOT VALID instead: new values are checked at once.";
			return true;
		case 'V':				/* VALIDATE CONSTRAINT */
			if (stmt->name == NULL ||
				!mg_domain_constraint(domainoid, stmt->name, &contype, &validated) ||
				contype != CONSTRAINT_CHECK)
				return false;	/* PostgreSQL reports it */
			if (MG_DOMAIN_VALIDATE_SKIPS_VALID && validated)
				return false;
			*reason = "Validating a domain constraint checks every value of the domain in this table under SHARE lock, unlike VALIDATE CONSTRAINT on a table.";
			*hint = "Add the CHECK to the table columns instead with NOT VALID and ALTER TABLE ... VALIDATE CONSTRAINT, which does not block writes, or validate the domain constraint when a write pause is acceptable.";
			return true;
		default:
			return false;
	}
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
	const char *reason = NULL;
	const char *hint = NULL;
	List	   *relids = NIL;
	ListCell   *lc;

	if (stmt->subtype != 'C' && stmt->subtype != 'O' && stmt->subtype != 'V')
		return;
	typename = makeTypeNameFromNameList(stmt->typeName);
	if (!mg_lookup_type(typename, &domainoid, NULL) ||
		get_typtype(domainoid) != TYPTYPE_DOMAIN ||
		!mg_type_ownercheck(domainoid, GetUserId()))
		return;					/* PostgreSQL reports the error */
	if (!mg_domain_change_checks_values(stmt, domainoid, &reason, &hint))
		return;

	mg_rels_with_domain(domainoid, &relids);
	foreach(lc, relids)
		mg_add_finding(analysis, MG_RULE_VALIDATION_SCAN, lfirst_oid(lc), false, NIL,
					   ShareLock, pstrdup(reason), pstrdup(hint));
}
