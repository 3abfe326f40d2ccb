"""Promise 3: only a change of a Type 2 column opens a version. Untracked columns (updated_at),
duplicates and snapshot reads equal to the current state open nothing; Type 1 columns are
overwritten on every version; the policy lives in ops.scd_policy. Also: several changes of one key
in one transaction count as their last one, and the TOAST placeholder carries the previous value."""
from datetime import datetime

from tests.sql.changes import Source, customer, land, land_each, product
from tests.sql.warehouse import TOAST, check_version_chains, dw_snapshot, versions

T1, T2, T3, T4 = (datetime(2025, m, 1) for m in (1, 2, 3, 4))


def test_update_touching_only_updated_at_opens_no_version(wh, land_all):
    src = Source()
    land_all(wh, [src.change("customers", "c", customer(1, updated_at=T1), T1),
                  src.change("customers", "u", customer(1, updated_at=T2), T2),
                  src.change("products", "c", product(2, updated_at=T1), T1),
                  src.change("products", "u", product(2, updated_at=T3), T3)])
    assert [(r["version"], r["is_current"]) for r in versions(wh, "customer", 1)] == [(1, True)]
    assert [(r["version"], r["is_current"]) for r in versions(wh, "product", 2)] == [(1, True)]
    check_version_chains(wh)


def test_same_event_twice_changes_nothing(wh, land_all):
    src = Source()
    create = src.change("customers", "c", customer(1, city="A"), T1)
    update = src.change("customers", "u", customer(1, city="B"), T2)
    land_all(wh, [create, update])
    before = dw_snapshot(wh)
    # the source re-emits (new Kafka offset, same LSN and data) and the sink re-inserts
    land_all(wh, [dict(update, __offset=9001), dict(create, __offset=9000), update])
    assert dw_snapshot(wh) == before
    assert [r["city"] for r in versions(wh, "customer", 1)] == ["A", "B"]


def test_same_batch_inserted_again_changes_nothing(wh):
    src = Source()
    batch = [src.change("products", "c", product(1, price=100), T1),
             src.change("products", "u", product(1, price=120), T2),
             src.change("products", "c", product(2, price=5), T2)]
    land(wh, batch)
    before = dw_snapshot(wh)
    land(wh, batch)
    assert dw_snapshot(wh) == before
    assert wh.execute("SELECT count(*) FROM landing.products").fetchone()[0] == 6   # landing keeps both copies


def test_snapshot_read_equal_to_current_state_opens_nothing(wh):
    src = Source()
    land(wh, [src.change("customers", "c", customer(1, city="A"), T1)])
    land(wh, [src.change("customers", "u", customer(1, city="B"), T2)])
    before = dw_snapshot(wh)
    # a new snapshot (connector reset) reads the row as it is
    land(wh, [src.change("customers", "r", customer(1, city="B"), T3)])
    assert dw_snapshot(wh) == before


def test_snapshot_read_that_differs_is_a_real_change(wh):
    """A change missed by the stream and caught by a new snapshot opens a version at the read."""
    src = Source()
    land(wh, [src.change("customers", "c", customer(1, city="A"), T1)])
    land(wh, [src.change("customers", "r", customer(1, city="C"), T3)])
    assert [(r["city"], r["valid_from"]) for r in versions(wh, "customer", 1)][1] == ("C", T3)


def test_change_back_to_an_earlier_value_is_a_real_change(wh):
    src = Source()
    land_each(wh, [src.change("customers", "c", customer(1, city="A"), T1),
                   src.change("customers", "u", customer(1, city="B"), T2),
                   src.change("customers", "u", customer(1, city="A"), T3)])
    assert [r["city"] for r in versions(wh, "customer", 1)] == ["A", "B", "A"]


def test_type1_columns_are_overwritten_on_every_version(wh):
    """customers.created_at and products.description are Type 1: a change opens nothing and every
    version of the key carries the latest value."""
    src = Source()
    land_each(wh, [src.change("customers", "c", customer(1, city="A", created_at=datetime(2020, 1, 1)), T1),
                   src.change("customers", "u", customer(1, city="B", created_at=datetime(2020, 1, 1)), T2),
                   src.change("customers", "u", customer(1, city="B", created_at=datetime(2019, 9, 9)), T3),
                   src.change("products", "c", product(2, price=100, description="old text"), T1),
                   src.change("products", "u", product(2, price=120, description="old text"), T2),
                   src.change("products", "u", product(2, price=120, description="new text"), T3)])
    assert [(r["city"], r["created_at"]) for r in versions(wh, "customer", 1)] == \
        [("A", datetime(2019, 9, 9)), ("B", datetime(2019, 9, 9))]
    assert [(r["price"], r["description"]) for r in versions(wh, "product", 2)] == [(100, "new text"), (120, "new text")]
    check_version_chains(wh)


def test_policy_is_declared_in_ops_scd_policy(wh):
    """Turning phone into a Type 1 column in the one policy table changes the engine's behaviour."""
    wh.execute("UPDATE ops.scd_policy SET scd_type = 1 WHERE dimension = 'customer' AND column_name = 'phone'")
    src = Source()
    land_each(wh, [src.change("customers", "c", customer(1, phone="111", city="A"), T1),
                   src.change("customers", "u", customer(1, phone="222", city="A"), T2),
                   src.change("customers", "u", customer(1, phone="222", city="B"), T3)])
    assert [(r["version"], r["phone"], r["city"]) for r in versions(wh, "customer", 1)] == [(1, "222", "A"), (2, "222", "B")]


def test_margin_percentage_is_derived_per_version(wh):
    src = Source()
    land_each(wh, [src.change("products", "c", product(1, price=100, cost=60), T1),
                   src.change("products", "u", product(1, price=120, cost=60), T2),
                   src.change("products", "u", product(1, price=0, cost=60), T3)])
    assert [r["margin_percentage"] for r in versions(wh, "product", 1)] == [40, 50, None]


def test_two_updates_of_one_key_in_one_transaction_give_one_version(wh, land_all):
    """Same txid and commit time, two LSNs: the transaction's last state wins, one version."""
    src = Source()
    tx = src.transaction()
    land_all(wh, [src.change("customers", "c", customer(1, city="A", address="a1"), T1),
                  src.change("customers", "u", customer(1, city="B", address="a1"), T2, txid=tx),
                  src.change("customers", "u", customer(1, city="B", address="b2"), T2, txid=tx)])
    rows = versions(wh, "customer", 1)
    assert [(r["version"], r["city"], r["address"], r["valid_from"]) for r in rows][1:] == [(2, "B", "b2", T2)]
    assert len(rows) == 2
    check_version_chains(wh)


def test_transaction_that_ends_where_it_began_opens_nothing_even_across_batches(wh):
    """A→B→A inside one transaction is no change. When its first update lands alone a version opens
    (all the warehouse knows); the second update's arrival removes it again."""
    src = Source()
    tx = src.transaction()
    create = src.change("products", "c", product(1, price=100), T1)
    up = src.change("products", "u", product(1, price=150), T2, txid=tx)
    back = src.change("products", "u", product(1, price=100), T2, txid=tx)
    land(wh, [create])
    land(wh, [up])
    assert len(versions(wh, "product", 1)) == 2
    land(wh, [back])
    assert [(r["version"], r["price"], r["is_current"]) for r in versions(wh, "product", 1)] == [(1, 100, True)]
    check_version_chains(wh)


def test_toast_placeholder_in_product_description_keeps_the_previous_value(wh, land_all):
    src = Source()
    land_all(wh, [src.change("products", "c", product(1, price=100, description="long text " * 500), T1),
                  src.change("products", "u", product(1, price=120, description=TOAST), T2)])
    rows = versions(wh, "product", 1)
    assert [r["price"] for r in rows] == [100, 120]
    assert {r["description"] for r in rows} == {"long text " * 500}


def test_toast_placeholder_in_a_customer_column_carries_forward_and_opens_nothing(wh, land_all):
    src = Source()
    land_all(wh, [src.change("customers", "c", customer(1, address="a long address", city="A"), T1),
                  src.change("customers", "u", customer(1, address=TOAST, city="A", updated_at=T2), T2),
                  src.change("customers", "u", customer(1, address=TOAST, city="B"), T3)])
    rows = versions(wh, "customer", 1)
    assert [(r["address"], r["city"]) for r in rows] == [("a long address", "A"), ("a long address", "B")]
    assert TOAST not in str(rows)
    check_version_chains(wh)


def test_toast_placeholder_in_a_short_column_is_not_too_long(wh, land_all):
    """The placeholder (28 characters) in phone varchar(20) means "unchanged", not a value: no
    quarantine, the previous phone stays, no version opens."""
    src = Source()
    land_all(wh, [src.change("customers", "c", customer(1, phone="555-0100", city="A"), T1),
                  src.change("customers", "u", customer(1, phone=TOAST, city="A", updated_at=T2), T2),
                  src.change("customers", "u", customer(1, phone=TOAST, city="B"), T3)])
    assert wh.execute("SELECT reason FROM ops.quarantine").fetchall() == []
    assert [(r["phone"], r["city"]) for r in versions(wh, "customer", 1)] == [("555-0100", "A"), ("555-0100", "B")]
    check_version_chains(wh)


def test_toast_placeholder_on_the_first_event_of_a_key_opens_no_version_when_the_value_arrives(wh, land_all):
    """The first landed event of a key (an update, its create was before capture) holds the
    placeholder: the value is unknown, not NULL. When an event carries it later, no version opens
    for it: the first version holds the value from then on. A real change after that still opens one."""
    src = Source()
    land_all(wh, [src.change("customers", "u", customer(1, address=TOAST, city="A"), T1),
                  src.change("customers", "u", customer(1, address="7 Long Road", city="A", updated_at=T2), T2),
                  src.change("customers", "u", customer(1, address="9 New Road", city="A"), T3),
                  src.change("customers", "u", customer(2, phone=TOAST, city="A"), T1),
                  src.change("customers", "u", customer(2, phone="555-0199", city="A"), T2)])
    assert [r["address"] for r in versions(wh, "customer", 1)] == ["7 Long Road", "9 New Road"]
    assert [(r["phone"], r["city"]) for r in versions(wh, "customer", 2)] == [("555-0199", "A")]
    assert TOAST not in str(versions(wh, "customer", 1))
    check_version_chains(wh)
