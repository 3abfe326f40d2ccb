-- dw.jsonb_merge: running merge of JSON objects (later keys win). Used as a window aggregate by
-- dw.dimension_chain to carry a column's previous value forward when a change event holds the
-- TOAST placeholder instead of it (design.md, "Pipeline facts": unchanged TOASTed values).
CREATE OR REPLACE AGGREGATE dw.jsonb_merge(jsonb) (
    SFUNC = pg_catalog.jsonb_concat,
    STYPE = jsonb,
    INITCOND = '{}'
);
