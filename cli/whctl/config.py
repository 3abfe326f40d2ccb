"""Settings of whctl: defaults that work out of the box, overridden by WH_* environment variables.

Every setting has one environment variable; commands expose the ones they use as options
(see `options.py`), so `--help` shows the variable next to the option.
"""
from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address) is this machine's loopback."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _default_state_dir() -> Path:
    return PROJECT_ROOT / ".whctl"


@dataclass(frozen=True)
class Settings:
    """Where the stack runs and how to reach it. Field name X is read from WH_X."""

    state_dir: Path = field(default_factory=_default_state_dir)
    host: str = "127.0.0.1"
    source_port: int = 55432
    warehouse_port: int = 55433
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    connect_port: int = 8083
    # a Connect cluster of this many workers (1 or 2); the second listens on connect2_port
    connect_workers: int = 1
    connect2_port: int = 8084
    pg_user: str = "postgres"
    source_db: str = "ecommerce"
    warehouse_db: str = "warehouse"
    # Explicit DSNs point whctl at your own PostgreSQL servers instead of the local stack.
    source_dsn: str | None = None
    warehouse_dsn: str | None = None
    connect_url: str | None = None
    kafka_bootstrap: str | None = None
    # The source's timestamps are local time of this zone (design.md, promise 2). None: the zone
    # stored in the warehouse (UTC unless set), which only an explicit setting changes.
    source_timezone: str | None = None
    # `whctl serve`: where the dashboard listens, and the token it requires off loopback.
    serve_host: str = "127.0.0.1"
    serve_port: int = 8050
    serve_token: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Settings":
        env = os.environ if env is None else env
        values = {}
        for f in fields(cls):
            raw = env.get(f"WH_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            if f.name == "state_dir":
                values[f.name] = Path(raw)
            elif f.name.endswith("_port") or f.name == "connect_workers":
                values[f.name] = int(raw)
            else:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "state_dir" in values:
            values["state_dir"] = Path(values["state_dir"]).resolve()
        return cls(**values)

    def with_overrides(self, **overrides) -> "Settings":
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    # --- derived places -------------------------------------------------
    @property
    def secrets_dir(self) -> Path:
        return self.state_dir / "secrets"

    def password(self, role: str) -> str:
        """The password of a role: WH_<ROLE>_PASSWORD, else one generated once into the state folder."""
        from_env = os.environ.get(f"WH_{role.upper()}_PASSWORD")
        if from_env:
            return from_env
        path = self.secrets_dir / f"{role}.password"
        if path.exists():
            return path.read_text().strip()
        self.secrets_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.secrets_dir, 0o700)
        value = secrets.token_urlsafe(24)
        path.write_text(value + "\n")
        os.chmod(path, 0o600)
        return value

    def _local_dsn(self, port: int, dbname: str) -> str:
        return f"postgresql://{self.pg_user}@{self.host}:{port}/{dbname}"

    @property
    def source(self) -> str:
        """Source DSN without password (safe to print)."""
        return self.source_dsn or self._local_dsn(self.source_port, self.source_db)

    @property
    def warehouse(self) -> str:
        """Warehouse DSN without password (safe to print)."""
        return self.warehouse_dsn or self._local_dsn(self.warehouse_port, self.warehouse_db)

    @property
    def connect(self) -> str:
        """Kafka Connect's REST URL; a comma-separated list for a cluster of several workers (any one answers)."""
        if self.connect_url:
            return self.connect_url
        ports = [self.connect_port] + ([self.connect2_port] if self.connect_workers > 1 else [])
        return ",".join(f"http://{self.host}:{port}" for port in ports)

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap or f"{self.host}:{self.kafka_port}"

    def connection_kwargs(self, which: str, role: str | None = None) -> dict:
        """psycopg.connect() arguments for 'source' or 'warehouse'.

        An explicit DSN brings its own credentials (or a PGPASSFILE); the local stack's superuser
        password is read from the state folder, never put into a printable string. With `role`, the
        same server and database as that role, with its password (WH_<ROLE>_PASSWORD or the state
        folder's, as `whctl deploy` set it).
        """
        explicit = self.source_dsn if which == "source" else self.warehouse_dsn
        dsn = self.source if which == "source" else self.warehouse
        kwargs: dict = {"conninfo": dsn, "connect_timeout": 5}
        if role is not None:
            kwargs.update(user=role, password=self.password(role))
        elif explicit is None:
            kwargs["password"] = self.password(self.pg_user)
        return kwargs
