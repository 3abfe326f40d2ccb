-- ops.retry_quarantine: re-apply quarantined events after a fix (a wider column, a corrected
-- check). Keeps promise 8 of design.md: the events leave quarantine and go through the same path
-- as a new batch (ops.apply_landed), so one that still fails is quarantined again with its reason.
-- NULL retries every quarantined event but the dismissed ones. Events applied with held columns
-- (ops.hold_unfit_values) are recomputed in full once the dimension column has been widened. Returns how many were retried and how many of them are
-- quarantined again.
CREATE OR REPLACE FUNCTION ops.retry_quarantine(p_quarantine_ids bigint[] DEFAULT NULL)
RETURNS TABLE (retried bigint, quarantined_again bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_batch record;
    v_result record;
BEGIN
    retried := 0;
    quarantined_again := 0;
    FOR v_batch IN
        WITH released AS (
            DELETE FROM ops.quarantine q
            WHERE (p_quarantine_ids IS NULL OR q.quarantine_id = ANY(p_quarantine_ids))
              AND q.dismissed_at IS NULL   -- a person decided these stay out
            RETURNING q.landing_table, q.landing_id
        )
        SELECT r.landing_table, array_agg(r.landing_id) AS landing_ids
        FROM released r GROUP BY r.landing_table ORDER BY r.landing_table
    LOOP
        v_result := ops.apply_landed(v_batch.landing_table, v_batch.landing_ids);
        retried := retried + v_result.events;
        quarantined_again := quarantined_again + v_result.quarantined;
    END LOOP;
    RETURN NEXT;
END
$$;
