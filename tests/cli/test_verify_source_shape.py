"""`whctl verify` on a source whose schema differs from what it compares (promise 10): it reports the
difference as a check and finishes, never a traceback (a dropped customers.phone crashed it with
UndefinedColumn)."""
from __future__ import annotations

import json

import psycopg
import pytest
from psycopg import sql

from tests.conftest import ROOT, dsn_for, run_whctl


@pytest.fixture
def changed_source(pg_admin_dsn):
    name = "whctl_verify_changed_source"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = dsn_for(pg_admin_dsn, name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute((ROOT / "cli" / "whctl" / "sql" / "source_schema.sql").read_text())
        conn.execute("ALTER TABLE customers DROP COLUMN phone; ALTER TABLE order_items DROP COLUMN line_total")
    yield dsn
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


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
