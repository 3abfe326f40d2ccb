-- dw.write_order_facts: make the facts of some order lines equal to the given lines (each line's
-- latest change joined to its order's latest state, built by dw.refresh_order_facts from landing or
-- by dw.refresh_facts_of_orders from the facts). Keeps promises 5, 6 and 7 of design.md:
--   * one fact per order line; a deleted line has no fact;
--   * customer_key and product_key are the versions valid at the order's order_date, date_key is
--     that date, order_status the order's latest status;
--   * a product or customer that has not landed yet gets an inferred member; a line whose order has
--     not landed points to the unknown members (-1: customer, product and date all depend on the
--     order's time) until the order arrives.
-- Only facts that change are written. Inferred members no fact needs any more are removed, so the
-- result depends only on the events landed (promise 9).
CREATE OR REPLACE FUNCTION dw.write_order_facts(p_lines dw.order_line[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_old_customer_keys integer[];
    v_old_product_keys integer[];
BEGIN
    -- The keys the facts point at now, for the clean-up of inferred members (rarely any exist).
    IF EXISTS (SELECT FROM dw.dim_customer d WHERE d.is_inferred) OR EXISTS (SELECT FROM dw.dim_product d WHERE d.is_inferred) THEN
        SELECT array_agg(f.customer_key), array_agg(f.product_key)
          INTO v_old_customer_keys, v_old_product_keys
          FROM unnest(p_lines) l
          -- OFFSET 0: one index probe per line, never a merge over the whole fact index
          CROSS JOIN LATERAL (SELECT * FROM dw.fact_orders f WHERE f.order_item_id = l.order_item_id OFFSET 0) f;
    END IF;

    INSERT INTO dw.dim_customer (customer_id, valid_from, is_inferred)
    SELECT DISTINCT l.customer_id, timestamp '1900-01-01', true
    FROM unnest(p_lines) l
    WHERE NOT l.is_deleted AND l.customer_id IS NOT NULL AND l.order_date IS NOT NULL
      AND NOT EXISTS (SELECT FROM dw.dim_customer d WHERE d.customer_id = l.customer_id);

    INSERT INTO dw.dim_product (product_id, valid_from, is_inferred)
    SELECT DISTINCT l.product_id, timestamp '1900-01-01', true
    FROM unnest(p_lines) l
    WHERE NOT l.is_deleted AND l.product_id IS NOT NULL AND l.order_date IS NOT NULL
      AND NOT EXISTS (SELECT FROM dw.dim_product d WHERE d.product_id = l.product_id);

    DELETE FROM dw.fact_orders f
    USING unnest(p_lines) l
    WHERE l.is_deleted AND f.order_item_id = l.order_item_id;

    INSERT INTO dw.fact_orders AS f (order_id, order_item_id, customer_key, product_key, date_key, quantity,
                                     unit_price, line_total, order_status, customer_id, product_id, order_date,
                                     created_at)
    SELECT l.order_id, l.order_item_id,
           coalesce(c.customer_key, -1), coalesce(p.product_key, -1),
           coalesce(to_char(l.order_date, 'YYYYMMDD')::integer, -1),
           l.quantity, l.unit_price, l.line_total, l.order_status, l.customer_id, l.product_id, l.order_date,
           l.created_at
    FROM unnest(p_lines) l
    LEFT JOIN LATERAL dw.customer_version_at(l.customer_id, l.order_date) c ON true
    LEFT JOIN LATERAL dw.product_version_at(l.product_id, l.order_date) p ON true
    WHERE NOT l.is_deleted
    ON CONFLICT (order_item_id) DO UPDATE
       SET (order_id, customer_key, product_key, date_key, quantity, unit_price, line_total, order_status,
            customer_id, product_id, order_date, created_at)
         = (EXCLUDED.order_id, EXCLUDED.customer_key, EXCLUDED.product_key, EXCLUDED.date_key, EXCLUDED.quantity,
            EXCLUDED.unit_price, EXCLUDED.line_total, EXCLUDED.order_status, EXCLUDED.customer_id,
            EXCLUDED.product_id, EXCLUDED.order_date, EXCLUDED.created_at)
     WHERE (f.order_id, f.customer_key, f.product_key, f.date_key, f.quantity, f.unit_price, f.line_total,
            f.order_status, f.customer_id, f.product_id, f.order_date, f.created_at)
           IS DISTINCT FROM
           (EXCLUDED.order_id, EXCLUDED.customer_key, EXCLUDED.product_key, EXCLUDED.date_key, EXCLUDED.quantity,
            EXCLUDED.unit_price, EXCLUDED.line_total, EXCLUDED.order_status, EXCLUDED.customer_id,
            EXCLUDED.product_id, EXCLUDED.order_date, EXCLUDED.created_at);

    IF v_old_customer_keys IS NOT NULL THEN
        PERFORM dw.remove_unneeded_inferred_members(v_old_customer_keys, v_old_product_keys);
    END IF;
END
$$;
