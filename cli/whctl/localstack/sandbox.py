"""A throw-away local stack on free ports, in a folder of its own (for tests and experiments).

It shares the Java runtime of the regular state folder (fetched once), so it starts offline.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from whctl.config import Settings
from whctl.localstack import runtime as runtime_mod
from whctl.localstack.stack import Stack
from whctl.pgserver import free_ports

PORT_SETTINGS = ("source_port", "warehouse_port", "kafka_port", "kafka_controller_port", "connect_port", "connect2_port")


def sandbox_env(state_dir: Path) -> dict[str, str]:
    """WH_* variables for a stack in `state_dir` on free ports."""
    env = {"WH_STATE_DIR": str(state_dir)}
    env.update({f"WH_{name.upper()}": str(port) for name, port in zip(PORT_SETTINGS, free_ports(len(PORT_SETTINGS)))})
    return env


def share_runtime(state_dir: Path, shared: Settings | None = None) -> None:
    """Make `state_dir` use the runtime of the regular state folder (fetching it there if needed)."""
    shared = shared or Settings.from_env()
    source = runtime_mod.fetch(shared).root
    state_dir.mkdir(parents=True, exist_ok=True)
    link = state_dir / "runtime"
    if not link.exists():
        link.symlink_to(source, target_is_directory=True)


@contextlib.contextmanager
def sandbox(state_dir: Path, env: dict[str, str] | None = None) -> Iterator[Settings]:
    """Bring a stack up in `state_dir` with WH_* set in os.environ (so subprocesses see them); down at exit.

    `env`: more WH_* variables for this stack (e.g. WH_CONNECT_WORKERS=2).
    """
    shared = Settings.from_env()
    env = {**sandbox_env(state_dir), **(env or {})}
    saved = {k: os.environ.get(k) for k in env}
    share_runtime(state_dir, shared)
    os.environ.update(env)
    stack = Stack(Settings.from_env())
    try:
        stack.up()
        yield stack.settings
    finally:
        try:
            stack.down()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
