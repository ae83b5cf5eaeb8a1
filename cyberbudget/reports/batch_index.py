"""``DIR/index.html`` of a batch: every scenario's outcome, key figures, and grants by region and status.

The index is a published output (DESIGN.md, "Confidentiality"): whatever each scenario's ``disclosure``, it
shows only scenario-level aggregates built by :mod:`cyberbudget.reports.disclosure` from each report's
``allocation.csv`` — per-group cells built from fewer than ``config.MIN_CELL_SIZE`` establishments are
suppressed, with secondary suppression so that no total reveals them, and national grant totals are hidden
when fewer than that many establishments receive a grant. No establishment appears.

Every word is in the batch's language (``lang``, French by default; catalogue keys ``index.*``:
:func:`index_words` gives them all at once), and the page opens with what the data is (the table and its nature,
the production date and version: :func:`batch_provenance`, :mod:`cyberbudget.reports.provenance_line`).

The page is self-contained: inline CSS, no script, no font, image or stylesheet fetched from anywhere.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget import config
from cyberbudget.formatting import fmt_number
from cyberbudget.reports import disclosure
from cyberbudget.reports.folders import write_text_atomic
from cyberbudget.reports.i18n import catalogue, label, t
from cyberbudget.reports.provenance_line import DataProvenance, banner_html

__all__ = ["INDEX_NAME", "NOT_DISCLOSED", "ScenarioFigures", "batch_provenance", "index_words", "render_index",
           "scenario_figures", "write_index"]

INDEX_NAME: str = "index.html"
NOT_DISCLOSED: str = "n.d."
_NEEDED = ("finess", "eligible", "grant_cents", "region", "status")


@dataclass
class ScenarioFigures:
    """Aggregated, suppression-checked figures of one finished report."""

    name: str
    key: dict[str, Any]
    by_region: pd.DataFrame
    by_status: pd.DataFrame


def _read_allocation(folder: Path) -> pd.DataFrame:
    frame = pd.read_csv(
        folder / "allocation.csv", dtype=str, keep_default_na=False, encoding="utf-8",
        usecols=lambda c: c in _NEEDED or c in ("it_budget_eur", "cyber_spend_eur", "beds"),
    )
    frame["eligible"] = frame["eligible"].eq("true")
    frame["grant_cents"] = frame["grant_cents"].astype("int64")
    for col in ("it_budget_eur", "cyber_spend_eur"):
        if col in frame:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").fillna(0.0)
    if "beds" in frame:
        frame["beds"] = pd.to_numeric(frame["beds"], errors="coerce").fillna(0).astype("int64")
    return frame


def scenario_figures(folder: str | os.PathLike[str], min_cell: int = config.MIN_CELL_SIZE) -> ScenarioFigures:
    """Key figures and grants by region and status of the report in ``folder``, suppressed for publication.

    Parameters
    ----------
    folder : path
        A report folder written by ``cyberbudget run`` (``allocation.csv``, ``summary.json``).
    min_cell : int
        Smallest number of establishments a published cell may be built from.

    Returns
    -------
    ScenarioFigures
        ``key``: ``envelope_cents``, ``allocated_cents``, ``unallocated_cents``, ``n_establishments``,
        ``n_eligible`` (None when suppressed).
    """
    folder = Path(folder)
    table = _read_allocation(folder)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    grant = table["grant_cents"].to_numpy(np.int64)
    n_el = int(table["eligible"].sum())
    n_rec = int((grant > 0).sum())
    envelope = int(summary.get("envelope_cents", 0))
    hide_money = 0 < n_rec < min_cell
    key = {
        "envelope_cents": envelope,
        "allocated_cents": None if hide_money else int(grant.sum()),
        "unallocated_cents": None if hide_money else envelope - int(grant.sum()),
        "n_establishments": len(table),
        "n_eligible": None if 0 < n_el < min_cell else n_el,
    }
    by_region = disclosure.breakdown(table, "region", min_cell).to_frame()
    by_status = disclosure.breakdown(table, "status", min_cell).to_frame()
    return ScenarioFigures(folder.name, key, by_region, by_status)


def index_words(lang: str = "fr") -> dict[str, str]:
    """Every word of the index page in ``lang``: the catalogue's ``index.*`` messages, by the rest of their key
    (``{"title": "cyberbudget — lot de {n} scénarios", ...}``; fields left to fill with ``str.format``)."""
    return {k.removeprefix("index."): v for k, v in catalogue(lang).items() if k.startswith("index.")}


def batch_provenance(out: str | os.PathLike[str], outcomes: Sequence[Any],
                     data: str | os.PathLike[str] | None = None) -> DataProvenance | None:
    """What the batch's reports are built from: the ``data`` entry of the first finished report's manifest, else
    the table ``data`` described now (None when neither can be read). The scenario is named ``batch``'s."""
    import datetime as dt

    names = ", ".join(str(o.name) for o in outcomes)
    for o in outcomes:
        if o.status in ("ok", "skipped") and o.output:
            try:
                entry = json.loads((Path(out) / o.output / "manifest.json").read_text(encoding="utf-8"))["data"]
                prov = DataProvenance.from_dict(entry)
            except (OSError, ValueError, KeyError, TypeError):
                continue
            return DataProvenance(prov.nature, prov.table, names, dt.date.today(), prov.version,
                                  prov.n_establishments, prov.n_imputed)
    if data is None:
        return None
    from cyberbudget.data.registry import load_establishments
    from cyberbudget.errors import CyberbudgetError
    from cyberbudget.reports.provenance_line import describe

    try:
        return describe(load_establishments(data), data, names)
    except (CyberbudgetError, OSError):
        return None


def _missing(x: Any) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x))


def _meur(cents: Any, lang: str = "fr") -> str:
    return NOT_DISCLOSED if _missing(cents) else fmt_number(int(cents) / 100 / 1e6, 2, lang)


def _int(x: Any, lang: str = "fr") -> str:
    return NOT_DISCLOSED if _missing(x) else fmt_number(int(x), 0, lang)


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _comparison(figures: Sequence[ScenarioFigures], by: str, lang: str = "fr") -> str:
    """One row per group, one column per scenario: grants in M€ (n.d. when suppressed)."""
    if not figures:
        return f"<p>{_e(t('index.nothing_to_compare', lang))}</p>"
    tables = {f.name: (f.by_region if by == "region" else f.by_status).set_index(by) for f in figures}
    groups: list[str] = []
    for frame in tables.values():
        groups += [g for g in frame.index.astype(str) if g not in groups and g != "Total"]
    order = list(config.REGIONS) if by == "region" else list(config.STATUSES)
    groups = [g for g in order if g in groups] + sorted(g for g in groups if g not in order) + ["Total"]
    head = "".join(f"<th>{_e(name)}</th>" for name in tables)
    rows = []
    for g in groups:
        name = t("label.total", lang) if g == "Total" else label(by, g, lang)
        n = next((f.loc[g, "n_establishments"] for f in tables.values() if g in f.index), None)
        cells = "".join(
            f"<td class='num'>{_meur(f.loc[g, 'grant_cents'], lang) if g in f.index else '–'}</td>"
            for f in tables.values()
        )
        cls = " class='total'" if g == "Total" else ""
        rows.append(f"<tr{cls}><th>{_e(name)}</th><td class='num'>{_int(n, lang)}</td>{cells}</tr>")
    return (f"<table><thead><tr><th>{_e(t(f'col.{by}', lang))}</th><th>{_e(t('col.n_establishments', lang))}</th>"
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 1200px; margin: 2em auto;
       padding: 0 1em; color: #1a1a1a; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 13px; margin: 0.5em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; vertical-align: top; }
thead th { background: #f3f4f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total { font-weight: bold; } .ok { color: #116329; } .failed { color: #b00020; font-weight: bold; }
.skipped { color: #555; } .interrupted { color: #9a6700; } .note { color: #555; font-size: 12px; }
pre { white-space: pre-wrap; font-size: 11px; max-width: 60em; margin: 0; }
"""


def render_index(
    out: str | os.PathLike[str], outcomes: Sequence[Any], min_cell: int = config.MIN_CELL_SIZE,
    data: str | os.PathLike[str] | None = None, lang: str = "fr",
) -> str:
    """The HTML of ``DIR/index.html`` for these outcomes, in ``lang`` (see :func:`write_index`)."""
    out = Path(out)
    w = index_words(lang)
    figures: list[ScenarioFigures] = []
    problems: dict[str, str] = {}
    for o in outcomes:
        if o.status in ("ok", "skipped") and o.output:
            try:
                figures.append(scenario_figures(out / o.output, min_cell))
            except (OSError, ValueError, KeyError) as exc:
                problems[o.name] = w["figures_unavailable"].format(error=exc)
    by_name = {f.name: f for f in figures}
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("ok", "failed", "skipped", "interrupted")}

    rows = []
    for o in outcomes:
        status = f"<span class='{_e(o.status)}'>{_e(w.get('status.' + o.status, o.status))}</span>"
        if o.status in ("ok", "skipped") and o.output:
            link = (f"<a href='{_e(o.output)}/report.html'>{_e(w['link.report'])}</a> · "
                    f"<a href='{_e(o.output)}/allocation.xlsx'>{_e(w['link.workbook'])}</a>")
        elif o.output:
            link = f"<a href='{_e(o.output)}/report.ipynb'>{_e(w['link.failed'])}</a>"
        else:
            link = ""
        err = ""
        if o.error:
            where = w["cell"].format(n=o.error["cell_index"]) if o.error.get("cell_index") is not None else ""
            err = f"<pre>{_e(where + str(o.error.get('message', ''))[:1500])}</pre>"
        f = by_name.get(o.name)
        k = f.key if f else {}
        money = ("".join(f"<td class='num'>{_meur(k.get(c), lang)}</td>"
                         for c in ("envelope_cents", "allocated_cents", "unallocated_cents"))
                 + f"<td class='num'>{_int(k.get('n_establishments'), lang)}</td>"
                 f"<td class='num'>{_int(k.get('n_eligible'), lang)}</td>"
                 if f else "<td colspan='5' class='note'>" + _e(problems.get(o.name, "")) + "</td>")
        rows.append(f"<tr><th>{_e(o.name)}</th><td>{status}</td><td class='num'>{fmt_number(o.duration_s, 1, lang)}</td>"
                    f"{money}<td>{link}{err}</td></tr>")
    prov = batch_provenance(out, outcomes, data)
    banner = banner_html(prov, lang) if prov is not None else ""
    title = w["title"].format(n=len(outcomes))
    table = w["table"].format(table=f"<code>{_e(Path(data).name)}</code>") if data else ""
    heads = "".join(f"<th>{_e(w['head.' + h])}</th>" for h in ("scenario", "outcome", "time", "envelope", "allocated",
                                                             "unallocated", "establishments", "eligible", "files"))
    body = f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{_e(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body>
{banner}
<h1>{_e(title)}</h1>
<p>{_e(w['counts'].format(ok=counts['ok'], failed=counts['failed'], skipped=counts['skipped'],
                          interrupted=counts['interrupted']))} {table}</p>
<p class="note">{_e(w['note'].format(k=min_cell, nd=NOT_DISCLOSED))}</p>
<h2>{_e(w['scenarios'])}</h2>
<table><thead><tr>{heads}</tr></thead>
<tbody>{''.join(rows)}</tbody></table>
<h2>{_e(w['by_region'])}</h2>
{_comparison(figures, "region", lang)}
<h2>{_e(w['by_status'])}</h2>
{_comparison(figures, "status", lang)}
</body></html>
"""
    return body


def write_index(
    out: str | os.PathLike[str], outcomes: Sequence[Any], min_cell: int = config.MIN_CELL_SIZE,
    data: str | os.PathLike[str] | None = None, lang: str = "fr",
) -> Path:
    """Write ``DIR/index.html`` atomically.

    Parameters
    ----------
    out : path
        The batch folder ``DIR``.
    outcomes : sequence of :class:`cyberbudget.reports.batch.Outcome`
        In the order to list them.
    min_cell : int
        Smallest number of establishments a published cell may be built from.
    data : path, optional
        The establishment table, named on the page.
    lang : {"fr", "en"}
        Language of the page.

    Returns
    -------
    Path
    """
    out = Path(out)
    return write_text_atomic(out / INDEX_NAME, render_index(out, outcomes, min_cell, data, lang))
