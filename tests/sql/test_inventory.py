"""The database inventory is honest (style.md, practice 4): the functions in landing, dw and ops are
exactly those plpgsql/ declares (no stray overloads); `whctl migrate --status` tells a current
warehouse from one that is not; migrating twice changes nothing; roles and triggers are as designed."""
from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime

import psycopg
import pytest
from psycopg import sql

from tests.conftest import create_migrated_database, dsn_for, run_whctl
from tests.sql.changes import Source, customer, land
from whctl.schema import declared_functions, plpgsql_files

SCHEMAS = ["landing", "dw", "ops"]
_CREATE = re.compile(r"CREATE\s+OR\s+REPLACE\s+(?:FUNCTION|AGGREGATE|PROCEDURE)\s+([a-z_]+\.[a-z_]+)\s*\(", re.IGNORECASE)


def _database_functions(conn) -> Counter:
    """schema.name -> number of overloads, for every routine of the engine's schemas (extension members aside)."""
    rows = conn.execute(
        "SELECT n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = ANY(%s) AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass "
        "  AND d.objid = p.oid AND d.deptype = 'e')", (SCHEMAS,)).fetchall()
    return Counter(r[0] for r in rows)


def test_functions_in_the_database_are_exactly_those_of_plpgsql(wh):
    in_database = _database_functions(wh)
    assert set(in_database) == declared_functions()
    declared_overloads = Counter(m for path in plpgsql_files() for m in _CREATE.findall(path.read_text()))
    assert in_database == declared_overloads
    assert len(declared_overloads) >= 15


def test_a_stray_overload_would_be_seen(wh):
    """The inventory check above can fail: an old signature left behind shows up."""
    wh.execute("CREATE FUNCTION dw.apply_changes(p_table text) RETURNS void LANGUAGE sql AS ''")
    assert _database_functions(wh)["dw.apply_changes"] == 2


@pytest.fixture
def scratch_database(pg_admin_dsn):
    names = []

    def make(name: str, migrated: bool) -> str:
        names.append(name)
        if migrated:
            return create_migrated_database(pg_admin_dsn, name)
        with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return dsn_for(pg_admin_dsn, name)

    yield make
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        for name in names:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _schema_fingerprint(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT table_schema, table_name, column_name, data_type, character_maximum_length, column_default "
            "FROM information_schema.columns WHERE table_schema = ANY(%s) "
            "UNION ALL SELECT schemaname, tablename, indexname, indexdef, NULL, NULL FROM pg_indexes WHERE schemaname = ANY(%s) "
            "UNION ALL SELECT n.nspname, c.relname, t.tgname, pg_get_triggerdef(t.oid), NULL, NULL "
            "  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "  WHERE n.nspname = ANY(%s) AND NOT t.tgisinternal "
            "ORDER BY 1, 2, 3", (SCHEMAS, SCHEMAS, SCHEMAS)).fetchall()


def test_migrate_status_says_current_on_a_migrated_warehouse(scratch_database):
    dsn = scratch_database("whctl_inv_migrated", migrated=True)
    result = run_whctl("migrate", "--status", "--json", env={"WH_WAREHOUSE_DSN": dsn})
    assert result.returncode == 0, result.stdout + result.stderr
    status = json.loads(result.stdout)
    assert status["current"] and status["migrations_current"] and status["code_current"]
    assert status["stray_functions"] == [] and status["missing_functions"] == []
    text = run_whctl("migrate", "--status", env={"WH_WAREHOUSE_DSN": dsn})
    assert text.returncode == 0 and "current" in text.stdout


def test_migrate_status_says_not_current_on_an_empty_database(scratch_database):
    dsn = scratch_database("whctl_inv_empty", migrated=False)
    result = run_whctl("migrate", "--status", "--json", env={"WH_WAREHOUSE_DSN": dsn})
    assert result.returncode == 1, result.stdout + result.stderr
    status = json.loads(result.stdout)
    assert not status["current"] and status["revision"] is None
    assert "Traceback" not in result.stderr


def test_migrate_status_sees_a_changed_function(scratch_database):
    dsn = scratch_database("whctl_inv_drift", migrated=True)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP FUNCTION ops.landing_key(text)")
    result = run_whctl("migrate", "--status", "--json", env={"WH_WAREHOUSE_DSN": dsn})
    assert result.returncode == 1
    assert json.loads(result.stdout)["missing_functions"] == ["ops.landing_key"]


def test_migrate_twice_is_a_no_op_for_migrations(scratch_database):
    dsn = scratch_database("whctl_inv_twice", migrated=True)
    before = _schema_fingerprint(dsn)
    with psycopg.connect(dsn) as conn:
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    result = run_whctl("migrate", "--json", env={"WH_WAREHOUSE_DSN": dsn})
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["migrations_applied"] is False and outcome["plpgsql_changed"] is False
    assert outcome["from_revision"] == outcome["to_revision"] == revision
    assert _schema_fingerprint(dsn) == before
    assert run_whctl("migrate", "--status", env={"WH_WAREHOUSE_DSN": dsn}).returncode == 0


def test_each_applied_landing_table_has_the_statement_trigger(wh):
    rows = wh.execute(
        "SELECT c.relname, p.proname, t.tgtype & 1 = 0 AS per_statement, t.tgtype & 4 <> 0 AS on_insert, "
        "       t.tgtype & 2 = 0 AS after, t.tgnewtable IS NOT NULL "
        "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE c.relnamespace = 'landing'::regnamespace AND NOT t.tgisinternal ORDER BY 1").fetchall()
    assert rows == [(table, "apply_landed_events", True, True, True, True)
                    for table in ("customers", "order_items", "orders", "products")] + [
                   # the source's truncates become events of the tables above (promise 10)
                   ("truncations", "copy_truncations", True, True, True, True)]


def test_the_apply_at_commit_trigger_is_a_deferred_constraint_trigger(wh):
    rows = wh.execute(
        "SELECT t.tgrelid::regclass::text, p.proname, t.tgconstraint <> 0, t.tgdeferrable, t.tginitdeferred, "
        "       t.tgtype & 1 = 1 AS per_row, t.tgtype & 4 <> 0 AS on_insert "
        "FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE t.tgrelid = 'ops.landed_in_transaction'::regclass").fetchall()
    assert rows == [("ops.landed_in_transaction", "apply_landed_at_commit", True, True, True, True, True)]


def test_landing_tables_have_a_natural_key_and_lsn_index(wh):
    for table, key in (("customers", "customer_id"), ("products", "product_id"), ("orders", "order_id"),
                       ("order_items", "order_item_id")):
        defs = [r[0] for r in wh.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = 'landing' AND tablename = %s",
                                         (table,))]
        assert any(f"({key}, __lsn)" in d for d in defs), (table, defs)


def test_loader_role_can_only_land_and_its_events_apply(wh):
    wh.execute("SET ROLE wh_loader")
    land(wh, [Source().change("customers", "c", customer(1), datetime(2025, 1, 1))])
    for forbidden in ("SELECT * FROM dw.dim_customer", "SELECT * FROM landing.customers",
                      "INSERT INTO dw.dim_date (date_key, date) VALUES (1, '2000-01-01')",
                      "DELETE FROM landing.customers", "SELECT * FROM ops.quarantine"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            wh.execute(forbidden)
    wh.execute("RESET ROLE")
    assert wh.execute("SELECT count(*) FROM dw.dim_customer WHERE customer_id = 1").fetchone() == (1,)


def test_analyst_role_reads_dw_only(wh):
    wh.execute("SET ROLE wh_analyst")
    assert wh.execute("SELECT count(*) FROM dw.fact_orders").fetchone() == (0,)
    assert wh.execute("SELECT count(*) FROM dw.product_sales").fetchone() == (0,)
    for forbidden in ("INSERT INTO landing.customers (customer_id) VALUES (1)", "DELETE FROM dw.dim_date",
                      "SELECT * FROM landing.customers"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            wh.execute(forbidden)
