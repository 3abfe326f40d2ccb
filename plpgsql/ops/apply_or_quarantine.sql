-- ops.apply_or_quarantine: apply the changes of some natural keys of one landing table; if that
-- fails, isolate the failure key by key and quarantine the given events of the keys that fail.
-- Keeps promise 8 of design.md: the rest of the batch is applied and nothing raises. The key-by-key
-- loop is the fallback for a failed batch only; the normal path is one set-based call. A failing
-- key's events are then released one at a time (LSN order), so only the events that fail stay
-- quarantined: a good event of the key applies, and an order line keeps its fact (promises 5, 6).
-- Returns how many events it quarantined.
CREATE OR REPLACE FUNCTION ops.apply_or_quarantine(p_table text, p_keys integer[], p_landing_ids bigint[])
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_key integer;
    v_error text;
    v_quarantined bigint := 0;
    v_count bigint;
    v_landing_id bigint;
    v_held bigint[];
BEGIN
    PERFORM ops.take_engine_lock();  -- held already when called by ops.apply_landed; cheap to retake
    BEGIN
        PERFORM dw.apply_changes(p_table, p_keys);
        -- only a dimension's versions can overlap: the facts' paths add an inferred member only for
        -- a key that has no row (dw.write_order_facts), so they skip the check
        IF p_table IN ('customers', 'products') THEN
            PERFORM ops.check_dimension_constraints();
        END IF;
        RETURN 0;
    EXCEPTION WHEN OTHERS THEN
        NULL;  -- the batch as a whole failed: fall through to key-by-key isolation
    END;

    FOREACH v_key IN ARRAY p_keys LOOP
        BEGIN
            PERFORM dw.apply_changes(p_table, ARRAY[v_key]);
            PERFORM ops.check_dimension_constraints();
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_error = MESSAGE_TEXT;
            EXECUTE format($sql$
                WITH held AS (
                    INSERT INTO ops.quarantine (landing_table, landing_id, reason, event)
                    SELECT %1$L, l.landing_id, $1, to_jsonb(l)
                    FROM landing.%1$I l
                    WHERE l.landing_id = ANY($2) AND l.%2$I = $3
                    ON CONFLICT (landing_table, landing_id) DO UPDATE SET reason = EXCLUDED.reason
                    RETURNING landing_id, (event->>'__lsn')::bigint AS lsn
                )
                SELECT array_agg(h.landing_id ORDER BY h.lsn, h.landing_id) FROM held h
            $sql$, p_table, (SELECT natural_key FROM ops.landing_key(p_table)))
            INTO v_held
            USING 'could not be applied: ' || v_error, p_landing_ids, v_key;
            v_count := coalesce(cardinality(v_held), 0);
            -- One event alone is the failing one; of several, release each in turn and keep it
            -- quarantined (with its own error) only if the key fails with it.
            IF v_count > 1 THEN
                FOREACH v_landing_id IN ARRAY v_held LOOP
                    BEGIN
                        DELETE FROM ops.quarantine q WHERE q.landing_table = p_table AND q.landing_id = v_landing_id;
                        PERFORM dw.apply_changes(p_table, ARRAY[v_key]);
                        PERFORM ops.check_dimension_constraints();
                        v_count := v_count - 1;
                    EXCEPTION WHEN OTHERS THEN
                        GET STACKED DIAGNOSTICS v_error = MESSAGE_TEXT;
                        UPDATE ops.quarantine q SET reason = 'could not be applied: ' || v_error
                         WHERE q.landing_table = p_table AND q.landing_id = v_landing_id;
                    END;
                END LOOP;
            END IF;
            v_quarantined := v_quarantined + v_count;
        END;
    END LOOP;
    RETURN v_quarantined;
END
$$;
