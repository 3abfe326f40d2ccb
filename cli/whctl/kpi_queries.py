"""The proposal's KPI queries (original-proposal.md, "Business Metrics & Analytics"), verbatim.

One copy for everything that runs them: `whctl kpi`, the KPI tests (which check them against the
proposal's text) and the engine benchmark.
"""

DAILY_REVENUE = """SELECT
    d.date,
    SUM(f.line_total) as daily_revenue,
    COUNT(DISTINCT f.order_id) as num_orders
FROM fact_orders f
JOIN dim_date d ON f.date_key = d.date_key
WHERE d.year = 2025 AND d.month = 11
GROUP BY d.date
ORDER BY d.date;"""

TOP_PRODUCTS = """SELECT
    p.product_name,
    p.category,
    SUM(f.quantity) as units_sold,
    SUM(f.line_total) as revenue
FROM fact_orders f
JOIN dim_product p ON f.product_key = p.product_key
WHERE p.is_current = TRUE
GROUP BY p.product_name, p.category
ORDER BY revenue DESC
LIMIT 10;"""

LIFETIME_VALUE = """SELECT
    c.customer_id,
    c.first_name || ' ' || c.last_name as customer_name,
    COUNT(DISTINCT f.order_id) as total_orders,
    SUM(f.line_total) as lifetime_value
FROM fact_orders f
JOIN dim_customer c ON f.customer_key = c.customer_key
WHERE c.is_current = TRUE
GROUP BY c.customer_id, customer_name
ORDER BY lifetime_value DESC;"""

SEGMENTATION = """SELECT
    c.city,
    c.country,
    COUNT(DISTINCT c.customer_id) as num_customers,
    SUM(f.line_total) as total_revenue
FROM fact_orders f
JOIN dim_customer c ON f.customer_key = c.customer_key
WHERE c.is_current = TRUE
GROUP BY c.city, c.country
ORDER BY total_revenue DESC;"""

POINT_IN_TIME_PRICE = """SELECT
    p.product_name,
    p.price as price_at_order_time,
    f.unit_price,
    f.quantity,
    d.date
FROM fact_orders f
JOIN dim_product p ON f.product_key = p.product_key
JOIN dim_date d ON f.date_key = d.date_key
WHERE p.product_id = 100
  AND d.date BETWEEN '2025-01-01' AND '2025-12-31'
ORDER BY d.date;"""

# In the proposal's order, by the question each answers.
QUERIES = {
    "Daily revenue trend": DAILY_REVENUE,
    "Top selling products": TOP_PRODUCTS,
    "Customer lifetime value": LIFETIME_VALUE,
    "Customer segmentation": SEGMENTATION,
    "Point-in-time pricing": POINT_IN_TIME_PRICE,
}
