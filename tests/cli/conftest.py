"""Fixtures of the CLI tests that need a source database."""
from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from tests.conftest import dsn_for
from whctl.config import PROJECT_ROOT


@pytest.fixture
def source_dsn(pg_admin_dsn):
    """A source database with the application's four tables, empty (dropped after the test)."""
    name = "whctl_cli_source"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = dsn_for(pg_admin_dsn, name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute((PROJECT_ROOT / "cli" / "whctl" / "sql" / "source_schema.sql").read_text())
    yield dsn
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
