/*-------------------------------------------------------------------------
 *
 * mg_check_catalog.c
 *		For migration_guard.check(): what PostgreSQL would reject in a
 *		statement before doing any work, read from the catalog (never by
 *		running the statement), and the locks needed to read it.
 *
 * A missing relation, a missing or duplicate column, a partition of a
 * table that is not partitioned, a missing privilege.  The catalog is seen
 * through what the script did before: tables it created, columns it added,
 * renamed or dropped, relations it renamed or dropped.  That state lives in
 * hash tables, so each statement costs the same whatever its position in
 * the script.
 *
 * The statement's relation, and its partitions and children when it
 * recurses, are locked here with ACCESS SHARE (under the lock_timeout that
 * mg_check.c sets), so that a lock wait names the relation, and a relation
 * whose wait already timed out is not waited for again.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_check_catalog.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_coerce.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"

#include "migration_guard.h"
#include "mg_check.h"
#include "mg_compat.h"

/* A table created by the script, by name */
typedef struct MGCreatedEntry
{
	char		relname[NAMEDATALEN];	/* hash key */
	bool		unqualified;	/* created without a schema name */
	List	   *schemas;		/* schema names it was created in */
} MGCreatedEntry;

/* A column the script added (exists) or dropped or renamed away */
typedef struct MGColumnKey
{
	Oid			relid;
	char		colname[NAMEDATALEN];
} MGColumnKey;

typedef struct MGColumnEntry
{
	MGColumnKey key;
	bool		exists;
} MGColumnEntry;

/* A relation the script dropped, or renamed (then only its old name is gone) */
typedef struct MGGoneEntry
{
	Oid			relid;			/* hash key */
	bool		dropped;
} MGGoneEntry;

/* A relation's new name, given by the script */
typedef struct MGRenamedEntry
{
	char		relname[NAMEDATALEN];	/* hash key */
	Oid			relid;			/* InvalidOid once renamed again */
} MGRenamedEntry;


/*
 * The relation a statement is about, if it has a single obvious one.
 */
static RangeVar *
mg_statement_relation(Node *stmt, bool *missing_ok)
{
	*missing_ok = false;
	switch (nodeTag(stmt))
	{
		case T_AlterTableStmt:
			*missing_ok = ((AlterTableStmt *) stmt)->missing_ok;
			return ((AlterTableStmt *) stmt)->relation;
		case T_IndexStmt:
			return ((IndexStmt *) stmt)->relation;
		case T_RefreshMatViewStmt:
			return ((RefreshMatViewStmt *) stmt)->relation;
		case T_ReindexStmt:
			return ((ReindexStmt *) stmt)->relation;
		case T_CreateTrigStmt:
			return ((CreateTrigStmt *) stmt)->relation;
		case T_RenameStmt:
			*missing_ok = ((RenameStmt *) stmt)->missing_ok;
			return ((RenameStmt *) stmt)->relation;
		default:
			return NULL;
	}
}

static bool
mg_created_in_script(MGCheckState *st, const RangeVar *rv)
{
	char		key[NAMEDATALEN];
	MGCreatedEntry *e;
	ListCell   *lc;

	strlcpy(key, rv->relname, NAMEDATALEN);
	e = hash_search(st->created, key, HASH_FIND, NULL);
	if (e == NULL)
		return false;
	if (e->unqualified || rv->schemaname == NULL)
		return true;
	foreach(lc, e->schemas)
		if (strcmp((char *) lfirst(lc), rv->schemaname) == 0)
			return true;
	return false;
}

/* Remember a new table by name */
static void
mg_note_created_rv(MGCheckState *st, const RangeVar *rv)
{
	MGCreatedEntry *e;
	char		key[NAMEDATALEN];
	bool		found;

	strlcpy(key, rv->relname, NAMEDATALEN);
	e = hash_search(st->created, key, HASH_ENTER, &found);
	if (!found)
	{
		e->unqualified = false;
		e->schemas = NIL;
	}
	if (rv->schemaname == NULL)
		e->unqualified = true;
	else
	{
		MemoryContext old = MemoryContextSwitchTo(st->cxt);

		e->schemas = lappend(e->schemas, pstrdup(rv->schemaname));
		MemoryContextSwitchTo(old);
	}
}

/*
 * Remember the tables a statement creates, for the statements after it.
 */
void
mg_note_created(MGCheckState *st, Node *stmt)
{
	RangeVar   *rv = NULL;

	if (IsA(stmt, CreateStmt))
		rv = ((CreateStmt *) stmt)->relation;
	else if (IsA(stmt, CreateTableAsStmt))
		rv = ((CreateTableAsStmt *) stmt)->into->rel;
	if (rv != NULL)
		mg_note_created_rv(st, rv);
}

/*
 * Does the column exist, as far as the catalog and the script so far say?
 */
static bool
mg_column_exists(MGCheckState *st, Oid relid, const char *colname)
{
	MGColumnKey key;
	MGColumnEntry *e;

	memset(&key, 0, sizeof(key));
	key.relid = relid;
	strlcpy(key.colname, colname, NAMEDATALEN);
	e = hash_search(st->columns, &key, HASH_FIND, NULL);
	if (e != NULL)
		return e->exists;
	return get_attnum(relid, colname) != InvalidAttrNumber;
}

/* Remember that the script adds or removes a column */
static void
mg_note_column(MGCheckState *st, Oid relid, const char *colname, bool exists)
{
	MGColumnKey key;
	MGColumnEntry *e;

	memset(&key, 0, sizeof(key));
	key.relid = relid;
	strlcpy(key.colname, colname, NAMEDATALEN);
	e = hash_search(st->columns, &key, HASH_ENTER, NULL);
	e->exists = exists;
}

static void
mg_report_missing_column(MGCheckState *st, Oid relid, const char *colname)
{
	mg_check_row(st, NULL, "error", mg_relation_name(relid), NULL, NoLock,
				 psprintf("column \"%s\" of relation \"%s\" does not exist",
						  colname, get_rel_name(relid)),
				 "If the column is created outside this script, it must exist before the script runs.");
}

/*
 * ALTER COLUMN ... TYPE without USING: PostgreSQL converts the column with an
 * assignment cast and rejects the statement when there is none ("column
 * cannot be cast automatically").  can_coerce_type() only reads pg_cast and
 * pg_type.  A type the lookup cannot resolve safely, or a column the script
 * added, is left to the rules.  Returns false if an error row was emitted.
 */
static bool
mg_check_type_change(MGCheckState *st, Oid relid, AlterTableCmd *cmd)
{
	ColumnDef  *def = (ColumnDef *) cmd->def;
	AttrNumber	attnum;
	Oid			oldtype;
	Oid			newtype;

	if (def == NULL || !IsA(def, ColumnDef) || def->raw_default != NULL ||
		cmd->name == NULL)
		return true;
	attnum = get_attnum(relid, cmd->name);
	if (attnum == InvalidAttrNumber ||
		!mg_lookup_type(def->typeName, &newtype, NULL))
		return true;
	oldtype = get_atttype(relid, attnum);
	if (!OidIsValid(oldtype) ||
		can_coerce_type(1, &oldtype, &newtype, COERCION_ASSIGNMENT))
		return true;
	mg_check_row(st, NULL, "error", mg_relation_name(relid), NULL, NoLock,
				 psprintf("column \"%s\" cannot be cast automatically to type %s",
						  cmd->name, format_type_be(newtype)),
				 psprintf("You might need to specify \"USING %s::%s\".",
						  quote_identifier(cmd->name), format_type_be(newtype)));
	return false;
}

/*
 * The column references of an ALTER TABLE, read from the catalog and from
 * what the script did before: PostgreSQL rejects a statement that alters or
 * drops a column that does not exist, or adds one that does.  Columns the
 * statement adds or drops are noted for the statements after it, even when
 * one of its other subcommands is an error: a real run would stop the
 * script at this statement, so what comes after is moot.  Returns false if
 * an error row was emitted.
 */
static bool
mg_check_alter_columns(MGCheckState *st, AlterTableStmt *ats, Oid relid)
{
	bool		ok = true;
	ListCell   *lc;

	foreach(lc, ats->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (MG_AT_IS_ADD_COLUMN(cmd->subtype) && IsA(cmd->def, ColumnDef))
		{
			const char *colname = ((ColumnDef *) cmd->def)->colname;

			if (!cmd->missing_ok && mg_column_exists(st, relid, colname))
			{
				mg_check_row(st, NULL, "error", mg_relation_name(relid), NULL,
							 NoLock,
							 psprintf("column \"%s\" of relation \"%s\" already exists",
									  colname, get_rel_name(relid)),
							 NULL);
				ok = false;
			}
			else
				mg_note_column(st, relid, colname, true);
			continue;
		}
		switch (cmd->subtype)
		{
			case AT_DropColumn:
				if (!mg_column_exists(st, relid, cmd->name))
				{
					if (!cmd->missing_ok)
					{
						mg_report_missing_column(st, relid, cmd->name);
						ok = false;
					}
				}
				else
					mg_note_column(st, relid, cmd->name, false);
				break;
			case AT_AlterColumnType:
				if (cmd->name != NULL && !mg_column_exists(st, relid, cmd->name))
				{
					mg_report_missing_column(st, relid, cmd->name);
					ok = false;
				}
				else if (!mg_check_type_change(st, relid, cmd))
					ok = false;
				break;
			case AT_ColumnDefault:
			case AT_DropNotNull:
			case AT_SetNotNull:
			case AT_SetStatistics:
			case AT_SetOptions:
			case AT_ResetOptions:
			case AT_SetStorage:
			case AT_SetCompression:
			case AT_AlterColumnGenericOptions:
			case AT_AddIdentity:
			case AT_SetIdentity:
			case AT_DropIdentity:
			case AT_DropExpression:
#if MG_HAVE_AT_SET_EXPRESSION
			case AT_SetExpression:
#endif
				/* SET STATISTICS on an index column has a number, no name */
				if (cmd->name != NULL && !mg_column_exists(st, relid, cmd->name))
				{
					mg_report_missing_column(st, relid, cmd->name);
					ok = false;
				}
				break;
			default:
				break;
		}
	}
	return ok;
}

/*
 * Columns named in a list of String (a constraint's keys) or of IndexElem
 * (an index's columns; expressions are not looked at) must exist.  Returns
 * false if an error row was emitted.
 */
static bool
mg_check_column_list(MGCheckState *st, Oid relid, List *columns)
{
	ListCell   *lc;

	foreach(lc, columns)
	{
		Node	   *n = (Node *) lfirst(lc);
		const char *colname = NULL;

		if (IsA(n, String))
			colname = strVal(n);
		else if (IsA(n, IndexElem))
			colname = ((IndexElem *) n)->name;
		if (colname != NULL && !mg_column_exists(st, relid, colname))
		{
			mg_report_missing_column(st, relid, colname);
			return false;
		}
	}
	return true;
}

/*
 * The columns of a PRIMARY KEY, UNIQUE, EXCLUDE or FOREIGN KEY constraint
 * added by ALTER TABLE.
 */
static bool
mg_check_constraint_columns(MGCheckState *st, AlterTableStmt *ats, Oid relid)
{
	ListCell   *lc;

	foreach(lc, ats->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		Constraint *con;

		if (!MG_AT_IS_ADD_CONSTRAINT(cmd->subtype) || !IsA(cmd->def, Constraint))
			continue;
		con = (Constraint *) cmd->def;
		if (con->indexname != NULL)
			continue;			/* USING INDEX: the index has the columns */
		if (!mg_check_column_list(st, relid, con->keys) ||
			!mg_check_column_list(st, relid, con->including) ||
			!mg_check_column_list(st, relid, con->fk_attrs))
			return false;
	}
	return true;
}

/*
 * RENAME COLUMN: the old name must exist and the new one must not.
 */
static bool
mg_check_rename_column(MGCheckState *st, RenameStmt *rn, Oid relid)
{
	if (!mg_column_exists(st, relid, rn->subname))
	{
		mg_report_missing_column(st, relid, rn->subname);
		return false;
	}
	if (mg_column_exists(st, relid, rn->newname))
	{
		mg_check_row(st, NULL, "error", mg_relation_name(relid), NULL, NoLock,
					 psprintf("column \"%s\" of relation \"%s\" already exists",
							  rn->newname, get_rel_name(relid)),
					 NULL);
		return false;
	}
	mg_note_column(st, relid, rn->subname, false);
	mg_note_column(st, relid, rn->newname, true);
	return true;
}

/*
 * Can the current role create objects in the schema a new relation would
 * go to?
 */
static bool
mg_check_create_privilege(MGCheckState *st, const RangeVar *rv)
{
	Oid			nspid;

	if (superuser())
		return true;
	if (rv->schemaname)
		nspid = get_namespace_oid(rv->schemaname, true);
	else
	{
		List	   *path = fetch_search_path(false);

		nspid = path ? linitial_oid(path) : InvalidOid;
	}
	if (!OidIsValid(nspid))
		return true;			/* the schema may come earlier in the script */
	if (mg_namespace_create_aclcheck(nspid, GetUserId()) == ACLCHECK_OK)
		return true;
	mg_check_row(st, "privilege", "error", NULL, NULL, NoLock,
				 psprintf("permission denied to create \"%s\" in schema \"%s\"",
						  rv->relname, get_namespace_name(nspid)),
				 psprintf("The role \"%s\" needs CREATE on schema \"%s\".",
						  GetUserNameFromId(GetUserId(), false),
						  get_namespace_name(nspid)));
	return false;
}

/*
 * The OID of an existing relation, by the name it has at this point of the
 * script: a relation the script renamed is found by its new name (*renamed
 * is then set: the catalog does not know that name), not by its old one;
 * one it dropped is not found.  InvalidOid if there is none.
 */
static Oid
mg_existing_relation(MGCheckState *st, RangeVar *rv, bool *renamed)
{
	char		key[NAMEDATALEN];
	MGRenamedEntry *e;
	Oid			relid;

	if (renamed)
		*renamed = false;
	strlcpy(key, rv->relname, NAMEDATALEN);
	e = hash_search(st->renamed, key, HASH_FIND, NULL);
	if (e != NULL && OidIsValid(e->relid))
	{
		char	   *nspname = get_namespace_name(get_rel_namespace(e->relid));
		MGGoneEntry *g = hash_search(st->gone, &e->relid, HASH_FIND, NULL);

		if ((rv->schemaname == NULL ||
			 (nspname != NULL && strcmp(nspname, rv->schemaname) == 0)) &&
			(g == NULL || !g->dropped))
		{
			if (renamed)
				*renamed = true;
			return e->relid;
		}
	}
	relid = RangeVarGetRelidExtended(rv, NoLock, RVR_MISSING_OK, NULL, NULL);
	if (OidIsValid(relid) &&
		hash_search(st->gone, &relid, HASH_FIND, NULL) != NULL)
		return InvalidOid;
	return relid;
}

/*
 * ALTER TABLE/INDEX/VIEW/... RENAME TO: the new name must be free; the
 * statements after it know the relation by that name only.  Returns false
 * if an error row was emitted.
 */
static bool
mg_note_rename(MGCheckState *st, Oid relid, const char *oldname,
			   const char *newname)
{
	RangeVar   *newrv = makeRangeVar(get_namespace_name(get_rel_namespace(relid)),
									 pstrdup(newname), -1);
	char		key[NAMEDATALEN];
	MGRenamedEntry *e;
	MGGoneEntry *g;

	if (OidIsValid(mg_existing_relation(st, newrv, NULL)) ||
		mg_created_in_script(st, newrv))
	{
		mg_check_row(st, NULL, "error", mg_relation_name(relid), NULL, NoLock,
					 psprintf("relation \"%s\" already exists", newname),
					 NULL);
		return false;
	}
	/* The catalog name is gone; so is a name the script gave it before. */
	g = hash_search(st->gone, &relid, HASH_ENTER, NULL);
	g->dropped = false;
	strlcpy(key, oldname, NAMEDATALEN);
	e = hash_search(st->renamed, key, HASH_FIND, NULL);
	if (e != NULL && e->relid == relid)
		e->relid = InvalidOid;
	strlcpy(key, newname, NAMEDATALEN);
	e = hash_search(st->renamed, key, HASH_ENTER, NULL);
	e->relid = relid;
	return true;
}

static void
mg_report_missing_relation(MGCheckState *st, const RangeVar *rv)
{
	mg_check_row(st, NULL, "error", rv->relname, NULL, NoLock,
				 psprintf("relation \"%s\" does not exist", rv->relname),
				 "Create it first, or check the search_path of the migration role.");
}

/*
 * Take ACCESS SHARE on a relation the statement is about, to read its
 * definition, waiting at most lock_timeout.  A relation whose lock wait
 * already timed out in this call is not waited for again: if it is still
 * locked, a "lock_wait" row says so at once and false is returned.
 */
static bool
mg_check_lock(MGCheckState *st, Oid relid)
{
	if (!ConditionalLockRelationOid(relid, AccessShareLock))
	{
		if (hash_search(st->lock_failed, &relid, HASH_FIND, NULL) != NULL)
		{
			mg_check_row(st, "lock_wait", "error", mg_relation_name(relid), NULL,
						 AccessShareLock,
						 psprintf("relation \"%s\" is still locked by another session",
								  mg_relation_name(relid)),
						 "An earlier statement of this script already waited for it.  migration_guard.blockers() lists the sessions in the way.");
			return false;
		}
		st->waiting_relid = relid;
		LockRelationOid(relid, AccessShareLock);
		st->waiting_relid = InvalidOid;
	}

	/*
	 * Dropped between the name lookup and the lock (the session we waited
	 * for may have dropped it): the lock has read the invalidations, so the
	 * syscache now knows.
	 */
	if (get_rel_relkind(relid) == '\0')
	{
		mg_check_row(st, NULL, "error", NULL, NULL, NoLock,
					 "relation was dropped by another session while being checked",
					 NULL);
		return false;
	}
	return true;
}

/*
 * A statement that recurses (no ONLY) reads and locks the partitions and
 * inheritance children too, and the rules read their definitions: take
 * their locks here, so that a wait names the child that is locked.
 */
static bool
mg_check_lock_inheritors(MGCheckState *st, const RangeVar *rv, Oid relid)
{
	List	   *children;
	ListCell   *lc;

	if (!rv->inh || !has_subclass(relid))
		return true;
	children = find_all_inheritors(relid, NoLock, NULL);
	foreach(lc, children)
	{
		Oid			child = lfirst_oid(lc);

		if (child != relid && !mg_check_lock(st, child))
			return false;
	}
	return true;
}

/*
 * CREATE TABLE: its parents (INHERITS or PARTITION OF) must exist, and the
 * parent of a partition must be partitioned.  Returns false if an error row
 * was emitted.
 */
static bool
mg_check_create_parents(MGCheckState *st, CreateStmt *cs)
{
	ListCell   *lc;

	foreach(lc, cs->inhRelations)
	{
		RangeVar   *parent = lfirst_node(RangeVar, lc);
		Oid			relid;

		if (mg_created_in_script(st, parent))
			continue;
		relid = mg_existing_relation(st, parent, NULL);
		if (!OidIsValid(relid))
		{
			mg_report_missing_relation(st, parent);
			return false;
		}
		if (!mg_check_lock(st, relid))
			return false;
		if (cs->partbound != NULL &&
			get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE)
		{
			mg_check_row(st, NULL, "error", mg_relation_name(relid), NULL, NoLock,
						 psprintf("cannot create a partition of table \"%s\": it is not partitioned",
								  mg_relation_name(relid)),
						 NULL);
			return false;
		}
	}
	return true;
}

/*
 * ALTER TABLE ... ATTACH PARTITION: the table must be partitioned and the
 * partition must exist.  Returns false if an error row was emitted.
 */
static bool
mg_check_attach(MGCheckState *st, AlterTableStmt *ats, Oid relid)
{
	ListCell   *lc;

	if (ats->objtype != OBJECT_TABLE)
		return true;
	foreach(lc, ats->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		RangeVar   *part;

		if (cmd->subtype != AT_AttachPartition)
			continue;
		if (get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE)
		{
			mg_check_row(st, NULL, "error", mg_relation_name(relid), NULL, NoLock,
						 psprintf("cannot attach a partition to table \"%s\": it is not partitioned",
								  mg_relation_name(relid)),
						 NULL);
			return false;
		}
		part = ((PartitionCmd *) cmd->def)->name;
		if (!mg_created_in_script(st, part) &&
			!OidIsValid(mg_existing_relation(st, part, NULL)))
		{
			mg_report_missing_relation(st, part);
			return false;
		}
	}
	return true;
}

/*
 * DROP TABLE, INDEX, VIEW, ... and TRUNCATE: every relation must exist,
 * unless IF EXISTS.  Dropped relations are remembered: the statements after
 * the drop cannot use them.  Returns false if an error row was emitted.
 */
static bool
mg_check_relation_list(MGCheckState *st, Node *stmt)
{
	List	   *rvs = NIL;
	bool		missing_ok = false;
	bool		drops = false;
	ListCell   *lc;

	if (IsA(stmt, TruncateStmt))
		rvs = ((TruncateStmt *) stmt)->relations;
	else if (IsA(stmt, DropStmt))
	{
		DropStmt   *ds = (DropStmt *) stmt;

		switch (ds->removeType)
		{
			case OBJECT_TABLE:
			case OBJECT_INDEX:
			case OBJECT_VIEW:
			case OBJECT_MATVIEW:
			case OBJECT_FOREIGN_TABLE:
			case OBJECT_SEQUENCE:
				break;
			default:
				return true;
		}
		foreach(lc, ds->objects)
			rvs = lappend(rvs, makeRangeVarFromNameList((List *) lfirst(lc)));
		missing_ok = ds->missing_ok;
		drops = true;
	}

	foreach(lc, rvs)
	{
		RangeVar   *rv = lfirst_node(RangeVar, lc);
		Oid			relid;

		if (mg_created_in_script(st, rv))
			continue;
		relid = mg_existing_relation(st, rv, NULL);
		if (!OidIsValid(relid))
		{
			if (missing_ok)
				continue;
			mg_report_missing_relation(st, rv);
			return false;
		}
		if (drops)
		{
			MGGoneEntry *g = hash_search(st->gone, &relid, HASH_ENTER, NULL);

			g->dropped = true;
		}
	}
	return true;
}

/* Is this a RENAME TO of a relation (not of a column, constraint, ...)? */
static bool
mg_is_relation_rename(Node *stmt)
{
	if (!IsA(stmt, RenameStmt))
		return false;
	switch (((RenameStmt *) stmt)->renameType)
	{
		case OBJECT_TABLE:
		case OBJECT_INDEX:
		case OBJECT_VIEW:
		case OBJECT_MATVIEW:
		case OBJECT_FOREIGN_TABLE:
		case OBJECT_SEQUENCE:
			return true;
		default:
			return false;
	}
}

/*
 * What PostgreSQL would reject before doing anything, read from the catalog
 * (never by running the statement): a missing relation, a missing or
 * duplicate column, a partition of a table that is not partitioned, a
 * missing privilege.  Takes the statement's lock on its relation.  Returns
 * false if the statement is done with (rows emitted, no analysis to do).
 *
 * A statement on a relation the script renamed gets, in *stmtp, a copy of
 * itself that names the relation as the catalog does, for the rules.
 */
bool
mg_check_prerequisites(MGCheckState *st, Node **stmtp)
{
	Node	   *stmt = *stmtp;
	RangeVar   *rv;
	bool		missing_ok;
	bool		renamed;
	const char *written;
	Oid			relid;

	if (IsA(stmt, CreateStmt))
		return mg_check_create_parents(st, (CreateStmt *) stmt) &&
			mg_check_create_privilege(st, ((CreateStmt *) stmt)->relation);
	if (IsA(stmt, DropStmt) || IsA(stmt, TruncateStmt))
		return mg_check_relation_list(st, stmt);

	rv = mg_statement_relation(stmt, &missing_ok);
	if (rv == NULL)
		return true;
	if (mg_created_in_script(st, rv))
	{
		if (mg_is_relation_rename(stmt))
			mg_note_created_rv(st, makeRangeVar(rv->schemaname,
												((RenameStmt *) stmt)->newname, -1));
		mg_check_row(st, NULL, "ok", rv->relname, NULL, NoLock,
					 "works on a table created earlier in this script: new and empty, and invisible to other sessions until commit",
					 NULL);
		return false;
	}
	written = rv->relname;
	relid = mg_existing_relation(st, rv, &renamed);
	if (!OidIsValid(relid))
	{
		if (missing_ok)
			return true;
		mg_report_missing_relation(st, rv);
		return false;
	}
	if (renamed)
	{
		*stmtp = stmt = copyObject(stmt);
		rv = mg_statement_relation(stmt, &missing_ok);
		rv->schemaname = get_namespace_name(get_rel_namespace(relid));
		rv->relname = get_rel_name(relid);
	}
	if (!mg_check_lock(st, relid) || !mg_check_lock_inheritors(st, rv, relid))
		return false;
	if (!mg_relation_ownercheck(relid, GetUserId()))
		mg_check_row(st, "privilege", "error", mg_relation_name(relid), NULL, NoLock,
					 psprintf("must be owner of table \"%s\"", mg_relation_name(relid)),
					 psprintf("The role \"%s\" does not own it; only the owner (or a member of the owning role) may alter it.",
							  GetUserNameFromId(GetUserId(), false)));
	if (IsA(stmt, AlterTableStmt))
		return mg_check_alter_columns(st, (AlterTableStmt *) stmt, relid) &&
			mg_check_constraint_columns(st, (AlterTableStmt *) stmt, relid) &&
			mg_check_attach(st, (AlterTableStmt *) stmt, relid);
	if (IsA(stmt, IndexStmt))
		return mg_check_column_list(st, relid, ((IndexStmt *) stmt)->indexParams) &&
			mg_check_column_list(st, relid, ((IndexStmt *) stmt)->indexIncludingParams);
	if (IsA(stmt, RenameStmt) &&
		((RenameStmt *) stmt)->renameType == OBJECT_COLUMN)
		return mg_check_rename_column(st, (RenameStmt *) stmt, relid);
	if (mg_is_relation_rename(stmt))
		return mg_note_rename(st, relid, written, ((RenameStmt *) stmt)->newname);
	return true;
}

/* The script's own tables, columns and locked relations */
void
mg_check_create_hashes(MGCheckState *st)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(MGCreatedEntry);
	ctl.hcxt = st->cxt;
	st->created = hash_create("migration_guard check tables", 64, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	ctl.keysize = sizeof(MGColumnKey);
	ctl.entrysize = sizeof(MGColumnEntry);
	st->columns = hash_create("migration_guard check columns", 64, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(Oid);
	st->lock_failed = hash_create("migration_guard check locks", 16, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.entrysize = sizeof(MGGoneEntry);
	st->gone = hash_create("migration_guard check drops", 16, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(MGRenamedEntry);
	st->renamed = hash_create("migration_guard check renames", 16, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}
