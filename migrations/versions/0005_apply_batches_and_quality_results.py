"""ops.apply_batches: one row per applied batch (the pipeline over time); ops.quality_results: the last
result of each `whctl verify` check.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

The dashboard (`whctl serve`) shows events applied per minute and the end-to-end latency per minute
(apply time minus source commit time) for the last hours. ops.apply_stats holds only running totals,
so the engine now also writes one row per batch it applies (plpgsql/ops/apply_landed_at_commit.sql),
kept for a bounded time (ops.prune_apply_batches). The table is append-only in time order, so a
B-tree on applied_at serves both the range reads and the pruning.

`whctl verify` runs as the operator; the dashboard reads as the read-only analyst role, so verify
records each check's last result here and the dashboard reads it (the web role never writes).
The analyst may also read landing.heartbeat: each heartbeat's landing time minus its source commit
time is the pipeline's end-to-end lag at that moment.

ops.apply_landed now also returns the batch's oldest and newest source commit times: its result
type changes, which CREATE OR REPLACE cannot do, so the old function is dropped here and the
repeatable step of the same deploy creates the new one.
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL ROLE wh_owner")
    op.execute("""
        CREATE TABLE ops.apply_batches (
            batch_id       bigint GENERATED ALWAYS AS IDENTITY,
            applied_at     timestamptz NOT NULL,
            landing_table  text NOT NULL,
            events         integer NOT NULL,
            quarantined    integer NOT NULL,
            source_first   timestamptz,           -- oldest source commit time of the batch's events
            source_last    timestamptz            -- newest
        )
    """)
    op.execute("CREATE INDEX apply_batches_applied_at ON ops.apply_batches (applied_at)")
    op.execute("""
        CREATE TABLE ops.quality_results (
            name        text PRIMARY KEY,
            verdict     text NOT NULL CHECK (verdict IN ('ok', 'warn', 'fail')),
            detail      text NOT NULL,
            result      jsonb NOT NULL,            -- the check as `whctl verify --json` prints it
            checked_at  timestamptz NOT NULL
        )
    """)
    op.execute("DROP FUNCTION IF EXISTS ops.apply_landed(text, bigint[])")
    op.execute("RESET ROLE")
    op.execute("GRANT SELECT ON ops.apply_batches, ops.quality_results TO wh_analyst")
    # the heartbeats measure end-to-end lag over time (the dashboard's lag per minute)
    op.execute("GRANT USAGE ON SCHEMA landing TO wh_analyst")
    op.execute("GRANT SELECT ON landing.heartbeat TO wh_analyst")


def downgrade() -> None:
    op.execute("REVOKE SELECT ON landing.heartbeat FROM wh_analyst")
    op.execute("REVOKE USAGE ON SCHEMA landing FROM wh_analyst")
    op.execute("DROP TABLE ops.quality_results")
    op.execute("DROP TABLE ops.apply_batches")
