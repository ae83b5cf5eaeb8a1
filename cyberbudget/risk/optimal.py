"""The ``optimal`` allocation rule: the grants that maximise expected avoided loss.

The optimal rule
----------------
Among eligible establishments, choose grants ``g_i`` (euros over the whole envelope) that maximise the total
expected avoided loss ``Σ_i B_i(g_i)`` of the risk model (:class:`cyberbudget.risk.model.GrantBenefit`) subject to
``Σ g_i ≤ envelope`` and ``floor ≤ g_i ≤ cap``; ineligible establishments get nothing.

Each ``B_i`` is increasing and concave (Gordon–Loeb breach functions are convex and decreasing in the
investment), so the optimum is characterised by the Karush–Kuhn–Tucker conditions: there is a single
``μ ≥ 0``, the *marginal value of the last euro*, with

* ``B_i'(g_i) = μ`` for every establishment strictly between its floor and its cap,
* ``B_i'(g_i) ≤ μ`` at the floor, ``B_i'(g_i) ≥ μ`` at the cap,
* ``Σ g_i = envelope`` whenever ``μ > 0``.

For a given ``μ`` each grant is the closed-form inverse of the marginal (class I
``z = ((α β v L / μ)^(1/(β+1)) − 1) / α``, class II ``z = ln(−μ / (α v L ln v)) / (α ln v)``, with
``g = n (z − z0) / a``) clipped to ``[floor, cap]``; the total is non-increasing in ``μ``, and ``μ`` is found by
bisection (on ``log μ``, to adjacent floating-point numbers), every establishment at once. The last sliver is
interpolated between the two bracketing solutions so that the exact amounts sum to the envelope. When every
eligible establishment reaches its cap the caps are the answer and ``μ = 0``; when the remaining establishments
have no lever at all (``B_i' ≡ 0``: no IT budget, zero additionality), the rest is split equally among those
below their cap (water-filling) so that no money is left while someone can take it, as for every rule.

The exact amounts then go through the common cent rounding (Hamilton, ties by ascending ``finess``) that
:mod:`cyberbudget.policy.allocation` applies to every rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget.errors import AllocationError, Problem
from cyberbudget.formatting import fmt_cents
from cyberbudget.policy import allocation, eligibility
from cyberbudget.policy.registry import RuleOutput, register_rule
from cyberbudget.policy.rules import waterfill
from cyberbudget.policy.scenario import Scenario, euros_to_cents
from cyberbudget.risk.model import GrantBenefit, assess, grant_benefit

# --- optimal rule ---

#: Maximum number of bisection steps on log μ (each halves the bracket; 2,100 would reach any float64).
MAX_BISECTION_STEPS: int = 400


@dataclass(frozen=True)
class OptimalSolution:
    """Exact (unrounded) optimum of the expected-avoided-loss problem.

    Attributes
    ----------
    grant_eur : ndarray
        Exact grants in euros, one per row of the benefit (0 for inactive rows).
    mu : float
        Marginal value of the last euro: expected loss avoided by one more euro of envelope (0 when every
        eligible establishment is capped or nobody has a lever).
    binding : str
        ``"envelope"`` (the envelope is spent, interior μ), ``"caps"`` (everyone capped, money left),
        ``"floors"`` (floors use the whole envelope), ``"flat"`` (the rest went to rows without a lever) or
        ``"empty"`` (no eligible establishment).
    iterations : int
        Bisection steps.
    """

    grant_eur: np.ndarray
    mu: float
    binding: str
    iterations: int


def _equal_fill(remaining: float, room: np.ndarray) -> np.ndarray:
    """Split ``remaining`` equally among rows with ``room > 0``, none above its room (water-filling)."""
    out = np.zeros_like(room)
    idx = np.flatnonzero(room > 0)
    if remaining <= 0 or idx.size == 0:
        return out
    r = np.sort(room[idx])
    n = r.size
    # level x with Σ min(x, room) = remaining
    cum = np.concatenate(([0.0], np.cumsum(r)))
    for k in range(n):
        # rows k.. take x ≥ r[k-1]
        x = (remaining - cum[k]) / (n - k)
        if x <= r[k]:
            out[idx] = np.minimum(x, room[idx])
            return out
    out[idx] = room[idx]
    return out


def solve_optimal(
    benefit: GrantBenefit,
    envelope_eur: float,
    active: np.ndarray,
    lower_eur: Any = 0.0,
    upper_eur: Any = np.inf,
    participation: np.ndarray | None = None,
) -> OptimalSolution:
    """Maximise ``Σ p_i B_i(g_i)`` s.t. ``Σ p_i g_i ≤ envelope``, ``lower ≤ g_i ≤ upper`` on ``active`` rows.

    Parameters
    ----------
    benefit : GrantBenefit
        The concave benefit of each row (see :func:`cyberbudget.risk.model.grant_benefit`).
    envelope_eur : float
        Money to distribute (euros, ≥ 0).
    active : ndarray of bool
        Rows that may receive money (the eligible establishments).
    lower_eur, upper_eur : float or ndarray
        Floor and cap per row (euros; ``inf`` = no cap).
    participation : ndarray, optional
        Weight ``p_i`` of each active row in the budget (default 1): a probability of taking part for the
        logistic uptake model. A row with ``p_i = 0`` still gets the amount it would receive if it took part.

    Returns
    -------
    OptimalSolution

    Raises
    ------
    AllocationError
        The floors of the active rows exceed the envelope.
    """
    n = benefit.loss.shape[0]
    active = np.asarray(active, dtype=bool)
    p = active.astype(float) if participation is None else np.where(active, np.asarray(participation, float), 0.0)
    lo = np.broadcast_to(np.asarray(lower_eur, dtype=float), (n,)).copy()
    hi = np.broadcast_to(np.asarray(upper_eur, dtype=float), (n,)).copy()
    lo[~active] = 0.0
    hi[~active] = 0.0
    hi = np.maximum(hi, lo)
    envelope = float(envelope_eur)
    pos = p > 0

    def psum(x: np.ndarray) -> float:  # Σ p_i x_i over the rows that take part (0 x inf never arises)
        return float(np.dot(p[pos], x[pos]))

    if not active.any():
        return OptimalSolution(np.zeros(n), 0.0, "empty", 0)
    if not (p > 0).any():  # nobody else takes part: a row taking part alone gets the envelope, within its bounds
        return OptimalSolution(np.where(active, np.clip(envelope, lo, hi), 0.0), 0.0, "empty", 0)
    if psum(lo) > envelope * (1 + 1e-15):
        raise AllocationError(
            "the optimal rule cannot honour the floors",
            [Problem("allocation.floor_eur", f"expected floors summing to at most the envelope ({envelope:,.2f} €), "
                     f"found {psum(lo):,.2f} € over {int(active.sum())} eligible establishments")],
        )
    if psum(hi) <= envelope:
        return OptimalSolution(hi, 0.0, "caps", 0)
    if psum(lo) >= envelope:
        return OptimalSolution(lo, float(np.max(benefit.marginal(lo)[p > 0])), "floors", 0)

    def grants(mu: float) -> np.ndarray:
        g = np.clip(benefit.grant_at_marginal(mu), lo, hi)
        g[~active] = 0.0
        return g

    def room(g: np.ndarray) -> np.ndarray:
        return np.where(p > 0, (hi - g), 0.0)

    start = benefit.marginal(lo)[p > 0]
    mu_hi = float(np.max(start))
    if not (mu_hi > 0):  # nobody has a lever: equal split above the floors
        g = lo + _equal_fill(envelope - psum(lo), room(lo)) / np.where(p > 0, p, 1.0)
        return OptimalSolution(g, 0.0, "flat", 0)
    mu_hi = math.nextafter(mu_hi, math.inf) * (1 + 1e-12)  # at mu_hi everyone sits at the floor: Σ ≤ envelope
    mu_lo = mu_hi
    iterations = 0
    total_lo = psum(lo)
    while total_lo < envelope and mu_lo > 1e-300:  # widen the bracket downwards until Σ ≥ envelope
        mu_lo *= 1e-3
        total_lo = psum(grants(mu_lo))
        iterations += 1
    if total_lo < envelope:  # the rest goes to rows without a lever
        g = grants(mu_lo)
        g = g + _equal_fill(envelope - psum(g), room(g)) / np.where(p > 0, p, 1.0)
        return OptimalSolution(g, 0.0, "flat", iterations)
    for _ in range(MAX_BISECTION_STEPS):
        mid = math.sqrt(mu_lo) * math.sqrt(mu_hi)
        if not (mu_lo < mid < mu_hi):
            break
        iterations += 1
        if psum(grants(mid)) >= envelope:
            mu_lo = mid
        else:
            mu_hi = mid
    g_lo, g_hi = grants(mu_lo), grants(mu_hi)
    s_lo, s_hi = psum(g_lo), psum(g_hi)
    t = 0.0 if s_lo <= s_hi else (envelope - s_hi) / (s_lo - s_hi)
    g = g_hi + min(max(t, 0.0), 1.0) * (g_lo - g_hi)
    return OptimalSolution(g, math.sqrt(mu_lo) * math.sqrt(mu_hi), "envelope", iterations)


def kkt_violation(benefit: GrantBenefit, solution_eur: np.ndarray, mu: float, active: np.ndarray,
                  lower_eur: Any = 0.0, upper_eur: Any = np.inf, atol_eur: float = 0.01) -> dict[str, float]:
    """Largest relative violations of the KKT conditions at a candidate solution (for tests and reports).

    Returns
    -------
    dict
        ``interior`` max |B' − μ| / μ over rows strictly between floor and cap (by more than ``atol_eur``),
        ``at_floor`` max (B' − μ)⁺ / μ at the floor, ``at_cap`` max (μ − B')⁺ / μ at the cap (0 when empty).
    """
    n = benefit.loss.shape[0]
    active = np.asarray(active, dtype=bool)
    lo = np.broadcast_to(np.asarray(lower_eur, dtype=float), (n,))
    hi = np.broadcast_to(np.asarray(upper_eur, dtype=float), (n,))
    g = np.asarray(solution_eur, dtype=float)
    marg = benefit.marginal(g)
    scale = mu if mu > 0 else 1.0
    at_floor = active & (g <= lo + atol_eur)
    at_cap = active & (g >= hi - atol_eur) & ~at_floor
    interior = active & ~at_floor & ~at_cap

    def worst(x: np.ndarray) -> float:
        return float(x.max()) if x.size else 0.0

    return {
        "interior": worst(np.abs(marg[interior] - mu) / scale),
        "at_floor": worst(np.maximum(marg[at_floor] - mu, 0.0) / scale),
        "at_cap": worst(np.maximum(mu - marg[at_cap], 0.0) / scale),
    }


def _bounds_cents(scenario: Scenario, n: int) -> tuple[np.ndarray, np.ndarray]:
    a = scenario.allocation
    floor = float(euros_to_cents(a.floor_eur))
    cap = math.inf if a.cap_eur is None else float(euros_to_cents(a.cap_eur))
    return np.full(n, floor), np.full(n, cap)


def _exact_cents(sol: OptimalSolution, active: np.ndarray, lo: np.ndarray, hi: np.ndarray, env: int) -> np.ndarray:
    """Exact amounts in cents; when the envelope binds, the float residual (≪ 1 cent) goes to the row with most
    room so that the amounts sum to the envelope for the common rounding."""
    exact = np.where(active, sol.grant_eur * 100.0, 0.0)
    exact = np.clip(exact, np.where(active, lo, 0.0), np.where(active, hi, 0.0))
    if sol.binding in ("envelope", "flat"):
        residual = env - math.fsum(exact)
        room = np.where(active, (hi - exact) if residual > 0 else (exact - lo), 0.0)
        if residual != 0 and room.size and room.max() > abs(residual):
            exact[int(np.argmax(room))] += residual
    return exact


def proportional_exact_cents(table: pd.DataFrame, eligible: np.ndarray, scenario: Scenario, env: int) -> np.ndarray:
    """Exact (unrounded) cents of the ``proportional`` rule with the scenario's base, floor and cap (for the
    comparison the optimal rule reports)."""
    lo, hi = _bounds_cents(scenario, len(table))
    base = scenario.allocation.base
    if base not in table.columns:
        raise AllocationError(f"allocation.base: column {base!r} not in the table",
                              [Problem("allocation.base", f"expected a numeric column of the table, found {base!r}")])
    weight = np.where(eligible, table[base].to_numpy(dtype=float), 0.0)
    p = eligible.astype(float)
    wf = waterfill(lo * p, weight, np.maximum(hi, lo), float(env), p)
    return np.where(eligible, wf.amounts, 0.0)


def optimal_rule(
    table: pd.DataFrame, eligible: np.ndarray, scenario: Scenario, envelope_cents: int, n_years: int
) -> RuleOutput:
    """Rule ``optimal`` for :func:`cyberbudget.policy.allocation.allocate` (signature of the rule registry).

    Maximises the expected loss avoided over the envelope years (see the module docstring), on the table after
    uptake. ``details`` carries ``mu`` (marginal value of the last euro), ``binding``, ``iterations``,
    ``avoided_loss_eur`` and the same for ``proportional`` (``proportional_avoided_loss_eur``, ``gain_eur``,
    ``gain_ratio``), all over the envelope years, computed on exact amounts.
    """
    eligible = np.asarray(eligible, dtype=bool)
    env = int(envelope_cents)
    benefit = grant_benefit(table, scenario)
    lo, hi = _bounds_cents(scenario, len(table))
    sol = solve_optimal(benefit, env / 100.0, eligible, lo / 100.0, hi / 100.0)
    exact = _exact_cents(sol, eligible, lo, hi, env)
    avoided = benefit.avoided(exact / 100.0)
    prop = proportional_exact_cents(table, eligible, scenario, env)
    avoided_prop = benefit.avoided(prop / 100.0)
    tot, tot_prop = float(avoided[eligible].sum()), float(avoided_prop[eligible].sum())
    marginal = benefit.marginal(exact / 100.0)
    no_lever = eligible & (benefit.marginal(np.zeros(len(table))) <= 0)
    capped = eligible & (exact >= hi - 0.5)
    at_floor = eligible & ~capped & (exact <= lo + 0.5)
    code = np.zeros(len(table), dtype=np.int64)
    code[at_floor] = 1
    code[capped] = 2
    code[no_lever & ~capped] = 3
    cap_txt = "none" if math.isinf(hi[0]) else fmt_cents(hi[0], "en", None)
    texts = [
        f"optimal: marginal avoided loss equalised at {sol.mu:.4g} € per €",
        "optimal: floor only (its first euro avoids less than the marginal value "
        f"{sol.mu:.4g} € per €)" if lo[0] > 0 else f"optimal: nothing (its first euro avoids less than {sol.mu:.4g} € per €)",
        f"capped at {cap_txt}",
        "optimal: no lever (no IT budget or no additionality)",
    ]
    reasons = np.array(texts, dtype=object)[code]
    details: dict[str, Any] = {
        "formula": "max Σ B_i(g_i), Σ g_i ≤ envelope, floor ≤ g_i ≤ cap; B_i'(g_i) = μ between floor and cap",
        "mu": sol.mu,
        "binding": sol.binding,
        "iterations": sol.iterations,
        "breach_function": benefit.kind,
        "avoided_loss_eur": tot,
        "proportional_avoided_loss_eur": tot_prop,
        "gain_eur": tot - tot_prop,
        "gain_ratio": (tot / tot_prop) if tot_prop > 0 else None,
        "n_interior": int((eligible & ~capped & ~at_floor).sum()),
        "n_capped": int(capped.sum()),
        "n_at_floor": int(at_floor.sum()),
    }

    def explain(i: int) -> list[str]:
        return [
            "Rule optimal: maximise the expected loss avoided over the envelope years, B_i(g) = n L (S(z) − S(z + a g / n))",
            f"  Gordon–Loeb class {benefit.kind}: L = {benefit.loss[i]:,.2f} €/year, z = {benefit.investment[i]:,.2f} €/year "
            f"(cyber spend), α = {benefit.alpha[i]:.6g} per €, v = {benefit.vulnerability}, β = {benefit.beta}, "
            f"additionality {benefit.additionality}",
            f"  marginal value of the last euro μ = {sol.mu:.6g} € per € ({sol.binding} binding); this "
            f"establishment's marginal at its grant: {marginal[i]:.6g} € per €",
            f"  floor {fmt_cents(lo[i], 'en', None)}, cap {cap_txt}; exact amount {exact[i]:,.4f} cents; expected "
            f"loss avoided {avoided[i]:,.2f} € (proportional would give {prop[i] / 100:,.2f} € and avoid "
            f"{avoided_prop[i]:,.2f} €)",
        ]

    return RuleOutput(exact, np.where(eligible, hi, 0.0), details, reasons, explain)


def expected_optimal(
    table: pd.DataFrame, participation: np.ndarray, scenario: Scenario, envelope_cents: int, n_years: int
) -> np.ndarray:
    """Exact cents each row would get under ``optimal`` if it took part, the others taking part with the given
    probabilities (for the logistic uptake model): budget ``Σ p_i g_i = envelope``, same marginal rule."""
    n = len(table)
    benefit = grant_benefit(table, scenario)
    lo, hi = _bounds_cents(scenario, n)
    sol = solve_optimal(benefit, int(envelope_cents) / 100.0, np.ones(n, dtype=bool), lo / 100.0, hi / 100.0,
                        participation=np.asarray(participation, dtype=float))
    return sol.grant_eur * 100.0


register_rule("optimal", optimal_rule, expected_optimal)


def compare_rules(table: pd.DataFrame, scenario: Scenario, rules: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Allocate ``table`` under each rule (other settings of ``scenario`` unchanged) and assess the risk.

    ``rules`` defaults to the scenario's rule, ``optimal`` and ``proportional`` (each once).

    Returns
    -------
    DataFrame
        One row per rule: ``rule, allocated_eur, unallocated_eur, n_granted, expected_loss_before_eur,
        expected_loss_after_eur, avoided_grant_eur`` (annual), ``avoided_grant_eur_over_years``,
        ``avoided_per_euro``, ``marginal_value_max_eligible``.
    """
    if rules is None:
        rules = tuple(dict.fromkeys((scenario.allocation.rule, "optimal", "proportional")))
    rows = []
    for rule in rules:
        sc = scenario.model_copy(update={"allocation": scenario.allocation.model_copy(update={"rule": rule})})
        res = allocation.allocate(table, sc)
        risk = assess(res, sc)
        s = risk.summary
        rows.append({
            "rule": rule,
            "allocated_eur": res.summary["allocated_cents"] / 100.0,
            "unallocated_eur": res.summary["unallocated_cents"] / 100.0,
            "n_granted": s["n_granted"],
            "expected_loss_before_eur": s["expected_loss_before_eur"],
            "expected_loss_after_eur": s["expected_loss_after_eur"],
            "avoided_grant_eur": s["avoided_grant_eur"],
            "avoided_grant_eur_over_years": s["avoided_grant_eur_over_years"],
            "avoided_per_euro": s["avoided_per_euro"],
            "marginal_value_max_eligible": s["marginal_value_max_eligible"],
        })
    return pd.DataFrame(rows)


def envelope_curve(table: pd.DataFrame, scenario: Scenario, fractions: Any = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
                   ) -> pd.DataFrame:
    """Expected loss avoided and marginal value of the last euro as the envelope varies (others unchanged).

    Eligibility (and uptake) are computed once for the scenario's envelope; each point solves the optimal rule
    exactly (unrounded) for ``fraction x envelope`` and gives ``proportional`` for comparison.

    Returns
    -------
    DataFrame
        ``fraction, envelope_eur, optimal_avoided_eur, proportional_avoided_eur`` (over the envelope years) and
        ``mu`` (euros of expected loss avoided by one more euro).
    """
    el = eligibility.assess(table, scenario)
    t = el.table.reset_index(drop=True)
    elig = np.asarray(el.eligible, dtype=bool)
    benefit = grant_benefit(t, scenario)
    lo, hi = _bounds_cents(scenario, len(t))
    env0 = int(euros_to_cents(scenario.envelope.total_eur))
    rows: list[dict[str, float]] = []
    for f in np.asarray(fractions, dtype=float):
        env = int(round(env0 * f))
        if float(lo[0]) * int(elig.sum()) > env:  # the floors alone exceed this envelope
            continue
        sol = solve_optimal(benefit, env / 100.0, elig, lo / 100.0, hi / 100.0)
        prop = proportional_exact_cents(t, elig, scenario, env)
        rows.append({"fraction": float(f), "envelope_eur": env / 100.0,
                     "optimal_avoided_eur": float(benefit.avoided(sol.grant_eur)[elig].sum()),
                     "proportional_avoided_eur": float(benefit.avoided(prop / 100.0)[elig].sum()),
                     "mu": sol.mu})
    return pd.DataFrame(rows, columns=["fraction", "envelope_eur", "optimal_avoided_eur", "proportional_avoided_eur",
                                       "mu"])


__all__ = [
    "MAX_BISECTION_STEPS", "OptimalSolution", "compare_rules", "envelope_curve", "expected_optimal",
    "kkt_violation", "optimal_rule", "proportional_exact_cents", "solve_optimal",
]
