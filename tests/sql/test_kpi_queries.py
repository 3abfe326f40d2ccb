"""The proposal's five KPI queries, verbatim, against a warehouse built by `whctl migrate` (its
database-level search_path reaches dw) and loaded with known numbers, run as the analyst role.
Two of them filter `is_current = TRUE` on the version joined to the fact and so undercount after a
price or address change; the views dw.product_sales, dw.customer_lifetime_value and
dw.customer_segmentation answer the same questions counting every fact."""
from __future__ import annotations

import re
from datetime import date, datetime

import psycopg
import pytest

from tests.conftest import ROOT, create_migrated_database
from tests.sql.changes import Source, customer, land_batches, order, order_item, product
from whctl.kpi_queries import DAILY_REVENUE, LIFETIME_VALUE, POINT_IN_TIME_PRICE, QUERIES, SEGMENTATION, TOP_PRODUCTS

# The proposal's KPI queries, copied verbatim into the repository (the proposal itself lives beside it).
PROPOSAL_QUERIES = ROOT / "tests" / "fixtures" / "proposal_kpi_queries.sql"
MOVED = datetime(2025, 11, 10, 10)          # Alice moves from London to Paris
REPRICED = datetime(2025, 11, 10, 9)        # Widget (product 100): $100 -> $120


def _events():
    """Alice (1) and Bob (2); Widget (100) and Gizmo (200). Revenue per order:
    O1 2025-11-03 Alice 250 (Widget 2x100, Gizmo 1x50)   O2 2025-11-05 Bob 100 (Widget 1x100)
    O3 2025-11-12 Alice 220 (Widget 1x120, Gizmo 2x50)   O4 2025-11-12 Bob 200 (Gizmo 4x50)
    O5 2025-10-30 Bob 100 (Widget 1x100)                 O6 2024-12-31 Alice 100 (Widget 1x100)"""
    src = Source()
    start = datetime(2024, 6, 1)
    events = [src.change("customers", "r", customer(1, first_name="Alice", last_name="Archer", city="London", country="UK"), start),
              src.change("customers", "r", customer(2, first_name="Bob", last_name="Baker", city="Oslo", country="Norway"), start),
              src.change("products", "r", product(100, product_name="Widget", category="Gadgets", price=100), start),
              src.change("products", "r", product(200, product_name="Gizmo", category="Tools", price=50), start)]
    orders = {6: (1, datetime(2024, 12, 31, 18), [(61, 100, 1, 100)]),
              5: (2, datetime(2025, 10, 30, 9), [(51, 100, 1, 100)]),
              1: (1, datetime(2025, 11, 3, 11), [(11, 100, 2, 100), (12, 200, 1, 50)]),
              2: (2, datetime(2025, 11, 5, 14), [(21, 100, 1, 100)]),
              3: (1, datetime(2025, 11, 12, 8), [(31, 100, 1, 120), (32, 200, 2, 50)]),
              4: (2, datetime(2025, 11, 12, 20), [(41, 200, 4, 50)])}
    for order_id, (customer_id, at, lines) in sorted(orders.items(), key=lambda kv: kv[1][1]):
        if at > REPRICED and not any(e.get("price") == 120 for e in events):
            events.append(src.change("products", "u", product(100, product_name="Widget", category="Gadgets", price=120), REPRICED))
            events.append(src.change("customers", "u", customer(1, first_name="Alice", last_name="Archer", city="Paris",
                                                                country="France"), MOVED))
        events.append(src.change("orders", "c", order(order_id, customer_id, at, status="delivered"), at))
        events += [src.change("order_items", "c", order_item(line, order_id, p, quantity=q, unit_price=price), at)
                   for line, p, q, price in lines]
    return events


@pytest.fixture(scope="module")
def analyst(pg_admin_dsn):
    """A warehouse made by the real `whctl migrate` (not a template clone: the database's search_path
    is not copied by CREATE DATABASE … TEMPLATE), loaded, and a session acting as the analyst role."""
    dsn = create_migrated_database(pg_admin_dsn, "whctl_kpi")
    with psycopg.connect(dsn, autocommit=True) as loader:
        loader.execute("SET ROLE wh_loader")
        land_batches(loader, _events())
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET ROLE wh_analyst")
        yield conn
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute("DROP DATABASE whctl_kpi WITH (FORCE)")


def _proposal_queries() -> list[str]:
    """The fixture's queries: each runs from its `-- title` comment line to its semicolon."""
    body = PROPOSAL_QUERIES.read_text()
    return [q.strip() + ";" for q in re.findall(r"^-- [^\n]*\n(SELECT.*?);", body, flags=re.MULTILINE | re.DOTALL)]


def test_queries_are_the_proposals_verbatim():
    """whctl.kpi_queries holds exactly the proposal's five queries, character for character."""
    proposal = _proposal_queries()
    assert len(proposal) == 5
    assert sorted(QUERIES.values()) == sorted(proposal)


def test_daily_revenue(analyst):
    assert analyst.execute(DAILY_REVENUE).fetchall() == [
        (date(2025, 11, 3), 250, 1), (date(2025, 11, 5), 100, 1), (date(2025, 11, 12), 420, 2)]


def test_point_in_time_pricing(analyst):
    assert analyst.execute(POINT_IN_TIME_PRICE).fetchall() == [
        ("Widget", 100, 100, 1, date(2025, 10, 30)), ("Widget", 100, 100, 2, date(2025, 11, 3)),
        ("Widget", 100, 100, 1, date(2025, 11, 5)), ("Widget", 120, 120, 1, date(2025, 11, 12))]


def test_current_version_queries_drop_the_facts_of_older_versions(analyst):
    """As written, the two is_current queries only see facts attached to the current versions: the
    Widget's sales before its repricing and Alice's orders before her move disappear."""
    assert analyst.execute(TOP_PRODUCTS).fetchall() == [("Gizmo", "Tools", 7, 350), ("Widget", "Gadgets", 1, 120)]
    assert analyst.execute(LIFETIME_VALUE).fetchall() == [(2, "Bob Baker", 3, 400), (1, "Alice Archer", 1, 220)]
    assert analyst.execute(SEGMENTATION).fetchall() == [("Oslo", "Norway", 1, 400), ("Paris", "France", 1, 220)]
    (total,) = analyst.execute("SELECT sum(line_total) FROM fact_orders").fetchone()
    assert total == 970
    assert sum(r[3] for r in analyst.execute(TOP_PRODUCTS)) < total


def test_views_count_every_fact(analyst):
    (total,) = analyst.execute("SELECT sum(line_total) FROM fact_orders").fetchone()
    assert analyst.execute("SELECT product_id, product_name, category, units_sold, revenue, order_lines "
                           "FROM dw.product_sales ORDER BY revenue DESC").fetchall() == [
        (100, "Widget", "Gadgets", 6, 620, 5), (200, "Gizmo", "Tools", 7, 350, 3)]
    assert analyst.execute("SELECT customer_id, customer_name, total_orders, lifetime_value "
                           "FROM dw.customer_lifetime_value ORDER BY lifetime_value DESC").fetchall() == [
        (1, "Alice Archer", 3, 570), (2, "Bob Baker", 3, 400)]
    assert analyst.execute("SELECT city, country, num_customers, total_revenue "
                           "FROM dw.customer_segmentation ORDER BY total_revenue DESC").fetchall() == [
        ("Paris", "France", 1, 570), ("Oslo", "Norway", 1, 400)]
    for view, column in (("product_sales", "revenue"), ("customer_lifetime_value", "lifetime_value"),
                         ("customer_segmentation", "total_revenue")):
        assert analyst.execute(f"SELECT sum({column}) FROM dw.{view}").fetchone() == (total,), view

