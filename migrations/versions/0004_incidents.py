"""ops.incidents: what went wrong in operation, what the supervisor did about it, when it healed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Promises 11 and 12 of design.md: the supervisor records each incident it sees (a failed task, a
component that stopped answering, an added source column) with its cause and its action, and
closes it when the pipeline has recovered. `whctl status` and the dashboard read it; the analyst
role (the dashboard's) may read the operations tables but write none of them.
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL ROLE wh_owner")
    op.execute("""
        CREATE TABLE ops.incidents (
            incident_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            opened_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
            component    text NOT NULL,            -- 'connector whctl-sink task 0', 'kafka', 'landing.customers', ...
            cause        text NOT NULL,            -- the root cause as observed
            action       text,                     -- what was done (or 'needs a person: ...')
            resolved_at  timestamptz,              -- NULL while open; time to recover = resolved_at - opened_at
            detail       jsonb NOT NULL DEFAULT '{}'
        )
    """)
    # at most one open incident per component and cause: the supervisor may observe it many times
    op.execute("CREATE UNIQUE INDEX incidents_open ON ops.incidents (component, cause) WHERE resolved_at IS NULL")
    op.execute("CREATE INDEX incidents_opened_at ON ops.incidents (opened_at)")
    op.execute("RESET ROLE")
    op.execute("GRANT USAGE ON SCHEMA ops TO wh_analyst")
    op.execute("GRANT SELECT ON ops.incidents, ops.quarantine, ops.apply_stats TO wh_analyst")


def downgrade() -> None:
    op.execute("REVOKE SELECT ON ops.quarantine, ops.apply_stats FROM wh_analyst")
    op.execute("REVOKE USAGE ON SCHEMA ops FROM wh_analyst")
    op.execute("DROP TABLE ops.incidents")
