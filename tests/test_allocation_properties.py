"""Properties of the allocation (hypothesis), then the Alabama paradox shown on a concrete table.

For every rule and every funding unit: the envelope is conserved to the cent, no grant is negative, ineligible
establishments get nothing, a grant does not depend on the row order, no grant exceeds the cap, the years sum to
each grant, and under a unit the members' grants sum to the unit's grant and share its eligibility. For
``proportional``: the float64 path gives the same cents as the exact rational reference
(:func:`waterfill_exact` + :func:`hamilton_exact`), and raising the envelope never lowers an exact amount.

Values are whole euros and small tables so that distinct exact remainders differ by far more than the rounding
tolerance (see the module docstring of cyberbudget.policy.allocation).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cyberbudget.errors import AllocationError
from cyberbudget.policy.allocation import allocate, hamilton_exact, waterfill_exact
from cyberbudget.policy.scenario import load_scenario

STATUSES = ["public", "private_nonprofit", "private_forprofit"]


@st.composite
def tables(draw: st.DrawFn, min_rows: int = 1, max_rows: int = 10) -> pd.DataFrame:
    n = draw(st.integers(min_rows, max_rows))
    finess = draw(st.lists(st.integers(10_000_000, 999_999_999), min_size=n, max_size=n, unique=True))
    it = draw(st.lists(st.integers(0, 100_000), min_size=n, max_size=n))
    share_permille = draw(st.lists(st.integers(0, 150), min_size=n, max_size=n))
    status = draw(st.lists(st.sampled_from(STATUSES), min_size=n, max_size=n))
    ose = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    cyber = [float(i * s // 1000) for i, s in zip(it, share_permille, strict=True)]
    # funding units: a few legal entities (or the row's own), GHT codes on public rows
    ej = draw(st.lists(st.sampled_from(["", "090000001", "090000002", "090000003"]), min_size=n, max_size=n))
    ght = [g if s == "public" else "" for g, s in zip(
        draw(st.lists(st.sampled_from(["", "ARA-01", "BRE-02"]), min_size=n, max_size=n)), status, strict=True)]
    support = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return pd.DataFrame({
        "finess": [f"{f:09d}" for f in finess], "name": "E", "region": "11", "department": "75",
        "status": status, "category": "ch", "ght": ght, "ght_support": support, "ose": ose,
        "beds": it, "places": 0, "operating_budget_eur": 1e9, "it_budget_eur": [float(x) for x in it],
        "cyber_spend_eur": cyber, "imputed": "", "finess_ej": ej,
    })


@st.composite
def scenarios(draw: st.DrawFn) -> dict:
    rule = draw(st.sampled_from(["proportional", "matching", "gap", "tiered"]))
    alloc: dict = {"rule": rule}
    if draw(st.booleans()):
        alloc["cap_eur"] = draw(st.integers(1, 5_000))
    if rule == "proportional" and draw(st.booleans()):
        alloc["floor_eur"] = draw(st.integers(0, min(alloc.get("cap_eur", 500), 500)))
    if rule == "tiered":
        alloc["tier_amount"] = draw(st.sampled_from(["need", "demand"] + (["cap"] if "cap_eur" in alloc else [])))
        alloc["tiers"] = draw(st.permutations(["ose", *STATUSES]))[: draw(st.integers(1, 4))]
    years = draw(st.sampled_from([[2021], [2021, 2022, 2023], [2021, 2022, 2023, 2024, 2025]]))
    envelope = {"total_eur": draw(st.integers(0, 1_000_000)) / 100, "years": years}
    if len(years) == 3 and draw(st.booleans()):
        envelope["schedule"] = {2021: 0.5, 2022: 0.25, 2023: 0.25}
    alloc["unit"] = draw(st.sampled_from(["establishment", "legal_entity", "ght"]))
    return {"name": "prop", "envelope": envelope, "allocation": alloc,
            "eligibility": {"exclude_above_max": draw(st.booleans())}}


PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(tables(), scenarios(), st.randoms(use_true_random=False))
def test_invariants_of_every_rule(table: pd.DataFrame, spec: dict, rnd) -> None:
    assume(spec["allocation"].get("floor_eur", 0) <= spec["envelope"]["total_eur"])
    scenario = load_scenario(spec)
    try:
        result = allocate(table, scenario)
    except AllocationError:
        assume(False)
    t = result.table
    s = result.summary
    grants = t["grant_cents"].to_numpy()
    assert int(grants.sum()) + s["unallocated_cents"] == s["envelope_cents"]
    assert (grants >= 0).all()
    assert (grants[~t["eligible"].to_numpy()] == 0).all()
    cap = scenario.allocation.cap_eur
    if cap is not None:
        assert (grants <= cap * 100).all()
    assert (result.by_year.sum(axis=1).to_numpy() == grants).all()
    if not s["everyone_capped"]:
        assert s["unallocated_cents"] == 0
    # row order does not matter
    order = list(range(len(table)))
    rnd.shuffle(order)
    shuffled = allocate(table.iloc[order].reset_index(drop=True), scenario)
    assert shuffled.table["grant_cents"].tolist() == grants.tolist()
    # under a funding unit: the members' grants sum to their unit's grant, and they share its eligibility
    if result.units is not None:
        units = result.applicants.set_index("finess")
        by_unit = t.groupby("unit")
        assert (by_unit["grant_cents"].sum() == units["grant_cents"]).all()
        assert (by_unit["eligible"].nunique() == 1).all()
        assert (by_unit["eligible"].first() == units["eligible"]).all()
        assert int(units["grant_cents"].sum()) + s["unallocated_cents"] == s["envelope_cents"]
        assert s["units"]["n"] == len(units) and s["units"]["n_eligible"] == int(units["eligible"].sum())
        if cap is not None:
            assert (units["grant_cents"] <= cap * 100).all()


def _exact_proportional(table: pd.DataFrame, envelope_cents: int, floor: int, cap: int | None) -> list[int]:
    t = table.sort_values("finess").reset_index(drop=True)
    it = t["it_budget_eur"].tolist()
    cyber = t["cyber_spend_eur"].tolist()
    elig = [i > 0 and Fraction(str(c)) / Fraction(str(i)) >= Fraction(1, 20) for i, c in zip(it, cyber, strict=True)]
    idx = [k for k, e in enumerate(elig) if e]
    if not idx:
        return [0] * len(t)
    amounts, lam = waterfill_exact([Fraction(floor)] * len(idx), [Fraction(str(it[k])) for k in idx],
                                   [None if cap is None else Fraction(cap)] * len(idx), Fraction(envelope_cents))
    handout = envelope_cents if lam is not None else int(sum(amounts) // 1)
    rounded = hamilton_exact(amounts, handout, [t["finess"][k] for k in idx])
    out = [0] * len(t)
    for k, g in zip(idx, rounded, strict=True):
        out[k] = g
    return out


@PROPS
@given(tables(), st.integers(0, 1_000_000), st.integers(0, 300), st.one_of(st.none(), st.integers(300, 3_000)))
def test_float_path_equals_exact_rational_reference(table: pd.DataFrame, env: int, floor: int, cap: int | None) -> None:
    assume(floor * 100 <= env)
    spec = {"name": "p", "envelope": {"total_eur": env / 100},
            "allocation": {"floor_eur": floor, "cap_eur": cap}}
    try:
        result = allocate(table, load_scenario(spec))
    except AllocationError:
        with_floors = (table["it_budget_eur"] > 0) & (table["cyber_spend_eur"] >= 0.05 * table["it_budget_eur"])
        assert int(with_floors.sum()) * floor * 100 > env
        return
    assert result.table["grant_cents"].tolist() == _exact_proportional(table, env, floor * 100,
                                                                       None if cap is None else cap * 100)


@PROPS
@given(tables(min_rows=2), st.integers(0, 500_000), st.integers(1, 500_000),
       st.one_of(st.none(), st.integers(1, 3_000)))
def test_raising_the_envelope_never_lowers_an_exact_amount(table: pd.DataFrame, env: int, more: int,
                                                          cap: int | None) -> None:
    def exact(total: int) -> np.ndarray:
        s = load_scenario({"name": "m", "envelope": {"total_eur": total / 100}, "allocation": {"cap_eur": cap}})
        return allocate(table, s).table["exact_cents"].to_numpy()

    low, high = exact(env), exact(env + more)
    assert (high >= low - 1e-6).all()


def test_alabama_paradox_a_rounded_grant_can_drop_by_one_cent() -> None:
    """IT budgets 18,000 / 1,000 / 13,000 €. Envelope 18 cents: exact 10.125 / 0.5625 / 7.3125 → 10 / 1 / 7.
    Envelope 19 cents: exact 10.6875 / 0.59375 / 7.71875 → 11 / 0 / 8: the second establishment loses a cent
    although its exact amount rose (Hamilton's Alabama paradox, a known property of largest remainder)."""
    table = pd.DataFrame({
        "finess": ["010000001", "010000002", "010000003"], "name": "E", "region": "11", "department": "75",
        "status": "public", "category": "ch", "ght": "", "ght_support": False, "ose": False, "beds": 1,
        "places": 0, "operating_budget_eur": 1e6, "it_budget_eur": [18_000.0, 1_000.0, 13_000.0],
        "cyber_spend_eur": [1_080.0, 60.0, 780.0], "imputed": "",
    })
    before = allocate(table, load_scenario({"name": "a", "envelope": {"total_eur": 0.18}})).table
    after = allocate(table, load_scenario({"name": "a", "envelope": {"total_eur": 0.19}})).table
    assert before["grant_cents"].tolist() == [10, 1, 7]
    assert after["grant_cents"].tolist() == [11, 0, 8]
    assert (after["exact_cents"] > before["exact_cents"]).all()
