"""Public path of scenario comparison: the diff of two scenarios (:mod:`cyberbudget.policy.diff`), and the tidy
tables of a batch of many scenarios (:func:`load_batch`, :mod:`cyberbudget.reports.store`)."""

from __future__ import annotations

from cyberbudget.policy.diff import *  # noqa: F403
from cyberbudget.policy.diff import __all__ as _diff_all
from cyberbudget.reports.store import BatchTables, load_batch

__all__ = [*_diff_all, "BatchTables", "load_batch"]
