"""Confidentiality rules (DESIGN.md, "Confidentiality"): aggregation, primary and secondary suppression.

Hand-computed cases first, then properties: after suppression no published line lets a reader recover a cell
built from fewer than 5 establishments by subtraction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cyberbudget import config
from cyberbudget.reports import disclosure

K = config.MIN_CELL_SIZE


def _table(groups: dict[str, int], grant: int = 100, eligible: bool = True, by: str = "status") -> pd.DataFrame:
    rows = []
    for g, n in groups.items():
        rows += [{by: g, "eligible": eligible, "grant_cents": grant if eligible else 0,
                  "it_budget_eur": 1000.0, "cyber_spend_eur": 60.0, "beds": 10}] * n
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------- hand cases


def test_a_cell_of_fewer_than_five_establishments_is_suppressed():
    assert disclosure.primary_mask(np.array([0, 1, 4, 5, 6])).tolist() == [True, True, True, False, False]


def test_a_cell_with_one_to_four_recipients_is_suppressed_even_in_a_large_group():
    mask = disclosure.primary_mask(np.array([50, 50, 50]), n_recipients=np.array([0, 3, 5]))
    assert mask.tolist() == [False, True, False]


def test_a_single_suppressed_row_gets_a_partner_so_the_total_does_not_reveal_it():
    # rows: 2 | 50 | 9 | 7 establishments; the 2 is primary; the smallest visible row (7) is added.
    mask = disclosure.secondary_mask_1d(np.array([2, 50, 9, 7]), np.array([2, 50, 9, 7]),
                                        np.array([True, False, False, False]))
    assert mask.tolist() == [True, False, False, True]


def test_two_suppressed_rows_holding_fewer_than_five_establishments_get_a_third():
    # 1 + 2 establishments suppressed: their sum (total minus the rest) would be a cell of 3 -> add the 6.
    mask = disclosure.secondary_mask_1d(np.array([1, 2, 6, 40]), np.array([1, 2, 6, 40]),
                                        np.array([True, True, False, False]))
    assert mask.tolist() == [True, True, True, False]


def test_breakdown_suppresses_small_groups_and_keeps_public_counts():
    t = _table({"public": 20, "private_nonprofit": 6, "private_forprofit": 2})
    b = disclosure.breakdown(t, "status")
    rows = b.rows.set_index("status")
    assert rows.loc["private_forprofit", "suppressed"] == "primary"
    assert rows.loc["private_nonprofit", "suppressed"] == "secondary"  # smallest visible partner
    assert rows.loc["public", "suppressed"] == ""
    assert rows["n_establishments"].to_dict() == {"private_forprofit": 2, "private_nonprofit": 6, "public": 20}
    assert pd.isna(rows.loc["private_forprofit", "grant_cents"])
    assert pd.isna(rows.loc["private_forprofit", "cyber_share"])
    assert pd.isna(rows.loc["private_nonprofit", "grant_eur"])
    assert rows.loc["public", "grant_cents"] == 2000
    assert int(b.total["grant_cents"].iloc[0]) == 2800
    assert b.total["status"].iloc[0] == "Total"


def test_breakdown_of_ght_leaves_out_establishments_outside_any_ght():
    t = _table({"ARA-01": 6, "": 9}, by="ght")
    b = disclosure.breakdown(t, "ght")
    assert b.rows["ght"].tolist() == ["ARA-01"]
    assert int(b.total["n_establishments"].iloc[0]) == 6


def test_crosstab_suppresses_in_rows_and_columns():
    # status x region; cell (forprofit, 84) has 2 establishments.
    t = pd.concat([
        _table({"public": 10}).assign(region="11"), _table({"public": 10}).assign(region="84"),
        _table({"private_forprofit": 8}).assign(region="11"), _table({"private_forprofit": 2}).assign(region="84"),
    ], ignore_index=True)
    long = disclosure.crosstab(t, "status", "region").set_index(["status", "region"])
    hidden = long["grant_cents"].isna()
    assert hidden[("private_forprofit", "84")]
    # row forprofit and column 84 are published totals: each needs a second suppressed cell
    assert hidden[("private_forprofit", "11")] and hidden[("public", "84")]
    # then row public and column 11 need one too: everything is suppressed, margins still published
    assert hidden.all()
    assert long["status_total_cents"].dropna().to_dict() == {
        ("private_forprofit", "11"): 1000, ("private_forprofit", "84"): 1000,
        ("public", "11"): 2000, ("public", "84"): 2000}


def test_share_histogram_hides_sparse_bins():
    it = np.full(12, 1000.0)
    cyber = np.array([10.0] * 6 + [55.0] * 5 + [300.0])  # 1 %, 5.5 %, 30 %
    bins = disclosure.share_histogram(pd.DataFrame({"it_budget_eur": it, "cyber_spend_eur": cyber}))
    by_left = bins.set_index("left")
    assert pd.isna(bins["n"].iloc[-1]) and bins["suppressed"].iloc[-1] == "primary"  # the one >= 20 %
    # the lone hidden bin needs a partner, the smallest non-empty bin (5 at 5 %), so that n - visible says nothing
    assert pd.isna(by_left.loc[0.05, "n"]) and by_left.loc[0.05, "suppressed"] == "secondary"
    assert by_left.loc[0.01, "n"] == 6
    assert (bins["n"].fillna(0) == 0).sum() == len(bins) - 1


def test_lorenz_points_aggregate_at_least_five_establishments_each():
    pts = disclosure.lorenz_points(np.arange(1.0, 23.0))  # 22 values -> 4 groups
    sizes = np.diff(np.round(pts["population_share"] * 22).astype(int))
    assert len(pts) == 5 and sizes.min() >= K
    assert pts["value_share"].iloc[0] == 0 and pts["value_share"].iloc[-1] == pytest.approx(1.0)
    assert disclosure.lorenz_points(np.ones(4)).empty


def test_gini_hand_values():
    assert disclosure.gini(np.ones(10)) == 0.0
    assert disclosure.gini(np.array([0.0, 0.0, 0.0, 4.0])) == pytest.approx(0.75)
    assert disclosure.gini(np.array([1.0, 3.0])) == pytest.approx(0.25)


def test_year_totals_hide_years_with_few_recipients():
    by_year = pd.DataFrame({"2021": [100] * 6, "2022": [100, 100, 0, 0, 0, 0]})
    years = disclosure.year_totals(by_year)
    assert years["grant_cents"].iloc[0] == 600
    assert pd.isna(years["grant_cents"].iloc[1])


def test_marking_only_under_establishment_disclosure():
    class S:
        disclosure = "establishment"

    class A:
        disclosure = "aggregate"

    assert disclosure.marking(S()) == "Diffusion restreinte"
    assert disclosure.marking(A()) is None


def test_small_table_breakdowns_never_show_a_group_of_fewer_than_five(small_table):
    from cyberbudget.policy.allocation import allocate
    from cyberbudget.policy.scenario import load_scenario

    result = allocate(small_table, load_scenario(config.SCENARIOS_DIR / "baseline.yaml"))
    for by in ("region", "status", "category", "ght"):
        rows = disclosure.breakdown(result.table, by).rows
        small = rows["n_establishments"] < K
        assert rows.loc[small, "grant_cents"].isna().all(), by
        assert rows.loc[small, "cyber_share"].isna().all(), by
        assert rows.loc[small, "n_eligible"].isna().all(), by


# ---------------------------------------------------------------------------------------------- properties


def _safe(n: np.ndarray, rec: np.ndarray, mask: np.ndarray) -> bool:
    k = int(mask.sum())
    if k in (0, len(mask)):
        return True
    return k >= 2 and n[mask].sum() >= K and not (0 < rec[mask].sum() < K)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.integers(0, 30)), min_size=1, max_size=12))
def test_secondary_suppression_1d_protects_every_primary_cell(cells):
    n = np.array([c[0] for c in cells])
    rec = np.minimum(np.array([c[1] for c in cells]), n)
    prim = disclosure.primary_mask(n, None, rec)
    mask = disclosure.secondary_mask_1d(n, rec, prim)
    assert (mask | ~prim).all()  # primary cells stay suppressed
    assert _safe(n, rec, mask)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5), st.integers(1, 6), st.data())
def test_secondary_suppression_2d_protects_rows_and_columns(r, c, data):
    n = np.array(data.draw(st.lists(st.integers(0, 20), min_size=r * c, max_size=r * c))).reshape(r, c)
    rec = n.copy()
    prim = disclosure.primary_mask(n, None, rec) & (n > 0)
    mask = disclosure.secondary_mask_2d(n, rec, prim)
    assert (mask | ~prim).all()
    for i in range(r):
        live = n[i] > 0
        assert _safe(n[i][live], rec[i][live], mask[i][live])
    for j in range(c):
        live = n[:, j] > 0
        assert _safe(n[:, j][live], rec[:, j][live], mask[:, j][live])
