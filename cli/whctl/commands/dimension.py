"""`whctl dimension adopt|retire`: follow the source's shape in the dimensions (promise 10)."""
from __future__ import annotations

import click

from whctl import pipeline
from whctl.db import call_engine, connect
from whctl.options import WAREHOUSE, json_option, settings_options
from whctl.output import WhctlError, emit


@click.group()
def dimension():
    """Adopt columns the source added into a dimension; acknowledge columns it dropped."""


@dimension.command()
@click.argument("dimension_name", metavar="DIMENSION", type=click.Choice(["customer", "product"]))
@click.argument("column")
@click.option("--type", "scd_type", type=click.Choice(["1", "2"]), required=True,
              help="2: a change opens a version; 1: overwritten in place on every version of the key.")
@settings_options(*WAREHOUSE)
@json_option
def adopt(settings, dimension_name: str, column: str, scd_type: str, as_json: bool):
    """Add a column landing keeps to a dimension, with its history from landing.

    Adds COLUMN to dw.dim_DIMENSION with its landing type, declares it Type 1 or 2 in
    ops.scd_policy, and recomputes every key whose changes carry a value, so the attribute's
    history goes back to its first event; facts are re-pointed to the versions it opens.
    """
    with connect(settings, "warehouse") as conn:
        ((keys, before, after),) = call_engine(conn, "SELECT * FROM ops.adopt_column(%s, %s, %s::smallint)",
                                               (dimension_name, column, int(scd_type)))
    result = {"dimension": dimension_name, "column": column, "scd_type": int(scd_type), "keys_recomputed": keys,
              "rows_before": before, "rows_after": after}
    emit(result, as_json, lambda r: f"dim_{r['dimension']}.{r['column']} is Type {r['scd_type']}: {r['keys_recomputed']} keys"
                                    f" recomputed from landing, {r['rows_before']} -> {r['rows_after']} rows")


@dimension.command()
@click.argument("table", type=click.Choice(list(pipeline.SOURCE_TABLES)))
@click.argument("column")
@settings_options(*WAREHOUSE)
@json_option
def retire(settings, table: str, column: str, as_json: bool):
    """Acknowledge a column the source dropped (TABLE is the captured table).

    Nothing in dw changes: its last values stay, as they have since the drop. `whctl status`
    stops warning about it and lists it as retired.
    """
    with connect(settings, "warehouse") as conn:
        row = conn.execute("UPDATE ops.source_columns SET retired_at = coalesce(retired_at, clock_timestamp())"
                           " WHERE landing_table = %s AND column_name = %s AND (stopped_lsn IS NOT NULL OR drop_seen_lsn IS NOT NULL)"
                           " RETURNING retired_at", (table, column)).fetchone()
    if row is None:
        raise WhctlError(f"{table}.{column} is not a column the source dropped",
                         hint="`whctl status` lists the dropped columns under 'dropped columns'")
    emit({"table": table, "column": column, "retired_at": row[0]}, as_json,
         lambda r: f"{r['table']}.{r['column']} retired at {r['retired_at']:%Y-%m-%d %H:%M:%S}")
