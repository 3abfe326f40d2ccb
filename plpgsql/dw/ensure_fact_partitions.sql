-- dw.ensure_fact_partitions: dw.fact_orders has a partition for every month from p_from's to p_to's,
-- and for three months after (migration 0008: monthly range partitions of order_date, made by the
-- engine). Keeps promise 5 (every fact has a place, whatever its order date) without a dated fact
-- ever falling into the default partition, which holds only undated facts (its CHECK constraint
-- says so, and lets ATTACH skip scanning it). Called by dw.ensure_dates whenever dim_date grows.
-- A month is made as a plain table (with the parent's CHECK constraints) and attached, getting the
-- parent's indexes: ATTACH takes a SHARE UPDATE EXCLUSIVE lock on dw.fact_orders (no wait for
-- readers or writers, where CREATE TABLE … PARTITION OF takes ACCESS EXCLUSIVE), but an ACCESS
-- EXCLUSIVE lock on the default partition, which waits for queries reading it. So the months ahead are made only if that lock is free at
-- once (else at the next growth of dim_date): the month a fact needs exists before it is needed,
-- and the engine does not wait behind an analyst's long query.
CREATE OR REPLACE FUNCTION dw.ensure_fact_partitions(p_from date, p_to date)
RETURNS void
LANGUAGE plpgsql
-- the partitions belong to the warehouse's owner, whoever calls
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_month date;
    v_name text;
    v_lock_timeout text := current_setting('lock_timeout');
BEGIN
    FOR v_month IN
        SELECT m.month::date
        FROM generate_series(date_trunc('month', p_from), date_trunc('month', p_to) + interval '3 months',
                             interval '1 month') AS m (month)
    LOOP
        v_name := to_char(v_month, '"fact_orders_y"YYYY"m"MM');
        CONTINUE WHEN to_regclass(format('dw.%I', v_name)) IS NOT NULL;
        IF v_month <= p_to THEN
            PERFORM dw.attach_fact_partition(v_name, v_month);
        ELSE
            BEGIN
                PERFORM set_config('lock_timeout', '20ms', true);
                PERFORM dw.attach_fact_partition(v_name, v_month);
                PERFORM set_config('lock_timeout', v_lock_timeout, true);
            EXCEPTION WHEN lock_not_available THEN
                -- undone with the subtransaction, the setting included; made at the next growth
                NULL;
            END;
        END IF;
    END LOOP;
END
$$;

-- dw.attach_fact_partition: one month's partition of dw.fact_orders, made, attached and analyzed:
-- the planner assumes a never-analyzed table holds at least 10 pages, and over dozens of empty
-- months that guess pushes plain queries on dw.fact_orders over the JIT threshold (1.3 s of
-- compiling for a query that reads 65 facts, measured).
CREATE OR REPLACE FUNCTION dw.attach_fact_partition(p_name text, p_month date)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE format('CREATE TABLE dw.%I (LIKE dw.fact_orders INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', p_name);
    EXECUTE format('ALTER TABLE dw.fact_orders ATTACH PARTITION dw.%I FOR VALUES FROM (%L) TO (%L)',
                   p_name, p_month, (p_month + interval '1 month')::date);
    EXECUTE format('ANALYZE dw.%I', p_name);
END
$$;
