"""Parameter search (cyberbudget.uncertainty.search): the grid finds the known optimum of a small constructed case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cyberbudget.errors import OptionError
from cyberbudget.policy.allocation import allocate
from cyberbudget.policy.scenario import load_scenario
from cyberbudget.risk.model import assess
from cyberbudget.uncertainty.search import grid_search, pareto_front


def three_establishments() -> pd.DataFrame:
    """A: large public hospital at 5.5 %; B: one-bed private clinic at 4.5 % (same IT budget); C: at 2 %."""
    return pd.DataFrame({
        "finess": ["000000001", "000000002", "000000003"], "name": ["Synthetic A", "Synthetic B", "Synthetic C"],
        "region": "11", "department": "75", "status": ["public", "private_forprofit", "private_nonprofit"],
        "category": ["ch", "mco", "mco"], "ght": "", "ght_support": False, "ose": False,
        "beds": [800, 1, 200], "places": [0, 0, 0],
        "operating_budget_eur": [100e6, 100e6, 50e6], "it_budget_eur": [2e6, 2e6, 1e6],
        "cyber_spend_eur": [110_000.0, 90_000.0, 20_000.0], "imputed": "",
    })


def scn(**allocation) -> object:
    return load_scenario({"name": "search", "envelope": {"total_eur": 1_000_000}, "allocation": allocation})


def test_grid_finds_the_threshold_that_sends_the_money_where_the_risk_is():
    t = three_establishments()
    res = grid_search(t, scn(), min_shares=[0.03, 0.05, 0.06], caps=[None, 400_000])
    assert len(res.grid) == 6
    g = res.grid.set_index(["min_share", res.grid["cap_eur"].fillna(-1)])
    # hand-computed totals: at 3 % A and B share the envelope; at 5 % only A; at 6 % nobody
    assert g.loc[(0.03, -1), "eligible"] == 2 and g.loc[(0.03, -1), "unallocated_eur"] == 0
    assert g.loc[(0.03, 400_000), "unallocated_eur"] == 200_000     # both capped
    assert g.loc[(0.05, 400_000), "unallocated_eur"] == 600_000     # A capped
    assert g.loc[(0.06, -1), "unallocated_eur"] == 1_000_000
    best = res.best["avoided_loss"]
    assert (best["min_share"], np.isnan(best["cap_eur"])) == (0.05, True)
    assert res.best["unallocated"]["unallocated_eur"] == 0
    assert res.pareto[["min_share"]].to_dict("list") == {"min_share": [0.05]}
    assert np.isnan(res.pareto["cap_eur"].iloc[0])
    # the grid's avoided loss is the risk model's, on the cent-exact allocation
    s = load_scenario({"name": "search", "envelope": {"total_eur": 1_000_000}, "eligibility": {"min_share": 0.05}})
    exact = assess(allocate(t, s), s).summary["avoided_eur"]
    assert best["avoided_loss_eur"] == pytest.approx(exact, rel=1e-6)


def test_every_tier_order_is_tried_and_the_risky_group_goes_first():
    t = three_establishments()
    s = load_scenario({"name": "tiers", "envelope": {"total_eur": 300_000},
                       "allocation": {"rule": "tiered", "tier_amount": "need",
                                      "tiers": ["private_forprofit", "private_nonprofit", "public", "ose"]}})
    res = grid_search(t, s, min_shares=[0.04], caps=[None])
    assert len(res.grid) == 24 and res.grid["tiers"].nunique() == 24
    order = res.best["avoided_loss"]["tiers"].split(" > ")
    assert order.index("public") < order.index("private_forprofit")  # C (non-profit, 2 %) is not eligible
    best = res.grid["avoided_loss_eur"].max()
    public_first = res.grid[res.grid["tiers"].str.startswith("public")]
    assert (public_first["avoided_loss_eur"] == best).all()
    assert (res.grid["unallocated_eur"] == 0).all()  # needs exceed the envelope whatever the order


def test_pareto_front_keeps_only_non_dominated_settings():
    avoided = np.array([5.0, 7.0, 7.0, 3.0, 9.0])
    unalloc = np.array([0.0, 1.0, 2.0, 0.0, 5.0])
    assert pareto_front(avoided, unalloc).tolist() == [True, True, False, False, True]


def test_bad_grid_values_are_all_reported():
    with pytest.raises(OptionError) as err:
        grid_search(three_establishments(), scn(), min_shares=[5, 0.05], caps=[-1, None])
    assert len(err.value.problems) == 2


def test_the_grid_totals_are_those_of_allocate_under_a_funding_unit():
    """Legal entities: the first two establishments form one (5.5 % and 4.5 % of equal IT budgets: 5 %)."""
    t = three_establishments().assign(finess_ej=["090000001", "090000001", ""])
    s = load_scenario({"name": "units", "envelope": {"total_eur": 1_000_000},
                       "allocation": {"unit": "legal_entity"}})
    res = grid_search(t, s, min_shares=[0.03, 0.05, 0.06], caps=[None, 400_000])
    assert len(res.grid) == 6
    for row in res.grid.itertuples():
        cap = None if np.isnan(row.cap_eur) else row.cap_eur
        exact = allocate(t, load_scenario({"name": "units", "envelope": {"total_eur": 1_000_000},
                                           "eligibility": {"min_share": row.min_share},
                                           "allocation": {"unit": "legal_entity", "cap_eur": cap}})).summary
        assert row.unallocated_eur * 100 == exact["unallocated_cents"]
        assert row.eligible == exact["n_eligible"]
    g = res.grid.set_index(["min_share", res.grid["cap_eur"].fillna(-1)])
    assert g.loc[(0.05, -1), "eligible"] == 2 and g.loc[(0.05, -1), "unallocated_eur"] == 0  # the entity as a whole
