-- ops.column_stopped: record that the source stopped sending a column of a captured table (it was
-- dropped there), and recompute what was applied since. Keeps promise 10 of design.md: a dropped
-- column never rewrites history. The sink writes NULL for a column an event does not carry, so the
-- stop is placed just after the last event that carried a value (landing tells, whenever the drop
-- is noticed); from there on dw.dimension_chain carries the column's last value forward instead of
-- opening versions with NULLs, and the keys that had events since are recomputed, which undoes any
-- NULL applied before the drop was noticed. Recording the same stop again changes nothing.
-- Returns the stop LSN (NULL if the column is not known for that table).
CREATE OR REPLACE FUNCTION ops.column_stopped(p_table text, p_column name)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_natural_key name := (SELECT k.natural_key FROM ops.landing_key(p_table) k);
    v_stopped_lsn bigint;
    v_keys integer[];
BEGIN
    PERFORM ops.take_engine_lock();
    SELECT sc.stopped_lsn INTO v_stopped_lsn
      FROM ops.source_columns sc WHERE sc.landing_table = p_table AND sc.column_name = p_column;
    IF NOT FOUND OR v_stopped_lsn IS NOT NULL THEN
        RETURN v_stopped_lsn;
    END IF;
    EXECUTE format('SELECT coalesce(max(l.__lsn) FILTER (WHERE l.%1$I IS NOT NULL) + 1, min(l.__lsn), 0) FROM landing.%2$I l',
                   p_column, p_table)
       INTO v_stopped_lsn;
    UPDATE ops.source_columns sc SET stopped_lsn = v_stopped_lsn, stopped_at = clock_timestamp()
     WHERE sc.landing_table = p_table AND sc.column_name = p_column;
    IF v_natural_key IS NOT NULL THEN
        EXECUTE format('SELECT array_agg(DISTINCT l.%1$I) FROM landing.%2$I l WHERE l.__lsn >= $1 AND l.%1$I IS NOT NULL',
                       v_natural_key, p_table)
           INTO v_keys USING v_stopped_lsn;
        IF v_keys IS NOT NULL THEN
            PERFORM dw.apply_changes(p_table, v_keys);
            PERFORM ops.check_dimension_constraints();
        END IF;
    END IF;
    RETURN v_stopped_lsn;
END
$$;
