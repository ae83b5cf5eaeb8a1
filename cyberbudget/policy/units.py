"""Funding units (DESIGN.md, "Units"): who applies and who receives, ``allocation.unit``.

- ``establishment``: each row applies alone (the unit of a row is the row).
- ``legal_entity``: the rows sharing a ``finess_ej`` apply as one unit keyed by that FINESS (a missing column or
  an empty value: the row's own ``finess``).
- ``ght``: the public rows of a GHT (status ``public``, ``ght`` not empty) apply as one unit keyed by the GHT code,
  as GHT did in the CaRE programme; every other row with its legal entity.

A unit's budgets and sizes are its members' sums (``it_budget_eur``, ``cyber_spend_eur``,
``operating_budget_eur``, ``beds``, ``places``, ``had_places``, the ``allocation.base`` column and the forfait
column), so its cyber share is ``Σ cyber / Σ it``. Its status, region, department, category, name, ``ose`` and
``medico_social`` are those of its *representative*, the member with the largest ``allocation.base`` (ties by
ascending ``finess``), except that a GHT unit is ``public``, in the region of its support establishment
(``ght_support``; the representative's when no member is), named after the GHT (``ght_name`` when the table has
it), and ``ose`` when any member is. A unit is ``ght_support`` when any member is. Units are sorted by ascending
key (a FINESS sorts before a GHT code), which is the tie order of the rounding.

The policy (corridor, uptake, rule, rounding) then runs on one row per unit (:func:`unit_table`), exactly as on
establishments. Back to the members:

- **grants** — each unit's grant is split among its members pro rata to ``allocation.base`` (after uptake when the
  base is the cyber spend), with the Hamilton rounding of :func:`cyberbudget.money.hamilton_by_group` (ties by
  ascending ``finess``; equal shares when the members' base sums to 0), so the members' grants sum to the unit's
  grant and the per-row grants to the envelope (:func:`split_cents`);
- **uptake** — a unit complies by raising its members' spend so that the unit reaches ``min_share``; the induced
  spend ``raised − Σ cyber`` is spread across the members pro rata to their IT budget (:func:`spread`).

Arrays: members are kept sorted by unit then ``finess`` (:attr:`Units.order`) so that a unit's sum over a batch of
draws is one :func:`numpy.add.reduceat` (:func:`sum_members`), the same function for one table and for the Monte
Carlo draws.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"finess": ["010000001", "010000002", "010000003"], "finess_ej": ["010000009", "", "010000009"],
...                   "status": ["public"] * 3, "ght": ["", "", ""]})
>>> unit_keys(t, "legal_entity").tolist()
['010000009', '010000002', '010000009']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget.money import hamilton_by_group

__all__ = ["SUMMED", "UNIT_KINDS", "Units", "build_units", "split_cents", "split_shares", "spread", "sum_members",
           "unit_keys", "unit_table"]

UNIT_KINDS: tuple[str, ...] = ("establishment", "legal_entity", "ght")

#: Columns summed over a unit's members (when the table has them).
SUMMED: tuple[str, ...] = ("it_budget_eur", "cyber_spend_eur", "operating_budget_eur", "beds", "places", "had_places")


def _text(table: pd.DataFrame, column: str) -> pd.Series:
    """Column ``column`` as stripped text, "" when missing or absent (vectorised string operations)."""
    if column not in table.columns:
        return pd.Series("", index=table.index, dtype="str")
    return table[column].fillna("").astype("str").str.strip()


def _key_series(table: pd.DataFrame, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """The unit key of each row (object array of str), and which rows join a GHT unit."""
    finess = table["finess"].to_numpy(dtype=object)
    from_ght = np.zeros(len(table), dtype=bool)
    if kind == "establishment":
        return finess, from_ght
    ej = _text(table, "finess_ej").to_numpy(dtype=object)
    keys = np.where(ej != "", ej, finess)
    if kind == "ght":
        ght = _text(table, "ght").to_numpy(dtype=object)
        from_ght = (table["status"].to_numpy(dtype=object) == "public") & (ght != "")
        keys = np.where(from_ght, ght, keys)
    return keys, from_ght


def unit_keys(table: pd.DataFrame, kind: str) -> np.ndarray:
    """The unit key of each row under ``allocation.unit: kind`` (module docstring)."""
    return _key_series(table, kind)[0]


@dataclass(frozen=True)
class Units:
    """The funding units of a table sorted by ``finess``.

    Attributes
    ----------
    kind : str
        ``establishment``, ``legal_entity`` or ``ght``.
    keys : ndarray of str (U,)
        Unit keys, ascending.
    of_row : ndarray of int (n,)
        Unit of each row.
    order : ndarray of int (n,)
        Rows sorted by unit, then ``finess``: a unit's members are contiguous.
    starts, sizes : ndarray of int (U,)
        First position of each unit in ``order``, and its number of members.
    representative : ndarray of int (U,)
        Row of the member with the largest base (ties by ascending ``finess``).
    is_ght : ndarray of bool (U,)
        Keyed by a GHT code.
    key_index : pandas.Index
        ``keys`` as a string index (``key_index.take(of_row)`` is the ``unit`` column, without per-row Python
        objects).
    """

    kind: str
    keys: np.ndarray
    of_row: np.ndarray
    order: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray
    representative: np.ndarray
    is_ght: np.ndarray
    key_index: pd.Index

    @property
    def n_units(self) -> int:
        """Number of units."""
        return int(self.keys.size)


def _first_per_unit(flags: np.ndarray, order: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per unit, the first row (in ``order``) whose flag is set, -1 when none."""
    n = order.size
    pos = np.where(flags[order], np.arange(n), n)
    first = np.minimum.reduceat(pos, starts) if n else np.zeros(0, dtype=np.intp)
    return np.where(first < n, order[np.minimum(first, max(n - 1, 0))], -1)


def build_units(table: pd.DataFrame, kind: str, base: np.ndarray) -> Units:
    """The :class:`Units` of ``table`` (sorted by ``finess``) under ``allocation.unit: kind``; ``base`` is the
    ``allocation.base`` value of each row (it picks the representatives)."""
    keys_row, from_ght = _key_series(table, kind)
    codes, uniques = pd.factorize(keys_row, sort=True)
    of_row = codes.astype(np.intp)
    key_index = pd.Index(uniques, dtype="str")
    keys = np.asarray(uniques, dtype=object)
    order = np.argsort(of_row, kind="stable")  # within a unit, the table's (finess) order
    sizes = np.bincount(of_row, minlength=keys.size)
    starts = np.cumsum(sizes) - sizes
    base = np.nan_to_num(np.asarray(base, dtype=np.float64), nan=-np.inf)
    largest = np.maximum.reduceat(base[order], starts) if len(order) else np.zeros(0)
    representative = _first_per_unit(base >= largest[of_row], order, starts)
    is_ght = np.zeros(keys.size, dtype=bool)
    is_ght[of_row[from_ght]] = True
    return Units(kind, keys, of_row, order, starts, sizes, representative, is_ght, key_index)


def sum_members(values: Any, units: Units, *, sorted_members: bool = False) -> np.ndarray:
    """Each unit's sum of ``values`` (last axis: rows in ``finess`` order, or already in ``units.order`` when
    ``sorted_members``), for one table (n,) or a batch of draws (D, n) alike."""
    x = np.asarray(values, dtype=np.float64)
    if not sorted_members:
        x = x[..., units.order]
    return np.add.reduceat(x, units.starts, axis=-1) if x.shape[-1] else np.zeros(x.shape[:-1] + (0,))


def unit_table(table: pd.DataFrame, units: Units, extra_sums: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per unit, in key order, with the columns the policy reads (module docstring); ``finess`` is the
    unit key, ``members`` the number of member rows. ``extra_sums``: more numeric columns to sum (the
    ``allocation.base`` and forfait columns)."""
    rep = units.representative
    n_u = units.n_units
    keys = units.keys
    is_ght = units.is_ght

    def text(column: str) -> np.ndarray:  # a text column of the table, "" where missing, as an object array
        if column not in table.columns:
            return np.full(len(table), "", dtype=object)
        col = table[column]
        if not (pd.api.types.is_object_dtype(col.dtype) or pd.api.types.is_string_dtype(col.dtype)):
            col = col.astype("str")
        return col.to_numpy(dtype=object, na_value="")

    def flag(column: str) -> np.ndarray:
        return table[column].to_numpy(dtype=bool) if column in table.columns else np.zeros(len(table), dtype=bool)

    any_ose = np.bincount(units.of_row, weights=flag("ose"), minlength=n_u) > 0
    any_support = np.bincount(units.of_row, weights=flag("ght_support"), minlength=n_u) > 0
    region_rows = text("region")
    region = region_rows[rep]
    if is_ght.any() and "region" in table.columns:
        support = _first_per_unit(flag("ght_support"), units.order, units.starts)
        has = is_ght & (support >= 0)
        region = np.where(has, region_rows[np.where(has, support, 0)], region)
    name = text("name")[rep]
    if is_ght.any():
        ght_name = text("ght_name")[rep]
        own = np.array([g if g else f"GHT {k}" for g, k in zip(ght_name, keys, strict=True)], dtype=object)
        name = np.where(is_ght, own, name)
    out: dict[str, Any] = {
        "finess": keys, "name": name, "region": region, "department": text("department")[rep],
        "status": np.where(is_ght, "public", text("status")[rep]), "category": text("category")[rep],
        "ght": np.where(is_ght, keys, text("ght")[rep]), "ght_support": any_support,
        "ose": np.where(is_ght, any_ose, flag("ose")[rep]), "medico_social": flag("medico_social")[rep],
    }
    for c in dict.fromkeys((*SUMMED, *extra_sums)):
        if c in table.columns:
            out[c] = sum_members(pd.to_numeric(table[c]).to_numpy(dtype=np.float64), units)
    out["imputed"] = ""
    out["members"] = units.sizes
    frame = pd.DataFrame(out)
    for c in ("finess", "name", "region", "department", "status", "category", "ght"):
        frame[c] = frame[c].astype("str")
    return frame


def split_shares(weights: Any, units: Units, *, sorted_members: bool = False) -> np.ndarray:
    """Each member's share of its unit: ``w_i / Σ w`` over the unit, ``1 / members`` where the unit's weights sum
    to 0 (rows in ``finess`` order, or ``units.order`` when ``sorted_members``; (n,) or (D, n))."""
    w = np.asarray(weights, dtype=np.float64)
    of = units.of_row[units.order] if sorted_members else units.of_row
    total = sum_members(w, units, sorted_members=sorted_members)[..., of]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, w / np.where(total > 0, total, 1.0), 1.0 / units.sizes[of])
    return share


def split_cents(grants: np.ndarray, units: Units, weights: np.ndarray) -> np.ndarray:
    """The members' grants (int64 cents, rows in ``finess`` order): each unit's grant pro rata to ``weights``
    with Hamilton rounding inside the unit, ties by ascending ``finess``; they sum to the unit's grant."""
    grants = np.asarray(grants, dtype=np.int64)
    exact = grants[units.of_row] * split_shares(weights, units)
    return hamilton_by_group(exact, grants, units.of_row, np.arange(units.of_row.size))


def spread(extra: np.ndarray, units: Units, it: np.ndarray) -> np.ndarray:
    """Each member's part of its unit's ``extra`` spend, pro rata to the members' IT budgets (equal parts when
    the unit has none); (U,) → (n,) in ``finess`` order."""
    return np.asarray(extra, dtype=np.float64)[units.of_row] * split_shares(it, units)
