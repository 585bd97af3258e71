-- The same migration, written the safe way.  Nothing here blocks writes
-- for longer than a catalog update.
\set ON_ERROR_STOP on
\set VERBOSITY default
\timing on
\echo '--- 1. add the column without a volatile default, backfill in batches, then set the default'
ALTER TABLE orders ADD COLUMN tracking_id uuid;
UPDATE orders SET tracking_id = gen_random_uuid() WHERE id <= 10000;   -- first batch of many
ALTER TABLE orders ALTER COLUMN tracking_id SET DEFAULT gen_random_uuid();
\echo '--- 2. build the index concurrently'
CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);
\echo '--- 3. add the foreign key NOT VALID, then validate it (no write lock)'
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk
    FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk;
\echo '--- 4. prove NOT NULL with a validated CHECK first'
ALTER TABLE orders ADD CONSTRAINT orders_status_nn CHECK (status IS NOT NULL) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_status_nn;
ALTER TABLE orders ALTER COLUMN status SET NOT NULL;
ALTER TABLE orders DROP CONSTRAINT orders_status_nn;
\echo '--- 5. a new bigint column, filled in batches (then swapped in one short transaction)'
ALTER TABLE orders ADD COLUMN quantity_big bigint;
UPDATE orders SET quantity_big = quantity WHERE id <= 10000;           -- first batch of many
