"""The CLI reference cannot drift: every whctl command has --help and appears in README.md."""
from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from whctl.main import cli

README = Path(__file__).resolve().parents[2] / "README.md"


def commands(group: click.Group = cli, path: tuple[str, ...] = ("whctl",)):
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


ALL = list(commands())


def test_the_tree_is_not_empty():
    names = {" ".join(p) for p, _ in ALL}
    assert {"whctl seed", "whctl demo all", "whctl stack up", "whctl deploy"} <= names


@pytest.mark.parametrize("path", [p for p, _ in ALL], ids=[" ".join(p[1:]) for p, _ in ALL])
def test_every_command_has_help(path):
    result = CliRunner().invoke(cli, [*path[1:], "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    command = dict(ALL)[path]
    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"


@pytest.mark.parametrize("path", [p for p, c in ALL if not isinstance(c, click.Group)],
                         ids=[" ".join(p[1:]) for p, c in ALL if not isinstance(c, click.Group)])
def test_every_command_is_in_the_readme_reference(path):
    reference = README.read_text().split("## CLI reference", 1)
    assert len(reference) == 2, "README.md has no '## CLI reference' section"
    section = reference[1].split("\n## ", 1)[0]
    assert re.search(rf"`{re.escape(' '.join(path))}`", section), f"`{' '.join(path)}` is missing from README's CLI reference"


def test_every_documented_setting_is_an_option_or_says_it_is_not():
    """README's settings tables: a WH_* variable that no command takes as an option says so in its
    row ("environment only"), so "every setting is an option" cannot be claimed untruly."""
    options = {p.envvar for _, c in ALL for p in c.params if isinstance(p, click.Option) and isinstance(p.envvar, str)}
    rows = [line for line in README.read_text().splitlines() if line.startswith("| `WH_")]
    assert rows
    untrue = [row for row in rows for var in re.findall(r"`(WH_[A-Z_]+)`", row.split("|")[1])
              if var not in options and "environment only" not in row]
    assert not untrue, "\n".join(untrue)
