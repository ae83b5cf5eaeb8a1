"""The batch's comparison page ``DIR/index.html`` and its downloads ``comparison.csv`` and ``comparison.xlsx``.

The page compares every scenario of a batch: their outcomes and key figures (envelope, allocated, unallocated,
establishments, eligible, induced spend, avoided loss, with each scenario's description), then grants, eligible
establishments and avoided loss by region, status, category and GHT. Its tables sort (click a column head) and
filter (type in the box above them) with a few lines of inline JavaScript; the indicator shown in a breakdown
table is chosen from a list. It links every report and the two downloads.

Published output (DESIGN.md, "Confidentiality"): whatever each scenario's ``disclosure``, the page and both
downloads hold only aggregates built by :mod:`cyberbudget.reports.disclosure` — a cell built from fewer than
``config.MIN_CELL_SIZE`` establishments (and, under an ``allocation.unit`` other than ``establishment``, fewer
than that many units) is suppressed, with secondary suppression so that no total reveals it; national amounts
are hidden when fewer than that many establishments (or units) receive a grant. No establishment appears; the
establishment-level figures are in the internal store (:mod:`cyberbudget.reports.store`).

Every word comes from the message catalogue (``locale/*/LC_MESSAGES/index.po``, keys ``index.*``; French by
default). Every string that comes from an input — scenario names, descriptions and error messages, GHT names,
the table's path — is escaped (``html.escape``); the words the script needs are embedded as JSON with ``<``
escaped. The page is self-contained: inline CSS and script, nothing fetched from anywhere.
"""

from __future__ import annotations

import functools
import html
import io
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget import config
from cyberbudget.formatting import check_lang, fmt_number
from cyberbudget.reports import disclosure, plots
from cyberbudget.reports.folders import write_bytes_atomic, write_text_atomic
from cyberbudget.reports.i18n import t
from cyberbudget.reports.store import ScenarioReport, add_risk, csv_bytes, read_report

__all__ = [
    "BREAKDOWNS", "COMPARISON_CSV", "COMPARISON_XLSX", "GROUP_FIELDS", "INDEX_NAME", "KEY_FIELDS", "BatchComparison",
    "build_comparison", "comparison_frame", "render_index", "write_comparison_files", "write_index",
]

INDEX_NAME: str = "index.html"
COMPARISON_CSV: str = "comparison.csv"
COMPARISON_XLSX: str = "comparison.xlsx"
#: Groupings of the comparison (``ght`` leaves out establishments outside any GHT).
BREAKDOWNS: tuple[str, ...] = ("region", "status", "category", "ght")
#: Columns of the key figures of each scenario (a suppressed figure is missing).
KEY_FIELDS: tuple[str, ...] = (
    "scenario", "description", "rule", "unit", "status", "duration_s", "envelope_cents", "allocated_cents",
    "unallocated_cents", "n_establishments", "n_units", "n_eligible", "induced_spend_eur", "avoided_loss_eur",
)
#: Columns of the breakdowns (one row per scenario × breakdown × group, then each breakdown's total).
GROUP_FIELDS: tuple[str, ...] = (
    "scenario", "breakdown", "key", "label", "n_establishments", "n_units", "n_eligible", "grant_cents",
    "induced_spend_eur", "avoided_loss_eur", "suppressed",
)
#: Columns of ``comparison.csv`` and of the workbook's ``comparison`` sheet (headers translated).
CSV_FIELDS: tuple[str, ...] = (
    "scenario", "breakdown", "key", "label", "n_establishments", "n_units", "n_eligible", "grant_cents", "grant_eur",
    "induced_spend_eur", "avoided_loss_eur", "envelope_cents", "unallocated_cents", "suppressed",
)
#: Indicators a breakdown table can show: name → (column, how the page writes it).
INDICATORS: dict[str, str] = {"grant": "grant_cents", "eligible": "n_eligible", "avoided": "avoided_loss_eur"}
_TOTAL = "Total"


# --------------------------------------------------------------------------------------------------------------
# The aggregated comparison
# --------------------------------------------------------------------------------------------------------------


@dataclass
class BatchComparison:
    """The published comparison of a batch (aggregated and suppressed).

    Attributes
    ----------
    scenarios : DataFrame
        One row per scenario of the batch, in order (:data:`KEY_FIELDS`, then ``output``, ``error``); the key
        figures of a scenario without a finished report are missing.
    groups : DataFrame
        :data:`GROUP_FIELDS`: one row per finished scenario × breakdown × group, then the breakdown's total
        (``key`` = ``"Total"``); ``suppressed`` is ``""``, ``"primary"`` or ``"secondary"``.
    problems : dict
        Scenario → why its figures could not be read.
    lang : str
    min_cell : int
    """

    scenarios: pd.DataFrame
    groups: pd.DataFrame
    problems: dict[str, str]
    lang: str
    min_cell: int

    @functools.cached_property
    def names(self) -> list[str]:
        """The scenarios with figures, in order."""
        return [str(n) for n in self.groups["scenario"].drop_duplicates()]

    def cells(self, by: str) -> tuple[list[str], dict[tuple[str, str], dict[str, Any]]]:
        """The group codes of breakdown ``by`` in display order (total last) and its rows by (scenario, code)."""
        rows = self.groups[self.groups["breakdown"] == by].to_dict("records")
        index = {(str(r["scenario"]), str(r["key"])): r for r in rows}
        seen = list(dict.fromkeys(str(r["key"]) for r in rows if r["key"] != _TOTAL))
        codes = _order(by, seen) + ([_TOTAL] if any(r["key"] == _TOTAL for r in rows) else [])
        return codes, index


def _group_label(by: str, code: str, lang: str, ght_names: Mapping[str, str]) -> str:
    if code == _TOTAL:
        return t("index.total", lang)
    if by == "region":
        return config.REGION_NAMES.get(code, code)
    if by in ("status", "category"):
        return plots.label(by, code, lang)
    if by == "ght":
        return ght_names.get(code) or code
    return code


def _hidden(count: int, min_cell: int) -> bool:
    return 0 < count < min_cell


def _key_figures(report: ScenarioReport, min_cell: int) -> dict[str, Any]:
    """National figures of one report, suppressed like :func:`cyberbudget.reports.published.key_figures`.

    Under a funding unit other than ``establishment``, counts of units are protected as well.
    """
    a = report.allocation
    grant = a["grant_cents"].to_numpy(np.int64)
    eligible = a["eligible"].to_numpy(bool)
    units = a["unit"].astype(str)
    by_unit = report.unit_kind != "establishment"
    hide_money = _hidden(int((grant > 0).sum()), min_cell)
    hide_eligible = _hidden(int(eligible.sum()), min_cell)
    if by_unit:
        hide_money |= _hidden(units[grant > 0].nunique(), min_cell)
        hide_eligible |= _hidden(units[eligible].nunique(), min_cell)
    induced = a["induced_spend_eur"].to_numpy(float) if "induced_spend_eur" in a.columns else np.zeros(len(a))
    hide_induced = _hidden(int((induced > 0).sum()), min_cell)
    envelope = int(report.summary.get("envelope_cents", 0))
    allocated = int(grant.sum())
    avoided = None if report.avoided_eur is None or len(a) < min_cell else float(np.nansum(report.avoided_eur))
    return {
        "envelope_cents": envelope,
        "allocated_cents": None if hide_money else allocated,
        "unallocated_cents": None if hide_money else envelope - allocated,
        "n_establishments": len(a),
        "n_units": int(units.nunique()),
        "n_eligible": None if hide_eligible else int(eligible.sum()),
        "induced_spend_eur": None if hide_induced else float(induced.sum()),
        "avoided_loss_eur": avoided,
    }


def _breakdown_rows(report: ScenarioReport, by: str, min_cell: int, lang: str) -> list[dict[str, Any]]:
    a = report.allocation
    unit = "unit" if report.unit_kind != "establishment" else None
    b = disclosure.breakdown(a, by, min_cell, unit=unit)
    data = a[a["ght"].astype(str) != ""] if by == "ght" else a
    keys = data[by].astype(str)
    extra = pd.DataFrame({
        "key": keys.to_numpy(),
        "unit": data["unit"].astype(str).to_numpy(),
        "induced": (data["induced_spend_eur"].to_numpy(float) if "induced_spend_eur" in data.columns
                    else np.zeros(len(data))),
        "avoided": (np.zeros(len(data)) if report.avoided_eur is None
                    else report.avoided_eur[(a["ght"].astype(str) != "").to_numpy()] if by == "ght"
                    else report.avoided_eur),
    })
    sums = extra.groupby("key", sort=True).agg(n_units=("unit", "nunique"), induced=("induced", "sum"),
                                              avoided=("avoided", "sum"))
    ght_names: dict[str, str] = {}
    if by == "ght" and "ght_name" in data.columns:
        ght_names = {str(k): str(v) for k, v in zip(data["ght"], data["ght_name"], strict=True) if str(v)}
    rows = []
    for record in b.to_frame(with_total=True).to_dict("records"):
        code = str(record[by])
        hidden = record["suppressed"] != ""
        if code == _TOTAL:
            n_units, induced, avoided = int(extra["unit"].nunique()), float(extra["induced"].sum()), \
                float(extra["avoided"].sum())
        else:
            n_units, induced, avoided = (int(sums.loc[code, "n_units"]), float(sums.loc[code, "induced"]),
                                         float(sums.loc[code, "avoided"]))
        grant = record["grant_cents"]
        eligible = record["n_eligible"]
        rows.append({
            "scenario": report.name, "breakdown": by, "key": code,
            "label": _group_label(by, code, lang, ght_names),
            "n_establishments": int(record["n_establishments"]), "n_units": n_units,
            "n_eligible": None if hidden or pd.isna(eligible) else int(eligible),
            "grant_cents": None if hidden or pd.isna(grant) else int(grant),
            "induced_spend_eur": None if hidden else induced,
            "avoided_loss_eur": None if hidden or report.avoided_eur is None else avoided,
            "suppressed": str(record["suppressed"]),
        })
    return rows


def _order(by: str, codes: Sequence[str]) -> list[str]:
    fixed = {"region": config.REGIONS, "status": config.STATUSES, "category": config.CATEGORIES}.get(by, ())
    return [c for c in fixed if c in codes] + sorted(c for c in codes if c not in fixed)


def build_comparison(
    out: str | os.PathLike[str], outcomes: Sequence[Any], *, reports: Mapping[str, ScenarioReport] | None = None,
    table: pd.DataFrame | None = None, lang: str = "fr", min_cell: int = config.MIN_CELL_SIZE,
) -> BatchComparison:
    """The published comparison of a batch.

    Parameters
    ----------
    out : path
        The batch folder ``DIR``.
    outcomes : sequence of :class:`cyberbudget.reports.batch.Outcome`
        In the batch's order; the reports of those ``ok`` or ``skipped`` are compared.
    reports : mapping, optional
        Scenario name → :class:`~cyberbudget.reports.store.ScenarioReport` already read (with the risk figures);
        the others are read here.
    table : DataFrame, optional
        The establishment table, for the risk model's inputs ``allocation.csv`` does not carry.
    lang : {"fr", "en"}
    min_cell : int
        Smallest number of establishments (and units) a published cell may be built from.

    Returns
    -------
    BatchComparison
    """
    lang = check_lang(lang)
    out = Path(out)
    reports = dict(reports or {})
    problems: dict[str, str] = {}
    scenario_rows: list[dict[str, Any]] = []
    group_rows: list[dict[str, Any]] = []
    for o in outcomes:
        row: dict[str, Any] = dict.fromkeys(KEY_FIELDS)
        row.update({"scenario": o.name, "description": "", "rule": "", "unit": "", "status": o.status,
                    "duration_s": float(o.duration_s), "output": o.output or "",
                    "error": _error_text(o.error, lang)})
        report = reports.get(o.name)
        if report is None and o.status in ("ok", "skipped") and o.output:
            try:
                report = read_report(out / o.output)
            except (OSError, ValueError, KeyError) as exc:
                problems[o.name] = str(exc)
            else:
                try:
                    add_risk(report, table)
                except (ValueError, KeyError):  # the comparison shows the report without its avoided loss
                    pass
        if report is not None and o.status in ("ok", "skipped"):
            row.update({"description": report.description, "rule": report.rule, "unit": report.unit_kind})
            row.update(_key_figures(report, min_cell))
            for by in BREAKDOWNS:
                group_rows += _breakdown_rows(report, by, min_cell, lang)
        scenario_rows.append(row)
    scenarios = pd.DataFrame(scenario_rows, columns=[*KEY_FIELDS, "output", "error"])
    groups = pd.DataFrame(group_rows, columns=list(GROUP_FIELDS))
    return BatchComparison(scenarios=scenarios, groups=groups, problems=problems, lang=lang, min_cell=min_cell)


def _error_text(error: Mapping[str, Any] | None, lang: str) -> str:
    if not error:
        return ""
    where = (t("index.failed_cell", lang, n=error["cell_index"]) + " "
             if error.get("cell_index") is not None else "")
    return (where + str(error.get("message", "")))[:1500]


# --------------------------------------------------------------------------------------------------------------
# The downloads
# --------------------------------------------------------------------------------------------------------------


def _word(kind: str, code: str, lang: str) -> str:
    key = f"index.{kind}.{code}"
    try:
        return t(key, lang)
    except KeyError:
        return code


def comparison_frame(comp: BatchComparison) -> pd.DataFrame:
    """The long comparison table of ``comparison.csv`` (columns :data:`CSV_FIELDS`, headers in codes).

    One national row per scenario with a report (``breakdown`` = ``national``), then its breakdowns. Amounts:
    ``grant_cents``, ``envelope_cents``, ``unallocated_cents`` in integer cents, ``grant_eur`` exact to the cent,
    ``induced_spend_eur`` (over the period) and ``avoided_loss_eur`` (a year) rounded to the cent. A suppressed
    figure is empty.
    """
    lang = comp.lang
    rows: list[dict[str, Any]] = []
    for s in comp.scenarios.to_dict("records"):
        if s["scenario"] not in comp.names:
            continue
        rows.append({
            "scenario": s["scenario"], "breakdown": "national", "key": "", "label": t("index.national", lang),
            "n_establishments": s["n_establishments"], "n_units": s["n_units"], "n_eligible": s["n_eligible"],
            "grant_cents": s["allocated_cents"], "induced_spend_eur": s["induced_spend_eur"],
            "avoided_loss_eur": s["avoided_loss_eur"], "envelope_cents": s["envelope_cents"],
            "unallocated_cents": s["unallocated_cents"], "suppressed": "",
        })
        mine = comp.groups[comp.groups["scenario"] == s["scenario"]]
        rows += mine.to_dict("records")
    frame = pd.DataFrame(rows, columns=list(CSV_FIELDS))
    frame["grant_eur"] = [None if _missing(c) else f"{int(c) // 100}.{int(c) % 100:02d}" if int(c) >= 0
                          else f"-{abs(int(c)) // 100}.{abs(int(c)) % 100:02d}" for c in frame["grant_cents"]]
    for col in ("induced_spend_eur", "avoided_loss_eur"):
        frame[col] = [None if _missing(v) else f"{float(v):.2f}" for v in frame[col]]
    for col in ("n_establishments", "n_units", "n_eligible", "grant_cents", "envelope_cents", "unallocated_cents"):
        frame[col] = [None if _missing(v) else int(v) for v in frame[col]]
    frame["breakdown"] = [_word("breakdown", b, lang) for b in frame["breakdown"]]
    frame["suppressed"] = [_word("suppressed", s, lang) if s else "" for s in frame["suppressed"].fillna("")]
    return frame[list(CSV_FIELDS)]


def _missing(x: Any) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x))


def _headers(fields: Sequence[str], lang: str) -> list[str]:
    return [t(f"index.field.{f}", lang) for f in fields]


def _csv_text(frame: pd.DataFrame, lang: str) -> bytes:
    shown = frame.copy().astype(object).where(frame.notna(), "")
    shown.columns = _headers(list(frame.columns), lang)
    return csv_bytes(shown)


def _xlsx_bytes(comp: BatchComparison, long: pd.DataFrame) -> bytes:
    """The workbook: ``scenarios`` (key figures), ``by_region`` … ``by_ght`` (grants, a column per scenario),
    ``comparison`` (the long table of ``comparison.csv``). Fixed document dates, so equal inputs give equal bytes."""
    import datetime as dt

    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    lang = comp.lang
    nd = t("index.nd", lang)
    wb = Workbook()
    fill = PatternFill("solid", fgColor="DCE6F1")

    def sheet(ws: Any, title: str, header: list[str], rows: list[list[Any]], formats: list[str | None]) -> None:
        ws["A1"] = title
        ws["A1"].font = Font(bold=True, size=13)
        ws["A2"] = t("index.legend", lang, k=comp.min_cell, nd=nd)
        for j, h in enumerate(header, start=1):
            cell = ws.cell(row=3, column=j, value=h)
            cell.font = Font(bold=True)
            cell.fill = fill
            ws.column_dimensions[get_column_letter(j)].width = min(50, max(12, len(h) + 2))
        for i, values in enumerate(rows, start=4):
            for j, (value, fmt) in enumerate(zip(values, formats, strict=True), start=1):
                cell = ws.cell(row=i, column=j, value=nd if value is None and fmt else value)
                if value is not None and fmt:
                    cell.number_format = fmt
        ws.freeze_panes = ws.cell(row=4, column=2)
        ws.auto_filter.ref = f"A3:{get_column_letter(len(header))}{len(rows) + 3}"

    eur, cents, count = '#,##0.00 "€"', "#,##0", "#,##0"
    ws = wb.active
    ws.title = "scenarios"
    key_cols = ["scenario", "description", "rule", "unit", "status", "envelope_cents", "allocated_cents",
                "unallocated_cents", "n_establishments", "n_units", "n_eligible", "induced_spend_eur",
                "avoided_loss_eur"]
    fmts: list[str | None] = [None] * 5 + [cents, cents, cents, count, count, count, eur, eur]
    rows = []
    for s in comp.scenarios.to_dict("records"):
        has = s["scenario"] in comp.names
        rows.append([s["scenario"], s["description"], _word("rule", s["rule"], lang) if s["rule"] else "",
                     _word("unit", s["unit"], lang) if s["unit"] else "", _word("status", s["status"], lang)]
                    + [(None if _missing(s[c]) else s[c]) if has else "" for c in key_cols[5:]])
    sheet(ws, t("index.sheet_scenarios", lang), _headers(key_cols, lang), rows, fmts)
    for by in BREAKDOWNS:
        ws = wb.create_sheet(f"by_{by}")
        codes, index = comp.cells(by)
        header = [t("index.field.key", lang), t("index.field.label", lang), t("index.field.n_establishments", lang)]
        header += [t("index.grant_of", lang, scenario=name) for name in comp.names]
        rows = []
        for code in codes:
            first = next(index[(name, code)] for name in comp.names if (name, code) in index)
            cells: list[Any] = [code if code != _TOTAL else "", first["label"], int(first["n_establishments"])]
            for name in comp.names:
                v = index.get((name, code), {}).get("grant_cents")
                cells.append(None if _missing(v) else int(v) / 100)
            rows.append(cells)
        sheet(ws, t("index.sheet_by", lang, group=t(f"index.breakdown.{by}", lang)), header, rows,
              [None, None, count] + [eur] * len(comp.names))
    ws = wb.create_sheet("comparison")
    numeric = {"n_establishments", "n_units", "n_eligible", "grant_cents", "envelope_cents", "unallocated_cents"}
    money = {"grant_eur", "induced_spend_eur", "avoided_loss_eur"}
    rows = [[(None if _missing(v) else float(v) if c in money else v) if c in numeric | money else
             ("" if _missing(v) else v) for c, v in zip(long.columns, values, strict=True)]
            for values in long.itertuples(index=False)]
    fmts = [cents if c in numeric else eur if c in money else None for c in long.columns]
    sheet(ws, t("index.sheet_comparison", lang), _headers(list(long.columns), lang), rows, fmts)
    fixed = dt.datetime(2021, 2, 18)  # the strategy's announcement: a fixed date keeps the bytes reproducible
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.properties.creator = "cyberbudget"
    buffer = io.BytesIO()
    wb.save(buffer)
    return _fixed_zip(buffer.getvalue())


def _fixed_zip(content: bytes) -> bytes:
    """The same zip archive with every entry, and the document's "modified" date, set to 2021-02-18 (both
    otherwise carry the time of writing)."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2021, 2, 18, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the time of saving as "modified"
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(<)", rb"\g<1>2021-02-18T00:00:00Z\g<2>", data)
            dst.writestr(fixed, data)
    return out.getvalue()


def write_comparison_files(out: str | os.PathLike[str], comp: BatchComparison) -> dict[str, Path]:
    """Write ``comparison.csv`` (UTF-8, ``,``, LF, headers in the page's language) and ``comparison.xlsx``."""
    out = Path(out)
    long = comparison_frame(comp)
    return {
        COMPARISON_CSV: write_bytes_atomic(out / COMPARISON_CSV, _csv_text(long, comp.lang)),
        COMPARISON_XLSX: write_bytes_atomic(out / COMPARISON_XLSX, _xlsx_bytes(comp, long)),
    }


# --------------------------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------------------------


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _meur(cents: Any, lang: str) -> str:
    return t("index.nd", lang) if _missing(cents) else fmt_number(int(cents) / 1e8, 2, lang)


def _meur_eur(eur: Any, lang: str) -> str:
    return t("index.nd", lang) if _missing(eur) else fmt_number(float(eur) / 1e6, 2, lang)


def _count(x: Any, lang: str) -> str:
    return t("index.nd", lang) if _missing(x) else fmt_number(int(x), 0, lang)


def _sortable(x: Any) -> str:
    return "" if _missing(x) else repr(float(x))


def _cell(text: str, value: Any, cls: str = "num") -> str:
    return f"<td class='{cls}' data-v='{_e(_sortable(value))}'>{_e(text)}</td>"


def _th(label: str, lang: str, kind: str = "num") -> str:
    return (f"<th scope='col' class='{kind}' aria-sort='none'><button type='button' class='cb-sort' "
            f"title='{_e(t('index.sort', lang, column=label))}'>{_e(label)}</button></th>")


def _filter(table_id: str, lang: str) -> str:
    return (f"<label class='cb-filter'>{_e(t('index.filter_label', lang))} <input type='search' "
            f"data-table='{table_id}' placeholder='{_e(t('index.filter_placeholder', lang))}'></label>")


def _scenarios_table(comp: BatchComparison) -> str:
    lang = comp.lang
    heads = [("col_scenario", "text"), ("col_description", "text"), ("col_outcome", "text"), ("col_duration", "num"),
             ("col_rule", "text"), ("col_unit", "text"), ("col_envelope", "num"), ("col_allocated", "num"),
             ("col_unallocated", "num"), ("col_establishments", "num"), ("col_eligible", "num"),
             ("col_induced", "num"), ("col_avoided", "num"), ("col_files", "text")]
    head = "".join(_th(t(f"index.{k}", lang), lang, kind) for k, kind in heads)
    rows = []
    for s in comp.scenarios.to_dict("records"):
        name, status, output = str(s["scenario"]), str(s["status"]), str(s["output"])
        outcome = f"<td class='text'><span class='{_e(status)}'>{_e(_word('status', status, lang))}</span></td>"
        if status in ("ok", "skipped") and output:
            files = (f"<a href='{_e(output)}/report.html'>{_e(t('index.link_report', lang))}</a> · "
                     f"<a href='{_e(output)}/allocation.xlsx'>{_e(t('index.link_workbook', lang))}</a>")
        elif output:
            files = f"<a href='{_e(output)}/report.ipynb'>{_e(t('index.link_failed', lang))}</a>"
        else:
            files = ""
        if s["error"]:
            files += f"<pre>{_e(s['error'])}</pre>"
        if name in comp.problems:
            files += f"<p class='note'>{_e(t('index.figures_unavailable', lang, error=comp.problems[name]))}</p>"
        has = name in comp.names
        rule = _word("rule", s["rule"], lang) if s["rule"] else ""
        unit = _word("unit", s["unit"], lang) if s["unit"] else ""
        figures = (
            _cell(_meur(s["envelope_cents"], lang), s["envelope_cents"])
            + _cell(_meur(s["allocated_cents"], lang), s["allocated_cents"])
            + _cell(_meur(s["unallocated_cents"], lang), s["unallocated_cents"])
            + _cell(_count(s["n_establishments"], lang), s["n_establishments"])
            + _cell(_count(s["n_eligible"], lang), s["n_eligible"])
            + _cell(_meur_eur(s["induced_spend_eur"], lang), s["induced_spend_eur"])
            + _cell(_meur_eur(s["avoided_loss_eur"], lang), s["avoided_loss_eur"])
        ) if has else "<td class='num' data-v=''></td>" * 7
        rows.append(
            f"<tr data-scenario='{_e(name)}'><th scope='row' class='text'>{_e(name)}</th>"
            f"<td class='text desc'>{_e(s['description'])}</td>{outcome}"
            f"{_cell(fmt_number(float(s['duration_s']), 1, lang), s['duration_s'])}"
            f"<td class='text'>{_e(rule)}</td><td class='text'>{_e(unit)}</td>{figures}"
            f"<td class='text files'>{files}</td></tr>")
    return (f"{_filter('cb-scenarios', lang)}<table id='cb-scenarios' class='cb-table'><thead><tr>{head}</tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>")


def _indicator_text(column: str, value: Any, lang: str) -> str:
    if column == "grant_cents":
        return _meur(value, lang)
    if column == "avoided_loss_eur":
        return _meur_eur(value, lang)
    return _count(value, lang)


def _breakdown_table(comp: BatchComparison, by: str) -> str:
    lang = comp.lang
    table_id = f"cb-by-{by}"
    if not comp.names:
        return f"<p>{_e(t('index.no_report', lang))}</p>"
    codes, index = comp.cells(by)
    options = "".join(f"<option value='{name}'>{_e(t(f'index.indicator.{name}', lang))}</option>"
                      for name in INDICATORS)
    select = (f"<label class='cb-indicator'>{_e(t('index.indicator_label', lang))} <select data-table='{table_id}'>"
              f"{options}</select></label>")
    head = (_th(t("index.col_code", lang), lang, "text") + _th(t("index.col_group", lang), lang, "text")
            + _th(t("index.col_establishments", lang), lang)
            + "".join(_th(name, lang) for name in comp.names))

    def line(code: str, tag: str) -> str:
        first = next(index[(name, code)] for name in comp.names if (name, code) in index)
        cells = []
        for name in comp.names:
            rec = index.get((name, code))
            if rec is None:
                cells.append("<td class='num' data-v=''>–</td>")
                continue
            attrs = "".join(
                f" data-{ind}-v='{_e(_sortable(rec[col]))}' data-{ind}-t='{_e(_indicator_text(col, rec[col], lang))}'"
                for ind, col in INDICATORS.items())
            cls = "num nd" if rec["suppressed"] else "num"
            cells.append(f"<td class='{cls}' data-v='{_e(_sortable(rec['grant_cents']))}'{attrs}>"
                         f"{_e(_meur(rec['grant_cents'], lang))}</td>")
        code_text = "" if code == _TOTAL else code
        return (f"<tr data-key='{_e(code)}'><{tag} class='text'>{_e(code_text)}</{tag}>"
                f"<td class='text'>{_e(first['label'])}</td>"
                f"{_cell(_count(first['n_establishments'], lang), first['n_establishments'])}{''.join(cells)}</tr>")

    body = "".join(line(code, "td") for code in codes if code != _TOTAL)
    total = line(_TOTAL, "td") if _TOTAL in codes else ""
    return (f"<div class='cb-tools'>{_filter(table_id, lang)} {select}</div>"
            f"<table id='{table_id}' class='cb-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            f"<tfoot>{total}</tfoot></table>")


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 1280px; margin: 2em auto;
       padding: 0 1em; color: #1a1a1a; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 13px; margin: 0.5em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; vertical-align: top; }
thead th { background: #f3f4f6; position: sticky; top: 0; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
tfoot tr { font-weight: bold; } td.nd { color: #777; }
button.cb-sort { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer;
                 text-align: inherit; color: inherit; }
th[aria-sort='ascending'] button.cb-sort::after { content: " \\25B2"; }
th[aria-sort='descending'] button.cb-sort::after { content: " \\25BC"; }
.cb-tools { display: flex; gap: 2em; align-items: center; flex-wrap: wrap; }
.cb-filter input { font: inherit; padding: 2px 6px; min-width: 16em; }
.downloads a { font-weight: 600; margin-right: 1em; }
td.desc { max-width: 28em; font-size: 12px; color: #333; }
.ok { color: #116329; } .failed { color: #b00020; font-weight: bold; }
.skipped { color: #555; } .interrupted { color: #9a6700; } .note { color: #555; font-size: 12px; }
pre { white-space: pre-wrap; font-size: 11px; max-width: 50em; margin: 0; }
"""

_JS = """
(function () {
  "use strict";
  var WORDS = JSON.parse(document.getElementById("cb-words").textContent);
  function value(cell) {
    var v = cell ? cell.getAttribute("data-v") : null;
    if (v === null) { return {num: false, text: cell ? cell.textContent.trim() : ""}; }
    if (v === "") { return {num: true, missing: true}; }
    return {num: true, n: parseFloat(v)};
  }
  function compare(a, b, dir) {
    if (a.num && b.num) {
      if (a.missing || b.missing) { return a.missing === b.missing ? 0 : (a.missing ? 1 : -1); }
      return dir * (a.n - b.n);
    }
    return dir * String(a.text || "").localeCompare(String(b.text || ""), document.documentElement.lang,
                                                    {numeric: true, sensitivity: "base"});
  }
  function sortBy(table, index, th, dir) {
    table.querySelectorAll("thead th").forEach(function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) { return compare(value(r1.cells[index]), value(r2.cells[index]), dir); });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  function fold(text) {
    return text.normalize("NFD").replace(/[\\u0300-\\u036f]/g, "").toLowerCase();
  }
  document.querySelectorAll("table.cb-table").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th, index) {
      th.querySelector("button").addEventListener("click", function () {
        sortBy(table, index, th, th.getAttribute("aria-sort") === "ascending" ? -1 : 1);
      });
    });
  });
  document.querySelectorAll(".cb-filter input").forEach(function (input) {
    input.addEventListener("input", function () {
      var table = document.getElementById(input.getAttribute("data-table"));
      var words = fold(input.value).split(/\\s+/).filter(Boolean);
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var text = fold(row.textContent);
        row.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
      });
    });
  });
  document.querySelectorAll(".cb-indicator select").forEach(function (select) {
    select.addEventListener("change", function () {
      var table = document.getElementById(select.getAttribute("data-table"));
      var name = select.value;
      table.querySelectorAll("td[data-" + name + "-v]").forEach(function (cell) {
        cell.setAttribute("data-v", cell.getAttribute("data-" + name + "-v"));
        cell.textContent = cell.getAttribute("data-" + name + "-t");
      });
      var caption = document.getElementById(select.getAttribute("data-table") + "-unit");
      if (caption) { caption.textContent = WORDS.indicator[name]; }
      var heads = Array.prototype.slice.call(table.querySelectorAll("thead th"));
      heads.forEach(function (th, index) {  // keep the order the reader chose, on the new figures
        var sorted = th.getAttribute("aria-sort");
        if (sorted === "ascending" || sorted === "descending") {
          sortBy(table, index, th, sorted === "ascending" ? 1 : -1);
        }
      });
    });
  });
})();
"""


def _json_for_script(value: Any) -> str:
    """JSON safe inside ``<script>``: no ``<`` can close the element."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True).replace("<", "\\u003c")


def render_index(
    out: str | os.PathLike[str], outcomes: Sequence[Any], min_cell: int = config.MIN_CELL_SIZE,
    data: str | os.PathLike[str] | None = None, *, lang: str = "fr", comparison: BatchComparison | None = None,
) -> str:
    """The HTML of ``DIR/index.html`` (see :func:`write_index`)."""
    lang = check_lang(lang)
    comp = comparison or build_comparison(out, outcomes, lang=lang, min_cell=min_cell)
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("ok", "failed", "skipped", "interrupted")}
    nd = t("index.nd", lang)
    title = t("index.title", lang, n=len(outcomes))
    units_note = any(u not in ("", "establishment") for u in comp.scenarios["unit"].fillna(""))
    downloads = (
        f"<p class='downloads'>{_e(t('index.downloads', lang))} "
        f"<a href='{COMPARISON_CSV}' download>{_e(t('index.download_csv', lang))}</a>"
        f"<a href='{COMPARISON_XLSX}' download>{_e(t('index.download_xlsx', lang))}</a></p>"
        if comp.names else "")
    sections = "".join(
        f"<h2 id='by-{by}'>{_e(t(f'index.by_{by}', lang))} <span class='note' id='cb-by-{by}-unit'>"
        f"{_e(t('index.indicator.grant', lang))}</span></h2>{_breakdown_table(comp, by)}"
        for by in BREAKDOWNS)
    words = {"indicator": {name: t(f"index.indicator.{name}", lang) for name in INDICATORS}}
    table_note = f" {_e(t('index.table', lang, path=str(data)))}" if data else ""
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{_e(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body>
<h1>{_e(title)}</h1>
<p>{_e(t('index.counts', lang, **counts))}{table_note}</p>
<p class="note">{_e(t('index.note', lang, k=min_cell, nd=nd))}{' ' + _e(t('index.note_units', lang, k=min_cell)) if units_note else ''}
{_e(t('index.internal', lang))}</p>
{downloads}
<h2 id="scenarios">{_e(t('index.section_scenarios', lang))}</h2>
{_scenarios_table(comp)}
{sections}
<script type="application/json" id="cb-words">{_json_for_script(words)}</script>
<script>{_JS}</script>
</body></html>
"""


def write_index(
    out: str | os.PathLike[str], outcomes: Sequence[Any], min_cell: int = config.MIN_CELL_SIZE,
    data: str | os.PathLike[str] | None = None, *, lang: str = "fr",
    reports: Mapping[str, ScenarioReport] | None = None, table: pd.DataFrame | None = None,
) -> Path:
    """Write ``DIR/index.html``, ``DIR/comparison.csv`` and ``DIR/comparison.xlsx``, each atomically.

    Parameters
    ----------
    out : path
        The batch folder ``DIR``.
    outcomes : sequence of :class:`cyberbudget.reports.batch.Outcome`
        In the order to list them.
    min_cell : int
        Smallest number of establishments (and units) a published cell may be built from.
    data : path, optional
        The establishment table, named on the page.
    lang : {"fr", "en"}
        Language of every word of the page and the downloads (French by default).
    reports : mapping, optional
        Reports already read (:func:`cyberbudget.reports.store.read_report` with the risk figures), by name.
    table : DataFrame, optional
        The establishment table (risk model inputs ``allocation.csv`` does not carry).

    Returns
    -------
    Path
        ``DIR/index.html``. The downloads are written only when some scenario has a report (and removed
        otherwise, so that no stale comparison is linked).
    """
    out = Path(out)
    comp = build_comparison(out, outcomes, reports=reports, table=table, lang=lang, min_cell=min_cell)
    if comp.names:
        write_comparison_files(out, comp)
    else:
        for name in (COMPARISON_CSV, COMPARISON_XLSX):
            (out / name).unlink(missing_ok=True)
    return write_text_atomic(out / INDEX_NAME, render_index(out, outcomes, min_cell, data, lang=lang,
                                                            comparison=comp))
