"""Public path of the sensitivity analysis (tornado, Sobol). The implementation lives in
:mod:`cyberbudget.uncertainty.sensitivity`."""

from __future__ import annotations

from cyberbudget.uncertainty.sensitivity import *  # noqa: F403
from cyberbudget.uncertainty.sensitivity import __all__  # noqa: F401
