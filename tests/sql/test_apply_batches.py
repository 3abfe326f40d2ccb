"""The per-batch time series (ops.apply_batches, migration 0005): one row per applied batch with its
events, quarantined events and source commit range; bounded by ops.prune_apply_batches; readable by
the analyst role, which the dashboard uses."""
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from tests.sql.changes import Source, customer, land, product


def test_each_applied_batch_leaves_one_row_with_its_counts_and_source_commit_range(wh):
    src = Source()
    first, last = datetime(2025, 3, 1, 10, 0), datetime(2025, 3, 1, 10, 5)
    land(wh, [src.change("customers", "r", customer(1), first), src.change("customers", "u", customer(1, city="Oslo"), last)])
    land(wh, [src.change("products", "r", product(10), first), src.change("products", "r", product(None), first)])
    rows = wh.execute("""
        SELECT landing_table, events, quarantined, source_first, source_last, applied_at > source_last
        FROM ops.apply_batches ORDER BY batch_id""").fetchall()
    utc = timezone.utc
    assert rows == [
        ("customers", 2, 0, first.replace(tzinfo=utc), last.replace(tzinfo=utc), True),
        ("products", 2, 1, first.replace(tzinfo=utc), first.replace(tzinfo=utc), True),
    ]
    # the series agrees with the running totals of ops.apply_stats
    assert wh.execute("""
        SELECT bool_and(s.events = (SELECT coalesce(sum(b.events), 0) FROM ops.apply_batches b WHERE b.landing_table = s.landing_table))
        FROM ops.apply_stats s""").fetchone()[0] is True


def test_pruning_keeps_the_last_48_hours(wh):
    now = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    for age in (timedelta(hours=49), timedelta(hours=47), timedelta(minutes=1)):
        wh.execute("INSERT INTO ops.apply_batches (applied_at, landing_table, events, quarantined) VALUES (%s, 'orders', 1, 0)",
                   (now - age,))
    assert wh.execute("SELECT ops.prune_apply_batches(%s)", (now,)).fetchone()[0] == 1
    kept = [r[0] for r in wh.execute("SELECT applied_at FROM ops.apply_batches ORDER BY 1")]
    assert kept == [now - timedelta(hours=47), now - timedelta(minutes=1)]


def test_every_thousandth_batch_prunes(wh):
    wh.execute("INSERT INTO ops.apply_batches (applied_at, landing_table, events, quarantined)"
               " VALUES (clock_timestamp() - interval '3 days', 'orders', 1, 0)")
    # move the batch counter to just before a multiple of 1000: the next applied batch prunes
    wh.execute("SELECT setval(pg_get_serial_sequence('ops.apply_batches', 'batch_id'), 999)")
    land(wh, [Source().change("customers", "r", customer(1), datetime(2025, 1, 1))])
    assert wh.execute("SELECT count(*), min(batch_id) FROM ops.apply_batches").fetchone() == (1, 1000)


def test_the_analyst_reads_the_series_and_cannot_write_it(wh, warehouse_dsn, analyst_password):
    with psycopg.connect(warehouse_dsn, user="wh_analyst", password=analyst_password, autocommit=True) as analyst:
        assert analyst.execute("SELECT count(*) FROM ops.apply_batches").fetchone()[0] == 0
        assert analyst.execute("SELECT count(*) FROM ops.quality_results").fetchone()[0] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            analyst.execute("INSERT INTO ops.apply_batches (applied_at, landing_table, events, quarantined) VALUES (now(), 'x', 1, 0)")
