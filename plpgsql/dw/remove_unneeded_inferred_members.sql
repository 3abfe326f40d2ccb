-- dw.remove_unneeded_inferred_members: delete inferred members (placeholders created for facts
-- whose customer or product had not landed) that no fact points at any more, among the given
-- surrogate keys. Keeps promise 9 of design.md: a placeholder exists only while a fact needs it,
-- as it would after a rebuild.
CREATE OR REPLACE FUNCTION dw.remove_unneeded_inferred_members(p_customer_keys integer[], p_product_keys integer[])
RETURNS void
LANGUAGE sql
AS $$
    DELETE FROM dw.dim_customer d
    WHERE d.is_inferred AND d.customer_key = ANY(p_customer_keys)
      AND NOT EXISTS (SELECT FROM dw.fact_orders f WHERE f.customer_key = d.customer_key);
    DELETE FROM dw.dim_product d
    WHERE d.is_inferred AND d.product_key = ANY(p_product_keys)
      AND NOT EXISTS (SELECT FROM dw.fact_orders f WHERE f.product_key = d.product_key);
$$;
