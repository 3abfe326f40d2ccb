"""The last result of each data-quality check of `whctl verify`, kept in ops.quality_results.

`whctl verify` runs as the operator and records its checks here; the dashboard (`whctl serve`)
reads them as the read-only analyst role, so the web face never runs checks or writes.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from whctl.config import Settings
from whctl.db import connect
from whctl.output import progress, to_json


def record(settings: Settings, result: dict) -> bool:
    """Replace the recorded results with this run's checks; False when the warehouse predates them."""
    checked_at = datetime.now(timezone.utc)
    with connect(settings, "warehouse") as conn:
        if conn.execute("SELECT to_regclass('ops.quality_results')").fetchone()[0] is None:
            progress("results not recorded for the dashboard: the warehouse lacks ops.quality_results (run `whctl migrate`)")
            return False
        with conn.cursor() as cur:
            cur.execute("DELETE FROM ops.quality_results")
            cur.executemany(
                "INSERT INTO ops.quality_results (name, verdict, detail, result, checked_at) VALUES (%s, %s, %s, %s, %s)",
                [(c["name"], c["verdict"], c["detail"], Jsonb(json.loads(to_json(c))), checked_at) for c in result["checks"]])
        conn.commit()
    return True


def latest(conn) -> dict:
    """The recorded checks (any connection that may read ops.quality_results)."""
    with conn.cursor(row_factory=dict_row) as cur:
        checks = cur.execute("SELECT name, verdict, detail, checked_at, result FROM ops.quality_results ORDER BY name").fetchall()
    verdicts = {c["verdict"] for c in checks}
    return {"checked_at": max((c["checked_at"] for c in checks), default=None),
            "verdict": None if not checks else "fail" if "fail" in verdicts else "warn" if "warn" in verdicts else "ok",
            "checks": checks}
