-- ops.source_time: a change's source commit time (epoch microseconds, UTC) as the source's local
-- time. Keeps promise 2 of design.md: versions open at their change's commit time, expressed in the
-- source's time zone (setting `source_timezone`, default UTC) so valid_from compares correctly with
-- the source's `timestamp without time zone` columns such as order_date.
-- The two-argument form takes the zone from its caller: a plain expression, so the planner inlines
-- it into a query over many events (dw.dimension_chain) instead of calling a function per row.
CREATE OR REPLACE FUNCTION ops.source_time(p_source_ts_us bigint, p_timezone text)
RETURNS timestamp
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT to_timestamp(p_source_ts_us / 1e6) AT TIME ZONE p_timezone
$$;

CREATE OR REPLACE FUNCTION ops.source_time(p_source_ts_us bigint)
RETURNS timestamp
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT ops.source_time(p_source_ts_us, (SELECT s.value FROM ops.settings s WHERE s.name = 'source_timezone'))
$$;
