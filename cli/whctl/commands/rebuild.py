"""`whctl rebuild`: recompute the star schema from landing (promise 9 of design.md)."""
from __future__ import annotations

import time

import click

from whctl import schema
from whctl.db import connect
from whctl.options import WAREHOUSE, json_option, settings_options
from whctl.output import emit, progress


@click.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@settings_options(*WAREHOUSE, "source_timezone")
@json_option
def rebuild(settings, yes: bool, as_json: bool):
    """Recompute dw from every event in landing, in one transaction.

    Gives the same rows as the incremental path (surrogate keys aside). The sink's batches wait
    for the engine lock meanwhile; nothing is lost. With --source-timezone it first stores that
    zone: the way to change the zone of a warehouse that has events (every version moves).
    """
    if not yes:
        click.confirm(f"Recompute every dimension and fact of {settings.warehouse} from landing?", abort=True, err=True)
    progress("rebuilding dw from landing …")
    began = time.monotonic()
    with connect(settings, "warehouse") as conn:
        was = None
        if settings.source_timezone is not None:
            was = schema.set_source_timezone(conn, settings.source_timezone, recompute=True)
        dimension_rows, fact_rows = conn.execute("SELECT * FROM dw.rebuild()").fetchone()
        zone = conn.execute("SELECT value FROM ops.settings WHERE name = 'source_timezone'").fetchone()[0]
    result = {"dimension_rows": dimension_rows, "fact_rows": fact_rows, "seconds": round(time.monotonic() - began, 2),
              "source_timezone": zone, "source_timezone_was": was}
    emit(result, as_json, lambda r: f"rebuilt dw: {r['dimension_rows']} dimension rows, {r['fact_rows']} facts "
                                    f"in {r['seconds']} s, source time zone {r['source_timezone']}"
                                    + (f" (was {r['source_timezone_was']})" if r["source_timezone_was"] else ""))
