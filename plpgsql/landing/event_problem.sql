-- landing.event_problem: why a landed change event cannot be applied, or NULL when it can.
-- Keeps promise 8 of design.md: bad input is named and quarantined instead of failing the batch.
-- One overload per landing table (resolved by row type), the shared metadata checks in
-- landing.event_metadata_problem. Length and range limits are those of the dw columns the event
-- feeds (tests/sql/test_quarantine.py checks they agree with the DDL); an amount must fit
-- numeric(10,2) as it is, without rounding (99999999.995 would round to 100000000.00 and overflow).
-- The dimensions' limits are read from the catalog instead (dw.unfit_conditions), so that
-- widening a column is one migration. Promise 10: a TRUNCATE ('t') carries no key; an integer
-- measure must be whole.

-- The change metadata every event needs: a known operation, its LSN, a plausible commit time
-- (epoch microseconds from 1900-01-02 UTC, so that it is 1900 or later in every time zone, to
-- before 2100).
CREATE OR REPLACE FUNCTION landing.event_metadata_problem(p_op text, p_lsn bigint, p_source_ts_us bigint)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN p_op IS NULL OR p_op NOT IN ('c', 'u', 'd', 'r', 't') THEN format('unknown operation %L', p_op)
        WHEN p_lsn IS NULL THEN 'no source LSN (__lsn)'
        WHEN p_source_ts_us IS NULL THEN 'no source commit time (__source_ts_us)'
        WHEN p_source_ts_us NOT BETWEEN -2208902400000000 AND 4102444799999999
            THEN format('source commit time out of range: %s us', p_source_ts_us)
    END
$$;

CREATE OR REPLACE FUNCTION landing.event_problem(e landing.customers)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(landing.event_metadata_problem(e.__op, e.__lsn, e.__source_ts_us), CASE
        WHEN e.__op = 't' THEN NULL  -- a TRUNCATE carries no row
        WHEN e.customer_id IS NULL THEN 'customer_id (the key) is null'
        WHEN e.customer_id = -1 THEN 'customer_id -1 is reserved for the unknown member'
        -- a value the dimension cannot hold is held back, not a reason to drop the event
        -- (ops.hold_unfit_values)
    END)
$$;

CREATE OR REPLACE FUNCTION landing.event_problem(e landing.products)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(landing.event_metadata_problem(e.__op, e.__lsn, e.__source_ts_us), CASE
        WHEN e.__op = 't' THEN NULL  -- a TRUNCATE carries no row
        WHEN e.product_id IS NULL THEN 'product_id (the key) is null'
        WHEN e.product_id = -1 THEN 'product_id -1 is reserved for the unknown member'
        -- as for customers: values the dimension cannot hold are held back (ops.hold_unfit_values)
    END)
$$;

CREATE OR REPLACE FUNCTION landing.event_problem(e landing.orders)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(landing.event_metadata_problem(e.__op, e.__lsn, e.__source_ts_us), CASE
        WHEN e.__op = 't' THEN NULL  -- a TRUNCATE carries no row
        WHEN e.order_id IS NULL THEN 'order_id (the key) is null'
        WHEN e.__op = 'd' THEN NULL
        WHEN e.order_date IS NULL THEN 'order_date is null'
        WHEN e.order_date < '1900-01-01' OR e.order_date >= '2100-01-01'
            THEN format('order_date %s outside 1900-01-01 .. 2099-12-31', e.order_date)
        WHEN length(e.status) > 50 THEN 'status longer than 50 characters'
    END)
$$;

CREATE OR REPLACE FUNCTION landing.event_problem(e landing.order_items)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(landing.event_metadata_problem(e.__op, e.__lsn, e.__source_ts_us), CASE
        WHEN e.__op = 't' THEN NULL  -- a TRUNCATE carries no row
        WHEN e.order_item_id IS NULL THEN 'order_item_id (the key) is null'
        WHEN e.__op = 'd' THEN NULL
        WHEN e.order_id IS NULL THEN 'order_id is null (every fact belongs to an order)'
        WHEN e.quantity IS NULL THEN 'quantity is null'
        -- landing keeps what the source sent (numeric); the fact's measure is an integer
        WHEN e.quantity <> trunc(e.quantity) THEN format('quantity %s is not a whole number (fact_orders.quantity is integer)', e.quantity)
        WHEN abs(e.quantity) > 2147483647 THEN format('quantity %s does not fit integer', e.quantity)
        WHEN e.unit_price IS NULL THEN 'unit_price is null'
        WHEN e.line_total IS NULL THEN 'line_total is null'
        -- landing keeps what the source sent; the fact's amounts are numeric(10,2), and a value is
        -- never rounded on its way (promise 10): more than cents does not fit either
        WHEN abs(e.unit_price) >= 1e8 OR e.unit_price <> round(e.unit_price, 2)
            THEN format('unit_price %s does not fit numeric(10,2)', e.unit_price)
        WHEN abs(e.line_total) >= 1e8 OR e.line_total <> round(e.line_total, 2)
            THEN format('line_total %s does not fit numeric(10,2)', e.line_total)
    END)
$$;
