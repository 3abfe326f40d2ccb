"""dw.fact_orders partitioned by month of order_date (migration 0008): facts are filed in their
month's partition, made ahead by the engine as dim_date grows; facts whose order has not landed are
stored undated in the default partition; a fact moves between partitions when its order's date
changes, and there is still exactly one fact per order line (promise 5), kept by the key map
dw.fact_order_lines. The migration converts a warehouse that already holds facts, keeping every one."""
from __future__ import annotations

from datetime import datetime

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, pool

from tests.conftest import dsn_for, run_whctl
from tests.sql.changes import Source, customer, land, order, order_item, product
from tests.sql.warehouse import assert_views_match_facts, dw_snapshot, rebuild
from whctl.schema import MIGRATIONS


def _partition_of(conn, order_item_id: int) -> str:
    return conn.execute("SELECT c.relname FROM dw.fact_orders f JOIN pg_class c ON c.oid = f.tableoid"
                        " WHERE f.order_item_id = %s", (order_item_id,)).fetchone()[0]


def _one_fact_per_line(conn) -> None:
    assert conn.execute("SELECT order_item_id FROM dw.fact_orders GROUP BY 1 HAVING count(*) > 1").fetchall() == []


def _months(conn) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'dw.fact_orders'::regclass ORDER BY 1")]


def test_a_line_waits_undated_then_moves_to_its_months_partition_made_ahead(wh):
    src = Source()
    at = datetime(2025, 1, 20, 10)
    land(wh, [src.change("customers", "c", customer(1), at)])
    land(wh, [src.change("products", "c", product(5), at)])
    land(wh, [src.change("order_items", "c", order_item(11, 1, 5), at)])          # its order has not landed
    assert _partition_of(wh, 11) == "fact_orders_undated"
    assert wh.execute("SELECT order_date, customer_key, date_key FROM dw.fact_orders").fetchall() == [(None, -1, -1)]
    land(wh, [src.change("orders", "c", order(1, 1, at), at)])
    assert _partition_of(wh, 11) == "fact_orders_y2025m01"
    # the order's month and three ahead exist (the undated default partition besides)
    assert _months(wh) == ["fact_orders_undated", "fact_orders_y2025m01", "fact_orders_y2025m02",
                           "fact_orders_y2025m03", "fact_orders_y2025m04"]
    _one_fact_per_line(wh)


def test_an_order_moved_to_another_month_moves_its_facts_and_keeps_one_per_line(wh, wh2):
    src = Source()
    jan, jun = datetime(2025, 1, 5), datetime(2025, 6, 30, 23)
    events = [src.change("customers", "c", customer(1), jan), src.change("products", "c", product(5), jan),
              src.change("orders", "c", order(1, 1, jan), jan),
              src.change("order_items", "c", order_item(11, 1, 5), jan),
              src.change("order_items", "c", order_item(12, 1, 5, quantity=3), jan),
              src.change("orders", "u", order(1, 1, jun, status="shipped"), jun)]
    for event in events:
        land(wh, [event])
    assert {_partition_of(wh, 11), _partition_of(wh, 12)} == {"fact_orders_y2025m06"}
    assert "fact_orders_y2025m09" in _months(wh)      # dim_date grew to June: three months ahead
    assert wh.execute("SELECT order_item_id, order_date, date_key, order_status FROM dw.fact_orders ORDER BY 1").fetchall() == [
        (11, jun, 20250630, "shipped"), (12, jun, 20250630, "shipped")]
    _one_fact_per_line(wh)
    # a line that moves to another order (in another month) follows it; a deleted line goes
    land(wh, [src.change("orders", "c", order(2, 1, jan), jan)])
    land(wh, [src.change("order_items", "u", order_item(12, 2, 5, quantity=3), jun)])
    assert _partition_of(wh, 12) == "fact_orders_y2025m01"
    land(wh, [src.delete("order_items", 11, jun)])
    assert wh.execute("SELECT order_item_id, order_id FROM dw.fact_orders").fetchall() == [(12, 2)]
    _one_fact_per_line(wh)
    # the same events in another order give the same warehouse
    later = [src.change("orders", "c", order(2, 1, jan), jan), src.change("order_items", "u", order_item(12, 2, 5, quantity=3), jun),
             src.delete("order_items", 11, jun)]
    for event in reversed(events + later):
        land(wh2, [event])
    assert dw_snapshot(wh2) == dw_snapshot(wh)


def test_the_default_partition_holds_undated_facts_only(wh):
    with pytest.raises(psycopg.errors.CheckViolation):
        wh.execute("INSERT INTO dw.fact_orders_undated (order_id, order_item_id, customer_key, product_key, date_key,"
                   " quantity, unit_price, line_total, order_date) VALUES (1, 1, -1, -1, -1, 1, 1, 1, '2025-01-01')")


def test_a_new_month_waits_for_nobody_when_it_is_only_ahead(wh, warehouse_dsn):
    """A reader of the facts holds a lock that attaching a month would wait for (on the default
    partition). A month needed only ahead is skipped then, and made at a later growth of dim_date."""
    src = Source()
    at = datetime(2025, 1, 10)
    land(wh, [src.change("orders", "c", order(1, 1, at), at)])
    assert "fact_orders_y2025m05" not in _months(wh)
    with psycopg.connect(warehouse_dsn) as reader:
        reader.execute("SELECT count(*) FROM dw.fact_orders")        # holds its lock until it ends
        land(wh, [src.change("orders", "c", order(2, 1, datetime(2025, 2, 1)), at)])
        assert "fact_orders_y2025m05" not in _months(wh)
    land(wh, [src.change("orders", "c", order(3, 1, datetime(2025, 2, 2)), at)])
    assert "fact_orders_y2025m05" in _months(wh)


def _upgrade(dsn: str, revision: str) -> None:
    """Alembic's own upgrade to one revision (no PL/pgSQL re-applied: the warehouse as it was then)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(dsn), poolclass=pool.NullPool)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


@pytest.fixture
def warehouse_at_0006(pg_admin_dsn):
    name = "whctl_facts_0006"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    dsn = dsn_for(pg_admin_dsn, name)
    _upgrade(dsn, "0006")
    yield dsn
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_migration_0008_converts_a_warehouse_with_facts_keeping_every_one(warehouse_at_0006):
    dsn = warehouse_at_0006
    with psycopg.connect(dsn, autocommit=True) as conn:
        # a warehouse as the engine of revision 0006 left it: two customer versions, dated facts in
        # three months and two years, and an undated one on the unknown members
        conn.execute("""
            INSERT INTO dw.dim_customer (customer_key, customer_id, first_name, last_name, city, country, valid_from, valid_to,
                                         is_current, version)
            VALUES (1, 1, 'Ada', 'L', 'London', 'UK', '1900-01-01', '2025-02-01', false, 1),
                   (2, 1, 'Ada', 'L', 'Paris', 'FR', '2025-02-01', '9999-12-31', true, 2);
            INSERT INTO dw.dim_product (product_key, product_id, product_name, price, valid_from) VALUES (1, 5, 'Lamp', 10, '1900-01-01');
            INSERT INTO dw.dim_date (date_key, date, year, month)
            SELECT to_char(d, 'YYYYMMDD')::int, d, extract(year FROM d), extract(month FROM d)
            FROM generate_series(date '2024-12-30', date '2025-03-02', interval '1 day') d;
            INSERT INTO dw.fact_orders (order_id, order_item_id, customer_key, product_key, date_key, quantity, unit_price,
                                        line_total, order_status, customer_id, product_id, order_date, created_at)
            VALUES (1, 11, 1, 1, 20241230, 1, 10, 10, 'shipped', 1, 5, '2024-12-30 10:00', '2024-12-30'),
                   (1, 12, 1, 1, 20241230, 2, 10, 20, 'shipped', 1, 5, '2024-12-30 10:00', '2024-12-30'),
                   (2, 21, 1, 1, 20250115, 1, 10, 10, 'pending', 1, 5, '2025-01-15 08:00', '2025-01-15'),
                   (3, 31, 2, 1, 20250302, 3, 10, 30, 'pending', 1, 5, '2025-03-02 23:59', '2025-03-02'),
                   (4, 41, -1, -1, -1, 1, 10, 10, NULL, NULL, 5, NULL, '2025-03-02');
        """)
        before = conn.execute("SELECT * FROM dw.fact_orders ORDER BY order_item_id").fetchall()
    result = run_whctl("migrate", env={"WH_WAREHOUSE_DSN": dsn})
    assert result.returncode == 0, result.stderr + result.stdout
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT relkind FROM pg_class WHERE oid = 'dw.fact_orders'::regclass").fetchone() == ("p",)
        assert conn.execute("SELECT * FROM dw.fact_orders ORDER BY order_item_id").fetchall() == before
        assert [(r[2], _partition_of(conn, r[2])) for r in before] == [
            (11, "fact_orders_y2024m12"), (12, "fact_orders_y2024m12"), (21, "fact_orders_y2025m01"),
            (31, "fact_orders_y2025m03"), (41, "fact_orders_undated")]
        assert "fact_orders_y2025m06" in _months(conn)                # three months ahead of the last date
        assert_views_match_facts(conn)                                # the key map and the aggregates
        assert conn.execute("SELECT customer_name, total_orders, lifetime_value FROM dw.customer_lifetime_value"
                            " WHERE customer_id = 1").fetchone() == ("Ada L", 3, 70)
        # the engine goes on from there: a new fact gets the next key, and the analyst reads it
        src = Source()
        land(conn, [src.change("orders", "c", order(5, 1, datetime(2025, 3, 1)), datetime(2025, 3, 1))])
        land(conn, [src.change("order_items", "c", order_item(51, 5, 5, unit_price=10), datetime(2025, 3, 1))])
        assert conn.execute("SELECT order_fact_key > %s FROM dw.fact_orders WHERE order_item_id = 51",
                            (max(r[0] for r in before),)).fetchone() == (True,)
        conn.execute("SET ROLE wh_analyst")
        assert conn.execute("SELECT count(*) FROM dw.fact_orders").fetchone() == (6,)
        assert conn.execute("SELECT count(*) FROM dw.customer_segmentation").fetchone() == (2,)


def test_rebuild_refiles_every_fact(wh):
    src = Source()
    at = datetime(2025, 3, 3)
    land(wh, [src.change("orders", "c", order(1, 1, at), at)])
    land(wh, [src.change("order_items", "c", order_item(11, 1, 5), at), src.change("order_items", "c", order_item(12, 9, 5), at)])
    before = dw_snapshot(wh)
    rebuild(wh)
    assert dw_snapshot(wh) == before
    assert (_partition_of(wh, 11), _partition_of(wh, 12)) == ("fact_orders_y2025m03", "fact_orders_undated")
