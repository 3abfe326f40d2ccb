"""The two PostgreSQL clusters of the local stack: source (logical decoding on) and warehouse."""
from __future__ import annotations

from functools import cached_property
from pathlib import Path

import psycopg
from psycopg import sql

from whctl.config import Settings
from whctl.localstack.proc import wait_for
from whctl.output import WhctlError
from whctl.pgserver import LocalCluster

# The source feeds Debezium: logical WAL, room for a few slots and senders, and a short WAL
# writer delay (the floor of end-to-end latency, design.md "Pipeline facts").
SOURCE_SETTINGS = {
    "wal_level": "logical",
    "max_replication_slots": "8",
    "max_wal_senders": "8",
    "wal_writer_delay": "'10ms'",
}
WAREHOUSE_SETTINGS: dict[str, str] = {}
COMMON_SETTINGS = {
    "shared_buffers": "'128MB'",
    "max_connections": "100",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
}


class PostgresComponent:
    """One cluster in <state_dir>/<name>, its log linked as <state_dir>/logs/<name>.log."""

    kind = "postgresql"

    def __init__(self, settings: Settings, name: str, port: int, dbname: str, server_settings: dict[str, str]):
        self.settings = settings
        self.name = name
        self.port = port
        self.dbname = dbname
        self.server_settings = {**COMMON_SETTINGS, **server_settings}

    @cached_property
    def cluster(self) -> LocalCluster:
        # built on first use: the password is generated into the state folder only when needed
        return LocalCluster(
            base_dir=self.settings.state_dir / self.name,
            port=self.port,
            superuser=self.settings.pg_user,
            password=self.settings.password(self.settings.pg_user),
            host=self.settings.host,
            settings=self.server_settings,
        )

    @property
    def log_file(self) -> Path:
        return self.settings.state_dir / "logs" / f"{self.name}.log"

    @property
    def url(self) -> str:
        return f"postgresql://{self.settings.pg_user}@{self.settings.host}:{self.port}/{self.dbname}"

    def pid(self) -> int | None:
        if not (self.settings.state_dir / self.name / "data").exists():
            return None
        return self.cluster.pid()

    def _connect(self, dbname: str) -> psycopg.Connection:
        return psycopg.connect(
            host=self.settings.host, port=self.port, user=self.settings.pg_user, dbname=dbname,
            password=self.cluster.password, connect_timeout=3, autocommit=True,
        )

    def healthy(self) -> bool:
        try:
            with self._connect(self.dbname) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def launch(self) -> None:
        self.cluster.init()
        self._keep_port_current()
        self.cluster.start()  # pg_ctl -w: returns once the server accepts connections
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        if not self.log_file.is_symlink():
            self.log_file.unlink(missing_ok=True)
            self.log_file.symlink_to(self.cluster.log_file)

    def wait_ready(self, timeout: float = 60) -> None:
        if not wait_for(lambda: self._connect("postgres").close() is None, timeout, alive=lambda: self.pid() is not None):
            raise WhctlError(f"{self.name} PostgreSQL did not accept connections on port {self.port}", hint=f"see {self.cluster.log_file}")
        with self._connect("postgres") as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.dbname,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.dbname)))

    def stop(self) -> None:
        self.cluster.stop()

    def server_version(self) -> str | None:
        try:
            with self._connect("postgres") as conn:
                return conn.execute("SHOW server_version").fetchone()[0]
        except psycopg.Error:
            return None

    def _keep_port_current(self) -> None:
        """A changed WH_*_PORT applies to an existing cluster too (the last setting in the file wins)."""
        auto = self.cluster.data_dir / "postgresql.auto.conf"
        lines = auto.read_text().splitlines()
        current = [line.split("=", 1)[1].strip() for line in lines if line.split("=", 1)[0].strip() == "port"]
        if not current or current[-1] != str(self.port):
            with open(auto, "a") as f:
                f.write(f"port = {self.port}\n")


def source(settings: Settings) -> PostgresComponent:
    return PostgresComponent(settings, "source", settings.source_port, settings.source_db, SOURCE_SETTINGS)


def warehouse(settings: Settings) -> PostgresComponent:
    return PostgresComponent(settings, "warehouse", settings.warehouse_port, settings.warehouse_db, WAREHOUSE_SETTINGS)
