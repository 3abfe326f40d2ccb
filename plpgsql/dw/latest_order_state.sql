-- dw.latest_order_state: an order's latest state as landed (by LSN), the part of a fact that comes
-- from the order. Keeps promises 5 and 6 of design.md: facts take the order's latest customer, date
-- and status; a delete carries no attributes, so the last state before it counts. Quarantined events
-- are left out. No row while the order has not landed. A table function so the planner inlines it
-- into LATERAL joins (one backward scan of the (order_id, LSN) index).
CREATE OR REPLACE FUNCTION dw.latest_order_state(p_order_id integer)
RETURNS TABLE (customer_id integer, order_date timestamp, status text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT lo.customer_id, lo.order_date, lo.status
    FROM landing.orders lo
    WHERE lo.order_id = p_order_id AND lo.__op <> 'd'
      AND NOT EXISTS (SELECT FROM ops.quarantine q WHERE q.landing_table = 'orders' AND q.landing_id = lo.landing_id)
    ORDER BY lo.__lsn DESC
    LIMIT 1
$$;
