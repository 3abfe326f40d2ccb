-- dw.ensure_dates: the Type 1 date dimension covers every day from its first to its last date and
-- at least p_from .. p_to; attributes are (re)computed in place. Keeps promise 5's date_key: every
-- order date has its dim_date row, and its month's partition of dw.fact_orders (made here, with
-- three months ahead, whenever dim_date grows: dw.ensure_fact_partitions). Called with the dates of
-- landed orders, so the range depends only on the events landed (promise 9).
CREATE OR REPLACE FUNCTION dw.ensure_dates(p_from date, p_to date)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_first date;
    v_last date;
BEGIN
    SELECT min(d.date), max(d.date) INTO v_first, v_last FROM dw.dim_date d WHERE d.date_key > 0;
    IF p_from IS NULL OR (p_from >= v_first AND p_to <= v_last) THEN
        RETURN;
    END IF;
    INSERT INTO dw.dim_date AS d (date_key, date, day_of_week, day_of_month, month, month_name, quarter, year, is_weekend, is_holiday)
    SELECT to_char(g.day, 'YYYYMMDD')::integer, g.day,
           to_char(g.day, 'FMDay'), extract(day FROM g.day)::integer, extract(month FROM g.day)::integer,
           to_char(g.day, 'FMMonth'), extract(quarter FROM g.day)::integer, extract(year FROM g.day)::integer,
           extract(isodow FROM g.day) IN (6, 7),
           -- fixed-date public holidays (New Year's Day, Independence Day, Christmas Day)
           to_char(g.day, 'MM-DD') IN ('01-01', '07-04', '12-25')
    FROM generate_series(least(p_from, v_first)::timestamp, greatest(p_to, v_last)::timestamp, interval '1 day') AS s (ts)
         CROSS JOIN LATERAL (SELECT s.ts::date AS day) AS g
    ON CONFLICT (date_key) DO UPDATE
       SET (day_of_week, day_of_month, month, month_name, quarter, year, is_weekend, is_holiday)
         = (EXCLUDED.day_of_week, EXCLUDED.day_of_month, EXCLUDED.month, EXCLUDED.month_name,
            EXCLUDED.quarter, EXCLUDED.year, EXCLUDED.is_weekend, EXCLUDED.is_holiday)
     WHERE (d.day_of_week, d.day_of_month, d.month, d.month_name, d.quarter, d.year, d.is_weekend, d.is_holiday)
           IS DISTINCT FROM
           (EXCLUDED.day_of_week, EXCLUDED.day_of_month, EXCLUDED.month, EXCLUDED.month_name,
            EXCLUDED.quarter, EXCLUDED.year, EXCLUDED.is_weekend, EXCLUDED.is_holiday);
    PERFORM dw.ensure_fact_partitions(least(p_from, v_first), greatest(p_to, v_last));
END
$$;
