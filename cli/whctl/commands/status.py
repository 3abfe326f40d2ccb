"""`whctl status`: the pipeline's health as named checks; exit 0 healthy, 2 degraded, 1 unhealthy."""
from __future__ import annotations

import time

import click

from whctl import health
from whctl.options import SOURCE, WAREHOUSE, json_option, settings_options
from whctl.output import emit


@click.command()
@click.option("--watch", is_flag=True, help="Refresh every --interval seconds until interrupted.")
@click.option("--interval", type=float, default=2, show_default=True, help="Seconds between refreshes with --watch.")
@settings_options(*WAREHOUSE, *SOURCE, "connect_url", "connect_port", "kafka_bootstrap", "kafka_port")
@json_option
def status(settings, watch: bool, interval: float, as_json: bool):
    """Broker, workers, connectors and tasks (root causes), sink lag, dead letters, slot lag, freshness, quarantine, incidents.

    Each check says what is wrong and the next step (docs/operations.md explains each). Every
    probe has a short timeout, so a component that is gone shows within seconds.
    Exit status: 0 healthy, 2 degraded (a warning), 1 unhealthy (a check failed).
    """
    while True:
        result = health.status(settings)
        if watch and not as_json:
            click.clear()
        emit(result, as_json, health.render)
        if not watch:
            raise SystemExit(result["exit_code"])
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            raise SystemExit(result["exit_code"])
