"""Promise 10: the source changes shape. Landing keeps what the source sent (an integer measure of
1.5 is quarantined, not rounded); a column adopted into a dimension gets its history from landing;
a dropped column never rewrites history; a value the dimension cannot hold is held back until a
widening, while the key's later changes apply; a TRUNCATE closes keys and removes facts; a person
can dismiss a quarantined event; the sink's role still cannot touch the engine."""
from datetime import datetime
from decimal import Decimal

import psycopg
import pytest

from tests.conftest import ROOT
from tests.sql.changes import Source, customer, land, order, order_item, product
from tests.sql.warehouse import END_OF_TIME, check_version_chains, fact, quarantined, versions

VIEWS = ROOT / "plpgsql" / "dw" / "current_attribute_views.sql"
T1, T2, T3, T4, T5 = (datetime(2025, m, 1) for m in (1, 2, 3, 4, 5))


def test_fractional_quantity_is_quarantined_with_its_reason_not_rounded(wh):
    src = Source()
    land(wh, [src.change("orders", "c", order(1, 1, T2), T2)])
    land(wh, [src.change("order_items", "c", order_item(11, 1, 5, quantity=Decimal("1.5"), unit_price=10), T2),
              src.change("order_items", "c", order_item(12, 1, 5, quantity=Decimal("2.00"), unit_price=10), T2)])
    assert wh.execute("SELECT quantity FROM landing.order_items WHERE order_item_id = 11").fetchone()[0] == 1.5
    (q,) = quarantined(wh)
    assert q["event"]["order_item_id"] == 11 and "quantity 1.5 is not a whole number" in q["reason"]
    assert fact(wh, 11) is None
    assert fact(wh, 12)["quantity"] == 2


def _add_landing_column(wh, table, column, type_):
    """What evolve_landing does when the source adds a column (tests/e2e covers the real thing)."""
    wh.execute(f"SET ROLE wh_owner; ALTER TABLE landing.{table} ADD COLUMN {column} {type_}; RESET ROLE")
    wh.execute("INSERT INTO ops.source_columns (landing_table, column_name, source_type, first_seen_at)"
               " VALUES (%s, %s, %s, now())", (table, column, type_))


@pytest.mark.parametrize("scd_type", [2, 1])
def test_adopting_a_column_recomputes_its_history_from_landing_and_repoints_facts(wh, scd_type):
    src = Source()
    land(wh, [src.change("customers", "c", customer(1, city="Paris"), T1)])
    _add_landing_column(wh, "customers", "loyalty_tier", "text")
    land(wh, [src.change("customers", "u", customer(1, city="Paris", loyalty_tier="basic"), T2)])
    land(wh, [src.change("customers", "u", customer(1, city="Paris", loyalty_tier="gold"), T4)])
    land(wh, [src.change("orders", "c", order(1, 1, T3), T3), src.change("orders", "c", order(2, 1, T5), T5)])
    land(wh, [src.change("order_items", "c", order_item(11, 1, 7), T3), src.change("order_items", "c", order_item(21, 2, 7), T5)])
    # not adopted: the tier opens no version and is not in the dimension
    assert len(versions(wh, "customer", 1)) == 1 and "loyalty_tier" not in versions(wh, "customer", 1)[0]

    keys, before, after = wh.execute("SELECT * FROM ops.adopt_column('customer', 'loyalty_tier', %s::smallint)",
                                     (scd_type,)).fetchone()
    assert keys == 1
    rows = versions(wh, "customer", 1)
    if scd_type == 2:
        assert [(r["version"], r["valid_from"], r["loyalty_tier"]) for r in rows] == [
            (1, datetime(1900, 1, 1), None), (2, T2, "basic"), (3, T4, "gold")]
        assert (fact(wh, 11)["c_version"], fact(wh, 21)["c_version"]) == (2, 3)   # facts follow the recomputed history
    else:
        assert [(r["version"], r["loyalty_tier"]) for r in rows] == [(1, "gold")]
    assert wh.execute("SELECT scd_type FROM ops.scd_policy WHERE column_name = 'loyalty_tier'").fetchone() == (scd_type,)
    # adopting again is a no-op; a column landing does not have is a clear error
    assert wh.execute("SELECT keys_recomputed FROM ops.adopt_column('customer', 'loyalty_tier', %s::smallint)",
                      (scd_type,)).fetchone() == (0,)
    with pytest.raises(psycopg.DatabaseError, match="has no column"):
        wh.execute("SELECT * FROM ops.adopt_column('customer', 'nope', 2::smallint)")
    check_version_chains(wh)


def test_dropped_column_mid_history_rewrites_nothing_whenever_the_drop_is_noticed(wh, wh2):
    """Events after a drop carry no phone (the sink writes NULL). Versions before the drop stay as
    they were and the drop opens none, whether it is recorded before the events land (wh2) or after
    they were applied with their NULLs (wh: the recompute corrects them)."""
    src = Source()
    before_drop = [src.change("customers", "c", customer(1, phone="555-1", city="Paris"), T1),
                   src.change("customers", "u", customer(1, phone="555-2", city="Paris"), T2)]
    after_drop = [src.change("customers", "u", customer(1, phone=None, city="Paris", updated_at=T3), T3),
                  src.change("customers", "u", customer(1, phone=None, city="Lyon"), T4)]
    expected = [(1, datetime(1900, 1, 1), T2, "555-1", "Paris"), (2, T2, T4, "555-2", "Paris"), (3, T4, END_OF_TIME, "555-2", "Lyon")]

    for e in before_drop + after_drop:
        land(wh, [e])
    assert versions(wh, "customer", 1)[-1]["phone"] is None          # what happened before promise 10
    assert wh.execute("SELECT ops.column_stopped('customers', 'phone')").fetchone() == (after_drop[0]["__lsn"] - 63,)
    got = [(r["version"], r["valid_from"], r["valid_to"], r["phone"], r["city"]) for r in versions(wh, "customer", 1)]
    assert got == expected

    for e in before_drop:
        land(wh2, [e])
    wh2.execute("SELECT ops.column_stopped('customers', 'phone')")
    for e in after_drop:
        land(wh2, [e])
    assert [(r["version"], r["valid_from"], r["valid_to"], r["phone"], r["city"]) for r in versions(wh2, "customer", 1)] == expected
    assert wh2.execute("SELECT stopped_at IS NOT NULL FROM ops.source_columns WHERE column_name = 'phone'").fetchone() == (True,)
    check_version_chains(wh)
    check_version_chains(wh2)


def test_unfit_value_is_held_later_changes_apply_and_widening_then_retry_applies_it(wh):
    src = Source()
    long_name = "N" * 300
    land(wh, [src.change("products", "c", product(1, product_name="Lamp", price=100), T1)])
    land(wh, [src.change("products", "u", product(1, product_name=long_name, price=100), T2)])
    land(wh, [src.change("products", "u", product(1, product_name=long_name, price=120), T3)])
    rows = versions(wh, "product", 1)
    # the price change applied; the name the dimension cannot hold waits, the old one carried forward
    assert [(r["version"], r["product_name"], r["price"]) for r in rows] == [(1, "Lamp", 100), (2, "Lamp", 120)]
    held = quarantined(wh)
    assert [q["held_columns"] for q in held] == [["product_name"], ["product_name"]]
    assert "product_name of 300 characters does not fit character varying(255)" in held[0]["reason"]

    # the widening migration of docs/operations.md; `whctl migrate` re-creates the views from plpgsql/
    wh.execute("SET ROLE wh_owner; DROP VIEW dw.product_sales, dw.product_latest;"
               " ALTER TABLE dw.dim_product ALTER COLUMN product_name TYPE varchar(500)")
    wh.execute(VIEWS.read_text())
    wh.execute("RESET ROLE")
    assert wh.execute("SELECT * FROM ops.retry_quarantine()").fetchone() == (2, 0)
    rows = versions(wh, "product", 1)
    assert [(r["version"], r["valid_from"], r["product_name"], r["price"]) for r in rows] == [
        (1, datetime(1900, 1, 1), "Lamp", 100), (2, T2, long_name, 100), (3, T3, long_name, 120)]
    assert quarantined(wh) == []
    check_version_chains(wh)


def test_dismissed_events_stay_for_audit_and_are_not_retried(wh):
    src = Source()
    land(wh, [src.change("customers", "c", customer(None), T1), src.change("customers", "x", customer(2), T1)])
    first, second = quarantined(wh)
    with pytest.raises(psycopg.DatabaseError, match="needs a reason"):
        wh.execute("SELECT ops.dismiss_quarantine(%s, ' ')", ([first["quarantine_id"]],))
    assert wh.execute("SELECT * FROM ops.dismiss_quarantine(%s, 'test data from the old app', 'ada')",
                      ([first["quarantine_id"]],)).fetchall() == [(first["quarantine_id"],)]
    assert wh.execute("SELECT * FROM ops.retry_quarantine()").fetchone() == (1, 1)    # only the other one
    rows = {q["landing_id"]: q for q in quarantined(wh)}
    assert rows[first["landing_id"]]["dismissed_reason"] == "test data from the old app"
    assert rows[first["landing_id"]]["dismissed_at"] is not None
    assert rows[second["landing_id"]]["dismissed_at"] is None


def _truncate(src, table, at):
    return src.change(table, "t", {}, at)


@pytest.mark.parametrize("table,dimension,build", [("customers", "customer", customer), ("products", "product", product)])
def test_truncate_closes_every_current_version_at_its_commit_time_and_keeps_history(wh, table, dimension, build):
    src = Source()
    land(wh, [src.change(table, "c", build(1, city="A") if table == "customers" else build(1, price=1), T1),
              src.change(table, "c", build(2), T1)])
    land(wh, [src.change(table, "u", build(1, city="B") if table == "customers" else build(1, price=2), T2)])
    land(wh, [_truncate(src, table, T3)])
    assert quarantined(wh) == []
    assert [(r["version"], r["valid_to"], r["is_current"]) for r in versions(wh, dimension, 1)] == [(1, T2, False), (2, T3, False)]
    assert [(r["version"], r["valid_to"], r["is_current"]) for r in versions(wh, dimension, 2)] == [(1, T3, False)]
    # a key inserted again after the truncate opens a new version
    land(wh, [src.change(table, "c", build(2), T4)])
    assert [(r["valid_from"], r["is_current"]) for r in versions(wh, dimension, 2)] == [(datetime(1900, 1, 1), False), (T4, True)]
    check_version_chains(wh)
    # rebuild gives the same
    assert wh.execute(f"SELECT count(*) FILTER (WHERE is_current) FROM dw.dim_{dimension} WHERE {dimension}_id > 0").fetchone() == (1,)
    wh.execute("SELECT dw.rebuild()")
    assert [(r["valid_from"], r["is_current"]) for r in versions(wh, dimension, 2)] == [(datetime(1900, 1, 1), False), (T4, True)]


def test_truncate_of_order_items_removes_their_facts_and_of_orders_keeps_them(wh):
    src = Source()
    land(wh, [src.change("orders", "c", order(1, 1, T1, status="shipped"), T1)])
    land(wh, [src.change("order_items", "c", order_item(11, 1, 5), T1), src.change("order_items", "c", order_item(12, 1, 5), T1)])
    land(wh, [_truncate(src, "orders", T2)])
    # orders: the lines' facts stay on the order's last state (decided: a fact is an order line)
    assert (fact(wh, 11)["order_status"], fact(wh, 12)["order_status"]) == ("shipped", "shipped")
    land(wh, [_truncate(src, "order_items", T3)])
    assert wh.execute("SELECT count(*) FROM dw.fact_orders").fetchone() == (0,)
    land(wh, [src.change("orders", "c", order(2, 1, T4), T4)])
    land(wh, [src.change("order_items", "c", order_item(21, 2, 5), T4)])
    assert wh.execute("SELECT order_item_id FROM dw.fact_orders").fetchall() == [(21,)]
    assert wh.execute("SELECT count(*) FROM landing.order_items").fetchone() == (4,)     # landing keeps everything
    assert quarantined(wh) == []


def test_the_sinks_role_cannot_touch_the_engine_nor_dw_after_landing_evolved(wh):
    """wh_loader may append to landing, including to a column added for the source, and nothing
    else: it cannot alter or disable the engine's triggers, nor read or write dw."""
    _add_landing_column(wh, "customers", "loyalty_tier", "text")
    wh.execute("SET ROLE wh_loader")
    try:
        wh.execute("INSERT INTO landing.customers (customer_id, loyalty_tier, __op, __lsn, __source_ts_us)"
                   " VALUES (1, 'gold', 'c', 1, 1735689600000000)")
        for statement in ("ALTER TABLE landing.customers DISABLE TRIGGER apply_landed_events",
                          "ALTER TABLE landing.customers DISABLE TRIGGER ALL",
                          "DROP TRIGGER apply_landed_events ON landing.customers",
                          "ALTER TABLE landing.customers ADD COLUMN x text",
                          "SELECT count(*) FROM dw.dim_customer",
                          "INSERT INTO dw.dim_customer (customer_id, valid_from) VALUES (9, now())",
                          "DELETE FROM dw.fact_orders",
                          "SELECT count(*) FROM landing.customers",
                          "TRUNCATE landing.customers",
                          "UPDATE ops.scd_policy SET scd_type = 1"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                wh.execute(statement)
    finally:
        wh.execute("RESET ROLE")
    assert versions(wh, "customer", 1)[0]["customer_id"] == 1


def test_a_row_of_the_sources_truncations_table_becomes_a_truncate_event_of_its_table(wh):
    """The source records a TRUNCATE in whctl.truncations (a trigger, in the truncating transaction);
    its landed row becomes the table's truncate event, at that transaction's LSN and commit time.
    Snapshot reads of that table are no truncates."""
    src = Source()
    land(wh, [src.change("customers", "c", customer(1), T1)])
    land(wh, [src.change("truncations", "r", {"id": 1, "table_name": "customers", "truncated_at": "2024-12-01"}, T2),
              src.change("truncations", "c", {"id": 2, "table_name": "customers", "truncated_at": "2025-03-01"}, T3),
              src.change("truncations", "c", {"id": 3, "table_name": "coupons", "truncated_at": "2025-03-01"}, T3)])
    assert wh.execute("SELECT __op, __source_ts_us, __topic FROM landing.customers WHERE __op = 't'").fetchall() == [
        ("t", int((T3 - datetime(1970, 1, 1)).total_seconds() * 1e6), "whctl.public.truncations")]
    assert [(r["valid_to"], r["is_current"]) for r in versions(wh, "customer", 1)] == [(T3, False)]
    check_version_chains(wh)
