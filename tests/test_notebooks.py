"""Notebook templates: committed without outputs, a typed `parameters` cell that survives nbstripout, and every
template executes with papermill on a small table (allocation_report also runs in tests/test_report.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

from cyberbudget import config

TEMPLATES = sorted(config.TEMPLATES_DIR.glob("*.ipynb"))
EXPECTED_PARAMETERS = {
    "allocation_report": {"scenario_path": "str", "data_path": "str", "lang": "str",
                          "expected_allocated_cents": "int", "results_path": "str"},
    "scenario_comparison": {"scenario_paths": "list", "data_path": "str", "lang": "str"},
}


@pytest.fixture(scope="module")
def table_path(tmp_path_factory) -> Path:
    """A small synthetic table: 8 establishments per region (labelled synthetic by the generator)."""
    from cyberbudget.data.registry import synthesize, write_table

    df = synthesize().groupby("region", sort=True).head(8)
    return write_table(df, tmp_path_factory.mktemp("table") / "table.csv")


def test_report_templates_exist():
    assert set(EXPECTED_PARAMETERS) <= {p.stem for p in TEMPLATES}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_committed_templates_have_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], cell.source[:60]
            assert cell.execution_count is None, cell.source[:60]
    assert "papermill" not in nb.metadata


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_first_cell_is_the_typed_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].metadata.get("tags") == ["parameters"]
    inferred = papermill.inspect_notebook(str(path))  # what `papermill --help-notebook` shows
    assert inferred, "no parameter papermill can read"
    assert all(v["inferred_type_name"] != "None" and v["help"] for v in inferred.values()), inferred
    if path.stem in EXPECTED_PARAMETERS:
        assert {k: v["inferred_type_name"] for k, v in inferred.items()} == EXPECTED_PARAMETERS[path.stem]


@pytest.mark.parametrize("path", [p for p in TEMPLATES if p.stem in EXPECTED_PARAMETERS], ids=lambda p: p.stem)
def test_cells_are_thin_library_calls(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert len(cell.source.splitlines()) <= 12, cell.source[:60]
            assert "import pandas" not in cell.source and "plotly.graph_objects" not in cell.source


def test_gitattributes_strips_notebooks_with_nbstripout():
    text = (config.ROOT / ".gitattributes").read_text(encoding="utf-8")
    assert "*.ipynb filter=nbstripout" in text


def test_nbstripout_keeps_the_parameters_tag(tmp_path):
    nb = nbformat.read(TEMPLATES[0], as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="x\n")]
    nb.cells[0].execution_count = 3
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    exe = shutil.which("nbstripout", path=str(Path(sys.executable).parent)) or "nbstripout"
    subprocess.run([exe, str(path)], check=True)
    stripped = nbformat.read(path, as_version=4)
    assert stripped.cells[0].outputs == [] and stripped.cells[0].execution_count is None
    assert stripped.cells[0].metadata.get("tags") == ["parameters"]


def test_scenario_comparison_executes(tmp_path, table_path):
    out = tmp_path / "comparison.ipynb"
    scenarios = [str(config.SCENARIOS_DIR / "baseline.yaml"), str(config.SCENARIOS_DIR / "capped.yaml")]
    nb = papermill.execute_notebook(
        str(config.TEMPLATES_DIR / "scenario_comparison.ipynb"), str(out), kernel_name="python3",
        parameters={"scenario_paths": scenarios, "data_path": str(table_path), "lang": "fr"},
        progress_bar=False, cwd=str(tmp_path),
    )
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(html) == 5
    assert sum("plotly.js v" in h for h in html) == 1  # plotly.js embedded once, in the first figure
    assert "capped" in "".join(str(o.get("data", {})) for o in outputs)
