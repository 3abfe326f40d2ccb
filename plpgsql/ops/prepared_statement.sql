-- ops.prepared_statement: the name of this session's prepared statement for a query the engine
-- builds at run time, preparing it on first use. Keeps design.md's "Performance principles": the
-- engine's dimension and check queries are generated from ops.scd_policy and the catalog (the
-- policy changes at run time, promise 10), and planning such a query on every batch was most of
-- a small batch's cost; a prepared statement keeps its plan (PostgreSQL re-plans it when a table
-- it reads changes shape). The name carries a hash of the query, so a changed query gets a new
-- statement and the old one of the same purpose is dropped. A statement of that name is used only
-- if its text is exactly ours: another role in the session cannot plant its own SQL under the name
-- (the engine runs with its owner's rights).
-- Callers run it with EXECUTE format('EXECUTE %I(%L, ...)', name, arguments...).
CREATE OR REPLACE FUNCTION ops.prepared_statement(p_purpose text, p_parameter_types text, p_query text)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_name text := 'whctl_' || p_purpose || '_' || md5(p_parameter_types || p_query);
    v_statement text := format('PREPARE %I (%s) AS %s', v_name, p_parameter_types, p_query);
    v_stale text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_prepared_statements s WHERE s.name = v_name AND s.statement = v_statement) THEN
        FOR v_stale IN SELECT s.name FROM pg_prepared_statements s
                        WHERE s.name = v_name OR s.name LIKE 'whctl\_' || p_purpose || '\_%' LOOP
            EXECUTE format('DEALLOCATE %I', v_stale);
        END LOOP;
        EXECUTE v_statement;
    END IF;
    RETURN v_name;
END
$$;
