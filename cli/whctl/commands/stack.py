"""`whctl stack`: the local stack (source and warehouse PostgreSQL, Kafka, Kafka Connect)."""
from __future__ import annotations

import click

from whctl.localstack import Stack, runtime
from whctl.localstack.prereqs import check as check_prereqs
from whctl.options import json_option, settings_options
from whctl.output import emit, progress, table

STACK = ("state_dir", "host", "source_port", "warehouse_port", "kafka_port", "kafka_controller_port",
         "connect_port", "connect_workers", "connect2_port", "pg_user", "source_db", "warehouse_db")


@click.group()
def stack():
    """Run the whole pipeline's infrastructure on this machine, without Docker.

    Everything lives in the state folder (WH_STATE_DIR): data, logs, pid files, jars and
    generated passwords. Every server listens on loopback only.
    """


@stack.command()
@settings_options(*STACK)
@json_option
def up(settings, as_json: bool):
    """Start what is not running and wait until every component is healthy (idempotent)."""
    the_stack = Stack(settings)
    actions = the_stack.up()
    status = the_stack.status()
    for c in status["components"]:
        c["action"] = actions.get(c["name"])
    emit(status, as_json, _render)


@stack.command()
@settings_options("state_dir", "host", "source_port", "warehouse_port", "kafka_port", "connect_port", "connect2_port", "pg_user")
@json_option
def down(settings, as_json: bool):
    """Stop every process the stack started, by pid: gracefully, then forcefully. Data is kept."""
    actions = Stack(settings).down()
    emit(actions, as_json, lambda a: "\n".join(f"{name}: {action}" for name, action in a.items()))


@stack.command()
@settings_options(*STACK)
@json_option
def status(settings, as_json: bool):
    """Show each component (pid, port, health, log) and how to connect. Exit 1 unless all are healthy."""
    state = Stack(settings).status()
    emit(state, as_json, _render)
    raise SystemExit(0 if state["healthy"] else 1)


@stack.command()
@click.option("--force", is_flag=True, help="Fetch again even when the runtime is present and current.")
@settings_options("state_dir")
def fetch(settings, force: bool):
    """Resolve Kafka, Connect and Debezium from Maven Central into the state folder (once)."""
    check_prereqs(need_maven=True)
    rt = runtime.runtime(settings)
    if rt.present() and not force:
        progress(f"runtime present in {rt.root}")
    rt = runtime.fetch(settings, force=force)
    click.echo(" ".join(f"{k}={v}" for k, v in rt.versions().items()))


def _render(s: dict) -> str:
    rows = []
    for c in s["components"]:
        row = {**c, "pid": c["pid"] or "-", "port": c["port"] or "-", "healthy": "yes" if c["healthy"] else "no", "rss_mib": c["rss_mib"] or "-"}
        rows.append(row)
    columns = ["name", "pid", "port", "healthy", "rss_mib", "log"]
    if any(c.get("action") for c in s["components"]):
        columns.insert(1, "action")
    conn = s["connections"]
    lines = [
        table(rows, columns),
        "",
        f"source DSN:      {conn['source']}",
        f"warehouse DSN:   {conn['warehouse']}",
        f"Kafka bootstrap: {conn['kafka_bootstrap']}",
        f"Connect URL:     {conn['connect_url']}",
        f"password:        {s['password']}",
        f"connector secrets (for ${{file:...}}): {s['connector_secrets']}",
        "versions:        " + ", ".join(f"{k} {v}" for k, v in s["versions"].items() if v),
        f"state folder:    {s['state_dir']}",
    ]
    return "\n".join(lines)
