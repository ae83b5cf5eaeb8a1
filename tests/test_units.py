"""Funding units (DESIGN.md, "Units"; cyberbudget.policy.units): who applies and receives under
``allocation.unit: establishment | legal_entity | ght``. Hand-computed cases; amounts in cents unless said
otherwise. The properties (conservation, the split sums to the unit's grant) are in test_allocation_properties.py
and the Monte Carlo parity in every mode in test_parity.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_allocation import make_table

from cyberbudget.policy.allocation import allocate
from cyberbudget.policy.scenario import deep_merge, load_scenario
from cyberbudget.uncertainty.montecarlo import simulate


def run(rows: list[dict], unit: str, **spec):
    scenario = load_scenario(deep_merge({"name": "units", "envelope": {"total_eur": 100, "years": [2021]},
                                         "allocation": {"unit": unit}}, spec))
    result = allocate(make_table(rows, first_finess=10_000_001), scenario)
    s = result.summary
    assert s["allocated_cents"] + s["unallocated_cents"] == s["envelope_cents"]
    return result


def grants(result) -> dict[str, int]:
    return dict(zip(result.table["finess"], result.table["grant_cents"].tolist(), strict=True))


def column(result, name: str) -> dict[str, object]:
    return dict(zip(result.table["finess"], result.table[name].tolist(), strict=True))


# --------------------------------------------------------------------------------------------- legal entity

TWO_SITES = [
    {"finess_ej": "090000001", "it_budget_eur": 1000, "cyber_spend_eur": 60},  # 6 %
    {"finess_ej": "090000001", "it_budget_eur": 1000, "cyber_spend_eur": 45},  # 4.5 %: ineligible alone
    {"finess_ej": "", "it_budget_eur": 2000, "cyber_spend_eur": 120},          # its own legal entity, 6 %
]


def test_a_legal_entity_is_eligible_as_a_whole_although_one_site_alone_is_not() -> None:
    """Alone: 100 € pro rata 1,000 : 2,000 to the eligible sites: 33.33 / 66.67 €, the second site nothing.
    As legal entities: 090000001 has a share of 105 / 2,000 = 5.25 %: eligible; both units have an IT budget of
    2,000 €: 50 € each; the entity's 50 € split 1:1 between its sites."""
    alone = run(TWO_SITES, "establishment")
    assert grants(alone) == {"010000001": 3333, "010000002": 0, "010000003": 6667}
    entity = run(TWO_SITES, "legal_entity")
    assert grants(entity) == {"010000001": 2500, "010000002": 2500, "010000003": 5000}
    assert column(entity, "unit") == {"010000001": "090000001", "010000002": "090000001", "010000003": "010000003"}
    assert column(entity, "eligible") == {"010000001": True, "010000002": True, "010000003": True}
    assert "5.2 % >= 5 %" in entity.unit_eligibility.reason[1]  # units sorted by key: 010000003, 090000001
    assert column(entity, "reason")["010000002"] == "pro rata to it_budget_eur (unit 090000001)"
    assert list(entity.table.columns[:6]) == ["finess", "eligible", "grant_cents", "grant_eur", "reason", "unit"]
    assert entity.summary["units"] == {
        "unit": "legal_entity", "n": 2, "n_eligible": 2,
        "by_status": {"public": {"n": 2, "n_eligible": 2, "grant_cents": 10_000}}}
    assert alone.summary["units"]["n"] == 3 and column(alone, "unit")["010000002"] == "010000002"


def test_without_a_finess_ej_column_each_row_is_its_own_legal_entity() -> None:
    rows = [{k: v for k, v in r.items() if k != "finess_ej"} for r in TWO_SITES]
    assert grants(run(rows, "legal_entity")) == grants(run(rows, "establishment"))


# --------------------------------------------------------------------------------------------- GHT

GHT = [
    {"finess_ej": "090000011", "status": "public", "ght": "ARA-01", "ght_support": True, "region": "84",
     "it_budget_eur": 1000, "cyber_spend_eur": 40},                                  # 4 %
    {"finess_ej": "090000012", "status": "public", "ght": "ARA-01", "region": "11", "ose": True,
     "it_budget_eur": 3000, "cyber_spend_eur": 200, "category": "chu"},              # 6.7 %
    {"finess_ej": "090000012", "status": "public", "ght": "", "it_budget_eur": 1000, "cyber_spend_eur": 70},
    {"finess_ej": "", "status": "private_forprofit", "it_budget_eur": 1000, "cyber_spend_eur": 70},
]


def test_the_public_rows_of_a_ght_apply_as_one_unit_every_other_row_with_its_legal_entity() -> None:
    """GHT ARA-01 = the first two rows: IT 4,000 €, cyber 240 € (6 %): eligible although its support site is at
    4 %. The third row's legal entity 090000012 applies without its GHT site; the clinic alone. 120 € pro rata
    to IT 4,000 : 1,000 : 1,000 = 80 / 20 / 20 €; ARA-01's 80 € split 1:3 between its members."""
    r = run(GHT, "ght", envelope={"total_eur": 120})
    assert grants(r) == {"010000001": 2000, "010000002": 6000, "010000003": 2000, "010000004": 2000}
    assert column(r, "unit") == {"010000001": "ARA-01", "010000002": "ARA-01", "010000003": "090000012",
                                 "010000004": "010000004"}
    ght = r.applicants.set_index("finess").loc["ARA-01"]
    # public, in the region of its support establishment (not of its largest member), OSE as one member is
    assert (ght["status"], ght["region"], bool(ght["ose"]), bool(ght["ght_support"])) == ("public", "84", True, True)
    assert ght["category"] == "chu" and ght["name"] == "GHT ARA-01" and ght["members"] == 2
    assert r.summary["units"]["by_status"] == {
        "public": {"n": 2, "n_eligible": 2, "grant_cents": 10_000},
        "private_forprofit": {"n": 1, "n_eligible": 1, "grant_cents": 2_000}}
    # as legal entities the support site is alone at 4 % (ineligible) and 090000012 gathers two sites (IT 4,000 €):
    # 120 € pro rata 4,000 : 1,000 = 96 / 24 €, the entity's 96 € split 3:1
    ej = run(GHT, "legal_entity", envelope={"total_eur": 120})
    assert grants(ej) == {"010000001": 0, "010000002": 7200, "010000003": 2400, "010000004": 2400}


def test_a_unit_takes_its_attributes_from_its_member_with_the_largest_base_ties_by_finess() -> None:
    rows = [
        {"finess_ej": "090000001", "region": "84", "category": "ch", "it_budget_eur": 1000, "cyber_spend_eur": 60},
        {"finess_ej": "090000001", "region": "11", "category": "chs", "status": "private_nonprofit",
         "it_budget_eur": 1000, "cyber_spend_eur": 60, "ose": True},
    ]
    tie = run(rows, "legal_entity").applicants.iloc[0]
    assert (tie["region"], tie["category"], tie["status"], bool(tie["ose"])) == ("84", "ch", "public", False)
    rows[1]["it_budget_eur"] = 1000.01
    bigger = run(rows, "legal_entity").applicants.iloc[0]
    assert (bigger["region"], bigger["category"], bigger["status"], bool(bigger["ose"])) == (
        "11", "chs", "private_nonprofit", True)


# --------------------------------------------------------------------------------------------- floors, caps


def test_floors_and_caps_apply_per_unit() -> None:
    """Floor 10 €, cap 40 € per unit; units' IT budgets 2,000 (two sites) / 1,000 / 6,000 €, 100 €. The largest is
    capped at 40 €; 60 € remain for the others: 20 € of floors + λ × 3,000 → λ = 40 / 3,000: 36.67 € and
    23.33 €; 3,666.67 / 2,333.33 / 4,000 cents → 3,667 / 2,333 / 4,000 (the leftover cent to the largest
    remainder). The legal entity's 3,667 cents split 1:1: 1,834 to the smaller finess, 1,833."""
    rows = [
        {"finess_ej": "090000001", "it_budget_eur": 1000, "cyber_spend_eur": 60},
        {"finess_ej": "090000001", "it_budget_eur": 1000, "cyber_spend_eur": 60},
        {"it_budget_eur": 1000, "cyber_spend_eur": 60},
        {"it_budget_eur": 6000, "cyber_spend_eur": 360},
    ]
    r = run(rows, "legal_entity", allocation={"floor_eur": 10, "cap_eur": 40})
    assert grants(r) == {"010000001": 1834, "010000002": 1833, "010000003": 2333, "010000004": 4000}
    assert "capped at 40 €" in column(r, "reason")["010000004"]
    # per establishment there would be four floors, and the two sites of the entity would be apart
    alone = run(rows, "establishment", allocation={"floor_eur": 10, "cap_eur": 40})
    assert sum(grants(alone).values()) == 10_000 and grants(alone) != grants(r)


# --------------------------------------------------------------------------------------------- the split


def test_the_split_to_sites_is_exact_to_the_cent_with_ties_by_finess() -> None:
    """One unit of three equal sites receives the whole 1 €: 33.33 cents each, the leftover cent to the smallest
    finess, whatever the row order of the table."""
    rows = [{"finess": f, "finess_ej": "090000001", "it_budget_eur": 1000, "cyber_spend_eur": 60}
            for f in ("010000003", "010000001", "010000002")]
    r = run(rows, "legal_entity", envelope={"total_eur": 1})
    assert grants(r) == {"010000001": 34, "010000002": 33, "010000003": 33}
    assert r.by_year.sum(axis=1).tolist() == [34, 33, 33]


def test_members_whose_base_sums_to_zero_share_equally() -> None:
    """Gap rule: the entity's need (10 % × 2,000 − 110) = 90 € is met in full; the split follows the base
    ``beds``, 0 for both sites: equal shares, 45 € each."""
    rows = [{"finess_ej": "090000001", "it_budget_eur": 1000, "cyber_spend_eur": 50, "beds": 0},
            {"finess_ej": "090000001", "it_budget_eur": 1000, "cyber_spend_eur": 60, "beds": 0}]
    r = run(rows, "legal_entity", allocation={"rule": "gap", "base": "beds"})
    assert grants(r) == {"010000001": 4500, "010000002": 4500}
    assert r.summary["unallocated_cents"] == 1000


def test_rounding_ties_between_units_go_by_ascending_unit_key() -> None:
    """Three units of equal IT budget share 2 cents: 0.667 each; the two cents go to the smallest keys — the
    legal entity's FINESS sorts before the GHT codes, ARA-01 before BRE-02. Inside ARA-01 the cent goes to the
    smaller finess."""
    rows = [
        {"status": "public", "ght": "BRE-02", "it_budget_eur": 1000, "cyber_spend_eur": 60},
        {"status": "public", "ght": "ARA-01", "it_budget_eur": 500, "cyber_spend_eur": 30},
        {"status": "public", "ght": "ARA-01", "it_budget_eur": 500, "cyber_spend_eur": 30},
        {"status": "private_nonprofit", "finess_ej": "090000009", "it_budget_eur": 1000, "cyber_spend_eur": 60},
    ]
    r = run(rows, "ght", envelope={"total_eur": 0.02})
    assert r.applicants["finess"].tolist() == ["090000009", "ARA-01", "BRE-02"]
    assert r.applicants["grant_cents"].tolist() == [1, 1, 0]
    assert grants(r) == {"010000001": 0, "010000002": 1, "010000003": 0, "010000004": 1}


# --------------------------------------------------------------------------------------------- uptake


def test_a_unit_complies_by_raising_its_members_spend_pro_rata_to_it_budgets() -> None:
    """The entity spends 30 + 150 = 180 € of 4,000 € (4.5 %); under full uptake it reaches 5 %: 200 €. The 20 €
    induced are spread 1:3 over its sites: 35 € and 165 €; over 2 years the induced spend is 40 €."""
    rows = [{"finess_ej": "090000001", "it_budget_eur": 1000, "cyber_spend_eur": 30},
            {"finess_ej": "090000001", "it_budget_eur": 3000, "cyber_spend_eur": 150}]
    r = run(rows, "legal_entity", uptake={"model": "full"}, envelope={"years": [2021, 2022]})
    t = r.table.set_index("finess")
    assert t["cyber_spend_eur"].tolist() == pytest.approx([35.0, 165.0])
    assert t["cyber_spend_before_eur"].tolist() == [30.0, 150.0]
    assert t["induced_spend_eur"].tolist() == pytest.approx([10.0, 30.0])
    assert r.summary["induced_spend_eur"] == pytest.approx(40.0)
    assert t["eligible"].all() and t["complied"].all()
    assert "raising cyber share from 4.5 % to 5 % (uptake full)" in t.loc["010000001", "reason"]
    assert grants(r) == {"010000001": 2500, "010000002": 7500}


# --------------------------------------------------------------------------------------------- explain


def test_explain_answers_for_a_site_a_legal_entity_and_a_ght() -> None:
    r = run(GHT, "ght", envelope={"total_eur": 120})
    by_ght = r.explain("ARA-01")
    assert by_ght.startswith("Unit ARA-01 (ght, 2 members)") and "share 6 %" in by_ght
    assert "010000001" in by_ght and "010000002" in by_ght and "← this establishment" not in by_ght
    by_site = r.explain("010000001")
    assert by_site.startswith("Unit ARA-01") and "010000001 Établissement: it_budget_eur 1,000.00, share 0.25" in by_site
    assert "← this establishment" in by_site
    assert r.explain("090000012").startswith("Unit 090000012 (ght, 1 member)")
    with pytest.raises(KeyError, match="neither a finess"):
        r.explain("999999999")


# --------------------------------------------------------------------------------------------- Monte Carlo


def test_a_simulation_on_units_hands_out_the_envelope_to_the_members() -> None:
    rng = np.random.default_rng(5)
    n = 40
    rows = [{"finess_ej": f"09000000{k % 9}" if k % 4 else "", "status": "public" if k % 3 else "private_nonprofit",
             "ght": ("ARA-01" if k % 2 else "BRE-02") if k % 3 else "",
             "it_budget_eur": float(rng.integers(1000, 5000)), "cyber_spend_eur": float(rng.integers(40, 300)),
             "imputed": "it_budget_eur cyber_spend_eur", "category": "ch" if k % 5 else "chu"} for k in range(n)]
    table = make_table(rows)
    s = load_scenario({"name": "mc_units", "envelope": {"total_eur": 50_000}, "allocation": {"unit": "ght"}})
    mc = simulate(table, s, draws=300, seed=4)
    by_cat = mc.grants_by_category.sum(axis=1).to_numpy()
    np.testing.assert_allclose(by_cat, mc.draws["allocated_cents"].to_numpy() / 100, rtol=1e-9)
    assert (mc.draws["allocated_cents"] == 5_000_000).mean() > 0.5  # most draws have an eligible unit
    units = allocate(table, s).table["unit"]
    members_of = pd.Series(units.to_numpy(), index=table.sort_values("finess")["finess"].to_numpy())
    p = mc.establishments.set_index("finess")["p_eligible"]
    # every member of a unit is eligible in exactly the same draws
    assert (p.groupby(members_of.reindex(p.index)).nunique() == 1).all()


# --------------------------------------------------------------------------------------------- forfait, CaRE

BANDS = {"column": "headcount", "bands": [[0, 500, 100], [500, 2000, 300], [2000, None, 500]]}


def test_a_ght_asks_for_the_forfait_of_its_members_summed_headcount() -> None:
    """The GHT's two sites of 300 and 400 staff make 700: the 300 € band (each alone would ask for 100 €), split
    1:1 by IT budget; the clinic of 2,500 staff asks for 500 €. 800 € of forfaits, 1,000 € envelope: all in full,
    200 € unallocated."""
    rows = [
        {"status": "public", "ght": "ARA-01", "headcount": 300, "it_budget_eur": 1000, "cyber_spend_eur": 60},
        {"status": "public", "ght": "ARA-01", "headcount": 400, "it_budget_eur": 1000, "cyber_spend_eur": 60},
        {"status": "private_forprofit", "headcount": 2500, "it_budget_eur": 1000, "cyber_spend_eur": 60},
    ]
    spec = {"envelope": {"total_eur": 1000}, "allocation": {"rule": "forfait", "forfait": BANDS}}
    r = run(rows, "ght", **spec)
    assert grants(r) == {"010000001": 15000, "010000002": 15000, "010000003": 50000}
    assert r.summary["unallocated_cents"] == 20000
    assert grants(run(rows, "establishment", **spec)) == {"010000001": 10000, "010000002": 10000, "010000003": 50000}


def care_table() -> pd.DataFrame:
    """Two GHTs of three public sites, a private group of two clinics, a private clinic, a non-profit centre."""
    rows = []
    for g, code in enumerate(("ARA-01", "BRE-02")):
        for k in range(3):
            rows.append({"status": "public", "ght": code, "ght_support": k == 0, "finess_ej": f"09000{g}{k}000",
                         "headcount": [2400, 900, 300][k] * (g + 1), "it_budget_eur": 2e6 / (k + 1),
                         "cyber_spend_eur": 5e4 / (k + 1)})
    rows += [
        {"status": "private_forprofit", "finess_ej": "090000900", "headcount": 400, "it_budget_eur": 3e5,
         "cyber_spend_eur": 6e3},
        {"status": "private_forprofit", "finess_ej": "090000900", "headcount": 350, "it_budget_eur": 1e5,
         "cyber_spend_eur": 2e3},
        {"status": "private_forprofit", "headcount": 120, "it_budget_eur": 8e4, "cyber_spend_eur": 0},
        {"status": "private_nonprofit", "headcount": 1500, "it_budget_eur": 0, "cyber_spend_eur": 0},
    ]
    return make_table(rows)


def test_the_care_scenario_funds_each_ght_by_the_band_of_its_headcount() -> None:
    """care_d1 (65 M€, 2024, unit ght, forfait by headcount band, no cyber-share condition). ARA-01: 2,400 + 900
    + 300 = 3,600 staff → 250,000 €; BRE-02: 7,200 → 450,000 €; the private group 750 → 100,000 €; the lone
    clinic 120 → 30,000 € (a cyber spend of 0 is eligible at min_share 0); the centre has no IT budget: not
    eligible. 830,000 € ≤ 65 M€: every forfait in full, the rest unallocated."""
    s = load_scenario("care_d1")
    assert (s.allocation.unit, s.allocation.rule, s.envelope.years) == ("ght", "forfait", (2024,))
    r = allocate(care_table(), s)
    units = r.applicants.set_index("finess")["grant_cents"].to_dict()
    assert units == {"010000008": 3_000_000, "010000009": 0, "090000900": 10_000_000, "ARA-01": 25_000_000,
                     "BRE-02": 45_000_000}
    assert r.summary["unallocated_cents"] == 6_500_000_000 - 83_000_000
    t = r.table.set_index("finess")
    # ARA-01's 250,000 € split by IT budget 2 : 1 : 2/3
    assert t.loc[["010000000", "010000001", "010000002"], "grant_cents"].tolist() == [13_636_364, 6_818_182,
                                                                                     4_545_454]
    assert r.summary["units"]["by_status"]["public"] == {"n": 2, "n_eligible": 2, "grant_cents": 70_000_000}
    assert r.by_year.columns.tolist() == [2024]


def test_the_care_scenario_needs_the_headcount_column() -> None:
    from cyberbudget.errors import AllocationError

    with pytest.raises(AllocationError, match="headcount") as err:
        allocate(care_table().drop(columns="headcount"), load_scenario("care_d1"))
    assert err.value.problems[0].where == "allocation.forfait.column: headcount"
