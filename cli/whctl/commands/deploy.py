"""`whctl deploy`: warehouse migrations, source preparation, connector registration (idempotent)."""
from __future__ import annotations

import click

from whctl import pipeline
from whctl.options import SOURCE, WAREHOUSE, json_option, settings_options
from whctl.output import emit


@click.command()
@click.option("--dry-run", is_flag=True, help="Show pending migrations, source steps and connector config differences; change nothing.")
@click.option("--timeout", type=float, default=180, show_default=True, help="Seconds to wait for the connectors and their tasks to run.")
@settings_options(*WAREHOUSE, *SOURCE, "connect_url", "connect_port", "source_timezone")
@json_option
def deploy(settings, dry_run: bool, timeout: float, as_json: bool):
    """Migrate the warehouse, prepare the source for CDC and register the connectors.

    Running it twice changes nothing the second time, and says so. Passwords reach Kafka Connect
    only as ${file:...} references to its secrets file.
    """
    emit(pipeline.deploy(settings, dry_run=dry_run, timeout=timeout), as_json, render)


def render(report: dict) -> str:
    lines = []
    wh = report["warehouse"]
    wh_items = wh.get("pending" if report["dry_run"] else "changed", [])
    lines.append("warehouse:  " + ("; ".join(wh_items) if wh_items else "current"))
    lines.append("source:     " + ("; ".join(report["source"]) if report["source"] else "ready for CDC"))
    for name, entry in report["connectors"].items():
        action = entry["action"]
        if report["dry_run"]:
            action = {"create": "would be created", "update": "would be updated", "unchanged": "unchanged"}[action]
        state = f" ({entry['state']}, tasks {', '.join(entry['tasks'])})" if "state" in entry else ""
        lines.append(f"{name}: {action}{state}")
        for key, values in entry.get("diff", {}).items():
            lines.append(f"    {key}: {values['live']!r} -> {values['desired']!r}")
    if report["dry_run"]:
        lines.append("dry run: nothing changed" + ("" if report["changed"] else " (and nothing would)"))
    else:
        lines.append("deployed" + ("" if report["changed"] else ": nothing changed, already deployed"))
    return "\n".join(lines)
