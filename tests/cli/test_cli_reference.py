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
