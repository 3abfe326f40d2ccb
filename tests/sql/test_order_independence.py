"""Promise 4: the final contents of dw depend only on the set of change events landed, not on their
arrival order, batching or duplicates; an event older than the newest applied one is placed where
it belongs (splitting a version). Includes the property test of issue #3: random source histories
landed in source order (warehouse A) and shuffled, re-batched and duplicated (warehouse B) give the
same dw, equal to dw.rebuild(), keep promise 1, and agree with a model of the source."""
from __future__ import annotations

import os
import time
from datetime import datetime, timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from tests.conftest import dsn_for
from tests.sql.changes import KEYS, Source, customer, land, land_each, order, order_item, product
from tests.sql.warehouse import (BEGINNING, END_OF_TIME, TOAST, check_version_chains, dw_snapshot, fact, quarantined,
                                 rebuild, reset_warehouse, versions)

T = [datetime(2025, m, 1) for m in range(1, 8)]


def test_event_arriving_after_a_later_one_splits_the_version(wh, wh2, land_all):
    src = Source()
    create = src.change("customers", "c", customer(1, city="A"), T[0])
    middle = src.change("customers", "u", customer(1, city="B"), T[2])
    last = src.change("customers", "u", customer(1, city="C"), T[4])
    orders = [src.change("orders", "c", order(o, 1, T[o] + timedelta(days=3)), T[5]) for o in range(0, 5)]
    lines = [src.change("order_items", "c", order_item(o, o, 9), T[5]) for o in range(0, 5)]
    land_all(wh, [create, last] + orders + lines)
    assert [r["city"] for r in versions(wh, "customer", 1)] == ["A", "C"]
    land_all(wh, [middle])
    rows = versions(wh, "customer", 1)
    assert [(r["city"], r["valid_from"], r["valid_to"]) for r in rows] == \
        [("A", BEGINNING, T[2]), ("B", T[2], T[4]), ("C", T[4], END_OF_TIME)]
    assert [fact(wh, o)["c_city"] for o in range(0, 5)] == ["A", "A", "B", "B", "C"]
    land_all(wh2, [create, middle, last] + orders + lines)
    assert dw_snapshot(wh) == dw_snapshot(wh2)
    check_version_chains(wh)


def test_reversed_and_single_batch_arrival_equal_source_order(wh, new_warehouse):
    src = Source()
    events = [src.change("products", "c", product(1, price=100, description="d1"), T[0]),
              src.change("customers", "c", customer(1, city="A"), T[0]),
              src.change("orders", "c", order(1, 1, T[1]), T[1]),
              src.change("order_items", "c", order_item(1, 1, 1), T[1]),
              src.change("products", "u", product(1, price=120, description=TOAST), T[2]),
              src.change("customers", "u", customer(1, city="B"), T[3]),
              src.change("orders", "u", order(1, 1, T[4], status="shipped"), T[4]),
              src.delete("products", 1, T[5]),
              src.change("products", "c", product(1, price=90, description="d3"), T[6])]
    land_each(wh, events)
    expected = dw_snapshot(wh)
    with psycopg.connect(new_warehouse(), autocommit=True) as reversed_wh, \
            psycopg.connect(new_warehouse(), autocommit=True) as grouped_wh:
        land_each(reversed_wh, events[::-1])
        for table in ("order_items", "orders", "products", "customers"):   # one batch per table, worst order
            land(grouped_wh, [e for e in events if e["__topic"].endswith("." + table)])
        assert dw_snapshot(reversed_wh) == expected
        assert dw_snapshot(grouped_wh) == expected


def test_older_order_status_arriving_last_does_not_win(wh):
    src = Source()
    created = src.change("orders", "c", order(1, 1, T[1], status="pending"), T[1])
    shipped = src.change("orders", "u", order(1, 1, T[1], status="shipped"), T[2])
    land(wh, [shipped])
    land(wh, [src.change("order_items", "c", order_item(1, 1, 1), T[2])])
    land(wh, [created])
    assert fact(wh, 1)["order_status"] == "shipped"


def test_key_created_and_deleted_in_one_transaction_while_a_fact_points_at_it(wh, wh2):
    """The transaction's last state is "deleted", so the product never existed for the warehouse and
    the fact keeps an inferred member. Landing the create alone first gives the placeholder a real
    version; the delete's arrival must then turn it back, not leave the fact pointing at nothing
    (found by the property test below)."""
    src = Source()
    events = [src.change("orders", "c", order(1, 1, T[1]), T[1]),
              src.change("order_items", "c", order_item(1, 1, 7), T[1])]
    tx = src.transaction()
    create = src.change("products", "c", product(7), T[2], txid=tx)
    delete = {**src.delete("products", 7, T[2]), "__txid": tx}
    land_each(wh, events + [create, delete])      # the sink's batch boundary falls inside the transaction
    land_each(wh2, events)
    land(wh2, [create, delete])
    assert quarantined(wh) == [] and quarantined(wh2) == []
    assert dw_snapshot(wh) == dw_snapshot(wh2)
    assert fact(wh, 1)["p_is_inferred"] is True
    check_version_chains(wh)


def test_key_created_and_deleted_in_one_transaction_without_facts_leaves_no_row(wh, wh2):
    """Nothing needs a placeholder for a key that never existed: no row, however the transaction's
    two events are batched (found by the property test below)."""
    src = Source()
    tx = src.transaction()
    create = src.change("products", "c", product(7), T[2], txid=tx)
    delete = {**src.delete("products", 7, T[2]), "__txid": tx}
    land_each(wh, [create, delete])
    land(wh2, [create, delete])
    assert versions(wh, "product", 7) == [] and versions(wh2, "product", 7) == []
    assert quarantined(wh) == []


# ---------------------------------------------------------------------------------------------
# Property test
# ---------------------------------------------------------------------------------------------

CUSTOMERS, PRODUCTS, ORDERS, LINES = (1, 2, 3), (1, 2, 3), (1, 2, 3, 4), (1, 2, 3, 4, 5, 6)
BASE = datetime(2025, 1, 1)
MAX_EXAMPLES = int(os.environ.get("WH_PROPERTY_EXAMPLES", "60"))   # more for a longer search


@st.composite
def histories(draw):
    """A source history: transactions (commit time, changes) over a few keys of the four tables, as
    the source database would emit them, with a model of each key's states over time. Like the
    source, an order with lines cannot be deleted and a line belongs to an existing order; lines may
    name products, and orders customers, that do not exist (yet): the warehouse must cope with
    facts before their dimensions anyway."""
    state = {t: {} for t in KEYS}            # table -> key -> current row (absent when deleted)
    timeline = {t: {} for t in KEYS}         # table -> key -> [(commit time, row or None)]
    transactions, clock = [], BASE
    for _ in range(draw(st.integers(3, 20))):
        clock += timedelta(hours=draw(st.integers(1, 48)), microseconds=draw(st.integers(0, 999_999)))
        changes, touched = [], set()
        for _ in range(draw(st.integers(1, 3))):
            table = draw(st.sampled_from(("customers", "products", "orders", "order_items", "order_items")))
            ids = {"customers": CUSTOMERS, "products": PRODUCTS, "orders": ORDERS, "order_items": LINES}[table]
            key = draw(st.sampled_from(ids))
            current = state[table].get(key)
            kind = draw(st.sampled_from(("write", "write", "write", "delete", "untracked", "read")))
            if table == "orders" and any(line["order_id"] == key for line in state["order_items"].values()):
                kind = "write" if kind == "delete" else kind   # the source's foreign key: lines first
            if current is not None and kind == "delete":
                changes.append((table, "d", {KEYS[table]: key}))
                del state[table][key]
            elif current is not None and kind in ("untracked", "read"):
                row = dict(current)
                if kind == "untracked" and "updated_at" in row:
                    row["updated_at"] = clock
                state[table][key] = row
                changes.append((table, "u" if kind == "untracked" else "r", dict(row)))
            else:
                if table == "customers":
                    row = customer(key, city=draw(st.sampled_from(("Lyon", "Oslo"))),
                                   phone=draw(st.sampled_from(("1", "2"))), updated_at=clock)
                elif table == "products":
                    row = product(key, price=draw(st.sampled_from((100, 120))), cost=60,
                                  description=draw(st.sampled_from(("d1", "d2"))), updated_at=clock)
                elif table == "orders":
                    order_date = BASE + timedelta(hours=draw(st.integers(0, 20 * 49)))
                    row = order(key, draw(st.sampled_from(CUSTOMERS)), order_date,
                                status=draw(st.sampled_from(("pending", "shipped"))))
                else:
                    existing = sorted(state["orders"])
                    if not existing:
                        continue
                    row = order_item(key, draw(st.sampled_from(existing)), draw(st.sampled_from(PRODUCTS)),
                                     quantity=draw(st.integers(1, 3)))
                emitted = dict(row)
                if table == "products" and current is not None and current["description"] == row["description"] \
                        and draw(st.booleans()):
                    emitted["description"] = TOAST   # unchanged TOASTed value: the placeholder
                state[table][key] = row
                changes.append((table, "c" if current is None else "u", emitted))
            touched.add((table, key))
        for table, key in sorted(touched):      # one state per key and transaction: its last one
            timeline[table].setdefault(key, []).append((clock, state[table].get(key)))
        if changes:
            transactions.append((clock, changes))
    return transactions, state, timeline


def _events(transactions) -> list[dict]:
    src = Source()
    events = []
    for at, changes in transactions:
        txid = src.transaction()
        events += [src.change(table, op, row, at, txid=txid) for table, op, row in changes]
    return events


@st.composite
def arrivals(draw, events):
    """The same events as the sink might land them: shuffled, split into batches (one table each),
    some events re-delivered (new Kafka offset) and one batch re-inserted."""
    shuffled = list(draw(st.permutations(events)))
    for i in draw(st.lists(st.integers(0, len(events) - 1), max_size=5)) if events else []:
        shuffled.insert(draw(st.integers(0, len(shuffled))), dict(events[i], __offset=10_000 + i))
    batches, batch = [], []
    for event in shuffled:
        if batch and (event["__topic"] != batch[-1]["__topic"] or draw(st.booleans())):
            batches.append(batch)
            batch = []
        batch.append(event)
    if batch:
        batches.append(batch)
    if batches and draw(st.booleans()):
        batches.insert(draw(st.integers(0, len(batches))), draw(st.sampled_from(batches)))
    return batches


def _state_at(timeline: list, at: datetime) -> dict | None:
    """A dimension key's row as a fact dated `at` sees it: the last state present at or before `at`
    (inside a delete gap, the state the delete closed); before the key's first change, its first state."""
    present = [(t, row) for t, row in timeline if row is not None]
    if not present:
        return None
    before = [row for t, row in present if t <= at]
    return before[-1] if before else present[0][1]


def _check_against_the_model(conn, state, timeline):
    """dw agrees with the source: current rows, Type 1 values and every fact's point-in-time versions."""
    for key in CUSTOMERS:
        rows = versions(conn, "customer", key)
        current = [r for r in rows if r["is_current"]]
        if key in state["customers"]:
            assert [(r["city"], r["phone"]) for r in current] == \
                [(state["customers"][key]["city"], state["customers"][key]["phone"])]
        else:
            never_present = _state_at(timeline["customers"].get(key, []), datetime.max) is None
            assert current == [] or (current[0]["is_inferred"] and never_present)
    for key in PRODUCTS:
        rows = versions(conn, "product", key)
        last = _state_at(timeline["products"].get(key, []), datetime.max)
        if last is not None:
            assert {r["description"] for r in rows} == {last["description"]}   # Type 1, TOAST carried
        if key in state["products"]:
            assert [r["price"] for r in rows if r["is_current"]] == [state["products"][key]["price"]]
    lines = state["order_items"]
    assert sorted(r[0] for r in conn.execute("SELECT order_item_id FROM dw.fact_orders")) == sorted(lines)
    for line_id, line in lines.items():
        f = fact(conn, line_id)
        the_order = _state_at(timeline["orders"][line["order_id"]], datetime.max)
        assert (f["quantity"], f["order_id"], f["order_status"]) == (line["quantity"], line["order_id"], the_order["status"])
        assert f["date_key"] == int(the_order["order_date"].strftime("%Y%m%d"))
        c = _state_at(timeline["customers"].get(the_order["customer_id"], []), the_order["order_date"])
        p = _state_at(timeline["products"].get(line["product_id"], []), the_order["order_date"])
        assert (f["c_customer_id"], f["c_is_inferred"], f["c_city"]) == \
            (the_order["customer_id"], c is None, c and c["city"]), (line_id, the_order)
        assert (f["p_product_id"], f["p_is_inferred"], f["p_price"]) == \
            (line["product_id"], p is None, p and p["price"]), (line_id, the_order)


@pytest.fixture(scope="module")
def two_warehouses(pg_admin_dsn, warehouse_template):
    names = [f"whctl_prop_{i}" for i in "ab"]
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        for name in names:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(warehouse_template)))
    conns = [psycopg.connect(dsn_for(pg_admin_dsn, name), autocommit=True) for name in names]
    yield conns
    for conn in conns:
        conn.close()
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        for name in names:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_any_arrival_order_batching_and_duplicates_give_the_same_dw(two_warehouses, record_property):
    a, b = two_warehouses
    examples = []

    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def one_history(data):
        transactions, state, timeline = data.draw(histories(), label="history")
        events = _events(transactions)
        batches = data.draw(arrivals(events), label="arrival")
        reset_warehouse(a)
        reset_warehouse(b)
        land_each(a, events)
        for batch in batches:
            land(b, batch)
        examples.append(len(events))

        assert quarantined(a) == [] and quarantined(b) == []
        check_version_chains(a)
        check_version_chains(b)
        incremental = dw_snapshot(a)
        assert dw_snapshot(b) == incremental
        _check_against_the_model(a, state, timeline)
        rebuild(a)
        assert dw_snapshot(a) == incremental

    started = time.monotonic()
    one_history()
    elapsed = time.monotonic() - started
    record_property("examples", len(examples))
    record_property("events", sum(examples))
    print(f"\nproperty test: {len(examples)} examples, {sum(examples)} events, {elapsed:.1f} s")
    assert len(examples) >= MAX_EXAMPLES // 2
