"""How `pipeline.wait_for_warehouse` decides that the sink has taken every record of a partition."""
from __future__ import annotations

from whctl import pipeline
from whctl.kafka_api import first_unconsumed

TOPIC = "whctl.public.orders"


def test_records_dead_lettered_after_the_newest_landed_one_count_as_taken():
    landed = {(TOPIC, 0): 10}  # offsets 0-9 landed
    assert first_unconsumed(landed, TOPIC, 0, 0, 12) == 10
    assert first_unconsumed(landed, TOPIC, 0, 0, 12, frozenset({(TOPIC, 0, 10), (TOPIC, 0, 11)})) == 12


def test_a_dead_lettered_record_does_not_hide_an_earlier_one_still_waiting():
    landed = {(TOPIC, 0): 10}
    assert first_unconsumed(landed, TOPIC, 0, 0, 12, frozenset({(TOPIC, 0, 11)})) == 10


def test_a_partition_with_nothing_landed_starts_at_its_oldest_kept_record():
    assert first_unconsumed({}, TOPIC, 0, 5, 8) == 5
    assert first_unconsumed({(TOPIC, 0): 3}, TOPIC, 0, 5, 8) == 5, "records deleted by retention are not waited for"


def test_every_topic_of_the_sink_routes_to_its_landing_table():
    assert {t: pipeline.landing_table(t) for t in pipeline.SINK_TOPICS} == {
        "whctl.public.customers": "customers", "whctl.public.products": "products", "whctl.public.orders": "orders",
        "whctl.public.order_items": "order_items", "whctl.whctl.heartbeat": "heartbeat", "whctl.whctl.truncations": "truncations"}
