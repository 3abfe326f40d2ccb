"""`whctl rebuild` through the real command line against a real warehouse."""
import json
from datetime import datetime

from tests.conftest import run_whctl
from tests.sql.changes import Source, customer, land, order, order_item, product
from tests.sql.warehouse import dw_snapshot


def test_rebuild_recomputes_dw_and_changes_nothing_the_incremental_path_made(warehouse_dsn, wh):
    src = Source()
    land(wh, [src.change("customers", "c", customer(1, city="Lyon"), datetime(2025, 1, 1)),
              src.change("customers", "u", customer(1, city="Nice"), datetime(2025, 3, 1))])
    land(wh, [src.change("products", "c", product(7, price=100), datetime(2025, 1, 1))])
    land(wh, [src.change("orders", "c", order(1, 1, datetime(2025, 2, 1)), datetime(2025, 2, 1))])
    land(wh, [src.change("order_items", "c", order_item(11, 1, 7), datetime(2025, 2, 1)),
              src.change("order_items", "c", order_item(12, 1, 7, quantity=2), datetime(2025, 2, 1))])
    before = dw_snapshot(wh)

    result = run_whctl("rebuild", "--yes", "--json", env={"WH_WAREHOUSE_DSN": warehouse_dsn})

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["fact_rows"] == 2
    assert dw_snapshot(wh) == before


def test_rebuild_asks_before_it_recomputes(warehouse_dsn):
    result = run_whctl("rebuild", env={"WH_WAREHOUSE_DSN": warehouse_dsn})
    assert result.returncode == 1
    assert "Aborted" in result.stderr


def test_rebuild_against_a_stopped_warehouse_is_one_clear_error():
    result = run_whctl("rebuild", "--yes", env={"WH_WAREHOUSE_DSN": "postgresql://nobody@127.0.0.1:1/warehouse"})
    assert result.returncode == 1
    assert "cannot connect to the warehouse database" in result.stderr
    assert "Traceback" not in result.stderr
