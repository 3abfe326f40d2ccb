-- dw.write_order_facts: make the facts of some order lines equal to the given lines (each line's
-- latest change joined to its order's latest state, built by dw.refresh_order_facts from landing or
-- by dw.refresh_facts_of_orders from the facts). Keeps promises 5, 6 and 7 of design.md:
--   * one fact per order line; a deleted line has no fact. dw.fact_orders is partitioned by month
--     of order_date (migration 0008), so the promise is kept by the key map dw.fact_order_lines
--     (primary key order_item_id), written here with the facts: a line's fact is found in the
--     partition the map names (dw.current_facts), updated in place, moved to another month's
--     partition by the same UPDATE when its order's date changes, inserted when new;
--   * customer_key and product_key are the versions valid at the order's order_date, date_key is
--     that date, order_status the order's latest status;
--   * a product or customer that has not landed yet gets an inferred member; a line whose order has
--     not landed points to the unknown members (-1: customer, product and date all depend on the
--     order's time) and is filed undated until the order arrives.
-- Only facts that change are written, and the sales aggregates follow them (dw.add_to_sales).
-- Inferred members no fact needs any more are removed, so the result depends only on the events
-- landed (promise 9). Every write of a fact goes through here: the key map and the aggregates
-- stay true only so.
CREATE OR REPLACE FUNCTION dw.write_order_facts(p_lines dw.order_line[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_customers integer[];       -- customers and products the lines need a placeholder for
    v_products integer[];
    v_old dw.fact_orders[];      -- the lines' facts as they are
    v_new dw.fact_orders[];      -- the facts that must change or appear (order_fact_key NULL: new)
    v_gone dw.fact_orders[];     -- the facts of deleted lines
    v_replaced dw.fact_orders[]; -- the facts v_new replaces, and v_gone
    v_dates timestamp[];         -- the order dates the replaced facts are filed under
    v_undated boolean;
BEGIN
    -- a small batch keeps its plans (planning was most of its cost); a larger one is planned for
    -- its size, with the partitions its dates name pruned when planning
    IF cardinality(p_lines) > 20 THEN
        PERFORM set_config('plan_cache_mode', 'force_custom_plan', true);  -- until this function returns
    END IF;
    -- every fact's date has its dim_date row and month partition before the fact is written
    PERFORM dw.ensure_dates(min(l.order_date)::date, max(l.order_date)::date) FROM unnest(p_lines) l WHERE NOT l.is_deleted;

    -- placeholders for the customers and products that have not landed (rarely any: one look, and
    -- an insert only when one is needed)
    WITH dated AS (
        SELECT l.customer_id, l.product_id FROM unnest(p_lines) l WHERE NOT l.is_deleted AND l.order_date IS NOT NULL
    )
    SELECT ARRAY(SELECT k.customer_id FROM (SELECT DISTINCT d.customer_id FROM dated d WHERE d.customer_id IS NOT NULL) k
                 WHERE NOT EXISTS (SELECT FROM dw.dim_customer c WHERE c.customer_id = k.customer_id)),
           ARRAY(SELECT k.product_id FROM (SELECT DISTINCT d.product_id FROM dated d WHERE d.product_id IS NOT NULL) k
                 WHERE NOT EXISTS (SELECT FROM dw.dim_product p WHERE p.product_id = k.product_id))
      INTO v_customers, v_products;
    IF cardinality(v_customers) > 0 THEN
        INSERT INTO dw.dim_customer (customer_id, valid_from, is_inferred)
        SELECT k.customer_id, timestamp '1900-01-01', true FROM unnest(v_customers) AS k (customer_id);
    END IF;
    IF cardinality(v_products) > 0 THEN
        INSERT INTO dw.dim_product (product_id, valid_from, is_inferred)
        SELECT k.product_id, timestamp '1900-01-01', true FROM unnest(v_products) AS k (product_id);
    END IF;

    v_old := ARRAY(SELECT f FROM dw.current_facts(ARRAY(SELECT l.order_item_id FROM unnest(p_lines) l)) f);

    v_new := ARRAY(
        SELECT ROW(o.order_fact_key, n.order_id, n.order_item_id, n.customer_key, n.product_key, n.date_key, n.quantity,
                   n.unit_price, n.line_total, n.order_status, n.created_at, n.customer_id, n.product_id,
                   n.order_date)::dw.fact_orders
        FROM (
            SELECT l.order_id, l.order_item_id, coalesce(c.customer_key, -1) AS customer_key,
                   coalesce(p.product_key, -1) AS product_key,
                   coalesce(to_char(l.order_date, 'YYYYMMDD')::integer, -1) AS date_key,
                   -- the casts round or cut nothing: landing.event_problem quarantined what does not fit
                   l.quantity, l.unit_price::numeric(10,2) AS unit_price, l.line_total::numeric(10,2) AS line_total,
                   l.order_status::varchar(50) AS order_status, l.created_at, l.customer_id, l.product_id, l.order_date
            FROM unnest(p_lines) l
            LEFT JOIN LATERAL dw.customer_version_at(l.customer_id, l.order_date) c ON true
            LEFT JOIN LATERAL dw.product_version_at(l.product_id, l.order_date) p ON true
            WHERE NOT l.is_deleted
        ) n
        LEFT JOIN unnest(v_old) o ON o.order_item_id = n.order_item_id
        WHERE (o.order_id, o.customer_key, o.product_key, o.date_key, o.quantity, o.unit_price, o.line_total,
               o.order_status, o.created_at, o.customer_id, o.product_id, o.order_date)
              IS DISTINCT FROM
              (n.order_id, n.customer_key, n.product_key, n.date_key, n.quantity, n.unit_price, n.line_total,
               n.order_status, n.created_at, n.customer_id, n.product_id, n.order_date));

    SELECT array_agg(x.o) FILTER (WHERE x.gone), array_agg(x.o) FILTER (WHERE x.gone OR x.changed),
           array_agg(DISTINCT (x.o).order_date) FILTER (WHERE (x.gone OR x.changed) AND (x.o).order_date IS NOT NULL),
           coalesce(bool_or((x.o).order_date IS NULL) FILTER (WHERE x.gone OR x.changed), false)
      INTO v_gone, v_replaced, v_dates, v_undated
      FROM (SELECT o::dw.fact_orders AS o, l.is_deleted AS gone, n.order_item_id IS NOT NULL AS changed
            FROM unnest(v_old) o
            JOIN unnest(p_lines) l USING (order_item_id)
            LEFT JOIN unnest(v_new) n USING (order_item_id)) x;
    IF cardinality(v_new) = 0 AND v_gone IS NULL THEN
        RETURN;
    END IF;

    IF v_gone IS NOT NULL THEN
        DELETE FROM dw.fact_orders f
        USING unnest(v_gone) g
        WHERE f.order_item_id = g.order_item_id
          AND (f.order_date = ANY(v_dates) OR (v_undated AND f.order_date IS NULL));
        DELETE FROM dw.fact_order_lines m WHERE m.order_item_id = ANY(ARRAY(SELECT g.order_item_id FROM unnest(v_gone) g));
    END IF;
    IF coalesce(cardinality(v_replaced), 0) > coalesce(cardinality(v_gone), 0) THEN
        -- a new order_date in another month moves the row to that month's partition
        UPDATE dw.fact_orders f
           SET (order_id, customer_key, product_key, date_key, quantity, unit_price, line_total, order_status,
                created_at, customer_id, product_id, order_date)
             = (n.order_id, n.customer_key, n.product_key, n.date_key, n.quantity, n.unit_price, n.line_total,
                n.order_status, n.created_at, n.customer_id, n.product_id, n.order_date)
          FROM unnest(v_new) n
         WHERE n.order_fact_key IS NOT NULL AND f.order_item_id = n.order_item_id
           AND (f.order_date = ANY(v_dates) OR (v_undated AND f.order_date IS NULL));
    END IF;
    INSERT INTO dw.fact_orders (order_id, order_item_id, customer_key, product_key, date_key, quantity, unit_price,
                                line_total, order_status, created_at, customer_id, product_id, order_date)
    SELECT n.order_id, n.order_item_id, n.customer_key, n.product_key, n.date_key, n.quantity, n.unit_price,
           n.line_total, n.order_status, n.created_at, n.customer_id, n.product_id, n.order_date
    FROM unnest(v_new) n
    WHERE n.order_fact_key IS NULL;

    -- the key map follows: an upsert probes the map's key per line (a MERGE joined it, and for large
    -- batches was planned as a walk of the whole map: quadratic over a rebuild)
    INSERT INTO dw.fact_order_lines AS m (order_item_id, order_id, order_date)
    SELECT n.order_item_id, n.order_id, n.order_date FROM unnest(v_new) n
    ON CONFLICT (order_item_id) DO UPDATE SET (order_id, order_date) = (EXCLUDED.order_id, EXCLUDED.order_date)
     WHERE (m.order_id, m.order_date) IS DISTINCT FROM (EXCLUDED.order_id, EXCLUDED.order_date);

    PERFORM dw.add_to_sales(v_replaced, v_new);

    -- placeholders the replaced facts pointed at may be needed no more (rarely any exist)
    IF v_replaced IS NOT NULL
       AND (EXISTS (SELECT FROM dw.dim_customer d WHERE d.is_inferred) OR EXISTS (SELECT FROM dw.dim_product d WHERE d.is_inferred)) THEN
        PERFORM dw.remove_unneeded_inferred_members(ARRAY(SELECT r.customer_key FROM unnest(v_replaced) r),
                                                    ARRAY(SELECT r.product_key FROM unnest(v_replaced) r));
    END IF;
END
$$;
