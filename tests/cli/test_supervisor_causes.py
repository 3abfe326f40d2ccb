"""The supervisor's cause table: the deepest `Caused by` of a real Connect trace decides what it does."""
from __future__ import annotations

import pytest

from whctl.connect_api import root_cause
from whctl.supervisor import causes


def _trace(*caused_by: str) -> str:
    top = "org.apache.kafka.connect.errors.ConnectException: Exiting WorkerSinkTask due to unrecoverable exception.\n" \
          "\tat org.apache.kafka.connect.runtime.WorkerSinkTask.deliverMessages(WorkerSinkTask.java:636)\n"
    return top + "".join(f"Caused by: {c}\n\tat some.Frame(Frame.java:1)\n" for c in caused_by)


@pytest.mark.parametrize("deepest, name, action, depends_on", [
    ("org.postgresql.util.PSQLException: FATAL: terminating connection due to unexpected postmaster exit",
     "database connection lost", causes.RESTART, causes.DATABASE),
    ("java.net.ConnectException: Connection refused", "database unreachable", causes.RESTART, causes.DATABASE),
    ("org.postgresql.util.PSQLException: Connection to 127.0.0.1:55433 refused. Check that the hostname and port are correct",
     "database unreachable", causes.RESTART, causes.DATABASE),
    ("org.apache.kafka.common.errors.TimeoutException: Topic whctl.public.orders not present in metadata after 60000 ms.",
     "broker unavailable", causes.RESTART, causes.KAFKA),
    ("org.apache.kafka.connect.errors.ConnectException: Cannot alter table landing.customers because schema evolution is disabled",
     "missing landing column", causes.RESTART_AFTER_LANDING_EVOLUTION, causes.DATABASE),
    ("org.postgresql.util.PSQLException: ERROR: permission denied for table customers", "not transient", causes.PERSON, None),
])
def test_the_deepest_cause_decides(deepest, name, action, depends_on):
    trace = _trace("org.hibernate.exception.JDBCConnectionException: could not execute batch", deepest)
    cause, root = causes.classify(trace)
    assert root == deepest
    assert (cause.name, cause.action, cause.depends_on) == (name, action, depends_on)
    assert cause.next_step


def test_a_trace_without_caused_by_is_its_first_line():
    assert root_cause("java.lang.IllegalStateException: boom\n\tat x.y(Z.java:1)") == "java.lang.IllegalStateException: boom"
    assert causes.classify("")[0] is causes.NOT_TRANSIENT


def test_every_row_is_named_once():
    names = [c.name for c in causes.CAUSES]
    assert len(names) == len(set(names)) and causes.NOT_TRANSIENT.name not in names
