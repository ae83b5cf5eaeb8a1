"""The built-in allocation rules, defined once on arrays (DESIGN.md, "Allocation rules — exact semantics").

Every function here takes arrays of shape ``(D, n)`` — ``D`` draws (Monte Carlo) of ``n`` applicants
(establishments or funding units) — or ``(n,)`` for one table, and computes in float64 cents. The exact path
(:func:`cyberbudget.policy.allocation.allocate`, ``D = 1``) layers the cent rounding of :mod:`cyberbudget.money`
on top; the Monte Carlo path (:mod:`cyberbudget.uncertainty.montecarlo`) calls the very same functions for a
batch of draws. Each draw is computed exactly as a table of its own: every sum over applicants is taken over the
applicants that take part, in row order (or the order of the water-filling breakpoints), so a draw's amounts do
not depend on the other draws of its batch.

Rules
-----
Every rule but ``tiered`` is a *water-filling*: eligible applicant ``i`` gets ``min(cap_i, floor_i + λ w_i)``
with the single ``λ ≥ 0`` that makes the amounts sum to the envelope, or its cap when the caps sum to less than
the envelope ("everyone capped").

========================  ======================  =========================================  ======================
rule                      weight ``w``            cap                                        floor
========================  ======================  =========================================  ======================
``proportional``          ``allocation.base``     ``cap_eur`` (none when null)               ``floor_eur``
``matching``              demand                  ``min(demand, cap_eur)``                   0
``gap``                   need                    ``min(need, cap_eur)``                     0
``forfait``               ``min(forfait, cap)``   the same (served in full, or pro rata)     0
``tiered``                groups in ``tiers`` order are served their amount in full, pro rata in the group
                          where the money runs out (amount = need, demand or ``cap_eur``, capped by ``cap_eur``)
========================  ======================  =========================================  ======================

with ``demand = match_rate × min(cyber, max_share × it) × n_years`` and
``need = max(0, target_share × it − cyber) × n_years`` (euros, turned into cents), and the forfait of an
applicant the amount of the band of ``allocation.forfait.column`` its value falls in (:func:`forfait_cents`):
served in full when the envelope suffices, else pro rata to the forfait. Documented choices where DESIGN.md is
silent: ``floor_eur`` applies to ``proportional`` only (the scenario rejects it elsewhere); an eligible applicant
whose weight is 0 cannot absorb money and counts as capped at its floor; ``cap_eur`` also caps the other rules;
an eligible applicant in no group of ``tiers`` gets nothing.

Sums
----
A draw is computed as a table of its own: a sum over applicants never mixes draws. For one table (the exact
path) the participating applicants are summed compacted, in row order (or breakpoint order) — the bits
``allocate`` has always produced, hence byte-identical ``allocation.csv``; for a batch of draws each draw's whole
row is summed with zeros for the applicants that do not take part (``compact=False``): the same sums up to float
rounding, without compacting millions of entries. A draw's results therefore depend on neither the size of its
batch nor the other draws in it.

Water-filling runs in O(n log n) per draw: the breakpoints ``t_i = (cap_i − floor_i) / w_i`` are sorted (only
when a cap is finite), the segment holding λ is found on prefix sums, and λ is recomputed from plain sums over
the capped and uncapped sets.

Examples
--------
>>> wf = waterfill(np.zeros(3), np.array([1.0, 1.0, 2.0]), np.array([10.0, np.inf, np.inf]), 100.0)
>>> wf.amounts.tolist(), wf.lam
([10.0, 30.0, 60.0], 30.0)
>>> two = waterfill(np.zeros((2, 2)), np.array([[1.0, 3.0], [1.0, 1.0]]), np.full((2, 2), np.inf), 8.0)
>>> two.amounts.tolist(), two.lam.tolist()
([[2.0, 6.0], [4.0, 4.0]], [2.0, 4.0])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget import config
from cyberbudget.errors import AllocationError, Problem
from cyberbudget.formatting import fmt_cents
from cyberbudget.money import reached, tolerance
from cyberbudget.policy.parameters import PolicyParameters

__all__ = [
    "RuleInputs", "RuleResult", "TierService", "WaterFill", "apply_rule", "at_caps", "base_values", "demand_cents",
    "expected_grants", "forfait_cents", "handout_cents", "need_cents", "needs_cyber", "rule_inputs", "rule_weights", "serve_tiers",
    "tier_amount_cents", "tier_groups", "waterfill",
]


# ==============================================================================================================
# Reductions: one draw at a time, over the applicants that take part, in row order
# ==============================================================================================================


def _segments(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, end)`` of each row's selected entries in ``numpy.extract(mask, ...)`` (row-major order)."""
    counts = np.count_nonzero(mask, axis=1)
    ends = np.cumsum(counts)
    return list(zip((ends - counts).tolist(), ends.tolist(), strict=True))


def _row_sums(values: np.ndarray, mask: np.ndarray, compact: bool = True) -> np.ndarray:
    """``Σ values[d, mask[d]]`` per row ``d``.

    ``compact``: each row's selected entries are summed as numpy sums the compacted row (row order) — the sums of
    one table, bit for bit as ``allocate`` has always computed them. Otherwise the whole row is summed with zeros
    outside the mask (``numpy.einsum``: no compaction, several times faster on a batch of draws); the two differ
    only by float rounding. Either way a row's sum depends on that row alone, never on the other draws.
    """
    if not compact:
        return np.einsum("ij,ij->i", values, mask)
    flat = np.extract(mask, values)
    return np.array([flat[s:e].sum() for s, e in _segments(mask)], dtype=np.float64)


def _row_dots(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None, compact: bool = True) -> np.ndarray:
    """``a[d, mask[d]] · b[d, mask[d]]`` per row ``d`` (``numpy.dot`` of the compacted rows, or ``numpy.einsum``
    over whole rows when not ``compact``: see :func:`_row_sums`)."""
    if not compact:
        return np.einsum("ij,ij->i", a, b) if mask is None else np.einsum("ij,ij,ij->i", a, b, mask)
    if mask is None:
        return np.array([np.dot(a[d], b[d]) for d in range(a.shape[0])], dtype=np.float64)
    fa, fb = np.extract(mask, a), np.extract(mask, b)
    return np.array([np.dot(fa[s:e], fb[s:e]) for s, e in _segments(mask)], dtype=np.float64)


def _keep(values: np.ndarray, mask: np.ndarray, *, inplace: bool = False) -> np.ndarray:
    """``numpy.where(mask, values, 0.0)``, computed as ``values × mask`` when that is the same (finite values,
    no negative zero; in place in ``values`` when ``inplace``): a multiplication is several times faster than a
    branch per entry."""
    if values.size:
        low, high = values.min(), values.max()  # reductions, no temporaries
        if np.isfinite(high) and (low > 0 or (low == 0 and not np.signbit(values).any())):
            return np.multiply(values, mask, out=values if inplace else None)
    return np.where(mask, values, 0.0)


def _constant(x: np.ndarray) -> float | None:
    """The value of an array that is one value broadcast (all strides 0), else None."""
    if x.size and all(st == 0 for st in x.strides):
        return float(x.flat[0])
    return None


def _rows(x: Any, shape: tuple[int, int]) -> np.ndarray:
    """``x`` as a float64 array broadcast to ``shape`` (a read-only view when it is smaller)."""
    return np.broadcast_to(np.asarray(x, dtype=np.float64), shape)


# ==============================================================================================================
# Water-filling
# ==============================================================================================================


@dataclass(frozen=True)
class WaterFill:
    """Result of :func:`waterfill`.

    Attributes
    ----------
    amounts : ndarray (n,) or (D, n)
        Float64 cents each applicant gets *if it takes part*.
    lam : float, None or ndarray (D,)
        The level λ; for one table None when everyone is capped, for a batch NaN in those draws.
    all_capped : bool or ndarray of bool (D,)
        ``Σ p × cap <= total``: every applicant gets its cap.
    """

    amounts: np.ndarray
    lam: Any
    all_capped: Any


def _level_sorted(total_v: float, pv: np.ndarray, fv: np.ndarray, wv: np.ndarray, cv: np.ndarray) -> float:
    """λ of one draw from its applicants of positive weight (compacted, row order), some of them capped."""
    with np.errstate(invalid="ignore"):
        t = (cv - fv) / wv
    order = np.argsort(t, kind="stable")
    ts, ps, fs, ws, cs = t[order], pv[order], fv[order], wv[order], cv[order]
    pc = np.where(np.isfinite(cs), ps * cs, 0.0)
    cpre = np.concatenate(([0.0], np.cumsum(pc)[:-1]))
    fsuf = np.cumsum((ps * fs)[::-1])[::-1]
    wsuf = np.cumsum((ps * ws)[::-1])[::-1]
    with np.errstate(invalid="ignore"):
        s = cpre + fsuf + np.where(np.isfinite(ts), ts * wsuf, np.inf)
    s = np.maximum.accumulate(s)
    k = int(np.searchsorted(s, total_v, side="left"))
    k = min(k, len(ts) - 1)
    capped_idx, free_idx = order[:k], order[k:]
    num = total_v - float(np.sum(pv[capped_idx] * cv[capped_idx])) - float(np.sum(pv[free_idx] * fv[free_idx]))
    den = float(np.sum(pv[free_idx] * wv[free_idx]))
    return max(num / den, 0.0) if den > 0 else 0.0


def waterfill(
    floor: Any,
    weight: Any,
    cap: Any,
    total: Any,
    participation: Any = None,
    *,
    compact: bool = True,
) -> WaterFill:
    """Amounts ``min(cap, floor + λ × weight)`` summing (weighted by participation) to ``total``, per draw.

    Parameters
    ----------
    floor, weight, cap : array_like of float64, (n,) or (D, n)
        Per applicant, in cents (weight in any unit ≥ 0); ``cap`` may be ``inf``; ``cap >= floor``.
    total : float or array_like (D,)
        Amount to distribute in each draw, in cents.
    participation : array_like, optional
        Weight of each applicant in the budget constraint ``Σ p_i x_i = total``: booleans (takes part or not),
        or probabilities (the uptake model). Default: everyone takes part.
    compact : bool
        How the sums over applicants are taken (see the module's "Sums" section): True for one table (the exact
        path's bits), False for a batch of draws (faster, equal up to float rounding; the weights must be finite,
        and with boolean participation and no finite cap the amounts of non-participants are 0).

    Returns
    -------
    WaterFill
        ``amounts[..., i]`` is what applicant ``i`` gets *if it takes part* (also where participation is 0).
        When ``Σ p × cap <= total`` everyone is capped (amounts = caps). An applicant of weight 0 is capped at
        its floor. One-dimensional inputs give one-dimensional amounts and a float (or None) λ.

    Raises
    ------
    AllocationError
        The floors alone exceed the total.
    """
    one = all(np.ndim(x) <= 1 for x in (floor, weight, cap, participation))
    shape = np.broadcast_shapes(*(np.shape(x) for x in (floor, weight, cap) + (
        () if participation is None else (participation,))))
    shape2 = (1, shape[-1]) if len(shape) == 1 else tuple(shape)
    F, W, C = (_rows(x, shape2) for x in (floor, weight, cap))
    if participation is None:
        participation = np.ones(shape2, dtype=bool)
    boolean = np.asarray(participation).dtype == bool  # takes part or not: p × x is x for a participant
    P = np.broadcast_to(np.asarray(participation), shape2) if boolean else _rows(participation, shape2)
    n_draws = shape2[0]
    every = slice(None)
    totals = np.broadcast_to(np.asarray(total, dtype=np.float64), (n_draws,))
    floor_const, cap_const = _constant(F), _constant(C)
    has_floor = floor_const != 0.0
    uncapped = cap_const == math.inf  # no finite cap anywhere: capx is inf where w > 0, the floor elsewhere

    def weighted(x: np.ndarray, rows: Any = every) -> np.ndarray:
        return x if boolean else P[rows] * x

    if has_floor:
        floors_total = _row_dots(P.astype(np.float64) if boolean else P, F, None, compact)
        over = floors_total > totals + tolerance(totals)
        if over.any():
            d = int(np.flatnonzero(over)[0])
            raise AllocationError(
                f"the floors alone ({fmt_cents(floors_total[d], 'en')}) exceed the amount to share "
                f"({fmt_cents(totals[d], 'en')})"
            )
    active = P if boolean else P > 0
    positive = W > 0
    var_all = active & positive  # the applicants of positive weight that take part
    capx = None if uncapped else np.where(positive, C, F)
    inf_cap = var_all.any(axis=1) if uncapped else (active & ~np.isfinite(capx)).any(axis=1)
    cap_total = np.full(n_draws, np.inf)
    fin = np.flatnonzero(~inf_cap)
    if fin.size:
        cx = np.where(positive[fin], C[fin], F[fin]) if uncapped else capx[fin]
        with np.errstate(invalid="ignore"):
            cap_total[fin] = _row_sums(weighted(cx, fin), active[fin], compact)
    all_capped = cap_total <= totals
    lam = np.full(n_draws, np.nan)
    todo = np.flatnonzero(~all_capped)
    if todo.size:
        sel = every if todo.size == n_draws else todo
        Pt, Ft, Wt, At = P[sel], F[sel], W[sel], active[sel]
        var = var_all[sel]
        total_v = totals[sel]
        if has_floor:
            fixed = At & ~positive[sel]
            if fixed.any():
                total_v = total_v - _row_dots(Pt.astype(np.float64) if boolean else Pt, Ft, fixed, compact)
        lam_t = np.zeros(todo.size)
        if uncapped:
            sort = np.zeros(todo.size, dtype=bool)
        else:
            sort = (var & np.isfinite(capx[sel])).any(axis=1)
        plain = np.flatnonzero(~sort)
        if plain.size:  # no finite cap: λ = (total − Σ p f) / Σ p w over the applicants of positive weight
            psel = every if plain.size == todo.size else plain
            vp = var[psel]
            num = total_v[psel]
            if has_floor:
                num = num - _row_sums(Ft[psel] if boolean else Pt[psel] * Ft[psel], vp, compact)
            den = _row_sums(Wt[psel] if boolean else Pt[psel] * Wt[psel], vp, compact)
            with np.errstate(divide="ignore", invalid="ignore"):
                lam_t[psel] = np.where(den > 0, np.maximum(num / np.where(den > 0, den, 1.0), 0.0), 0.0)
        if sort.any():
            Ct = capx[sel]
            for j in np.flatnonzero(sort).tolist():
                m = var[j]
                pv = np.ones(int(m.sum())) if boolean else Pt[j][m]
                lam_t[j] = _level_sorted(float(total_v[j]), pv, Ft[j][m], Wt[j][m], Ct[j][m])
        lam[todo] = lam_t
    if todo.size == n_draws:
        if uncapped and boolean and not compact:
            # a batch of draws (finite weights): amounts of the participants only, λ × (w × p) (+ f × p) — the
            # same amounts where p is true, 0 elsewhere, in two passes
            amounts = np.multiply(W, P, dtype=np.float64)
            amounts *= lam[:, None]
            if has_floor:
                amounts += F * P
        elif uncapped:  # min(capx, f + λ w) is f + λ w: capx is inf where w > 0, and f where w = 0 (λ w = 0)
            amounts = lam[:, None] * W
            if has_floor:
                amounts += F
        else:
            amounts = np.minimum(capx, F + lam[:, None] * W)
    else:
        amounts = np.where(positive, C, F) if capx is None else capx.copy()
        if todo.size:
            amounts[todo] = np.minimum(amounts[todo], F[todo] + lam[todo, None] * W[todo])
    if one:
        return WaterFill(amounts[0], None if all_capped[0] else float(lam[0]), bool(all_capped[0]))
    return WaterFill(amounts, lam, all_capped)


# ==============================================================================================================
# Tiers
# ==============================================================================================================


def tier_groups(tiers: tuple[str, ...] | list[str], ose: Any, ght_support: Any, status: Any, category: Any) -> np.ndarray:
    """Index in ``tiers`` of each applicant's first group, -1 when in none.

    A group is ``ose`` or ``ght_support`` (the boolean columns), a status, or a category.

    Examples
    --------
    >>> tier_groups(("ose", "public"), [False, True, False], [False] * 3, ["public", "public", "private_forprofit"],
    ...             ["ch"] * 3).tolist()
    [1, 0, -1]
    """
    status = np.asarray(status)
    group = np.full(status.shape, -1, dtype=np.int64)
    flags = {"ose": np.asarray(ose, dtype=bool), "ght_support": np.asarray(ght_support, dtype=bool)}
    category = np.asarray(category)
    for k, name in enumerate(tiers):
        if name in flags:
            member = flags[name]
        elif name in config.STATUSES:
            member = status == name
        else:
            member = category == name
        group[(group < 0) & member] = k
    return group


@dataclass(frozen=True)
class TierService:
    """How :func:`serve_tiers` served each group, per draw.

    Attributes
    ----------
    amounts : ndarray (D, n)
        What each applicant gets if it takes part.
    served : ndarray of int8 (D, groups)
        2 full, 1 partial (the money ran out in this group), 0 nothing left.
    fraction : ndarray (D, groups)
        Share of the group's amount served.
    amount_cents : ndarray (D, groups)
        The group's amount (participation-weighted).
    left : ndarray (D,)
        What is left after the last group.
    """

    amounts: np.ndarray
    served: np.ndarray
    fraction: np.ndarray
    amount_cents: np.ndarray
    left: np.ndarray

    def info(self, d: int = 0) -> list[dict[str, Any]]:
        """The groups of draw ``d`` as JSON-able dicts (``served``, ``fraction``, ``amount_cents``)."""
        names = {2: "full", 1: "partial", 0: "none"}
        return [{"served": names[int(self.served[d, g])], "fraction": float(self.fraction[d, g]),
                 "amount_cents": float(self.amount_cents[d, g])} for g in range(self.served.shape[1])]


def serve_tiers(amount: Any, group: Any, n_groups: int, total: Any, participation: Any, *,
                compact: bool = True) -> TierService:
    """Serve the groups in order: each gets its amount in full while the money lasts, pro rata where it runs out.

    Parameters
    ----------
    amount : array_like (n,) or (D, n)
        Cents each applicant of a group asks for.
    group : array_like of int, (n,) or (D, n)
        Group index of each applicant (-1: none).
    n_groups : int
    total : float or array_like (D,)
        Cents to distribute.
    participation : array_like
        Weight of each applicant in a group's amount (1 / 0, or a probability for the uptake model).
    compact : bool
        How the sums over applicants are taken (:func:`waterfill`).

    Returns
    -------
    TierService
    """
    shape = np.broadcast_shapes(np.shape(amount), np.shape(group), np.shape(participation))
    shape2 = (1, shape[-1]) if len(shape) == 1 else tuple(shape)
    A = _rows(amount, shape2)
    G = np.broadcast_to(np.asarray(group), shape2)
    P = _rows(participation, shape2)  # booleans become 0.0 / 1.0
    n_draws = shape2[0]
    left = np.array(np.broadcast_to(np.asarray(total, dtype=np.float64), (n_draws,)))
    x = np.zeros(shape2)
    served = np.zeros((n_draws, n_groups), dtype=np.int8)
    fraction = np.zeros((n_draws, n_groups))
    need_all = np.zeros((n_draws, n_groups))
    for g in range(n_groups):
        m = G == g
        need = _row_dots(P, A, m, compact)
        full = need <= left
        part = ~full & (left > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(part, left / np.where(part, need, 1.0), 0.0)
        x = np.where(m & full[:, None], A, x)  # the groups are disjoint: x is 0 on m before
        if part.any():
            x = np.where(m & part[:, None], A * f[:, None], x)
        served[:, g] = np.where(full, 2, np.where(part, 1, 0))
        fraction[:, g] = np.where(full, 1.0, f)
        need_all[:, g] = need
        left = np.where(full, left - need, np.where(part, 0.0, left))
    return TierService(x, served, fraction, need_all, left)


# ==============================================================================================================
# Rule amounts
# ==============================================================================================================


def demand_cents(it: Any, cyber: Any, match_rate: float, max_share: float, n_years: int) -> np.ndarray:
    """``match_rate × min(cyber, max_share × it) × n_years``, in cents (``matching``; tier amount ``demand``)."""
    counted = np.minimum(cyber, max_share * np.asarray(it, dtype=np.float64))
    return match_rate * counted * n_years * 100.0


def need_cents(it: Any, cyber: Any, target_share: float, n_years: int) -> np.ndarray:
    """``max(0, target_share × it − cyber) × n_years``, in cents (``gap``; tier amount ``need``)."""
    return np.maximum(0.0, target_share * np.asarray(it, dtype=np.float64) - cyber) * n_years * 100.0


def forfait_cents(values: Any, bands: tuple[tuple[float, float, float], ...]) -> np.ndarray:
    """The forfait of each applicant: the cents of the band ``[low, high)`` its value falls in, 0 in none.

    Examples
    --------
    >>> forfait_cents([0, 499, 500, 5000], ((0, 500, 100.0), (500, 2000, 300.0))).tolist()
    [100.0, 100.0, 300.0, 0.0]
    """
    v = np.asarray(values, dtype=np.float64)
    out = np.zeros(v.shape)
    for low, high, cents in bands:
        out = np.where((v >= low) & (v < high), cents, out)
    return out


def tier_amount_cents(params: PolicyParameters, it: Any, cyber: Any) -> np.ndarray:
    """What serves an applicant "fully" under ``tiered``: its need, its demand or ``cap_eur``, capped by
    ``cap_eur`` (cents)."""
    cap = params.cap_cents
    if params.tier_amount == "need":
        amount = need_cents(it, cyber, params.target_share, params.n_years)
    elif params.tier_amount == "demand":
        amount = demand_cents(it, cyber, params.match_rate, params.max_share, params.n_years)
    else:
        amount = np.full(np.shape(it), cap)
    return np.minimum(amount, cap)


def needs_cyber(params: PolicyParameters) -> bool:
    """Whether the rule reads the cyber spend (need, demand, or the base ``cyber_spend_eur``)."""
    if params.rule == "proportional":
        return params.base == "cyber_spend_eur"
    if params.rule == "tiered":
        return params.tier_amount in ("need", "demand")
    return params.rule in ("matching", "gap")


def rule_weights(params: PolicyParameters, it: Any, cyber: Any, base: Any = None, forfait: Any = None) -> tuple[
    np.ndarray, np.ndarray, np.ndarray
]:
    """``(floor, weight, cap)`` of a water-filling rule, in cents, broadcast to the shape of ``it``.

    Parameters
    ----------
    params : PolicyParameters
    it, cyber : array_like (n,) or (D, n)
        IT budget and cyber spend (euros a year, after uptake).
    base : array_like, optional
        The ``allocation.base`` column when it is neither ``it_budget_eur`` nor ``cyber_spend_eur`` (those
        two are taken from ``it`` and ``cyber``).
    forfait : array_like, optional
        Forfait cents of each applicant (:func:`forfait_cents`), for the ``forfait`` rule.
    """
    it = np.asarray(it, dtype=np.float64)
    shape = it.shape
    cap = np.broadcast_to(np.float64(params.cap_cents), shape)
    if params.rule == "proportional":
        if params.base == "it_budget_eur":
            weight = it
        elif params.base == "cyber_spend_eur":
            weight = np.broadcast_to(np.asarray(cyber, dtype=np.float64), shape)
        else:
            weight = _rows(base, shape)
        return np.broadcast_to(np.float64(params.floor_cents), shape), weight, cap
    if params.rule == "matching":
        w = demand_cents(it, cyber, params.match_rate, params.max_share, params.n_years)
    elif params.rule == "gap":
        w = need_cents(it, cyber, params.target_share, params.n_years)
    elif params.rule == "forfait":
        w = np.minimum(_rows(forfait, shape), cap)  # pro rata to the forfait capped by cap_eur, at most that
        return np.broadcast_to(np.float64(0.0), shape), w, w
    else:
        raise KeyError(params.rule)
    return np.broadcast_to(np.float64(0.0), shape), w, np.minimum(cap, w)


@dataclass(frozen=True)
class RuleResult:
    """What :func:`apply_rule` computes, per draw (arrays (D, n) or (D,)).

    Attributes
    ----------
    exact : ndarray (D, n)
        Exact amounts in cents before rounding, 0 where not eligible.
    weight : ndarray (D, n)
        The water-filling weight, or the tier amount under ``tiered``.
    floor : ndarray (D, n)
    limit : ndarray (D, n)
        The rule's cap (``inf`` where uncapped; ``min(cap_eur, w)`` for ``matching``, ``gap``, ``forfait``; the
        tier amount under ``tiered``, 0 outside the groups).
    lam : ndarray (D,)
        λ (NaN when everyone is capped, and under ``tiered``).
    all_capped : ndarray of bool (D,)
        The water-filling's "everyone capped" branch (``Σ cap <= envelope``); under ``tiered``, money left.
    everyone_capped : ndarray of bool (D,)
        Every eligible applicant is at its cap (within the rounding tolerance, :func:`at_caps`): what decides
        the cents handed out (:func:`handout_cents`).
    tiers : TierService or None
        Under ``tiered``.
    group : ndarray of int (D, n) or None
        Under ``tiered``: each eligible applicant's group (-1 in none or not eligible).
    """

    exact: np.ndarray
    weight: np.ndarray
    floor: np.ndarray
    limit: np.ndarray
    lam: np.ndarray
    all_capped: np.ndarray
    everyone_capped: np.ndarray
    tiers: TierService | None = None
    group: np.ndarray | None = None

    @property
    def cap(self) -> np.ndarray:
        """The cap each applicant is measured against: the rule's cap, its floor where its weight is 0."""
        if self.tiers is not None:
            return self.limit
        return np.where(self.weight > 0, self.limit, self.floor)


def apply_rule(
    params: PolicyParameters, it: Any, cyber: Any, eligible: Any, *, base: Any = None, tier_group: Any = None,
    forfait: Any = None, compact: bool = True,
) -> RuleResult:
    """The built-in rule ``params.rule`` for the eligible applicants, per draw.

    Parameters
    ----------
    params : PolicyParameters
    it, cyber : array_like (D, n)
        IT budget and cyber spend after uptake (euros a year); ``cyber`` may be None when the rule does not read
        it (:func:`needs_cyber`).
    eligible : array_like of bool (D, n)
    base, forfait : array_like, optional
        See :func:`rule_weights`.
    tier_group : array_like of int, optional
        :func:`tier_groups` of each applicant (``tiered``).
    compact : bool
        How the sums over applicants are taken (:func:`waterfill`): True for one table, False for a batch of draws.

    Returns
    -------
    RuleResult
    """
    it = np.atleast_2d(np.asarray(it, dtype=np.float64))
    cyber = None if cyber is None else np.atleast_2d(np.asarray(cyber, dtype=np.float64))
    eligible = np.atleast_2d(np.asarray(eligible, dtype=bool))
    if params.rule == "tiered":
        amount = tier_amount_cents(params, it, cyber)
        group = np.where(eligible, np.asarray(tier_group), -1)
        in_group = group >= 0
        service = serve_tiers(amount, group, len(params.tiers), float(params.envelope_cents), eligible,
                              compact=compact)
        exact = _keep(service.amounts, eligible & in_group, inplace=True)
        cap = _keep(amount, in_group)
        return RuleResult(exact, amount, np.zeros(it.shape), cap, np.full(it.shape[0], np.nan),
                          service.left > 0, at_caps(exact, cap, eligible), service, group)
    floor, weight, cap = rule_weights(params, it, cyber, base, forfait)
    wf = waterfill(floor, weight, cap, float(params.envelope_cents), eligible, compact=compact)
    zeroed = (not compact and params.cap_cents == math.inf and params.rule == "proportional"
              and not wf.all_capped.any())  # waterfill gave the participants' amounts only (0 elsewhere)
    exact = wf.amounts if zeroed else _keep(wf.amounts, eligible, inplace=True)
    if params.cap_cents == math.inf and params.rule == "proportional":
        # uncapped: an eligible applicant of positive weight is never at its (infinite) cap, one of weight 0
        # always is (at its floor)
        everyone = ~(eligible & (weight > 0)).any(axis=1)
    else:
        everyone = at_caps(exact, np.where(weight > 0, cap, floor), eligible)
    return RuleResult(exact, weight, floor, cap, wf.lam, wf.all_capped, everyone)


def expected_grants(
    params: PolicyParameters, it: Any, cyber: Any, participation: Any, *, base: Any = None, tier_group: Any = None,
    forfait: Any = None, compact: bool = True,
) -> np.ndarray:
    """The grant (float64 cents) each applicant would get if it took part, the others taking part with the
    probabilities ``participation`` (the logistic uptake model's ``G``), per draw.

    Same arguments as :func:`apply_rule` with ``participation`` (D, n) in place of ``eligible``.
    """
    it = np.atleast_2d(np.asarray(it, dtype=np.float64))
    cyber = np.atleast_2d(np.asarray(cyber, dtype=np.float64))
    p = np.atleast_2d(np.asarray(participation, dtype=np.float64))
    if params.rule == "tiered":
        amount = tier_amount_cents(params, it, cyber)
        return serve_tiers(amount, tier_group, len(params.tiers), float(params.envelope_cents), p,
                           compact=compact).amounts
    floor, weight, cap = rule_weights(params, it, cyber, base, forfait)
    return waterfill(floor, weight, cap, float(params.envelope_cents), p, compact=compact).amounts


def at_caps(exact: Any, cap: Any, eligible: Any) -> np.ndarray:
    """Per draw, whether every eligible applicant is at its cap (:func:`cyberbudget.money.reached`; true when
    nobody is eligible)."""
    exact = np.atleast_2d(np.asarray(exact, dtype=np.float64))
    cap = np.atleast_2d(np.asarray(cap, dtype=np.float64))
    eligible = np.atleast_2d(np.asarray(eligible, dtype=bool))
    return ~(eligible & ~reached(exact, cap)).any(axis=1)


def handout_cents(exact: Any, everyone_capped: Any, eligible: Any, envelope_cents: int) -> np.ndarray:
    """Cents handed out in each draw: the whole envelope, unless every eligible applicant is at its cap
    (:func:`at_caps`): then ``floor`` of the sum of the exact amounts (``math.fsum``), never more than the
    envelope.

    Returns
    -------
    ndarray of int64 (D,)
    """
    exact = np.atleast_2d(np.asarray(exact, dtype=np.float64))
    eligible = np.atleast_2d(np.asarray(eligible, dtype=bool))
    everyone_capped = np.atleast_1d(np.asarray(everyone_capped, dtype=bool))
    handout = np.full(exact.shape[0], int(envelope_cents), dtype=np.int64)
    for d in np.flatnonzero(everyone_capped).tolist():
        s = math.fsum(exact[d][eligible[d]])
        handout[d] = min(int(math.floor(s + tolerance(s))), int(envelope_cents))
    return handout


# ==============================================================================================================
# What the rules read from a table
# ==============================================================================================================


@dataclass(frozen=True)
class RuleInputs:
    """The per-applicant inputs of the built-in rules besides the IT budget and the cyber spend.

    Attributes
    ----------
    base : ndarray or None
        ``allocation.base`` when it is a column other than ``it_budget_eur`` / ``cyber_spend_eur`` (those two
        follow the drawn or raised values); None otherwise.
    tier_group : ndarray of int or None
        :func:`tier_groups` (``tiered``).
    forfait : ndarray or None
        :func:`forfait_cents` (``forfait``).
    """

    base: np.ndarray | None = None
    tier_group: np.ndarray | None = None
    forfait: np.ndarray | None = None


def base_values(table: pd.DataFrame, name: str, mask: np.ndarray | None = None, *,
                key: str = "allocation.base") -> np.ndarray:
    """The numeric column ``name`` of ``table`` (float64), checked ``>= 0`` and finite on the rows of ``mask``
    (``key``: the scenario key that names the column, for the messages).

    Raises
    ------
    AllocationError
        The column is missing, not numeric, or negative / missing on a row of ``mask`` (up to 5 rows named).
    """
    if name not in table.columns:
        raise AllocationError(
            f"column {name!r} not in the table",
            [Problem(f"{key}: {name}", f"expected a numeric column of the table, found no column {name!r}")],
        )
    try:
        values = pd.to_numeric(table[name], errors="raise").to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise AllocationError(
            f"column {name!r} is not numeric",
            [Problem(f"{key}: {name}", f"expected a numeric column, found {table[name].dtype}")],
        ) from None
    check = values if mask is None else values[mask]
    bad = ~np.isfinite(check) | (check < 0)
    if bad.any():
        rows = np.flatnonzero(mask)[bad] if mask is not None else np.flatnonzero(bad)
        fin = table["finess"].to_numpy()[rows[:5]]
        raise AllocationError(
            f"column {name!r} has negative or missing values",
            [Problem(f"table, finess {f}, column {name}", f"expected a number >= 0, found {values[r]!r}")
             for f, r in zip(fin, rows[:5], strict=True)],
        )
    return values


def rule_inputs(table: pd.DataFrame, params: PolicyParameters, mask: np.ndarray | None = None) -> RuleInputs:
    """The :class:`RuleInputs` of ``table`` (one row per applicant) under ``params``; the ``proportional`` base
    is checked on the rows of ``mask`` (:func:`base_values`)."""
    base = tier_group = forfait = None
    if params.rule == "proportional":
        values = base_values(table, params.base, mask)
        if params.base not in ("it_budget_eur", "cyber_spend_eur"):
            base = values
    elif params.rule == "tiered":
        tier_group = tier_groups(params.tiers, table["ose"].to_numpy(dtype=bool),
                                 table["ght_support"].to_numpy(dtype=bool), table["status"].to_numpy(),
                                 table["category"].to_numpy())
    elif params.rule == "forfait" and params.forfait_column is not None:
        forfait = forfait_cents(base_values(table, params.forfait_column, mask, key="allocation.forfait.column"),
                                params.forfait_bands)
    return RuleInputs(base, tier_group, forfait)
