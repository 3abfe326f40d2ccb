-- dw.describe_sales: when versions of customers or products change, the sales aggregates of those
-- keys take the attributes of each key's latest version (the current one, or the last before a
-- delete), and a customer who moved takes its count and revenue to its new city and country
-- (dw.move_city_sales). Keeps promise 5 for the type-7 views (dw.current_attribute_views): facts are
-- described by the key's latest version, whichever version they point to; an inferred member
-- filled in place (promise 6) names its facts at once. Statement-level triggers on the two
-- dimensions: every writer of a dimension (the engine, rebuild) is covered, and a statement that
-- touches no row costs one call.
CREATE OR REPLACE FUNCTION dw.describe_sales()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_before dw.sales_by_customer[];
    v_after dw.sales_by_customer[];
BEGIN
    IF TG_TABLE_NAME = 'dim_customer' THEN
        WITH latest AS (
            SELECT s.customer_id, l.first_name, l.last_name, l.city, l.country
            FROM dw.sales_by_customer s
            CROSS JOIN LATERAL (SELECT d.first_name, d.last_name, d.city, d.country FROM dw.dim_customer d
                                WHERE d.customer_id = s.customer_id ORDER BY d.version DESC LIMIT 1) l
            WHERE s.customer_id IN (SELECT r.customer_id FROM changed_rows r)
              AND (s.first_name, s.last_name, s.city, s.country) IS DISTINCT FROM (l.first_name, l.last_name, l.city, l.country)
        ), before AS (
            SELECT s.* FROM dw.sales_by_customer s WHERE s.customer_id IN (SELECT l.customer_id FROM latest l)
        ), described AS (
            UPDATE dw.sales_by_customer s SET (first_name, last_name, city, country) = (l.first_name, l.last_name, l.city, l.country)
            FROM latest l WHERE s.customer_id = l.customer_id
            RETURNING s.*
        )
        SELECT ARRAY(SELECT b FROM before b), ARRAY(SELECT d::dw.sales_by_customer FROM described d)
          INTO v_before, v_after;
        IF cardinality(v_after) > 0 THEN
            PERFORM dw.move_city_sales(v_before, v_after);
        END IF;
    ELSE
        UPDATE dw.sales_by_product s SET (product_name, category, brand) = (l.product_name, l.category, l.brand)
        FROM (SELECT DISTINCT r.product_id FROM changed_rows r) k
        CROSS JOIN LATERAL (SELECT d.product_name, d.category, d.brand FROM dw.dim_product d
                            WHERE d.product_id = k.product_id ORDER BY d.version DESC LIMIT 1) l
        WHERE s.product_id = k.product_id
          AND (s.product_name, s.category, s.brand) IS DISTINCT FROM (l.product_name, l.category, l.brand);
    END IF;
    RETURN NULL;
END
$$;

-- Transition tables allow one event per trigger: three triggers per dimension, one function.
CREATE OR REPLACE TRIGGER describe_sales_on_insert AFTER INSERT ON dw.dim_customer
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION dw.describe_sales();
CREATE OR REPLACE TRIGGER describe_sales_on_update AFTER UPDATE ON dw.dim_customer
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION dw.describe_sales();
CREATE OR REPLACE TRIGGER describe_sales_on_delete AFTER DELETE ON dw.dim_customer
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION dw.describe_sales();
CREATE OR REPLACE TRIGGER describe_sales_on_insert AFTER INSERT ON dw.dim_product
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION dw.describe_sales();
CREATE OR REPLACE TRIGGER describe_sales_on_update AFTER UPDATE ON dw.dim_product
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION dw.describe_sales();
CREATE OR REPLACE TRIGGER describe_sales_on_delete AFTER DELETE ON dw.dim_product
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION dw.describe_sales();
