"""The real registry imported from the DREES SAE 2023 files (read from ../shared, never copied)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cyberbudget.data import reference
from cyberbudget.data.finance import operating_basis
from cyberbudget.data.ght import size_order
from cyberbudget.data.registry import import_sae, normalize_name, sae_registry, summarize_table, table_counts
from cyberbudget.data.schema import validate_table
from cyberbudget.data.tableio import read_table
from cyberbudget.errors import TableError


def with_capacity(table: pd.DataFrame) -> pd.Series:
    return (table["beds"] + table["places"] + table["had_places"]) > 0


def non_medical(table: pd.DataFrame) -> pd.Series:
    return (table["staff_fte"] - table["medical_fte"]).round(2)


# ---- who is in the registry --------------------------------------------------------------------------------------

def test_counts_and_capacities_match_the_published_totals(sae_table):
    beds_or_places = sae_table[(sae_table["beds"] + sae_table["places"]) > 0]
    assert len(beds_or_places) == 2962
    assert beds_or_places["status"].value_counts().to_dict() == {
        "public": 1329, "private_forprofit": 976, "private_nonprofit": 657}
    assert sae_table["beds"].sum() == 369_309
    assert sae_table["places"].sum() == 88_366
    assert sae_table["had_places"].sum() == 24_093


def test_every_entity_with_capacity_stations_or_staff_is_imported(sae_dir, sae_table):
    # 3,975 SAE entities; 3,126 with beds, places or HAD places; of the 849 others, 787 have dialysis stations or
    # staff and 62 (emergency-transport antennas and the like) have neither.
    ident = read_table(sae_dir / "ID_2023r.csv")
    assert len(ident) == 3975 and len(sae_table) == 3913
    assert with_capacity(sae_table).sum() == 3126
    rest = sae_table[~with_capacity(sae_table)]
    assert len(rest) == 787
    assert ((rest["dialysis_stations"] > 0) | (rest["staff_fte"] > 0) | (rest["headcount"] > 0)).all()


def test_summary_reports_all_entities_and_the_drees_count(sae_table):
    counts = table_counts(sae_table)
    assert counts["establishments"] == 3913 and counts["with_beds_or_places"] == 2962
    assert counts["with_beds_or_places_by_status"] == {"public": 1329, "private_nonprofit": 657, "private_forprofit": 976}
    text = summarize_table(sae_table)
    assert text.startswith("3,913 establishments (")
    assert "of which 2,962 with beds or places (1,329 public, 657 private non-profit, 976 private for-profit)" in text
    assert "2,170 legal entities" in text and "19,362 dialysis stations" in text and "135 GHT, 135 OSE" in text


def test_establishments_with_only_had_places_are_category_had(sae_table):
    only_had = sae_table[((sae_table["beds"] + sae_table["places"]) == 0) & (sae_table["had_places"] > 0)]
    assert len(only_had) == 164
    assert (only_had["category"] == "had").all()


def test_categories_follow_the_documented_mapping(sae_dir, sae_table):
    raw = sae_registry(sae_dir).set_index("finess")
    pub1 = raw[(raw["catr"] == "PUB1") & (raw["beds"] + raw["places"] > 0)]
    assert (pub1["category"] == "chu").all()
    # cancer centres, their radiotherapy sites without beds included
    clcc = raw[raw["catr"] == "PNL6"]
    assert (clcc["category"] == "clcc").all() and len(clcc) == 26
    assert ((clcc["beds"] + clcc["places"]) == 0).sum() == 6
    assert (raw.loc[raw["cat"] == "127", "category"] == "had").all()
    dialysis = raw[raw["catr"].isin(["PNL5", "PLU5"])]
    assert (dialysis["category"] == "dialysis").all() and len(dialysis) == 634
    assert (dialysis[["beds", "places"]].sum(axis=1) == 0).all()
    assert set(sae_table["category"]) == {"chu", "ch", "chs", "clcc", "usld", "mco", "ssr", "psy", "had", "dialysis",
                                          "other"}


def test_overseas_departments_and_regions(sae_table):
    assert not sae_table["department"].str.fullmatch(r"9[A-F]").any()
    overseas = sae_table[sae_table["region"].isin(["01", "02", "03", "04", "06"])]
    assert overseas["department"].isin(["971", "972", "973", "974", "976"]).all()
    assert sae_table["region"].nunique() == 18


# ---- staff and stations ------------------------------------------------------------------------------------------

def test_staff_totals_are_those_of_the_sae_readme(sae_table):
    # README of the SAE files: Q24 1,070,960.5 non-medical FTE (public 797,621.6, for-profit 141,595.5, non-profit
    # 131,743.4); Q20 123,490 salaried medical staff (92,052.2 FTE) and 42,002 self-employed.
    nm = non_medical(sae_table)
    assert round(nm.sum(), 2) == 1_070_960.52
    by_status = nm.groupby(sae_table["status"]).sum().round(1).to_dict()
    assert by_status == {"public": 797_621.6, "private_forprofit": 141_595.5, "private_nonprofit": 131_743.4}
    assert round(sae_table["medical_fte"].sum(), 2) == 92_052.2
    assert (sae_table["medical_fte"] <= sae_table["staff_fte"]).all()


def test_headcount_is_medical_headcounts_plus_non_medical_fte(sae_table):
    # headcount = salaried + self-employed medical headcount + non-medical FTE rounded half up, row by row
    nm = non_medical(sae_table)
    medical_headcount = np.floor(sae_table["headcount"] - nm + 0.5 - 1e-6)
    assert medical_headcount.sum() == 123_490 + 42_002
    assert (medical_headcount >= 0).all()
    assert abs(sae_table["headcount"].sum() - (165_492 + 1_070_960.52)) < 0.5 * len(sae_table)
    assert (np.abs(sae_table["headcount"] - medical_headcount - nm) <= 0.5).all()


def test_dialysis_stations_come_from_the_per_kind_rows(sae_table):
    assert sae_table["dialysis_stations"].sum() == 19_362
    assert (sae_table["dialysis_stations"] > 0).sum() == 879


def test_the_staff_figures_of_finance_yaml_are_those_of_the_sae(sae_table):
    ref = reference.load_reference("finance")["operating_from_staff"]
    public = sae_table[sae_table["status"] == "public"]
    assert round(non_medical(public).sum(), 2) == ref["public_non_medical_fte"]["value"]
    assert round(public["medical_fte"].sum(), 2) == ref["public_medical_fte"]["value"]


# ---- legal entities and GHT --------------------------------------------------------------------------------------

def test_legal_entities(sae_dir, sae_table):
    ident = read_table(sae_dir / "ID_2023r.csv").set_index("fi")
    assert (sae_table["finess_ej"] == ident.loc[sae_table["finess"], "fi_ej"].to_numpy()).all()
    assert sae_table["finess_ej"].nunique() == 2170
    sites = sae_table[with_capacity(sae_table)].groupby("finess_ej").size()
    assert len(sites) == 2002 and (sites > 1).sum() == 461
    per_status = {s: len(g) / g["finess_ej"].nunique()
                  for s, g in sae_table[with_capacity(sae_table)].groupby("status")}
    assert per_status == pytest.approx({"public": 1.70, "private_nonprofit": 1.95, "private_forprofit": 1.25}, abs=0.01)


def test_every_public_site_of_a_legal_entity_is_in_its_ght(sae_table):
    public = sae_table[sae_table["status"] == "public"]
    assert (public.groupby("finess_ej")["ght"].nunique(dropna=False) == 1).all()
    assert (sae_table.loc[sae_table["ght"] != "", "status"] == "public").all()
    # AP-HP, one legal entity of 38 sites, belongs to no GHT (no site declares one, and it is never topped up)
    aphp = public[public["finess_ej"] == "750712184"]
    assert len(aphp) == 38 and (aphp["ght"] == "").all()


def test_135_ght_each_with_one_support_establishment_which_is_ose(sae_table):
    members = sae_table[sae_table["ght"] != ""]
    assert members["ght"].nunique() == 135
    support = sae_table[sae_table["ght_support"]]
    assert len(support) == 135 and support["ght"].is_unique
    assert (sae_table["ose"] == sae_table["ght_support"]).all()
    # member sites with capacity against the published member counts (1,256): legal entities join whole
    assert 1256 <= with_capacity(members).sum() <= 1.05 * 1256


def test_ght_names_are_the_full_names_of_the_ght_file(sae_dir, sae_table):
    ght = read_table(sae_dir / "GHT_2023r.csv")
    names = dict(zip(ght["NOM_COURT_GHT"].str.upper(), ght["NOM_COMPLET_GHT"].str.strip(), strict=True))
    members = sae_table[sae_table["ght"] != ""]
    assert (members["ght_name"] == members["ght"].map(names)).all()
    assert (sae_table.loc[sae_table["ght"] == "", "ght_name"] == "").all()


def test_ght_support_is_the_largest_site_of_the_largest_member_by_staff(sae_table):
    for code, group in sae_table[sae_table["ght"] != ""].groupby("ght"):
        entity_staff = group.groupby("finess_ej")["staff_fte"].sum()
        largest = entity_staff.idxmax()
        assert entity_staff.max() > 0, code
        sites = group[group["finess_ej"] == largest].reset_index(drop=True)
        expected = sites.loc[size_order(sites)[0], "finess"]
        assert group.loc[group["ght_support"], "finess"].iloc[0] == expected, code


def test_declared_members_are_not_flagged_topped_up_ones_are(sae_table):
    flagged = sae_table["imputed"].str.split().map(lambda t: "ght" in t)
    members = sae_table["ght"] != ""
    assert not (flagged & ~members).any()
    # whole legal entities: a legal entity is declared or topped up, never both
    assert (sae_table[members].groupby("finess_ej")["imputed"].agg(lambda s: s.str.contains("ght").nunique()) == 1).all()
    assert 150 < (members & ~flagged).sum() < 400    # declared in ORG_A19-A22 (a minority) and their legal entities
    assert (members & flagged).sum() > 800           # topped up to the GHT member counts


# ---- budgets -----------------------------------------------------------------------------------------------------

def test_every_row_validates_and_no_budget_is_zero(sae_table):
    again = validate_table(sae_table, "re-validation")
    pd.testing.assert_frame_equal(again, sae_table)
    assert (sae_table["operating_budget_eur"] > 0).all() and (sae_table["it_budget_eur"] > 0).all()
    assert sae_table["imputed"].str.contains("operating_budget_eur it_budget_eur cyber_spend_eur").all()


def test_budgets_come_from_staff_else_capacity_else_the_category_median(sae_table):
    basis = pd.Series(operating_basis(sae_table))
    assert basis.value_counts().to_dict() == {"staff": 3760, "capacity": 147, "category": 6}
    without = sae_table[basis.to_numpy() == "category"]
    assert (without[["staff_fte", "beds", "places", "had_places", "dialysis_stations"]].sum(axis=1) == 0).all()
    assert (without["headcount"] > 0).all()   # self-employed staff only


def test_public_operating_total_is_within_5_percent_of_the_published_82_9_bn(sae_table):
    published = reference.value("finance", "checks.public_operating_expenses")
    assert published == 82.9e9
    public = sae_table.loc[sae_table["status"] == "public", "operating_budget_eur"].sum()
    assert abs(public / published - 1) < 0.05, public


def test_for_profit_operating_total_is_near_the_clinics_revenue(sae_table):
    revenue = reference.value("finance", "checks.forprofit_clinics_revenue")
    expenses = revenue * (1 - 0.024)   # net result 2.4 % of revenue in 2019
    total = sae_table.loc[sae_table["status"] == "private_forprofit", "operating_budget_eur"].sum()
    assert abs(total / expenses - 1) < 0.15, total


def test_the_category_medians_of_finance_yaml_are_those_of_the_import(sae_table):
    stored = reference.value("finance", "operating_without_size")
    sized = sae_table[operating_basis(sae_table) != "category"]
    for category, median in sized.groupby("category")["operating_budget_eur"].median().items():
        assert abs(stored[category] / median - 1) < 0.01, (category, stored[category], median)


# ---- options and errors ------------------------------------------------------------------------------------------

def test_ght_membership_file_is_the_membership_of_whole_legal_entities(sae_dir, sae_table, tmp_path):
    multi = sae_table[sae_table["status"] == "public"].groupby("finess_ej").filter(lambda g: len(g) > 2)
    site = multi["finess"].iloc[0]
    entity = multi["finess_ej"].iloc[0]
    other_entity = sae_table.loc[(sae_table["status"] == "public") & (sae_table["finess_ej"] != entity)
                                 & (sae_table["region"] == "84"), "finess_ej"].iloc[0]
    path = tmp_path / "ght.csv"
    pd.DataFrame({"finess": [site, other_entity], "ght": ["ARA-01", "ara-02"]}).to_csv(path, index=False)
    table = import_sae(sae_dir, ght_membership=path)
    members = table[table["ght"] != ""]
    public = table["status"] == "public"
    assert set(members["finess"]) == set(table.loc[public & table["finess_ej"].isin([entity, other_entity]), "finess"])
    assert (table.loc[public & (table["finess_ej"] == entity), "ght"] == "ARA-01").all()
    assert (members.loc[members["finess_ej"] == other_entity, "ght"] == "ARA-02").all()
    assert table["ose"].sum() == 2
    assert not table["imputed"].str.split().map(lambda t: "ght" in t).any()


def test_a_bad_ght_membership_file_names_its_rows(sae_dir, sae_table, tmp_path):
    private = sae_table[sae_table["status"] != "public"]["finess"].iloc[0]
    multi = sae_table[(sae_table["status"] == "public") & (sae_table.index > 0)].groupby("finess_ej").filter(
        lambda g: len(g) > 1)
    a, b = multi.loc[multi["finess_ej"] == multi["finess_ej"].iloc[0], "finess"].iloc[:2]
    path = tmp_path / "ght.csv"
    pd.DataFrame({"finess": ["999999999", private, sae_table["finess"].iloc[0], a, b, "10000024"],
                  "ght": ["ARA-01", "ARA-01", "XYZ-99", "ARA-01", "ARA-02", "ARA-01"]}).to_csv(path, index=False)
    with pytest.raises(TableError) as info:
        import_sae(sae_dir, ght_membership=path)
    text = str(info.value)
    assert f"{path}, row 2, column finess" in text and "unknown establishment" in text
    assert f"{path}, row 3, column ght" in text and "expected a public establishment" in text
    assert f"{path}, row 4, column ght" in text and "'XYZ-99'" in text
    assert f"{path}, row 6, column ght: expected ARA-01 like row 5 (a GHT is a property of the legal entity" in text
    assert f"{path}, row 7, column finess" in text and "'10000024': did you mean 010000024?" in text


def test_a_missing_sae_folder_or_file_is_bad_input(sae_dir, tmp_path):
    with pytest.raises(TableError, match="SAE folder not found"):
        import_sae(tmp_path / "nope")
    with pytest.raises(TableError, match="ID_2023r.csv: SAE file not found"):
        import_sae(tmp_path)
    for name in ("ID_2023r.csv", "MCO_2023r.csv", "PSY_2023r.csv", "SSR_2023r.csv", "USLD_2023r.csv",
                 "HAD_2023r.csv", "DIALYSE_2023r.csv", "Q20_2023r.csv"):
        (tmp_path / name).symlink_to(sae_dir / name)
    with pytest.raises(TableError, match="Q24_2023r.csv: SAE file not found"):
        import_sae(tmp_path)


def test_ght_names_are_matched_without_accents_punctuation_or_filler_words():
    assert normalize_name("GHT de l'Océan-Indien") == normalize_name("OCEAN INDIEN")
    assert normalize_name("  Savoie  Belley ") == "SAVOIE BELLEY"


def test_the_import_is_reproducible(sae_dir, sae_table):
    again = import_sae(sae_dir)
    pd.testing.assert_frame_equal(again, sae_table)
    assert np.isclose(again["it_budget_eur"].sum() / again["operating_budget_eur"].sum(), 0.017, atol=0.002)
