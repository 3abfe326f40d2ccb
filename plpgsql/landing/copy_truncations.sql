-- landing.copy_truncations: the statement-level AFTER INSERT trigger of landing.truncations. Keeps
-- promise 10 of design.md: a TRUNCATE of a captured source table arrives as a row of the source's
-- whctl.truncations (written in the truncating transaction, so it carries that transaction's LSN,
-- id and commit time); each new row becomes one truncate event (__op 't', no key) of its landing
-- table, which the engine applies like any batch: every key closed at the commit time, order
-- lines' facts removed (dw.dimension_chain, dw.refresh_order_facts). Snapshot reads and deletes of
-- whctl.truncations rows are no truncates. Landing itself is never truncated. Never raises for bad
-- data: an unknown table name is left out (the row stays in landing.truncations).
CREATE OR REPLACE FUNCTION landing.copy_truncations()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_table text;
BEGIN
    FOR v_table IN
        SELECT DISTINCT n.table_name FROM new_rows n
        WHERE n.__op = 'c' AND n.table_name IN ('customers', 'products', 'orders', 'order_items')
    LOOP
        EXECUTE format($sql$
            INSERT INTO landing.%I (__op, __lsn, __txid, __source_ts_us, __deleted, __topic, __partition, __offset)
            SELECT 't', n.__lsn, n.__txid, n.__source_ts_us, 'false', n.__topic, n.__partition, n.__offset
            FROM new_rows n
            WHERE n.__op = 'c' AND n.table_name = $1
        $sql$, v_table) USING v_table;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER copy_truncations AFTER INSERT ON landing.truncations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION landing.copy_truncations();
