"""The warehouse: roles, schemas, landing change tables, the star schema and ops tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Keeps design.md's data contract: landing.<table> holds every change event append-only with the
`__` metadata columns the sink writes; dw holds the proposal's star schema (same column names) plus
what the engine needs; ops holds quarantine, settings and apply statistics.
"""
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ROLES = """
DO $roles$
BEGIN
    -- Roles are cluster-wide: create them once, leave them alone afterwards.
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wh_owner') THEN
        CREATE ROLE wh_owner NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wh_loader') THEN
        CREATE ROLE wh_loader LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wh_analyst') THEN
        CREATE ROLE wh_analyst LOGIN;
    END IF;
END
$roles$;
-- The migrating user must be able to act as the owner (a no-op for a superuser).
GRANT wh_owner TO CURRENT_USER;
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE SCHEMA landing AUTHORIZATION wh_owner;
CREATE SCHEMA dw AUTHORIZATION wh_owner;
CREATE SCHEMA ops AUTHORIZATION wh_owner;
"""

# Landing columns are permissive (text, numeric) so the sink's INSERT never fails on a value: a
# value the star schema cannot hold is caught by the engine and quarantined (promise 8).
EVENT_METADATA = """
    __op            text,
    __lsn           bigint,
    __txid          bigint,
    __source_ts_us  bigint,
    __deleted       text,
    __topic         text,
    __partition     integer,
    __offset        bigint,
    __landed_at     timestamptz NOT NULL DEFAULT clock_timestamp()
"""

LANDING = f"""
CREATE TABLE landing.customers (
    landing_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id integer,
    first_name  text,
    last_name   text,
    email       text,
    phone       text,
    address     text,
    city        text,
    country     text,
    created_at  timestamp,
    updated_at  timestamp,
{EVENT_METADATA}
);
CREATE TABLE landing.products (
    landing_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id   integer,
    product_name text,
    category     text,
    brand        text,
    price        numeric,
    cost         numeric,
    description  text,
    created_at   timestamp,
    updated_at   timestamp,
{EVENT_METADATA}
);
CREATE TABLE landing.orders (
    landing_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id     integer,
    customer_id  integer,
    order_date   timestamp,
    status       text,
    total_amount numeric,
    created_at   timestamp,
    updated_at   timestamp,
{EVENT_METADATA}
);
CREATE TABLE landing.order_items (
    landing_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_item_id integer,
    order_id      integer,
    product_id    integer,
    quantity      integer,
    unit_price    numeric,
    line_total    numeric,
    created_at    timestamp,
{EVENT_METADATA}
);
-- The source's heartbeat table (whctl.heartbeat), written by the connector's heartbeat action
-- query: its newest landed row measures end-to-end freshness.
CREATE TABLE landing.heartbeat (
    landing_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         integer,
    beat_at    text,
{EVENT_METADATA}
);
-- The engine reads a key's whole history ordered by LSN.
CREATE INDEX customers_key_lsn ON landing.customers (customer_id, __lsn);
CREATE INDEX products_key_lsn ON landing.products (product_id, __lsn);
CREATE INDEX orders_key_lsn ON landing.orders (order_id, __lsn);
CREATE INDEX order_items_key_lsn ON landing.order_items (order_item_id, __lsn);
CREATE INDEX heartbeat_source_ts ON landing.heartbeat (__source_ts_us);
"""

STAR = """
CREATE TABLE dw.dim_customer (
    customer_key serial PRIMARY KEY,
    customer_id  integer NOT NULL,
    first_name   varchar(100),
    last_name    varchar(100),
    email        varchar(255),
    phone        varchar(20),
    address      varchar(500),
    city         varchar(100),
    country      varchar(100),
    created_at   timestamp,                       -- the source row's created_at (Type 1)
    valid_from   timestamp NOT NULL,
    valid_to     timestamp NOT NULL DEFAULT '9999-12-31'::timestamp,
    is_current   boolean NOT NULL DEFAULT true,
    version      integer NOT NULL DEFAULT 1,
    is_inferred  boolean NOT NULL DEFAULT false,  -- placeholder for a key facts reference before it landed
    opened_lsn   bigint,                          -- source LSN of the change that opened this version
    CONSTRAINT dim_customer_version UNIQUE (customer_id, version),
    CONSTRAINT dim_customer_no_overlap EXCLUDE USING gist
        (customer_id WITH =, tsrange(valid_from, valid_to) WITH &&) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX idx_dim_customer_id ON dw.dim_customer (customer_id, is_current);
CREATE INDEX dim_customer_validity ON dw.dim_customer (customer_id, valid_from);
CREATE INDEX dim_customer_inferred ON dw.dim_customer (customer_key) WHERE is_inferred;

CREATE TABLE dw.dim_product (
    product_key  serial PRIMARY KEY,
    product_id   integer NOT NULL,
    product_name varchar(255),
    category     varchar(100),
    brand        varchar(100),
    price        numeric(10,2),
    cost         numeric(10,2),
    -- Derived from the version's price and cost; undefined (NULL) without a positive price or
    -- outside what numeric(5,2) holds.
    margin_percentage numeric(5,2) GENERATED ALWAYS AS (
        CASE WHEN price > 0 AND abs((price - cost) / price) < 9.99995
             THEN round((price - cost) / price * 100, 2) END) STORED,
    description  text,                            -- Type 1
    created_at   timestamp,                       -- Type 1
    valid_from   timestamp NOT NULL,
    valid_to     timestamp NOT NULL DEFAULT '9999-12-31'::timestamp,
    is_current   boolean NOT NULL DEFAULT true,
    version      integer NOT NULL DEFAULT 1,
    is_inferred  boolean NOT NULL DEFAULT false,
    opened_lsn   bigint,
    CONSTRAINT dim_product_version UNIQUE (product_id, version),
    CONSTRAINT dim_product_no_overlap EXCLUDE USING gist
        (product_id WITH =, tsrange(valid_from, valid_to) WITH &&) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX idx_dim_product_id ON dw.dim_product (product_id, is_current);
CREATE INDEX dim_product_validity ON dw.dim_product (product_id, valid_from);
CREATE INDEX dim_product_inferred ON dw.dim_product (product_key) WHERE is_inferred;

CREATE TABLE dw.dim_date (
    date_key     integer PRIMARY KEY,             -- YYYYMMDD
    date         date NOT NULL,
    day_of_week  varchar(10),
    day_of_month integer,
    month        integer,
    month_name   varchar(10),
    quarter      integer,
    year         integer,
    is_weekend   boolean,
    is_holiday   boolean
);
CREATE INDEX dim_date_year_month ON dw.dim_date (year, month);
-- One row per real date (the unknown member -1 carries a placeholder date).
CREATE UNIQUE INDEX dim_date_one_row_per_date ON dw.dim_date (date) WHERE date_key > 0;

CREATE TABLE dw.fact_orders (
    order_fact_key bigserial PRIMARY KEY,
    order_id       integer NOT NULL,
    order_item_id  integer NOT NULL,
    -- Deferred: a late change may remove a dimension version before its facts are re-pointed
    -- within the same transaction.
    customer_key   integer NOT NULL REFERENCES dw.dim_customer (customer_key) DEFERRABLE INITIALLY DEFERRED,
    product_key    integer NOT NULL REFERENCES dw.dim_product (product_key) DEFERRABLE INITIALLY DEFERRED,
    date_key       integer NOT NULL REFERENCES dw.dim_date (date_key) DEFERRABLE INITIALLY DEFERRED,
    quantity       integer NOT NULL,
    unit_price     numeric(10,2) NOT NULL,
    line_total     numeric(10,2) NOT NULL,
    order_status   varchar(50),
    created_at     timestamp DEFAULT CURRENT_TIMESTAMP,   -- the source order line's created_at
    -- What re-pointing needs when a dimension changes: the natural keys and the order's time at
    -- which the versions are chosen.
    customer_id    integer,
    product_id     integer,
    order_date     timestamp,
    CONSTRAINT fact_orders_one_row_per_line UNIQUE (order_item_id)
);
-- The proposal's indexes, with order_date second: when a version chain changes, the facts of its
-- keys dated from the change on are found by one range scan (dw.repoint_facts).
CREATE INDEX idx_fact_customer ON dw.fact_orders (customer_key, order_date);
CREATE INDEX idx_fact_product ON dw.fact_orders (product_key, order_date);
CREATE INDEX idx_fact_date ON dw.fact_orders (date_key);
CREATE INDEX fact_orders_order ON dw.fact_orders (order_id);

-- The latest state of one order line joined to its order's latest state: what a fact is made of.
CREATE TYPE dw.order_line AS (
    order_item_id integer,
    is_deleted    boolean,
    order_id      integer,
    product_id    integer,
    quantity      integer,
    unit_price    numeric,
    line_total    numeric,
    customer_id   integer,
    order_date    timestamp,
    order_status  text,
    created_at    timestamp
);

-- Unknown members: what a fact points to while its order has not landed (promise 6).
INSERT INTO dw.dim_customer (customer_key, customer_id, first_name, last_name, valid_from)
VALUES (-1, -1, 'Unknown', 'Unknown', '1900-01-01');
INSERT INTO dw.dim_product (product_key, product_id, product_name, category, brand, valid_from)
VALUES (-1, -1, 'Unknown', 'Unknown', 'Unknown', '1900-01-01');
INSERT INTO dw.dim_date (date_key, date, day_of_week, month_name) VALUES (-1, '1900-01-01', 'Unknown', 'Unknown');
"""

OPS = """
-- Settings the engine reads (the source time zone of promise 2).
CREATE TABLE ops.settings (
    name  text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO ops.settings VALUES ('source_timezone', 'UTC');

-- Which landing table feeds which SCD Type 2 dimension.
CREATE TABLE ops.dimension_source (
    dimension     text PRIMARY KEY,
    landing_table regclass NOT NULL,
    natural_key   name NOT NULL,
    dim_table     regclass NOT NULL,
    surrogate_key name NOT NULL
);
INSERT INTO ops.dimension_source VALUES
    ('customer', 'landing.customers', 'customer_id', 'dw.dim_customer', 'customer_key'),
    ('product',  'landing.products',  'product_id',  'dw.dim_product',  'product_key');

-- The one place that says which columns are Type 2 (a change opens a version) and which are
-- Type 1 (overwritten in place on every version of the key). Source columns not listed are not
-- kept in the dimension (updated_at).
CREATE TABLE ops.scd_policy (
    dimension   text NOT NULL REFERENCES ops.dimension_source,
    column_name name NOT NULL,
    scd_type    smallint NOT NULL CHECK (scd_type IN (1, 2)),
    PRIMARY KEY (dimension, column_name)
);
INSERT INTO ops.scd_policy VALUES
    ('customer', 'first_name', 2), ('customer', 'last_name', 2), ('customer', 'email', 2),
    ('customer', 'phone', 2), ('customer', 'address', 2), ('customer', 'city', 2),
    ('customer', 'country', 2), ('customer', 'created_at', 1),
    ('product', 'product_name', 2), ('product', 'category', 2), ('product', 'brand', 2),
    ('product', 'price', 2), ('product', 'cost', 2),
    ('product', 'description', 1), ('product', 'created_at', 1);

-- Events the engine could not apply (promise 8). Landing is never changed: a quarantined event
-- stays there and is left out of the engine's reads until it is retried.
CREATE TABLE ops.quarantine (
    quarantine_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    landing_table  text NOT NULL,
    landing_id     bigint NOT NULL,
    reason         text NOT NULL,
    event          jsonb NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (landing_table, landing_id)
);

-- What the engine applied, per landing table.
CREATE TABLE ops.apply_stats (
    landing_table   text PRIMARY KEY,
    batches         bigint NOT NULL DEFAULT 0,
    events          bigint NOT NULL DEFAULT 0,
    quarantined     bigint NOT NULL DEFAULT 0,
    last_applied_at timestamptz
);
INSERT INTO ops.apply_stats (landing_table) VALUES ('customers'), ('products'), ('orders'), ('order_items');
"""

GRANTS = """
-- The sink's role appends to landing and can do nothing else; triggers run as wh_owner.
GRANT USAGE ON SCHEMA landing TO wh_loader;
GRANT INSERT ON ALL TABLES IN SCHEMA landing TO wh_loader;
-- Analysts read the star schema.
GRANT USAGE ON SCHEMA dw TO wh_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA dw TO wh_analyst;
ALTER DEFAULT PRIVILEGES FOR ROLE wh_owner IN SCHEMA dw GRANT SELECT ON TABLES TO wh_analyst;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
"""


def upgrade() -> None:
    op.execute(ROLES)
    op.execute("SET LOCAL ROLE wh_owner")
    op.execute(LANDING)
    op.execute(STAR)
    op.execute(OPS)
    op.execute(GRANTS)
    op.execute("RESET ROLE")
    # The proposal's queries name dim_customer, fact_orders… unqualified.
    op.execute("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = dw, public', current_database()); END $$")


def downgrade() -> None:
    op.execute("DROP SCHEMA ops CASCADE; DROP SCHEMA dw CASCADE; DROP SCHEMA landing CASCADE")
