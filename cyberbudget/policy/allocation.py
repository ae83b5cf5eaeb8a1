"""Allocation rules, water-filling and cent-exact rounding (DESIGN.md, "Allocation rules — exact semantics").

:func:`allocate` runs the whole policy on an establishment table: eligibility and uptake
(:func:`cyberbudget.policy.eligibility.assess`), then the scenario's rule, then the common rounding, then the split
across the envelope's years. Money is integer cents from the rounding on.

Rules
-----
Every built-in rule is a *water-filling*: eligible establishment ``i`` gets ``min(cap_i, floor_i + λ w_i)`` with
the single ``λ ≥ 0`` that makes the amounts sum to the envelope, or its cap when the caps sum to less than the
envelope ("everyone capped").

========================  ======================  =========================================  ======================
rule                      weight ``w``            cap                                        floor
========================  ======================  =========================================  ======================
``proportional``          ``allocation.base``     ``cap_eur`` (none when null)               ``floor_eur``
``matching``              demand                  ``min(demand, cap_eur)``                   0
``gap``                   need                    ``min(need, cap_eur)``                     0
``tiered``                groups in ``tiers`` order are served their amount in full, pro rata in the group
                          where the money runs out (amount = need, demand or ``cap_eur``, capped by ``cap_eur``)
========================  ======================  =========================================  ======================

with ``demand = match_rate × min(cyber, max_share × it) × n_years`` and
``need = max(0, target_share × it − cyber) × n_years`` (euros, turned into cents). Documented choices where
DESIGN.md is silent: ``floor_eur`` applies to ``proportional`` only (the scenario rejects it elsewhere); an
eligible row whose weight is 0 cannot absorb money and counts as capped at its floor; ``cap_eur`` also caps the
other rules; an eligible row in no group of ``tiers`` gets nothing.

Exactness
---------
Scenario euros become cents exactly (``Decimal(str(x)) * 100``). Amounts are computed in float64, vectorised,
in O(n log n) (one sort of the breakpoints ``(cap − floor) / w``). The rounding compares fractional remainders
with a tolerance ``1e-9 + 1e-13 × amount`` cents, far above float64 noise (about ``3e-15 × amount``), so float
noise never decides a tie: remainders within tolerance of 0 or 1 are snapped to the integer, and remainders
within tolerance of each other are ties, broken by ascending ``finess``. :func:`waterfill_exact` and
:func:`hamilton_exact` are the exact rational reference (:class:`fractions.Fraction`) the tests compare with.

Rounding (Hamilton / largest remainder): amounts floored to the cent; the cents left over go one each to the
largest remainders, ties by ascending ``finess``. The number of cents handed out is the envelope, except when
every eligible establishment is at its cap: then ``floor(sum of exact amounts)`` and the rest is unallocated.
Always ``sum(grant_cents) + unallocated_cents == envelope_cents``.

Rule registry
-------------
Other modules add rules with :func:`register_rule` (``optimize.py`` registers ``optimal``), so that this module
never imports the risk side. A rule is a function::

    rule(table, eligible, scenario, envelope_cents, n_years) -> RuleOutput

- ``table``: the establishment table after uptake (sorted by ``finess``, index 0..n-1, cyber spend raised
  for the establishments that complied);
- ``eligible``: bool ndarray (n,), who may receive money;
- ``scenario``: the :class:`~cyberbudget.policy.scenario.Scenario`;
- ``envelope_cents``: int, the envelope in cents; ``n_years``: int, ``len(scenario.envelope.years)``.

It returns a :class:`RuleOutput`: ``exact_cents`` (float64 (n,), exact amounts *before* rounding, 0 where not
eligible, sum ≤ envelope), ``cap_cents`` (float64 (n,), ``inf`` where uncapped; used for "everyone capped"
and for reasons), optional ``reasons`` (str per row, used for eligible rows), ``details`` (JSON-able, e.g.
``{"lambda": ...}``), ``explain`` (``i -> list[str]``, lines for :meth:`AllocationResult.explain`) and
``handout_cents`` (override of the number of cents handed out). The common Hamilton rounding and the year split
are applied by :func:`allocate`. An optional ``expected`` function ``(table, participation, scenario,
envelope_cents, n_years) -> float64 cents`` (the grant each row would get if it took part, others taking part
with the given probabilities) lets the logistic uptake model work with the rule.

Examples
--------
>>> import numpy as np
>>> hamilton(np.array([1.5, 1.5, 1.0]), 4, keys=np.array(["b", "a", "c"])).tolist()
[1, 2, 1]
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget import config
from cyberbudget.errors import AllocationError, Problem, ScenarioError
from cyberbudget.formatting import fmt_cents
from cyberbudget.money import (
    Rounding,
    hamilton,
    hamilton_exact,
    hamilton_rounding,
    reached,
    split_by_shares,
    tolerance,
)
from cyberbudget.policy import scenario as scenario_mod
from cyberbudget.policy.scenario import Scenario, envelope_cents, euros_to_cents

__all__ = [
    "AllocationResult",
    "RuleOutput",
    "WaterFill",
    "allocate",
    "expected_grants",
    "hamilton",
    "hamilton_exact",
    "register_rule",
    "registered_rules",
    "split_years",
    "waterfill",
    "waterfill_exact",
    "year_shares",
]

def fmt_cents_en(cents: float, decimals: int | None = None) -> str:
    """Cents in the English style of the internal texts (``2,000,000 €``; decimals only when needed)."""
    return fmt_cents(cents, "en", decimals)


def _pct_number(x: float) -> str:
    return f"{round(x * 100, 6):g}"


# ==============================================================================================================
# Water-filling
# ==============================================================================================================


@dataclass(frozen=True)
class WaterFill:
    """Result of :func:`waterfill`: amounts (float64 cents), the level λ (None when everyone is capped)."""

    amounts: np.ndarray
    lam: float | None
    all_capped: bool


def waterfill(
    floor: np.ndarray,
    weight: np.ndarray,
    cap: np.ndarray,
    total: float,
    participation: np.ndarray | None = None,
) -> WaterFill:
    """Amounts ``min(cap, floor + λ × weight)`` summing (weighted by participation) to ``total``.

    Parameters
    ----------
    floor, weight, cap : ndarray of float64
        Per row, in cents (weight in any unit ≥ 0); ``cap`` may be ``inf``; ``cap >= floor``.
    total : float
        Amount to distribute, in cents.
    participation : ndarray, optional
        Weight of each row in the budget constraint ``Σ p_i x_i = total`` (1 for a participant, 0 for a row
        that does not take part, a probability for the uptake model). Default: all 1.

    Returns
    -------
    WaterFill
        ``amounts[i]`` is what row ``i`` gets *if it takes part* (also for rows with participation 0).
        When ``Σ p × cap <= total`` everyone is capped (``lam`` None, amounts = caps). A row of weight 0 is
        capped at its floor.

    Raises
    ------
    AllocationError
        The floors alone exceed the total.

    Notes
    -----
    O(n log n): the breakpoints ``t_i = (cap_i − floor_i) / w_i`` are sorted; the constraint function is
    piecewise linear and increasing in λ, so the segment holding the solution is found by a search over the
    prefix sums, and λ is then recomputed from plain sums over the capped and uncapped sets.

    Examples
    --------
    >>> wf = waterfill(np.zeros(3), np.array([1.0, 1.0, 2.0]), np.array([10.0, np.inf, np.inf]), 100.0)
    >>> wf.amounts.tolist(), wf.lam
    ([10.0, 30.0, 60.0], 30.0)
    """
    floor = np.asarray(floor, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    cap = np.asarray(cap, dtype=np.float64)
    p = np.ones_like(floor) if participation is None else np.asarray(participation, dtype=np.float64)
    capx = np.where(weight > 0, cap, floor)
    floors_total = float(np.dot(p, floor))
    if floors_total > total + tolerance(total):
        raise AllocationError(
            f"the floors alone ({fmt_cents(floors_total, 'en')}) exceed the amount to share ({fmt_cents(total, 'en')})"
        )
    active = p > 0
    with np.errstate(invalid="ignore"):
        cap_total = float(np.sum(p[active] * capx[active]))
    if cap_total <= total:
        return WaterFill(capx.copy(), None, True)
    var = np.flatnonzero(active & (weight > 0))
    fixed_total = float(np.dot(p[active & ~(weight > 0)], floor[active & ~(weight > 0)]))
    total_v = total - fixed_total
    pv, fv, wv, cv = p[var], floor[var], weight[var], capx[var]
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
    lam = max(num / den, 0.0) if den > 0 else 0.0
    amounts = np.minimum(capx, floor + lam * weight)
    return WaterFill(amounts, lam, False)


def waterfill_exact(
    floor: list[Fraction], weight: list[Fraction], cap: list[Fraction | None], total: Fraction
) -> tuple[list[Fraction], Fraction | None]:
    """Exact rational reference of :func:`waterfill` (all participants; ``None`` cap = no cap).

    A plain, independent algorithm: start with nobody capped, compute λ, cap every row whose amount exceeds
    its cap, repeat until stable. Quadratic at worst; for tests and small tables.

    Returns
    -------
    amounts, lam
        Exact amounts and λ (None when everyone is capped).
    """
    n = len(floor)
    capx = [c if w > 0 else f for f, w, c in zip(floor, weight, cap, strict=True)]
    if sum(floor, Fraction(0)) > total:
        raise AllocationError("the floors alone exceed the amount to share")
    if all(c is not None for c in capx) and sum(capx, Fraction(0)) <= total:  # type: ignore[arg-type]
        return list(capx), None  # type: ignore[arg-type]
    capped = [w == 0 for w in weight]
    while True:
        rest = total - sum((capx[i] for i in range(n) if capped[i]), Fraction(0))  # type: ignore[misc]
        free = [i for i in range(n) if not capped[i]]
        rest -= sum((floor[i] for i in free), Fraction(0))
        wsum = sum((weight[i] for i in free), Fraction(0))
        lam = rest / wsum
        newly = [i for i in free if capx[i] is not None and floor[i] + lam * weight[i] > capx[i]]
        if not newly:
            break
        for i in newly:
            capped[i] = True
    amounts = [capx[i] if capped[i] else floor[i] + lam * weight[i] for i in range(n)]  # type: ignore[misc]
    return amounts, lam  # type: ignore[return-value]


# ==============================================================================================================
# Years
# ==============================================================================================================


def year_shares(scenario: Scenario) -> list[Fraction]:
    """Exact share of each envelope year (the schedule read as decimals, or ``1/n`` each)."""
    years = scenario.envelope.years
    if scenario.envelope.schedule is None:
        return [Fraction(1, len(years))] * len(years)
    return [Fraction(str(scenario.envelope.schedule[y])) for y in years]


def split_years(grant_cents: np.ndarray, shares: list[Fraction]) -> np.ndarray:
    """Split each grant across years by ``shares`` with Hamilton rounding, ties to the earlier year
    (:func:`cyberbudget.money.split_by_shares`).

    Examples
    --------
    >>> split_years(np.array([10, 3]), [Fraction(1, 3)] * 3).tolist()
    [[4, 3, 3], [1, 1, 1]]
    """
    return split_by_shares(grant_cents, shares)


# ==============================================================================================================
# Rules
# ==============================================================================================================


@dataclass(frozen=True)
class RuleOutput:
    """What a rule returns (see the module docstring): exact amounts before the common rounding."""

    exact_cents: np.ndarray
    cap_cents: np.ndarray
    details: dict[str, Any] = field(default_factory=dict)
    reasons: np.ndarray | None = None
    explain: Callable[[int], list[str]] | None = None
    handout_cents: int | None = None


RuleFunc = Callable[[pd.DataFrame, np.ndarray, Scenario, int, int], RuleOutput]
ExpectedFunc = Callable[[pd.DataFrame, np.ndarray, Scenario, int, int], np.ndarray]

_RULES: dict[str, RuleFunc] = {}
_EXPECTED: dict[str, ExpectedFunc] = {}


def register_rule(name: str, func: RuleFunc, expected: ExpectedFunc | None = None, replace: bool = False) -> None:
    """Make ``allocation.rule: <name>`` available (see "Rule registry" in the module docstring).

    Parameters
    ----------
    name : str
        Rule name as written in scenarios.
    func : callable
        ``func(table, eligible, scenario, envelope_cents, n_years) -> RuleOutput``.
    expected : callable, optional
        ``expected(table, participation, scenario, envelope_cents, n_years) -> float64 cents`` for the
        logistic uptake model.
    replace : bool
        Allow replacing an existing rule (default: a second registration under the same name is an error
        unless it is the same function).
    """
    if name in _RULES and _RULES[name] is not func and not replace:
        raise ValueError(f"rule {name!r} is already registered")
    _RULES[name] = func
    scenario_mod.KNOWN_RULES.add(name)
    if expected is not None:
        _EXPECTED[name] = expected


def registered_rules() -> tuple[str, ...]:
    """Names of the rules available to scenarios (plugins of ``config.RULE_PLUGINS`` included)."""
    return tuple(sorted(set(_RULES) | set(config.RULE_PLUGINS)))


def _ensure_rule(name: str) -> None:
    """Load the module that registers rule ``name`` if it is a plugin not yet imported (e.g. ``optimal``)."""
    if name not in _RULES and name in config.RULE_PLUGINS:
        importlib.import_module(config.RULE_PLUGINS[name])


def _money_cents(x: Any) -> float:
    return float(euros_to_cents(x))


def _cap_cents(scenario: Scenario) -> float:
    cap = scenario.allocation.cap_eur
    return math.inf if cap is None else _money_cents(cap)


def _column(table: pd.DataFrame, name: str, mask: np.ndarray | None = None) -> np.ndarray:
    if name not in table.columns:
        raise AllocationError(
            f"column {name!r} not in the table",
            [Problem(f"allocation.base: {name}", f"expected a numeric column of the table, found no column {name!r}")],
        )
    try:
        values = pd.to_numeric(table[name], errors="raise").to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise AllocationError(
            f"column {name!r} is not numeric",
            [Problem(f"allocation.base: {name}", f"expected a numeric column, found {table[name].dtype}")],
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


def _it_cyber(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return (table["it_budget_eur"].to_numpy(dtype=np.float64), table["cyber_spend_eur"].to_numpy(dtype=np.float64))


def _demand_cents(table: pd.DataFrame, scenario: Scenario, n_years: int) -> np.ndarray:
    it, cyber = _it_cyber(table)
    a = scenario.allocation
    counted = np.minimum(cyber, scenario.eligibility.max_share * it)
    return a.match_rate * counted * n_years * 100.0


def _need_cents(table: pd.DataFrame, scenario: Scenario, n_years: int) -> np.ndarray:
    it, cyber = _it_cyber(table)
    return np.maximum(0.0, scenario.allocation.target_share * it - cyber) * n_years * 100.0


def _spec(table: pd.DataFrame, scenario: Scenario, n_years: int, mask: np.ndarray | None) -> tuple[
    np.ndarray, np.ndarray, np.ndarray, str
]:
    """(floor, weight, cap, weight label) of a water-filling rule, for every row."""
    a = scenario.allocation
    n = len(table)
    cap = np.full(n, _cap_cents(scenario))
    if a.rule == "proportional":
        weight = _column(table, a.base, mask)
        return np.full(n, _money_cents(a.floor_eur)), weight, cap, a.base
    if a.rule == "matching":
        w = _demand_cents(table, scenario, n_years)
        return np.zeros(n), w, np.minimum(cap, w), "demand"
    if a.rule == "gap":
        w = _need_cents(table, scenario, n_years)
        return np.zeros(n), w, np.minimum(cap, w), "need"
    raise KeyError(a.rule)


def _tier_groups(table: pd.DataFrame, tiers: tuple[str, ...]) -> np.ndarray:
    """Index in ``tiers`` of each row's first group, -1 when in none."""
    group = np.full(len(table), -1, dtype=np.int64)
    for k, name in enumerate(tiers):
        if name in ("ose", "ght_support"):
            member = table[name].to_numpy(dtype=bool)
        elif name in config.STATUSES:
            member = (table["status"] == name).to_numpy(dtype=bool)
        else:
            member = (table["category"] == name).to_numpy(dtype=bool)
        group[(group < 0) & member] = k
    return group


def _tier_amount(table: pd.DataFrame, scenario: Scenario, n_years: int) -> np.ndarray:
    a = scenario.allocation
    cap = _cap_cents(scenario)
    if a.tier_amount == "need":
        amount = _need_cents(table, scenario, n_years)
    elif a.tier_amount == "demand":
        amount = _demand_cents(table, scenario, n_years)
    else:
        amount = np.full(len(table), cap)
    return np.minimum(amount, cap)


def _serve_tiers(amount: np.ndarray, group: np.ndarray, n_groups: int, total: float, p: np.ndarray) -> tuple[
    np.ndarray, list[dict[str, Any]], float
]:
    """Serve groups in order; returns amounts if taking part, per-group details, what is left."""
    x = np.zeros(len(amount))
    left = float(total)
    info = []
    for g in range(n_groups):
        m = group == g
        need = float(np.dot(p[m], amount[m]))
        if need <= left:
            x[m] = amount[m]
            info.append({"served": "full", "fraction": 1.0, "amount_cents": need})
            left -= need
        elif left > 0:
            f = left / need
            x[m] = amount[m] * f
            info.append({"served": "partial", "fraction": f, "amount_cents": need})
            left = 0.0
        else:
            info.append({"served": "none", "fraction": 0.0, "amount_cents": need})
    return x, info, left


def _expected_builtin(table: pd.DataFrame, participation: np.ndarray, scenario: Scenario, env: int, n_years: int) -> np.ndarray:
    if scenario.allocation.rule == "tiered":
        amount = _tier_amount(table, scenario, n_years)
        group = _tier_groups(table, scenario.allocation.tiers)
        x, _, _ = _serve_tiers(amount, group, len(scenario.allocation.tiers), float(env), participation)
        return x
    floor, weight, cap, _ = _spec(table, scenario, n_years, participation > 0)
    return waterfill(floor, weight, cap, float(env), participation).amounts


def _lookup(codes: np.ndarray, texts: list[str]) -> np.ndarray:
    arr = np.array(texts, dtype=object)
    return arr[codes]


def _rule_waterfill(table: pd.DataFrame, eligible: np.ndarray, scenario: Scenario, env: int, n_years: int) -> RuleOutput:
    a = scenario.allocation
    floor, weight, cap, label = _spec(table, scenario, n_years, eligible)
    p = eligible.astype(np.float64)
    n_el = int(eligible.sum())
    if a.rule == "proportional" and n_el * float(floor[0] if len(floor) else 0) > env:
        raise AllocationError(
            f"the floors exceed the envelope: {n_el} eligible establishments × "
            f"{fmt_cents_en(floor[0])} = {fmt_cents_en(n_el * floor[0])} > envelope {fmt_cents_en(env)}",
            [Problem(f"{scenario.source or '<scenario>'}: allocation.floor_eur", f"expected floors totalling at most the envelope "
                     f"({fmt_cents_en(env)}), found {n_el} × {fmt_cents_en(floor[0])}")],
        )
    wf = waterfill(floor * p, weight, cap, float(env), p)
    exact = np.where(eligible, wf.amounts, 0.0)
    capx = np.where(weight > 0, cap, floor)
    at_cap = eligible & reached(exact, capx)
    # reasons by code
    texts: list[str] = []
    code = np.zeros(len(table), dtype=np.int64)
    cap_c = _cap_cents(scenario)
    fraction = None
    if a.rule == "proportional":
        fl = float(floor[0]) if len(floor) else 0.0
        pro = f"floor {fmt_cents_en(fl)} + pro rata to {label}" if fl > 0 else f"pro rata to {label}"
        texts = [pro, f"capped at {fmt_cents_en(cap_c)}",
                 f"floor {fmt_cents_en(fl)} only ({label} = 0)" if fl > 0 else f"nothing: {label} = 0"]
        code[at_cap & reached(exact, cap_c)] = 1
        code[eligible & (weight <= 0)] = 2
        formula = f"exact = min(cap, floor + λ × {label})"
    else:
        what = "demand (match_rate × min(cyber, max_share × it) × n_years)" if a.rule == "matching" else (
            "need (max(0, target_share × it − cyber) × n_years)")
        short = "demand" if a.rule == "matching" else "need"
        if wf.lam is None:
            first = f"{a.rule}: full {short} met"
        else:
            fraction = wf.lam
            first = f"{a.rule}: {fraction * 100:.4g} % of {short} ({short}s exceed the envelope)"
        zero = (f"no need: cyber share already >= target {_pct_number(a.target_share)} %" if a.rule == "gap"
                else "no demand: no counted cyber spend")
        texts = [first, f"capped at {fmt_cents_en(cap_c)}", zero]
        code[eligible & reached(exact, cap_c) & (weight >= cap_c)] = 1
        code[eligible & (weight <= 0)] = 2
        formula = f"exact = min(cap_eur, {what} × fraction)" if a.cap_eur is not None else (
            f"exact = {what} × fraction (fraction = min(1, envelope / total {short}))")
    reasons = _lookup(code, texts)
    lam = wf.lam
    details: dict[str, Any] = {
        "formula": formula,
        "weight": label,
        "lambda": lam,
        "everyone_capped": wf.lam is None,
        "n_capped": int(at_cap.sum()),
        "floor_cents": float(floor[0]) if len(floor) else 0.0,
        "cap_cents": None if math.isinf(cap_c) else cap_c,
        "total_weight": float(np.dot(p, weight)),
    }
    if a.rule != "proportional":
        details["fraction"] = 1.0 if lam is None else lam

    def explain(i: int) -> list[str]:
        lines = [f"Rule {a.rule}: {formula}"]
        if a.rule == "proportional":
            lines.append(f"  base {label} = {weight[i]:,.2f}; floor {fmt_cents_en(floor[i])}; "
                         f"cap {'none' if math.isinf(cap[i]) else fmt_cents_en(cap[i])}")
            lines.append("  λ = " + ("none: every eligible establishment is capped" if lam is None else
                                     f"{lam:.10g} cents per unit of {label} (the single level at which the "
                                     f"amounts sum to the envelope)"))
        else:
            lines.append(f"  {short} = {weight[i] / 100:,.4f} € over {n_years} year(s); cap "
                         f"{'none' if math.isinf(cap_c) else fmt_cents_en(cap_c)}")
            lines.append(f"  fraction of {short} served = {1.0 if lam is None else lam:.10g}")
        lines.append(f"  at cap: {'yes' if at_cap[i] else 'no'}; total weight of eligible rows "
                     f"{details['total_weight']:,.2f}; {details['n_capped']} capped")
        return lines

    return RuleOutput(exact, capx, details, reasons, explain)


def _rule_tiered(table: pd.DataFrame, eligible: np.ndarray, scenario: Scenario, env: int, n_years: int) -> RuleOutput:
    a = scenario.allocation
    amount = _tier_amount(table, scenario, n_years)
    group = _tier_groups(table, a.tiers)
    group = np.where(eligible, group, -1)
    x, info, left = _serve_tiers(amount, group, len(a.tiers), float(env), eligible.astype(np.float64))
    exact = np.where(eligible & (group >= 0), x, 0.0)
    cap = np.where(group >= 0, amount, 0.0)
    texts: list[str] = []
    code = np.zeros(len(table), dtype=np.int64)
    for g, name in enumerate(a.tiers):
        d = info[g]
        if d["served"] == "full":
            texts.append(f"tier {g + 1} ({name}): {a.tier_amount} met in full")
        elif d["served"] == "partial":
            texts.append(f"tier {g + 1} ({name}): {d['fraction'] * 100:.4g} % of {a.tier_amount} "
                         f"(the envelope ran out in this tier)")
        else:
            texts.append(f"tier {g + 1} ({name}): nothing left after the higher tiers")
        code[group == g] = g
    texts.append(f"eligible but in no group of allocation.tiers ({', '.join(a.tiers)})")
    code[eligible & (group < 0)] = len(a.tiers)
    texts.append(f"no need: cyber share already >= target {_pct_number(a.target_share)} %")
    code[eligible & (group >= 0) & (amount <= 0)] = len(a.tiers) + 1
    reasons = _lookup(code, texts)
    details = {
        "tiers": [{"group": name, **info[g]} for g, name in enumerate(a.tiers)],
        "tier_amount": a.tier_amount,
        "left_after_tiers_cents": left,
        "everyone_capped": left > 0,
    }

    def explain(i: int) -> list[str]:
        g = int(group[i])
        lines = [f"Rule tiered: groups served in order {', '.join(a.tiers)}; amount = {a.tier_amount}"
                 + (f" capped at {fmt_cents_en(_cap_cents(scenario))}" if a.cap_eur is not None else "")]
        if g < 0:
            lines.append("  in no group: nothing")
            return lines
        d = info[g]
        lines.append(f"  group {g + 1} ({a.tiers[g]}): its amount {amount[i] / 100:,.4f} €; group total "
                     f"{d['amount_cents'] / 100:,.2f} €; served {d['served']} (fraction {d['fraction']:.10g})")
        return lines

    return RuleOutput(exact, cap, details, reasons, explain)


for _name in ("proportional", "matching", "gap"):
    register_rule(_name, _rule_waterfill, _expected_builtin)
register_rule("tiered", _rule_tiered, _expected_builtin)


def expected_grants(table: pd.DataFrame, participation: np.ndarray, scenario: Scenario) -> np.ndarray:
    """Exact grant (float64 cents) each row would get if it took part, others taking part with probability
    ``participation`` (used by the logistic uptake model of :mod:`cyberbudget.policy.eligibility`).

    Raises
    ------
    ScenarioError
        The scenario's rule has no expected-grant function.
    """
    rule = scenario.allocation.rule
    _ensure_rule(rule)
    func = _EXPECTED.get(rule)
    if func is None:
        raise ScenarioError(
            f"uptake.model logistic is not available with rule {rule}",
            [Problem("uptake.model", f"expected none or full with rule {rule} (it gives no expected grants), "
                     "found logistic")],
            source=scenario.source,
        )
    return func(table, np.asarray(participation, dtype=np.float64), scenario, envelope_cents(scenario),
                scenario.n_years)


# ==============================================================================================================
# allocate
# ==============================================================================================================

BREAKDOWNS: dict[str, str] = {"by_region": "region", "by_status": "status", "by_category": "category", "by_ght": "ght"}

RESULT_COLUMNS: tuple[str, ...] = (
    "finess", "eligible", "grant_cents", "grant_eur", "reason", "name", "region", "department", "status",
    "category", "ght", "ght_support", "ose", "beds", "places", "it_budget_eur", "cyber_spend_eur", "cyber_share",
    "induced_spend_eur", "exact_cents", "cyber_spend_before_eur", "complied", "uptake_probability",
)


def _breakdown(keys: pd.Series, cols: dict[str, np.ndarray], order: list[str] | None = None) -> dict[str, dict]:
    codes, uniq = pd.factorize(keys, sort=True)
    uniq = [str(u) for u in uniq]
    n_groups = len(uniq)
    sums = {c: np.bincount(codes, weights=v, minlength=n_groups) for c, v in cols.items()}
    counts = np.bincount(codes, minlength=n_groups)
    present = set(uniq)
    listing = [u for u in (order or []) if u in present] + [u for u in uniq if not order or u not in order]
    pos = {u: i for i, u in enumerate(uniq)}
    out: dict[str, dict] = {}
    for u in listing:
        i = pos[u]
        entry: dict[str, Any] = {"n_establishments": int(counts[i])}
        for c in cols:
            v = sums[c][i]
            entry[c] = int(round(v)) if c in ("n_eligible", "grant_cents", "n_complied") else float(v)
        out[u if u != "" else "no_ght"] = entry
    return out


@dataclass
class AllocationResult:
    """Result of :func:`allocate`.

    Attributes
    ----------
    table : DataFrame
        One row per establishment sorted by ``finess`` (columns :data:`RESULT_COLUMNS`).
    summary : dict
        JSON-able totals and breakdowns (see :func:`allocate`).
    by_year : DataFrame
        Grant cents per establishment (index ``finess``) and year (columns), int64.
    scenario : Scenario
    """

    table: pd.DataFrame
    summary: dict[str, Any]
    by_year: pd.DataFrame
    scenario: Scenario
    eligibility: Any
    rule_output: RuleOutput
    _rounding: Rounding
    _eligible_index: np.ndarray

    def explain(self, finess: str) -> str:
        """The whole computation for one establishment, as text (share, base, λ, cap, exact amount, rounding).

        Raises
        ------
        KeyError
            ``finess`` is not in the table.
        """
        fin = self.table["finess"].to_numpy()
        hits = np.flatnonzero(fin == str(finess))
        if not len(hits):
            raise KeyError(f"finess {finess!r} not in the table")
        i = int(hits[0])
        row = self.table.iloc[i]
        s = self.scenario
        el = s.eligibility
        lines = [
            f"Establishment {row['finess']} — {row['name']} (region {row['region']}, {row['status']}, "
            f"{row['category']}{', GHT ' + row['ght'] if row['ght'] else ''}{', OSE' if row['ose'] else ''})",
            f"Scenario {s.name}: envelope {fmt_cents_en(self.summary['envelope_cents'])} over "
            f"{s.n_years} year(s) {', '.join(map(str, s.envelope.years))}; rule {s.allocation.rule}",
            f"Eligibility: IT budget {row['it_budget_eur']:,.2f} €/yr, cyber spend "
            f"{row['cyber_spend_before_eur']:,.2f} €/yr → share "
            + ("n/a (no IT budget)" if not np.isfinite(row["cyber_share"]) else f"{row['cyber_share'] * 100:.4g} %")
            + f"; corridor {_pct_number(el.min_share)} %–{_pct_number(el.max_share)} %"
            + (" (above max excluded)" if el.exclude_above_max else ""),
            f"  → {self.eligibility.reason[i]}",
        ]
        if row["complied"]:
            lines.append(
                f"  uptake: cyber spend raised to {row['cyber_spend_eur']:,.2f} €/yr; induced spend "
                f"{row['induced_spend_eur']:,.2f} € over the period (probability {row['uptake_probability']:.4g})"
            )
        if not row["eligible"]:
            lines.append("Grant: 0 € (not eligible)")
            return "\n".join(lines)
        if self.rule_output.explain is not None:
            lines.extend(self.rule_output.explain(i))
        r = self._rounding
        j = int(np.searchsorted(self._eligible_index, i))
        exact = float(row["exact_cents"])
        cap = float(self.rule_output.cap_cents[i])
        lines.append(f"Exact amount: {exact:,.6f} cents" + ("" if math.isinf(cap) else f" (cap {cap:,.4f} cents)"))
        extra = int(r.grants[j] - r.floors[j])
        lines.append(
            f"Rounding (Hamilton): floor {int(r.floors[j]):,} cents, remainder {r.remainders[j]:.6f}; "
            f"{r.leftover:,} leftover cent(s) went to the largest remainders"
            + (f" (cut at {r.cut:.6f}, ties by ascending finess)" if r.cut is not None else "")
            + f" → {'+1 cent' if extra else 'no extra cent'}"
        )
        if self.summary["everyone_capped"]:
            lines.append("  every eligible establishment is capped: floor(sum of exact amounts) handed out, "
                         "the rest unallocated")
        lines.append(f"Grant: {fmt_cents(int(row['grant_cents']), 'en')} ({int(row['grant_cents']):,} cents) — {row['reason']}")
        years = self.by_year.iloc[i]
        lines.append("By year: " + "; ".join(f"{y} {fmt_cents(int(v), 'en')}" for y, v in years.items()))
        return "\n".join(lines)


def _sorted_table(table: pd.DataFrame) -> pd.DataFrame:
    fin = table["finess"]
    if fin.is_monotonic_increasing:
        values = fin.array
        if len(fin) < 2 or not bool((values[1:] == values[:-1]).any()):
            if isinstance(table.index, pd.RangeIndex) and table.index.start == 0 and table.index.step == 1:
                return table
            return table.reset_index(drop=True)
    if not fin.is_unique:
        dup = fin[fin.duplicated()].unique()[:5]
        raise AllocationError(
            "duplicate finess in the table",
            [Problem(f"table, column finess, value {d}", "expected unique finess, found duplicates") for d in dup],
        )
    return table.sort_values("finess", kind="stable").reset_index(drop=True)


def allocate(table: pd.DataFrame, scenario: Scenario) -> AllocationResult:
    """Eligibility, uptake, the scenario's rule, cent-exact rounding and the year split.

    Parameters
    ----------
    table : DataFrame
        The establishment table (DESIGN.md columns; validated by ``schema.validate_table``).
    scenario : Scenario

    Returns
    -------
    AllocationResult
        ``.summary`` holds ``envelope_cents``, ``allocated_cents``, ``unallocated_cents``,
        ``n_establishments``, ``n_eligible``, ``eligible_share``, ``n_years``, ``years``,
        ``year_totals_cents``, ``rule``, ``rule_details`` (λ ...), ``everyone_capped``, ``induced_spend_eur``
        (total extra cyber spend over the period), ``uptake`` (model, iterations, ...), and ``by_region``,
        ``by_status``, ``by_category``, ``by_ght`` (per group: ``n_establishments``, ``n_eligible``,
        ``grant_cents``, ``it_budget_eur``, ``cyber_spend_eur``, ``induced_spend_eur``).

    Raises
    ------
    AllocationError
        The floors exceed the envelope, the base column is missing or invalid.
    ScenarioError
        The rule is unknown.
    """
    from cyberbudget.policy import eligibility as eligibility_mod

    rule = scenario.allocation.rule
    _ensure_rule(rule)
    if rule not in _RULES:
        hint = ""
        raise ScenarioError(
            f"unknown allocation rule {rule!r}",
            [Problem(f"{scenario.source or '<scenario>'}: allocation.rule",
                     f"expected one of {', '.join(registered_rules())}{hint}, found {rule}")],
            source=scenario.source,
        )
    table = _sorted_table(table)
    env = envelope_cents(scenario)
    n_years = scenario.n_years
    elig = eligibility_mod.assess(table, scenario)
    after = elig.table
    eligible = np.asarray(elig.eligible, dtype=bool)
    out = _RULES[rule](after, eligible, scenario, env, n_years)
    exact = np.where(eligible, np.maximum(np.asarray(out.exact_cents, dtype=np.float64), 0.0), 0.0)
    if not np.all(np.isfinite(exact)):
        raise AllocationError(f"rule {rule} produced non-finite amounts")
    idx = np.flatnonzero(eligible)
    ex = exact[idx]
    cap = np.asarray(out.cap_cents, dtype=np.float64)[idx]
    everyone_capped = bool(len(idx) == 0 or np.all(reached(ex, cap)))
    if out.handout_cents is not None:
        handout = int(out.handout_cents)
    elif everyone_capped:
        s = math.fsum(ex)
        handout = int(math.floor(s + tolerance(s)))
    else:
        handout = env
    handout = min(handout, env)
    rounding = hamilton_rounding(ex, handout, idx)
    grants = np.zeros(len(after), dtype=np.int64)
    grants[idx] = rounding.grants
    years = split_years(grants, year_shares(scenario))
    reason = np.asarray(elig.reason, dtype=object).copy()
    if out.reasons is not None:
        reason[idx] = np.asarray(out.reasons, dtype=object)[idx]
    else:
        reason[idx] = f"allocated by rule {rule}"
    complied = np.asarray(elig.complied, dtype=bool) & eligible
    if complied.any():
        reason[complied] = reason[complied] + "; " + np.asarray(elig.reason, dtype=object)[complied]

    it = after["it_budget_eur"].to_numpy(dtype=np.float64)
    data: dict[str, Any] = {
        "finess": table["finess"].array,
        "eligible": eligible,
        "grant_cents": grants,
        "grant_eur": grants / 100.0,
        "reason": reason,
    }
    for c in ("name", "region", "department", "status", "category", "ght", "ght_support", "ose", "beds", "places",
              "it_budget_eur"):
        data[c] = table[c].array
    data["cyber_spend_eur"] = after["cyber_spend_eur"].to_numpy(dtype=np.float64)
    data["cyber_share"] = elig.share
    data["induced_spend_eur"] = elig.induced_spend_eur
    data["exact_cents"] = exact
    data["cyber_spend_before_eur"] = table["cyber_spend_eur"].to_numpy(dtype=np.float64)
    data["complied"] = elig.complied
    data["uptake_probability"] = elig.probability
    res = pd.DataFrame(data, copy=False)
    by_year = pd.DataFrame(years, columns=list(scenario.envelope.years), index=pd.Index(res["finess"].array, name="finess"))

    allocated = int(grants.sum())
    cols = {
        "n_eligible": eligible.astype(np.float64),
        "grant_cents": grants.astype(np.float64),
        "it_budget_eur": it,
        "cyber_spend_eur": res["cyber_spend_eur"].to_numpy(),
        "induced_spend_eur": np.asarray(elig.induced_spend_eur, dtype=np.float64),
    }
    orders = {"by_region": list(config.REGIONS), "by_status": list(config.STATUSES),
              "by_category": list(config.CATEGORIES), "by_ght": None}
    summary: dict[str, Any] = {
        "scenario": scenario.name,
        "rule": rule,
        "envelope_cents": env,
        "allocated_cents": allocated,
        "unallocated_cents": env - allocated,
        "n_establishments": len(res),
        "n_eligible": int(eligible.sum()),
        "eligible_share": float(eligible.mean()) if len(res) else 0.0,
        "n_years": n_years,
        "years": list(scenario.envelope.years),
        "year_totals_cents": {str(y): int(v) for y, v in zip(scenario.envelope.years, years.sum(axis=0), strict=True)},
        "everyone_capped": everyone_capped,
        "max_grant_cents": int(grants.max(initial=0)),
        "rule_details": _jsonable(out.details),
        "induced_spend_eur": float(np.sum(elig.induced_spend_eur)),
        "induced_spend_eur_per_year": float(np.sum(elig.induced_spend_eur)) / n_years,
        "uptake": _jsonable(elig.details),
        "rounding": {"handed_out_cents": handout, "leftover_cents": rounding.leftover},
    }
    for key, col in BREAKDOWNS.items():
        summary[key] = _breakdown(res[col], cols, orders[key])
    if summary["allocated_cents"] + summary["unallocated_cents"] != env or (grants < 0).any():
        raise AllocationError("internal error: the envelope is not conserved")  # pragma: no cover
    return AllocationResult(res, summary, by_year, scenario, elig, out, rounding, idx)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating | float):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, np.bool_):
        return bool(x)
    return x
