"""Pipeline benchmark (not a test): source commit -> fact visible latency, sustained rate, sink throughput.

Needs a running, deployed stack (`whctl stack up && whctl deploy`; WH_* select it).

Workload. A few hundred bench customers and products are seeded first (ids from 10,000,000 up,
applied before any timing), so orders spread over many keys instead of one hot key. Each source
transaction is one order plus --lines order lines (1 + lines changed rows = "changes"), each for
a random customer and random products. --connections generator threads commit the transactions
on an even schedule (transaction i is due at start + i / rate), each on its own connection.

Latency (--rates): per transaction the wall-clock time right after COMMIT returns is recorded; a
watcher polls dw.fact_orders every --poll-ms for the pending order lines and takes the first time
each one is visible *resolved* (its order arrived: order_date set, customer and product keys real,
not the unknown member). Reports the achieved rate, p50/p95/p99/max of (visible - commit), the
drain time after the load stops, and where the time went: p50/p95 of each stage (source commit ->
Kafka append -> landed -> applied) of the run's order and order line events, read from their own
times in the warehouse (whctl.health.stage_latency), printed as a table of all rates.

Sustained rate (--find-max): steps the rate up (--steps, --step-duration each) and stops at the
first step where the warehouse did not keep up: the generator fell short of the requested rate,
or the lag grew during the step (median latency of the last quarter of transactions more than
0.5 s above the first quarter's), or the backlog took more than 2 s to drain after the load.

Throughput (--throughput N): the same backlog drained twice, into the product's landing tables
(triggers on) and into trigger-less copies (`plain.<table>`, LIKE landing.<table> INCLUDING ALL,
so the same indexes). The product's sink is stopped and a second sink connector is created
stopped with the product sink's consumer offsets (Connect's offsets API), N transactions are
committed and published, then each sink is resumed in turn. Rate = events / (last event stored -
first event stored), from the rows' own timestamps (the triggered path ends at ops.apply_stats'
last_applied_at), so connector start-up is not counted in either. Repeated --throughput-runs
times; the ratio is that of the medians.

    python benchmarks/pipeline_bench.py --rates 100,1000 --duration 60 --find-max --throughput 20000
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import threading
import time

import psycopg
import requests

from whctl import connect_api, health, pipeline
from whctl.config import Settings

BASE_ID = 10_000_000
TABLES = ("customers", "products", "orders", "order_items", "heartbeat")


def _conn(settings, which):
    return psycopg.connect(**settings.connection_kwargs(which), autocommit=True)


# --- workload ---------------------------------------------------------------------------------

class Workload:
    """Bench keys (seeded once) and fresh order / order line ids."""

    def __init__(self, settings: Settings, customers: int, products: int, lines: int):
        self.settings, self.lines = settings, lines
        with _conn(settings, "source") as src:
            with src.cursor() as cur, src.transaction():
                cur.executemany("INSERT INTO customers (customer_id, first_name, last_name, email, city, country)"
                                " VALUES (%s, 'Bench', %s, %s, 'Benchville', 'BE') ON CONFLICT DO NOTHING",
                                [(BASE_ID + i, f"Mark{i}", f"bench{BASE_ID + i}@example.com") for i in range(customers)])
                cur.executemany("INSERT INTO products (product_id, product_name, category, brand, price, cost)"
                                " VALUES (%s, %s, 'Bench', 'BenchCo', 10, 5) ON CONFLICT DO NOTHING",
                                [(BASE_ID + i, f"Bench widget {i}") for i in range(products)])
            self.next_id = max(BASE_ID, src.execute(
                "SELECT greatest((SELECT coalesce(max(order_item_id), 0) FROM order_items),"
                " (SELECT coalesce(max(order_id), 0) FROM orders)) + 1").fetchone()[0])
        self.customers = [BASE_ID + i for i in range(customers)]
        self.products = [BASE_ID + i for i in range(products)]
        self._lock = threading.Lock()
        pipeline.wait_for_warehouse(settings, 300)  # bench keys applied before any timing

    def ids(self) -> tuple[int, list[int]]:
        """(order_id, [order_item_id, ...]) never used before."""
        with self._lock:
            first = self.next_id
            self.next_id += 1 + self.lines
        return first, list(range(first + 1, first + 1 + self.lines))

    def write(self, cur, order_id: int, items: list[int]) -> None:
        rnd = random.Random(order_id)
        cur.execute("INSERT INTO orders (order_id, customer_id, order_date, status, total_amount)"
                    " VALUES (%s, %s, now() AT TIME ZONE 'UTC', 'pending', %s)",
                    (order_id, rnd.choice(self.customers), 10 * len(items)))
        cur.executemany("INSERT INTO order_items (order_item_id, order_id, product_id, quantity, unit_price, line_total)"
                        " VALUES (%s, %s, %s, 1, 10, 10)", [(i, order_id, rnd.choice(self.products)) for i in items])


# --- latency ----------------------------------------------------------------------------------

def _q(values: list[float], p: float) -> float:
    return round(statistics.quantiles(values, n=100, method="inclusive")[p - 1] * 1000, 1) if len(values) > 1 else \
        round(values[0] * 1000, 1) if values else None


def latency_run(settings: Settings, work: Workload, rate: int, duration: float, connections: int, poll_ms: int) -> dict:
    """`rate` source changes per second (1 + lines per transaction) for `duration` seconds."""
    pipeline.wait_for_warehouse(settings, 300)
    run_began = time.time()
    txn_rate = rate / (1 + work.lines)
    total = int(duration * txn_rate)
    committed: dict[int, float] = {}       # order_item_id -> commit wall time
    order_commit: list[tuple[int, float]] = []  # (txn index, commit time) for the lag-growth check
    seen: dict[int, float] = {}
    lock = threading.Lock()
    stop = threading.Event()
    poll = poll_ms / 1000

    def watch():
        with _conn(settings, "warehouse") as wh:
            while not stop.is_set():
                with lock:
                    pending = [i for i in committed if i not in seen]
                if pending:
                    rows = wh.execute("SELECT order_item_id FROM dw.fact_orders WHERE order_item_id = ANY(%s)"
                                      " AND order_date IS NOT NULL AND customer_key > 0 AND product_key > 0",
                                      (pending,)).fetchall()
                    now = time.time()
                    with lock:
                        for (item,) in rows:
                            seen.setdefault(item, now)
                time.sleep(poll)

    def generate(worker: int, start: float):
        with _conn(settings, "source") as src, src.cursor() as cur:
            for n in range(worker, total, connections):
                delay = start + n / txn_rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                order_id, items = work.ids()
                with src.transaction():
                    work.write(cur, order_id, items)
                at = time.time()
                with lock:
                    for i in items:
                        committed[i] = at
                    order_commit.append((n, at))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    workers = [threading.Thread(target=generate, args=(w, started)) for w in range(connections)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    load_end = time.time()
    deadline = time.monotonic() + max(120, duration)
    while time.monotonic() < deadline:
        with lock:
            if len(seen) >= len(committed):
                break
        time.sleep(0.05)
    stop.set()
    watcher.join()
    lat = {i: seen[i] - committed[i] for i in committed if i in seen}
    latencies = sorted(lat.values())
    # lag growth: per-transaction latency (its slowest line) in schedule order
    by_time = sorted(committed.items(), key=lambda kv: kv[1])
    quarter = max(1, len(by_time) // 4)
    head = [lat[i] for i, _ in by_time[:quarter] if i in lat]
    tail = [lat[i] for i, _ in by_time[-quarter:] if i in lat]
    drain = (max(seen.values()) - load_end) if seen else None
    achieved = (1 + work.lines) * len(order_commit) / elapsed
    result = {"requested_changes_per_s": rate, "achieved_changes_per_s": round(achieved, 1), "duration_s": round(elapsed, 1),
              "transactions": len(order_commit), "order_lines": len(committed), "visible": len(latencies),
              "p50_ms": _q(latencies, 50), "p95_ms": _q(latencies, 95), "p99_ms": _q(latencies, 99),
              "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
              "first_quarter_p50_ms": _q(head, 50), "last_quarter_p50_ms": _q(tail, 50),
              "drain_s_after_load": round(drain, 2) if drain is not None else None}
    # where the time went: the stages of every order and order line event of this run, from their
    # own times in the warehouse (whctl status's "freshness by stage", unbounded here)
    with _conn(settings, "warehouse") as wh:
        stages = health.stage_latency(wh, window_s=time.time() - run_began + 1, max_events=10**9, max_batches=10**9,
                                      tables=("orders", "order_items"))
    result["stages_ms"] = {name: {k.replace("_s", "_ms"): None if v is None else round(v * 1000, 1) for k, v in q.items()}
                           for name, q in stages["stages"].items()}
    result["stages_events"] = stages["events"]
    result["kept_up"] = bool(
        len(latencies) == len(committed) and achieved >= 0.95 * rate and drain is not None and drain <= 2.0
        and head and tail and statistics.median(tail) <= statistics.median(head) + 0.5)
    return result


def stage_table(runs: list[dict]) -> str:
    """Per rate: end to end as the watcher saw it (commit -> fact visible), beside each stage's p50/p95."""
    names = list(health.STAGES)
    lines = ["| changes/s | commit -> fact visible p50 / p95 | " + " | ".join(health.STAGE_LABELS[n] + " p50 / p95" for n in names) + " |",
             "|---" * (2 + len(names)) + "|"]
    for r in runs:
        st = r["stages_ms"]
        lines.append(f"| {r['requested_changes_per_s']} | {r['p50_ms']} / {r['p95_ms']} ms | "
                     + " | ".join(f"{st[n]['p50_ms']} / {st[n]['p95_ms']} ms" for n in names) + " |")
    return "\n".join(lines)


def find_max(settings: Settings, work: Workload, steps: list[int], duration: float, connections: int, poll_ms: int) -> dict:
    runs, best = [], None
    for rate in steps:
        run = latency_run(settings, work, rate, duration, connections, poll_ms)
        runs.append(run)
        print(json.dumps(run), flush=True)
        if not run["kept_up"]:
            break
        best = rate
    return {"highest_kept_up_changes_per_s": best, "steps": runs}


# --- throughput -------------------------------------------------------------------------------

def _wait_state(api: connect_api.Connect, name: str, state: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = api.status(name)
        if status and status["connector"]["state"] == state and all(t["state"] == state for t in status.get("tasks", [])):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not reach {state}: {api.status(name)}")


def _slot_caught_up(settings: Settings, timeout: float = 300) -> None:
    """Wait until the source connector has published (and confirmed) everything committed so far."""
    with _conn(settings, "source") as src:
        target = src.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ok = src.execute("SELECT confirmed_flush_lsn >= %s FROM pg_replication_slots WHERE slot_name = %s",
                             (target, pipeline.SLOT)).fetchone()[0]
            if ok:
                return
            time.sleep(0.2)
    raise RuntimeError("the source connector did not publish the backlog in time")


def _drain(settings: Settings, api: connect_api.Connect, name: str, schema: str, first_item: int, items: int, orders: int) -> dict:
    with _conn(settings, "warehouse") as wh:
        marks = {t: wh.execute(f"SELECT coalesce(max(landing_id), 0) FROM {schema}.{t}").fetchone()[0] for t in TABLES}
        api.call("PUT", f"/connectors/{name}/resume")
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            got_items = wh.execute(f"SELECT count(*) FROM {schema}.order_items WHERE order_item_id >= %s", (first_item,)).fetchone()[0]
            got_orders = wh.execute(f"SELECT count(*) FROM {schema}.orders WHERE order_id >= %s", (first_item - 1,)).fetchone()[0]
            if got_items >= items and got_orders >= orders:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"{name} did not drain the backlog into {schema}")
        api.call("PUT", f"/connectors/{name}/stop")
        events, first, last = 0, None, None
        for t in TABLES:
            n, lo, hi = wh.execute(f"SELECT count(*), min(__landed_at), max(__landed_at) FROM {schema}.{t} WHERE landing_id > %s",
                                   (marks[t],)).fetchone()
            events += n
            if n:
                first = lo if first is None else min(first, lo)
                last = hi if last is None else max(last, hi)
        if schema == "landing":
            applied = wh.execute("SELECT max(last_applied_at) FROM ops.apply_stats").fetchone()[0]
            last = max(last, applied)
        seconds = (last - first).total_seconds()
        return {"events": events, "seconds": round(seconds, 2), "events_per_s": round(events / seconds)}


def throughput_run(settings: Settings, work: Workload, transactions: int, per_commit: int = 100) -> dict:
    api = connect_api.Connect(settings)
    sink, bench = pipeline.SINK_CONNECTOR, "whctl-bench-plain"
    pipeline.wait_for_warehouse(settings, 300)
    requests.delete(f"{api.url}/connectors/{bench}", timeout=30)
    with _conn(settings, "warehouse") as wh:
        wh.execute("DROP SCHEMA IF EXISTS plain CASCADE")
        wh.execute("CREATE SCHEMA plain")
        for t in TABLES:
            wh.execute(f"CREATE TABLE plain.{t} (LIKE landing.{t} INCLUDING ALL)")
    api.call("PUT", f"/connectors/{sink}/stop")
    _wait_state(api, sink, "STOPPED")
    offsets = api.call("GET", f"/connectors/{sink}/offsets").json()
    config = dict(pipeline.desired_connectors(settings)[sink])
    config.update({"name": bench, "collection.name.format": "plain.${topic}", "connection.username": settings.pg_user,
                   "connection.password": config["connection.password"].replace("wh_loader.password", f"{settings.pg_user}.password"),
                   "errors.deadletterqueue.topic.name": "whctl.dlq.bench"})
    response = requests.post(f"{api.url}/connectors", json={"name": bench, "config": config, "initial_state": "STOPPED"}, timeout=60)
    response.raise_for_status()
    _wait_state(api, bench, "STOPPED")
    response = requests.patch(f"{api.url}/connectors/{bench}/offsets", json=offsets, timeout=60)
    response.raise_for_status()
    try:
        # the backlog: `transactions` orders with their lines, committed `per_commit` orders at a time
        first_order = None
        with _conn(settings, "source") as src, src.cursor() as cur:
            for start in range(0, transactions, per_commit):
                with src.transaction():
                    for _ in range(min(per_commit, transactions - start)):
                        order_id, items = work.ids()
                        first_order = order_id if first_order is None else first_order
                        work.write(cur, order_id, items)
        _slot_caught_up(settings)
        time.sleep(2)  # the producer's last sends
        items = transactions * work.lines
        triggered = _drain(settings, api, sink, "landing", first_order + 1, items, transactions)
        plain = _drain(settings, api, bench, "plain", first_order + 1, items, transactions)
    finally:
        requests.delete(f"{api.url}/connectors/{bench}", timeout=30)
        api.call("PUT", f"/connectors/{sink}/resume")
        with _conn(settings, "warehouse") as wh:
            wh.execute("DROP SCHEMA IF EXISTS plain CASCADE")
    return {"backlog_transactions": transactions, "backlog_changes": transactions * (1 + work.lines),
            "with_triggers": triggered, "trigger_less": plain,
            "ratio": round(triggered["events_per_s"] / plain["events_per_s"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,1000", help="source changes per second, comma-separated (default 100,1000; '' to skip)")
    parser.add_argument("--duration", type=float, default=60, help="seconds per rate (default 60)")
    parser.add_argument("--lines", type=int, default=3, help="order lines per transaction (default 3: 4 changes)")
    parser.add_argument("--connections", type=int, default=4, help="generator connections (default 4)")
    parser.add_argument("--customers", type=int, default=300, help="bench customers seeded first (default 300)")
    parser.add_argument("--products", type=int, default=300, help="bench products seeded first (default 300)")
    parser.add_argument("--poll-ms", type=int, default=20, help="watcher poll interval (default 20 ms)")
    parser.add_argument("--find-max", action="store_true", help="step the rate up until the warehouse no longer keeps up")
    parser.add_argument("--steps", default="500,1000,2000,3000,4000,5000,6000,8000", help="rates of --find-max (changes/s)")
    parser.add_argument("--step-duration", type=float, default=20, help="seconds per --find-max step (default 20)")
    parser.add_argument("--throughput", type=int, default=0, help="transactions in the throughput backlog (0: skip)")
    parser.add_argument("--throughput-runs", type=int, default=3, help="drains of --throughput, medians reported (default 3)")
    args = parser.parse_args()
    settings = Settings.from_env()
    work = Workload(settings, args.customers, args.products, args.lines)
    results: dict = {"settings": {k: getattr(args, k) for k in ("duration", "lines", "connections", "customers", "products", "poll_ms")}}
    results["latency"] = []
    for r in filter(None, args.rates.split(",")):
        run = latency_run(settings, work, int(r), args.duration, args.connections, args.poll_ms)
        print(json.dumps(run), flush=True)
        results["latency"].append(run)
    if results["latency"]:
        print(stage_table(results["latency"]), flush=True)
    if args.find_max:
        results["sustained"] = find_max(settings, work, [int(s) for s in args.steps.split(",")], args.step_duration,
                                        args.connections, args.poll_ms)
    if args.throughput:
        # a drain lasts seconds and Connect's polling makes one drain noisy: medians of several
        runs = []
        for _ in range(args.throughput_runs):
            runs.append(throughput_run(settings, work, args.throughput))
            print(json.dumps(runs[-1]), flush=True)
        triggered = statistics.median(r["with_triggers"]["events_per_s"] for r in runs)
        plain = statistics.median(r["trigger_less"]["events_per_s"] for r in runs)
        results["throughput"] = {"runs": runs, "median_with_triggers_events_per_s": round(triggered),
                                 "median_trigger_less_events_per_s": round(plain),
                                 "ratio_of_medians": round(triggered / plain, 2)}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
