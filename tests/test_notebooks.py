"""Notebook templates: committed without outputs, a typed `parameters` cell that survives nbstripout, cells that
only call the library (no text of their own: headings come from the catalogue), and every template really executed
on a tiny table in French and in English — every word of the page in the language asked, the data's nature first —
including scenarios with a logistic uptake and with the `optimal` rule, which the simulation templates must report
as not available, not crash on.

The executions here share one warm kernel (reset before every notebook, as in batches) and use few draws;
`tests/test_cli.py` runs every template through `cyberbudget run --template NAME` in fresh kernels, on the baseline,
the logistic uptake and the `optimal` rule.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

from cyberbudget import config
from cyberbudget.reports.kernels import WarmKernel

TEMPLATES = sorted(config.TEMPLATES_DIR.glob("*.ipynb"))
RUNNABLE = [p for p in TEMPLATES if "comparison" not in p.stem]
COMMON = {"scenario_path": "str", "data_path": "str", "overrides_path": "str", "lang": "str"}
EXPECTED_PARAMETERS = {
    "allocation_report": {**COMMON, "expected_allocated_cents": "int", "results_path": "str"},
    "risk_report": {**COMMON, "expected_allocated_cents": "int", "results_path": "str"},
    "uncertainty": {**COMMON, "seed": "int", "dask_address": "str", "draws": "int"},
    "sensitivity": {**COMMON, "seed": "int", "sobol_n": "int", "tier_orders": "bool"},
    "scenario_comparison": {"scenario_paths": "list", "data_path": "str", "overrides_path": "str", "lang": "str"},
}
#: Figures each template draws when its analysis is available (plotly outputs in the executed notebook).
FIGURES = {"allocation_report": 11, "risk_report": 6, "uncertainty": 3, "sensitivity": 5}
#: Few draws: the tests check that the templates run and what they show, not the statistics.
SMALL = {"uncertainty": {"draws": 64}, "sensitivity": {"sobol_n": 8}}
#: Modules a template may import from.
ALLOWED_IMPORTS = ("cyberbudget", "IPython.display", "plotly.io")


@pytest.fixture(scope="module")
def tiny_table(tmp_path_factory) -> Path:
    """Two establishments per region (36 rows, labelled synthetic by the generator)."""
    from cyberbudget.data.registry import synthesize, write_table

    df = synthesize().groupby("region", sort=True).head(2)
    return write_table(df, tmp_path_factory.mktemp("table") / "tiny.csv")


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory) -> dict[str, Path]:
    """The baseline, the logistic uptake, and the baseline under the `optimal` rule."""
    folder = tmp_path_factory.mktemp("scenarios")
    optimal = folder / "optimal_rule.yaml"
    optimal.write_text(f"name: optimal_rule\nextends: {config.SCENARIOS_DIR / 'baseline.yaml'}\n"
                       "allocation:\n  rule: optimal\n", encoding="utf-8")
    return {"baseline": config.SCENARIOS_DIR / "baseline.yaml",
            "uptake_logistic": config.SCENARIOS_DIR / "uptake_logistic.yaml", "optimal": optimal}


@pytest.fixture(scope="module")
def kernel():
    with WarmKernel() as k:
        yield k


def outputs(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def figures(nb: nbformat.NotebookNode) -> int:
    return sum("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outputs(nb))


def shown_text(nb: nbformat.NotebookNode) -> str:
    return "\n".join(str(o.get("data", {}).get(kind, "")) for o in outputs(nb) for kind in ("text/markdown",
                                                                                             "text/html"))


# ------------------------------------------------------------------------------------------- committed form


def test_every_report_template_exists():
    assert set(EXPECTED_PARAMETERS) == {p.stem for p in TEMPLATES}


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
    assert all(v["inferred_type_name"] != "None" and v["help"] for v in inferred.values()), inferred
    assert {k: v["inferred_type_name"] for k, v in inferred.items()} == EXPECTED_PARAMETERS[path.stem]


def _thin_problems(source: str) -> list[str]:
    """What makes a cell more than calls into the library: control flow, functions, comparisons, arithmetic,
    conditional expressions, literal formatting, imports from elsewhere."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.For | ast.While | ast.If | ast.With | ast.Try | ast.FunctionDef | ast.Lambda
                      | ast.ClassDef | ast.ListComp | ast.DictComp | ast.SetComp | ast.GeneratorExp):
            problems.append(f"{type(node).__name__} at line {node.lineno}")
        elif isinstance(node, ast.Compare | ast.BoolOp | ast.IfExp | ast.BinOp | ast.JoinedStr | ast.Dict):
            problems.append(f"{type(node).__name__} (logic or formatting) at line {node.lineno}")
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            problems += [f"import {n}" for n in names if not n.startswith(ALLOWED_IMPORTS)]
        elif isinstance(node, ast.Attribute) and node.attr in ("to_html", "style", "format", "MIN_CELL_SIZE"):
            problems.append(f".{node.attr} at line {node.lineno} (formatting or disclosure rule in the notebook)")
    return problems


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_cells_only_call_the_library(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells[1:]:
        if cell.cell_type == "code":
            assert len(cell.source.splitlines()) <= 12, cell.source[:60]
            assert _thin_problems(cell.source) == [], cell.source


def test_the_thin_cell_check_catches_logic_in_a_cell():
    fat = ("counts = mc.establishments['category'].value_counts()\n"
           "shown = [c for c in mc.grants_by_category.columns if counts.get(c, 0) >= config.MIN_CELL_SIZE]\n"
           "display(res.pareto.style.format({'min_share': '{:.1%}'}))")
    problems = _thin_problems(fat)
    assert any("ListComp" in p for p in problems) and any("Compare" in p for p in problems)
    assert any(".style" in p for p in problems) and any("Dict" in p for p in problems)


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


# ------------------------------------------------------------------------------------------- execution


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_templates_have_no_text_of_their_own(path):
    """Every published word comes from the catalogue: no markdown cell, no string displayed as it is."""
    nb = nbformat.read(path, as_version=4)
    assert [c.cell_type for c in nb.cells if c.cell_type != "code"] == []
    for cell in nb.cells[1:]:
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("Markdown", "HTML"):
                assert not (node.args and isinstance(node.args[0], ast.Constant)), cell.source


_MARKUP_AS_TEXT = re.compile(r"&lt;/?(?:div|p|span|b|strong|em|i|a|section|table|tr|td|th|br|code|h[1-6])\b")


def _page(nb: nbformat.NotebookNode, folder: Path) -> str:
    """The exported page; the library's own markup is never shown as text (Markdown shows raw HTML as text, so
    library text with markup must be displayed as HTML)."""
    from cyberbudget.reports.html_export import export_html

    page = export_html(nb, folder / "report.html").read_text(encoding="utf-8")
    assert _MARKUP_AS_TEXT.findall(page) == []
    return page


@pytest.mark.slow  # one warm kernel for the module; `make test-fast` skips notebook executions
@pytest.mark.parametrize("path", RUNNABLE, ids=lambda p: p.stem)
def test_every_template_executes_on_a_tiny_table_with_few_draws(kernel, tiny_table, scenarios, tmp_path, path,
                                                                foreign_words):
    """In French (the default): no English word of the catalogue on the page or in a figure; synthetic data said
    first."""
    params = {"scenario_path": str(scenarios["baseline"]), "data_path": str(tiny_table), **SMALL.get(path.stem, {})}
    nb = kernel.execute(path, tmp_path / "out.ipynb", parameters=params, cwd=tmp_path)

    assert [o for o in outputs(nb) if o.output_type == "error"] == []
    assert nb.metadata.papermill.parameters == params
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")
    assert "Non disponible" not in shown_text(nb)
    assert figures(nb) == FIGURES[path.stem]
    page = _page(nb, tmp_path)
    assert foreign_words(page, nb, "fr") == []
    first = outputs(nb)[0]["data"]
    assert "DONNÉES SYNTHÉTIQUES" in str(first.get("text/html", first.get("text/markdown", "")))


@pytest.mark.slow
@pytest.mark.parametrize("path", RUNNABLE, ids=lambda p: p.stem)
def test_every_template_speaks_english_when_asked(kernel, tiny_table, scenarios, tmp_path, path, foreign_words):
    params = {"scenario_path": str(scenarios["baseline"]), "data_path": str(tiny_table), "lang": "en",
              **SMALL.get(path.stem, {})}
    nb = kernel.execute(path, tmp_path / "out.ipynb", parameters=params, cwd=tmp_path)
    assert [o for o in outputs(nb) if o.output_type == "error"] == []
    assert foreign_words(_page(nb, tmp_path), nb, "en") == []
    assert "SYNTHETIC DATA" in shown_text(nb)


@pytest.mark.slow
@pytest.mark.parametrize("template", ["uncertainty", "sensitivity"])
def test_simulation_templates_say_the_optimal_rule_is_not_available(kernel, tiny_table, scenarios, tmp_path,
                                                                    template):
    """The simulation path has no `optimal` rule: a clear section instead of figures, or a crash."""
    params = {"scenario_path": str(scenarios["optimal"]), "data_path": str(tiny_table), **SMALL[template]}
    nb = kernel.execute(config.TEMPLATES_DIR / f"{template}.ipynb", tmp_path / "out.ipynb", parameters=params,
                        cwd=tmp_path)
    assert [o for o in outputs(nb) if o.output_type == "error"] == []
    text = shown_text(nb)
    assert "Non disponible pour la règle <code>optimal</code>" in text
    _page(nb, tmp_path)
    assert "ne peut pas être calculée pour le scénario «\u00a0optimal_rule\u00a0» " in text  # then why
    assert "the Monte Carlo simulation supports" in text
    assert str(scenarios["optimal"]) not in text  # without local paths
    assert figures(nb) == 0


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_scenario_comparison_executes(kernel, tmp_path, tiny_table, scenarios, lang, foreign_words):
    params = {"scenario_paths": [str(scenarios["baseline"]), "capped"], "data_path": str(tiny_table), "lang": lang}
    nb = kernel.execute(config.TEMPLATES_DIR / "scenario_comparison.ipynb", tmp_path / "out.ipynb",
                        parameters=params, cwd=tmp_path)
    assert not [o for o in outputs(nb) if o.output_type == "error"]
    assert foreign_words(_page(nb, tmp_path), nb, lang) == []
    assert ("DONNÉES SYNTHÉTIQUES" if lang == "fr" else "SYNTHETIC DATA") in shown_text(nb)
    html = [o["data"]["text/html"] for o in outputs(nb) if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(html) == 5
    assert sum("plotly.js v" in h for h in html) == 1  # plotly.js embedded once, in the first figure
    assert "capped" in shown_text(nb) and "allocation.cap_eur" in shown_text(nb)


@pytest.mark.slow
def test_a_template_run_by_hand_finds_a_relative_scenario_from_the_project_root(kernel, tmp_path, tiny_table):
    """`papermill TEMPLATE out.ipynb -p scenario_path scenarios/baseline.yaml` from the project root, while the
    kernel runs elsewhere: the path resolves from the project root."""
    params = {"scenario_path": "scenarios/capped.yaml", "data_path": str(tiny_table)}
    nb = kernel.execute(config.TEMPLATES_DIR / "allocation_report.ipynb", tmp_path / "out.ipynb",
                        parameters=params, cwd=tmp_path)
    assert not [o for o in outputs(nb) if o.output_type == "error"]
    assert "scénario «\u00a0capped\u00a0»" in shown_text(nb)
