"""Allocation: the whole policy on an establishment table, to the cent (DESIGN.md, "Allocation rules — exact
semantics").

:func:`allocate` reads the table, then runs the policy steps, each defined once on arrays and shared with the
Monte Carlo simulation: the corridor and the uptake (:mod:`cyberbudget.policy.eligibility`), then the scenario's
rule (:mod:`cyberbudget.policy.rules` for the built-in rules, the rule registry
:mod:`cyberbudget.policy.registry` for the others, e.g. ``optimal``). It then applies the common cent rounding,
splits each grant across the envelope's years, and writes the reasons, the summary and the explanations. Money
is integer cents from the rounding on.

Rules
-----
Defined on arrays in :mod:`cyberbudget.policy.rules` (weights, caps, floors, tiers in its docstring):

- ``proportional``: ``min(cap, floor + λ × base)`` (water-filling);
- ``matching``: pro rata to ``demand = match_rate × min(cyber, max_share × it) × n_years``, capped at it;
- ``gap``: pro rata to ``need = max(0, target_share × it − cyber) × n_years``, capped at it;
- ``tiered``: groups in ``tiers`` order served their amount in full, pro rata where the money runs out;
- ``forfait``: a fixed amount per size band of a column, ``allocation.forfait: {column, bands: [[low, high,
  eur], ...]}`` (``low <= value < high``, ``high: null`` for no upper bound; bands increasing, without overlap;
  in no band, nothing). Each eligible applicant asks for the amount of its band (capped by ``cap_eur``); all are
  served in full when the envelope suffices (the rest unallocated), else each gets the same fraction of its
  forfait — tiered within one group. The amounts are euros over the whole envelope.
- any registered rule (``optimal``: :mod:`cyberbudget.risk.optimal`).

Funding units
-------------
``allocation.unit`` (DESIGN.md, "Units"; :mod:`cyberbudget.policy.units`): under ``legal_entity`` or ``ght`` the
policy — corridor, filters, uptake, floors, caps, the rule and the rounding, ties by ascending unit key — runs on
one row per unit (budgets and sizes summed over its members), and each unit's grant is then split among its
members pro rata to ``allocation.base`` with the same Hamilton rounding (ties by ascending ``finess``, equal
shares when their base sums to 0). A unit that takes up raises its members' spend so that the unit reaches
``min_share``, the induced spend spread pro rata to the members' IT budgets. ``result.table`` keeps one row per
establishment, with the unit key in column ``unit`` (right after ``reason``; the ``finess`` itself under
``establishment``) and the unit's eligibility and reason on each member; ``result.applicants`` holds the rows
of the units; ``summary["units"]`` counts them by status; :meth:`AllocationResult.explain` takes a site's
``finess``, a legal entity's FINESS or a GHT code.

Exactness
---------
Scenario euros become cents exactly (``Decimal(str(x)) * 100``). Amounts are computed in float64, vectorised,
in O(n log n) (one sort of the water-filling breakpoints). The rounding compares fractional remainders with a
tolerance ``1e-9 + 1e-13 × amount`` cents, far above float64 noise (about ``3e-15 × amount``), so float noise
never decides a tie: remainders within tolerance of 0 or 1 are snapped to the integer, and remainders within
tolerance of each other are ties, broken by ascending ``finess``. :func:`waterfill_exact` and
:func:`hamilton_exact` are the exact rational reference (:class:`fractions.Fraction`) the tests compare with.

Rounding (Hamilton / largest remainder): amounts floored to the cent; the cents left over go one each to the
largest remainders, ties by ascending ``finess``. The number of cents handed out is the envelope, except when
every eligible establishment is at its cap: then ``floor(sum of exact amounts)`` and the rest is unallocated
(:func:`cyberbudget.policy.rules.handout_cents`). Always
``sum(grant_cents) + unallocated_cents == envelope_cents``.

Rule registry
-------------
Rules other than the built-in ones are added with :func:`register_rule` (:mod:`cyberbudget.policy.registry`:
``optimal`` is registered by :mod:`cyberbudget.risk.optimal`, imported on first use), so that the policy layer
never imports the risk side. A registered rule receives the table after uptake and returns a
:class:`RuleOutput`; the common rounding and the year split are applied here.

Examples
--------
>>> import numpy as np
>>> hamilton(np.array([1.5, 1.5, 1.0]), 4, keys=np.array(["b", "a", "c"])).tolist()
[1, 2, 1]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget import config
from cyberbudget.errors import AllocationError, Problem, ScenarioError
from cyberbudget.formatting import fmt_cents
from cyberbudget.money import (
    Rounding,
    hamilton,
    hamilton_exact,
    hamilton_rounding,
    reached,
    split_by_shares,
)
from cyberbudget.policy import eligibility as eligibility_mod
from cyberbudget.policy import registry, rules
from cyberbudget.policy.parameters import PolicyParameters
from cyberbudget.policy.registry import RuleOutput, register_rule
from cyberbudget.policy.rules import WaterFill, waterfill
from cyberbudget.policy.scenario import Scenario
from cyberbudget.policy.units import Units, build_units, split_cents, split_shares, spread, unit_table

__all__ = [
    "AllocationResult",
    "RuleOutput",
    "WaterFill",
    "allocate",
    "hamilton",
    "hamilton_exact",
    "register_rule",
    "registered_rules",
    "split_years",
    "waterfill",
    "waterfill_exact",
    "year_shares",
]


def fmt_cents_en(cents: float, decimals: int | None = None) -> str:
    """Cents in the English style of the internal texts (``2,000,000 €``; decimals only when needed)."""
    return fmt_cents(cents, "en", decimals)


def _pct_number(x: float) -> str:
    return f"{round(x * 100, 6):g}"


def registered_rules() -> tuple[str, ...]:
    """Names of the rules available to scenarios (:func:`cyberbudget.policy.registry.rule_names`)."""
    return registry.rule_names()


# ==============================================================================================================
# Exact reference of the water-filling
# ==============================================================================================================


def waterfill_exact(
    floor: list[Fraction], weight: list[Fraction], cap: list[Fraction | None], total: Fraction
) -> tuple[list[Fraction], Fraction | None]:
    """Exact rational reference of :func:`waterfill` (all participants; ``None`` cap = no cap).

    A plain, independent algorithm: start with nobody capped, compute λ, cap every row whose amount exceeds
    its cap, repeat until stable. Quadratic at worst; for tests and small tables.

    Returns
    -------
    amounts, lam
        Exact amounts and λ (None when everyone is capped).
    """
    n = len(floor)
    capx = [c if w > 0 else f for f, w, c in zip(floor, weight, cap, strict=True)]
    if sum(floor, Fraction(0)) > total:
        raise AllocationError("the floors alone exceed the amount to share")
    if all(c is not None for c in capx) and sum(capx, Fraction(0)) <= total:  # type: ignore[arg-type]
        return list(capx), None  # type: ignore[arg-type]
    capped = [w == 0 for w in weight]
    while True:
        rest = total - sum((capx[i] for i in range(n) if capped[i]), Fraction(0))  # type: ignore[misc]
        free = [i for i in range(n) if not capped[i]]
        rest -= sum((floor[i] for i in free), Fraction(0))
        wsum = sum((weight[i] for i in free), Fraction(0))
        lam = rest / wsum
        newly = [i for i in free if capx[i] is not None and floor[i] + lam * weight[i] > capx[i]]
        if not newly:
            break
        for i in newly:
            capped[i] = True
    amounts = [capx[i] if capped[i] else floor[i] + lam * weight[i] for i in range(n)]  # type: ignore[misc]
    return amounts, lam  # type: ignore[return-value]


# ==============================================================================================================
# Years
# ==============================================================================================================


def year_shares(scenario: Scenario) -> list[Fraction]:
    """Exact share of each envelope year (the schedule read as decimals, or ``1/n`` each)."""
    years = scenario.envelope.years
    if scenario.envelope.schedule is None:
        return [Fraction(1, len(years))] * len(years)
    return [Fraction(str(scenario.envelope.schedule[y])) for y in years]


def split_years(grant_cents: np.ndarray, shares: list[Fraction]) -> np.ndarray:
    """Split each grant across years by ``shares`` with Hamilton rounding, ties to the earlier year
    (:func:`cyberbudget.money.split_by_shares`).

    Examples
    --------
    >>> split_years(np.array([10, 3]), [Fraction(1, 3)] * 3).tolist()
    [[4, 3, 3], [1, 1, 1]]
    """
    return split_by_shares(grant_cents, shares)


# ==============================================================================================================
# The built-in rules, with their reasons and explanations
# ==============================================================================================================


def _lookup(codes: np.ndarray, texts: list[str]) -> np.ndarray:
    arr = np.array(texts, dtype=object)
    return arr[codes]


_LABELS = {"matching": "demand", "gap": "need", "forfait": "forfait"}


def _rule_waterfill(table: pd.DataFrame, eligible: np.ndarray, scenario: Scenario, params: PolicyParameters,
                    inputs: rules.RuleInputs) -> RuleOutput:
    a = scenario.allocation
    env, n_years = params.envelope_cents, params.n_years
    n = len(table)
    label = a.base if a.rule == "proportional" else _LABELS[a.rule]
    n_el = int(eligible.sum())
    fl = params.floor_cents
    if a.rule == "proportional" and n_el * fl > env:
        raise AllocationError(
            f"the floors exceed the envelope: {n_el} eligible establishments × "
            f"{fmt_cents_en(fl)} = {fmt_cents_en(n_el * fl)} > envelope {fmt_cents_en(env)}",
            [Problem(f"{scenario.source or '<scenario>'}: allocation.floor_eur", f"expected floors totalling at most the envelope "
                     f"({fmt_cents_en(env)}), found {n_el} × {fmt_cents_en(fl)}")],
        )
    it = table["it_budget_eur"].to_numpy(dtype=np.float64)
    cyber = table["cyber_spend_eur"].to_numpy(dtype=np.float64)
    res = rules.apply_rule(params, it, cyber, eligible, base=inputs.base, forfait=inputs.forfait)
    exact, capx, weight, floor = res.exact[0], res.cap[0], res.weight[0], res.floor[0]
    lam = None if res.all_capped[0] else float(res.lam[0])
    p = eligible.astype(np.float64)
    at_cap = eligible & reached(exact, capx)
    cap_c = params.cap_cents
    cap = np.full(n, cap_c) if a.rule == "proportional" else np.minimum(cap_c, weight)
    # reasons by code
    texts: list[str] = []
    code = np.zeros(n, dtype=np.int64)
    fraction = None
    if a.rule == "proportional":
        pro = f"floor {fmt_cents_en(fl)} + pro rata to {label}" if fl > 0 else f"pro rata to {label}"
        texts = [pro, f"capped at {fmt_cents_en(cap_c)}",
                 f"floor {fmt_cents_en(fl)} only ({label} = 0)" if fl > 0 else f"nothing: {label} = 0"]
        code[at_cap & reached(exact, cap_c)] = 1
        code[eligible & (weight <= 0)] = 2
        formula = f"exact = min(cap, floor + λ × {label})"
    else:
        what = {"matching": "demand (match_rate × min(cyber, max_share × it) × n_years)",
                "gap": "need (max(0, target_share × it − cyber) × n_years)",
                "forfait": f"forfait (the amount of the band of {params.forfait_column})"}[a.rule]
        short = _LABELS[a.rule]
        if lam is None:
            first = f"{a.rule}: full {short} met"
        else:
            fraction = lam
            first = f"{a.rule}: {fraction * 100:.4g} % of {short} ({short}s exceed the envelope)"
        zero = {"gap": f"no need: cyber share already >= target {_pct_number(a.target_share)} %",
                "matching": "no demand: no counted cyber spend",
                "forfait": f"no forfait: {params.forfait_column} in no band of allocation.forfait"}[a.rule]
        texts = [first, f"capped at {fmt_cents_en(cap_c)}", zero]
        code[eligible & reached(exact, cap_c) & (weight >= cap_c)] = 1
        code[eligible & (weight <= 0)] = 2
        formula = f"exact = min(cap_eur, {what} × fraction)" if a.cap_eur is not None else (
            f"exact = {what} × fraction (fraction = min(1, envelope / total {short}))")
    reasons = _lookup(code, texts)
    details: dict[str, Any] = {
        "formula": formula,
        "weight": label,
        "lambda": lam,
        "everyone_capped": lam is None,
        "n_capped": int(at_cap.sum()),
        "floor_cents": float(floor[0]) if len(floor) else 0.0,
        "cap_cents": None if math.isinf(cap_c) else cap_c,
        "total_weight": float(np.dot(p, weight)),
    }
    if a.rule != "proportional":
        details["fraction"] = 1.0 if lam is None else lam

    def explain(i: int) -> list[str]:
        lines = [f"Rule {a.rule}: {formula}"]
        if a.rule == "proportional":
            lines.append(f"  base {label} = {weight[i]:,.2f}; floor {fmt_cents_en(floor[i])}; "
                         f"cap {'none' if math.isinf(cap[i]) else fmt_cents_en(cap[i])}")
            lines.append("  λ = " + ("none: every eligible establishment is capped" if lam is None else
                                     f"{lam:.10g} cents per unit of {label} (the single level at which the "
                                     f"amounts sum to the envelope)"))
        else:
            lines.append(f"  {short} = {weight[i] / 100:,.4f} € over {n_years} year(s); cap "
                         f"{'none' if math.isinf(cap_c) else fmt_cents_en(cap_c)}")
            lines.append(f"  fraction of {short} served = {1.0 if lam is None else lam:.10g}")
        lines.append(f"  at cap: {'yes' if at_cap[i] else 'no'}; total weight of eligible rows "
                     f"{details['total_weight']:,.2f}; {details['n_capped']} capped")
        return lines

    return RuleOutput(exact, capx, details, reasons, explain)


def _rule_tiered(table: pd.DataFrame, eligible: np.ndarray, scenario: Scenario, params: PolicyParameters,
                 inputs: rules.RuleInputs) -> RuleOutput:
    a = scenario.allocation
    it = table["it_budget_eur"].to_numpy(dtype=np.float64)
    cyber = table["cyber_spend_eur"].to_numpy(dtype=np.float64)
    res = rules.apply_rule(params, it, cyber, eligible, tier_group=inputs.tier_group)
    assert res.tiers is not None and res.group is not None
    exact, cap, amount, group = res.exact[0], res.cap[0], res.weight[0], res.group[0]
    info = res.tiers.info(0)
    left = float(res.tiers.left[0])
    texts: list[str] = []
    code = np.zeros(len(table), dtype=np.int64)
    for g, name in enumerate(a.tiers):
        d = info[g]
        if d["served"] == "full":
            texts.append(f"tier {g + 1} ({name}): {a.tier_amount} met in full")
        elif d["served"] == "partial":
            texts.append(f"tier {g + 1} ({name}): {d['fraction'] * 100:.4g} % of {a.tier_amount} "
                         f"(the envelope ran out in this tier)")
        else:
            texts.append(f"tier {g + 1} ({name}): nothing left after the higher tiers")
        code[group == g] = g
    texts.append(f"eligible but in no group of allocation.tiers ({', '.join(a.tiers)})")
    code[eligible & (group < 0)] = len(a.tiers)
    texts.append(f"no need: cyber share already >= target {_pct_number(a.target_share)} %")
    code[eligible & (group >= 0) & (amount <= 0)] = len(a.tiers) + 1
    reasons = _lookup(code, texts)
    details = {
        "tiers": [{"group": name, **info[g]} for g, name in enumerate(a.tiers)],
        "tier_amount": a.tier_amount,
        "left_after_tiers_cents": left,
        "everyone_capped": left > 0,
    }

    def explain(i: int) -> list[str]:
        g = int(group[i])
        lines = [f"Rule tiered: groups served in order {', '.join(a.tiers)}; amount = {a.tier_amount}"
                 + (f" capped at {fmt_cents_en(params.cap_cents)}" if a.cap_eur is not None else "")]
        if g < 0:
            lines.append("  in no group: nothing")
            return lines
        d = info[g]
        lines.append(f"  group {g + 1} ({a.tiers[g]}): its amount {amount[i] / 100:,.4f} €; group total "
                     f"{d['amount_cents'] / 100:,.2f} €; served {d['served']} (fraction {d['fraction']:.10g})")
        return lines

    return RuleOutput(exact, cap, details, reasons, explain)


def _builtin_rule(table: pd.DataFrame, eligible: np.ndarray, scenario: Scenario, params: PolicyParameters) -> RuleOutput:
    inputs = rules.rule_inputs(table, params, eligible)
    if params.rule == "tiered":
        return _rule_tiered(table, eligible, scenario, params, inputs)
    return _rule_waterfill(table, eligible, scenario, params, inputs)


# ==============================================================================================================
# allocate
# ==============================================================================================================

BREAKDOWNS: dict[str, str] = {"by_region": "region", "by_status": "status", "by_category": "category", "by_ght": "ght"}

RESULT_COLUMNS: tuple[str, ...] = (
    "finess", "eligible", "grant_cents", "grant_eur", "reason", "unit", "name", "region", "department", "status",
    "category", "ght", "ght_support", "ose", "beds", "places", "it_budget_eur", "cyber_spend_eur", "cyber_share",
    "induced_spend_eur", "exact_cents", "cyber_spend_before_eur", "complied", "uptake_probability",
)


def _breakdown(keys: pd.Series, cols: dict[str, np.ndarray], order: list[str] | None = None) -> dict[str, dict]:
    codes, uniq = pd.factorize(keys, sort=True)
    uniq = [str(u) for u in uniq]
    n_groups = len(uniq)
    sums = {c: np.bincount(codes, weights=v, minlength=n_groups) for c, v in cols.items()}
    counts = np.bincount(codes, minlength=n_groups)
    present = set(uniq)
    listing = [u for u in (order or []) if u in present] + [u for u in uniq if not order or u not in order]
    pos = {u: i for i, u in enumerate(uniq)}
    out: dict[str, dict] = {}
    for u in listing:
        i = pos[u]
        entry: dict[str, Any] = {"n_establishments": int(counts[i])}
        for c in cols:
            v = sums[c][i]
            entry[c] = int(round(v)) if c in ("n_eligible", "grant_cents", "n_complied") else float(v)
        out[u if u != "" else "no_ght"] = entry
    return out


@dataclass
class AllocationResult:
    """Result of :func:`allocate`.

    Attributes
    ----------
    table : DataFrame
        One row per establishment sorted by ``finess`` (columns :data:`RESULT_COLUMNS`).
    summary : dict
        JSON-able totals and breakdowns (see :func:`allocate`).
    by_year : DataFrame
        Grant cents per establishment (index ``finess``) and year (columns), int64.
    scenario : Scenario
    eligibility : EligibilityResult
        Per establishment (under a funding unit: the unit's eligibility on each of its rows, the members' spend
        after uptake).
    rule_output : RuleOutput
        The rule's output, per applicant (establishment or unit).
    units : Units or None
        The funding units (None under ``allocation.unit: establishment``).
    applicants : DataFrame
        Per applicant, the columns of ``table`` (under ``establishment`` the same frame as ``table``; under a
        unit one row per unit, ``finess`` being the unit key, plus ``members``).
    unit_eligibility : EligibilityResult
        Eligibility and uptake per applicant.
    split_weights : ndarray or None
        Under a funding unit, each establishment's ``allocation.base`` after uptake: the weights of the split.
    """

    table: pd.DataFrame
    summary: dict[str, Any]
    by_year: pd.DataFrame
    scenario: Scenario
    eligibility: Any
    rule_output: RuleOutput
    _rounding: Rounding
    _eligible_index: np.ndarray
    units: Units | None = None
    applicants: pd.DataFrame | None = None
    unit_eligibility: Any = None
    split_weights: np.ndarray | None = None

    def explain(self, key: str) -> str:
        """The whole computation for one establishment, as text (share, base, λ, cap, exact amount, rounding).

        Under a funding unit, ``key`` may be a site's ``finess``, a legal entity's FINESS or a GHT code: the text
        is the unit's computation followed by the split among its members.

        Raises
        ------
        KeyError
            ``key`` is neither a ``finess`` of the table nor a unit key.
        """
        key = str(key)
        if self.units is None:
            hits = np.flatnonzero(self.table["finess"].to_numpy() == key)
            if not len(hits):
                raise KeyError(f"finess {key!r} not in the table")
            return "\n".join(self._explain_applicant(int(hits[0])))
        u = self.units
        hits = np.flatnonzero(self.table["finess"].to_numpy() == key)
        if len(hits):
            row: int | None = int(hits[0])
            j = int(u.of_row[row])
        else:
            found = np.flatnonzero(u.keys == key)
            if not len(found):
                raise KeyError(f"{key!r} is neither a finess of the table nor a unit key ({u.kind})")
            row, j = None, int(found[0])
        return "\n".join(self._explain_applicant(j) + self._explain_split(j, row))

    def _explain_applicant(self, i: int) -> list[str]:
        apps = self.table if self.applicants is None else self.applicants
        elig = self.eligibility if self.unit_eligibility is None else self.unit_eligibility
        row = apps.iloc[i]
        s = self.scenario
        el = s.eligibility
        if self.units is None:
            head = (f"Establishment {row['finess']} — {row['name']} (region {row['region']}, {row['status']}, "
                    f"{row['category']}{', GHT ' + row['ght'] if row['ght'] else ''}{', OSE' if row['ose'] else ''})")
        else:
            m = int(row["members"])
            head = (f"Unit {row['finess']} ({self.units.kind}, {m} member{'s' if m > 1 else ''}) — {row['name']} "
                    f"(region {row['region']}, {row['status']}, {row['category']}"
                    f"{', GHT ' + row['ght'] if row['ght'] else ''}{', OSE' if row['ose'] else ''})")
        lines = [
            head,
            f"Scenario {s.name}: envelope {fmt_cents_en(self.summary['envelope_cents'])} over "
            f"{s.n_years} year(s) {', '.join(map(str, s.envelope.years))}; rule {s.allocation.rule}",
            f"Eligibility: IT budget {row['it_budget_eur']:,.2f} €/yr, cyber spend "
            f"{row['cyber_spend_before_eur']:,.2f} €/yr → share "
            + ("n/a (no IT budget)" if not np.isfinite(row["cyber_share"]) else f"{row['cyber_share'] * 100:.4g} %")
            + f"; corridor {_pct_number(el.min_share)} %–{_pct_number(el.max_share)} %"
            + (" (above max excluded)" if el.exclude_above_max else ""),
            f"  → {elig.reason[i]}",
        ]
        if row["complied"]:
            lines.append(
                f"  uptake: cyber spend raised to {row['cyber_spend_eur']:,.2f} €/yr; induced spend "
                f"{row['induced_spend_eur']:,.2f} € over the period (probability {row['uptake_probability']:.4g})"
            )
        if not row["eligible"]:
            lines.append("Grant: 0 € (not eligible)")
            return lines
        if self.rule_output.explain is not None:
            lines.extend(self.rule_output.explain(i))
        r = self._rounding
        j = int(np.searchsorted(self._eligible_index, i))
        exact = float(row["exact_cents"])
        cap = float(self.rule_output.cap_cents[i])
        lines.append(f"Exact amount: {exact:,.6f} cents" + ("" if math.isinf(cap) else f" (cap {cap:,.4f} cents)"))
        extra = int(r.grants[j] - r.floors[j])
        ties = "ascending finess" if self.units is None else "ascending unit key"
        lines.append(
            f"Rounding (Hamilton): floor {int(r.floors[j]):,} cents, remainder {r.remainders[j]:.6f}; "
            f"{r.leftover:,} leftover cent(s) went to the largest remainders"
            + (f" (cut at {r.cut:.6f}, ties by {ties})" if r.cut is not None else "")
            + f" → {'+1 cent' if extra else 'no extra cent'}"
        )
        if self.summary["everyone_capped"]:
            lines.append("  every eligible establishment is capped: floor(sum of exact amounts) handed out, "
                         "the rest unallocated")
        lines.append(f"Grant: {fmt_cents(int(row['grant_cents']), 'en')} ({int(row['grant_cents']):,} cents) — {row['reason']}")
        if self.units is None:
            years = self.by_year.iloc[i]
        else:
            members = self.units.order[self.units.starts[i]:self.units.starts[i] + self.units.sizes[i]]
            years = self.by_year.iloc[members].sum(axis=0)
        lines.append("By year: " + "; ".join(f"{y} {fmt_cents(int(v), 'en')}" for y, v in years.items()))
        return lines

    def _explain_split(self, j: int, row: int | None) -> list[str]:
        u = self.units
        assert u is not None
        members = u.order[u.starts[j]:u.starts[j] + u.sizes[j]]
        t = self.table
        base = self.scenario.allocation.base
        lines = [f"Split among the {members.size} member(s) of unit {u.keys[j]} pro rata to {base} (Hamilton, "
                 "ties by ascending finess; equal shares when their base sums to 0):"]
        weights = self.split_weights
        assert weights is not None
        share = weights[members] / weights[members].sum() if weights[members].sum() > 0 else np.full(
            members.size, 1.0 / members.size)
        for m, sh in zip(members.tolist(), share.tolist(), strict=True):
            mark = "  ← this establishment" if row is not None and m == row else ""
            lines.append(f"  {t['finess'].iloc[m]} {t['name'].iloc[m]}: {base} {weights[m]:,.2f}, share {sh:.6g}, "
                         f"exact {t['exact_cents'].iloc[m]:,.4f} cents → {fmt_cents(int(t['grant_cents'].iloc[m]), 'en')}"
                         + mark)
        return lines


def _sorted_table(table: pd.DataFrame) -> pd.DataFrame:
    fin = table["finess"]
    if fin.is_monotonic_increasing:
        values = fin.array
        if len(fin) < 2 or not bool((values[1:] == values[:-1]).any()):
            if isinstance(table.index, pd.RangeIndex) and table.index.start == 0 and table.index.step == 1:
                return table
            return table.reset_index(drop=True)
    if not fin.is_unique:
        dup = fin[fin.duplicated()].unique()[:5]
        raise AllocationError(
            "duplicate finess in the table",
            [Problem(f"table, column finess, value {d}", "expected unique finess, found duplicates") for d in dup],
        )
    return table.sort_values("finess", kind="stable").reset_index(drop=True)


def _result_frame(table: pd.DataFrame, after: pd.DataFrame, elig: Any, eligible: np.ndarray, grants: np.ndarray,
                  reason: np.ndarray, exact: np.ndarray, unit: Any) -> pd.DataFrame:
    """The result columns (:data:`RESULT_COLUMNS`) of one row per applicant."""
    data: dict[str, Any] = {
        "finess": table["finess"].array,
        "eligible": eligible,
        "grant_cents": grants,
        "grant_eur": grants / 100.0,
        "reason": reason,
        "unit": unit,
    }
    for c in ("name", "region", "department", "status", "category", "ght", "ght_support", "ose", "beds", "places",
              "it_budget_eur"):
        data[c] = table[c].array
    data["cyber_spend_eur"] = after["cyber_spend_eur"].to_numpy(dtype=np.float64)
    data["cyber_share"] = elig.share
    data["induced_spend_eur"] = elig.induced_spend_eur
    data["exact_cents"] = exact
    data["cyber_spend_before_eur"] = table["cyber_spend_eur"].to_numpy(dtype=np.float64)
    data["complied"] = elig.complied
    data["uptake_probability"] = elig.probability
    return pd.DataFrame(data, copy=False)


def _units_summary(kind: str, status: Any, eligible: np.ndarray, grants: np.ndarray) -> dict[str, Any]:
    """``units: {unit, n, n_eligible, by_status: {status: {n, n_eligible, grant_cents}}}`` (statuses in the order
    of ``config.STATUSES``, then any other)."""
    codes, names = pd.factorize(pd.Series(status, dtype="str"), sort=True)
    k = len(names)
    n = np.bincount(codes, minlength=k)
    n_el = np.bincount(codes, weights=eligible, minlength=k)
    cents = np.bincount(codes, weights=grants, minlength=k)
    pos = {str(x): i for i, x in enumerate(names)}
    listing = [x for x in config.STATUSES if x in pos] + [x for x in pos if x not in config.STATUSES]
    by_status = {x: {"n": int(n[pos[x]]), "n_eligible": int(round(n_el[pos[x]])),
                     "grant_cents": int(round(cents[pos[x]]))} for x in listing}
    return {"unit": kind, "n": int(len(codes)), "n_eligible": int(eligible.sum()), "by_status": by_status}


def _members(table: pd.DataFrame, units: Units, params: PolicyParameters, applicants: pd.DataFrame,
             elig: Any, app: pd.DataFrame, base_rows: np.ndarray) -> tuple[pd.DataFrame, Any, np.ndarray]:
    """From the units back to their members: spend after uptake (the unit's induced spend spread pro rata to IT
    budgets), the grants split pro rata to the base (Hamilton inside each unit), the unit's eligibility and
    reasons on each row. Returns the per-row result frame, the per-row eligibility and the split weights."""
    of = units.of_row
    it = table["it_budget_eur"].to_numpy(dtype=np.float64)
    cyber_before = table["cyber_spend_eur"].to_numpy(dtype=np.float64)
    unit_extra = elig.table["cyber_spend_eur"].to_numpy(dtype=np.float64) - applicants["cyber_spend_eur"].to_numpy(
        dtype=np.float64)
    complied = np.asarray(elig.complied, dtype=bool)
    after = table
    if complied.any():
        after = table.copy()
        after["cyber_spend_eur"] = cyber_before + spread(np.where(complied, unit_extra, 0.0), units, it)
    induced = spread(np.asarray(elig.induced_spend_eur, dtype=np.float64), units, it)
    if params.base == "cyber_spend_eur":
        weights = after["cyber_spend_eur"].to_numpy(dtype=np.float64)
    elif params.base == "it_budget_eur":
        weights = it
    else:
        weights = base_rows
    grants = split_cents(app["grant_cents"].to_numpy(dtype=np.int64), units, weights)
    exact = app["exact_cents"].to_numpy(dtype=np.float64)[of] * split_shares(weights, units)
    eligible = np.asarray(elig.eligible, dtype=bool)[of]
    note = " (unit " + pd.Series(units.key_index, dtype="str") + ")"
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(it > 0, cyber_before / np.where(it > 0, it, 1.0), np.nan)
    rows = eligibility_mod.EligibilityResult(  # the unit's eligibility on each of its rows
        eligible=eligible, share=share, reason=pd.array(elig.reason, dtype="str").take(of), table=after,
        induced_spend_eur=induced, iterations=elig.iterations, complied=complied[of],
        probability=np.asarray(elig.probability)[of], details=elig.details,
    )
    reason = (pd.Series(app["reason"].array, dtype="str") + note).array.take(of)  # strings per unit, taken per row
    res = _result_frame(table, after, rows, eligible, grants, reason, exact, units.key_index.take(of).array)
    return res, rows, weights


def allocate(table: pd.DataFrame, scenario: Scenario) -> AllocationResult:
    """Eligibility, uptake, the scenario's rule, cent-exact rounding and the year split.

    Under ``allocation.unit`` other than ``establishment`` the policy runs on one row per funding unit
    (:mod:`cyberbudget.policy.units`) and each unit's grant is split among its members.

    Parameters
    ----------
    table : DataFrame
        The establishment table (DESIGN.md columns; validated by ``schema.validate_table``).
    scenario : Scenario

    Returns
    -------
    AllocationResult
        ``.table`` has the column ``unit`` (the unit key; the ``finess`` under ``establishment``) right after
        ``reason``. ``.summary`` holds ``envelope_cents``, ``allocated_cents``, ``unallocated_cents``,
        ``n_establishments``, ``n_eligible``, ``eligible_share``, ``n_years``, ``years``,
        ``year_totals_cents``, ``rule``, ``rule_details`` (λ ...), ``everyone_capped``, ``induced_spend_eur``
        (total extra cyber spend over the period), ``uptake`` (model, iterations, ...), ``by_region``,
        ``by_status``, ``by_category``, ``by_ght`` (per group of establishments: ``n_establishments``,
        ``n_eligible``, ``grant_cents``, ``it_budget_eur``, ``cyber_spend_eur``, ``induced_spend_eur``), and
        ``units: {unit, n, n_eligible, by_status: {status: {n, n_eligible, grant_cents}}}``.

    Raises
    ------
    AllocationError
        The floors exceed the envelope, the base column is missing or invalid.
    ScenarioError
        The rule is unknown.
    """
    rule = scenario.allocation.rule
    plugin = None if registry.is_builtin(rule) else registry.lookup(rule)
    if plugin is None and not registry.is_builtin(rule):
        raise ScenarioError(
            f"unknown allocation rule {rule!r}",
            [Problem(f"{scenario.source or '<scenario>'}: allocation.rule",
                     f"expected one of {', '.join(registered_rules())}, found {rule}")],
            source=scenario.source,
        )
    table = _sorted_table(table)
    params = PolicyParameters.of(scenario)
    env = params.envelope_cents
    n_years = params.n_years
    units: Units | None = None
    applicants = table
    base_rows = np.zeros(0)
    if params.unit != "establishment":
        base_rows = rules.base_values(table, params.base, None, key="allocation.base")
        units = build_units(table, params.unit, base_rows)
        applicants = unit_table(table, units, tuple(c for c in (params.base, params.forfait_column) if c))
    elig = eligibility_mod.assess(applicants, scenario)
    after = elig.table
    eligible = np.asarray(elig.eligible, dtype=bool)
    if plugin is None:
        out = _builtin_rule(after, eligible, scenario, params)
    else:
        out = plugin.func(after, eligible, scenario, env, n_years)
    exact = np.where(eligible, np.maximum(np.asarray(out.exact_cents, dtype=np.float64), 0.0), 0.0)
    if not np.all(np.isfinite(exact)):
        raise AllocationError(f"rule {rule} produced non-finite amounts")
    idx = np.flatnonzero(eligible)
    ex = exact[idx]
    cap_all = np.asarray(out.cap_cents, dtype=np.float64)
    capped = rules.at_caps(exact, cap_all, eligible)
    everyone_capped = bool(capped[0])
    if out.handout_cents is not None:
        handout = min(int(out.handout_cents), env)
    else:
        handout = int(rules.handout_cents(exact, capped, eligible, env)[0])
    rounding = hamilton_rounding(ex, handout, idx)
    grants = np.zeros(len(after), dtype=np.int64)
    grants[idx] = rounding.grants
    reason = np.asarray(elig.reason, dtype=object).copy()
    if out.reasons is not None:
        reason[idx] = np.asarray(out.reasons, dtype=object)[idx]
    else:
        reason[idx] = f"allocated by rule {rule}"
    complied = np.asarray(elig.complied, dtype=bool) & eligible
    if complied.any():
        reason[complied] = reason[complied] + "; " + np.asarray(elig.reason, dtype=object)[complied]

    app = _result_frame(applicants, after, elig, eligible, grants, reason, exact, applicants["finess"].array)
    split_weights = None
    if units is None:
        res, rows_elig = app, elig
    else:
        app["members"] = units.sizes
        res, rows_elig, split_weights = _members(table, units, params, applicants, elig, app, base_rows)
    row_grants = res["grant_cents"].to_numpy(dtype=np.int64)
    row_eligible = res["eligible"].to_numpy(dtype=bool)
    years = split_years(row_grants, year_shares(scenario))
    by_year = pd.DataFrame(years, columns=list(scenario.envelope.years), index=pd.Index(res["finess"].array, name="finess"))

    allocated = int(row_grants.sum())
    cols = {
        "n_eligible": row_eligible.astype(np.float64),
        "grant_cents": row_grants.astype(np.float64),
        "it_budget_eur": res["it_budget_eur"].to_numpy(dtype=np.float64),
        "cyber_spend_eur": res["cyber_spend_eur"].to_numpy(),
        "induced_spend_eur": np.asarray(rows_elig.induced_spend_eur, dtype=np.float64),
    }
    orders = {"by_region": list(config.REGIONS), "by_status": list(config.STATUSES),
              "by_category": list(config.CATEGORIES), "by_ght": None}
    summary: dict[str, Any] = {
        "scenario": scenario.name,
        "rule": rule,
        "envelope_cents": env,
        "allocated_cents": allocated,
        "unallocated_cents": env - allocated,
        "n_establishments": len(res),
        "n_eligible": int(row_eligible.sum()),
        "eligible_share": float(row_eligible.mean()) if len(res) else 0.0,
        "n_years": n_years,
        "years": list(scenario.envelope.years),
        "year_totals_cents": {str(y): int(v) for y, v in zip(scenario.envelope.years, years.sum(axis=0), strict=True)},
        "everyone_capped": everyone_capped,
        "max_grant_cents": int(row_grants.max(initial=0)),
        "rule_details": _jsonable(out.details),
        "induced_spend_eur": float(np.sum(elig.induced_spend_eur)),
        "induced_spend_eur_per_year": float(np.sum(elig.induced_spend_eur)) / n_years,
        "uptake": _jsonable(elig.details),
        "rounding": {"handed_out_cents": handout, "leftover_cents": rounding.leftover},
    }
    for key, col in BREAKDOWNS.items():
        summary[key] = _breakdown(res[col], cols, orders[key])
    if units is None:  # the units are the establishments: their counts by status are summary["by_status"]
        summary["units"] = {"unit": params.unit, "n": len(res), "n_eligible": summary["n_eligible"], "by_status": {
            st: {"n": g["n_establishments"], "n_eligible": g["n_eligible"], "grant_cents": g["grant_cents"]}
            for st, g in summary["by_status"].items()}}
    else:
        summary["units"] = _units_summary(params.unit, applicants["status"].array, eligible, grants)
    if summary["allocated_cents"] + summary["unallocated_cents"] != env or (row_grants < 0).any() or (
            allocated != int(grants.sum())):
        raise AllocationError("internal error: the envelope is not conserved")  # pragma: no cover
    return AllocationResult(res, summary, by_year, scenario, rows_elig, out, rounding, idx, units,
                            None if units is None else app, None if units is None else elig, split_weights)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating | float):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, np.bool_):
        return bool(x)
    return x
