-- ops.apply_or_quarantine: apply the changes of some natural keys of one landing table; if that
-- fails, isolate the failure key by key and quarantine the given events of the keys that fail.
-- Keeps promise 8 of design.md: the rest of the batch is applied and nothing raises. The key-by-key
-- loop is the fallback for a failed batch only; the normal path is one set-based call.
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
BEGIN
    PERFORM ops.take_engine_lock();  -- held already when called by ops.apply_landed; cheap to retake
    BEGIN
        PERFORM dw.apply_changes(p_table, p_keys);
        PERFORM ops.check_dimension_constraints();
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
                INSERT INTO ops.quarantine (landing_table, landing_id, reason, event)
                SELECT %1$L, l.landing_id, $1, to_jsonb(l)
                FROM landing.%1$I l
                WHERE l.landing_id = ANY($2) AND l.%2$I = $3
                ON CONFLICT (landing_table, landing_id) DO UPDATE SET reason = EXCLUDED.reason
            $sql$, p_table, (SELECT natural_key FROM ops.landing_key(p_table)))
            USING 'could not be applied: ' || v_error, p_landing_ids, v_key;
            GET DIAGNOSTICS v_count = ROW_COUNT;
            v_quarantined := v_quarantined + v_count;
        END;
    END LOOP;
    RETURN v_quarantined;
END
$$;
