"""`cyberbudget run` and `cyberbudget verify` end to end (DESIGN.md, "Command line", "Confidentiality")."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from cyberbudget import config, reports
from cyberbudget.errors import InputError, OptionError, ReportError, ScenarioError
from cyberbudget.reports import handover, runner

BASELINE = config.SCENARIOS_DIR / "baseline.yaml"


@pytest.fixture(scope="module")
def table_path(tmp_path_factory) -> Path:
    """A small synthetic table: 8 establishments per region (labelled synthetic by the generator)."""
    from cyberbudget.data.registry import synthesize, write_table

    df = synthesize().groupby("region", sort=True).head(8)
    return write_table(df, tmp_path_factory.mktemp("table") / "table.csv")


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def folder(out, table_path) -> Path:
    """One real run (papermill kernel, HTML export) shared by the tests of this module (marked `slow`: end to
    end; `make test-fast` leaves them out)."""
    return reports.run(BASELINE, data=table_path, out=out)


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


# ---------------------------------------------------------------------------------------------- run


@pytest.mark.slow
def test_run_writes_every_file_and_leaves_no_temporary_folder(folder, out):
    assert folder == out / "baseline"
    names = {p.name for p in folder.iterdir()}
    assert names == {"allocation.csv", "summary.json", "report.ipynb", "report.html", "allocation.xlsx",
                     "manifest.json"}
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


@pytest.mark.slow
def test_allocation_csv_format(folder, table_path):
    raw = (folder / "allocation.csv").read_bytes()
    assert b"\r" not in raw
    text = raw.decode("utf-8")
    header = text.split("\n", 1)[0].split(",")
    assert header[:5] == ["finess", "eligible", "grant_cents", "grant_eur", "reason"]
    rows = _rows(folder / "allocation.csv")
    assert [r["finess"] for r in rows] == sorted(r["finess"] for r in rows)
    assert len(rows) == len(_rows(table_path))
    for r in rows:
        assert r["eligible"] in ("true", "false")
        assert re.fullmatch(r"\d+\.\d\d", r["grant_eur"])
        cents = int(r["grant_cents"])
        assert r["grant_eur"] == f"{cents // 100}.{cents % 100:02d}"
        if r["eligible"] == "false":
            assert cents == 0


@pytest.mark.slow
def test_summary_json_conserves_the_envelope_and_has_breakdowns(folder):
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    for key in ("envelope_cents", "allocated_cents", "unallocated_cents", "n_establishments", "n_eligible",
                "by_region", "by_status", "by_category"):
        assert key in summary
    assert summary["envelope_cents"] == 350_000_000_00
    assert summary["allocated_cents"] + summary["unallocated_cents"] == summary["envelope_cents"]
    assert summary["allocated_cents"] == sum(int(r["grant_cents"]) for r in _rows(folder / "allocation.csv"))


@pytest.mark.slow
def test_outputs_are_byte_deterministic(tmp_path, table_path, folder):
    computed = reports.compute(BASELINE, table_path)
    reports.write_outputs(computed, tmp_path, xlsx=False)
    for name in ("allocation.csv", "summary.json"):
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes(), name


@pytest.mark.slow
def test_notebook_was_really_executed_with_the_run_parameters(folder, table_path):
    nb = nbformat.read(folder / "report.ipynb", as_version=4)
    params = nb.metadata["papermill"]["parameters"]
    assert params["scenario_path"] == str(BASELINE.resolve())
    assert params["data_path"] == str(table_path.resolve())
    assert params["expected_allocated_cents"] == 350_000_000_00
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert ["parameters"] in tags and ["injected-parameters"] in tags
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    kinds = {o.output_type for c in code for o in c.outputs}
    assert "error" not in kinds
    plots = [o for c in code for o in c.outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(plots) >= 8


@pytest.mark.slow
def test_run_hands_its_results_to_the_notebook_through_a_private_file_it_removes(folder, out):
    nb = nbformat.read(folder / "report.ipynb", as_version=4)
    given = Path(nb.metadata["papermill"]["parameters"]["results_path"])
    # outside the report folder (and its parent), and gone once the run is over
    assert out not in given.parents and not given.exists() and not given.parent.exists()
    # the manifest records the run's inputs, not that throw-away path
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert "results_path" not in manifest["notebook_parameters"]


def test_results_file_round_trip_gives_the_same_figures(tmp_path, table_path):
    computed = reports.compute(BASELINE, table_path)
    pub = reports.publish(computed)
    ctx, pub2 = handover.load_results(handover.save_results(computed, pub, tmp_path / "r.pickle"))
    assert ctx.result.table.equals(computed.result.table)
    assert ctx.result.summary == computed.result.summary
    assert pub2.key == pub.key
    reports.check_expected(ctx, int(computed.result.table["grant_cents"].sum()))
    with pytest.raises(ReportError):
        reports.check_expected(ctx, int(computed.result.table["grant_cents"].sum()) + 1)


def test_the_notebook_context_fails_when_its_cents_differ_from_the_run(table_path):
    computed, pub = handover.notebook_context(BASELINE, table_path)  # a template run by hand: no check
    assert pub.key["allocated_cents"] == computed.allocated_cents
    handover.notebook_context(BASELINE, table_path, "", computed.allocated_cents)
    with pytest.raises(ReportError, match="allocated"):
        handover.notebook_context(BASELINE, table_path, "", computed.allocated_cents - 1)


def test_results_file_of_another_kind_is_refused(tmp_path):
    import pickle

    bad = tmp_path / "r.pickle"
    bad.write_bytes(pickle.dumps({"format": 99}))
    with pytest.raises(ReportError, match="format 1"):
        handover.load_results(bad)


@pytest.mark.slow
def test_html_is_self_contained_small_and_code_free(folder):
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert len(html.encode("utf-8")) < 10 * 1024 * 1024
    assert not re.search(r"<script[^>]+src=[\"']?(https?:)?//", html, re.I)
    assert not re.search(r"<link[^>]+href=[\"']?(https?:)?//", html, re.I)
    assert "require.min.js" not in html and "MathJax.js" not in html
    assert html.count("plotly.js v") == 1  # the bundle's banner: embedded exactly once
    assert html.count("Plotly.newPlot(") >= 8
    assert "notebook_context(" not in html  # code cells hidden
    assert "@media print" in html and '<html lang="fr">' in html
    assert re.search(r"<section [^>]*id=.synthese.", html)  # the synthèse, printed alone on page 1
    assert html.index("DONNÉES SYNTHÉTIQUES") < html.index("Synthèse</h2>")  # what the data is, first


@pytest.mark.slow
def test_html_has_no_establishment_level_figure_by_default(folder):
    html = (folder / "report.html").read_text(encoding="utf-8")
    rows = _rows(folder / "allocation.csv")
    for r in rows:
        assert r["finess"] not in html
        assert r["name"] not in html
    for r in rows:
        if int(r["grant_cents"]) > 0:
            assert r["grant_eur"] not in html
    assert "Diffusion restreinte" not in html


@pytest.mark.slow
def test_manifest_records_inputs_parameters_versions_and_timings(folder, table_path):
    from cyberbudget.reports.manifest import sha256_file

    man = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    roles = {e["role"]: e for e in man["inputs"]}
    assert roles["table"]["sha256"] == sha256_file(table_path)
    assert roles["scenario"]["sha256"] == sha256_file(BASELINE)
    assert roles["template"]["path"].endswith("allocation_report.ipynb")
    refs = {Path(e["path"]).name for e in man["inputs"] if e["role"] == "reference"}
    assert refs == {p.name for p in config.REFERENCE_DIR.glob("*.yaml")}
    assert man["seed"] == 20210218 and man["parameters"]["name"] == "baseline"
    assert {"numpy", "pandas", "papermill", "python"} <= set(man["packages"])
    assert {"papermill", "html", "xlsx", "allocate"} <= set(man["timings_s"])
    assert man["outputs"]["allocation.csv"] == sha256_file(folder / "allocation.csv")
    # what the data is, and the language of the report
    assert man["lang"] == "fr" and man["notebook_parameters"]["lang"] == "fr"
    assert man["data"]["nature"] == "synthetic" and man["data"]["table"] == table_path.name
    assert man["data"]["scenario"] == "baseline" and man["data"]["cyberbudget"] == man["packages"]["cyberbudget"]


@pytest.mark.slow
def test_rerun_replaces_the_folder_atomically(out, table_path, folder, monkeypatch):
    before = (folder / "allocation.csv").read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "execute_notebook", interrupted)
    with pytest.raises(KeyboardInterrupt):
        reports.run(BASELINE, data=table_path, out=out)
    # the previous report is untouched and no temporary folder is left behind
    assert (folder / "allocation.csv").read_bytes() == before
    assert (folder / "report.html").is_file()
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


# ---------------------------------------------------------------------------------------------- bad input


def test_bad_scenario_fails_before_anything_is_written(tmp_path, table_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nenvelope:\n  total_eur: -5\n", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(ScenarioError):
        reports.run(bad, data=table_path, out=out)
    assert not out.exists() or list(out.iterdir()) == []


def test_bad_table_fails_before_anything_is_written(tmp_path):
    table = tmp_path / "table.csv"
    table.write_text("finess,name\n12,x\n", encoding="utf-8")
    with pytest.raises(InputError):
        reports.run(BASELINE, data=table, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unknown_template_is_an_option_error(tmp_path, table_path):
    with pytest.raises(OptionError, match="allocation_report"):
        reports.run(BASELINE, data=table_path, out=tmp_path / "out", template="no_such_template")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_failed_notebook_is_kept_in_a_failed_folder(tmp_path, table_path):
    template = tmp_path / "broken.ipynb"
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('scenario_path: str = ""  # scenario')
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell("raise RuntimeError('boom in cell 2')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, template)
    out = tmp_path / "out"
    with pytest.raises(ReportError, match="boom in cell 2"):
        reports.run(BASELINE, data=table_path, out=out, template=template)
    assert not (out / "baseline").exists()
    kept = nbformat.read(out / "baseline.failed" / "report.ipynb", as_version=4)
    assert any(o.output_type == "error" for c in kept.cells for o in c.get("outputs", []))
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


# ---------------------------------------------------------------------------------------------- verify


def _copy(folder: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "baseline"
    shutil.copytree(folder, dst)
    return dst


@pytest.mark.slow
def test_verify_identical(folder):
    result = reports.verify(folder)
    assert result.ok, result.differences
    assert result.differences == [] and result.warnings == []


@pytest.mark.slow
def test_verify_catches_a_tampered_allocation_csv(folder, tmp_path):
    copy = _copy(folder, tmp_path)
    lines = (copy / "allocation.csv").read_text(encoding="utf-8").split("\n")
    fields = lines[3].split(",")
    fields[2] = str(int(fields[2]) + 1)  # one cent more to the third establishment
    lines[3] = ",".join(fields)
    (copy / "allocation.csv").write_text("\n".join(lines), encoding="utf-8")
    result = reports.verify(copy)
    assert not result.ok
    assert any("allocation.csv" in d and "line 4" in d for d in result.differences)


@pytest.mark.slow
def test_verify_names_the_differing_summary_key(folder, tmp_path):
    copy = _copy(folder, tmp_path)
    summary = json.loads((copy / "summary.json").read_text(encoding="utf-8"))
    summary["n_eligible"] += 1
    (copy / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    result = reports.verify(copy)
    assert not result.ok
    assert any("summary.json: n_eligible" in d for d in result.differences)


@pytest.mark.slow
def test_verify_warns_when_package_versions_differ(folder, tmp_path):
    copy = _copy(folder, tmp_path)
    man = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    man["packages"]["numpy"] = "0.0.1"
    (copy / "manifest.json").write_text(json.dumps(man), encoding="utf-8")
    result = reports.verify(copy)
    assert result.ok
    assert any("numpy" in w and "0.0.1" in w for w in result.warnings)


@pytest.mark.slow
def test_verify_reports_a_changed_input(folder, tmp_path):
    copy = _copy(folder, tmp_path)
    table = tmp_path / "table.csv"
    man = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    entry = next(e for e in man["inputs"] if e["role"] == "table")
    shutil.copy(entry["path"], table)
    with open(table, "a", encoding="utf-8") as fh:
        fh.write("")  # same bytes: still identical
    entry["path"], entry["relpath"] = str(table), None
    (copy / "manifest.json").write_text(json.dumps(man), encoding="utf-8")
    assert reports.verify(copy).ok
    lines = table.read_text(encoding="utf-8").split("\n")
    table.write_text("\n".join(lines[:-3] + lines[-1:]), encoding="utf-8")  # drop two establishments
    result = reports.verify(copy)
    assert not result.ok
    assert any(d.startswith("input changed since the run: table") for d in result.differences)


def test_verify_bad_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        reports.verify(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="manifest"):
        reports.verify(tmp_path / "empty")


@pytest.mark.slow
def test_verify_only_warns_when_the_template_changed(folder, tmp_path):
    copy = _copy(folder, tmp_path)
    man = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    entry = next(e for e in man["inputs"] if e["role"] == "template")
    entry["sha256"] = "0" * 64  # as if the template had been edited since the run
    (copy / "manifest.json").write_text(json.dumps(man), encoding="utf-8")
    result = reports.verify(copy)
    assert result.ok
    assert any(w.startswith("input changed since the run: template") for w in result.warnings)


@pytest.mark.slow
def test_report_shows_what_the_audit_envelope_buys(folder):
    html = (folder / "report.html").read_text(encoding="utf-8")
    for fragment in ("Audits financés", "Reste pour les audits", "Coût d'un audit (hypothèse)",
                     "Opérateurs de services essentiels audités"):
        assert fragment in html, fragment
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    audits = summary["audits"]
    assert audits["surveillance_cents"] + audits["audit_spend_cents"] + audits["unspent_cents"] == \
        audits["envelope_cents"]
    assert audits["n_audits"] * audits["unit_cost_cents"] == audits["audit_spend_cents"]


@pytest.mark.slow  # a LocalCluster, then a kernel whose notebook connects to it
def test_run_with_dask_simulates_on_the_cluster_and_writes_the_same_bytes(tmp_path, table_path, folder):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                                  dashboard_address=None) as cluster:
        done = reports.run(BASELINE, data=table_path, out=tmp_path, template="uncertainty",
                           dask=cluster.scheduler_address)
    nb = nbformat.read(done / "report.ipynb", as_version=4)
    assert nb.metadata["papermill"]["parameters"]["dask_address"] == cluster.scheduler_address
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert (done / "report.html").read_text(encoding="utf-8").count("Plotly.newPlot(") == 3
    for name in ("allocation.csv", "summary.json"):
        assert (done / name).read_bytes() == (folder / name).read_bytes()
    assert json.loads((done / "manifest.json").read_text(encoding="utf-8"))["dask"] == cluster.scheduler_address
