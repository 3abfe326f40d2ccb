"""`whctl verify`'s value checks (issue 13): values a shop does not expect are warnings with counts
and example keys, in text and in --json; the facts of an order without a customer are the source's
data, not a failure of the pipeline."""
from __future__ import annotations

import json
from datetime import datetime

from tests.conftest import run_whctl
from tests.sql.changes import Source, customer, land, order, order_item, product

T = datetime(2025, 3, 1)


def _verify(warehouse_dsn, source_dsn, *args):
    return run_whctl("verify", "--wait", "0", *args, env={"WH_WAREHOUSE_DSN": warehouse_dsn, "WH_SOURCE_DSN": source_dsn})


def test_value_checks_warn_with_counts_and_example_keys(warehouse_dsn, wh, source_dsn):
    src = Source()
    land(wh, [src.change("customers", "c", customer(1), T)])
    land(wh, [src.change("products", "c", product(1, price=-5), T), src.change("products", "c", product(2, price=10), T)])
    land(wh, [src.change("orders", "c", order(1, 1, T), T), src.change("orders", "c", order(2, None, T), T)])
    land(wh, [src.change("order_items", "c", order_item(11, 1, 2, quantity=0, unit_price=10), T),
              src.change("order_items", "c", order_item(12, 1, 1, quantity=1, unit_price=-5), T),
              src.change("order_items", "c", order_item(13, 2, 2, quantity=2, unit_price=10, line_total=25), T),
              src.change("order_items", "c", order_item(14, 1, 2, quantity=-1, unit_price=10), T),
              src.change("order_items", "c", order_item(15, 1, 2, quantity=1, unit_price=10), T)])

    result = _verify(warehouse_dsn, source_dsn, "--json")
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    expected = {"order line quantities positive": (2, [11, 14]), "unit prices not negative": (1, [12]),
                "line totals are quantity x unit price": (1, [13]), "product prices not negative": (1, [1]),
                "orders have a customer": (1, [2])}
    for name, (count, examples) in expected.items():
        assert (checks[name]["verdict"], checks[name]["count"], checks[name]["examples"]) == ("warn", count, examples), name
    assert checks["no facts on unknown members"]["verdict"] == "ok"

    text = _verify(warehouse_dsn, source_dsn).stdout
    assert "WARN  order line quantities positive" in text and "2 order lines with quantity <= 0 (e.g. order_item_id 11, 14)" in text
    assert "1 orders without a customer" in text and "order_id 2" in text


def test_value_checks_pass_on_clean_values(warehouse_dsn, wh, source_dsn):
    src = Source()
    land(wh, [src.change("orders", "c", order(1, 1, T), T)])
    land(wh, [src.change("order_items", "c", order_item(11, 1, 2, quantity=3, unit_price=10), T)])
    checks = {c["name"]: c for c in json.loads(_verify(warehouse_dsn, source_dsn, "--json").stdout)["checks"]}
    for name in ("order line quantities positive", "unit prices not negative", "line totals are quantity x unit price",
                 "product prices not negative", "orders have a customer"):
        assert (checks[name]["verdict"], checks[name]["count"], checks[name]["examples"]) == ("ok", 0, []), name
