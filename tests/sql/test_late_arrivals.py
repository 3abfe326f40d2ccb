"""Promise 6: facts before their dimension rows point to inferred members, filled in place when the
real row lands; facts before their order point to the unknown members until it lands; a late
dimension change re-points the facts inside its validity. Once quiet, nothing points to a
placeholder."""
from datetime import datetime

from tests.sql.changes import Source, customer, land, land_each, order, order_item, product
from tests.sql.warehouse import check_version_chains, dw_snapshot, fact, versions

T0 = datetime(2025, 1, 1)


def test_fact_before_its_product_points_to_an_inferred_member_filled_in_place(wh, land_all):
    src = Source()
    land_all(wh, [src.change("customers", "r", customer(1), T0),
                  src.change("orders", "c", order(1, 1, datetime(2025, 3, 1)), datetime(2025, 3, 1)),
                  src.change("order_items", "c", order_item(11, 1, 77), datetime(2025, 3, 1))])
    placeholder = versions(wh, "product", 77)
    assert [(r["is_inferred"], r["is_current"], r["version"], r["product_name"], r["price"]) for r in placeholder] == \
        [(True, True, 1, None, None)]
    assert fact(wh, 11)["product_key"] == placeholder[0]["product_key"]
    check_version_chains(wh)

    land(wh, [src.change("products", "r", product(77, product_name="Lamp", price=30), T0)])
    filled = versions(wh, "product", 77)
    assert [(r["product_key"], r["is_inferred"], r["product_name"], r["price"]) for r in filled] == \
        [(placeholder[0]["product_key"], False, "Lamp", 30)]
    assert fact(wh, 11)["product_key"] == placeholder[0]["product_key"]
    check_version_chains(wh)


def test_fact_before_its_customer_points_to_an_inferred_member(wh):
    src = Source()
    land(wh, [src.change("orders", "c", order(1, 42, datetime(2025, 3, 1)), datetime(2025, 3, 1))])
    land(wh, [src.change("order_items", "c", order_item(11, 1, 5), datetime(2025, 3, 1))])
    (inferred,) = versions(wh, "customer", 42)
    assert inferred["is_inferred"] and fact(wh, 11)["customer_key"] == inferred["customer_key"]
    # the customer arrives with two versions; the inferred key becomes version 1, the fact follows its date
    land(wh, [src.change("customers", "c", customer(42, city="A"), T0),
              src.change("customers", "u", customer(42, city="B"), datetime(2025, 2, 1))])
    rows = versions(wh, "customer", 42)
    assert [(r["customer_key"] == inferred["customer_key"], r["is_inferred"], r["city"]) for r in rows] == \
        [(True, False, "A"), (False, False, "B")]
    assert fact(wh, 11)["c_city"] == "B"
    check_version_chains(wh)


def test_fact_before_its_order_points_to_the_unknown_members_until_the_order_lands(wh, land_all):
    src = Source()
    land_all(wh, [src.change("customers", "r", customer(1), T0), src.change("products", "r", product(2), T0),
                  src.change("order_items", "c", order_item(11, 1, 2), datetime(2025, 3, 1)),
                  src.change("order_items", "c", order_item(12, 1, 2, quantity=2), datetime(2025, 3, 1))])
    assert wh.execute("SELECT order_item_id, customer_key, product_key, date_key FROM dw.fact_orders ORDER BY 1").fetchall() == \
        [(11, -1, -1, -1), (12, -1, -1, -1)]
    land(wh, [src.change("orders", "c", order(1, 1, datetime(2025, 3, 1), status="paid"), datetime(2025, 3, 1))])
    for line in (11, 12):
        f = fact(wh, line)
        assert (f["c_customer_id"], f["p_product_id"], f["date_key"], f["order_status"]) == (1, 2, 20250301, "paid")
    assert wh.execute("SELECT count(*) FROM dw.fact_orders WHERE -1 IN (customer_key, product_key, date_key)").fetchone() == (0,)


def test_late_customer_change_repoints_an_existing_fact(wh):
    """The customer moved on 1 March, but that change lands after a 10 March order's fact."""
    src = Source()
    create = src.change("customers", "c", customer(1, city="London"), T0)
    move = src.change("customers", "u", customer(1, city="Paris"), datetime(2025, 3, 1))
    before = src.change("orders", "c", order(1, 1, datetime(2025, 2, 1)), datetime(2025, 2, 1))
    after = src.change("orders", "c", order(2, 1, datetime(2025, 3, 10)), datetime(2025, 3, 10))
    lines = [src.change("order_items", "c", order_item(11, 1, 5), datetime(2025, 2, 1)),
             src.change("order_items", "c", order_item(21, 2, 5), datetime(2025, 3, 10))]
    land(wh, [create])
    land(wh, [before, after])
    land(wh, lines)
    assert (fact(wh, 11)["c_city"], fact(wh, 21)["c_city"]) == ("London", "London")
    land(wh, [move])
    assert (fact(wh, 11)["c_city"], fact(wh, 21)["c_city"]) == ("London", "Paris")
    assert (fact(wh, 11)["c_version"], fact(wh, 21)["c_version"]) == (1, 2)
    check_version_chains(wh)


def test_late_product_change_inside_an_existing_version_repoints_only_later_facts(wh, wh2):
    """A price change landing late splits a version; the facts before it stay, those after move.
    The result equals landing the same events in source order."""
    src = Source()
    # the source's history, in LSN order; the April price change is held back and lands last
    events = [src.change("products", "c", product(1, price=100), T0)]
    for i, month in enumerate((2, 3, 4, 5, 6, 7), start=1):
        at = datetime(2025, month, 15)
        if month == 4:
            late = src.change("products", "u", product(1, price=120), datetime(2025, 4, 1))
        if month == 6:
            events.append(src.change("products", "u", product(1, price=130), datetime(2025, 6, 1)))
        events += [src.change("orders", "c", order(i, 1, at), at), src.change("order_items", "c", order_item(i, i, 1), at)]
    land_each(wh, events)
    assert [fact(wh, i)["p_price"] for i in range(1, 7)] == [100, 100, 100, 100, 130, 130]
    land(wh, [late])
    assert [fact(wh, i)["p_price"] for i in range(1, 7)] == [100, 100, 120, 120, 130, 130]
    land_each(wh2, sorted(events + [late], key=lambda e: e["__source_ts_us"]))
    assert dw_snapshot(wh) == dw_snapshot(wh2)


def test_order_moved_to_another_customer_drops_the_unneeded_inferred_member(wh):
    src = Source()
    land(wh, [src.change("customers", "r", customer(2), T0)])
    land(wh, [src.change("orders", "c", order(1, 99, datetime(2025, 3, 1)), datetime(2025, 3, 1))])
    land(wh, [src.change("order_items", "c", order_item(11, 1, 5), datetime(2025, 3, 1))])
    assert versions(wh, "customer", 99)[0]["is_inferred"]
    land(wh, [src.change("orders", "u", order(1, 2, datetime(2025, 3, 1)), datetime(2025, 3, 2))])
    assert fact(wh, 11)["c_customer_id"] == 2
    assert versions(wh, "customer", 99) == []


def test_quiet_pipeline_has_no_fact_on_a_placeholder_in_any_arrival_order(wh, wh2):
    """Facts first, then orders, then dimensions (the worst arrival order) ends like source order."""
    src = Source()
    dims = [src.change("customers", "c", customer(c), T0) for c in (1, 2)] + \
           [src.change("products", "c", product(p), T0) for p in (10, 20, 30)]
    orders = [src.change("orders", "c", order(o, 1 + o % 2, datetime(2025, 5, o)), datetime(2025, 5, o)) for o in range(1, 6)]
    lines = [src.change("order_items", "c", order_item(o * 10 + k, o, (10, 20, 30)[k]), datetime(2025, 5, o))
             for o in range(1, 6) for k in range(3)]
    land_each(wh, lines + orders[::-1] + dims[::-1])
    assert wh.execute("SELECT count(*) FROM dw.fact_orders f JOIN dw.dim_customer c USING (customer_key) "
                      "JOIN dw.dim_product p USING (product_key) "
                      "WHERE f.date_key = -1 OR c.customer_id = -1 OR p.product_id = -1 "
                      "   OR c.is_inferred OR p.is_inferred").fetchone() == (0,)
    assert wh.execute("SELECT count(*) FROM dw.fact_orders").fetchone() == (15,)
    land_each(wh2, dims + orders + lines)
    assert dw_snapshot(wh) == dw_snapshot(wh2)
    check_version_chains(wh)
