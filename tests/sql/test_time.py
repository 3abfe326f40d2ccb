"""Promise 2: a version opened by a change starts at that change's commit time, in the source's
time zone (setting source_timezone, default UTC); the first version is valid from 1900-01-01."""
from datetime import datetime

from tests.sql.changes import Source, customer, land, land_each, order, order_item, product
from tests.sql.warehouse import BEGINNING, check_version_chains, fact, set_source_timezone, versions


def test_version_starts_at_commit_time_to_the_microsecond(wh):
    src = Source()
    land(wh, [src.change("products", "c", product(1, price=10), datetime(2025, 1, 1))])
    changed_at = datetime(2025, 3, 4, 5, 6, 7, 123457)
    land(wh, [src.change("products", "u", product(1, price=11), changed_at)])
    v1, v2 = versions(wh, "product", 1)
    assert v1["valid_to"] == v2["valid_from"] == changed_at


def test_first_version_valid_from_the_beginning_of_time(wh):
    """An order placed before the customer was first captured still resolves to that customer."""
    src = Source()
    land(wh, [src.change("customers", "r", customer(1), datetime(2025, 6, 1))])
    land(wh, [src.change("products", "r", product(2), datetime(2025, 6, 1))])
    land(wh, [src.change("orders", "r", order(10, 1, datetime(2019, 5, 5)), datetime(2025, 6, 1))])
    land(wh, [src.change("order_items", "r", order_item(100, 10, 2), datetime(2025, 6, 1))])
    assert versions(wh, "customer", 1)[0]["valid_from"] == BEGINNING
    f = fact(wh, 100)
    assert (f["c_customer_id"], f["c_version"], f["p_product_id"], f["p_version"], f["date_key"]) == (1, 1, 2, 1, 20190505)


def test_default_source_timezone_is_utc(wh):
    assert wh.execute("SELECT value FROM ops.settings WHERE name = 'source_timezone'").fetchone() == ("UTC",)
    src = Source()
    land(wh, [src.change("customers", "c", customer(1, city="A"), datetime(2025, 1, 1))])
    land(wh, [src.change("customers", "u", customer(1, city="B"), datetime(2025, 1, 15, 15, 0))])
    assert versions(wh, "customer", 1)[1]["valid_from"] == datetime(2025, 1, 15, 15, 0)


def test_commit_times_are_converted_to_the_source_timezone(wh):
    """Commit times are UTC instants; with source_timezone America/New_York a change committed at
    15:00 UTC opens its version at 10:00 (winter, EST) or 11:00 (summer, EDT) local time, and an
    order placed at 10:30 local time in winter is after the change, at 10:30 in summer before it."""
    set_source_timezone(wh, "America/New_York")
    src = Source()
    land(wh, [src.change("products", "c", product(1, price=100), datetime(2025, 1, 1))])
    land(wh, [src.change("products", "u", product(1, price=120), datetime(2025, 1, 15, 15, 0))])   # UTC
    land(wh, [src.change("products", "u", product(1, price=130), datetime(2025, 7, 15, 15, 0))])   # UTC
    land(wh, [src.change("customers", "c", customer(5), datetime(2025, 1, 1))])
    rows = versions(wh, "product", 1)
    assert [r["valid_from"] for r in rows] == [BEGINNING, datetime(2025, 1, 15, 10, 0), datetime(2025, 7, 15, 11, 0)]
    land(wh, [src.change("orders", "c", order(1, 5, datetime(2025, 1, 15, 10, 30)), datetime(2025, 1, 15, 15, 31)),
              src.change("orders", "c", order(2, 5, datetime(2025, 7, 15, 10, 30)), datetime(2025, 7, 15, 14, 31))])
    land(wh, [src.change("order_items", "c", order_item(11, 1, 1), datetime(2025, 1, 15, 15, 31)),
              src.change("order_items", "c", order_item(21, 2, 1), datetime(2025, 7, 15, 14, 31))])
    assert fact(wh, 11)["p_price"] == 120
    assert fact(wh, 21)["p_price"] == 120
    check_version_chains(wh)


def test_commit_time_in_utc_would_misplace_the_same_order(wh):
    """The contrast case for the test above: with the default UTC the 10:30 winter order is before
    the 15:00 change, so the setting is what decides."""
    src = Source()
    land_each(wh, [src.change("products", "c", product(1, price=100), datetime(2025, 1, 1)),
                   src.change("products", "u", product(1, price=120), datetime(2025, 1, 15, 15, 0))])
    land(wh, [src.change("orders", "c", order(1, 5, datetime(2025, 1, 15, 10, 30)), datetime(2025, 1, 15, 15, 31))])
    land(wh, [src.change("order_items", "c", order_item(11, 1, 1), datetime(2025, 1, 15, 15, 31))])
    assert fact(wh, 11)["p_price"] == 100


def test_earliest_commit_time_the_checks_accept_applies_in_any_source_timezone(wh):
    """landing.event_problem accepts commit times from 1900-01-02 00:00 UTC: converted to a zone west
    of UTC that is 1900-01-01 locally, still inside the first version's validity. A change there must
    apply, not fail inside the engine; a day earlier is refused by the check with a reason."""
    set_source_timezone(wh, "America/New_York")
    src = Source()
    earliest = -2_208_902_400_000_000                   # 1900-01-02 00:00 UTC, the check's lower bound
    create = {**src.change("customers", "c", customer(1, city="A"), datetime(2025, 1, 1)), "__source_ts_us": earliest}
    update = {**src.change("customers", "u", customer(1, city="B"), datetime(2025, 1, 1)),
              "__source_ts_us": earliest + 3_600_000_000}
    land_each(wh, [create, update])
    assert wh.execute("SELECT reason FROM ops.quarantine").fetchall() == []
    assert wh.execute("SELECT city, valid_from FROM dw.dim_customer WHERE customer_id = 1 ORDER BY version").fetchall() == [
        ("A", datetime(1900, 1, 1)), ("B", datetime(1900, 1, 1, 20))]
    check_version_chains(wh)
    too_early = {**src.change("customers", "u", customer(1, city="C"), datetime(2025, 1, 1)),
                 "__source_ts_us": earliest - 1}
    land_each(wh, [too_early])
    assert [r for (r,) in wh.execute("SELECT reason FROM ops.quarantine")] == [
        f"source commit time out of range: {earliest - 1} us"]


def test_two_changes_in_the_repeated_hour_of_a_fall_back_stay_two_versions(wh, land_all):
    """On 2025-11-02 New York's clocks go back from 02:00 EDT to 01:00 EST. A change at 01:30 EDT
    (05:30 UTC) and a later one at 01:10 EST (06:10 UTC) are two transactions: both open a version,
    in LSN order. The second one's local time is earlier, so it starts one microsecond after the
    first (the rule of dw.dimension_chain: local commit times never go backwards along the LSN)."""
    set_source_timezone(wh, "America/New_York")
    src = Source()
    land_all(wh, [src.change("products", "c", product(1, price=100), datetime(2025, 10, 1)),
                  src.change("products", "u", product(1, price=110), datetime(2025, 11, 2, 5, 30)),
                  src.change("products", "u", product(1, price=120), datetime(2025, 11, 2, 6, 10)),
                  src.change("products", "u", product(1, price=130), datetime(2025, 11, 2, 7, 0))])
    rows = versions(wh, "product", 1)
    assert [(r["price"], r["valid_from"]) for r in rows] == [
        (100, BEGINNING), (110, datetime(2025, 11, 2, 1, 30)), (120, datetime(2025, 11, 2, 1, 30, 0, 1)),
        (130, datetime(2025, 11, 2, 2, 0))]
    check_version_chains(wh)
