"""Smoke test of the whole pipeline on the real local stack.

A table in the source, a Debezium source connector (pgoutput, its own publication and slot) and a
Debezium JDBC sink that lands every change, deletes included, as one row with the change
metadata (ExtractNewRecordState with delete.tombstone.handling.mode=rewrite). The configs here
are scratch ones; the product's connectors live in connectors/.
"""
from __future__ import annotations

import time

import psycopg
import pytest
import requests

from tests.conftest import poll
from whctl.localstack.connect import secrets_file

pytestmark = pytest.mark.e2e

TABLE = "smoke_items"
TOPIC_PREFIX = "smoke"
LANDING = "smoke_landing"


def _connect(settings, which: str) -> psycopg.Connection:
    return psycopg.connect(**settings.connection_kwargs(which), autocommit=True)


def _put_connector(settings, name: str, config: dict) -> None:
    """Idempotent registration (PUT), then wait until the connector and its task run."""
    response = requests.put(f"{settings.connect}/connectors/{name}/config", json=config, timeout=30)
    assert response.status_code in (200, 201), response.text

    def running():
        status = requests.get(f"{settings.connect}/connectors/{name}/status", timeout=5)
        if status.status_code != 200:
            return None
        body = status.json()
        failed = [t for t in body["tasks"] if t["state"] == "FAILED"]
        assert not failed, failed[0].get("trace", "")[:2000]
        return body["connector"]["state"] == "RUNNING" and body["tasks"] and all(t["state"] == "RUNNING" for t in body["tasks"])

    poll(running, 60, what=f"connector {name} to run")


def test_changes_land_one_row_each_with_metadata(stack):
    settings = stack
    secret = f"${{file:{secrets_file(settings)}:{settings.pg_user}.password}}"

    with _connect(settings, "source") as src:
        src.execute(f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, name text, price numeric(10, 2))")
        src.execute(f"CREATE PUBLICATION smoke_pub FOR TABLE {TABLE}")

    _put_connector(settings, "smoke-source", {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": settings.host,
        "database.port": str(settings.source_port),
        "database.user": settings.pg_user,
        "database.password": secret,
        "database.dbname": settings.source_db,
        "topic.prefix": TOPIC_PREFIX,
        "table.include.list": f"public.{TABLE}",
        "publication.name": "smoke_pub",
        "publication.autocreate.mode": "disabled",
        "slot.name": "smoke_slot",
        "snapshot.mode": "initial",
        "tombstones.on.delete": "false",
        "poll.interval.ms": "100",
    })
    _put_connector(settings, "smoke-sink", {
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "tasks.max": "1",
        "topics": f"{TOPIC_PREFIX}.public.{TABLE}",
        "connection.url": f"jdbc:postgresql://{settings.host}:{settings.warehouse_port}/{settings.warehouse_db}?reWriteBatchedInserts=true",
        "connection.username": settings.pg_user,
        "connection.password": secret,
        "insert.mode": "insert",
        "primary.key.mode": "none",
        "delete.enabled": "false",
        "schema.evolution": "basic",
        "use.reduction.buffer": "false",
        "collection.name.format": LANDING,
        "transforms": "unwrap,kafka",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "transforms.unwrap.delete.tombstone.handling.mode": "rewrite",
        "transforms.unwrap.add.fields": "op,lsn,txId,source.ts_us",
        "transforms.kafka.type": "org.apache.kafka.connect.transforms.InsertField$Value",
        "transforms.kafka.topic.field": "__kafka_topic",
        "transforms.kafka.partition.field": "__kafka_partition",
        "transforms.kafka.offset.field": "__kafka_offset",
    })

    # streaming has begun once the connector holds its slot (the empty table's snapshot is done)
    with _connect(settings, "source") as src:
        poll(lambda: src.execute("SELECT active FROM pg_replication_slots WHERE slot_name = 'smoke_slot'").fetchone() == (True,),
              60, what="the source connector to stream from its slot")
        src.execute(f"INSERT INTO {TABLE} VALUES (1, 'kettle', 20.00), (2, 'teapot', 35.50)")
        src.execute(f"INSERT INTO {TABLE} VALUES (3, 'mug', 7.25)")
        src.execute(f"UPDATE {TABLE} SET price = 22.00 WHERE id = 1")
        src.execute(f"DELETE FROM {TABLE} WHERE id = 2")

    expected = [(1, "c"), (2, "c"), (3, "c"), (1, "u"), (2, "d")]
    started = time.monotonic()
    with _connect(settings, "warehouse") as wh:
        def landed():
            exists = wh.execute("SELECT to_regclass(%s)", (LANDING,)).fetchone()[0]
            return exists and wh.execute(f"SELECT count(*) FROM {LANDING}").fetchone()[0] >= len(expected)

        poll(landed, 60, what=f"{len(expected)} rows in {LANDING}")
        latency = time.monotonic() - started
        rows = wh.execute(
            f"SELECT id, name, price, __op, __lsn, __txid, __source_ts_us, __deleted,"
            f" __kafka_topic, __kafka_partition, __kafka_offset FROM {LANDING} ORDER BY __lsn, id"
        ).fetchall()

    assert [(r[0], r[3]) for r in rows] == expected, rows
    by_change = {(r[0], r[3]): r for r in rows}
    assert by_change[(1, "u")][2] == 22 and by_change[(1, "u")][1] == "kettle"
    assert str(by_change[(2, "d")][7]).lower() == "true"  # the delete is a row, flagged deleted
    assert all(str(r[7]).lower() == "false" for r in rows if r[3] != "d")
    assert all(r[4] and r[5] and r[6] for r in rows), "every row carries __lsn, __txid, __source_ts_us"
    assert rows[0][5] == rows[1][5] and rows[0][5] != rows[2][5], "rows of one transaction share __txid"
    assert [r[10] for r in sorted(rows, key=lambda r: r[10])] == list(range(len(expected)))
    assert {r[8] for r in rows} == {f"{TOPIC_PREFIX}.public.{TABLE}"}
    print(f"\n{len(expected)} changes landed {latency:.2f}s after the last commit")

    for name in ("smoke-sink", "smoke-source"):
        requests.delete(f"{settings.connect}/connectors/{name}", timeout=30)
