-- A typical migration, as an ORM would generate it.  Each statement is
-- instant on a laptop; on the 1,000,000-row orders table each one would
-- block writes (or all access) for the length of a full pass over it.
\set ON_ERROR_STOP off
\set VERBOSITY default
\timing on
\echo '--- 1. a new column with a volatile default'
ALTER TABLE orders ADD COLUMN tracking_id uuid DEFAULT gen_random_uuid();
\echo '--- 2. a new index'
CREATE INDEX orders_customer_idx ON orders (customer_id);
\echo '--- 3. a foreign key'
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk
    FOREIGN KEY (customer_id) REFERENCES customers (id);
\echo '--- 4. a NOT NULL'
ALTER TABLE orders ALTER COLUMN status SET NOT NULL;
\echo '--- 5. widening an integer'
ALTER TABLE orders ALTER COLUMN quantity TYPE bigint;
