"""Issue 12: every published word in the reader's language (French first), what the data is said first, the
one-page synthèse, and the mends a new user asked for (corridor heading, comparison title, histogram legend, list
values and names in `diff`, the eligibility change split by cause)."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from cyberbudget import config, reports
from cyberbudget.errors import OptionError
from cyberbudget.reports import allocation_sections, batch_index, comparison, i18n, plots, provenance_line
from cyberbudget.reports.reasons import PATTERNS, translate_reason

BASELINE = config.SCENARIOS_DIR / "baseline.yaml"
REPORTS_DIR = Path(reports.__file__).parent


@pytest.fixture(scope="module")
def small_path(tmp_path_factory) -> Path:
    """A synthetic table: 8 establishments per region (the generator marks every row `synthetic`)."""
    from cyberbudget.data.registry import synthesize, write_table

    return write_table(synthesize().groupby("region", sort=True).head(8), tmp_path_factory.mktemp("t") / "t.csv")


@pytest.fixture(scope="module")
def computed(small_path):
    return reports.compute(BASELINE, small_path)


def _scenario(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\nextends: {BASELINE}\n{text}", encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------- one catalogue


def test_every_code_has_its_label_in_both_languages():
    for lang in i18n.LANGS:
        for kind, codes in (("status", config.STATUSES), ("category", config.CATEGORIES),
                            ("region", config.REGIONS), ("rule", ("proportional", "matching", "gap", "tiered",
                                                                   "optimal", "forfait"))):
            assert [c for c in codes if not i18n.has(f"label.{kind}.{c}", lang)] == [], (kind, lang)
    assert (i18n.label("category", "dialysis", "fr"), i18n.label("category", "dialysis", "en")) == (
        "Centre de dialyse", "Dialysis centre")
    assert {r: i18n.label("region", r, "fr") for r in config.REGIONS} == config.REGION_NAMES
    assert i18n.label("tier", "ght_support", "fr") == "Supports de GHT" and i18n.label("tier", "ssr", "en") == \
        "Rehabilitation (SSR)"


def test_no_module_keeps_words_of_its_own():
    """The words live in the catalogue: no dictionary of labels, no `if lang == "en"` sentence in a module."""
    from cyberbudget.reports.whatif import words

    assert not any(hasattr(plots, name) for name in ("STATUS_LABELS", "CATEGORY_LABELS", "WORDS"))
    assert not hasattr(batch_index, "STATUS_LABELS") and not hasattr(words, "WORDS")
    offenders = [p.name for p in REPORTS_DIR.rglob("*.py")
                 if re.search(r"lang\s*==\s*[\"']en[\"']", p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_words_of_the_other_language_are_found():
    assert i18n.foreign_words_in("Synthèse : 12 Eligible establishments, Envelope 350 M€", "fr") == [
        "eligible establishments", "eligible", "envelope"]
    assert i18n.foreign_words_in("voir allocation.csv et eligibility.statuses", "fr") == []  # code is no word
    assert "établissements éligibles" in i18n.foreign_words_in("Summary: 12 établissements éligibles", "en")
    assert i18n.foreign_words_in("Total — Bretagne — CHR/CHU", "fr") == []  # the same in both languages


def test_a_bad_language_is_bad_input(tmp_path, small_path):
    with pytest.raises(OptionError, match="--lang"):
        reports.run(BASELINE, data=small_path, out=tmp_path / "out", lang="de")
    assert not (tmp_path / "out").exists()
    proc = subprocess.run([sys.executable, "-m", "cyberbudget.cli", "run", str(BASELINE), "--lang", "de", "--out",
                           str(tmp_path / "cli")], capture_output=True, text=True, cwd=config.ROOT,
                          env={**os.environ, "CYBERBUDGET_DEBUG": ""}, timeout=300)
    assert proc.returncode == 2 and "--lang" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "cli").exists()


def test_french_typography():
    p = provenance_line.DataProvenance("synthetic", "t.csv", "baseline", dt.date(2026, 11, 30), "1.0", 10, 10)
    line = provenance_line.provenance_line(p, "fr")
    assert "«\u00a0baseline\u00a0»" in line and "30 novembre 2026" in line
    many = provenance_line.DataProvenance("synthetic", "t.csv", "baseline, capped", dt.date(2026, 11, 30), "1.0")
    assert "scénarios «\u00a0baseline\u00a0», «\u00a0capped\u00a0»" in provenance_line.provenance_line(many, "fr")
    assert i18n.long_date(dt.date(2026, 12, 1), "fr") == "1er décembre 2026"
    assert i18n.t("plot.colon", "fr") == "\u00a0: " and i18n.t("reason.join", "fr") == "\u202f; "


# ----------------------------------------------------------------------------------------------- reasons


def test_every_reason_of_every_scenario_is_translated(tmp_path):
    """allocation.csv keeps its English reasons; published tables say them in the reader's language."""
    extra = [_scenario(tmp_path, "excl", "eligibility:\n  exclude_above_max: true\n  medico_social: false\n"),
             _scenario(tmp_path, "opt", "allocation:\n  rule: optimal\n"),
             _scenario(tmp_path, "floor0", "allocation:\n  floor_eur: 1000\n  base: beds\n")]
    reasons: set[str] = set()
    for path in [*sorted(config.SCENARIOS_DIR.glob("*.yaml")), *extra]:
        reasons |= set(reports.compute(path).result.table["reason"].astype(str))
    assert len(reasons) > 100
    for lang in ("fr", "en"):
        said = {reason: translate_reason(reason, lang, strict=True) for reason in sorted(reasons)}
        # all the translations at once (" | " keeps a phrase from spanning two reasons); the culprits if any
        if i18n.foreign_words_in(" | ".join(said.values()), lang):
            bad = {r: t for r, t in said.items() if i18n.foreign_words_in(t, lang)}
            pytest.fail(f"{lang}: words of the other language in {list(bad.items())[:5]}")
    assert {key for _, key in PATTERNS} <= i18n.keys("fr")
    with pytest.raises(KeyError, match="no form"):
        translate_reason("allocated by a rule of a plugin", "fr", strict=True)
    assert translate_reason("allocated by a rule of a plugin", "fr") == "allocated by a rule of a plugin"


# ----------------------------------------------------------------------------------------------- data nature


def _flags(table: pd.DataFrame, values: list[str]) -> pd.DataFrame:
    return table.assign(imputed=(values * len(table))[: len(table)])


def test_the_nature_of_a_table_comes_from_its_imputed_column(small_table):
    nature = provenance_line.data_nature
    assert nature(_flags(small_table, ["operating_budget_eur it_budget_eur cyber_spend_eur synthetic"])) == "synthetic"
    assert nature(_flags(small_table, ["synthetic", ""])) == "synthetic"  # one fictitious row is enough
    assert nature(_flags(small_table, ["it_budget_eur cyber_spend_eur", "ght"])) == "imputed"
    assert nature(_flags(small_table, ["ght", ""])) == "supplied"  # an inferred GHT is no imputed budget
    imputed = provenance_line.describe(_flags(small_table, ["it_budget_eur", ""]), "/data/sae.csv", "baseline")
    assert (imputed.nature, imputed.table, imputed.n_imputed, imputed.n_establishments) == ("imputed", "sae.csv", 15, 30)
    text = provenance_line.provenance_line(imputed, "fr")
    assert text.startswith("Registre SAE 2023, budgets imputés") and "15 établissements sur 30" in text
    supplied = provenance_line.describe(small_table, "mine.csv", "capped", overrides="/x/budgets.csv")
    assert provenance_line.provenance_line(supplied, "en").startswith("Supplied budgets")
    assert "“budgets.csv”" in provenance_line.provenance_line(supplied, "en")
    assert provenance_line.DataProvenance.from_dict(supplied.to_dict()) == supplied


def test_synthetic_data_gets_a_loud_banner(computed):
    prov = provenance_line.provenance_of(computed)
    assert prov.nature == "synthetic" and prov.scenario == "baseline"
    banner = provenance_line.banner_html(prov, "fr")
    assert "DONNÉES SYNTHÉTIQUES" in banner and "cb-data-synthetic" in banner
    assert f"cyberbudget {prov.version}" in banner and i18n.long_date(prov.produced, "fr") in banner
    quiet = provenance_line.banner_html(provenance_line.DataProvenance("supplied", "t.csv", "b"), "fr")
    assert "SYNTHÉTIQUES" not in quiet and "Budgets fournis" in quiet


def test_the_report_opens_with_the_data_and_the_synthese(computed):
    pub = reports.publish(computed)
    head = allocation_sections.header_html(computed, pub, "fr")
    assert head.index("DONNÉES SYNTHÉTIQUES") < head.index("<h1>Enveloppe cybersécurité")
    synthese = allocation_sections.synthese_html(computed, pub, "fr")
    assert synthese.startswith("<section id='synthese' class='cb-synthese'><h2>Synthèse</h2>")
    rows = allocation_sections.key_figure_rows(computed, pub, "fr")
    assert [a for a, _ in rows] == ["Enveloppe", "Établissements éligibles", "Montant alloué", "Non alloué",
                                    "Dépense cyber induite (sur la période)"]
    assert rows[0][1] == "350\u202f000\u202f000,00\u202f€"  # in full
    assert "<p class='cb-narrative'>Dans le scénario «\u00a0baseline\u00a0»" in synthese
    en = allocation_sections.key_figure_rows(computed, pub, "en")
    assert en[0] == ("Envelope", "350,000,000.00 €")


def test_the_synthese_counts_units_under_a_funding_unit(tmp_path, small_path):
    c = reports.compute(_scenario(tmp_path, "by_ght", "allocation:\n  unit: ght\n"), small_path)
    labels = [a for a, _ in allocation_sections.key_figure_rows(c, reports.publish(c), "fr")]
    assert labels[2] == "Unités éligibles (GHT)" and len(labels) == 6


# ----------------------------------------------------------------------------------------------- workbook


def test_the_workbook_speaks_the_readers_language_and_says_what_the_data_is(tmp_path, computed):
    for lang, nature, header in (("fr", "DONNÉES SYNTHÉTIQUES", "Subvention (centimes)"),
                                 ("en", "SYNTHETIC DATA", "Grant (cents)")):
        folder = tmp_path / lang
        folder.mkdir()
        xlsx = reports.write_outputs(computed, folder, lang=lang)["allocation.xlsx"]
        wb = load_workbook(xlsx)
        assert wb.sheetnames == ["summary", "by_region", "by_status", "by_category", "by_ght", "by_year",
                                 "parameters", "provenance", "by_legal_entity"]
        first = [wb["summary"].cell(row=r, column=1).value for r in range(1, 5)]
        assert first[1].startswith(nature) and "baseline" in first[2] and "cyberbudget" in first[2], first
        headers = {c.value for ws in wb.worksheets for row in ws.iter_rows(min_row=1, max_row=6) for c in row}
        assert header in headers and "grant_cents" not in headers and "n_establishments" not in headers
        status = [c.value for c in wb["by_status"]["B"]][2:5]
        assert sorted(status) == sorted(i18n.label("status", s, lang) for s in config.STATUSES)


def test_the_restricted_workbook_gives_reasons_in_french(tmp_path, small_path):
    c = reports.compute(_scenario(tmp_path, "restricted", "disclosure: establishment\n"), small_path)
    xlsx = reports.write_outputs(c, tmp_path)["allocation.xlsx"]
    ws = load_workbook(xlsx)["establishments"]
    header = [x.value for x in ws[2]]
    reasons = {line[header.index("Motif")] for line in ws.iter_rows(min_row=3, values_only=True)}
    assert any(r.startswith("non éligible\u00a0: part cyber") for r in reasons)
    assert all(i18n.foreign_words_in(r, "fr") == [] for r in reasons)
    html = allocation_sections.establishment_html(reports.publish(c), lang="fr")
    assert "<th>Motif</th>" in html and "non éligible" in html


# ----------------------------------------------------------------------------------------------- §5 mends


def test_the_corridor_heading_follows_min_share(tmp_path, small_path):
    c = reports.compute(_scenario(tmp_path, "six", "eligibility:\n  min_share: 0.06\n"), small_path)
    assert allocation_sections.corridor_heading(c, "fr") == (
        "## Qui consacre au moins 6\u202f% de son budget informatique à la cybersécurité\u202f?")
    c = reports.compute(_scenario(tmp_path, "five_half", "eligibility:\n  min_share: 0.055\n"), small_path)
    assert "5,5\u202f%" in allocation_sections.corridor_heading(c, "fr")
    assert "at least 5.5 %" in allocation_sections.corridor_heading(c, "en")


def _totals(unspent: list[float | None]) -> pd.DataFrame:
    return pd.DataFrame({"scenario": [f"s{i}" for i in range(len(unspent))],
                         "allocated_eur": [None if u is None else 1e6 - u for u in unspent],
                         "unallocated_eur": unspent})


def test_the_comparison_title_says_when_nothing_is_left_unspent():
    title = plots.compare_totals(_totals([0.0, 0.0]), lang="en").layout.title.text
    assert "Every scenario allocates the whole envelope" in title and "most money unspent" not in title
    assert "Chaque scénario alloue toute l'enveloppe" in plots.compare_totals(_totals([0.0, 0.0])).layout.title.text
    title = plots.compare_totals(_totals([0.0, 2e5]), lang="en").layout.title.text
    assert "“s1” leaves the most money unspent (200 k€)" in title
    title = plots.compare_totals(_totals([3e5, 3e5, 0.0]), lang="en").layout.title.text
    assert "“s0”, “s1” leave the same" in title
    assert "not disclosed" in plots.compare_totals(_totals([None, None]), lang="en").layout.title.text


def test_the_histogram_legend_names_both_colours():
    bins = pd.DataFrame({"left": np.arange(0, 0.2, 0.01), "right": np.arange(0.01, 0.21, 0.01),
                         "n": [10] * 19 + [None]})
    fig = plots.share_distribution(bins, 0.05, 0.10, lang="fr")
    bars = [tr for tr in fig.data if tr.type == "bar"]
    assert [tr.name for tr in bars] == ["Sous le seuil de 5\u202f%", "Au seuil de 5\u202f% ou au-dessus"]
    assert len({tr.marker.color for tr in bars}) == 2 and fig.layout.showlegend
    assert np.round(bars[0].x, 6).tolist() == [0.5, 1.5, 2.5, 3.5, 4.5] and len(bars[1].x) == 15


def test_diff_prints_list_values_and_no_names_and_the_change_by_cause():
    proc = subprocess.run([sys.executable, "-m", "cyberbudget.cli", "diff", "baseline", "public_only"],
                          capture_output=True, text=True, cwd=config.ROOT, timeout=300,
                          env={**os.environ, "CYBERBUDGET_DEBUG": ""})
    assert proc.returncode == 0, proc.stderr
    params = proc.stdout.split("Parameters", 1)[1].split("Results", 1)[0]
    assert "[public, private_nonprofit, private_forprofit]  →  [public]" in params
    assert "name" not in params
    lost = next(line for line in proc.stdout.splitlines() if line.strip().startswith("lost"))
    assert "status" in lost and "threshold" not in lost


def test_the_comparison_splits_the_eligibility_change_by_cause_and_suppresses_small_counts(small_path):
    cmp = comparison.comparison_tables([BASELINE, config.SCENARIOS_DIR / "public_only.yaml"], small_path)
    lost = cmp.eligibility["lost"]
    n_el = cmp.totals.set_index("scenario")["n_eligible"]
    assert sum(lost.values()) == n_el["baseline"] - n_el["public_only"] and lost["status"] == sum(lost.values())
    shown = comparison.published_changes(cmp)
    assert shown.set_index("cause").loc["status", "lost"] == lost["status"]
    html = comparison.eligibility_changes_html(cmp, "fr")
    assert "Statut non retenu" in html and i18n.foreign_words_in(html, "fr") == []
    small = comparison.Comparison(names=["a", "b"], groups={}, totals=pd.DataFrame(), parameters=pd.DataFrame(),
                                  diff_text="", eligibility={
                                      "lost": {"threshold": 30, "ceiling": 2, "status": 6, "no_it_budget": 0,
                                               "medico_social": 0, "other": 0},
                                      "gained": {"threshold": 3, "ceiling": 0, "status": 0, "no_it_budget": 0,
                                                 "medico_social": 0, "other": 0}})
    frame = comparison.published_changes(small).set_index("cause")
    assert pd.isna(frame.loc["ceiling", "lost"]) and pd.isna(frame.loc["status", "lost"])  # 2 primary, 6 secondary
    assert frame.loc["threshold", "lost"] == 30 and frame.loc["total", "lost"] == 38
    assert frame["gained"].isna().loc[["threshold", "total"]].all()  # 3 alone: hidden, and so is its total


# ----------------------------------------------------------------------------------------------- index


def test_the_batch_index_opens_with_what_the_data_is(tmp_path, small_path, foreign_words):
    from cyberbudget.reports.batch import Outcome

    outcomes = [Outcome("baseline", "baseline.yaml", "failed", 1.5, None, {"message": "boom"})]
    fr = batch_index.render_index(tmp_path, outcomes, data=small_path)
    assert '<html lang="fr">' in fr and fr.index("DONNÉES SYNTHÉTIQUES") < fr.index("<h1>")
    en = batch_index.render_index(tmp_path, outcomes, data=small_path, lang="en")
    assert en.index("SYNTHETIC DATA") < en.index("<h1>")
    assert foreign_words(fr, None, "fr") == [] and foreign_words(en, None, "en") == []
    prov = provenance_line.batch_provenance(tmp_path, outcomes, small_path)
    assert (prov.nature, prov.table, prov.scenario) == ("synthetic", small_path.name, "baseline")
    assert provenance_line.batch_provenance(tmp_path, outcomes) is None  # nothing to read


@pytest.mark.slow  # a real run through the command line
def test_run_in_english_gives_an_english_report_and_workbook(tmp_path, small_path, foreign_words):
    import json

    import nbformat
    from typer.testing import CliRunner

    from cyberbudget.cli import app

    result = CliRunner().invoke(app, ["run", "baseline", "--data", str(small_path), "--out", str(tmp_path),
                                      "--lang", "en"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "baseline"
    page = (folder / "report.html").read_text(encoding="utf-8")
    nb = nbformat.read(folder / "report.ipynb", as_version=4)
    assert '<html lang="en">' in page and "SYNTHETIC DATA" in page and foreign_words(page, nb, "en") == []
    assert json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["lang"] == "en"
    wb = load_workbook(folder / "allocation.xlsx")
    assert wb["summary"]["A2"].value.startswith("SYNTHETIC DATA") and wb["by_status"]["A1"].value.endswith(
        "allocation by status (n.d. = not disclosed (a figure built from fewer than 5 establishments))")
