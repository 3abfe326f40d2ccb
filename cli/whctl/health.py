"""Named checks with verdicts: the pipeline's health (`whctl status`) and data quality (`whctl verify`).

A check is {"name", "verdict": ok|warn|fail, "detail", ...numbers}. The overall exit status is 0
when every check is ok, 2 when the worst is warn (degraded), 1 when any fails (down or wrong).
"""
from __future__ import annotations

from datetime import datetime, timezone

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

import requests

from whctl import connect_api, kafka_api, pipeline, source_shape
from whctl.config import Settings
from whctl.supervisor import causes
from whctl.db import connect
from whctl.output import WhctlError

OK, WARN, FAIL = "ok", "warn", "fail"
LAG_WARN_BYTES = 16 * 2**20
FRESHNESS_WARN_S = 10
FRESHNESS_FAIL_S = 60
LANDING_TABLES = ("customers", "products", "orders", "order_items", "heartbeat")
PROBE_TIMEOUT_S = 2.0
DEAD_LETTERS_READ = 1000  # records of the dead-letter topic status reads (to list some, and to not count them as lag)
# names of the component checks (the supervisor reads them to know a dependency answers again)
KAFKA_BROKER, CONNECT_WORKERS, SOURCE_DB, WAREHOUSE = "kafka broker", "connect workers", "source database", "warehouse"

# Facts whose customer, product or date key points at no dimension row. The keys are not declared
# foreign keys (migration 0002), so this is the check: `whctl verify` runs it, and the SQL tests run
# it after every landed batch.
FACTS_WITH_UNRESOLVED_KEYS = """
    FROM dw.fact_orders f
    WHERE NOT EXISTS (SELECT FROM dw.dim_customer d WHERE d.customer_key = f.customer_key)
       OR NOT EXISTS (SELECT FROM dw.dim_product d WHERE d.product_key = f.product_key)
       OR NOT EXISTS (SELECT FROM dw.dim_date d WHERE d.date_key = f.date_key)"""


def check(name: str, verdict: str, detail: str, **values) -> dict:
    return {"name": name, "verdict": verdict, "detail": detail, **values}


def overall(checks: list[dict]) -> dict:
    verdicts = {c["verdict"] for c in checks}
    worst = FAIL if FAIL in verdicts else WARN if WARN in verdicts else OK
    return {"healthy": worst == OK, "verdict": worst, "exit_code": {OK: 0, WARN: 2, FAIL: 1}[worst], "checks": checks}


def _try_connect(settings: Settings, which: str):
    try:
        return connect(settings, which, autocommit=True, connect_timeout=PROBE_TIMEOUT_S), None
    except WhctlError as exc:
        return None, exc.message.splitlines()[0]


# --- whctl status ------------------------------------------------------------------------------

class Probe:
    """What the checks of one status run share: the settings and one answer (or error) per component.

    Each probe has a short timeout so that `whctl status` stays fast and says "down" quickly.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.connect = connect_api.Connect(settings)
        self.connect_up = self.connect.reachable(timeout=PROBE_TIMEOUT_S)
        self.kafka = kafka_api.Kafka(settings, timeout=PROBE_TIMEOUT_S)
        try:
            self.broker, self.broker_error = self.kafka.broker(), None
        except WhctlError as exc:
            self.broker, self.broker_error = None, exc.message
        self.wh, self.wh_error = _try_connect(settings, "warehouse")
        self.src, self.src_error = _try_connect(settings, "source")
        self._dead_letters = None
        self.wh_migrated = self.wh is not None and self.wh.execute("SELECT to_regclass('ops.incidents')").fetchone()[0] is not None

    def dead_letters(self) -> tuple[int, list]:
        """(records in the sink's dead-letter topic, the first DEAD_LETTERS_READ of them); read once per status."""
        if self._dead_letters is None:
            partitions = self.broker["partitions"].get(pipeline.SINK_DLQ, [])
            self._dead_letters = self.kafka.records(pipeline.SINK_DLQ, partitions, DEAD_LETTERS_READ) if partitions else (0, [])
        return self._dead_letters

    def close(self) -> None:
        for conn in (self.wh, self.src):
            if conn is not None:
                conn.close()


def status(settings: Settings, steps: list | None = None) -> dict:
    """The checks of `steps` (default: all of `whctl status`, STATUS_CHECKS) with the overall verdict."""
    probe = Probe(settings)
    try:
        if not probe.connect_up and probe.broker is None and probe.wh is None and probe.src is None:
            raise WhctlError(f"the pipeline is down: no answer from Kafka ({settings.bootstrap}), Kafka Connect ({probe.connect.url}),"
                             " the warehouse nor the source (start the local stack with `whctl stack up`)")
        checks: list[dict] = []
        for step in STATUS_CHECKS if steps is None else steps:
            checks += step(probe)
    finally:
        probe.close()
    result = overall(checks)
    result["checked_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return result


def _component_checks(p: Probe) -> list[dict]:
    s = p.settings
    return [
        check(KAFKA_BROKER, OK, f"{p.broker['brokers']} broker(s) answer at {s.bootstrap}, {p.broker['topics']} topics")
        if p.broker else check(KAFKA_BROKER, FAIL, f"{p.broker_error}: start it (`whctl stack up`)"),
        _workers_check(p),
        check(SOURCE_DB, OK, f"answers at {s.source}") if p.src else check(SOURCE_DB, FAIL, f"{p.src_error}: `whctl stack up`"),
        check(WAREHOUSE, OK, f"answers at {s.warehouse}") if p.wh else check(WAREHOUSE, FAIL, f"{p.wh_error}: `whctl stack up`"),
    ]


def _workers_check(p: Probe) -> dict:
    if not p.connect_up:
        return check(CONNECT_WORKERS, FAIL, f"Kafka Connect unreachable at {p.connect.url}: start it (`whctl stack up`)", workers=[])
    try:
        workers = p.connect.workers()
    except (WhctlError, requests.RequestException) as exc:
        return check(CONNECT_WORKERS, FAIL, f"Kafka Connect at {p.connect.url} does not answer: {exc}", workers=[])
    return check(CONNECT_WORKERS, OK, f"{p.connect.url} answers; workers running tasks: {', '.join(workers) or 'none'}", workers=workers)


def _connector_checks(p: Probe) -> list[dict]:
    if not p.connect_up:
        return [check(f"connector {name}", FAIL, f"Kafka Connect unreachable at {p.connect.url}") for name in pipeline.CONNECTOR_NAMES]
    checks = []
    for name in pipeline.CONNECTOR_NAMES:
        try:
            st = p.connect.status(name, timeout=PROBE_TIMEOUT_S)
        except WhctlError as exc:
            checks.append(check(f"connector {name}", FAIL, exc.message))
            continue
        if st is None:
            checks.append(check(f"connector {name}", FAIL, "not registered (run `whctl deploy`)"))
            continue
        tasks = [t["state"] for t in st.get("tasks", [])]
        state = st["connector"]["state"]
        running = state == "RUNNING" and tasks and all(t == "RUNNING" for t in tasks)
        detail = f"{state}, tasks {', '.join(tasks) or 'none'}"
        failed = []
        for part in connect_api.failed_parts(st):
            cause, root = causes.classify(part.get("trace", ""))
            failed.append({"id": part["id"], "worker_id": part.get("worker_id"), "root_cause": root,
                           "cause": cause.name, "action": cause.action, "next_step": cause.next_step})
        if failed:
            f = failed[0]
            detail += f"; {'task ' if f['id'] != 'connector' else ''}{f['id']} root cause: {f['root_cause'][:300]} ({f['cause']}); next: {f['next_step']}"
        verdict = OK if running else (WARN if state in ("PAUSED", "STOPPED") or "PAUSED" in tasks else FAIL)
        checks.append(check(f"connector {name}", verdict, detail, state=state, tasks=tasks, failed=failed,
                            workers=sorted({t.get("worker_id") for t in st.get("tasks", []) if t.get("worker_id")})))
    return checks


def _sink_lag_check(p: Probe) -> list[dict]:
    if p.broker is None:
        return [check("sink consumer lag", FAIL, "unknown: the Kafka broker does not answer")]
    topics = pipeline.SINK_TOPICS
    try:
        skipped = kafka_api.dead_lettered(p.dead_letters()[1])
        lag = p.kafka.group_lag(pipeline.SINK_GROUP, list(topics), p.broker["partitions"], skipped)
    except Exception as exc:  # a group not yet created, a timeout: say so, do not crash status
        return [check("sink consumer lag", WARN, f"unknown: {exc}")]
    records = sum(v["records"] for v in lag.values())
    seconds = max((v["seconds"] for v in lag.values()), default=0.0)
    verdict = OK if seconds < FRESHNESS_WARN_S else WARN
    behind = [f"{t.rsplit('.', 1)[-1]} {v['records']} ({v['seconds']:.0f}s)" for t, v in lag.items() if v["records"]]
    detail = "caught up" if not behind else "behind: " + ", ".join(behind)
    return [check("sink consumer lag", verdict, detail + ("" if verdict == OK else "; see the sink's task and the warehouse"),
                  records=records, seconds=seconds, topics=lag)]


def _dead_letter_check(p: Probe) -> list[dict]:
    topic = pipeline.SINK_DLQ
    if p.broker is None:
        return [check("dead-letter topic", FAIL, "unknown: the Kafka broker does not answer")]
    try:
        total, first = p.dead_letters()
    except Exception as exc:
        return [check("dead-letter topic", WARN, f"{topic} unreadable: {exc}")]
    listed = [kafka_api.dead_letter_entry(m) for m in first[:5]]
    if total == 0:
        return [check("dead-letter topic", OK, f"{topic}: empty", records=0, first=[])]
    shown = "; ".join(f"{e['topic']}[{e['partition']}]@{e['offset']}: {e['error']}" for e in listed[:3])
    return [check("dead-letter topic", WARN,
                  f"{total} record(s) in {topic} that the sink could not write: {shown}. Inspect: `whctl dlq list`;"
                  " after the fix `whctl dlq replay` (or `whctl dlq discard`)", records=total, first=listed)]


def _incident_checks(p: Probe) -> list[dict]:
    if not p.wh_migrated:
        return []
    rows = p.wh.execute("""
        SELECT component, cause, action, opened_at, resolved_at,
               extract(epoch FROM coalesce(resolved_at, clock_timestamp()) - opened_at)::float8
        FROM ops.incidents
        WHERE resolved_at IS NULL OR resolved_at > clock_timestamp() - interval '1 hour'
        ORDER BY opened_at DESC LIMIT 20""").fetchall()
    incidents = [{"component": r[0], "cause": r[1], "action": r[2], "opened_at": r[3], "resolved_at": r[4], "seconds": round(r[5], 1)}
                 for r in rows]
    open_ = [i for i in incidents if i["resolved_at"] is None]
    if open_:
        detail = "; ".join(f"OPEN {i['component']}: {i['cause'][:120]} -> {i['action'] or 'observing'}" for i in open_[:3])
        return [check("incidents", WARN, detail + " (`whctl supervise --once` acts now; see docs/operations.md)", open=len(open_), recent=incidents)]
    detail = "none in the last hour" if not incidents else "; ".join(
        f"{i['component']} {i['cause'][:80]}: healed in {i['seconds']:.0f}s" for i in incidents[:3])
    return [check("incidents", OK, detail, open=0, recent=incidents)]


def _slot_check(p: Probe) -> list[dict]:
    return [_slot(p.src, p.src_error)]


def _slot(src, error) -> dict:
    if src is None:
        return check("replication slot", FAIL, error)
    row = src.execute(
        "SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint"
        " FROM pg_replication_slots WHERE slot_name = %s", (pipeline.SLOT,)).fetchone()
    if row is None:
        return check("replication slot", FAIL, f"slot {pipeline.SLOT} missing (run `whctl deploy`)")
    active, lag = row
    lag = int(lag or 0)
    verdict = FAIL if not active else (WARN if lag > LAG_WARN_BYTES else OK)
    return check("replication slot", verdict, f"{pipeline.SLOT} {'active' if active else 'INACTIVE'}, lag {_bytes(lag)}",
                 active=active, lag_bytes=lag)


def _warehouse_checks(p: Probe) -> list[dict]:
    wh = p.wh
    if wh is None:
        return []  # the warehouse check says it is down
    if not p.wh_migrated:
        return [check("warehouse schema", FAIL, "not migrated (run `whctl deploy`)")]
    checks = []
    age = wh.execute(
        "SELECT extract(epoch FROM clock_timestamp() - to_timestamp(max(__source_ts_us) / 1e6))::float8 FROM landing.heartbeat"
    ).fetchone()[0]
    if age is None:
        checks.append(check("freshness", FAIL, "no heartbeat landed yet", heartbeat_age_s=None))
    else:
        verdict = OK if age < FRESHNESS_WARN_S else WARN if age < FRESHNESS_FAIL_S else FAIL
        checks.append(check("freshness", verdict, f"newest landed heartbeat committed {age:.1f}s ago", heartbeat_age_s=round(age, 3)))
    with wh.transaction():
        # one snapshot for the engine's statistics and the landing tails they are compared with
        wh.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        stats = wh.execute("SELECT landing_table, events, quarantined, last_applied_at,"
                           " extract(epoch FROM clock_timestamp() - last_applied_at)::float8 FROM ops.apply_stats ORDER BY 1").fetchall()
        unapplied = {t: n for t, *_, last, _age in stats if (n := _landed_after_last_apply(wh, t, last))}
    applied = {t: {"events": events, "quarantined": quarantined, "age_s": None if age is None else round(age, 1)}
               for t, events, quarantined, _last, age in stats}
    checks.append(check("applied changes", OK if not unapplied else WARN, "; ".join(
        f"{t} {v['events']} ({'never' if v['age_s'] is None else _age(v['age_s']) + ' ago'})" for t, v in applied.items())
        + ("" if not unapplied else "; landed but not applied: " + ", ".join(f"{t} {n}" for t, n in unapplied.items())
           + " (the engine's trigger is missing or was bypassed; `whctl rebuild` recomputes dw from landing)"),
        tables=applied, unapplied=unapplied))
    # sizes for the operator: the catalog's estimates for the tables that grow with every event, exact
    # counts for the dimensions (they grow with the keys)
    counts = {f"landing.{t}": _estimated_rows(wh, f"landing.{t}") for t in LANDING_TABLES}
    for dim in ("dim_customer", "dim_product"):
        total, current = wh.execute(f"SELECT count(*) FILTER (WHERE {dim.split('_')[1]}_key > 0),"
                                    f" count(*) FILTER (WHERE is_current AND {dim.split('_')[1]}_key > 0) FROM dw.{dim}").fetchone()
        counts[f"dw.{dim}"] = {"total": total, "current": current}
    counts["dw.fact_orders"] = _estimated_rows(wh, "dw.fact_orders")
    checks.append(check("row counts", OK, ", ".join(
        f"{k.split('.')[1]} {v['total']}/{v['current']} current" if isinstance(v, dict) else f"{k} ~{v}" for k, v in counts.items()),
        counts=counts, estimated=[k for k, v in counts.items() if not isinstance(v, dict)]))
    quarantined = wh.execute("SELECT count(*) FROM ops.quarantine WHERE dismissed_at IS NULL").fetchone()[0]
    checks.append(check("quarantine", OK if quarantined == 0 else WARN,
                        "empty" if quarantined == 0 else f"{quarantined} events (see `whctl quarantine list`)", quarantined=quarantined))
    return checks


# --- freshness by stage ------------------------------------------------------------------------

# An event's four times, all in the warehouse (migration 0007): source commit (__source_ts_us), Kafka
# append (__kafka_ts_ms, the record's timestamp), landed (__landed_at), applied (the applied_at of
# the ops.apply_batches row whose landing id range holds it). A stage is the time between two.
STAGES = ("source_to_kafka", "kafka_to_landed", "landed_to_applied", "end_to_end")
STAGE_LABELS = {"source_to_kafka": "source commit -> Kafka append", "kafka_to_landed": "Kafka -> landed",
                "landed_to_applied": "landed -> applied", "end_to_end": "end to end"}
STAGE_WINDOW_S = 120        # the last minutes status looks at
STAGE_SAMPLE_EVENTS = 2000  # the newest batches covering this many events (bounds the read: about 10 µs an event)
STAGE_MAX_BATCHES = 500


def _stage_sql(tables: tuple[str, ...]) -> str:
    # one branch per landing table; the constant test on landing_table leaves only the batch's own
    # table to scan, by its primary key range
    branches = "\n            UNION ALL ".join(
        f"SELECT l.__source_ts_us, l.__kafka_ts_ms, l.__landed_at FROM landing.{t} l WHERE s.landing_table = '{t}'"
        " AND l.landing_id BETWEEN s.landing_id_first AND s.landing_id_last" for t in tables)
    percentiles = ", ".join(f"percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY {st})" for st in STAGES)
    return f"""
        WITH recent AS (
            SELECT b.applied_at, b.landing_table, b.landing_id_first, b.landing_id_last,
                   sum(b.events) OVER (ORDER BY b.applied_at DESC, b.batch_id DESC) - b.events AS newer_events
            FROM ops.apply_batches b
            WHERE b.applied_at > clock_timestamp() - make_interval(secs => %(window)s)
              AND b.landing_id_first IS NOT NULL AND b.landing_table = ANY(%(tables)s)
            ORDER BY b.applied_at DESC, b.batch_id DESC
            LIMIT %(batches)s
        ), sample AS (
            SELECT * FROM recent WHERE newer_events < %(events)s
        ), times AS (
            -- float8 seconds: numeric arithmetic and sorts cost several times more here
            SELECT e.__source_ts_us::float8 / 1e6 AS committed, e.__kafka_ts_ms::float8 / 1e3 AS appended,
                   extract(epoch FROM e.__landed_at)::float8 AS landed, extract(epoch FROM s.applied_at)::float8 AS applied,
                   s.newer_events = 0 AS newest
            FROM sample s CROSS JOIN LATERAL (
            {branches}) e
        ), stages AS (
            SELECT appended - committed AS source_to_kafka, landed - appended AS kafka_to_landed,
                   applied - landed AS landed_to_applied, applied - committed AS end_to_end, newest
            FROM times
        )
        SELECT (SELECT count(*) FROM sample), count(*), max(end_to_end) FILTER (WHERE newest),
               (SELECT extract(epoch FROM clock_timestamp() - max(applied_at))::float8 FROM sample), {percentiles}
        FROM stages"""


def stage_latency(wh: psycopg.Connection, window_s: float = STAGE_WINDOW_S, max_events: int = STAGE_SAMPLE_EVENTS,
                  tables: tuple[str, ...] = LANDING_TABLES, max_batches: int = STAGE_MAX_BATCHES) -> dict:
    """p50/p95 (seconds) of each stage over the events of the newest applied batches of the last
    `window_s` seconds (at most `max_batches`, and only as many as cover `max_events` events).

    {"window_s", "batches", "events", "stages": {stage: {"p50_s", "p95_s"}}, "slowest": stage or None,
     "newest_batch_s": end to end of the oldest event of the newest batch, "newest_batch_age_s": how long ago it was applied}
    """
    with wh.cursor(row_factory=tuple_row) as cur:   # whatever rows the connection makes by default
        row = cur.execute(_stage_sql(tables), {"window": window_s, "tables": list(tables), "batches": max_batches,
                                               "events": max_events}).fetchone()
    stages = {name: {"p50_s": None if q is None else round(float(q[0]), 4),
                     "p95_s": None if q is None else round(float(q[1]), 4)} for name, q in zip(STAGES, row[4:])}
    measured = [n for n in STAGES[:-1] if stages[n]["p95_s"] is not None]
    slowest = max(measured, key=lambda n: stages[n]["p95_s"]) if measured else None
    return {"window_s": window_s, "batches": row[0], "events": row[1], "stages": stages, "slowest": slowest,
            "newest_batch_s": None if row[2] is None else round(float(row[2]), 4),
            "newest_batch_age_s": None if row[3] is None else round(float(row[3]), 1)}


def _ms(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds * 1000:.0f} ms" if abs(seconds) < 10 else f"{seconds:.1f} s"


def _stage_check(p: Probe) -> list[dict]:
    if p.wh is None or not p.wh_migrated:
        return []
    if p.wh.execute("SELECT EXISTS (SELECT FROM information_schema.columns WHERE table_schema = 'ops'"
                    " AND table_name = 'apply_batches' AND column_name = 'landing_id_first')").fetchone()[0] is False:
        return [check("freshness by stage", WARN, "the warehouse predates migration 0007 (run `whctl deploy`)")]
    result = stage_latency(p.wh)
    name, stages, slowest = "freshness by stage", result["stages"], result["slowest"]
    if not result["events"]:
        return [check(name, OK, f"no batch applied in the last {STAGE_WINDOW_S // 60} minutes", **result)]
    end, newest, age = stages["end_to_end"]["p95_s"], result["newest_batch_s"], result["newest_batch_age_s"]
    shown = "; ".join(f"{STAGE_LABELS[n]} {_ms(stages[n]['p50_s'])}/{_ms(stages[n]['p95_s'])}" for n in STAGES)
    detail = (f"p50/p95 over {result['events']} events of the last {result['batches']} batches: {shown}"
              + (f"; slowest: {STAGE_LABELS[slowest]}" if slowest else ""))
    # degraded now: the newest batch, applied in the last seconds, is late too (a slow minute that
    # has caught up, or was followed by a quiet pipeline, is only history; a stall is the freshness
    # and sink lag checks' to report)
    if end is not None and end >= FRESHNESS_WARN_S and newest is not None and newest >= FRESHNESS_WARN_S \
            and age is not None and age < FRESHNESS_WARN_S:
        return [check(name, WARN, f"freshness degraded (p95 end to end {_ms(end)}, newest batch {_ms(newest)}), slowest stage: "
                      f"{STAGE_LABELS[slowest] if slowest else 'unknown'}; {detail}", **result)]
    return [check(name, OK, detail, **result)]


# The first look at a landing table's tail (rows); it grows until it reaches rows landed before the
# table's last apply, a margin earlier (rows of concurrent transactions land slightly out of id order).
TAIL_FIRST_ROWS = 1000
TAIL_MARGIN_S = 1.0


def _landed_after_last_apply(wh: psycopg.Connection, table: str, last_applied_at) -> int:
    """Rows of landing.<table> landed after the engine last applied that table (all of them if it never did).

    The engine applies a transaction's rows at its commit, in that transaction, after they landed: a
    committed row that landed after the last apply was never applied (the trigger is missing or was
    bypassed). Read backwards on the primary key from the newest row until the rows landed before that
    apply, so the cost is the tail's, not the table's. Call it in the snapshot that read ops.apply_stats.
    Landed-but-not-applied rows older than a later apply are `whctl verify`'s to find (it counts all).
    """
    rows = TAIL_FIRST_ROWS
    while True:
        # newest first on the primary key, a literal LIMIT: a backward index scan in any plan
        after, reached, read = wh.execute(sql.SQL("""
            SELECT count(*) FILTER (WHERE %(at)s::timestamptz IS NULL OR __landed_at > %(at)s::timestamptz),
                   coalesce(bool_or(__landed_at <= %(at)s::timestamptz - %(margin)s * interval '1 second'), false), count(*)
            FROM (SELECT __landed_at FROM landing.{} ORDER BY landing_id DESC LIMIT {}) tail""").format(
            sql.Identifier(table), sql.Literal(rows)), {"at": last_applied_at, "margin": TAIL_MARGIN_S}).fetchone()
        if reached or read < rows:
            return after
        rows *= 4


def _estimated_rows(wh: psycopg.Connection, table: str) -> int:
    """Live rows of a table (and of its partitions) from the statistics PostgreSQL keeps as rows change."""
    return int(wh.execute("""
        SELECT coalesce(sum(n_live_tup), 0) FROM pg_stat_user_tables
        WHERE relid = %(t)s::regclass OR relid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = %(t)s::regclass)""",
        {"t": table}).fetchone()[0])


# `whctl status` is these named checks, in this order; each takes the Probe and returns check dicts.
STATUS_CHECKS = [
    _component_checks,
    _connector_checks,
    _sink_lag_check,
    _dead_letter_check,
    _slot_check,
    _warehouse_checks,
    _stage_check,
    lambda p: source_shape.checks(p.wh, p.src),   # promise 10: the source's shape against landing and dw
    _incident_checks,
]
# What the supervisor's observe step reads (whctl.supervisor.loop): whether each component answers
# and each connector runs. It runs every 2 s, so it reads nothing that grows with the warehouse.
SUPERVISOR_CHECKS = [_component_checks, _connector_checks]


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _age(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.0f}m" if seconds < 7200 else f"{seconds / 3600:.0f}h"


def render(result: dict) -> str:
    width = max(len(c["name"]) for c in result["checks"])
    lines = [f"{c['verdict'].upper():4}  {c['name'].ljust(width)}  {c['detail']}" for c in result["checks"]]
    label = {"ok": "healthy", "warn": "degraded", "fail": "unhealthy"}[result["verdict"]]
    failing = [c["name"] for c in result["checks"] if c["verdict"] != "ok"]
    lines.append(f"overall: {label}" + (f" ({', '.join(failing)})" if failing else ""))
    return "\n".join(lines)


# --- whctl verify ------------------------------------------------------------------------------

DIMS = {
    "customer": ("dw.dim_customer", "customer_key", "customer_id", "customers",
                 ("first_name", "last_name", "email", "phone", "address", "city", "country")),
    "product": ("dw.dim_product", "product_key", "product_id", "products",
                ("product_name", "category", "brand", "price", "cost", "description")),
}


def _count(conn: psycopg.Connection, query: str) -> int:
    return int(conn.execute(query).fetchone()[0] or 0)


def verify(settings: Settings) -> dict:
    checks: list[dict] = []
    with connect(settings, "warehouse", autocommit=True) as wh, connect(settings, "source", autocommit=True) as src:
        def failures(name: str, n: int, what: str) -> None:
            checks.append(check(name, OK if n == 0 else FAIL, f"{n} {what}", failures=n))

        # every landed event applied, counted in full (`whctl status` looks only at the tails)
        applied = dict(wh.execute("SELECT landing_table, events FROM ops.apply_stats"))
        landed = {t: _count(wh, f"SELECT count(*) FROM landing.{t}") for t in applied}
        unapplied = {t: landed[t] - applied[t] for t in applied if landed[t] != applied[t]}
        checks.append(check("landed events applied", OK if not unapplied else FAIL,
                            f"{sum(landed.values())} landed events, all applied" if not unapplied else
                            "landed but not applied: " + ", ".join(f"{t} {n}" for t, n in unapplied.items())
                            + " (`whctl rebuild` recomputes dw from landing)",
                            failures=sum(abs(n) for n in unapplied.values()), unapplied=unapplied))
        failures("fact keys resolve", _count(wh, f"SELECT count(*) {FACTS_WITH_UNRESOLVED_KEYS}"),
                 "facts with a key that resolves to nothing")
        # an order whose customer is null in the source points at the unknown customer by design:
        # that is the source's data, reported by a value check below, not a pipeline failure
        failures("no facts on unknown members", _count(wh, """
            SELECT count(*) FROM dw.fact_orders
            WHERE customer_key = -1 AND NOT (customer_id IS NULL AND order_date IS NOT NULL)
               OR product_key = -1 OR date_key = -1"""),
                 "facts on an unknown member (-1)")
        failures("no facts on inferred members", _count(wh, """
            SELECT count(*) FROM dw.fact_orders f
            WHERE EXISTS (SELECT FROM dw.dim_customer d WHERE d.customer_key = f.customer_key AND d.is_inferred)
               OR EXISTS (SELECT FROM dw.dim_product d WHERE d.product_key = f.product_key AND d.is_inferred)"""),
                 "facts on an inferred member never filled in")
        failures("no duplicate facts", _count(wh, """
            SELECT count(*) FROM (SELECT order_item_id FROM dw.fact_orders GROUP BY 1 HAVING count(*) > 1) d"""),
                 "order lines with more than one fact")
        for dim, (table, sk, nk, source_table, attrs) in DIMS.items():
            failures(f"{dim} surrogate keys unique", _count(wh, f"SELECT count(*) - count(DISTINCT {sk}) FROM {table}"),
                     "duplicate surrogate keys")
            chain = wh.execute(f"""
                WITH v AS (
                    SELECT {nk} AS nk, version, valid_from, valid_to, is_current,
                           row_number() OVER w AS rn, lag(valid_to) OVER w AS prev_to
                    FROM {table} WHERE {sk} > 0 AND NOT is_inferred
                    WINDOW w AS (PARTITION BY {nk} ORDER BY valid_from))
                SELECT count(*) FILTER (WHERE version <> rn),
                       count(*) FILTER (WHERE prev_to > valid_from),
                       count(*) FILTER (WHERE prev_to < valid_from AND NOT EXISTS (
                           SELECT FROM landing.{source_table} l
                           WHERE (l.{nk} = v.nk AND l.__op = 'd' OR l.__op = 't')  -- a delete, or a truncate
                             AND ops.source_time(l.__source_ts_us) = v.prev_to)),
                       count(*) FILTER (WHERE rn = 1 AND valid_from <> '1900-01-01'),
                       count(*) FILTER (WHERE is_current AND valid_to <> '9999-12-31'),
                       count(*) FILTER (WHERE NOT is_current AND valid_to = '9999-12-31')
                FROM v""").fetchone()
            problems = dict(zip(("version numbers", "overlaps", "gaps without a delete", "first version not from 1900-01-01",
                                 "current rows not open-ended", "closed rows open-ended"), chain))
            n = sum(problems.values())
            checks.append(check(f"{dim} version chains", OK if n == 0 else FAIL,
                                "consistent" if n == 0 else ", ".join(f"{v} {k}" for k, v in problems.items() if v),
                                failures=n, problems=problems))
            # current attributes equal the source row, one current row per existing key, none for deleted keys;
            # only on the columns the source still has (promise 10: a dropped column keeps its last values)
            in_source = {r[0] for r in src.execute("SELECT column_name FROM information_schema.columns"
                                                    " WHERE table_schema = 'public' AND table_name = %s", (source_table,))}
            gone = [a for a in attrs if a not in in_source]
            checks.append(check(f"{dim} source schema", OK if not gone else WARN,
                                "as expected" if not gone else f"public.{source_table} no longer has {', '.join(gone)}:"
                                " compared without it (see `whctl status`)", missing_in_source=gone))
            attrs = tuple(a for a in attrs if a in in_source)
            cols = ", ".join((nk, *attrs))
            source_rows = {r[0]: r[1:] for r in src.execute(f"SELECT {cols} FROM public.{source_table}")}
            current = {}
            duplicates = 0
            for r in wh.execute(f"SELECT {cols} FROM {table} WHERE is_current AND {sk} > 0"):
                duplicates += r[0] in current
                current[r[0]] = r[1:]
            missing = len(source_rows.keys() - current.keys())
            stale = len(current.keys() - source_rows.keys())
            differ = sum(1 for k in source_rows.keys() & current.keys() if tuple(map(_norm, source_rows[k])) != tuple(map(_norm, current[k])))
            n = missing + stale + differ + duplicates
            checks.append(check(f"{dim} current rows match source", OK if n == 0 else FAIL,
                                f"{len(source_rows)} source rows" + ("" if n == 0 else
                                f": {missing} missing, {stale} current but deleted in source, {differ} differ, {duplicates} keys with >1 current row"),
                                failures=n, source_rows=len(source_rows), missing=missing, stale=stale, differ=differ))
        # facts against the source's order lines; a source that no longer has a column these
        # read is reported, not a crash (promise 10)
        try:
            src_lines, src_revenue = src.execute("SELECT count(*), coalesce(sum(line_total), 0) FROM public.order_items").fetchone()
            wh_lines, wh_revenue = wh.execute("SELECT count(*), coalesce(sum(line_total), 0) FROM dw.fact_orders").fetchone()
            checks.append(check("order lines reconcile", OK if src_lines == wh_lines else FAIL,
                                f"source {src_lines}, facts {wh_lines}", source=src_lines, warehouse=wh_lines, failures=abs(src_lines - wh_lines)))
            checks.append(check("revenue reconciles", OK if src_revenue == wh_revenue else FAIL,
                                f"source {src_revenue}, facts {wh_revenue}", source=src_revenue, warehouse=wh_revenue))
            source_facts = {r[0]: r[1:] for r in src.execute("""
                SELECT i.order_item_id, i.order_id, i.product_id, o.customer_id, i.quantity, i.unit_price, i.line_total, o.status, o.order_date
                FROM public.order_items i JOIN public.orders o USING (order_id)""")}
            facts = {r[0]: r[1:] for r in wh.execute("""
                SELECT order_item_id, order_id, product_id, customer_id, quantity, unit_price, line_total, order_status, order_date
                FROM dw.fact_orders""")}
            differ = sum(1 for k in source_facts.keys() & facts.keys() if source_facts[k] != facts[k])
            checks.append(check("facts match source lines", OK if differ == 0 else FAIL, f"{differ} facts differ from their source line",
                                failures=differ))
        except (psycopg.errors.UndefinedColumn, psycopg.errors.UndefinedTable) as exc:
            checks.append(check("facts against the source", WARN, "the source's order tables differ from what verify"
                                f" compares: {exc.diag.message_primary}; not compared (see `whctl status`)"))
        wrong_version = _count(wh, """
            SELECT count(*) FROM dw.fact_orders f
            JOIN dw.dim_customer c ON c.customer_key = f.customer_key
            JOIN dw.dim_product p ON p.product_key = f.product_key
            WHERE f.customer_key > 0 AND NOT (f.order_date >= c.valid_from AND f.order_date < c.valid_to)
               OR f.product_key > 0 AND NOT (f.order_date >= p.valid_from AND f.order_date < p.valid_to)""")
        failures("facts point to the version valid at order date", wrong_version, "facts on a version not valid at their order date")
        checks += value_checks(wh)
    return overall(checks)


# Values a shop does not expect, which the warehouse keeps as the source has them: each is a
# warning (the data is the source's to fix) with how many and a few example keys.
# name -> (what is counted, its key, FROM … WHERE … selecting the offending rows)
VALUE_CHECKS = {
    "order line quantities positive": ("order lines with quantity <= 0", "order_item_id",
                                       "dw.fact_orders WHERE quantity <= 0"),
    "unit prices not negative": ("order lines with a negative unit price", "order_item_id",
                                 "dw.fact_orders WHERE unit_price < 0"),
    "line totals are quantity x unit price": ("order lines whose line_total is not quantity x unit_price", "order_item_id",
                                              "dw.fact_orders WHERE line_total <> quantity * unit_price"),
    "product prices not negative": ("products with a negative price in some version", "product_id",
                                    "dw.dim_product WHERE price < 0 AND product_key > 0"),
    "orders have a customer": ("orders without a customer (their facts point at the unknown customer)", "order_id",
                               "dw.fact_orders WHERE customer_id IS NULL AND order_date IS NOT NULL"),
}
EXAMPLES = 5


def value_checks(wh: psycopg.Connection) -> list[dict]:
    checks = []
    for name, (what, key, rows) in VALUE_CHECKS.items():
        n, examples = wh.execute(
            f"SELECT count(DISTINCT {key}), (array_agg(DISTINCT {key} ORDER BY {key}))[1:{EXAMPLES}] FROM {rows}").fetchone()
        examples = examples or []
        detail = f"{n} {what}" + (f" (e.g. {key} {', '.join(map(str, examples))})" if n else "")
        checks.append(check(name, OK if n == 0 else WARN, detail, count=n, key=key, examples=examples))
    return checks


def _norm(value):
    return value.rstrip() if isinstance(value, str) else value
