-- ops.adopt_column: adopt a source column that landing already keeps into a dimension as a Type 1
-- or Type 2 attribute. Keeps promises 3 and 10 of design.md: the column is added to the dimension
-- with its landing type (which cannot lose a value) and declared in ops.scd_policy, the one place
-- that says what versions; then every key whose landing events carry a value is recomputed from
-- landing (dw.apply_changes), so the attribute's history goes back to its first event and facts
-- are re-pointed to the versions it opens. Adopting a column already in the policy with the same
-- type changes nothing. Returns how many keys were recomputed and the dimension's rows before
-- and after.
CREATE OR REPLACE FUNCTION ops.adopt_column(p_dimension text, p_column name, p_scd_type smallint)
RETURNS TABLE (keys_recomputed integer, rows_before bigint, rows_after bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_source ops.dimension_source;
    v_landing_name name;
    v_type text;
    v_policy smallint;
    v_keys integer[];
BEGIN
    PERFORM ops.take_engine_lock();
    SELECT * INTO v_source FROM ops.dimension_source s WHERE s.dimension = p_dimension;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no dimension %', p_dimension
            USING ERRCODE = 'WH003', HINT = (SELECT 'one of ' || string_agg(s.dimension, ', ') FROM ops.dimension_source s);
    END IF;
    IF p_scd_type IS NULL OR p_scd_type NOT IN (1, 2) THEN
        RAISE EXCEPTION 'SCD type % is not 1 or 2', p_scd_type USING ERRCODE = 'WH003';
    END IF;
    SELECT c.relname INTO STRICT v_landing_name FROM pg_class c WHERE c.oid = v_source.landing_table;
    IF p_column = v_source.natural_key OR p_column IN ('landing_id') OR p_column LIKE '\_\_%' THEN
        RAISE EXCEPTION '% is the key or change metadata of landing.%, not an attribute', p_column, v_landing_name
            USING ERRCODE = 'WH003';
    END IF;
    SELECT format_type(a.atttypid, a.atttypmod) INTO v_type
      FROM pg_attribute a
     WHERE a.attrelid = v_source.landing_table AND a.attname = p_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'landing.% has no column %', v_landing_name, p_column
            USING ERRCODE = 'WH003',
                  HINT = 'a column added at the source appears in landing once the source sends it (the supervisor evolves landing); `whctl status` lists the columns not tracked yet';
    END IF;
    SELECT p.scd_type INTO v_policy FROM ops.scd_policy p WHERE p.dimension = p_dimension AND p.column_name = p_column;
    IF v_policy = p_scd_type THEN
        RETURN QUERY EXECUTE format('SELECT 0, count(*), count(*) FROM %s', v_source.dim_table);
        RETURN;
    ELSIF v_policy IS NOT NULL THEN
        RAISE EXCEPTION '%.% is already Type %', p_dimension, p_column, v_policy
            USING ERRCODE = 'WH003', HINT = 'changing a column''s type rewrites its history: rebuild after changing ops.scd_policy by a migration';
    END IF;

    EXECUTE format('SELECT count(*) FROM %s', v_source.dim_table) INTO rows_before;
    IF NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = v_source.dim_table AND a.attname = p_column AND NOT a.attisdropped) THEN
        EXECUTE format('ALTER TABLE %s ADD COLUMN %I %s', v_source.dim_table, p_column, v_type);
    END IF;
    INSERT INTO ops.scd_policy (dimension, column_name, scd_type) VALUES (p_dimension, p_column, p_scd_type);
    -- only keys with a value can change: for the others the new column stays NULL on every version
    EXECUTE format('SELECT array_agg(DISTINCT l.%1$I) FROM %2$s l WHERE l.%1$I IS NOT NULL AND l.%3$I IS NOT NULL',
                   v_source.natural_key, v_source.landing_table, p_column)
       INTO v_keys;
    IF v_keys IS NOT NULL THEN
        PERFORM dw.apply_changes(v_landing_name, v_keys);
        PERFORM ops.check_dimension_constraints();
    END IF;
    keys_recomputed := coalesce(cardinality(v_keys), 0);
    EXECUTE format('SELECT count(*) FROM %s', v_source.dim_table) INTO rows_after;
    RETURN NEXT;
END
$$;
