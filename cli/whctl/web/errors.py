"""Errors the API answers with a JSON body naming the parameter at fault, and parameter parsing."""
from __future__ import annotations

from datetime import date

from flask import request


class ApiError(Exception):
    def __init__(self, message: str, parameter: str | None = None, status: int = 400):
        super().__init__(message)
        self.message, self.parameter, self.status = message, parameter, status


INT4_MAX = 2**31 - 1


def check_params(*allowed: str) -> None:
    """A misspelt parameter is an error, not silently ignored ('token' is the auth rule's)."""
    for name in request.args:
        if name not in allowed and name != "token":
            raise ApiError(f"unknown parameter {name!r} (allowed: {', '.join(allowed) or 'none'})", name)


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    return bounded_int(raw, name, low, high)


def bounded_int(raw: str, name: str, low: int = 1, high: int = INT4_MAX) -> int:
    try:
        value = int(raw, 10)
    except ValueError:
        raise ApiError(f"{name} must be an integer, not {raw[:40]!r}", name) from None
    if not low <= value <= high:
        raise ApiError(f"{name} must be between {low} and {high}, not {value}", name)
    return value


def date_arg(name: str, default: date | None) -> date | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(f"{name} must be a date YYYY-MM-DD, not {raw[:40]!r}", name) from None


def choice_arg(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = request.args.get(name, default)
    if raw not in choices:
        raise ApiError(f"{name} must be one of {', '.join(choices)}, not {raw[:40]!r}", name)
    return raw
