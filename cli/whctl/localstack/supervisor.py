"""The supervisor as a component of the local stack: `whctl supervise` run detached, with pid file and log.

It gets the stack's settings as WH_* variables, so it watches the same stack whatever options
`whctl stack up` was given. Started last (it needs the others to act on) and stopped first.
"""
from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

from whctl.config import Settings
from whctl.localstack.proc import JavaProcess

INTERVAL_S = 2
MARKER = "supervise"  # the word of its command line by which its pid file is trusted


class SupervisorComponent:
    kind = "supervisor"
    name = "supervisor"
    port = None

    def __init__(self, settings: Settings):
        self.settings = settings
        self.process = JavaProcess(self.name, MARKER, settings.state_dir / "run" / "supervisor.pid", self.log_file)

    @property
    def log_file(self) -> Path:
        return self.settings.state_dir / "logs" / "supervisor.log"

    def pid(self) -> int | None:
        return self.process.pid()

    def healthy(self) -> bool:
        return self.pid() is not None

    def launch(self) -> None:
        if self.pid() is not None:
            return
        env = dict(os.environ)
        env.update({f"WH_{f.name.upper()}": str(getattr(self.settings, f.name))
                    for f in dataclasses.fields(Settings) if getattr(self.settings, f.name) is not None})
        env["PYTHONUNBUFFERED"] = "1"
        self.process.spawn([sys.executable, "-m", "whctl", MARKER, "--interval", str(INTERVAL_S)], env)

    def stop(self) -> None:
        self.process.stop(timeout=10)
