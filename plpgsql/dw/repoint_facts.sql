-- dw.repoint_facts: after a dimension's version chains changed, point the facts that referenced
-- the given surrogate keys, dated from the given time on, at the versions valid at their
-- order_date. Keeps promise 6 of design.md: a dimension change that lands after facts inside its
-- validity re-points those facts. Only facts whose key actually changes are written. A placeholder
-- left behind for a key without versions goes once no fact needs it (promise 9).
CREATE OR REPLACE FUNCTION dw.repoint_facts(p_dimension text, p_keys integer[], p_changed_from timestamp[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_dimension = 'customer' THEN
        UPDATE dw.fact_orders f
           SET customer_key = v.customer_key
          FROM unnest(p_keys, p_changed_from) AS k (surrogate_key, changed_from)
               JOIN dw.fact_orders old ON old.customer_key = k.surrogate_key AND old.order_date >= k.changed_from
               CROSS JOIN LATERAL dw.customer_version_at(old.customer_id, old.order_date) v
         WHERE f.order_fact_key = old.order_fact_key AND f.customer_key IS DISTINCT FROM v.customer_key;
        PERFORM dw.remove_unneeded_inferred_members(p_keys, '{}');
    ELSE
        UPDATE dw.fact_orders f
           SET product_key = v.product_key
          FROM unnest(p_keys, p_changed_from) AS k (surrogate_key, changed_from)
               JOIN dw.fact_orders old ON old.product_key = k.surrogate_key AND old.order_date >= k.changed_from
               CROSS JOIN LATERAL dw.product_version_at(old.product_id, old.order_date) v
         WHERE f.order_fact_key = old.order_fact_key AND f.product_key IS DISTINCT FROM v.product_key;
        PERFORM dw.remove_unneeded_inferred_members('{}', p_keys);
    END IF;
END
$$;
