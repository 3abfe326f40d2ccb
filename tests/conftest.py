"""Shared fixtures: one PostgreSQL server per run, a warehouse template migrated with the real CLI,
and a fresh database cloned from it per test.

The server is WH_TEST_ADMIN_DSN when set, a testcontainers PostgreSQL where Docker runs, and
otherwise a throw-away cluster started locally (whctl's own LocalCluster) on a free port.
"""
from __future__ import annotations

import itertools
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

TEMPLATE = "whctl_template"
ROOT = Path(__file__).resolve().parents[1]


def _docker_available() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def pg_admin_dsn():
    """A superuser DSN (with its password) of a PostgreSQL server for this test run."""
    if os.environ.get("WH_TEST_ADMIN_DSN"):
        yield os.environ["WH_TEST_ADMIN_DSN"]
        return
    if _docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:15", driver=None) as container:
            yield container.get_connection_url()
        return
    from whctl.pgserver import throwaway_cluster

    with throwaway_cluster("whctl-test-pg-", {"fsync": "off", "synchronous_commit": "off",
                                              "full_page_writes": "off"}) as dsn:
        yield dsn


def dsn_for(admin_dsn: str, dbname: str) -> str:
    return psycopg.conninfo.make_conninfo(admin_dsn, dbname=dbname)


def poll(check, timeout: float, interval: float = 0.25, what: str = "condition"):
    """Call `check` until it returns something true (returned) or `timeout` seconds pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def run_whctl(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real `whctl` command line."""
    return subprocess.run([sys.executable, "-m", "whctl", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=ROOT)


def create_migrated_database(admin_dsn: str, dbname: str) -> str:
    """A new database brought to head by `whctl migrate`; returns its DSN."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    dsn = dsn_for(admin_dsn, dbname)
    result = run_whctl("migrate", env={"WH_WAREHOUSE_DSN": dsn})
    assert result.returncode == 0, result.stderr + result.stdout
    return dsn


@pytest.fixture(scope="session")
def warehouse_template(pg_admin_dsn) -> str:
    """The name of a database migrated once per run, the template of every test's warehouse."""
    create_migrated_database(pg_admin_dsn, TEMPLATE)
    return TEMPLATE


_counter = itertools.count()


@pytest.fixture
def warehouse_dsn(pg_admin_dsn, warehouse_template):
    """DSN of a fresh warehouse database for one test, cloned from the migrated template."""
    name = f"whctl_test_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(warehouse_template)))
    yield dsn_for(pg_admin_dsn, name)
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def wh(warehouse_dsn):
    """An autocommit connection to the test's warehouse: each statement is one sink batch."""
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def analyst_password(warehouse_dsn) -> str:
    """A fresh password of the read-only analyst role (a cluster-wide role), set for this test."""
    password = secrets.token_urlsafe(16)
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE wh_analyst PASSWORD {}").format(sql.Literal(password)))
    return password
