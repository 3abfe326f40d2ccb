"""`whctl migrate`: bring a warehouse to the code's schema (no Kafka needed)."""
from __future__ import annotations

import click

from whctl import schema
from whctl.options import WAREHOUSE, json_option, settings_options
from whctl.output import emit


@click.command()
@click.option("--status", "show_status", is_flag=True, help="Only say whether the warehouse is current; exit 1 if not.")
@settings_options(*WAREHOUSE, "source_timezone")
@json_option
def migrate(settings, show_status: bool, as_json: bool):
    """Apply the migrations and re-apply the PL/pgSQL of plpgsql/ to the warehouse.

    --source-timezone is stored on a warehouse without events; without it the stored zone stays.
    Changing the zone of a warehouse with events is `whctl rebuild --source-timezone`.
    """
    if show_status:
        state = schema.status(settings)
        emit(state.as_dict(), as_json, _render_status)
        raise SystemExit(0 if state.current else 1)
    result = schema.migrate(settings, source_timezone=settings.source_timezone)
    emit(result, as_json, _render_result)


def _render_status(s: dict) -> str:
    lines = [
        f"migrations: {'current' if s['migrations_current'] else 'behind'} (database {s['revision'] or 'empty'}, code {s['head']})",
        f"plpgsql:    {'current' if s['code_current'] else 'differs from plpgsql/'}",
    ]
    lines += [f"  stray function in the database: {f}" for f in s["stray_functions"]]
    lines += [f"  function missing from the database: {f}" for f in s["missing_functions"]]
    return "\n".join(lines)


def _render_result(r: dict) -> str:
    moved = f"{r['from_revision'] or 'empty'} -> {r['to_revision']}" if r["migrations_applied"] else f"already at {r['to_revision']}"
    code = "re-applied (changed)" if r["plpgsql_changed"] else "re-applied (unchanged)"
    zone = r["source_timezone"] + (f" (was {r['source_timezone_was']})" if r["source_timezone_was"] else "")
    return f"migrations: {moved}\nplpgsql:    {r['plpgsql_files']} files {code}\nsource time zone: {zone}"
