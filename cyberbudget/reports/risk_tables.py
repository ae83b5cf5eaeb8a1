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
from cyberbudget.reports.i18n import label, t
from cyberbudget.risk.model import RiskResult, group_summary

__all__ = [
    "KEY_FIGURES", "key_figures", "key_figures_html", "provenance_html", "published_breakdown", "rule_comparison_html",
]

#: Decimals of a headline figure, by unit.
_UNIT_DECIMALS: dict[str, int] = {"eur_per_year": 0, "incidents_per_year": 1, "attacks_per_year": 1, "eur_per_eur": 3}


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


#: The headline risk figures: (key of ``RiskResult.summary`` or of its parameters, catalogue key, unit).
KEY_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("incidents_before", "risk.kf.incidents_before", "incidents_per_year"),
    ("incidents_after", "risk.kf.incidents_after", "incidents_per_year"),
    ("ransomware_before", "risk.kf.ransomware_before", "attacks_per_year"),
    ("expected_loss_before_eur", "risk.kf.loss_before", "eur_per_year"),
    ("expected_loss_after_eur", "risk.kf.loss_after", "eur_per_year"),
    ("avoided_grant_eur", "risk.kf.avoided_grant", "eur_per_year"),
    ("avoided_uptake_eur", "risk.kf.avoided_uptake", "eur_per_year"),
    ("avoided_awareness_eur", "risk.kf.avoided_awareness", "eur_per_year"),
    ("avoided_per_euro", "risk.kf.avoided_per_euro", "eur_per_eur"),
    ("kind", "risk.kf.kind", ""),
    ("awareness_coverage", "risk.kf.awareness", "share_of_staff"),
)


def key_figures(result: RiskResult, lang: str = "fr") -> pd.DataFrame:
    """The headline risk figures of an allocation as a small table (``figure, value, unit``), for reports: the
    figures and units named in ``lang``, the values as numbers (the breach function's class as text)."""
    s = result.summary
    p = result.parameters
    rows = []
    for name, key, unit in KEY_FIGURES:
        value = getattr(p, name) if name in ("kind", "awareness_coverage") else s[name]
        rows.append((t(key, lang), value, t(f"risk.unit.{unit}", lang) if unit else "", unit))
    return pd.DataFrame(rows, columns=["figure", "value", "unit", "unit_code"]).astype({"value": object})


def key_figures_html(result: RiskResult, lang: str = "fr") -> str:
    """:func:`key_figures` as an HTML table, each value written for its unit."""
    frame = key_figures(result, lang)

    def text(value: object, unit: str) -> str:
        if isinstance(value, str):
            return value
        if unit == "share_of_staff":
            return tables.percent(1, lang)(value)
        return tables.number(_UNIT_DECIMALS.get(unit, 2), lang)(value)

    frame["value"] = [text(v, u) for v, u in zip(frame["value"], frame["unit_code"], strict=True)]
    return tables.html_table(frame.drop(columns=["unit_code"]), lang=lang)


def rule_comparison_html(comparison: pd.DataFrame, lang: str = "fr") -> str:
    """National totals of the scenario's rule and the ``optimal`` rule
    (:func:`cyberbudget.risk.optimal.compare_rules`) as an HTML table."""
    comparison = comparison.assign(rule=[label("rule", r, lang) for r in comparison["rule"]])
    formats = {c: tables.number(0, lang) for c in comparison.columns if c.endswith("_eur")}
    formats["avoided_per_euro"] = tables.number(3, lang)
    return tables.html_table(comparison, formats, lang=lang)


def provenance_html(lang: str = "fr") -> str:
    """Every figure of the risk model (``data/reference/risk.yaml``) with its source, as an HTML table."""
    from cyberbudget.risk.model import provenance_frame

    frame = provenance_frame()
    return f"<div class='cb-quoted'>{tables.html_table(frame, {'value': str, 'year': str}, lang=lang)}</div>"
