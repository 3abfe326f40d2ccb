-- ops.dismiss_quarantine: a person decides that some quarantined events will not be applied.
-- Keeps promises 8 and 12 of design.md: the events stay in ops.quarantine (still left out of dw)
-- with who dismissed them, when and why, for audit; dismissed events no longer count as waiting
-- (status is not degraded by them) and `whctl quarantine retry` leaves them alone. Returns the
-- ids dismissed now (already dismissed ones are left as they were).
CREATE OR REPLACE FUNCTION ops.dismiss_quarantine(p_quarantine_ids bigint[], p_reason text, p_by text DEFAULT session_user)
RETURNS SETOF bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_reason IS NULL OR btrim(p_reason) = '' THEN
        RAISE EXCEPTION 'a dismissal needs a reason' USING ERRCODE = 'WH003', HINT = 'say why the events will not be applied';
    END IF;
    RETURN QUERY
        UPDATE ops.quarantine q
           SET dismissed_at = clock_timestamp(), dismissed_by = p_by, dismissed_reason = p_reason
         WHERE q.quarantine_id = ANY(p_quarantine_ids) AND q.dismissed_at IS NULL
        RETURNING q.quarantine_id;
END
$$;
