-- dw.apply_changes: bring dw up to date with every landed event of some natural keys of one
-- landing table. The one entry point of the engine (triggers, quarantine retry and rebuild call
-- it); callers hold the engine lock (ops.take_engine_lock). Keeps promises 1-7 by composition:
--   customers / products: recompute the keys' version chains, then re-point their facts;
--   orders: extend dim_date to the orders' dates, then make their lines' facts follow them;
--   order_items: recompute the facts of the lines.
CREATE OR REPLACE FUNCTION dw.apply_changes(p_table text, p_keys integer[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
-- Plans: generic and kept for a small batch, planned for its size for a large one, as the caller
-- sets plan_cache_mode (ops.apply_landed; direct callers such as dw.rebuild run with the session's).
-- Every statement of the engine reaches a batch's keys through an index; reading a whole table is
-- never the right plan for a batch, yet without fresh statistics (a young or fast-growing
-- warehouse, before autovacuum analyzes it) the planner picks it. Measured: +7% events/s.
SET enable_seqscan = off
-- A batch's statements run in well under a millisecond; compiling one (JIT) takes ~8 ms, and the
-- planner's inflated estimates for large tables trigger it.
SET jit = off
AS $$
BEGIN
    CASE p_table
    WHEN 'customers', 'products' THEN
        PERFORM dw.repoint_facts(d.dimension, array_agg(c.surrogate_key), array_agg(c.changed_from))
           FROM (SELECT CASE p_table WHEN 'customers' THEN 'customer' ELSE 'product' END AS dimension) d
                CROSS JOIN LATERAL dw.refresh_dimension(d.dimension, p_keys) c
          GROUP BY d.dimension;
    WHEN 'orders' THEN
        PERFORM dw.refresh_facts_of_orders(p_keys);
    WHEN 'order_items' THEN
        PERFORM dw.refresh_order_facts(p_keys);
    ELSE
        RAISE EXCEPTION 'dw.apply_changes: no landing table %', p_table
            USING ERRCODE = 'WH001', HINT = 'one of customers, products, orders, order_items';
    END CASE;
END
$$;
