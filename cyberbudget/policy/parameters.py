"""The numbers of a scenario that the policy steps use, resolved once from a typed
:class:`~cyberbudget.policy.scenario.Scenario` (euros turned into cents, the logistic slope taken from the
reference data when null).

Both the exact path (:func:`cyberbudget.policy.allocation.allocate`) and the Monte Carlo path
(:mod:`cyberbudget.uncertainty.montecarlo`) read the scenario through :class:`PolicyParameters`: there is no
second reading of the scenario with its own defaults.

Examples
--------
>>> from cyberbudget.policy.scenario import load_scenario
>>> p = PolicyParameters.of(load_scenario({"name": "x", "envelope": {"total_eur": 10.5},
...                                          "allocation": {"cap_eur": 2}}))
>>> p.envelope_cents, p.cap_cents, p.floor_cents, p.n_years
(1050, 200.0, 0.0, 5)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cyberbudget.policy.scenario import Scenario, envelope_cents, euros_to_cents

__all__ = ["PolicyParameters"]


@dataclass(frozen=True)
class PolicyParameters:
    """Every parameter of the corridor, the uptake model and the allocation rule.

    Attributes
    ----------
    min_share, max_share, exclude_above_max, statuses, medico_social
        ``eligibility:``.
    rule, base, match_rate, target_share, tiers, tier_amount, unit
        ``allocation:``; ``floor_cents`` and ``cap_cents`` are ``floor_eur`` / ``cap_eur`` in cents (float64,
        ``cap_cents`` is ``inf`` when ``cap_eur`` is null); ``forfait_column`` and ``forfait_bands``
        (``(low, high, cents)`` per band) describe the ``forfait`` rule.
    envelope_cents, n_years
        The envelope in integer cents and its number of years.
    uptake_model, slope, midpoint, damping, tolerance, max_iterations
        ``uptake:``; ``slope`` is resolved (``data/reference/policy.yaml`` when null) for the logistic model and
        None otherwise.
    ose_obligation : bool
        ``ose.obligation: min_share``.
    seed : int
    """

    min_share: float
    max_share: float
    exclude_above_max: bool
    statuses: tuple[str, ...]
    medico_social: bool
    rule: str
    base: str
    floor_cents: float
    cap_cents: float
    match_rate: float
    target_share: float
    tiers: tuple[str, ...]
    tier_amount: str
    unit: str
    forfait_column: str | None
    forfait_bands: tuple[tuple[float, float, float], ...]
    envelope_cents: int
    n_years: int
    uptake_model: str
    slope: float | None
    midpoint: float
    damping: float
    tolerance: float
    max_iterations: int
    ose_obligation: bool
    seed: int

    @classmethod
    def of(cls, scenario: Scenario) -> PolicyParameters:
        """The parameters of a loaded scenario."""
        el, a, up = scenario.eligibility, scenario.allocation, scenario.uptake
        slope: float | None = None
        if up.model == "logistic":
            if up.slope is not None:
                slope = float(up.slope)
            else:
                from cyberbudget.data.reference import value

                slope = float(value("policy", "uptake.slope"))
        bands: tuple[tuple[float, float, float], ...] = ()
        column = None
        if a.forfait is not None:
            column = a.forfait.column
            bands = tuple((float(lo), math.inf if hi is None else float(hi), float(euros_to_cents(eur)))
                          for lo, hi, eur in a.forfait.bands)
        return cls(
            min_share=float(el.min_share), max_share=float(el.max_share), exclude_above_max=bool(el.exclude_above_max),
            statuses=tuple(el.statuses), medico_social=bool(el.medico_social),
            rule=a.rule, base=a.base, floor_cents=float(euros_to_cents(a.floor_eur)),
            cap_cents=math.inf if a.cap_eur is None else float(euros_to_cents(a.cap_eur)),
            match_rate=float(a.match_rate), target_share=float(a.target_share), tiers=tuple(a.tiers),
            tier_amount=a.tier_amount, unit=a.unit,
            forfait_column=column, forfait_bands=bands,
            envelope_cents=envelope_cents(scenario), n_years=scenario.n_years,
            uptake_model=up.model, slope=slope, midpoint=float(up.midpoint), damping=float(up.damping),
            tolerance=float(up.tolerance), max_iterations=int(up.max_iterations),
            ose_obligation=scenario.ose.obligation == "min_share", seed=int(scenario.seed),
        )
