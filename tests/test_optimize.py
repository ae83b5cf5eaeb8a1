"""The ``optimal`` rule: maximise expected avoided loss under the envelope, floors and caps (KKT), round to the cent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cyberbudget.risk.optimal as opt
from cyberbudget import config
from cyberbudget.errors import AllocationError
from cyberbudget.policy import allocation
from cyberbudget.policy.scenario import load_scenario
from cyberbudget.risk.model import GrantBenefit, grant_benefit


def two_hospitals(**kw) -> GrantBenefit:
    """L α v = 20 and 5, no current spend, one year, every grant euro invested: B_i'(g) = L α v / (α g + 1)²."""
    args = {"loss": np.array([4e6, 1e6]), "investment": np.zeros(2), "alpha": np.full(2, 1e-5),
            "vulnerability": 0.5, "beta": 1.0, "kind": "I", "additionality": 1.0, "n_years": 1}
    args.update(kw)
    return GrantBenefit(**args)


ACTIVE2 = np.array([True, True])


# ---------------------------------------------------------------------------------------------- hand-computed


def test_interior_optimum_by_hand():
    # sqrt(20/μ) + sqrt(5/μ) − 2 = α E = 2  →  sqrt(μ) = (sqrt 20 + sqrt 5) / 4  →  μ = 45/16
    # g1 = (sqrt(20/μ) − 1)/α = 166,666.67 €, g2 = (sqrt(5/μ) − 1)/α = 33,333.33 €
    sol = opt.solve_optimal(two_hospitals(), 2e5, ACTIVE2)
    assert sol.binding == "envelope"
    assert sol.mu == pytest.approx(45 / 16, rel=1e-12)
    assert sol.grant_eur == pytest.approx([5e5 / 3, 1e5 / 3], rel=1e-10)


def test_cap_binds_by_hand():
    # cap 150,000 €: g1 capped (its marginal 20/2.5² = 3.2 ≥ μ), g2 = 50,000 € and μ = 5/1.5² = 2.22
    sol = opt.solve_optimal(two_hospitals(), 2e5, ACTIVE2, 0.0, 1.5e5)
    assert sol.grant_eur == pytest.approx([1.5e5, 5e4], rel=1e-10)
    assert sol.mu == pytest.approx(5 / 1.5 ** 2, rel=1e-9)


def test_floor_binds_by_hand():
    # floor 50,000 € each: g2 would take 33,333 € only, so it stays at its floor; g1 = 150,000 €, μ = 3.2
    sol = opt.solve_optimal(two_hospitals(), 2e5, ACTIVE2, 5e4)
    assert sol.grant_eur == pytest.approx([1.5e5, 5e4], rel=1e-10)
    assert sol.mu == pytest.approx(3.2, rel=1e-9)


def test_everyone_capped_leaves_money_and_mu_zero():
    sol = opt.solve_optimal(two_hospitals(), 2e5, ACTIVE2, 0.0, 1e4)
    assert sol.binding == "caps" and sol.mu == 0.0
    assert sol.grant_eur.tolist() == [1e4, 1e4]


def test_floors_above_envelope_are_rejected():
    with pytest.raises(AllocationError, match="floor"):
        opt.solve_optimal(two_hospitals(), 2e5, ACTIVE2, 1.5e5)


def test_ineligible_get_nothing_and_rows_without_lever_share_what_is_left():
    b = two_hospitals(alpha=np.array([1e-5, 0.0]))  # the second has no IT budget: no lever
    sol = opt.solve_optimal(b, 2e5, np.array([False, True]))
    assert sol.grant_eur.tolist() == [0.0, 2e5] and sol.binding == "flat"


def test_class_two_equalises_marginals():
    b = two_hospitals(kind="II", vulnerability=0.6, alpha=np.array([1e-5, 3e-5]))
    sol = opt.solve_optimal(b, 2e5, ACTIVE2)
    assert sol.grant_eur.sum() == pytest.approx(2e5, rel=1e-12)
    assert b.marginal(sol.grant_eur) == pytest.approx([sol.mu, sol.mu], rel=1e-9)


# ---------------------------------------------------------------------------------------------- properties


@st.composite
def problems(draw):
    n = draw(st.integers(1, 12))
    floats = st.floats
    loss = np.array(draw(st.lists(floats(0.0, 1e7), min_size=n, max_size=n)))
    z0 = np.array(draw(st.lists(floats(0.0, 1e6), min_size=n, max_size=n)))
    alpha = np.array(draw(st.lists(floats(1e-8, 1e-3), min_size=n, max_size=n)))
    active = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    kind = draw(st.sampled_from(["I", "II"]))
    beta = draw(floats(0.3, 3.0))
    v = draw(floats(0.05, 0.95))
    n_years = draw(st.integers(1, 6))
    a = draw(floats(0.1, 1.0))
    envelope = draw(floats(1.0, 1e7))
    floor = draw(st.sampled_from([0.0, 0.0, 100.0, 1e4]))
    cap = draw(st.sampled_from([np.inf, np.inf, 5e4, 1e6]))
    b = GrantBenefit(loss, z0, alpha, v, beta, kind, a, n_years)
    return b, envelope, active, floor, max(cap, floor)


@settings(max_examples=150, deadline=None)
@given(problems())
def test_kkt_conditions_and_budget(problem):
    b, env, active, floor, cap = problem
    if floor * active.sum() > env:
        with pytest.raises(AllocationError):
            opt.solve_optimal(b, env, active, floor, cap)
        return
    sol = opt.solve_optimal(b, env, active, floor, cap)
    g = sol.grant_eur
    assert (g[~active] == 0).all()
    assert (g[active] >= floor - 1e-9).all() and (g[active] <= cap + 1e-9).all()
    if sol.binding == "caps":
        assert np.allclose(g[active], cap) and cap * active.sum() <= env
    elif active.any():
        assert g.sum() == pytest.approx(env, rel=1e-9, abs=1e-6)
    if sol.binding == "envelope":
        viol = opt.kkt_violation(b, g, sol.mu, active, floor, cap, atol_eur=1e-6 * max(env, 1.0))
        assert viol["interior"] < 1e-6 and viol["at_floor"] < 1e-6 and viol["at_cap"] < 1e-6


@settings(max_examples=150, deadline=None)
@given(problems(), st.integers(0, 2**32 - 1))
def test_no_feasible_allocation_avoids_more(problem, seed):
    b, env, active, floor, cap = problem
    if floor * active.sum() > env or not active.any():
        return
    sol = opt.solve_optimal(b, env, active, floor, cap)
    best = b.avoided(sol.grant_eur).sum()
    rng = np.random.default_rng(seed)
    n_act = int(active.sum())
    room = min(env - floor * n_act, (cap - floor) * n_act)
    for _ in range(20):  # random feasible allocations: floor + a share of what is left, within the caps
        w = rng.dirichlet(np.ones(n_act))
        x = np.zeros(len(active))
        x[active] = np.minimum(floor + w * room, cap)
        assert b.avoided(x).sum() <= best * (1 + 1e-9) + 1e-6


# ---------------------------------------------------------------------------------------------- the rule


@pytest.fixture(scope="module")
def default_table() -> pd.DataFrame:
    from cyberbudget.data.registry import load_establishments

    if not config.DEFAULT_TABLE.exists():
        pytest.skip("default table not generated yet")
    return load_establishments()


def scenario(**allocation_keys) -> object:
    return load_scenario({"name": "opt", "envelope": {"total_eur": 350_000_000},
                          "allocation": {"rule": "optimal", **allocation_keys}})


def test_optimal_is_registered():
    assert "optimal" in allocation.registered_rules()


@pytest.mark.parametrize("keys", [{}, {"cap_eur": 2_000_000}, {"cap_eur": 400_000, "floor_eur": 10_000.5}])
def test_default_table_conserves_the_envelope_and_satisfies_kkt(default_table, keys):
    sc = scenario(**keys)
    res = allocation.allocate(default_table, sc)
    s, t = res.summary, res.table
    assert s["allocated_cents"] + s["unallocated_cents"] == 35_000_000_000
    assert s["unallocated_cents"] == 0
    assert (t.loc[~t["eligible"], "grant_cents"] == 0).all() and (t["grant_cents"] >= 0).all()
    if "cap_eur" in keys:
        assert t["grant_cents"].max() <= keys["cap_eur"] * 100
    if "floor_eur" in keys:
        assert t.loc[t["eligible"], "grant_cents"].min() >= round(keys["floor_eur"] * 100)
    details = s["rule_details"]
    mu = details["mu"]
    assert mu > 0 and details["binding"] == "envelope"
    b = grant_benefit(res.eligibility.table, sc)
    eligible = t["eligible"].to_numpy()
    lo = keys.get("floor_eur", 0.0)
    hi = keys.get("cap_eur", np.inf)
    viol = opt.kkt_violation(b, t["exact_cents"].to_numpy() / 100, mu, eligible, lo, hi)
    assert max(viol.values()) < 1e-6
    # rounded grants are within one cent of the exact optimum
    assert np.abs(t["grant_cents"] - t["exact_cents"]).max() < 1.0


def test_default_table_optimal_beats_proportional(default_table):
    comp = opt.compare_rules(default_table, scenario()).set_index("rule")
    assert comp.loc["optimal", "avoided_grant_eur"] > comp.loc["proportional", "avoided_grant_eur"]
    assert comp.loc["optimal", "allocated_eur"] == comp.loc["proportional", "allocated_eur"] == 350_000_000
    res = allocation.allocate(default_table, scenario())
    d = res.summary["rule_details"]
    assert d["gain_eur"] > 0 and d["avoided_loss_eur"] > d["proportional_avoided_loss_eur"]
    assert "marginal" in res.explain(res.table.loc[res.table["grant_cents"] > 0, "finess"].iloc[0])


def _small_table() -> pd.DataFrame:
    rows = []
    for i, (beds, share, status) in enumerate([(900, 0.06, "public"), (120, 0.05, "public"), (40, 0.08, "private_forprofit"),
                                               (300, 0.02, "public"), (60, 0.12, "private_nonprofit")]):
        it = beds * 288_000 * 0.017
        rows.append({"finess": f"0100000{i:02d}", "name": f"H{i}", "region": "84", "department": "01",
                     "status": status, "category": "ch", "ght": "", "ght_support": False, "ose": False,
                     "beds": beds, "places": 10, "operating_budget_eur": beds * 288_000.0, "it_budget_eur": it,
                     "cyber_spend_eur": share * it, "imputed": ""})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("total", [1_000_000, 3_333_333.33, 25_000_000])
def test_small_case_beats_proportional_and_rounds_to_the_cent(total):
    sc = load_scenario({"name": "s", "envelope": {"total_eur": total}, "allocation": {"rule": "optimal"}})
    res = allocation.allocate(_small_table(), sc)
    assert res.summary["allocated_cents"] == round(total * 100)
    assert res.table.loc[3, "grant_cents"] == 0  # 2 % share: ineligible
    assert res.by_year.sum(axis=1).tolist() == res.table["grant_cents"].tolist()
    d = res.summary["rule_details"]
    assert d["avoided_loss_eur"] >= d["proportional_avoided_loss_eur"]


def test_expected_grants_with_everyone_taking_part_equal_the_rule(default_table):
    from cyberbudget.policy import eligibility

    sc = scenario()
    el = eligibility.assess(default_table, sc)
    elig = np.asarray(el.eligible)
    out = opt.optimal_rule(el.table, elig, sc, 35_000_000_000, 5)
    exp = opt.expected_optimal(el.table, elig.astype(float), sc, 35_000_000_000, 5)
    assert np.allclose(exp[elig], out.exact_cents[elig], rtol=1e-9, atol=1e-3)
