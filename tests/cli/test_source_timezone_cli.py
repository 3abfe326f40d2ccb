"""The source time zone setting (promise 2) through the real command line: an unknown zone is
refused, a stored zone never changes implicitly, and changing it on a warehouse that has events is
the explicit `whctl rebuild --source-timezone`, which recomputes dw in the same transaction."""
from __future__ import annotations

import os
from datetime import datetime

from tests.conftest import run_whctl
from tests.sql.changes import Source, customer, land
from tests.sql.warehouse import versions


def _whctl(warehouse_dsn: str, *args: str):
    env = {k: v for k, v in os.environ.items() if k != "WH_SOURCE_TIMEZONE"}
    env["WH_WAREHOUSE_DSN"] = warehouse_dsn
    return run_whctl(*args, env=env)


def _stored(wh) -> str:
    return wh.execute("SELECT value FROM ops.settings WHERE name = 'source_timezone'").fetchone()[0]


def test_migrate_refuses_an_unknown_time_zone(warehouse_dsn, wh):
    result = _whctl(warehouse_dsn, "migrate", "--source-timezone", "Mars/Olympus")
    assert result.returncode == 1
    assert "unknown time zone 'Mars/Olympus'" in result.stderr and "pg_timezone_names" in result.stderr
    assert "Traceback" not in result.stderr
    assert _stored(wh) == "UTC"


def test_migrate_without_the_setting_keeps_the_stored_zone(warehouse_dsn, wh):
    first = _whctl(warehouse_dsn, "migrate", "--source-timezone", "America/New_York")
    assert first.returncode == 0, first.stderr
    assert "source time zone: America/New_York (was UTC)" in first.stdout
    again = _whctl(warehouse_dsn, "migrate")
    assert again.returncode == 0, again.stderr
    assert "source time zone: America/New_York" in again.stdout
    assert _stored(wh) == "America/New_York"


def test_changing_the_zone_of_a_warehouse_with_events_is_the_explicit_rebuild(warehouse_dsn, wh):
    src = Source()
    land(wh, [src.change("customers", "c", customer(1, city="A"), datetime(2025, 1, 1))])
    land(wh, [src.change("customers", "u", customer(1, city="B"), datetime(2025, 1, 15, 15, 0))])   # UTC

    refused = _whctl(warehouse_dsn, "migrate", "--source-timezone", "America/New_York")
    assert refused.returncode == 1
    assert "whctl rebuild --source-timezone America/New_York" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _stored(wh) == "UTC"
    assert versions(wh, "customer", 1)[1]["valid_from"] == datetime(2025, 1, 15, 15, 0)

    unknown = _whctl(warehouse_dsn, "rebuild", "--yes", "--source-timezone", "Mars/Olympus")
    assert unknown.returncode == 1 and "unknown time zone" in unknown.stderr
    assert _stored(wh) == "UTC"

    changed = _whctl(warehouse_dsn, "rebuild", "--yes", "--source-timezone", "America/New_York")
    assert changed.returncode == 0, changed.stderr
    assert "source time zone America/New_York (was UTC)" in changed.stdout
    assert _stored(wh) == "America/New_York"
    assert versions(wh, "customer", 1)[1]["valid_from"] == datetime(2025, 1, 15, 10, 0)
