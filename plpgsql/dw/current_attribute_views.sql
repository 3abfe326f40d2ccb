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

-- The three views below read the sales aggregates the engine keeps as facts change (migration 0008,
-- dw.add_to_sales, dw.describe_sales): the same answers as grouping every fact, in milliseconds at
-- any size (tests/sql/test_sales_aggregates.py compares them with the facts).

-- "Top selling products": units and revenue per product over all its versions.
CREATE OR REPLACE VIEW dw.product_sales AS
SELECT s.product_id, s.product_name, s.category, s.brand, s.units AS units_sold, s.revenue, s.lines AS order_lines
FROM dw.sales_by_product s;

-- "Customer lifetime value": orders and revenue per customer over all their versions.
CREATE OR REPLACE VIEW dw.customer_lifetime_value AS
SELECT s.customer_id, s.first_name || ' ' || s.last_name AS customer_name, s.orders AS total_orders,
       s.revenue AS lifetime_value
FROM dw.sales_by_customer s;

-- "Customer segmentation": customers and revenue per current city and country, every fact of a
-- customer counted where the customer lives now.
CREATE OR REPLACE VIEW dw.customer_segmentation AS
SELECT s.city, s.country, s.customers AS num_customers, s.revenue AS total_revenue
FROM dw.sales_by_city s;

-- "Daily revenue trend": revenue, orders, lines and units per order date (facts whose order has
-- not landed have no date and are left out).
CREATE OR REPLACE VIEW dw.daily_sales AS
SELECT d.date, s.revenue AS daily_revenue, s.orders AS num_orders, s.lines AS order_lines, s.units AS units_sold
FROM dw.sales_by_day s JOIN dw.dim_date d ON d.date_key = s.date_key
WHERE s.date_key > 0;

COMMENT ON VIEW dw.customer_latest IS 'The latest version of each customer: the current one, or the last before a delete.';
COMMENT ON VIEW dw.product_latest IS 'The latest version of each product: the current one, or the last before a delete.';
COMMENT ON VIEW dw.product_sales IS 'Top selling products: units and revenue per product over all its versions, described by its latest version (the proposal''s query with is_current = TRUE drops the facts of older versions).';
COMMENT ON VIEW dw.customer_lifetime_value IS 'Customer lifetime value: orders and revenue per customer over all their versions, named by the latest version.';
COMMENT ON VIEW dw.customer_segmentation IS 'Customer segmentation: customers and revenue per city and country where each customer lives now, every fact counted.';
COMMENT ON VIEW dw.daily_sales IS 'Daily revenue trend: revenue, orders, lines and units per order date.';
