-- ops.check_dimension_constraints: check now the deferred constraints the engine's writes can
-- break (versions of one key never overlap, promise 1), so that a failure surfaces where it can
-- still be isolated and quarantined (promise 8), then defer them again. Named, not ALL: SET
-- CONSTRAINTS ALL would also fire the transaction's pending applies (ops.apply_landed_at_commit)
-- inside the current one.
CREATE OR REPLACE FUNCTION ops.check_dimension_constraints()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SET CONSTRAINTS dw.dim_customer_no_overlap, dw.dim_product_no_overlap IMMEDIATE;
    SET CONSTRAINTS dw.dim_customer_no_overlap, dw.dim_product_no_overlap DEFERRED;
END
$$;
