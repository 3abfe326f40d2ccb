-- dw.refresh_dimension: make the rows of some natural keys of an SCD Type 2 dimension equal to
-- their recomputed chain (dw.dimension_chain). Keeps promises 1, 4, 6 and 9 of design.md with the
-- minimal change: version k of a key keeps its surrogate key and is updated in place only when it
-- differs; an inferred member's row becomes version 1 (its key is reused); new versions are
-- inserted; versions that no longer exist are deleted (their facts are re-pointed by the caller in
-- the same transaction; the fact foreign keys are deferred for that).
-- Returns the surrogate keys of those natural keys before and after: the facts pointing at them
-- are the ones whose version may have changed.
CREATE OR REPLACE FUNCTION dw.refresh_dimension(p_dimension text, p_keys integer[])
RETURNS integer[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_source ops.dimension_source;
    v_columns text;      -- the policy's columns, as a column list
    v_new_values text;   -- the same, read from the recomputed version
    v_excluded text;     -- the same, from EXCLUDED
    v_current text;      -- the same, from the dimension row
    v_keys_before integer[];
    v_keys_after integer[];
BEGIN
    SELECT * INTO STRICT v_source FROM ops.dimension_source s WHERE s.dimension = p_dimension;
    SELECT string_agg(format('%I', p.column_name), ', ' ORDER BY p.column_name),
           string_agg(format('r.%I', p.column_name), ', ' ORDER BY p.column_name),
           string_agg(format('EXCLUDED.%I', p.column_name), ', ' ORDER BY p.column_name),
           string_agg(format('d.%I', p.column_name), ', ' ORDER BY p.column_name)
      INTO v_columns, v_new_values, v_excluded, v_current
      FROM ops.scd_policy p
     WHERE p.dimension = p_dimension;

    EXECUTE format('SELECT array_agg(d.%I) FROM %s d WHERE d.%I = ANY($1)',
                   v_source.surrogate_key, v_source.dim_table, v_source.natural_key)
       INTO v_keys_before USING p_keys;

    EXECUTE format($sql$
        WITH chain AS (
            SELECT * FROM dw.dimension_chain(%1$L, $1)
        ), upserted AS (
            INSERT INTO %2$s AS d (%3$I, version, valid_from, valid_to, is_current, is_inferred, opened_lsn, %4$s)
            SELECT c.natural_key, c.version, c.valid_from, c.valid_to, c.is_current, false, c.opened_lsn, %5$s
            FROM chain c CROSS JOIN LATERAL jsonb_populate_record(NULL::%2$s, c.attrs) r
            ORDER BY c.natural_key, c.version
            ON CONFLICT (%3$I, version) DO UPDATE
               SET (valid_from, valid_to, is_current, is_inferred, opened_lsn, %4$s)
                 = (EXCLUDED.valid_from, EXCLUDED.valid_to, EXCLUDED.is_current, false, EXCLUDED.opened_lsn, %6$s)
             WHERE (d.valid_from, d.valid_to, d.is_current, d.is_inferred, d.opened_lsn, %7$s)
                   IS DISTINCT FROM
                   (EXCLUDED.valid_from, EXCLUDED.valid_to, EXCLUDED.is_current, false, EXCLUDED.opened_lsn, %6$s)
            RETURNING 1
        ), removed AS (
            -- versions beyond the recomputed chain; an inferred member stays while its key has no chain
            DELETE FROM %2$s d
            WHERE d.%3$I = ANY($1)
              AND NOT d.is_inferred
              AND d.version > coalesce((SELECT max(c.version) FROM chain c WHERE c.natural_key = d.%3$I), 0)
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM upserted) + (SELECT count(*) FROM removed)
    $sql$, p_dimension, v_source.dim_table, v_source.natural_key, v_columns, v_new_values, v_excluded, v_current)
    USING p_keys;

    EXECUTE format('SELECT array_agg(d.%I) FROM %s d WHERE d.%I = ANY($1)',
                   v_source.surrogate_key, v_source.dim_table, v_source.natural_key)
       INTO v_keys_after USING p_keys;
    RETURN coalesce(v_keys_before, '{}') || coalesce(v_keys_after, '{}');
END
$$;
