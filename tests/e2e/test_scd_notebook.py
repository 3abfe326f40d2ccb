"""notebooks/SCD_Demo.ipynb runs end to end against the e2e stack (after deploy, seed and the demo).

nbclient executes every cell in a fresh kernel, which inherits the session's WH_* variables and so
reaches the same stack; any cell error fails the test (CellExecutionError).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_whctl
from tests.e2e.demo_data import deploy_and_seed

pytestmark = pytest.mark.e2e

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "SCD_Demo.ipynb"

# Appended to the notebook here: renders the price chart (axes `left`, colours `colors` by version)
# again and counts, per version, the pixels of its colour inside the axes but outside the legend.
# A version drawn only as a line as long as it lasted (seconds, on a months-long axis) has none.
COUNT_VERSION_PIXELS = '''
import json
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
canvas = FigureCanvasAgg(left.figure)
canvas.draw()
pixels = np.asarray(canvas.buffer_rgba())[:, :, :3].astype(int)
def region(bbox):
    mask = np.zeros(pixels.shape[:2], bool)
    top = pixels.shape[0]
    mask[max(0, int(top - bbox.y1)):int(top - bbox.y0), max(0, int(bbox.x0)):int(bbox.x1)] = True
    return mask
inside = region(left.get_window_extent()) & ~region(left.get_legend().get_window_extent())
drawn = {int(v): int((inside & (np.abs(pixels - np.array(colors[v][:3]) * 255).max(axis=2) <= 2)).sum())
         for v in product_versions.version}
print("PIXELS_PER_VERSION", json.dumps(drawn))
'''


def test_the_scd_notebook_runs_and_draws_its_charts(stack):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    deploy_and_seed()
    played = run_whctl("demo", "all", "--timeout", "180")
    assert played.returncode == 0, played.stderr + played.stdout

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(COUNT_VERSION_PIXELS))
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    charts = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(charts) >= 2, f"expected at least two charts, got {len(charts)}"
    text = "".join(o.get("data", {}).get("text/plain", "") + o.get("text", "") for o in outputs)
    assert "120.00" in text, "the product's history shows the demo's price of 120"
    counted = "".join(o.get("text", "") for o in nb.cells[-1].outputs)       # the appended cell's print
    pixels = json.loads(counted.split("PIXELS_PER_VERSION ", 1)[1])
    assert len(pixels) >= 2 and all(n >= 20 for n in pixels.values()), f"a version of the price chart is invisible: {pixels}"
