"""`whctl dlq list|replay|discard`: the sink's dead-letter topic (records Connect could not convert or write)."""
from __future__ import annotations

import click

from whctl import kafka_api, pipeline
from whctl.kafka_api import dead_letter_entry
from whctl.options import json_option, settings_options
from whctl.output import emit, progress, table

KAFKA = ("kafka_bootstrap", "kafka_port", "host")


@click.group()
def dlq():
    """The sink's dead-letter topic (whctl.dlq.sink): what Connect could not convert or write, and why."""


@dlq.command("list")
@click.option("--limit", type=int, default=50, show_default=True, help="Show at most this many records, oldest first.")
@settings_options(*KAFKA)
@json_option
def list_(settings, limit: int, as_json: bool):
    """Each dead-lettered record: its original topic, partition and offset, the error, the value's start."""
    kafka = kafka_api.Kafka(settings, timeout=5)
    total, first = kafka.records(pipeline.SINK_DLQ, kafka.partitions(pipeline.SINK_DLQ), limit)
    records = [{**dead_letter_entry(m), "value": (m.value() or b"")[:120].decode(errors="replace")} for m in first]
    emit({"topic": pipeline.SINK_DLQ, "total": total, "records": records}, as_json,
         lambda r: f"{r['total']} record(s) in {r['topic']}" + ("\n" + table(r["records"], ["dlq_offset", "topic", "partition", "offset", "error", "value"])
                                                                 if r["records"] else ""))


@dlq.command()
@settings_options(*KAFKA)
@json_option
def replay(settings, as_json: bool):
    """Send every dead-lettered record back to its original topic, then delete it from the dead-letter topic.

    Do it after fixing the cause: the sink reads them again (a record that still fails is
    dead-lettered again). The engine deduplicates events, so a replayed change lands once.
    """
    kafka = kafka_api.Kafka(settings, timeout=5)
    records, ends = kafka.read_all(pipeline.SINK_DLQ)
    back = []
    for m in records:
        original = dead_letter_entry(m)["topic"]
        if not original:
            raise click.ClickException(f"record {m.offset()} of {pipeline.SINK_DLQ} has no __connect.errors.topic header;"
                                       " nothing was replayed (the sink sets context headers: errors.deadletterqueue.context.headers.enable)")
        back.append((original, m.key(), m.value()))
    kafka.produce(back)
    kafka.delete_before(pipeline.SINK_DLQ, ends)
    progress(f"replayed {len(back)} record(s) to their topics and removed them from {pipeline.SINK_DLQ}")
    emit({"replayed": len(back)}, as_json, lambda r: f"replayed {r['replayed']}")


@dlq.command()
@click.option("--yes", is_flag=True, help="Do it without asking.")
@settings_options(*KAFKA)
@json_option
def discard(settings, yes: bool, as_json: bool):
    """Delete every record of the dead-letter topic (after deciding that none is to be replayed)."""
    kafka = kafka_api.Kafka(settings, timeout=5)
    records, ends = kafka.read_all(pipeline.SINK_DLQ)
    if records and not yes:
        click.confirm(f"delete {len(records)} record(s) from {pipeline.SINK_DLQ}?", abort=True)
    kafka.delete_before(pipeline.SINK_DLQ, ends)
    emit({"discarded": len(records)}, as_json, lambda r: f"discarded {r['discarded']}")
