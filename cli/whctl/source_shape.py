"""Promise 10 of design.md: the source changes shape, and landing follows it.

`evolve_landing(settings)` compares the columns of the captured source tables with their landing
tables and, as the warehouse owner, adds to landing what the source now sends (with a type that
cannot lose the value), records when a column was first seen, and when a column stopped being sent
(dropped at the source: the engine then carries its last value forward, ops.column_stopped). It is
idempotent and cheap (two catalog reads and one small table when nothing changed), meant to be
called every few seconds by the supervisor, which restarts a sink task that failed on a missing
landing column once this has run. It returns the actions it took, for incidents.

`checks(wh, src)` gives the schema's information for `whctl status` (health.check dicts): source
tables and columns that are not captured or not tracked (information), and dropped columns a
person has not acknowledged yet (a warning naming what to do).
"""
from __future__ import annotations

import psycopg
from psycopg import sql

from whctl import health, pipeline
from whctl.config import Settings
from whctl.db import connect

# landing columns that come from the event's metadata, not from the source row
METADATA = frozenset({"landing_id", "__op", "__lsn", "__txid", "__source_ts_us", "__deleted", "__topic",
                      "__partition", "__offset", "__landed_at", "__kafka_ts_ms"})
# landing table -> the dimension it feeds (orders and order_items feed the facts)
DIMENSION_OF = {"customers": "customer", "products": "product"}

# Landing types that hold every value of a source type (by pg_type.typname); anything else lands
# as text, which the sink can always write. Integers and decimals land as numeric without a typmod
# (a widened numeric(10,2) or a bigint fits), character types as text (a widened varchar fits).
_LOSSLESS = {
    "int2": "numeric", "int4": "numeric", "int8": "numeric", "numeric": "numeric",
    "float4": "double precision", "float8": "double precision",
    "bool": "boolean", "date": "date", "timestamp": "timestamp", "timestamptz": "timestamptz",
    "time": "time", "bytea": "bytea",
}

_COLUMNS = """
    SELECT c.relname, a.attname, t.typname, format_type(a.atttypid, a.atttypmod)
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_type t ON t.oid = a.atttypid
    WHERE n.nspname = %s AND c.relname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY c.relname, a.attnum"""


def landing_type(typname: str) -> str:
    """The landing column type for a source column of type `typname` (pg_type.typname)."""
    return _LOSSLESS.get(typname, "text")


def _columns(conn: psycopg.Connection, schema: str) -> dict[str, dict[str, tuple[str, str]]]:
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for table, column, typname, formatted in conn.execute(_COLUMNS, (schema, list(pipeline.SOURCE_TABLES))):
        out.setdefault(table, {})[column] = (typname, formatted)
    return out


def _known(wh: psycopg.Connection) -> dict[tuple[str, str], dict]:
    rows = wh.execute("SELECT landing_table, column_name, first_seen_at, drop_seen_lsn, stopped_lsn, stopped_at, retired_at"
                      " FROM ops.source_columns").fetchall()
    keys = ("first_seen_at", "drop_seen_lsn", "stopped_lsn", "stopped_at", "retired_at")
    return {(r[0], r[1]): dict(zip(keys, r[2:])) for r in rows}


def evolve_landing(settings: Settings) -> list[dict]:
    """Make landing follow the source's shape; return the actions taken (empty when nothing changed)."""
    actions: list[dict] = []
    with connect(settings, "source", autocommit=True) as src, connect(settings, "warehouse", autocommit=True) as wh:
        source = _columns(src, "public")
        landing = _columns(wh, "landing")
        known = _known(wh)
        source_lsn = None
        for table in pipeline.SOURCE_TABLES:
            if table not in source or table not in landing:
                continue
            for column, (typname, formatted) in source[table].items():
                if column not in landing[table]:
                    target = landing_type(typname)
                    with wh.transaction():
                        wh.execute("SET LOCAL ROLE wh_owner")
                        wh.execute(sql.SQL("ALTER TABLE landing.{} ADD COLUMN IF NOT EXISTS {} {}").format(
                            sql.Identifier(table), sql.Identifier(column), sql.SQL(target)))
                        wh.execute("INSERT INTO ops.source_columns (landing_table, column_name, source_type, first_seen_at)"
                                   " VALUES (%s, %s, %s, clock_timestamp()) ON CONFLICT (landing_table, column_name) DO UPDATE"
                                   " SET source_type = EXCLUDED.source_type, first_seen_at = EXCLUDED.first_seen_at,"
                                   " drop_seen_lsn = NULL, stopped_lsn = NULL, stopped_at = NULL, retired_at = NULL",
                                   (table, column, formatted))
                    actions.append({"action": "added landing column", "table": table, "column": column,
                                    "source_type": formatted, "landing_type": target})
                elif (table, column) not in known:
                    wh.execute("INSERT INTO ops.source_columns (landing_table, column_name, source_type, first_seen_at)"
                               " VALUES (%s, %s, %s, clock_timestamp()) ON CONFLICT DO NOTHING", (table, column, formatted))
            for column in landing[table].keys() - source[table].keys() - METADATA:
                state = known.get((table, column), {})
                if state.get("stopped_lsn") is not None:
                    continue
                if state.get("drop_seen_lsn") is None:
                    # first seen missing: changes made before now may still be on their way and carry
                    # it; place the stop once the pipeline has landed past this point
                    if source_lsn is None:
                        source_lsn = src.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()[0]
                    wh.execute("INSERT INTO ops.source_columns (landing_table, column_name, drop_seen_lsn) VALUES (%s, %s, %s)"
                               " ON CONFLICT (landing_table, column_name) DO UPDATE SET drop_seen_lsn = EXCLUDED.drop_seen_lsn",
                               (table, column, int(source_lsn)))
                    actions.append({"action": "noticed a column dropped at the source", "table": table, "column": column})
                    continue
                # the heartbeat lands every second: once one from after the drop was seen has landed,
                # Debezium has sent every earlier change (the sink reads each topic at its own pace,
                # so a table lagging behind the heartbeat's topic is the one window left)
                newest = wh.execute("SELECT __lsn FROM landing.heartbeat ORDER BY __source_ts_us DESC LIMIT 1").fetchone()
                if newest and newest[0] is not None and newest[0] >= state["drop_seen_lsn"]:
                    stopped = wh.execute("SELECT ops.column_stopped(%s, %s)", (table, column)).fetchone()[0]
                    actions.append({"action": "recorded a dropped column; its last values are carried forward",
                                    "table": table, "column": column, "stopped_lsn": stopped})
    return actions


def checks(wh: psycopg.Connection | None, src: psycopg.Connection | None) -> list[dict]:
    """Status checks of the source's shape (health.check dicts); none without both databases."""
    if wh is None or src is None:
        return []
    if wh.execute("SELECT to_regclass('ops.source_columns')").fetchone()[0] is None:
        return []
    captured = {f"public.{t}" for t in pipeline.SOURCE_TABLES}
    uncaptured = [r[0] for r in src.execute(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname <> %s"
        "   AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%%' ORDER BY 1",
        (pipeline.HEARTBEAT_SCHEMA,)) if r[0] not in captured]
    out = [health.check("source tables", health.OK, ("not captured: " + ", ".join(uncaptured) + " (information: only "
                                       + ", ".join(pipeline.SOURCE_TABLES) + " feed the warehouse)")
                 if uncaptured else "every table of the source is captured", not_captured=uncaptured)]

    source = _columns(src, "public")
    landing = _columns(wh, "landing")
    known = _known(wh)
    policy = {(r[0], r[1]) for r in wh.execute("SELECT dimension, column_name FROM ops.scd_policy")}
    untracked, unused, pending, dropped, retired = [], [], [], [], []
    for table in pipeline.SOURCE_TABLES:
        for column in source.get(table, {}):
            if column not in landing.get(table, {}):
                pending.append(f"{table}.{column}")
            elif (known.get((table, column)) or {}).get("first_seen_at") is not None:   # added since the start
                if table in DIMENSION_OF and (DIMENSION_OF[table], column) not in policy:
                    untracked.append((table, column))
                elif table not in DIMENSION_OF:
                    unused.append(f"{table}.{column}")
        for column in sorted(landing.get(table, {}).keys() - source.get(table, {}).keys() - METADATA):
            state = known.get((table, column)) or {}
            (retired if state.get("retired_at") else dropped).append((table, column, state))

    notes = []
    if untracked:
        notes.append("not tracked: " + ", ".join(f"{t}.{c}" for t, c in untracked) + " (landing keeps them; adopt with "
                     + "; ".join(f"`whctl dimension adopt {DIMENSION_OF[t]} {c} --type 1|2`" for t, c in untracked) + ")")
    if unused:
        notes.append("landed, not used by the facts: " + ", ".join(unused))
    if pending:
        notes.append("not in landing yet: " + ", ".join(pending) + " (the supervisor adds them)")
    if retired:
        notes.append("retired (dropped at the source): " + ", ".join(f"{t}.{c}" for t, c, _ in retired))
    out.append(health.check("source columns", health.OK, "; ".join(notes) or "landing and the dimensions follow the source",
                     not_tracked=[f"{t}.{c}" for t, c in untracked], not_used=unused, not_in_landing=pending,
                     retired=[f"{t}.{c}" for t, c, _ in retired]))
    if dropped:
        out.append(health.check("dropped columns", health.WARN, "; ".join(
            f"{t}.{c} is no longer sent by the source"
            + (f" (since {s['stopped_at']:%Y-%m-%d %H:%M:%S})" if s.get("stopped_at") else "")
            + (": dw keeps its last values and opens no version for it" if t in DIMENSION_OF else "")
            + f"; acknowledge with `whctl dimension retire {t} {c}`" for t, c, s in dropped),
            dropped=[f"{t}.{c}" for t, c, _ in dropped]))
    return out

