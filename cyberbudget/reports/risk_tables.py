"""The risk report's tables (template ``risk_report``): the risk model's results by group with the house
disclosure rules, the headline figures, the comparison of rules and the model's provenance, ready to display.

The figures come from :mod:`cyberbudget.risk`; this module only publishes them (suppression through
:mod:`cyberbudget.reports.disclosure`, formatting through :mod:`cyberbudget.reports.tables`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cyberbudget import config
from cyberbudget.errors import InputError, Problem
from cyberbudget.reports import disclosure, tables
from cyberbudget.risk.model import RiskResult, group_summary

__all__ = ["key_figures", "key_figures_html", "provenance_html", "published_breakdown", "rule_comparison_html"]

#: Decimals of a headline figure, by unit.
_UNIT_DECIMALS: dict[str, int] = {"EUR / year": 0, "incidents / year": 1, "attacks / year": 1, "EUR per EUR": 3}


#: Columns of :func:`published_breakdown` hidden in a suppressed cell.
_PUBLISHED_SENSITIVE: tuple[str, ...] = (
    "grant_eur_per_year", "expected_loss_before_eur", "expected_loss_after_eur", "avoided_eur", "avoided_grant_eur",
    "avoided_per_euro", "incidents_before", "incidents_after",
)


def published_breakdown(result: RiskResult, by: str, min_cell: int | None = None) -> pd.DataFrame:
    """Risk figures by ``region``, ``status`` or ``category``, with the house disclosure rules applied.

    A group of fewer than ``min_cell`` establishments (default ``config.MIN_CELL_SIZE``), or with between 1 and
    ``min_cell − 1`` grant recipients, is suppressed (its figures become NaN), with secondary suppression so that
    the published total reveals no suppressed cell (:mod:`cyberbudget.reports.disclosure`).

    Returns
    -------
    DataFrame
        ``by, n_establishments, n_eligible, grant_eur_per_year, expected_loss_before_eur, expected_loss_after_eur,
        avoided_eur, avoided_grant_eur, avoided_per_euro, incidents_before, incidents_after, suppressed``
        (``""``, ``"primary"`` or ``"secondary"``), sorted by group code.
    """
    cell = config.MIN_CELL_SIZE if min_cell is None else int(min_cell)
    if by not in result.table.columns:
        raise InputError(f"published_breakdown: no column {by!r} in the risk table",
                         [Problem("by", f"expected region, status or category, found {by!r}")])
    rows = []
    for key, g in result.table.groupby(by, sort=True, observed=True):
        d = group_summary(g)
        rows.append({by: str(key), "n_establishments": d["n"], "n_eligible": d["n_eligible"],
                     "n_recipients": d["n_granted"], **{c: d[c] for c in _PUBLISHED_SENSITIVE}})
    out = pd.DataFrame(rows, columns=[by, "n_establishments", "n_eligible", "n_recipients", *_PUBLISHED_SENSITIVE])
    n = out["n_establishments"].to_numpy(np.int64)
    rec = out["n_recipients"].to_numpy(np.int64)
    prim = disclosure.primary_mask(n, out["n_eligible"].to_numpy(np.int64), rec, cell)
    mask = disclosure.secondary_mask_1d(n, rec, prim, cell)
    out[list(_PUBLISHED_SENSITIVE)] = out[list(_PUBLISHED_SENSITIVE)].astype(float)
    out.loc[mask, list(_PUBLISHED_SENSITIVE)] = np.nan
    out["suppressed"] = np.where(prim, "primary", np.where(mask, "secondary", ""))
    return out.drop(columns=["n_recipients"])


def key_figures(result: RiskResult) -> pd.DataFrame:
    """The headline risk figures of an allocation as a small table (``figure, value, unit``), for reports."""
    s = result.summary
    p = result.parameters
    rows = [
        ("expected declared incidents a year, before", s["incidents_before"], "incidents / year"),
        ("expected declared incidents a year, after", s["incidents_after"], "incidents / year"),
        ("expected ransomware attacks a year, before", s["ransomware_before"], "attacks / year"),
        ("expected annual loss, before", s["expected_loss_before_eur"], "EUR / year"),
        ("expected annual loss, after", s["expected_loss_after_eur"], "EUR / year"),
        ("avoided by the grants", s["avoided_grant_eur"], "EUR / year"),
        ("avoided by induced spend (uptake)", s["avoided_uptake_eur"], "EUR / year"),
        ("avoided by awareness training", s["avoided_awareness_eur"], "EUR / year"),
        ("avoided loss per euro of grant", s["avoided_per_euro"], "EUR per EUR"),
        ("breach function (Gordon-Loeb class)", p.kind, ""),
        ("awareness coverage", p.awareness_coverage, "share of staff"),
    ]
    return pd.DataFrame(rows, columns=["figure", "value", "unit"]).astype({"value": object})


def key_figures_html(result: RiskResult, lang: str = "en") -> str:
    """:func:`key_figures` as an HTML table, each value written for its unit."""
    frame = key_figures(result)

    def text(value: object, unit: str) -> str:
        if isinstance(value, str):
            return value
        if unit == "share of staff":
            return tables.percent(1, lang)(value)
        return tables.number(_UNIT_DECIMALS.get(unit, 2), lang)(value)

    frame["value"] = [text(v, u) for v, u in zip(frame["value"], frame["unit"], strict=True)]
    return tables.html_table(frame, lang=lang)


def rule_comparison_html(comparison: pd.DataFrame, lang: str = "en") -> str:
    """National totals of the scenario's rule and the ``optimal`` rule
    (:func:`cyberbudget.risk.optimal.compare_rules`) as an HTML table."""
    formats = {c: tables.number(0, lang) for c in comparison.columns if c.endswith("_eur")}
    formats["avoided_per_euro"] = tables.number(3, lang)
    return tables.html_table(comparison, formats, lang=lang)


def provenance_html(lang: str = "en") -> str:
    """Every figure of the risk model (``data/reference/risk.yaml``) with its source, as an HTML table."""
    from cyberbudget.risk.model import provenance_frame

    frame = provenance_frame()
    return tables.html_table(frame, {"value": str, "year": str}, lang=lang)
