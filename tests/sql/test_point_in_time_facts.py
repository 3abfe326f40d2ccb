"""Promise 5: one fact per order line; its customer_key and product_key are the versions valid at
the order's order_date; date_key is that date as YYYYMMDD; order_status follows the order."""
from datetime import date, datetime

from tests.sql.changes import Source, customer, land, land_each, order, order_item, product
from tests.sql.warehouse import check_version_chains, fact

PRICE_CHANGE = datetime(2025, 4, 1, 12, 0)


def _price_change_history(src):
    """Proposal scenario 2: product 100 costs $100, then $120; one order before and one after."""
    return [
        src.change("customers", "r", customer(1), datetime(2025, 1, 1)),
        src.change("products", "r", product(100, price=100, cost=60), datetime(2025, 1, 1)),
        src.change("orders", "c", order(1, 1, datetime(2025, 3, 15, 10)), datetime(2025, 3, 15, 10)),
        src.change("order_items", "c", order_item(11, 1, 100, quantity=2, unit_price=100), datetime(2025, 3, 15, 10)),
        src.change("products", "u", product(100, price=120, cost=60), PRICE_CHANGE),
        src.change("orders", "c", order(2, 1, datetime(2025, 5, 20, 16)), datetime(2025, 5, 20, 16)),
        src.change("order_items", "c", order_item(21, 2, 100, quantity=1, unit_price=120), datetime(2025, 5, 20, 16)),
    ]


def test_price_when_the_order_was_placed(wh, land_all):
    land_all(wh, _price_change_history(Source()))
    price_at_order = dict(wh.execute(
        "SELECT f.order_id, p.price FROM dw.fact_orders f JOIN dw.dim_product p ON p.product_key = f.product_key "
        "ORDER BY f.order_id").fetchall())
    assert price_at_order == {1: 100, 2: 120}
    assert (fact(wh, 11)["p_version"], fact(wh, 21)["p_version"]) == (1, 2)
    assert wh.execute("SELECT price FROM dw.dim_product WHERE product_id = 100 AND is_current").fetchone() == (120,)


def test_average_price_per_quarter(wh):
    """Scenario 2's question: the average product price in Q1 vs Q2 (from the versions at order time)."""
    land_each(wh, _price_change_history(Source()))
    rows = wh.execute(
        "SELECT d.quarter, avg(p.price) FROM dw.fact_orders f JOIN dw.dim_product p USING (product_key) "
        "JOIN dw.dim_date d USING (date_key) GROUP BY d.quarter ORDER BY d.quarter").fetchall()
    assert rows == [(1, 100), (2, 120)]


def test_where_the_customer_lived_when_the_order_was_placed(wh, land_all):
    """Scenario 1's question: historical orders keep the old address, later ones use the new."""
    src = Source()
    moved = datetime(2025, 6, 1)
    land_all(wh, [
        src.change("customers", "c", customer(1, address="1 Main St", city="London"), datetime(2025, 1, 1)),
        src.change("products", "c", product(2), datetime(2025, 1, 1)),
        src.change("orders", "c", order(1, 1, datetime(2025, 3, 1)), datetime(2025, 3, 1)),
        src.change("order_items", "c", order_item(11, 1, 2), datetime(2025, 3, 1)),
        src.change("customers", "u", customer(1, address="9 Rue Neuve", city="Paris"), moved),
        src.change("orders", "c", order(2, 1, datetime(2025, 7, 1)), datetime(2025, 7, 1)),
        src.change("order_items", "c", order_item(21, 2, 2), datetime(2025, 7, 1)),
    ])
    assert (fact(wh, 11)["c_address"], fact(wh, 11)["c_version"]) == ("1 Main St", 1)
    assert (fact(wh, 21)["c_address"], fact(wh, 21)["c_version"]) == ("9 Rue Neuve", 2)
    assert fact(wh, 11)["customer_key"] != fact(wh, 21)["customer_key"]


def test_order_with_three_items_gives_three_facts(wh, land_all):
    """Proposal scenario 3: one order, three lines, three facts with resolved keys and date_key."""
    src = Source()
    at = datetime(2025, 11, 14, 9, 30)
    land_all(wh, [src.change("customers", "r", customer(1), datetime(2025, 1, 1))]
             + [src.change("products", "r", product(p, price=p), datetime(2025, 1, 1)) for p in (10, 20, 30)]
             + [src.change("orders", "c", order(5, 1, at, status="pending"), at)]
             + [src.change("order_items", "c", order_item(50 + i, 5, p, quantity=i, unit_price=p), at)
                for i, p in enumerate((10, 20, 30), start=1)])
    rows = wh.execute(
        "SELECT f.order_item_id, f.order_id, c.customer_id, p.product_id, f.date_key, f.quantity, f.line_total, f.order_status "
        "FROM dw.fact_orders f JOIN dw.dim_customer c USING (customer_key) JOIN dw.dim_product p USING (product_key) "
        "ORDER BY f.order_item_id").fetchall()
    assert rows == [(51, 5, 1, 10, 20251114, 1, 10, "pending"), (52, 5, 1, 20, 20251114, 2, 40, "pending"),
                    (53, 5, 1, 30, 20251114, 3, 90, "pending")]
    assert wh.execute("SELECT sum(f.line_total) FROM dw.fact_orders f JOIN dw.dim_date d USING (date_key) "
                      "WHERE d.date = '2025-11-14'").fetchone() == (140,)


def test_one_fact_per_order_line_through_updates_and_duplicates(wh):
    src = Source()
    at = datetime(2025, 2, 2)
    line = src.change("order_items", "c", order_item(1, 1, 1, quantity=1, unit_price=5), at)
    land(wh, [src.change("orders", "c", order(1, 1, at), at)])
    land(wh, [line, line])
    land(wh, [src.change("order_items", "u", order_item(1, 1, 1, quantity=3, unit_price=5), datetime(2025, 2, 3))])
    land(wh, [line])
    assert wh.execute("SELECT order_item_id, quantity, line_total FROM dw.fact_orders").fetchall() == [(1, 3, 15)]


def test_order_status_follows_the_orders_latest_status(wh):
    src = Source()
    at = datetime(2025, 2, 2)
    land(wh, [src.change("orders", "c", order(1, 1, at, status="pending"), at)])
    land(wh, [src.change("order_items", "c", order_item(1, 1, 1), at), src.change("order_items", "c", order_item(2, 1, 1), at)])
    for status, day in (("processing", 3), ("shipped", 4), ("delivered", 5)):
        land(wh, [src.change("orders", "u", order(1, 1, at, status=status), datetime(2025, 2, day))])
        assert wh.execute("SELECT DISTINCT order_status FROM dw.fact_orders").fetchall() == [(status,)]


def test_order_date_change_moves_the_fact_to_other_versions_and_date(wh):
    src = Source()
    land_each(wh, [src.change("products", "c", product(1, price=100), datetime(2025, 1, 1)),
                   src.change("products", "u", product(1, price=120), PRICE_CHANGE),
                   src.change("orders", "c", order(1, 1, datetime(2025, 5, 1)), datetime(2025, 5, 1)),
                   src.change("order_items", "c", order_item(11, 1, 1), datetime(2025, 5, 1))])
    assert (fact(wh, 11)["p_price"], fact(wh, 11)["date_key"]) == (120, 20250501)
    land(wh, [src.change("orders", "u", order(1, 1, datetime(2025, 3, 3)), datetime(2025, 5, 2))])
    assert (fact(wh, 11)["p_price"], fact(wh, 11)["date_key"]) == (100, 20250303)


def test_order_at_the_exact_commit_time_of_a_change_gets_the_new_version(wh):
    """Validity is half-open, [valid_from, valid_to): the new version is valid at its first instant."""
    src = Source()
    land_each(wh, [src.change("products", "c", product(1, price=100), datetime(2025, 1, 1)),
                   src.change("products", "u", product(1, price=120), PRICE_CHANGE),
                   src.change("orders", "c", order(1, 1, PRICE_CHANGE), PRICE_CHANGE),
                   src.change("order_items", "c", order_item(11, 1, 1), PRICE_CHANGE)])
    assert fact(wh, 11)["p_price"] == 120


def test_dim_date_covers_every_order_date_with_its_attributes(wh):
    """dim_date is filled for the range the orders need and extended when a fact falls outside it."""
    src = Source()
    land(wh, [src.change("orders", "c", order(1, 1, datetime(2025, 11, 1, 8)), datetime(2025, 11, 1, 8))])
    land(wh, [src.change("order_items", "c", order_item(11, 1, 1), datetime(2025, 11, 1, 8))])
    with wh.cursor() as cur:
        row = cur.execute("SELECT date_key, date, day_of_week, day_of_month, month, month_name, quarter, year, "
                          "is_weekend, is_holiday FROM dw.dim_date WHERE date_key = %s", (fact(wh, 11)["date_key"],)).fetchone()
    assert row == (20251101, date(2025, 11, 1), "Saturday", 1, 11, "November", 4, 2025, True, False)
    land(wh, [src.change("orders", "c", order(2, 1, datetime(2024, 12, 25)), datetime(2025, 11, 2)),
              src.change("orders", "c", order(3, 1, datetime(2026, 1, 3)), datetime(2025, 11, 2))])
    land(wh, [src.change("order_items", "c", order_item(21, 2, 1), datetime(2025, 11, 2)),
              src.change("order_items", "c", order_item(31, 3, 1), datetime(2025, 11, 2))])
    first, last, days = wh.execute("SELECT min(date), max(date), count(*) FROM dw.dim_date WHERE date_key > 0").fetchone()
    assert (first, last, days) == (date(2024, 12, 25), date(2026, 1, 3), (date(2026, 1, 3) - date(2024, 12, 25)).days + 1)
    assert wh.execute("SELECT is_holiday, day_of_week FROM dw.dim_date WHERE date_key = 20241225").fetchone() == (True, "Wednesday")
    assert wh.execute("SELECT count(*) FROM dw.fact_orders f LEFT JOIN dw.dim_date d USING (date_key) "
                      "WHERE d.date <> f.order_date::date OR d.date IS NULL").fetchone() == (0,)


def test_facts_of_many_orders_point_at_versions_valid_at_their_dates(wh):
    """A month of orders around two price changes and an address change, checked fact by fact."""
    src = Source()
    events = [src.change("customers", "c", customer(1, city="A"), datetime(2025, 1, 1)),
              src.change("products", "c", product(1, price=10), datetime(2025, 1, 1))]
    changes = {5: ("products", product(1, price=11)), 12: ("customers", customer(1, city="B")),
               20: ("products", product(1, price=12))}
    for day in range(1, 29):
        if day in changes:
            table, row = changes[day]
            events.append(src.change(table, "u", row, datetime(2025, 2, day, 12)))
        at = datetime(2025, 2, day, 9 if day % 2 else 15)
        events += [src.change("orders", "c", order(day, 1, at), at), src.change("order_items", "c", order_item(day, day, 1), at)]
    land_each(wh, events)
    for day in range(1, 29):
        f = fact(wh, day)
        at = datetime(2025, 2, day, 9 if day % 2 else 15)
        expected_price = 10 if at < datetime(2025, 2, 5, 12) else 11 if at < datetime(2025, 2, 20, 12) else 12
        expected_city = "A" if at < datetime(2025, 2, 12, 12) else "B"
        assert (f["p_price"], f["c_city"], f["date_key"]) == (expected_price, expected_city, 20250200 + day), day
    check_version_chains(wh)
