"""Output conventions: data on stdout (text or --json), progress and logs on stderr."""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import click


def json_default(value: Any):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, default=json_default)


def emit(data: Any, as_json: bool, render: Callable[[Any], str]) -> None:
    """Print `data` to stdout, as JSON or through `render` for people."""
    click.echo(to_json(data) if as_json else render(data))


def progress(message: str) -> None:
    click.echo(message, err=True)


class WhctlError(click.ClickException):
    """An expected failure: one clear message and what to do, no stack trace, exit 1."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message if hint is None else f"{message}\n  hint: {hint}")


def table(rows: list[dict], columns: list[str]) -> str:
    """A plain aligned text table."""
    widths = {c: max([len(c)] + [len(str(r.get(c, ""))) for r in rows]) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(line.rstrip() for line in lines)
