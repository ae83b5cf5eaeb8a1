"""Public path of the optimum: the ``optimal`` rule (:mod:`cyberbudget.risk.optimal`) and the parameter search
(:mod:`cyberbudget.uncertainty.search`)."""

from __future__ import annotations

from cyberbudget.risk.optimal import *  # noqa: F403
from cyberbudget.risk.optimal import __all__ as _optimal_all
from cyberbudget.uncertainty.search import *  # noqa: F403
from cyberbudget.uncertainty.search import __all__ as _search_all

__all__ = [*_optimal_all, *_search_all]
