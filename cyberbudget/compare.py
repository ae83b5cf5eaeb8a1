"""Public path of scenario comparison: the diff of two scenarios (:mod:`cyberbudget.policy.diff`)."""

from __future__ import annotations

from cyberbudget.policy.diff import *  # noqa: F403
from cyberbudget.policy.diff import __all__  # noqa: F401
