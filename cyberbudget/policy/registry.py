"""The rule registry: which names ``allocation.rule`` may take and where each rule's code lives.

- The *built-in* rules (:data:`BUILTIN_RULES`) are defined once, on arrays, in :mod:`cyberbudget.policy.rules`;
  :func:`cyberbudget.policy.allocation.allocate` and the Monte Carlo simulation both call them.
- Other rules are functions of the establishment table, added with :func:`register_rule`. The plugins named in
  ``config.RULE_PLUGINS`` (``optimal`` → :mod:`cyberbudget.risk.optimal`) are imported on first use by
  :func:`lookup`, so that the policy layer never imports the risk layer.

:func:`rule_names` is what :mod:`cyberbudget.policy.scenario` validates ``allocation.rule`` against: the built-in
rules, the plugins and every registered name. This module sits at the bottom of the policy layer (it imports
only ``config`` and ``errors``); nothing here mutates another module.

A registered rule is called as ``func(table, eligible, scenario, envelope_cents, n_years) -> RuleOutput``:

- ``table``: the establishment table after uptake (sorted by ``finess``, index 0..n-1, cyber spend raised for
  the establishments that complied); under ``allocation.unit`` other than ``establishment``, one row per unit;
- ``eligible``: bool ndarray (n,), who may receive money;
- ``scenario``: the :class:`~cyberbudget.policy.scenario.Scenario`;
- ``envelope_cents``: int; ``n_years``: int, ``len(scenario.envelope.years)``.

It returns a :class:`RuleOutput`. An optional ``expected`` function ``(table, participation, scenario,
envelope_cents, n_years) -> float64 cents`` (the grant each row would get if it took part, the others taking
part with the given probabilities) lets the logistic uptake model work with the rule.

Examples
--------
>>> "proportional" in rule_names() and "optimal" in rule_names()
True
>>> is_builtin("tiered"), is_builtin("optimal")
(True, False)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cyberbudget import config

__all__ = [
    "BUILTIN_RULES", "ExpectedFunc", "RegisteredRule", "RuleFunc", "RuleOutput", "is_builtin", "lookup",
    "register_rule", "rule_names",
]

#: Rules computed on arrays by :mod:`cyberbudget.policy.rules` (exact path and Monte Carlo alike).
BUILTIN_RULES: tuple[str, ...] = ("proportional", "matching", "gap", "tiered", "forfait")


@dataclass(frozen=True)
class RuleOutput:
    """What a rule returns: exact amounts (float64 cents, before the common Hamilton rounding).

    Attributes
    ----------
    exact_cents : ndarray
        Exact amount per row, 0 where not eligible; the amounts sum to at most the envelope.
    cap_cents : ndarray
        Cap per row (``inf`` where uncapped): when every eligible row is at its cap, ``floor(sum of exact
        amounts)`` cents are handed out and the rest is unallocated.
    details : dict
        JSON-able details for the summary (e.g. ``{"lambda": ...}``).
    reasons : ndarray of str, optional
        Short reason per row, used for the eligible rows.
    explain : callable, optional
        ``i -> list[str]``, lines for :meth:`cyberbudget.policy.allocation.AllocationResult.explain`.
    handout_cents : int, optional
        Override of the number of cents handed out.
    """

    exact_cents: np.ndarray
    cap_cents: np.ndarray
    details: dict[str, Any] = field(default_factory=dict)
    reasons: np.ndarray | None = None
    explain: Callable[[int], list[str]] | None = None
    handout_cents: int | None = None


RuleFunc = Callable[..., RuleOutput]
ExpectedFunc = Callable[..., np.ndarray]


@dataclass(frozen=True)
class RegisteredRule:
    """A rule added with :func:`register_rule`: its function and, optionally, its expected-grant function."""

    name: str
    func: RuleFunc
    expected: ExpectedFunc | None = None


_REGISTERED: dict[str, RegisteredRule] = {}


def register_rule(name: str, func: RuleFunc, expected: ExpectedFunc | None = None, replace: bool = False) -> None:
    """Make ``allocation.rule: <name>`` available (signatures in the module docstring).

    Parameters
    ----------
    name : str
        Rule name as written in scenarios; not one of :data:`BUILTIN_RULES`.
    func : callable
        ``func(table, eligible, scenario, envelope_cents, n_years) -> RuleOutput``.
    expected : callable, optional
        ``expected(table, participation, scenario, envelope_cents, n_years) -> float64 cents`` for the
        logistic uptake model.
    replace : bool
        Allow replacing another function registered under the same name.

    Raises
    ------
    ValueError
        ``name`` is a built-in rule, or is already registered with another function and ``replace`` is false.
    """
    if name in BUILTIN_RULES:
        raise ValueError(f"rule {name!r} is built in (cyberbudget.policy.rules); choose another name")
    old = _REGISTERED.get(name)
    if old is not None and old.func is not func and not replace:
        raise ValueError(f"rule {name!r} is already registered")
    _REGISTERED[name] = RegisteredRule(name, func, expected)


def rule_names() -> tuple[str, ...]:
    """Every name ``allocation.rule`` may take: built-in, plugins of ``config.RULE_PLUGINS``, registered."""
    return tuple(sorted({*BUILTIN_RULES, *config.RULE_PLUGINS, *_REGISTERED}))


def is_builtin(name: str) -> bool:
    """True for the rules computed on arrays by :mod:`cyberbudget.policy.rules`."""
    return name in BUILTIN_RULES


def lookup(name: str) -> RegisteredRule | None:
    """The registered rule ``name``, importing its plugin module first if needed; None if unknown or built in."""
    if name not in _REGISTERED and name in config.RULE_PLUGINS:
        importlib.import_module(config.RULE_PLUGINS[name])
    return _REGISTERED.get(name)
