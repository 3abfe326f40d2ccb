-- dw.recompute_sales: the sales aggregates (migration 0008) recomputed from dw.fact_orders and the
-- dimensions' latest versions, in bulk. Keeps promise 9 for the aggregates: dw.rebuild ends with it,
-- and it gives what dw.add_to_sales keeps incrementally (tests/sql/test_sales_aggregates.py).
-- dw.empty_facts_companions: a TRUNCATE of dw.fact_orders empties what is kept beside the facts
-- (the key map of migration 0008 and the aggregates), so neither outlives the facts.
CREATE OR REPLACE FUNCTION dw.recompute_sales()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    TRUNCATE dw.sales_by_order, dw.sales_by_customer, dw.sales_by_city, dw.sales_by_product, dw.sales_by_day;
    INSERT INTO dw.sales_by_order (order_id, customer_id, date_key, lines, units, revenue)
    SELECT f.order_id, CASE WHEN f.customer_key = -1 THEN -1 ELSE f.customer_id END, f.date_key,
           count(*), sum(f.quantity), sum(f.line_total)
    FROM dw.fact_orders f GROUP BY 1, 2, 3;
    INSERT INTO dw.sales_by_customer (customer_id, first_name, last_name, city, country, orders, lines, revenue)
    SELECT s.customer_id, c.first_name, c.last_name, c.city, c.country, s.orders, s.lines, s.revenue
    FROM (SELECT o.customer_id, count(DISTINCT o.order_id) AS orders, sum(o.lines) AS lines, sum(o.revenue) AS revenue
          FROM dw.sales_by_order o GROUP BY 1) s
    LEFT JOIN LATERAL (SELECT d.first_name, d.last_name, d.city, d.country FROM dw.dim_customer d
                       WHERE d.customer_id = s.customer_id ORDER BY d.version DESC LIMIT 1) c ON true;
    INSERT INTO dw.sales_by_city (city, country, customers, revenue)
    SELECT s.city, s.country, count(*), sum(s.revenue) FROM dw.sales_by_customer s GROUP BY 1, 2;
    INSERT INTO dw.sales_by_day (date_key, orders, lines, units, revenue)
    SELECT o.date_key, count(DISTINCT o.order_id), sum(o.lines), sum(o.units), sum(o.revenue) FROM dw.sales_by_order o GROUP BY 1;
    INSERT INTO dw.sales_by_product (product_id, product_name, category, brand, units, lines, revenue)
    SELECT s.product_id, p.product_name, p.category, p.brand, s.units, s.lines, s.revenue
    FROM (SELECT CASE WHEN f.product_key = -1 THEN -1 ELSE f.product_id END AS product_id,
                 sum(f.quantity) AS units, count(*) AS lines, sum(f.line_total) AS revenue
          FROM dw.fact_orders f GROUP BY 1) s
    LEFT JOIN LATERAL (SELECT d.product_name, d.category, d.brand FROM dw.dim_product d
                       WHERE d.product_id = s.product_id ORDER BY d.version DESC LIMIT 1) p ON true;
END
$$;

CREATE OR REPLACE FUNCTION dw.empty_facts_companions()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    TRUNCATE dw.fact_order_lines, dw.sales_by_order, dw.sales_by_customer, dw.sales_by_city, dw.sales_by_product,
             dw.sales_by_day;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER empty_facts_companions AFTER TRUNCATE ON dw.fact_orders
    FOR EACH STATEMENT EXECUTE FUNCTION dw.empty_facts_companions();
