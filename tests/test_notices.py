"""``cyberbudget notices``: one letter per recipient, money to the cent, only with the confidentiality opt-in.

The run folders here are made with the library's own steps (allocation, ``allocation.csv``, ``summary.json``,
the workbook and ``manifest.json``) without executing the report notebook — what ``notices`` reads; one slow test
goes through the real ``cyberbudget run`` and ``cyberbudget notices`` commands.
"""

from __future__ import annotations

import csv
import html as html_mod
import io
import math
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import guard_page

from cyberbudget import config, reports
from cyberbudget.errors import InputError, OptionError
from cyberbudget.formatting import fmt_cents
from cyberbudget.reports import manifest, notices
from cyberbudget.reports.folders import atomic_folder

CLI = [sys.executable, "-m", "cyberbudget.cli"]
MARK = "Diffusion restreinte"


def cyberbudget(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, cwd=config.ROOT,
                          env={**os.environ, "CYBERBUDGET_DEBUG": "", **(env or {})}, timeout=900)


def make_run(out: Path, scenario: Path, table: Path, overrides: Path | None = None) -> Path:
    """A report folder as ``cyberbudget run`` writes it, minus the executed notebook (notices do not read it)."""
    computed = reports.compute(scenario, table, overrides)
    folder = out / computed.scenario.name
    with atomic_folder(folder) as tmp:
        paths = reports.write_outputs(computed, tmp)
        template = config.TEMPLATES_DIR / "allocation_report.ipynb"
        inputs = manifest.input_entries(table=computed.data_path, scenario=computed.scenario_path, template=template,
                                        extends=computed.scenario.extends_chain, overrides=overrides)
        man = manifest.build_manifest(
            name=computed.scenario.name, inputs=inputs, parameters=computed.scenario.to_dict(),
            seed=computed.scenario.seed, notebook_parameters={},
            outputs={k: v for k, v in paths.items() if k != "allocation.xlsx"}, timings={}, template=template.stem)
        manifest.write_manifest(tmp / manifest.MANIFEST_NAME, man)
    return folder


def scenario_file(folder: Path, name: str, **keys: str) -> Path:
    lines = [f"name: {name}", f"extends: {config.SCENARIOS_DIR / 'baseline.yaml'}"]
    sections: dict[str, list[str]] = {}
    for key, value in keys.items():
        section, _, leaf = key.partition("__")
        if leaf:
            sections.setdefault(section, []).append(f"  {leaf}: {value}")
        else:
            lines.append(f"{key}: {value}")
    for section, body in sections.items():
        lines += [f"{section}:", *body]
    path = folder / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """Two regions of the synthetic table (multi-site legal entities, GHT) and three runs of it."""
    from cyberbudget.data.registry import synthesize, write_table

    folder = tmp_path_factory.mktemp("notices")
    table = synthesize()
    table = table[table["region"].isin(["84", "53"])]
    table_path = write_table(table, folder / "table.csv")
    out = folder / "reports"
    restricted = scenario_file(folder, "restricted", disclosure="establishment")
    by_entity = scenario_file(folder, "by_entity", disclosure="establishment", allocation__unit="legal_entity")
    aggregate = scenario_file(folder, "aggregate")
    return {
        "table": table_path,
        "restricted": make_run(out, restricted, table_path),
        "by_entity": make_run(out, by_entity, table_path),
        "aggregate": make_run(out, aggregate, table_path),
    }


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def allocation(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "allocation.csv", dtype=str, keep_default_na=False)


def expected_keys(table_path: Path, unit: str) -> pd.Series:
    """The recipient of each establishment, by DESIGN.md's words ("Units"), indexed by finess."""
    t = pd.read_csv(table_path, dtype=str, keep_default_na=False).set_index("finess")
    ej = t["finess_ej"].where(t["finess_ej"] != "", t.index.to_series())
    if unit == "establishment":
        return t.index.to_series()
    if unit == "legal_entity":
        return ej
    return t["ght"].where((t["status"] == "public") & (t["ght"] != ""), ej)


@pytest.mark.parametrize("unit", ["establishment", "legal_entity", "ght"])
def test_index_totals_equal_allocation_csv_to_the_cent_for_each_unit(world, unit):
    folder = world["restricted"]
    result = notices.write_notices(folder, unit=unit)
    index = read_csv(folder / "notices" / "index.csv")
    assert list(index[0])[:3] == ["key", "name", "grant_cents"]
    alloc = allocation(folder)
    assert sum(int(r["grant_cents"]) for r in index) == sum(int(c) for c in alloc["grant_cents"])
    assert result.grant_cents == result.allocated_cents
    # each notice holds exactly the grants of its establishments
    keys = expected_keys(world["table"], unit).reindex(alloc["finess"])
    expected = alloc["grant_cents"].astype(int).groupby(keys.to_numpy()).sum()
    got = pd.Series({r["key"]: int(r["grant_cents"]) for r in index})
    assert got.sort_index().equals(expected.sort_index().rename(None))
    years = [c for c in alloc.columns if c.startswith("grant_cents_")]
    for r in index:  # each year to the cent, and the years sum to the grant
        assert sum(int(r[c]) for c in years) == int(r["grant_cents"])
    assert sorted(p.name for p in (folder / "notices").glob("*.html")) == sorted(f"{k}.html" for k in got.index)


def test_by_default_the_recipients_are_the_runs_units(world):
    folder = world["by_entity"]
    result = notices.write_notices(folder)
    assert result.unit == "legal_entity"
    keys = set(expected_keys(world["table"], "legal_entity"))
    assert set(result.keys) == keys


def test_a_legal_entitys_notice_sums_its_sites(world):
    folder = world["restricted"]  # sites apply alone; the notice goes to their legal entity
    alloc = allocation(folder)
    ej = expected_keys(world["table"], "legal_entity").reindex(alloc["finess"]).to_numpy()
    granted = alloc.assign(ej=ej, cents=alloc["grant_cents"].astype(int))
    per_entity = granted[granted["cents"] > 0].groupby("ej")["finess"].count()
    key = str(per_entity[per_entity >= 2].index[0])
    sites = granted[granted["ej"] == key]
    notices.write_notices(folder, unit="legal_entity", only=[key])
    text = (folder / "notices" / f"{key}.html").read_text(encoding="utf-8")
    total = int(sites["cents"].sum())
    assert fmt_cents(total, "fr") in text
    for finess, cents in zip(sites["finess"], sites["cents"], strict=True):
        assert finess in text and fmt_cents(int(cents), "fr") in text
    (row,) = read_csv(folder / "notices" / "index.csv")
    assert row["key"] == key and int(row["grant_cents"]) == total and int(row["n_establishments"]) == len(sites)


def test_an_ineligible_units_notice_says_how_far_it_is_from_the_threshold(world):
    folder = world["by_entity"]
    t = pd.read_csv(world["table"], dtype={"finess": str, "finess_ej": str})
    entity = t.groupby("finess_ej")[["it_budget_eur", "cyber_spend_eur"]].sum()
    below = entity[(entity["it_budget_eur"] > 0) & (entity["cyber_spend_eur"] / entity["it_budget_eur"] < 0.05)]
    key = str(below.index[np.argmax(below["it_budget_eur"].to_numpy())])  # a large one: several sites
    it, cyber = below.loc[key, "it_budget_eur"], below.loc[key, "cyber_spend_eur"]
    extra_cents = math.ceil(round((0.05 * it - cyber) * 100, 6))
    notices.write_notices(folder, only=[key])
    text = html_mod.unescape((folder / "notices" / f"{key}.html").read_text(encoding="utf-8"))
    assert "Distance au seuil" in text and "n'est pas éligible" in text
    # the notice and index.csv give the extra annual spend, to the cent (float rounding may add one cent)
    assert fmt_cents(extra_cents, "fr") in text or fmt_cents(extra_cents + 1, "fr") in text
    (row,) = read_csv(folder / "notices" / "index.csv")
    assert abs(round(float(row["missing_cyber_spend_eur"]) * 100) - extra_cents) <= 1
    assert row["eligible"] == "false" and row["grant_cents"] == "0"


def test_an_eligible_notice_explains_the_corridor_and_its_own_share(world):
    folder = world["by_entity"]
    index = {r["key"]: r for r in read_csv(notices.write_notices(folder).index_csv)}
    key = max((k for k, r in index.items() if r["eligible"] == "true"), key=lambda k: int(index[k]["grant_cents"]))
    text = html_mod.unescape((folder / "notices" / f"{key}.html").read_text(encoding="utf-8"))
    assert "au moins 5\u202f% de leur budget informatique" in text  # the corridor
    assert "elle est éligible" in text and "au prorata de leur budget informatique annuel" in text
    share = float(index[key]["cyber_share"]) * 100
    assert f"{share:.2f}".replace(".", ",") in text  # its own cyber share
    assert "Distance au seuil" not in text
    assert text.count(MARK) >= 2


def test_notices_need_disclosure_establishment_or_the_confidential_flag(world):
    folder = world["aggregate"]
    with pytest.raises(OptionError, match="--confidential"):
        notices.write_notices(folder)
    assert not (folder / "notices").exists()
    result = notices.write_notices(folder, confidential=True, only=[next(iter(allocation(folder)["finess"]))])
    assert len(result.keys) == 1
    assert MARK in next((folder / "notices").glob("*.html")).read_text(encoding="utf-8")


def test_the_command_refuses_without_the_opt_in_and_writes_nothing(world, tmp_path):
    folder = world["aggregate"]
    if (folder / "notices").exists():  # the test above may have written some with --confidential
        import shutil

        shutil.rmtree(folder / "notices")
    proc = cyberbudget("notices", folder)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "disclosure: aggregate" in proc.stderr and "--confidential" in proc.stderr
    assert not (folder / "notices").exists()


def test_only_restricts_to_the_keys_and_an_unknown_key_is_refused(world):
    folder = world["restricted"]
    alloc = allocation(folder)
    keys = sorted(alloc["finess"].tolist()[:3])
    result = notices.write_notices(folder, unit="establishment", only=keys)
    assert result.keys == keys
    assert [r["key"] for r in read_csv(result.index_csv)] == keys
    before = sorted(p.name for p in result.folder.iterdir())
    with pytest.raises(OptionError, match="999999999"):
        notices.write_notices(folder, unit="establishment", only=[keys[0], "999999999"])
    assert sorted(p.name for p in result.folder.iterdir()) == before  # nothing written
    # a site's finess under --unit legal_entity: the message names its legal entity
    ej = expected_keys(world["table"], "legal_entity")[keys[0]]
    with pytest.raises(OptionError, match=ej):
        notices.write_notices(folder, unit="legal_entity", only=[keys[0]])


def test_notices_are_written_whole_or_not_at_all(world, monkeypatch):
    folder = world["restricted"]
    notices.write_notices(folder, unit="ght")
    before = {p.name: p.read_bytes() for p in (folder / "notices").iterdir()}
    calls = {"n": 0}
    original = notices._Writer.html

    def failing(self, notice):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, notice)

    monkeypatch.setattr(notices._Writer, "html", failing)
    with pytest.raises(KeyboardInterrupt):
        notices.write_notices(folder, unit="legal_entity")
    assert {p.name: p.read_bytes() for p in (folder / "notices").iterdir()} == before
    assert not [p for p in folder.iterdir() if p.name.startswith(".notices")]


def test_input_strings_are_escaped(tmp_path):
    from cyberbudget.data.registry import load_establishments, write_table

    table = load_establishments().head(40).copy()
    table["name"] = table["name"].astype(object)
    table.loc[table.index[0], "name"] = "<script>alert('x')</script> & Cie"
    table.loc[table.index[1], "name"] = "=HYPERLINK(\"http://example.org\")"
    table_path = write_table(table, tmp_path / "table.csv")
    folder = make_run(tmp_path / "out", scenario_file(tmp_path, "hostile", disclosure="establishment"), table_path)
    finess = str(table["finess"].iloc[0])
    notices.write_notices(folder, unit="establishment", only=[finess])
    text = (folder / "notices" / f"{finess}.html").read_text(encoding="utf-8")
    assert "<script" not in text and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Cie" in text
    formula = str(table["finess"].iloc[1])
    notices.write_notices(folder, unit="establishment", only=[formula])
    (row,) = read_csv(folder / "notices" / "index.csv")
    assert row["name"].startswith("'=HYPERLINK")  # a spreadsheet shows it, never runs it


def test_english_notices(world):
    folder = world["by_entity"]
    key = expected_keys(world["table"], "legal_entity").iloc[0]
    notices.write_notices(folder, only=[key], lang="en")
    text = html_mod.unescape((folder / "notices" / f"{key}.html").read_text(encoding="utf-8"))
    assert "Grant notice" in text and "Programme conditions" in text and "lang='en'" in text
    assert MARK in text  # the protective marking is the same in both languages


def test_an_input_changed_since_the_run_is_refused(world, tmp_path):
    import shutil

    table = tmp_path / "table.csv"
    shutil.copy(world["table"], table)
    folder = make_run(tmp_path / "out", scenario_file(tmp_path, "changed", disclosure="establishment"), table)
    with table.open("a", encoding="utf-8") as fh:
        fh.write("\n")
    with pytest.raises(InputError, match="changed since the run"):
        notices.write_notices(folder)
    assert not (folder / "notices").exists()


def test_a_run_with_overrides_gets_its_real_figures_back(world, tmp_path):
    t = pd.read_csv(world["table"], dtype={"finess": str, "finess_ej": str})
    entity = t.groupby("finess_ej")[["it_budget_eur", "cyber_spend_eur"]].sum()
    below = entity[(entity["it_budget_eur"] > 0) & (entity["cyber_spend_eur"] / entity["it_budget_eur"] < 0.05)]
    key = str(below.index[0])
    it = float(below.loc[key, "it_budget_eur"])
    overrides = tmp_path / "budgets.csv"  # the finance team's real figures: 8 % of the IT budget on cybersecurity
    overrides.write_text(f"finess_ej,it_budget_eur,cyber_spend_eur\n{key},{it:.2f},{0.08 * it:.2f}\n", encoding="utf-8")
    scenario = scenario_file(tmp_path, "with_overrides", disclosure="establishment", allocation__unit="legal_entity")
    folder = make_run(tmp_path / "out", scenario, world["table"], overrides)
    result = notices.write_notices(folder, only=[key])
    (row,) = read_csv(result.index_csv)
    assert row["eligible"] == "true" and int(row["grant_cents"]) > 0
    assert abs(float(row["cyber_share"]) - 0.08) < 1e-6


@pytest.mark.slow
def test_the_commands_end_to_end_and_no_published_page_links_to_notices(tmp_path, world):
    scenario = scenario_file(tmp_path, "e2e", disclosure="establishment", allocation__unit="ght")
    run = cyberbudget("run", scenario, "--data", world["table"], "--out", tmp_path / "out")
    assert run.returncode == 0, run.stderr
    folder = tmp_path / "out" / "e2e"
    proc = cyberbudget("notices", folder, "--unit", "legal_entity")
    assert proc.returncode == 0, proc.stderr
    index = read_csv(folder / "notices" / "index.csv")
    assert sum(int(r["grant_cents"]) for r in index) == sum(int(c) for c in allocation(folder)["grant_cents"])
    ght = sorted(k for k in set(expected_keys(world["table"], "ght")) if "-" in k)[0]
    only = cyberbudget("notices", folder, "--only", ght)  # the run's unit: ght
    assert only.returncode == 0, only.stderr
    assert [r["key"] for r in read_csv(folder / "notices" / "index.csv")] == [ght]
    unknown = cyberbudget("notices", folder, "--only", "ZZZ-99")
    assert unknown.returncode == 2 and "ZZZ-99" in unknown.stderr and "Traceback" not in unknown.stderr
    assert [r["key"] for r in read_csv(folder / "notices" / "index.csv")] == [ght]  # left as it was
    for published in ("report.html", "allocation.xlsx"):
        assert b"notices/" not in (folder / published).read_bytes()


# ----------------------------------------------------------------------------------------------------------------
# In a real browser
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
def test_a_notice_opens_offline_in_a_real_browser(world, browser):
    folder = world["by_entity"]
    result = notices.write_notices(folder)
    key = max(result.keys, key=lambda k: len((folder / "notices" / f"{k}.html").read_bytes()))
    context = browser.new_context(offline=True)
    try:
        page = context.new_page()
        log = guard_page(page)
        page.goto((folder / "notices" / f"{key}.html").as_uri(), wait_until="load")
        assert page.locator(".nt-mark").first.is_visible()
        assert page.locator("h1").inner_text().startswith("Notification de dotation")
        assert "Conditions du programme" in page.locator("body").inner_text()
        assert page.locator("script").count() == 0
        assert log.outside == [] and log.errors == []
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.slow
def test_pdf_notices_are_marked_on_every_page_with_page_numbers(world):
    from pypdf import PdfReader

    from cyberbudget.reports.browser import ChromiumNotFound, find_chromium

    try:
        find_chromium()
    except ChromiumNotFound as exc:
        pytest.skip(str(exc))
    folder = world["by_entity"]
    alloc = allocation(folder)
    keys = sorted(set(expected_keys(world["table"], "legal_entity").reindex(alloc["finess"])))[:6]
    result = notices.write_notices(folder, only=keys, pdf=True)
    assert result.pdf
    for row in read_csv(result.index_csv):
        reader = PdfReader(str(result.folder / row["pdf"]))
        n = len(reader.pages)
        assert n >= 1
        for i, page in enumerate(reader.pages, start=1):
            text = unicodedata.normalize("NFC", page.extract_text())
            assert MARK in text, (row["key"], i)
            assert f"Page {i} sur {n}" in text, (row["key"], i)
        first = unicodedata.normalize("NFC", reader.pages[0].extract_text())
        assert row["name"].split()[0] in first and "Notification de dotation" in first
        box = reader.pages[0].mediabox
        assert round(float(box.width) / 72 * 25.4) == 210 and round(float(box.height) / 72 * 25.4) == 297  # A4
