"""The deterministic files (`allocation.csv`, `summary.json`) and the typed steps that produce them, on the
hand-made 30-establishment table of conftest.py."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import typing
from pathlib import Path

import pandas as pd
import pytest

from cyberbudget import config, reports
from cyberbudget.policy import AllocationResult, Scenario
from cyberbudget.policy.audits import AuditPlan
from cyberbudget.policy.scenario import load_scenario
from cyberbudget.reports.computed import Computed, compute_from
from cyberbudget.reports.inputs import Inputs
from cyberbudget.reports.outputs import CSV_LEADING, write_allocation_csv, write_summary_json


def computed_for(table: pd.DataFrame, **overrides: typing.Any) -> Computed:
    spec = {"name": "t", "extends": str(config.SCENARIOS_DIR / "baseline.yaml"), **overrides}
    return compute_from(Inputs(load_scenario(spec), table, Path("s.yaml").absolute(), Path("t.csv").absolute()))


def header(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n", 1)[0].split(",")


def test_computed_has_typed_fields():
    hints = typing.get_type_hints(Computed)
    assert hints["scenario"] is Scenario and hints["result"] is AllocationResult
    assert hints["table"] is pd.DataFrame and hints["audits"] == AuditPlan | None
    assert hints["scenario_path"] is Path and hints["data_path"] is Path


def test_the_audit_plan_is_computed_only_with_an_audit_envelope(small_table, tmp_path):
    with_plan = computed_for(small_table)
    assert isinstance(with_plan.audits, AuditPlan) and with_plan.audits_note == ""
    without = computed_for(small_table, audits={"envelope_eur": 0})
    assert without.audits is None and "audits.envelope_eur" in without.audits_note
    a = json.loads(write_summary_json(with_plan, tmp_path / "a.json").read_text(encoding="utf-8"))
    b = json.loads(write_summary_json(without, tmp_path / "b.json").read_text(encoding="utf-8"))
    assert a["audits"]["envelope_cents"] == 25_000_000_00 and "audits" not in b
    assert a["allocated_cents"] == with_plan.allocated_cents == sum(with_plan.result.table["grant_cents"])


def test_allocation_csv_writes_the_unit_column_right_after_reason(small_table, tmp_path):
    c = computed_for(small_table)
    t = c.result.table.drop(columns=["unit"], errors="ignore")
    units = ["GHT-" + g if g else "EJ-" + f for f, g in zip(t["finess"], t["ght"], strict=True)]
    with_units = dataclasses.replace(c.result, table=t.assign(unit=units))  # the unit column comes last here
    path = write_allocation_csv(with_units, tmp_path / "allocation.csv")
    cols = header(path)
    assert cols[:6] == [*CSV_LEADING, "unit"] and cols.count("unit") == 1
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert {r["finess"]: r["unit"] for r in rows} == dict(zip(t["finess"], units, strict=True))


def test_allocation_csv_without_a_unit_column_keeps_the_design_columns(small_table, tmp_path):
    c = computed_for(small_table)
    plain = dataclasses.replace(c.result, table=c.result.table.drop(columns=["unit"], errors="ignore"))
    cols = header(write_allocation_csv(plain, tmp_path / "allocation.csv"))
    assert cols[:5] == list(CSV_LEADING) and "unit" not in cols
    years = [col for col in cols if col.startswith("grant_cents_")]
    assert years == [f"grant_cents_{y}" for y in range(2021, 2026)]


def test_the_public_api_names_resolve_to_their_modules():
    for name in reports.__all__:
        obj = getattr(reports, name)
        assert obj.__module__.startswith("cyberbudget.reports."), name
    with pytest.raises(AttributeError):
        reports.no_such_name  # noqa: B018 - the attribute access is the test
