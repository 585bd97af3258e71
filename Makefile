# migration_guard/Makefile

MODULE_big = migration_guard
OBJS = \
	$(WIN32RES) \
	src/migration_guard.o \
	src/mg_analyze.o \
	src/mg_audit.o \
	src/mg_audit_copy.o \
	src/mg_audit_file.o \
	src/mg_audit_sql.o \
	src/mg_check.o \
	src/mg_check_catalog.o \
	src/mg_check_rows.o \
	src/mg_check_xact.o \
	src/mg_executor.o \
	src/mg_encoding.o \
	src/mg_exempt.o \
	src/mg_lock_hold.o \
	src/mg_lock_acquire.o \
	src/mg_lock_timeout.o \
	src/mg_names.o \
	src/mg_partition_bound.o \
	src/mg_permission.o \
	src/mg_policy.o \
	src/mg_relation.o \
	src/mg_replica.o \
	src/mg_rules_alter_table.o \
	src/mg_rules_column.o \
	src/mg_rules_constraint.o \
	src/mg_rules_copy.o \
	src/mg_rules_foreign_key.o \
	src/mg_rules_index.o \
	src/mg_rules_lock_only.o \
	src/mg_rules_maintenance.o \
	src/mg_rules_partition.o \
	src/mg_rules_validate.o \
	src/mg_size.o \
	src/mg_sql.o \
	src/mg_statement.o \
	src/mg_utility.o \
	src/mg_window.o

EXTENSION = migration_guard
EXTVERSION = $(shell grep default_version $(EXTENSION).control | sed -e "s/default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/")
DATA = migration_guard--1.0.sql migration_guard--1.0--1.1.sql
PGFILEDESC = "migration_guard - reject long-lock DDL on big tables"

PG_CPPFLAGS = -DMG_VERSION=\"$(EXTVERSION)\"

# Tests run on a throwaway server that pg_regress starts with the guard
# preloaded (see migration_guard.conf); test/run-tests.sh drives them.
REGRESS = setup add_column alter_type constraints foreign_keys indexes partitions \
	maintenance nested security guc size estimate lock_timeout audit check agree \
	privileges extension_objects strict_input oldextversions leftovers \
	backfill held_lock check_xact version_specific replica database_copy \
	audit_replicated
REGRESS_OPTS = --temp-instance=./tmp_regress --temp-config=$(srcdir)/migration_guard.conf
ISOLATION = lock_wait blocker_report lock_hold known_blockers no_queue_deadlock
ISOLATION_OPTS = --temp-instance=./tmp_isolation --temp-config=$(srcdir)/migration_guard.conf
TAP_TESTS = 1

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
