"""`whctl seed`: realistic sample data in the source, through INSERT batches."""
from __future__ import annotations

from datetime import date

import click

from whctl import seeding
from whctl.db import connect
from whctl.options import SOURCE, json_option, settings_options
from whctl.output import WhctlError, emit


@click.command()
@click.option("--customers", type=click.IntRange(min=0), default=1000, show_default=True, help="Customers to add.")
@click.option("--products", type=click.IntRange(min=0), default=500, show_default=True, help="Products to add.")
@click.option("--orders", type=click.IntRange(min=0), default=5000, show_default=True,
              help="Orders to add (1-5 lines each; 330000 orders make about a million lines).")
@click.option("--seed", "seed_value", type=int, default=42, show_default=True, help="Random seed: the same seed, sizes and anchor give the same rows.")
@click.option("--anchor-date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Orders fall in the year before this date's midnight [default: today]. Pass it to reproduce a run on another day.")
@click.option("--append", is_flag=True, help="Add the data even when the source already has some (default: skip, say so).")
@click.option("--batch-rows", type=click.IntRange(min=100), default=5000, show_default=True, help="Rows per transaction.")
@settings_options("state_dir", "host", "pg_user", *SOURCE)
@json_option
def seed(settings, customers: int, products: int, orders: int, seed_value: int, anchor_date, append: bool,
         batch_rows: int, as_json: bool):
    """Fill the source with sample customers, products and orders (creates its tables when missing).

    Safe to re-run: when the source already has data, nothing is added unless --append.
    Progress goes to stderr, the summary to stdout.
    """
    anchor = anchor_date.date() if anchor_date else date.today()
    total = customers + products + orders
    with connect(settings, "source") as conn:
        with click.progressbar(length=total, label="seeding the source", file=click.get_text_stream("stderr"),
                               show_pos=True) as bar:
            try:
                result = seeding.seed(conn, seed=seed_value, customers=customers, products=products, orders=orders,
                                      anchor=anchor, append=append, batch_rows=batch_rows, on_progress=bar.update)
            except ValueError as exc:
                raise WhctlError(str(exc)) from None
    emit(result.as_dict(), as_json, _render)


def _render(r: dict) -> str:
    if r["skipped"]:
        have = ", ".join(f"{n} {t}" for t, n in r["existing"].items())
        return f"source already seeded ({have}); nothing added. Use --append to add another batch."
    ins = r["inserted"]
    lines = [
        f"added {ins['customers']} customers, {ins['products']} products, {ins['orders']} orders, "
        f"{ins['order_items']} order lines ({r['rows']} rows in {r['seconds']:.1f}s, {r['rows_per_second']:.0f} rows/s)",
        f"seed {r['seed']}, anchor date {r['anchor_date']}",
    ]
    if r["first_order_date"]:
        lines.append(f"order dates from {r['first_order_date']} to {r['last_order_date']}")
    return "\n".join(lines)
