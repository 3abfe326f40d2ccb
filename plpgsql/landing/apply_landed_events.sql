-- landing.apply_landed_events: the statement-level AFTER INSERT trigger of the four landing tables
-- the engine applies. Keeps design.md's "Performance principles" and promise 8: it sees the sink's
-- whole batch at once (the transition table) and hands it to ops.apply_landed in one call, which
-- quarantines bad events and applies the rest. It never raises for bad data: a raise would stop
-- the sink.
CREATE OR REPLACE FUNCTION landing.apply_landed_events()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_landing_ids bigint[];
    v_result record;
BEGIN
    EXECUTE 'SELECT array_agg(n.landing_id) FROM new_rows n' INTO v_landing_ids;
    v_result := ops.apply_landed(TG_TABLE_NAME, v_landing_ids);
    UPDATE ops.apply_stats
       SET batches = batches + 1, events = events + v_result.events,
           quarantined = quarantined + v_result.quarantined, last_applied_at = clock_timestamp()
     WHERE landing_table = TG_TABLE_NAME;
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
