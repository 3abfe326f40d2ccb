-- landing.apply_landed_events: the statement-level AFTER INSERT trigger of the four landing tables
-- the engine applies. Keeps design.md's "Performance principles" and promise 8: it records the ids
-- of the rows each INSERT landed (its transition table) in ops.landed_in_transaction, and
-- ops.apply_landed_at_commit applies all of a transaction's rows of one table as one batch when the
-- transaction commits. Until then the sink's transaction only appends. It never raises for bad
-- data: a raise would stop the sink.
CREATE OR REPLACE FUNCTION landing.apply_landed_events()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Only the transaction's first INSERT into a table inserts the row (and queues the apply at
    -- commit); the next ones append to it.
    EXECUTE $sql$
        INSERT INTO ops.landed_in_transaction AS p (landing_table, landing_ids)
        SELECT $1, array_agg(n.landing_id) FROM new_rows n
        HAVING count(*) > 0
        ON CONFLICT (txid, landing_table) DO UPDATE SET landing_ids = p.landing_ids || EXCLUDED.landing_ids
    $sql$ USING TG_TABLE_NAME;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER apply_landed_events AFTER INSERT ON landing.customers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION landing.apply_landed_events();
CREATE OR REPLACE TRIGGER apply_landed_events AFTER INSERT ON landing.products
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION landing.apply_landed_events();
CREATE OR REPLACE TRIGGER apply_landed_events AFTER INSERT ON landing.orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION landing.apply_landed_events();
CREATE OR REPLACE TRIGGER apply_landed_events AFTER INSERT ON landing.order_items
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION landing.apply_landed_events();
