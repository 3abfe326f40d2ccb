"""How landed INSERTs become engine batches: the JDBC driver splits each batch the sink flushes into
INSERTs of at most 128 rows in one transaction, and the engine applies all of a transaction's rows
of one landing table once, at commit (landing.apply_landed_events records them,
ops.apply_landed_at_commit applies them)."""
from datetime import datetime

import psycopg

from tests.sql.changes import Source, assert_fact_keys_resolve, customer, land, order, order_item, product
from tests.sql.warehouse import check_version_chains, fact

T1 = datetime(2025, 1, 1)


def _stats(conn, table):
    return conn.execute("SELECT batches, events FROM ops.apply_stats WHERE landing_table = %s", (table,)).fetchone()


def _customers(conn):
    return conn.execute("SELECT customer_id, city FROM dw.dim_customer WHERE customer_id > 0 ORDER BY 1").fetchall()


def test_the_inserts_of_one_transaction_are_applied_once_at_commit(warehouse_dsn, wh):
    src = Source()
    before = _stats(wh, "customers")
    with psycopg.connect(warehouse_dsn) as sink:
        for k in (1, 2, 3):                                  # three INSERT statements, one transaction
            land(sink, [src.change("customers", "c", customer(k, city=f"City {k}"), T1)])
        assert _customers(sink) == []                        # nothing applied before the commit…
        assert _customers(wh) == []
        assert sink.execute("SELECT landing_table, sum(cardinality(landing_ids)), count(*) FILTER (WHERE opens_batch) "
                            "FROM ops.landed_in_transaction GROUP BY 1").fetchall() == [("customers", 3, 1)]
        sink.commit()
    assert _customers(wh) == [(1, "City 1"), (2, "City 2"), (3, "City 3")]   # …all of it at the commit
    assert _stats(wh, "customers") == (before[0] + 1, before[1] + 3)         # as one batch
    assert wh.execute("SELECT count(*) FROM ops.landed_in_transaction").fetchone()[0] == 0
    check_version_chains(wh)


def test_a_rolled_back_transaction_applies_nothing_and_leaves_nothing_pending(warehouse_dsn, wh):
    src = Source()
    before = _stats(wh, "customers")
    with psycopg.connect(warehouse_dsn) as sink:
        land(sink, [src.change("customers", "c", customer(1), T1)])
        sink.rollback()
    assert _customers(wh) == []
    assert _stats(wh, "customers") == before
    assert wh.execute("SELECT count(*) FROM ops.landed_in_transaction").fetchone()[0] == 0


def test_each_landing_table_of_a_transaction_is_applied_as_its_own_batch(warehouse_dsn, wh):
    """A transaction that lands an order's lines before the order itself: both applied at commit, in
    that order, and the facts end up resolved to the order's customer and date."""
    src = Source()
    land(wh, [src.change("customers", "c", customer(7), T1)])
    land(wh, [src.change("products", "c", product(8, price=100), T1)])
    items, orders = _stats(wh, "order_items"), _stats(wh, "orders")
    with psycopg.connect(warehouse_dsn) as sink:
        land(sink, [src.change("order_items", "c", order_item(k, 1, 8), T1) for k in (1, 2)])
        land(sink, [src.change("order_items", "c", order_item(3, 1, 8), T1)])
        land(sink, [src.change("orders", "c", order(1, 7, datetime(2025, 3, 1)), T1)])
        sink.commit()
    assert_fact_keys_resolve(wh)
    assert _stats(wh, "order_items") == (items[0] + 1, items[1] + 3)
    assert _stats(wh, "orders") == (orders[0] + 1, orders[1] + 1)
    for line in (1, 2, 3):
        got = fact(wh, line)
        assert (got["c_customer_id"], got["p_product_id"], got["date_key"], got["c_is_inferred"]) == (7, 8, 20250301, False)



def test_a_rolled_back_savepoint_with_the_first_insert_leaves_the_rest_to_apply_at_commit(warehouse_dsn, wh):
    """The transaction's first INSERT into a table queues the apply; if a savepoint around it rolls
    back, the next INSERT queues it instead."""
    src = Source()
    with psycopg.connect(warehouse_dsn) as sink:
        sink.execute("SAVEPOINT first_insert")
        land(sink, [src.change("customers", "c", customer(1, city="Rolled back"), T1)])
        sink.execute("ROLLBACK TO SAVEPOINT first_insert")
        land(sink, [src.change("customers", "c", customer(2, city="Kept"), T1)])
        sink.commit()
    assert _customers(wh) == [(2, "Kept")]
    assert wh.execute("SELECT count(*) FROM ops.landed_in_transaction").fetchone()[0] == 0
