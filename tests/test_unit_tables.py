"""Reports show the funding unit (issue 11): key figures count units and sites; the workbook has tables by legal
entity and by GHT with their names; the small-cell rule counts units under a unit other than ``establishment``;
the unit tables are complete under ``disclosure: establishment``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from cyberbudget import config, reports
from cyberbudget.reports import disclosure, excel
from cyberbudget.reports.allocation_sections import key_figure_rows
from cyberbudget.reports.i18n import catalogue, column, t


def _scenario(folder: Path, name: str, *, unit: str = "establishment", disclosure_mode: str = "aggregate") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\nextends: {config.SCENARIOS_DIR / 'baseline.yaml'}\ndisclosure: {disclosure_mode}\n"
                    f"allocation:\n  unit: {unit}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def table_path(tmp_path_factory) -> Path:
    """Two regions of the synthetic table: multi-site legal entities and GHT."""
    from cyberbudget.data.registry import synthesize, write_table

    t = synthesize()
    return write_table(t[t["region"].isin(["84", "53", "94"])], tmp_path_factory.mktemp("units") / "table.csv")


def _outputs(folder: Path, scenario: Path, table: Path) -> tuple[reports.Published, Path, list[dict[str, str]]]:
    computed = reports.compute(scenario, table)
    pub = reports.publish(computed)
    paths = reports.write_outputs(computed, folder, pub=pub)
    rows = list(csv.DictReader(io.StringIO(paths["allocation.csv"].read_text(encoding="utf-8"))))
    return pub, paths["allocation.xlsx"], rows


def _sheet(xlsx: Path, name: str, lang: str = "fr") -> pd.DataFrame:
    """A sheet of the workbook as a frame, its headers and its total and pooled rows read back as codes."""
    ws = load_workbook(xlsx)[name]
    values = list(ws.iter_rows(min_row=2, values_only=True))
    codes = {column(key[4:], lang): key[4:] for key in catalogue(lang) if key.startswith("col.")}
    start = next(i for i, row in enumerate(values) if row and row[0] in codes)  # the summary's data lines first
    frame = pd.DataFrame(values[start + 1:], columns=[codes.get(v, v) for v in values[start]])
    first = frame.columns[0]
    frame[first] = frame[first].replace({t("label.total", lang): "Total", t("label.pooled", lang): disclosure.POOLED})
    return frame


# ----------------------------------------------------------------------------------------------------------------
# The small-cell rule counts units
# ----------------------------------------------------------------------------------------------------------------


def _hand_table() -> pd.DataFrame:
    # region 24: 12 establishments but only 3 units; the others one unit per establishment
    n = 40
    units = [f"a{i}" for i in range(20)] + ["u1"] * 4 + ["u2"] * 4 + ["u3"] * 4 + [f"c{i}" for i in range(8)]
    return pd.DataFrame({
        "finess": [f"{i:09d}" for i in range(n)], "region": ["11"] * 20 + ["24"] * 12 + ["27"] * 8, "unit": units,
        "eligible": [True] * n, "grant_cents": [100] * n, "it_budget_eur": [1.0] * n, "cyber_spend_eur": [0.1] * n,
        "beds": [1] * n,
    })


def test_a_cell_of_five_establishments_but_fewer_than_five_units_is_suppressed():
    t = _hand_table()
    plain = disclosure.breakdown(t, "region")
    assert (plain.rows["suppressed"] == "").all()  # by establishments alone every region is publishable
    assert disclosure.has_units(t)  # the unit column differs from finess
    b = disclosure.breakdown(t, "region", unit="unit")
    by = dict(zip(b.rows["region"], b.rows["suppressed"], strict=True))
    assert by == {"11": "", "24": "primary", "27": "secondary"}  # 27, the smallest other cell, protects 24
    assert b.rows.loc[b.rows["region"] == "24", "grant_cents"].isna().all()
    assert b.rows["n_units"].tolist() == [20, 3, 8] and b.rows["n_establishments"].tolist() == [20, 12, 8]
    assert b.rows.loc[b.rows["region"] == "24", "n_units_eligible"].isna().all()
    # the suppressed cells together are publishable, and the total is the sum of every cell
    assert b.pooled is not None and int(b.pooled["grant_cents"].iloc[0]) == 2000
    assert int(b.pooled["n_units"].iloc[0]) == 11
    assert int(b.total["grant_cents"].iloc[0]) == 4000 and int(b.total["n_units"].iloc[0]) == 31


def test_one_unit_cells_of_recipients_are_suppressed_even_with_many_establishments():
    t = _hand_table()
    t.loc[t["region"] == "27", "unit"] = "big"  # region 27: 8 establishments, one unit
    t.loc[t["region"] == "11", "unit"] = [f"a{i // 4}" for i in range(20)]  # 5 units of 4
    b = disclosure.breakdown(t, "region", unit="unit")
    by = dict(zip(b.rows["region"], b.rows["suppressed"], strict=True))
    assert by["27"] == "primary" and by["24"] == "primary" and by["11"] == "secondary"


def test_under_establishment_the_rule_is_unchanged(small_table):
    from cyberbudget.policy.allocation import allocate
    from cyberbudget.policy.scenario import load_scenario

    res = allocate(small_table, load_scenario(config.SCENARIOS_DIR / "baseline.yaml")).table
    assert not disclosure.has_units(res)
    for by in ("region", "status", "category"):  # each unit is one establishment: the same cells
        plain = disclosure.breakdown(res, by)
        with_units = disclosure.breakdown(res, by, unit="unit")
        assert (with_units.rows["n_units"] == with_units.rows["n_establishments"]).all()
        pd.testing.assert_frame_equal(with_units.rows.drop(columns=["n_units", "n_units_eligible"]), plain.rows)


# ----------------------------------------------------------------------------------------------------------------
# Published tables and the workbook
# ----------------------------------------------------------------------------------------------------------------


def test_key_figures_count_units_and_sites(tmp_path, table_path):
    scenario = _scenario(tmp_path, "entities", unit="legal_entity")
    pub, _, rows = _outputs(tmp_path, scenario, table_path)
    computed = reports.compute(scenario, table_path)
    n_units = len({r["unit"] for r in rows})
    n_units_eligible = len({r["unit"] for r in rows if r["eligible"] == "true"})
    n_sites_eligible = sum(r["eligible"] == "true" for r in rows)
    assert pub.key["unit"] == "legal_entity" and pub.key["n_units"] == n_units
    assert pub.key["n_units_eligible"] == n_units_eligible and pub.key["n_eligible"] == n_sites_eligible
    rows_fr = dict(key_figure_rows(computed, pub, "fr"))
    nn = "\u202f"
    assert rows_fr["Unités éligibles (entités juridiques)"] == f"{n_units_eligible:,} sur {n_units:,}".replace(",", nn)
    assert rows_fr["Établissements éligibles"].startswith(f"{n_sites_eligible:,} sur".replace(",", nn))
    rows_en = dict(key_figure_rows(computed, pub, "en"))
    assert any(v == f"{n_units_eligible:,} of {n_units:,}" for v in rows_en.values())
    summary = _sheet(tmp_path / "allocation.xlsx", "summary").set_index("indicator")["value"]
    assert summary[t("xlsx.kf.unit", "fr")] == "entités juridiques"
    assert summary[t("xlsx.kf.n_units", "fr")] == n_units


def test_no_unit_figure_under_establishment(tmp_path, table_path):
    scenario = _scenario(tmp_path, "sites")
    pub, xlsx, _ = _outputs(tmp_path, scenario, table_path)
    rows = key_figure_rows(reports.compute(scenario, table_path), pub, "fr")
    assert not any(label.startswith("Unités") for label, _ in rows)
    assert t("xlsx.kf.n_units", "fr") not in set(_sheet(xlsx, "summary")["indicator"])


def test_the_workbook_has_tables_by_legal_entity_and_by_ght_with_their_names(tmp_path, table_path):
    _, xlsx, rows = _outputs(tmp_path, _scenario(tmp_path, "sites"), table_path)
    assert load_workbook(xlsx).sheetnames == list(excel.SHEETS)
    table = pd.read_csv(table_path, dtype=str, keep_default_na=False)
    ght = _sheet(xlsx, "by_ght")
    names = dict(zip(table["ght"], table["ght_name"], strict=True))
    listed = ght[ght["ght"] != "Total"]
    assert len(listed) == len({g for g in table["ght"] if g})
    assert (listed["label"] == listed["ght"].map(names)).all()  # e.g. "GHT synthétique ARA-01"
    entities = _sheet(xlsx, "by_legal_entity")
    total = entities[entities["legal_entity"] == "Total"]
    assert int(total["grant_cents"].iloc[0]) == sum(int(r["grant_cents"]) for r in rows)
    # aggregate: the legal entities whose figures are published (>= 5 establishments), the rest pooled
    shown = entities[~entities["legal_entity"].isin(["Total", disclosure.POOLED])]
    assert (shown["n_establishments"] >= config.MIN_CELL_SIZE).all()
    assert (shown["grant_cents"] != excel.NOT_DISCLOSED).all()
    grants = pd.Series({r["finess"]: int(r["grant_cents"]) for r in rows})
    ej = table.set_index("finess")["finess_ej"]
    by_entity = grants.groupby(ej.reindex(grants.index).to_numpy()).sum()
    for key, cents in zip(shown["legal_entity"], shown["grant_cents"], strict=True):
        assert by_entity[key] == cents
    largest = table.assign(it=table["it_budget_eur"].astype(float)).sort_values(["it", "finess"],
                                                                               ascending=[False, True])
    first_name = largest.groupby("finess_ej")["name"].first()
    assert (shown["label"] == shown["legal_entity"].map(first_name)).all()  # named after its largest site
    pooled = entities[entities["legal_entity"] == disclosure.POOLED]
    if len(pooled):
        assert int(pooled["grant_cents"].iloc[0]) + int(shown["grant_cents"].sum()) == int(total["grant_cents"].iloc[0])


@pytest.mark.parametrize("unit", ["legal_entity", "ght"])
def test_under_a_unit_the_unit_tables_count_units(tmp_path, table_path, unit):
    _, xlsx, rows = _outputs(tmp_path, _scenario(tmp_path, f"u_{unit}", unit=unit), table_path)
    for sheet in ("by_region", "by_ght"):
        frame = _sheet(xlsx, sheet)
        body = frame[frame.iloc[:, 0] != "Total"]
        assert "n_units" in frame.columns
        small = body["n_units"] < config.MIN_CELL_SIZE
        assert (body.loc[small, "grant_cents"] == excel.NOT_DISCLOSED).all(), sheet
    ght = _sheet(xlsx, "by_ght")
    if unit == "ght":  # every GHT is one unit: none is published under aggregate disclosure
        assert (ght.loc[ght["ght"] != "Total", "grant_cents"] == excel.NOT_DISCLOSED).all()


@pytest.mark.parametrize("unit", ["establishment", "legal_entity", "ght"])
def test_unit_tables_are_complete_under_establishment_disclosure(tmp_path, table_path, unit):
    scenario = _scenario(tmp_path, f"r_{unit}", unit=unit, disclosure_mode="establishment")
    pub, xlsx, rows = _outputs(tmp_path, scenario, table_path)
    table = pd.read_csv(table_path, dtype=str, keep_default_na=False).set_index("finess")
    grants = pd.Series({r["finess"]: int(r["grant_cents"]) for r in rows})
    establishments = _sheet(xlsx, "establishments")
    assert len(establishments) == len(rows)  # every grant is beside the unit tables
    for sheet, key in (("by_legal_entity", table["finess_ej"]), ("by_ght", table["ght"])):
        frame = _sheet(xlsx, sheet)
        body = frame[frame.iloc[:, 0] != "Total"]
        assert not (body == excel.NOT_DISCLOSED).any().any(), sheet
        assert (body["suppressed"].fillna("") == "").all(), sheet
        expected = grants.groupby(key.reindex(grants.index).to_numpy()).sum()
        got = dict(zip(body.iloc[:, 0], body["grant_cents"], strict=True))
        assert got == {k: int(v) for k, v in expected.items() if k != ""}, sheet
    assert len(_sheet(xlsx, "by_legal_entity")) - 1 == table["finess_ej"].nunique()
    assert np.array_equal(pub.breakdowns["legal_entity"].rows["suppressed"].to_numpy(), np.full(
        len(pub.breakdowns["legal_entity"].rows), ""))
