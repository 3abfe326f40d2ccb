"""Bring a warehouse to the code's schema: Alembic migrations, then every file of plpgsql/.

Both happen on one connection, in one transaction, under an advisory lock (Alembic has none), so
two deploys cannot interleave and a failure leaves the database as it was.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool, text

from whctl.config import PROJECT_ROOT, Settings
from whctl.output import WhctlError

MIGRATIONS = PROJECT_ROOT / "migrations"
PLPGSQL = PROJECT_ROOT / "plpgsql"
# Functions first, then what depends on them (views, triggers live beside their tables' schema).
SCHEMA_ORDER = ("ops", "dw", "landing")
MIGRATE_LOCK = "whctl.migrate"
_FUNCTION_NAME = re.compile(r"CREATE\s+OR\s+REPLACE\s+(?:FUNCTION|AGGREGATE)\s+([a-z_]+)\.([a-z_]+)\s*\(", re.IGNORECASE)


def plpgsql_files() -> list[Path]:
    return [f for schema in SCHEMA_ORDER for f in sorted((PLPGSQL / schema).glob("*.sql"))]


def plpgsql_checksum() -> str:
    digest = hashlib.sha256()
    for path in plpgsql_files():
        digest.update(path.relative_to(PLPGSQL).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def declared_functions() -> set[str]:
    """schema.name of every function the files of plpgsql/ define."""
    return {f"{m[0]}.{m[1]}" for path in plpgsql_files() for m in _FUNCTION_NAME.findall(path.read_text())}


def _alembic_config(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _engine(settings: Settings):
    from whctl.db import connect

    return create_engine("postgresql+psycopg://", creator=lambda: connect(settings, "warehouse"), poolclass=pool.NullPool)


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()


@dataclass
class SchemaStatus:
    revision: str | None
    head: str
    code_checksum: str | None
    files_checksum: str
    stray_functions: list[str]
    missing_functions: list[str]

    @property
    def migrations_current(self) -> bool:
        return self.revision == self.head

    @property
    def code_current(self) -> bool:
        return self.code_checksum == self.files_checksum and not self.stray_functions and not self.missing_functions

    @property
    def current(self) -> bool:
        return self.migrations_current and self.code_current

    def as_dict(self) -> dict:
        return {
            "revision": self.revision, "head": self.head, "migrations_current": self.migrations_current,
            "code_current": self.code_current, "stray_functions": self.stray_functions,
            "missing_functions": self.missing_functions, "current": self.current,
        }


def status(settings: Settings) -> SchemaStatus:
    with _engine(settings).connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
        checksum, functions = None, set()
        if revision is not None:
            checksum = conn.execute(text("SELECT value FROM ops.settings WHERE name = 'plpgsql_checksum'")).scalar()
            functions = set(conn.execute(text(
                "SELECT n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = ANY(:schemas) AND p.prokind IN ('f', 'a')"), {"schemas": list(SCHEMA_ORDER)}).scalars())
        declared = declared_functions() if revision is not None else set()
        return SchemaStatus(revision, head_revision(), checksum, plpgsql_checksum(),
                            sorted(functions - declared), sorted(declared - functions))


def migrate(settings: Settings, source_timezone: str | None = None) -> dict:
    """Upgrade to head and re-apply plpgsql/; return what changed."""
    engine = _engine(settings)
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:lock))"), {"lock": MIGRATE_LOCK})
        before = MigrationContext.configure(conn).get_current_revision()
        command.upgrade(_alembic_config(conn), "head")
        after = MigrationContext.configure(conn).get_current_revision()
        previous_checksum = conn.execute(text("SELECT value FROM ops.settings WHERE name = 'plpgsql_checksum'")).scalar()
        # Function bodies reference each other; check them when they run, not in file order.
        conn.execute(text("SET LOCAL check_function_bodies = off"))
        conn.execute(text("SET LOCAL ROLE wh_owner"))
        raw = conn.connection.dbapi_connection  # psycopg itself: no placeholder parsing of '%' in bodies
        for path in plpgsql_files():
            try:
                raw.execute(path.read_text())
            except Exception as exc:  # the database's message names the line; say which file
                cause = getattr(exc, "orig", exc)
                raise WhctlError(f"applying {path.relative_to(PROJECT_ROOT)} failed: {cause}") from None
        conn.execute(text("RESET ROLE"))
        checksum = plpgsql_checksum()
        conn.execute(text(
            "INSERT INTO ops.settings VALUES ('plpgsql_checksum', :c) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value"),
            {"c": checksum})
        # Only a zone given explicitly is stored; none given keeps the stored one (UTC when new).
        previous_timezone = None if source_timezone is None else set_source_timezone(raw, source_timezone, recompute=False)
        timezone = conn.execute(text("SELECT value FROM ops.settings WHERE name = 'source_timezone'")).scalar()
    return {"from_revision": before, "to_revision": after, "migrations_applied": before != after,
            "plpgsql_changed": previous_checksum != checksum, "plpgsql_files": len(plpgsql_files()),
            "source_timezone": timezone, "source_timezone_was": previous_timezone}


LANDED_ANY_EVENT = " OR ".join(f"EXISTS (SELECT FROM landing.{t})" for t in ("customers", "products", "orders", "order_items"))


def set_source_timezone(conn, zone: str, recompute: bool) -> str | None:
    """Store the source's time zone (promise 2) on a psycopg connection, in its transaction.

    Returns the zone it replaced, or None when it was already stored. Refuses a zone PostgreSQL
    does not know, and a change on a warehouse that has events unless `recompute` (the caller then
    rebuilds dw in the same transaction: every version opened at a commit time would move).
    """
    if not conn.execute("SELECT EXISTS (SELECT FROM pg_timezone_names WHERE name = %s)", (zone,)).fetchone()[0]:
        raise WhctlError(f"unknown time zone {zone!r}",
                         hint="give a name the warehouse's PostgreSQL knows, such as America/New_York or Europe/Berlin"
                              " (SELECT name FROM pg_timezone_names)")
    stored = conn.execute("SELECT value FROM ops.settings WHERE name = 'source_timezone'").fetchone()[0]
    if zone == stored:
        return None
    if not recompute and conn.execute(f"SELECT {LANDED_ANY_EVENT}").fetchone()[0]:
        raise WhctlError(f"the warehouse's source time zone is {stored}, not {zone}: changing it moves every version"
                         " already built, so it is not changed by a migration",
                         hint=f"to change it and recompute dw: `whctl rebuild --source-timezone {zone}`;"
                              f" to keep it: unset WH_SOURCE_TIMEZONE or set it to {stored}")
    conn.execute("UPDATE ops.settings SET value = %s WHERE name = 'source_timezone'", (zone,))
    return stored
