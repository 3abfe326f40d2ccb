"""Processes the stack starts itself (the JVMs): detached start, pid files, stop, polling.

A pid file is trusted only while the process it names still runs our main class, so a recycled
pid never gets a signal from us.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from whctl.output import WhctlError


def wait_for(check: Callable[[], bool], timeout: float, interval: float = 0.25, alive: Callable[[], bool] | None = None) -> bool:
    """Poll `check` until it is true (True) or `timeout` seconds pass or `alive` turns false (False)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return True
        except Exception:  # a component that is starting refuses connections: keep polling
            pass
        if alive is not None and not alive():
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def log_tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return "\n".join(text[-lines:])


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


@dataclass
class JavaProcess:
    """One process we start detached: a JVM, `java <jvm_args> -cp <classpath> <main_class> <args>`,
    or any command line holding `main_class` as one of its words (`spawn`)."""

    name: str
    main_class: str
    pid_file: Path
    out_file: Path  # the process's own stdout/stderr (a JVM logs through log4j2)

    def pid(self) -> int | None:
        """The pid when the process runs our main class, else None (a stale file is overwritten by the next start)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if self.main_class in _cmdline(pid) and not _zombie(pid):
            return pid
        return None

    def start(self, java: Path, jvm_args: list[str], classpath: str, args: list[str], env: dict | None = None) -> int:
        return self.spawn([str(java), *jvm_args, "-cp", classpath, self.main_class, *args], env)

    def spawn(self, argv: list[str], env: dict | None = None) -> int:
        """Start `argv` detached (one of its arguments is `main_class`), output to `out_file`; its pid."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.out_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.out_file, "ab") as out, open(os.devnull, "rb") as devnull:
            process = subprocess.Popen(
                argv, stdin=devnull, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True, env=env,
            )
        # Until it has exec'd its program the child shows our own command line, and pid() would take the
        # pid file for a stale one and remove it: wait for the exec first.
        wait_for(lambda: self.main_class in _cmdline(process.pid) or process.poll() is not None, 10, interval=0.01)
        self.pid_file.write_text(f"{process.pid}\n")
        return process.pid

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, wait up to `timeout` seconds, then SIGKILL: to the process and everything it forked
        (`spawn` makes it the leader of a session of its own), so that no child outlives it."""
        pid = self.pid()
        if pid is None:
            return
        _signal(pid, signal.SIGTERM)
        if not wait_for(lambda: not _running(pid), timeout, interval=0.1):
            _signal(pid, signal.SIGKILL)
            if not wait_for(lambda: not _running(pid), 10, interval=0.1):
                raise WhctlError(f"{self.name} (pid {pid}) did not stop after SIGKILL")
        self.pid_file.unlink(missing_ok=True)


def _signal(pid: int, sig: int) -> None:
    """Signal the process group `pid` leads (its forked children too), or the process alone when it
    leads none."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _running(pid: int) -> bool:
    if _zombie(pid):
        # our own child that exited: reap it so it disappears
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return False
    return True


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its children (PostgreSQL's backends), in bytes."""
    total = 0
    for p in [pid, *_descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
