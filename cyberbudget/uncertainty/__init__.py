"""The uncertainty layer: seeded, vectorised, chunked Monte Carlo; tornado and Sobol; the parameter search.

Official public API (re-exported here): :func:`simulate`, :class:`MonteCarloResult`, :func:`evaluate`,
:func:`prepare_inputs` (:mod:`cyberbudget.uncertainty.montecarlo`); :func:`tornado`, :func:`sobol`
(:mod:`cyberbudget.uncertainty.sensitivity`); :func:`grid_search`, :class:`SearchResult`
(:mod:`cyberbudget.uncertainty.search`). The Monte Carlo draws run the policy steps of :mod:`cyberbudget.policy`
on arrays, the same functions the exact allocation calls. Public paths :mod:`cyberbudget.montecarlo`,
:mod:`cyberbudget.sensitivity` and :mod:`cyberbudget.optimize` re-export them too.
"""

from __future__ import annotations

from cyberbudget.uncertainty.montecarlo import MonteCarloResult, evaluate, prepare_inputs, simulate
from cyberbudget.uncertainty.search import SearchResult, grid_search
from cyberbudget.uncertainty.sensitivity import SobolResult, sobol, tornado

__all__ = [
    "MonteCarloResult", "SearchResult", "SobolResult", "evaluate", "grid_search", "prepare_inputs", "simulate",
    "sobol", "tornado",
]
