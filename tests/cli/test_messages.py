"""What a new user sees when something is off (issue 13): one clear message with a hint that fits,
never a traceback; and messages that say what happened, once."""
from __future__ import annotations

from datetime import datetime

import psycopg
import pytest

from tests.conftest import create_migrated_database, run_whctl
from tests.sql.changes import Source, land_batches, order, order_item, product
from whctl.pgserver import free_ports


@pytest.fixture
def nowhere(tmp_path):
    """Environment pointing the local stack at ports where nothing listens, in an empty state folder."""
    source, warehouse, connect = free_ports(3)
    return {"WH_STATE_DIR": str(tmp_path / "state"), "WH_SOURCE_PORT": str(source), "WH_WAREHOUSE_PORT": str(warehouse),
            "WH_CONNECT_PORT": str(connect)}


@pytest.mark.parametrize("command", [["status"], ["kpi"], ["verify", "--wait", "0"], ["migrate"], ["rebuild", "--yes"]])
def test_a_malformed_dsn_is_one_clear_error(command, nowhere):
    result = run_whctl(*command, "--warehouse-dsn", "not a dsn at all", env=nowhere)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "the warehouse DSN 'not a dsn at all' is not valid" in result.stderr
    assert "postgresql://user@host:port/dbname" in result.stderr


def test_a_dsn_without_its_password_names_pgpassfile(pg_admin_dsn, tmp_path):
    info = psycopg.conninfo.conninfo_to_dict(pg_admin_dsn)
    info.pop("password")
    result = run_whctl("kpi", env={"WH_WAREHOUSE_DSN": psycopg.conninfo.make_conninfo(**info),
                                   "PGPASSFILE": str(tmp_path / "no-such-pgpass"), "PGPASSWORD": ""})
    assert result.returncode == 1
    assert "no password supplied" in result.stderr
    assert "PGPASSFILE" in result.stderr and "whctl stack up" not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_stopped_server_says_connection_refused_on_one_line(nowhere):
    result = run_whctl("kpi", env=nowhere)
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("Error: cannot connect to the warehouse database at postgresql://postgres@127.0.0.1:")
    assert first.endswith("failed: Connection refused")
    assert "\t" not in result.stderr and "whctl stack up" in result.stderr


@pytest.mark.parametrize("command", [["status"], ["kpi"], ["seed"]])
def test_a_non_loopback_host_for_the_local_stack_is_refused(command, nowhere):
    result = run_whctl(*command, env={**nowhere, "WH_HOST": "10.0.0.5"})
    assert result.returncode == 1
    assert "the local stack listens on loopback only, not on 10.0.0.5" in result.stderr
    assert "pipeline is down" not in result.stderr and "Traceback" not in result.stderr


def test_wh_host_does_not_matter_when_every_server_is_your_own(pg_admin_dsn):
    result = run_whctl("migrate", "--status", env={"WH_HOST": "10.0.0.5", "WH_WAREHOUSE_DSN": pg_admin_dsn})
    assert "loopback" not in result.stderr


def test_an_unknown_scenario_lists_the_scenarios():
    result = run_whctl("demo", "bogus")
    assert result.returncode == 2
    assert "no scenario 'bogus'; the scenarios are: all, customer-move, new-order, price-change" in result.stderr


def test_seed_of_a_seeded_source_says_nothing_added_once(source_dsn):
    with psycopg.connect(source_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO customers (first_name, last_name, email) VALUES ('A', 'B', 'a@example.com')")
    result = run_whctl("seed", env={"WH_SOURCE_DSN": source_dsn})
    assert result.returncode == 0, result.stderr
    assert (result.stdout + result.stderr).count("nothing added") == 1
    assert "source already seeded (1 customers" in result.stdout


def test_kpi_says_first_n_rows_only_when_there_are_more(pg_admin_dsn):
    dsn = create_migrated_database(pg_admin_dsn, "whctl_messages_kpi")
    try:
        src = Source()
        at = datetime(2025, 3, 1)
        with psycopg.connect(dsn, autocommit=True) as wh:
            land_batches(wh, [src.change("products", "c", product(p), at) for p in (1, 2, 3)]
                         + [src.change("orders", "c", order(1, 1, at), at)]
                         + [src.change("order_items", "c", order_item(10 + p, 1, p), at) for p in (1, 2, 3)])
        out = run_whctl("kpi", "--limit", "5", env={"WH_WAREHOUSE_DSN": dsn}).stdout
        assert "== Top selling products (3 rows) ==" in out and "first" not in out
        assert "== Top selling products (first 2 rows) ==" in run_whctl("kpi", "--limit", "2", env={"WH_WAREHOUSE_DSN": dsn}).stdout
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute("DROP DATABASE whctl_messages_kpi WITH (FORCE)")
