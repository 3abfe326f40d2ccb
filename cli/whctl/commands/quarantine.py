"""`whctl quarantine list|retry|dismiss`: events the engine could not apply, re-applying them after a fix,
or dismissing them with a reason."""
from __future__ import annotations

import click

from whctl.db import call_engine, connect
from whctl.options import WAREHOUSE, json_option, settings_options
from whctl.output import emit, table


@click.group()
def quarantine():
    """Events that could not be applied to the star schema (promise 8)."""


@quarantine.command("list")
@click.option("--limit", type=int, default=50, show_default=True, help="Show at most this many events, newest first.")
@click.option("--dismissed", is_flag=True, help="Also show the events a person dismissed (with who, when and why).")
@settings_options(*WAREHOUSE)
@json_option
def list_(settings, limit: int, dismissed: bool, as_json: bool):
    """What could not be applied and why.

    An event with held columns was applied without those values (the dimension cannot hold them
    yet: widen the column, then `whctl quarantine retry`).
    """
    where = "" if dismissed else " WHERE dismissed_at IS NULL"
    with connect(settings, "warehouse") as conn:
        total = conn.execute("SELECT count(*) FROM ops.quarantine" + where).fetchone()[0]
        rows = conn.execute(
            "SELECT quarantine_id, landing_table, landing_id, reason, quarantined_at, held_columns, dismissed_at,"
            " dismissed_by, dismissed_reason, event FROM ops.quarantine" + where +
            " ORDER BY quarantine_id DESC LIMIT %s", (limit,)).fetchall()
    keys = ("id", "landing_table", "landing_id", "reason", "quarantined_at", "held_columns", "dismissed_at", "dismissed_by",
            "dismissed_reason", "event")
    events = [dict(zip(keys, r)) for r in rows]
    emit({"total": total, "events": events}, as_json, _render)


def _render(data: dict) -> str:
    if not data["total"]:
        return "quarantine is empty"
    rows = [{**e, "quarantined_at": e["quarantined_at"].strftime("%Y-%m-%d %H:%M:%S"), "reason": e["reason"][:80],
             "state": ("dismissed: " + e["dismissed_reason"][:40]) if e["dismissed_at"] else
                      ("applied, held " + ",".join(e["held_columns"])) if e["held_columns"] else "waiting"}
            for e in data["events"]]
    shown = f" (newest {len(rows)} shown)" if len(rows) < data["total"] else ""
    return table(rows, ["id", "landing_table", "landing_id", "quarantined_at", "state", "reason"]) + f"\n{data['total']} quarantined{shown}"


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


@quarantine.command()
@click.option("--id", "ids", type=int, multiple=True, required=True, help="Quarantine id to dismiss (repeatable).")
@click.option("--reason", required=True, help="Why these events will not be applied (kept for audit).")
@settings_options(*WAREHOUSE)
@json_option
def dismiss(settings, ids: tuple[int, ...], reason: str, as_json: bool):
    """Decide that quarantined events will not be applied.

    They stay in ops.quarantine with who dismissed them, when and why; they no longer make
    `whctl status` degraded and `retry` leaves them alone.
    """
    with connect(settings, "warehouse") as conn:
        done = [r[0] for r in call_engine(conn, "SELECT * FROM ops.dismiss_quarantine(%s, %s)", (list(ids), reason))]
    emit({"dismissed": done, "not_dismissed": sorted(set(ids) - set(done))}, as_json,
         lambda d: f"dismissed {len(d['dismissed'])} events" + (
             f"; not found or already dismissed: {', '.join(map(str, d['not_dismissed']))}" if d["not_dismissed"] else ""))
