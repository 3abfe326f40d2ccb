"""Change events as the sink lands them, for the SQL-level tests.

`Source` plays the source database: every change gets the next LSN, its transaction's id and
commit time. `land()` inserts events into a landing table the way the JDBC sink does: one
multi-row INSERT per batch (one statement, one trigger call).
"""
from __future__ import annotations

import itertools
from datetime import datetime

from psycopg import sql

from tests.sql.warehouse import assert_views_match_facts
from whctl.health import FACTS_WITH_UNRESOLVED_KEYS

EPOCH = datetime(1970, 1, 1)
KEYS = {"customers": "customer_id", "products": "product_id", "orders": "order_id", "order_items": "order_item_id"}


def epoch_us(at: datetime) -> int:
    return int((at - EPOCH).total_seconds() * 1_000_000)


def customer(customer_id, **cols):
    row = dict(customer_id=customer_id, first_name="Ada", last_name="Lovelace", email=f"c{customer_id}@example.com",
               phone="555-0100", address="1 Main St", city="London", country="UK",
               created_at=datetime(2024, 1, 1), updated_at=datetime(2024, 1, 1))
    row.update(cols)
    return row


def product(product_id, **cols):
    row = dict(product_id=product_id, product_name=f"Product {product_id}", category="Books", brand="Acme",
               price=100, cost=60, description="A fine product", created_at=datetime(2024, 1, 1),
               updated_at=datetime(2024, 1, 1))
    row.update(cols)
    return row


def order(order_id, customer_id, order_date, **cols):
    row = dict(order_id=order_id, customer_id=customer_id, order_date=order_date, status="pending",
               total_amount=None, created_at=order_date, updated_at=order_date)
    row.update(cols)
    return row


def order_item(order_item_id, order_id, product_id, quantity=1, unit_price=100, **cols):
    row = dict(order_item_id=order_item_id, order_id=order_id, product_id=product_id, quantity=quantity,
               unit_price=unit_price, line_total=quantity * unit_price, created_at=datetime(2025, 1, 1))
    row.update(cols)
    return row


class Source:
    """Hands out LSNs, transaction ids and Kafka offsets like a source database and Debezium."""

    def __init__(self):
        self._lsn = itertools.count(1_000_000, 64)
        self._txid = itertools.count(700)
        self._offset = itertools.count()

    def change(self, table: str, op: str, row: dict, at: datetime, txid: int | None = None) -> dict:
        """One change event of `table`: `row` is the state after the change (the key only for a delete)."""
        return {
            **row,
            "__op": op,
            "__lsn": next(self._lsn),
            "__txid": next(self._txid) if txid is None else txid,
            "__source_ts_us": epoch_us(at),
            "__deleted": "true" if op == "d" else "false",
            "__topic": f"whctl.public.{table}",
            "__partition": 0,
            "__offset": next(self._offset),
        }

    def delete(self, table: str, key: int, at: datetime) -> dict:
        return self.change(table, "d", {KEYS[table]: key}, at)

    def transaction(self) -> int:
        return next(self._txid)


def table_of(event: dict) -> str:
    return event["__topic"].rsplit(".", 1)[1]


def land(conn, events: list[dict], table: str | None = None) -> None:
    """Insert events of one table as one sink batch (a single multi-row INSERT)."""
    if not events:
        return
    table = table or table_of(events[0])
    columns = list(dict.fromkeys(c for e in events for c in e))
    query = sql.SQL("INSERT INTO landing.{} ({}) VALUES {}").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() * len(columns))) for _ in events),
    )
    conn.execute(query, [e.get(c) for e in events for c in columns])
    assert_fact_keys_resolve(conn)
    if conn.execute("SELECT has_schema_privilege('dw', 'USAGE')").fetchone()[0]:
        assert_views_match_facts(conn)


# The facts' dimension keys are not declared foreign keys (migration 0002): check after every batch
# what the foreign keys checked at every commit, with `whctl verify`'s definition. The engine applies
# a batch when its transaction commits: on an autocommit connection that is at once; inside an open
# transaction the check sees the state before it, and tests check again after their commit.
def assert_fact_keys_resolve(conn) -> None:
    if not conn.execute("SELECT has_schema_privilege('dw', 'USAGE')").fetchone()[0]:
        return  # landing as the loader role, which cannot read dw
    orphans = conn.execute("SELECT f.order_item_id, f.customer_key, f.product_key, f.date_key "
                           + FACTS_WITH_UNRESOLVED_KEYS).fetchall()
    assert not orphans, f"facts pointing at no dimension row (order_item_id, customer, product, date): {orphans}"


def land_each(conn, events: list[dict]) -> None:
    """Land events one per batch, in the given order."""
    for event in events:
        land(conn, [event])


def land_batches(conn, events: list[dict]) -> None:
    """Land events in the given order, consecutive events of one table sharing a batch."""
    for _, group in itertools.groupby(events, key=table_of):
        land(conn, list(group))
