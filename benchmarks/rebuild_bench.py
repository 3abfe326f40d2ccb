"""Rebuild benchmark: how long `whctl rebuild` (SELECT * FROM dw.rebuild()) takes on a warehouse whose
landing tables hold a shop's history, and the type-7 views and KPI queries on the rebuilt facts.

    .venv/bin/python benchmarks/rebuild_bench.py [--facts 1000000] [--chunk 50000]

Landing is filled with generate_series with the engine's triggers off (session_replication_role =
replica): customers (one in five moved once), products (each repriced twice), orders over two years
(a tenth updated to shipped), order lines (three per order). Then dw.rebuild() recomputes the star
schema from it, once, timed. Uses WH_BENCH_ADMIN_DSN (a superuser DSN) when set, else starts a
throw-away PostgreSQL cluster. Not a test: it asserts nothing.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "cli"))
sys.path.insert(0, str(ROOT))

from benchmarks.engine_bench import print_kpi_times  # noqa: E402
from whctl import schema  # noqa: E402
from whctl.config import Settings  # noqa: E402
from whctl.pgserver import throwaway_cluster  # noqa: E402

# The source's history as change events, in LSN order per key (LSNs far apart per table).
LANDING = """
INSERT INTO landing.customers (customer_id, first_name, last_name, email, city, country, created_at, updated_at,
                               __op, __lsn, __txid, __source_ts_us, __deleted)
SELECT c, 'First' || c, 'Last' || c, 'c' || c || '@example.com', 'City ' || c % 500, 'Country ' || c % 40,
       '2023-01-01', '2023-01-01', 'r', c, 1, 1672531200000000, 'false'
FROM generate_series(1, {customers}) c;
INSERT INTO landing.customers (customer_id, first_name, last_name, email, city, country, created_at, updated_at,
                               __op, __lsn, __txid, __source_ts_us, __deleted)
SELECT c, 'First' || c, 'Last' || c, 'c' || c || '@example.com', 'City ' || (c + 7) % 500, 'Country ' || c % 40,
       '2023-01-01', '2024-07-01', 'u', 100000000 + c, 2, 1719792000000000 + c, 'false'
FROM generate_series(5, {customers}, 5) c;
INSERT INTO landing.products (product_id, product_name, category, brand, price, cost, created_at, updated_at,
                              __op, __lsn, __txid, __source_ts_us, __deleted)
SELECT p, 'Product ' || p, 'Category ' || p % 25, 'Brand ' || p % 60, 10 + v * 5 + p % 90, 8, '2023-01-01',
       '2023-01-01', CASE v WHEN 0 THEN 'r' ELSE 'u' END, 200000000 + v * 1000000 + p, 3 + v,
       1672531200000000 + v * 20000000000000::bigint + p, 'false'
FROM generate_series(1, {products}) p, generate_series(0, 2) v;
INSERT INTO landing.orders (order_id, customer_id, order_date, status, created_at, updated_at,
                            __op, __lsn, __txid, __source_ts_us, __deleted)
SELECT o, 1 + (o::bigint * 7919) % {customers}, t, 'pending', t, t, 'c', 1000000000 + o::bigint * 8, 10 + o,
       extract(epoch FROM t)::bigint * 1000000, 'false'
FROM generate_series(1, {orders}) o
CROSS JOIN LATERAL (SELECT timestamp '2024-01-01' + (o::bigint * 63072000 / {orders}) * interval '1 second' AS t) ts;
INSERT INTO landing.orders (order_id, customer_id, order_date, status, created_at, updated_at,
                            __op, __lsn, __txid, __source_ts_us, __deleted)
SELECT o, 1 + (o::bigint * 7919) % {customers}, t, 'shipped', t, t + interval '1 day', 'u',
       1000000000 + o::bigint * 8 + 5, 10 + o, extract(epoch FROM t + interval '1 day')::bigint * 1000000, 'false'
FROM generate_series(10, {orders}, 10) o
CROSS JOIN LATERAL (SELECT timestamp '2024-01-01' + (o::bigint * 63072000 / {orders}) * interval '1 second' AS t) ts;
INSERT INTO landing.order_items (order_item_id, order_id, product_id, quantity, unit_price, line_total, created_at,
                                 __op, __lsn, __txid, __source_ts_us, __deleted)
SELECT i, o, 1 + (i::bigint * 104729) % {products}, 1 + i % 4, 10 + i % 90, (1 + i % 4) * (10 + i % 90), t, 'c',
       1000000000 + o::bigint * 8 + 1 + i % 3, 10 + o, extract(epoch FROM t)::bigint * 1000000, 'false'
FROM generate_series(1, {facts}) i
CROSS JOIN LATERAL (SELECT (i - 1) / 3 + 1 AS o) k
CROSS JOIN LATERAL (SELECT timestamp '2024-01-01' + (k.o::bigint * 63072000 / {orders}) * interval '1 second' AS t) ts;
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--facts", type=int, default=1_000_000, help="order lines (facts after the rebuild)")
    parser.add_argument("--chunk", type=int, default=None, help="keys per engine call (dw.rebuild's default if not given)")
    args = parser.parse_args()
    sizes = {"facts": args.facts, "orders": max(1, args.facts // 3), "customers": max(10, args.facts // 100),
             "products": max(10, args.facts // 1000)}
    admin_dsn = os.environ.get("WH_BENCH_ADMIN_DSN")
    server = contextlib.nullcontext(admin_dsn) if admin_dsn else throwaway_cluster(
        "whctl-bench-pg-", {"shared_buffers": "'1GB'", "work_mem": "'64MB'", "maintenance_work_mem": "'512MB'",
                            "max_wal_size": "'8GB'", "checkpoint_timeout": "'30min'"})
    with server as admin_dsn:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS whctl_bench_rebuild WITH (FORCE)")
            admin.execute("CREATE DATABASE whctl_bench_rebuild")
        dsn = psycopg.conninfo.make_conninfo(admin_dsn, dbname="whctl_bench_rebuild")
        schema.migrate(Settings.from_env(warehouse_dsn=dsn))
        with psycopg.connect(dsn, autocommit=True) as conn:
            print(f"landing {sizes} with the triggers off", file=sys.stderr)
            began = time.perf_counter()
            conn.execute("SET session_replication_role = replica")
            for statement in LANDING.format(**sizes).split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("RESET session_replication_role")
            conn.execute("VACUUM ANALYZE")
            events = sum(conn.execute(sql.SQL("SELECT count(*) FROM landing.{}").format(sql.Identifier(t))).fetchone()[0]
                         for t in ("customers", "products", "orders", "order_items"))
            print(f"landed {events:,} events in {time.perf_counter() - began:.0f} s", file=sys.stderr)
            call = "SELECT * FROM dw.rebuild()" if args.chunk is None else f"SELECT * FROM dw.rebuild({args.chunk})"
            began = time.perf_counter()
            dimension_rows, fact_rows = conn.execute(call).fetchone()
            seconds = time.perf_counter() - began
            print(f"rebuild: {seconds:,.1f} s for {events:,} landed events -> {dimension_rows:,} dimension rows, "
                  f"{fact_rows:,} facts ({fact_rows / seconds:,.0f} facts/s)")
            conn.execute("VACUUM ANALYZE")
            print_kpi_times(conn)


if __name__ == "__main__":
    main()
