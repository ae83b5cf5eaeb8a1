"""The real registry imported from the DREES SAE 2023 files (read from ../shared, never copied)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cyberbudget.data.registry import import_sae, normalize_name, sae_registry
from cyberbudget.errors import TableError


def test_counts_and_capacities_match_the_published_totals(sae_table):
    with_capacity = sae_table[(sae_table["beds"] + sae_table["places"]) > 0]
    assert len(with_capacity) == 2962
    assert with_capacity["status"].value_counts().to_dict() == {
        "public": 1329, "private_forprofit": 976, "private_nonprofit": 657}
    assert sae_table["beds"].sum() == 369_309
    assert sae_table["places"].sum() == 88_366
    assert sae_table["had_places"].sum() == 24_093


def test_establishments_with_only_had_places_are_category_had(sae_table):
    only_had = sae_table[(sae_table["beds"] + sae_table["places"]) == 0]
    assert len(only_had) == 164
    assert (only_had["category"] == "had").all() and (only_had["had_places"] > 0).all()


def test_categories_follow_the_documented_mapping(sae_dir, sae_table):
    raw = sae_registry(sae_dir)
    table = raw.set_index("finess")
    pub1 = table[(table["catr"] == "PUB1") & (table["beds"] + table["places"] > 0)]
    assert (pub1["category"] == "chu").all()
    assert (table.loc[table["catr"] == "PNL6", "category"] == "clcc").sum() == 20
    assert (table.loc[table["cat"] == "127", "category"] == "had").all()
    assert set(sae_table["category"]) <= {"chu", "ch", "chs", "clcc", "usld", "mco", "ssr", "psy", "had", "other"}


def test_overseas_departments_and_regions(sae_table):
    assert not sae_table["department"].str.startswith("9").pipe(lambda s: s & sae_table["department"].str.len().eq(2)
                                                                  & sae_table["department"].str[1].str.isalpha()).any()
    overseas = sae_table[sae_table["region"].isin(["01", "02", "03", "04", "06"])]
    assert overseas["department"].isin(["971", "972", "973", "974", "976"]).all()
    assert sae_table["region"].nunique() == 18


def test_135_ght_each_with_one_support_establishment_which_is_ose(sae_table):
    members = sae_table[sae_table["ght"] != ""]
    assert members["ght"].nunique() == 135
    assert (members["status"] == "public").all()
    support = sae_table[sae_table["ght_support"]]
    assert len(support) == 135 and support["ght"].is_unique
    assert (sae_table["ose"] == sae_table["ght_support"]).all()
    assert sae_table["ose"].sum() == 135


def test_ght_support_is_the_largest_chu_member_else_the_largest(sae_table):
    size = sae_table["beds"] + sae_table["places"] + sae_table["had_places"]
    for code, group in sae_table[sae_table["ght"] != ""].groupby("ght"):
        chu = group[group["category"] == "chu"]
        pool = chu if len(chu) else group
        best = size[pool.index].max()
        assert size[group.index[group["ght_support"]]].iloc[0] == best, code


def test_declared_members_are_not_flagged_topped_up_ones_are(sae_table):
    flagged = sae_table["imputed"].str.split().map(lambda t: "ght" in t)
    members = sae_table["ght"] != ""
    assert not (flagged & ~members).any()
    assert 100 < (members & ~flagged).sum() < 400    # declared in ORG_A19-A22 (a minority)
    assert (members & flagged).sum() > 800           # topped up to the GHT member counts


def test_budgets_are_imputed_and_flagged(sae_table):
    assert sae_table["imputed"].str.contains("operating_budget_eur it_budget_eur cyber_spend_eur").all()
    assert (sae_table["operating_budget_eur"] > 0).all()


def test_ght_membership_file_overrides_declarations_and_top_up(sae_dir, sae_table, tmp_path):
    chu = sae_table[(sae_table["category"] == "chu") & (sae_table["region"] == "84")]["finess"].iloc[:2].tolist()
    ch = sae_table[(sae_table["category"] == "ch") & (sae_table["region"] == "84")]["finess"].iloc[0]
    path = tmp_path / "ght.csv"
    pd.DataFrame({"finess": [chu[0], chu[1], ch], "ght": ["ARA-01", "ARA-01", "ara-02"]}).to_csv(path, index=False)
    table = import_sae(sae_dir, ght_membership=path)
    members = table[table["ght"] != ""]
    assert sorted(members["finess"]) == sorted([*chu, ch])
    assert members.set_index("finess").loc[ch, "ght"] == "ARA-02"
    assert table["ose"].sum() == 2
    assert not table["imputed"].str.split().map(lambda t: "ght" in t).any()


def test_a_bad_ght_membership_file_names_its_rows(sae_dir, sae_table, tmp_path):
    private = sae_table[sae_table["status"] != "public"]["finess"].iloc[0]
    path = tmp_path / "ght.csv"
    pd.DataFrame({"finess": ["999999999", private, sae_table["finess"].iloc[0]],
                  "ght": ["ARA-01", "ARA-01", "XYZ-99"]}).to_csv(path, index=False)
    with pytest.raises(TableError) as info:
        import_sae(sae_dir, ght_membership=path)
    text = str(info.value)
    assert f"{path}, row 2, column finess" in text and "unknown establishment" in text
    assert f"{path}, row 3, column ght" in text and "expected a public establishment" in text
    assert f"{path}, row 4, column ght" in text and "'XYZ-99'" in text


def test_a_missing_sae_folder_or_file_is_bad_input(tmp_path):
    with pytest.raises(TableError, match="SAE folder not found"):
        import_sae(tmp_path / "nope")
    with pytest.raises(TableError, match="ID_2023r.csv: SAE file not found"):
        import_sae(tmp_path)


def test_ght_names_are_matched_without_accents_punctuation_or_filler_words():
    assert normalize_name("GHT de l'Océan-Indien") == normalize_name("OCEAN INDIEN")
    assert normalize_name("  Savoie  Belley ") == "SAVOIE BELLEY"


def test_the_import_is_reproducible(sae_dir, sae_table):
    again = import_sae(sae_dir)
    pd.testing.assert_frame_equal(again, sae_table)
    assert np.isclose(again["it_budget_eur"].sum() / again["operating_budget_eur"].sum(), 0.017, atol=0.002)
