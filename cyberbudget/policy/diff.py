"""Scenario diff: what changes between two scenarios, in parameters and in results (``cyberbudget diff``).

:func:`diff` allocates both scenarios on the same table and returns a :class:`ScenarioDiff`: the parameter
differences (resolved values, by key path; ``name``, ``description`` and ``extends`` say which scenario it is,
not what it does, and are left out), then the result differences — eligible count, and the change in eligibility
split by cause (for the establishments eligible in A but not in B, the first test of B's corridor they fail:
threshold, ceiling, status or medico-social filter, no IT budget; and the reverse), allocated and unallocated
cents, induced spend, allocation by region, status and category, and the establishments that gain or lose most. ``to_text()`` is what the command line prints; ``to_dict()`` is JSON-able.

The gainers and losers list establishments with their grant change: this is an internal working output (like
``allocation.csv``), not a published one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget import config
from cyberbudget.formatting import fmt_cents
from cyberbudget.policy.allocation import AllocationResult, allocate
from cyberbudget.policy.eligibility import CORRIDOR_TESTS, failed_test
from cyberbudget.policy.scenario import Scenario, load_scenario

__all__ = ["CHANGE_CAUSES", "DESCRIPTIVE_KEYS", "ScenarioDiff", "diff", "diff_paths", "eligibility_changes",
           "parameter_differences", "show_value"]

#: Keys left out of the parameter differences (they name or describe rather than parameterise).
DESCRIPTIVE_KEYS: frozenset[str] = frozenset({"name", "description", "extends"})
#: Causes of a change in eligibility: the corridor's tests, in order, then ``other`` (a row that passes every
#: test of the corridor yet changes, e.g. through a funding unit or uptake).
CHANGE_CAUSES: tuple[str, ...] = (*CORRIDOR_TESTS, "other")


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(d, dict):
        if not d and prefix:
            out[prefix] = {}
        for k, v in d.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict) and v:
                out.update(_flatten(v, path))
            else:
                out[path] = v
    return out


def parameter_differences(a: Scenario, b: Scenario) -> list[dict[str, Any]]:
    """Resolved parameters that differ, as ``[{"key": "allocation.rule", "a": ..., "b": ...}]`` sorted by key.

    A mapping replaced by ``null`` (or the reverse, e.g. ``envelope.schedule``) shows as one difference at the
    mapping's key.
    """
    fa, fb = _flatten(a.to_dict()), _flatten(b.to_dict())
    keys = sorted(set(fa) | set(fb))
    out = []
    for k in keys:
        if k.split(".")[0] in DESCRIPTIVE_KEYS:
            continue
        va, vb = fa.get(k, _Missing), fb.get(k, _Missing)
        if va != vb:
            out.append({"key": k, "a": None if va is _Missing else va, "b": None if vb is _Missing else vb})
    return out


class _MissingType:
    def __repr__(self) -> str:
        return "<absent>"


_Missing = _MissingType()


def _group_diff(ra: dict[str, dict], rb: dict[str, dict]) -> list[dict[str, Any]]:
    rows = []
    for k in list(ra) + [k for k in rb if k not in ra]:
        ga = ra.get(k, {}).get("grant_cents", 0)
        gb = rb.get(k, {}).get("grant_cents", 0)
        rows.append({
            "group": k, "a_cents": int(ga), "b_cents": int(gb), "delta_cents": int(gb - ga),
            "a_eligible": int(ra.get(k, {}).get("n_eligible", 0)), "b_eligible": int(rb.get(k, {}).get("n_eligible", 0)),
        })
    return rows


@dataclass
class ScenarioDiff:
    """Differences between scenario ``a`` and scenario ``b`` on the same table (see :func:`diff`)."""

    a: Scenario
    b: Scenario
    parameters: list[dict[str, Any]]
    totals: dict[str, dict[str, Any]]
    by_region: list[dict[str, Any]]
    by_status: list[dict[str, Any]]
    by_category: list[dict[str, Any]]
    gainers: list[dict[str, Any]]
    losers: list[dict[str, Any]]
    n_changed: int
    results: tuple[AllocationResult, AllocationResult] | None = field(default=None, repr=False)
    eligibility: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (no DataFrames)."""
        return {
            "a": {"name": self.a.name, "source": self.a.source},
            "b": {"name": self.b.name, "source": self.b.source},
            "parameters": self.parameters,
            "totals": self.totals,
            "by_region": self.by_region,
            "by_status": self.by_status,
            "by_category": self.by_category,
            "gainers": self.gainers,
            "losers": self.losers,
            "n_changed": self.n_changed,
            "eligibility": self.eligibility,
        }

    def to_text(self) -> str:
        """Plain-text report printed by ``cyberbudget diff``."""
        a, b = self.a.name, self.b.name
        lines = [f"Scenario diff: A = {a} ({self.a.source or 'dict'})  vs  B = {b} ({self.b.source or 'dict'})", ""]
        lines.append("Parameters")
        if not self.parameters:
            lines.append("  (identical)")
        width = max((len(p["key"]) for p in self.parameters), default=0)
        for p in self.parameters:
            lines.append(f"  {p['key']:<{width}}  {_show(p['a'])}  →  {_show(p['b'])}")
        lines += ["", "Results"]
        for key, t in self.totals.items():
            va, vb = t["a"], t["b"]
            if key.endswith("_cents"):
                lines.append(f"  {key[:-6]:<22} {fmt_cents(va, 'en'):>22}  {fmt_cents(vb, 'en'):>22}  "
                             f"Δ {_signed_eur(vb - va)}")
            elif key.endswith("_eur"):
                lines.append(f"  {key[:-4]:<22} {fmt_cents(va * 100, 'en'):>22}  {fmt_cents(vb * 100, 'en'):>22}  "
                             f"Δ {_signed_eur((vb - va) * 100)}")
            else:
                lines.append(f"  {key:<22} {va:>22,}  {vb:>22,}  Δ {vb - va:+,}")
        if self.eligibility:
            lines += ["", "Eligibility changes by cause (establishments; the first test of the corridor they fail)"]
            for side, what in (("lost", "eligible in A, not in B (test of B)"),
                               ("gained", "eligible in B, not in A (test of A)")):
                counts = self.eligibility.get(side, {})
                detail = ", ".join(f"{c} {n:,}" for c, n in counts.items() if n) or "none"
                lines.append(f"  {side:<7} {sum(counts.values()):>7,}  {what}: {detail}")
        for title, rows, names in (("By region", self.by_region, config.REGION_NAMES),
                                   ("By status", self.by_status, {}), ("By category", self.by_category, {})):
            lines += ["", f"{title} (grants, A → B)"]
            for r in rows:
                label = f"{r['group']} {names.get(r['group'], '')}".strip()
                lines.append(f"  {label:<34} {fmt_cents(r['a_cents'], 'en'):>20}  {fmt_cents(r['b_cents'], 'en'):>20}  "
                             f"Δ {_signed_eur(r['delta_cents'])}")
        for title, rows in (("Largest gains", self.gainers), ("Largest losses", self.losers)):
            lines += ["", f"{title} (establishments)"]
            if not rows:
                lines.append("  (none)")
            for r in rows:
                lines.append(f"  {r['finess']}  {r['name'][:40]:<40} {fmt_cents(r['a_cents'], 'en'):>18} → "
                             f"{fmt_cents(r['b_cents'], 'en'):>18}  Δ {_signed_eur(r['delta_cents'])}")
        lines += ["", f"{self.n_changed:,} establishment(s) with a different grant."]
        return "\n".join(lines)


def show_value(v: Any) -> str:
    """A parameter's value as written in a scenario file: ``null``, ``[public, private_nonprofit]``, ``0.05``.

    Examples
    --------
    >>> show_value(None), show_value(("public", "private_nonprofit")), show_value({2021: 0.5}), show_value(True)
    ('null', '[public, private_nonprofit]', '{2021: 0.5}', 'true')
    """
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(show_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {show_value(x)}" for k, x in v.items()) + "}"
    return str(v)


_show = show_value


def eligibility_changes(table: pd.DataFrame, a: Scenario, b: Scenario, eligible_a: Any,
                        eligible_b: Any) -> dict[str, dict[str, int]]:
    """Establishments whose eligibility changes from A to B, counted by cause.

    ``lost``: eligible under A, not under B, by the first test of B's corridor they fail; ``gained``: eligible under
    B, not under A, by the first test of A's corridor they fail (:func:`cyberbudget.policy.eligibility.failed_test`;
    ``other`` when the row passes every test, e.g. eligibility decided for its funding unit). Each side maps every
    cause of :data:`CHANGE_CAUSES` to a count (0 included).
    """
    ea, eb = np.asarray(eligible_a, dtype=bool), np.asarray(eligible_b, dtype=bool)
    out: dict[str, dict[str, int]] = {}
    for side, moved, scenario in (("lost", ea & ~eb, b), ("gained", eb & ~ea, a)):
        causes = failed_test(table, scenario)[moved]
        causes = np.where(causes == "", "other", causes)
        out[side] = {c: int((causes == c).sum()) for c in CHANGE_CAUSES}
    return out


def _signed_eur(cents: float) -> str:
    sign = "+" if cents > 0 else "−" if cents < 0 else "±"
    return sign + fmt_cents(abs(cents), 'en')


def _aligned(table: pd.DataFrame, finess: pd.Series) -> pd.DataFrame:
    """The input rows (spend before any uptake) in the order of an allocation table."""
    if table["finess"].astype(str).tolist() == finess.astype(str).tolist():
        return table
    return table.set_index(table["finess"].astype(str)).loc[finess.astype(str).tolist()].reset_index(drop=True)


def diff(a: Scenario, b: Scenario, table: pd.DataFrame, top: int = 10) -> ScenarioDiff:
    """Compare two scenarios on one establishment table.

    Parameters
    ----------
    a, b : Scenario
    table : DataFrame
        The establishment table both are allocated on.
    top : int
        How many gainers and losers to list.

    Returns
    -------
    ScenarioDiff
    """
    ra, rb = allocate(table, a), allocate(table, b)
    sa, sb = ra.summary, rb.summary
    totals = {}
    for key in ("envelope_cents", "allocated_cents", "unallocated_cents", "n_eligible", "induced_spend_eur",
                "max_grant_cents"):
        totals[key] = {"a": sa[key], "b": sb[key], "delta": sb[key] - sa[key]}
    ga = ra.table["grant_cents"].to_numpy()
    gb = rb.table["grant_cents"].to_numpy()
    delta = gb - ga
    fin = ra.table["finess"].to_numpy(dtype=object)
    names = ra.table["name"].to_numpy(dtype=object)

    def pick(idx: np.ndarray) -> list[dict[str, Any]]:
        return [{"finess": str(fin[i]), "name": str(names[i]), "a_cents": int(ga[i]), "b_cents": int(gb[i]),
                 "delta_cents": int(delta[i])} for i in idx]

    order_gain = np.lexsort((np.arange(len(delta)), -delta))
    order_loss = np.lexsort((np.arange(len(delta)), delta))
    gainers = pick([i for i in order_gain[:top] if delta[i] > 0])
    losers = pick([i for i in order_loss[:top] if delta[i] < 0])
    return ScenarioDiff(
        a=a, b=b,
        parameters=parameter_differences(a, b),
        totals=totals,
        by_region=_group_diff(sa["by_region"], sb["by_region"]),
        by_status=_group_diff(sa["by_status"], sb["by_status"]),
        by_category=_group_diff(sa["by_category"], sb["by_category"]),
        gainers=gainers, losers=losers,
        n_changed=int(np.count_nonzero(delta)),
        results=(ra, rb),
        eligibility=eligibility_changes(_aligned(table, ra.table["finess"]), a, b, ra.table["eligible"],
                                        rb.table["eligible"].to_numpy()),
    )


def diff_paths(a: str | Path, b: str | Path, data: str | Path | None = None, top: int = 10) -> ScenarioDiff:
    """:func:`diff` from two scenario files and a table path (default: the committed default table).

    Both scenario files are validated before the table is read; every problem raises an ``InputError``.
    """
    sa, sb = load_scenario(a), load_scenario(b)
    from cyberbudget.data.registry import load_establishments

    return diff(sa, sb, load_establishments(data), top=top)
