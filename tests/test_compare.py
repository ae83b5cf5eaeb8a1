"""Scenario diff: parameter differences by key path, result differences, text and JSON forms."""

from __future__ import annotations

import json

import pandas as pd

from cyberbudget.policy.diff import diff, parameter_differences
from cyberbudget.policy.scenario import load_scenario


def table() -> pd.DataFrame:
    return pd.DataFrame({
        "finess": ["010000001", "010000002", "010000003"], "name": ["A", "B", "C"],
        "region": ["11", "84", "84"], "department": "75",
        "status": ["public", "public", "private_forprofit"], "category": ["chu", "ch", "mco"],
        "ght": "", "ght_support": False, "ose": False, "beds": 1, "places": 0, "operating_budget_eur": 1e8,
        "it_budget_eur": [1000.0, 3000.0, 1000.0], "cyber_spend_eur": [60.0, 180.0, 60.0], "imputed": "",
    })


A = {"name": "a", "envelope": {"total_eur": 500, "years": [2021]}}
B = {"name": "b", "envelope": {"total_eur": 500, "years": [2021]}, "eligibility": {"statuses": ["public"]},
     "allocation": {"cap_eur": 300}}


def test_parameter_differences_by_key_path() -> None:
    d = parameter_differences(load_scenario(A), load_scenario(B))
    keys = {x["key"]: (x["a"], x["b"]) for x in d}
    assert keys["allocation.cap_eur"] == (None, 300)
    assert keys["eligibility.statuses"] == (["public", "private_nonprofit", "private_forprofit"], ["public"])
    assert keys["name"] == ("a", "b")
    assert "envelope.total_eur" not in keys


def test_result_differences_to_the_cent() -> None:
    # A: 500 € pro rata 1:3:1 → 100 / 300 / 100 €. B: public only, cap 300 € → 125 / 300 → wait: 500 pro rata
    # 1:3 = 125 / 375, capped at 300, the 75 € go to A: 200 / 300 / 0 €.
    d = diff(load_scenario(A), load_scenario(B), table())
    assert [(g["finess"], g["delta_cents"]) for g in d.gainers] == [("010000001", 10000)]
    assert [(g["finess"], g["delta_cents"]) for g in d.losers] == [("010000003", -10000)]
    assert d.totals["n_eligible"] == {"a": 3, "b": 2, "delta": -1}
    assert d.totals["unallocated_cents"]["b"] == 0
    status = {r["group"]: r["delta_cents"] for r in d.by_status}
    assert status == {"public": 10000, "private_forprofit": -10000}
    region = {r["group"]: (r["a_cents"], r["b_cents"]) for r in d.by_region}
    assert region == {"11": (10000, 20000), "84": (40000, 30000)}
    assert d.n_changed == 2
    json.dumps(d.to_dict())
    text = d.to_text()
    assert "allocation.cap_eur" in text and "null  →  300" in text
    assert "Largest gains" in text and "010000001" in text and "+100.00 €" in text


def test_identical_scenarios() -> None:
    d = diff(load_scenario(A), load_scenario({**A, "name": "a2", "description": "same"}), table())
    assert [p["key"] for p in d.parameters] == ["name"] and d.n_changed == 0 and not d.gainers
