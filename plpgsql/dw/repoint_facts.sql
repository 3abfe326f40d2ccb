-- dw.repoint_facts: after version chains changed, point the facts that referenced any of the given
-- surrogate keys at the versions valid at their order_date. Keeps promise 6 of design.md: a
-- dimension change that lands after facts inside its validity re-points those facts. Only facts
-- whose key actually changes are written.
CREATE OR REPLACE FUNCTION dw.repoint_facts(p_customer_keys integer[], p_product_keys integer[])
RETURNS void
LANGUAGE sql
AS $$
    UPDATE dw.fact_orders f
       SET customer_key = v.customer_key
      FROM dw.fact_orders old
           CROSS JOIN LATERAL dw.customer_version_at(old.customer_id, old.order_date) v
     WHERE old.customer_key = ANY(p_customer_keys) AND old.customer_key <> -1
       AND f.order_fact_key = old.order_fact_key
       AND f.customer_key IS DISTINCT FROM v.customer_key;
    UPDATE dw.fact_orders f
       SET product_key = v.product_key
      FROM dw.fact_orders old
           CROSS JOIN LATERAL dw.product_version_at(old.product_id, old.order_date) v
     WHERE old.product_key = ANY(p_product_keys) AND old.product_key <> -1
       AND f.order_fact_key = old.order_fact_key
       AND f.product_key IS DISTINCT FROM v.product_key;
$$;
