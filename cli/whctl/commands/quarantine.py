"""`whctl quarantine list|retry`: events the engine could not apply, and re-applying them after a fix."""
from __future__ import annotations

import click

from whctl.db import connect
from whctl.options import WAREHOUSE, json_option, settings_options
from whctl.output import emit, table


@click.group()
def quarantine():
    """Events that could not be applied to the star schema (promise 8)."""


@quarantine.command("list")
@click.option("--limit", type=int, default=50, show_default=True, help="Show at most this many events, newest first.")
@settings_options(*WAREHOUSE)
@json_option
def list_(settings, limit: int, as_json: bool):
    """What could not be applied and why."""
    with connect(settings, "warehouse") as conn:
        total = conn.execute("SELECT count(*) FROM ops.quarantine").fetchone()[0]
        rows = conn.execute(
            "SELECT quarantine_id, landing_table, landing_id, reason, quarantined_at, event FROM ops.quarantine"
            " ORDER BY quarantine_id DESC LIMIT %s", (limit,)).fetchall()
    events = [dict(zip(("id", "landing_table", "landing_id", "reason", "quarantined_at", "event"), r)) for r in rows]
    emit({"total": total, "events": events}, as_json, _render)


def _render(data: dict) -> str:
    if not data["total"]:
        return "quarantine is empty"
    rows = [{**e, "quarantined_at": e["quarantined_at"].strftime("%Y-%m-%d %H:%M:%S"), "reason": e["reason"][:80]} for e in data["events"]]
    shown = f" (newest {len(rows)} shown)" if len(rows) < data["total"] else ""
    return table(rows, ["id", "landing_table", "landing_id", "quarantined_at", "reason"]) + f"\n{data['total']} quarantined{shown}"


@quarantine.command()
@click.option("--id", "ids", type=int, multiple=True, help="Quarantine id to retry (repeatable); default: all.")
@settings_options(*WAREHOUSE)
@json_option
def retry(settings, ids: tuple[int, ...], as_json: bool):
    """Re-apply quarantined events after a fix; those that still fail are quarantined again."""
    with connect(settings, "warehouse") as conn:
        retried, again = conn.execute("SELECT * FROM ops.retry_quarantine(%s)", (list(ids) or None,)).fetchone()
    emit({"retried": retried, "quarantined_again": again}, as_json,
         lambda d: f"retried {d['retried']} events; {d['quarantined_again']} quarantined again")
