--
-- Shared fixtures for the regression tests.
--
CREATE EXTENSION migration_guard;
SELECT migration_guard.preloaded();

-- The "big" tables of the tests have 20000 rows; a lower threshold for this
-- database makes them count as big without slowing the suite down (size.sql
-- tests the defaults on a table of 2 million rows).
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET migration_guard.row_threshold = 10000',
                   current_database());
END
$$;

-- mg_modes(statement): the outcome of a statement under each mode, each in
-- a subtransaction that is rolled back.  A rejection is reported by its
-- SQLSTATE and message; a warning shows up as a WARNING line.
CREATE FUNCTION mg_modes(stmt text)
RETURNS TABLE (mode text, outcome text)
LANGUAGE plpgsql AS $$
DECLARE
    m text;
BEGIN
    FOREACH m IN ARRAY ARRAY['enforce', 'warn', 'off'] LOOP
        mode := m;
        BEGIN
            PERFORM set_config('migration_guard.mode', m, true);
            EXECUTE stmt;
            RAISE EXCEPTION USING ERRCODE = 'P0099', MESSAGE = 'undo';
        EXCEPTION
            WHEN SQLSTATE 'P0099' THEN
                outcome := 'ran';
            WHEN SQLSTATE 'MG001' THEN
                outcome := 'rejected: ' || SQLERRM;
        END;
        RETURN NEXT;
    END LOOP;
END
$$;

-- mg_big(name): a plain table of 20000 rows, analyzed.
CREATE FUNCTION mg_big(name text, nrows int DEFAULT 20000)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE %I (id int NOT NULL, v text, n numeric(10,2), vc varchar(10), ts timestamp)', name);
    EXECUTE format('INSERT INTO %I SELECT g, ''v'' || g, g, ''x'', ''2026-01-01''::timestamp + g * interval ''1 minute'' FROM generate_series(1, %s) g', name, nrows);
    EXECUTE format('ANALYZE %I', name);
END
$$;
