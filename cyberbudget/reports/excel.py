"""The finance teams' workbook, ``allocation.xlsx`` (openpyxl).

Sheets (DESIGN.md, "Command line"): ``summary``, ``by_region``, ``by_status``, ``by_category``, ``by_ght``,
``by_year``, ``parameters``, ``provenance``, then the extension ``by_legal_entity`` (one row per legal entity,
with its name) and, only under ``disclosure: establishment``, ``establishments``. ``by_ght`` and
``by_legal_entity`` carry the names of their groups in the ``label`` column (``by_legal_entity`` lists, under
``disclosure: aggregate``, only the legal entities whose figures are published, the others pooled in one row);
under a funding unit other than
``establishment`` every breakdown also counts units (``n_units``, ``n_units_eligible``) and the summary gives the
unit and its counts.

Every sheet has a title in row 1, its column headers in row 2 (frozen with the first column), data from row 3
and, for breakdowns, a bold total row. Amounts are written from integer cents: ``grant_cents`` as an integer
and ``grant_eur`` as ``cents / 100`` with a two-decimal euro format, so the totals match ``allocation.csv`` to
the cent. Suppressed cells (see :mod:`cyberbudget.reports.disclosure`) read ``n.d.``. Under ``disclosure:
establishment`` every sheet carries the marking "Diffusion restreinte" in its title, page header and footer.
"""

from __future__ import annotations

import math
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

#: Sheets written in every workbook, in order: DESIGN.md's, then the extensions.
SHEETS: tuple[str, ...] = (
    "summary", "by_region", "by_status", "by_category", "by_ght", "by_year", "parameters", "provenance",
    "by_legal_entity",
)
#: Text written in a suppressed cell.
NOT_DISCLOSED: str = "n.d."
LEGEND: str = f"n.d. = not disclosed (built from fewer than {config.MIN_CELL_SIZE} establishments)"

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


def _cell_value(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _title(ws: Worksheet, title: str, marking: str | None) -> None:
    ws["A1"] = f"{marking} — {title}" if marking else title
    ws["A1"].font = MARK_FONT if marking else TITLE_FONT
    if marking:
        for part in (ws.oddHeader, ws.evenHeader, ws.firstHeader):
            part.center.text = marking
            part.center.color = "C00000"
            part.center.font = "Arial,Bold"
        for part in (ws.oddFooter, ws.evenFooter, ws.firstFooter):
            part.center.text = marking


def _write_frame(ws: Worksheet, frame: pd.DataFrame, *, start_row: int = 2, formats: Mapping[str, str] | None = None,
                 suppressed: pd.Series | None = None, bold_last: bool = False) -> None:
    formats = {**COLUMN_FORMATS, **(formats or {})}
    for j, col in enumerate(frame.columns, start=1):
        cell = ws.cell(row=start_row, column=j, value=str(col))
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for i, row in enumerate(frame.itertuples(index=False), start=start_row + 1):
        hidden = suppressed is not None and bool(suppressed.iloc[i - start_row - 1])
        for j, (col, value) in enumerate(zip(frame.columns, row, strict=True), start=1):
            value = _cell_value(value)
            cell = ws.cell(row=i, column=j)
            if value is None and hidden:
                cell.value = NOT_DISCLOSED
                cell.alignment = Alignment(horizontal="right")
            else:
                cell.value = value
                fmt = formats.get(str(col))
                if fmt:
                    cell.number_format = FORMATS[fmt]
        if bold_last and i == start_row + len(frame):
            for j in range(1, len(frame.columns) + 1):
                ws.cell(row=i, column=j).font = Font(bold=True)
    ws.freeze_panes = ws.cell(row=start_row + 1, column=2)
    for j, col in enumerate(frame.columns, start=1):
        values = [str(col)] + [str(v) for v in frame[col].head(200).tolist()]
        width = min(60, max(10, max(len(v) for v in values) + 2))
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.print_title_rows = f"{start_row}:{start_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToHeight = 0


def _labelled(breakdown: Breakdown, labels: Mapping[str, str] | None, *, pooled: bool = False) -> pd.DataFrame:
    frame = breakdown.visible_frame() if pooled else breakdown.to_frame(with_total=True)
    by = breakdown.by
    if labels:
        frame.insert(1, "label", [labels.get(str(code), "") if code not in ("Total", POOLED) else ""
                                  for code in frame[by]])
    frame["suppressed"] = frame["suppressed"].map({"primary": "n < 5", "secondary": "secondary", "": ""})
    return frame


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
    labels: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """Write the workbook atomically (temporary file, then rename).

    Parameters
    ----------
    path : path
        Output ``.xlsx``.
    summary : sequence of (indicator, value, format)
        Key figures; ``value`` None means suppressed; ``format`` one of :data:`FORMATS`.
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
    labels : mapping, optional
        ``{"region": {code: name}, ...}`` to add a readable label column to breakdowns.

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    wb = Workbook()
    ws = wb.active
    ws.title = "summary"
    _title(ws, f"{title} — key figures ({LEGEND})", marking)
    frame = pd.DataFrame([(k, v) for k, v, _ in summary], columns=["indicator", "value"])
    _write_frame(ws, frame, suppressed=frame["value"].isna())
    for i, (_, _, fmt) in enumerate(summary, start=3):
        if ws.cell(row=i, column=2).value != NOT_DISCLOSED:
            ws.cell(row=i, column=2).number_format = FORMATS[fmt]
    ws.column_dimensions["A"].width = 44
    ws.column_dimensions["B"].width = 22

    for by in ("region", "status", "category", "ght"):
        ws = wb.create_sheet(f"by_{by}")
        _title(ws, f"{title} — allocation by {by} ({LEGEND})", marking)
        frame = _labelled(breakdowns[by], (labels or {}).get(by))
        mask = frame["suppressed"] != ""
        _write_frame(ws, frame, suppressed=mask, bold_last=True)

    ws = wb.create_sheet("by_year")
    _title(ws, f"{title} — grants by year ({LEGEND})", marking)
    yr = years[["year", "grant_cents", "grant_eur"]].copy()
    yr["year"] = yr["year"].astype(str)
    known = yr["grant_cents"].notna().all()
    total = pd.DataFrame({"year": ["Total"],
                          "grant_cents": [int(yr["grant_cents"].sum()) if known else pd.NA],
                          "grant_eur": [float(yr["grant_cents"].sum()) / 100 if known else float("nan")]})
    yr = pd.concat([yr, total], ignore_index=True)
    _write_frame(ws, yr, suppressed=yr["grant_cents"].isna(), bold_last=True)

    ws = wb.create_sheet("parameters")
    _title(ws, f"{title} — scenario parameters (resolved)", marking)
    params = pd.DataFrame(sorted(_flatten(parameters).items()), columns=["parameter", "value"])
    _write_frame(ws, params)

    ws = wb.create_sheet("provenance")
    _title(ws, f"{title} — where the figures come from (source: assumption = no publication gives it)", marking)
    _write_frame(ws, provenance.astype(object).where(provenance.notna(), None), formats={"value": ""})

    if "legal_entity" in breakdowns:
        ws = wb.create_sheet("by_legal_entity")
        _title(ws, f"{title} — allocation by legal entity ({LEGEND})", marking)
        # under aggregate disclosure, the legal entities whose figures are published, the others pooled in one row
        frame = _labelled(breakdowns["legal_entity"], (labels or {}).get("legal_entity") or {}, pooled=not marking)
        _write_frame(ws, frame, suppressed=frame["suppressed"] != "", bold_last=True, formats={"legal_entity": "text"})

    if establishments is not None:
        ws = wb.create_sheet("establishments")
        _title(ws, f"{title} — establishments (internal use only)", marking)
        est = establishments.copy()
        for col in est.columns:
            if est[col].dtype == bool:
                est[col] = est[col].map({True: "true", False: "false"})
        _write_frame(ws, est, formats={"finess": "text"})
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
