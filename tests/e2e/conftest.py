"""The whole local stack, brought up once per test run for every end-to-end test.

`stack` starts PostgreSQL (source and warehouse), Kafka and Kafka Connect in a temporary state
folder on free ports (so it never collides with a developer's own stack), with WH_* set in
os.environ for the session so that `whctl` subprocesses reach the same stack, and stops every
process at the end. It shares the Java runtime of the regular state folder (fetched once).
Set WHCTL_KEEP_E2E_STATE=1 to keep the folder (data and logs) after the run.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from whctl.config import Settings
from whctl.localstack.sandbox import sandbox


@pytest.fixture(scope="session")
def stack() -> Settings:
    # not under pytest's tmp_path: its folders are private to root and PostgreSQL runs as `postgres`
    base = Path(tempfile.mkdtemp(prefix="whctl-e2e-"))
    base.chmod(0o755)
    try:
        with sandbox(base / "state") as settings:
            yield settings
    finally:
        if os.environ.get("WHCTL_KEEP_E2E_STATE"):
            print(f"\ne2e state kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
