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

from dataclasses import dataclass, field
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

#: Groupings of the published breakdowns (``ght`` leaves out establishments outside any GHT; ``legal_entity`` is
#: the ``finess_ej`` of each establishment, its own ``finess`` when the table has none).
BREAKDOWNS: tuple[str, ...] = ("region", "status", "category", "ght", "legal_entity")
#: The breakdowns whose groups are funding units (legal entities, GHT): complete under ``disclosure:
#: establishment`` — the establishments sheet beside them shows every grant — and shown with their names.
UNIT_BREAKDOWNS: tuple[str, ...] = ("ght", "legal_entity")


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
        :func:`cyberbudget.reports.disclosure.breakdown` by each of :data:`BREAKDOWNS` (funding units counted as
        well under ``allocation.unit`` other than ``establishment``; those of :data:`UNIT_BREAKDOWNS` without
        suppression under ``disclosure: establishment``).
    names : dict of str to dict
        ``{"ght": {code: name}, "legal_entity": {finess_ej: name}}`` (:mod:`cyberbudget.reports.recipients`).
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
    names: dict[str, dict[str, str]] = field(default_factory=dict)


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

    Funding units: ``unit`` (``allocation.unit``), ``n_units`` and ``n_units_eligible`` (None when 1 to
    ``min_cell - 1`` units qualify); under a unit other than ``establishment`` the money is also suppressed when
    1 to ``min_cell - 1`` units receive a grant, and ``n_eligible`` when ``n_units_eligible`` is.
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
    units = computed.result.summary.get("units") or {}
    kind = str(units.get("unit", "establishment"))
    n_units = int(units.get("n", n))
    n_units_el = int(units.get("n_eligible", n_el))
    n_units_rec = len(set(t.loc[grant > 0, "unit"].astype(str))) if "unit" in t.columns else n_rec
    hide_units = 0 < n_units_el < min_cell
    hide_money = 0 < n_rec < min_cell or 0 < n_units_rec < min_cell
    hide_el = 0 < n_el < min_cell or hide_units
    hide_induced = 0 < n_induced < min_cell
    return {
        "unit": kind,
        "n_units": n_units,
        "n_units_eligible": None if hide_units else n_units_el,
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


def _with_legal_entity(computed: Computed) -> pd.DataFrame:
    """The allocation table with each establishment's legal entity (column ``legal_entity``)."""
    from cyberbudget.reports.recipients import recipient_keys

    t = computed.result.table
    keys = pd.Series(recipient_keys(computed.table, "legal_entity"), index=computed.table["finess"].astype(str))
    return t.assign(legal_entity=keys.reindex(t["finess"].astype(str)).fillna(t["finess"].astype(str)).to_numpy())


def unit_names(computed: Computed) -> dict[str, dict[str, str]]:
    """The names of the GHT (``ght_name``, else ``GHT <code>``) and of the legal entities of the table."""
    from cyberbudget.reports.recipients import unit_names as names_of

    table = computed.table
    base = str(computed.scenario.allocation.base)
    ght: dict[str, str] = {}
    if "ght" in table.columns:
        codes = set(table["ght"].astype(str)) - {""}  # the GHT of the table (built once)
        ght = {k: v for k, v in names_of(table, "ght", base).items() if k in codes}
    return {"ght": ght, "legal_entity": names_of(table, "legal_entity", base)}


def publish(computed: Computed, min_cell: int = config.MIN_CELL_SIZE) -> Published:
    """Build every published table of a report (aggregated and suppressed as DESIGN.md requires)."""
    t = _with_legal_entity(computed)
    scenario = computed.scenario
    mark = disclosure.marking(scenario)
    unit = "unit" if disclosure.has_units(t) else None  # funding units are counted as well
    breakdowns = {by: disclosure.breakdown(t, by, 1 if mark and by in UNIT_BREAKDOWNS else min_cell, unit=unit)
                  for by in BREAKDOWNS if by in t.columns}
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
        establishments=disclosure.establishment_table(computed.result.table) if mark else None,
        audits=_audits_tables(computed, min_cell),
        provenance=provenance_of(computed),
        names=unit_names(computed),
    )
