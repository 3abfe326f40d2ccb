-- ops.apply_landed: check some landed events of one landing table, quarantine those that cannot be
-- applied (with the reason), and apply the natural keys of the rest. Keeps promise 8 of design.md:
-- bad events are named and set aside while their batch-mates apply. Shared by the landing trigger
-- (a new batch) and ops.retry_quarantine (events released from quarantine). Promise 10: a value a
-- dimension cannot hold yet is held back (ops.hold_unfit_values) while its event applies; a
-- TRUNCATE event (__op 't', no key) applies to every key the table has landed.
-- Returns how many events it checked and how many it quarantined, the oldest and newest source
-- commit time among them (microseconds, as landed) and their first and last landing id, for the
-- per-batch time series (ops.apply_batches) and the per-stage latency read from it.
-- Its fixed cost is what a small batch pays (docs/performance.md, "The engine"): its queries keep
-- their plans (static SQL, or ops.prepared_statement for the generated ones) and are planned once
-- for any batch up to 1000 events; a larger batch (a snapshot, a catch-up) is planned for its size.
CREATE OR REPLACE FUNCTION ops.apply_landed(p_table text, p_landing_ids bigint[], OUT events bigint, OUT quarantined bigint,
                                            OUT source_ts_first bigint, OUT source_ts_last bigint,
                                            OUT landing_id_first bigint, OUT landing_id_last bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- generic plans, kept: see the header (dw.apply_changes adds enable_seqscan = off, so a plan made
-- while the tables were small still reaches a batch's keys through their indexes as they grow)
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_keys integer[];
    v_good_ids bigint[];
    v_truncated boolean;
    v_natural_key name := (SELECT k.natural_key FROM ops.landing_key(p_table) k);
BEGIN
    -- First of all: a batch takes the engine lock before it touches anything shared (quarantine,
    -- statistics), so two sink transactions always lock in the same order and never deadlock.
    PERFORM ops.take_engine_lock();
    IF cardinality(p_landing_ids) > 1000 THEN
        PERFORM set_config('plan_cache_mode', 'force_custom_plan', true);  -- until this function returns
    END IF;
    EXECUTE format('EXECUTE %I(%L)', ops.prepared_statement('check_' || p_table, 'bigint[]', format($sql$
        WITH checked AS (
            SELECT l.landing_id, l.%2$I AS natural_key, landing.event_problem(l) AS problem, l AS event,
                   l.__source_ts_us AS source_ts_us
            FROM landing.%1$I l
            -- the range lets the primary key serve the lookup (a batch's ids are nearly contiguous)
            WHERE l.landing_id = ANY($1)
              AND l.landing_id BETWEEN (SELECT min(i) FROM unnest($1) i) AND (SELECT max(i) FROM unnest($1) i)
        ), set_aside AS (
            INSERT INTO ops.quarantine AS q (landing_table, landing_id, reason, event)
            SELECT %1$L, c.landing_id, c.problem, to_jsonb(c.event) FROM checked c WHERE c.problem IS NOT NULL
            ON CONFLICT (landing_table, landing_id) DO UPDATE SET reason = EXCLUDED.reason
            RETURNING 1
        )
        SELECT array_agg(DISTINCT c.natural_key) FILTER (WHERE c.problem IS NULL AND c.natural_key IS NOT NULL),
               array_agg(c.landing_id) FILTER (WHERE c.problem IS NULL),
               coalesce(bool_or((c.event).__op = 't') FILTER (WHERE c.problem IS NULL), false),
               count(*),
               (SELECT count(*) FROM set_aside),
               min(c.source_ts_us), max(c.source_ts_us),
               min(c.landing_id), max(c.landing_id)
        FROM checked c
    $sql$, p_table, v_natural_key)), p_landing_ids)
    INTO v_keys, v_good_ids, v_truncated, events, quarantined, source_ts_first, source_ts_last,
         landing_id_first, landing_id_last;

    -- orders: a truncate leaves the facts of their lines on the orders' last state (a fact is an
    -- order line; the lines' own truncate removes them), so no key needs recomputing
    IF v_truncated AND p_table <> 'orders' THEN
        EXECUTE format('SELECT array_agg(DISTINCT l.%1$I) FROM landing.%2$I l WHERE l.%1$I IS NOT NULL',
                       v_natural_key, p_table)
           INTO v_keys;
    END IF;
    IF v_good_ids IS NOT NULL THEN
        quarantined := quarantined + ops.hold_unfit_values(p_table, v_good_ids);
    END IF;

    IF v_keys IS NOT NULL THEN
        quarantined := quarantined + ops.apply_or_quarantine(p_table, v_keys, v_good_ids);
    END IF;
END
$$;
