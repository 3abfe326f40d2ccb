"""Fixtures of the dashboard's API tests: the app made by `create_app` over a fresh SQL-level
warehouse (tests/conftest.py), read as the analyst role, with a small landed history."""
from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import pytest

from tests.sql.changes import Source, customer, land, order, order_item, product
from whctl import health, quality
from whctl.config import Settings
from whctl.web import create_app

# Nothing listens on port 1: health sees Connect and the source down, as on a warehouse-only host.
UNREACHABLE = {"source_dsn": "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2", "connect_url": "http://127.0.0.1:1"}


@pytest.fixture
def settings(warehouse_dsn, analyst_password, tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("WH_WH_ANALYST_PASSWORD", analyst_password)
    return Settings(state_dir=tmp_path, warehouse_dsn=warehouse_dsn, **UNREACHABLE)


@pytest.fixture
def history(warehouse_dsn) -> dict:
    """Customer 1 moves (two versions) between two orders; product 10's price changes; order 102 lands
    a bad line (quarantined); a heartbeat lands; `whctl verify`'s result is recorded; one incident was opened and healed."""
    now = datetime.now().replace(microsecond=0)
    t0, moved, repriced = now - timedelta(days=20), now - timedelta(days=10), now - timedelta(days=5)
    src = Source()
    with psycopg.connect(warehouse_dsn, autocommit=True) as wh:
        land(wh, [src.change("customers", "r", customer(1, city="London"), t0), src.change("customers", "r", customer(2), t0)])
        land(wh, [src.change("products", "r", product(10, price=20), t0), src.change("products", "r", product(11, price=5), t0)])
        land(wh, [src.change("orders", "c", order(100, 1, t0 + timedelta(days=1)), t0 + timedelta(days=1))])
        land(wh, [src.change("order_items", "c", order_item(1000, 100, 10, 2, 20), t0 + timedelta(days=1))])
        land(wh, [src.change("customers", "u", customer(1, city="Paris", address="9 Rue X"), moved)])
        land(wh, [src.change("products", "u", product(10, price=25), repriced)])
        land(wh, [src.change("orders", "c", order(101, 1, now - timedelta(days=2)), now - timedelta(days=2)),
                  src.change("orders", "c", order(102, 2, now - timedelta(days=1)), now - timedelta(days=1))])
        land(wh, [src.change("order_items", "c", order_item(1001, 101, 10, 1, 25), now - timedelta(days=2)),
                  src.change("order_items", "c", order_item(1002, 101, 11, 3, 5), now - timedelta(days=2)),
                  src.change("order_items", "c", order_item(None, 102, 11, 1, 5), now - timedelta(days=1))])
        # a heartbeat committed 1.5 s before it landed
        wh.execute("INSERT INTO landing.heartbeat (id, beat_at, __op, __source_ts_us)"
                   " VALUES (1, 'beat', 'u', ((extract(epoch FROM clock_timestamp()) - 1.5) * 1e6)::bigint)")
        wh.execute("INSERT INTO ops.incidents (component, cause, action, resolved_at) VALUES"
                   " ('connector whctl-sink task 0', 'task FAILED: connection refused', 'restarted the task', clock_timestamp())")
    quality.record(Settings(warehouse_dsn=warehouse_dsn), health.overall([
        health.check("fact keys resolve", health.OK, "0 facts with a key that resolves to nothing", failures=0),
        health.check("order lines reconcile", health.FAIL, "source 4, facts 3", source=4, warehouse=3, failures=1)]))
    return {"now": now, "moved": moved, "repriced": repriced}


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()
