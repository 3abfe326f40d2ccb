"""Shared click options: settings (each shows its WH_* variable in --help) and --json."""
from __future__ import annotations

import functools
from dataclasses import fields

import click

from whctl.config import Settings
from whctl.db import check_dsn
from whctl.localstack.stack import require_loopback

_HELP = {
    "state_dir": "Folder holding the local stack's data, logs, jars and generated secrets.",
    "host": "Loopback address the local stack listens on.",
    "source_port": "Port of the source PostgreSQL.",
    "warehouse_port": "Port of the warehouse PostgreSQL.",
    "kafka_port": "Port of the Kafka broker.",
    "kafka_controller_port": "Port of the Kafka KRaft controller.",
    "connect_port": "Port of the Kafka Connect REST API.",
    "connect_workers": "Workers of the local stack's Kafka Connect cluster (1 or 2).",
    "connect2_port": "Port of the REST API of the second Connect worker (with --connect-workers 2).",
    "pg_user": "Superuser name of the local PostgreSQL clusters.",
    "source_db": "Source (application) database name.",
    "warehouse_db": "Warehouse database name.",
    "source_dsn": "Source DSN (use your own PostgreSQL instead of the local stack).",
    "warehouse_dsn": "Warehouse DSN (use your own PostgreSQL instead of the local stack).",
    "connect_url": "Kafka Connect REST URL (use your own Connect instead of the local stack).",
    "kafka_bootstrap": "Kafka bootstrap servers (use your own Kafka instead of the local stack).",
    "source_timezone": "Time zone of the source's timestamp columns.",
}


def settings_options(*names: str):
    """Add an option per named setting and pass the resulting `settings: Settings` to the command."""
    known = {f.name: f for f in fields(Settings)}
    for name in names:
        if name not in known:
            raise ValueError(f"unknown setting {name}")

    def decorate(command):
        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            overrides = {n: kwargs.pop(n) for n in names}
            kwargs["settings"] = settings = Settings.from_env(**overrides)
            _check(settings, names)
            return command(*args, **kwargs)

        for name in reversed(names):
            param_type = int if name.endswith("_port") or name == "connect_workers" else (click.Path(file_okay=False) if name == "state_dir" else str)
            wrapper = click.option(
                f"--{name.replace('_', '-')}",
                name,
                envvar=f"WH_{name.upper()}",
                show_envvar=True,
                type=param_type,
                default=None,
                help=_HELP[name],
            )(wrapper)
        return wrapper

    return decorate


# Settings that point a command at a server of your own; when one is left unset the command reaches
# the local stack's server at WH_HOST instead.
_OWN_SERVERS = ("source_dsn", "warehouse_dsn", "connect_url")


def _check(settings: Settings, names: tuple[str, ...]) -> None:
    """Refuse, before any work, a DSN that does not parse and a non-loopback WH_HOST for the local
    stack (which listens on loopback only, as `whctl stack up` says), instead of a traceback or a
    misleading "down"."""
    for which in ("source", "warehouse"):
        if f"{which}_dsn" in names:
            check_dsn(which, getattr(settings, f"{which}_dsn"))
    if "host" in names and any(getattr(settings, n) is None for n in _OWN_SERVERS if n in names):
        require_loopback(settings.host)


WAREHOUSE = ("state_dir", "warehouse_dsn", "warehouse_port", "host", "pg_user", "warehouse_db")
SOURCE = ("source_dsn", "source_port", "source_db")

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")
