"""What the dashboard reads from the warehouse, as the read-only analyst role. Every query takes its
values as parameters; identifiers come only from the fixed tables below."""
from __future__ import annotations

from datetime import date

import psycopg
from flask import current_app, g
from psycopg import sql
from psycopg.rows import dict_row

from whctl.db import connect
from whctl.kpi_queries import QUERIES
from whctl.web.errors import ApiError

ANALYST = "wh_analyst"
STATEMENT_TIMEOUT_MS = 15000


def warehouse() -> psycopg.Connection:
    """The request's connection as the analyst role (opened on first use, closed at teardown)."""
    if "warehouse" not in g:
        settings = current_app.extensions["whctl"]["settings"]
        g.warehouse = connect(settings, "warehouse", autocommit=True, role=ANALYST,
                              options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c default_transaction_read_only=on"
                                      " -c search_path=dw,public")
        g.warehouse.row_factory = dict_row
    return g.warehouse


def close_warehouse(_exc=None) -> None:
    conn = g.pop("warehouse", None)
    if conn is not None:
        conn.close()


def rows(query, params=()) -> list[dict]:
    return warehouse().execute(query, params).fetchall()


# --- pipeline over time ------------------------------------------------------------------------

def pipeline(minutes: int) -> dict:
    series = rows("""
        WITH m AS (
            SELECT generate_series(date_trunc('minute', now()) - make_interval(mins => %(n)s - 1),
                                   date_trunc('minute', now()), interval '1 minute') AS minute)
        SELECT m.minute, count(b.applied_at) AS batches,
               coalesce(sum(b.events), 0)::bigint AS events, coalesce(sum(b.quarantined), 0)::bigint AS quarantined,
               round(min(extract(epoch FROM b.applied_at - b.source_last))::numeric, 3)::float8 AS latency_min_s,
               round(max(extract(epoch FROM b.applied_at - b.source_first))::numeric, 3)::float8 AS latency_max_s
        FROM m LEFT JOIN ops.apply_batches b ON b.applied_at >= m.minute AND b.applied_at < m.minute + interval '1 minute'
        GROUP BY m.minute ORDER BY m.minute""", {"n": minutes})
    # end-to-end lag per minute: the connector's heartbeats, landing time minus source commit time
    lag = {r["minute"]: r["heartbeat_lag_s"] for r in rows("""
        SELECT date_trunc('minute', to_timestamp(h.__source_ts_us / 1e6)) AS minute,
               round(max(extract(epoch FROM h.__landed_at - to_timestamp(h.__source_ts_us / 1e6)))::numeric, 3)::float8 AS heartbeat_lag_s
        FROM landing.heartbeat h
        WHERE h.__source_ts_us >= extract(epoch FROM date_trunc('minute', now()) - make_interval(mins => %(n)s - 1))::bigint * 1000000
        GROUP BY 1""", {"n": minutes})}
    for minute in series:
        minute["heartbeat_lag_s"] = lag.get(minute["minute"])
    totals = rows("SELECT landing_table, batches, events, quarantined, last_applied_at FROM ops.apply_stats ORDER BY landing_table")
    return {"minutes": minutes, "series": series, "totals": totals}


# --- quarantine and incidents ------------------------------------------------------------------

def quarantine(limit: int) -> dict:
    total = rows("SELECT count(*) AS n FROM ops.quarantine")[0]["n"]
    by_reason = rows("""SELECT landing_table, reason, count(*) AS events, max(quarantined_at) AS last_at
                        FROM ops.quarantine GROUP BY 1, 2 ORDER BY events DESC, 1, 2 LIMIT 50""")
    events = rows("""SELECT quarantine_id, landing_table, landing_id, reason, quarantined_at, event
                     FROM ops.quarantine ORDER BY quarantine_id DESC LIMIT %s""", (limit,))
    return {"total": total, "by_reason": by_reason, "events": events}


def incidents(state: str, limit: int) -> dict:
    open_count = rows("SELECT count(*) AS n FROM ops.incidents WHERE resolved_at IS NULL")[0]["n"]
    found = rows("""
        SELECT incident_id, opened_at, component, cause, action, resolved_at,
               round(extract(epoch FROM resolved_at - opened_at)::numeric, 1)::float8 AS recovered_after_s, detail
        FROM ops.incidents WHERE %(all)s OR resolved_at IS NULL
        ORDER BY opened_at DESC LIMIT %(limit)s""", {"all": state == "all", "limit": limit})
    return {"open": open_count, "incidents": found}


# --- business metrics --------------------------------------------------------------------------

# The proposal's queries run verbatim; the date range is a CTE named fact_orders, which their
# unqualified `fact_orders` resolves to before the table (the proposal's fixed month is dropped).
PROPOSAL_MONTH = "WHERE d.year = 2025 AND d.month = 11"
PROPOSAL_KPIS = {
    "daily-revenue": "Daily revenue trend",
    "top-products": "Top selling products",
    "customer-lifetime-value": "Customer lifetime value",
    "customer-segmentation": "Customer segmentation",
    "point-in-time-pricing": "Point-in-time pricing",
}
# The type-7 views (plpgsql/dw/current_attribute_views.sql): the same questions over every version.
VIEW_KPIS = {
    "product-sales": ("dw.product_sales", "revenue"),
    "customer-lifetime-value-all-versions": ("dw.customer_lifetime_value", "lifetime_value"),
    "customer-segmentation-all-versions": ("dw.customer_segmentation", "total_revenue"),
}


def kpi_catalogue() -> list[dict]:
    out = [{"id": k, "name": name, "kind": "proposal query", "parameters": ["from", "to", "limit"]}
           for k, name in PROPOSAL_KPIS.items()]
    out += [{"id": k, "name": f"{view} (type 7)", "kind": "type-7 view", "parameters": ["limit"]}
            for k, (view, _order) in VIEW_KPIS.items()]
    return out


def kpi(kpi_id: str, start: date | None, end: date | None, limit: int) -> dict:
    if kpi_id in PROPOSAL_KPIS:
        text = QUERIES[PROPOSAL_KPIS[kpi_id]].replace(PROPOSAL_MONTH, "").strip().rstrip(";")
        query = sql.SQL("WITH fact_orders AS (SELECT * FROM dw.fact_orders WHERE order_date >= %(from)s"
                        " AND order_date < %(to)s::date + 1) SELECT * FROM ({}) kpi LIMIT %(limit)s").format(sql.SQL(text))
        params = {"from": start, "to": end, "limit": limit}
        name = PROPOSAL_KPIS[kpi_id]
    elif kpi_id in VIEW_KPIS:
        view, order = VIEW_KPIS[kpi_id]
        schema, table = view.split(".")
        query = sql.SQL("SELECT * FROM {}.{} ORDER BY {} DESC NULLS LAST LIMIT %(limit)s").format(
            sql.Identifier(schema), sql.Identifier(table), sql.Identifier(order))
        params = {"limit": limit}
        name = f"{view} (type 7)"
    else:
        raise ApiError(f"unknown KPI {kpi_id[:60]!r} (known: {', '.join([*PROPOSAL_KPIS, *VIEW_KPIS])})", "kpi", 404)
    cur = warehouse().execute(query, params)
    return {"id": kpi_id, "name": name, "from": start, "to": end, "limit": limit,
            "columns": [d.name for d in cur.description], "rows": cur.fetchall()}


# --- history -----------------------------------------------------------------------------------

DIMENSIONS = {
    "customer": ("dim_customer", "customer_key", "customer_id",
                 ("first_name", "last_name", "email", "phone", "address", "city", "country")),
    "product": ("dim_product", "product_key", "product_id",
                ("product_name", "category", "brand", "price", "cost", "margin_percentage")),
}
VERSION_COLUMNS = ("version", "valid_from", "valid_to", "is_current", "is_inferred")


def versions(dimension: str, natural_key: int, limit: int) -> dict:
    """Every version of one customer or product, each with the orders whose facts point to it."""
    table, sk, nk, attrs = DIMENSIONS[dimension]
    found = rows(sql.SQL("SELECT {cols} FROM dw.{t} WHERE {nk} = %s AND {sk} > 0 ORDER BY valid_from, version").format(
        cols=sql.SQL(", ").join(map(sql.Identifier, (sk, *VERSION_COLUMNS, *attrs))),
        t=sql.Identifier(table), nk=sql.Identifier(nk), sk=sql.Identifier(sk)), (natural_key,))
    if not found:
        raise ApiError(f"{dimension} {natural_key} has no version in the warehouse", "id", 404)
    lines = rows(sql.SQL("""
        SELECT {sk} AS version_key, order_id, order_item_id, order_date, order_status, quantity, unit_price, line_total,
               {other}
        FROM (SELECT f.*, row_number() OVER (PARTITION BY f.{sk} ORDER BY f.order_date, f.order_item_id) AS n
              FROM dw.fact_orders f WHERE f.{sk} = ANY(%s)) f
        WHERE n <= %s ORDER BY order_date, order_item_id""").format(
            sk=sql.Identifier(sk), other=sql.Identifier("product_id" if dimension == "customer" else "customer_id")),
        ([v[sk] for v in found], limit))
    for v in found:
        v["orders"] = [{k: line[k] for k in line if k != "version_key"} for line in lines if line["version_key"] == v[sk]]
    return {dimension + "_id": natural_key, "versions": found, "orders_per_version_limit": limit}


def order(order_id: int) -> dict:
    lines = rows("""
        SELECT f.order_item_id, f.order_date, f.order_status, f.quantity, f.unit_price, f.line_total, f.date_key,
               jsonb_build_object('customer_key', c.customer_key, 'customer_id', c.customer_id, 'version', c.version,
                   'valid_from', c.valid_from, 'valid_to', c.valid_to, 'is_current', c.is_current, 'is_inferred', c.is_inferred,
                   'first_name', c.first_name, 'last_name', c.last_name, 'address', c.address, 'city', c.city, 'country', c.country)
                   AS customer_version,
               jsonb_build_object('product_key', p.product_key, 'product_id', p.product_id, 'version', p.version,
                   'valid_from', p.valid_from, 'valid_to', p.valid_to, 'is_current', p.is_current, 'is_inferred', p.is_inferred,
                   'product_name', p.product_name, 'category', p.category, 'price', p.price) AS product_version
        FROM dw.fact_orders f
        JOIN dw.dim_customer c ON c.customer_key = f.customer_key
        JOIN dw.dim_product p ON p.product_key = f.product_key
        WHERE f.order_id = %s ORDER BY f.order_item_id""", (order_id,))
    if not lines:
        raise ApiError(f"order {order_id} has no facts in the warehouse", "id", 404)
    return {"order_id": order_id, "order_date": lines[0]["order_date"], "order_status": lines[0]["order_status"],
            "total": sum(line["line_total"] for line in lines), "lines": lines}
