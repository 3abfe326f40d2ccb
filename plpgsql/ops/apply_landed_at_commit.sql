-- ops.apply_landed_at_commit: apply, at its commit, everything one transaction landed in one
-- landing table, as one batch. Keeps design.md's "Performance principles" (the engine sees whole
-- batches) and promise 8 through ops.apply_landed: the JDBC driver cuts each batch the sink flushes
-- into INSERTs of at most 128 rows in one transaction, and applying them one by one paid the
-- engine's fixed cost per statement. landing.apply_landed_events records the ids of each statement
-- in ops.landed_in_transaction; the transaction's first row of a table (opens_batch) queues this
-- deferred trigger, which fires once and takes every row of that table and transaction.
-- Each batch also leaves one row in ops.apply_batches (the pipeline over time, for the dashboard;
-- its landing id range lets health read each event's stage times), and every 1000th batch prunes rows older than the retention (ops.prune_apply_batches).
-- It never raises for bad data: a raise here would fail the sink's commit.
CREATE OR REPLACE FUNCTION ops.apply_landed_at_commit()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_landing_ids bigint[];
    v_result record;
    v_now timestamptz;
    v_batch_id bigint;
BEGIN
    WITH taken AS (
        DELETE FROM ops.landed_in_transaction p
         WHERE p.txid = NEW.txid AND p.landing_table = NEW.landing_table
        RETURNING p.landing_ids
    )
    SELECT array_agg(i.landing_id) INTO v_landing_ids
      FROM taken t CROSS JOIN LATERAL unnest(t.landing_ids) AS i (landing_id);
    IF v_landing_ids IS NULL THEN
        RETURN NULL;
    END IF;
    v_result := ops.apply_landed(NEW.landing_table, v_landing_ids);
    v_now := clock_timestamp();
    UPDATE ops.apply_stats
       SET batches = batches + 1, events = events + v_result.events,
           quarantined = quarantined + v_result.quarantined, last_applied_at = v_now
     WHERE landing_table = NEW.landing_table;
    INSERT INTO ops.apply_batches (applied_at, landing_table, events, quarantined, source_first, source_last,
                                   landing_id_first, landing_id_last)
    VALUES (v_now, NEW.landing_table, v_result.events, v_result.quarantined,
            to_timestamp(v_result.source_ts_first / 1e6), to_timestamp(v_result.source_ts_last / 1e6),
            v_result.landing_id_first, v_result.landing_id_last)
    RETURNING batch_id INTO v_batch_id;
    -- Pruning now and then, not per batch: one range delete per 1000 batches keeps the table bounded.
    IF v_batch_id % 1000 = 0 THEN
        PERFORM ops.prune_apply_batches(v_now);
    END IF;
    RETURN NULL;
END
$$;

-- A constraint trigger cannot be replaced (CREATE OR REPLACE does not apply to it): create it once.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_trigger t
                   WHERE t.tgrelid = 'ops.landed_in_transaction'::regclass AND t.tgname = 'apply_landed_at_commit') THEN
        CREATE CONSTRAINT TRIGGER apply_landed_at_commit AFTER INSERT ON ops.landed_in_transaction
            DEFERRABLE INITIALLY DEFERRED
            FOR EACH ROW WHEN (NEW.opens_batch) EXECUTE FUNCTION ops.apply_landed_at_commit();
    END IF;
END
$$;
