"""Apply what a transaction landed once, at its commit, instead of after every INSERT statement.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

The JDBC driver (reWriteBatchedInserts) splits each batch the sink flushes into INSERT statements of
at most 128 rows, all in one transaction, and every statement fired the statement-level trigger:
when the sink drains a backlog, a flush of ~2,400 rows was applied as ~20 batches of ~100, each
paying the engine's fixed cost (measured on the local stack: 592 applies for 60,000 order lines).
The statement-level trigger now only records the landed ids here, one row per INSERT (appending
to one growing array per transaction cost more than the apply saved); the transaction's first row
of a table opens the batch and queues a deferred constraint trigger
(plpgsql/ops/apply_landed_at_commit.sql), which applies them all once at commit and deletes the
rows. Rows live only inside their transaction, so the table is unlogged: after a crash it could
only have held rows of transactions that did not commit.
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL ROLE wh_owner")
    op.execute("""
        CREATE UNLOGGED TABLE ops.landed_in_transaction (
            txid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
            landing_table text NOT NULL,
            landing_ids   bigint[] NOT NULL,
            opens_batch   boolean NOT NULL   -- the transaction's first INSERT into this table
        )
    """)
    op.execute("CREATE INDEX landed_in_transaction_txid ON ops.landed_in_transaction (txid, landing_table)")
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute("DROP TABLE ops.landed_in_transaction")
