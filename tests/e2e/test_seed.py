"""`whctl seed`: the requested counts, realistic shape, deterministic, safe to re-run.

Seeding needs only the source PostgreSQL, so these tests seed fresh databases on the test run's
PostgreSQL server (tests/conftest.py) through the real command line, with small sizes.
"""
from __future__ import annotations

import hashlib
import json
import os

import psycopg
import pytest
from psycopg import sql

from tests.conftest import dsn_for, run_whctl

ANCHOR = "2025-06-30"
SIZES = ("--customers", "60", "--products", "25", "--orders", "200", "--batch-rows", "150")


@pytest.fixture
def source_dsn(pg_admin_dsn, request):
    """A fresh, empty source database (no tables: seed creates them)."""
    name = f"whctl_seed_{os.getpid()}_{request.node.name[:30]}".lower().replace("[", "_").replace("]", "")
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield dsn_for(pg_admin_dsn, name)
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def seed(dsn: str, *args: str) -> dict:
    result = run_whctl("seed", "--json", *args, env={"WH_SOURCE_DSN": dsn})
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def table_digest(dsn: str) -> dict[str, str]:
    """A hash of every row of every table, in key order."""
    out = {}
    with psycopg.connect(dsn) as conn:
        for table, key in (("customers", "customer_id"), ("products", "product_id"), ("orders", "order_id"),
                           ("order_items", "order_item_id")):
            rows = conn.execute(sql.SQL("SELECT t::text FROM {} t ORDER BY {}").format(sql.Identifier(table), sql.Identifier(key))).fetchall()
            out[table] = hashlib.sha256("\n".join(r[0] for r in rows).encode()).hexdigest()
    return out


def test_seed_gives_the_requested_counts_and_a_realistic_shape(source_dsn):
    summary = seed(source_dsn, *SIZES, "--anchor-date", ANCHOR)
    assert summary["skipped"] is False
    assert {k: summary["inserted"][k] for k in ("customers", "products", "orders")} == {"customers": 60, "products": 25, "orders": 200}

    with psycopg.connect(source_dsn) as conn:
        def one(q):
            return conn.execute(q).fetchone()

        assert one("SELECT count(*) FROM customers")[0] == 60
        assert one("SELECT count(*) FROM products")[0] == 25
        assert one("SELECT count(*) FROM orders")[0] == 200
        lines = one("SELECT count(*) FROM order_items")[0]
        assert lines == summary["inserted"]["order_items"]
        assert one("SELECT min(n), max(n) FROM (SELECT count(*) n FROM order_items GROUP BY order_id) x") >= (1, 1)
        assert one("SELECT max(n) FROM (SELECT count(*) n FROM order_items GROUP BY order_id) x")[0] <= 5
        assert one("SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT FROM order_items i WHERE i.order_id = o.order_id)")[0] == 0
        # several categories and brands; unique emails
        assert one("SELECT count(DISTINCT category) FROM products")[0] >= 4
        assert one("SELECT count(DISTINCT brand) FROM products")[0] >= 5
        assert one("SELECT count(DISTINCT email) = count(*) FROM customers")[0]
        # order dates spread over the year before the anchor; totals add up
        first, last = one("SELECT min(order_date), max(order_date) FROM orders")
        assert str(first) >= "2024-06-30" and str(last) < ANCHOR
        assert (last - first).days > 300
        assert one("SELECT count(*) FROM orders o WHERE total_amount <> (SELECT sum(line_total) FROM order_items i WHERE i.order_id = o.order_id)")[0] == 0
        assert one("SELECT count(*) FROM order_items WHERE line_total <> quantity * unit_price")[0] == 0
        # statuses progress with age: old orders are delivered, only recent ones are pending
        assert one("SELECT bool_and(status = 'delivered') FROM orders WHERE order_date < DATE %s - 14" % f"'{ANCHOR}'")[0]
        assert one("SELECT coalesce(bool_and(order_date > DATE %s - 3), true) FROM orders WHERE status = 'pending'" % f"'{ANCHOR}'")[0]
        # the sequences moved past the seeded keys: the application's next insert does not collide
        conn.execute("INSERT INTO order_items (order_id, product_id, quantity, unit_price, line_total) VALUES (1, 1, 1, 1, 1)")
        conn.execute("INSERT INTO customers (first_name, last_name, email) VALUES ('a', 'b', 'new@example.com')")
        conn.rollback()


def test_same_seed_and_anchor_give_the_same_rows_and_a_rerun_adds_nothing(pg_admin_dsn, source_dsn):
    first = seed(source_dsn, *SIZES, "--anchor-date", ANCHOR, "--seed", "7")
    digest = table_digest(source_dsn)

    again = seed(source_dsn, *SIZES, "--anchor-date", ANCHOR, "--seed", "7")
    assert again["skipped"] is True and again["inserted"]["orders"] == 0
    assert table_digest(source_dsn) == digest, "a second run must not change the source"

    other = dsn_for(pg_admin_dsn, psycopg.conninfo.conninfo_to_dict(source_dsn)["dbname"] + "_twin")
    twin_name = psycopg.conninfo.conninfo_to_dict(other)["dbname"]
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(twin_name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(twin_name)))
    try:
        twin = seed(other, *SIZES, "--anchor-date", ANCHOR, "--seed", "7")
        assert twin["inserted"] == first["inserted"]
        assert table_digest(other) == digest, "same seed and anchor must give identical rows"
        with psycopg.connect(other, autocommit=True) as conn:
            conn.execute("TRUNCATE order_items, orders, customers, products RESTART IDENTITY")
        seed(other, *SIZES, "--anchor-date", ANCHOR, "--seed", "8")
        assert table_digest(other)["customers"] != digest["customers"], "another seed gives other rows"
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(twin_name)))


def test_append_adds_a_second_batch_with_fresh_keys(source_dsn):
    seed(source_dsn, "--customers", "5", "--products", "5", "--orders", "10", "--anchor-date", ANCHOR)
    added = seed(source_dsn, "--customers", "5", "--products", "0", "--orders", "10", "--anchor-date", ANCHOR, "--append")
    assert added["inserted"]["customers"] == 5 and added["inserted"]["orders"] == 10
    with psycopg.connect(source_dsn) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT email) FROM customers").fetchone() == (10, 10)
        assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 20


def test_seed_explains_a_stopped_database():
    result = run_whctl("seed", env={"WH_SOURCE_DSN": "postgresql://nobody@127.0.0.1:1/nothing"})
    assert result.returncode == 1
    assert "cannot connect to the source database" in result.stderr and "Traceback" not in result.stderr
