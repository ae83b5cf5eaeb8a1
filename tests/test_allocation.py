"""Allocation rules, specified by hand-computed cases (tests/cases/*.yaml), then by targeted checks.

Each case file holds the table rows (only the columns that matter; the others take neutral defaults), the
scenario (over a minimal one) and the expected cents per finess, unallocated cents, and optionally the years,
reasons (substrings) and induced spend. The arithmetic is written out in each file's description.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cyberbudget import errors
from cyberbudget.policy.allocation import allocate, hamilton, register_rule, registered_rules, split_years
from cyberbudget.policy.scenario import deep_merge, load_scenario

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))

DEFAULT_ROW = {
    "name": "Établissement", "region": "11", "department": "75", "status": "public", "category": "ch",
    "ght": "", "ght_support": False, "ose": False, "beds": 100, "places": 10,
    "operating_budget_eur": 1e9, "imputed": "", "had_places": 0, "medico_social": False,
}


def make_table(rows: list[dict], first_finess: int = 10_000_000) -> pd.DataFrame:
    """A DESIGN.md establishment table from partial rows (neutral defaults for the other columns); finess
    numbered from ``first_finess`` unless a row gives its own."""
    out = []
    for i, r in enumerate(rows):
        row = dict(DEFAULT_ROW)
        row["finess"] = f"{first_finess + i:09d}"
        row.update(r)
        out.append(row)
    df = pd.DataFrame(out)
    for c in ("it_budget_eur", "cyber_spend_eur", "operating_budget_eur"):
        df[c] = df[c].astype(np.float64)
    return df


def case_scenario(spec: dict) -> dict:
    return deep_merge({"name": "case"}, spec)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_hand_computed_case(path: Path) -> None:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    table = make_table(case["rows"])
    scenario = load_scenario(case_scenario(case["scenario"]))
    expected = case["expected"]
    if "error" in expected:
        with pytest.raises(getattr(errors, expected["error"])):
            allocate(table, scenario)
        return
    result = allocate(table, scenario)
    got = dict(zip(result.table["finess"], result.table["grant_cents"].tolist(), strict=True))
    assert got == expected["grants"]
    assert result.summary["unallocated_cents"] == expected["unallocated_cents"]
    assert result.summary["allocated_cents"] + result.summary["unallocated_cents"] == result.summary["envelope_cents"]
    for finess, flag in expected.get("eligible", {}).items():
        assert bool(result.table.set_index("finess").loc[finess, "eligible"]) is flag
    for finess, text in expected.get("reasons", {}).items():
        assert text in result.table.set_index("finess").loc[finess, "reason"]
    for finess, years in expected.get("by_year", {}).items():
        assert result.by_year.loc[finess].tolist() == years
    if "year_totals_cents" in expected:
        assert result.summary["year_totals_cents"] == expected["year_totals_cents"]
    if "induced_spend_eur" in expected:
        assert result.summary["induced_spend_eur"] == pytest.approx(expected["induced_spend_eur"])


def test_result_table_is_sorted_by_finess_with_the_contract_columns() -> None:
    table = make_table([{"finess": f, "it_budget_eur": 1000, "cyber_spend_eur": 60} for f in ("3", "1", "2")])
    table["finess"] = ["030000003", "010000001", "020000002"]
    r = allocate(table, load_scenario({"name": "x", "envelope": {"total_eur": 10}}))
    assert r.table["finess"].tolist() == ["010000001", "020000002", "030000003"]
    assert list(r.table.columns[:5]) == ["finess", "eligible", "grant_cents", "grant_eur", "reason"]
    assert r.table["grant_cents"].dtype == np.int64
    assert (r.table["grant_eur"] * 100).round().astype(np.int64).tolist() == r.table["grant_cents"].tolist()
    assert r.by_year.index.tolist() == r.table["finess"].tolist()
    assert (r.by_year.dtypes == np.int64).all()


def test_summary_is_json_and_has_the_breakdowns() -> None:
    rows = [{"it_budget_eur": 1000 * (i + 1), "cyber_spend_eur": 60 * (i + 1), "region": reg, "status": st,
             "ght": "IDF-01" if i % 2 else ""}
            for i, (reg, st) in enumerate([("11", "public"), ("84", "public"), ("84", "private_forprofit")])]
    r = allocate(make_table(rows), load_scenario({"name": "x", "envelope": {"total_eur": 600}}))
    s = json.loads(json.dumps(r.summary))
    for key in ("envelope_cents", "allocated_cents", "unallocated_cents", "n_establishments", "n_eligible",
                "by_region", "by_status", "by_category", "by_ght", "n_years", "induced_spend_eur"):
        assert key in s
    assert s["by_region"]["84"]["grant_cents"] == 20000 + 30000  # 600 € pro rata 1:2:3
    assert sum(v["grant_cents"] for v in s["by_status"].values()) == s["allocated_cents"]
    assert set(s["by_ght"]) == {"IDF-01", "no_ght"}
    assert s["rule_details"]["lambda"] == pytest.approx(600 * 100 / 6000)


def test_explain_shows_the_whole_computation() -> None:
    table = make_table([{"it_budget_eur": 1000, "cyber_spend_eur": 60}, {"it_budget_eur": 2000, "cyber_spend_eur": 120},
                        {"it_budget_eur": 2000, "cyber_spend_eur": 10}])
    r = allocate(table, load_scenario({"name": "x", "envelope": {"total_eur": 100}}))
    text = r.explain("010000000")
    for part in ("share 6 %", "λ =", "Exact amount: 3,333.333333 cents", "Hamilton", "remainder 0.333333",
                 "Grant: 33.33 €", "By year: 2021"):
        assert part in text, part
    assert "not eligible" in r.explain("010000002")
    with pytest.raises(KeyError):
        r.explain("999999999")


def test_optimal_is_reached_through_the_rule_registry_without_allocation_importing_the_risk_side() -> None:
    import ast
    import inspect

    from cyberbudget.policy import allocation

    tree = ast.parse(inspect.getsource(allocation))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {"cyberbudget.risk.model", "cyberbudget.risk.optimal"} & imported
    assert "optimal" in registered_rules()
    s = load_scenario({"name": "x", "envelope": {"total_eur": 1}, "allocation": {"rule": "optimal"}})
    r = allocate(make_table([{"it_budget_eur": 1000, "cyber_spend_eur": 60}]), s)
    assert int(r.table["grant_cents"].sum()) + r.summary["unallocated_cents"] == 100


def test_registered_rule_goes_through_the_common_rounding() -> None:
    def thirds(table, eligible, scenario, envelope_cents, n_years):
        from cyberbudget.policy.allocation import RuleOutput

        exact = np.where(eligible, envelope_cents / eligible.sum(), 0.0)
        return RuleOutput(exact, np.full(len(table), np.inf), {"kind": "equal"})

    register_rule("equal_test", thirds, replace=True)
    table = make_table([{"it_budget_eur": 1000, "cyber_spend_eur": 60}] * 3)
    table["finess"] = ["010000003", "010000002", "010000001"]
    r = allocate(table, load_scenario({"name": "x", "envelope": {"total_eur": 1}, "allocation": {"rule": "equal_test"}}))
    assert r.table["grant_cents"].tolist() == [34, 33, 33]
    assert r.summary["rule_details"] == {"kind": "equal"}


def test_hamilton_ties_by_key_and_split_years_integer() -> None:
    assert hamilton(np.array([0.5, 0.5, 0.0]), 1, keys=np.array(["b", "a", "c"])).tolist() == [0, 1, 0]
    from fractions import Fraction

    assert split_years(np.array([7]), [Fraction(1, 2), Fraction(1, 2)]).tolist() == [[4, 3]]
    huge = np.array([2**61 + 1])
    assert split_years(huge, [Fraction(1, 3)] * 3).sum() == 2**61 + 1


def test_bad_base_column_is_an_allocation_error() -> None:
    s = load_scenario({"name": "x", "envelope": {"total_eur": 1}, "allocation": {"base": "nope"}})
    with pytest.raises(errors.AllocationError, match="nope"):
        allocate(make_table([{"it_budget_eur": 1000, "cyber_spend_eur": 60}]), s)


def test_base_beds_and_zero_weight_rows() -> None:
    table = make_table([{"it_budget_eur": 1000, "cyber_spend_eur": 60, "beds": 0},
                        {"it_budget_eur": 1000, "cyber_spend_eur": 60, "beds": 30}])
    r = allocate(table, load_scenario({"name": "x", "envelope": {"total_eur": 10}, "allocation": {"base": "beds"}}))
    assert r.table["grant_cents"].tolist() == [0, 1000]
    assert r.table["reason"][0] == "nothing: beds = 0"


def test_logistic_uptake_converges_and_reports_iterations() -> None:
    rows = [{"it_budget_eur": 1000, "cyber_spend_eur": 60}] + [
        {"it_budget_eur": 1000, "cyber_spend_eur": 40 + i} for i in range(5)]
    s = load_scenario({"name": "x", "envelope": {"total_eur": 500, "years": [2021]},
                       "uptake": {"model": "logistic", "slope": 1.5}})
    r = allocate(make_table(rows), s)
    up = r.summary["uptake"]
    assert up["converged"] and up["iterations"] > 1
    assert 0 < up["expected_compliers"] <= 5
    again = allocate(make_table(rows), s)
    assert again.table["grant_cents"].tolist() == r.table["grant_cents"].tolist()
