"""The sales aggregates the engine keeps as facts change (migration 0008, dw.add_to_sales,
dw.describe_sales), read by the type-7 views: after every landed batch of a random history (new
orders across months, lines before their orders, orders moved to other days and customers, lines
changed, moved and deleted, customers who move and are deleted, repriced products, a truncate),
each view equals its question asked of fact_orders directly (tests/sql/changes.land checks it after
every batch, tests/sql/warehouse.assert_views_match_facts). Rebuild, the bulk recompute and a
TRUNCATE of the facts keep them exact too (promise 9)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from tests.sql.changes import Source, customer, land, land_each, order, order_item, product, table_of
from tests.sql.warehouse import SALES_TABLES, assert_views_match_facts, dw_snapshot, quarantined, rebuild

CITIES = [("London", "UK"), ("Paris", "France"), ("Oslo", "Norway"), (None, None)]


def _random_history(seed: int, steps: int = 160) -> list[dict]:
    rng = random.Random(seed)
    src = Source()
    at = datetime(2025, 1, 1)
    events = [src.change("customers", "r", customer(c, city=CITIES[c % 4][0], country=CITIES[c % 4][1]), at) for c in range(1, 7)]
    events += [src.change("products", "r", product(p, price=10 * p), at) for p in range(1, 5)]
    orders: dict[int, tuple] = {}
    lines: dict[int, int] = {}
    for _ in range(steps):
        at += timedelta(hours=rng.randint(1, 90))
        roll = rng.random()
        if roll < 0.08:
            c = rng.randint(1, 8)                                   # 7 and 8 never land at first: inferred
            city, country = rng.choice(CITIES)
            events.append(src.change("customers", "u", customer(c, city=city, country=country, last_name=f"L{rng.randint(1, 3)}"), at))
        elif roll < 0.13:
            events.append(src.change("products", "u", product(rng.randint(1, 6), price=rng.randint(1, 90),
                                                               product_name=f"P{rng.randint(1, 3)}"), at))
        elif roll < 0.15:
            events.append(src.delete(rng.choice(["customers", "products"]), rng.randint(1, 4), at))
        elif roll < 0.45 or not orders:
            order_id = len(orders) + 1
            orders[order_id] = (rng.randint(1, 8), at - timedelta(days=rng.choice([0, 0, 3, 40])))
            events.append(src.change("orders", "c", order(order_id, *orders[order_id]), at))
            for _ in range(rng.randint(1, 3)):
                line = len(lines) + 1
                lines[line] = order_id
                events.append(src.change("order_items", "c", order_item(line, order_id, rng.randint(1, 6),
                                                                         quantity=rng.randint(1, 4)), at))
        elif roll < 0.6:
            order_id = rng.choice(list(orders))
            customer_id, date = orders[order_id]
            change = rng.choice(["date", "customer", "status"])
            if change == "date":
                date = date + timedelta(days=rng.choice([-35, 1, 31]))
            elif change == "customer":
                customer_id = rng.randint(1, 8)
            orders[order_id] = (customer_id, date)
            events.append(src.change("orders", "u", order(order_id, customer_id, date, status=rng.choice(["paid", "shipped"])), at))
        elif roll < 0.75 and lines:
            line = rng.choice(list(lines))
            lines[line] = rng.choice([lines[line], rng.choice(list(orders))])       # sometimes to another order
            events.append(src.change("order_items", "u", order_item(line, lines[line], rng.randint(1, 6),
                                                                     quantity=rng.randint(1, 5), unit_price=rng.randint(1, 50)), at))
        elif roll < 0.85 and lines:
            events.append(src.delete("order_items", rng.choice(list(lines)), at))
        else:
            events.append(src.delete("orders", rng.choice(list(orders)), at))
    # late arrivals: a share of events lands up to 30 positions later
    for i in rng.sample(range(len(events)), len(events) // 6):
        j = min(len(events) - 1, i + rng.randint(1, 30))
        events[i], events[j] = events[j], events[i]
    return events


def _land_in_random_batches(conn, events, seed):
    """Consecutive events of one table in batches of 1-6; land() checks the views after each."""
    rng = random.Random(seed)
    batch: list[dict] = []
    for event in events:
        if batch and (table_of(batch[-1]) != table_of(event) or len(batch) >= rng.randint(1, 6)):
            land(conn, batch)
            batch = []
        batch.append(event)
    land(conn, batch)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_views_equal_the_facts_through_a_random_history_and_rebuild(wh, wh2, seed):
    events = _random_history(seed)
    _land_in_random_batches(wh, events, seed)
    assert quarantined(wh) == []
    facts = wh.execute("SELECT count(*), count(*) FILTER (WHERE order_date IS NULL) FROM dw.fact_orders").fetchone()
    assert facts[0] > 50                                      # the history left facts to count
    incremental = dw_snapshot(wh)                             # facts, key map and aggregates
    # the same events one per batch in source order: the same aggregates
    land_each(wh2, sorted(events, key=lambda e: e["__lsn"]))
    assert dw_snapshot(wh2) == incremental
    # the bulk recompute gives what the engine kept
    wh.execute("SELECT dw.recompute_sales()")
    assert dw_snapshot(wh) == incremental
    # rebuild, in chunks smaller than the keys, gives the same
    wh.execute("SELECT * FROM dw.rebuild(7)")
    assert dw_snapshot(wh) == incremental
    assert_views_match_facts(wh)


def test_truncating_the_facts_empties_the_key_map_and_the_aggregates(wh):
    _land_in_random_batches(wh, _random_history(4, steps=40), 4)
    assert wh.execute("SELECT count(*) FROM dw.sales_by_customer").fetchone()[0] > 0
    wh.execute("TRUNCATE dw.fact_orders")
    for table in ("fact_order_lines",) + SALES_TABLES:
        assert wh.execute(f"SELECT count(*) FROM dw.{table}").fetchone() == (0,), table
    assert_views_match_facts(wh)
    rebuild(wh)
    assert wh.execute("SELECT count(*) FROM dw.sales_by_customer").fetchone()[0] > 0
    assert_views_match_facts(wh)


def test_a_customer_who_moves_takes_all_their_revenue_to_the_new_city(wh):
    src = Source()
    t1, t2, t3 = datetime(2025, 1, 1), datetime(2025, 2, 1), datetime(2025, 3, 1)
    land(wh, [src.change("customers", "c", customer(1, first_name="Ada", city="London", country="UK"), t1),
              src.change("customers", "c", customer(2, first_name="Bo", city="London", country="UK"), t1)])
    land(wh, [src.change("orders", "c", order(1, 1, t1), t1), src.change("orders", "c", order(2, 2, t1), t1)])
    land(wh, [src.change("order_items", "c", order_item(11, 1, 5, unit_price=30), t1),
              src.change("order_items", "c", order_item(12, 1, 5, unit_price=20), t1),
              src.change("order_items", "c", order_item(21, 2, 5, unit_price=7), t1)])
    assert wh.execute("SELECT * FROM dw.customer_segmentation").fetchall() == [("London", "UK", 2, 57)]
    land(wh, [src.change("customers", "u", customer(1, first_name="Ada", city="Paris", country="France"), t2)])
    land(wh, [src.change("orders", "c", order(3, 1, t3), t3)])
    land(wh, [src.change("order_items", "c", order_item(31, 3, 5, unit_price=5), t3)])
    assert sorted(wh.execute("SELECT * FROM dw.customer_segmentation").fetchall()) == [
        ("London", "UK", 1, 7), ("Paris", "France", 1, 55)]
    # two orders, three lines, one order counted once
    assert wh.execute("SELECT total_orders, lifetime_value FROM dw.customer_lifetime_value WHERE customer_id = 1").fetchone() == (2, 55)
    # a line that arrives before its customer: an inferred member, named when the customer lands
    land(wh, [src.change("orders", "c", order(4, 9, t3), t3)])
    land(wh, [src.change("order_items", "c", order_item(41, 4, 5, unit_price=1), t3)])
    assert wh.execute("SELECT customer_name FROM dw.customer_lifetime_value WHERE customer_id = 9").fetchone() == (None,)
    land(wh, [src.change("customers", "c", customer(9, first_name="Cy", last_name="Young", city="Oslo", country="Norway"), t3)])
    assert wh.execute("SELECT customer_name FROM dw.customer_lifetime_value WHERE customer_id = 9").fetchone() == ("Cy Young",)
    assert ("Oslo", "Norway", 1, 1) in wh.execute("SELECT * FROM dw.customer_segmentation").fetchall()
