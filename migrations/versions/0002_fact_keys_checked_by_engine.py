"""Fact keys: resolved and guarded by the engine instead of declared foreign keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

The three deferred foreign keys of dw.fact_orders (customer_key, product_key, date_key) cost more
than all six fact indexes together: one queued trigger event and one key-share lock on the
dimension row per fact written, about 10 µs a row, nearly doubling the price of a fact write
(benchmarks/engine_bench.py). Every key the engine writes is looked up in the dimension in the same
statement (or is an inferred or unknown member it created); the one place a fact could lose its
dimension row, a version removed by dw.refresh_dimension, is re-pointed and then checked by
dw.repoint_facts, which raises (and so quarantines the batch's key) if a fact still points at a
removed version. `whctl verify` checks every fact key, and the SQL tests check them after every
landed batch.
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# (constraint, column, dimension table): the column is also the dimension's primary key
FOREIGN_KEYS = [
    ("fact_orders_customer_key_fkey", "customer_key", "dw.dim_customer"),
    ("fact_orders_product_key_fkey", "product_key", "dw.dim_product"),
    ("fact_orders_date_key_fkey", "date_key", "dw.dim_date"),
]


def upgrade() -> None:
    op.execute("ALTER TABLE dw.fact_orders " + ", ".join(f"DROP CONSTRAINT {name}" for name, _, _ in FOREIGN_KEYS))


def downgrade() -> None:
    op.execute("ALTER TABLE dw.fact_orders " + ", ".join(
        f"ADD CONSTRAINT {name} FOREIGN KEY ({column}) REFERENCES {table} ({column}) DEFERRABLE INITIALLY DEFERRED"
        for name, column, table in FOREIGN_KEYS))
