"""Scenario diff: parameter differences by key path (names and descriptions left out), result differences, the change
in eligibility split by cause, text and JSON forms."""

from __future__ import annotations

import json

import pandas as pd

from cyberbudget.policy.diff import CHANGE_CAUSES, diff, parameter_differences, show_value
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
    assert "envelope.total_eur" not in keys


def test_name_description_and_extends_are_not_parameter_differences(tmp_path) -> None:
    """They say which scenario it is, not what it does (the diff of a scenario and its extension listed its name)."""
    base = tmp_path / "a.yaml"
    base.write_text("name: a\ndescription: first\nenvelope:\n  total_eur: 500\n", encoding="utf-8")
    child = tmp_path / "b.yaml"
    child.write_text("name: b\nextends: a.yaml\ndescription: second\nallocation:\n  cap_eur: 300\n", encoding="utf-8")
    keys = [x["key"] for x in parameter_differences(load_scenario(base), load_scenario(child))]
    assert keys == ["allocation.cap_eur"]


def test_values_are_shown_as_written_in_a_scenario_file() -> None:
    assert show_value(["public", "private_nonprofit"]) == "[public, private_nonprofit]"
    assert show_value(("public",)) == "[public]" and show_value(None) == "null" and show_value(False) == "false"
    text = diff(load_scenario(A), load_scenario(B), table()).to_text()
    assert "[public, private_nonprofit, private_forprofit]  →  [public]" in text


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
    assert d.parameters == [] and d.n_changed == 0 and not d.gainers
    assert d.eligibility == {"lost": dict.fromkeys(CHANGE_CAUSES, 0), "gained": dict.fromkeys(CHANGE_CAUSES, 0)}


def _causes_table() -> pd.DataFrame:
    """Six establishments: a public one at 6 %, at 4 %, at 12 %, without IT budget; private ones at 6 % and 12 %."""
    return pd.DataFrame({
        "finess": [f"01000000{i}" for i in range(1, 7)], "name": list("ABCDEF"), "region": "84", "department": "01",
        "status": ["public"] * 4 + ["private_forprofit"] * 2, "category": "ch", "ght": "", "ght_support": False,
        "ose": False, "beds": 1, "places": 0, "operating_budget_eur": 1e8,
        "it_budget_eur": [1000.0, 1000.0, 1000.0, 0.0, 1000.0, 1000.0],
        "cyber_spend_eur": [60.0, 40.0, 120.0, 0.0, 60.0, 120.0], "imputed": "",
    })


def test_the_change_in_eligibility_is_split_by_the_first_test_failed() -> None:
    a = {"name": "a", "envelope": {"total_eur": 600, "years": [2021]}, "eligibility": {"min_share": 0.03}}
    b = {"name": "b", "envelope": {"total_eur": 600, "years": [2021]},
         "eligibility": {"min_share": 0.05, "exclude_above_max": True, "statuses": ["public"]}}
    d = diff(load_scenario(a), load_scenario(b), _causes_table())
    # eligible in A: all but D (no IT budget). In B: only A (6 %, public). Lost: B at 4 % (threshold), C at 12 %
    # (ceiling), E private at 6 % (status), F private at 12 % (ceiling comes first).
    assert d.eligibility["lost"] == {"no_it_budget": 0, "threshold": 1, "ceiling": 2, "status": 1,
                                     "medico_social": 0, "other": 0}
    assert sum(d.eligibility["gained"].values()) == 0
    assert d.totals["n_eligible"]["delta"] == -sum(d.eligibility["lost"].values())
    back = diff(load_scenario(b), load_scenario(a), _causes_table())
    assert back.eligibility["gained"] == d.eligibility["lost"]  # the reverse: A's tests explain B's new eligibles
    text = d.to_text()
    assert "Eligibility changes by cause" in text and "threshold 1, ceiling 2, status 1" in text
    json.dumps(d.to_dict())
