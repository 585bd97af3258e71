/*-------------------------------------------------------------------------
 *
 * mg_permission.c
 *		Would PostgreSQL let the current role run this statement, and which
 *		relations would it process for the role?
 *
 * A statement is judged (and audited) only once the role would be allowed
 * to run it.  When PostgreSQL would refuse it for privileges, ownership or
 * a missing object, the guard makes no finding, writes no audit entry and
 * lets PostgreSQL raise its own error; otherwise a role could learn the
 * size of a table it cannot touch, and fill the audit trail with entries
 * naming it.  Multi-relation maintenance commands (VACUUM, CLUSTER and
 * REINDEX of a whole database or schema) silently skip the relations the
 * role may not process, and the guard skips them too.
 *
 * The role that matters is GetUserId() when the statement runs: what
 * PostgreSQL checks, so SET ROLE and SECURITY DEFINER functions are seen
 * as PostgreSQL sees them.  The checks follow PostgreSQL's own, per major:
 *
 * - ALTER TABLE and friends, CREATE INDEX: ownership of the relation
 *   (RangeVarCallbackForAlterRelation, RangeVarCallbackOwnsRelation), not a
 *   system catalog unless allow_system_table_mods; ATTACH PARTITION also
 *   ownership of the partition (ATSimplePermissions); a foreign key
 *   REFERENCES on the referenced table or its columns
 *   (checkFkeyPermissions); SET TABLESPACE and CREATE INDEX ... TABLESPACE
 *   CREATE on the tablespace; CREATE INDEX CREATE on the table's schema
 *   (DefineIndex).
 * - REINDEX TABLE/INDEX, CLUSTER, REFRESH MATERIALIZED VIEW: ownership up
 *   to 16, the MAINTAIN privilege (which the owner and pg_maintain have)
 *   from 17.  REINDEX SCHEMA/DATABASE/SYSTEM: ownership of the schema or
 *   database (17: or pg_maintain), then every relation but shared ones the
 *   role may not maintain (ReindexMultipleTables).
 * - VACUUM: MAINTAIN (ownership up to 16), or database ownership for a
 *   relation that is not shared (vacuum_is_relation_owner,
 *   vacuum_is_permitted_for_relation).
 * - ALTER TABLE ALL IN TABLESPACE: CREATE on the new tablespace; a
 *   relation the role does not own fails the whole statement
 *   (AlterTableMoveAll).
 * - ALTER DOMAIN: ownership of the domain (checkDomainOwner); CREATE TABLE
 *   ... PARTITION OF: ownership of the parent (MergeAttributes) and CREATE
 *   on the new table's schema.
 * - Missing objects: the relations named, the referenced table of a foreign
 *   key, the partition to attach, the tablespace, the domain, and CLUSTER's
 *   index (named, or the one previously clustered).
 *
 * Not reproduced: the ownership of inheritance children that some ALTER
 * TABLE subcommands check as they recurse (others do not, so requiring it
 * would let a role past the guard), and USAGE on a column's new type.
 *
 * Schema USAGE needs no check of its own: RangeVarGetRelidExtended() raises
 * PostgreSQL's error for a qualified name, and an unqualified one never
 * finds a relation in a schema without USAGE.  Superusers pass every check,
 * as in PostgreSQL.  Where a check is hard to reproduce exactly, it errs on
 * the side of judging: a role the guard wrongly takes for unprivileged
 * would get past it.
 *
 * Only DDL reaches this file (mg_analyze_locks() tells which statements the
 * rules apply to; mg_plan_ahead() asks only about those with lock targets),
 * and each check is a syscache lookup or two on names the rules resolve
 * anyway.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_permission.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/catalog.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_database.h"
#include "catalog/pg_index.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_tablespace.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/tablespace.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_type.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "migration_guard.h"
#include "mg_compat.h"

/*
 * Does the current role own an object with this owner?  What
 * object_ownercheck() decides, from an owner we already read.
 */
static bool
mg_role_owns(Oid ownerid)
{
	Oid			roleid = GetUserId();

	return superuser_arg(roleid) || has_privs_of_role(roleid, ownerid);
}

/*
 * Does the current role own the current database?
 */
static bool
mg_owns_database(void)
{
	HeapTuple	tp = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
	bool		result;

	if (!HeapTupleIsValid(tp))
		return false;
	result = mg_role_owns(((Form_pg_database) GETSTRUCT(tp))->datdba);
	ReleaseSysCache(tp);
	return result;
}

/*
 * May the current role use pg_maintain's rights (17+)?
 */
static bool
mg_has_pg_maintain(void)
{
#if MG_HAVE_MAINTAIN_PRIVILEGE
	return has_privs_of_role(GetUserId(), ROLE_PG_MAINTAIN);
#else
	return false;
#endif
}

/*
 * The MAINTAIN privilege on a relation (17+), which its owner, superusers
 * and members of pg_maintain have; before 17, ownership.
 */
static bool
mg_has_maintain(Oid relid, Form_pg_class cls)
{
#if MG_HAVE_MAINTAIN_PRIVILEGE
	bool		is_missing = false;

	return pg_class_aclcheck_ext(relid, GetUserId(), ACL_MAINTAIN,
								 &is_missing) == ACLCHECK_OK;
#else
	return mg_role_owns(cls->relowner);
#endif
}

/*
 * May the current role run a maintenance command of this kind on relid?
 * False also when the relation does not exist (any more).
 */
bool
mg_may_maintain(Oid relid, MGMaintenance kind)
{
	HeapTuple	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Form_pg_class cls;
	bool		result = false;

	if (!HeapTupleIsValid(tp))
		return false;
	cls = (Form_pg_class) GETSTRUCT(tp);
	switch (kind)
	{
		case MG_MAINTAIN_TABLE:
			result = mg_has_maintain(relid, cls);
			break;
		case MG_MAINTAIN_VACUUM:
			result = (!cls->relisshared && mg_owns_database()) ||
				mg_has_maintain(relid, cls);
			break;
		case MG_MAINTAIN_IN_SCHEMA:
			/* The schema or database owner was checked already. */
			result = !cls->relisshared || mg_has_maintain(relid, cls);
			break;
	}
	ReleaseSysCache(tp);
	return result;
}

/*
 * The relations of the list that the current role may process, in order.
 */
List *
mg_maintainable_relations(List *relids, MGMaintenance kind)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, relids)
	{
		if (mg_may_maintain(lfirst_oid(lc), kind))
			result = lappend_oid(result, lfirst_oid(lc));
	}
	return result;
}

/*
 * May the current role alter relid, as ALTER TABLE and CREATE INDEX check
 * it?  Ownership, and no system catalog unless allow_system_table_mods.
 */
static bool
mg_may_alter(Oid relid)
{
	HeapTuple	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Form_pg_class cls;
	bool		result;

	if (!HeapTupleIsValid(tp))
		return false;
	cls = (Form_pg_class) GETSTRUCT(tp);
	result = mg_role_owns(cls->relowner) &&
		(allowSystemTableMods || !IsSystemClass(relid, cls));
	ReleaseSysCache(tp);
	return result;
}

/*
 * Does the current role own relid?  False if it does not exist.
 */
bool
mg_owns_relation(Oid relid)
{
	HeapTuple	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	bool		result;

	if (!HeapTupleIsValid(tp))
		return false;
	result = mg_role_owns(((Form_pg_class) GETSTRUCT(tp))->relowner);
	ReleaseSysCache(tp);
	return result;
}

/* The relation a name denotes for the current role, or InvalidOid */
static Oid
mg_lookup(RangeVar *rv)
{
	if (rv == NULL)
		return InvalidOid;
	return RangeVarGetRelidExtended(rv, NoLock, RVR_MISSING_OK, NULL, NULL);
}

/*
 * CREATE on a tablespace, which PostgreSQL does not ask for the database's
 * default one.  False if it does not exist.
 */
static bool
mg_may_create_in_tablespace(const char *spcname)
{
	Oid			spcoid;

	if (spcname == NULL)
		return true;
	spcoid = get_tablespace_oid(spcname, true);
	if (!OidIsValid(spcoid))
		return false;
	return spcoid == MyDatabaseTableSpace ||
		mg_tablespace_create_aclcheck(spcoid, GetUserId()) == ACLCHECK_OK;
}

/*
 * A foreign key needs REFERENCES on the referenced table, or on each
 * referenced column.  Without a column list the primary key is referenced;
 * then any column granted counts, which can only judge more.
 */
static bool
mg_may_reference(Constraint *con)
{
	Oid			pkrelid = mg_lookup(con->pktable);
	Oid			roleid = GetUserId();
	ListCell   *lc;

	if (!OidIsValid(pkrelid))
		return false;
	if (pg_class_aclcheck(pkrelid, roleid, ACL_REFERENCES) == ACLCHECK_OK)
		return true;
	if (con->pk_attrs == NIL)
		return pg_attribute_aclcheck_all(pkrelid, roleid, ACL_REFERENCES,
										 ACLMASK_ANY) == ACLCHECK_OK;
	foreach(lc, con->pk_attrs)
	{
		AttrNumber	attnum = get_attnum(pkrelid, strVal(lfirst(lc)));

		if (attnum == InvalidAttrNumber ||
			pg_attribute_aclcheck(pkrelid, attnum, roleid,
								  ACL_REFERENCES) != ACLCHECK_OK)
			return false;
	}
	return true;
}

/* Is con a foreign key the role may not create? */
static bool
mg_foreign_key_denied(Node *node)
{
	Constraint *con;

	if (node == NULL || !IsA(node, Constraint))
		return false;
	con = (Constraint *) node;
	return con->contype == CONSTR_FOREIGN && !mg_may_reference(con);
}

/*
 * ALTER TABLE, ALTER INDEX, ALTER MATERIALIZED VIEW, ALTER TYPE.
 */
static bool
mg_alter_table_permitted(AlterTableStmt *stmt)
{
	Oid			relid = mg_lookup(stmt->relation);
	ListCell   *lc;

	if (!OidIsValid(relid) || !mg_may_alter(relid))
		return false;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (MG_AT_IS_ADD_CONSTRAINT(cmd->subtype) && mg_foreign_key_denied(cmd->def))
			return false;
		if (MG_AT_IS_ADD_COLUMN(cmd->subtype) && cmd->def != NULL &&
			IsA(cmd->def, ColumnDef))
		{
			ListCell   *lcc;

			foreach(lcc, ((ColumnDef *) cmd->def)->constraints)
			{
				if (mg_foreign_key_denied(lfirst(lcc)))
					return false;
			}
		}
		/* ALTER INDEX ... ATTACH PARTITION does not check the index's owner. */
		if (cmd->subtype == AT_AttachPartition && stmt->objtype == OBJECT_TABLE &&
			cmd->def != NULL && IsA(cmd->def, PartitionCmd))
		{
			Oid			partoid = mg_lookup(((PartitionCmd *) cmd->def)->name);

			if (!OidIsValid(partoid) || !mg_may_alter(partoid))
				return false;
		}
		if (cmd->subtype == AT_SetTableSpace &&
			!mg_may_create_in_tablespace(cmd->name))
			return false;
	}
	return true;
}

/*
 * CREATE INDEX: ownership of the table, CREATE on its schema and on the
 * tablespace (DefineIndex).
 */
static bool
mg_create_index_permitted(IndexStmt *stmt)
{
	Oid			relid = mg_lookup(stmt->relation);

	if (!OidIsValid(relid) || !mg_may_alter(relid))
		return false;
	if (mg_namespace_create_aclcheck(get_rel_namespace(relid), GetUserId()) != ACLCHECK_OK)
		return false;
	return mg_may_create_in_tablespace(stmt->tableSpace);
}

/*
 * REINDEX.  The relations of REINDEX SCHEMA, DATABASE and SYSTEM are
 * filtered by the rule with MG_MAINTAIN_IN_SCHEMA.
 */
static bool
mg_reindex_permitted(ReindexStmt *stmt)
{
	Oid			relid;

	switch (stmt->kind)
	{
		case REINDEX_OBJECT_INDEX:
			relid = mg_lookup(stmt->relation);
			if (!OidIsValid(relid))
				return false;
#if MG_HAVE_MAINTAIN_PRIVILEGE
			/* 17+: MAINTAIN on the index's table */
			relid = IndexGetRelation(relid, true);
			return OidIsValid(relid) && mg_may_maintain(relid, MG_MAINTAIN_TABLE);
#else
			/* Up to 16: ownership of the index (the table's owner) */
			return mg_may_maintain(relid, MG_MAINTAIN_TABLE);
#endif
		case REINDEX_OBJECT_TABLE:
			relid = mg_lookup(stmt->relation);
			return OidIsValid(relid) && mg_may_maintain(relid, MG_MAINTAIN_TABLE);
		case REINDEX_OBJECT_SCHEMA:
			{
				Oid			nspoid = get_namespace_oid(stmt->name, true);
				HeapTuple	tp;
				bool		owns;

				if (!OidIsValid(nspoid))
					return false;
				tp = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspoid));
				if (!HeapTupleIsValid(tp))
					return false;
				owns = mg_role_owns(((Form_pg_namespace) GETSTRUCT(tp))->nspowner);
				ReleaseSysCache(tp);
				return owns || mg_has_pg_maintain();
			}
		case REINDEX_OBJECT_SYSTEM:
		case REINDEX_OBJECT_DATABASE:
			{
				char	   *dbname = get_database_name(MyDatabaseId);

				/* Only the current database can be reindexed. */
				if (stmt->name != NULL &&
					(dbname == NULL || strcmp(stmt->name, dbname) != 0))
					return false;
				return mg_owns_database() || mg_has_pg_maintain();
			}
	}
	return true;
}

/*
 * CLUSTER (REPACK from 19) of one table, and REFRESH MATERIALIZED VIEW;
 * without a table, the rule skips the tables the role may not maintain.
 */
static bool
mg_copy_table_permitted(RangeVar *relation)
{
	Oid			relid;

	if (relation == NULL)
		return true;
	relid = mg_lookup(relation);
	return OidIsValid(relid) && mg_may_maintain(relid, MG_MAINTAIN_TABLE);
}

/*
 * Does the table have a clustered index?  CLUSTER without USING needs one.
 */
static bool
mg_has_clustered_index(Oid relid)
{
	Relation	rel = mg_open_relation(relid);
	List	   *indexes;
	ListCell   *lc;
	bool		found = false;

	if (rel == NULL)
		return false;
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		HeapTuple	tp = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));

		if (!HeapTupleIsValid(tp))
			continue;
		found = ((Form_pg_index) GETSTRUCT(tp))->indisclustered;
		ReleaseSysCache(tp);
		if (found)
			break;
	}
	list_free(indexes);
	mg_close_relation(rel);
	return found;
}

#if !MG_HAVE_REPACK
/*
 * CLUSTER table [USING index]: also a missing index is PostgreSQL's error.
 */
static bool
mg_cluster_permitted(ClusterStmt *stmt)
{
	Oid			relid;

	if (!mg_copy_table_permitted(stmt->relation))
		return false;
	if (stmt->relation == NULL)
		return true;
	relid = mg_lookup(stmt->relation);
	if (stmt->indexname != NULL)
		return OidIsValid(get_relname_relid(stmt->indexname,
											get_rel_namespace(relid)));
	return mg_has_clustered_index(relid);
}
#else
/*
 * REPACK, and CLUSTER and VACUUM FULL as 19 parses them: a missing index, or
 * CLUSTER without USING on a table without a clustered index, is
 * PostgreSQL's error.
 */
static bool
mg_repack_permitted(RepackStmt *stmt)
{
	RangeVar   *rv = stmt->relation ? stmt->relation->relation : NULL;
	Oid			relid;

	if (!mg_copy_table_permitted(rv))
		return false;
	if (rv == NULL)
		return true;
	relid = mg_lookup(rv);
	if (stmt->indexname != NULL)
		return OidIsValid(get_relname_relid(stmt->indexname,
											get_rel_namespace(relid)));
	if (stmt->command == REPACK_COMMAND_CLUSTER || stmt->usingindex)
		return mg_has_clustered_index(relid);
	return true;
}
#endif

/*
 * VACUUM: a relation that does not exist is an error; one the role may not
 * vacuum is skipped (with a WARNING), which the rule does too.
 */
static bool
mg_vacuum_permitted(VacuumStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->rels)
	{
		VacuumRelation *vrel = lfirst_node(VacuumRelation, lc);

		if (!OidIsValid(vrel->oid) && !OidIsValid(mg_lookup(vrel->relation)))
			return false;
	}
	return true;
}

/*
 * ALTER DOMAIN: ownership of the domain.
 */
static bool
mg_alter_domain_permitted(AlterDomainStmt *stmt)
{
	Oid			typid = LookupTypeNameOid(NULL, makeTypeNameFromNameList(stmt->typeName),
										  true);
	HeapTuple	tp;
	bool		result;

	if (!OidIsValid(typid))
		return false;
	tp = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (!HeapTupleIsValid(tp))
		return false;
	result = ((Form_pg_type) GETSTRUCT(tp))->typtype == TYPTYPE_DOMAIN &&
		mg_role_owns(((Form_pg_type) GETSTRUCT(tp))->typowner);
	ReleaseSysCache(tp);
	return result;
}

/*
 * CREATE TABLE ... PARTITION OF: ownership of the parent, CREATE on the
 * schema of the new table.  (IF NOT EXISTS of an existing table is not
 * refused, but it does nothing either.)
 */
static bool
mg_create_partition_permitted(CreateStmt *stmt)
{
	Oid			parentoid;
	Oid			nspoid;

	if (list_length(stmt->inhRelations) != 1)
		return true;			/* PostgreSQL rejects it; the rule ignores it */
	if (stmt->relation->relpersistence == RELPERSISTENCE_TEMP)
		return true;			/* exempt anyway; and no temp schema is made here */
	parentoid = mg_lookup(linitial_node(RangeVar, stmt->inhRelations));
	if (!OidIsValid(parentoid) || !mg_may_alter(parentoid))
		return false;
	nspoid = RangeVarGetCreationNamespace(stmt->relation);
	if (mg_namespace_create_aclcheck(nspoid, GetUserId()) != ACLCHECK_OK)
		return false;
	/* IF NOT EXISTS on an existing relation does nothing. */
	return !(stmt->if_not_exists &&
			 OidIsValid(get_relname_relid(stmt->relation->relname, nspoid)));
}

/*
 * COPY table TO / FROM: DoCopy() checks the server-file privileges first,
 * then SELECT (TO) or INSERT (FROM) on the table or on the listed columns.
 * COPY (query) has its query checked by the executor.
 */
static bool
mg_copy_permitted(CopyStmt *stmt)
{
	Oid			roleid = GetUserId();
	AclMode		mode = stmt->is_from ? ACL_INSERT : ACL_SELECT;
	Oid			relid;
	ListCell   *lc;

	if (stmt->relation == NULL)
		return true;
	if (stmt->filename != NULL &&
		!has_privs_of_role(roleid, stmt->is_program ? ROLE_PG_EXECUTE_SERVER_PROGRAM :
						   stmt->is_from ? ROLE_PG_READ_SERVER_FILES :
						   ROLE_PG_WRITE_SERVER_FILES))
		return false;
	relid = mg_lookup(stmt->relation);
	if (!OidIsValid(relid))
		return false;
	if (pg_class_aclcheck(relid, roleid, mode) == ACLCHECK_OK)
		return true;
	if (stmt->attlist == NIL)
		return pg_attribute_aclcheck_all(relid, roleid, mode, ACLMASK_ALL) == ACLCHECK_OK;
	foreach(lc, stmt->attlist)
	{
		AttrNumber	attnum = get_attnum(relid, strVal(lfirst(lc)));

		if (attnum == InvalidAttrNumber ||
			pg_attribute_aclcheck(relid, attnum, roleid, mode) != ACLCHECK_OK)
			return false;
	}
	return true;
}

/*
 * Would PostgreSQL let the current role run this statement, as far as
 * privileges, ownership and the existence of its objects go?  Called
 * before any rule looks at the statement.
 */
bool
mg_statement_permitted(Node *stmt)
{
	switch (nodeTag(stmt))
	{
		case T_AlterTableStmt:
			return mg_alter_table_permitted((AlterTableStmt *) stmt);
		case T_IndexStmt:
			return mg_create_index_permitted((IndexStmt *) stmt);
		case T_ReindexStmt:
			return mg_reindex_permitted((ReindexStmt *) stmt);
		case T_VacuumStmt:
			return mg_vacuum_permitted((VacuumStmt *) stmt);
#if MG_HAVE_REPACK
		case T_RepackStmt:
			return mg_repack_permitted((RepackStmt *) stmt);
#else
		case T_ClusterStmt:
			return mg_cluster_permitted((ClusterStmt *) stmt);
#endif
		case T_RefreshMatViewStmt:
			return mg_copy_table_permitted(((RefreshMatViewStmt *) stmt)->relation);
		case T_AlterTableMoveAllStmt:
			return mg_may_create_in_tablespace(((AlterTableMoveAllStmt *) stmt)->new_tablespacename);
		case T_AlterDomainStmt:
			return mg_alter_domain_permitted((AlterDomainStmt *) stmt);
		case T_CreateStmt:
			return mg_create_partition_permitted((CreateStmt *) stmt);
		case T_CopyStmt:
			return mg_copy_permitted((CopyStmt *) stmt);
		default:
			return true;
	}
}
