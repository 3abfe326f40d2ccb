"""The e2e stack deployed and seeded with small sample data (shared by the demo and notebook tests)."""
from __future__ import annotations

from tests.conftest import run_whctl

ANCHOR = "2026-01-31"
SMALL = ("--customers", "120", "--products", "60", "--orders", "300", "--seed", "5", "--anchor-date", ANCHOR)


def deploy_and_seed() -> None:
    """`whctl deploy` then `whctl seed` on the session's stack (WH_* in os.environ); both idempotent."""
    for args in (("deploy",), ("seed", *SMALL)):
        result = run_whctl(*args)
        assert result.returncode == 0, f"whctl {args[0]} failed:\n{result.stderr}\n{result.stdout}"
