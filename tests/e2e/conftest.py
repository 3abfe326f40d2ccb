"""The whole local stack, brought up once per test run for every end-to-end test.

`stack` starts PostgreSQL (source and warehouse), Kafka, Kafka Connect and the supervisor in a temporary state
folder on free ports (so it never collides with a developer's own stack), with WH_* set in
os.environ for the session so that `whctl` subprocesses reach the same stack, and stops every
process at the end. It shares the Java runtime of the regular state folder (fetched once).
Set WHCTL_KEEP_E2E_STATE=1 to keep the folder (data and logs) after the run.
"""
from __future__ import annotations

import pytest

from tests.e2e.workload import RESULTS, scratch_stack
from whctl.config import Settings


@pytest.fixture(scope="session")
def stack() -> Settings:
    with scratch_stack("whctl-e2e-") as settings:
        yield settings


def pytest_collection_modifyitems(items):
    """Tests that change the shared stack's source schema (a dropped column, a truncated table) run
    after every other test, whatever their file names."""
    items.sort(key=lambda item: item.get_closest_marker("changes_source_shape") is not None)


def pytest_terminal_summary(terminalreporter):
    """The fault suite's table: component -> what was measured, in seconds -> rows checked, differences found."""
    if not RESULTS:
        return
    terminalreporter.section("fault suite")
    for r in RESULTS:
        terminalreporter.write_line(f"{r['component']:<36} {r['measure']:<28} {r['seconds']:>6.1f}s  {r['rows_checked']:>6} rows checked,"
                                    f" {r['differences']} differences  ({r['transactions']} workload transactions)")
