-- dw.refresh_dimension: make the rows of some natural keys of an SCD Type 2 dimension equal to
-- their recomputed chain (dw.dimension_chain). Keeps promises 1, 4, 6 and 9 of design.md with the
-- minimal change: version k of a key keeps its surrogate key and is updated in place only when it
-- differs; an inferred member's row becomes version 1 (its key is reused); new versions are
-- inserted; versions that no longer exist are deleted (their facts are re-pointed by the caller in
-- the same transaction; the fact foreign keys are deferred for that).
-- Returns, for each natural key whose rows changed, every surrogate key it had before or has now
-- and the earliest time at which its chain changed: only facts dated from then on may need another
-- version (a fact dated in an unchanged version still resolves to it).
CREATE OR REPLACE FUNCTION dw.refresh_dimension(p_dimension text, p_keys integer[])
RETURNS TABLE (surrogate_key integer, changed_from timestamp)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_source ops.dimension_source;
    v_columns text;      -- the policy's columns, as a column list
    v_new_values text;   -- the same, read from the recomputed version
    v_excluded text;     -- the same, from EXCLUDED
    v_current text;      -- the same, from the dimension row
BEGIN
    SELECT * INTO STRICT v_source FROM ops.dimension_source s WHERE s.dimension = p_dimension;
    SELECT string_agg(format('%I', p.column_name), ', ' ORDER BY p.column_name),
           string_agg(format('r.%I', p.column_name), ', ' ORDER BY p.column_name),
           string_agg(format('EXCLUDED.%I', p.column_name), ', ' ORDER BY p.column_name),
           string_agg(format('d.%I', p.column_name), ', ' ORDER BY p.column_name)
      INTO v_columns, v_new_values, v_excluded, v_current
      FROM ops.scd_policy p
     WHERE p.dimension = p_dimension;

    RETURN QUERY EXECUTE format($sql$
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
            RETURNING d.%3$I AS natural_key, d.%8$I AS surrogate_key, d.valid_from
        ), removed AS (
            -- versions beyond the recomputed chain; an inferred member stays while its key has no chain
            DELETE FROM %2$s d
            WHERE d.%3$I = ANY($1)
              AND NOT d.is_inferred
              AND d.version > coalesce((SELECT max(c.version) FROM chain c WHERE c.natural_key = d.%3$I), 0)
            RETURNING d.%3$I AS natural_key, d.%8$I AS surrogate_key, d.valid_from
        ), changed AS (
            SELECT x.natural_key, min(x.valid_from) AS changed_from
            FROM (SELECT * FROM upserted UNION ALL SELECT * FROM removed) x
            GROUP BY x.natural_key
        ), keys AS (
            -- this statement's snapshot still shows the rows as they were before it
            SELECT d.%3$I AS natural_key, d.%8$I AS surrogate_key FROM %2$s d WHERE d.%3$I = ANY($1)
            UNION
            SELECT u.natural_key, u.surrogate_key FROM upserted u
        )
        SELECT k.surrogate_key, c.changed_from FROM changed c JOIN keys k USING (natural_key)
    $sql$, p_dimension, v_source.dim_table, v_source.natural_key, v_columns, v_new_values, v_excluded, v_current,
           v_source.surrogate_key)
    USING p_keys;
END
$$;
