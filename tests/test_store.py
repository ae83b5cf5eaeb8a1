"""The batch's results store (``results.parquet``, ``summary.parquet`` and their CSV twins), ``load_batch``, the
comparison page's aggregated downloads, and the DuckDB query of the README.

These batches run each scenario with :func:`quick_runner` — the report's deterministic files (``allocation.csv``,
``summary.json``, ``manifest.json``) written exactly as ``cyberbudget run`` writes them, without the notebook — so
that they need no kernel; ``tests/test_batch.py`` checks the store of batches run with the real template.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import LOCAL_URLS, guard_page

from cyberbudget import config
from cyberbudget.compare import BatchTables, load_batch
from cyberbudget.data.registry import load_establishments, write_table
from cyberbudget.errors import InputError
from cyberbudget.policy.allocation import allocate
from cyberbudget.policy.scenario import load_scenario
from cyberbudget.reports import disclosure, manifest
from cyberbudget.reports.batch import Outcome, run_batch
from cyberbudget.reports.batch_index import build_comparison, render_index
from cyberbudget.reports.computed import compute_from
from cyberbudget.reports.folders import atomic_folder
from cyberbudget.reports.inputs import load_inputs, resolve_template
from cyberbudget.reports.outputs import write_outputs
from cyberbudget.reports.store import RESULTS_COLUMNS, SUMMARY_COLUMNS, ScenarioReport, flatten_summary
from cyberbudget.risk import assess

STORE_FILES = ("results.parquet", "summary.parquet", "results.csv", "summary.csv")
PUBLISHED = ("index.html", "comparison.csv", "comparison.xlsx")


def quick_runner(scenario_path, data, out, template) -> Path:
    """``runner.run`` without the notebook: allocation.csv, summary.json and a full manifest, atomically."""
    inputs = load_inputs(scenario_path, data)
    computed = compute_from(inputs)
    name = inputs.scenario.name
    tpl = resolve_template(template)
    with atomic_folder(Path(out) / name) as tmp:
        paths = write_outputs(computed, tmp, xlsx=False)
        entries = manifest.input_entries(table=inputs.data_path, scenario=inputs.scenario_path, template=tpl,
                                         extends=inputs.scenario.extends_chain)
        man = manifest.build_manifest(name=name, inputs=entries, parameters=inputs.scenario.to_dict(),
                                      seed=inputs.scenario.seed, notebook_parameters={}, outputs=paths,
                                      timings={}, template=tpl.stem)
        manifest.write_manifest(tmp / manifest.MANIFEST_NAME, man)
    return Path(out) / name


def scenario(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\n{body}", encoding="utf-8")
    return path


HOSTILE_GHT = "<img src=x onerror=alert(1)> & Co"
HOSTILE_DESCRIPTION = "</script><script>alert('x')</script> & \"quoted\""


@pytest.fixture(scope="module")
def table_path(tmp_path_factory) -> Path:
    """The committed table's first 600 rows, with a GHT name that is HTML (escaped everywhere it shows)."""
    table = load_establishments().head(600).copy()
    table["ght_name"] = [f"{HOSTILE_GHT} {g}" if g else "" for g in table["ght"]]
    return write_table(table, tmp_path_factory.mktemp("data") / "table.csv")


@pytest.fixture(scope="module")
def scenario_files(tmp_path_factory) -> list[Path]:
    src = tmp_path_factory.mktemp("scenarios")
    return [
        scenario(src, "alpha", f"description: {json.dumps(HOSTILE_DESCRIPTION)}\nenvelope:\n  total_eur: 2000000\n"),
        scenario(src, "broken", "envelope:\n  total_eur: -1\n"),
        scenario(src, "beta", "envelope:\n  total_eur: 3000000.55\nallocation:\n  rule: gap\n"
                              "uptake:\n  model: full\n"),
        scenario(src, "gamma", "envelope:\n  total_eur: 1500000\neligibility:\n  statuses: [public]\n"
                               "allocation:\n  cap_eur: 40000\n"),
    ]


def batch(out: Path, paths, table_path, **kw):
    return run_batch(paths, data=table_path, out=out, jobs=1, runner=quick_runner, **kw)


@pytest.fixture(scope="module")
def done(tmp_path_factory, scenario_files, table_path):
    out = tmp_path_factory.mktemp("batch")
    result = batch(out, scenario_files, table_path)
    return out, result


def _allocation(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "allocation.csv", dtype=str, keep_default_na=False)


# --------------------------------------------------------------------------------------------------------------
# results.parquet and summary.parquet
# --------------------------------------------------------------------------------------------------------------


def test_a_failed_scenario_has_no_rows_and_the_others_are_all_written(done):
    out, result = done
    assert [(o.name, o.status) for o in result.outcomes] == [("alpha", "ok"), ("broken", "failed"),
                                                              ("beta", "ok"), ("gamma", "ok")]
    assert result.exit_code == 1
    for name in STORE_FILES + PUBLISHED + ("batch.json",):
        assert (out / name).is_file(), name
    assert sorted(result.store) == sorted(STORE_FILES)
    results = pd.read_parquet(out / "results.parquet")
    assert list(results.columns) == list(RESULTS_COLUMNS)
    assert results["scenario"].drop_duplicates().tolist() == ["alpha", "beta", "gamma"]
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_results_match_every_allocation_csv_to_the_cent(done):
    out, _ = done
    results = pd.read_parquet(out / "results.parquet")
    assert results["grant_cents"].dtype == np.int64 and results["eligible"].dtype == bool
    for name in ("alpha", "beta", "gamma"):
        csv = _allocation(out / name)
        mine = results[results["scenario"] == name].reset_index(drop=True)
        assert mine["finess"].tolist() == csv["finess"].tolist()  # every establishment, by finess
        assert mine["grant_cents"].tolist() == csv["grant_cents"].astype("int64").tolist()
        assert mine["eligible"].tolist() == csv["eligible"].eq("true").tolist()
        assert mine["reason"].tolist() == csv["reason"].tolist()
        for col in ("region", "status", "category", "ght"):
            assert mine[col].tolist() == csv[col].tolist()
        expected_unit = csv["unit"] if "unit" in csv.columns else csv["finess"]
        assert mine["unit"].tolist() == expected_unit.tolist()
        shares = pd.to_numeric(csv["cyber_share"].replace("", "nan"))
        assert np.array_equal(mine["cyber_share"].to_numpy(), shares.to_numpy(), equal_nan=True)
        summary = json.loads((out / name / "summary.json").read_text(encoding="utf-8"))
        assert int(mine["grant_cents"].sum()) == summary["allocated_cents"]
    # beta's envelope has cents: they are all there
    assert int(results.loc[results["scenario"] == "beta", "grant_cents"].sum()) <= 300_000_055
    assert json.loads((out / "beta" / "summary.json").read_text())["envelope_cents"] == 300_000_055


def _leaf(summary: dict, group: str, key: str, indicator: str):
    if group == "year":
        return summary["year_totals_cents"][key]
    node = summary
    if group:
        *section, by = group.split(".")
        for part in section:
            node = node[part]
        node = node[f"by_{by}"][key]
    for part in indicator.split("."):
        node = node[part]
    return node


def test_summary_holds_every_number_of_every_summary_json(done):
    out, _ = done
    summary = pd.read_parquet(out / "summary.parquet")
    assert list(summary.columns) == list(SUMMARY_COLUMNS) and summary["value"].dtype == np.float64
    for name in ("alpha", "beta", "gamma"):
        recorded = json.loads((out / name / "summary.json").read_text(encoding="utf-8"))
        mine = summary[(summary["scenario"] == name) & ~summary["indicator"].str.startswith("risk.")
                       & ~summary["group"].str.startswith("risk.")]
        for row in mine.itertuples(index=False):
            assert float(_leaf(recorded, row.group, row.key, row.indicator)) == row.value, row
        assert len(mine) == len(flatten_summary(recorded))
        national = mine[mine["group"] == ""].set_index("indicator")["value"]
        for key in ("envelope_cents", "allocated_cents", "unallocated_cents", "n_establishments", "n_eligible"):
            assert national[key] == recorded[key]  # exact: cents are whole numbers in float64
        by_region = mine[(mine["group"] == "region") & (mine["indicator"] == "grant_cents")]
        assert by_region.set_index("key")["value"].to_dict() == {
            k: float(v["grant_cents"]) for k, v in recorded["by_region"].items()}


def test_summary_adds_the_risk_models_avoided_loss(done, table_path):
    out, _ = done
    summary = pd.read_parquet(out / "summary.parquet")
    table = load_establishments(table_path)
    for name in ("alpha", "gamma"):
        scen = load_scenario(json.loads((out / name / "manifest.json").read_text())["parameters"])
        risk = assess(allocate(table, scen)).summary
        mine = summary[(summary["scenario"] == name) & (summary["group"] == "")].set_index("indicator")["value"]
        assert mine["risk.avoided_eur"] == risk["avoided_eur"] > 0
        assert mine["risk.expected_loss_before_eur"] == risk["expected_loss_before_eur"]
        by_status = summary[(summary["scenario"] == name) & (summary["group"] == "risk.status")
                            & (summary["indicator"] == "avoided_eur")]
        assert by_status["value"].sum() == pytest.approx(risk["avoided_eur"])


def test_csv_twins_hold_the_same_rows(done):
    out, _ = done
    for stem in ("results", "summary"):
        frame = pd.read_parquet(out / f"{stem}.parquet")
        raw = (out / f"{stem}.csv").read_bytes()
        assert b"\r" not in raw and raw.decode("utf-8")
        csv = pd.read_csv(out / f"{stem}.csv", dtype=str, keep_default_na=False)
        assert list(csv.columns) == list(frame.columns) and len(csv) == len(frame)
        if stem == "results":
            assert csv["grant_cents"].astype("int64").tolist() == frame["grant_cents"].tolist()
            assert set(csv["eligible"]) <= {"true", "false"}
            assert csv["finess"].tolist() == frame["finess"].tolist()  # leading zeros kept
        else:
            assert np.array_equal(pd.to_numeric(csv["value"]).to_numpy(), frame["value"].to_numpy())
            whole = csv.loc[csv["indicator"] == "allocated_cents", "value"]
            assert all(re.fullmatch(r"\d+", v) for v in whole)  # cents without ".0"


def test_same_inputs_give_the_same_bytes(tmp_path, scenario_files, table_path, done):
    first, _ = done
    batch(tmp_path, scenario_files, table_path)
    for name in STORE_FILES + ("comparison.csv", "comparison.xlsx"):
        assert (tmp_path / name).read_bytes() == (first / name).read_bytes(), name


def test_resume_keeps_the_store_complete(tmp_path, scenario_files, table_path):
    src = tmp_path / "src"
    src.mkdir()
    paths = [scenario(src, p.stem, p.read_text(encoding="utf-8").split("\n", 1)[1]) for p in scenario_files]
    out = tmp_path / "out"
    batch(out, paths, table_path)
    before = pd.read_parquet(out / "results.parquet")
    scenario(src, "gamma", "envelope:\n  total_eur: 1700000\neligibility:\n  statuses: [public]\n")

    result = batch(out, paths, table_path, resume=True)

    assert [(o.name, o.status) for o in result.outcomes] == [("alpha", "skipped"), ("broken", "failed"),
                                                              ("beta", "skipped"), ("gamma", "ok")]
    after = pd.read_parquet(out / "results.parquet")
    assert after["scenario"].drop_duplicates().tolist() == ["alpha", "beta", "gamma"]
    for name in ("alpha", "beta"):  # the skipped scenarios' rows come from their report folders
        pd.testing.assert_frame_equal(after[after["scenario"] == name].reset_index(drop=True),
                                      before[before["scenario"] == name].reset_index(drop=True))
    gamma = after[after["scenario"] == "gamma"]
    assert int(gamma["grant_cents"].sum()) == 170_000_000
    summary = pd.read_parquet(out / "summary.parquet")
    assert set(summary["scenario"]) == {"alpha", "beta", "gamma"}


def test_a_batch_where_everything_failed_still_writes_an_empty_store(tmp_path, scenario_files, table_path):
    (tmp_path / "comparison.csv").write_text("stale", encoding="utf-8")  # from an earlier batch in this folder
    result = batch(tmp_path, [scenario_files[1]], table_path)
    assert result.exit_code == 1
    results = pd.read_parquet(tmp_path / "results.parquet")
    assert list(results.columns) == list(RESULTS_COLUMNS) and results.empty
    assert pd.read_parquet(tmp_path / "summary.parquet").empty
    assert not (tmp_path / "comparison.csv").exists()  # no stale comparison linked from the page
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "Aucun rapport terminé à comparer." in page and "comparison.csv" not in page


def test_a_bad_language_is_refused_before_anything_is_written(tmp_path, scenario_files):
    import subprocess
    import sys

    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "cyberbudget.cli", "batch", str(scenario_files[0]), "--out",
                           str(out), "--lang", "de"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "--lang" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


# --------------------------------------------------------------------------------------------------------------
# load_batch
# --------------------------------------------------------------------------------------------------------------


def test_load_batch_returns_the_tidy_tables(done):
    out, _ = done
    tables = load_batch(out)
    assert isinstance(tables, BatchTables)
    pd.testing.assert_frame_equal(tables.results, pd.read_parquet(out / "results.parquet"))
    assert tables.outcomes[["name", "status"]].values.tolist() == [
        ["alpha", "ok"], ["broken", "failed"], ["beta", "ok"], ["gamma", "ok"]]
    assert "total_eur" in tables.outcomes.loc[1, "error"]
    allocated = tables.indicator("allocated_cents").set_index("scenario")["value"]
    assert allocated.to_dict() == tables.results.groupby("scenario")["grant_cents"].sum().astype(float).to_dict()
    assert tables.record["counts"]["failed"] == 1


def test_load_batch_refuses_what_is_not_a_batch_folder(done, tmp_path):
    out, _ = done
    with pytest.raises(InputError, match=r"not a folder"):
        load_batch(tmp_path / "nothing")
    with pytest.raises(InputError, match=r"batch\.json: not found"):
        load_batch(tmp_path)
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "batch.json").write_bytes((out / "batch.json").read_bytes())
    with pytest.raises(InputError, match=r"results\.parquet: not found"):
        load_batch(copy)
    (copy / "results.parquet").write_bytes(b"not parquet at all")
    (copy / "summary.parquet").write_bytes((out / "summary.parquet").read_bytes())
    with pytest.raises(InputError, match=r"results\.parquet: cannot read it as Parquet"):
        load_batch(copy)
    pd.read_parquet(out / "results.parquet").drop(columns=["unit"]).to_parquet(copy / "results.parquet")
    with pytest.raises(InputError, match=r"results\.parquet: column unit: missing"):
        load_batch(copy)
    (copy / "batch.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputError, match=r"batch\.json: expected a JSON object"):
        load_batch(copy)


# --------------------------------------------------------------------------------------------------------------
# The published comparison: aggregated, escaped, in French by default
# --------------------------------------------------------------------------------------------------------------


def test_the_downloads_are_aggregated_and_french(done, table_path):
    out, _ = done
    csv = pd.read_csv(out / "comparison.csv", dtype=str, keep_default_na=False)
    assert csv.columns[:4].tolist() == ["scénario", "ventilation", "code", "libellé"]
    assert set(csv["ventilation"]) == {"France entière", "région", "statut", "catégorie", "GHT"}
    national = csv[csv["ventilation"] == "France entière"].set_index("scénario")
    for name in ("alpha", "beta", "gamma"):
        summary = json.loads((out / name / "summary.json").read_text(encoding="utf-8"))
        assert int(national.loc[name, "subventions (centimes)"]) == summary["allocated_cents"]
        regions = csv[(csv["scénario"] == name) & (csv["ventilation"] == "région") & (csv["code"] != "Total")]
        shown = regions[regions["secret statistique"] == ""]
        hidden = regions[regions["secret statistique"] != ""]
        assert (hidden["subventions (centimes)"] == "").all()
        assert (shown["établissements"].astype(int) >= config.MIN_CELL_SIZE).all()
        assert len(hidden) != 1  # secondary suppression: never one hidden cell a total would reveal
        total = csv[(csv["scénario"] == name) & (csv["ventilation"] == "région") & (csv["code"] == "Total")]
        assert int(total["subventions (centimes)"].iloc[0]) == summary["allocated_cents"]
    finess = set(pd.read_csv(table_path, dtype=str)["finess"])
    text = (out / "comparison.csv").read_text(encoding="utf-8")
    assert not any(f in text for f in finess)  # no establishment appears
    from openpyxl import load_workbook

    wb = load_workbook(out / "comparison.xlsx")
    assert wb.sheetnames == ["scenarios", "by_region", "by_status", "by_category", "by_ght", "comparison"]
    cells = [str(c.value) for ws in wb for row in ws.iter_rows() for c in row if c.value is not None]
    assert not any(f in cell for cell in cells for f in finess if len(cell) >= 9)
    assert wb["scenarios"]["A4"].value == "alpha"


def test_the_page_escapes_every_input_string(done):
    out, _ = done
    page = (out / "index.html").read_text(encoding="utf-8")
    assert HOSTILE_DESCRIPTION not in page and "<img src=x" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(&#x27;x&#x27;)" in page
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; Co" in page  # the GHT's name, as text
    assert page.count("<script") == 2  # the page's own: the words (JSON) and the code
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)
    assert '<html lang="fr">' in page and "Télécharger la comparaison" in page


def test_the_page_speaks_english_when_asked(tmp_path, scenario_files, table_path):
    batch(tmp_path, scenario_files[:1], table_path, lang="en")
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in page and "Download the comparison" in page and "By region" in page
    assert pd.read_csv(tmp_path / "comparison.csv").columns[0] == "scenario"


# --------------------------------------------------------------------------------------------------------------
# The README's query
# --------------------------------------------------------------------------------------------------------------

def _readme_query() -> str:
    """The ```sql block of the README (the query shown to users is the one tested)."""
    text = (config.ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sql\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "the README shows one SQL query over results.parquet"
    return blocks[0]


def test_the_readme_duckdb_query_runs_on_results_parquet(done, monkeypatch):
    duckdb = pytest.importorskip("duckdb", reason="duckdb is an optional extra: pip install 'cyberbudget[duckdb]'")
    out, _ = done
    monkeypatch.chdir(out.parent)
    query = _readme_query().replace("reports/results.parquet", f"{out.name}/results.parquet")
    rows = duckdb.sql(query).fetchall()
    results = pd.read_parquet(out / "results.parquet")
    expected = results.groupby(["scenario", "region"], sort=True).agg(
        eligible=("eligible", "sum"), grants=("grant_cents", "sum"))
    assert [(s, r) for s, r, _, _ in rows] == list(expected.index)
    assert [(int(e), round(g * 100)) for _, _, e, g in rows] == [
        (int(e), int(g)) for e, g in expected.itertuples(index=False)]


# --------------------------------------------------------------------------------------------------------------
# Funding units: cells of fewer than 5 units are suppressed too
# --------------------------------------------------------------------------------------------------------------


def _unit_report(kind: str) -> ScenarioReport:
    """Region 11: 12 establishments in 2 units; regions 24 and 27: 30 establishments in 10 units each."""
    rows = []
    for region, n, per_unit in (("11", 12, 6), ("24", 30, 3), ("27", 30, 3)):
        for i in range(n):
            unit = f"{region}-U{i // per_unit}"
            rows.append({"finess": f"{region}{i:07d}", "eligible": "true", "grant_cents": "1000",
                         "region": region, "status": "public", "category": "ch", "ght": "",
                         "unit": unit if kind != "establishment" else f"{region}{i:07d}"})
    frame = pd.DataFrame(rows)
    allocation = frame.assign(eligible=True, grant_cents=frame["grant_cents"].astype("int64"))
    summary = {"envelope_cents": 72_000, "units": {"unit": kind}}
    return ScenarioReport(name=kind, folder=Path("."), allocation=allocation, summary=summary, parameters={})


@pytest.mark.parametrize("kind", ["establishment", "legal_entity"])
def test_under_a_funding_unit_cells_of_fewer_than_5_units_are_suppressed(kind):
    report = _unit_report(kind)
    outcome = Outcome(kind, f"{kind}.yaml", "ok", 0.1, kind)
    comp = build_comparison(".", [outcome], reports={kind: report})
    by_region = comp.groups[comp.groups["breakdown"] == "region"].set_index("key")
    if kind == "establishment":
        assert (by_region["suppressed"] == "").all()
        assert by_region.loc["11", "grant_cents"] == 12_000
    else:
        # region 11 has 12 establishments but 2 units: primary; the next smallest region protects it
        assert by_region.loc["11", "suppressed"] == "primary" and by_region.loc["11", "n_units"] == 2
        assert by_region.loc["24", "suppressed"] == "secondary"
        assert by_region.loc["27", "suppressed"] == ""
        assert pd.isna(by_region.loc["11", "grant_cents"]) and pd.isna(by_region.loc["24", "grant_cents"])
        assert by_region.loc["Total", "grant_cents"] == 72_000
    page = render_index(".", [outcome], comparison=comp)
    assert ("Sous une unité de financement" in page) is (kind != "establishment")


def test_disclosure_breakdown_counts_units_when_asked():
    table = _unit_report("ght").allocation
    plain = disclosure.breakdown(table, "region")
    by_unit = disclosure.breakdown(table, "region", unit="unit")
    assert plain.rows["suppressed"].tolist() == ["", "", ""]
    assert by_unit.rows["suppressed"].tolist() == ["primary", "secondary", ""]


# --------------------------------------------------------------------------------------------------------------
# In a real browser: sort, filter, switch the indicator, download — nothing fetched
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.browser
def test_in_chromium_the_page_sorts_filters_and_downloads_offline(done, browser):
    out, _ = done
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        log = guard_page(page, (*LOCAL_URLS, "http://127.0.0.1:"))
        page.goto((out / "index.html").as_uri(), wait_until="load")

        def order() -> list[str]:
            return page.eval_on_selector_all("#cb-scenarios tbody tr:not([hidden])",
                                             "rows => rows.map(r => r.dataset.scenario)")

        assert order() == ["alpha", "broken", "beta", "gamma"]
        envelope = page.locator("#cb-scenarios thead th", has_text="Enveloppe")
        envelope.locator("button").click()  # ascending; a scenario without figures goes last
        assert order() == ["gamma", "alpha", "beta", "broken"]
        assert envelope.get_attribute("aria-sort") == "ascending"
        envelope.locator("button").click()
        assert order() == ["beta", "alpha", "gamma", "broken"]
        assert envelope.get_attribute("aria-sort") == "descending"

        page.fill("input[data-table='cb-scenarios']", "GAM")  # case and accents do not matter
        assert order() == ["gamma"]
        page.fill("input[data-table='cb-scenarios']", "")
        assert len(order()) == 4

        region_rows = "#cb-by-region tbody tr:not([hidden])"
        labels = page.eval_on_selector_all(  # regions whose first scenario's cell is published
            region_rows, "rows => rows.filter(r => !r.cells[3].classList.contains('nd'))"
                         ".map(r => r.cells[1].textContent)")
        page.fill("input[data-table='cb-by-region']", labels[0].upper())
        shown = page.eval_on_selector_all(region_rows, "rows => rows.map(r => r.cells[1].textContent)")
        assert shown == [labels[0]] and page.locator("#cb-by-region tfoot tr").is_visible()
        first = page.locator(f"{region_rows} td").nth(3)
        grants = first.inner_text()
        page.select_option("select[data-table='cb-by-region']", "eligible")
        assert first.inner_text() == first.get_attribute("data-eligible-t") != grants
        assert "éligibles" in page.locator("#cb-by-region-unit").inner_text()

        for link, name in (("CSV", "comparison.csv"), ("Excel", "comparison.xlsx")):
            anchor = page.locator(".downloads a", has_text=link)
            assert anchor.get_attribute("href") == name
            with page.expect_download() as info:
                anchor.click()
            download = info.value
            assert download.suggested_filename == name
            assert Path(download.path()).read_bytes() == (out / name).read_bytes()
    finally:
        context.close()
    assert log.outside == []
    assert log.errors == []
    comparison = pd.read_csv(out / "comparison.csv", dtype=str, keep_default_na=False)
    assert set(comparison["scénario"]) == {"alpha", "beta", "gamma"} and "finess" not in comparison.columns
