"""Facts partitioned by month of order_date; a key map that keeps one fact per order line; sales
aggregates the engine keeps as facts change.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Issue 14 (items 2 and 5), promises 5, 6 and 9 of design.md.

- dw.fact_orders becomes a declaratively partitioned table, one partition per calendar month of
  order_date (dw.fact_orders_yYYYYmMM), and a default partition, dw.fact_orders_undated, for the
  facts whose order has not landed (order_date NULL, pointing at the unknown members). A CHECK
  constraint keeps every dated fact out of the default partition, so attaching a new month never
  has to scan it (PostgreSQL skips the scan when a constraint proves it empty for that range).
  The engine makes the partitions itself, in dw.ensure_dates, whenever dim_date grows, for every
  month dim_date covers plus three months ahead; a fact can only be dated where dim_date has its
  date. We chose this over pg_partman: it needs no extension (a managed PostgreSQL may not offer
  it), no background worker or cron job to keep partitions ahead, and the one trigger that matters
  (a new order date) is already the engine's; pg_partman's maintenance would add a moving part for
  what one short function does.
- A unique index of a partitioned table must contain the partition key, so "one fact per order
  line" (promise 5) can no longer be a unique constraint on order_item_id. dw.fact_order_lines
  keeps it: one row per line that has a fact, with the order_date the fact is filed under (its
  partition) and the order_id. Its primary key is the promise; the engine (dw.write_order_facts)
  reads it to find a line's fact in its partition, moves the fact when its order's date changes
  (a cross-partition update) and writes both in the same statements. dw.fact_orders keeps a unique
  (order_item_id, order_date) NULLS NOT DISTINCT index: one fact per line within a partition.
- order_fact_key stays, filled from the same sequence, but is no longer a primary key (it would
  have to contain order_date, which is NULL for undated facts); nothing looks facts up by it.
- Sales aggregates (dw.sales_by_order, _customer, _product, _day, _city), kept by the engine in the
  statements that write facts (plpgsql/dw/sales_aggregates.sql), read by the type-7 views. Their
  grain is the natural key the fact counts for (the customer or product of the version it points
  to, -1 while it points at the unknown member), so re-pointing a fact to another version of the
  same key changes no aggregate; sales_by_order (one row per order, customer and day) makes
  COUNT(DISTINCT order) exact under any change. The customer and product rows carry the key's
  latest attributes (text: a widened dimension column never fails to fit).

The upgrade copies every fact, fills the key map and the aggregates from them.

dw.rebuild() gains a chunk size (dw.rebuild(p_chunk integer DEFAULT 50000)): the old signature is
dropped here, the repeatable step creates the new one.
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

FACT_COLUMNS = ("order_fact_key, order_id, order_item_id, customer_key, product_key, date_key, quantity, unit_price, "
                "line_total, order_status, created_at, customer_id, product_id, order_date")
# Views on dw.fact_orders: dropped here, re-created by the repeatable step (plpgsql/dw/current_attribute_views.sql).
VIEWS = ("dw.product_sales", "dw.customer_lifetime_value", "dw.customer_segmentation")
# The indexes the engine and the proposal's queries need, built after the copy (one sort each).
INDEXES = """
CREATE UNIQUE INDEX fact_orders_one_row_per_line ON dw.fact_orders (order_item_id, order_date) NULLS NOT DISTINCT;
CREATE INDEX idx_fact_customer ON dw.fact_orders (customer_key, order_date);
CREATE INDEX idx_fact_product ON dw.fact_orders (product_key, order_date);
CREATE INDEX idx_fact_date ON dw.fact_orders (date_key);
CREATE INDEX fact_orders_order ON dw.fact_orders (order_id);
"""

PARTITIONED = f"""
CREATE TABLE dw.fact_orders (
    order_fact_key bigint NOT NULL DEFAULT nextval('dw.fact_orders_order_fact_key_seq'),
    order_id       integer NOT NULL,
    order_item_id  integer NOT NULL,
    customer_key   integer NOT NULL,
    product_key    integer NOT NULL,
    date_key       integer NOT NULL,
    quantity       integer NOT NULL,
    unit_price     numeric(10,2) NOT NULL,
    line_total     numeric(10,2) NOT NULL,
    order_status   varchar(50),
    created_at     timestamp DEFAULT CURRENT_TIMESTAMP,
    customer_id    integer,
    product_id     integer,
    order_date     timestamp
) PARTITION BY RANGE (order_date);
ALTER SEQUENCE dw.fact_orders_order_fact_key_seq OWNED BY dw.fact_orders.order_fact_key;
-- Lines whose order has not landed (order_date NULL) and nothing else.
CREATE TABLE dw.fact_orders_undated PARTITION OF dw.fact_orders
    (CONSTRAINT fact_orders_undated_has_no_date CHECK (order_date IS NULL)) DEFAULT;
-- A month for every month of dim_date and of the facts, and three ahead (as dw.ensure_dates does).
DO $months$
DECLARE
    v_month date;
BEGIN
    FOR v_month IN
        SELECT m.month::date
        FROM (SELECT min(d.first) AS first, max(d.last) AS last
              FROM (SELECT min(x.date)::timestamp AS first, max(x.date)::timestamp AS last FROM dw.dim_date x WHERE x.date_key > 0
                    UNION ALL
                    SELECT min(f.order_date), max(f.order_date) FROM dw.fact_orders_unpartitioned f) d) r
        CROSS JOIN generate_series(date_trunc('month', r.first), date_trunc('month', r.last) + interval '3 months',
                                   interval '1 month') AS m (month)
    LOOP
        EXECUTE format('CREATE TABLE dw.%I PARTITION OF dw.fact_orders FOR VALUES FROM (%L) TO (%L)',
                       to_char(v_month, '"fact_orders_y"YYYY"m"MM'), v_month, (v_month + interval '1 month')::date);
    END LOOP;
END
$months$;
INSERT INTO dw.fact_orders ({FACT_COLUMNS}) SELECT {FACT_COLUMNS} FROM dw.fact_orders_unpartitioned;
{INDEXES}
CREATE TABLE dw.fact_order_lines (
    order_item_id integer PRIMARY KEY,
    order_id      integer NOT NULL,
    order_date    timestamp            -- the fact's partition key (NULL: dw.fact_orders_undated)
);
INSERT INTO dw.fact_order_lines SELECT order_item_id, order_id, order_date FROM dw.fact_orders_unpartitioned;
CREATE INDEX fact_order_lines_order ON dw.fact_order_lines (order_id);
DROP TABLE dw.fact_orders_unpartitioned;
"""

AGGREGATES = """
CREATE TABLE dw.sales_by_order (
    order_id    integer NOT NULL,
    customer_id integer NOT NULL,     -- -1: the unknown member
    date_key    integer NOT NULL,
    lines       integer NOT NULL,
    units       bigint NOT NULL,
    revenue     numeric NOT NULL,
    PRIMARY KEY (order_id, customer_id, date_key)
);
CREATE TABLE dw.sales_by_customer (
    customer_id integer PRIMARY KEY,
    first_name  text,
    last_name   text,
    city        text,
    country     text,
    orders      bigint NOT NULL,
    lines       bigint NOT NULL,
    revenue     numeric NOT NULL
);
CREATE TABLE dw.sales_by_city (
    city      text,
    country   text,
    customers bigint NOT NULL,
    revenue   numeric NOT NULL,
    CONSTRAINT sales_by_city_key UNIQUE NULLS NOT DISTINCT (city, country)
);
CREATE TABLE dw.sales_by_product (
    product_id   integer PRIMARY KEY,
    product_name text,
    category     text,
    brand        text,
    units        bigint NOT NULL,
    lines        bigint NOT NULL,
    revenue      numeric NOT NULL
);
CREATE TABLE dw.sales_by_day (
    date_key integer PRIMARY KEY,
    orders   bigint NOT NULL,
    lines    bigint NOT NULL,
    units    bigint NOT NULL,
    revenue  numeric NOT NULL
);

-- Filled from the facts (later, dw.recompute_sales does the same; a migration keeps its own copy).
INSERT INTO dw.sales_by_order
SELECT f.order_id, CASE WHEN f.customer_key = -1 THEN -1 ELSE f.customer_id END, f.date_key,
       count(*), sum(f.quantity), sum(f.line_total)
FROM dw.fact_orders f GROUP BY 1, 2, 3;
INSERT INTO dw.sales_by_customer
SELECT s.customer_id, c.first_name, c.last_name, c.city, c.country, s.orders, s.lines, s.revenue
FROM (SELECT o.customer_id, count(DISTINCT o.order_id) AS orders, sum(o.lines) AS lines, sum(o.revenue) AS revenue
      FROM dw.sales_by_order o GROUP BY 1) s
LEFT JOIN LATERAL (SELECT * FROM dw.dim_customer d WHERE d.customer_id = s.customer_id ORDER BY d.version DESC LIMIT 1) c ON true;
INSERT INTO dw.sales_by_city SELECT city, country, count(*), sum(revenue) FROM dw.sales_by_customer GROUP BY 1, 2;
INSERT INTO dw.sales_by_day
SELECT o.date_key, count(DISTINCT o.order_id), sum(o.lines), sum(o.units), sum(o.revenue) FROM dw.sales_by_order o GROUP BY 1;
INSERT INTO dw.sales_by_product
SELECT s.product_id, p.product_name, p.category, p.brand, s.units, s.lines, s.revenue
FROM (SELECT CASE WHEN f.product_key = -1 THEN -1 ELSE f.product_id END AS product_id,
             sum(f.quantity) AS units, count(*) AS lines, sum(f.line_total) AS revenue
      FROM dw.fact_orders f GROUP BY 1) s
LEFT JOIN LATERAL (SELECT * FROM dw.dim_product d WHERE d.product_id = s.product_id ORDER BY d.version DESC LIMIT 1) p ON true;
"""


def upgrade() -> None:
    op.execute("SET LOCAL ROLE wh_owner")
    op.execute(f"DROP VIEW IF EXISTS {', '.join(VIEWS)}")
    op.execute("ALTER TABLE dw.fact_orders RENAME TO fact_orders_unpartitioned")
    op.execute("ALTER TABLE dw.fact_orders_unpartitioned DROP CONSTRAINT fact_orders_pkey,"
               " DROP CONSTRAINT fact_orders_one_row_per_line")
    op.execute("DROP INDEX dw.idx_fact_customer, dw.idx_fact_product, dw.idx_fact_date, dw.fact_orders_order")
    op.execute("ALTER SEQUENCE dw.fact_orders_order_fact_key_seq OWNED BY NONE")
    op.execute(PARTITIONED)
    op.execute(AGGREGATES)
    op.execute("ANALYZE dw.fact_orders, dw.fact_order_lines")
    op.execute("DROP FUNCTION IF EXISTS dw.rebuild()")
    op.execute("RESET ROLE")


# Routines of plpgsql/ that only this revision's schema has (the older code does not re-create them).
NEW_ROUTINES = ("dw.rebuild(integer)", "dw.add_to_sales(dw.fact_orders[], dw.fact_orders[])",
                "dw.move_city_sales(dw.sales_by_customer[], dw.sales_by_customer[])", "dw.describe_sales() CASCADE",
                "dw.recompute_sales()", "dw.empty_facts_companions() CASCADE", "dw.current_facts(integer[])",
                "dw.ensure_fact_partitions(date, date)", "dw.attach_fact_partition(text, date)")


def downgrade() -> None:
    op.execute("SET LOCAL ROLE wh_owner")
    op.execute(f"DROP VIEW IF EXISTS {', '.join(VIEWS)}, dw.daily_sales")
    for routine in NEW_ROUTINES:
        op.execute(f"DROP FUNCTION IF EXISTS {routine}")
    op.execute("DROP TABLE dw.sales_by_order, dw.sales_by_customer, dw.sales_by_city, dw.sales_by_product, dw.sales_by_day")
    op.execute("DROP TABLE dw.fact_order_lines")
    op.execute("ALTER TABLE dw.fact_orders RENAME TO fact_orders_partitioned")
    op.execute("ALTER SEQUENCE dw.fact_orders_order_fact_key_seq OWNED BY NONE")
    op.execute("DROP INDEX dw.fact_orders_one_row_per_line, dw.idx_fact_customer, dw.idx_fact_product, dw.idx_fact_date,"
               " dw.fact_orders_order")
    op.execute(f"""
        CREATE TABLE dw.fact_orders (LIKE dw.fact_orders_partitioned INCLUDING DEFAULTS);
        ALTER SEQUENCE dw.fact_orders_order_fact_key_seq OWNED BY dw.fact_orders.order_fact_key;
        INSERT INTO dw.fact_orders ({FACT_COLUMNS}) SELECT {FACT_COLUMNS} FROM dw.fact_orders_partitioned;
        DROP TABLE dw.fact_orders_partitioned;
        ALTER TABLE dw.fact_orders ADD PRIMARY KEY (order_fact_key),
            ADD CONSTRAINT fact_orders_one_row_per_line UNIQUE (order_item_id);
        CREATE INDEX idx_fact_customer ON dw.fact_orders (customer_key, order_date);
        CREATE INDEX idx_fact_product ON dw.fact_orders (product_key, order_date);
        CREATE INDEX idx_fact_date ON dw.fact_orders (date_key);
        CREATE INDEX fact_orders_order ON dw.fact_orders (order_id);
    """)
    op.execute("RESET ROLE")
