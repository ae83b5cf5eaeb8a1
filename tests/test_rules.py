"""The policy steps on arrays (cyberbudget.policy.rules, cyberbudget.policy.eligibility): hand-computed cases on
batches of draws, and the property that makes them one definition for both paths — a draw of a batch is
computed exactly (bit for bit) as the same table alone."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cyberbudget.errors import AllocationError
from cyberbudget.policy.allocation import waterfill_exact
from cyberbudget.policy.eligibility import corridor_masks, logistic_probability
from cyberbudget.policy.parameters import PolicyParameters
from cyberbudget.policy.rules import (
    apply_rule,
    demand_cents,
    expected_grants,
    forfait_cents,
    handout_cents,
    need_cents,
    serve_tiers,
    tier_groups,
    waterfill,
)
from cyberbudget.policy.scenario import load_scenario

INF = np.inf


def params(**allocation) -> PolicyParameters:
    return PolicyParameters.of(load_scenario({"name": "r", "envelope": {"total_eur": 100, "years": [2021]},
                                              "allocation": allocation}))


# ------------------------------------------------------------------------------------------ water-filling


def test_waterfill_two_draws_by_hand():
    """Draw 0: 100 cents pro rata 1:1:2 with a cap of 10 on the first: 10, then 90 shared 1:2 → 30, 60 (λ 30).
    Draw 1: the third does not take part: 100 shared 1:1 with the cap → 10, 90 (λ 90), the third would get 180."""
    w = np.array([[1.0, 1.0, 2.0], [1.0, 1.0, 2.0]])
    cap = np.array([10.0, INF, INF])
    p = np.array([[True, True, True], [True, True, False]])
    wf = waterfill(np.zeros(3), w, cap, 100.0, p)
    assert wf.amounts.tolist() == [[10.0, 30.0, 60.0], [10.0, 90.0, 180.0]]
    assert wf.lam.tolist() == [30.0, 90.0] and wf.all_capped.tolist() == [False, False]


def test_waterfill_everyone_capped_in_one_draw_only():
    wf = waterfill(np.zeros(2), np.ones(2), np.array([[30.0, 40.0], [80.0, 90.0]]), 100.0)
    assert wf.all_capped.tolist() == [True, False]
    assert np.isnan(wf.lam[0]) and wf.amounts[0].tolist() == [30.0, 40.0]
    assert wf.amounts[1].tolist() == [50.0, 50.0]


def test_waterfill_probabilities_of_taking_part():
    """Weights 1 and 1, the second takes part with probability 1/2: Σ p x = x0 + x1 / 2 = 90 with x = λ w → λ 60."""
    wf = waterfill(np.zeros(2), np.ones(2), np.full(2, INF), 90.0, np.array([1.0, 0.5]))
    assert wf.lam == pytest.approx(60.0) and wf.amounts.tolist() == pytest.approx([60.0, 60.0])


def test_waterfill_floors_above_the_total_in_any_draw_are_refused():
    with pytest.raises(AllocationError, match="floors alone"):
        waterfill(np.full((2, 3), 40.0), np.ones((2, 3)), np.full((2, 3), INF), np.array([200.0, 100.0]))


@st.composite
def batches(draw: st.DrawFn) -> tuple:
    d = draw(st.integers(1, 5))
    n = draw(st.integers(1, 12))
    w = np.array(draw(st.lists(st.integers(0, 1000), min_size=d * n, max_size=d * n)), dtype=float).reshape(d, n)
    caps = draw(st.lists(st.one_of(st.just(INF), st.integers(1, 500).map(float)), min_size=d * n, max_size=d * n))
    cap = np.array(caps).reshape(d, n)
    floor = float(draw(st.integers(0, 3)))
    cap = np.maximum(cap, floor)
    p = np.array(draw(st.lists(st.booleans(), min_size=d * n, max_size=d * n))).reshape(d, n)
    totals = np.array(draw(st.lists(st.integers(0, 5000), min_size=d, max_size=d)), dtype=float)
    return np.full((d, n), floor), w, cap, totals, p


@settings(max_examples=150, deadline=None)
@given(batches())
def test_a_draw_of_a_batch_is_the_same_table_alone_bit_for_bit(batch):
    floor, w, cap, totals, p = batch
    try:
        together = waterfill(floor, w, cap, totals, p)
    except AllocationError:
        return
    for d in range(w.shape[0]):
        alone = waterfill(floor[d], w[d], cap[d], float(totals[d]), p[d])
        assert np.array_equal(together.amounts[d], alone.amounts)
        assert together.all_capped[d] == alone.all_capped
        if not alone.all_capped:
            assert together.lam[d] == alone.lam


@settings(max_examples=150, deadline=None)
@given(batches())
def test_waterfill_matches_the_exact_rational_reference(batch):
    floor, w, cap, totals, p = batch
    for d in range(w.shape[0]):
        idx = np.flatnonzero(p[d])
        if not idx.size or floor[d, 0] * idx.size > totals[d]:
            continue
        got = waterfill(floor[d], w[d], cap[d], float(totals[d]), p[d]).amounts[idx]
        ref, _ = waterfill_exact([Fraction(floor[d, 0])] * idx.size, [Fraction(x) for x in w[d, idx]],
                                 [None if np.isinf(c) else Fraction(c) for c in cap[d, idx]], Fraction(totals[d]))
        np.testing.assert_allclose(got, [float(x) for x in ref], rtol=1e-12, atol=1e-9)


# ------------------------------------------------------------------------------------------ tiers


def test_tier_groups_first_group_wins():
    g = tier_groups(("ose", "chu", "public"), [True, False, False, False], [False] * 4,
                    ["public", "public", "public", "private_forprofit"], ["ch", "chu", "ch", "chu"])
    assert g.tolist() == [0, 1, 2, 1]


def test_serve_tiers_two_draws_by_hand():
    """Amounts 40 (group 0), 30 and 50 (group 1), 20 (group 2). Draw 0, 100 cents: group 0 in full, 60 left for
    80 → 75 % (22.5, 37.5), nothing for group 2. Draw 1, 200 cents: everyone in full, 60 left."""
    amount = np.array([40.0, 30.0, 50.0, 20.0])
    s = serve_tiers(amount, np.array([0, 1, 1, 2]), 3, np.array([100.0, 200.0]), np.ones((2, 4)))
    assert s.amounts.tolist() == [[40.0, 22.5, 37.5, 0.0], [40.0, 30.0, 50.0, 20.0]]
    assert s.served.tolist() == [[2, 1, 0], [2, 2, 2]]
    assert s.fraction[0].tolist() == [1.0, 0.75, 0.0] and s.left.tolist() == [0.0, 60.0]
    assert s.info(0)[1] == {"served": "partial", "fraction": 0.75, "amount_cents": 80.0}


# ------------------------------------------------------------------------------------------ rule amounts


def test_demand_need_and_forfait_by_hand():
    it, cyber = np.array([1000.0, 1000.0]), np.array([60.0, 150.0])
    # demand 0.5 × min(cyber, 10 % × it) × 2 years, in cents; need max(0, 10 % × it − cyber) × 2 years
    assert demand_cents(it, cyber, 0.5, 0.10, 2).tolist() == [6000.0, 10000.0]
    assert need_cents(it, cyber, 0.10, 2).tolist() == [8000.0, 0.0]
    bands = ((0.0, 500.0, 100.0), (500.0, 2000.0, 300.0))
    assert forfait_cents([0, 499.5, 500, 1999, 2000], bands).tolist() == [100.0, 100.0, 300.0, 300.0, 0.0]


def test_apply_rule_proportional_with_a_cap_and_the_handout():
    """100 € pro rata to IT 1,000 / 3,000 / 6,000 with a cap of 35 €: 30 / 35 / 35 €. With 200 € everyone is
    capped: 105 € handed out, the rest unallocated."""
    it = np.array([[1000.0, 3000.0, 6000.0]] * 2)
    eligible = np.ones((2, 3), dtype=bool)
    p = params(cap_eur=35)
    res = apply_rule(p, it, it * 0.06, eligible)
    assert res.exact[0].tolist() == [3000.0, 3500.0, 3500.0]
    assert res.everyone_capped.tolist() == [False, False]
    big = PolicyParameters.of(load_scenario({"name": "r", "envelope": {"total_eur": 200},
                                             "allocation": {"cap_eur": 35}}))
    res2 = apply_rule(big, it, it * 0.06, eligible)
    assert res2.everyone_capped.all()
    assert handout_cents(res2.exact, res2.everyone_capped, eligible, 20_000).tolist() == [10_500, 10_500]


def test_expected_grants_count_caps_and_participation():
    """Gap rule, needs 40 € and 10 € (1 year) and a cap of 25 €, envelope 100 €: if both take part each gets its
    capped need; the expectation is what each would get if it took part."""
    p = params(rule="gap", cap_eur=25)
    it, cyber = np.array([1000.0, 1000.0]), np.array([60.0, 90.0])
    got = expected_grants(p, it, cyber, np.array([[1.0, 0.5]]))
    assert got.tolist() == [[2500.0, 1000.0]]


def test_corridor_and_logistic_on_a_batch():
    share = np.array([[0.05, 0.049, 0.2], [0.06, 0.05, 0.0]])
    it = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    ok, cand = corridor_masks(share, it, np.array([True, True, False]), 0.05, 0.10, False)
    assert ok.tolist() == [[True, False, False], [True, True, False]]
    assert cand.tolist() == [[False, True, False], [False, False, False]]
    # G / C = midpoint: one half; ratio e with slope 1: 1 / (1 + e^-1)
    p = logistic_probability(np.array([[100.0, 100 * np.e]]), np.array([[1.0, 1.0]]), np.array([[1.0]]),
                             np.array([[1.0]]))
    assert p[0].tolist() == pytest.approx([0.5, 1 / (1 + np.exp(-1))])
