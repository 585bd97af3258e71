/*-------------------------------------------------------------------------
 *
 * mg_compat.h
 *		Every PostgreSQL version difference migration_guard cares about.
 *
 * The rest of the code is written against the newest API and uses the names
 * defined here; no other file tests PG_VERSION_NUM.  Supported: 14 to 19.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MG_COMPAT_H
#define MG_COMPAT_H

#include "postgres.h"

#include "common/relpath.h"
#include "nodes/parsenodes.h"
#include "storage/lock.h"
#include "storage/proc.h"
#if PG_VERSION_NUM >= 160000
#include "storage/relfilelocator.h"
#else
#include "storage/relfilenode.h"
#endif

#if PG_VERSION_NUM < 140000
#error "migration_guard requires PostgreSQL 14 or later"
#endif

#define MG_PG15_GTE (PG_VERSION_NUM >= 150000)
#define MG_PG16_GTE (PG_VERSION_NUM >= 160000)
#define MG_PG17_GTE (PG_VERSION_NUM >= 170000)
#define MG_PG18_GTE (PG_VERSION_NUM >= 180000)
#define MG_PG19_GTE (PG_VERSION_NUM >= 190000)

/* 19 replaced ClusterStmt by RepackStmt (REPACK, CLUSTER, VACUUM FULL). */
#define MG_HAVE_REPACK MG_PG19_GTE

/* get_qual_from_partbound lost its unused first argument in 15. */
#if MG_PG15_GTE
#define mg_get_qual_from_partbound(parent, spec) get_qual_from_partbound(parent, spec)
#else
#define mg_get_qual_from_partbound(parent, spec) get_qual_from_partbound(parent, parent, spec)
#endif

/* GUC prefix reservation got its current name in 15. */
#if !MG_PG15_GTE
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/* Materialized set-returning functions: InitMaterializedSRF is 15.1+. */
#if !MG_PG15_GTE
#define InitMaterializedSRF(fcinfo, flags) SetSingleFuncCall(fcinfo, flags)
#endif

/*
 * ALTER TABLE subcommands.  Up to 15 the parser produced separate *Recurse
 * variants; 16 removed them.  The MG_AT_IS_* predicates hide that.
 */
#if MG_PG16_GTE
#define MG_AT_IS_ADD_COLUMN(t)		((t) == AT_AddColumn)
#define MG_AT_IS_ADD_CONSTRAINT(t)	((t) == AT_AddConstraint)
#else
#define MG_AT_IS_ADD_COLUMN(t)		((t) == AT_AddColumn || (t) == AT_AddColumnRecurse)
#define MG_AT_IS_ADD_CONSTRAINT(t)	((t) == AT_AddConstraint || (t) == AT_AddConstraintRecurse)
#endif

/* SET ACCESS METHOD on tables exists from 15, SET EXPRESSION from 17. */
#define MG_HAVE_AT_SET_ACCESS_METHOD MG_PG15_GTE
#define MG_HAVE_AT_SET_EXPRESSION MG_PG17_GTE

/*
 * NOT ENFORCED constraints and virtual generated columns are 18+.  A column
 * constraint's NOT ENFORCED arrives as a separate CONSTR_ATTR_NOT_ENFORCED
 * node after it in the raw tree.
 */
#if MG_PG18_GTE
#define MG_CONSTR_IS_ATTR_NOT_ENFORCED(con) ((con)->contype == CONSTR_ATTR_NOT_ENFORCED)
#else
#define MG_CONSTR_IS_ATTR_NOT_ENFORCED(con) (false)
#endif

#if MG_PG18_GTE
#define MG_CONSTRAINT_IS_ENFORCED(con) ((con)->is_enforced)
#define MG_GENERATED_IS_VIRTUAL(con) \
	((con)->generated_kind == ATTRIBUTE_GENERATED_VIRTUAL)
#define MG_ATTRIBUTE_IS_VIRTUAL(att) \
	((att)->attgenerated == ATTRIBUTE_GENERATED_VIRTUAL)
#else
#define MG_CONSTRAINT_IS_ENFORCED(con) (true)
#define MG_GENERATED_IS_VIRTUAL(con) (false)
#define MG_ATTRIBUTE_IS_VIRTUAL(att) (false)
#endif

/* pg_constraint.conenforced is 18+; before, every constraint is enforced. */
#if MG_PG18_GTE
#define MG_CONFORM_IS_ENFORCED(conform) ((conform)->conenforced)
#else
#define MG_CONFORM_IS_ENFORCED(conform) (true)
#endif

/* GUC "extra" data: guc_malloc()/guc_free() from 16, plain malloc before. */
#if MG_PG16_GTE
#define mg_guc_malloc(size) guc_malloc(LOG, size)
#define mg_guc_free(ptr) guc_free(ptr)
#else
#define mg_guc_malloc(size) malloc(size)
#define mg_guc_free(ptr) free(ptr)
#endif

/*
 * Ownership and ACL checks became object_*() in 16, which name the catalog:
 * include the catalogs here, so that every user of a shim compiles on every
 * major.
 */
#if MG_PG16_GTE
#include "catalog/pg_class.h"
#include "catalog/pg_database.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_tablespace.h"
#include "catalog/pg_type.h"
#include "utils/acl.h"
#define mg_relation_ownercheck(relid, roleid) \
	object_ownercheck(RelationRelationId, relid, roleid)
#define mg_type_ownercheck(typid, roleid) \
	object_ownercheck(TypeRelationId, typid, roleid)
#define mg_database_ownercheck(dboid, roleid) \
	object_ownercheck(DatabaseRelationId, dboid, roleid)
#define mg_namespace_create_aclcheck(nspid, roleid) \
	object_aclcheck(NamespaceRelationId, nspid, roleid, ACL_CREATE)
#define mg_namespace_usage_aclcheck(nspid, roleid) \
	object_aclcheck(NamespaceRelationId, nspid, roleid, ACL_USAGE)
#define mg_type_usage_aclcheck(typid, roleid) \
	object_aclcheck(TypeRelationId, typid, roleid, ACL_USAGE)
#else
#define mg_relation_ownercheck(relid, roleid) pg_class_ownercheck(relid, roleid)
#define mg_type_ownercheck(typid, roleid) pg_type_ownercheck(typid, roleid)
#define mg_database_ownercheck(dboid, roleid) pg_database_ownercheck(dboid, roleid)
#define mg_namespace_create_aclcheck(nspid, roleid) \
	pg_namespace_aclcheck(nspid, roleid, ACL_CREATE)
#define mg_namespace_usage_aclcheck(nspid, roleid) \
	pg_namespace_aclcheck(nspid, roleid, ACL_USAGE)
#define mg_type_usage_aclcheck(typid, roleid) \
	pg_type_aclcheck(typid, roleid, ACL_USAGE)
#endif
#if MG_PG16_GTE
#define mg_tablespace_create_aclcheck(spcid, roleid) \
	object_aclcheck(TableSpaceRelationId, spcid, roleid, ACL_CREATE)
#else
#define mg_tablespace_create_aclcheck(spcid, roleid) \
	pg_tablespace_aclcheck(spcid, roleid, ACL_CREATE)
#endif

/*
 * The MAINTAIN privilege and pg_maintain (17+) replaced ownership as what
 * VACUUM, CLUSTER, REINDEX and REFRESH MATERIALIZED VIEW check.
 */
#define MG_HAVE_MAINTAIN_PRIVILEGE MG_PG17_GTE

/* REINDEX DATABASE leaves the system catalogs to REINDEX SYSTEM from 16. */
#define MG_REINDEX_DATABASE_SKIPS_CATALOGS MG_PG16_GTE

/* DomainHasConstraints gained a "has volatile" output argument in 19. */
#if MG_PG19_GTE
#define mg_domain_has_constraints(typid) DomainHasConstraints(typid, NULL)
#else
#define mg_domain_has_constraints(typid) DomainHasConstraints(typid)
#endif

/*
 * Input functions can report bad input softly (ErrorSaveContext,
 * InputFunctionCallSafe) from 16; before, they can only raise an error.
 */
#define MG_HAVE_SOFT_INPUT MG_PG16_GTE

/* ATTACH PARTITION rejects a table with an identity column from 17. */
#define MG_ATTACH_REJECTS_IDENTITY MG_PG17_GTE

/*
 * ADD COLUMN of a domain type whose constraints are all non-volatile checked
 * the default once and stored it without a rewrite in the development branch
 * for 19 (a0b6ef29a5), but that was reverted before 19beta2 (a0354e29c4, on
 * REL_19_STABLE): every major up to 19 rewrites, so the guard predicts the
 * rewrite.  Set to 1 for a major that ships the feature again.
 */
#define MG_DOMAIN_FAST_DEFAULT 0

/*
 * ALTER DOMAIN ... VALIDATE CONSTRAINT on a constraint that is already
 * validated returns at once from 19 (a99c6b56ff); before, it checks every
 * value again.  It takes SHARE lock on each table in every major: 19's
 * SHARE UPDATE EXCLUSIVE (16a0039dc0) was reverted on REL_19_STABLE
 * (64797ad97d).
 */
#define MG_DOMAIN_VALIDATE_SKIPS_VALID MG_PG19_GTE

/*
 * Not-null constraints of tables can be NOT VALID from 18: pg_attribute's
 * attnotnull is then set although no row was checked, and only the
 * relcache's attnullability says whether the constraint is valid.
 */
#define MG_HAVE_NOT_VALID_NOT_NULL MG_PG18_GTE
#if MG_HAVE_NOT_VALID_NOT_NULL
#define mg_attr_has_valid_not_null(tupdesc, i) \
	(TupleDescCompactAttr((tupdesc), (i))->attnullability == ATTNULLABLE_VALID)
#else
#define mg_attr_has_valid_not_null(tupdesc, i) (TupleDescAttr((tupdesc), (i))->attnotnull)
#endif

/*
 * ALTER TABLE ... ALTER CONSTRAINT ... ENFORCED (an ATAlterConstraint node)
 * validates a foreign key from 18 and a CHECK constraint from 19.
 */
#define MG_HAVE_ALTER_CONSTRAINT_ENFORCED MG_PG18_GTE
#define MG_ALTER_CHECK_ENFORCEABILITY MG_PG19_GTE

/* Backend status entries by 1-based index: renamed in 17. */
#if MG_PG17_GTE
#define mg_local_beentry_by_index(i) pgstat_get_local_beentry_by_index(i)
#else
#define mg_local_beentry_by_index(i) pgstat_fetch_stat_local_beentry(i)
#endif

/* LockHeldByMe gained an "or stronger" argument in 17. */
static inline bool
mg_lock_held_by_me(const LOCKTAG *tag, LOCKMODE mode)
{
#if MG_PG17_GTE
	return LockHeldByMe(tag, mode, false);
#else
	return LockHeldByMe(tag, mode);
#endif
}

/* Repeating timeouts (enable_timeout_every) are 15+; on 14 ours fires once. */
#if MG_PG15_GTE
#define mg_enable_timeout_every(id, fin, ms) enable_timeout_every(id, fin, ms)
#else
#define mg_enable_timeout_every(id, fin, ms) enable_timeout_at(id, fin)
#endif

/*
 * Path of the main fork of a permanent relation, palloc'd.  RelFileNode
 * became RelFileLocator in 16, and relpath() returns a struct from 18.
 */
static inline char *
mg_relation_path(Oid spcoid, Oid dboid, Oid filenode, ForkNumber fork)
{
#if MG_PG16_GTE
	RelFileLocator loc;

	loc.spcOid = spcoid;
	loc.dbOid = dboid;
	loc.relNumber = filenode;
#if MG_PG18_GTE
	return pstrdup(relpathperm(loc, fork).str);
#else
	return relpathperm(loc, fork);
#endif
#else
	RelFileNode loc;

	loc.spcNode = spcoid;
	loc.dbNode = dboid;
	loc.relNode = filenode;
	return relpathperm(loc, fork);
#endif
}

/* PG_MODULE_MAGIC_EXT (name and version in pg_get_loaded_modules) is 18+. */
#if MG_PG18_GTE
#define MG_MODULE_MAGIC PG_MODULE_MAGIC_EXT(.name = "migration_guard", .version = MG_VERSION)
#else
#define MG_MODULE_MAGIC PG_MODULE_MAGIC
#endif

/*
 * An autovacuum worker preventing wraparound is marked by a status flag
 * where the major has it; otherwise only its activity text says so.
 */
#ifdef PROC_VACUUM_FOR_WRAPAROUND
#define MG_HAVE_WRAPAROUND_FLAG 1
#else
#define MG_HAVE_WRAPAROUND_FLAG 0
#endif

/*
 * A random integer in [lo, hi]: pg_prng from 15; 14 has random().  And
 * dropping the backend status snapshot alone is 15+ (14: all of it).
 */
#if MG_PG15_GTE
#include "common/pg_prng.h"
#define mg_random_range(lo, hi) pg_prng_uint64_range(&pg_global_prng_state, (lo), (hi))
#define mg_clear_backend_status_snapshot() pgstat_clear_backend_activity_snapshot()
#else
#define mg_random_range(lo, hi) ((uint64) (lo) + (uint64) random() % ((uint64) (hi) - (uint64) (lo) + 1))
#define mg_clear_backend_status_snapshot() pgstat_clear_snapshot()
#endif

/*
 * A replication slot that no longer retains WAL.  On 15 invalidation clears
 * restart_lsn, which the caller tests anyway; from 16 the slot records a
 * cause (and keeps restart_lsn for some of them).
 */
#if MG_PG16_GTE
#define MG_SLOT_INVALIDATED(slot) ((slot)->data.invalidated != RS_INVAL_NONE)
#else
#define MG_SLOT_INVALIDATED(slot) (false)
#endif

#endif							/* MG_COMPAT_H */
