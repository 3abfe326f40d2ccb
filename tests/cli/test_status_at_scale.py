"""Health's cost at scale (issue 14): `whctl status` finds events landed but not applied by reading
landing's tail after the engine's last apply, not whole tables; `whctl verify` counts them all; the
supervisor's observe step reads only the checks its steps use."""
from __future__ import annotations

import json
from datetime import datetime

import psycopg

from tests.conftest import run_whctl
from tests.sql.changes import Source, customer, land, order, order_item
from whctl import health
from whctl.config import Settings
from whctl.pgserver import free_ports
from whctl.supervisor import loop

T = datetime(2025, 3, 1)


def _env(warehouse_dsn: str, source_dsn: str) -> dict[str, str]:
    """The warehouse and source of the test; Kafka and Connect on ports where nothing answers."""
    kafka, connect = free_ports(2)
    return {"WH_WAREHOUSE_DSN": warehouse_dsn, "WH_SOURCE_DSN": source_dsn, "WH_KAFKA_PORT": str(kafka), "WH_CONNECT_PORT": str(connect)}


def _checks(result) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(result.stdout)["checks"]}


def _land_bypassing_the_engine(warehouse_dsn: str, events: list[dict]) -> None:
    """Land as a session in which the engine's triggers do not fire (what a bypassed trigger leaves)."""
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        land(conn, events)


def test_status_counts_events_landed_after_the_engines_last_apply(warehouse_dsn, wh, source_dsn):
    src = Source()
    env = _env(warehouse_dsn, source_dsn)
    land(wh, [src.change("customers", "c", customer(i), T) for i in range(1, 6)])
    assert _checks(run_whctl("status", "--json", env=env))["applied changes"]["verdict"] == "ok"

    _land_bypassing_the_engine(warehouse_dsn, [src.change("customers", "u", customer(i, city="Paris"), T) for i in range(1, 4)])
    _land_bypassing_the_engine(warehouse_dsn, [src.change("orders", "c", order(1, 1, T), T)])
    applied = _checks(run_whctl("status", "--json", env=env))["applied changes"]
    assert applied["verdict"] == "warn"
    assert applied["unapplied"] == {"customers": 3, "orders": 1}   # orders: never applied at all
    assert "landed but not applied: customers 3, orders 1" in applied["detail"]


def test_verify_counts_every_landed_event_status_only_the_tail(warehouse_dsn, wh, source_dsn):
    src = Source()
    env = _env(warehouse_dsn, source_dsn)
    land(wh, [src.change("customers", "c", customer(1), T)])
    _land_bypassing_the_engine(warehouse_dsn, [src.change("customers", "u", customer(1, city="Oslo"), T)])
    land(wh, [src.change("customers", "c", customer(2), T)])   # the engine applies again after the bypassed event

    assert _checks(run_whctl("status", "--json", env=env))["applied changes"]["unapplied"] == {}
    landed = _checks(run_whctl("verify", "--wait", "0", "--json", env=env))["landed events applied"]
    assert (landed["verdict"], landed["unapplied"], landed["failures"]) == ("fail", {"customers": 1}, 1)


def test_the_landing_tail_is_read_by_its_primary_key_not_the_table(warehouse_dsn, wh):
    """20,000 applied order lines landed an hour ago and a fresh batch: the check reads about the
    first look's rows, by index, and no table scan."""
    src = Source()
    for first in range(1, 20_001, 2000):
        land(wh, [src.change("order_items", "c", order_item(i, 1, 1), T) for i in range(first, first + 2000)])
    wh.execute("UPDATE landing.order_items SET __landed_at = __landed_at - interval '1 hour'")  # the test's own history
    land(wh, [src.change("order_items", "c", order_item(30_000, 1, 1), T)])
    # a new session: its table statistics hold only what the check reads
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        (last,) = conn.execute("SELECT last_applied_at FROM ops.apply_stats WHERE landing_table = 'order_items'").fetchone()
        assert health._landed_after_last_apply(conn, "order_items", last) == 0
        seq_scans, fetched = conn.execute("SELECT seq_scan, idx_tup_fetch FROM pg_stat_xact_user_tables"
                                          " WHERE relid = 'landing.order_items'::regclass").fetchone()
    assert seq_scans == 0
    assert fetched <= 2 * health.TAIL_FIRST_ROWS + 10


def test_the_supervisors_observe_step_reads_no_warehouse_sizes(warehouse_dsn, source_dsn):
    settings = Settings.from_env(_env(warehouse_dsn, source_dsn))
    supervisor = loop.Supervisor(settings, steps=[loop.Step("observe", loop.observe)])
    observed = supervisor.reconcile()
    assert observed.ran == ["observe"]
    names = set(observed.checks)
    assert set(loop.COMPONENTS) <= names
    assert names - set(loop.COMPONENTS) == {f"connector {name}" for name in loop.CONNECTOR_DATABASE}
    assert observed.checks[health.WAREHOUSE]["verdict"] == "ok"
