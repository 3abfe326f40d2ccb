"""Scale benchmark (not a test): a year of a mid-size shop (issue 14). It asserts nothing: it prints
one table, every ratio measured in this one process run (the machine is shared and noisy).

    .venv/bin/python benchmarks/scale_bench.py [--scale 1.0] [--parts snapshot,growth,disk] [--limit-min 40]

The shop at --scale 1: 100,000 customers, 10,000 products, 1,000,000 orders, 3,000,000 order lines;
a fifth of the customers move and every product is repriced three times. Every size is multiplied
by --scale (0.01 develops it in minutes). Parts (--parts, comma-separated, default all):

snapshot  The source is filled first (set-based), then `whctl deploy` and Debezium's initial
          snapshot through Kafka, the JDBC sink and the engine, on a sandbox stack (free loopback
          ports, its own state folder, supervisor included; tests/e2e/workload.py). The same is run
          on a second sandbox stack whose sink role has `session_replication_role = replica`: the
          same pipeline into the same landing tables and indexes, with the engine's triggers not
          firing. Prints the time from deploy to the last event applied (landed, without the
          engine) and events/s for both, and their ratio; then the moves and reprices stream
          through; then `whctl verify` (clean or not), the time of `whctl status` (median of 3)
          and the disk per landed event and per fact.
growth    Events/s of the engine benchmark's mix (benchmarks/engine_bench.py, polls of 500) with
          dw already holding 0, 1M and 10M facts, against the same inserts without triggers. The
          warehouse at 1M and 10M is the shop's year(s) of change events, loaded into landing
          set-based (triggers off), then `whctl rebuild` (timed: the rebuild figure), then the
          proposal's five KPI queries verbatim and the type-7 views (median of 5, after a warm run).
          Orders span 1M/3M and 10M/3M years, ending 2025-12-31, so November 2025 holds a month
          of orders at both sizes.
status    `whctl status` against a warehouse whose landing holds the shop's events at 10M facts
          (set-based, counted in ops.apply_stats as the engine would have), median of 3: what
          status and the supervisor pay as landing grows (Kafka, Connect and the source absent).
disk      Bytes per landed event and per fact (tables and indexes), landing and dw separately, of
          the snapshot's warehouse and of the 10M warehouse (needs the part that built each).

Every part stops at --limit-min minutes per step and reports "did not finish in N min".
The growth part runs on a throw-away PostgreSQL cluster (engine_bench's settings), or on
WH_BENCH_ADMIN_DSN (a superuser DSN) when set.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "cli"))
sys.path.insert(0, str(ROOT))

from benchmarks.engine_bench import fresh_database, insert_batches, median_ms, sink_batches, synthetic_events  # noqa: E402
from tests.conftest import run_whctl  # noqa: E402
from tests.e2e.workload import scratch_stack  # noqa: E402
from whctl import health  # noqa: E402
from whctl.config import PROJECT_ROOT, Settings  # noqa: E402
from whctl.kpi_queries import QUERIES as KPI_QUERIES  # noqa: E402
from whctl.pgserver import free_ports, throwaway_cluster  # noqa: E402
from whctl.web.reads import VIEW_KPIS  # noqa: E402

SHOP_TABLES = ("customers", "products", "orders", "order_items")
LINES_PER_ORDER = 3
MOVERS = 5        # every 5th customer moves once
REPRICES = 3      # every product is repriced this many times
MIX_OFFSET = 100_000_000  # the engine benchmark's mix gets ids above the shop's
BENCH_PG = {"shared_buffers": "'512MB'", "work_mem": "'32MB'", "max_wal_size": "'4GB'"}


class DidNotFinish(Exception):
    pass


@dataclass(frozen=True)
class Shop:
    customers: int
    products: int
    orders: int
    years: float = 1.0  # the orders span this many years, ending 2025-12-31

    @classmethod
    def at(cls, scale: float, lines: int | None = None) -> "Shop":
        """The shop at `scale`; with `lines`, that many order lines (the years grow with them)."""
        orders = max(1000, round(1_000_000 * scale))
        years = 1.0 if lines is None else lines / (orders * LINES_PER_ORDER)  # the shop's orders are a year's
        return cls(max(1000, round(100_000 * scale)), max(100, round(10_000 * scale)),
                   orders if lines is None else lines // LINES_PER_ORDER, years)

    @property
    def lines(self) -> int:
        return self.orders * LINES_PER_ORDER

    @property
    def events(self) -> int:
        return self.customers + self.products + self.orders + self.lines

    @property
    def history(self) -> int:
        return self.customers // MOVERS + REPRICES * self.products

    @property
    def span_s(self) -> int:
        return round(self.years * 365 * 86400)


# --- the shop, set-based ---------------------------------------------------------------------------

# Values shared by the source fill and the synthetic landing, so both describe the same shop.
# %(first)s: the first order's time; %(span)s::bigint seconds between it and the last; ids from 1.
CUSTOMER_COLUMNS = """i, 'First' || i, 'Last' || i, 'c' || i || '@example.com', '+1 555 ' || lpad(i::text, 7, '0'),
       i || ' Main St', 'City ' || i %% 500, 'Country ' || i %% 20"""
PRODUCT_COLUMNS = """i, 'Product ' || i, 'Category ' || i %% 25, 'Brand ' || i %% 60, 10 + i %% 490, 5 + i %% 200,
       'Product ' || i || ', a fine product'"""
ORDER_COLUMNS = """i, 1 + (i::bigint * 7919) %% %(customers)s::int, %(first)s::timestamp + (i::bigint * %(span)s::bigint / %(orders)s::int) * interval '1 second',
       (ARRAY['pending', 'processing', 'shipped', 'delivered'])[1 + i %% 4], 0"""
# line k (0-2) of order o is order line 3 (o - 1) + k + 1
LINE_COLUMNS = """l, o, 1 + (l::bigint * 104729) %% %(products)s::int, 1 + l %% 4, 10 + (1 + (l::bigint * 104729) %% %(products)s::int) %% 490,
       (1 + l %% 4) * (10 + (1 + (l::bigint * 104729) %% %(products)s::int) %% 490)"""
LINES_FROM = "generate_series(1, %(orders)s::int) o, generate_series(0, 2) k, LATERAL (SELECT 3 * (o - 1) + k + 1 AS l) x"


def shop_params(shop: Shop) -> dict:
    first = datetime(2026, 1, 1) - timedelta(seconds=shop.span_s)
    return {"customers": shop.customers, "products": shop.products, "orders": shop.orders, "span": shop.span_s,
            "first": first, "movers": MOVERS, "reprices": REPRICES}


def fill_source(settings: Settings, shop: Shop) -> None:
    """The application's tables, filled set-based before the deploy (the initial snapshot reads them)."""
    p = shop_params(shop)
    with psycopg.connect(**settings.connection_kwargs("source"), autocommit=True) as src:
        src.execute((PROJECT_ROOT / "cli" / "whctl" / "sql" / "source_schema.sql").read_text())
        src.execute(f"INSERT INTO customers (customer_id, first_name, last_name, email, phone, address, city, country)"
                    f" SELECT {CUSTOMER_COLUMNS} FROM generate_series(1, %(customers)s::int) i", p)
        src.execute(f"INSERT INTO products (product_id, product_name, category, brand, price, cost, description)"
                    f" SELECT {PRODUCT_COLUMNS} FROM generate_series(1, %(products)s::int) i", p)
        src.execute(f"INSERT INTO orders (order_id, customer_id, order_date, status, total_amount)"
                    f" SELECT {ORDER_COLUMNS} FROM generate_series(1, %(orders)s::int) i", p)
        src.execute(f"INSERT INTO order_items (order_item_id, order_id, product_id, quantity, unit_price, line_total)"
                    f" SELECT {LINE_COLUMNS} FROM {LINES_FROM}", p)
        src.execute("UPDATE orders o SET total_amount = s.total FROM (SELECT order_id, sum(line_total) AS total"
                    " FROM order_items GROUP BY 1) s WHERE s.order_id = o.order_id")
        for table, key in (("customers", "customer_id"), ("products", "product_id"), ("orders", "order_id"),
                           ("order_items", "order_item_id")):
            src.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{key}'), (SELECT max({key}) FROM {table}))")
        src.execute("VACUUM ANALYZE")


def stream_history(settings: Settings, shop: Shop) -> None:
    """The moves and reprices, committed in the source after the snapshot (one transaction each)."""
    with psycopg.connect(**settings.connection_kwargs("source"), autocommit=True) as src:
        src.execute("UPDATE customers SET address = customer_id || ' New St', city = 'City ' || (customer_id * 13) %% 500,"
                    " updated_at = now() WHERE customer_id %% %s = 0", (MOVERS,))
        for _ in range(REPRICES):
            src.execute("UPDATE products SET price = price + 1, updated_at = now()")


# The shop's change events as the sink would have landed them over the years (create events, then
# the moves and reprices), inserted set-based with the engine's triggers off (the session is
# `replica`); `whctl rebuild` then builds dw from them. %(first)s, %(span)s::bigint as above.
LANDING_FILL = {
    "customers": f"""
        INSERT INTO landing.customers (customer_id, first_name, last_name, email, phone, address, city, country,
                                       created_at, updated_at, __op, __lsn, __txid, __source_ts_us, __deleted, __topic, __partition, __offset)
        SELECT {CUSTOMER_COLUMNS}, t, t, 'c', us, us, us, 'false', 'whctl.public.customers', 0, i
        FROM generate_series(1, %(customers)s::int) i,
             LATERAL (SELECT %(first)s::timestamp - interval '30 days' + i * interval '1 second' AS t) c,
             LATERAL (SELECT (extract(epoch FROM c.t) * 1e6)::bigint AS us) u;
        INSERT INTO landing.customers (customer_id, first_name, last_name, email, phone, address, city, country,
                                       created_at, updated_at, __op, __lsn, __txid, __source_ts_us, __deleted, __topic, __partition, __offset)
        SELECT i, 'First' || i, 'Last' || i, 'c' || i || '@example.com', '+1 555 ' || lpad(i::text, 7, '0'),
               i || ' New St', 'City ' || (i * 13) %% 500, 'Country ' || i %% 20,
               %(first)s::timestamp - interval '30 days', t, 'u', us, us, us, 'false', 'whctl.public.customers', 0, i
        FROM generate_series(%(movers)s::int, %(customers)s::int, %(movers)s::int) i,
             LATERAL (SELECT %(first)s::timestamp + ((i::bigint * 7919) %% %(span)s::bigint) * interval '1 second' AS t) c,
             LATERAL (SELECT (extract(epoch FROM c.t) * 1e6)::bigint AS us) u""",
    "products": f"""
        INSERT INTO landing.products (product_id, product_name, category, brand, price, cost, description,
                                      created_at, updated_at, __op, __lsn, __txid, __source_ts_us, __deleted, __topic, __partition, __offset)
        SELECT {PRODUCT_COLUMNS}, t, t, 'c', us, us, us, 'false', 'whctl.public.products', 0, i
        FROM generate_series(1, %(products)s::int) i,
             LATERAL (SELECT %(first)s::timestamp - interval '30 days' + i * interval '1 second' AS t) c,
             LATERAL (SELECT (extract(epoch FROM c.t) * 1e6)::bigint AS us) u;
        INSERT INTO landing.products (product_id, product_name, category, brand, price, cost, description,
                                      created_at, updated_at, __op, __lsn, __txid, __source_ts_us, __deleted, __topic, __partition, __offset)
        SELECT i, 'Product ' || i, 'Category ' || i %% 25, 'Brand ' || i %% 60, 10 + i %% 490 + r, 5 + i %% 200,
               'Product ' || i || ', a fine product', %(first)s::timestamp - interval '30 days', t,
               'u', us, us, us, 'false', 'whctl.public.products', 0, i
        FROM generate_series(1, %(products)s::int) i, generate_series(1, %(reprices)s::int) r,
             LATERAL (SELECT %(first)s::timestamp + (%(span)s::bigint * r / (%(reprices)s::int + 1) + i) * interval '1 second' AS t) c,
             LATERAL (SELECT (extract(epoch FROM c.t) * 1e6)::bigint AS us) u""",
    "orders": f"""
        INSERT INTO landing.orders (order_id, customer_id, order_date, status, total_amount, created_at, updated_at,
                                    __op, __lsn, __txid, __source_ts_us, __deleted, __topic, __partition, __offset)
        SELECT o.*, o.order_date, o.order_date, 'c', us, us, us, 'false', 'whctl.public.orders', 0, o.order_id
        FROM (SELECT {ORDER_COLUMNS} FROM generate_series(1, %(orders)s::int) i) o (order_id, customer_id, order_date, status, total_amount),
             LATERAL (SELECT (extract(epoch FROM o.order_date) * 1e6)::bigint AS us) u""",
    "order_items": f"""
        INSERT INTO landing.order_items (order_item_id, order_id, product_id, quantity, unit_price, line_total, created_at,
                                         __op, __lsn, __txid, __source_ts_us, __deleted, __topic, __partition, __offset)
        SELECT x.l, x.o, x.p, x.q, x.u, x.lt, t, 'c', us + x.k, us, us, 'false', 'whctl.public.order_items', 0, x.l
        FROM (SELECT {LINE_COLUMNS}, k FROM {LINES_FROM}) x (l, o, p, q, u, lt, k),
             LATERAL (SELECT %(first)s::timestamp + (x.o::bigint * %(span)s::bigint / %(orders)s::int) * interval '1 second' AS t) c,
             LATERAL (SELECT (extract(epoch FROM c.t) * 1e6)::bigint AS us) u""",
}


def fill_landing(dsn: str, shop: Shop, limit_s: float) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        limit_statements(conn, limit_s)
        for statements in LANDING_FILL.values():
            for statement in statements.split(";"):
                conn.execute(statement, shop_params(shop))
        conn.execute("VACUUM ANALYZE")
    return True


# --- helpers ----------------------------------------------------------------------------------------

def limit_statements(conn: psycopg.Connection, limit_s: float) -> None:
    conn.execute("SELECT set_config('statement_timeout', %s, false)", (f"{int(limit_s)}s",))


def deadline_wait(what: str, condition, limit_s: float, interval: float = 1.0):
    """Poll `condition` until it returns a true value (returned) or the limit passes."""
    until = time.monotonic() + limit_s
    while time.monotonic() < until:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise DidNotFinish(what)


def whctl(env: dict, limit_s: float, *args: str) -> dict:
    """A `whctl ... --json` command against `env`'s stack or warehouse, within the limit; its JSON."""
    try:
        result = subprocess.run([sys.executable, "-m", "whctl", *args, "--json"], capture_output=True, text=True, cwd=ROOT,
                                env={**os.environ, **env}, timeout=limit_s)
    except subprocess.TimeoutExpired:
        raise DidNotFinish(f"whctl {args[0]}") from None
    if not result.stdout.strip():
        raise RuntimeError(f"whctl {' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}")
    return {"returncode": result.returncode, **json.loads(result.stdout)}


def applied_events(wh: psycopg.Connection) -> int:
    """Events of the shop's tables the engine has applied (its own count, ops.apply_stats)."""
    return wh.execute("SELECT coalesce(sum(events), 0) FROM ops.apply_stats WHERE landing_table = ANY(%s)",
                      (list(SHOP_TABLES),)).fetchone()[0]


def disk(conn: psycopg.Connection, tables: list[str]) -> tuple[int, int]:
    """(table bytes incl. TOAST, index bytes) of the tables, a partitioned one as the sum of its partitions."""
    return conn.execute("""
        SELECT sum(pg_table_size(r)), sum(pg_indexes_size(r))
        FROM unnest(%s::text[]) t CROSS JOIN LATERAL (
            SELECT p.relid FROM pg_partition_tree(t::regclass) p WHERE p.isleaf  -- nothing for a plain table
            UNION ALL SELECT t::regclass WHERE NOT EXISTS (SELECT FROM pg_partition_tree(t::regclass))) x (r)""",
                        (tables,)).fetchone()


def disk_rows(conn: psycopg.Connection, label: str, events: int, facts: int) -> list[tuple[str, str]]:
    landing_table, landing_index = disk(conn, [f"landing.{t}" for t in SHOP_TABLES])
    fact_table, fact_index = disk(conn, ["dw.fact_orders"])
    dw_table, dw_index = disk(conn, [r[0] for r in conn.execute(
        "SELECT c.oid::regclass::text FROM pg_class c WHERE c.relnamespace = 'dw'::regnamespace AND c.relkind IN ('r', 'p')"
        " AND NOT c.relispartition")])
    return [(f"{label}: landing bytes per event (table + indexes)",
             f"{landing_table / events:,.0f} + {landing_index / events:,.0f} = {(landing_table + landing_index) / events:,.0f}"
             f" ({events:,} events, {(landing_table + landing_index) / 2**30:.2f} GiB)"),
            (f"{label}: fact_orders bytes per fact (table + indexes)",
             f"{fact_table / facts:,.0f} + {fact_index / facts:,.0f} = {(fact_table + fact_index) / facts:,.0f}"
             f" ({facts:,} facts, {(fact_table + fact_index) / 2**30:.2f} GiB)"),
            (f"{label}: all of dw per fact (every table of dw: dimensions, dates, and any other)", f"{(dw_table + dw_index) / facts:,.0f}")]


class Table:
    """The printed table: (part, figure, value) rows, printed as they come (stderr) and together at the end."""

    def __init__(self):
        self.rows: list[tuple[str, str, str]] = []

    def add(self, part: str, figure: str, value: str) -> None:
        self.rows.append((part, figure, value))
        print(f"[{time.strftime('%H:%M:%S')}] {part} | {figure} | {value}", file=sys.stderr, flush=True)

    def step(self, part: str, figure: str, limit_min: float, fn, *args):
        """Run one step; a step over its limit (or failing) is a row saying so, and the run goes on."""
        try:
            return fn(*args)
        except (DidNotFinish, psycopg.errors.QueryCanceled):
            self.add(part, figure, f"did not finish in {limit_min:g} min")
        except Exception as exc:  # a benchmark reports and goes on to the next part
            self.add(part, figure, f"failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        return None

    def render(self) -> str:
        lines = ["| part | figure | value |", "|---|---|---|"]
        lines += [f"| {p} | {f} | {v} |" for p, f, v in self.rows]
        return "\n".join(lines)


# --- snapshot: the real pipeline -------------------------------------------------------------------

def landed(settings: Settings, shop: Shop, limit_s: float, engine: bool) -> dict:
    """Wait for every snapshot event to land (and be applied, with the engine: in the same transaction);
    counts are kept incrementally by landing id, so the wait reads only new rows."""
    targets = {"customers": shop.customers, "products": shop.products, "orders": shop.orders, "order_items": shop.lines}
    counts, marks = dict.fromkeys(SHOP_TABLES, 0), dict.fromkeys(SHOP_TABLES, 0)
    with psycopg.connect(**settings.connection_kwargs("warehouse"), autocommit=True) as wh:
        def done():
            for t in SHOP_TABLES:
                n, top = wh.execute(f"SELECT count(*), max(landing_id) FROM landing.{t} WHERE landing_id > %s", (marks[t],)).fetchone()
                counts[t] += n
                marks[t] = top or marks[t]
            return all(counts[t] >= targets[t] for t in SHOP_TABLES)

        deadline_wait("snapshot landed", done, limit_s)
        first = min(wh.execute(f"SELECT __landed_at FROM landing.{t} ORDER BY landing_id LIMIT 1").fetchone()[0] for t in SHOP_TABLES)
        last, applied = wh.execute("SELECT max(last_applied_at), coalesce(sum(events), 0) FROM ops.apply_stats"
                                   " WHERE landing_table = ANY(%s)", (list(SHOP_TABLES),)).fetchone()
        if not engine:
            last = max(wh.execute(f"SELECT __landed_at FROM landing.{t} ORDER BY landing_id DESC LIMIT 1").fetchone()[0]
                       for t in SHOP_TABLES)
    return {"events": sum(counts.values()), "first": first, "last": last, "applied": applied}


def pipeline_run(shop: Shop, engine: bool, limit_s: float, table: Table, label: str):
    """One sandbox stack: fill the source, deploy, wait for the snapshot. Yields (settings, result) so the
    caller can measure more on the same stack before it goes down."""
    with scratch_stack("whctl-scale-") as settings:
        began = time.monotonic()
        fill_source(settings, shop)
        table.add("snapshot", f"{label}: source filled ({shop.events:,} rows)", f"{time.monotonic() - began:.0f} s")
        migrated = run_whctl("migrate")
        if migrated.returncode:
            raise RuntimeError(migrated.stderr)
        if not engine:
            # the same pipeline, tables and indexes; the engine's triggers do not fire for the sink's sessions
            with psycopg.connect(**settings.connection_kwargs("warehouse"), autocommit=True) as wh:
                wh.execute("GRANT SET ON PARAMETER session_replication_role TO wh_loader")
                wh.execute("ALTER ROLE wh_loader SET session_replication_role = replica")
        started = time.time()
        deployed = run_whctl("deploy")
        if deployed.returncode:
            raise RuntimeError(deployed.stderr)
        result = landed(settings, shop, limit_s, engine)
        if result["applied"] != (result["events"] if engine else 0):
            raise RuntimeError(f"{result['events']} events landed, {result['applied']} applied")
        result["total_s"] = result["last"].timestamp() - started
        result["sink_s"] = (result["last"] - result["first"]).total_seconds()
        yield settings, result


def snapshot_part(shop: Shop, limit_s: float, limit_min: float, table: Table, want_disk: bool) -> None:
    runs = {}
    for engine, label in ((False, "without the engine"), (True, "with the engine")):
        stack = pipeline_run(shop, engine, limit_s, table, label)
        settings, result = table.step("snapshot", f"{label}: initial snapshot", limit_min, next, stack) or (None, None)
        if result is None:
            stack.close()
            continue
        runs[engine] = result
        table.add("snapshot", f"{label}: deploy -> last event {'applied' if engine else 'landed'}",
                  f"{result['total_s']:.0f} s, {result['events'] / result['total_s']:,.0f} events/s ({result['events']:,} events)")
        table.add("snapshot", f"{label}: first -> last event landed (the sink's part)",
                  f"{result['sink_s']:.0f} s, {result['events'] / result['sink_s']:,.0f} events/s")
        if engine:
            table.step("snapshot", "with the engine: moves and reprices streamed, then verify", limit_min,
                       after_snapshot, settings, shop, limit_s, table, want_disk)
        stack.close()
    if len(runs) == 2:
        table.add("snapshot", "ratio with ÷ without, deploy -> last event",
                  f"{runs[False]['total_s'] / runs[True]['total_s']:.2f}")
        table.add("snapshot", "ratio with ÷ without, the sink's part",
                  f"{runs[False]['sink_s'] / runs[True]['sink_s']:.2f}")


def after_snapshot(settings: Settings, shop: Shop, limit_s: float, table: Table, want_disk: bool) -> None:
    began = time.monotonic()
    stream_history(settings, shop)
    # every event counted as applied: the time the moves and reprices take, apart from the time of
    # `whctl verify`'s own wait below
    with psycopg.connect(**settings.connection_kwargs("warehouse"), autocommit=True) as wh:
        deadline_wait("moves and reprices applied", lambda: applied_events(wh) >= shop.events + shop.history, limit_s, 0.5)
    table.add("snapshot", f"moves and reprices ({shop.history:,} updates) committed -> applied", f"{time.monotonic() - began:.1f} s")
    times = []
    for _ in range(3):
        began = time.monotonic()
        status = whctl({}, limit_s, "status")
        times.append(time.monotonic() - began)
    table.add("snapshot", "`whctl status` (median of 3, quiet pipeline)", f"{statistics.median(times):.2f} s (exit {status['returncode']})")
    began = time.monotonic()
    verified = table.step("snapshot", "`whctl verify`", limit_s / 60, whctl, {}, limit_s, "verify", "--wait", str(int(limit_s)))
    if verified is not None:
        failing = [c["name"] for c in verified["checks"] if c["verdict"] != "ok"]
        table.add("snapshot", "`whctl verify`", ("clean" if not failing and verified["returncode"] == 0 else f"NOT clean: {', '.join(failing)}")
                  + f" ({time.monotonic() - began:.0f} s)")
    if want_disk:
        with psycopg.connect(**settings.connection_kwargs("warehouse"), autocommit=True) as wh:
            events = applied_events(wh)
            facts = wh.execute("SELECT count(*) FROM dw.fact_orders").fetchone()[0]
            for figure, value in disk_rows(wh, "snapshot's warehouse", events, facts):
                table.add("disk", figure, value)


# --- growth, KPIs, rebuild: warehouses of 1M and 10M facts --------------------------------------

def mix_events(n: int) -> list[dict]:
    """The engine benchmark's mix with its ids moved above the shop's."""
    keys = ("customer_id", "product_id", "order_id", "order_item_id")
    return [{k: (v + MIX_OFFSET if k in keys and v is not None else v) for k, v in e.items()} for e in synthetic_events(n)]


def apply_mix(dsn: str, batches, events: int, limit_s: float) -> tuple[float, float]:
    """(events/s with the engine, events/s without triggers) of the mix's sink polls, in this database."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        limit_statements(conn, limit_s)
        # the landing fill and the rebuild leave gigabytes of dirty pages: written out now, not by a
        # checkpoint in the middle of the timed inserts (which halved the trigger-less rate at 1M and
        # 10M facts in the first full-scale run)
        conn.execute("CHECKPOINT")
        plain = events / insert_batches(conn, "plain", batches)
        engine = events / insert_batches(conn, "landing", batches)
    return engine, plain


def timed_queries(dsn: str, limit_s: float, repeats: int = 5) -> dict[str, float]:
    queries = dict(KPI_QUERIES)
    queries.update({f"{view} (type 7)": f"SELECT * FROM {view} ORDER BY {order} DESC NULLS LAST"
                    for view, order in VIEW_KPIS.values()})
    out = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        limit_statements(conn, limit_s)
        for name, query in queries.items():
            out[name] = median_ms(conn, query, repeats)
    return out


def growth_part(scale: float, levels: list[int], mix: int, limit_s: float, limit_min: float, table: Table, want_disk: bool) -> None:
    events = mix_events(mix)
    batches = sink_batches(events, 500)
    admin = os.environ.get("WH_BENCH_ADMIN_DSN")
    server = contextlib.nullcontext(admin) if admin else throwaway_cluster("whctl-scale-pg-", BENCH_PG)
    rates = {}
    with server as admin_dsn:
        for facts in levels:
            name = f"whctl_scale_{facts}"
            dsn = fresh_database(admin_dsn, name)
            label = f"{facts:,} facts"
            if facts:
                shop = Shop.at(scale, facts)
                began = time.monotonic()
                if table.step("growth", f"{label}: landing filled", limit_min, fill_landing, dsn, shop, limit_s) is None:
                    continue
                table.add("growth", f"{label}: landing filled ({shop.events + shop.history:,} events)", f"{time.monotonic() - began:.0f} s")
                rebuilt = table.step("rebuild", f"`whctl rebuild` at {label}", limit_min, whctl,
                                     {"WH_WAREHOUSE_DSN": dsn, "PGOPTIONS": f"-c statement_timeout={int(limit_s)}s"},
                                     limit_s, "rebuild", "--yes")
                if rebuilt is None:
                    continue
                table.add("rebuild", f"`whctl rebuild` at {label}", f"{rebuilt['seconds']:.0f} s ({rebuilt['fact_rows']:,} facts,"
                          f" {rebuilt['dimension_rows']:,} dimension rows)")
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute("VACUUM ANALYZE")
                kpis = table.step("kpi", f"KPI queries at {label}", limit_min, timed_queries, dsn, limit_s)
                for query, ms in (kpis or {}).items():
                    table.add("kpi", f"{label}: {query}", f"{ms:,.1f} ms")
                if want_disk and facts == max(levels):
                    with psycopg.connect(dsn, autocommit=True) as conn:
                        for figure, value in disk_rows(conn, label, shop.events + shop.history, rebuilt["fact_rows"]):
                            table.add("disk", figure, value)
            measured = table.step("growth", f"{label}: the mix", limit_min, apply_mix, dsn, batches, len(events), limit_s)
            if measured:
                rates[facts] = measured
                table.add("growth", f"{label}: the mix ({len(events):,} events, polls of 500)",
                          f"{measured[0]:,.0f} events/s with the engine, {measured[1]:,.0f} without triggers")
            with psycopg.connect(admin_dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    if 0 in rates:
        for facts in levels:
            if facts and facts in rates:
                # the machine's load moves both paths alike: the engine's share of the inserts' speed
                # at N facts against at 0 is the figure the noise does not move
                table.add("growth", f"ratio events/s at {facts:,} facts ÷ at 0",
                          f"{rates[facts][0] / rates[0][0]:.2f} with the engine, {rates[facts][1] / rates[0][1]:.2f} without;"
                          f" (with ÷ without) at {facts:,} ÷ at 0: "
                          f"{(rates[facts][0] / rates[facts][1]) / (rates[0][0] / rates[0][1]):.2f}")


def status_part(shop: Shop, limit_s: float, limit_min: float, table: Table) -> None:
    """`whctl status` against a warehouse whose landing holds the shop's events, counted by the engine's
    statistics as the engine would have counted them (the landing tables' size is what status reads;
    Kafka, Connect and the source do not answer, which costs every run the same)."""
    admin = os.environ.get("WH_BENCH_ADMIN_DSN")
    server = contextlib.nullcontext(admin) if admin else throwaway_cluster("whctl-scale-pg-", BENCH_PG)
    with server as admin_dsn:
        dsn = fresh_database(admin_dsn, "whctl_scale_status")
        if table.step("status", "landing filled", limit_min, fill_landing, dsn, shop, limit_s) is None:
            return
        with psycopg.connect(dsn, autocommit=True) as conn:
            for t in SHOP_TABLES:
                conn.execute(f"UPDATE ops.apply_stats SET events = (SELECT count(*) FROM landing.{t}), batches = 1,"
                             " last_applied_at = clock_timestamp() WHERE landing_table = %s", (t,))
        kafka, connect = free_ports(2)
        env = {"WH_WAREHOUSE_DSN": dsn, "WH_SOURCE_DSN": dsn, "WH_KAFKA_PORT": str(kafka), "WH_CONNECT_PORT": str(connect)}
        times = []
        for _ in range(3):
            began = time.monotonic()
            result = table.step("status", "`whctl status`", limit_min, whctl, env, limit_s, "status")
            times.append(time.monotonic() - began)
        applied = {c["name"]: c for c in result["checks"]}.get("applied changes", {}) if result else {}
        table.add("status", f"`whctl status` with {shop.events + shop.history:,} events in landing (median of 3)",
                  f"{statistics.median(times):.2f} s (applied changes: {applied.get('verdict')}, landed but not applied:"
                  f" {applied.get('unapplied')})")
        # the part that grows with the warehouse: the warehouse's checks alone, in this process
        probe = health.Probe(Settings.from_env(env))
        try:
            times = []
            for _ in range(3):
                began = time.monotonic()
                health._warehouse_checks(probe)
                times.append(time.monotonic() - began)
        finally:
            probe.close()
        table.add("status", "its warehouse checks alone (freshness, applied changes, row counts, quarantine; median of 3)",
                  f"{statistics.median(times) * 1000:,.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="size factor (1.0: 100k customers, 10k products, 1M orders, 3M lines)")
    parser.add_argument("--parts", default="snapshot,growth,disk,status",
                        help="comma-separated: snapshot, growth (with KPIs and rebuild), disk, status")
    parser.add_argument("--limit-min", type=float, default=40, help="time limit of each step, in minutes (default 40)")
    parser.add_argument("--mix", type=int, default=200_000, help="events of the engine benchmark's mix (default 200,000)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    unknown = parts - {"snapshot", "growth", "disk", "status"}
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    limit_s = args.limit_min * 60
    table = Table()
    began = time.monotonic()
    shop = Shop.at(args.scale)
    print(f"scale {args.scale:g}: {shop.customers:,} customers, {shop.products:,} products, {shop.orders:,} orders,"
          f" {shop.lines:,} order lines; parts {','.join(sorted(parts))}; limit {args.limit_min:g} min per step", file=sys.stderr)
    if "snapshot" in parts:
        snapshot_part(shop, limit_s, args.limit_min, table, "disk" in parts)
    if "growth" in parts:
        levels = [0, round(1_000_000 * args.scale), round(10_000_000 * args.scale)]
        growth_part(args.scale, levels, args.mix, limit_s, args.limit_min, table, "disk" in parts)
    if "status" in parts:
        status_part(Shop.at(args.scale, round(10_000_000 * args.scale)), limit_s, args.limit_min, table)
    print(f"\nscale {args.scale:g}, parts {','.join(sorted(parts))}, {time.monotonic() - began:.0f} s in all\n")
    print(table.render())


if __name__ == "__main__":
    main()
