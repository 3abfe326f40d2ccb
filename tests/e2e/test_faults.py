"""Failures heal and health tells the truth (promises 11 and 12), on a stack of its own.

Each component (warehouse PostgreSQL, Kafka broker, Kafka Connect, source PostgreSQL) is killed
with SIGKILL during a steady workload of orders and dimension changes; then only `whctl stack up`
runs. Within 120 s `whctl status` must say healthy and `whctl verify` must find the warehouse equal
to the source (every order line one fact with the right versions and status, every dimension
change one version, no duplicates). The stack is this module's own sandbox (it kills things), with
the supervisor running as in `whctl stack up`. Marked `faults`: `make test-faults` runs it alone.
Every wait polls with a deadline.
"""
from __future__ import annotations

import json
import os
import signal
import time

import psycopg
import pytest
from confluent_kafka import Producer

from tests.conftest import poll, run_whctl
from tests.e2e.workload import CUSTOMERS, RESULTS, Workload, deployed_sandbox, healthy, status, verify
from whctl import pipeline
from whctl.config import Settings
from whctl.localstack.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

HEAL_WITHIN_S = 120


@pytest.fixture(scope="module")
def faulty() -> Settings:
    with deployed_sandbox("whctl-faults-") as settings:
        yield settings


_orders = iter(range(10_000, 10**9, 10_000))


def _component(settings: Settings, name: str):
    return getattr(Stack(settings), name)


@pytest.mark.parametrize("name", ["warehouse", "kafka", "connect", "source"])
def test_kill_during_load_then_stack_up_heals(faulty, name):
    component = _component(faulty, name)
    workload = Workload(faulty, next(_orders))
    workload.start()
    try:
        poll(lambda: workload.committed >= 60, 60, what="60 transactions before the kill")
        os.kill(component.pid(), signal.SIGKILL)
        poll(lambda: component.pid() is None, 30, what=f"{name} gone")
        at_kill = workload.committed + workload.errors
        poll(lambda: workload.committed + workload.errors >= at_kill + 60, 60, what="60 more attempts while it is down")
        up_started = time.monotonic()
        up = run_whctl("stack", "up")
        assert up.returncode == 0, up.stderr
        at_up = workload.committed
        poll(lambda: workload.committed >= at_up + 30, 60, what="30 more transactions after `stack up`")
    finally:
        workload.stop()
    healthy(HEAL_WITHIN_S - (time.monotonic() - up_started))
    healthy_after = time.monotonic() - up_started
    rows, differences = verify(faulty)
    RESULTS.append({"component": f"{name} (kill -9)", "measure": "healthy after `stack up`", "seconds": healthy_after, "rows_checked": rows,
                    "differences": differences, "transactions": workload.committed})
    assert differences == 0


def test_warehouse_down_60s_then_back_all_changes_once(faulty):
    """50 changes while the warehouse is down for 60 s; it comes back (pg_ctl start, nothing else):
    the sink's retries and the supervisor deliver all 50 exactly once."""
    stack = Stack(faulty)
    first = next(_orders)
    stack.warehouse.stop()
    down_at = time.monotonic()
    with psycopg.connect(**faulty.connection_kwargs("source"), autocommit=True) as src:
        for i in range(25):  # 25 orders with one line, 25 customer moves: 50 changes
            n = first + i
            with src.transaction():
                src.execute("INSERT INTO orders (order_id, customer_id, order_date, status) VALUES (%s, %s, now() AT TIME ZONE 'UTC', 'pending')",
                            (n, i % CUSTOMERS + 1))
                src.execute("INSERT INTO order_items VALUES (%s, %s, 1, 1, 10, 10)", (2 * n, n))
            src.execute("UPDATE customers SET city = %s WHERE customer_id = %s", (f"Moved {n}", i + 1))
    poll(lambda: time.monotonic() - down_at >= 60, 70, what="the warehouse down for 60 s", interval=1)
    stack.warehouse.launch()
    back = time.monotonic()
    stack.warehouse.wait_ready()
    healthy(HEAL_WITHIN_S)
    healthy_after = time.monotonic() - back
    with psycopg.connect(**faulty.connection_kwargs("warehouse")) as wh:
        facts = wh.execute("SELECT count(*), count(DISTINCT order_item_id) FROM dw.fact_orders WHERE order_id BETWEEN %s AND %s",
                           (first, first + 24)).fetchone()
        moved = wh.execute("SELECT count(*) FROM dw.dim_customer WHERE city LIKE 'Moved %%' AND split_part(city, ' ', 2)::int"
                           " BETWEEN %s AND %s", (first, first + 24)).fetchone()[0]
        incidents = wh.execute("SELECT count(*) FROM ops.incidents WHERE component = 'warehouse' AND resolved_at IS NOT NULL").fetchone()[0]
    assert facts == (25, 25), "each new order line once"
    assert moved == 25, "each customer move one version"
    assert incidents >= 1, "the outage is recorded, with its recovery"
    rows, differences = verify(faulty)
    RESULTS.append({"component": "warehouse down 60 s, 50 changes", "measure": "healthy after it is back", "seconds": healthy_after,
                    "rows_checked": rows, "differences": differences, "transactions": 50})


def test_broker_killed_status_fails_within_10s_naming_the_broker(faulty):
    kafka = _component(faulty, "kafka")
    os.kill(kafka.pid(), signal.SIGKILL)
    killed = time.monotonic()
    try:
        def failing():
            result = run_whctl("status")
            return result if result.returncode != 0 else None

        result = poll(failing, 10, what="status non-zero", interval=0.2)
        elapsed = time.monotonic() - killed
        assert "FAIL  kafka broker" in result.stdout and "overall: unhealthy (kafka broker" in result.stdout, result.stdout
        RESULTS.append({"component": "kafka (kill -9)", "measure": "`whctl status` non-zero", "seconds": elapsed, "rows_checked": 0, "differences": 0,
                        "transactions": 0})
        assert elapsed < 10
    finally:
        assert run_whctl("stack", "up").returncode == 0
    healthy(HEAL_WITHIN_S)


def test_a_dead_letter_makes_status_degraded_and_is_listed(faulty):
    topic = "whctl.public.customers"
    producer = Producer({"bootstrap.servers": faulty.bootstrap})
    producer.produce(topic, value=b"this is not JSON")  # the sink's converter cannot read it: dead-lettered
    assert producer.flush(10) == 0

    def degraded():
        code, body = status()
        dlq = next(c for c in body["checks"] if c["name"] == "dead-letter topic")
        return (code, dlq) if dlq["records"] else None

    code, dlq = poll(degraded, 60, what="the record in the dead-letter topic", interval=1)
    assert code == 2 and dlq["verdict"] == "warn"
    assert dlq["first"][0]["topic"] == topic and dlq["first"][0]["error"]
    code, body = status()
    lag = next(c for c in body["checks"] if c["name"] == "sink consumer lag")
    assert lag["topics"][topic]["records"] == 0, "a dead-lettered record is not counted as lag"
    assert "whctl.dlq.sink" in run_whctl("status").stdout and "whctl dlq list" in dlq["detail"]
    listed = json.loads(run_whctl("dlq", "list", "--json").stdout)
    assert listed["total"] == 1 and listed["records"][0]["topic"] == topic and listed["records"][0]["value"] == "this is not JSON"
    # replay sends it back to its topic: the sink dead-letters it again (it is still not JSON), nothing else lands
    replayed = run_whctl("dlq", "replay", "--json")
    assert replayed.returncode == 0 and json.loads(replayed.stdout) == {"replayed": 1}, replayed.stderr
    poll(lambda: [r["dlq_offset"] for r in json.loads(run_whctl("dlq", "list", "--json").stdout)["records"]] == [1], 60,
         what="the replayed record dead-lettered again")
    # a person decides it is garbage: discard it; the sink commits past it with the table's next change
    discarded = run_whctl("dlq", "discard", "--yes", "--json")
    assert discarded.returncode == 0 and json.loads(discarded.stdout) == {"discarded": 1}
    with psycopg.connect(**faulty.connection_kwargs("source"), autocommit=True) as src:
        src.execute("UPDATE customers SET city = 'After the dead letter' WHERE customer_id = 3")
    healthy(60)


def _sink_failed() -> dict | None:
    code, body = status()
    sink = next((c for c in body.get("checks", []) if c["name"] == f"connector {pipeline.SINK_CONNECTOR}"), None)
    return sink if sink and sink.get("failed") else None


def _open_incident(settings: Settings, component: str) -> tuple | None:
    with psycopg.connect(**settings.connection_kwargs("warehouse")) as wh:
        return wh.execute("SELECT cause, action FROM ops.incidents WHERE component = %s AND resolved_at IS NULL",
                          (component,)).fetchone()


def test_supervisor_restarts_a_transient_failure_and_leaves_a_permanent_one(faulty):
    """`whctl supervise --once` by hand (the stack's supervisor stopped): a sink task failed because
    its role lost INSERT on landing stays failed, "needs a person"; after the fix `whctl deploy`
    restarts it. A task failed because the warehouse was killed is restarted once it answers."""
    stack = Stack(faulty)
    stack.supervisor.stop()
    task = f"connector {pipeline.SINK_CONNECTOR} task 0"
    try:
        with psycopg.connect(**faulty.connection_kwargs("warehouse"), autocommit=True) as wh:
            wh.execute("REVOKE INSERT ON landing.customers FROM wh_loader")
        with psycopg.connect(**faulty.connection_kwargs("source"), autocommit=True) as src:
            src.execute("UPDATE customers SET city = 'Permission' WHERE customer_id = 1")
        failed = poll(_sink_failed, 150, what="the sink task failed", interval=2)["failed"][0]
        assert "permission denied" in failed["root_cause"] and failed["cause"] == "not transient", failed
        once = run_whctl("supervise", "--once", "--json")
        assert once.returncode == 0 and json.loads(once.stdout)["actions"] == [], once.stdout + once.stderr
        cause, action = _open_incident(faulty, task)
        assert "permission denied" in cause and action.startswith("needs a person")
        assert _sink_failed(), "left failed"

        with psycopg.connect(**faulty.connection_kwargs("warehouse"), autocommit=True) as wh:
            wh.execute("GRANT INSERT ON landing.customers TO wh_loader")
        deployed = run_whctl("deploy", "--json")
        assert deployed.returncode == 0, deployed.stderr
        assert json.loads(deployed.stdout)["connectors"][pipeline.SINK_CONNECTOR]["action"] == "restarted failed tasks"
        assert run_whctl("supervise", "--once").returncode == 0
        assert _open_incident(faulty, task) is None, "closed once it runs"

        os.kill(stack.warehouse.pid(), signal.SIGKILL)
        with psycopg.connect(**faulty.connection_kwargs("source"), autocommit=True) as src:
            src.execute("UPDATE customers SET city = 'Transient' WHERE customer_id = 2")
        failed = poll(_sink_failed, 180, what="the sink task failed", interval=2)["failed"][0]
        assert failed["cause"] in ("database unreachable", "database connection lost"), failed
        waiting = json.loads(run_whctl("supervise", "--once", "--json").stdout)
        assert waiting["actions"] == [], "no restart while the warehouse is down"
        stack.warehouse.launch()
        stack.warehouse.wait_ready()
        acted = json.loads(run_whctl("supervise", "--once", "--json").stdout)
        assert {"component": f"connector {pipeline.SINK_CONNECTOR}", "action": "restarted the failed parts (attempt 1)"} in acted["actions"]
        cause, action = _open_incident(faulty, task)  # the outage recorded meanwhile in the state folder, now in the warehouse
        assert cause.startswith("database ") and action == "restarted the failed parts (attempt 1)"
    finally:
        assert run_whctl("stack", "up").returncode == 0  # the supervisor again
    healthy(HEAL_WITHIN_S)
    rows, differences = verify(faulty)
    assert differences == 0
