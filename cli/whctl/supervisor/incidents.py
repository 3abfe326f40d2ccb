"""Incidents the supervisor records in ops.incidents, kept in a file while the warehouse does not answer.

Opening is an upsert on the open-incident index (one open incident per component and cause), so
a second supervisor, or the same one after a restart, records nothing twice. Every open or
resolve is queued with the time it happened and written in order once the warehouse answers; the
queue lives in <state_dir>/run/supervisor-incidents.json meanwhile, so an outage of the warehouse
itself is recorded with its true times when it is back.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import psycopg
from psycopg.types.json import Jsonb

from whctl.config import Settings
from whctl.db import connect
from whctl.output import WhctlError

OPEN_SQL = """
    INSERT INTO ops.incidents (opened_at, component, cause, action, detail) VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (component, cause) WHERE resolved_at IS NULL
    DO UPDATE SET action = EXCLUDED.action, detail = ops.incidents.detail || EXCLUDED.detail"""
# time to recover = resolved_at - opened_at; it is also kept in detail for readers of the JSON
RESOLVE_SQL = """
    UPDATE ops.incidents
       SET resolved_at = greatest(%(at)s, opened_at),
           detail = detail || jsonb_build_object('seconds_to_recover',
                                                 round(extract(epoch FROM greatest(%(at)s, opened_at) - opened_at)::numeric, 1))
     WHERE resolved_at IS NULL AND (component = %(component)s OR starts_with(component, %(component)s || ' '))"""


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


class Incidents:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.path = settings.state_dir / "run" / "supervisor-incidents.json"
        self.queue: list[dict] = json.loads(self.path.read_text()) if self.path.exists() else []
        # {(component, cause): action} of the open incidents, as last read from the warehouse plus the queue
        self.open_now: dict[tuple[str, str], str | None] = {}
        if not self.queue:
            self.flush()  # reads the open incidents, so that a new supervisor can close them
        for entry in self.queue:
            self._remember(entry)

    def _remember(self, entry: dict) -> None:
        if entry["op"] == "open":
            self.open_now[(entry["component"], entry["cause"])] = entry["action"]
        else:
            for key in [k for k in self.open_now if k[0] == entry["component"] or k[0].startswith(entry["component"] + " ")]:
                del self.open_now[key]

    def is_open(self, component: str) -> bool:
        return any(k[0] == component or k[0].startswith(component + " ") for k in self.open_now)

    def open(self, component: str, cause: str, action: str | None, **detail) -> None:
        """Open (or update the action of) the incident of `component` with `cause`; no write when nothing changed."""
        if self.open_now.get((component, cause), "\0") == action:
            return
        entry = {"op": "open", "at": now(), "component": component, "cause": cause[:500], "action": action, "detail": detail}
        self.queue.append(entry)
        self._remember(entry)

    def resolve(self, component: str) -> None:
        """Close every open incident of `component` (and of its parts: 'connector x' closes 'connector x task 0')."""
        if not self.is_open(component):
            return
        entry = {"op": "resolve", "at": now(), "component": component}
        self.queue.append(entry)
        self._remember(entry)

    def flush(self) -> bool:
        """Write the queue to ops.incidents and re-read the open incidents; keep it in the file when the warehouse is away."""
        try:
            with connect(self.settings, "warehouse", connect_timeout=2) as conn:
                with conn.transaction():
                    for entry in self.queue:
                        if entry["op"] == "open":
                            conn.execute(OPEN_SQL, (entry["at"], entry["component"], entry["cause"], entry["action"], Jsonb(entry["detail"])))
                        else:
                            conn.execute(RESOLVE_SQL, {"at": entry["at"], "component": entry["component"]})
                self.open_now = {(r[0], r[1]): r[2] for r in conn.execute(
                    "SELECT component, cause, action FROM ops.incidents WHERE resolved_at IS NULL")}
        except (WhctlError, psycopg.Error):
            self._save()
            return False
        self.queue = []
        self._save()
        return True

    def _save(self) -> None:
        if self.queue:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.queue))
        else:
            self.path.unlink(missing_ok=True)
