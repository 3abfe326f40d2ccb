"""A Connect cluster of two workers (WH_CONNECT_WORKERS=2): one killed mid-workload, its tasks move, nothing is lost.

The stack is this module's own sandbox. The survivor takes over once the cluster notices the
loss (session timeout) and the cooperative rebalance delay the local stack sets
(scheduled.rebalance.max.delay.ms, 10 s) has passed; then the warehouse must equal the source.
Marked `faults` (make test-faults).
"""
from __future__ import annotations

import os
import signal
import time

import pytest

from tests.conftest import poll
from tests.e2e.workload import RESULTS, Workload, deployed_sandbox, verify
from whctl import connect_api, pipeline
from whctl.localstack.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.faults]


@pytest.fixture(scope="module")
def two_workers():
    with deployed_sandbox("whctl-2workers-", {"WH_CONNECT_WORKERS": "2"}) as settings:
        yield settings


def _placement(api: connect_api.Connect) -> dict[str, str]:
    """{"whctl-sink task 0": worker_id, ...} of the tasks that run."""
    placed = {}
    for name in pipeline.CONNECTOR_NAMES:
        st = api.status(name, timeout=5) or {"tasks": []}
        placed.update({f"{name} task {t['id']}": t["worker_id"] for t in st["tasks"] if t["state"] == "RUNNING"})
    return placed


def test_killing_one_worker_moves_its_tasks_and_loses_nothing(two_workers):
    stack = Stack(two_workers)
    workers = {f"{two_workers.host}:{c.port}": c for c in (stack.connect, stack.connect2)}
    api = connect_api.Connect(two_workers)
    assert len(api.urls) == 2
    before = poll(lambda: (p := _placement(api)) and len(p) == 2 and p, 60, what="both tasks running")
    victim_id = before[f"{pipeline.SINK_CONNECTOR} task 0"]
    survivor_id = next(w for w in workers if w != victim_id)
    workload = Workload(two_workers, 10_000)
    workload.start()
    try:
        poll(lambda: workload.committed >= 60, 60, what="60 transactions before the kill")
        os.kill(workers[victim_id].pid(), signal.SIGKILL)
        killed = time.monotonic()
        after = poll(lambda: (p := _placement(api)) and len(p) == 2 and set(p.values()) == {survivor_id} and p, 90,
                     what=f"every task running on the survivor {survivor_id}")
        moved_after = time.monotonic() - killed
        at_move = workload.committed
        poll(lambda: workload.committed >= at_move + 60, 60, what="60 more transactions after the move")
    finally:
        workload.stop()
    assert after == {task: survivor_id for task in before}
    rows, differences = verify(two_workers)
    RESULTS.append({"component": f"connect worker {victim_id} (1 of 2)", "measure": "tasks moved to the survivor", "seconds": moved_after, "rows_checked": rows,
                    "differences": differences, "transactions": workload.committed})
    assert differences == 0
