"""Connections to the source and the warehouse, with errors that say what to do."""
from __future__ import annotations

import psycopg

from whctl.config import Settings
from whctl.output import WhctlError


def connect(settings: Settings, which: str = "warehouse", autocommit: bool = False, dbname: str | None = None) -> psycopg.Connection:
    """Open a connection to the 'source' or the 'warehouse' database."""
    kwargs = settings.connection_kwargs(which)
    if dbname is not None:
        kwargs["dbname"] = dbname
    try:
        return psycopg.connect(autocommit=autocommit, **kwargs)
    except psycopg.OperationalError as exc:
        shown = settings.source if which == "source" else settings.warehouse
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise WhctlError(
            f"cannot connect to the {which} database at {shown}: {reason}",
            hint=f"start the local stack with `whctl stack up`, or point WH_{which.upper()}_DSN at your server",
        ) from None


def call_engine(conn: psycopg.Connection, query, params=None) -> list[tuple]:
    """Run a call of the warehouse's engine; its expected refusals (SQLSTATE WHxxx, raised with a
    hint) become one clear WhctlError instead of a traceback."""
    try:
        return conn.execute(query, params).fetchall()
    except psycopg.Error as exc:
        if exc.sqlstate and exc.sqlstate.startswith("WH"):
            raise WhctlError(exc.diag.message_primary or str(exc), hint=exc.diag.message_hint) from None
        raise
