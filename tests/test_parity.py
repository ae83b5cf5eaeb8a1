"""One policy, two paths: the Monte Carlo draw reproduces the cent-exact allocator.

The policy steps (corridor, uptake, rule amounts, water-filling, tiers) are defined once on arrays and both
:func:`cyberbudget.policy.allocation.allocate` and :func:`cyberbudget.uncertainty.montecarlo.evaluate` call them.
Specification: with zero noise (every uncertain factor fixed at 1, both sigmas 0) and the uptake uniforms that
``allocate`` draws (``uptake_uniforms(seed, n)``, one per establishment in finess order), a Monte Carlo draw has

- the same eligible establishments,
- the same allocated and unallocated cents, to the cent,
- exact (unrounded) grants within a cent of ``allocate``'s ``exact_cents``,
- the same induced spend and the same expected losses before and after the policy (to float precision),

for every funding unit (establishment, legal entity, GHT) × every rule the simulation supports × every uptake
model × the OSE obligation on and off. Rules it does not
support are refused by name; a draw whose logistic uptake does not converge is counted, not fatal.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from cyberbudget.errors import ConvergenceError, ScenarioError
from cyberbudget.policy.allocation import allocate
from cyberbudget.policy.eligibility import uptake_uniforms
from cyberbudget.policy.scenario import deep_merge, load_scenario
from cyberbudget.risk.model import assess as assess_risk
from cyberbudget.uncertainty.montecarlo import evaluate, prepare_inputs, simulate

ZERO_NOISE = {
    name: [1.0, 1.0] for name in ("it_budget_factor", "cyber_share_factor", "uptake_slope_factor",
                                  "uptake_midpoint_factor", "frequency_factor", "magnitude_factor")
} | {"it_budget_sigma": 0.0, "cyber_share_sigma": 0.0}


def parity_table(n: int = 90, seed: int = 3) -> pd.DataFrame:
    """Synthetic establishments: shares from 1 % to 13 % (below, inside and above the corridor), every status,
    OSE and GHT support establishments, a zero IT budget, medico-social rows, some budgets imputed."""
    rng = np.random.default_rng(seed)
    status = rng.choice(["public", "private_nonprofit", "private_forprofit"], n)
    category = np.where(status == "public", rng.choice(["chu", "ch", "chs"], n), rng.choice(["mco", "ssr", "psy"], n))
    beds = rng.integers(0, 900, n)
    it = np.round(rng.lognormal(13.0, 1.0, n), 2)
    it[5] = 0.0
    cyber = np.round(it * rng.uniform(0.01, 0.13, n), 2)
    ose = (status == "public") & (rng.random(n) < 0.3)
    imputed = np.where(rng.random(n) < 0.5, "it_budget_eur cyber_spend_eur", "")
    ght = np.where((status == "public") & (rng.random(n) < 0.7), rng.choice(["ARA-01", "BRE-02", "IDF-03"], n), "")
    legal_entity = rng.integers(0, n // 2, n)  # about two sites per legal entity; some rows their own
    finess_ej = np.where(rng.random(n) < 0.8, [f"{90_000_000 + k:09d}" for k in legal_entity], "")
    return pd.DataFrame({
        "finess": [f"{10_000_000 + 7 * i:09d}" for i in range(n)], "name": [f"Synthetic {i}" for i in range(n)],
        "region": rng.choice(["11", "84", "93"], n), "department": "75", "status": status, "category": category,
        "ght": ght, "ght_support": ose & (rng.random(n) < 0.5), "ose": ose, "beds": beds, "places": 10,
        "operating_budget_eur": it * 50, "it_budget_eur": it, "cyber_spend_eur": cyber, "imputed": imputed,
        "medico_social": np.arange(n) % 11 == 0, "had_places": 0, "finess_ej": finess_ej,
        "headcount": rng.integers(0, 6000, n),
    })


TABLE = parity_table()
TOTAL_IT = float(TABLE["it_budget_eur"].sum())

#: Every rule the Monte Carlo path supports, with its variants (envelopes in euros).
RULES = {
    "proportional": {"allocation": {"rule": "proportional"}},
    "proportional_floor": {"allocation": {"rule": "proportional", "floor_eur": 5_000}},
    "proportional_cap": {"allocation": {"rule": "proportional", "cap_eur": 400_000}},
    "proportional_floor_cap": {"allocation": {"rule": "proportional", "floor_eur": 5_000, "cap_eur": 400_000}},
    "proportional_everyone_capped": {"allocation": {"rule": "proportional", "cap_eur": 20_000}},
    "proportional_base_beds": {"allocation": {"rule": "proportional", "base": "beds"}},
    "matching_over": {"allocation": {"rule": "matching", "match_rate": 0.5}, "envelope": {"total_eur": 1_500_000}},
    "matching_under": {"allocation": {"rule": "matching", "match_rate": 0.5}},
    "gap_cap": {"allocation": {"rule": "gap", "cap_eur": 50_000}, "envelope": {"total_eur": 350_000}},
    "gap_under": {"allocation": {"rule": "gap"}},
    "tiered_need": {"allocation": {"rule": "tiered", "tier_amount": "need"}, "envelope": {"total_eur": 500_000}},
    "tiered_demand": {"allocation": {"rule": "tiered", "tier_amount": "demand",
                                     "tiers": ["ose", "ght_support", "chu", "private_nonprofit"]},
                      "envelope": {"total_eur": 1_200_000}},
    "tiered_cap": {"allocation": {"rule": "tiered", "tier_amount": "cap", "cap_eur": 90_000},
                   "envelope": {"total_eur": 1_500_000}},
    "forfait": {"allocation": {"rule": "forfait", "forfait": {
        "column": "headcount", "bands": [[0, 1000, 20_000], [1000, 4000, 60_000], [4500, None, 150_000]]}},
        "envelope": {"total_eur": 1_000_000}},
    "forfait_cap_under": {"allocation": {"rule": "forfait", "cap_eur": 100_000, "forfait": {
        "column": "headcount", "bands": [[0, 1000, 20_000], [1000, None, 150_000]]}}},
}
UPTAKE = {
    "none": {"uptake": {"model": "none"}},
    "full": {"uptake": {"model": "full"}},
    "logistic": {"uptake": {"model": "logistic", "slope": 1.5, "midpoint": 2.0}},
}
OSE = {"no_obligation": {}, "ose_obligation": {"ose": {"obligation": "min_share"}}}
UNITS = {unit: {"allocation": {"unit": unit}} for unit in ("establishment", "legal_entity", "ght")}


def scenario_of(*sections: dict, **extra: dict):
    spec = {"name": "parity", "seed": 17, "envelope": {"total_eur": 10_000_000, "years": [2021, 2022]},
            "eligibility": {"statuses": ["public", "private_nonprofit"]}, "uncertainty": ZERO_NOISE}
    for s in (*sections, extra):
        spec = deep_merge(spec, s)
    return load_scenario(spec)


def zero_noise_draw(table: pd.DataFrame, scenario):
    """One Monte Carlo draw at the central values, with the exact path's uptake uniforms (one per applicant:
    establishment or unit)."""
    inp = prepare_inputs(table, scenario)
    theta = np.ones((1, len(inp.parameters)))
    n_applicants = len(table) if inp.units is None else inp.units.keys.size
    return evaluate(inp, theta, u_uptake=uptake_uniforms(scenario.seed, n_applicants)[None, :])


def assert_parity(table: pd.DataFrame, scenario) -> None:
    exact = allocate(table, scenario)
    draw = zero_noise_draw(table, scenario)
    t = exact.table
    assert np.array_equal(draw.eligible[0], t["eligible"].to_numpy()), "eligible sets differ"
    assert int(draw.per_draw["eligible"][0]) == exact.summary["n_eligible"]
    assert int(draw.per_draw["allocated_cents"][0]) == exact.summary["allocated_cents"]
    assert int(draw.per_draw["unallocated_cents"][0]) == exact.summary["unallocated_cents"]
    gap = np.abs(draw.grants[0] * 100.0 - t["exact_cents"].to_numpy())
    assert gap.max() < 1.0, f"exact grants differ by up to {gap.max():.3g} cents"
    assert np.abs(draw.grants[0] * 100.0 - t["grant_cents"].to_numpy()).max() < 1.0 + 1e-6
    assert draw.per_draw["induced_spend_eur"][0] == pytest.approx(exact.summary["induced_spend_eur"], rel=1e-9,
                                                                   abs=1e-6)
    assert bool(draw.per_draw["uptake_converged"][0])
    # the risk of the draw is the risk model's on the exact allocation (same Gordon–Loeb function, same spend;
    # the exact path rounds grants to the cent, hence the relative tolerance)
    risk = assess_risk(exact, scenario).summary
    assert draw.per_draw["avoided_loss_eur"][0] == pytest.approx(risk["avoided_eur"], rel=1e-6)
    assert draw.per_draw["expected_loss_eur"][0] == pytest.approx(risk["expected_loss_after_eur"], rel=1e-7)


@pytest.mark.parametrize(("unit", "rule", "uptake", "ose"), list(itertools.product(UNITS, RULES, UPTAKE, OSE)))
def test_a_zero_noise_draw_reproduces_allocate(unit: str, rule: str, uptake: str, ose: str) -> None:
    assert_parity(TABLE, scenario_of(RULES[rule], UPTAKE[uptake], OSE[ose], UNITS[unit]))


@pytest.mark.parametrize(("seed", "unit"), list(itertools.product([1, 2, 3, 4], UNITS)))
def test_parity_on_other_tables_with_every_status_allowed(seed: int, unit: str) -> None:
    table = parity_table(60, seed)
    for rule in ("proportional_floor_cap", "gap_cap", "tiered_demand"):
        assert_parity(table, scenario_of(RULES[rule], UPTAKE["logistic"], OSE["ose_obligation"], UNITS[unit],
                                         eligibility={"statuses": ["public", "private_nonprofit",
                                                                   "private_forprofit"],
                                                      "exclude_above_max": True}))


def test_the_parity_draw_exercises_what_it_claims() -> None:
    """The table and scenarios above do reach every branch: candidates comply under each model, the OSE
    obligation binds, caps bind, tiers run out, and some establishments only go through the risk path."""
    base = allocate(TABLE, scenario_of(RULES["proportional_cap"]))
    assert base.summary["rule_details"]["n_capped"] > 0 and not base.summary["everyone_capped"]
    assert allocate(TABLE, scenario_of(RULES["proportional_everyone_capped"])).summary["everyone_capped"]
    assert allocate(TABLE, scenario_of(RULES["matching_under"])).summary["unallocated_cents"] > 0
    forfait = allocate(TABLE, scenario_of(RULES["forfait"])).summary
    assert 0 < forfait["rule_details"]["fraction"] < 1 and forfait["unallocated_cents"] == 0
    assert allocate(TABLE, scenario_of(RULES["forfait_cap_under"])).summary["unallocated_cents"] > 0
    served = [t["served"] for t in allocate(TABLE, scenario_of(RULES["tiered_need"])).summary["rule_details"]["tiers"]]
    assert "partial" in served or "none" in served
    for model in ("full", "logistic"):
        assert allocate(TABLE, scenario_of(UPTAKE[model])).summary["uptake"]["n_complied"] > 0
    assert allocate(TABLE, scenario_of(OSE["ose_obligation"])).summary["uptake"]["n_obliged"] > 0
    logistic = allocate(TABLE, scenario_of(UPTAKE["logistic"])).table
    p = logistic["uptake_probability"].to_numpy()
    assert ((p > 0.05) & (p < 0.95)).sum() >= 3  # the uniforms decide: the parity test checks they are the same
    assert (~TABLE["status"].isin(["public", "private_nonprofit"])).any()
    # units: legal entities of several sites, GHT units, and a site ineligible alone in an eligible unit
    for unit in ("legal_entity", "ght"):
        r = allocate(TABLE, scenario_of(UNITS[unit]))
        assert r.summary["units"]["n"] < len(TABLE) and (r.units.sizes > 1).sum() >= 5
        alone = allocate(TABLE, scenario_of()).table["eligible"].to_numpy()
        assert (r.table["eligible"].to_numpy() & ~alone).any()
    assert allocate(TABLE, scenario_of(UNITS["ght"])).units.is_ght.sum() == 3


def test_rules_without_an_array_definition_are_refused_by_name() -> None:
    with pytest.raises(ScenarioError, match="allocation.rule") as err:
        simulate(TABLE, scenario_of({"allocation": {"rule": "optimal"}}), draws=8)
    assert "optimal" in str(err.value) and "proportional" in str(err.value)


def diverging() -> dict:
    """Undamped logistic uptake on a small envelope: candidates jump in and out forever."""
    return {"uptake": {"model": "logistic", "slope": 50.0, "damping": 1.0, "max_iterations": 30},
            "envelope": {"total_eur": 60}}


def test_a_draw_that_does_not_converge_is_counted_while_allocate_raises() -> None:
    rows = pd.DataFrame({
        "finess": ["010000001", "010000002", "010000003", "010000004"], "name": "E", "region": "11",
        "department": "75", "status": "public", "category": "ch", "ght": "", "ght_support": False, "ose": False,
        "beds": 10, "places": 0, "operating_budget_eur": 1e6, "it_budget_eur": 1000.0,
        "cyber_spend_eur": [60.0, 40.0, 40.0, 40.0], "imputed": "",
    })
    s = scenario_of(diverging())
    with pytest.raises(ConvergenceError, match="did not converge in 30 iterations"):
        allocate(rows, s)
    draw = zero_noise_draw(rows, s)
    assert not bool(draw.per_draw["uptake_converged"][0])
    mc = simulate(rows, s, draws=40, seed=1)
    assert not mc.draws["uptake_converged"].any()
    assert mc.summary()["uptake_not_converged_share"] == 1.0
    damped = scenario_of(deep_merge(diverging(), {"uptake": {"damping": 0.3, "slope": 2.0, "max_iterations": 500}}))
    ok = simulate(rows, damped, draws=40, seed=1)
    assert ok.draws["uptake_converged"].all() and ok.summary()["uptake_not_converged_share"] == 0.0
