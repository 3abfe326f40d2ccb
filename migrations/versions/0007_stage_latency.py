"""Per-stage latency from the data itself: each landing row's Kafka append time, and which landing
rows each applied batch took.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

An event's way through the pipeline has four times, all now in the warehouse:
- source commit: `__source_ts_us` (Debezium's source.ts_us);
- Kafka append: `__kafka_ts_ms`, new here: the Kafka record's timestamp, written by the sink's
  stock transform (InsertField's timestamp.field, converted to epoch milliseconds by
  TimestampConverter so that no time zone stands between Connect and PostgreSQL). The local
  stack's broker stamps records with their append time (log.message.timestamp.type=LogAppendTime);
  under the default CreateTime it is when Connect's producer sent the record;
- landed: `__landed_at` (clock_timestamp() at the sink's INSERT);
- applied: `ops.apply_batches.applied_at` of the batch that applied the row: the batch now records
  the range of landing ids it applied (`landing_id_first`, `landing_id_last`), so the stage times
  are read per event (whctl.health's "freshness by stage") with the landing tables' primary keys.

The sink's schema evolution is off: the column must exist before the sink's new config writes it,
and this migration runs before `whctl deploy` updates the connector. Rows landed before have NULL.

ops.apply_landed returns the batch's first and last landing id too: its result type changes, which
CREATE OR REPLACE cannot do, so the old function is dropped here and the repeatable step of the same
deploy creates the new one.

The analyst role (the dashboard's) may read the four time columns and the landing id of every landing
table, nothing else of them: the stage times are the pipeline's, the rows are the shop's.
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# the landing tables the sink writes (connectors/sink.json's topics)
SINK_TABLES = ("customers", "products", "orders", "order_items", "heartbeat", "truncations")


def upgrade() -> None:
    op.execute("SET LOCAL ROLE wh_owner")
    for table in SINK_TABLES:
        op.execute(f"ALTER TABLE landing.{table} ADD COLUMN __kafka_ts_ms bigint")
    op.execute("ALTER TABLE ops.apply_batches ADD COLUMN landing_id_first bigint, ADD COLUMN landing_id_last bigint")
    op.execute("DROP FUNCTION IF EXISTS ops.apply_landed(text, bigint[])")
    op.execute("RESET ROLE")
    # the dashboard reads the stage times as the analyst: the times and the row id, not the rows' data
    for table in SINK_TABLES:
        op.execute(f"GRANT SELECT (landing_id, __source_ts_us, __kafka_ts_ms, __landed_at) ON landing.{table} TO wh_analyst")


def downgrade() -> None:
    for table in SINK_TABLES:
        op.execute(f"REVOKE SELECT (landing_id, __source_ts_us, __kafka_ts_ms, __landed_at) ON landing.{table} FROM wh_analyst")
    op.execute("SET LOCAL ROLE wh_owner")
    op.execute("ALTER TABLE ops.apply_batches DROP COLUMN landing_id_first, DROP COLUMN landing_id_last")
    op.execute("DROP FUNCTION IF EXISTS ops.apply_landed(text, bigint[])")   # the plpgsql step recreates 0006's
    for table in SINK_TABLES:
        op.execute(f"ALTER TABLE landing.{table} DROP COLUMN __kafka_ts_ms")
    op.execute("RESET ROLE")
