"""Concurrency (design.md, "Performance principles"): several sink tasks insert at once. Two
connections landing overlapping batches of the same keys in explicit transactions neither deadlock
nor fail, keep promise 1, and end as a sequential landing of the same events would."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import psycopg
import pytest

from tests.sql.changes import Source, assert_fact_keys_resolve, customer, land, land_each, order, order_item, product, table_of
from tests.sql.warehouse import check_version_chains, dw_snapshot, quarantined, rebuild

WAIT = 20.0   # seconds a blocked transaction may take to show up as waiting


def _history():
    src = Source()
    events, at = [], datetime(2025, 1, 1)
    for step in range(40):
        at += timedelta(hours=7)
        k = step % 4 + 1
        events.append(src.change("customers", "c" if step < 4 else "u", customer(k, city=f"City {step}"), at))
        events.append(src.change("products", "c" if step < 4 else "u", product(k, price=100 + step), at))
        events.append(src.change("orders", "c", order(step, k, at + timedelta(minutes=30)), at))
        events.append(src.change("order_items", "c", order_item(step, step, 5 - k), at))
    return events


def _batches(events, size):
    """Consecutive events of one table, at most `size` per batch."""
    out = []
    for event in events:
        if out and table_of(out[-1][0]) == table_of(event) and len(out[-1]) < size:
            out[-1].append(event)
        else:
            out.append([event])
    return out


def _sink_task(dsn, batches, per_transaction, barrier):
    # not autocommit: explicit transactions; a lock wait nobody resolves fails instead of hanging
    with psycopg.connect(dsn, options="-c statement_timeout=60s") as conn:
        # as the sink's role, which reads nothing of dw (a transaction that read the facts before it
        # landed could hold a lock a new month's partition waits for: dw.ensure_fact_partitions)
        conn.execute("SET ROLE wh_loader")
        barrier.wait()
        for i in range(0, len(batches), per_transaction):
            with conn.transaction():
                for batch in batches[i:i + per_transaction]:
                    land(conn, batch)


def test_two_sink_tasks_landing_the_same_keys_at_once(warehouse_dsn, wh, wh2):
    events = _history()
    # task 1 lands the history in source order; task 2 re-delivers all of it, newest first, in
    # other batch sizes; both in transactions of several batches touching several tables
    one = _batches(events, 3)
    two = _batches(events[::-1], 5)
    barrier = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(_sink_task, warehouse_dsn, one, 4, barrier),
                   pool.submit(_sink_task, warehouse_dsn, two, 3, barrier)]
        for f in futures:
            f.result()          # a deadlock or any error raised by the trigger fails here
    assert quarantined(wh) == []
    assert_fact_keys_resolve(wh)
    check_version_chains(wh)
    land_each(wh2, events)
    concurrent = dw_snapshot(wh)
    assert concurrent == dw_snapshot(wh2)
    rebuild(wh)
    assert dw_snapshot(wh) == concurrent


def _wait_until_blocked(observer, pid):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if observer.execute("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0]:
            return
        time.sleep(0.02)
    pytest.fail(f"backend {pid} never waited for a lock")


def _customer_1_created_then_two_changes(wh):
    """Customer 1 landed (city A), and two later changes of it (B, then C) not landed yet."""
    src = Source()
    create = src.change("customers", "c", customer(1, city="A"), datetime(2025, 1, 1))
    first = src.change("customers", "u", customer(1, city="B"), datetime(2025, 2, 1))
    second = src.change("customers", "u", customer(1, city="C"), datetime(2025, 3, 1))
    land(wh, [create])
    return src, (create, first, second)


def _assert_customer_1_went_through_a_b_c(wh, wh2, events):
    """Three versions A, B, C, as landing the same events one by one gives."""
    rows = wh.execute("SELECT city, version, is_current FROM dw.dim_customer WHERE customer_id = 1 ORDER BY version").fetchall()
    assert rows == [("A", 1, False), ("B", 2, False), ("C", 3, True)]
    check_version_chains(wh)
    land_each(wh2, events)
    assert dw_snapshot(wh)["dim_customer"] == dw_snapshot(wh2)["dim_customer"]


def test_an_open_transaction_blocks_nobody_and_its_commit_applies_on_top_of_later_ones(warehouse_dsn, wh, wh2):
    """Interleaved on purpose: T1 lands a change of customer 1 and keeps its transaction open. The
    engine applies a transaction's events at its commit (ops.apply_landed_at_commit), so until then
    T1 holds no engine lock: T2 lands an earlier change of the same customer and commits without
    waiting, and T1's commit then applies its change on top of T2's."""
    src, (create, first, second) = _customer_1_created_then_two_changes(wh)
    options = "-c statement_timeout=60s"
    with psycopg.connect(warehouse_dsn, options=options) as t1, psycopg.connect(warehouse_dsn, options=options) as t2:
        land(t1, [second])                                  # T1: the later change, not committed
        land(t2, [first])
        t2.commit()                                         # a lock wait here would time out and fail
        rows = wh.execute("SELECT city, is_current FROM dw.dim_customer WHERE customer_id = 1 ORDER BY version").fetchall()
        assert rows == [("A", False), ("B", True)]
        land(t1, [src.change("products", "c", product(9), datetime(2025, 3, 1))])
        t1.commit()
    _assert_customer_1_went_through_a_b_c(wh, wh2, [create, first, second])


def test_two_commits_at_once_apply_one_after_the_other(warehouse_dsn, wh, wh2):
    """While one transaction's commit applies its events (holding the engine lock), another commit
    of the same customer waits for it, then sees its events and applies on top of them."""
    _, (create, first, second) = _customer_1_created_then_two_changes(wh)
    options = "-c statement_timeout=60s"
    with psycopg.connect(warehouse_dsn, options=options) as t1, psycopg.connect(warehouse_dsn, options=options) as t2, \
            ThreadPoolExecutor(1) as pool:
        land(t1, [second])
        t1.execute("SET CONSTRAINTS ops.apply_landed_at_commit IMMEDIATE")  # apply now, as a commit would
        land(t2, [first])
        t2_pid = t2.info.backend_pid
        committing = pool.submit(t2.commit)
        _wait_until_blocked(wh, t2_pid)                     # T2's apply waits for T1's engine lock
        t1.commit()
        committing.result(timeout=WAIT)
    _assert_customer_1_went_through_a_b_c(wh, wh2, [create, first, second])


def _blocked_or_done(observer, pid, done: threading.Event):
    """Wait until a session either finished its step or waits for a lock (whichever the engine's
    lock protocol makes it do)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if done.is_set() or observer.execute(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0]:
            return
        time.sleep(0.02)
    pytest.fail(f"backend {pid} neither finished nor waited for a lock")


def test_a_fully_quarantined_batch_does_not_deadlock_a_concurrent_sink_task(warehouse_dsn, wh):
    """A batch whose events are all quarantined applies nothing, yet its transaction goes on (a sink
    task's transaction may hold batches of several tables). Interleaved with another task's good
    batches it must not deadlock: a deadlock error raised in the trigger stops the sink (promise 8).
    Steps: T2 lands a bad product; T1 lands a customer; T2 lands a change of that customer and
    commits; T1 lands a product and commits. Each step may wait for the other transaction."""
    src = Source()
    at = datetime(2025, 1, 1)
    bad_product = [src.change("products", "c", product(None), at)]
    good_customer = [src.change("customers", "c", customer(1), at)]
    customer_change = [src.change("customers", "u", customer(1, city="X"), at + timedelta(hours=1))]
    good_product = [src.change("products", "c", product(5), at)]
    options = "-c statement_timeout=60s"     # a wait nobody resolves fails the test instead of hanging it
    with psycopg.connect(warehouse_dsn, options=options) as t1, psycopg.connect(warehouse_dsn, options=options) as t2, \
            ThreadPoolExecutor(2) as pool:
        t1_step, t2_step, t1_go_on = threading.Event(), threading.Event(), threading.Event()

        def task1():
            land(t1, good_customer)
            t1_step.set()
            t1_go_on.wait(WAIT)
            land(t1, good_product)
            t1.commit()

        def task2():
            land(t2, customer_change)
            t2.commit()
            t2_step.set()

        land(t2, bad_product)
        first = pool.submit(task1)
        _blocked_or_done(wh, t1.info.backend_pid, t1_step)
        second = pool.submit(task2)
        _blocked_or_done(wh, t2.info.backend_pid, t2_step)
        t1_go_on.set()
        errors = []
        for future in (first, second):
            try:
                future.result(timeout=2 * WAIT + 60)
            except psycopg.Error as exc:
                errors.append(exc)
    assert errors == []
    assert [r["event"]["product_id"] for r in quarantined(wh)] == [None]
    assert wh.execute("SELECT count(*) FROM dw.dim_product WHERE product_id = 5").fetchone() == (1,)
    rows = wh.execute("SELECT city FROM dw.dim_customer WHERE customer_id = 1 ORDER BY version").fetchall()
    assert rows[-1] == ("X",)
    check_version_chains(wh)
