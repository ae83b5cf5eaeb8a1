"""The committed synthetic default table: reproducible, visibly synthetic, with the marginals of the SAE registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cyberbudget import config
from cyberbudget.data import reference
from cyberbudget.data.registry import load_establishments, read_table, synthesize, write_table


@pytest.fixture(scope="module")
def synthetic():
    return synthesize()


def test_the_committed_default_is_synthesize_with_the_default_seed(synthetic, tmp_path):
    path = write_table(synthetic, tmp_path / "establishments.csv")
    assert path.read_bytes() == config.DEFAULT_TABLE.read_bytes(), \
        "data/synthetic/establishments.csv is stale: regenerate it (see data/synthetic/README.md)"


def test_same_seed_same_bytes_other_seed_other_table(synthetic, tmp_path):
    a = write_table(synthesize(seed=config.DEFAULT_SEED), tmp_path / "a.csv")
    b = write_table(synthetic, tmp_path / "b.csv")
    c = write_table(synthesize(seed=7), tmp_path / "c.csv")
    assert a.read_bytes() == b.read_bytes()
    assert c.read_bytes() != a.read_bytes()


def with_capacity(table: pd.DataFrame) -> pd.Series:
    return (table["beds"] + table["places"] + table["had_places"]) > 0


def test_counts_by_region_status_category_equal_the_sae_import(synthetic, sae_table):
    key = ["region", "status", "category"]
    pd.testing.assert_series_equal(synthetic.groupby(key).size(), sae_table.groupby(key).size())
    # entities with capacity (beds, places or HAD places) exactly as in the SAE, and so the others
    pd.testing.assert_series_equal(synthetic[with_capacity(synthetic)].groupby(key).size(),
                                   sae_table[with_capacity(sae_table)].groupby(key).size())
    assert ((synthetic["beds"] + synthetic["places"]) > 0).sum() == 2962
    assert (synthetic["category"] == "dialysis").sum() == (sae_table["category"] == "dialysis").sum() == 634


def test_counts_agree_with_the_committed_marginals(synthetic):
    marg = reference.load_reference("sae2023_marginals")
    counts = synthetic.assign(cap=with_capacity(synthetic)).groupby(["region", "status", "category", "cap"]).size()
    expected = {}
    for r, s, c, n_cap, n_other in marg["counts"]:
        expected.update({(r, s, c, True): n_cap, (r, s, c, False): n_other})
    assert {k: v for k, v in counts.items()} == {k: v for k, v in expected.items() if v}
    assert len(synthetic) == marg["totals"]["establishments"] == 3913


def test_capacity_distribution_per_category_matches_the_sae(synthetic, sae_table):
    for col in ("beds", "places", "had_places"):
        assert synthetic[col].sum() == sae_table[col].sum()
        pd.testing.assert_series_equal(synthetic.groupby("category")[col].sum(), sae_table.groupby("category")[col].sum())
    for category, sae in sae_table.groupby("category"):
        syn = synthetic[synthetic["category"] == category]
        for q in (0.25, 0.5, 0.75, 0.9):
            s, r = syn["beds"].quantile(q), sae["beds"].quantile(q)
            assert abs(s - r) <= max(5, 0.25 * r), (category, q, s, r)
    assert ((synthetic["beds"] + synthetic["places"]) > 0).sum() == 2962


def test_staff_and_stations_have_the_sae_totals_and_follow_size(synthetic, sae_table):
    for col in ("staff_fte", "medical_fte"):
        assert round(synthetic[col].sum(), 2) == round(sae_table[col].sum(), 2)
        by = synthetic.groupby(["category", "status"])[col].sum().round(2)
        pd.testing.assert_series_equal(by, sae_table.groupby(["category", "status"])[col].sum().round(2))
    assert synthetic["dialysis_stations"].sum() == sae_table["dialysis_stations"].sum() == 19_362
    # headcount = medical headcount + non-medical FTE rounded half up, row by row: totals differ by rounding only
    assert abs(synthetic["headcount"].sum() - sae_table["headcount"].sum()) < 0.001 * sae_table["headcount"].sum()
    assert (synthetic["medical_fte"] <= synthetic["staff_fte"]).all()
    for q in (0.5, 0.9):
        s, r = synthetic["staff_fte"].quantile(q), sae_table["staff_fte"].quantile(q)
        assert abs(s - r) <= 0.25 * r, (q, s, r)
    hospitals = synthetic[synthetic["beds"] + synthetic["places"] > 0]
    assert np.corrcoef(hospitals["beds"] + hospitals["places"], hospitals["staff_fte"])[0, 1] > 0.7
    others = synthetic[~with_capacity(synthetic)]
    assert ((others["dialysis_stations"] > 0) | (others["staff_fte"] > 0) | (others["headcount"] > 0)).all()


def test_sites_per_legal_entity_by_status_are_those_of_the_sae(synthetic, sae_table):
    def per_status(table):
        cap = table[with_capacity(table)]
        return {s: len(g) / g["finess_ej"].nunique() for s, g in cap.groupby("status")}

    syn, sae = per_status(synthetic), per_status(sae_table)
    assert syn == pytest.approx(sae, abs=0.005)
    assert syn == pytest.approx({"public": 1.70, "private_nonprofit": 1.95, "private_forprofit": 1.25}, abs=0.01)
    assert abs(synthetic["finess_ej"].nunique() - sae_table["finess_ej"].nunique()) <= 5
    sizes = synthetic.groupby("finess_ej").size()
    assert sizes.max() == sae_table.groupby("finess_ej").size().max()
    # legal entities stay mostly within a region, as in the SAE (56 of 2,170 span regions there)
    assert (synthetic.groupby("finess_ej")["region"].nunique() > 1).sum() <= 60


def test_every_public_site_of_a_legal_entity_is_in_its_ght(synthetic):
    public = synthetic[synthetic["status"] == "public"]
    assert (public.groupby("finess_ej")["ght"].nunique(dropna=False) == 1).all()
    members = synthetic[synthetic["ght"] != ""]
    assert (members["ght_name"] == "GHT synthétique " + members["ght"]).all()
    assert (synthetic.loc[synthetic["ght"] == "", "ght_name"] == "").all()


def test_135_ght_with_support_establishments_and_ose(synthetic, sae_table):
    assert synthetic["ght"].replace("", pd.NA).dropna().nunique() == 135
    assert synthetic["ght_support"].sum() == 135 == synthetic["ose"].sum()
    assert (synthetic.loc[synthetic["ght"] != "", "status"] == "public").all()
    syn_sizes = synthetic[synthetic["ght"] != ""].groupby("ght").size()
    sae_sizes = sae_table[sae_table["ght"] != ""].groupby("ght").size()
    assert abs(syn_sizes.median() - sae_sizes.median()) <= 2
    assert abs(syn_sizes.sum() - sae_sizes.sum()) <= 0.05 * sae_sizes.sum()


def test_identifiers_and_names_are_visibly_synthetic_and_never_real(synthetic, sae_dir):
    assert synthetic["finess"].str.fullmatch(r"(\d{2}|2A|2B)99\d{5}|97[1-6]99\d{4}").all()
    assert synthetic["finess_ej"].str.fullmatch(r"(\d{2}|2A|2B)999\d{4}|97[1-6]999\d{3}").all()
    assert not set(synthetic["finess"]) & set(synthetic["finess_ej"])
    assert synthetic["finess"].str[:2].eq(synthetic["department"].str[:2]).all()
    assert synthetic["name"].str.startswith("Établissement synthétique ").all()
    assert synthetic["imputed"].str.split().map(lambda t: "synthetic" in t).all()
    ident = read_table(sae_dir / "ID_2023r.csv")
    sites = read_table(sae_dir / "ST_2023r.csv")
    real = set(ident["fi"]) | set(ident["fi_ej"]) | set(sites["FI"]) | set(sites["FI_ET"])
    assert not (set(synthetic["finess"]) | set(synthetic["finess_ej"])) & real


def test_the_default_loads_and_its_budgets_are_plausible():
    table = load_establishments()
    share = table["it_budget_eur"].sum() / table["operating_budget_eur"].sum()
    assert 0.015 < share < 0.019
    assert not table["medico_social"].any()


def test_medico_social_layer():
    table = synthesize(medico_social=True)
    ms = table[table["medico_social"]]
    assert len(ms) == 35_000
    assert (ms["category"] == "ehpad").sum() == 7_500
    assert set(ms["category"]) == {"ehpad", "esms"}
    assert (ms["ght"] == "").all() and not ms["ose"].any()
    assert ms["finess"].str.fullmatch(r"(\d{2}|2A|2B)98\d{5}|97[1-6]98\d{4}").all()
    assert (ms["finess_ej"] == ms["finess"]).all() and (ms["staff_fte"] == 0).all()
    residents = ms.loc[ms["category"] == "ehpad", "beds"].sum()
    assert 540_000 < residents < 660_000      # "more than 600,000 residents" in about 7,500 EHPAD
    hospitals = table[~table["medico_social"]]
    pd.testing.assert_frame_equal(
        hospitals.drop(columns="name").reset_index(drop=True),
        synthesize().drop(columns="name").reset_index(drop=True))
