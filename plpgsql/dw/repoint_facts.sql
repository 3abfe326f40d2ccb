-- dw.repoint_facts: after a dimension's version chains changed, point the facts that referenced
-- the given surrogate keys, dated from the given time on, at the versions valid at their
-- order_date. Keeps promise 6 of design.md: a dimension change that lands after facts inside its
-- validity re-points those facts. Only facts whose key actually changes are written. A key left
-- without versions (created and deleted in one transaction) gets an inferred member, as it would
-- if its facts were loaded now (promise 9).
CREATE OR REPLACE FUNCTION dw.repoint_facts(p_dimension text, p_keys integer[], p_changed_from timestamp[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_dimension = 'customer' THEN
        INSERT INTO dw.dim_customer (customer_id, valid_from, is_inferred)
        SELECT DISTINCT f.customer_id, timestamp '1900-01-01', true
        FROM unnest(p_keys) AS k (surrogate_key) JOIN dw.fact_orders f ON f.customer_key = k.surrogate_key
        WHERE NOT EXISTS (SELECT FROM dw.dim_customer d WHERE d.customer_id = f.customer_id);
        UPDATE dw.fact_orders f
           SET customer_key = v.customer_key
          FROM unnest(p_keys, p_changed_from) AS k (surrogate_key, changed_from)
               JOIN dw.fact_orders old ON old.customer_key = k.surrogate_key AND old.order_date >= k.changed_from
               CROSS JOIN LATERAL dw.customer_version_at(old.customer_id, old.order_date) v
         WHERE f.order_fact_key = old.order_fact_key AND f.customer_key IS DISTINCT FROM v.customer_key;
    ELSE
        INSERT INTO dw.dim_product (product_id, valid_from, is_inferred)
        SELECT DISTINCT f.product_id, timestamp '1900-01-01', true
        FROM unnest(p_keys) AS k (surrogate_key) JOIN dw.fact_orders f ON f.product_key = k.surrogate_key
        WHERE NOT EXISTS (SELECT FROM dw.dim_product d WHERE d.product_id = f.product_id);
        UPDATE dw.fact_orders f
           SET product_key = v.product_key
          FROM unnest(p_keys, p_changed_from) AS k (surrogate_key, changed_from)
               JOIN dw.fact_orders old ON old.product_key = k.surrogate_key AND old.order_date >= k.changed_from
               CROSS JOIN LATERAL dw.product_version_at(old.product_id, old.order_date) v
         WHERE f.order_fact_key = old.order_fact_key AND f.product_key IS DISTINCT FROM v.product_key;
    END IF;
END
$$;
