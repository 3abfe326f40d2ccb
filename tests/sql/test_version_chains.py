"""Promise 1: version chains never overlap, leave no gap (but a delete), count 1, 2, 3…, and have
exactly one current row, valid to 9999-12-31, while the key exists in the source."""
from datetime import datetime

import pytest

from tests.sql.changes import Source, customer, land, product
from tests.sql.warehouse import BEGINNING, END_OF_TIME, check_version_chains, versions


def test_address_change_closes_one_version_and_opens_the_next(wh, land_all):
    """Proposal scenario 1: a customer moves; the old version ends where the new one starts."""
    src = Source()
    land_all(wh, [
        src.change("customers", "c", customer(1, address="1 Main St", city="London"), datetime(2025, 1, 10, 9)),
        src.change("customers", "u", customer(1, address="9 Rue Neuve", city="Paris"), datetime(2025, 6, 1, 12)),
    ])
    v1, v2 = versions(wh, "customer", 1)
    assert (v1["version"], v1["address"], v1["city"], v1["valid_from"], v1["valid_to"], v1["is_current"]) == \
        (1, "1 Main St", "London", BEGINNING, datetime(2025, 6, 1, 12), False)
    assert (v2["version"], v2["address"], v2["city"], v2["valid_from"], v2["valid_to"], v2["is_current"]) == \
        (2, "9 Rue Neuve", "Paris", datetime(2025, 6, 1, 12), END_OF_TIME, True)
    assert v1["customer_key"] != v2["customer_key"]
    assert check_version_chains(wh) == 1


def test_successive_changes_number_versions_contiguously(wh, land_all):
    src = Source()
    times = [datetime(2025, 1, 1), datetime(2025, 2, 1), datetime(2025, 3, 1), datetime(2025, 4, 1)]
    land_all(wh, [src.change("products", "c" if i == 0 else "u", product(7, price=100 + 10 * i), at)
                  for i, at in enumerate(times)])
    rows = versions(wh, "product", 7)
    assert [(r["version"], r["price"]) for r in rows] == [(1, 100), (2, 110), (3, 120), (4, 130)]
    assert [r["valid_to"] for r in rows[:-1]] == [r["valid_from"] for r in rows[1:]] == times[1:]
    assert [r["is_current"] for r in rows] == [False, False, False, True]
    check_version_chains(wh)


def test_many_keys_in_one_batch_each_get_one_current_row(wh):
    src = Source()
    at = datetime(2025, 5, 5)
    land(wh, [src.change("customers", "r", customer(i, city=f"City {i}"), at) for i in range(1, 21)])
    land(wh, [src.change("customers", "u", customer(i, city=f"New City {i}"), datetime(2025, 5, 6))
              for i in range(1, 21, 2)])
    assert wh.execute("SELECT count(*) FROM dw.dim_customer WHERE is_current AND customer_id > 0").fetchone()[0] == 20
    assert wh.execute("SELECT count(*) FROM dw.dim_customer WHERE customer_id > 0").fetchone()[0] == 30
    assert check_version_chains(wh) == 20


def test_unknown_members_exist_and_stay_put(wh):
    assert wh.execute("SELECT customer_id, version, valid_from, valid_to, is_current FROM dw.dim_customer "
                      "WHERE customer_key = -1").fetchone() == (-1, 1, BEGINNING, END_OF_TIME, True)
    assert wh.execute("SELECT product_id, is_current FROM dw.dim_product WHERE product_key = -1").fetchone() == (-1, True)
    src = Source()
    land(wh, [src.change("customers", "c", customer(1), datetime(2025, 1, 1))])
    assert wh.execute("SELECT count(*) FROM dw.dim_customer WHERE customer_key = -1").fetchone()[0] == 1


@pytest.mark.parametrize("corruption", [
    "UPDATE dw.dim_customer SET valid_to = valid_to + interval '1 day' WHERE customer_id = 1 AND version = 1",
    "UPDATE dw.dim_customer SET valid_to = valid_to - interval '1 day' WHERE customer_id = 1 AND version = 1",
    "UPDATE dw.dim_customer SET is_current = true WHERE customer_id = 1 AND version = 1",
    "UPDATE dw.dim_customer SET version = 3 WHERE customer_id = 1 AND version = 2",
    "UPDATE dw.dim_customer SET valid_from = '2000-01-01' WHERE customer_id = 1 AND version = 1",
    "DELETE FROM dw.dim_customer WHERE customer_id = 1 AND version = 2",
])
def test_chain_check_catches_a_broken_chain(wh, corruption):
    """The shared assertion can fail: each corruption of a good chain is reported."""
    src = Source()
    land(wh, [src.change("customers", "c", customer(1, city="A"), datetime(2025, 1, 1))])
    land(wh, [src.change("customers", "u", customer(1, city="B"), datetime(2025, 2, 1))])
    check_version_chains(wh)
    with wh.transaction():
        wh.execute("SET CONSTRAINTS ALL DEFERRED")
        wh.execute("ALTER TABLE dw.dim_customer DROP CONSTRAINT dim_customer_no_overlap")
        wh.execute(corruption)
    with pytest.raises(AssertionError):
        check_version_chains(wh)
