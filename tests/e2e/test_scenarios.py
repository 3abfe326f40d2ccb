"""`whctl demo`: each scenario runs on the real stack, and the SQL it prints returns what its story says.

The SQL is run again here, in a new warehouse session, exactly as printed (what a reader pasting it
into psql would get), and the rows are checked against the scenario's claims.
"""
from __future__ import annotations

import json
from decimal import Decimal

import psycopg
import pytest

from tests.conftest import run_whctl
from tests.e2e.demo_data import deploy_and_seed

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def warehouse(stack):
    deploy_and_seed()
    with psycopg.connect(**stack.connection_kwargs("warehouse"), autocommit=True) as conn:
        yield conn


def play(name: str) -> dict:
    result = run_whctl("demo", name, "--json", "--timeout", "180")
    assert result.returncode == 0, result.stderr + result.stdout
    stories = json.loads(result.stdout)
    assert len(stories) == 1 and stories[0]["scenario"] == name
    return stories[0]


def rows(conn: psycopg.Connection, query: str) -> list[dict]:
    cur = conn.execute(query)
    cols = [d.name for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def test_customer_move(warehouse):
    story = play("customer-move")
    facts = story["facts"]
    versions_q, where_q, latest_q = story["queries"]

    versions = rows(warehouse, versions_q["sql"])
    assert len(versions) == facts["versions_after"] == facts["versions_before"] + 1
    assert [v["version"] for v in versions] == list(range(1, len(versions) + 1))
    assert [v["is_current"] for v in versions] == [False] * (len(versions) - 1) + [True]
    assert versions[-2]["valid_to"] == versions[-1]["valid_from"], "no gap between the old and the new version"
    assert (versions[-2]["city"], versions[-1]["city"]) == (facts["old_city"], facts["new_city"])

    where = {r["order_id"]: r for r in rows(warehouse, where_q["sql"])}
    old, new = where[facts["old_order_id"]], where[facts["new_order_id"]]
    assert (new["version"], new["city"]) == (versions[-1]["version"], facts["new_city"])
    # the earlier order points to the version valid when it was placed (the first one, unless the
    # customer had moved before: the demo may have run already)
    valid_then = [v for v in versions if v["valid_from"] <= old["order_date"] < v["valid_to"]]
    assert len(valid_then) == 1 and (old["version"], old["city"]) == (valid_then[0]["version"], valid_then[0]["city"])
    assert old["version"] < new["version"]

    latest = rows(warehouse, latest_q["sql"])
    assert latest[0]["order_id"] == facts["new_order_id"] and latest[0]["city"] == facts["new_city"]
    assert facts["new_city"] in " ".join(story["story"])


def test_price_change(warehouse):
    story = play("price-change")
    facts = story["facts"]
    versions_q, at_q, quarter_q = story["queries"]

    versions = rows(warehouse, versions_q["sql"])
    assert [v["price"] for v in versions[-2:]] == [Decimal("100.00"), Decimal("120.00")]
    assert versions[-1]["is_current"] and versions[-2]["valid_to"] == versions[-1]["valid_from"]

    at = {r["order_id"]: r for r in rows(warehouse, at_q["sql"])}
    before, after = at[facts["before_order_id"]], at[facts["after_order_id"]]
    assert (before["price_at_order_time"], before["unit_price"]) == (Decimal("100.00"), Decimal("100.00"))
    assert (after["price_at_order_time"], after["unit_price"]) == (Decimal("120.00"), Decimal("120.00"))
    assert before["order_date"] < versions[-1]["valid_from"] <= after["order_date"]

    quarters = rows(warehouse, quarter_q["sql"])
    assert sum(q["order_lines"] for q in quarters) >= 2


def test_new_order(warehouse):
    story = play("new-order")
    facts = story["facts"]
    facts_q, revenue_q = story["queries"]

    lines = rows(warehouse, facts_q["sql"])
    assert len(lines) == 3 and [l["order_item_id"] for l in lines] == facts["order_item_ids"]
    assert all(l["customer_key"] > 0 and l["product_key"] > 0 and l["date_key"] > 0 for l in lines)
    assert sum(l["line_total"] for l in lines) == Decimal(str(facts["order_total"]))

    revenue = rows(warehouse, revenue_q["sql"])
    assert len(revenue) == 1
    assert revenue[0]["revenue"] == Decimal(str(facts["revenue_after"]))
    assert Decimal(str(facts["revenue_after"])) - Decimal(str(facts["revenue_before"])) == Decimal(str(facts["order_total"]))
    assert str(revenue[0]["date"]).replace("-", "") == str(lines[0]["date_key"])


def test_all_plays_the_three_in_a_row_and_reads_well():
    result = run_whctl("demo", "all", "--timeout", "180")
    assert result.returncode == 0, result.stderr + result.stdout
    out = result.stdout
    for title in ("Scenario 1", "Scenario 2", "Scenario 3"):
        assert title in out
    assert "SELECT" in out and "Traceback" not in result.stderr


def test_demo_without_a_pipeline_says_what_to_do(tmp_path):
    result = run_whctl("demo", "new-order", env={"WH_WAREHOUSE_DSN": "postgresql://nobody@127.0.0.1:1/none"})
    assert result.returncode == 1
    assert "cannot connect" in result.stderr and "Traceback" not in result.stderr
