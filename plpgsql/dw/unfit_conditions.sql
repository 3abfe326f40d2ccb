-- dw.unfit_conditions: for each policy column of a dimension, a SQL condition on a landing row `l`
-- that is true when its value cannot be held by the dimension column as it is declared now (too
-- long for varchar(n), too large or too precise for numeric(p,s)), and an expression naming why.
-- Keeps promises 8 and 10 of design.md: a value is never cut or rounded on its way into dw; it is
-- held back (dw.dimension_chain carries the previous value forward, ops.hold_unfit_values lists
-- the event) until a migration widens the column. Read from the catalog, so a widening needs no
-- other change. The TOAST placeholder is never "unfit" (it is not a value).
-- No SET clause: the planner inlines the function into its callers' queries, whose plans PL/pgSQL
-- keeps (a SQL function with SET is planned on every call, and every batch of a dimension calls it).
-- Every name is schema-qualified or in pg_catalog, which is searched first whatever the path.
CREATE OR REPLACE FUNCTION dw.unfit_conditions(p_dimension text)
RETURNS TABLE (column_name name, unfit text, reason text)
LANGUAGE sql STABLE
AS $$
    SELECT p.column_name,
           format('(l.%1$I::text IS DISTINCT FROM %2$L AND %3$s)', p.column_name, '__debezium_unavailable_value',
                  CASE WHEN t.typname IN ('varchar', 'bpchar')
                       THEN format('length(l.%I::text) > %s', p.column_name, a.atttypmod - 4)
                       ELSE format('(abs(l.%1$I) >= 1e%2$s OR l.%1$I <> round(l.%1$I, %3$s))', p.column_name,
                                   ((a.atttypmod - 4) >> 16) - ((a.atttypmod - 4) & 65535), (a.atttypmod - 4) & 65535)
                  END),
           CASE WHEN t.typname IN ('varchar', 'bpchar')
                THEN format('format(%L, length(l.%I::text))',
                            p.column_name || ' of %s characters does not fit ' || format_type(a.atttypid, a.atttypmod), p.column_name)
                ELSE format('format(%L, l.%I)', p.column_name || ' %s does not fit ' || format_type(a.atttypid, a.atttypmod),
                            p.column_name)
           END
    FROM ops.scd_policy p
    JOIN ops.dimension_source s ON s.dimension = p.dimension
    JOIN pg_attribute a ON a.attrelid = s.dim_table AND a.attname = p.column_name AND NOT a.attisdropped
    JOIN pg_type t ON t.oid = a.atttypid
    WHERE p.dimension = p_dimension
      AND a.atttypmod > 0
      AND t.typname IN ('varchar', 'bpchar', 'numeric')
$$;
