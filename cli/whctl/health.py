"""Named checks with verdicts: the pipeline's health (`whctl status`) and data quality (`whctl verify`).

A check is {"name", "verdict": ok|warn|fail, "detail", ...numbers}. The overall exit status is 0
when every check is ok, 2 when the worst is warn (degraded), 1 when any fails (down or wrong).
"""
from __future__ import annotations

from datetime import datetime, timezone

import psycopg

from whctl import connect_api, pipeline, source_shape
from whctl.config import Settings
from whctl.db import connect
from whctl.output import WhctlError

OK, WARN, FAIL = "ok", "warn", "fail"
LAG_WARN_BYTES = 16 * 2**20
FRESHNESS_WARN_S = 10
FRESHNESS_FAIL_S = 60
LANDING_TABLES = ("customers", "products", "orders", "order_items", "heartbeat")

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
        return connect(settings, which, autocommit=True), None
    except WhctlError as exc:
        return None, exc.message.splitlines()[0]


# --- whctl status ------------------------------------------------------------------------------

def status(settings: Settings) -> dict:
    api = connect_api.Connect(settings)
    connect_up = api.reachable()
    wh, wh_error = _try_connect(settings, "warehouse")
    src, src_error = _try_connect(settings, "source")
    if not connect_up and wh is None and src is None:
        raise WhctlError(f"the pipeline is down: no answer from Kafka Connect ({api.url}), the warehouse nor the source"
                         " (start the local stack with `whctl stack up`)")
    checks: list[dict] = []
    try:
        checks += _connector_checks(api, connect_up)
        checks.append(_slot_check(src, src_error))
        checks += _warehouse_checks(wh, wh_error)
        checks += source_shape.checks(wh, src)
    finally:
        for conn in (wh, src):
            if conn is not None:
                conn.close()
    result = overall(checks)
    result["checked_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return result


def _connector_checks(api: connect_api.Connect, connect_up: bool) -> list[dict]:
    if not connect_up:
        return [check(f"connector {name}", FAIL, f"Kafka Connect unreachable at {api.url}") for name in pipeline.CONNECTOR_NAMES]
    checks = []
    for name in pipeline.CONNECTOR_NAMES:
        st = api.status(name)
        if st is None:
            checks.append(check(f"connector {name}", FAIL, "not registered (run `whctl deploy`)"))
            continue
        tasks = [t["state"] for t in st.get("tasks", [])]
        state = st["connector"]["state"]
        running = state == "RUNNING" and tasks and all(t == "RUNNING" for t in tasks)
        detail = f"{state}, tasks {', '.join(tasks) or 'none'}"
        failed = [t for t in st.get("tasks", []) if t["state"] == "FAILED"]
        if failed:
            detail += f": {connect_api.readable_trace(failed[0].get('trace', ''), 1).strip()[:200]}"
        verdict = OK if running else (WARN if state in ("PAUSED", "STOPPED") or "PAUSED" in tasks else FAIL)
        checks.append(check(f"connector {name}", verdict, detail, state=state, tasks=tasks))
    return checks


def _slot_check(src, error) -> dict:
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


def _warehouse_checks(wh, error) -> list[dict]:
    if wh is None:
        return [check("warehouse", FAIL, error)]
    if wh.execute("SELECT to_regclass('ops.apply_stats')").fetchone()[0] is None:
        return [check("warehouse", FAIL, "not migrated (run `whctl deploy`)")]
    checks = []
    age = wh.execute(
        "SELECT extract(epoch FROM clock_timestamp() - to_timestamp(max(__source_ts_us) / 1e6))::float8 FROM landing.heartbeat"
    ).fetchone()[0]
    if age is None:
        checks.append(check("freshness", FAIL, "no heartbeat landed yet", heartbeat_age_s=None))
    else:
        verdict = OK if age < FRESHNESS_WARN_S else WARN if age < FRESHNESS_FAIL_S else FAIL
        checks.append(check("freshness", verdict, f"newest landed heartbeat committed {age:.1f}s ago", heartbeat_age_s=round(age, 3)))
    applied = {r[0]: {"events": r[1], "quarantined": r[2], "age_s": None if r[3] is None else round(r[3], 1)}
               for r in wh.execute("SELECT landing_table, events, quarantined,"
                                   " extract(epoch FROM clock_timestamp() - last_applied_at)::float8 FROM ops.apply_stats ORDER BY 1")}
    checks.append(check("applied changes", OK, "; ".join(
        f"{t} {v['events']} ({'never' if v['age_s'] is None else _age(v['age_s']) + ' ago'})" for t, v in applied.items()),
        tables=applied))
    counts = {f"landing.{t}": wh.execute(f"SELECT count(*) FROM landing.{t}").fetchone()[0] for t in LANDING_TABLES}
    for dim in ("dim_customer", "dim_product"):
        total, current = wh.execute(f"SELECT count(*) FILTER (WHERE {dim.split('_')[1]}_key > 0),"
                                    f" count(*) FILTER (WHERE is_current AND {dim.split('_')[1]}_key > 0) FROM dw.{dim}").fetchone()
        counts[f"dw.{dim}"] = {"total": total, "current": current}
    counts["dw.fact_orders"] = wh.execute("SELECT count(*) FROM dw.fact_orders").fetchone()[0]
    checks.append(check("row counts", OK, ", ".join(
        f"{k.split('.')[1]} {v['total']}/{v['current']} current" if isinstance(v, dict) else f"{k} {v}" for k, v in counts.items()),
        counts=counts))
    quarantined = wh.execute("SELECT count(*) FROM ops.quarantine WHERE dismissed_at IS NULL").fetchone()[0]
    checks.append(check("quarantine", OK if quarantined == 0 else WARN,
                        "empty" if quarantined == 0 else f"{quarantined} events (see `whctl quarantine list`)", quarantined=quarantined))
    return checks


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

        failures("fact keys resolve", _count(wh, f"SELECT count(*) {FACTS_WITH_UNRESOLVED_KEYS}"),
                 "facts with a key that resolves to nothing")
        failures("no facts on unknown members", _count(wh, """
            SELECT count(*) FROM dw.fact_orders WHERE customer_key = -1 OR product_key = -1 OR date_key = -1"""),
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
    return overall(checks)


def _norm(value):
    return value.rstrip() if isinstance(value, str) else value
