"""The what-if app (issue 13): controls → library allocation → suppressed figure data; saving a scenario; the
``cyberbudget app`` command; and, in a real browser, the page served by Voilà with nothing fetched from outside.

The in-process tests drive the same :meth:`WhatIf.update` path the widgets call (and the widgets themselves);
the browser test moves the threshold slider in headless Chromium (skipped with the reason when Chromium or
playwright is missing).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import descendants, guard_page, running

from cyberbudget import config
from cyberbudget.data.registry import load_establishments, synthesize, write_table
from cyberbudget.errors import OptionError
from cyberbudget.formatting import fmt_int
from cyberbudget.policy import scenario as scenario_mod
from cyberbudget.policy.allocation import allocate
from cyberbudget.policy.scenario import load_scenario
from cyberbudget.reports import disclosure
from cyberbudget.reports.whatif import (
    CONTROLS,
    DATA_ENV,
    WhatIf,
    build_app,
    control_choices,
    server,
    unit_choices,
    voila_command,
)
from cyberbudget.reports.whatif import model as whatif_model

BASELINE = config.SCENARIOS_DIR / "baseline.yaml"
NOTEBOOK = config.NOTEBOOKS_DIR / "what_if.ipynb"
CLI = [sys.executable, "-m", "cyberbudget.cli"]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    """The committed default table (3,126 establishments)."""
    return load_establishments()


@pytest.fixture
def app(table, tmp_path) -> WhatIf:
    """The app on the default table, reference baseline, saving into a temporary scenarios folder."""
    return WhatIf(table, BASELINE, scenarios_dir=tmp_path)


def _bars(fig: dict) -> dict[str, float]:
    """Label → value of the first bar trace of a grants-by figure."""
    trace = fig["data"][0]
    return dict(zip(trace["y"], trace["x"], strict=True))


# --------------------------------------------------------------------------------------------------------------
# Controls → scenario → library → figures
# --------------------------------------------------------------------------------------------------------------


def test_the_app_starts_at_the_reference_and_shows_the_library_numbers(app, table):
    reference = allocate(table, load_scenario(BASELINE))
    assert app.state["min_share"] == 0.05 and app.state["rule"] == "proportional"
    assert app.key_figures["n_eligible"].value == reference.summary["n_eligible"]
    assert app.key_figures["allocated"].value == reference.summary["allocated_cents"] == 35_000_000_000
    assert app.key_figures["unallocated"].value == 0
    assert app.key_figures["n_eligible"].text == fmt_int(reference.summary["n_eligible"], "fr")
    assert app.key_figures["allocated"].text == "350\u202f000\u202f000\u202f€"  # French number format
    assert set(app.figures) == {"histogram", "by_region", "by_status", "difference"}
    json.dumps(app.figures)  # plain JSON, ready for the plotly mime bundle


def test_moving_the_threshold_changes_the_key_figures_and_every_figure(app, table):
    before_count = app.key_figures["n_eligible"].value
    before = json.loads(json.dumps(app.figures))
    result = app.update(min_share=0.06)
    assert result.ok and result.changed == ("min_share",)
    expected = allocate(table, load_scenario(app.scenario_dict()))
    assert app.key_figures["n_eligible"].value == expected.summary["n_eligible"] < before_count
    assert (app.result.table["grant_cents"].to_numpy() == expected.table["grant_cents"].to_numpy()).all()
    # the corridor line moved to 6 % and the 5-6 % bins changed colour group (now below the threshold)
    hist = app.figures["histogram"]
    assert [s["x0"] for s in hist["layout"]["shapes"]] == [6.0, 10.0]
    below = next(t for t in hist["data"] if t["name"] == "Sous le seuil")
    assert 5.25 in below["x"] and 5.25 not in next(t for t in before["histogram"]["data"]
                                                    if t["name"] == "Sous le seuil")["x"]
    assert "sous le seuil de 6\u202f%" in hist["layout"]["title"]["text"]
    # grants by region and status moved; the difference with the reference is no longer zero
    assert _bars(app.figures["by_region"]) != _bars(before["by_region"])
    assert _bars(app.figures["by_status"]) != _bars(before["by_status"])
    diff = app.figures["difference"]["data"][0]["x"]
    assert any(v > 0 for v in diff) and any(v < 0 for v in diff)
    assert sum(diff[:3]) == pytest.approx(0, abs=1e-6)  # by status: the same 350 M€, redistributed
    rows = {r["key"]: r for r in app.key_figure_rows()}
    delta = app.key_figures["n_eligible"].value - before_count
    assert rows["n_eligible"]["difference"] == str(delta)  # e.g. "-333"


def test_every_recomputation_goes_through_the_library_allocate(app, monkeypatch):
    calls = []
    real = whatif_model.allocate

    def spy(table, scenario):
        calls.append(scenario)
        return real(table, scenario)

    monkeypatch.setattr(whatif_model, "allocate", spy)
    app.update(cap_eur=2_000_000, statuses=["public", "private_nonprofit"])
    assert len(calls) == 1
    assert calls[0].allocation.cap_eur == 2_000_000
    assert calls[0].eligibility.statuses == ("public", "private_nonprofit")
    assert app.update(cap_eur=2_000_000).changed == ()  # no change, no recomputation
    assert len(calls) == 1


@pytest.mark.parametrize("changes", [
    {"rule": "matching", "match_rate": 0.4},
    {"rule": "gap", "target_share": 0.08},
    {"rule": "tiered", "tiers": ["public", "ose", "private_nonprofit"], "tier_amount": "demand"},
    {"uptake": "full"},
    {"exclude_above_max": True, "max_share": 0.09},
    {"total_eur": 200_000_000.5, "floor_eur": 10_000, "base": "beds"},
], ids=["matching", "gap", "tiered", "uptake", "corridor", "envelope-floor-base"])
def test_each_control_reaches_the_scenario_and_the_result(app, table, changes):
    result = app.update(**changes)
    assert result.ok, result.error
    expected = allocate(table, load_scenario(app.scenario_dict()))
    assert app.result.summary["allocated_cents"] == expected.summary["allocated_cents"]
    assert app.result.summary["n_eligible"] == expected.summary["n_eligible"]
    for name, value in changes.items():
        section, key = CONTROLS[name]
        got = getattr(getattr(app.scenario, section), key)
        assert (list(got) if isinstance(got, tuple) else got) == value


def test_induced_spend_and_avoided_loss_come_from_the_library(app):
    from cyberbudget.risk import assess

    app.update(uptake="full")
    assert app.key_figures["induced"].value == pytest.approx(app.result.summary["induced_spend_eur"])
    assert app.key_figures["induced"].value > 0
    risk = assess(app.result, app.scenario)  # the whole result, as a report computes it
    assert app.key_figures["avoided"].value == pytest.approx(risk.summary["avoided_eur"], rel=1e-12)


def test_invalid_settings_keep_the_last_figures_and_say_why(app):
    app.update(min_share=0.06)
    shown = json.loads(json.dumps(app.figures))
    eligible = app.key_figures["n_eligible"].value
    result = app.update(min_share=0.15)  # above max_share 0.10
    assert not result.ok
    assert "max_share" in result.error and app.error == result.error
    assert app.state["min_share"] == 0.15  # the control keeps what the user set
    assert app.figures == shown and app.key_figures["n_eligible"].value == eligible
    with pytest.raises(OptionError, match="invalid"):
        app.save("anything")
    assert app.update(max_share=0.2).ok and app.error is None
    assert app.scenario.eligibility.min_share == 0.15


def test_floors_above_the_envelope_are_reported_not_raised(app):
    result = app.update(floor_eur=1_000_000)  # 876 eligible x 1 M€ > 350 M€
    assert not result.ok and "floor" in result.error


def test_a_floor_is_only_written_for_the_rules_that_take_one(app):
    app.update(floor_eur=20_000)
    assert app.scenario.allocation.floor_eur == 20_000
    assert app.update(rule="gap").ok  # the scenario model rejects a floor with gap: the app sends 0
    assert app.scenario.allocation.floor_eur == 0 and app.state["floor_eur"] == 20_000


def test_unknown_controls_and_wrong_kinds_are_rejected(app):
    with pytest.raises(OptionError, match="unknown control"):
        app.update(threshold=0.06)
    with pytest.raises(OptionError, match="min_share"):
        app.update(min_share="six")
    with pytest.raises(OptionError, match="statuses"):
        app.update(statuses=["hospital"])


def test_choosing_a_reference_loads_its_values_and_compares_against_it(app, table):
    result = app.update(reference="capped")
    assert result.ok and "reference" in result.changed
    assert app.reference_name == "capped"
    assert app.state["floor_eur"] == 20_000 and app.state["cap_eur"] == 2_000_000
    assert app.differences() == {}
    assert all(r["difference"] == "0" for r in app.key_figure_rows())
    capped = allocate(table, load_scenario(config.SCENARIOS_DIR / "capped.yaml"))
    assert app.result.summary["allocated_cents"] == capped.summary["allocated_cents"]
    assert app.update(cap_eur=None).ok
    assert app.differences() == {"allocation": {"cap_eur": None}}
    assert app.reset().ok and app.state["cap_eur"] == 2_000_000


def test_the_reference_list_is_the_scenario_folder(app, tmp_path):
    shutil.copy(BASELINE, tmp_path / "baseline.yaml")
    (tmp_path / "zeta.yaml").write_text("extends: baseline\nname: zeta\n", encoding="utf-8")
    assert app.references == ["baseline", "zeta"]


def test_unit_control_offers_every_funding_unit_of_the_scenario_model(app):
    import typing

    values = tuple(typing.get_args(scenario_mod.Allocation.model_fields["unit"].annotation))
    assert unit_choices() == values == ("establishment", "legal_entity", "ght")
    assert app.state["unit"] == "establishment"
    assert app.update(unit="ght").ok and app.state["unit"] == "ght"
    assert control_choices()["rule"][:4] == ("proportional", "matching", "gap", "tiered")
    assert set(control_choices()["uptake"]) == {"none", "full", "logistic"}


# --------------------------------------------------------------------------------------------------------------
# Confidentiality: aggregation and suppression as in published reports
# --------------------------------------------------------------------------------------------------------------


def test_small_cells_are_not_disclosed_anywhere_in_the_figures(small_table, tmp_path):
    app = WhatIf(small_table, BASELINE, scenarios_dir=tmp_path)
    rows = app.current.by_region
    assert (rows["n_establishments"] < 5).all()  # 30 establishments over 17 regions: every region is small
    assert rows["grant_eur"].isna().all()
    region = app.figures["by_region"]
    for trace in region["data"]:  # the scenario and the reference: no region has a bar, each says why
        assert set(trace["x"]) == {0.0}
        assert set(trace["customdata"]) == {"non diffusé (< 5 établissements)"}
    assert set(region["data"][0]["text"]) == {"non diffusé (< 5 établissements)"}
    assert app.figures["difference"]["data"][0]["text"][3:] == ["non diffusé (< 5 établissements)"] * len(rows)
    # no establishment-level grant appears in any figure
    grants = {round(c / 1e8, 6) for c in app.result.table["grant_cents"] if c > 0}
    numbers = set()
    for fig in app.figures.values():
        for trace in fig["data"]:
            numbers |= {round(v, 6) for v in trace.get("x", []) if isinstance(v, float)}
    assert not grants & numbers
    # histogram bars hold 5 establishments or more; smaller ones are markers without a count
    for trace in app.figures["histogram"]["data"]:
        if trace["type"] == "bar":
            assert all(n >= 5 for n in trace["y"])


def test_key_figures_built_from_one_to_four_establishments_are_hidden(small_table, tmp_path):
    app = WhatIf(small_table, BASELINE, scenarios_dir=tmp_path)
    app.update(statuses=["private_nonprofit"])
    recipients = int((app.result.table["grant_cents"] > 0).sum())
    assert 0 < recipients < 5
    figs = app.key_figures
    assert figs["n_eligible"].suppressed and figs["n_eligible"].text == "< 5"
    assert figs["allocated"].suppressed and figs["allocated"].value is None
    assert figs["unallocated"].suppressed  # envelope − allocated would reveal it
    assert figs["avoided"].suppressed
    rows = {r["key"]: r for r in app.key_figure_rows()}
    assert rows["allocated"]["difference"] == "non diffusé"


@pytest.mark.parametrize("changes", [
    {}, {"eligibility": {"min_share": 0.09}}, {"eligibility": {"statuses": ["private_nonprofit"], "min_share": 0.08}},
    {"allocation": {"rule": "gap", "cap_eur": 300_000}}, {"eligibility": {"min_share": 0.12, "max_share": 0.2}},
])
@pytest.mark.parametrize("which", ["default", "small"])
def test_the_app_cells_are_those_of_the_published_breakdown(table, small_table, changes, which):
    """`grants_by_group` (numpy) shows a cell exactly when `disclosure.breakdown` (the reports) does."""
    data = load_scenario(BASELINE).to_dict()
    for section, values in changes.items():
        data[section].update(values)
    res = allocate(table if which == "default" else small_table, load_scenario(data)).table
    for by, groups in (("region", config.REGIONS), ("status", config.STATUSES)):
        ref = disclosure.breakdown(res, by, groups=groups).rows
        got = whatif_model.grants_by_group(res, by, groups)
        assert got[by].tolist() == ref[by].tolist()
        assert got["suppressed"].tolist() == ref["suppressed"].tolist()
        assert got["n_establishments"].tolist() == ref["n_establishments"].astype(int).tolist()
        assert got["n_eligible"].equals(ref["n_eligible"].astype("Int64"))
        assert got["grant_cents"].equals(ref["grant_cents"])
        assert np.array_equal(got["grant_eur"].to_numpy(float), ref["grant_eur"].to_numpy(float), equal_nan=True)


def test_under_funding_units_cells_of_fewer_than_five_units_are_suppressed():
    """DESIGN.md "Units": the small-cell rule counts units as well as establishments."""
    n = 40
    table = pd.DataFrame({
        "region": ["11"] * 20 + ["24"] * 12 + ["27"] * 8,
        # region 24: 12 establishments but only 3 units; the others one unit per establishment
        "unit": [f"a{i}" for i in range(20)] + ["u1"] * 4 + ["u2"] * 4 + ["u3"] * 4 + [f"c{i}" for i in range(8)],
        "eligible": [True] * n, "grant_cents": [100] * n, "it_budget_eur": [1.0] * n, "cyber_spend_eur": [0.1] * n,
        "beds": [1] * n,
    })
    rows = whatif_model.grants_by_group(table, "region", ["11", "24", "27"])
    assert (rows["suppressed"] == "").all()  # by establishments alone every region is publishable
    out = whatif_model._suppress_units(rows, table, "region", table["unit"])
    by = dict(zip(out["region"], out["suppressed"], strict=True))
    assert by["24"] == "primary"
    assert by["27"] == "secondary"  # the smallest other cell, so that the total does not reveal region 24
    assert by["11"] == ""
    assert out.loc[out["region"] == "24", "grant_eur"].isna().all()


# --------------------------------------------------------------------------------------------------------------
# Save as scenario
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reference,changes", [
    ("baseline", {"min_share": 0.06, "cap_eur": 2_000_000, "statuses": ["public", "private_nonprofit"],
                  "total_eur": 300_000_000.55}),
    ("baseline", {"rule": "tiered", "tiers": ["public", "ose", "private_forprofit"], "tier_amount": "demand",
                  "match_rate": 0.4, "uptake": "full"}),
    ("capped", {"rule": "matching", "max_share": 0.12}),  # the floor of `capped` must be written as 0
], ids=["threshold-cap-statuses", "tiered-uptake", "capped-to-matching"])
def test_a_saved_scenario_reloads_and_reallocates_to_the_cent(table, tmp_path, reference, changes):
    app = WhatIf(table, config.SCENARIOS_DIR / f"{reference}.yaml", scenarios_dir=tmp_path)
    assert app.update(**changes).ok, app.error
    path = app.save("variante_1")
    assert path == tmp_path / "variante_1.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert raw["extends"] == reference and raw["name"] == "variante_1" and raw["description"]
    keys = {f"{s}.{k}" for s, sub in raw.items() if isinstance(sub, dict) for k in sub}
    assert keys == {f"{s}.{k}" for s, sub in app.differences().items() for k in sub}  # only what differs
    loaded = load_scenario(path)
    again = allocate(table, loaded)
    assert again.table["finess"].tolist() == app.result.table["finess"].tolist()
    assert (again.table["grant_cents"].to_numpy() == app.result.table["grant_cents"].to_numpy()).all()
    for key in ("allocated_cents", "unallocated_cents", "n_eligible", "year_totals_cents"):
        assert again.summary[key] == app.result.summary[key]


def test_the_saved_file_names_only_the_changed_keys(app):
    app.update(min_share=0.06)
    text = app.save("seuil_6").read_text(encoding="utf-8")
    assert text.startswith("# ")
    body = yaml.safe_load(text)
    assert body == {"extends": "baseline", "name": "seuil_6", "description": body["description"],
                    "eligibility": {"min_share": 0.06}}
    assert "seuil minimal 6\u202f%" in body["description"]


def test_save_refuses_a_bad_name_an_existing_file_and_the_reference_itself(app, tmp_path):
    app.update(min_share=0.06)
    for bad in ("Seuil 6", "", "../up", "é"):
        with pytest.raises(OptionError, match="Nom invalide"):
            app.save(bad)
    first = app.save("v6")
    with pytest.raises(OptionError, match="existe déjà"):
        app.save("v6")
    app.update(min_share=0.07)
    assert app.save("v6", overwrite=True) == first
    assert load_scenario(first).eligibility.min_share == 0.07
    local = WhatIf(app.table, BASELINE, scenarios_dir=config.SCENARIOS_DIR)
    with pytest.raises(OptionError, match="référence"):
        local.save("baseline", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v6.yaml"]  # no temporary file left behind


@pytest.mark.slow
def test_a_saved_scenario_runs_with_cyberbudget_run_to_the_cent(tmp_path):
    small = synthesize().groupby("region", sort=True).head(12)
    data = write_table(small, tmp_path / "table.csv")
    app = WhatIf.open(data, BASELINE, scenarios_dir=tmp_path)
    assert app.update(min_share=0.055, cap_eur=1_500_000, total_eur=120_000_000).ok
    path = app.save("app_run")
    env = {**os.environ, "CYBERBUDGET_DEBUG": ""}
    proc = subprocess.run([*CLI, "run", str(path), "--data", str(data), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, cwd=config.ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    csv = pd.read_csv(tmp_path / "out" / "app_run" / "allocation.csv", dtype={"finess": str})
    mine = app.result.table.set_index("finess")["grant_cents"]
    assert (csv.set_index("finess")["grant_cents"].reindex(mine.index) == mine).all()
    summary = json.loads((tmp_path / "out" / "app_run" / "summary.json").read_text(encoding="utf-8"))
    assert summary["allocated_cents"] == app.result.summary["allocated_cents"]


# --------------------------------------------------------------------------------------------------------------
# The widgets
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture
def page(app):
    return build_app(app).cb_widgets


def test_the_page_says_what_the_data_is_first(page, table, tmp_path):
    """The default table is synthetic: the page opens with the loud banner, before its title."""
    header = page.root.children[0].value
    assert "DONNÉES SYNTHÉTIQUES" in header and header.index("DONNÉES SYNTHÉTIQUES") < header.index("<h1>")
    assert "scénario «\u00a0baseline\u00a0»" in header and "cyberbudget" in header
    english = build_app(WhatIf(table, BASELINE, scenarios_dir=tmp_path, lang="en")).cb_widgets
    assert "SYNTHETIC DATA" in english.root.children[0].value


def test_moving_the_slider_widget_updates_the_app_and_the_key_figures(page, capsys):
    before = page.app.key_figures["n_eligible"].text
    page.controls["min_share"].value = 0.06
    assert page.app.state["min_share"] == 0.06
    after = page.app.key_figures["n_eligible"].text
    assert after != before
    assert f"data-key='n_eligible'>{after}<" in page.key_figures.value
    assert "6\u202f%" in page.rows["min_share"].children[1].value  # French readout beside the slider


def _drawn(fig) -> str:
    """A figure's JSON as plotly stores it (trace uids left out), for comparing a widget with figure data."""
    import plotly.graph_objects as go

    data = go.Figure(fig).to_plotly_json() if isinstance(fig, dict) else fig.to_plotly_json()
    data["data"] = [{k: v for k, v in t.items() if k != "uid"} for t in data["data"]]
    return json.dumps(data, sort_keys=True, default=str)


def test_the_figure_widgets_are_updated_in_place_to_the_apps_figures(page):
    import plotly.graph_objects as go

    widgets = dict(page.figures)
    assert all(isinstance(w, go.FigureWidget) for w in widgets.values())
    assert [c for c in page.root.children[1].children[1].children if isinstance(c, go.FigureWidget)] == list(
        widgets.values())  # children of the page itself: nothing displayed inside an Output widget
    for change in ({"min_share": 0.06}, {"rule": "gap"}, {"statuses": ["public"]}, {"rule": "tiered"},
                   {"uptake": "full"}, {"rule": "proportional"}):
        name, value = next(iter(change.items()))
        if name == "statuses":
            for code, box in page.status_boxes.items():
                box.value = code in value
        else:
            page.controls[name].value = value
        assert page.figures == widgets  # the same widgets, updated
        for key, widget in widgets.items():
            assert _drawn(widget) == _drawn(page.app.figures[key]), (change, key)
    assert widgets["histogram"].layout.shapes[0].x0 == 6.0


def test_status_boxes_rule_dropdown_and_cap_reach_the_scenario(page):
    page.status_boxes["private_forprofit"].value = False
    assert page.app.scenario.eligibility.statuses == ("public", "private_nonprofit")
    page.controls["rule"].value = "gap"
    assert page.app.scenario.allocation.rule == "gap"
    assert page.rows["target_share"].layout.display == "" and page.rows["match_rate"].layout.display == "none"
    assert page.controls["floor_eur"].disabled
    page.controls["cap_eur"].value = 1_000_000
    assert page.app.scenario.allocation.cap_eur is None  # the cap box is not ticked
    page.cap_on.value = True
    assert page.app.scenario.allocation.cap_eur == 1_000_000
    page.controls["total_eur"].value = 100.25
    assert page.app.scenario.envelope.total_eur == 100_250_000


def test_tier_order_widget_uses_french_labels_and_sends_codes(page):
    page.controls["rule"].value = "tiered"
    page.controls["tiers"].value = ["Public", "OSE", "Privé lucratif"]
    assert page.app.scenario.allocation.tiers == ("public", "ose", "private_forprofit")


def test_an_invalid_combination_shows_the_message_on_the_page(page):
    page.controls["min_share"].value = 0.2
    assert "Scénario invalide" in page.status.value and "max_share" in page.status.value


def test_reference_dropdown_and_save_button(page, tmp_path):
    shutil.copy(config.SCENARIOS_DIR / "capped.yaml", tmp_path / "capped.yaml")
    shutil.copy(BASELINE, tmp_path / "baseline.yaml")
    page.reference.options = page.app.references
    page.reference.value = "capped"
    assert page.app.reference_name == "capped"
    assert page.controls["floor_eur"].value == 20_000 and page.cap_on.value
    page.controls["min_share"].value = 0.06
    page.save_name.value = "mon essai"
    page.save_button.click()
    assert "Nom invalide" in page.save_message.value
    page.save_name.value = "mon_essai"
    page.save_button.click()
    assert "mon_essai.yaml" in page.save_message.value
    assert "mon_essai" in page.reference.options
    assert yaml.safe_load((tmp_path / "mon_essai.yaml").read_text(encoding="utf-8"))["extends"] == "capped"
    page.save_button.click()
    assert "existe déjà" in page.save_message.value


def test_every_word_the_app_uses_is_in_the_catalogue_in_both_languages():
    """The app's words live in the catalogue (``app.*``): each key its modules look up has both languages."""
    from cyberbudget.reports import i18n
    from cyberbudget.reports.whatif import model as model_mod

    folder = Path(model_mod.__file__).parent
    used = set()
    for path in folder.glob("*.py"):
        used |= set(re.findall(r"""(?:\bword\([^,()]+,\s*|\bt\()["']([a-z_]+)["']""", path.read_text(encoding="utf-8")))
    assert len(used) > 40
    for lang in ("fr", "en"):
        assert {k for k in used if not i18n.has(f"app.{k}", lang)} == set(), lang
    assert not hasattr(importlib.import_module("cyberbudget.reports.whatif.words"), "WORDS")  # no second catalogue


def test_the_app_speaks_english_when_asked(table, tmp_path):
    app = WhatIf(table, BASELINE, scenarios_dir=tmp_path, lang="en")
    assert app.key_figures["allocated"].text == "350,000,000 €"
    assert "below the 5 % threshold" in app.figures["histogram"]["layout"]["title"]["text"]


# --------------------------------------------------------------------------------------------------------------
# The notebook and the command
# --------------------------------------------------------------------------------------------------------------


def test_the_notebook_is_thin_committed_without_outputs_with_a_parameters_cell():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].metadata.get("tags") == ["parameters"]
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            assert len(cell.source.splitlines()) <= 12
            assert "import pandas" not in cell.source and "plotly" not in cell.source
    import papermill

    params = papermill.inspect_notebook(str(NOTEBOOK))
    assert {k: v["inferred_type_name"] for k, v in params.items()} == {
        "data_path": "str", "reference": "str", "lang": "str"}


@pytest.mark.slow
def test_the_notebook_executes_and_reads_the_table_from_the_environment(tmp_path):
    """As Voilà runs it: a kernel executes the cells with DATA_ENV set by `cyberbudget app --data`."""
    from nbclient import NotebookClient

    small = synthesize().groupby("region", sort=True).head(8)
    data = write_table(small, tmp_path / "table.csv")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("print(len(app.table), app.key_figures['n_eligible'].text)"))
    old = os.environ.get(DATA_ENV)
    os.environ[DATA_ENV] = str(data)
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    finally:
        if old is None:
            os.environ.pop(DATA_ENV, None)
        else:
            os.environ[DATA_ENV] = old
    widget = nb.cells[1].outputs[-1]["data"]
    assert "application/vnd.jupyter.widget-view+json" in widget
    printed = nb.cells[-1].outputs[0]["text"].split()
    assert printed[0] == str(len(small))


def test_plotly_widget_module_is_served_by_the_app_and_imported_by_url(monkeypatch):
    import plotly.graph_objects as go

    from cyberbudget.reports.whatif import widgets

    with server.served_widget_module(9999) as (folder, url):
        served = folder / "voila" / "templates" / "cyberbudget" / "static" / url.rsplit("/", 1)[1]
        assert served.read_bytes() == server.plotly_widget_module().read_bytes()
        assert url.startswith("http://127.0.0.1:9999/voila/static/plotly-widget-") and url.endswith(".js")
        env = server.voila_environment(None, base={}, widget_module=(folder, url))
        assert env["JUPYTER_PATH"].split(os.pathsep) == [str(server.JUPYTER_DIR), str(folder)]
        assert env[server.PLOTLY_ESM_ENV] == url
    assert not folder.exists()
    monkeypatch.setenv(server.PLOTLY_ESM_ENV, url)
    cls = widgets.figure_class()
    assert issubclass(cls, go.FigureWidget) and cls is not go.FigureWidget
    fw = widgets.new_figure({"data": [{"type": "bar", "x": [1], "y": ["a"]}]})
    assert fw._esm == url  # the page imports it by URL: no 5 MB of JavaScript in the widget's state
    monkeypatch.setenv(server.PLOTLY_ESM_ENV, "https://cdn.example.org/plotly.js")  # only this machine's app
    assert widgets.figure_class() is go.FigureWidget
    monkeypatch.delenv(server.PLOTLY_ESM_ENV)
    assert widgets.figure_class() is go.FigureWidget


def test_the_voila_command_listens_on_localhost_only_with_the_offline_template():
    cmd = voila_command(9999)
    assert "--Voila.ip=127.0.0.1" in cmd and "--port=9999" in cmd and "--Voila.port_retries=0" in cmd
    assert "--template=cyberbudget" in cmd and "--no-browser" in cmd
    assert "--VoilaConfiguration.strip_sources=True" in cmd
    env = server.voila_environment("x.csv", base={"JUPYTER_PATH": "/elsewhere"})
    assert env["JUPYTER_PATH"].split(os.pathsep) == [str(server.JUPYTER_DIR), "/elsewhere"]
    assert env[DATA_ENV] == str(Path("x.csv").resolve())
    template = (server.JUPYTER_DIR / "voila" / "templates" / "cyberbudget" / "index.html.j2").read_text("utf-8")
    assert not re.search(r"(src|href)=\"https?://", template)


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CYBERBUDGET_DEBUG": ""}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, cwd=config.ROOT, timeout=timeout)


def test_a_bad_table_exits_2_with_one_message_before_the_server_starts(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("finess,name\n123,x\n", encoding="utf-8")
    proc = _cli("app", "--data", str(bad), "--port", str(_free_port()))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.startswith(f"error: {bad}") and "column region" in proc.stderr
    assert "what-if app" not in proc.stdout  # the server never started
    missing = _cli("app", "--data", str(tmp_path / "none.csv"))
    assert missing.returncode == 2 and "establishment table not found" in missing.stderr


def test_a_taken_port_exits_2(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        proc = _cli("app", "--port", str(s.getsockname()[1]))
    assert proc.returncode == 2 and "choose another port" in proc.stderr
    assert _cli("app", "--port", "70000").returncode == 2


# --------------------------------------------------------------------------------------------------------------
# In a real browser
# --------------------------------------------------------------------------------------------------------------

#: What the app's page may request: its own server (HTTP and the kernel's websocket), nothing else.
APP_URLS = ("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:", "about:")
#: Page loads of the browser test: 1; set CYBERBUDGET_APP_LOADS=20 to check that the page always finishes loading
#: (each load is a new kernel executing the notebook, as every visitor's).
LOADS = int(os.environ.get("CYBERBUDGET_APP_LOADS", "1"))
#: The histogram's plot element: a FigureWidget's own element is plotly's graph div.
HISTOGRAM_JS = "() => document.querySelector('.cb-figure-histogram.js-plotly-plot').layout.shapes[0].x0"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.browser
def test_in_chromium_the_threshold_slider_changes_the_eligible_count_offline(table, tmp_path, browser):
    expected = WhatIf(table, BASELINE, scenarios_dir=tmp_path)
    at_5 = expected.key_figures["n_eligible"].text
    expected.update(min_share=0.055)
    at_55 = expected.key_figures["n_eligible"].text
    assert at_5 != at_55

    port = _free_port()
    env = {**os.environ, "CYBERBUDGET_DEBUG": ""}
    log = (tmp_path / "app.err").open("w", encoding="utf-8")  # Voilà's messages (a pipe left unread could fill)
    proc = subprocess.Popen([*CLI, "app", "--port", str(port)], stdout=subprocess.PIPE, stderr=log,
                            text=True, env=env, cwd=config.ROOT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    family: set[int] = set()
    try:
        line = ""
        deadline = time.monotonic() + 120
        while "what-if app:" not in line and time.monotonic() < deadline and proc.poll() is None:
            line = proc.stdout.readline()
        assert url in line, (line, proc.poll())

        with urllib.request.urlopen(url, timeout=120) as response:  # the root URL itself, no redirect
            assert response.status == 200 and response.geturl() == url
            page_html = response.read().decode("utf-8")
        external = [u for u in re.findall(r"(?:src|href)=[\"'](https?://[^\"']+)", page_html)
                    if not u.startswith("http://127.0.0.1")]
        assert external == []
        assert "import os" not in page_html and "whatif.WhatIf.open" not in page_html  # no code on the page

        outside, sockets, errors = [], [], []
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            for load in range(LOADS):
                page = context.new_page()
                requests = guard_page(page, APP_URLS)
                page.on("websocket", lambda ws: sockets.append(ws.url))
                page.goto(url, wait_until="load", timeout=120_000)
                cell = page.locator("td.cb-current[data-key='n_eligible']")
                cell.wait_for(timeout=120_000)
                for name in ("histogram", "by_region", "by_status", "difference"):  # four FigureWidgets drawn
                    page.wait_for_selector(f".cb-figure-{name}.js-plotly-plot .main-svg", timeout=60_000)
                assert cell.inner_text() == at_5, f"load {load + 1}"
                assert page.evaluate(HISTOGRAM_JS) == 5.0  # the corridor's lower line, in the figure itself
                family |= {proc.pid, *descendants(proc.pid)}  # the CLI, Voilà and the page's kernel
                handle = page.locator(".cb-control-min_share .noUi-handle")
                handle.focus()
                page.keyboard.press("ArrowRight")  # one step: 5 % → 5,5 %
                page.wait_for_function(
                    "t => document.querySelector(\"td.cb-current[data-key='n_eligible']\").innerText !== t",
                    arg=at_5, timeout=60_000)
                assert cell.inner_text() == at_55
                assert "5,5" in page.locator(".cb-readout-min_share").inner_text()
                # the figure was updated in place (batch_update → one plotly update message), not redrawn
                page.wait_for_function(f"() => ({HISTOGRAM_JS.removeprefix('() => ')}) === 5.5", timeout=60_000)
                # plotly's widget module came once, from the app's own server (routing turns the HTTP cache off)
                served = [u for u in requests.allowed if "/voila/static/plotly-widget-" in u]
                assert len(served) == 1 and served[0].startswith(f"http://127.0.0.1:{port}/"), served
                outside += requests.outside
                errors += requests.errors
                page.close()
        finally:
            context.close()
        assert outside == []
        assert sockets and all(s.startswith(f"ws://127.0.0.1:{port}/") for s in sockets)
        assert errors == []
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        finally:
            log.close()
    err = (tmp_path / "app.err").read_text(encoding="utf-8")
    assert proc.returncode == 0, err
    tracebacks = err.split("Traceback")[1:]
    if LOADS > 1:  # pages closed mid-stream: tornado logs the closed websocket it was still writing to
        tracebacks = [tb for tb in tracebacks if "StreamClosedError" not in tb and "WebSocketClosedError" not in tb]
    assert "stopped" in out and tracebacks == [], err
    assert len(family) >= 3, family  # the CLI, Voilà and at least one kernel were running
    time.sleep(0.5)
    assert [pid for pid in family if running(pid)] == []  # no orphan kernel


def test_grants_per_group_sum_to_the_visible_total(app):
    """Sanity of the figure data: visible region bars never exceed what was allocated."""
    app.update(statuses=["public"])
    bars = _bars(app.figures["by_region"])
    assert sum(bars.values()) * 1e6 <= app.result.summary["allocated_cents"] / 100 + 1
    assert np.isclose(sum(bars.values()) * 1e6,
                      app.current.by_region["grant_eur"].sum(skipna=True))
