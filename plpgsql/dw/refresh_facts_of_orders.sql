-- dw.refresh_facts_of_orders: after changes of some orders landed, make their lines' facts follow
-- the orders' latest states (the orders path of the engine). Keeps promises 5 and 6 of design.md:
-- the facts take the order's customer, date and status, and their keys resolve to the versions
-- valid at the (possibly new) order_date; facts that pointed to the unknown members because their
-- order had not landed are resolved. dim_date is extended to the orders' dates.
-- A fact already holds its line's latest change, so the lines are read from the facts, not from
-- landing: the orders' lines from the key map dw.fact_order_lines, their facts from the partitions
-- it names (dw.current_facts).
CREATE OR REPLACE FUNCTION dw.refresh_facts_of_orders(p_order_ids integer[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- every date the orders have had, not only their latest: the range depends only on the events
    -- landed, whatever their order (promise 9)
    PERFORM dw.ensure_dates(min(o.first_date)::date, max(o.last_date)::date)
       FROM unnest(p_order_ids) AS k (order_id)
       CROSS JOIN LATERAL (
           SELECT min(lo.order_date) AS first_date, max(lo.order_date) AS last_date
           FROM landing.orders lo
           WHERE lo.order_id = k.order_id AND lo.__op <> 'd'
             AND NOT EXISTS (SELECT FROM ops.quarantine q WHERE q.landing_table = 'orders' AND q.landing_id = lo.landing_id)
       ) o;

    PERFORM dw.write_order_facts(ARRAY(
        SELECT ROW(f.order_item_id, false, f.order_id, f.product_id, f.quantity, f.unit_price, f.line_total,
                   o.customer_id, o.order_date, o.status, f.created_at)::dw.order_line
        FROM (SELECT DISTINCT unnest(p_order_ids)) AS k (order_id)
        LEFT JOIN LATERAL dw.latest_order_state(k.order_id) o ON true
        JOIN dw.current_facts(ARRAY(SELECT m.order_item_id FROM dw.fact_order_lines m WHERE m.order_id = ANY(p_order_ids))) f
          ON f.order_id = k.order_id));
END
$$;
