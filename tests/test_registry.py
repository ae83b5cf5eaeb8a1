"""Loading tables from files: every format, every class of file defect, deterministic writing."""

from __future__ import annotations

import pandas as pd
import pytest

from cyberbudget import config
from cyberbudget.data.registry import (
    load_establishments,
    read_table,
    summarize_table,
    table_counts,
    write_table,
)
from cyberbudget.errors import TableError


def write_csv(df: pd.DataFrame, path, sep=",", encoding="utf-8"):
    df.to_csv(path, sep=sep, index=False, encoding=encoding, lineterminator="\n")
    return path


# ---- good files ---------------------------------------------------------------------------------------------

def test_default_table_loads():
    table = load_establishments()
    assert len(table) > 2900
    assert table["finess"].is_unique


def test_utf8_comma_csv(tmp_path, small_table_raw, small_table):
    path = write_csv(small_table_raw, tmp_path / "t.csv")
    pd.testing.assert_frame_equal(load_establishments(path), small_table)


def test_latin1_semicolon_csv_with_french_decimals(tmp_path, small_table_raw, small_table):
    df = small_table_raw.copy()
    df.loc[0, "name"] = "Hôpital Sainte-Thérèse"
    df["operating_budget_eur"] = df["operating_budget_eur"].str.replace(".", ",", regex=False)
    path = write_csv(df, tmp_path / "t.csv", sep=";", encoding="latin-1")
    table = load_establishments(path).set_index("finess")
    assert table.loc[df.loc[0, "finess"], "name"] == "Hôpital Sainte-Thérèse"
    assert table["operating_budget_eur"].sum() == small_table["operating_budget_eur"].sum()


def test_utf8_bom_csv(tmp_path, small_table_raw, small_table):
    path = write_csv(small_table_raw, tmp_path / "t.csv", encoding="utf-8-sig")
    pd.testing.assert_frame_equal(load_establishments(path), small_table)


def test_parquet(tmp_path, small_table):
    path = tmp_path / "t.parquet"
    small_table.to_parquet(path)
    pd.testing.assert_frame_equal(load_establishments(path), small_table)


def test_excel(tmp_path, small_table_raw, small_table):
    path = tmp_path / "t.xlsx"
    typed = small_table_raw.copy()
    for c in ("beds", "places", "had_places"):
        typed[c] = typed[c].astype(int)
    typed.to_excel(path, index=False)
    pd.testing.assert_frame_equal(load_establishments(path), small_table)


def test_read_table_keeps_cells_as_text(tmp_path, small_table_raw):
    path = write_csv(small_table_raw, tmp_path / "t.csv")
    raw = read_table(path)
    assert raw.loc[0, "finess"] == "010000024"   # leading zero kept
    assert raw.loc[0, "beds"] == "442"


# ---- bad files: one clear TableError naming the file, never a traceback ----------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(TableError, match=r"nope\.csv: file not found"):
        load_establishments(tmp_path / "nope.csv")


def test_a_directory(tmp_path):
    with pytest.raises(TableError, match="is a directory"):
        load_establishments(tmp_path)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(TableError, match=r"empty\.csv: the file is empty"):
        load_establishments(path)


def test_binary_garbage(tmp_path):
    path = tmp_path / "junk.csv"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(TableError, match=r"junk\.csv: binary content"):
        load_establishments(path)


def test_corrupt_parquet(tmp_path):
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1" + b"\x01" * 100)
    with pytest.raises(TableError, match=r"t\.parquet: cannot read as Parquet"):
        load_establishments(path)


def test_corrupt_excel(tmp_path):
    path = tmp_path / "t.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00garbage" * 20)
    with pytest.raises(TableError, match=r"t\.xlsx: "):
        load_establishments(path)


def test_wrong_delimiter(tmp_path, small_table_raw):
    path = write_csv(small_table_raw, tmp_path / "t.csv", sep="|")
    with pytest.raises(TableError, match=r"t\.csv: cannot find the column delimiter: expected columns separated by ',' or ';'"):
        load_establishments(path)


def test_ragged_rows(tmp_path, small_table_raw):
    path = write_csv(small_table_raw, tmp_path / "t.csv")
    with path.open("a") as fh:
        fh.write("1,2,3," * 10 + "\n")
    with pytest.raises(TableError, match=r"t\.csv: cannot read as CSV"):
        load_establishments(path)


def test_cell_problems_name_the_file_row_and_column(tmp_path, small_table_raw):
    df = small_table_raw.copy()
    df.loc[3, "department"] = "9D"
    df.loc[4, "finess"] = df.loc[0, "finess"]
    df.loc[5, "it_budget_eur"] = "99999999999"
    path = write_csv(df, tmp_path / "bad.csv", sep=";")
    with pytest.raises(TableError) as info:
        load_establishments(path)
    wheres = {p.where for p in info.value.problems}
    assert {f"{path}, row 5, column department", f"{path}, row 6, column finess",
            f"{path}, row 7, column it_budget_eur"} <= wheres
    assert info.value.source == str(path)


def test_a_missing_column_in_a_file(tmp_path, small_table_raw):
    path = write_csv(small_table_raw.drop(columns=["status"]), tmp_path / "t.csv")
    with pytest.raises(TableError, match="column status: required column missing"):
        load_establishments(path)


# ---- writing -----------------------------------------------------------------------------------------------

def test_write_table_is_deterministic_and_round_trips(tmp_path, small_table):
    a = write_table(small_table, tmp_path / "a.csv")
    b = write_table(small_table.sample(frac=1, random_state=1), tmp_path / "sub" / "b.csv")
    assert a.read_bytes() == b.read_bytes()
    text = a.read_text(encoding="utf-8")
    assert "\r" not in text
    header, first = text.splitlines()[:2]
    assert header.startswith("finess,name,region,department,status,category,ght,ght_support,ose,beds,places,")
    assert first.startswith("010000024,CH Alpha,84,01,public,ch,ARA-01,false,false,442,59,119000000.00,2000000.00,70000.00,")
    pd.testing.assert_frame_equal(load_establishments(a), small_table)
    assert not list(tmp_path.glob(".*.tmp"))


def test_write_table_refuses_an_invalid_table(tmp_path, small_table):
    bad = small_table.copy()
    bad.loc[0, "region"] = "99"
    with pytest.raises(TableError):
        write_table(bad, tmp_path / "bad.csv")
    assert not (tmp_path / "bad.csv").exists()


def test_summarize_table(small_table):
    assert summarize_table(small_table) == (
        "30 establishments (16 public, 6 private non-profit, 8 private for-profit; 0 medico-social), "
        "of which 28 with beds or places (16 public, 5 private non-profit, 7 private for-profit); "
        "30 legal entities; 13,636 beds and places, 210 HAD places, 0 dialysis stations, 0.0 salaried FTE; "
        "2 GHT, 3 OSE, 18 with cyber spend >= 5 % of IT budget")
    sites = small_table.assign(finess_ej=small_table["finess"].str[:2] + "0780000", staff_fte=10.25, headcount=12)
    counts = table_counts(sites)
    assert counts["legal_entities"] == sites["finess_ej"].nunique() < 30
    assert counts["staff_fte"] == 307.5 and counts["headcount"] == 360


def test_a_table_with_only_the_required_columns_loads(tmp_path, small_table_raw):
    from cyberbudget.data.schema import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

    path = write_csv(small_table_raw[list(REQUIRED_COLUMNS)], tmp_path / "t.csv")
    table = load_establishments(path)
    assert list(table.columns) == list(REQUIRED_COLUMNS) + list(OPTIONAL_COLUMNS)
    assert (table["finess_ej"] == table["finess"]).all()


def test_default_table_path_is_the_committed_csv():
    assert config.DEFAULT_TABLE.name == "establishments.csv" and config.DEFAULT_TABLE.exists()
