"""Connections to the source and the warehouse, with errors that say what to do."""
from __future__ import annotations

import psycopg

from whctl.config import Settings
from whctl.output import WhctlError

DSN_FORMS = "a libpq URI (postgresql://user@host:port/dbname) or key=value pairs (host=… port=… dbname=… user=…)"


def connect(settings: Settings, which: str = "warehouse", autocommit: bool = False, dbname: str | None = None,
            role: str | None = None, connect_timeout: float | None = None, **options) -> psycopg.Connection:
    """Open a connection to the 'source' or the 'warehouse' database (as `role` when given;
    `connect_timeout` in seconds, at least 1)."""
    kwargs = {**settings.connection_kwargs(which, role), **options}
    if dbname is not None:
        kwargs["dbname"] = dbname
    if connect_timeout is not None:
        kwargs["connect_timeout"] = max(int(connect_timeout), 1)
    shown = settings.source if which == "source" else settings.warehouse
    explicit = settings.source_dsn if which == "source" else settings.warehouse_dsn
    check_dsn(which, explicit)
    try:
        return psycopg.connect(autocommit=autocommit, **kwargs)
    except psycopg.OperationalError as exc:
        reason = _reason(exc)
        if "password" in reason and explicit is not None:
            hint = ("give the password in a PGPASSFILE (a line host:port:dbname:user:password, mode 600) or in the DSN "
                    "(postgresql://user:password@host/dbname)")
        elif "password" in reason:
            hint = (f"the local stack's password is in {settings.secrets_dir / (settings.pg_user + '.password')} "
                    f"(or WH_{settings.pg_user.upper()}_PASSWORD): it must be the one the cluster was created with")
        else:
            hint = f"start the local stack with `whctl stack up`, or point WH_{which.upper()}_DSN at your server"
        raise WhctlError(f"cannot connect to the {which} database at {shown}: {reason}", hint=hint) from None


def check_dsn(which: str, dsn: str | None) -> None:
    """Refuse a DSN libpq cannot parse, naming what is wrong (no traceback)."""
    if dsn is None:
        return
    try:
        psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise WhctlError(f"the {which} DSN {dsn!r} is not valid: {str(exc).strip()}",
                         hint=f"WH_{which.upper()}_DSN is {DSN_FORMS}") from None


def _reason(exc: psycopg.OperationalError) -> str:
    """libpq's message in one line: the last failure it names, without its 'Is the server running…' aside."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    failures = [line for line in lines if not line.startswith("Is the server running")]
    return failures[-1].removeprefix("connection failed: ") if failures else type(exc).__name__


def call_engine(conn: psycopg.Connection, query, params=None) -> list[tuple]:
    """Run a call of the warehouse's engine; its expected refusals (SQLSTATE WHxxx, raised with a
    hint) become one clear WhctlError instead of a traceback."""
    try:
        return conn.execute(query, params).fetchall()
    except psycopg.Error as exc:
        if exc.sqlstate and exc.sqlstate.startswith("WH"):
            raise WhctlError(exc.diag.message_primary or str(exc), hint=exc.diag.message_hint) from None
        raise
