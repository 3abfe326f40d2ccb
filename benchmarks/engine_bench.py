"""Engine benchmark: change events applied per second by the landing triggers, against the same
inserts into identical tables without triggers, and the floor no engine can beat (those inserts
plus only the fact writes promises 5-6 require); and the proposal's KPI queries on a large fact table.

    .venv/bin/python benchmarks/engine_bench.py [--events 200000] [--batch 500] [--runs 3] [--facts 1000000]
        [--per-table] [--snapshot] [--breakdown]

Uses WH_BENCH_ADMIN_DSN (a superuser DSN) when set, else starts a throw-away PostgreSQL cluster.
Prints medians over --runs runs, all measured in this one process run (the machine is shared and
noisy: compare the ratio, not absolute figures across runs). Not a test: it asserts nothing.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "cli"))
sys.path.insert(0, str(ROOT))

from tests.sql.changes import Source, customer, order, order_item, product, table_of  # noqa: E402
from whctl import schema  # noqa: E402
from whctl.config import Settings  # noqa: E402
from whctl.kpi_queries import QUERIES as KPI_QUERIES  # noqa: E402
from whctl.pgserver import throwaway_cluster  # noqa: E402

TABLES = ("customers", "products", "orders", "order_items")
# The type-7 views (plpgsql/dw/current_attribute_views.sql), timed beside the proposal's queries.
VIEWS = ("dw.customer_lifetime_value", "dw.customer_segmentation", "dw.product_sales")


def synthetic_events(n: int, seed: int = 7, out_of_order: float = 0.05, snapshot: bool = False) -> list[dict]:
    """About n change events: a snapshot of customers and products, then orders with 1-5 lines,
    with a customer or product change every ~25 events; a share displaced to later batches.
    With `snapshot`, Debezium's initial snapshot of the same shop instead: every event a read
    (`r`) of the row as it is, no changes, in table order."""
    if snapshot:
        out_of_order = 0.0
    rng = random.Random(seed)
    src = Source()
    customers, products = max(50, n // 100), max(50, n // 200)
    start = datetime(2025, 1, 1)
    events = [src.change("customers", "r", customer(i, city=f"City {i % 40}"), start) for i in range(1, customers + 1)]
    events += [src.change("products", "r", product(i, price=rng.randint(5, 500)), start) for i in range(1, products + 1)]
    order_id, item_id, at = 0, 0, start
    while len(events) < n:
        at += timedelta(seconds=rng.randint(1, 300))
        if not snapshot and rng.random() < 0.12:
            cid = rng.randint(1, customers)
            events.append(src.change("customers", "u", customer(cid, address=f"{rng.randint(1, 999)} New St",
                                                                 city=f"City {rng.randint(0, 39)}"), at))
            pid = rng.randint(1, products)
            events.append(src.change("products", "u", product(pid, price=rng.randint(5, 500)), at))
        order_id += 1
        op = "r" if snapshot else "c"
        events.append(src.change("orders", op, order(order_id, rng.randint(1, customers), at), start if snapshot else at))
        for _ in range(rng.randint(1, 5)):
            item_id += 1
            events.append(src.change("order_items", op, order_item(item_id, order_id, rng.randint(1, products),
                                                                   quantity=rng.randint(1, 4)), start if snapshot else at))
    events = events[:n]
    if snapshot:  # the snapshot reads one table after the other
        events.sort(key=lambda e: TABLES.index(table_of(e)))
    # Out of order: a share of events is moved up to ~2000 positions later.
    for i in rng.sample(range(len(events)), int(len(events) * out_of_order)):
        j = min(len(events) - 1, i + rng.randint(1, 2000))
        events[i], events[j] = events[j], events[i]
    return events


def sink_batches(events: list[dict], batch: int, per_table: bool = False) -> list[tuple[str, list[dict]]]:
    """Batches as the JDBC sink writes them. By default Kafka Connect hands it polls of up to
    `batch` records across the topics, and it writes one multi-row INSERT per table of each poll
    (what a sink that keeps up does). With `per_table`, each table's events are cut into batches of
    `batch` as they come (what a sink draining a backlog does): dimension changes then land later."""
    batches = []
    if per_table:
        pending: dict[str, list[dict]] = {}
        for event in events:
            table = table_of(event)
            rows = pending.setdefault(table, [])
            rows.append(event)
            if len(rows) == batch:
                batches.append((table, pending.pop(table)))
        return batches + list(pending.items())
    for start in range(0, len(events), batch):
        poll: dict[str, list[dict]] = {}
        for event in events[start:start + batch]:
            poll.setdefault(table_of(event), []).append(event)
        batches += list(poll.items())
    return batches


def backend_cpu(conn) -> float:
    """Seconds of CPU the connection's server process has used (Linux /proc/<pid>/schedstat; the
    server must run on this machine), NaN where it cannot be read. Unlike wall time, it does not
    grow when other work shares the CPUs, so its ratios hold on a busy machine. The engine runs in
    the inserting session (the triggers, and the apply at commit), so its work is counted here."""
    try:
        return int(Path(f"/proc/{conn.info.backend_pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return float("nan")


def insert_batches(conn, schema_name: str, batches) -> float:
    """Insert every batch as one multi-row INSERT in its own transaction; return seconds.
    Statements and parameters are built before the clock starts: only the database is timed."""
    statements = []
    cursor = psycopg.ClientCursor(conn)
    for table, rows in batches:
        columns = list(rows[0])
        row_sql = sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() * len(columns)))
        query = sql.SQL("INSERT INTO {}.{} ({}) VALUES {}").format(
            sql.Identifier(schema_name), sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join([row_sql] * len(rows))).as_string(conn)
        statements.append(cursor.mogrify(query, [r[c] for r in rows for c in columns]))
    began = time.perf_counter()
    for statement in statements:
        conn.execute(statement)
    return time.perf_counter() - began


def fresh_database(admin_dsn: str, name: str) -> str:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = psycopg.conninfo.make_conninfo(admin_dsn, dbname=name)
    schema.migrate(Settings.from_env(warehouse_dsn=dsn))
    with psycopg.connect(dsn, autocommit=True) as conn:
        # The same landing tables (columns, identity, defaults, indexes) without the engine's triggers.
        conn.execute("CREATE SCHEMA plain")
        for table in TABLES:
            conn.execute(sql.SQL("CREATE TABLE plain.{} (LIKE landing.{} INCLUDING ALL)").format(
                sql.Identifier(table), sql.Identifier(table)))
    return dsn


def fact_writes_seconds(conn, batches) -> tuple[float, int]:
    """Seconds taken by the fact writes alone that promises 5 and 6 require of any engine, replayed
    batch by batch as plain statements on a copy of dw.fact_orders (same indexes) after the engine
    has run: each order line's fact is inserted with its batch, pointing at the unknown members
    while its order has not landed yet, and written again when its order lands. No validation,
    dimension work, key lookup or re-pointing: the values are the engine's final facts.
    Returns the seconds and the number of writes."""
    conn.execute("DROP SCHEMA IF EXISTS floor CASCADE")
    conn.execute("CREATE SCHEMA floor")
    conn.execute("CREATE TABLE floor.fact_orders (LIKE dw.fact_orders INCLUDING ALL)")
    conn.execute("CREATE TABLE floor.final AS SELECT * FROM dw.fact_orders")
    conn.execute("CREATE UNIQUE INDEX ON floor.final (order_item_id)")
    conn.execute("VACUUM ANALYZE floor.final")
    columns = "order_id, order_item_id, customer_key, product_key, date_key, quantity, unit_price, line_total, " \
              "order_status, customer_id, product_id, order_date, created_at"
    statements, writes, landed_orders = [], 0, set()
    for table, rows in batches:
        if table == "order_items":
            ids = [r["order_item_id"] for r in rows]
            waiting = [r["order_id"] not in landed_orders for r in rows]
            statements.append((f"""INSERT INTO floor.fact_orders ({columns})
                SELECT f.order_id, f.order_item_id,
                       CASE WHEN b.w THEN -1 ELSE f.customer_key END, CASE WHEN b.w THEN -1 ELSE f.product_key END,
                       CASE WHEN b.w THEN -1 ELSE f.date_key END, f.quantity, f.unit_price, f.line_total,
                       CASE WHEN NOT b.w THEN f.order_status END, CASE WHEN NOT b.w THEN f.customer_id END,
                       f.product_id, CASE WHEN NOT b.w THEN f.order_date END, f.created_at
                FROM unnest(%s::integer[], %s::boolean[]) AS b (order_item_id, w)
                JOIN floor.final f USING (order_item_id)""", (ids, waiting)))
        elif table == "orders":
            ids = [r["order_id"] for r in rows]
            landed_orders.update(ids)
            statements.append(("""UPDATE floor.fact_orders f
                SET (customer_key, product_key, date_key, order_status, customer_id, order_date)
                  = (x.customer_key, x.product_key, x.date_key, x.order_status, x.customer_id, x.order_date)
                FROM floor.final x
                WHERE f.order_id = ANY(%s) AND f.customer_key = -1 AND x.order_item_id = f.order_item_id""", (ids,)))
    # the planner settings the engine runs with (dw.apply_changes): index-driven, no JIT
    conn.execute("SET enable_seqscan = off")
    conn.execute("SET jit = off")
    began = time.perf_counter()
    for statement, params in statements:
        writes += conn.execute(statement, params).rowcount
    elapsed = time.perf_counter() - began
    conn.execute("RESET enable_seqscan")
    conn.execute("RESET jit")
    return elapsed, writes


def fixed_cost_samples(conn, events: list[dict], repeats: int) -> dict[str, tuple[list[float], list[float], float, float]]:
    """The fixed cost of a table batch: one-event batches (each a duplicate of a landed event, the
    table's last `repeats`, so every key is one the engine knows) inserted one per transaction
    into landing and into the trigger-less copy, alternately. Returns, per table, the seconds of each
    batch with and without the engine, and the server's mean CPU seconds per batch with and without."""
    samples = {}
    for table in TABLES:
        engine, plain, engine_cpu, plain_cpu = [], [], 0.0, 0.0
        for event in [e for e in events if table_of(e) == table][-repeats:]:
            cpu = backend_cpu(conn)
            engine.append(insert_batches(conn, "landing", [(table, [event])]))
            engine_cpu += backend_cpu(conn) - cpu
            cpu = backend_cpu(conn)
            plain.append(insert_batches(conn, "plain", [(table, [event])]))
            plain_cpu += backend_cpu(conn) - cpu
        samples[table] = (engine, plain, engine_cpu / len(engine), plain_cpu / len(plain))
    return samples


def bench_apply(admin_dsn: str, events: list[dict], batch: int, runs: int, per_table: bool,
                fixed_repeats: int = 300) -> None:
    batches = sink_batches(events, batch, per_table)
    with_triggers, without, floor, cpu_ratio = [], [], [], []
    fixed: dict[str, tuple[list[float], list[float], list[float], list[float]]] = {t: ([], [], [], []) for t in TABLES}
    for run in range(runs):
        dsn = fresh_database(admin_dsn, "whctl_bench")
        with psycopg.connect(dsn, autocommit=True) as conn:
            cpu = backend_cpu(conn)
            plain_seconds = insert_batches(conn, "plain", batches)
            plain_cpu = backend_cpu(conn) - cpu
            without.append(len(events) / plain_seconds)
            cpu = backend_cpu(conn)
            with_triggers.append(len(events) / insert_batches(conn, "landing", batches))
            engine_cpu = backend_cpu(conn) - cpu
            facts = conn.execute("SELECT count(*) FROM dw.fact_orders").fetchone()[0]
            quarantined = conn.execute("SELECT count(*) FROM ops.quarantine").fetchone()[0]
            cpu = backend_cpu(conn)
            writes_seconds, writes = fact_writes_seconds(conn, batches)
            writes_cpu = backend_cpu(conn) - cpu
            floor.append(len(events) / (plain_seconds + writes_seconds))
            cpu_ratio.append((plain_cpu + writes_cpu) / engine_cpu)
            for table, (engine, plain, engine_cpu, plain_cpu) in fixed_cost_samples(conn, events, fixed_repeats).items():
                fixed[table][0].extend(engine)
                fixed[table][1].extend(plain)
                fixed[table][2].append(engine_cpu)
                fixed[table][3].append(plain_cpu)
        print(f"  run {run + 1}: {with_triggers[-1]:,.0f} events/s with triggers, {without[-1]:,.0f} without, "
              f"{floor[-1]:,.0f} landing plus fact writes alone ({facts:,} facts, {writes:,} fact writes, "
              f"{quarantined} quarantined); engine ÷ floor {with_triggers[-1] / floor[-1]:.2f} by wall time, "
              f"{cpu_ratio[-1]:.2f} by server CPU time", file=sys.stderr)
    applied, plain, ceiling = statistics.median(with_triggers), statistics.median(without), statistics.median(floor)
    shape = f"batches of {batch} per table" if per_table else f"sink polls of {batch}"
    print(f"events: {len(events):,} in {shape} ({len(batches):,} table batches)")
    print(f"applied by the engine:   {applied:,.0f} events/s (median of {runs})")
    print(f"insert without triggers: {plain:,.0f} events/s (median of {runs})")
    print(f"overhead ratio:          {plain / applied:.2f}")
    print(f"floor: the inserts plus only the fact writes promises 5-6 require: {ceiling:,.0f} events/s, "
          f"ratio {plain / ceiling:.2f} (median of {runs})")
    print(f"engine ÷ floor:          {applied / ceiling:.2f} by wall time, {statistics.median(cpu_ratio):.2f} by the "
          f"server's CPU time (median of {runs})")
    print(f"fixed cost per table batch: a one-event batch (a duplicate of a landed event), one per transaction; "
          f"wall time median of {len(fixed['order_items'][0]):,}, server CPU time mean (median of {runs} runs):")
    for table, (engine, plain, engine_cpu, plain_cpu) in fixed.items():
        print(f"  {table:<12} {statistics.median(engine) * 1000:6.2f} ms with the engine, "
              f"{statistics.median(plain) * 1000:5.2f} ms without; CPU {statistics.median(engine_cpu) * 1000:5.2f} ms "
              f"with, {statistics.median(plain_cpu) * 1000:5.2f} ms without")


def print_breakdown(admin_dsn: str, events: list[dict], batch: int, per_table: bool) -> None:
    """Where the engine's time goes: one more pass of the same batches into landing, in a fresh
    database, with PostgreSQL counting the time of every PL/pgSQL function (track_functions = pl,
    set for this session only; the timed runs above do not pay for it). Prints each function's
    self time (its own statements, without the functions it calls) and its share of the pass's wall
    time; what no function holds is the landing inserts themselves and the client's round trips."""
    batches = sink_batches(events, batch, per_table)
    dsn = fresh_database(admin_dsn, "whctl_bench_breakdown")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET track_functions = 'pl'")
        conn.execute("SELECT pg_stat_reset()")
        seconds = insert_batches(conn, "landing", batches)
        conn.execute("SELECT pg_stat_force_next_flush()")
    with psycopg.connect(dsn, autocommit=True) as conn:  # the pass's session has ended: its counts are in
        rows = conn.execute("""SELECT schemaname || '.' || funcname, sum(calls)::bigint, sum(self_time)::float8 / 1000
                               FROM pg_stat_user_functions GROUP BY 1 ORDER BY 3 DESC""").fetchall()
    print(f"where the engine's time goes ({len(events):,} events, {len(batches):,} table batches, {seconds:.2f} s wall, "
          f"track_functions = pl): self time per function")
    for name, calls, self_s in rows:
        if self_s >= 0.005 * seconds:
            print(f"  {name:<36} {calls:>8,} calls {self_s:7.2f} s {self_s / seconds:6.1%}"
                  f" {self_s / calls * 1000:7.3f} ms per call")
    rest = seconds - sum(r[2] for r in rows)
    print(f"  {'(no function: the inserts, round trips)':<36} {len(batches):>8,} batches {rest:5.2f} s {rest / seconds:6.1%}"
          f" {rest / len(batches) * 1000:7.3f} ms per batch")


def bench_kpi(admin_dsn: str, facts: int, repeats: int = 5) -> None:
    dsn = fresh_database(admin_dsn, "whctl_bench_kpi")
    with psycopg.connect(dsn, autocommit=True) as conn:
        print(f"loading {facts:,} facts for the KPI queries", file=sys.stderr)
        conn.execute("SELECT dw.ensure_dates('2024-01-01', '2025-12-31')")
        conn.execute("""INSERT INTO dw.dim_customer (customer_id, first_name, last_name, city, country, valid_from)
                        SELECT i, 'First' || i, 'Last' || i, 'City ' || i % 200, 'Country ' || i % 20, '1900-01-01'
                        FROM generate_series(1, 50000) i""")
        # 2000 products with three price versions each
        conn.execute("""INSERT INTO dw.dim_product (product_id, product_name, category, brand, price, cost, valid_from, valid_to,
                                                    is_current, version)
                        SELECT i, 'Product ' || i, 'Category ' || i % 25, 'Brand ' || i % 60, 10 + v * 5 + i % 90, 8,
                               CASE v WHEN 1 THEN '1900-01-01'::timestamp ELSE timestamp '2024-01-01' + (v * interval '200 days') END,
                               CASE v WHEN 3 THEN '9999-12-31'::timestamp ELSE timestamp '2024-01-01' + ((v + 1) * interval '200 days') END,
                               v = 3, v
                        FROM generate_series(1, 2000) i, generate_series(1, 3) v""")
        conn.execute(f"""INSERT INTO dw.fact_orders (order_id, order_item_id, customer_key, product_key, date_key, quantity,
                                                     unit_price, line_total, order_status, customer_id, product_id, order_date)
                         SELECT i / 3, i, c.customer_key, p.product_key, to_char(t, 'YYYYMMDD')::int, 1 + i % 4,
                                p.price, p.price * (1 + i % 4), 'delivered', c.customer_id, p.product_id, t
                         FROM generate_series(1, {facts}) i
                         CROSS JOIN LATERAL (SELECT timestamp '2024-01-01' + (i % 700) * interval '1 day' AS t) ts
                         JOIN dw.dim_customer c ON c.customer_id = 1 + (i::bigint * 7919) % 50000 AND c.customer_key > 0
                         JOIN dw.dim_product p ON p.product_id = 1 + (i::bigint * 104729) % 2000
                              AND ts.t >= p.valid_from AND ts.t < p.valid_to""")
        # facts written around the engine: their key map and sales aggregates recomputed in bulk
        conn.execute("INSERT INTO dw.fact_order_lines SELECT order_item_id, order_id, order_date FROM dw.fact_orders")
        conn.execute("SELECT dw.recompute_sales()")
        conn.execute("VACUUM ANALYZE")
        print_kpi_times(conn, repeats)


def print_kpi_times(conn, repeats: int = 5) -> None:
    """Print the median time of each of the proposal's KPI queries and of each type-7 view."""
    print(f"KPI queries on {conn.execute('SELECT count(*) FROM dw.fact_orders').fetchone()[0]:,} facts "
          f"(median of {repeats}):")
    for name, query in {**KPI_QUERIES, **{f"SELECT * FROM {view}": f"SELECT * FROM {view}" for view in VIEWS}}.items():
        print(f"  {name:<42} {median_ms(conn, query, repeats):8.1f} ms")


def median_ms(conn, query: str, repeats: int = 5) -> float:
    """Median milliseconds of `repeats` runs of `query` (all rows fetched), after one run that warms the cache."""
    conn.execute(query).fetchall()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        conn.execute(query).fetchall()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="change events to apply (0 skips this part)")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--per-table", action="store_true",
                        help="batches of --batch events per table instead of sink polls of --batch records")
    parser.add_argument("--snapshot", action="store_true",
                        help="the initial snapshot of a shop (every event a read, table after table) instead of the change mix")
    parser.add_argument("--breakdown", action="store_true",
                        help="then one more pass with PostgreSQL timing each PL/pgSQL function: where the engine's time goes")
    parser.add_argument("--facts", type=int, default=1_000_000, help="fact rows for the KPI queries (0 skips them)")
    args = parser.parse_args()
    admin_dsn = os.environ.get("WH_BENCH_ADMIN_DSN")
    server = contextlib.nullcontext(admin_dsn) if admin_dsn else throwaway_cluster(
        "whctl-bench-pg-", {"shared_buffers": "'512MB'", "work_mem": "'32MB'"})
    with server as admin_dsn:
        if args.events:
            events = synthetic_events(args.events, snapshot=args.snapshot)
            bench_apply(admin_dsn, events, args.batch, args.runs, args.per_table)
            if args.breakdown:
                print_breakdown(admin_dsn, events, args.batch, args.per_table)
        if args.facts:
            bench_kpi(admin_dsn, args.facts)

if __name__ == "__main__":
    main()
