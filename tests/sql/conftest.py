"""Fixtures of the SQL-level tests: more than one fresh warehouse per test, and the two ways the
sink lands events (one multi-row INSERT per batch, or one row per INSERT)."""
from __future__ import annotations

import itertools
import os

import psycopg
import pytest
from psycopg import sql

from tests.conftest import dsn_for
from tests.sql.changes import land_batches, land_each

_counter = itertools.count()


@pytest.fixture
def new_warehouse(pg_admin_dsn, warehouse_template):
    """Factory: the DSN of another fresh warehouse cloned from the migrated template (dropped after the test)."""
    names = []

    def make() -> str:
        name = f"whctl_sql_{os.getpid()}_{next(_counter)}"
        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(warehouse_template)))
        names.append(name)
        return dsn_for(pg_admin_dsn, name)

    yield make
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def wh2(new_warehouse):
    """A second autocommit warehouse connection, for comparing two landings of the same events."""
    with psycopg.connect(new_warehouse(), autocommit=True) as conn:
        yield conn


@pytest.fixture(params=["one_insert_per_batch", "one_row_per_insert"])
def land_all(request):
    """Land events in source order, either grouped into multi-row INSERTs (consecutive events of
    one table share a batch) or one row per INSERT."""
    return land_batches if request.param == "one_insert_per_batch" else land_each
