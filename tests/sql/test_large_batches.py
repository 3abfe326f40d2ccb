"""Large batches (the initial snapshot, a catch-up after an outage): a batch of more than 1000
events is planned for its size (ops.apply_landed), and gives exactly the dw the incremental path
gives (promises 4 and 9): the same events landed a few at a time, in source order."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from tests.sql.changes import Source, customer, land, land_batches, order, order_item, product
from tests.sql.warehouse import check_version_chains, dw_snapshot

SNAPSHOT_AT = datetime(2025, 6, 1)


def _shop_snapshot_then_changes(src: Source) -> tuple[dict[str, list[dict]], list[dict]]:
    """Debezium's initial snapshot of a shop (reads, `r`), per table, then ordinary changes after it
    (customers moving, products repriced, new orders) that land late for some facts."""
    snapshot = {
        "customers": [src.change("customers", "r", customer(i, city=f"City {i % 30}"), SNAPSHOT_AT) for i in range(1, 1201)],
        "products": [src.change("products", "r", product(i, price=10 + i % 90), SNAPSHOT_AT) for i in range(1, 301)],
        "orders": [], "order_items": []}
    item_ids = itertools.count(1)
    for o in range(1, 1101):
        placed = datetime(2025, 1, 1) + timedelta(hours=3 * o)
        snapshot["orders"].append(src.change("orders", "r", order(o, 1 + o % 1200, placed, status="shipped"), SNAPSHOT_AT))
        for line in range(1 + o % 3):
            snapshot["order_items"].append(src.change("order_items", "r", order_item(next(item_ids), o, 1 + (o * 7 + line) % 300),
                                                      SNAPSHOT_AT))
    after = []
    for k in range(1, 60):
        at = SNAPSHOT_AT + timedelta(hours=k)
        after.append(src.change("customers", "u", customer(k * 13, city="Moved"), at))
        after.append(src.change("products", "u", product(k * 5, price=999), at))
        after.append(src.change("orders", "c", order(1100 + k, k * 13, at + timedelta(minutes=5)), at))
        after.append(src.change("order_items", "c", order_item(next(item_ids), 1100 + k, k * 5), at))
    return snapshot, after


def test_a_large_snapshot_batch_gives_the_dw_of_the_incremental_path(wh, wh2):
    src = Source()
    snapshot, after = _shop_snapshot_then_changes(src)
    # Warehouse A: each table's snapshot as one batch, the lines before their orders (the sink reads
    # the topics interleaved), and the later changes as one batch per table too.
    for table in ("customers", "products", "order_items", "orders"):
        land(wh, snapshot[table])
    for table in ("order_items", "orders", "products", "customers"):
        land(wh, [e for e in after if e["__topic"].endswith("." + table)])
    largest = wh.execute("SELECT max(events) FROM ops.apply_batches").fetchone()[0]
    assert largest > 1000, "the large batches did not reach the size planned for a backlog"
    # Warehouse B: the incremental path, the same events in source order, a few at a time.
    in_source_order = sorted([e for events in snapshot.values() for e in events] + after, key=lambda e: e["__lsn"])
    for start in range(0, len(in_source_order), 40):
        land_batches(wh2, in_source_order[start:start + 40])
    assert wh2.execute("SELECT max(events) FROM ops.apply_batches").fetchone()[0] <= 40

    assert dw_snapshot(wh) == dw_snapshot(wh2)
    check_version_chains(wh)
    facts = wh.execute("SELECT count(*), count(*) FILTER (WHERE customer_key = -1 OR product_key = -1) "
                       "FROM dw.fact_orders").fetchone()
    assert facts == (len(snapshot["order_items"]) + 59, 0)
    moved = wh.execute("SELECT count(*) FROM dw.dim_customer WHERE city = 'Moved' AND is_current").fetchone()[0]
    assert moved == 59
