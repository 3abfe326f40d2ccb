-- ops.landing_key: the natural key column of each landing table the engine applies. One place for
-- the mapping that quarantine retry and the isolation fallback need (the triggers receive it as
-- their argument).
CREATE OR REPLACE FUNCTION ops.landing_key(p_table text)
RETURNS TABLE (natural_key name)
LANGUAGE sql IMMUTABLE
AS $$
    SELECT k.natural_key
    FROM (VALUES ('customers', 'customer_id'::name), ('products', 'product_id'), ('orders', 'order_id'),
                 ('order_items', 'order_item_id')) AS k (landing_table, natural_key)
    WHERE k.landing_table = p_table
$$;
