"""The Kafka client whctl needs: does the broker answer, how far a consumer group is behind, what a topic holds.

Built on confluent-kafka (Confluent's Python client over librdkafka, with wheels that carry the
library): it speaks Kafka's admin and offsets protocols (metadata, consumer-group offsets,
watermarks, fetch by offset) with per-call timeouts, which `whctl status` needs to stay fast when
the broker is gone. Connect's REST API answers only for connectors, not for a group's lag or a
topic's records. Used by whctl.health (status, the supervisor, the dashboard).
"""
from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka import ConsumerGroupTopicPartitions

from whctl.config import Settings
from whctl.output import WhctlError

class Kafka:
    def __init__(self, settings: Settings, timeout: float = 2.0):
        self.bootstrap = settings.bootstrap
        self.timeout = timeout
        self._conf = {
            "bootstrap.servers": self.bootstrap,
            "socket.timeout.ms": int(timeout * 1000),
            "socket.connection.setup.timeout.ms": int(timeout * 1000),
            # librdkafka logs every refused connection to stderr; whctl reports the outcome instead.
            # (Not a Python `logger`: its callbacks from librdkafka's threads crashed a process
            # whose handles were being destroyed while the broker went away.)
            "log_level": 0,
        }
        self._admin = AdminClient(dict(self._conf))

    def _consumer(self) -> Consumer:
        return Consumer({**self._conf, "group.id": f"whctl-probe-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
                         "enable.partition.eof": True})

    def broker(self) -> dict:
        """A metadata request: {"brokers": n, "topics": n}; raises WhctlError when no broker answers in time."""
        try:
            meta = self._admin.list_topics(timeout=self.timeout)
        except KafkaException as exc:
            raise WhctlError(f"no Kafka broker answered a metadata request at {self.bootstrap} within {self.timeout:.0f}s"
                             f" ({exc.args[0].str() if exc.args else exc})") from None
        return {"brokers": len(meta.brokers), "topics": len(meta.topics), "partitions": {
            name: sorted(t.partitions) for name, t in meta.topics.items()}}

    def watermarks(self, consumer: Consumer, topic: str, partitions: list[int]) -> dict[int, tuple[int, int]]:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=self.timeout) for p in partitions}

    def committed(self, group: str) -> dict[tuple[str, int], int]:
        """{(topic, partition): offset} a consumer group has committed (-1 where it has none)."""
        future = self._admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=self.timeout)
        return {(tp.topic, tp.partition): tp.offset for tp in future[group].result(timeout=self.timeout).topic_partitions}

    def ends(self, topics: list[str], partitions: dict[str, list[int]]) -> dict[tuple[str, int], tuple[int, int]]:
        """{(topic, partition): (low, high) watermark} of the topics, as of this call."""
        consumer = self._consumer()
        try:
            return {(topic, p): marks for topic in topics
                    for p, marks in self.watermarks(consumer, topic, partitions.get(topic, [])).items()}
        finally:
            consumer.close()

    def group_lag(self, group: str, topics: list[str], partitions: dict[str, list[int]],
                  skipped: frozenset[tuple[str, int, int]] = frozenset()) -> dict[str, dict]:
        """{topic: {"records": behind, "seconds": age of the oldest unconsumed record or 0}} of a consumer group.

        `skipped`: (topic, partition, offset) of records the group's consumer read and dead-lettered;
        a sink may not commit past them until it writes a later record, so they do not count as behind.
        """
        committed = self.committed(group)
        result: dict[str, dict] = {topic: {"records": 0, "seconds": 0.0} for topic in topics}
        behind_at = []
        for (topic, p), (low, high) in self.ends(topics, partitions).items():
            position = first_unconsumed(committed, topic, p, low, high, skipped)
            result[topic]["records"] += high - position
            if high > position:
                behind_at.append(TopicPartition(topic, p, position))
        consumer = self._consumer()
        try:
            for message in self._fetch(consumer, behind_at):
                kind, ts = message.timestamp()
                if ts > 0:
                    age = max(time.time() - ts / 1000, 0.0)
                    entry = result[message.topic()]
                    entry["seconds"] = round(max(entry["seconds"], age), 1)
        finally:
            consumer.close()
        return result

    def records(self, topic: str, partitions: list[int], limit: int = 5) -> tuple[int, list]:
        """(records the topic holds, the first `limit` of them) for a small topic such as a dead-letter queue."""
        consumer = self._consumer()
        try:
            marks = self.watermarks(consumer, topic, partitions)
            total = sum(high - low for low, high in marks.values())
            starts = [TopicPartition(topic, p, low) for p, (low, high) in marks.items() if high > low]
            return total, self._fetch(consumer, starts, limit)
        finally:
            consumer.close()

    def partitions(self, topic: str) -> list[int]:
        """The partitions of a topic ([] when it does not exist)."""
        return self.broker()["partitions"].get(topic, [])

    def read_all(self, topic: str) -> tuple[list, dict[int, int]]:
        """Every record of a (small) topic, and the high watermark of each partition when read began."""
        consumer = self._consumer()
        try:
            marks = self.watermarks(consumer, topic, self.partitions(topic))
            starts = [TopicPartition(topic, p, low) for p, (low, high) in marks.items() if high > low]
            wanted = sum(high - low for low, high in marks.values())
            found = []
            deadline = time.monotonic() + max(self.timeout, 10)
            if starts:
                consumer.assign(starts)
            while len(found) < wanted and time.monotonic() < deadline:
                for message in consumer.consume(wanted - len(found), timeout=0.5):
                    if not message.error() and message.offset() < marks[message.partition()][1]:
                        found.append(message)
            if len(found) < wanted:
                raise WhctlError(f"read {len(found)} of the {wanted} records of {topic} in time; nothing changed")
            return found, {p: high for p, (low, high) in marks.items()}
        finally:
            consumer.close()

    def produce(self, records: list[tuple[str, bytes | None, bytes | None]]) -> None:
        """Send (topic, key, value) records and wait until the broker has them all."""
        producer = Producer({**self._conf, "enable.idempotence": True})
        for topic, key, value in records:
            producer.produce(topic, key=key, value=value)
        if producer.flush(max(self.timeout, 30)) != 0:
            raise WhctlError(f"Kafka did not acknowledge every record within {max(self.timeout, 30):.0f}s")

    def delete_before(self, topic: str, offsets: dict[int, int]) -> None:
        """Delete the records of each partition before its offset (Kafka's DeleteRecords)."""
        wanted = [TopicPartition(topic, p, o) for p, o in offsets.items() if o > 0]
        if not wanted:
            return
        for future in self._admin.delete_records(wanted, request_timeout=max(self.timeout, 10)).values():
            future.result(timeout=max(self.timeout, 10))

    def _fetch(self, consumer: Consumer, positions: list[TopicPartition], limit: int | None = None) -> list:
        """The record at each position (or up to `limit` records from them), within the timeout."""
        if not positions:
            return []
        consumer.assign(positions)
        wanted = limit if limit is not None else len(positions)
        found, done = [], set()
        deadline = time.monotonic() + self.timeout
        while len(found) < wanted and len(done) < len(positions) and time.monotonic() < deadline:
            for message in consumer.consume(wanted - len(found), timeout=max(deadline - time.monotonic(), 0.01)):
                key = (message.topic(), message.partition())
                if message.error():
                    done.add(key)  # end of partition
                    continue
                if limit is None and key in done:
                    continue  # one record per position
                found.append(message)
                if limit is None:
                    done.add(key)
        return found


def first_unconsumed(taken: dict[tuple[str, int], int], topic: str, partition: int, low: int, high: int,
                     skipped: frozenset[tuple[str, int, int]] = frozenset()) -> int:
    """The offset of a partition's first record (below `high`) that a reader has not taken.

    `taken`: {(topic, partition): the next offset to take} (a group's committed offsets, or one past
    the newest landed record); -1 or absent where nothing was taken. Records from there on that were
    dead-lettered (`skipped`) count as taken: a sink may not commit past them until it writes a
    later record, and they never land.
    """
    position = taken.get((topic, partition), -1)
    position = low if position < 0 else max(position, low)
    while position < high and (topic, partition, position) in skipped:
        position += 1
    return min(position, high)


def dead_letter_entry(message) -> dict:
    """Where a dead-lettered record came from and why (Connect's context headers)."""
    headers = {k: (v.decode(errors="replace") if v is not None else None) for k, v in (message.headers() or [])}
    return {"topic": headers.get("__connect.errors.topic"), "partition": headers.get("__connect.errors.partition"),
            "offset": headers.get("__connect.errors.offset"),
            "error": (headers.get("__connect.errors.exception.message") or headers.get("__connect.errors.exception.class.name") or "?")[:300],
            "dlq_offset": message.offset()}


def dead_lettered(messages) -> frozenset[tuple[str, int, int]]:
    """(topic, partition, offset) of the original records behind dead-letter messages."""
    entries = map(dead_letter_entry, messages)
    return frozenset((e["topic"], int(e["partition"]), int(e["offset"])) for e in entries
                     if e["topic"] and e["partition"] is not None and e["offset"] is not None)
