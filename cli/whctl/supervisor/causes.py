"""What a failed connector or task died of, and what to do about it: a small declarative table.

Each row: a pattern matched against the root cause (the deepest `Caused by` of the Java trace),
the class of cause, the action the supervisor takes, the dependency that must answer before it
acts, and the next step for a person. The first matching row wins; a cause no row matches is not
transient: the task stays failed and a person decides (promise 11).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from whctl.connect_api import root_cause

RESTART = "restart"                                   # restart the failed parts once the dependency answers
RESTART_AFTER_LANDING_EVOLUTION = "restart after landing evolution"  # ... and the landing-evolution step ran
PERSON = "needs a person"                             # leave it failed, say why

# the dependency of a connector's database: the source's for the source connector, the warehouse's for the sink
DATABASE = "database"
KAFKA = "kafka broker"


@dataclass(frozen=True)
class Cause:
    name: str
    pattern: str
    action: str
    depends_on: str | None
    next_step: str

    def matches(self, text: str) -> bool:
        return re.search(self.pattern, text, re.IGNORECASE) is not None


CAUSES: tuple[Cause, ...] = (
    Cause("missing landing column",
          r"Cannot alter table \S+ because schema evolution is disabled|column \S+ of relation \S+ does not exist",
          RESTART_AFTER_LANDING_EVOLUTION, DATABASE,
          "a column appeared in the source that landing lacks: the supervisor adds it and restarts the task"
          " (without one: add the column, then `whctl deploy`)"),
    Cause("database unreachable",
          r"Connection to \S+ refused|Connection refused|connection attempt failed|the database system is"
          r" (starting up|shutting down|in recovery|not yet accepting connections)|too many clients",
          RESTART, DATABASE,
          "the database is down: `whctl stack up` (or start your server); the supervisor restarts the task once it answers"),
    Cause("database connection lost",
          r"terminating connection|unexpected postmaster exit|This connection has been closed|An I/O error occurred"
          r"|Connection reset|EOFException|server closed the connection|Broken pipe",
          RESTART, DATABASE,
          "the database restarted or dropped the connection: the supervisor restarts the task once it answers"
          " (without one: `whctl deploy`)"),
    Cause("broker unavailable",
          r"TimeoutException|DisconnectException|NetworkException|Broker may not be available|not available"
          r"|NotLeaderOrFollower|NotEnoughReplicas",
          RESTART, KAFKA,
          "the Kafka broker was away: `whctl stack up`; the supervisor restarts the task once the broker answers"),
)

NOT_TRANSIENT = Cause("not transient", r"(?!)", PERSON, None,
                      "read the root cause and fix it (data, schema or config), then `whctl deploy` (it restarts failed tasks);"
                      " see docs/operations.md")


def classify(trace: str) -> tuple[Cause, str]:
    """(the cause's row, the root-cause line) of a Java trace: the deepest `Caused by` decides, then the
    shallower ones (a wrapper may name what the deepest leaves out)."""
    root = root_cause(trace)
    causes = [line.strip().removeprefix("Caused by:").strip() for line in (trace or "").splitlines()
              if line.strip().startswith("Caused by")]
    for text in [root, *reversed(causes), (trace or "").splitlines()[0] if trace else ""]:
        for cause in CAUSES:
            if cause.matches(text):
                return cause, root
    return NOT_TRANSIENT, root
