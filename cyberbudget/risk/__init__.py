"""The risk layer: incident frequency × loss magnitude, Gordon–Loeb breach functions, and the ``optimal`` rule.

Public path (DESIGN.md, "Python API")::

    from cyberbudget.risk import gordon_loeb_optimum, assess
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
    gordon_loeb_optimum,
    grant_benefit,
    investment_at_marginal,
    magnitude_models,
    risk_parameters,
)

__all__ = [
    "KINDS", "GrantBenefit", "LognormalMagnitude", "PoissonFrequency", "RiskParameters", "RiskResult",
    "annual_loss_draws", "assess", "breach_marginal", "breach_probability", "establishment_risk",
    "expected_incidents", "gordon_loeb_optimum", "grant_benefit", "investment_at_marginal", "magnitude_models",
    "risk_parameters",
]
