"""`whctl verify`: data-quality checks of the star schema against itself and the source."""
from __future__ import annotations

import click

from whctl import health, pipeline, quality
from whctl.options import SOURCE, WAREHOUSE, json_option, settings_options
from whctl.output import emit, progress


@click.command()
@click.option("--wait", type=float, default=60, show_default=True,
              help="Seconds to wait for the warehouse to catch up with the source first (0: check now).")
@settings_options(*WAREHOUSE, *SOURCE)
@json_option
def verify(settings, wait: float, as_json: bool):
    """Referential integrity, duplicate facts, version chains, surrogate keys, reconciliation, values.

    Value checks (quantities, negative prices, line totals, orders without a customer) are
    warnings with counts and example keys: the data is the source's. Exit status 1 when any check
    fails, 2 when only warnings remain. The results are recorded in the warehouse
    (ops.quality_results) for the dashboard of `whctl serve`.
    """
    if wait > 0:
        progress("waiting for the warehouse to catch up with the source")
        pipeline.wait_for_warehouse(settings, timeout=wait)
    result = health.verify(settings)
    quality.record(settings, result)
    emit(result, as_json, health.render)
    raise SystemExit(result["exit_code"])
