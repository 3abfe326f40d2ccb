from datetime import datetime

from tests.sql.changes import Source, customer, land, order, order_item, product


def test_first_order_lands_as_a_fact(wh):
    src = Source()
    land(wh, [src.change("customers", "r", customer(1), datetime(2025, 1, 1))])
    land(wh, [src.change("products", "r", product(10), datetime(2025, 1, 1))])
    land(wh, [src.change("orders", "c", order(100, 1, datetime(2025, 2, 1)), datetime(2025, 2, 1))])
    land(wh, [src.change("order_items", "c", order_item(1000, 100, 10, quantity=2), datetime(2025, 2, 1))])
    rows = wh.execute("SELECT order_id, customer_key > 0, product_key > 0, date_key, line_total FROM dw.fact_orders").fetchall()
    assert rows == [(100, True, True, 20250201, 200)]
