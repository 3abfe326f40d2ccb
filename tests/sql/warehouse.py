"""Shared assertions and read helpers for the SQL-level tests (one place, no copies).

- `check_version_chains(conn)` asserts promise 1 of design.md over the whole warehouse.
- `dw_snapshot(conn)` returns the contents of `dw` with surrogate keys normalised away (a fact's
  dimension keys become the natural key and version they point to), for comparing two
  warehouses (promises 4 and 9).
- `assert_views_match_facts(conn)` asserts that the type-7 views, which read the sales aggregates
  the engine keeps, answer their questions exactly as grouping every fact does, and that the key
  map holds one row per fact (migration 0008).
- small readers: `versions()`, `fact()`, `quarantined()`, and `reset_warehouse()` / `rebuild()`.
"""
from __future__ import annotations

from datetime import datetime

from psycopg import sql
from psycopg.rows import dict_row

BEGINNING = datetime(1900, 1, 1)
END_OF_TIME = datetime(9999, 12, 31)
TOAST = "__debezium_unavailable_value"

# dimension name -> (dimension table, surrogate key, natural key, landing table)
DIMENSIONS = {
    "customer": ("dim_customer", "customer_key", "customer_id", "customers"),
    "product": ("dim_product", "product_key", "product_id", "products"),
}
# Columns left out of snapshots. fact_orders.created_at is a column default (the apply time), not
# derived from the events, so two warehouses fed the same events differ there by construction;
# tests/sql/test_rebuild.py checks that column on its own.
SALES_TABLES = ("sales_by_order", "sales_by_customer", "sales_by_city", "sales_by_product", "sales_by_day")
SNAPSHOT_SKIP = {"dim_customer": {"customer_key"}, "dim_product": {"product_key"},
                 "fact_orders": {"order_fact_key", "customer_key", "product_key", "created_at"}}


def _columns(conn, table: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'dw' AND table_name = %s "
        "ORDER BY ordinal_position", (table,)).fetchall()]


def check_version_chains(conn) -> int:
    """Assert promise 1 (and the 1900-01-01 start of promise 2) for every natural key of both SCD2
    dimensions. The source's state comes from landing: a key exists in the source when its latest
    applied event (by LSN) is not a delete; a key with no applied event may only be an inferred
    member. A gap between versions must be the time between a delete and the key's return.
    Returns how many natural keys were checked."""
    checked = 0
    for dimension, (table, surrogate, natural, landing) in DIMENSIONS.items():
        rows = conn.execute(sql.SQL(
            "SELECT {nk}, version, valid_from, valid_to, is_current, is_inferred FROM dw.{t} "
            "WHERE {sk} <> -1 ORDER BY {nk}, valid_from").format(
                nk=sql.Identifier(natural), sk=sql.Identifier(surrogate), t=sql.Identifier(table))).fetchall()
        # events applied with held columns count; a TRUNCATE (one event, no key) deletes every key
        events = conn.execute(sql.SQL(
            "SELECT e.k, e.op, e.at FROM ("
            "  SELECT l.{nk} AS k, l.__lsn AS lsn, l.__op AS op, ops.source_time(l.__source_ts_us) AS at FROM landing.{t} l "
            "  WHERE l.{nk} IS NOT NULL AND NOT EXISTS (SELECT FROM ops.quarantine q "
            "    WHERE q.landing_table = {lt} AND q.landing_id = l.landing_id AND q.held_columns IS NULL) "
            "  UNION ALL "
            "  SELECT k.k, t.__lsn, 'd', ops.source_time(t.__source_ts_us) "
            "  FROM (SELECT DISTINCT l.{nk} AS k FROM landing.{t} l WHERE l.{nk} IS NOT NULL) k CROSS JOIN landing.{t} t "
            "  WHERE t.__op = 't' AND NOT EXISTS (SELECT FROM ops.quarantine q "
            "    WHERE q.landing_table = {lt} AND q.landing_id = t.landing_id)"
            ") e ORDER BY e.k, e.lsn, e.op").format(
                nk=sql.Identifier(natural), t=sql.Identifier(landing), lt=sql.Literal(landing))).fetchall()
        # The source's history per key, one state per transaction (several changes at one commit
        # time count as their last one): was the key ever present, its last operation, its deletes.
        history: dict[int, list] = {}
        for key, op, at in events:
            steps = history.setdefault(key, [])
            if steps and steps[-1][0] == at:
                steps[-1] = (at, op)
            else:
                steps.append((at, op))
        last_op = {k: steps[-1][1] for k, steps in history.items() if any(op != "d" for _, op in steps)}
        delete_times = {k: {at for at, op in steps if op == "d"} for k, steps in history.items()}
        chains: dict[int, list] = {}
        for row in rows:
            chains.setdefault(row[0], []).append(row)
        for key, chain in chains.items():
            checked += 1
            where = f"{table} {natural}={key}: {chain}"
            assert [r[1] for r in chain] == list(range(1, len(chain) + 1)), f"versions not 1..n by valid_from: {where}"
            assert chain[0][2] == BEGINNING, f"first version not valid from 1900-01-01: {where}"
            for r in chain:
                assert r[2] < r[3], f"empty or inverted validity: {where}"
                assert r[4] == (r[3] == END_OF_TIME), f"is_current disagrees with valid_to: {where}"
            for before, after in zip(chain, chain[1:]):
                assert before[3] <= after[2], f"versions overlap: {where}"
                if before[3] < after[2]:
                    assert before[3] in delete_times.get(key, set()), f"gap not explained by a delete: {where}"
            current = [r for r in chain if r[4]]
            if key in last_op:
                assert not any(r[5] for r in chain), f"key has landed events but is still inferred: {where}"
                exists = last_op[key] != "d"
                assert len(current) == (1 if exists else 0), \
                    f"{'exists' if exists else 'deleted'} in the source but {len(current)} current rows: {where}"
                if not exists:
                    assert chain[-1][3] in delete_times[key], f"last version not closed at a delete: {where}"
            else:
                assert len(chain) == 1 and chain[0][5] and chain[0][4], f"key without events is not one inferred member: {where}"
        # every key that exists in the source has a version
        missing = [k for k, op in last_op.items() if op != "d" and k not in chains]
        assert not missing, f"{table}: keys present in the source without a version: {missing}"
    return checked


def dw_snapshot(conn) -> dict[str, list[tuple]]:
    """The contents of dw with surrogate keys normalised away, every list sorted.

    Dimensions: every column but the surrogate key. Facts: every column but the fact's own key and
    created_at, with customer_key/product_key replaced by (natural key, version) of the row they
    point to (the unknown members are (-1, 1)). dim_date, the facts' key map and the sales
    aggregates: every row."""
    out = {}
    for table in ("dim_customer", "dim_product", "dim_date"):
        cols = [c for c in _columns(conn, table) if c not in SNAPSHOT_SKIP.get(table, set())]
        out[table] = sorted(conn.execute(sql.SQL("SELECT {} FROM dw.{}").format(
            sql.SQL(", ").join(map(sql.Identifier, cols)), sql.Identifier(table))).fetchall(), key=repr)
    cols = [c for c in _columns(conn, "fact_orders") if c not in SNAPSHOT_SKIP["fact_orders"]]
    out["fact_orders"] = sorted(conn.execute(sql.SQL(
        "SELECT {}, c.customer_id AS dim_customer_id, c.version AS dim_customer_version, "
        "       p.product_id AS dim_product_id, p.version AS dim_product_version "
        "FROM dw.fact_orders f "
        "LEFT JOIN dw.dim_customer c ON c.customer_key = f.customer_key "
        "LEFT JOIN dw.dim_product p ON p.product_key = f.product_key").format(
            sql.SQL(", ").join(sql.Identifier("f", c) for c in cols))).fetchall(), key=repr)
    # what the engine keeps beside the facts (migration 0008): natural keys only, compared whole
    for table in ("fact_order_lines",) + SALES_TABLES:
        out[table] = sorted(conn.execute(sql.SQL("SELECT * FROM dw.{}").format(sql.Identifier(table))).fetchall(), key=repr)
    return out


# Each type-7 view's question asked of the facts directly: every fact counted for the natural key of
# the version it points to, described by the key's latest version.
VIEW_QUESTIONS = {
    "product_sales": """
        SELECT cur.product_id, cur.product_name, cur.category, cur.brand, s.units_sold, s.revenue, s.order_lines
        FROM (SELECT p.product_id, sum(f.quantity) AS units_sold, sum(f.line_total) AS revenue, count(*) AS order_lines
              FROM dw.fact_orders f JOIN dw.dim_product p ON p.product_key = f.product_key GROUP BY p.product_id) s
        JOIN dw.product_latest cur ON cur.product_id = s.product_id""",
    "customer_lifetime_value": """
        SELECT cur.customer_id, cur.first_name || ' ' || cur.last_name, s.total_orders, s.lifetime_value
        FROM (SELECT c.customer_id, count(DISTINCT f.order_id) AS total_orders, sum(f.line_total) AS lifetime_value
              FROM dw.fact_orders f JOIN dw.dim_customer c ON c.customer_key = f.customer_key GROUP BY c.customer_id) s
        JOIN dw.customer_latest cur ON cur.customer_id = s.customer_id""",
    "customer_segmentation": """
        SELECT cur.city, cur.country, count(DISTINCT cur.customer_id), sum(f.line_total)
        FROM dw.fact_orders f
        JOIN dw.dim_customer c ON c.customer_key = f.customer_key
        JOIN dw.customer_latest cur ON cur.customer_id = c.customer_id
        GROUP BY cur.city, cur.country""",
    "daily_sales": """
        SELECT d.date, sum(f.line_total), count(DISTINCT f.order_id), count(*), sum(f.quantity)
        FROM dw.fact_orders f JOIN dw.dim_date d ON d.date_key = f.date_key
        WHERE f.date_key > 0
        GROUP BY d.date""",
}


def assert_views_match_facts(conn) -> None:
    """The views over the sales aggregates equal their questions asked of fact_orders, and
    dw.fact_order_lines names exactly the facts (one per order line, under its order_date)."""
    for view, question in VIEW_QUESTIONS.items():
        direct = sorted(conn.execute(question).fetchall(), key=repr)
        stored = sorted(conn.execute(sql.SQL("SELECT * FROM dw.{}").format(sql.Identifier(view))).fetchall(), key=repr)
        assert stored == direct, f"dw.{view} differs from the facts:\n  view:  {stored}\n  facts: {direct}"
    lines = conn.execute("SELECT order_item_id, order_id, order_date FROM dw.fact_order_lines ORDER BY 1").fetchall()
    facts = conn.execute("SELECT order_item_id, order_id, order_date FROM dw.fact_orders ORDER BY 1").fetchall()
    assert lines == facts, f"the key map differs from the facts:\n  map:   {lines}\n  facts: {facts}"


def versions(conn, dimension: str, key: int) -> list[dict]:
    """Every row of one natural key of dim_customer/dim_product, by version."""
    table, _, natural, _ = DIMENSIONS[dimension]
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql.SQL("SELECT * FROM dw.{} WHERE {} = %s ORDER BY version").format(
            sql.Identifier(table), sql.Identifier(natural)), (key,)).fetchall()


def fact(conn, order_item_id: int) -> dict | None:
    """One fact with the customer and product versions it points to (prefixed c_ and p_)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT f.*, c.customer_id AS c_customer_id, c.version AS c_version, c.city AS c_city, "
            "       c.address AS c_address, c.is_inferred AS c_is_inferred, "
            "       p.product_id AS p_product_id, p.version AS p_version, p.price AS p_price, "
            "       p.product_name AS p_product_name, p.is_inferred AS p_is_inferred "
            "FROM dw.fact_orders f JOIN dw.dim_customer c USING (customer_key) JOIN dw.dim_product p USING (product_key) "
            "WHERE f.order_item_id = %s", (order_item_id,)).fetchone()


def quarantined(conn) -> list[dict]:
    """ops.quarantine with the quarantined event's key fields, oldest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT quarantine_id, landing_table, landing_id, reason, event, held_columns, dismissed_at,"
                           " dismissed_reason FROM ops.quarantine "
                           "ORDER BY quarantine_id").fetchall()


def set_source_timezone(conn, zone: str) -> None:
    conn.execute("UPDATE ops.settings SET value = %s WHERE name = 'source_timezone'", (zone,))


def rebuild(conn) -> tuple[int, int]:
    return conn.execute("SELECT * FROM dw.rebuild()").fetchone()


def reset_warehouse(conn) -> None:
    """Empty landing, dw and ops' event tables, keeping the unknown members and the settings: a
    migrated warehouse that has received nothing (cheaper than a new database)."""
    conn.execute("""
        TRUNCATE landing.customers, landing.products, landing.orders, landing.order_items, landing.heartbeat,
                 dw.fact_orders, ops.quarantine;
        DELETE FROM dw.dim_customer WHERE customer_key <> -1;
        DELETE FROM dw.dim_product WHERE product_key <> -1;
        DELETE FROM dw.dim_date WHERE date_key <> -1;
        UPDATE ops.apply_stats SET batches = 0, events = 0, quarantined = 0, last_applied_at = NULL;
    """)
