"""The source changes shape: lossless landing types, the source's columns over time, truncates,
quarantine a person can finish.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Promise 10 of design.md (and 8, 12):
- landing.order_items.quantity becomes numeric: an integer column rounded a source quantity of 1.5
  to 2 on the sink's INSERT, before the engine could see it. Landing holds what the source sent;
  the engine checks that an integer measure is whole (landing.event_problem) when it applies.
- ops.source_columns: every column of a captured table, when it was first seen in the source and
  when it stopped being sent (a dropped column). The engine reads the stop LSN so that events
  after a drop carry the column's last value forward instead of writing NULL (dw.dimension_chain),
  whatever order the drop and the events were noticed in.
- ops.quarantine: a person can dismiss an event (with a reason, kept for audit); `held_columns`
  marks an event applied without some values the star schema cannot hold yet (a 300-character
  name for a varchar(255) column): its other changes apply, the value waits for a widening.
- landing: a TRUNCATE at the source lands in landing.truncations (the source's whctl.truncations,
  written by a trigger in the truncating transaction), and becomes one event of its landing table
  with __op 't' and no key; the partial indexes let the engine find a table's truncates cheaply.
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

LANDING_TABLES = ("customers", "products", "orders", "order_items")
# Columns of the landing tables that the sink writes from the event's metadata, not the source row.
METADATA = ("landing_id", "__op", "__lsn", "__txid", "__source_ts_us", "__deleted", "__topic", "__partition",
            "__offset", "__landed_at")


def upgrade() -> None:
    op.execute("SET LOCAL ROLE wh_owner")
    op.execute("ALTER TABLE landing.order_items ALTER COLUMN quantity TYPE numeric")
    op.execute("""
        CREATE TABLE ops.source_columns (
            landing_table  text NOT NULL,
            column_name    name NOT NULL,
            source_type    text,                 -- the source's type when last compared (format_type)
            first_seen_at  timestamptz,          -- NULL: there from the start (the warehouse's first schema)
            drop_seen_lsn  bigint,               -- the source's WAL position when the column was first seen missing
            stopped_lsn    bigint,               -- events from this source LSN on no longer carry the column
            stopped_at     timestamptz,          -- when the drop was noticed
            retired_at     timestamptz,          -- a person acknowledged the drop (whctl dimension retire)
            PRIMARY KEY (landing_table, column_name)
        )
    """)
    metadata = ", ".join(f"'{c}'" for c in METADATA)
    tables = ", ".join(f"'{t}'" for t in LANDING_TABLES)
    op.execute(f"""
        INSERT INTO ops.source_columns (landing_table, column_name, source_type)
        SELECT c.table_name, c.column_name, c.data_type
        FROM information_schema.columns c
        WHERE c.table_schema = 'landing' AND c.table_name IN ({tables}) AND c.column_name NOT IN ({metadata})
    """)
    op.execute("""
        ALTER TABLE ops.quarantine
            ADD COLUMN held_columns     text[],       -- applied without these columns' values (NULL: not applied at all)
            ADD COLUMN dismissed_at     timestamptz,  -- a person decided to drop the event
            ADD COLUMN dismissed_by     text,
            ADD COLUMN dismissed_reason text,
            ADD CONSTRAINT quarantine_dismissal_has_reason
                CHECK (dismissed_at IS NULL OR length(btrim(dismissed_reason)) > 0)
    """)
    for table in LANDING_TABLES:
        op.execute(f"CREATE INDEX {table}_truncates ON landing.{table} (__lsn) WHERE __op = 't'")
    # The source's whctl.truncations (a row per TRUNCATE of a captured table, written by a trigger
    # in the truncating transaction; see whctl.pipeline): landing.copy_truncations turns each new
    # row into a truncate event of its landing table.
    # the same change metadata as every landing table (landing.heartbeat's, from migration 0001)
    op.execute("CREATE TABLE landing.truncations (LIKE landing.heartbeat INCLUDING DEFAULTS INCLUDING IDENTITY)")
    op.execute("ALTER TABLE landing.truncations DROP COLUMN beat_at, ALTER COLUMN id TYPE bigint,"
               " ADD COLUMN table_name text, ADD COLUMN truncated_at text")
    op.execute("ALTER TABLE landing.truncations ADD PRIMARY KEY (landing_id)")
    op.execute("RESET ROLE")
    op.execute("GRANT INSERT ON landing.truncations TO wh_loader")
    op.execute("GRANT SELECT ON ops.source_columns TO wh_analyst")


def downgrade() -> None:
    op.execute("DROP TABLE landing.truncations")
    for table in LANDING_TABLES:
        op.execute(f"DROP INDEX landing.{table}_truncates")
    op.execute("""
        ALTER TABLE ops.quarantine DROP CONSTRAINT quarantine_dismissal_has_reason,
            DROP COLUMN held_columns, DROP COLUMN dismissed_at, DROP COLUMN dismissed_by, DROP COLUMN dismissed_reason
    """)
    op.execute("DROP TABLE ops.source_columns")
    op.execute("ALTER TABLE landing.order_items ALTER COLUMN quantity TYPE integer USING round(quantity)")
