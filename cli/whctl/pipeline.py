"""The pipeline's desired state and deploy: prepare the source for CDC, register the connectors, wait for them.

The Kafka Connect REST client lives in whctl.connect_api; health checks in whctl.health.

`deploy` is idempotent: each step looks before it acts and reports only what it changed, so a
second run says "nothing changed". Connector configs are the templates of connectors/ with the
hosts, ports and database names of the settings filled in; passwords stay `${file:...}`
references to the Connect worker's secrets file (FileConfigProvider) and are never printed.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import psycopg
from confluent_kafka import KafkaException
from psycopg import sql

from whctl import schema
from whctl.config import PROJECT_ROOT, Settings
from whctl.connect_api import Connect
from whctl.db import connect
from whctl.kafka_api import Kafka, dead_lettered, first_unconsumed
from whctl.output import WhctlError, progress

CONNECTORS = PROJECT_ROOT / "connectors"
SOURCE_TABLES = ("customers", "products", "orders", "order_items")
CDC_ROLE = "whctl_cdc"
PUBLICATION = "whctl_pub"
SLOT = "whctl_slot"
HEARTBEAT_SCHEMA = "whctl"
SOURCE_CONNECTOR = "whctl-source"
SINK_CONNECTOR = "whctl-sink"
CONNECTOR_NAMES = (SOURCE_CONNECTOR, SINK_CONNECTOR)
SINK_GROUP = f"connect-{SINK_CONNECTOR}"  # Connect names a sink's consumer group connect-<connector>
SINK_ROLE = "wh_loader"  # the JDBC sink's login role (migration 0001)
WAREHOUSE_LOGIN_ROLES = (SINK_ROLE, "wh_analyst")
# after a (re)start Connect may report the previous FAILED state for a moment: keep waiting that long
RESTART_GRACE_S = 15
_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")


# --- connector configs ------------------------------------------------------------------------

def _endpoint(settings: Settings, which: str) -> dict[str, str]:
    """host, port, db of the source or warehouse as Connect must reach them."""
    dsn = settings.source_dsn if which == "source" else settings.warehouse_dsn
    if dsn:
        params = psycopg.conninfo.conninfo_to_dict(dsn)
        return {"host": str(params.get("host", "localhost")), "port": str(params.get("port", 5432)), "db": str(params["dbname"])}
    port = settings.source_port if which == "source" else settings.warehouse_port
    db = settings.source_db if which == "source" else settings.warehouse_db
    return {"host": settings.host, "port": str(port), "db": db}


def secrets_path(settings: Settings) -> Path:
    from whctl.localstack.connect import secrets_file

    return secrets_file(settings)


_SINK_TEMPLATE = json.loads((CONNECTORS / "sink.json").read_text())["config"]
SINK_TOPICS = tuple(_SINK_TEMPLATE["topics"].split(","))
SINK_DLQ = _SINK_TEMPLATE["errors.deadletterqueue.topic.name"]
# the sink's RegexRouter, topic -> landing table (Java's `$1` is Python's `\1`)
_SINK_ROUTE = (_SINK_TEMPLATE["transforms.route.regex"], re.sub(r"\$(\d)", r"\\\1", _SINK_TEMPLATE["transforms.route.replacement"]))


def desired_connectors(settings: Settings) -> dict[str, dict]:
    """{name: config} from connectors/*.json with the settings' endpoints filled in."""
    src, wh = _endpoint(settings, "source"), _endpoint(settings, "warehouse")
    values = {
        "source_host": src["host"], "source_port": src["port"], "source_db": src["db"],
        "warehouse_host": wh["host"], "warehouse_port": wh["port"], "warehouse_db": wh["db"],
        "secrets_file": str(secrets_path(settings)),
    }

    def fill(text: str) -> str:
        def one(match: re.Match) -> str:
            if match[1] not in values:
                raise WhctlError(f"unknown placeholder {{{{{match[1]}}}}} in a connector template")
            return values[match[1]]
        return _PLACEHOLDER.sub(one, text)

    result = {}
    for path in (CONNECTORS / "source.json", CONNECTORS / "sink.json"):
        template = json.loads(path.read_text())
        result[template["name"]] = {k: fill(str(v)) for k, v in template["config"].items()}
    return result


def _printable(key: str, value: str | None) -> str | None:
    """Config values are shown as they are, except a literal password (a reference is fine)."""
    if value is not None and "password" in key and not value.startswith("${"):
        return "<hidden>"
    return value


def config_diff(desired: dict, live: dict | None) -> dict[str, dict]:
    """{key: {"live": v, "desired": v}} for every key that differs (the `name` key aside)."""
    live = {k: v for k, v in (live or {}).items() if k != "name"}
    return {k: {"live": _printable(k, live.get(k)), "desired": _printable(k, desired.get(k))}
            for k in sorted(set(desired) | set(live)) if desired.get(k) != live.get(k)}


# --- source and warehouse preparation ---------------------------------------------------------

@dataclass
class Step:
    what: str
    apply: Callable[[psycopg.Connection], None] = field(repr=False)


def _can_login(settings: Settings, which: str, role: str, password: str, replication: bool = False) -> bool:
    kwargs = settings.connection_kwargs(which)
    kwargs.update(user=role, password=password, connect_timeout=3)
    if replication:
        kwargs["replication"] = "database"
    try:
        psycopg.connect(**kwargs).close()
        return True
    except psycopg.OperationalError:
        return False


def _password_step(settings: Settings, which: str, role: str, steps: list[Step], replication: bool = False) -> None:
    password = settings.password(role)
    if not _can_login(settings, which, role, password, replication):
        steps.append(Step(f"set the password of role {role}",
                          lambda c: c.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))))


def source_plan(settings: Settings, conn: psycopg.Connection) -> list[Step]:
    """What the source needs for CDC and does not have yet."""
    steps: list[Step] = []
    q = lambda query, *args: conn.execute(query, args).fetchone()  # noqa: E731
    missing = [t for t in SOURCE_TABLES if q("SELECT to_regclass(%s)", f"public.{t}")[0] is None]
    if missing:
        if settings.source_dsn:
            raise WhctlError(f"the source has no table {', '.join(missing)}",
                             hint="whctl captures the application's tables; point WH_SOURCE_DSN at its database")
        schema_sql = (PROJECT_ROOT / "cli" / "whctl" / "sql" / "source_schema.sql").read_text()
        steps.append(Step("create the application's tables (local stack: the proposal's schema)", lambda c: c.execute(schema_sql)))
    if q("SELECT 1 FROM pg_roles WHERE rolname = %s", CDC_ROLE) is None:
        steps.append(Step(f"create role {CDC_ROLE} (LOGIN REPLICATION)",
                          lambda c: c.execute(sql.SQL("CREATE ROLE {} LOGIN REPLICATION").format(sql.Identifier(CDC_ROLE)))))
    elif q("SELECT rolreplication AND rolcanlogin FROM pg_roles WHERE rolname = %s", CDC_ROLE)[0] is False:
        steps.append(Step(f"give role {CDC_ROLE} LOGIN REPLICATION",
                          lambda c: c.execute(sql.SQL("ALTER ROLE {} LOGIN REPLICATION").format(sql.Identifier(CDC_ROLE)))))
    if any(s.what.startswith("create role") for s in steps):
        steps.append(Step(f"set the password of role {CDC_ROLE}",
                          lambda c: c.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                              sql.Identifier(CDC_ROLE), sql.Literal(settings.password(CDC_ROLE))))))
    else:
        _password_step(settings, "source", CDC_ROLE, steps, replication=True)
    if q("SELECT to_regclass('whctl.heartbeat')")[0] is None:
        steps.append(Step("create the heartbeat table whctl.heartbeat", lambda c: c.execute(
            "CREATE SCHEMA IF NOT EXISTS whctl;"
            " CREATE TABLE whctl.heartbeat (id integer PRIMARY KEY, beat_at text NOT NULL)")))
    # SELECT on the captured tables only; the heartbeat table is written by the connector.
    fresh_role = any(s.what.startswith("create role") for s in steps)
    fresh_heartbeat = any(s.what.startswith("create the heartbeat") for s in steps)
    for table in SOURCE_TABLES:
        if fresh_role or table in missing or not q("SELECT has_table_privilege(%s, %s, 'SELECT')", CDC_ROLE, f"public.{table}")[0]:
            steps.append(Step(f"grant SELECT on public.{table} to {CDC_ROLE}", lambda c, t=table: c.execute(
                sql.SQL("GRANT USAGE ON SCHEMA public TO {r}; GRANT SELECT ON public.{t} TO {r}").format(
                    r=sql.Identifier(CDC_ROLE), t=sql.Identifier(t)))))
    if fresh_role or fresh_heartbeat or not q(
            "SELECT has_table_privilege(%s, 'whctl.heartbeat', 'INSERT, UPDATE, SELECT')", CDC_ROLE)[0]:
        steps.append(Step(f"grant USAGE on schema whctl and INSERT, UPDATE, SELECT on whctl.heartbeat to {CDC_ROLE}", lambda c: c.execute(
            sql.SQL("GRANT USAGE ON SCHEMA whctl TO {r}; GRANT INSERT, UPDATE, SELECT ON whctl.heartbeat TO {r}").format(r=sql.Identifier(CDC_ROLE)))))
    _truncate_capture_steps(conn, steps, fresh_role)
    wanted = sorted([f"public.{t}" for t in SOURCE_TABLES] + ["whctl.heartbeat", TRUNCATIONS])
    if q("SELECT 1 FROM pg_publication WHERE pubname = %s", PUBLICATION) is None:
        steps.append(Step(f"create publication {PUBLICATION} for {', '.join(wanted)}", lambda c: c.execute(
            sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(
                sql.Identifier(PUBLICATION), sql.SQL(", ").join(sql.Identifier(*t.split(".")) for t in wanted)))))
    else:
        have = sorted(f"{r[0]}.{r[1]}" for r in conn.execute(
            "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s", (PUBLICATION,)).fetchall())
        if have != wanted:
            steps.append(Step(f"set the tables of publication {PUBLICATION} to {', '.join(wanted)} (was {', '.join(have) or 'none'})",
                              lambda c: c.execute(sql.SQL("ALTER PUBLICATION {} SET TABLE {}").format(
                                  sql.Identifier(PUBLICATION), sql.SQL(", ").join(sql.Identifier(*t.split(".")) for t in wanted)))))
    # Updates and deletes need a replica identity: the primary key (default) suffices; a table
    # without one gets FULL. TOASTed unchanged values are carried forward by the engine.
    for table in SOURCE_TABLES:
        row = q("SELECT c.relreplident, EXISTS (SELECT FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)"
                " FROM pg_class c WHERE c.oid = to_regclass(%s)", f"public.{table}")
        if row and (row[0] == "n" or (row[0] == "d" and not row[1])):
            steps.append(Step(f"set REPLICA IDENTITY FULL on public.{table} (no primary key)", lambda c, t=table: c.execute(
                sql.SQL("ALTER TABLE public.{} REPLICA IDENTITY FULL").format(sql.Identifier(t)))))
    return steps


# Promise 10: a TRUNCATE of a captured table is recorded, in its own transaction, as a row of
# whctl.truncations, which is captured like any table: the row carries the truncate's LSN and commit
# time to landing.truncations, where the engine turns it into a truncate event of the table. Why not
# Debezium's own truncate events (skipped.operations): ExtractNewRecordState drops them (its
# handleTruncateRecord returns null), and without it the JDBC sink either skips them or, with
# truncate.enabled, truncates the landing table; no stock transform can select records by operation.
TRUNCATIONS = "whctl.truncations"
_TRUNCATION_CAPTURE = """
    CREATE TABLE IF NOT EXISTS whctl.truncations (
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        table_name   text NOT NULL,
        truncated_at timestamptz NOT NULL DEFAULT clock_timestamp());
    -- runs with its owner's rights: the application's role needs no grant on whctl.truncations
    CREATE OR REPLACE FUNCTION whctl.record_truncate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    BEGIN
        INSERT INTO whctl.truncations (table_name) VALUES (TG_TABLE_NAME);
        RETURN NULL;
    END $$;
"""


def _truncate_capture_steps(conn: psycopg.Connection, steps: list[Step], fresh_role: bool) -> None:
    q = lambda query, *args: conn.execute(query, args).fetchone()  # noqa: E731
    fresh = q("SELECT to_regclass(%s)", TRUNCATIONS)[0] is None
    if fresh:
        steps.append(Step(f"create {TRUNCATIONS}, where a TRUNCATE of a captured table is recorded",
                          lambda c: c.execute(_TRUNCATION_CAPTURE)))
    for table in SOURCE_TABLES:
        if fresh or q("SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND tgname = 'whctl_record_truncate'",
                      f"public.{table}") is None:
            steps.append(Step(f"record a TRUNCATE of public.{table} in {TRUNCATIONS}", lambda c, t=table: c.execute(
                sql.SQL("CREATE OR REPLACE TRIGGER whctl_record_truncate AFTER TRUNCATE ON public.{}"
                        " FOR EACH STATEMENT EXECUTE FUNCTION whctl.record_truncate()").format(sql.Identifier(t)))))
    if fresh or fresh_role or not q("SELECT has_table_privilege(%s, %s, 'SELECT')", CDC_ROLE, TRUNCATIONS)[0]:
        steps.append(Step(f"grant SELECT on {TRUNCATIONS} to {CDC_ROLE}", lambda c: c.execute(
            sql.SQL("GRANT USAGE ON SCHEMA whctl TO {r}; GRANT SELECT ON whctl.truncations TO {r}").format(
                r=sql.Identifier(CDC_ROLE)))))


def warehouse_role_plan(settings: Settings) -> list[Step]:
    steps: list[Step] = []
    for role in WAREHOUSE_LOGIN_ROLES:
        _password_step(settings, "warehouse", role, steps)
    return steps


def _run_steps(settings: Settings, which: str, steps: list[Step]) -> None:
    if not steps:
        return
    with connect(settings, which) as conn:
        for step in steps:
            progress(f"{which}: {step.what}")
            step.apply(conn)


# --- deploy -----------------------------------------------------------------------------------

def deploy(settings: Settings, dry_run: bool = False, timeout: float = 180) -> dict:
    """Bring warehouse, source and connectors to the desired state; report what changed."""
    report: dict = {"dry_run": dry_run, "warehouse": {}, "source": [], "connectors": {}}
    connect_api = Connect(settings)

    # warehouse: migrations and PL/pgSQL, then the login roles' passwords
    if dry_run:
        state = schema.status(settings)
        report["warehouse"] = {"pending": [] if state.migrations_current else [f"migrations {state.revision or 'empty'} -> {state.head}"]}
        if not state.code_current:
            report["warehouse"]["pending"].append("re-apply plpgsql/ (the database's functions differ)")
        if state.revision is not None:
            report["warehouse"]["pending"] += [s.what for s in warehouse_role_plan(settings)]
        else:
            report["warehouse"]["pending"] += [f"set the password of role {r}" for r in WAREHOUSE_LOGIN_ROLES]
    else:
        if not schema.status(settings).current:
            progress("warehouse: applying migrations and plpgsql/")
        result = schema.migrate(settings, source_timezone=settings.source_timezone)
        changes = []
        if result["migrations_applied"]:
            changes.append(f"migrations {result['from_revision'] or 'empty'} -> {result['to_revision']}")
        if result["plpgsql_changed"]:
            changes.append(f"plpgsql/ re-applied with changes ({result['plpgsql_files']} files)")
        steps = warehouse_role_plan(settings)
        _run_steps(settings, "warehouse", steps)
        report["warehouse"] = {"changed": changes + [s.what for s in steps]}

    # source
    with connect(settings, "source") as conn:
        steps = source_plan(settings, conn)
    report["source"] = [s.what for s in steps]
    if not dry_run:
        with connect(settings, "source") as conn:
            for step in steps:
                progress(f"source: {step.what}")
                step.apply(conn)

    # secrets the worker reads (the local stack's file), then the connectors
    if not dry_run:
        from whctl.localstack.connect import write_secrets

        for role in (CDC_ROLE, *WAREHOUSE_LOGIN_ROLES):
            settings.password(role)
        before = secrets_path(settings).read_bytes() if secrets_path(settings).exists() else None
        write_secrets(settings)
        report["secrets_changed"] = secrets_path(settings).read_bytes() != before

    for name, desired in desired_connectors(settings).items():
        live = connect_api.config(name)
        diff = config_diff(desired, live)
        entry = {"action": "unchanged" if not diff else ("create" if live is None else "update"),
                 "diff": diff if live is not None else {}}
        report["connectors"][name] = entry
        if not dry_run:
            if diff:
                progress(f"connect: {'registering' if live is None else 'updating'} {name}")
                connect_api.put_config(name, desired)
            elif report.get("secrets_changed"):
                # the config is unchanged but a secret it reads moved: restart to re-read it
                connect_api.call("POST", f"/connectors/{name}/restart?includeTasks=true")
                entry["action"] = "restarted (secrets changed)"
            elif connect_api.restart_failed(name):
                # converge: a task failed by an outage now over runs again (promise 11)
                progress(f"connect: restarting the failed parts of {name}")
                entry["action"] = "restarted failed tasks"
            progress(f"connect: waiting for {name} and its tasks to run")
            status = connect_api.wait_running(name, timeout, failed_grace=RESTART_GRACE_S if entry["action"] != "unchanged" else 0)
            entry["state"] = status["connector"]["state"]
            entry["tasks"] = [t["state"] for t in status["tasks"]]

    report["changed"] = bool(
        report["warehouse"].get("changed") or report["warehouse"].get("pending") or report["source"]
        or any(c["action"] != "unchanged" for c in report["connectors"].values()))
    return report


def converge(settings: Settings, timeout: float = 120) -> dict[str, str]:
    """Restart the failed parts of the registered connectors and wait until they run.

    What `whctl stack up` does after starting what was down, and what the supervisor does for a
    transient cause. Connectors not registered yet are left to `whctl deploy`. Returns
    {connector: "restarted" | "running" | "not registered"}.
    """
    api = Connect(settings)
    result = {}
    for name in CONNECTOR_NAMES:
        if api.status(name) is None:
            result[name] = "not registered"
            continue
        restarted = api.restart_failed(name)
        if restarted:
            progress(f"connect: restarted the failed parts of {name}; waiting for it to run")
        api.wait_running(name, timeout, failed_grace=RESTART_GRACE_S if restarted else 0)
        result[name] = "restarted" if restarted else "running"
    return result


# --- waiting for the warehouse ----------------------------------------------------------------

def source_lsn(settings: Settings) -> int:
    with connect(settings, "source", autocommit=True) as conn:
        return conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()[0]


def wait_for_warehouse(settings: Settings, timeout: float = 60,
                       predicate: Callable[[psycopg.Connection], bool] | None = None,
                       quiet_seconds: float = 1.0) -> float:
    """Wait until every change committed in the source before this call is applied in the warehouse.

    Takes the source's current WAL position and writes a heartbeat (so the wait does not depend on
    the connector's heartbeat interval). Once a heartbeat at or after that position has landed,
    Debezium has sent every earlier change to Kafka: the ends of the sink's topics, read then, hold
    them all. The sink reads each topic at its own pace, so the wait goes on until, in each topic
    partition, the sink has landed the record before that end (every landed row carries its Kafka
    topic, partition and offset), the records after its newest landed one dead-lettered aside. The
    engine applies a batch in the transaction that lands it: a landed record is an applied one.

    Before asking Kafka it waits until the engine has applied no batch for `quiet_seconds`
    (ops.apply_stats) and no sink transaction is open, which keeps the Kafka requests off a
    pipeline that is visibly busy; then until `predicate(warehouse_connection)` holds if given.
    Returns the seconds waited; raises WhctlError on timeout. For `whctl verify --wait`,
    `seed`/`demo`, the benchmarks and the tests.
    """
    started = time.monotonic()
    with connect(settings, "source", autocommit=True) as src:
        target = src.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()[0]
        src.execute("INSERT INTO whctl.heartbeat (id, beat_at) VALUES (2, clock_timestamp()::text)"
                    " ON CONFLICT (id) DO UPDATE SET beat_at = EXCLUDED.beat_at")
    deadline = started + timeout
    kafka, ends = Kafka(settings), None
    state = "the heartbeat has not landed"
    with connect(settings, "warehouse", autocommit=True) as wh:
        while time.monotonic() < deadline:
            # the sink's open transactions are visible to a superuser or a pg_read_all_stats member
            # (the local stack's); to another role the test is the quiet time alone
            landed, idle = wh.execute(
                "SELECT (SELECT max(__lsn) FROM landing.heartbeat) >= %s,"
                " (SELECT coalesce(extract(epoch FROM clock_timestamp() - max(last_applied_at)), 1e9)"
                "  FROM ops.apply_stats) >= %s"
                " AND NOT EXISTS (SELECT FROM pg_stat_activity WHERE usename = %s"
                "                 AND state IN ('active', 'idle in transaction'))",
                (target, quiet_seconds, SINK_ROLE)).fetchone()
            if landed and not idle:
                state = "the sink is still landing batches"
            elif landed:
                try:
                    if ends is None:
                        ends = kafka.ends(list(SINK_TOPICS), kafka.broker()["partitions"])
                    behind = _records_not_landed(wh, kafka, ends)
                    state = f"{behind} record(s) in Kafka not yet landed by the sink"
                except (KafkaException, WhctlError) as exc:  # the broker went away: keep trying until the deadline
                    behind, state = None, f"Kafka did not answer ({exc})"
                if behind == 0:
                    state = "the condition waited for does not hold"
                    if predicate is None or predicate(wh):
                        return time.monotonic() - started
            time.sleep(0.1)
    raise WhctlError(f"the warehouse did not catch up with the source within {timeout:.0f}s: {state}",
                     hint="see `whctl status` for the part that lags")


def _records_not_landed(wh: psycopg.Connection, kafka: Kafka, ends: dict[tuple[str, int], tuple[int, int]]) -> int:
    """Records below `ends` that the sink has neither landed nor dead-lettered."""
    landed = {}
    for (topic, partition), (low, high) in ends.items():
        if high > low:
            newest = wh.execute(sql.SQL("SELECT __offset FROM landing.{} WHERE __topic = %s AND __partition = %s"
                                        " ORDER BY landing_id DESC LIMIT 1").format(sql.Identifier(landing_table(topic))),
                                (topic, partition)).fetchone()
            landed[topic, partition] = newest[0] + 1 if newest else -1
    gaps = {tp: marks for tp, marks in ends.items() if first_unconsumed(landed, *tp, *marks) < marks[1]}
    if not gaps:
        return 0
    skipped = dead_lettered(kafka.read_all(SINK_DLQ)[0])  # no dead-letter topic yet: no records
    return sum(high - first_unconsumed(landed, *tp, low, high, skipped) for tp, (low, high) in gaps.items())


def landing_table(topic: str) -> str:
    """The landing table the sink writes a topic's records to: its RegexRouter, as connectors/sink.json configures it."""
    match = re.fullmatch(_SINK_ROUTE[0], topic)  # RegexRouter renames a topic its regex matches whole
    return match.expand(_SINK_ROUTE[1]) if match else topic
