"""Where a report's inputs are looked for: a relative scenario path from the working directory first, then the
project root, then `scenarios/<name>.yaml` for a bare name; an input found nowhere says where it was looked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyberbudget import config
from cyberbudget.errors import InputError, OptionError, ScenarioError, TableError
from cyberbudget.reports.inputs import (
    Inputs,
    load_inputs,
    resolve_scenario_path,
    resolve_table_path,
    resolve_template,
    template_names,
)


def test_a_relative_path_is_found_from_the_working_directory_first(tmp_path, monkeypatch):
    (tmp_path / "scenarios").mkdir()
    mine = tmp_path / "scenarios" / "baseline.yaml"  # shadows the project's scenarios/baseline.yaml
    mine.write_text("name: mine\nenvelope: {total_eur: 1000}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert resolve_scenario_path("scenarios/baseline.yaml") == mine.resolve()


def test_a_relative_path_missing_here_is_found_from_the_project_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_scenario_path("scenarios/capped.yaml") == (config.ROOT / "scenarios" / "capped.yaml").resolve()


@pytest.mark.parametrize("name", ["ose_first", "ose_first.yaml"])
def test_a_bare_name_is_finally_looked_up_in_scenarios(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    assert resolve_scenario_path(name) == config.SCENARIOS_DIR / "ose_first.yaml"


def test_a_bare_name_in_the_working_directory_wins_over_scenarios(tmp_path, monkeypatch):
    (tmp_path / "baseline.yaml").write_text("name: here\nenvelope: {total_eur: 1}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert resolve_scenario_path("baseline.yaml") == (tmp_path / "baseline.yaml").resolve()


def test_an_absolute_path_is_taken_as_it_is(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nenvelope: {total_eur: 1}\n", encoding="utf-8")
    assert resolve_scenario_path(path) == path.resolve()
    with pytest.raises(ScenarioError) as info:
        resolve_scenario_path(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(info.value)


def test_a_missing_scenario_says_every_place_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as info:
        resolve_scenario_path("no_such_scenario")
    message = str(info.value)
    for place in (tmp_path / "no_such_scenario", config.ROOT / "no_such_scenario",
                  config.SCENARIOS_DIR / "no_such_scenario.yaml"):
        assert str(place) in message
    assert isinstance(info.value, InputError)  # the command line exits 2


def test_a_relative_table_path_resolves_like_a_scenario_and_none_is_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_table_path(None) == resolve_table_path("") == config.DEFAULT_TABLE
    rel = config.DEFAULT_TABLE.relative_to(config.ROOT)
    assert resolve_table_path(rel) == config.DEFAULT_TABLE.resolve()
    with pytest.raises(TableError, match="looked in"):
        resolve_table_path("missing.csv")


def test_templates_by_name_or_path_and_an_unknown_one_lists_the_names(tmp_path):
    assert resolve_template("risk_report") == config.TEMPLATES_DIR / "risk_report.ipynb"
    assert resolve_template(config.TEMPLATES_DIR / "uncertainty.ipynb") == config.TEMPLATES_DIR / "uncertainty.ipynb"
    assert {"allocation_report", "risk_report", "uncertainty", "sensitivity"} <= set(template_names())
    with pytest.raises(OptionError) as info:
        resolve_template("risk_reprot")
    assert "risk_report" in str(info.value) and "risk_reprot" in str(info.value)


def test_load_inputs_reports_a_bad_scenario_and_a_bad_table_together(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nenvelope: {total_eur: -1}\n", encoding="utf-8")
    table = tmp_path / "t.csv"
    table.write_text("finess,name\n12,x\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_inputs(bad, table)
    message = str(info.value)
    assert "bad.yaml" in message and "envelope.total_eur" in message and "t.csv" in message


def test_load_inputs_gives_the_validated_scenario_and_table_with_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs = load_inputs("capped")
    assert isinstance(inputs, Inputs)
    assert inputs.scenario.name == "capped" and inputs.scenario.allocation.cap_eur == 2_000_000
    assert inputs.scenario_path == config.SCENARIOS_DIR / "capped.yaml"
    assert inputs.data_path == config.DEFAULT_TABLE and len(inputs.table) > 1000
    assert all(Path(p).is_absolute() for p in (inputs.scenario_path, inputs.data_path))
