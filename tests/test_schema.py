"""The establishment table's schema: every DESIGN.md rule, every problem reported at once with row and column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cyberbudget import config
from cyberbudget.data.schema import MAX_PROBLEMS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, validate_table
from cyberbudget.errors import TableError


def problems_of(df: pd.DataFrame, source: str = "t.csv") -> list[str]:
    with pytest.raises(TableError) as info:
        validate_table(df, source)
    return [str(p) for p in info.value.problems]


# ---- a valid table ---------------------------------------------------------------------------------------------

def test_a_valid_raw_table_is_normalised(small_table_raw):
    out = validate_table(small_table_raw, "t.csv")
    assert list(out.columns) == list(REQUIRED_COLUMNS) + list(OPTIONAL_COLUMNS)
    assert out["finess"].tolist() == sorted(small_table_raw["finess"])
    assert out["finess"].dtype == object and isinstance(out.loc[0, "finess"], str)
    assert out["beds"].dtype == "int64" and out["had_places"].dtype == "int64"
    assert out["operating_budget_eur"].dtype == "float64"
    assert out["ght_support"].dtype == bool and out["medico_social"].dtype == bool
    row = out.set_index("finess").loc["690000001"]
    assert row["ght"] == "ARA-01" and row["ght_support"] and row["beds"] == 2000
    assert row["it_budget_eur"] == 18_000_000.00


def test_typed_and_raw_inputs_give_the_same_table(small_table, small_table_raw):
    pd.testing.assert_frame_equal(validate_table(small_table_raw), small_table)


def test_optional_columns_default_when_absent(small_table_raw):
    out = validate_table(small_table_raw.drop(columns=["had_places", "medico_social"]))
    assert (out["had_places"] == 0).all() and not out["medico_social"].any()
    assert (out["finess_ej"] == out["finess"]).all() and (out["ght_name"] == "").all()
    assert (out[["staff_fte", "medical_fte"]] == 0.0).all().all() and out["staff_fte"].dtype == "float64"
    assert (out[["headcount", "dialysis_stations"]] == 0).all().all() and out["headcount"].dtype == "int64"


def test_the_new_optional_columns_are_read_and_an_empty_finess_ej_is_the_row_s_own(small_table_raw):
    df = small_table_raw.assign(finess_ej="", ght_name="", staff_fte="", medical_fte="", headcount="",
                                dialysis_stations="")
    df.loc[0, ["finess_ej", "ght_name", "staff_fte", "medical_fte", "headcount", "dialysis_stations"]] = [
        "010780054", "GHT Bresse Haut-Bugey", "1 945,88", "210.5", "2102", "19"]
    df.loc[1, "category"] = "dialysis"
    out = validate_table(df).set_index("finess")
    row = out.loc["010000024"]
    assert row["finess_ej"] == "010780054" and row["ght_name"] == "GHT Bresse Haut-Bugey"
    assert (row["staff_fte"], row["medical_fte"], row["headcount"], row["dialysis_stations"]) == (1945.88, 210.5, 2102, 19)
    assert out.loc["690000001", "finess_ej"] == "690000001" and out.loc["690000001", "category"] == "dialysis"
    assert out.loc["690000001", "staff_fte"] == 0.0


def test_new_column_defects_are_reported_with_row_and_column(small_table_raw):
    df = small_table_raw.assign(finess_ej="", staff_fte="10", medical_fte="2", headcount="12", dialysis_stations="0")
    df.loc[1, "finess_ej"] = "12345"
    df.loc[2, "staff_fte"] = "-1"
    df.loc[3, "medical_fte"] = "11"
    df.loc[4, "headcount"] = "1.5"
    df.loc[5, "dialysis_stations"] = "-2"
    df.loc[6, "staff_fte"] = "beaucoup"
    problems = problems_of(df)
    assert "t.csv, row 3, column finess_ej: expected the legal entity's FINESS (9 characters, digits, 2A/2B allowed " \
           "first) or an empty cell, found '12345'" in problems
    assert "t.csv, row 4, column staff_fte: expected a number of full-time equivalents >= 0, found '-1.0'" in problems
    assert "t.csv, row 5, column medical_fte: expected at most staff_fte (10.00: medical FTE are part of the staff), " \
           "found 11.00" in problems
    assert "t.csv, row 6, column headcount: expected an integer, found '1.5'" in problems
    assert "t.csv, row 7, column dialysis_stations: expected an integer >= 0, found '-2'" in problems
    assert "t.csv, row 8, column staff_fte: expected a number of full-time equivalents, found 'beaucoup'" in problems
    assert len(problems) == 6


def test_extra_columns_are_kept_after_the_schema_columns(small_table_raw):
    out = validate_table(small_table_raw.assign(comment="x"))
    assert out.columns[-1] == "comment" and (out["comment"] == "x").all()


def test_booleans_numbers_in_french_and_spaces_are_accepted(small_table_raw):
    df = small_table_raw.copy()
    df.loc[0, "ose"] = "VRAI"
    df.loc[1, "ght_support"] = "1"
    df.loc[0, "operating_budget_eur"] = "119 000 000,50"
    df.loc[0, "name"] = "  CH Alpha  "
    out = validate_table(df).set_index("finess")
    assert out.loc["010000024", "ose"]
    assert out.loc["010000024", "operating_budget_eur"] == 119_000_000.50
    assert out.loc["010000024", "name"] == "CH Alpha"


def test_edge_values_are_valid(small_table_raw):
    df = small_table_raw.copy()
    df.loc[2, ["it_budget_eur", "cyber_spend_eur"]] = ["0", "0"]        # IT budget 0
    df.loc[3, "it_budget_eur"] = df.loc[3, "operating_budget_eur"]       # IT == operating
    df.loc[3, "cyber_spend_eur"] = df.loc[3, "operating_budget_eur"]     # cyber == IT
    df.loc[4, ["beds", "places"]] = ["0", "0"]
    validate_table(df)


# ---- each class of defect, named by spreadsheet row (header = row 1) and column ------------------------------------

@pytest.mark.parametrize(
    ("column", "value", "fragment"),
    [
        ("finess", "01000002", "expected 9 characters"),
        ("finess", "01000002X", "expected 9 characters"),
        ("finess", "", "found an empty cell"),
        ("name", "", "found an empty cell"),
        ("region", "99", "INSEE region code"),
        ("region", "1", "INSEE region code"),
        ("department", "9A", "INSEE department code"),
        ("department", "20", "INSEE department code"),
        ("department", "977", "INSEE department code"),
        ("status", "pub", "one of public, private_nonprofit, private_forprofit"),
        ("category", "hospital", "one of chu"),
        ("ght", "ARA 01", "GHT short code"),
        ("ght_support", "maybe", "expected true or false, found 'maybe'"),
        ("ose", "", "expected true or false, found an empty cell"),
        ("beds", "-1", "expected an integer >= 0, found '-1'"),
        ("beds", "1.5", "expected an integer, found '1.5'"),
        ("places", "many", "expected an integer, found 'many'"),
        ("operating_budget_eur", "0", "expected an amount > 0"),
        ("operating_budget_eur", "", "found an empty cell"),
        ("it_budget_eur", "-5", "expected an amount >= 0"),
        ("cyber_spend_eur", "1e", "expected an amount in euros, found '1e'"),
        ("had_places", "-2", "expected an integer >= 0"),
        ("medico_social", "peut-être", "expected true or false"),
        ("imputed", "a  b", "column names separated by single spaces"),
    ],
)
def test_a_bad_cell_is_reported_with_its_row_and_column(small_table_raw, column, value, fragment):
    df = small_table_raw.copy()
    df.loc[6, column] = value  # 7th data row = spreadsheet row 8
    problems = problems_of(df)
    assert any(p.startswith(f"t.csv, row 8, column {column}: ") and fragment in p for p in problems), problems


def test_cross_column_rules(small_table_raw):
    df = small_table_raw.copy()
    df.loc[0, "it_budget_eur"] = "200000000.00"   # > operating 119,000,000
    df.loc[1, "cyber_spend_eur"] = "18000000.01"  # > IT 18,000,000
    problems = problems_of(df)
    assert "t.csv, row 2, column it_budget_eur: expected at most operating_budget_eur (119,000,000.00), " \
           "found 200,000,000.00" in problems
    assert "t.csv, row 3, column cyber_spend_eur: expected at most it_budget_eur (18,000,000.00), " \
           "found 18,000,000.01" in problems


def test_ght_rules(small_table_raw):
    df = small_table_raw.copy()
    df.loc[14, "ght"] = "HF-01"                   # a private_nonprofit CLCC in a GHT
    df.loc[7, "ght_support"] = "true"             # support outside any GHT
    df.loc[0, "ght_support"] = "true"             # second support of ARA-01 (row 3 is the first)
    problems = problems_of(df)
    assert any(p.startswith("t.csv, row 16, column ght: expected empty (GHT members are public") for p in problems)
    assert "t.csv, row 9, column ght_support: expected false for an establishment outside any GHT, found true" in problems
    assert any(p.startswith("t.csv, row 3, column ght_support: expected one support establishment per GHT, "
                            "found ARA-01 supported by rows 2, 3") for p in problems), problems


def test_duplicate_finess_names_both_rows(small_table_raw):
    df = small_table_raw.copy()
    df.loc[5, "finess"] = df.loc[1, "finess"]
    problems = problems_of(df)
    assert "t.csv, row 3, column finess: expected a unique finess, found '690000001' repeated further down" in problems
    assert "t.csv, row 7, column finess: expected a unique finess, found '690000001' also on row 3" in problems


def test_missing_columns_are_all_listed(small_table_raw):
    problems = problems_of(small_table_raw.drop(columns=["region", "cyber_spend_eur"]))
    assert any(p.startswith("t.csv, column region: required column missing") for p in problems)
    assert any(p.startswith("t.csv, column cyber_spend_eur: required column missing") for p in problems)


def test_a_header_only_table_is_an_error(small_table_raw):
    assert problems_of(small_table_raw.iloc[:0]) == ["t.csv: expected at least one establishment, found a header only"]


def test_every_problem_is_reported_at_once(small_table_raw):
    df = small_table_raw.copy()
    df.loc[0, "region"] = "99"
    df.loc[10, "status"] = "x"
    df.loc[29, "beds"] = "-3"
    problems = problems_of(df)
    assert len(problems) == 3
    assert [p.split(":")[0] for p in problems] == [
        "t.csv, row 2, column region", "t.csv, row 12, column status", "t.csv, row 31, column beds"]


def test_the_list_is_capped_with_a_count_of_the_rest(small_table_raw):
    df = pd.concat([small_table_raw] * 4, ignore_index=True)
    df["finess"] = [f"{i:09d}" for i in range(len(df))]
    df["ght"] = ""
    df["ght_support"] = "false"
    df["region"] = "99"
    with pytest.raises(TableError) as info:
        validate_table(df, "t.csv")
    assert str(info.value).startswith("t.csv: 120 problems in the establishment table")
    assert len(info.value.problems) == MAX_PROBLEMS + 1
    assert str(info.value.problems[-1]) == f"... and {120 - MAX_PROBLEMS} more problem(s)"


def test_a_non_dataframe_is_rejected():
    with pytest.raises(TableError, match="expected a table"):
        validate_table([1, 2, 3], "x")  # type: ignore[arg-type]


# ---- properties --------------------------------------------------------------------------------------------------

_finess = st.one_of(
    st.from_regex(r"\A(0[1-9]|[1-8]\d|9[0-5])\d{7}\Z"), st.from_regex(r"\A2[AB]\d{7}\Z"))
_departments = st.one_of(
    st.sampled_from(["01", "13", "2A", "2B", "59", "75", "95"]), st.sampled_from(["971", "972", "973", "974", "976"]))


@st.composite
def valid_tables(draw) -> pd.DataFrame:
    n = draw(st.integers(1, 25))
    finess = draw(st.lists(_finess, min_size=n, max_size=n, unique=True))
    rows = []
    for f in finess:
        status = draw(st.sampled_from(config.STATUSES))
        op = draw(st.floats(1.0, 2e9, allow_nan=False))
        it = op * draw(st.floats(0, 1))
        cyber = it * draw(st.floats(0, 1))
        ght = draw(st.sampled_from(["", "ARA-01", "OI-01"])) if status == "public" else ""
        rows.append({
            "finess": f, "name": draw(st.text(st.characters(categories=["L", "N", "Zs"]), min_size=1, max_size=12)
                                     .filter(lambda s: s.strip() != "")),
            "region": draw(st.sampled_from(config.REGIONS)), "department": draw(_departments),
            "status": status, "category": draw(st.sampled_from(config.CATEGORIES)), "ght": ght,
            "ght_support": False, "ose": draw(st.booleans()),
            "beds": draw(st.integers(0, 5000)), "places": draw(st.integers(0, 1000)),
            "operating_budget_eur": round(op, 2) or 1.0, "it_budget_eur": np.floor(it * 100) / 100,
            "cyber_spend_eur": np.floor(cyber * 100) / 100, "imputed": draw(st.sampled_from(["", "ght", "it_budget_eur cyber_spend_eur"])),
        })
    return pd.DataFrame(rows)


def as_strings(df: pd.DataFrame) -> pd.DataFrame:
    return df.map(lambda v: ("true" if v else "false") if isinstance(v, bool | np.bool_) else
                  (f"{v:.2f}" if isinstance(v, float) else str(v)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_tables())
def test_valid_tables_validate_typed_and_as_strings(df):
    typed = validate_table(df)
    raw = validate_table(as_strings(df))
    assert len(typed) == len(df)
    assert typed["finess"].is_monotonic_increasing
    pd.testing.assert_frame_equal(typed, raw)


_MUTATIONS = {
    "finess": "12345", "region": "00", "department": "9B", "status": "public_hospital", "category": "clinic",
    "beds": "-7", "places": "2.5", "operating_budget_eur": "-1", "ose": "si", "name": " ",
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_tables(), st.data())
def test_a_mutated_cell_fails_naming_its_row_and_column(df, data):
    raw = as_strings(df)
    pos = data.draw(st.integers(0, len(raw) - 1))
    column = data.draw(st.sampled_from(sorted(_MUTATIONS)))
    raw.loc[pos, column] = _MUTATIONS[column]
    with pytest.raises(TableError) as info:
        validate_table(raw, "m.csv")
    wheres = [p.where for p in info.value.problems]
    assert f"m.csv, row {pos + 2}, column {column}" in wheres
