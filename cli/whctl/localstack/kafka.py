"""Kafka 4.x in KRaft mode: one combined broker+controller node on loopback.

The storage is formatted once (`kafka.tools.StorageTool format --standalone`) with a cluster id
kept in <state_dir>/kafka/cluster.id. Every replication factor and min ISR is 1.
"""
from __future__ import annotations

import base64
import socket
import struct
import subprocess
import uuid
from pathlib import Path

from whctl.config import Settings
from whctl.localstack import logging_config, prereqs
from whctl.localstack.proc import JavaProcess, log_tail, wait_for
from whctl.localstack.runtime import Runtime
from whctl.output import WhctlError

MAIN = "kafka.Kafka"
HEAP = ["-Xms256m", "-Xmx512m"]
JVM = ["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true"]


class KafkaComponent:
    kind = "kafka"
    name = "kafka"

    def __init__(self, settings: Settings, runtime: Runtime):
        self.settings = settings
        self.runtime = runtime
        self.home = settings.state_dir / "kafka"
        self.port = settings.kafka_port
        self.process = JavaProcess(self.name, MAIN, settings.state_dir / "run" / "kafka.pid", settings.state_dir / "logs" / "kafka.out")

    @property
    def log_file(self) -> Path:
        return self.settings.state_dir / "logs" / "kafka.log"

    @property
    def url(self) -> str:
        return f"{self.settings.host}:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    def pid(self) -> int | None:
        return self.process.pid()

    def healthy(self) -> bool:
        return api_versions_ok(self.settings.host, self.port)

    def _write_config(self) -> None:
        host, s = self.settings.host, self.settings
        config = {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.bootstrap.servers": f"{host}:{s.kafka_controller_port}",
            "listeners": f"PLAINTEXT://{host}:{s.kafka_port},CONTROLLER://{host}:{s.kafka_controller_port}",
            "advertised.listeners": f"PLAINTEXT://{host}:{s.kafka_port},CONTROLLER://{host}:{s.kafka_controller_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": self.home / "data",
            "num.partitions": 1,
            "default.replication.factor": 1,
            "min.insync.replicas": 1,
            "offsets.topic.replication.factor": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            "auto.create.topics.enable": "true",
            # a record's timestamp is when the broker appended it: the sink lands it as __kafka_ts_ms,
            # the "Kafka append" stage of whctl status (CreateTime would be when Connect's producer sent it)
            "log.message.timestamp.type": "LogAppendTime",
            "log.retention.hours": 168,
        }
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(logging_config.properties(config))

    def _cluster_id(self) -> str:
        path = self.home / "cluster.id"
        if not path.exists():
            cluster_id = "-"
            while cluster_id.startswith("-"):  # as Kafka's Uuid.randomUuid: no id that reads as an option
                cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            path.write_text(cluster_id + "\n")
        return path.read_text().strip()

    def _format_once(self, java: Path, log4j: Path) -> None:
        if (self.home / "data" / "meta.properties").exists():
            return
        result = subprocess.run(
            [str(java), f"-Dlog4j2.configurationFile={log4j}", "-cp", self.runtime.classpath, "kafka.tools.StorageTool",
             "format", "--standalone", f"--cluster-id={self._cluster_id()}", f"--config={self.config_file}"],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise WhctlError(f"formatting Kafka's storage failed: {(result.stderr or result.stdout).strip().splitlines()[-1:]}",
                             hint=f"see {self.home}")

    def launch(self) -> None:
        if self.pid() is not None:
            return
        java = prereqs.java()
        self._write_config()
        log4j = logging_config.write(self.home / "log4j2.properties", self.log_file, "kafka")
        self._format_once(java, log4j)
        self.process.start(java, [*HEAP, *JVM, f"-Dlog4j2.configurationFile={log4j}"], self.runtime.classpath, [str(self.config_file)])

    def wait_ready(self, timeout: float = 120) -> None:
        if not wait_for(self.healthy, timeout, interval=0.3, alive=lambda: self.pid() is not None):
            state = "exited" if self.pid() is None else f"did not answer within {timeout:.0f}s"
            raise WhctlError(f"Kafka {state} on {self.url}:\n{log_tail(self.log_file) or log_tail(self.process.out_file)}",
                             hint=f"see {self.log_file} and {self.process.out_file}")

    def stop(self) -> None:
        self.process.stop()


def api_versions_ok(host: str, port: int, timeout: float = 2.0) -> bool:
    """Kafka answers: an ApiVersions (v0) request gets a response without error."""
    client_id = b"whctl"
    # request header v1: api_key=18 (ApiVersions), api_version=0, correlation_id, client_id; empty body
    body = struct.pack(">hhih", 18, 0, 7, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            size = struct.unpack(">i", _read(sock, 4))[0]
            payload = _read(sock, size)
    except (OSError, struct.error, ConnectionError):
        return False
    correlation_id, error_code = struct.unpack(">ih", payload[:6])
    return correlation_id == 7 and error_code == 0


def _read(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data
