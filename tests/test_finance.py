"""Budget imputation from the reference ratios, and overrides with real figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cyberbudget.data import reference
from cyberbudget.data.finance import (
    apply_overrides,
    impute_budgets,
    operating_basis,
    staff_costs,
)
from cyberbudget.data.schema import validate_table
from cyberbudget.errors import TableError

CAPACITY_COLUMNS = ["finess", "name", "region", "department", "status", "category", "ght", "ght_support", "ose",
                    "beds", "places", "had_places", "medico_social", "imputed"]


def bare(table: pd.DataFrame) -> pd.DataFrame:
    return table[CAPACITY_COLUMNS].copy()


# ---- hand-computed expectations ----------------------------------------------------------------------------

def test_a_public_chu_gets_its_ratio_times_capacity_within_the_dispersion():
    t = pd.DataFrame({"finess": ["010000024"], "status": ["public"], "category": ["chu"], "beds": [1000],
                      "places": [100], "imputed": [""]})
    out = impute_budgets(t, seed=1).iloc[0]
    ratio = reference.value("finance", "operating_per_capacity.public")["chu"]
    expected = 1100 * ratio
    sigma = reference.value("finance", "operating_per_capacity.dispersion_sigma")
    assert expected * np.exp(-4 * sigma) < out["operating_budget_eur"] < expected * np.exp(4 * sigma)
    assert out["imputed"] == "operating_budget_eur it_budget_eur cyber_spend_eur"
    assert 0 <= out["cyber_spend_eur"] <= out["it_budget_eur"] <= out["operating_budget_eur"]
    assert round(out["operating_budget_eur"], 2) == out["operating_budget_eur"]


def test_costs_per_fte_come_from_personnel_spending_and_public_fte():
    # 48.7 bn EUR in 2019: 68 % non-medical, 21 % medical, the other 12 % spread pro rata (/ 0.89);
    # SAE 2023 public FTE: 797,621.64 non-medical, 76,269.05 salaried medical
    costs = staff_costs()
    assert costs["non_medical"] == pytest.approx(48.7e9 * 0.68 / 0.89 / 797_621.64)
    assert costs["medical"] == pytest.approx(48.7e9 * 0.21 / 0.89 / 76_269.05)
    assert costs["blended"] == pytest.approx(48.7e9 / (797_621.64 + 76_269.05))
    assert costs["personnel_share"] == {"public": 0.59, "private_nonprofit": 0.59, "private_forprofit": 0.47}


def test_a_public_ch_with_staff_gets_its_personnel_cost_over_the_personnel_share():
    t = pd.DataFrame({"finess": ["010000024"], "status": ["public"], "category": ["ch"], "beds": [300],
                      "places": [20], "staff_fte": [1100.0], "medical_fte": [100.0], "imputed": [""]})
    out = impute_budgets(t, seed=2).iloc[0]
    c = staff_costs()
    expected = (1000 * c["non_medical"] + 100 * c["medical"]) / 0.59   # about 104 M EUR
    sigma = reference.value("finance", "operating_from_staff.dispersion_sigma")
    assert expected * np.exp(-4 * sigma) < out["operating_budget_eur"] < expected * np.exp(4 * sigma)
    # the same staff in a for-profit clinic: personnel is a smaller share of its charges
    clinic = impute_budgets(t.assign(status="private_forprofit"), seed=2).iloc[0]
    assert clinic["operating_budget_eur"] == pytest.approx(out["operating_budget_eur"] * 0.59 / 0.47, rel=1e-6)


def test_without_medical_fte_every_fte_costs_the_blended_average():
    t = pd.DataFrame({"finess": ["010000024"], "status": ["public"], "category": ["ch"], "beds": [0],
                      "places": [0], "staff_fte": [500.0], "imputed": [""]})
    with_split = impute_budgets(t.assign(medical_fte=0.0), seed=4).iloc[0]["operating_budget_eur"]
    blended = impute_budgets(t, seed=4).iloc[0]["operating_budget_eur"]
    assert blended / with_split == pytest.approx(staff_costs()["blended"] / staff_costs()["non_medical"], rel=1e-6)


def test_the_basis_is_staff_else_capacity_else_the_category_median():
    t = pd.DataFrame({
        "finess": ["010000024", "020000024", "030000024", "040000024"],
        "status": ["public", "private_nonprofit", "private_forprofit", "private_forprofit"],
        "category": ["ch", "dialysis", "other", "mco"], "beds": [200, 0, 0, 0], "places": [0, 0, 0, 0],
        "dialysis_stations": [12, 30, 0, 0], "staff_fte": [350.0, 0.0, 0.0, 0.0], "imputed": ["", "", "", ""]})
    assert operating_basis(t).tolist() == ["staff", "capacity", "category", "category"]
    out = impute_budgets(t, seed=9)
    sigma = reference.value("finance", "operating_per_capacity.dispersion_sigma")
    station = reference.value("finance", "operating_per_capacity.dialysis_station")
    assert 30 * station * np.exp(-4 * sigma) < out.loc[1, "operating_budget_eur"] < 30 * station * np.exp(4 * sigma)
    medians = reference.value("finance", "operating_without_size")
    for i, category in ((2, "other"), (3, "mco")):
        value = out.loc[i, "operating_budget_eur"]
        assert medians[category] * np.exp(-4 * sigma) < value < medians[category] * np.exp(4 * sigma)
    assert (out["operating_budget_eur"] > 0).all() and (out["it_budget_eur"] > 0).all()


def test_observed_values_are_kept_and_drive_the_dependent_ones():
    t = pd.DataFrame({"finess": ["010000024", "020000024"], "status": ["public", "public"],
                      "category": ["ch", "ch"], "beds": [100, 100], "places": [0, 0],
                      "operating_budget_eur": [50_000_000.0, np.nan], "it_budget_eur": [np.nan, 900_000.0],
                      "cyber_spend_eur": [np.nan, 45_000.0], "imputed": ["", "ght"]})
    out = impute_budgets(t, seed=3)
    assert out.loc[0, "operating_budget_eur"] == 50_000_000.0
    assert out.loc[0, "imputed"] == "it_budget_eur cyber_spend_eur"
    assert out.loc[1, ["it_budget_eur", "cyber_spend_eur"]].tolist() == [900_000.0, 45_000.0]
    assert out.loc[1, "imputed"] == "ght operating_budget_eur"
    assert out.loc[1, "operating_budget_eur"] >= 900_000.0


def test_a_row_does_not_depend_on_row_order_or_on_other_rows(small_table):
    full = impute_budgets(bare(small_table), seed=11).set_index("finess")
    reversed_ = impute_budgets(bare(small_table).iloc[::-1], seed=11).set_index("finess")
    alone = impute_budgets(bare(small_table).iloc[[4]], seed=11).set_index("finess")
    pd.testing.assert_frame_equal(full.loc[reversed_.index], reversed_)
    pd.testing.assert_series_equal(full.loc[alone.index[0]], alone.iloc[0])
    other_seed = impute_budgets(bare(small_table), seed=12).set_index("finess")
    assert not np.allclose(full["cyber_spend_eur"], other_seed["cyber_spend_eur"])


def test_imputed_table_validates(small_table):
    validate_table(impute_budgets(bare(small_table), seed=5))


# ---- totals on the real registry ---------------------------------------------------------------------------

def test_public_operating_expenses_per_bed_or_place_are_near_the_derived_ratio(sae_table):
    # Derived from 82.9 bn EUR / (61 % x (393,000 beds + 79,000 places)): about 288,000 EUR per bed or place.
    public = sae_table[sae_table["status"] == "public"]
    per_unit = public["operating_budget_eur"].sum() / (public["beds"].sum() + public["places"].sum())
    assert 260_000 < per_unit < 320_000


def test_it_share_is_about_1_7_percent_with_clcc_higher_and_small_ch_lower(sae_table):
    share = sae_table["it_budget_eur"].sum() / sae_table["operating_budget_eur"].sum()
    assert 0.015 < share < 0.019
    by = sae_table.assign(s=sae_table["it_budget_eur"] / sae_table["operating_budget_eur"])
    clcc = by.loc[by["category"] == "clcc", "s"].median()
    small = by.loc[(by["category"] == "ch") & (by["beds"] + by["places"] < 100), "s"].median()
    assert 0.020 < clcc < 0.028 and 0.009 < small < 0.014


def test_most_establishments_spend_less_than_5_percent_of_it_on_cyber(sae_table):
    share = sae_table["cyber_spend_eur"] / sae_table["it_budget_eur"]
    assert 0.5 < (share < 0.05).mean() < 0.85
    assert (share > 0.10).mean() < 0.05
    # Order of magnitude of the derived check of figures.md: about 70 M EUR a year at 5 % of public IT.
    public_it = sae_table.loc[sae_table["status"] == "public", "it_budget_eur"].sum()
    assert 1.1e9 < public_it < 1.7e9


# ---- overrides ---------------------------------------------------------------------------------------------

@pytest.fixture
def imputed(small_table):
    return validate_table(impute_budgets(bare(small_table), seed=7))


def test_overrides_replace_figures_and_clear_their_flags(imputed, tmp_path):
    path = tmp_path / "real.csv"
    pd.DataFrame({"finess": ["690000001", "310000020"], "operating_budget_eur": ["950000000", ""],
                  "cyber_spend_eur": ["", "1234.5"]}).to_csv(path, index=False)
    before = imputed.set_index("finess")
    out = apply_overrides(imputed, path).set_index("finess")
    chu = out.loc["690000001"]
    assert chu["operating_budget_eur"] == 950_000_000.0
    assert chu["imputed"] == "it_budget_eur cyber_spend_eur"
    # the imputed IT budget follows the observed operating budget with the row's IT share
    share = before.loc["690000001", "it_budget_eur"] / before.loc["690000001", "operating_budget_eur"]
    assert chu["it_budget_eur"] == pytest.approx(950_000_000.0 * share, abs=0.01)
    clinic = out.loc["310000020"]
    assert clinic["cyber_spend_eur"] == 1234.5
    assert clinic["imputed"] == "operating_budget_eur it_budget_eur"
    untouched = out.drop(index=["690000001", "310000020"])
    pd.testing.assert_frame_equal(untouched, before.drop(index=["690000001", "310000020"]))


def test_bad_overrides_are_all_reported_with_row_and_column(imputed, tmp_path):
    path = tmp_path / "real.csv"
    pd.DataFrame({"finess": ["999999999", "690000001", "690000001", "010000024"],
                  "it_budget_eur": ["1", "-3", "2", "abc"], "beds": ["1", "1", "1", "1"]}).to_csv(path, index=False)
    with pytest.raises(TableError) as info:
        apply_overrides(imputed, path)
    text = str(info.value)
    assert f"{path}, column beds: expected one of operating_budget_eur" in text
    assert f"{path}, row 2, column finess: expected a finess of the table, found '999999999'" in text
    assert f"{path}, row 3, column it_budget_eur: expected an amount in euros >= 0, found '-3'" in text
    assert f"{path}, row 4, column finess: expected each finess once" in text
    assert f"{path}, row 5, column it_budget_eur: expected an amount in euros >= 0 (e.g. 2 500 000,00), found 'abc'" in text


def test_contradictory_overrides_are_rejected(imputed, tmp_path):
    path = tmp_path / "real.csv"
    pd.DataFrame({"finess": ["690000001"], "it_budget_eur": [100.0], "cyber_spend_eur": [200.0]}).to_csv(
        path, index=False)
    with pytest.raises(TableError, match=r"row 2, column cyber_spend_eur: expected at most the IT budget"):
        apply_overrides(imputed, path)


def test_overrides_file_without_finess(imputed, tmp_path):
    path = tmp_path / "real.csv"
    pd.DataFrame({"id": ["x"], "it_budget_eur": [1.0]}).to_csv(path, index=False)
    with pytest.raises(TableError, match="expected a finess or finess_ej column"):
        apply_overrides(imputed, path)


# ---- reference figures -------------------------------------------------------------------------------------

def test_every_reference_figure_has_a_source_and_the_provenance_lists_them():
    prov = reference.provenance()
    assert {"file", "key", "value", "unit", "source", "year", "note", "assumption"} <= set(prov.columns)
    fin = prov[prov["file"] == "finance.yaml"]
    assert "it_share.mean" in set(fin["key"]) and (fin["source"].str.len() > 0).all()
    assert fin.set_index("key").loc["cyber_share.alpha", "assumption"]
    assert not fin.set_index("key").loc["it_share.mean", "assumption"]
    assert reference.value("finance", "it_share.mean") == 0.017


def test_a_figure_without_source_or_an_unknown_key_is_an_input_error(tmp_path):
    from cyberbudget.errors import InputError

    (tmp_path / "bad.yaml").write_text("x:\n  value: 1\n  unit: EUR\n", encoding="utf-8")
    with pytest.raises(InputError, match="bad.yaml: x"):
        reference.load_reference("bad", tmp_path)
    with pytest.raises(InputError, match="no figure 'it_share.nope'"):
        reference.value("finance", "it_share.nope")
