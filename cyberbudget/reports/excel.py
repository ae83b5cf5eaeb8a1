"""The finance teams' workbook, ``allocation.xlsx`` (openpyxl).

Sheets (DESIGN.md, "Command line"): ``summary``, ``by_region``, ``by_status``, ``by_category``, ``by_ght``,
``by_year``, ``parameters``, ``provenance``, then the extension ``by_legal_entity`` (one row per legal entity,
with its name) and, only under ``disclosure: establishment``, ``establishments``. ``by_ght`` and
``by_legal_entity`` carry the names of their groups in the ``label`` column (``by_legal_entity`` lists, under
``disclosure: aggregate``, only the legal entities whose figures are published, the others pooled in one row);
under a funding unit other than
``establishment`` every breakdown also counts units (``n_units``, ``n_units_eligible``) and the summary gives the
unit and its counts.

Every word is in the workbook's language (``lang``, French by default; catalogue keys ``xlsx.*``, ``col.*``,
``label.*``): titles, column headers (the reader's names — "Subvention (centimes)", not ``grant_cents``), labels of
regions, statuses and categories, the reasons of the establishment sheet. Sheet names stay those of DESIGN.md.

Every sheet has a title in row 1, its column headers in row 2 (frozen with the first column), data from row 3
and, for breakdowns, a bold total row — except ``summary``, whose first lines state what the data is (the table
and its nature, the scenario, the production date and version: :mod:`cyberbudget.reports.provenance_line`) and
the meaning of ``n.d.``, its headers following (:func:`summary_header_row`). Amounts are written from integer
cents: the grant in cents as an integer and in euros as ``cents / 100`` with a two-decimal euro format, so the
totals match ``allocation.csv`` to the cent. Suppressed cells (see :mod:`cyberbudget.reports.disclosure`) read
``n.d.``. Under ``disclosure: establishment`` every sheet carries the marking "Diffusion restreinte" in its
title, page header and footer.

Every cell is written by :func:`cyberbudget.reports.spreadsheets.set_cell`: a string — a scenario description,
a name, a parameter — is stored as a string, never as a formula, whatever it starts with.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from cyberbudget import config
from cyberbudget.reports.disclosure import POOLED, Breakdown
from cyberbudget.reports.i18n import column, label, t
from cyberbudget.reports.provenance_line import DataProvenance, summary_lines
from cyberbudget.reports.reasons import translate_reasons
from cyberbudget.reports.spreadsheets import set_cell

#: Sheets written in every workbook, in order: DESIGN.md's, then the extensions.
SHEETS: tuple[str, ...] = (
    "summary", "by_region", "by_status", "by_category", "by_ght", "by_year", "parameters", "provenance",
    "by_legal_entity",
)
#: Text written in a suppressed cell (the same in both languages: "non diffusé" / "not disclosed").
NOT_DISCLOSED: str = "n.d."

FORMATS: dict[str, str] = {
    "eur": '#,##0.00 "€"',
    "eur0": '#,##0 "€"',
    "cents": "#,##0",
    "int": "#,##0",
    "share": "0.0%",
    "share2": "0.00%",
    "text": "@",
}
#: Number format of each known column.
COLUMN_FORMATS: dict[str, str] = {
    "n_establishments": "int", "n_eligible": "int", "n_recipients": "int", "eligible_share": "share",
    "n_units": "int", "n_units_eligible": "int",
    "grant_cents": "cents", "grant_eur": "eur", "grant_share": "share", "it_budget_eur": "eur0",
    "cyber_spend_eur": "eur0", "cyber_share": "share2", "beds": "int", "grant_per_bed_eur": "eur",
    "year": "text",
}
HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
TITLE_FONT = Font(bold=True, size=13)
MARK_FONT = Font(bold=True, size=13, color="C00000")
#: Fill and font of the data-nature lines of the summary sheet (loud for synthetic data).
NATURE_FILL = PatternFill("solid", fgColor="FFF3CD")
NATURE_FONT = Font(bold=True, size=12, color="5C3300")


def legend(lang: str = "fr") -> str:
    """``n.d. = non diffusé (…)``: the meaning of a suppressed cell."""
    return t("nd.legend", lang, k=config.MIN_CELL_SIZE)


def _title(ws: Worksheet, title: str, marking: str | None) -> None:
    set_cell(ws, 1, 1, f"{marking} — {title}" if marking else title).font = MARK_FONT if marking else TITLE_FONT
    if marking:
        for part in (ws.oddHeader, ws.evenHeader, ws.firstHeader):
            part.center.text = marking
            part.center.color = "C00000"
            part.center.font = "Arial,Bold"
        for part in (ws.oddFooter, ws.evenFooter, ws.firstFooter):
            part.center.text = marking


def _write_frame(ws: Worksheet, frame: pd.DataFrame, *, start_row: int = 2, formats: Mapping[str, str] | None = None,
                 suppressed: pd.Series | None = None, bold_last: bool = False, lang: str = "fr") -> None:
    formats = {**COLUMN_FORMATS, **(formats or {})}
    for j, col in enumerate(frame.columns, start=1):
        cell = set_cell(ws, start_row, j, column(str(col), lang))
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for i, row in enumerate(frame.itertuples(index=False), start=start_row + 1):
        hidden = suppressed is not None and bool(suppressed.iloc[i - start_row - 1])
        for j, (col, value) in enumerate(zip(frame.columns, row, strict=True), start=1):
            cell = set_cell(ws, i, j, value)
            if cell.value is None and hidden:
                set_cell(ws, i, j, NOT_DISCLOSED).alignment = Alignment(horizontal="right")
            else:
                fmt = formats.get(str(col))
                if fmt:
                    cell.number_format = FORMATS[fmt]
        if bold_last and i == start_row + len(frame):
            for j in range(1, len(frame.columns) + 1):
                ws.cell(row=i, column=j).font = Font(bold=True)
    ws.freeze_panes = ws.cell(row=start_row + 1, column=2)
    for j, col in enumerate(frame.columns, start=1):
        values = [column(str(col), lang)] + [str(v) for v in frame[col].head(200).tolist()]
        width = min(60, max(10, max(len(v) for v in values) + 2))
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.print_title_rows = f"{start_row}:{start_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToHeight = 0


def _labelled(breakdown: Breakdown, lang: str = "fr", names: Mapping[str, str] | None = None, *,
              pooled: bool = False) -> pd.DataFrame:
    """A breakdown with its total row, a label column (statuses, categories and regions in ``lang``; GHT and
    legal entities by their ``names``) and the suppression in words; ``pooled``: only the groups whose figures
    are published, the others together in one row."""
    frame = breakdown.visible_frame() if pooled else breakdown.to_frame(with_total=True)
    by = breakdown.by
    codes = frame[by].astype(str)
    special = {"Total": t("label.total", lang), POOLED: t("label.pooled", lang)}
    if by in ("region", "status", "category"):
        frame.insert(1, "label", ["" if code in special else label(by, code, lang) for code in codes])
    elif names:
        frame.insert(1, "label", ["" if code in special else names.get(code, "") for code in codes])
    frame[by] = [special.get(code, code) for code in codes]
    frame["suppressed"] = frame["suppressed"].map({"primary": t("nd.suppressed.primary", lang, k=breakdown.min_cell),
                                                   "secondary": t("nd.suppressed.secondary", lang), "": ""})
    return frame


def summary_header_row(n_lines: int) -> int:
    """Row of the summary sheet's column headers: after the title and the ``n_lines`` data-nature and legend lines."""
    return 2 + n_lines


def write_workbook(
    path: str | Path,
    *,
    summary: Sequence[tuple[str, Any, str]],
    breakdowns: Mapping[str, Breakdown],
    years: pd.DataFrame,
    parameters: Mapping[str, Any],
    provenance: pd.DataFrame,
    establishments: pd.DataFrame | None = None,
    marking: str | None = None,
    title: str = "cyberbudget",
    data: DataProvenance | None = None,
    lang: str = "fr",
    names: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """Write the workbook atomically (temporary file, then rename).

    Parameters
    ----------
    path : path
        Output ``.xlsx``.
    summary : sequence of (key, value, format)
        Key figures: ``key`` names the figure in the catalogue (``xlsx.kf.<key>``); ``value`` None means
        suppressed; ``format`` one of :data:`FORMATS`.
    breakdowns : mapping
        ``{"region": Breakdown, "status": ..., "category": ..., "ght": ...}`` from
        :func:`cyberbudget.reports.disclosure.breakdown`.
    years : DataFrame
        :func:`cyberbudget.reports.disclosure.year_totals`.
    parameters : mapping
        The resolved scenario (nested mappings are flattened to dotted keys).
    provenance : DataFrame
        :func:`cyberbudget.data.reference.provenance`.
    establishments : DataFrame, optional
        Establishment-level table; written (sheet ``establishments``) only when given — the caller passes it
        only under ``disclosure: establishment``.
    marking : str, optional
        Protective marking written on every sheet (title, page header and footer).
    title : str
        What the workbook is (e.g. ``cyberbudget — baseline``), first in every sheet's title.
    data : DataProvenance, optional
        What the figures are built from, stated in the first lines of the ``summary`` sheet.
    lang : {"fr", "en"}
        Language of every title, header and label.
    names : mapping, optional
        ``{"ght": {code: name}, "legal_entity": {finess_ej: name}}``: the ``label`` column of ``by_ght`` and
        ``by_legal_entity``.

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    nd = legend(lang)
    wb = Workbook()
    ws = wb.active
    ws.title = "summary"
    _title(ws, t("xlsx.title.summary", lang, title=title), marking)
    lines = [*(summary_lines(data, lang) if data is not None else []), nd]
    for i, text in enumerate(lines, start=2):
        cell = set_cell(ws, i, 1, text)
        if data is not None and i < 2 + len(lines) - 1:
            cell.font = NATURE_FONT if data.nature == "synthetic" else Font(bold=True)
            if data.nature == "synthetic":
                cell.fill = NATURE_FILL
    header = summary_header_row(len(lines))
    frame = pd.DataFrame([(t(f"xlsx.kf.{k}", lang), v) for k, v, _ in summary], columns=["indicator", "value"])
    _write_frame(ws, frame, start_row=header, suppressed=frame["value"].isna(), lang=lang)
    for i, (_, _, fmt) in enumerate(summary, start=header + 1):
        if ws.cell(row=i, column=2).value != NOT_DISCLOSED:
            ws.cell(row=i, column=2).number_format = FORMATS[fmt]
    ws.column_dimensions["A"].width = 48
    ws.column_dimensions["B"].width = 24

    for by in ("region", "status", "category", "ght"):
        ws = wb.create_sheet(f"by_{by}")
        _title(ws, t(f"xlsx.title.by_{by}", lang, title=title, legend=nd), marking)
        frame = _labelled(breakdowns[by], lang, (names or {}).get(by))
        mask = frame["suppressed"] != ""
        _write_frame(ws, frame, suppressed=mask, bold_last=True, lang=lang)

    ws = wb.create_sheet("by_year")
    _title(ws, t("xlsx.title.by_year", lang, title=title, legend=nd), marking)
    yr = years[["year", "grant_cents", "grant_eur"]].copy()
    yr["year"] = yr["year"].astype(str)
    known = yr["grant_cents"].notna().all()
    total = pd.DataFrame({"year": [t("label.total", lang)],
                          "grant_cents": [int(yr["grant_cents"].sum()) if known else pd.NA],
                          "grant_eur": [float(yr["grant_cents"].sum()) / 100 if known else float("nan")]})
    yr = pd.concat([yr, total], ignore_index=True)
    _write_frame(ws, yr, suppressed=yr["grant_cents"].isna(), bold_last=True, lang=lang)

    ws = wb.create_sheet("parameters")
    _title(ws, t("xlsx.title.parameters", lang, title=title), marking)
    params = pd.DataFrame(sorted(_flatten(parameters).items()), columns=["parameter", "value"])
    _write_frame(ws, params, lang=lang)

    ws = wb.create_sheet("provenance")
    _title(ws, t("xlsx.title.provenance", lang, title=title), marking)
    _write_frame(ws, provenance.astype(object).where(provenance.notna(), None), formats={"value": ""}, lang=lang)

    if "legal_entity" in breakdowns:
        ws = wb.create_sheet("by_legal_entity")
        _title(ws, t("xlsx.title.by_legal_entity", lang, title=title, legend=nd), marking)
        # under aggregate disclosure, the legal entities whose figures are published, the others pooled in one row
        frame = _labelled(breakdowns["legal_entity"], lang, (names or {}).get("legal_entity") or {}, pooled=not marking)
        _write_frame(ws, frame, suppressed=frame["suppressed"] != "", bold_last=True, formats={"legal_entity": "text"},
                     lang=lang)

    if establishments is not None:
        ws = wb.create_sheet("establishments")
        _title(ws, t("xlsx.title.establishments", lang, title=title), marking)
        est = establishments.copy()
        for kind in ("status", "category", "region"):
            if kind in est:
                est[kind] = [label(kind, c, lang) for c in est[kind]]
        if "reason" in est:
            est["reason"] = translate_reasons(est["reason"], lang)
        for col in est.columns:
            if est[col].dtype == bool:
                est[col] = est[col].map({True: t("label.yes", lang), False: t("label.no", lang)})
        _write_frame(ws, est, formats={"finess": "text"}, lang=lang)
        ws.auto_filter.ref = f"A2:{get_column_letter(len(est.columns))}{len(est) + 2}"

    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        wb.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(node, Mapping):
        for k, v in node.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(node, (list, tuple)):
        if all(not isinstance(v, (Mapping, list, tuple)) for v in node):
            out[prefix] = ", ".join(str(v) for v in node)
            return out
        for i, v in enumerate(node):
            out.update(_flatten(v, f"{prefix}[{i}]"))
        return out
    out[prefix] = "null" if node is None else node
    return out
