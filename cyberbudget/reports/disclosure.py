"""Confidentiality of published outputs: aggregation, primary and secondary cell suppression.

A list of under-protected hospitals is a target list. ``allocation.csv`` and ``summary.json`` are internal and
complete; the published outputs (``report.html``, ``allocation.xlsx``, the batch ``index.html``) are built only
from the tables of this module.

Rules (DESIGN.md, "Confidentiality"), with ``k = config.MIN_CELL_SIZE`` (5):

- **Primary suppression.** A cell is suppressed when it is built from fewer than ``k`` establishments: its group
  has fewer than ``k`` establishments, or fewer than ``k`` (but some) eligible establishments or grant
  recipients. Counts of establishments per group are public (the FINESS directory) and stay visible; every
  cyber, eligibility or grant figure of a suppressed cell is blanked (missing value).
- **Secondary suppression.** When a published total would reveal a suppressed cell by subtraction, more cells
  are suppressed: in every line whose total is published (one-way tables: the grand total; two-way tables: each
  row and each column), the suppressed cells must be at least two and together hold at least ``k``
  establishments (and no recipient count between 1 and ``k - 1``); otherwise the smallest visible cell of that
  line is suppressed too, and so on. The sum of a line's suppressed cells is then itself publishable, which is
  how the Sankey diagram draws them ("other, small cells").
- **Distributions** (cyber share histogram, Lorenz curve) are published as bins of at least ``k``
  establishments, never as individual points.
- **Funding units** (DESIGN.md, "Units"). Under ``allocation.unit`` other than ``establishment`` (the table's
  ``unit`` column differs from its ``finess``), a breakdown counts units as well: a cell of fewer than ``k``
  units, or of 1 to ``k - 1`` eligible or recipient units, is suppressed too, and secondary suppression makes
  the line safe on both counts (:func:`breakdown` with ``unit="unit"``; :func:`has_units` says when).

``disclosure: establishment`` (internal use) adds establishment-level tables; every page and sheet is then
marked :data:`RESTRICTED_MARKING`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cyberbudget import config

#: Marking of every page and sheet under ``disclosure: establishment``.
RESTRICTED_MARKING: str = "Diffusion restreinte"
#: The two disclosure modes of a scenario.
MODES: tuple[str, ...] = ("aggregate", "establishment")
#: The group label of the pooled row of suppressed groups (:meth:`Breakdown.visible_frame`).
POOLED: str = "Other (not disclosed individually)"
#: Columns of a breakdown that are never suppressed (public counts).
PUBLIC_COLUMNS: tuple[str, ...] = ("n_establishments", "n_units")
#: Columns of an establishment table that may only appear under ``disclosure: establishment``.
ESTABLISHMENT_COLUMNS: tuple[str, ...] = (
    "finess", "name", "region", "department", "status", "category", "ght", "ose", "beds", "eligible",
    "cyber_share", "grant_cents", "grant_eur", "reason",
)


def disclosure_mode(scenario: object) -> str:
    """The scenario's disclosure mode (``aggregate`` when the scenario does not say)."""
    mode = getattr(scenario, "disclosure", None) or "aggregate"
    mode = getattr(mode, "value", mode)
    if mode not in MODES:
        raise ValueError(f"disclosure: expected one of {MODES}, found {mode!r}")
    return str(mode)


def marking(scenario: object) -> str | None:
    """The protective marking of the scenario's published outputs (None under ``aggregate``)."""
    return RESTRICTED_MARKING if disclosure_mode(scenario) == "establishment" else None


# --------------------------------------------------------------------------------------------------------------
# Suppression logic on plain counts
# --------------------------------------------------------------------------------------------------------------


def primary_mask(n: np.ndarray, n_eligible: np.ndarray | None = None, n_recipients: np.ndarray | None = None,
                 min_cell: int = config.MIN_CELL_SIZE) -> np.ndarray:
    """Cells built from fewer than ``min_cell`` establishments.

    Examples
    --------
    >>> primary_mask(np.array([4, 5, 30]), n_recipients=np.array([0, 5, 2])).tolist()
    [True, False, True]
    """
    n = np.asarray(n)
    mask = n < min_cell
    for extra in (n_eligible, n_recipients):
        if extra is not None:
            extra = np.asarray(extra)
            mask |= (extra > 0) & (extra < min_cell)
    return mask


def _line_is_safe(n: np.ndarray, rec: np.ndarray, mask: np.ndarray, min_cell: int) -> bool:
    k = int(mask.sum())
    if k == 0 or k == len(mask):
        return True
    hidden_n = int(n[mask].sum())
    hidden_rec = int(rec[mask].sum())
    return k >= 2 and hidden_n >= min_cell and not (0 < hidden_rec < min_cell)


def secondary_mask_1d(n: np.ndarray, n_recipients: np.ndarray, primary: np.ndarray,
                      min_cell: int = config.MIN_CELL_SIZE) -> np.ndarray:
    """Extend a primary mask so that a published grand total reveals no suppressed cell.

    The smallest visible cells (by establishments, then position) are added until the suppressed cells are at
    least two, hold at least ``min_cell`` establishments and no recipient count between 1 and ``min_cell - 1``.

    Examples
    --------
    >>> secondary_mask_1d(np.array([2, 50, 9, 7]), np.array([2, 40, 8, 6]),
    ...                   np.array([True, False, False, False])).tolist()
    [True, False, False, True]
    """
    n = np.asarray(n, dtype=np.int64)
    rec = np.asarray(n_recipients, dtype=np.int64)
    mask = np.asarray(primary, dtype=bool).copy()
    order = np.lexsort((np.arange(len(n)), n))
    while not _line_is_safe(n, rec, mask, min_cell):
        mask[next(i for i in order if not mask[i])] = True
    return mask


def secondary_mask_2d(n: np.ndarray, n_recipients: np.ndarray, primary: np.ndarray,
                      min_cell: int = config.MIN_CELL_SIZE) -> np.ndarray:
    """Extend a primary mask on a two-way table whose row and column totals are published.

    Each row and each column is made safe as in :func:`secondary_mask_1d`, repeatedly until nothing changes
    (cells without any establishment are structural zeros: never suppressed, never used to protect).
    """
    n = np.asarray(n, dtype=np.int64)
    rec = np.asarray(n_recipients, dtype=np.int64)
    mask = np.asarray(primary, dtype=bool).copy()
    mask &= n > 0
    changed = True
    while changed:
        changed = False
        for axis in (0, 1):
            lines = range(n.shape[0]) if axis == 0 else range(n.shape[1])
            for i in lines:
                sel = (i, slice(None)) if axis == 0 else (slice(None), i)
                live = n[sel] > 0
                if not live.any():
                    continue
                sub_n, sub_rec, sub_mask = n[sel][live], rec[sel][live], mask[sel][live]
                new = secondary_mask_1d(sub_n, sub_rec, sub_mask, min_cell)
                if (new != sub_mask).any():
                    line = mask[sel].copy()
                    line[live] = new
                    mask[sel] = line
                    changed = True
    return mask


# --------------------------------------------------------------------------------------------------------------
# Aggregated tables
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Breakdown:
    """A one-way aggregated table with suppression applied.

    Attributes
    ----------
    by : str
        The grouping column.
    rows : DataFrame
        One row per group: ``<by>, n_establishments, n_eligible, eligible_share, grant_cents, grant_eur,
        grant_share, it_budget_eur, cyber_spend_eur, cyber_share, beds, grant_per_bed_eur, suppressed``;
        suppressed figures are missing (``grant_cents`` is nullable ``Int64``), ``suppressed`` is ``""``,
        ``"primary"`` or ``"secondary"``.
    total : DataFrame
        One row, the grand total (``<by>`` = ``"Total"``), suppressed only if built from fewer than
        ``min_cell`` establishments itself.
    pooled : DataFrame or None
        One row (``<by>`` = :data:`POOLED`): the suppressed groups together, None when none is. Secondary
        suppression makes it publishable (at least two groups, ``min_cell`` establishments and units, no
        recipient count of 1 to ``min_cell - 1``) — it is what the total minus the visible groups reveals anyway.
    """

    by: str
    rows: pd.DataFrame
    total: pd.DataFrame
    min_cell: int = field(default=config.MIN_CELL_SIZE)
    pooled: pd.DataFrame | None = None

    def to_frame(self, with_total: bool = True) -> pd.DataFrame:
        """Rows, then the total row."""
        return pd.concat([self.rows, self.total], ignore_index=True) if with_total else self.rows.copy()

    def visible_frame(self) -> pd.DataFrame:
        """The groups whose figures are published, then the suppressed ones as one pooled row, then the total
        (for tables of many small groups, such as legal entities, where a list of suppressed rows says nothing)."""
        parts = [self.rows[self.rows["suppressed"] == ""]]
        if self.pooled is not None:
            parts.append(self.pooled)
        parts.append(self.total)
        return pd.concat(parts, ignore_index=True)


_SENSITIVE = ("n_eligible", "n_units_eligible", "eligible_share", "grant_cents", "grant_eur", "grant_share",
              "it_budget_eur", "cyber_spend_eur", "cyber_share", "grant_per_bed_eur")
_COUNTS = ("grant_cents", "n_eligible", "n_units_eligible")


def _col(table: pd.DataFrame, name: str, default: float = 0.0) -> pd.Series:
    if name in table.columns:
        return table[name]
    return pd.Series(default, index=table.index)


def _aggregate(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    grant = table["grant_cents"].astype("int64")
    frame = pd.DataFrame({
        **{k: table[k].astype(str) for k in keys},
        "n_establishments": 1,
        "n_eligible": table["eligible"].astype(bool).astype("int64"),
        "n_recipients": (grant > 0).astype("int64"),
        "grant_cents": grant,
        "it_budget_eur": _col(table, "it_budget_eur").astype(float),
        "cyber_spend_eur": _col(table, "cyber_spend_eur").astype(float),
        "beds": _col(table, "beds", 0).astype("int64"),
    })
    if not keys:
        sums = frame.drop(columns=[]).sum(numeric_only=True).to_frame().T
        return sums
    return frame.groupby(keys, sort=True, observed=True).sum(numeric_only=True).reset_index()


def _finish(agg: pd.DataFrame, mask: np.ndarray, reason: np.ndarray, allocated_cents: int) -> pd.DataFrame:
    out = agg.copy()
    out["eligible_share"] = out["n_eligible"] / out["n_establishments"].where(out["n_establishments"] > 0)
    out["grant_eur"] = out["grant_cents"] / 100
    out["grant_share"] = out["grant_cents"] / allocated_cents if allocated_cents else np.nan
    out["cyber_share"] = out["cyber_spend_eur"] / out["it_budget_eur"].where(out["it_budget_eur"] > 0)
    out["grant_per_bed_eur"] = out["grant_eur"] / out["beds"].where(out["beds"] > 0)
    out["grant_cents"] = out["grant_cents"].astype("Int64")
    out["n_eligible"] = out["n_eligible"].astype("Int64")
    for col in _SENSITIVE:
        if col in out.columns:
            out[col] = out[col].astype("Int64" if col in _COUNTS else "float64")
            out.loc[mask, col] = pd.NA if col in _COUNTS else np.nan
    out["suppressed"] = reason
    out = out.drop(columns=["n_recipients"])
    return out


def has_units(table: pd.DataFrame) -> bool:
    """Whether the allocation table is one of funding units other than establishments (its ``unit`` column
    differs from its ``finess`` somewhere).

    Examples
    --------
    >>> has_units(pd.DataFrame({"finess": ["1", "2"], "unit": ["1", "2"]}))
    False
    >>> has_units(pd.DataFrame({"finess": ["1", "2"], "unit": ["9", "9"]}))
    True
    """
    if "unit" not in table.columns:
        return False
    if "finess" not in table.columns:
        return True
    return bool((table["unit"].astype(str).to_numpy() != table["finess"].astype(str).to_numpy()).any())


def unit_counts(table: pd.DataFrame, by: str, groups: Sequence[str],
                unit: str = "unit") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group (in the order of ``groups``): distinct funding units (column ``unit``), eligible units and
    recipient units (a unit with a grant in that group)."""
    frame = pd.DataFrame({"key": table[by].astype(str).to_numpy(), "unit": table[unit].astype(str).to_numpy(),
                          "eligible": table["eligible"].to_numpy(dtype=bool),
                          "grant": table["grant_cents"].to_numpy(dtype=np.int64) > 0})
    index = pd.Index([str(g) for g in groups])

    def count(rows: pd.DataFrame) -> np.ndarray:
        return rows.groupby("key")["unit"].nunique().reindex(index, fill_value=0).to_numpy(np.int64)

    return count(frame), count(frame[frame["eligible"]]), count(frame[frame["grant"]])


def breakdown(table: pd.DataFrame, by: str, min_cell: int = config.MIN_CELL_SIZE,
              groups: Sequence[str] | None = None, unit: str | None = None) -> Breakdown:
    """Aggregate an allocation table by one column, with primary and secondary suppression.

    Parameters
    ----------
    table : DataFrame
        ``AllocationResult.table`` (needs ``eligible``, ``grant_cents``, the grouping column; uses
        ``it_budget_eur``, ``cyber_spend_eur``, ``beds`` when present, and ``unit`` under funding units).
    by : str
        ``region``, ``status``, ``category``, ``ght`` (rows with an empty GHT are left out), ``legal_entity``
        (a column the caller adds), ...
    groups : sequence of str, optional
        Order of the groups (default: sorted).
    unit : str, optional
        Column of the funding-unit key, under an ``allocation.unit`` other than ``establishment`` (DESIGN.md,
        "Units"; :func:`has_units` tells): a cell is then also suppressed when it holds fewer than ``min_cell``
        units, or 1 to ``min_cell - 1`` eligible or recipient units, and secondary suppression protects unit
        counts as it protects establishment counts (:func:`secondary_mask_units`). The rows gain ``n_units``
        (public) and ``n_units_eligible`` (suppressed like ``n_eligible``).

    Examples
    --------
    >>> t = pd.DataFrame({"status": ["public"] * 6 + ["private_forprofit"] * 2,
    ...                   "eligible": [True] * 8, "grant_cents": [100] * 8})
    >>> b = breakdown(t, "status")
    >>> b.rows[["status", "n_establishments", "suppressed"]].to_dict("list")
    {'status': ['private_forprofit', 'public'], 'n_establishments': [2, 6], 'suppressed': ['primary', 'secondary']}
    >>> b.rows["grant_cents"].isna().tolist(), int(b.total["grant_cents"].iloc[0])
    ([True, True], 800)
    """
    data = table
    if by == "ght":
        data = table[table["ght"].astype(str) != ""]
    agg = _aggregate(data, [by])
    if groups is not None:
        agg = agg.set_index(by).reindex([str(g) for g in groups]).dropna(how="all").reset_index()
    n = agg["n_establishments"].to_numpy(np.int64)
    rec = agg["n_recipients"].to_numpy(np.int64)
    prim = primary_mask(n, agg["n_eligible"].to_numpy(np.int64), rec, min_cell)
    tot = _aggregate(data, [])
    if unit is not None:
        nu, ne, nr = unit_counts(data, by, agg[by].tolist(), unit)
        prim |= primary_mask(nu, ne, nr, min_cell)
        mask = secondary_mask_units(n, rec, nu, nr, prim, min_cell)
        agg.insert(agg.columns.get_loc("n_establishments") + 1, "n_units", nu)
        agg.insert(agg.columns.get_loc("n_eligible") + 1, "n_units_eligible", ne)
        tu, te, tr = unit_counts(data.assign(_all="all"), "_all", ["all"], unit)
        tot.insert(tot.columns.get_loc("n_establishments") + 1, "n_units", tu)
        tot.insert(tot.columns.get_loc("n_eligible") + 1, "n_units_eligible", te)
    else:
        mask = secondary_mask_1d(n, rec, prim, min_cell)
    reason = np.where(prim, "primary", np.where(mask, "secondary", ""))
    allocated = int(table["grant_cents"].astype("int64").sum())
    rows = _finish(agg, mask, reason, allocated)
    tot_mask = primary_mask(tot["n_establishments"].to_numpy(np.int64), tot["n_eligible"].to_numpy(np.int64),
                            tot["n_recipients"].to_numpy(np.int64), min_cell)
    if unit is not None:
        tot_mask |= primary_mask(tu, te, tr, min_cell)
    total = _finish(tot, tot_mask, np.where(tot_mask, "primary", ""), allocated)
    total.insert(0, by, "Total")
    total = total[rows.columns]
    pooled = None
    if mask.any():
        hidden = data[data[by].astype(str).isin(set(agg.loc[mask, by].astype(str)))]
        pool = _aggregate(hidden, [])
        if unit is not None:
            pu, pe, _ = unit_counts(hidden.assign(_all="all"), "_all", ["all"], unit)
            pool.insert(pool.columns.get_loc("n_establishments") + 1, "n_units", pu)
            pool.insert(pool.columns.get_loc("n_eligible") + 1, "n_units_eligible", pe)
        whole = bool(mask.all())  # everything hidden: the pooled row is the total, suppressed like it
        pool_mask = tot_mask if whole else np.zeros(1, dtype=bool)
        pooled = _finish(pool, pool_mask, np.where(pool_mask, "primary", ""), allocated)
        pooled.insert(0, by, POOLED)
        pooled = pooled[rows.columns]
    return Breakdown(by=by, rows=rows, total=total, min_cell=min_cell, pooled=pooled)


def secondary_mask_units(n: np.ndarray, n_recipients: np.ndarray, n_units: np.ndarray,
                         unit_recipients: np.ndarray, primary: np.ndarray,
                         min_cell: int = config.MIN_CELL_SIZE) -> np.ndarray:
    """:func:`secondary_mask_1d` on establishments and on funding units, until both are safe.

    Under a funding unit, a published total must reveal neither a suppressed cell's establishments nor its
    units: the suppressed cells must hold at least ``min_cell`` establishments *and* ``min_cell`` units (and no
    recipient count, of either, between 1 and ``min_cell - 1``).

    Examples
    --------
    >>> secondary_mask_units(np.array([9, 40, 30]), np.array([9, 40, 30]), np.array([2, 12, 8]),
    ...                      np.array([2, 12, 8]), np.array([True, False, False])).tolist()
    [True, False, True]
    """
    mask = np.asarray(primary, dtype=bool).copy()
    while True:
        new = secondary_mask_1d(n, n_recipients, mask, min_cell)
        new = secondary_mask_1d(n_units, unit_recipients, new, min_cell)
        if (new == mask).all():
            return mask
        mask = new


def crosstab(table: pd.DataFrame, rows: str = "status", cols: str = "region",
             min_cell: int = config.MIN_CELL_SIZE) -> pd.DataFrame:
    """Grants by two groupings, in long form, with primary and secondary suppression on rows and columns.

    Returns
    -------
    DataFrame
        ``<rows>, <cols>, n_establishments, grant_cents (Int64, missing when suppressed), suppressed,
        <rows>_total_cents, <cols>_total_cents``: one line per non-empty cell. The margins are published,
        suppressed themselves when their line holds fewer than ``min_cell`` establishments.
    """
    agg = _aggregate(table, [rows, cols])
    r_keys = sorted(agg[rows].unique())
    c_keys = sorted(agg[cols].unique())
    shape = (len(r_keys), len(c_keys))

    def grid(col: str) -> np.ndarray:
        g = agg.pivot_table(index=rows, columns=cols, values=col, aggfunc="sum", fill_value=0)
        return g.reindex(index=r_keys, columns=c_keys, fill_value=0).to_numpy(np.int64).reshape(shape)

    n, rec, elig, cents = grid("n_establishments"), grid("n_recipients"), grid("n_eligible"), grid("grant_cents")
    prim = primary_mask(n, elig, rec, min_cell) & (n > 0)
    mask = secondary_mask_2d(n, rec, prim, min_cell)
    out = []
    for i, r in enumerate(r_keys):
        for j, c in enumerate(c_keys):
            if n[i, j] == 0:
                continue
            out.append({rows: r, cols: c, "n_establishments": int(n[i, j]),
                        "grant_cents": pd.NA if mask[i, j] else int(cents[i, j]),
                        "suppressed": "primary" if prim[i, j] else ("secondary" if mask[i, j] else "")})
    long = pd.DataFrame(out, columns=[rows, cols, "n_establishments", "grant_cents", "suppressed"])
    long["grant_cents"] = long["grant_cents"].astype("Int64")
    for key, axis in ((rows, 1), (cols, 0)):
        line_n, line_rec, line_cents = n.sum(axis=axis), rec.sum(axis=axis), cents.sum(axis=axis)
        keys = r_keys if axis == 1 else c_keys
        hidden = primary_mask(line_n, None, line_rec, min_cell)
        totals = {k: (pd.NA if hidden[i] else int(line_cents[i])) for i, k in enumerate(keys)}
        long[f"{key}_total_cents"] = long[key].map(totals).astype("Int64")
    return long


def share_histogram(table: pd.DataFrame, width: float = 0.01, upper: float = 0.20,
                    min_cell: int = config.MIN_CELL_SIZE) -> pd.DataFrame:
    """Establishments by cyber share of IT budget, in bins, with suppression.

    Bins are ``[0, width), [width, 2 width), ...`` up to ``upper``; one last bin holds every share
    ``>= upper``. Establishments with no IT budget are left out.

    Returns
    -------
    DataFrame
        ``left, right, n (Int64, missing when suppressed), suppressed``.
    """
    it = _col(table, "it_budget_eur").astype(float).to_numpy()
    cyber = _col(table, "cyber_spend_eur").astype(float).to_numpy()
    ok = it > 0
    share = cyber[ok] / it[ok]
    n_bins = int(round(upper / width))
    edges = np.round(np.arange(n_bins + 1) * width, 10)
    idx = np.minimum(np.floor(np.round(share / width, 9)).astype(np.int64), n_bins)
    counts = np.bincount(idx, minlength=n_bins + 1)
    left = np.append(edges[:-1], upper)
    right = np.append(edges[1:], max(upper + width, float(share.max()) if share.size else upper + width))
    prim = (counts > 0) & (counts < min_cell)
    mask = secondary_mask_1d(counts, np.zeros_like(counts), prim, min_cell)
    mask &= counts > 0
    frame = pd.DataFrame({"left": left, "right": right, "n": counts})
    frame["n"] = frame["n"].astype("Int64")
    frame.loc[mask, "n"] = pd.NA
    frame["suppressed"] = np.where(prim, "primary", np.where(mask, "secondary", ""))
    return frame


def lorenz_points(values: np.ndarray | pd.Series, max_points: int = 20,
                  min_cell: int = config.MIN_CELL_SIZE) -> pd.DataFrame:
    """Lorenz curve at group boundaries of at least ``min_cell`` establishments each.

    Values are sorted in increasing order and cut into ``k = min(max_points, n // min_cell)`` consecutive
    groups of (nearly) equal size; the curve is given at the group boundaries only, so no point describes
    fewer than ``min_cell`` establishments.

    Returns
    -------
    DataFrame
        ``population_share, value_share`` from (0, 0) to (1, 1); empty when ``n < min_cell`` or the total is 0.

    Examples
    --------
    >>> lorenz_points(np.array([1.0] * 10), max_points=2).to_dict("list")
    {'population_share': [0.0, 0.5, 1.0], 'value_share': [0.0, 0.5, 1.0]}
    """
    v = np.sort(np.asarray(values, dtype=float))
    n = v.size
    k = min(max_points, n // min_cell)
    total = v.sum()
    if k < 1 or total <= 0:
        return pd.DataFrame({"population_share": [], "value_share": []})
    cuts = (np.arange(k + 1) * n) // k
    cum = np.concatenate([[0.0], np.cumsum(v)])
    return pd.DataFrame({"population_share": cuts / n, "value_share": cum[cuts] / total})


def gini(values: np.ndarray | pd.Series) -> float:
    """Gini coefficient of non-negative values (0: all equal, → 1: one takes all).

    Examples
    --------
    >>> gini(np.array([1.0, 1.0, 1.0, 1.0]))
    0.0
    >>> gini(np.array([0.0, 0.0, 0.0, 4.0]))
    0.75
    """
    v = np.sort(np.asarray(values, dtype=float))
    n = v.size
    if n == 0 or v.sum() <= 0:
        return float("nan")
    i = np.arange(1, n + 1)
    return float(np.sum((2 * i - n - 1) * v) / (n * v.sum()))


def year_totals(by_year: pd.DataFrame, min_cell: int = config.MIN_CELL_SIZE) -> pd.DataFrame:
    """Grants paid each year, suppressed when fewer than ``min_cell`` establishments receive money that year.

    Parameters
    ----------
    by_year : DataFrame
        ``AllocationResult.by_year``: one row per establishment, one int64 cents column per year (an optional
        ``finess`` column or index is ignored).

    Returns
    -------
    DataFrame
        ``year, n_recipients, grant_cents (Int64), grant_eur``.
    """
    data = by_year.drop(columns=[c for c in by_year.columns if str(c) == "finess"])
    rows = []
    for year in data.columns:
        col = data[year].astype("int64")
        rec = int((col > 0).sum())
        hidden = 0 < rec < min_cell
        cents = int(col.sum())
        rows.append({"year": int(year), "n_recipients": rec, "grant_cents": pd.NA if hidden else cents,
                     "grant_eur": np.nan if hidden else cents / 100})
    out = pd.DataFrame(rows, columns=["year", "n_recipients", "grant_cents", "grant_eur"])
    out["grant_cents"] = out["grant_cents"].astype("Int64")
    return out


def count_table(frame: pd.DataFrame, count: str, min_cell: int = config.MIN_CELL_SIZE) -> pd.DataFrame:
    """A table of counts by group (e.g. audits funded per region) with primary and secondary suppression.

    Parameters
    ----------
    frame : DataFrame
        One row per group, with ``n_establishments`` (public) and the ``count`` column (e.g. ``n_audited``).
    count : str
        The column to protect: a count between 1 and ``min_cell - 1``, or any count of a group of fewer than
        ``min_cell`` establishments, is suppressed, then secondary suppression so that the national total
        reveals none.

    Returns
    -------
    DataFrame
        A copy; ``count`` as float, missing where suppressed.

    Examples
    --------
    >>> t = pd.DataFrame({"region": ["11", "84", "94"], "n_establishments": [40, 30, 3],
    ...                   "n_audited": [12, 9, 1]})
    >>> count_table(t, "n_audited")["n_audited"].tolist()
    [12.0, nan, nan]
    """
    n = frame["n_establishments"].to_numpy(np.int64)
    counts = pd.to_numeric(frame[count], errors="coerce").fillna(0).astype("int64").to_numpy()
    mask = secondary_mask_1d(n, counts, primary_mask(n, None, counts, min_cell), min_cell)
    out = frame.copy()
    out[count] = out[count].astype(float).where(~mask)
    return out


def simulated_groups(establishments: pd.DataFrame, by: str, min_cell: int = config.MIN_CELL_SIZE) -> list[str]:
    """The groups whose simulated figures (Monte Carlo) may be published, in sorted order.

    A group is suppressed when it holds fewer than ``min_cell`` establishments, or when fewer than
    ``min_cell`` (but some) of them are eligible in at least one draw — its distribution would describe those
    few establishments. Secondary suppression then protects the simulated sector totals, which are published.

    Parameters
    ----------
    establishments : DataFrame
        One row per establishment with the column ``by`` and ``p_eligible`` (the share of draws in which it is
        eligible), e.g. ``MonteCarloResult.establishments``.
    by : str
        The grouping column (``category``, ``status``, ``region``).

    Examples
    --------
    >>> est = pd.DataFrame({"category": ["ch"] * 6 + ["chu"] * 2 + ["mco"] * 7 + ["ssr"] * 5,
    ...                     "p_eligible": [0.5] * 20})
    >>> simulated_groups(est, "category")  # chu: 2 establishments; ssr, the smallest other group, protects it
    ['ch', 'mco']
    """
    keys = establishments[by].astype(str)
    possible = establishments["p_eligible"].to_numpy(dtype=float) > 0
    g = pd.DataFrame({"key": keys, "n": 1, "possible": possible.astype(np.int64)}).groupby("key", sort=True).sum()
    n = g["n"].to_numpy(np.int64)
    rec = g["possible"].to_numpy(np.int64)
    mask = secondary_mask_1d(n, rec, primary_mask(n, None, rec, min_cell), min_cell)
    return [str(k) for k, hidden in zip(g.index, mask, strict=True) if not hidden]


def establishment_table(table: pd.DataFrame) -> pd.DataFrame:
    """The establishment-level table published under ``disclosure: establishment`` only."""
    cols = [c for c in ESTABLISHMENT_COLUMNS if c in table.columns]
    return table[cols].sort_values("finess").reset_index(drop=True)
