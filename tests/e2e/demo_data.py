"""The e2e stack deployed and seeded with small sample data (shared by the demo and notebook tests).

Order matters: tests/e2e/test_pipeline.py's session fixture `deployed` lands snapshot rows before
the session's first `whctl deploy` and asserts that its deploy changed something. The tests that
call `deploy_and_seed` therefore live in files that sort after it (test_scenarios.py,
test_scd_notebook.py): pytest runs files in name order, and here a second deploy changes nothing.
"""
from __future__ import annotations

import functools

from tests.conftest import run_whctl

ANCHOR = "2026-01-31"
# --append: the pipeline tests' rows (explicit keys from 900 up) may be there already. The seed's keys
# come from the sequences (1..120 customers, 1..60 products, 1..300 orders, 1..672 order lines), so
# they do not collide with those.
SMALL = ("--customers", "120", "--products", "60", "--orders", "300", "--seed", "5", "--anchor-date", ANCHOR, "--append")


@functools.cache
def deploy_and_seed() -> None:
    """`whctl deploy` then `whctl seed` on the session's stack (WH_* in os.environ), once per run."""
    for args in (("deploy",), ("seed", *SMALL)):
        result = run_whctl(*args)
        assert result.returncode == 0, f"whctl {args[0]} failed:\n{result.stderr}\n{result.stdout}"
