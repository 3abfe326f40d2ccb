"""`whctl kpi`: the proposal's KPI queries on the warehouse, first rows of each."""
from __future__ import annotations

from datetime import date

import click

from whctl.db import connect
from whctl.options import WAREHOUSE, json_option, settings_options
from whctl.output import emit, table

# original-proposal.md, "Business Metrics & Analytics", as written there; only the daily revenue
# trend's year and month are this month instead of November 2025.
KPI_QUERIES = {
    "Daily revenue trend": """
SELECT
    d.date,
    SUM(f.line_total) as daily_revenue,
    COUNT(DISTINCT f.order_id) as num_orders
FROM fact_orders f
JOIN dim_date d ON f.date_key = d.date_key
WHERE d.year = {year} AND d.month = {month}
GROUP BY d.date
ORDER BY d.date""",
    "Top selling products": """
SELECT
    p.product_name,
    p.category,
    SUM(f.quantity) as units_sold,
    SUM(f.line_total) as revenue
FROM fact_orders f
JOIN dim_product p ON f.product_key = p.product_key
WHERE p.is_current = TRUE
GROUP BY p.product_name, p.category
ORDER BY revenue DESC
LIMIT 10""",
    "Customer lifetime value": """
SELECT
    c.customer_id,
    c.first_name || ' ' || c.last_name as customer_name,
    COUNT(DISTINCT f.order_id) as total_orders,
    SUM(f.line_total) as lifetime_value
FROM fact_orders f
JOIN dim_customer c ON f.customer_key = c.customer_key
WHERE c.is_current = TRUE
GROUP BY c.customer_id, customer_name
ORDER BY lifetime_value DESC""",
    "Customer segmentation": """
SELECT
    c.city,
    c.country,
    COUNT(DISTINCT c.customer_id) as num_customers,
    SUM(f.line_total) as total_revenue
FROM fact_orders f
JOIN dim_customer c ON f.customer_key = c.customer_key
WHERE c.is_current = TRUE
GROUP BY c.city, c.country
ORDER BY total_revenue DESC""",
}


def run_kpis(settings, limit: int, today: date | None = None) -> list[dict]:
    today = today or date.today()
    out = []
    with connect(settings, "warehouse", autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = on")
        for name, query in KPI_QUERIES.items():
            text = query.format(year=today.year, month=today.month).strip()
            cur = conn.execute(text)
            columns = [d.name for d in cur.description]
            rows = [dict(zip(columns, r)) for r in cur.fetchmany(limit)]
            out.append({"kpi": name, "sql": text + ";", "columns": columns, "rows": rows})
    return out


@click.command()
@click.option("--limit", type=click.IntRange(min=1), default=5, show_default=True, help="Rows to show per query.")
@click.option("--sql", "show_sql", is_flag=True, help="Print each query before its rows.")
@settings_options(*WAREHOUSE)
@json_option
def kpi(settings, limit: int, show_sql: bool, as_json: bool):
    """The proposal's KPI queries (revenue, top products, lifetime value, segments): first rows of each."""
    emit(run_kpis(settings, limit), as_json, lambda results: _render(results, show_sql) + "\n\n" + psql_hint(settings))


def psql_hint(settings) -> str:
    """How to explore the warehouse in psql as the read-only analyst, without printing a password.

    For the local stack this writes a pgpass file (mode 600) into the state folder's secrets.
    """
    if settings.warehouse_dsn:
        return f'explore it yourself: psql "{settings.warehouse}"'
    role = "wh_analyst"
    pgpass = settings.secrets_dir / "pgpass"
    line = f"{settings.host}:{settings.warehouse_port}:{settings.warehouse_db}:{role}:{settings.password(role)}\n"
    if not pgpass.exists() or pgpass.read_text() != line:
        pgpass.touch(mode=0o600)
        pgpass.chmod(0o600)
        pgpass.write_text(line)
    return (f"explore it yourself (read-only analyst, search_path dw):\n"
            f"  PGPASSFILE={pgpass} psql -h {settings.host} -p {settings.warehouse_port} -U {role} {settings.warehouse_db}")


def _render(results: list[dict], show_sql: bool) -> str:
    out = []
    for r in results:
        out.append(f"== {r['kpi']} (first {len(r['rows'])} rows) ==")
        if show_sql:
            out.append(r["sql"])
        out.append(table([{k: "" if v is None else str(v) for k, v in row.items()} for row in r["rows"]], r["columns"]))
        out.append("")
    return "\n".join(out).rstrip()
