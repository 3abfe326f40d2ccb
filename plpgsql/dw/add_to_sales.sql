-- dw.add_to_sales / dw.move_city_sales: keep the sales aggregates (migration 0008) equal to the
-- facts as facts change. dw.write_order_facts, the one writer of facts, calls dw.add_to_sales with
-- the facts it replaced or removed (p_before) and the facts it wrote (p_after), in the same
-- transaction. Keeps promise 5 for the type-7 views (dw.current_attribute_views) at any size:
--   * each fact counts for the customer and product of the version it points to (-1 while it
--     points at the unknown member) and for its day (date_key), so re-pointing a fact to another
--     version of the same key (dw.repoint_facts) changes no aggregate;
--   * COUNT(DISTINCT order) stays exact under any change: dw.sales_by_order holds the lines of each
--     (order, customer, day), and an order counts for a customer or a day while it has a line there;
--   * a customer or product row exists while it has facts, described by the key's latest version
--     (kept by dw.describe_sales when the dimension changes); dw.sales_by_city counts each customer
--     with facts where it lives now (dw.move_city_sales).
-- Set-based: one statement for orders, days and customers, one for cities, one for products.
CREATE OR REPLACE FUNCTION dw.add_to_sales(p_before dw.fact_orders[], p_after dw.fact_orders[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_customers_before dw.sales_by_customer[];
    v_customers_after dw.sales_by_customer[];
BEGIN
    -- dw.rebuild recomputes the aggregates once, in bulk, after writing every fact
    IF coalesce(cardinality(p_before), 0) + coalesce(cardinality(p_after), 0) = 0
       OR current_setting('whctl.rebuilding', true) = 'on' THEN
        RETURN;
    END IF;

    WITH change AS (
        SELECT x.order_id, CASE WHEN x.customer_key = -1 THEN -1 ELSE x.customer_id END AS customer_id, x.date_key,
               sum(x.sign)::integer AS lines, sum(x.sign * x.quantity) AS units, sum(x.sign * x.line_total) AS revenue
        FROM (SELECT -1 AS sign, b.* FROM unnest(p_before) b UNION ALL SELECT 1, a.* FROM unnest(p_after) a) x
        GROUP BY 1, 2, 3
    ), before AS (
        SELECT s.* FROM dw.sales_by_order s WHERE s.order_id IN (SELECT c.order_id FROM change c)
    ), after AS (
        -- every row of the touched orders, as it was (existed) and as it is now (lines > 0)
        SELECT order_id, customer_id, date_key,
               coalesce(b.lines, 0) + coalesce(c.lines, 0) AS lines, coalesce(b.units, 0) + coalesce(c.units, 0) AS units,
               coalesce(b.revenue, 0) + coalesce(c.revenue, 0) AS revenue,
               b.order_id IS NOT NULL AS existed, c.order_id IS NOT NULL AS changed
        FROM before b FULL JOIN change c USING (order_id, customer_id, date_key)
    ), orders_kept AS (
        INSERT INTO dw.sales_by_order AS s (order_id, customer_id, date_key, lines, units, revenue)
        SELECT a.order_id, a.customer_id, a.date_key, a.lines, a.units, a.revenue FROM after a WHERE a.changed AND a.lines > 0
        ON CONFLICT (order_id, customer_id, date_key) DO UPDATE
           SET (lines, units, revenue) = (EXCLUDED.lines, EXCLUDED.units, EXCLUDED.revenue)
    ), orders_dropped AS (
        DELETE FROM dw.sales_by_order s USING after a
        WHERE a.changed AND a.existed AND a.lines = 0
          AND s.order_id = a.order_id AND s.customer_id = a.customer_id AND s.date_key = a.date_key
    ), days AS (
        -- an order counts for a day while it has a line there
        SELECT p.date_key, sum(p.is_now::integer - p.was::integer) AS orders,
               sum(p.lines) AS lines, sum(p.units) AS units, sum(p.revenue) AS revenue
        FROM (SELECT a.order_id, a.date_key, bool_or(a.existed) AS was, bool_or(a.lines > 0) AS is_now,
                     sum(c.lines) AS lines, sum(c.units) AS units, sum(c.revenue) AS revenue
              FROM after a LEFT JOIN change c USING (order_id, customer_id, date_key)
              GROUP BY 1, 2) p
        GROUP BY 1
        HAVING sum(p.is_now::integer - p.was::integer) <> 0 OR sum(p.lines) <> 0 OR sum(p.units) <> 0 OR sum(p.revenue) <> 0
    ), days_before AS (
        SELECT s.* FROM dw.sales_by_day s WHERE s.date_key IN (SELECT d.date_key FROM days d)
    ), days_after AS (
        SELECT d.date_key, coalesce(b.orders, 0) + d.orders AS orders, coalesce(b.lines, 0) + coalesce(d.lines, 0) AS lines,
               coalesce(b.units, 0) + coalesce(d.units, 0) AS units, coalesce(b.revenue, 0) + coalesce(d.revenue, 0) AS revenue,
               b.date_key IS NOT NULL AS existed
        FROM days d LEFT JOIN days_before b USING (date_key)
    ), days_kept AS (
        INSERT INTO dw.sales_by_day AS s (date_key, orders, lines, units, revenue)
        SELECT a.date_key, a.orders, a.lines, a.units, a.revenue FROM days_after a WHERE a.lines > 0
        ON CONFLICT (date_key) DO UPDATE SET (orders, lines, units, revenue)
                                           = (EXCLUDED.orders, EXCLUDED.lines, EXCLUDED.units, EXCLUDED.revenue)
    ), days_dropped AS (
        DELETE FROM dw.sales_by_day s USING days_after a WHERE a.existed AND a.lines = 0 AND s.date_key = a.date_key
    ), customers AS (
        -- an order counts for a customer while it has a line there
        SELECT p.customer_id, sum(p.is_now::integer - p.was::integer) AS orders,
               sum(p.lines) AS lines, sum(p.revenue) AS revenue
        FROM (SELECT a.order_id, a.customer_id, bool_or(a.existed) AS was, bool_or(a.lines > 0) AS is_now,
                     sum(c.lines) AS lines, sum(c.revenue) AS revenue
              FROM after a LEFT JOIN change c USING (order_id, customer_id, date_key)
              GROUP BY 1, 2) p
        GROUP BY 1
        HAVING sum(p.is_now::integer - p.was::integer) <> 0 OR sum(p.lines) <> 0 OR sum(p.revenue) <> 0
    ), customers_before AS (
        SELECT s.* FROM dw.sales_by_customer s WHERE s.customer_id IN (SELECT c.customer_id FROM customers c)
    ), customers_after AS (
        SELECT ROW(c.customer_id, coalesce(b.first_name, l.first_name), coalesce(b.last_name, l.last_name),
                   coalesce(b.city, l.city), coalesce(b.country, l.country),
                   coalesce(b.orders, 0) + c.orders, coalesce(b.lines, 0) + coalesce(c.lines, 0),
                   coalesce(b.revenue, 0) + coalesce(c.revenue, 0))::dw.sales_by_customer AS row,
               b.customer_id IS NOT NULL AS existed
        FROM customers c
        LEFT JOIN customers_before b USING (customer_id)
        -- a customer's first facts: described by its latest version
        LEFT JOIN LATERAL (SELECT d.first_name, d.last_name, d.city, d.country FROM dw.dim_customer d
                           WHERE d.customer_id = c.customer_id AND b.customer_id IS NULL
                           ORDER BY d.version DESC LIMIT 1) l ON true
    ), customers_kept AS (
        INSERT INTO dw.sales_by_customer AS s
        SELECT (a.row).* FROM customers_after a WHERE (a.row).lines > 0
        ON CONFLICT (customer_id) DO UPDATE SET (orders, lines, revenue) = (EXCLUDED.orders, EXCLUDED.lines, EXCLUDED.revenue)
    ), customers_dropped AS (
        DELETE FROM dw.sales_by_customer s USING customers_after a
        WHERE a.existed AND (a.row).lines = 0 AND s.customer_id = (a.row).customer_id
    )
    SELECT ARRAY(SELECT b FROM customers_before b), ARRAY(SELECT (a.row) FROM customers_after a WHERE (a.row).lines > 0)
      INTO v_customers_before, v_customers_after;

    PERFORM dw.move_city_sales(v_customers_before, v_customers_after);

    WITH change AS (
        SELECT CASE WHEN x.product_key = -1 THEN -1 ELSE x.product_id END AS product_id,
               sum(x.sign * x.quantity) AS units, sum(x.sign)::bigint AS lines, sum(x.sign * x.line_total) AS revenue
        FROM (SELECT -1 AS sign, b.* FROM unnest(p_before) b UNION ALL SELECT 1, a.* FROM unnest(p_after) a) x
        GROUP BY 1
    ), after AS (
        SELECT c.product_id, coalesce(b.product_name, l.product_name) AS product_name,
               coalesce(b.category, l.category) AS category, coalesce(b.brand, l.brand) AS brand,
               coalesce(b.units, 0) + c.units AS units, coalesce(b.lines, 0) + c.lines AS lines,
               coalesce(b.revenue, 0) + c.revenue AS revenue, b.product_id IS NOT NULL AS existed
        FROM change c
        LEFT JOIN dw.sales_by_product b USING (product_id)
        LEFT JOIN LATERAL (SELECT d.product_name, d.category, d.brand FROM dw.dim_product d
                           WHERE d.product_id = c.product_id AND b.product_id IS NULL
                           ORDER BY d.version DESC LIMIT 1) l ON true
        WHERE c.lines <> 0 OR c.units <> 0 OR c.revenue <> 0
    ), kept AS (
        INSERT INTO dw.sales_by_product AS s (product_id, product_name, category, brand, units, lines, revenue)
        SELECT a.product_id, a.product_name, a.category, a.brand, a.units, a.lines, a.revenue FROM after a WHERE a.lines > 0
        ON CONFLICT (product_id) DO UPDATE SET (units, lines, revenue) = (EXCLUDED.units, EXCLUDED.lines, EXCLUDED.revenue)
    )
    DELETE FROM dw.sales_by_product s USING after a WHERE a.existed AND a.lines = 0 AND s.product_id = a.product_id;
END
$$;

-- dw.move_city_sales: given customers' rows of dw.sales_by_customer before and after a change
-- (those without facts left out), move their count and revenue between the cities and countries
-- they lived in and live in now.
CREATE OR REPLACE FUNCTION dw.move_city_sales(p_before dw.sales_by_customer[], p_after dw.sales_by_customer[])
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    WITH change AS (
        SELECT x.city, x.country, sum(x.customers) AS customers, sum(x.revenue) AS revenue
        FROM (SELECT b.city, b.country, -1 AS customers, -b.revenue AS revenue FROM unnest(p_before) b
              UNION ALL
              SELECT a.city, a.country, 1, a.revenue FROM unnest(p_after) a) x
        GROUP BY 1, 2
        HAVING sum(x.customers) <> 0 OR sum(x.revenue) <> 0
    ), after AS (
        SELECT c.city, c.country, coalesce(s.customers, 0) + c.customers AS customers,
               coalesce(s.revenue, 0) + c.revenue AS revenue, s.customers IS NOT NULL AS existed
        FROM change c
        LEFT JOIN dw.sales_by_city s ON s.city IS NOT DISTINCT FROM c.city AND s.country IS NOT DISTINCT FROM c.country
    ), kept AS (
        INSERT INTO dw.sales_by_city AS s (city, country, customers, revenue)
        SELECT a.city, a.country, a.customers, a.revenue FROM after a WHERE a.customers > 0
        ON CONFLICT ON CONSTRAINT sales_by_city_key DO UPDATE SET (customers, revenue) = (EXCLUDED.customers, EXCLUDED.revenue)
    )
    DELETE FROM dw.sales_by_city s USING after a
    WHERE a.existed AND a.customers = 0
      AND s.city IS NOT DISTINCT FROM a.city AND s.country IS NOT DISTINCT FROM a.country;
$$;
