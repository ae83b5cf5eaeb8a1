"""Parameter search: which ``min_share``, ``cap_eur`` and tier order do best, and the trade-off between them.

An explicit grid (the same exhaustive evaluation as ``scipy.optimize.brute`` with ``finish=None``) over
``eligibility.min_share`` x ``allocation.cap_eur`` (``None`` = no cap) x every order of ``allocation.tiers``
(``itertools.permutations``; only with ``rule: tiered``, otherwise the scenario's order). Each setting is
evaluated by the Monte Carlo model at the central value of every uncertain factor and without idiosyncratic
noise (:func:`cyberbudget.uncertainty.montecarlo.evaluate`: eligibility, uptake and the rule on arrays, whose totals
equal the cent-exact allocator's, expected annual risk). The best setting maximises the expected annual
avoided loss or minimises the unallocated money (ties: the first in grid order); the trade-off curve is the
Pareto front of the two (no other setting avoids at least as much loss with at most as much money left, and
strictly better on one).

The lead re-exports :func:`grid_search` from ``optimize.py`` (``optimize.grid_search``, docs/architecture.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget.errors import OptionError, Problem
from cyberbudget.money import euros_to_cents
from cyberbudget.policy.rules import base_values, tier_groups
from cyberbudget.policy.scenario import Scenario, as_scenario
from cyberbudget.policy.units import build_units, unit_table
from cyberbudget.uncertainty.montecarlo import evaluate, prepare_inputs

#: Default grid of ``min_share`` (shares of the IT budget).
DEFAULT_MIN_SHARES: tuple[float, ...] = (0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.10)
#: Default grid of ``cap_eur`` (euros over the envelope; None = no cap).
DEFAULT_CAPS: tuple[float | None, ...] = (None, 500_000, 1_000_000, 2_000_000, 5_000_000)

OBJECTIVES: dict[str, tuple[str, bool]] = {
    "avoided_loss": ("avoided_loss_eur", True),     # maximise
    "unallocated": ("unallocated_eur", False),       # minimise
}


@dataclass
class SearchResult:
    """Result of :func:`grid_search`.

    Attributes
    ----------
    grid : DataFrame
        Every setting evaluated: ``min_share, cap_eur`` (NaN = no cap), ``tiers`` (" > "-joined order),
        ``eligible``, ``allocated_eur``, ``unallocated_eur``, ``avoided_loss_eur``, ``expected_loss_eur``,
        ``induced_spend_eur``, ``pareto`` (bool).
    best : dict
        ``{"avoided_loss": row, "unallocated": row}`` (each a dict of the grid's columns).
    pareto : DataFrame
        The trade-off curve: the Pareto-optimal rows, sorted by ``unallocated_eur``.
    """

    grid: pd.DataFrame
    best: dict[str, dict[str, Any]]
    pareto: pd.DataFrame


def pareto_front(avoided: np.ndarray, unallocated: np.ndarray) -> np.ndarray:
    """Mask of the non-dominated points (maximise ``avoided``, minimise ``unallocated``).

    Examples
    --------
    >>> pareto_front(np.array([1.0, 2.0, 2.0, 0.5]), np.array([0.0, 1.0, 2.0, 0.0])).tolist()
    [True, True, False, False]
    """
    a = np.asarray(avoided, dtype=float)
    u = np.asarray(unallocated, dtype=float)
    order = np.lexsort((-a, u))  # by unallocated, then best avoided first
    keep = np.zeros(len(a), dtype=bool)
    best = -np.inf
    last_u = None
    for i in order:
        if a[i] > best:
            keep[i] = True
            best = a[i]
            last_u = u[i]
        elif a[i] == best and u[i] == last_u:
            keep[i] = False
    return keep


def _check_grid(min_shares: Sequence[float], caps: Sequence[float | None]) -> None:
    problems = []
    for x in min_shares:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not (0.0 <= float(x) <= 1.0):
            problems.append(Problem("min_shares", f"expected shares in [0, 1] (5 % is 0.05), found {x!r}"))
    for c in caps:
        if c is not None and (isinstance(c, bool) or not isinstance(c, (int, float)) or not float(c) > 0):
            problems.append(Problem("caps", f"expected caps in euros > 0 or None (no cap), found {c!r}"))
            continue
        if c is not None:
            try:
                euros_to_cents(c)
            except ValueError:
                problems.append(Problem("caps", f"expected caps in whole cents (at most 2 decimals), found {c!r}"))
    if not len(min_shares) or not len(caps):
        problems.append(Problem("min_shares, caps", "expected at least one value each"))
    if problems:
        raise OptionError(f"grid_search: {len(problems)} invalid grid value(s)", problems)


def grid_search(
    table: pd.DataFrame,
    scenario: Scenario,
    min_shares: Sequence[float] = DEFAULT_MIN_SHARES,
    caps: Sequence[float | None] = DEFAULT_CAPS,
    tier_orders: bool = True,
) -> SearchResult:
    """Evaluate every (min_share, cap, tier order) and find the best settings and the trade-off curve.

    Parameters
    ----------
    table : DataFrame
        The establishment table.
    scenario : Scenario
        The scenario whose other settings are kept (rule, envelope, uptake, risk...).
    min_shares : sequence of float
        Values of ``eligibility.min_share`` (``max_share`` is raised to ``min_share`` where it is lower).
    caps : sequence of float or None
        Values of ``allocation.cap_eur`` in euros; ``None`` = no cap.
    tier_orders : bool
        With ``rule: tiered``, try every order of ``allocation.tiers`` (n! orders).

    Returns
    -------
    SearchResult

    Examples
    --------
    >>> res = grid_search(table, scenario, min_shares=[0.04, 0.05], caps=[None, 1e6])   # doctest: +SKIP
    >>> res.best["avoided_loss"]["min_share"]                                            # doctest: +SKIP
    """
    _check_grid(min_shares, caps)
    scenario = as_scenario(scenario)
    base = prepare_inputs(table, scenario)
    policy = base.policy
    tiers = policy.tiers
    tiered = policy.rule == "tiered"
    orders: list[tuple[str, ...]] = (
        list(itertools.permutations(tiers)) if (tier_orders and tiered and tiers) else [tiers]
    )
    t = table.sort_values("finess", kind="stable").reset_index(drop=True)  # the order of ModelInputs
    if base.units is not None:  # the tier groups are the funding units'
        t = unit_table(t, build_units(t, policy.unit, base_values(t, policy.base)))
    memberships = {order: tier_groups(order, t["ose"].to_numpy(dtype=bool), t["ght_support"].to_numpy(dtype=bool),
                                      t["status"].to_numpy(), t["category"].to_numpy()) for order in orders} if tiered else {}
    theta = np.ones((1, len(base.parameters)))
    rows = []
    for order in orders:
        for ms in min_shares:
            for cap in caps:
                if tiered and policy.tier_amount == "cap" and cap is None:
                    continue
                pol = replace(policy, min_share=float(ms), max_share=max(policy.max_share, float(ms)),
                              cap_cents=np.inf if cap is None else float(euros_to_cents(cap)), tiers=order)
                if not tiered:
                    inp = replace(base, policy=pol)
                elif base.units is None:
                    inp = replace(base, policy=pol, tier_group=memberships[order])
                else:
                    inp = replace(base, policy=pol, units=replace(base.units, tier_group=memberships[order]))
                out = evaluate(inp, theta).per_draw
                rows.append({
                    "min_share": float(ms), "cap_eur": np.nan if cap is None else float(cap),
                    "tiers": " > ".join(order),
                    "eligible": int(out["eligible"][0]),
                    "allocated_eur": int(out["allocated_cents"][0]) / 100.0,
                    "unallocated_eur": int(out["unallocated_cents"][0]) / 100.0,
                    "avoided_loss_eur": float(out["avoided_loss_eur"][0]),
                    "expected_loss_eur": float(out["expected_loss_eur"][0]),
                    "induced_spend_eur": float(out["induced_spend_eur"][0]),
                })
    grid = pd.DataFrame(rows)
    grid["pareto"] = pareto_front(grid["avoided_loss_eur"].to_numpy(), grid["unallocated_eur"].to_numpy())
    best = {}
    for key, (col, maximise) in OBJECTIVES.items():
        values = grid[col].to_numpy()
        i = int(np.argmax(values) if maximise else np.argmin(values))
        best[key] = grid.iloc[i].to_dict()
    pareto = grid[grid["pareto"]].sort_values(["unallocated_eur", "avoided_loss_eur"], kind="stable")
    return SearchResult(grid, best, pareto.reset_index(drop=True))


__all__ = ["DEFAULT_CAPS", "DEFAULT_MIN_SHARES", "SearchResult", "grid_search", "pareto_front"]
