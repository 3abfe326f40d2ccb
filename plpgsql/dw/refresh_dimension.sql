-- dw.refresh_dimension: make the rows of some natural keys of an SCD Type 2 dimension equal to
-- their recomputed chain (dw.dimension_chain). Keeps promises 1, 4, 6 and 9 of design.md with the
-- minimal change: version k of a key keeps its surrogate key and is updated in place only when it
-- differs; an inferred member's row becomes version 1 (its key is reused); new versions are
-- inserted; versions that no longer exist are deleted (their facts are re-pointed by the caller in
-- the same transaction, and checked there not to point at a removed version). A key left with no version
-- at all (created and deleted in one transaction) keeps its version 1 as an inferred placeholder,
-- as loading its facts afresh would give; dw.remove_unneeded_inferred_members drops it when no fact
-- needs it.
-- Returns, for each natural key whose versions moved, every surrogate key it had before or has now
-- and the earliest time from which a fact may now belong to another version: the earlier of old and
-- new bounds of each version whose bounds moved. A change of attributes in place moves no fact.
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
    v_nulls text;        -- as many NULLs
BEGIN
    SELECT * INTO STRICT v_source FROM ops.dimension_source s WHERE s.dimension = p_dimension;
    SELECT string_agg(format('%I', p.column_name), ', ' ORDER BY p.column_name),
           string_agg(format('r.%I', p.column_name), ', ' ORDER BY p.column_name),
           string_agg(format('EXCLUDED.%I', p.column_name), ', ' ORDER BY p.column_name),
           string_agg(format('d.%I', p.column_name), ', ' ORDER BY p.column_name),
           string_agg('NULL', ', ')
      INTO v_columns, v_new_values, v_excluded, v_current, v_nulls
      FROM ops.scd_policy p
     WHERE p.dimension = p_dimension;

    -- prepared: the query changes only with the policy (ops.prepared_statement)
    RETURN QUERY EXECUTE format('EXECUTE %I(%L)', ops.prepared_statement('refresh_' || p_dimension, 'integer[]', format($sql$
        WITH chain AS (
            SELECT * FROM dw.dimension_chain(%1$L, $1)
        ), before AS (
            -- this statement's snapshot still shows the rows as they were before it
            SELECT d.%3$I AS natural_key, d.%8$I AS surrogate_key, d.version, d.valid_from, d.valid_to
            FROM %2$s d WHERE d.%3$I = ANY($1)
        ), upserted AS (
            INSERT INTO %2$s AS d (%3$I, version, valid_from, valid_to, is_current, is_inferred, opened_lsn, %4$s)
            SELECT c.natural_key, c.version, c.valid_from, c.valid_to, c.is_current, false, c.opened_lsn, %5$s
            FROM chain c CROSS JOIN LATERAL jsonb_populate_record(NULL::%2$s, c.attrs) r
            -- versions equal to their row are left out before the upsert, which would lock them
            -- (OFFSET 0: one index probe per version, not a merge over the whole dimension)
            LEFT JOIN LATERAL (SELECT * FROM %2$s d WHERE d.%3$I = c.natural_key AND d.version = c.version OFFSET 0) d ON true
            WHERE (d.valid_from, d.valid_to, d.is_current, d.is_inferred, d.opened_lsn, %7$s)
                  IS DISTINCT FROM
                  (c.valid_from, c.valid_to, c.is_current, false, c.opened_lsn, %5$s)
            ORDER BY c.natural_key, c.version
            ON CONFLICT (%3$I, version) DO UPDATE
               SET (valid_from, valid_to, is_current, is_inferred, opened_lsn, %4$s)
                 = (EXCLUDED.valid_from, EXCLUDED.valid_to, EXCLUDED.is_current, false, EXCLUDED.opened_lsn, %6$s)
             WHERE (d.valid_from, d.valid_to, d.is_current, d.is_inferred, d.opened_lsn, %7$s)
                   IS DISTINCT FROM
                   (EXCLUDED.valid_from, EXCLUDED.valid_to, EXCLUDED.is_current, false, EXCLUDED.opened_lsn, %6$s)
            RETURNING d.%3$I AS natural_key, d.%8$I AS surrogate_key, d.version, d.valid_from, d.valid_to
        ), emptied AS (
            UPDATE %2$s d
               SET (valid_from, valid_to, is_current, is_inferred, opened_lsn, %4$s)
                 = (timestamp '1900-01-01', timestamp '9999-12-31', true, true, NULL, %9$s)
             WHERE d.%3$I = ANY($1) AND d.version = 1 AND NOT d.is_inferred
               AND NOT EXISTS (SELECT FROM chain c WHERE c.natural_key = d.%3$I)
            RETURNING d.%3$I AS natural_key, d.%8$I AS surrogate_key, d.version, d.valid_from, d.valid_to
        ), removed AS (
            -- a join with each key's last version, not a subquery per row: that scanned the whole
            -- chain once per version (6 of 7 s for 2,200 products)
            DELETE FROM %2$s d
            USING (SELECT k.natural_key, coalesce(max(c.version), 1) AS last_version
                   FROM unnest($1) AS k (natural_key) LEFT JOIN chain c USING (natural_key)
                   GROUP BY k.natural_key) l
            WHERE d.%3$I = l.natural_key AND d.version > l.last_version
            RETURNING d.%3$I AS natural_key, d.%8$I AS surrogate_key
        ), moved AS (
            SELECT n.natural_key,
                   CASE WHEN o.valid_from IS NULL THEN n.valid_from  -- a new version
                        ELSE least(CASE WHEN n.valid_from <> o.valid_from THEN least(n.valid_from, o.valid_from) END,
                                   CASE WHEN n.valid_to <> o.valid_to THEN least(n.valid_to, o.valid_to) END)
                   END AS changed_from
            FROM upserted n
            LEFT JOIN before o USING (natural_key, version)
            UNION ALL
            -- a placeholder now: every fact of the key is looked at, and the placeholder dropped if
            -- none needs it
            SELECT e.natural_key, e.valid_from FROM emptied e
            UNION ALL
            SELECT b.natural_key, b.valid_from FROM removed r JOIN before b USING (natural_key, surrogate_key)
        ), changed AS (
            SELECT m.natural_key, min(m.changed_from) AS changed_from
            FROM moved m WHERE m.changed_from IS NOT NULL
            GROUP BY m.natural_key
        ), keys AS (
            SELECT b.natural_key, b.surrogate_key FROM before b
            UNION
            SELECT u.natural_key, u.surrogate_key FROM upserted u
        )
        SELECT k.surrogate_key, c.changed_from FROM changed c JOIN keys k USING (natural_key)
    $sql$, p_dimension, v_source.dim_table, v_source.natural_key, v_columns, v_new_values, v_excluded, v_current,
           v_source.surrogate_key, v_nulls)), p_keys);
END
$$;
