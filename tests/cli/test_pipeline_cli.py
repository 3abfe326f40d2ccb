"""`whctl deploy|status|verify|quarantine`: help for every command, one clear line when nothing runs."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from whctl.pgserver import free_ports
from whctl.main import cli


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("command", [["deploy"], ["status"], ["verify"], ["quarantine"], ["quarantine", "list"], ["quarantine", "retry"]])
def test_every_pipeline_command_has_help(command):
    result = _run(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output
    if command != ["quarantine"]:
        assert "WH_WAREHOUSE_DSN" in result.output, "connection options show their environment variable"


@pytest.fixture
def nothing_running(tmp_path, monkeypatch):
    """Settings pointing at ports where nothing listens."""
    source, warehouse, connect = free_ports(3)
    monkeypatch.setenv("WH_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("WH_SOURCE_PORT", str(source))
    monkeypatch.setenv("WH_WAREHOUSE_PORT", str(warehouse))
    monkeypatch.setenv("WH_CONNECT_PORT", str(connect))


def test_status_against_a_stopped_stack_is_one_clear_line(nothing_running):
    result = _run("status")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "the pipeline is down" in lines[0] and "whctl stack up" in lines[0], result.output


@pytest.mark.parametrize("command", [["deploy"], ["verify", "--wait", "0"], ["quarantine", "list"], ["quarantine", "retry"]])
def test_commands_against_a_stopped_stack_say_what_to_do(nothing_running, command):
    result = _run(*command)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "cannot connect to the warehouse database" in result.output and "whctl stack up" in result.output, result.output
