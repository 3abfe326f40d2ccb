-- dw.refresh_order_facts: make the facts of some order lines equal to what their landing events
-- say now (the order_items path of the engine, and rebuild). Keeps promises 5-7 of design.md with
-- dw.write_order_facts: each line's latest change (by LSN; a delete means no fact) joined to its
-- order's latest state. Quarantined events are left out. A TRUNCATE of order_items after a line's
-- latest change removes its fact like a delete (promise 10).
CREATE OR REPLACE FUNCTION dw.refresh_order_facts(p_order_item_ids integer[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_lines dw.order_line[];
    -- the newest truncate of order_items, read once (a probe per line made the planner scan the
    -- whole (key, LSN) index for a hashed subplan: -30% events/s in benchmarks/engine_bench.py)
    v_last_truncate bigint := (SELECT max(t.__lsn) FROM landing.order_items t
                               WHERE t.__op = 't'
                                 AND NOT EXISTS (SELECT FROM ops.quarantine q
                                                 WHERE q.landing_table = 'order_items' AND q.landing_id = t.landing_id));
BEGIN
    -- Driven by the keys with LIMIT 1 lookups: one backward scan of (key, LSN) per line and per order.
    v_lines := ARRAY(
        SELECT ROW(li.order_item_id,
                   -- deleted, or truncated after its latest change (promise 10)
                   li.__op = 'd' OR coalesce(li.__lsn < v_last_truncate, false),
                   li.order_id, li.product_id, li.quantity, li.unit_price,
                   li.line_total, o.customer_id, o.order_date, o.status, li.created_at)::dw.order_line
        FROM (SELECT DISTINCT unnest(p_order_item_ids)) AS k (order_item_id)
        CROSS JOIN LATERAL (
            SELECT l.*
            FROM landing.order_items l
            WHERE l.order_item_id = k.order_item_id
              AND NOT EXISTS (SELECT FROM ops.quarantine q
                              WHERE q.landing_table = 'order_items' AND q.landing_id = l.landing_id)
            ORDER BY l.__lsn DESC, l.__op DESC
            LIMIT 1
        ) li
        LEFT JOIN LATERAL dw.latest_order_state(li.order_id) o ON true
    );

    PERFORM dw.write_order_facts(v_lines);
END
$$;
