"""`whctl supervise`: the reconcile loop that keeps the pipeline converged (whctl.supervisor)."""
from __future__ import annotations

import logging

import click

from whctl.options import SOURCE, WAREHOUSE, json_option, settings_options
from whctl.output import emit, progress
from whctl.supervisor.loop import Supervisor


@click.command()
@click.option("--once", is_flag=True, help="Run one pass and exit (exit 1 when a step failed).")
@click.option("--interval", type=float, default=5, show_default=True, help="Seconds between passes.")
@settings_options(*WAREHOUSE, *SOURCE, "connect_url", "connect_port", "kafka_bootstrap", "kafka_port")
@json_option
def supervise(settings, once: bool, interval: float, as_json: bool):
    """Keep the pipeline converged: restart what failed for a transient cause, record incidents.

    Each pass observes the pipeline with the checks of `whctl status`, restarts failed connectors
    and tasks whose root cause is transient once their dependency answers again (with backoff),
    leaves the others failed with the reason, and records every incident in ops.incidents.
    Works against any Connect cluster; `whctl stack up` runs it as part of the local stack.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    supervisor = Supervisor(settings)
    if once:
        p = supervisor.reconcile()
        emit({"ran": p.ran, "actions": p.actions, "errors": p.errors,
              "checks": {n: c["verdict"] for n, c in p.checks.items()}}, as_json, _render)
        raise SystemExit(1 if p.errors else 0)
    progress(f"supervising every {interval:g}s (Ctrl-C stops)")
    try:
        supervisor.run(interval)
    except KeyboardInterrupt:
        pass


def _render(result: dict) -> str:
    lines = [f"steps: {', '.join(result['ran'])}"]
    lines += [f"{a['component']}: {a['action']}" for a in result["actions"]] or ["nothing to do"]
    lines += [f"error in {e}" for e in result["errors"]]
    return "\n".join(lines)
