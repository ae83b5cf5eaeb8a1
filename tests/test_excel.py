"""allocation.xlsx: the sheets DESIGN.md names, formats, frozen headers, totals equal to allocation.csv to the
cent, and no establishment-level figure unless the scenario says ``disclosure: establishment``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from cyberbudget import config, reports
from cyberbudget.reports import excel
from cyberbudget.reports.i18n import column, t

SHEETS = ["summary", "by_region", "by_status", "by_category", "by_ght", "by_year", "parameters", "provenance",
          "by_legal_entity"]  # DESIGN.md's sheets, then the extension


@pytest.fixture(scope="module")
def table_path(tmp_path_factory) -> Path:
    """A small synthetic table: 8 establishments per region (labelled synthetic by the generator)."""
    from cyberbudget.data.registry import synthesize, write_table

    df = synthesize().groupby("region", sort=True).head(8)
    return write_table(df, tmp_path_factory.mktemp("table") / "table.csv")


def _outputs(tmp: Path, table_path: Path, scenario: Path) -> tuple[Path, list[dict[str, str]]]:
    computed = reports.compute(scenario, table_path)
    paths = reports.write_outputs(computed, tmp)
    text = paths["allocation.csv"].read_text(encoding="utf-8")
    return paths["allocation.xlsx"], list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def aggregate(tmp_path_factory, table_path):
    return _outputs(tmp_path_factory.mktemp("agg"), table_path, config.SCENARIOS_DIR / "baseline.yaml")


@pytest.fixture(scope="module")
def restricted(tmp_path_factory, table_path):
    folder = tmp_path_factory.mktemp("restricted")
    scenario = folder / "restricted.yaml"
    scenario.write_text(f"name: restricted\nextends: {config.SCENARIOS_DIR / 'baseline.yaml'}\n"
                        "disclosure: establishment\n", encoding="utf-8")
    return _outputs(folder, table_path, scenario)


def _cells(wb):
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    yield ws.title, cell


def test_workbook_has_exactly_the_published_sheets(aggregate):
    xlsx, _ = aggregate
    assert load_workbook(xlsx).sheetnames == SHEETS


def _summary(ws) -> dict[str, object]:
    """The summary sheet's key figures, by their (French) label: the rows under the header "Indicateur"."""
    col_a = [c.value for c in ws["A"]]
    start = col_a.index(column("indicator", "fr")) + 2
    return {line[0].value: line[1].value for line in ws.iter_rows(min_row=start)}


def test_totals_match_allocation_csv_to_the_cent(aggregate):
    xlsx, rows = aggregate
    csv_cents = sum(int(r["grant_cents"]) for r in rows)
    wb = load_workbook(xlsx)
    summary = _summary(wb["summary"])
    kf = {k: t(f"xlsx.kf.{k}", "fr") for k in ("allocated_cents", "allocated_eur", "envelope_cents",
                                               "unallocated_cents")}
    assert summary[kf["allocated_cents"]] == csv_cents
    assert round(summary[kf["allocated_eur"]] * 100) == csv_cents
    assert summary[kf["envelope_cents"]] == summary[kf["allocated_cents"]] + summary[kf["unallocated_cents"]]
    cents, eur = column("grant_cents", "fr"), column("grant_eur", "fr")
    for sheet in ("by_region", "by_status", "by_category", "by_year"):
        ws = wb[sheet]
        header = [c.value for c in ws[2]]
        last = [c.value for c in ws[ws.max_row]]
        assert last[0] == "Total", sheet
        assert last[header.index(cents)] == csv_cents, sheet
        assert round(last[header.index(eur)] * 100) == csv_cents, sheet
    # each year column of the CSV sums to its by_year line
    ws = wb["by_year"]
    header = [c.value for c in ws[2]]
    for line in ws.iter_rows(min_row=3, max_row=ws.max_row - 1, values_only=True):
        year = line[header.index(column("year", "fr"))]
        assert line[header.index(cents)] == sum(int(r[f"grant_cents_{year}"]) for r in rows)


def test_number_formats_and_frozen_headers(aggregate):
    xlsx, _ = aggregate
    wb = load_workbook(xlsx)
    for name in SHEETS[1:]:
        assert wb[name].freeze_panes == "B3", name
    col_a = [c.value for c in wb["summary"]["A"]]
    assert wb["summary"].freeze_panes == f"B{col_a.index(column('indicator', 'fr')) + 2}"
    ws = wb["by_status"]
    header = [c.value for c in ws[2]]
    eur = ws.cell(row=ws.max_row, column=header.index(column("grant_eur", "fr")) + 1)
    assert eur.number_format == excel.FORMATS["eur"]
    share = ws.cell(row=ws.max_row, column=header.index(column("eligible_share", "fr")) + 1)
    assert share.number_format == excel.FORMATS["share"]


def test_suppressed_cells_read_nd_and_small_groups_show_no_money(aggregate):
    xlsx, _ = aggregate
    ws = load_workbook(xlsx)["by_category"]
    header = [c.value for c in ws[2]]
    seen_small = False
    for line in ws.iter_rows(min_row=3, max_row=ws.max_row - 1, values_only=True):
        if line[header.index(column("n_establishments", "fr"))] < config.MIN_CELL_SIZE:
            seen_small = True
            assert line[header.index(column("grant_cents", "fr"))] == excel.NOT_DISCLOSED
            assert line[header.index(column("cyber_share", "fr"))] == excel.NOT_DISCLOSED
    assert seen_small  # the fixture has categories of fewer than 5 establishments


def test_no_establishment_level_figure_by_default(aggregate):
    xlsx, rows = aggregate
    finess = {r["finess"] for r in rows}
    grants = {int(r["grant_cents"]) for r in rows if int(r["grant_cents"]) > 0}
    names = {r["name"] for r in rows}
    wb = load_workbook(xlsx)
    # A legal entity is named after its largest site (the open data give no legal-entity name): that label is
    # published only for a legal entity whose figures are, i.e. one of at least 5 establishments.
    entities = wb["by_legal_entity"]
    header = [c.value for c in entities[2]]
    entity_labels = set()
    for line in entities.iter_rows(min_row=3, values_only=True):
        col = {name: header.index(column(name, "fr")) for name in ("label", "n_establishments", "suppressed",
                                                                   "grant_cents")}
        if line[col["label"]]:
            assert line[col["n_establishments"]] >= config.MIN_CELL_SIZE
            assert line[col["suppressed"]] in ("", None) and isinstance(line[col["grant_cents"]], int)
            entity_labels.add(line[col["label"]])
    for sheet, cell in _cells(wb):
        if sheet == "by_legal_entity" and cell.value in entity_labels and cell.column == header.index(column("label", "fr")) + 1:
            continue
        if isinstance(cell.value, str):
            assert cell.value not in finess and cell.value not in names, (sheet, cell.coordinate)
            assert not any(f in cell.value for f in finess), (sheet, cell.coordinate)
        elif isinstance(cell.value, (int, float)) and sheet not in ("parameters", "provenance"):
            assert round(cell.value * 100) not in grants and cell.value not in grants, (sheet, cell.coordinate)


def test_establishment_disclosure_adds_the_sheet_and_marks_every_sheet(restricted):
    xlsx, rows = restricted
    wb = load_workbook(xlsx)
    assert wb.sheetnames == [*SHEETS, "establishments"]
    for ws in wb.worksheets:
        assert str(ws["A1"].value).startswith("Diffusion restreinte"), ws.title
        assert ws.oddHeader.center.text == "Diffusion restreinte", ws.title
    ws = wb["establishments"]
    header = [c.value for c in ws[2]]
    listed = {line[header.index("FINESS")]: line[header.index(column("grant_cents", "fr"))]
              for line in ws.iter_rows(min_row=3, values_only=True)}
    assert listed == {r["finess"]: int(r["grant_cents"]) for r in rows}
