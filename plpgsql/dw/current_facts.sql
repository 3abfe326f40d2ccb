-- dw.current_facts: the facts of some order lines as they are now. Keeps promise 5's "one fact per
-- order line" readable on the partitioned dw.fact_orders (migration 0008): the key map
-- dw.fact_order_lines says under which order_date each line's fact is filed, and the read names
-- those dates, so the planner opens only their month partitions (and the undated one if needed)
-- instead of probing every month's index.
CREATE OR REPLACE FUNCTION dw.current_facts(p_order_item_ids integer[])
RETURNS SETOF dw.fact_orders
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_dates timestamp[];
    v_undated boolean;
BEGIN
    -- a small batch keeps its plans (planning was most of its cost); a larger one is planned for
    -- its size, with the partitions its dates name pruned when planning
    IF cardinality(p_order_item_ids) > 20 THEN
        PERFORM set_config('plan_cache_mode', 'force_custom_plan', true);  -- until this function returns
    END IF;
    SELECT array_agg(DISTINCT m.order_date) FILTER (WHERE m.order_date IS NOT NULL), coalesce(bool_or(m.order_date IS NULL), false)
      INTO v_dates, v_undated
      FROM dw.fact_order_lines m
     WHERE m.order_item_id = ANY(p_order_item_ids);
    IF v_dates IS NULL AND NOT v_undated THEN
        RETURN;
    END IF;
    RETURN QUERY
        SELECT f.*
        FROM dw.fact_orders f
        WHERE f.order_item_id = ANY(p_order_item_ids)
          AND (f.order_date = ANY(v_dates) OR (v_undated AND f.order_date IS NULL));
END
$$;
