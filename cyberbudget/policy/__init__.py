"""The policy layer: typed scenarios, the 5–10 % corridor and uptake, allocation rules on arrays, cent-exact
rounding, explanations, the audit envelope and scenario diffs.

Official public API (re-exported here):

- :func:`load_scenario`, :class:`Scenario` — :mod:`cyberbudget.policy.scenario`;
- :func:`allocate`, :class:`AllocationResult` — :mod:`cyberbudget.policy.allocation` (the exact path);
- :class:`PolicyParameters` — the scenario's numbers the policy steps use (:mod:`cyberbudget.policy.parameters`);
- the policy steps on arrays, shared by the exact and the Monte Carlo paths: :func:`corridor_masks`,
  :func:`uptake` (:mod:`cyberbudget.policy.eligibility`), :func:`apply_rule`, :func:`expected_grants`,
  :func:`waterfill`, :func:`serve_tiers`, :func:`tier_groups`, :func:`handout_cents`
  (:mod:`cyberbudget.policy.rules`);
- the rule registry: :func:`register_rule`, :func:`rule_names`, :class:`RuleOutput`
  (:mod:`cyberbudget.policy.registry`).

It imports the data layer and the shared modules, never :mod:`cyberbudget.risk` or anything above: the
``optimal`` rule is reached through the rule registry (``config.RULE_PLUGINS``).
"""

from __future__ import annotations

from cyberbudget.policy.allocation import AllocationResult, allocate, registered_rules
from cyberbudget.policy.eligibility import EligibilityResult, assess, corridor_masks, uptake, uptake_uniforms
from cyberbudget.policy.parameters import PolicyParameters
from cyberbudget.policy.registry import RuleOutput, register_rule, rule_names
from cyberbudget.policy.rules import (
    apply_rule,
    expected_grants,
    handout_cents,
    serve_tiers,
    tier_groups,
    waterfill,
)
from cyberbudget.policy.scenario import Scenario, load_scenario

__all__ = [
    "AllocationResult", "EligibilityResult", "PolicyParameters", "RuleOutput", "Scenario", "allocate", "apply_rule",
    "assess", "corridor_masks", "expected_grants", "handout_cents", "load_scenario", "register_rule",
    "registered_rules", "rule_names", "serve_tiers", "tier_groups", "uptake", "uptake_uniforms", "waterfill",
]
