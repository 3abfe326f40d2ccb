-- dw.repoint_facts: after a dimension's version chains changed, point the facts that referenced
-- the given surrogate keys, dated from the given time on, at the versions valid at their
-- order_date. Keeps promise 6 of design.md: a dimension change that lands after facts inside its
-- validity re-points those facts. Only facts whose key actually changes are written. A placeholder
-- left behind for a key without versions goes once no fact needs it (promise 9). A fact moves to
-- another version of the same natural key, so the sales aggregates (counted per natural key,
-- dw.add_to_sales) do not change.
CREATE OR REPLACE FUNCTION dw.repoint_facts(p_dimension text, p_keys integer[], p_changed_from timestamp[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_source ops.dimension_source;
    v_lines integer[];
    v_dates timestamp[];
    v_new_keys integer[];
    v_removed_keys integer[];
    v_orphaned_key integer;
    -- the earliest change: the months of dw.fact_orders before it are never opened (static pruning)
    v_since timestamp := (SELECT min(c) FROM unnest(p_changed_from) c);
BEGIN
    SELECT * INTO STRICT v_source FROM ops.dimension_source s WHERE s.dimension = p_dimension;
    -- OFFSET 0 keeps the inner query a range scan of the fact index (key, order_date) per key: as a
    -- plain join, the planner's guess for `order_date >= changed_from` picks a whole-table scan.
    -- Undated facts point at the unknown members and are never re-pointed. Prepared statements:
    -- planned once per session (ops.prepared_statement).
    EXECUTE format('EXECUTE %I(%L, %L, %L)', ops.prepared_statement('repoint_' || p_dimension, 'integer[], timestamp[], timestamp', format($sql$
        SELECT array_agg(old.order_item_id), array_agg(old.order_date), array_agg(v.%1$I)
        FROM unnest($1, $2) AS k (surrogate_key, changed_from)
        CROSS JOIN LATERAL (
            SELECT f.order_item_id, f.%1$I, f.%2$I, f.order_date
            FROM dw.fact_orders f
            WHERE f.%1$I = k.surrogate_key AND f.order_date >= k.changed_from AND f.order_date >= $3
            OFFSET 0
        ) old
        CROSS JOIN LATERAL dw.%3$I(old.%2$I, old.order_date) v
        WHERE old.%1$I IS DISTINCT FROM v.%1$I
    $sql$, v_source.surrogate_key, v_source.natural_key, p_dimension || '_version_at')), p_keys, p_changed_from, v_since)
    INTO v_lines, v_dates, v_new_keys;

    IF v_lines IS NOT NULL THEN
        -- the fact's date names its partition (run-time pruning per line)
        EXECUTE format($sql$
            UPDATE dw.fact_orders f SET %1$I = c.new_key
            FROM unnest($1, $2, $3) AS c (order_item_id, order_date, new_key)
            WHERE f.order_item_id = c.order_item_id AND f.order_date = c.order_date AND f.order_date >= $4
        $sql$, v_source.surrogate_key)
        USING v_lines, v_dates, v_new_keys, v_since;
    END IF;
    -- The facts' keys are not declared foreign keys (migration 0002): this is where a fact could
    -- lose its dimension row, so check it here. The raise makes ops.apply_or_quarantine isolate and
    -- quarantine the key instead of leaving a fact pointing at nothing. Only keys the dimension lost
    -- are looked for among the facts (of every month).
    EXECUTE format('EXECUTE %I(%L)', ops.prepared_statement('removed_' || p_dimension, 'integer[]', format(
        'SELECT array_agg(k.surrogate_key) FROM unnest($1) AS k (surrogate_key)'
        ' WHERE NOT EXISTS (SELECT FROM %1$s d WHERE d.%2$I = k.surrogate_key)',
        v_source.dim_table, v_source.surrogate_key)), p_keys)
    INTO v_removed_keys;
    IF v_removed_keys IS NOT NULL THEN
        EXECUTE format('SELECT min(k.surrogate_key) FROM unnest($1) AS k (surrogate_key)'
                       ' WHERE EXISTS (SELECT FROM dw.fact_orders f WHERE f.%1$I = k.surrogate_key)',
                       v_source.surrogate_key)
        INTO v_orphaned_key
        USING v_removed_keys;
    END IF;
    IF v_orphaned_key IS NOT NULL THEN
        RAISE EXCEPTION 'dw.repoint_facts: facts still point at removed % version %', p_dimension, v_orphaned_key
            USING ERRCODE = 'WH002';
    END IF;
    PERFORM dw.remove_unneeded_inferred_members(
        CASE p_dimension WHEN 'customer' THEN p_keys ELSE '{}' END,
        CASE p_dimension WHEN 'product' THEN p_keys ELSE '{}' END);
END
$$;
