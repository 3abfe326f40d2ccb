"""`whctl rebuild`: recompute the star schema from landing (promise 9 of design.md)."""
from __future__ import annotations

import time

import click

from whctl.db import connect
from whctl.options import WAREHOUSE, json_option, settings_options
from whctl.output import emit, progress


@click.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@settings_options(*WAREHOUSE)
@json_option
def rebuild(settings, yes: bool, as_json: bool):
    """Recompute dw from every event in landing, in one transaction.

    Gives the same rows as the incremental path (surrogate keys aside). The sink's batches wait
    for the engine lock meanwhile; nothing is lost.
    """
    if not yes:
        click.confirm(f"Recompute every dimension and fact of {settings.warehouse} from landing?", abort=True, err=True)
    progress("rebuilding dw from landing …")
    began = time.monotonic()
    with connect(settings, "warehouse") as conn:
        dimension_rows, fact_rows = conn.execute("SELECT * FROM dw.rebuild()").fetchone()
    result = {"dimension_rows": dimension_rows, "fact_rows": fact_rows, "seconds": round(time.monotonic() - began, 2)}
    emit(result, as_json, lambda r: f"rebuilt dw: {r['dimension_rows']} dimension rows, {r['fact_rows']} facts "
                                    f"in {r['seconds']} s")
