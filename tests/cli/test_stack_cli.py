"""`whctl stack`: prerequisites give one clear line; up is idempotent; down leaves nothing running."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from whctl.localstack import sandbox
from whctl.main import cli
from whctl.localstack.proc import port_open
from whctl.pgserver import free_ports


@pytest.fixture
def bare_env(tmp_path, monkeypatch):
    """A state folder of its own and a PATH holding only what a test puts into `bin`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("WH_STATE_DIR", str(tmp_path / "state"))
    return bin_dir


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _assert_one_clear_line(result, *fragments: str):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    error_lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(error_lines) == 1, result.output
    for fragment in fragments:
        assert fragment in error_lines[0], result.output


def test_missing_java_is_one_clear_line(bare_env):
    result = _run("stack", "up")
    _assert_one_clear_line(result, "missing prerequisite: Java 17+", "apt-get install -y openjdk-17-jre-headless")
    assert not (bare_env.parent / "state" / "kafka").exists(), "nothing was started"


def test_too_old_java_is_one_clear_line(bare_env):
    fake = bare_env / "java"
    fake.write_text('#!/bin/sh\necho \'openjdk version "11.0.22" 2024-01-16\' >&2\n')
    fake.chmod(0o755)
    result = _run("stack", "up")
    _assert_one_clear_line(result, "is Java 11", "apt-get install -y openjdk-17-jre-headless")


def test_missing_maven_is_one_clear_line(bare_env, tmp_path):
    (bare_env / "java").symlink_to(shutil.which("java", path="/usr/bin:/usr/local/bin:" + os.defpath) or "/usr/bin/java")
    result = _run("stack", "fetch", "--force")
    _assert_one_clear_line(result, "missing prerequisite: Maven", "apt-get install -y maven")


def test_missing_postgresql_is_one_clear_line(bare_env, monkeypatch):
    monkeypatch.setenv("WH_PG_BINDIR", str(bare_env / "nowhere"))
    monkeypatch.setattr("whctl.pgserver.glob.glob", lambda pattern: [])  # hide Debian's /usr/lib/postgresql/*/bin
    result = _run("stack", "up")
    _assert_one_clear_line(result, "missing prerequisite: PostgreSQL 15+ server binaries", "apt-get install -y postgresql")


def test_refuses_a_non_loopback_host(tmp_path, monkeypatch):
    monkeypatch.setenv("WH_STATE_DIR", str(tmp_path / "state"))
    result = _run("stack", "up", "--host", "0.0.0.0")
    assert result.exit_code == 1 and "loopback only" in result.output


def test_a_taken_port_is_one_clear_error_and_starts_nothing(tmp_path, monkeypatch):
    state = tmp_path / "state"
    sandbox.share_runtime(state)
    for name, value in sandbox.sandbox_env(state).items():
        monkeypatch.setenv(name, value)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        monkeypatch.setenv("WH_KAFKA_CONTROLLER_PORT", str(port))
        result = _run("stack", "up")
    assert result.exit_code == 1
    assert f"port {port} for kafka is taken" in result.output and "WH_KAFKA_CONTROLLER_PORT" in result.output
    assert not (state / "run" / "kafka.pid").exists()


def test_status_of_a_stack_never_started(tmp_path, monkeypatch):
    monkeypatch.setenv("WH_STATE_DIR", str(tmp_path / "state"))
    result = _run("stack", "status", "--json")
    assert result.exit_code == 1
    state = json.loads(result.output)
    assert not state["healthy"] and all(c["pid"] is None for c in state["components"])
    assert not (tmp_path / "state" / "secrets").exists(), "status creates no password"


# --- on the real stack -------------------------------------------------------------------------

def _whctl(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "whctl", "stack", *args], env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr + result.stdout
    return result


def _pids(result: subprocess.CompletedProcess) -> dict[str, int]:
    return {c["name"]: c["pid"] for c in json.loads(result.stdout)["components"]}


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.mark.e2e
def test_up_twice_is_a_no_op_a_crash_is_restarted_and_down_stops_everything():
    base = Path(tempfile.mkdtemp(prefix="whctl-cli-"))
    base.chmod(0o755)  # PostgreSQL runs as `postgres` and must reach its folder
    state = base / "state"
    env = {**os.environ, **sandbox.sandbox_env(state)}
    sandbox.share_runtime(state)
    try:
        first = _pids(_whctl(env, "up", "--json"))
        assert all(first.values()), first

        again = _whctl(env, "up", "--json")
        assert _pids(again) == first
        assert {c["action"] for c in json.loads(again.stdout)["components"]} == {"already running"}

        os.kill(first["connect"], signal.SIGKILL)  # a crash
        restarted = json.loads(_whctl(env, "up", "--json").stdout)
        actions = {c["name"]: c["action"] for c in restarted["components"]}
        assert actions == {"source": "already running", "warehouse": "already running", "kafka": "already running", "connect": "started",
                           "supervisor": "already running"}
        assert restarted["healthy"]

        # the dashboard joins the stack's processes: started in the background, stopped by `stack down`
        serve_port = free_ports(1)[0]
        served = subprocess.run([sys.executable, "-m", "whctl", "serve", "--background", "--port", str(serve_port)],
                                env=env, capture_output=True, text=True, timeout=120)
        assert served.returncode == 0, served.stderr
        assert served.stdout.strip() == f"http://127.0.0.1:{serve_port}/"
        assert requests.get(served.stdout.strip() + "api/v1/", timeout=5).json()["endpoints"]
        assert Path(env["WH_STATE_DIR"], "run", "dashboard.pid").exists()

        status = _whctl(env, "status")
        assert "password" in status.stdout and env["WH_STATE_DIR"] in status.stdout
        assert Path(env["WH_STATE_DIR"], "secrets", "postgres.password").read_text().strip() not in status.stdout

        down = json.loads(_whctl(env, "down", "--json").stdout)
        assert set(down.values()) == {"stopped"} and "dashboard" in down
        assert not port_open("127.0.0.1", serve_port)
        assert _processes_mentioning(str(state)) == []
        assert _whctl(env, "status", "--json", check=False).returncode == 1
        assert set(json.loads(_whctl(env, "down", "--json").stdout).values()) == {"not running"}
    finally:
        subprocess.run([sys.executable, "-m", "whctl", "stack", "down"], env=env, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def test_stopping_the_supervisor_leaves_none_of_its_children(tmp_path, monkeypatch):
    """The supervisor observes in a forked child (a crash of the Kafka client must not end the loop);
    stopping it must stop that child too, or an orphan blocks on its pipe for good."""
    from whctl.config import Settings
    from whctl.localstack.proc import wait_for
    from whctl.localstack.supervisor import SupervisorComponent

    state = tmp_path / "state"
    env = sandbox.sandbox_env(state)   # free ports where nothing answers: each observe waits out its probes
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    supervisor = SupervisorComponent(Settings.from_env())
    supervisor.launch()
    pid = supervisor.pid()
    try:
        assert pid is not None
        assert wait_for(lambda: len(_group_members(pid)) > 1, 30, interval=0.05), "the supervisor never forked its observer"
    finally:
        supervisor.stop()
    wait_for(lambda: not _group_members(pid), 10, interval=0.1)
    left = _group_members(pid)
    for orphan in left:   # the test must not leave them behind either
        os.kill(orphan, signal.SIGKILL)
    assert not left, f"left running: {left}"
