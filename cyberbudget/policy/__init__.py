"""The policy layer: typed scenarios, the 5–10 % corridor and uptake, allocation rules on arrays, cent-exact
rounding, explanations, the audit envelope and scenario diffs.

It imports the data layer and the shared modules, never :mod:`cyberbudget.risk` or anything above: the
``optimal`` rule is reached through the rule registry (:func:`cyberbudget.policy.allocation.register_rule`).
"""

from __future__ import annotations

from cyberbudget.policy.allocation import AllocationResult, allocate, register_rule, registered_rules
from cyberbudget.policy.scenario import Scenario, load_scenario

__all__ = ["AllocationResult", "Scenario", "allocate", "load_scenario", "register_rule", "registered_rules"]
