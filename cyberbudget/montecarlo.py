"""Public path of the Monte Carlo simulation (DESIGN.md, "Python API"): ``from cyberbudget.montecarlo import
simulate``. The implementation lives in :mod:`cyberbudget.uncertainty.montecarlo`."""

from __future__ import annotations

from cyberbudget.uncertainty.montecarlo import *  # noqa: F403
from cyberbudget.uncertainty.montecarlo import __all__  # noqa: F401
