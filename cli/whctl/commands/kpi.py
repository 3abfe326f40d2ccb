"""`whctl kpi`: the proposal's KPI queries on the warehouse, first rows of each."""
from __future__ import annotations

from datetime import date

import click

from whctl.db import connect
from whctl.kpi_queries import QUERIES
from whctl.options import WAREHOUSE, json_option, settings_options
from whctl.output import emit, table

# The proposal's daily revenue trend is for November 2025; here it is for the current month.
PROPOSAL_MONTH = "WHERE d.year = 2025 AND d.month = 11"
SHOWN = ("Daily revenue trend", "Top selling products", "Customer lifetime value", "Customer segmentation")


def run_kpis(settings, limit: int, today: date | None = None) -> list[dict]:
    today = today or date.today()
    out = []
    with connect(settings, "warehouse", autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = on")
        for name in SHOWN:
            text = QUERIES[name].replace(PROPOSAL_MONTH, f"WHERE d.year = {today.year} AND d.month = {today.month}")
            cur = conn.execute(text)
            columns = [d.name for d in cur.description]
            rows = [dict(zip(columns, r)) for r in cur.fetchmany(limit + 1)]   # one more: are there more?
            out.append({"kpi": name, "sql": text, "columns": columns, "rows": rows[:limit], "more": len(rows) > limit})
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
        n = len(r["rows"])
        out.append(f"== {r['kpi']} ({'first ' if r['more'] else ''}{n} row{'' if n == 1 else 's'}) ==")
        if show_sql:
            out.append(r["sql"])
        out.append(table([{k: "" if v is None else str(v) for k, v in row.items()} for row in r["rows"]], r["columns"]))
        out.append("")
    return "\n".join(out).rstrip()
