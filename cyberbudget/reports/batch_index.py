"""``DIR/index.html`` of a batch: every scenario's outcome, key figures, and grants by region and status.

The index is a published output (DESIGN.md, "Confidentiality"): whatever each scenario's ``disclosure``, it
shows only scenario-level aggregates built by :mod:`cyberbudget.reports.disclosure` from each report's
``allocation.csv`` — per-group cells built from fewer than ``config.MIN_CELL_SIZE`` establishments are
suppressed, with secondary suppression so that no total reveals them, and national grant totals are hidden
when fewer than that many establishments receive a grant. No establishment appears.

The page is self-contained: inline CSS, no script, no font, image or stylesheet fetched from anywhere. It carries
data, never code: every string from an input (scenario and file names, error messages, the table's path) is
escaped (:mod:`cyberbudget.reports.escaping`), links are relative (:func:`~cyberbudget.reports.escaping.href`),
and its Content-Security-Policy lets no script run and nothing be fetched, whatever ends up in it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget import config
from cyberbudget.reports import disclosure
from cyberbudget.reports.escaping import csp_meta, href, html_text
from cyberbudget.reports.folders import write_text_atomic

INDEX_NAME: str = "index.html"
NOT_DISCLOSED: str = "n.d."
STATUS_LABELS: dict[str, str] = {
    "public": "Public", "private_nonprofit": "Private non-profit", "private_forprofit": "Private for-profit",
}
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


def _meur(cents: Any) -> str:
    if cents is None or cents is pd.NA or (isinstance(cents, float) and np.isnan(cents)):
        return NOT_DISCLOSED
    return f"{int(cents) / 100 / 1e6:,.2f}".replace(",", "\u202f")


def _int(x: Any) -> str:
    if x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)):
        return NOT_DISCLOSED
    return f"{int(x):,}".replace(",", "\u202f")


def _e(x: Any) -> str:
    return html_text(x)


def _comparison(figures: Sequence[ScenarioFigures], by: str, labels: dict[str, str]) -> str:
    """One row per group, one column per scenario: grants in M€ (n.d. when suppressed)."""
    if not figures:
        return "<p>No finished report to compare.</p>"
    tables = {f.name: (f.by_region if by == "region" else f.by_status).set_index(by) for f in figures}
    groups: list[str] = []
    for t in tables.values():
        groups += [g for g in t.index.astype(str) if g not in groups and g != "Total"]
    order = list(config.REGIONS) if by == "region" else list(config.STATUSES)
    groups = [g for g in order if g in groups] + sorted(g for g in groups if g not in order) + ["Total"]
    head = "".join(f"<th>{_e(name)}</th>" for name in tables)
    rows = []
    for g in groups:
        label = "Total" if g == "Total" else labels.get(g, g)
        n = next((t.loc[g, "n_establishments"] for t in tables.values() if g in t.index), None)
        cells = "".join(
            f"<td class='num'>{_meur(t.loc[g, 'grant_cents']) if g in t.index else '–'}</td>" for t in tables.values()
        )
        cls = " class='total'" if g == "Total" else ""
        rows.append(f"<tr{cls}><th>{_e(label)}</th><td class='num'>{_int(n)}</td>{cells}</tr>")
    return (f"<table><thead><tr><th>{_e(by.capitalize())}</th><th>Establishments</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


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
    data: str | os.PathLike[str] | None = None,
) -> str:
    """The HTML of ``DIR/index.html`` for these outcomes (see :func:`write_index`)."""
    out = Path(out)
    figures: list[ScenarioFigures] = []
    problems: dict[str, str] = {}
    for o in outcomes:
        if o.status in ("ok", "skipped") and o.output:
            try:
                figures.append(scenario_figures(out / o.output, min_cell))
            except (OSError, ValueError, KeyError) as exc:
                problems[o.name] = f"figures unavailable: {exc}"
    by_name = {f.name: f for f in figures}
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("ok", "failed", "skipped", "interrupted")}

    rows = []
    for o in outcomes:
        status = f"<span class='{_e(o.status)}'>{_e(o.status)}</span>"
        if o.status in ("ok", "skipped") and o.output:
            link = (f"<a href='{href(o.output + '/report.html')}'>report</a> · "
                    f"<a href='{href(o.output + '/allocation.xlsx')}'>workbook</a>")
        elif o.output:
            link = f"<a href='{href(o.output + '/report.ipynb')}'>failed notebook</a>"
        else:
            link = ""
        err = ""
        if o.error:
            where = f"cell {o.error['cell_index']}: " if o.error.get("cell_index") is not None else ""
            err = f"<pre>{_e(where + str(o.error.get('message', ''))[:1500])}</pre>"
        f = by_name.get(o.name)
        k = f.key if f else {}
        money = (f"<td class='num'>{_meur(k.get('envelope_cents'))}</td><td class='num'>{_meur(k.get('allocated_cents'))}"
                 f"</td><td class='num'>{_meur(k.get('unallocated_cents'))}</td>"
                 f"<td class='num'>{_int(k.get('n_establishments'))}</td><td class='num'>{_int(k.get('n_eligible'))}</td>"
                 if f else "<td colspan='5' class='note'>" + _e(problems.get(o.name, "")) + "</td>")
        rows.append(f"<tr><th>{_e(o.name)}</th><td>{status}</td><td class='num'>{o.duration_s:.1f}</td>{money}"
                    f"<td>{link}{err}</td></tr>")
    region_names = dict(config.REGION_NAMES)
    body = f"""<!DOCTYPE html>
<html lang="en"><head>{csp_meta()}<meta charset="utf-8"><title>cyberbudget — batch of {len(outcomes)} scenarios</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body>
<h1>cyberbudget — batch of {len(outcomes)} scenarios</h1>
<p>{counts['ok']} ok · {counts['failed']} failed · {counts['skipped']} skipped (already up to date) ·
{counts['interrupted']} interrupted.{f" Establishment table: <code>{_e(data)}</code>." if data else ""}</p>
<p class="note">Published aggregates only: a cell built from fewer than {min_cell} establishments is shown as
{NOT_DISCLOSED} (not disclosed), and further cells are hidden where a total would reveal it. Amounts in M€.
Establishment-level figures are in each report's internal <code>allocation.csv</code>.</p>
<h2>Scenarios</h2>
<table><thead><tr><th>Scenario</th><th>Outcome</th><th>Time (s)</th><th>Envelope</th><th>Allocated</th>
<th>Unallocated</th><th>Establishments</th><th>Eligible</th><th>Files</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
<h2>Grants by region (M€)</h2>
{_comparison(figures, "region", region_names)}
<h2>Grants by status (M€)</h2>
{_comparison(figures, "status", STATUS_LABELS)}
</body></html>
"""
    return body


def write_index(
    out: str | os.PathLike[str], outcomes: Sequence[Any], min_cell: int = config.MIN_CELL_SIZE,
    data: str | os.PathLike[str] | None = None,
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

    Returns
    -------
    Path
    """
    out = Path(out)
    return write_text_atomic(out / INDEX_NAME, render_index(out, outcomes, min_cell, data))
