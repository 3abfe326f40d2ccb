-- dw.dimension_chain: the SCD Type 2 version chain of some natural keys of a dimension, recomputed
-- from all their landing events. Keeps promises 1-4 and 7 of design.md:
--   * events are deduplicated on (key, LSN, operation) and ordered by LSN, so the chain depends
--     only on the set of events landed, not on their order, batching or duplicates (4);
--   * several changes at one commit time (one transaction) count as their last one; changes of
--     different transactions never merge: where local time repeats (a fall-back's repeated hour)
--     LSN order decides, and a later change whose local time is not after the previous one's
--     starts one microsecond after it;
--   * a version opens only when a Type 2 column changes or the key (re)appears (3); Type 1 columns
--     carry the key's latest values on every version; both lists come from ops.scd_policy;
--   * the first version is valid from 1900-01-01, later ones from their change's commit time in
--     the source's time zone (2); a delete closes the current version at its commit time (7);
--   * versions are contiguous, numbered 1, 2, 3…, the open one valid to 9999-12-31 (1);
--   * the source changes shape (10): a column an event does not carry keeps the key's previous
--     value: the TOAST placeholder, a column dropped at the source (events from its stop LSN in
--     ops.source_columns on), and a value the dimension column cannot hold (dw.unfit_conditions;
--     the event is listed in ops.quarantine with held_columns until the column is widened); a
--     TRUNCATE of the landing table (__op 't') deletes every key at its commit time.
-- Quarantined events are left out, but for those applied with held columns. A key without
-- applicable events returns no rows.
CREATE OR REPLACE FUNCTION dw.dimension_chain(p_dimension text, p_keys integer[])
RETURNS TABLE (natural_key integer, version integer, valid_from timestamp, valid_to timestamp,
               is_current boolean, opened_lsn bigint, attrs jsonb)
LANGUAGE plpgsql
-- not STABLE: it runs a prepared statement (ops.prepared_statement), which only a volatile function may
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_source ops.dimension_source;
    v_landing_name text;
    v_build_object text;   -- jsonb_build_object() arguments: the policy's columns of a landing row
    v_placeholders text;   -- the names of the columns an event does not carry (placeholder, dropped, unfit), else NULLs
    v_type1 text[];
    v_type2 text[];
    v_timezone text;
BEGIN
    SELECT s.value INTO STRICT v_timezone FROM ops.settings s WHERE s.name = 'source_timezone';
    SELECT * INTO STRICT v_source FROM ops.dimension_source s WHERE s.dimension = p_dimension;
    SELECT c.relname INTO STRICT v_landing_name FROM pg_class c WHERE c.oid = v_source.landing_table;
    SELECT string_agg(format('%L, l.%I', p.column_name, p.column_name), ', ' ORDER BY p.column_name),
           string_agg(format('CASE WHEN %s THEN %L END',
                             concat_ws(' OR ', format('l.%I::text = %L', p.column_name, '__debezium_unavailable_value'),
                                       'l.__lsn >= ' || sc.stopped_lsn, u.unfit),
                             p.column_name), ', ' ORDER BY p.column_name),
           coalesce(array_agg(p.column_name::text) FILTER (WHERE p.scd_type = 1), '{}'),
           coalesce(array_agg(p.column_name::text) FILTER (WHERE p.scd_type = 2), '{}')
      INTO v_build_object, v_placeholders, v_type1, v_type2
      FROM ops.scd_policy p
      LEFT JOIN ops.source_columns sc ON sc.landing_table = v_landing_name AND sc.column_name = p.column_name
      LEFT JOIN dw.unfit_conditions(p_dimension) u ON u.column_name = p.column_name
     WHERE p.dimension = p_dimension;

    -- prepared: the query changes only with the policy or the catalog (ops.prepared_statement)
    RETURN QUERY EXECUTE format('EXECUTE %I(%L, %L, %L, %L)', ops.prepared_statement('chain_' || p_dimension,
        'integer[], text[], text[], text', format($sql$
        WITH events AS (
            (SELECT DISTINCT ON (l.%1$I, l.__lsn, l.__op)
                   l.%1$I AS natural_key, l.__lsn AS lsn, l.__op AS op,
                   l.__source_ts_us AS committed_us, ops.source_time(l.__source_ts_us, $4) AS committed_at,
                   CASE WHEN l.__op = 'd' THEN '{}'::jsonb
                        ELSE jsonb_build_object(%3$s) - array_remove(ARRAY[%4$s]::text[], NULL) END AS changed
            FROM %2$s l
            WHERE l.%1$I = ANY($1)
              AND NOT EXISTS (SELECT FROM ops.quarantine q
                              WHERE q.landing_table = %5$L AND q.landing_id = l.landing_id AND q.held_columns IS NULL)
            ORDER BY l.%1$I, l.__lsn, l.__op, l.landing_id)
            UNION ALL
            -- a TRUNCATE deletes every key at its commit time (one event, no key)
            SELECT DISTINCT k.natural_key, t.__lsn, 'd', t.__source_ts_us, ops.source_time(t.__source_ts_us, $4), '{}'::jsonb
            FROM unnest($1) AS k (natural_key)
            CROSS JOIN %2$s t
            WHERE t.__op = 't'
              AND NOT EXISTS (SELECT FROM ops.quarantine q
                              WHERE q.landing_table = %5$L AND q.landing_id = t.landing_id)
        ), states AS (
            -- the row after each change; a column an event does not carry (placeholder, dropped, unfit)
            -- keeps its value. Before any event carries it (a key's first events hold the TOAST
            -- placeholder) the value is unknown, not NULL: it is the one the next event carrying the
            -- column brings (the merge of the key's events from this one on, nearest first), so its
            -- arrival opens no version.
            SELECT e.natural_key, e.lsn, e.op, e.op <> 'd' AS present,
                   dw.jsonb_merge(e.changed) OVER ahead || dw.jsonb_merge(e.changed) OVER w AS state,
                   -- commit times never go backwards along the LSN order
                   max(e.committed_us) OVER w AS committed_us, max(e.committed_at) OVER w AS local_at
            FROM events e
            WINDOW w AS (PARTITION BY e.natural_key ORDER BY e.lsn, e.op),
                   ahead AS (PARTITION BY e.natural_key ORDER BY e.lsn DESC, e.op DESC)
        ), settled AS (
            -- one state per transaction (commit instant): its last change
            SELECT DISTINCT ON (s.natural_key, s.committed_us) s.*
            FROM states s
            ORDER BY s.natural_key, s.committed_us, s.lsn DESC, s.op DESC
        ), timed AS (
            -- Transactions whose local commit times coincide (the repeated hour of a fall-back, where
            -- 01:10 EST follows 01:30 EDT) stay apart: each starts a microsecond after the previous.
            SELECT s.*, s.local_at + (row_number() OVER (PARTITION BY s.natural_key, s.local_at ORDER BY s.lsn) - 1)
                                     * interval '1 microsecond' AS committed_at
            FROM settled s
        ), marked AS (
            SELECT s.*, s.state - $2 AS tracked,
                   lag(s.present) OVER w AS was_present, lag(s.state - $2) OVER w AS was_tracked
            FROM timed s
            WINDOW w AS (PARTITION BY s.natural_key ORDER BY s.lsn)
        ), boundaries AS (
            SELECT m.natural_key, m.lsn, m.committed_at, m.tracked, m.present AS opens
            FROM marked m
            WHERE (m.present AND (m.was_present IS NOT TRUE OR m.tracked IS DISTINCT FROM m.was_tracked))
               OR (NOT m.present AND m.was_present)
        ), versions AS (
            SELECT b.natural_key, b.lsn, b.tracked, b.opens,
                   CASE WHEN row_number() OVER w = 1 THEN timestamp '1900-01-01' ELSE b.committed_at END AS valid_from,
                   coalesce(lead(b.committed_at) OVER w, timestamp '9999-12-31') AS valid_to
            FROM boundaries b
            WINDOW w AS (PARTITION BY b.natural_key ORDER BY b.lsn)
        ), latest AS (
            -- Type 1 columns: the key's latest values, on every version
            SELECT DISTINCT ON (m.natural_key) m.natural_key, m.state - $3 AS type1
            FROM marked m
            WHERE m.present
            ORDER BY m.natural_key, m.lsn DESC
        )
        SELECT v.natural_key,
               (row_number() OVER (PARTITION BY v.natural_key ORDER BY v.lsn))::integer,
               v.valid_from, v.valid_to, v.valid_to = timestamp '9999-12-31', v.lsn,
               v.tracked || l.type1
        FROM versions v JOIN latest l USING (natural_key)
        WHERE v.opens
    $sql$, v_source.natural_key, v_source.landing_table, v_build_object, v_placeholders, v_landing_name)),
        p_keys, v_type1, v_type2, v_timezone);
END
$$;
