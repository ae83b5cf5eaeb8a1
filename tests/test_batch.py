"""`cyberbudget batch` end to end: every scenario runs, failures are recorded, Ctrl-C, --resume and --dask."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from cyberbudget import config
from cyberbudget.reports.batch import EXIT_INTERRUPTED, read_batch_json, run_batch

pytestmark = pytest.mark.slow  # every test runs notebooks in kernels

# A tiny template: the parameters `runner.run` injects, one cell that prints, one that fails for scenarios whose
# file name contains "boom" (index 3 once papermill has inserted the injected-parameters cell after cell 0).
PARAMETERS = (
    'scenario_path: str = ""  # scenario file\n'
    'data_path: str = ""  # establishment table\n'
    'lang: str = "en"  # number format\n'
    "expected_allocated_cents: int = -1  # cents allocated in-process"
)


def tiny_template(folder: Path) -> Path:
    nb = new_notebook()
    params = new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        new_code_cell("print('allocated', expected_allocated_cents)"),
        new_code_cell("if 'boom' in scenario_path:\n    raise RuntimeError('failed mid-way on purpose')"),
        new_code_cell("print('done')"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "tiny.ipynb"
    nbformat.write(nb, str(path))
    return path


def scenario(folder: Path, name: str, envelope: int = 1_000_000, file: str | None = None, **extra: str) -> Path:
    lines = [f"name: {name}", "envelope:", f"  total_eur: {envelope}"]
    lines += [f"{k}: {v}" for k, v in extra.items()]
    path = folder / (file or f"{name}.yaml")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    """The first 300 establishments of the committed synthetic table (synthetic data, not real FINESS)."""
    lines = config.DEFAULT_TABLE.read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path_factory.mktemp("data") / "small.csv"
    path.write_text("".join(lines[:301]), encoding="utf-8")
    return path


def hidden_leftovers(out: Path) -> list[str]:
    """Temporary folders or files a clean batch must not leave behind."""
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


def assert_complete(folder: Path) -> None:
    for name in ("allocation.csv", "summary.json", "allocation.xlsx", "report.ipynb", "report.html", "manifest.json"):
        assert (folder / name).is_file(), f"{folder.name}/{name} missing"


# ----------------------------------------------------------------------------------------------------------------
# The real template: a broken scenario file among good ones, then --resume
# ----------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_batch(tmp_path_factory, table):
    src = tmp_path_factory.mktemp("scenarios")
    paths = [
        scenario(src, "alpha", 2_000_000),
        scenario(src, "broken", 1_000_000, unknown_key="1"),
        scenario(src, "beta", 3_000_000),
    ]
    out = tmp_path_factory.mktemp("reports")
    events: list[tuple[str, str | None, dict]] = []
    result = run_batch(paths, data=table, out=out, jobs=1, on_event=lambda k, n, i: events.append((k, n, dict(i))))
    return src, out, paths, result, events


def test_a_bad_scenario_file_fails_alone_and_the_others_finish(real_batch):
    src, out, paths, result, _ = real_batch

    assert [(o.name, o.status) for o in result.outcomes] == [("alpha", "ok"), ("broken", "failed"), ("beta", "ok")]
    assert result.exit_code == 1
    assert (result.n_ok, result.n_failed, result.n_skipped, result.n_interrupted) == (2, 1, 0, 0)
    broken = result.outcomes[1]
    assert "unknown_key" in broken.error["message"] and "broken.yaml" in broken.error["message"]
    assert broken.error["type"] == "ScenarioError"
    assert_complete(out / "alpha")
    assert_complete(out / "beta")
    assert not (out / "broken").exists()
    assert hidden_leftovers(out) == []


def test_batch_json_records_every_outcome_and_duration(real_batch):
    _, out, paths, result, _ = real_batch
    record = read_batch_json(out)
    assert record["counts"] == {"ok": 2, "failed": 1, "skipped": 0, "interrupted": 0}
    assert record["exit_code"] == 1
    assert [s["scenario"] for s in record["scenarios"]] == [str(p) for p in paths]
    assert [s["status"] for s in record["scenarios"]] == ["ok", "failed", "ok"]
    assert all(s["duration_s"] > 0 for s in record["scenarios"] if s["status"] == "ok")


def test_events_give_progress_for_a_progress_bar(real_batch):
    *_, events = real_batch
    kinds = [k for k, _, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "end"
    per_scenario = [(k, n) for k, n, _ in events if k not in ("start", "end")]
    assert sorted(per_scenario) == [("failed", "broken"), ("ok", "alpha"), ("ok", "beta")]
    last = events[-1][2]
    assert (last["total"], last["done"], last["remaining"], last["ok"], last["failed"]) == (3, 3, 0, 2, 1)
    assert all({"elapsed_s", "eta_s"} <= set(info) for _, _, info in events)


def test_the_index_links_every_report_is_self_contained_and_aggregated(real_batch, table):
    _, out, _, _, _ = real_batch
    page = (out / "index.html").read_text(encoding="utf-8")

    assert "href='alpha/report.html'" in page and "href='beta/report.html'" in page
    assert "broken" in page and "unknown_key" in page
    assert "Par région" in page and "Par statut" in page and "Par GHT" in page  # French by default
    # nothing fetched from the network: inline script only, no src or external link
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert "href='comparison.csv'" in page and "href='comparison.xlsx'" in page
    # no establishment-level figure: no FINESS number and no establishment name appears
    rows = table.read_text(encoding="utf-8").splitlines()[1:]
    assert not any(r.split(",")[0] in page or r.split(",")[1] in page for r in rows)


def test_the_results_store_matches_the_reports_to_the_cent(real_batch):
    _, out, _, result, _ = real_batch
    results = pd.read_parquet(out / "results.parquet")
    assert results["scenario"].drop_duplicates().tolist() == ["alpha", "beta"]  # broken failed: no rows
    for name in ("alpha", "beta"):
        csv = pd.read_csv(out / name / "allocation.csv", dtype={"finess": str})
        mine = results[results["scenario"] == name]
        assert mine["finess"].tolist() == csv["finess"].tolist()
        assert mine["grant_cents"].tolist() == csv["grant_cents"].tolist()
        summary = json.loads((out / name / "summary.json").read_text(encoding="utf-8"))
        national = pd.read_parquet(out / "summary.parquet").query("scenario == @name and group == ''")
        assert national.set_index("indicator").loc["allocated_cents", "value"] == summary["allocated_cents"]
    assert sorted(result.store) == ["results.csv", "results.parquet", "summary.csv", "summary.parquet"]


def test_resume_skips_reports_whose_manifest_matches_their_inputs(real_batch, table):
    src, out, paths, first, _ = real_batch
    stamp = (out / "alpha" / "report.html").stat().st_mtime_ns
    scenario(src, "beta", 4_000_000)  # beta's input changed: it must run again

    result = run_batch(paths, data=table, out=out, jobs=1, resume=True)

    assert [(o.name, o.status) for o in result.outcomes] == [("alpha", "skipped"), ("broken", "failed"),
                                                              ("beta", "ok")]
    assert (out / "alpha" / "report.html").stat().st_mtime_ns == stamp

    results = pd.read_parquet(out / "results.parquet")  # complete: the skipped scenario's rows are kept
    assert results["scenario"].drop_duplicates().tolist() == ["alpha", "beta"]
    assert int(results.loc[results["scenario"] == "beta", "grant_cents"].sum()) == 400_000_000
    summary = json.loads((out / "beta" / "summary.json").read_text(encoding="utf-8"))
    assert summary["envelope_cents"] == 400_000_000
    assert read_batch_json(out)["counts"]["skipped"] == 1


# ----------------------------------------------------------------------------------------------------------------
# A tiny template: a notebook failing mid-way (with --jobs 2), Ctrl-C, --dask
# ----------------------------------------------------------------------------------------------------------------


# --jobs 2: two worker processes, each starting a kernel
def test_a_notebook_failing_mid_way_is_kept_and_the_others_finish(tmp_path, table):
    template = tiny_template(tmp_path)
    paths = [scenario(tmp_path, "fine", file="fine.yaml"), scenario(tmp_path, "exploding", file="boom.yaml"),
             scenario(tmp_path, "fine2", file="fine2.yaml")]
    out = tmp_path / "out"

    result = run_batch(paths, data=table, out=out, jobs=2, template=str(template))

    assert [(o.name, o.status) for o in result.outcomes] == [("fine", "ok"), ("exploding", "failed"),
                                                              ("fine2", "ok")]
    assert result.exit_code == 1
    error = result.outcomes[1].error
    assert (error["cell_index"], error["ename"]) == (3, "RuntimeError")
    assert "failed mid-way on purpose" in error["evalue"]
    kept = nbformat.read(str(out / "exploding.failed" / "report.ipynb"), as_version=4)
    by_source = {c.source.split("\n")[0]: c for c in kept.cells if c.cell_type == "code"}
    # the cells before the failure really ran, the failing one holds its error, the next never ran
    assert by_source["print('allocated', expected_allocated_cents)"].outputs[0]["text"].startswith("allocated ")
    assert by_source["if 'boom' in scenario_path:"].outputs[-1]["ename"] == "RuntimeError"
    assert by_source["print('done')"].outputs == []
    assert result.outcomes[1].output == "exploding.failed"
    assert not (out / "exploding").exists()
    assert_complete(out / "fine")
    assert_complete(out / "fine2")
    assert hidden_leftovers(out) == []
    assert "href='exploding.failed/report.ipynb'" in (out / "index.html").read_text(encoding="utf-8")


def test_ctrl_c_stops_cleanly_finished_reports_stay_and_no_half_report_remains(tmp_path, table):
    template = tiny_template(tmp_path)
    paths = [scenario(tmp_path, f"s{i}") for i in range(4)]
    out = tmp_path / "out"

    def on_event(kind, name, info):
        if kind == "ok":
            raise KeyboardInterrupt  # the user presses Ctrl-C as soon as the first report is done

    result = run_batch(paths, data=table, out=out, jobs=1, template=str(template), on_event=on_event)

    assert result.interrupted and result.exit_code == EXIT_INTERRUPTED
    statuses = [o.status for o in result.outcomes]
    assert statuses[0] == "ok"
    assert statuses[-1] == "interrupted"  # never started
    assert set(statuses[1:]) <= {"ok", "interrupted"}  # one may have finished while we stopped
    for o in result.outcomes:
        if o.status == "ok":
            assert_complete(out / o.name)
        else:
            assert not (out / o.name).exists() and not (out / f"{o.name}.failed").exists()
    assert hidden_leftovers(out) == []
    record = read_batch_json(out)
    assert record["interrupted"] is True
    assert [s["status"] for s in record["scenarios"]] == statuses


# starts a LocalCluster and a kernel in its worker
def test_dask_cluster_gives_the_same_bytes_as_a_local_run(tmp_path, table):
    distributed = pytest.importorskip("distributed")
    template = tiny_template(tmp_path)
    paths = [scenario(tmp_path, "alpha", 2_000_000), scenario(tmp_path, "gamma", 5_000_000)]
    local = run_batch(paths, data=table, out=tmp_path / "local", jobs=1, template=str(template))
    assert local.ok

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = run_batch(paths, data=table, out=tmp_path / "dask", dask=cluster.scheduler_address,
                           template=str(template))

    assert [(o.name, o.status) for o in remote.outcomes] == [("alpha", "ok"), ("gamma", "ok")]
    for name in ("alpha", "gamma"):
        for file in ("allocation.csv", "summary.json"):
            assert (tmp_path / "dask" / name / file).read_bytes() == (tmp_path / "local" / name / file).read_bytes()
        assert_complete(tmp_path / "dask" / name)
    assert read_batch_json(tmp_path / "dask")["dask"] == cluster.scheduler_address
    assert hidden_leftovers(tmp_path / "dask") == []


def test_duplicate_scenario_names_fail_the_later_file(tmp_path, table):
    template = tiny_template(tmp_path)
    paths = [scenario(tmp_path, "same", file="one.yaml"), scenario(tmp_path, "same", file="two.yaml")]
    result = run_batch(paths, data=table, out=tmp_path / "out", template=str(template))
    assert [o.status for o in result.outcomes] == ["ok", "failed"]
    assert "already used by" in result.outcomes[1].error["message"]
