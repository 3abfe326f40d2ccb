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
    -- One row per INSERT; the transaction's first one into this table opens the batch (its row
    -- queues the apply at commit).
    -- Static SQL: PL/pgSQL keeps its plan (one per landing table), where EXECUTE planned it anew
    -- on every INSERT.
    INSERT INTO ops.landed_in_transaction (landing_table, landing_ids, opens_batch)
    SELECT TG_TABLE_NAME, array_agg(n.landing_id),
           NOT EXISTS (SELECT FROM ops.landed_in_transaction p
                       WHERE p.txid = pg_current_xact_id() AND p.landing_table = TG_TABLE_NAME)
    FROM new_rows n
    HAVING count(*) > 0;
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
