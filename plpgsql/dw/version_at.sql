-- dw.customer_version_at / dw.product_version_at: the surrogate key of the version of a natural key
-- valid at a point in time. Keeps promise 5 of design.md (facts point at the versions valid at the
-- order's order_date). Chains start at 1900-01-01 and have no gaps but deletes, so "the latest
-- version opened at or before the time" always exists for a known key; inside a delete gap it is
-- the version the delete closed. Table functions so the planner inlines them into LATERAL joins.
CREATE OR REPLACE FUNCTION dw.customer_version_at(p_customer_id integer, p_at timestamp)
RETURNS TABLE (customer_key integer)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT d.customer_key FROM dw.dim_customer d
    WHERE d.customer_id = p_customer_id AND d.valid_from <= p_at
    ORDER BY d.valid_from DESC
    LIMIT 1
$$;

CREATE OR REPLACE FUNCTION dw.product_version_at(p_product_id integer, p_at timestamp)
RETURNS TABLE (product_key integer)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT d.product_key FROM dw.dim_product d
    WHERE d.product_id = p_product_id AND d.valid_from <= p_at
    ORDER BY d.valid_from DESC
    LIMIT 1
$$;
