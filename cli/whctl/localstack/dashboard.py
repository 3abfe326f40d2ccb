"""The dashboard (`whctl serve`) as a process of the local stack: started in the background with a
pid file and a log in the state folder, stopped by `whctl stack down` with the rest."""
from __future__ import annotations

import os
import sys
from dataclasses import fields
from pathlib import Path

import requests

from whctl.config import Settings
from whctl.localstack.proc import JavaProcess, log_tail, port_open, wait_for
from whctl.output import WhctlError


class DashboardComponent:
    name = "dashboard"
    kind = "whctl-serve"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.port = settings.serve_port
        # `python -m whctl serve …`: the pid file is trusted while that process runs "serve"
        self.process = JavaProcess(self.name, "serve", settings.state_dir / "run" / "dashboard.pid",
                                   settings.state_dir / "logs" / "dashboard.log")

    @property
    def log_file(self) -> Path:
        return self.process.out_file

    @property
    def url(self) -> str:
        host = self.settings.serve_host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}/"

    def pid(self) -> int | None:
        return self.process.pid()

    def healthy(self) -> bool:
        token = self.settings.serve_token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(self.url + "api/v1/", headers=headers, timeout=2).ok

    def launch(self) -> None:
        if self.pid() is not None:
            return
        if port_open(self.settings.serve_host, self.port, timeout=0.5):
            raise WhctlError(f"port {self.port} for the dashboard is taken by a process that is not this stack's",
                             hint="stop that process, or choose another port with WH_SERVE_PORT")
        # the child reads the same settings: those given as options travel as WH_* variables
        env = {**os.environ, **{f"WH_{f.name.upper()}": str(getattr(self.settings, f.name)) for f in fields(self.settings)
                                if getattr(self.settings, f.name) is not None}}
        self.process.spawn([sys.executable, "-m", "whctl", "serve"], env)

    def wait_ready(self, timeout: float = 30) -> None:
        if not wait_for(self.healthy, timeout, interval=0.25, alive=lambda: self.pid() is not None):
            raise WhctlError(f"the dashboard did not answer at {self.url} within {timeout:.0f}s:\n{log_tail(self.log_file)}",
                             hint=f"see {self.log_file}")

    def stop(self) -> None:
        self.process.stop(timeout=15)
