"""Money: exact euro-to-cent conversion and the one cent rounding every rule ends with (DESIGN.md, "Allocation
rules — exact semantics").

Money is integer cents from allocation on. Euro amounts become cents exactly (``Decimal(str(x)) * 100``). Exact
amounts are rounded by the *largest remainder* method (Hamilton): each amount is floored to the cent, and the
cents left over go one each to the largest fractional remainders, ties by ascending key (``finess``, a unit key,
or the earlier year). The float64 path compares remainders with a tolerance ``TOL_ABS + TOL_REL × amount``
cents, far above float64 noise (about ``3e-15 × amount``), so float noise never decides a tie: remainders within
tolerance of 0 or 1 are snapped to the integer, and remainders within tolerance of each other are ties.
:func:`hamilton_exact` is the exact rational reference (:class:`fractions.Fraction`) the tests compare with.

Examples
--------
>>> import numpy as np
>>> hamilton(np.array([1.5, 1.5, 1.0]), 4, keys=np.array(["b", "a", "c"])).tolist()
[1, 2, 1]
>>> euros_to_cents("12.34")
1234
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np

from cyberbudget.errors import AllocationError

__all__ = [
    "TOL_ABS", "TOL_REL", "Rounding", "euros_to_cents", "hamilton", "hamilton_by_group", "hamilton_exact",
    "hamilton_rounding", "reached", "split_by_shares", "tolerance",
]

#: Absolute part of the remainder tolerance, in cents.
TOL_ABS: float = 1e-9
#: Relative part of the remainder tolerance (per cent of amount).
TOL_REL: float = 1e-13


def euros_to_cents(x: Any) -> int:
    """Exact cents of a euro amount: ``Decimal(str(x)) * 100`` (a :class:`~decimal.Decimal` is taken as is).

    Raises
    ------
    ValueError
        The amount has fractions of a cent, is not finite or is not a number.

    Examples
    --------
    >>> euros_to_cents(350_000_000), euros_to_cents(0.1), euros_to_cents(Decimal("2.50"))
    (35000000000, 10, 250)
    """
    if isinstance(x, bool):
        raise ValueError(f"expected an amount in euros, found {x!r}")
    try:
        dec = x if isinstance(x, Decimal) else Decimal(str(x))
    except ArithmeticError:
        raise ValueError(f"expected an amount in euros, found {x!r}") from None
    if not dec.is_finite():
        raise ValueError(f"expected a finite amount in euros, found {x!r}")
    cents = dec * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"expected at most 2 decimals, found {x!r}")
    return int(cents)


def tolerance(x: np.ndarray | float) -> np.ndarray | float:
    """Tolerance of a float64 amount in cents: ``TOL_ABS + TOL_REL × |x|``."""
    return TOL_ABS + TOL_REL * np.abs(x)


def reached(x: np.ndarray | float, cap: np.ndarray | float) -> np.ndarray:
    """``x`` is at its cap (within :func:`tolerance`); never true for an infinite cap."""
    cap = np.asarray(cap, dtype=np.float64)
    finite = np.isfinite(cap)
    safe = np.where(finite, cap, 0.0)
    return finite & (np.asarray(x) >= safe - tolerance(safe))


@dataclass(frozen=True)
class Rounding:
    """The details of one Hamilton rounding (what :meth:`AllocationResult.explain` reports).

    Attributes
    ----------
    grants : ndarray of int64
        The rounded amounts.
    floors : ndarray of int64
        Each amount floored (after snapping remainders within tolerance of 1).
    remainders : ndarray of float64
        Fractional remainders (0 where snapped).
    leftover : int
        Cents handed out beyond the floors.
    cut : float or None
        The smallest remainder that received a cent.
    """

    grants: np.ndarray
    floors: np.ndarray
    remainders: np.ndarray
    leftover: int
    cut: float | None


def _floors(exact: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first step of Hamilton rounding: each amount's floor (int64) and fractional remainder, float noise
    aside — a remainder within the tolerance of 1 rounds the floor up, one within it of 0 counts as none — and
    the tolerance itself."""
    tol = tolerance(exact)
    fl = np.floor(exact)
    rem = exact - fl
    up = rem > 1 - tol
    rem = np.where(up | (rem < tol), 0.0, rem)
    return (fl + up).astype(np.int64), rem, tol


def hamilton_rounding(exact: np.ndarray, total_cents: int, rank: np.ndarray) -> Rounding:
    """Largest-remainder rounding with its details; ``rank`` orders ties (lowest first).

    Raises
    ------
    AllocationError
        The amounts are inconsistent with the total (fewer fractional remainders than leftover cents, or
        floors above the total).
    """
    exact = np.asarray(exact, dtype=np.float64)
    floors, rem, tol = _floors(exact)
    leftover = int(total_cents) - int(floors.sum())
    grants = floors.copy()
    cut: float | None = None
    if leftover < 0 or leftover > int(np.count_nonzero(rem > 0)):
        raise AllocationError(
            f"cannot round: {total_cents} cents to hand out but the floored amounts sum to {int(floors.sum())} "
            f"with {int(np.count_nonzero(rem > 0))} fractional remainders (amounts inconsistent with the total)"
        )
    if leftover > 0:
        cut = float(-np.partition(-rem, leftover - 1)[leftover - 1])
        band_tol = tol + tolerance(cut)
        surely = rem > cut + band_tol
        band = np.flatnonzero(~surely & (rem >= cut - band_tol) & (rem > 0))
        grants[surely] += 1
        need = leftover - int(np.count_nonzero(surely))
        if need > 0:
            chosen = band[np.argsort(rank[band], kind="stable")[:need]]
            grants[chosen] += 1
    return Rounding(grants, floors, rem, leftover, cut)


def hamilton_by_group(exact: np.ndarray, totals: np.ndarray, group: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """:func:`hamilton_rounding` within each group at once: the amounts of group ``g`` are rounded to integers
    summing to ``totals[g]``, ties (within the tolerance) by ascending ``rank``. Vectorised, O(n log n).

    Parameters
    ----------
    exact : ndarray of float64 (n,)
        Exact amounts in cents, ≥ 0; each group's sum is its total up to less than one cent per member.
    totals : ndarray of int (G,)
        Cents to hand out in each group.
    group : ndarray of int (n,)
        Group of each amount, in ``[0, G)``.
    rank : ndarray of int (n,)
        Tie order (lowest first), e.g. the position in ``finess`` order.

    Returns
    -------
    ndarray of int64 (n,)

    Raises
    ------
    AllocationError
        A group's amounts are inconsistent with its total.

    Examples
    --------
    >>> hamilton_by_group(np.array([1.5, 1.5, 1.0, 0.5, 0.5]), np.array([4, 1]), np.array([0, 0, 0, 1, 1]),
    ...                   np.array([1, 0, 2, 4, 3])).tolist()
    [1, 2, 1, 0, 1]
    """
    exact = np.asarray(exact, dtype=np.float64)
    totals = np.asarray(totals, dtype=np.int64)
    group = np.asarray(group, dtype=np.intp)
    rank = np.asarray(rank)
    n_groups = totals.size
    floors, rem, tol = _floors(exact)
    leftover = totals - np.bincount(group, weights=floors, minlength=n_groups).astype(np.int64)
    n_positive = np.bincount(group, weights=rem > 0, minlength=n_groups).astype(np.int64)
    bad = (leftover < 0) | (leftover > n_positive)
    if bad.any():
        g = int(np.flatnonzero(bad)[0])
        raise AllocationError(
            f"cannot round group {g}: {int(totals[g])} cents to hand out but the floored amounts sum to "
            f"{int(totals[g] - leftover[g])} with {int(n_positive[g])} fractional remainders"
        )
    grants = floors.copy()
    # only the remainders of groups with cents left over compete; sort just those
    cand = np.flatnonzero((leftover > 0)[group] & (rem > 0))
    if not cand.size:
        return grants
    g_c, rem_c, tol_c = group[cand], rem[cand], tol[cand]
    counts = np.bincount(g_c, minlength=n_groups)
    starts = np.cumsum(counts) - counts
    cut = np.full(n_groups, np.nan)
    one = leftover == 1  # the common case (a unit of two members): the cut is the largest remainder
    by_group = np.argsort(g_c, kind="stable")
    nonempty = np.flatnonzero(counts > 0)
    largest = np.maximum.reduceat(rem_c[by_group], starts[nonempty])
    cut[nonempty] = np.where(one[nonempty], largest, np.nan)
    many = leftover >= 2
    if many.any():  # the leftover-th largest remainder: sort those groups' remainders
        sub = np.flatnonzero(many[g_c])
        gs = g_c[sub]
        order = np.lexsort((-rem_c[sub], gs))
        sub_counts = np.bincount(gs, minlength=n_groups)
        sub_starts = np.cumsum(sub_counts) - sub_counts
        cut[many] = rem_c[sub][order][sub_starts[many] + leftover[many] - 1]
    cut_i = cut[g_c]
    band_tol = tol_c + tolerance(cut_i)
    surely = rem_c > cut_i + band_tol
    band = ~surely & (rem_c >= cut_i - band_tol)
    need = leftover - np.bincount(g_c, weights=surely, minlength=n_groups).astype(np.int64)
    grants[cand[surely]] += 1
    b = np.flatnonzero(band)  # ties within the tolerance: ascending rank, as many as still needed
    if b.size:
        gb = g_c[b]
        order2 = np.lexsort((rank[cand[b]], gb))
        b_counts = np.bincount(gb, minlength=n_groups)
        pos = np.arange(b.size) - (np.cumsum(b_counts) - b_counts)[gb[order2]]
        chosen = pos < need[gb[order2]]
        grants[cand[b[order2[chosen]]]] += 1
    return grants


def hamilton(exact: np.ndarray, total_cents: int, keys: np.ndarray | None = None) -> np.ndarray:
    """Largest-remainder rounding of exact amounts (cents) to integers summing to ``total_cents``.

    Parameters
    ----------
    exact : ndarray of float64
        Exact amounts in cents, ≥ 0, whose sum is ``total_cents`` up to less than one cent per row.
    total_cents : int
        Cents to hand out.
    keys : ndarray, optional
        Tie-break keys (e.g. ``finess``), ascending first; default the row order.

    Returns
    -------
    ndarray of int64
        Each amount floored, plus one cent for the ``total_cents − Σ floors`` largest remainders; remainders
        within ``1e-9 + 1e-13 × amount`` of each other are ties broken by ascending key.
    """
    exact = np.asarray(exact, dtype=np.float64)
    if keys is None:
        rank = np.arange(len(exact))
    else:
        order = np.argsort(np.asarray(keys), kind="stable")
        rank = np.empty(len(exact), dtype=np.int64)
        rank[order] = np.arange(len(exact))
    return hamilton_rounding(exact, total_cents, rank).grants


def hamilton_exact(exact: list[Fraction], total_cents: int, keys: list[Any] | None = None) -> list[int]:
    """Exact rational reference of :func:`hamilton` (ties are exact equalities, broken by ascending key).

    Examples
    --------
    >>> hamilton_exact([Fraction(3, 2), Fraction(3, 2), Fraction(1)], 4, ["b", "a", "c"])
    [1, 2, 1]
    """
    keys = list(range(len(exact))) if keys is None else list(keys)
    floors = [math.floor(x) for x in exact]
    leftover = total_cents - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), keys[i]))
    out = list(floors)
    for i in order[:leftover]:
        out[i] += 1
    return out


def split_by_shares(grant_cents: np.ndarray, shares: list[Fraction]) -> np.ndarray:
    """Split each amount by exact ``shares`` (summing to 1) with Hamilton rounding, ties to the earlier share.

    Integer arithmetic only: with ``Q`` the common denominator of the shares and ``P_y = share_y × Q``, part
    ``y`` gets ``⌊grant × P_y / Q⌋`` plus one cent for the largest remainders ``grant × P_y mod Q``.

    Returns
    -------
    ndarray of int64, shape (n, len(shares))
        Each row sums to its amount exactly.

    Examples
    --------
    >>> split_by_shares(np.array([10, 3]), [Fraction(1, 3)] * 3).tolist()
    [[4, 3, 3], [1, 1, 1]]
    """
    grant = np.asarray(grant_cents, dtype=np.int64)
    if all(sh == shares[0] for sh in shares) and shares[0] == Fraction(1, len(shares)):
        k = len(shares)
        base_eq, left_eq = np.divmod(grant, k)
        return base_eq[:, None] + (np.arange(k)[None, :] < left_eq[:, None]).astype(np.int64)
    q = math.lcm(*(s.denominator for s in shares))
    p = [int(s * q) for s in shares]
    big = grant.size and int(grant.max(initial=0)) * q >= 2**62
    g = grant.astype(object) if big else grant
    prod = np.stack([g * py for py in p], axis=1) if grant.size else np.zeros((0, len(p)), dtype=np.int64)
    base = prod // q
    rem = prod % q
    out = base.astype(np.int64)
    left = grant - out.sum(axis=1)
    order = np.argsort(-rem.astype(np.float64) if big else -rem, axis=1, kind="stable")
    if big:  # exact ordering with Python ints
        order = np.array([sorted(range(len(p)), key=lambda j, r=r: (-r[j], j)) for r in rem], dtype=np.int64)
    pos = np.empty_like(order)
    rows = np.arange(len(grant))[:, None]
    pos[rows, order] = np.arange(len(p))[None, :]
    out += (pos < left[:, None]).astype(np.int64)
    return out
