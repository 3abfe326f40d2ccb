"""Promise 7: a source delete closes the key's current version at the delete's commit time; a key
that comes back opens a new version; a deleted order line removes its fact; dimension history is
never deleted."""
from datetime import datetime

from tests.sql.changes import Source, customer, land, land_each, order, order_item, product
from tests.sql.warehouse import END_OF_TIME, check_version_chains, dw_snapshot, fact, versions

T1, T2, T3, T4 = (datetime(2025, m, 1) for m in (1, 2, 3, 4))


def test_delete_closes_the_current_version_at_the_delete(wh, land_all):
    src = Source()
    land_all(wh, [src.change("customers", "c", customer(1), T1), src.delete("customers", 1, T2)])
    (row,) = versions(wh, "customer", 1)
    assert (row["valid_to"], row["is_current"]) == (T2, False)
    assert wh.execute("SELECT count(*) FROM dw.dim_customer WHERE customer_id = 1 AND is_current").fetchone() == (0,)
    check_version_chains(wh)


def test_delete_then_reinsert_leaves_a_gap_and_opens_a_new_version(wh, land_all):
    src = Source()
    land_all(wh, [src.change("products", "c", product(1, price=100), T1),
                  src.delete("products", 1, T2),
                  src.change("products", "c", product(1, price=100), T3)])
    rows = versions(wh, "product", 1)
    assert [(r["version"], r["valid_to"], r["is_current"]) for r in rows] == [(1, T2, False), (2, END_OF_TIME, True)]
    assert rows[1]["valid_from"] == T3
    check_version_chains(wh)


def test_no_current_row_while_deleted(wh):
    src = Source()
    land(wh, [src.change("products", "c", product(1), T1)])
    land(wh, [src.delete("products", 1, T2)])
    assert [r["is_current"] for r in versions(wh, "product", 1)] == [False]
    land(wh, [src.change("products", "c", product(1, price=5), T3)])
    assert [r["is_current"] for r in versions(wh, "product", 1)] == [False, True]
    land(wh, [src.delete("products", 1, T4)])
    assert [r["is_current"] for r in versions(wh, "product", 1)] == [False, False]
    check_version_chains(wh)


def test_deleted_order_line_removes_its_fact_and_keeps_dimension_history(wh):
    src = Source()
    land(wh, [src.change("customers", "c", customer(1), T1)])
    land(wh, [src.change("products", "c", product(2), T1)])
    land(wh, [src.change("orders", "c", order(1, 1, T2), T2)])
    land(wh, [src.change("order_items", "c", order_item(11, 1, 2), T2), src.change("order_items", "c", order_item(12, 1, 2), T2)])
    land(wh, [src.delete("order_items", 11, T3)])
    assert wh.execute("SELECT order_item_id FROM dw.fact_orders").fetchall() == [(12,)]
    land(wh, [src.delete("customers", 1, T4)])
    land(wh, [src.delete("products", 2, T4)])
    assert len(versions(wh, "customer", 1)) == 1 and len(versions(wh, "product", 2)) == 1
    f = fact(wh, 12)
    assert (f["c_customer_id"], f["p_product_id"]) == (1, 2)   # the fact keeps pointing at the closed versions
    check_version_chains(wh)


def test_order_line_deleted_and_inserted_again_has_its_fact_back(wh):
    src = Source()
    land(wh, [src.change("orders", "c", order(1, 1, T2), T2)])
    land_each(wh, [src.change("order_items", "c", order_item(11, 1, 2, quantity=1), T2),
                   src.delete("order_items", 11, T3),
                   src.change("order_items", "c", order_item(11, 1, 2, quantity=4), T4)])
    assert wh.execute("SELECT order_item_id, quantity FROM dw.fact_orders").fetchall() == [(11, 4)]


def test_primary_key_update_is_a_delete_and_a_create_at_one_lsn(wh):
    """UPDATE customers SET customer_id = 2 WHERE customer_id = 1: Debezium sends a delete of 1 and
    a create of 2 with the same LSN; both apply."""
    src = Source()
    land(wh, [src.change("customers", "c", customer(1, city="A"), T1)])
    delete = src.delete("customers", 1, T2)
    create = src.change("customers", "c", customer(2, city="A"), T2, txid=delete["__txid"])
    create["__lsn"] = delete["__lsn"]
    land(wh, [delete, create])
    assert [(r["version"], r["is_current"], r["valid_to"]) for r in versions(wh, "customer", 1)] == [(1, False, T2)]
    assert [(r["version"], r["is_current"]) for r in versions(wh, "customer", 2)] == [(1, True)]
    check_version_chains(wh)


def test_delete_arriving_before_the_create_ends_the_same(wh, wh2):
    src = Source()
    events = [src.change("customers", "c", customer(1), T1), src.change("customers", "u", customer(1, city="X"), T2),
              src.delete("customers", 1, T3), src.change("customers", "c", customer(1, city="Y"), T4)]
    land_each(wh, events)
    land_each(wh2, [events[2], events[3], events[0], events[1]])
    assert dw_snapshot(wh) == dw_snapshot(wh2)
    check_version_chains(wh2)
