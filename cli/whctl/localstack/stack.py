"""The local stack as a whole: bring up, stop, and describe its components.

Order: Kafka's JVM is launched first (it is the slowest), the two PostgreSQL clusters start
meanwhile, then Connect (one worker, or two) once Kafka answers, then the supervisor. `up` is idempotent: what runs and answers is left
alone, what is not running (never started, stopped, crashed) is started. One `up` or `down` at a
time per state folder (a file lock).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import time

from whctl import pipeline
from whctl.config import Settings, is_loopback
from whctl.localstack import prereqs, proc
from whctl.localstack import runtime as runtime_mod
from whctl.localstack.connect import ConnectComponent, secrets_file
from whctl.localstack.dashboard import DashboardComponent
from whctl.localstack.kafka import KafkaComponent
from whctl.localstack.postgres import source, warehouse
from whctl.localstack.supervisor import SupervisorComponent
from whctl.output import WhctlError, progress


def require_loopback(host: str) -> None:
    if not is_loopback(host):
        raise WhctlError(f"the local stack listens on loopback only, not on {host}", hint="set WH_HOST to 127.0.0.1 (the default)")


class Stack:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.runtime = runtime_mod.runtime(settings)
        self.source = source(settings)
        self.warehouse = warehouse(settings)
        self.kafka = KafkaComponent(settings, self.runtime)
        self.connect = ConnectComponent(settings, self.runtime)
        # a second worker of the same Connect cluster (WH_CONNECT_WORKERS=2): tasks move to the survivor
        self.connect2 = ConnectComponent(settings, self.runtime, worker=2) if settings.connect_workers > 1 else None
        self.supervisor = SupervisorComponent(settings)
        # started by `whctl serve --background` (make demo) once the pipeline is deployed; stopped with the rest
        self.dashboard = DashboardComponent(settings)

    @property
    def components(self) -> list:
        return [c for c in (self.source, self.warehouse, self.kafka, self.connect, self.connect2, self.supervisor) if c is not None]

    @contextlib.contextmanager
    def _lock(self):
        run = self.settings.state_dir / "run"
        run.mkdir(parents=True, exist_ok=True)
        with open(run / "stack.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                progress("another whctl is starting or stopping this stack; waiting for it")
                fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _ensure_ports_free(self, component) -> None:
        s = self.settings
        ports = {
            "source": [(s.source_port, "WH_SOURCE_PORT")],
            "warehouse": [(s.warehouse_port, "WH_WAREHOUSE_PORT")],
            "kafka": [(s.kafka_port, "WH_KAFKA_PORT"), (s.kafka_controller_port, "WH_KAFKA_CONTROLLER_PORT")],
            "connect": [(s.connect_port, "WH_CONNECT_PORT")],
            "connect-2": [(s.connect2_port, "WH_CONNECT2_PORT")],
        }.get(component.name, [])
        for port, variable in ports:
            if proc.port_open(s.host, port, timeout=0.5):
                raise WhctlError(
                    f"port {port} for {component.name} is taken by a process that is not this stack's",
                    hint=f"stop that process, or choose another port with {variable}",
                )

    def up(self) -> dict[str, str]:
        """Start what is not running, wait until everything is healthy. Returns {component: action}."""
        require_loopback(self.settings.host)
        prereqs.check()
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        with self._lock():
            runtime_mod.fetch(self.settings)
            actions: dict[str, str] = {}
            started = time.monotonic()

            def launch(component) -> None:
                if component.pid() is not None:
                    actions[component.name] = "already running"
                    return
                self._ensure_ports_free(component)
                progress(f"starting {component.name}" + (f" on {self.settings.host}:{component.port}" if component.port else ""))
                component.launch()
                actions[component.name] = "started"

            launch(self.kafka)
            for pg in (self.source, self.warehouse):
                launch(pg)
                pg.wait_ready()
            self.kafka.wait_ready()
            workers = [c for c in (self.connect, self.connect2) if c is not None]
            for worker in workers:
                launch(worker)
            for worker in workers:
                worker.wait_ready()
            self._converge()
            launch(self.supervisor)
            if "started" in actions.values():
                progress(f"stack healthy after {time.monotonic() - started:.1f}s")
            return actions

    def _converge(self) -> None:
        """Restart connectors and tasks that failed while a component was down (promise 11).

        Not fatal for `up`: the components run; a task that fails again shows in `whctl status`
        with its cause, and the supervisor keeps trying while the cause is transient.
        """
        try:
            pipeline.converge(self.settings)
        except WhctlError as exc:
            progress(f"connectors not running yet: {exc.message.splitlines()[0]} (see `whctl status`)")

    def down(self) -> dict[str, str]:
        """Stop every component this stack started, the dashboard and Connect first. Returns {component: action}."""
        actions: dict[str, str] = {}
        if not self.settings.state_dir.exists():
            return {c.name: "not running" for c in self.components}
        with self._lock():
            if self.dashboard.pid() is not None:  # optional: named only when it ran
                progress("stopping the dashboard")
                self.dashboard.stop()
                actions[self.dashboard.name] = "stopped"
            for component in reversed(self.components):
                if component.pid() is None:
                    actions[component.name] = "not running"
                    continue
                progress(f"stopping {component.name}")
                component.stop()
                actions[component.name] = "stopped"
        return dict(reversed(list(actions.items())))

    def status(self) -> dict:
        components = []
        for c in self.components:
            pid = c.pid()
            components.append({
                "name": c.name,
                "kind": c.kind,
                "pid": pid,
                "port": c.port,
                "healthy": bool(pid) and c.healthy(),
                "rss_mib": round(proc.rss_bytes(pid) / 2**20, 1) if pid else None,
                "log": str(c.log_file),
            })
        pg_user = self.settings.pg_user
        env_password = f"WH_{pg_user.upper()}_PASSWORD"
        versions = self.runtime.versions() if self.runtime.root.exists() else {}
        versions["postgresql"] = self.source.server_version() if components[0]["healthy"] else None
        return {
            "state_dir": str(self.settings.state_dir),
            "healthy": all(c["healthy"] for c in components),
            "components": components,
            "connections": {
                "source": self.source.url,
                "warehouse": self.warehouse.url,
                "kafka_bootstrap": self.kafka.url,
                "connect_url": self.settings.connect,
            },
            "password": (f"from ${env_password}" if os.environ.get(env_password)
                         else str(self.settings.secrets_dir / f"{pg_user}.password")),
            "connector_secrets": str(secrets_file(self.settings)),
            "versions": versions,
        }
