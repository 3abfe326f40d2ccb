"""What the fault tests share: a steady workload on the source, base rows, and the checks after a fault.

Every wait polls with a deadline (tests.conftest.poll).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

import psycopg

from tests.conftest import poll, run_whctl
from whctl import pipeline
from whctl.config import PROJECT_ROOT, Settings
from whctl.localstack.sandbox import sandbox

CUSTOMERS, PRODUCTS = 40, 20
# what the fault tests measured, printed at the end of the run (tests/e2e/conftest.py)
RESULTS: list[dict] = []


@contextlib.contextmanager
def scratch_stack(prefix: str, env: dict[str, str] | None = None) -> Iterator[Settings]:
    """A stack in a temporary folder on free ports (whctl.localstack.sandbox), removed afterwards
    unless WHCTL_KEEP_E2E_STATE is set. `env`: more WH_* settings (e.g. WH_CONNECT_WORKERS=2)."""
    # not under pytest's tmp_path: its folders are private to root and PostgreSQL runs as `postgres`
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)
    try:
        with sandbox(base / "state", env) as settings:
            yield settings
    finally:
        if os.environ.get("WHCTL_KEEP_E2E_STATE"):
            print(f"\nstate kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def deployed_sandbox(prefix: str, env: dict[str, str] | None = None) -> Iterator[Settings]:
    """A scratch stack (supervisor included) with base rows, deployed and caught up."""
    with scratch_stack(prefix, env) as settings:
        prepare_source(settings)
        deployed = run_whctl("deploy")
        assert deployed.returncode == 0, deployed.stderr
        pipeline.wait_for_warehouse(settings, 90)
        yield settings


def prepare_source(settings: Settings) -> None:
    """The application's tables with CUSTOMERS customers and PRODUCTS products (before the deploy: the snapshot)."""
    with psycopg.connect(**settings.connection_kwargs("source"), autocommit=True) as src:
        src.execute((PROJECT_ROOT / "cli" / "whctl" / "sql" / "source_schema.sql").read_text())
        src.execute("INSERT INTO customers (customer_id, first_name, last_name, email, city, country)"
                    " SELECT i, 'F' || i, 'L' || i, 'c' || i || '@example.com', 'Start', 'FR' FROM generate_series(1, %s) i",
                    (CUSTOMERS,))
        src.execute("INSERT INTO products (product_id, product_name, category, brand, price, cost)"
                    " SELECT i, 'P' || i, 'Home', 'Acme', 10, 5 FROM generate_series(1, %s) i", (PRODUCTS,))


class Workload(threading.Thread):
    """Orders with two lines each, and every few of them a customer move, a price change, an order status change.

    Runs until stopped; a source that goes away is reconnected to. Only committed transactions count.
    """

    def __init__(self, settings: Settings, first_order: int):
        super().__init__(daemon=True)
        self.settings = settings
        self.next_order = first_order
        self.committed = 0
        self.errors = 0
        self.halt = threading.Event()

    def run(self) -> None:
        conn = None
        while not self.halt.is_set():
            try:
                if conn is None:
                    conn = psycopg.connect(**{**self.settings.connection_kwargs("source"), "connect_timeout": 2})
                self._one(conn)
                self.committed += 1
            except psycopg.Error:
                self.errors += 1
                if conn is not None:
                    conn.close()
                conn = None
                self.halt.wait(0.2)  # pacing while the source is away
            self.halt.wait(0.02)     # a steady rate, about 30 transactions/s at most
        if conn is not None:
            conn.close()

    def _one(self, conn: psycopg.Connection) -> None:
        n = self.next_order
        self.next_order += 1  # a transaction whose commit was lost with the connection may have committed: never reuse n
        customer, product = n % CUSTOMERS + 1, n % PRODUCTS + 1
        with conn.transaction():
            conn.execute("INSERT INTO orders (order_id, customer_id, order_date, status, total_amount)"
                         " VALUES (%s, %s, now() AT TIME ZONE 'UTC', 'pending', 30)", (n, customer))
            conn.execute("INSERT INTO order_items (order_item_id, order_id, product_id, quantity, unit_price, line_total)"
                         " VALUES (%s, %s, %s, 1, 10, 10), (%s, %s, %s, 2, 10, 20)",
                         (2 * n, n, product, 2 * n + 1, n, (product % PRODUCTS) + 1))
            if n % 3 == 0:
                conn.execute("UPDATE customers SET city = %s WHERE customer_id = %s", (f"City {n}", customer))
            if n % 5 == 0:
                conn.execute("UPDATE products SET price = price + 1 WHERE product_id = %s", (product,))
            if n % 4 == 0:
                conn.execute("UPDATE orders SET status = 'shipped' WHERE order_id = %s", (n - 1,))

    def stop(self) -> None:
        self.halt.set()
        self.join(30)


def status() -> tuple[int, dict]:
    result = run_whctl("status", "--json")
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, (json.loads(result.stdout) if result.stdout.strip() else {})


def healthy(within: float) -> float:
    started = time.monotonic()
    last = {}

    def ok():
        nonlocal last
        code, last = status()
        return code == 0

    try:
        poll(ok, within, what="status healthy", interval=1)
    except AssertionError:
        bad = [f"{c['name']}: {c['detail']}" for c in last.get("checks", []) if c["verdict"] != "ok"]
        raise AssertionError(f"not healthy within {within:.0f}s: {bad}") from None
    return time.monotonic() - started


def sink_drained(within: float = 120) -> None:
    """Wait until the sink's consumers have read every record of the table topics (`status`: sink consumer lag).

    `whctl verify` waits for the source's newest heartbeat to land and the engine to go quiet, but
    the sink reads the topics interleaved: after a failover its backlog of one table can still be
    on its way (pipeline.wait_for_warehouse says so).
    """
    def drained():
        code, body = status()
        lag = next((c for c in body.get("checks", []) if c["name"] == "sink consumer lag"), {})
        topics = lag.get("topics") or {}
        return topics and all(v["records"] == 0 for t, v in topics.items() if not t.endswith(".heartbeat"))

    poll(drained, within, what="the sink drained the table topics", interval=1)


def verify(settings: Settings) -> tuple[int, int]:
    """(rows checked, differences) of `whctl verify`, which fails the test on any difference."""
    sink_drained()
    result = run_whctl("verify", "--json", "--wait", "90")
    body = json.loads(result.stdout)
    failing = [c for c in body["checks"] if c["verdict"] != "ok"]
    assert result.returncode == 0 and not failing, failing
    with psycopg.connect(**settings.connection_kwargs("source")) as src:
        rows = src.execute("SELECT (SELECT count(*) FROM order_items) + (SELECT count(*) FROM orders)"
                           " + (SELECT count(*) FROM customers) + (SELECT count(*) FROM products)").fetchone()[0]
    return rows, sum(c.get("failures", 0) for c in body["checks"])
