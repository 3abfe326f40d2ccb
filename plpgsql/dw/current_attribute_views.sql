-- Views answering the proposal's "current attributes" questions without losing history (Kimball's
-- type 7: facts grouped by the natural key, described by the key's latest version). Keeps promise
-- 5 of design.md for analysts: the proposal's queries that filter `is_current = TRUE` on the
-- version joined to the fact drop the facts of older versions (revenue undercounted after a price
-- or address change); these count every fact. A deleted key is described by its last version.

-- The latest version of every customer and product (current, or the last one before a delete).
CREATE OR REPLACE VIEW dw.customer_latest AS
SELECT DISTINCT ON (d.customer_id) d.*
FROM dw.dim_customer d
ORDER BY d.customer_id, d.version DESC;

CREATE OR REPLACE VIEW dw.product_latest AS
SELECT DISTINCT ON (d.product_id) d.*
FROM dw.dim_product d
ORDER BY d.product_id, d.version DESC;

-- "Top selling products": units and revenue per product over all its versions.
CREATE OR REPLACE VIEW dw.product_sales AS
SELECT cur.product_id, cur.product_name, cur.category, cur.brand,
       s.units_sold, s.revenue, s.order_lines
FROM (
    SELECT p.product_id, sum(f.quantity) AS units_sold, sum(f.line_total) AS revenue, count(*) AS order_lines
    FROM dw.fact_orders f JOIN dw.dim_product p ON p.product_key = f.product_key
    GROUP BY p.product_id
) s
JOIN dw.product_latest cur ON cur.product_id = s.product_id;

-- "Customer lifetime value": orders and revenue per customer over all their versions.
CREATE OR REPLACE VIEW dw.customer_lifetime_value AS
SELECT cur.customer_id, cur.first_name || ' ' || cur.last_name AS customer_name,
       s.total_orders, s.lifetime_value
FROM (
    SELECT c.customer_id, count(DISTINCT f.order_id) AS total_orders, sum(f.line_total) AS lifetime_value
    FROM dw.fact_orders f JOIN dw.dim_customer c ON c.customer_key = f.customer_key
    GROUP BY c.customer_id
) s
JOIN dw.customer_latest cur ON cur.customer_id = s.customer_id;

-- "Customer segmentation": customers and revenue per current city and country, every fact of a
-- customer counted where the customer lives now.
CREATE OR REPLACE VIEW dw.customer_segmentation AS
SELECT cur.city, cur.country, count(DISTINCT cur.customer_id) AS num_customers, sum(f.line_total) AS total_revenue
FROM dw.fact_orders f
JOIN dw.dim_customer c ON c.customer_key = f.customer_key
JOIN dw.customer_latest cur ON cur.customer_id = c.customer_id
GROUP BY cur.city, cur.country;

COMMENT ON VIEW dw.customer_latest IS 'The latest version of each customer: the current one, or the last before a delete.';
COMMENT ON VIEW dw.product_latest IS 'The latest version of each product: the current one, or the last before a delete.';
COMMENT ON VIEW dw.product_sales IS 'Top selling products: units and revenue per product over all its versions, described by its latest version (the proposal''s query with is_current = TRUE drops the facts of older versions).';
COMMENT ON VIEW dw.customer_lifetime_value IS 'Customer lifetime value: orders and revenue per customer over all their versions, named by the latest version.';
COMMENT ON VIEW dw.customer_segmentation IS 'Customer segmentation: customers and revenue per city and country where each customer lives now, every fact counted.';
