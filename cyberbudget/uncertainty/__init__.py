"""The uncertainty layer: seeded, vectorised, chunked Monte Carlo; tornado and Sobol; the parameter search.

Public paths: :mod:`cyberbudget.montecarlo`, :mod:`cyberbudget.sensitivity` and :mod:`cyberbudget.optimize`
re-export what users need from here.
"""

from __future__ import annotations
