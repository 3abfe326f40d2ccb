"""Per-stage latency (migration 0007, whctl.health.stage_latency): each applied batch records the
landing ids it applied, and the stages are read from each event's own times: source commit ->
Kafka append -> landed -> applied."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import psycopg
import pytest

from tests.sql.changes import Source, customer, epoch_us, land
from whctl import health


def _events(src: Source, n: int, committed: datetime, appended: datetime, first_id: int = 1) -> list[dict]:
    return [{**src.change("customers", "c", customer(first_id + i), committed), "__kafka_ts_ms": epoch_us(appended) // 1000}
            for i in range(n)]


def _now() -> datetime:
    """Now in UTC (as the source's commit times), to the millisecond (as Kafka's record times)."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def test_each_batch_records_the_landing_ids_it_applied(wh):
    src = Source()
    at = _now()
    land(wh, _events(src, 3, at, at))
    land(wh, _events(src, 2, at, at, first_id=10))
    batches = wh.execute("SELECT landing_id_first, landing_id_last, events FROM ops.apply_batches ORDER BY batch_id").fetchall()
    ids = [r[0] for r in wh.execute("SELECT landing_id FROM landing.customers ORDER BY landing_id")]
    assert batches == [(ids[0], ids[2], 3), (ids[3], ids[4], 2)]


def test_stages_come_from_each_events_own_times(wh):
    src = Source()
    now = _now()
    committed, appended = now - timedelta(seconds=3), now - timedelta(seconds=2)
    land(wh, _events(src, 4, committed, appended))
    r = health.stage_latency(wh)
    assert (r["batches"], r["events"]) == (1, 4)
    s = r["stages"]
    assert s["source_to_kafka"] == {"p50_s": 1.0, "p95_s": 1.0}
    # landed: the INSERT's clock_timestamp(), about now; applied: the batch's apply, at its commit
    assert 1.9 < s["kafka_to_landed"]["p50_s"] <= s["kafka_to_landed"]["p95_s"] < 2.9
    assert 0 <= s["landed_to_applied"]["p50_s"] <= s["landed_to_applied"]["p95_s"] < 0.5
    assert 2.9 < s["end_to_end"]["p50_s"] < 3.9
    assert r["slowest"] == "kafka_to_landed"
    # the stages add up to end to end, event by event
    total = s["source_to_kafka"]["p50_s"] + s["kafka_to_landed"]["p50_s"] + s["landed_to_applied"]["p50_s"]
    assert abs(total - s["end_to_end"]["p50_s"]) < 0.01


def test_the_slowest_stage_is_named(wh):
    src = Source()
    now = _now()
    land(wh, _events(src, 2, now - timedelta(seconds=5), now - timedelta(milliseconds=10)))
    assert health.stage_latency(wh)["slowest"] == "source_to_kafka"


def test_the_read_is_bounded_by_the_newest_batches(wh):
    src = Source()
    now = _now()
    # three batches, oldest first, whose Kafka stage took 1, 2 and 4 seconds
    for n, delay in enumerate((1, 2, 4)):
        committed = now - timedelta(seconds=5)
        land(wh, _events(src, 2, committed, committed + timedelta(seconds=delay), first_id=100 * (n + 1)))
    assert health.stage_latency(wh)["stages"]["source_to_kafka"]["p50_s"] == 2.0
    newest = health.stage_latency(wh, max_events=2)
    assert (newest["batches"], newest["events"], newest["stages"]["source_to_kafka"]["p50_s"]) == (1, 2, 4.0)
    assert health.stage_latency(wh, max_batches=2)["events"] == 4
    # batches applied before the window are not read
    wh.execute("UPDATE ops.apply_batches SET applied_at = applied_at - interval '10 minutes'")
    assert health.stage_latency(wh)["events"] == 0


def test_events_without_a_kafka_time_count_end_to_end_only(wh):
    src = Source()
    now = _now()
    events = _events(src, 2, now - timedelta(seconds=1), now)
    for e in events:
        e["__kafka_ts_ms"] = None   # landed before the sink wrote the record's time
    land(wh, events)
    s = health.stage_latency(wh)["stages"]
    assert s["source_to_kafka"] == {"p50_s": None, "p95_s": None}
    assert s["end_to_end"]["p50_s"] is not None


def test_the_analyst_reads_the_stage_times_not_the_rows(wh, warehouse_dsn, analyst_password):
    src = Source()
    now = _now()
    land(wh, _events(src, 2, now - timedelta(seconds=1), now))
    with psycopg.connect(warehouse_dsn, user="wh_analyst", password=analyst_password, autocommit=True) as analyst:
        assert health.stage_latency(analyst)["events"] == 2
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            analyst.execute("SELECT email FROM landing.customers")


def test_status_warns_only_while_the_newest_batch_is_late_too(wh):
    """A slow batch in the window is history once a newer batch arrives on time, or once nothing has
    been applied for a while; while the newest batch, just applied, is late, the check warns and names
    the slowest stage."""
    src = Source()
    now = _now()
    late = now - timedelta(seconds=30)
    land(wh, _events(src, 3, late, late + timedelta(seconds=25)))   # 25 s to reach Kafka
    probe = SimpleNamespace(wh=wh, wh_migrated=True)   # what _stage_check reads of whctl.health.Probe
    [check] = health._stage_check(probe)
    assert check["verdict"] == "warn" and check["newest_batch_s"] >= 29
    assert "slowest stage: source commit -> Kafka append" in check["detail"]
    # the same late batch, applied a while ago and followed by nothing: history, not the state now
    wh.execute("UPDATE ops.apply_batches SET applied_at = applied_at - interval '15 seconds'")
    assert health._stage_check(probe)[0]["verdict"] == "ok"
    wh.execute("UPDATE ops.apply_batches SET applied_at = applied_at + interval '15 seconds'")
    land(wh, _events(src, 1, now, now, first_id=50))                 # a batch on time
    [check] = health._stage_check(probe)
    assert check["verdict"] == "ok" and check["newest_batch_s"] < 5
    assert check["stages"]["end_to_end"]["p95_s"] >= 29              # the slow batch is still in the window
