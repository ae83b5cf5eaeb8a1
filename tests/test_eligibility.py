"""The 5–10 % corridor, the OSE obligation and the behavioural uptake."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cyberbudget.errors import ConvergenceError, ScenarioError
from cyberbudget.policy.eligibility import assess, corridor, raised_spend
from cyberbudget.policy.scenario import load_scenario


def scen(**sections) -> object:
    return load_scenario({"name": "e", "envelope": {"total_eur": 1000, "years": [2021, 2022]}, **sections})


def rows(*spec: tuple[float, float], **cols) -> pd.DataFrame:
    n = len(spec)
    df = pd.DataFrame({
        "finess": [f"{10_000_001 + i:09d}" for i in range(n)], "name": "E", "region": "11", "department": "75",
        "status": cols.get("status", ["public"] * n), "category": "ch", "ght": "", "ght_support": False,
        "ose": cols.get("ose", [False] * n), "beds": 10, "places": 0, "operating_budget_eur": 1e9,
        "it_budget_eur": [float(s[0]) for s in spec], "cyber_spend_eur": [float(s[1]) for s in spec], "imputed": "",
    })
    if "medico_social" in cols:
        df["medico_social"] = cols["medico_social"]
    return df


def test_threshold_is_inclusive_in_float64() -> None:
    ok, share, reason, _ = corridor(rows((1000, 50), (1000, 49.999), (20, 1), (3, 0.15)), scen())
    assert ok.tolist() == [True, False, True, False]  # 0.15 / 3 is 0.049999999999999996 in float64
    assert share[0] == 0.05


def test_zero_it_budget_is_never_eligible_even_at_zero_threshold() -> None:
    ok, share, reason, cand = corridor(rows((0, 0)), scen(eligibility={"min_share": 0.0}))
    assert not ok[0] and np.isnan(share[0]) and not cand[0]
    assert reason[0] == "ineligible: no IT budget"


def test_above_max_eligible_unless_excluded() -> None:
    t = rows((1000, 150))
    assert corridor(t, scen())[0][0]
    ok, _, reason, _ = corridor(t, scen(eligibility={"exclude_above_max": True}))
    assert not ok[0] and "15.0 % > 10 %" in reason[0]


def test_status_and_medico_social_filters() -> None:
    t = rows((1000, 60), (1000, 60), (1000, 60), status=["public", "private_forprofit", "public"],
             medico_social=[False, False, True])
    ok, _, reason, _ = corridor(t, scen(eligibility={"statuses": ["public"]}))
    assert ok.tolist() == [True, False, False]
    assert "status private_forprofit" in reason[1] and "medico-social" in reason[2]
    assert corridor(t, scen(eligibility={"medico_social": True}))[0].tolist() == [True, True, True]


def test_reason_never_rounds_to_the_wrong_side() -> None:
    _, _, reason, _ = corridor(rows((1000, 32), (100000, 4999.9)), scen())
    assert reason[0] == "ineligible: cyber share 3.2 % < 5 %"
    assert reason[1] == "ineligible: cyber share 4.99 % < 5 %"


def test_raised_spend_reaches_the_threshold_in_float64() -> None:
    it = np.array([1000.0, 3.3, 123456.79, 0.1, 7.0])
    for m in (0.05, 0.07, 0.1):
        c = raised_spend(it, m)
        assert (c / it >= m).all() and (c <= it).all() and np.allclose(c, m * it)


def test_full_uptake_and_induced_spend_over_the_period() -> None:
    r = assess(rows((1000, 60), (2000, 40), (0, 0)), scen(uptake={"model": "full"}))
    assert r.eligible.tolist() == [True, True, False] and r.complied.tolist() == [False, True, False]
    assert r.table["cyber_spend_eur"].tolist()[1] == 100.0
    assert r.induced_spend_eur.tolist() == [0.0, 120.0, 0.0]  # (100 - 40) x 2 years
    assert r.induced_total_eur == 120.0


def test_ose_obligation_forces_ose_to_the_threshold() -> None:
    t = rows((1000, 10), (1000, 10), ose=[True, False])
    r = assess(t, scen(ose={"obligation": "min_share"}))
    assert r.eligible.tolist() == [True, False]
    assert "OSE obligation" in r.reason[0]
    assert assess(t, scen()).eligible.tolist() == [False, False]


def test_logistic_uptake_is_a_damped_fixed_point_and_deterministic() -> None:
    t = rows((1000, 60), *[(1000, 45 + i) for i in range(4)])
    s = scen(uptake={"model": "logistic", "slope": 2.0, "midpoint": 1.0})
    r = assess(t, s)
    assert r.iterations > 1 and r.details["converged"]
    # candidates share a 1000 € envelope with the eligible one: probability between 0 and 1, higher for cheaper compliance
    p = r.probability[1:]
    assert ((p > 0) & (p < 1)).all() and (np.diff(p) > 0).all()
    again = assess(t, s)
    assert again.complied.tolist() == r.complied.tolist() and again.iterations == r.iterations


def test_logistic_without_slope_uses_the_reference_assumption() -> None:
    r = assess(rows((1000, 60), (1000, 40)), scen(uptake={"model": "logistic"}))
    assert r.details["slope"] == 2.0


def test_non_convergence_is_reported() -> None:
    # 60 € shared: a candidate (cost (50 - 40) x 2 = 20 €) expects 30 € if it joins alone with the eligible
    # one, 15 € if all three join: undamped, everyone jumps in and out forever.
    s = scen(uptake={"model": "logistic", "slope": 50.0, "damping": 1.0, "max_iterations": 50},
             envelope={"total_eur": 60, "years": [2021, 2022]})
    with pytest.raises(ConvergenceError, match="did not converge in 50 iterations"):
        assess(rows((1000, 60), *[(1000, 40)] * 3), s)
    damped = scen(uptake={"model": "logistic", "slope": 2.0, "damping": 0.5},
                  envelope={"total_eur": 60, "years": [2021, 2022]})
    assert assess(rows((1000, 60), *[(1000, 40)] * 3), damped).details["converged"]


def test_logistic_needs_a_rule_with_expected_grants() -> None:
    from cyberbudget.policy.allocation import RuleOutput, register_rule

    register_rule("flat_test", lambda t, e, s, env, n: RuleOutput(np.zeros(len(t)), np.zeros(len(t))), replace=True)
    s = scen(uptake={"model": "logistic", "slope": 1.0}, allocation={"rule": "flat_test"})
    with pytest.raises(ScenarioError, match="uptake.model"):
        assess(rows((1000, 60), (1000, 40)), s)


def test_small_table_fixture_corridor(small_table: pd.DataFrame) -> None:
    r = assess(small_table, scen())
    share = small_table["cyber_spend_eur"] / small_table["it_budget_eur"]
    expected = (small_table["it_budget_eur"] > 0) & (share >= 0.05)
    if "medico_social" in small_table:
        expected &= ~small_table["medico_social"]
    assert r.eligible.tolist() == expected.fillna(False).tolist()
