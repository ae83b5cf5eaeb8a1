"""The published tables of an allocation report: aggregated and suppression-checked once, used everywhere.

:func:`publish` builds, from a :class:`~cyberbudget.reports.computed.Computed`, every table that
``report.html`` and ``allocation.xlsx`` show (DESIGN.md, "Confidentiality"): national key figures, breakdowns
by region, status, category and GHT, the status × region flow, the cyber-share histogram, the Lorenz curve of
grants per bed, the year totals, the audit coverage, and — only under ``disclosure: establishment`` — the
establishment table; and the provenance every published output opens with (the data's nature, see
:mod:`cyberbudget.reports.provenance_line`). The suppression rules themselves live in
:mod:`cyberbudget.reports.disclosure`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cyberbudget import config
from cyberbudget.reports import disclosure
from cyberbudget.reports.computed import Computed
from cyberbudget.reports.provenance_line import DataProvenance, provenance_of

if TYPE_CHECKING:
    from cyberbudget.policy import AllocationResult

__all__ = ["BREAKDOWNS", "Published", "by_year_frame", "key_figures", "publish"]

#: Groupings of the published breakdowns (``ght`` leaves out establishments outside any GHT).
BREAKDOWNS: tuple[str, ...] = ("region", "status", "category", "ght")


@dataclass
class Published:
    """The aggregated, suppression-checked tables every published output is built from.

    Attributes
    ----------
    name : str
        The scenario's name.
    marking : str or None
        ``"Diffusion restreinte"`` under ``disclosure: establishment``, else None.
    key : dict
        :func:`key_figures` (a suppressed figure is None).
    breakdowns : dict of str to Breakdown
        :func:`cyberbudget.reports.disclosure.breakdown` by each of :data:`BREAKDOWNS`.
    flow : DataFrame
        Grants by status × region (:func:`cyberbudget.reports.disclosure.crosstab`).
    share_bins : DataFrame
        The cyber-share histogram (:func:`cyberbudget.reports.disclosure.share_histogram`).
    share_counts : dict
        ``n`` establishments with an IT budget, ``n_below`` the minimum share (None when not disclosed).
    lorenz : DataFrame
        Lorenz curve of the grant per bed, in bins of at least ``min_cell`` establishments.
    gini : float or None
        Gini coefficient of the grant per bed (None with fewer than ``min_cell`` recipients with beds).
    years : DataFrame
        Grants paid each year (:func:`cyberbudget.reports.disclosure.year_totals`).
    establishments : DataFrame or None
        The establishment table, only under ``disclosure: establishment``.
    audits : dict
        ``note`` (why there is no audit plan, else empty), ``summary`` (national figures) and the coverage
        frames ``by_region`` / ``by_status`` (``n_establishments``, ``n_audited`` suppressed by
        :func:`cyberbudget.reports.disclosure.count_table`).
    provenance : DataProvenance or None
        What the figures are built from — the table and its nature, the scenario, the production date and
        version (:mod:`cyberbudget.reports.provenance_line`); every published output states it first.
    """

    name: str
    marking: str | None
    key: dict[str, Any]
    breakdowns: dict[str, disclosure.Breakdown]
    flow: pd.DataFrame
    share_bins: pd.DataFrame
    share_counts: dict[str, int | None]
    lorenz: pd.DataFrame
    gini: float | None
    years: pd.DataFrame
    establishments: pd.DataFrame | None
    audits: dict[str, Any]
    provenance: DataProvenance | None = None


def by_year_frame(result: AllocationResult) -> pd.DataFrame:
    """Grant cents per establishment (index ``finess``) and year (columns named by the year as text)."""
    frame = result.by_year.copy()
    frame.columns = [str(c) for c in frame.columns]
    return frame


def key_figures(computed: Computed, min_cell: int = config.MIN_CELL_SIZE) -> dict[str, Any]:
    """National key figures with suppression (a suppressed figure is None).

    ``allocated_cents`` and ``unallocated_cents`` are suppressed together when fewer than ``min_cell``
    establishments receive a grant; ``n_eligible`` and ``eligible_share`` when fewer than ``min_cell`` (but
    some) qualify; ``induced_spend_eur`` when fewer than ``min_cell`` (but some) raise their spend.
    """
    t = computed.result.table
    grant = np.asarray(t["grant_cents"], dtype=np.int64)
    n = len(t)
    n_el = int(np.asarray(t["eligible"], dtype=bool).sum())
    n_rec = int((grant > 0).sum())
    env = int(computed.result.summary["envelope_cents"])
    allocated = int(grant.sum())
    induced = np.asarray(t["induced_spend_eur"], dtype=float) if "induced_spend_eur" in t else np.zeros(n)
    n_induced = int((induced > 0).sum())
    hide_money = 0 < n_rec < min_cell
    hide_el = 0 < n_el < min_cell
    hide_induced = 0 < n_induced < min_cell
    return {
        "envelope_cents": env,
        "allocated_cents": None if hide_money else allocated,
        "unallocated_cents": None if hide_money else env - allocated,
        "n_establishments": n,
        "n_eligible": None if hide_el else n_el,
        "eligible_share": None if hide_el or n == 0 else n_el / n,
        "induced_spend_eur": None if hide_induced else float(induced.sum()),
    }


def _audits_tables(computed: Computed, min_cell: int) -> dict[str, Any]:
    """The audit plan's national summary and its coverage by region and status (audit counts suppressed)."""
    plan = computed.audits
    if plan is None:
        return {"note": computed.audits_note}
    summary = dict(plan.summary)
    out: dict[str, Any] = {"note": "", "summary": summary}
    for by in ("region", "status"):
        groups = summary.get(f"by_{by}") or {}
        counts = pd.DataFrame(
            [{by: key, "n_establishments": int(v["n_establishments"]), "n_audited": int(v["n_audited"])}
             for key, v in groups.items()],
            columns=[by, "n_establishments", "n_audited"],
        )
        out[f"by_{by}"] = disclosure.count_table(counts, "n_audited", min_cell)
    return out


def _share_counts(t: pd.DataFrame, min_share: float, min_cell: int) -> dict[str, int | None]:
    """Establishments with an IT budget, and those below ``min_share`` (None when 1–4: not disclosed)."""
    it = np.asarray(t["it_budget_eur"], dtype=float)
    cyber = np.asarray(t["cyber_spend_eur"], dtype=float)
    ok = it > 0
    n_below = int((cyber[ok] / it[ok] < min_share).sum())
    n_above = int(ok.sum()) - n_below
    hide = 0 < n_below < min_cell or 0 < n_above < min_cell
    return {"n": int(ok.sum()), "n_below": None if hide else n_below}


def publish(computed: Computed, min_cell: int = config.MIN_CELL_SIZE) -> Published:
    """Build every published table of a report (aggregated and suppressed as DESIGN.md requires)."""
    t = computed.result.table
    scenario = computed.scenario
    mark = disclosure.marking(scenario)
    breakdowns = {by: disclosure.breakdown(t, by, min_cell) for by in BREAKDOWNS if by in t.columns}
    grant = np.asarray(t["grant_cents"], dtype=np.int64)
    beds = np.asarray(t["beds"], dtype=np.int64)
    with_beds = (grant > 0) & (beds > 0)
    per_bed = grant[with_beds] / 100 / beds[with_beds]
    return Published(
        name=scenario.name,
        marking=mark,
        key=key_figures(computed, min_cell),
        breakdowns=breakdowns,
        flow=disclosure.crosstab(t, "status", "region", min_cell),
        share_bins=disclosure.share_histogram(t, min_cell=min_cell),
        share_counts=_share_counts(t, scenario.eligibility.min_share, min_cell),
        lorenz=disclosure.lorenz_points(per_bed, min_cell=min_cell),
        gini=disclosure.gini(per_bed) if len(per_bed) >= min_cell else None,
        years=disclosure.year_totals(by_year_frame(computed.result), min_cell),
        establishments=disclosure.establishment_table(t) if mark else None,
        audits=_audits_tables(computed, min_cell),
        provenance=provenance_of(computed),
    )
