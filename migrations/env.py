"""Alembic environment for the warehouse.

`whctl migrate` passes its own connection (config.attributes["connection"]) so that the upgrade and
the re-application of plpgsql/ happen on one connection, under one advisory lock, in one
transaction. Run through the plain `alembic` command, the DSN comes from WH_WAREHOUSE_DSN.
"""
from alembic import context
from sqlalchemy import create_engine

connection = context.config.attributes.get("connection")


def run(conn) -> None:
    context.configure(connection=conn, transactional_ddl=True, version_table_schema="public")
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    import os

    dsn = os.environ["WH_WAREHOUSE_DSN"].replace("postgresql://", "postgresql+psycopg://", 1)
    with create_engine(dsn).connect() as conn:
        run(conn)
