"""`whctl verify` on a source whose schema differs from what it compares (promise 10): it reports the
difference as a check and finishes, never a traceback (a dropped customers.phone crashed it with
UndefinedColumn)."""
from __future__ import annotations

import json

import psycopg
import pytest

from tests.conftest import run_whctl


@pytest.fixture
def changed_source(source_dsn):
    """The application's source (tests/cli/conftest.py) without customers.phone and order_items.line_total."""
    with psycopg.connect(source_dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE customers DROP COLUMN phone; ALTER TABLE order_items DROP COLUMN line_total")
    return source_dsn


def test_verify_reports_a_source_schema_that_differs_instead_of_crashing(warehouse_dsn, changed_source):
    result = run_whctl("verify", "--wait", "0", "--json", env={"WH_WAREHOUSE_DSN": warehouse_dsn, "WH_SOURCE_DSN": changed_source})
    assert "Traceback" not in result.stderr, result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["customer source schema"]["verdict"] == "warn"
    assert checks["customer source schema"]["missing_in_source"] == ["phone"]
    assert checks["customer current rows match source"]["verdict"] == "ok"    # compared without phone
    assert checks["product source schema"]["verdict"] == "ok"
    assert checks["facts against the source"]["verdict"] == "warn"
    assert "line_total" in checks["facts against the source"]["detail"]
