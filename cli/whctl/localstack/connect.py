"""Kafka Connect: a distributed worker (or two, one cluster) with the Debezium source and JDBC sink on its plugin path.

Connector configs refer to secrets as `${file:<state_dir>/secrets/connect.properties:<key>}`
(FileConfigProvider, limited to the secrets folder); `write_secrets` keeps that file current.
"""
from __future__ import annotations

import os
from pathlib import Path

import requests

from whctl.config import Settings
from whctl.localstack import logging_config, prereqs
from whctl.localstack.proc import JavaProcess, log_tail, wait_for
from whctl.localstack.runtime import Runtime
from whctl.output import WhctlError

MAIN = "org.apache.kafka.connect.cli.ConnectDistributed"
HEAP = ["-Xms256m", "-Xmx768m"]
JVM = ["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true"]
REQUIRED_PLUGINS = (
    "io.debezium.connector.postgresql.PostgresConnector",
    "io.debezium.connector.jdbc.JdbcSinkConnector",
)
SECRETS_FILE = "connect.properties"


def secrets_file(settings: Settings) -> Path:
    return settings.secrets_dir / SECRETS_FILE


def write_secrets(settings: Settings, extra: dict[str, str] | None = None) -> Path:
    """The properties file connector configs read secrets from (mode 0600).

    Holds `<role>.password` for every password of the state folder (the local superuser's, and
    those a deploy generates for its roles) plus `extra`.
    """
    settings.password(settings.pg_user)  # generated on first use
    values = {f"{p.name.removesuffix('.password')}.password": p.read_text().strip()
              for p in sorted(settings.secrets_dir.glob("*.password"))}
    values[f"{settings.pg_user}.password"] = settings.password(settings.pg_user)  # WH_<USER>_PASSWORD wins
    values.update(extra or {})
    path = secrets_file(settings)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# written by whctl: secrets for connector configs (${file:...} references); never commit\n")
        f.write(logging_config.properties(values))
    os.chmod(path, 0o600)
    return path


class ConnectComponent:
    """Worker 1 is `connect` (connect_port); worker 2 `connect-2` (connect2_port), same group: one cluster."""

    kind = "kafka-connect"

    def __init__(self, settings: Settings, runtime: Runtime, worker: int = 1):
        self.settings = settings
        self.runtime = runtime
        self.name = "connect" if worker == 1 else f"connect-{worker}"
        self.home = settings.state_dir / "connect"
        self.port = settings.connect_port if worker == 1 else settings.connect2_port
        self.process = JavaProcess(self.name, MAIN, settings.state_dir / "run" / f"{self.name}.pid",
                                   settings.state_dir / "logs" / f"{self.name}.out")

    @property
    def log_file(self) -> Path:
        return self.settings.state_dir / "logs" / f"{self.name}.log"

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.home / ("worker.properties" if self.name == "connect" else f"worker-{self.name}.properties")

    def pid(self) -> int | None:
        return self.process.pid()

    def plugins(self) -> dict[str, str]:
        """Connector classes the worker offers, with their versions."""
        response = requests.get(f"{self.url}/connector-plugins", timeout=3)
        response.raise_for_status()
        return {p["class"]: p.get("version") for p in response.json()}

    def healthy(self) -> bool:
        try:
            offered = self.plugins()
        except (requests.RequestException, ValueError):
            return False
        return all(cls in offered for cls in REQUIRED_PLUGINS)

    def _write_config(self) -> None:
        s = self.settings
        config = {
            "bootstrap.servers": f"{s.host}:{s.kafka_port}",
            "group.id": "whctl-connect",
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "true",
            "value.converter.schemas.enable": "true",
            "config.storage.topic": "_whctl_connect_configs",
            "offset.storage.topic": "_whctl_connect_offsets",
            "status.storage.topic": "_whctl_connect_status",
            "config.storage.replication.factor": 1,
            "offset.storage.replication.factor": 1,
            "status.storage.replication.factor": 1,
            "offset.storage.partitions": 1,
            "status.storage.partitions": 1,
            # commit source offsets often: fewer events re-emitted after a crash (at-least-once)
            "offset.flush.interval.ms": 1000,
            # with two workers, the tasks of one that died move to the other after this delay
            # (default 5 minutes: the cooperative protocol waits that long for the worker to return)
            "scheduled.rebalance.max.delay.ms": 10000,
            "listeners": f"http://{s.host}:{self.port}",
            "rest.advertised.host.name": s.host,
            "rest.advertised.port": self.port,
            # the folder holding one folder per plugin (a folder of bare jars would make each jar a plugin)
            "plugin.path": self.runtime.plugins_dir,
            # Debezium's jars carry ServiceLoader manifests: no reflective scan (about 20 s and
            # a few hundred MiB of heap at start on two cores)
            "plugin.discovery": "service_load",
            "config.providers": "file",
            "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
            "config.providers.file.param.allowed.paths": s.secrets_dir,
        }
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(logging_config.properties(config))

    def launch(self) -> None:
        if self.pid() is not None:
            return
        java = prereqs.java()
        write_secrets(self.settings)
        self._write_config()
        log4j = logging_config.write(self.home / f"log4j2-{self.name}.properties", self.log_file, "connect")
        self.process.start(java, [*HEAP, *JVM, f"-Dlog4j2.configurationFile={log4j}"], self.runtime.classpath, [str(self.config_file)])

    def wait_ready(self, timeout: float = 180) -> None:
        if not wait_for(self.healthy, timeout, interval=0.5, alive=lambda: self.pid() is not None):
            state = "exited" if self.pid() is None else f"did not offer both Debezium plugins within {timeout:.0f}s"
            raise WhctlError(f"Kafka Connect {state} at {self.url}:\n{log_tail(self.log_file) or log_tail(self.process.out_file)}",
                             hint=f"see {self.log_file} and {self.process.out_file}")

    def stop(self) -> None:
        self.process.stop(timeout=45)
