"""Overrides as finance teams hold them: keyed by site or legal entity, French spreadsheets, clear errors."""

from __future__ import annotations

import hashlib
from fractions import Fraction

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cyberbudget.data.overrides import apply_overrides, overrides_digest
from cyberbudget.data.schema import validate_table
from cyberbudget.errors import TableError
from cyberbudget.money import hamilton_exact

IMPUTED = "operating_budget_eur it_budget_eur cyber_spend_eur"
#: The legal entity of three sites of the small table (CH Alpha, CH Gamma, CHS Delta).
EJ = "380780001"
SITES = ["010000024", "380000002", "380000003"]


@pytest.fixture
def table(small_table):
    t = small_table.copy()
    t.loc[t["finess"].isin(SITES), "finess_ej"] = EJ
    t["imputed"] = IMPUTED
    return validate_table(t, "table")


def cents(table: pd.DataFrame, finess: list[str], column: str) -> list[int]:
    values = table.set_index("finess").loc[finess, column]
    return [round(v * 100) for v in values]


def write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


# ---- legal entities ----------------------------------------------------------------------------------------------

def test_a_legal_entity_s_figure_is_split_pro_rata_to_imputed_operating_budgets_to_the_cent(table, tmp_path):
    path = write(tmp_path / "ej.csv", f"finess_ej;operating_budget_eur\n{EJ};200\u00a0000\u00a0000,01\n")
    out = apply_overrides(table, path)
    weights = cents(table, SITES, "operating_budget_eur")          # 119 M, 22 M, 45 M EUR
    total = 20_000_000_001
    expected = hamilton_exact([Fraction(total * w, sum(weights)) for w in weights], total, SITES)
    assert cents(out, SITES, "operating_budget_eur") == expected
    assert sum(expected) == total
    by = out.set_index("finess")
    assert (by.loc[SITES, "imputed"] == "it_budget_eur cyber_spend_eur").all()
    # imputed IT budgets follow their site's new operating budget with the site's IT share
    before = table.set_index("finess")
    share = before.loc[SITES, "it_budget_eur"] / before.loc[SITES, "operating_budget_eur"]
    assert (by.loc[SITES, "it_budget_eur"] - by.loc[SITES, "operating_budget_eur"] * share).abs().max() < 0.01
    others = [f for f in table["finess"] if f not in SITES]
    pd.testing.assert_frame_equal(by.loc[others], before.loc[others])


def test_sites_given_on_their_own_rows_keep_their_figures_and_the_rest_is_split(table, tmp_path):
    path = write(tmp_path / "mixed.csv",
                 "finess;finess_ej;it_budget_eur\n"
                 f";{EJ};3 000 000,00\n"
                 f"380000002;{EJ};250 000,00\n")
    out = apply_overrides(table, path)
    it = dict(zip(SITES, cents(out, SITES, "it_budget_eur"), strict=True))
    assert it["380000002"] == 25_000_000
    assert it["010000024"] + it["380000003"] == 300_000_000 - 25_000_000
    weights = cents(table, ["010000024", "380000003"], "operating_budget_eur")
    expected = hamilton_exact([Fraction(275_000_000 * w, sum(weights)) for w in weights], 275_000_000,
                              ["010000024", "380000003"])
    assert [it["010000024"], it["380000003"]] == expected


def test_a_legal_entity_figure_below_its_sites_rows_is_an_error(table, tmp_path):
    path = write(tmp_path / "low.csv",
                 "finess;finess_ej;operating_budget_eur\n"
                 f";{EJ};1 000 000\n"
                 "010000024;;2 000 000\n")
    with pytest.raises(TableError) as info:
        apply_overrides(table, path)
    assert f"{path}, row 2, column operating_budget_eur: expected the legal entity {EJ}'s figure (1,000,000.00) " \
           "to be at least the sum of its sites given on their own rows, 010000024 (row 3): found 2,000,000.00" \
           in str(info.value)


def test_a_legal_entity_budget_too_small_for_its_sites_is_an_error(table, tmp_path):
    path = write(tmp_path / "tiny.csv", f"finess_ej;operating_budget_eur\n{EJ};0,02\n")
    with pytest.raises(TableError) as info:
        apply_overrides(table, path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}, row 2, column operating_budget_eur: expected an amount that gives each site of the legal entity "
        f"{EJ} an operating budget > 0, found 0.02 to split among 3 sites (380000002 would get 0)"]


def test_a_contradiction_after_the_split_names_the_legal_entity_and_the_site(table, tmp_path):
    path = write(tmp_path / "bad.csv", f"finess_ej,operating_budget_eur,it_budget_eur\n{EJ},1000,2000\n")
    with pytest.raises(TableError) as info:
        apply_overrides(table, path)
    assert f"{path}, row 2 (legal entity {EJ}, site 010000024), column it_budget_eur: expected at most the " \
           "operating budget" in str(info.value)


# ---- French spreadsheets -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "encoding"), [
    ("finess;operating_budget_eur;it_budget_eur\n690000001;2 500 000,00;25\u202f000,5\n", "utf-8"),
    ("finess;operating_budget_eur;it_budget_eur\n690000001;2\u00a0500\u00a0000,00;25000,50\n", "cp1252"),
    ('finess,operating_budget_eur,it_budget_eur\n690000001,"2 500 000,00","25 000,50 €"\n', "utf-8"),
    ("\ufefffiness;operating_budget_eur;it_budget_eur\n690000001;2.500.000,00;25000.5\n", "utf-8"),
])
def test_french_formatted_amounts_are_read(table, tmp_path, text, encoding):
    path = write(tmp_path / "fr.csv", text, encoding)
    row = apply_overrides(table, path).set_index("finess").loc["690000001"]
    assert row["operating_budget_eur"] == 2_500_000.00 and row["it_budget_eur"] == 25_000.50
    assert row["imputed"] == "cyber_spend_eur"


@pytest.mark.parametrize("value", ["2 500 000,001", "1,2,3", "12 34,5,6", "deux", "-5", "1e400"])
def test_a_bad_amount_names_the_file_row_and_column(table, tmp_path, value):
    path = write(tmp_path / "bad.csv", f"finess;cyber_spend_eur\n690000001;0\n310000020;{value}\n")
    with pytest.raises(TableError) as info:
        apply_overrides(table, path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}, row 3, column cyber_spend_eur: expected an amount in euros >= 0"
        f"{' (e.g. 2 500 000,00)' if value != '-5' else ''}, found {value!r}"]


def test_a_finess_whose_leading_zero_was_dropped_is_reported_with_the_correction(table, tmp_path):
    path = write(tmp_path / "zero.csv", "finess;finess_ej;cyber_spend_eur\n10000024;;1\n;38078000;2\n")
    with pytest.raises(TableError) as info:
        apply_overrides(table.assign(finess_ej=table["finess_ej"].replace(EJ, "038078000")), path)
    text = str(info.value)
    assert f"{path}, row 2, column finess: expected a FINESS of the table (9 characters), found 10000024: did you " \
           "mean 010000024?" in text
    assert f"{path}, row 3, column finess_ej: expected a legal entity's FINESS of the table (9 characters), found " \
           "38078000: did you mean 038078000?" in text


def test_a_numeric_finess_in_a_workbook_is_not_silently_matched(table, tmp_path):
    path = tmp_path / "budgets.xlsx"
    pd.DataFrame({"finess": [10000024], "operating_budget_eur": [1.5e8]}).to_excel(path, index=False)
    with pytest.raises(TableError, match="found 10000024: did you mean 010000024?"):
        apply_overrides(table, path)


def test_keys_in_the_wrong_column_or_inconsistent_are_reported(table, tmp_path):
    path = write(tmp_path / "keys.csv",
                 "finess,finess_ej,name,it_budget_eur\n"
                 f"{EJ},,the legal entity,1\n"
                 ",010000024,a site,1\n"
                 f"750000004,{EJ},wrong entity,1\n"
                 ",,nobody,1\n")
    with pytest.raises(TableError) as info:
        apply_overrides(table, path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}, row 2, column finess: expected a site's FINESS, found '{EJ}', a legal entity: put it in a "
        "finess_ej column",
        f"{path}, row 3, column finess_ej: expected a legal entity's FINESS, found '010000024', a site: put it in "
        "a finess column",
        f"{path}, row 4, column finess_ej: expected 750000004 (the legal entity of site 750000004) or an empty "
        f"cell, found '{EJ}'",
        f"{path}, row 5, column finess: expected a FINESS (finess or finess_ej), found an empty cell",
    ]


def test_a_legal_entity_given_twice_is_an_error(table, tmp_path):
    path = write(tmp_path / "twice.csv", f"finess_ej;cyber_spend_eur\n{EJ};1\n{EJ};2\n")
    with pytest.raises(TableError, match=rf"row 3, column finess_ej: expected each finess_ej once, found '{EJ}' "
                                         r"also on row 2"):
        apply_overrides(table, path)


def test_the_digest_identifies_the_file(tmp_path):
    path = write(tmp_path / "o.csv", "finess;cyber_spend_eur\n690000001;1\n")
    assert overrides_digest(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(TableError, match="cannot read the overrides file"):
        overrides_digest(tmp_path / "missing.csv")


def test_an_unquoted_decimal_comma_in_a_comma_separated_file_gets_a_hint(table, tmp_path):
    path = write(tmp_path / "comma.csv", "finess,operating_budget_eur\n690000001,2 500 000,00\n")
    with pytest.raises(TableError, match=r"comma\.csv: cannot read as CSV .*a decimal comma in a ','-separated file "
                                         r"must be quoted"):
        apply_overrides(table, path)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_legal_entity_split_always_sums_to_its_figure_and_each_site_is_within_a_cent(small_table, data):
    n = len(small_table)
    groups = data.draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    t = small_table.assign(finess_ej=[f"{g + 1:02d}0780000" for g in groups], imputed=IMPUTED)
    weights = data.draw(st.lists(st.integers(10**6, 10**11), min_size=n, max_size=n))
    t["operating_budget_eur"] = [w / 100 for w in weights]
    t["it_budget_eur"] = t["operating_budget_eur"] * 0.01
    t["cyber_spend_eur"] = 0.0
    t = validate_table(t, "table")
    entities = sorted(set(t["finess_ej"]))
    totals = data.draw(st.lists(st.integers(10**9, 10**12), min_size=len(entities), max_size=len(entities)))
    rows = pd.DataFrame({"finess_ej": entities, "operating_budget_eur": [f"{c / 100:.2f}" for c in totals]})
    out = apply_overrides(t, rows)
    got = (out["operating_budget_eur"] * 100).round().astype("int64")
    before = (t["operating_budget_eur"] * 100).round()
    for entity, total in zip(entities, totals, strict=True):
        members = (out["finess_ej"] == entity).to_numpy()
        assert int(got[members].sum()) == total
        exact = before[members] / before[members].sum() * total
        assert ((got[members] - exact).abs() < 1 + 1e-6).all()
