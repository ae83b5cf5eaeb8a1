"""The risk layer: incident frequency × loss magnitude, Gordon–Loeb breach functions, and the ``optimal`` rule.

Public path (DESIGN.md, "Python API")::

    from cyberbudget.risk import gordon_loeb_optimum, assess

Official public API: the names below from :mod:`cyberbudget.risk.model` (the Gordon–Loeb breach function is
defined once, :func:`gordon_loeb_breach`, and used by :func:`breach_probability` and the Monte Carlo
simulation). The ``optimal`` rule lives in :mod:`cyberbudget.risk.optimal`, registered with the policy layer's
rule registry when first used (re-exported by :mod:`cyberbudget.optimize`).
"""

from __future__ import annotations

from cyberbudget.risk.model import (
    KINDS,
    GrantBenefit,
    LognormalMagnitude,
    PoissonFrequency,
    RiskParameters,
    RiskResult,
    annual_loss_draws,
    assess,
    breach_marginal,
    breach_probability,
    establishment_risk,
    expected_incidents,
    gordon_loeb_breach,
    gordon_loeb_optimum,
    grant_benefit,
    investment_at_marginal,
    magnitude_models,
    risk_parameters,
)

__all__ = [
    "KINDS", "GrantBenefit", "LognormalMagnitude", "PoissonFrequency", "RiskParameters", "RiskResult",
    "annual_loss_draws", "assess", "breach_marginal", "breach_probability", "establishment_risk", "gordon_loeb_breach",
    "expected_incidents", "gordon_loeb_optimum", "grant_benefit", "investment_at_marginal", "magnitude_models",
    "risk_parameters",
]
