"""notebooks/SCD_Demo.ipynb runs end to end against the e2e stack (after deploy, seed and the demo).

nbclient executes every cell in a fresh kernel, which inherits the session's WH_* variables and so
reaches the same stack; any cell error fails the test (CellExecutionError).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_whctl
from tests.e2e.demo_data import deploy_and_seed

pytestmark = pytest.mark.e2e

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "SCD_Demo.ipynb"


def test_the_scd_notebook_runs_and_draws_its_charts(stack):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    deploy_and_seed()
    played = run_whctl("demo", "all", "--timeout", "180")
    assert played.returncode == 0, played.stderr + played.stdout

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    charts = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(charts) >= 2, f"expected at least two charts, got {len(charts)}"
    text = "".join(o.get("data", {}).get("text/plain", "") + o.get("text", "") for o in outputs)
    assert "120.00" in text, "the product's history shows the demo's price of 120"
