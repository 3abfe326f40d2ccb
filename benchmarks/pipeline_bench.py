"""Pipeline benchmark (not a test): source commit -> fact visible latency, and sink throughput.

Needs a running, deployed stack (`whctl stack up && whctl deploy`; WH_* select it). Latency: at each
rate, transactions of one order plus one order line (2 source changes) are committed at an even
pace for --duration seconds; a watcher polls dw.fact_orders every 10 ms and takes the first time
each order line's fact is visible. Reports p50/p95/max of (visible - commit) and whether the
warehouse kept up (lag after the load stops).

Throughput (--throughput N): with the product's sink stopped, N order lines are committed, then
the sink resumes and the drain into landing + dw is timed; a second sink drains the same topics
from the beginning into trigger-less copies of the landing tables (schema bench_landing). The
ratio of the two rates (events/s) is reported.

    python benchmarks/pipeline_bench.py --rates 100,1000 --duration 60 --throughput 20000
"""
from __future__ import annotations

import argparse
import json
import statistics
import threading
import time

import psycopg
import requests

from whctl import pipeline
from whctl.config import Settings

BASE_ID = 10_000_000


def _conn(settings, which):
    return psycopg.connect(**settings.connection_kwargs(which), autocommit=True)


def _prepare(src) -> tuple[int, int, int]:
    start = src.execute("SELECT greatest(coalesce(max(order_item_id), 0), coalesce((SELECT max(order_id) FROM orders), 0)) + 1"
                        " FROM order_items").fetchone()[0]
    start = max(start, BASE_ID)
    src.execute("INSERT INTO customers (customer_id, first_name, last_name, email) VALUES (%s, 'Bench', 'Mark', %s)"
                " ON CONFLICT DO NOTHING", (BASE_ID, f"bench{BASE_ID}@example.com"))
    src.execute("INSERT INTO products (product_id, product_name, price, cost) VALUES (%s, 'Bench widget', 10, 5)"
                " ON CONFLICT DO NOTHING", (BASE_ID,))
    return start, BASE_ID, BASE_ID


def latency_run(settings: Settings, rate: int, duration: float) -> dict:
    """`rate` source changes per second (2 per transaction) for `duration` seconds."""
    committed: dict[int, float] = {}
    seen: dict[int, float] = {}
    with _conn(settings, "source") as src:
        next_id, customer, product = _prepare(src)
    pipeline.wait_for_warehouse(settings, 120)
    first_id = next_id
    stop = threading.Event()

    def watch():
        with _conn(settings, "warehouse") as wh:
            last = first_id - 1
            while not stop.is_set():
                rows = wh.execute("SELECT order_item_id FROM dw.fact_orders WHERE order_item_id > %s", (last,)).fetchall()
                now = time.time()
                for (item,) in rows:
                    seen.setdefault(item, now)
                    last = max(last, item)
                time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    txn_rate = rate / 2
    with _conn(settings, "source") as src:
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < duration:
            due = int((time.monotonic() - started) * txn_rate) + 1
            while n < due:
                oid = next_id + n
                with src.transaction():
                    src.execute("INSERT INTO orders (order_id, customer_id, order_date, status) VALUES (%s, %s, now() AT TIME ZONE 'UTC', 'pending')",
                                (oid, customer))
                    src.execute("INSERT INTO order_items VALUES (%s, %s, %s, 1, 10, 10)", (oid, oid, product))
                committed[oid] = time.time()
                n += 1
            time.sleep(0.002)
        achieved = 2 * n / (time.monotonic() - started)
    load_end = time.time()
    deadline = time.monotonic() + 120
    while len(seen) < len(committed) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    watcher.join()
    latencies = sorted(seen[k] - committed[k] for k in committed if k in seen)
    drain = max(seen.values()) - load_end if seen else None
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else latencies * 100
    return {"rate": rate, "achieved_changes_per_s": round(achieved, 1), "duration_s": duration, "transactions": len(committed),
            "visible": len(latencies), "p50_ms": round(q[49] * 1000, 1), "p95_ms": round(q[94] * 1000, 1),
            "max_ms": round(latencies[-1] * 1000, 1), "caught_up_s_after_load": round(drain, 2) if drain is not None else None}


def _landing_rows(wh, schema: str) -> int:
    return sum(wh.execute(f"SELECT count(*) FROM {schema}.{t}").fetchone()[0] for t in ("customers", "products", "orders", "order_items"))


def throughput_run(settings: Settings, lines: int) -> dict:
    api = pipeline.Connect(settings)
    sink = pipeline.SINK_CONNECTOR
    with _conn(settings, "source") as src:
        next_id, customer, product = _prepare(src)
    pipeline.wait_for_warehouse(settings, 120)
    api.call("PUT", f"/connectors/{sink}/stop")
    with _conn(settings, "source") as src:
        with src.cursor() as cur:
            for start in range(0, lines, 500):
                ids = range(next_id + start, next_id + min(start + 500, lines))
                with src.transaction():
                    cur.executemany("INSERT INTO orders (order_id, customer_id, order_date, status) VALUES (%s, %s, now() AT TIME ZONE 'UTC', 'pending')",
                                    [(i, customer) for i in ids])
                    cur.executemany("INSERT INTO order_items VALUES (%s, %s, %s, 1, 10, 10)", [(i, i, product) for i in ids])
    events = 2 * lines
    time.sleep(2)  # let the source connector publish the backlog before timing the sink alone
    with _conn(settings, "warehouse") as wh:
        before = _landing_rows(wh, "landing")
        t0 = time.monotonic()
        api.call("PUT", f"/connectors/{sink}/resume")
        while _landing_rows(wh, "landing") < before + events:
            time.sleep(0.05)
        triggered = events / (time.monotonic() - t0)

        # the same topics from the beginning into trigger-less copies of the landing tables
        wh.execute("CREATE SCHEMA IF NOT EXISTS bench_landing")
        for t in ("customers", "products", "orders", "order_items", "heartbeat"):
            wh.execute(f"DROP TABLE IF EXISTS bench_landing.{t}")
            wh.execute(f"CREATE TABLE bench_landing.{t} (LIKE landing.{t} INCLUDING DEFAULTS INCLUDING IDENTITY)")
        config = dict(pipeline.desired_connectors(settings)[sink])
        config["collection.name.format"] = "bench_landing.${topic}"
        config["connection.username"] = settings.pg_user
        config["connection.password"] = config["connection.password"].replace("wh_loader.password", f"{settings.pg_user}.password")
        config["errors.deadletterqueue.topic.name"] = "whctl.dlq.bench"
        total_topic = _landing_rows(wh, "landing")  # every event the topics hold, delivered once or more
        name = "whctl-bench-sink"
        requests.delete(f"{api.url}/connectors/{name}", timeout=30)
        t0 = time.monotonic()
        api.put_config(name, config)
        target = wh.execute("SELECT count(*) FROM (SELECT DISTINCT __topic, __offset FROM landing.customers UNION ALL"
                            " SELECT DISTINCT __topic, __offset FROM landing.products UNION ALL SELECT DISTINCT __topic, __offset FROM landing.orders"
                            " UNION ALL SELECT DISTINCT __topic, __offset FROM landing.order_items) x").fetchone()[0]
        while _landing_rows(wh, "bench_landing") < target:
            time.sleep(0.05)
        plain = target / (time.monotonic() - t0)
        requests.delete(f"{api.url}/connectors/{name}", timeout=30)
        wh.execute("DROP SCHEMA bench_landing CASCADE")
    return {"backlog_events": events, "with_triggers_events_per_s": round(triggered), "trigger_less_events_per_s": round(plain),
            "ratio": round(triggered / plain, 2), "trigger_less_events": target, "landing_rows_seen": total_topic}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,1000", help="source changes per second, comma-separated (default 100,1000)")
    parser.add_argument("--duration", type=float, default=60, help="seconds per rate (default 60)")
    parser.add_argument("--throughput", type=int, default=0, help="order lines in the backlog of the throughput run (0: skip)")
    args = parser.parse_args()
    settings = Settings.from_env()
    results = {"latency": [latency_run(settings, int(r), args.duration) for r in args.rates.split(",")]}
    if args.throughput:
        results["throughput"] = throughput_run(settings, args.throughput)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
