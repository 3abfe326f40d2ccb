-- ops.hold_unfit_values: list in ops.quarantine the landed events of a dimension's landing table
-- that carry a value the dimension cannot hold yet (dw.unfit_conditions), with the columns held
-- back (held_columns) and why. Keeps promises 4, 8 and 10 of design.md: such an event is still
-- applied, its other columns included, and the key's later changes apply too (dw.dimension_chain
-- carries the held column's previous value forward); after a migration widens the column,
-- `whctl quarantine retry` recomputes the keys with the full values. Landing tables that feed no
-- dimension hold nothing back. Returns how many events it listed.
CREATE OR REPLACE FUNCTION ops.hold_unfit_values(p_table text, p_landing_ids bigint[])
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_dimension text;
    v_columns text;
    v_reasons text;
    v_held bigint;
BEGIN
    SELECT d.dimension INTO v_dimension
      FROM ops.dimension_source d JOIN pg_class c ON c.oid = d.landing_table
     WHERE c.relname = p_table;
    IF v_dimension IS NULL THEN
        RETURN 0;   -- orders, order_items: their checks are landing.event_problem's
    END IF;
    SELECT string_agg(format('CASE WHEN %s THEN %L END', u.unfit, u.column_name), ', '),
           string_agg(format('CASE WHEN %s THEN %s END', u.unfit, u.reason), ', ')
      INTO v_columns, v_reasons
      FROM dw.unfit_conditions(v_dimension) u;
    IF v_columns IS NULL THEN
        RETURN 0;
    END IF;
    -- prepared: the conditions change only with the policy or a migration (ops.prepared_statement)
    EXECUTE format('EXECUTE %I(%L)', ops.prepared_statement('unfit_' || p_table, 'bigint[]', format($sql$
        WITH checked AS (
            SELECT l.landing_id, array_remove(ARRAY[%1$s]::text[], NULL) AS held,
                   array_to_string(ARRAY[%2$s]::text[], '; ') AS why, l AS event
            FROM landing.%3$I l
            WHERE l.landing_id = ANY($1) AND l.__op IN ('c', 'u', 'r')
        ), listed AS (
            INSERT INTO ops.quarantine AS q (landing_table, landing_id, reason, event, held_columns)
            SELECT %4$L, c.landing_id, 'applied without ' || array_to_string(c.held, ', ') || ': ' || c.why,
                   to_jsonb(c.event), c.held
            FROM checked c WHERE cardinality(c.held) > 0
            ON CONFLICT (landing_table, landing_id) DO UPDATE SET reason = EXCLUDED.reason, held_columns = EXCLUDED.held_columns
            RETURNING 1
        )
        SELECT count(*) FROM listed
    $sql$, v_columns, v_reasons, p_table, p_table)), p_landing_ids)
    INTO v_held;
    RETURN v_held;
END
$$;
