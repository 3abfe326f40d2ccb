-- ops.prune_apply_batches: delete the per-batch time series (ops.apply_batches) older than its
-- retention, 48 hours before p_now. The series exists for the dashboard's "last hours" charts
-- (design.md, the operator's interface: `whctl serve`); keeping it bounded keeps the engine's cost
-- per batch constant. ops.apply_landed_at_commit calls it every 1000th batch; time is passed in so
-- that a test can control it. Returns how many rows it deleted.
CREATE OR REPLACE FUNCTION ops.prune_apply_batches(p_now timestamptz)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_deleted bigint;
BEGIN
    DELETE FROM ops.apply_batches b WHERE b.applied_at < p_now - interval '48 hours';
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
    RETURN v_deleted;
END
$$;
