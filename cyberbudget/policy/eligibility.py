"""Who may apply: the 5–10 % corridor, the OSE obligation and the behavioural uptake.

Corridor (DESIGN.md, "Eligibility"), in this order, the first failing test giving the reason:

1. ``it_budget_eur == 0`` is never eligible (``ineligible: no IT budget``);
2. ``share = cyber_spend_eur / it_budget_eur`` in float64; ``share >= min_share`` (a spend of 50 on an IT
   budget of 1,000 is eligible at 0.05) — else ``ineligible: cyber share 3.2 % < 5 %``;
3. ``share > max_share`` stays eligible unless ``exclude_above_max`` ("renegotiate");
4. ``status`` in ``eligibility.statuses``; 5. ``medico_social`` rows only when ``eligibility.medico_social``.

Uptake (``uptake:``, an addition to DESIGN.md: the rule exists to change behaviour). *Candidates* are rows that
fail only test 2 (IT budget > 0, share below ``min_share``, status and medico-social filters passed). A candidate
that complies raises its cyber spend to the threshold (the smallest float64 ``c`` with ``c / it >= min_share``)
for every year of the envelope. Its *compliance cost* is ``(min_share × it − cyber) × n_years`` euros — the
extra spend over the envelope's period — and this is also the *induced spend* reported when it complies.

- ``none``: nobody changes (default);
- ``full``: every candidate complies;
- ``logistic``: candidate ``i`` complies with probability
  ``p_i = 1 / (1 + exp(−slope × (ln(G_i / C_i) − ln(midpoint))))`` where ``G_i`` is the grant it can expect if it
  complies (:func:`cyberbudget.policy.rules.expected_grants` for the built-in rules, the rule's ``expected``
  function for a registered one: the rule's amount for ``i`` when every currently eligible establishment takes
  part and every other candidate takes part with its probability; caps and floors included) and ``C_i`` its
  compliance cost; ``G_i = 0`` gives ``p_i = 0``. ``slope: null`` takes the reference assumption
  ``data/reference/policy.yaml: uptake.slope``. Since ``G`` depends on ``p``, the probabilities are the fixed
  point of ``p ← (1 − damping) p + damping F(p)`` from ``p = 0``, stopped when ``max |Δp| < tolerance``; more
  than ``max_iterations`` raises :class:`~cyberbudget.errors.ConvergenceError` (the Monte Carlo simulation
  counts such a draw instead, :func:`uptake` with ``strict=False``).
  *Realised* compliance is a seeded draw: ``u = default_rng(SeedSequence([seed, 1]))`` gives one uniform per row
  in ``finess`` order (:func:`uptake_uniforms`) and candidate ``i`` complies when ``u_i < p_i``. The expected induced spend ``Σ p_i C_i``
  is reported next to the realised one.

Arrays
------
:func:`corridor_masks` and :func:`uptake` are the two steps on arrays of shape ``(D, n)`` (``D`` draws of ``n``
applicants); :func:`assess` runs them on one table (``D = 1``) and adds the reasons, and the Monte Carlo
simulation runs them on a batch of draws.

OSE obligation (``ose.obligation: min_share``): operators of essential services (column ``ose``) are bound to
reach ``min_share`` whatever the uptake model: OSE candidates comply (probability 1, spend counted as induced);
an OSE with no IT budget cannot comply and stays ineligible.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget.errors import ConvergenceError, Problem, ScenarioError
from cyberbudget.policy import registry, rules
from cyberbudget.policy.parameters import PolicyParameters
from cyberbudget.policy.scenario import Scenario

__all__ = [
    "UPTAKE_STREAM", "EligibilityResult", "Uptake", "assess", "corridor", "corridor_masks", "logistic_probability",
    "raised_spend", "uptake", "uptake_slope", "uptake_uniforms",
]

#: Stream index of the uptake draw in ``SeedSequence([seed, UPTAKE_STREAM])``.
UPTAKE_STREAM: int = 1

#: ``expected(rows, cyber, participation) -> cents``: the expected grants of the draws ``rows`` (see :func:`uptake`).
ExpectedGrants = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass
class EligibilityResult:
    """Result of :func:`assess` (arrays aligned with the table's rows).

    Attributes
    ----------
    eligible : ndarray of bool
        After uptake.
    share : ndarray of float64
        Cyber share *before* uptake (NaN where the IT budget is 0).
    reason : array of str
        ``eligible: ...`` or ``ineligible: ...`` (under a funding unit, per establishment: its unit's).
    table : DataFrame
        The table with ``cyber_spend_eur`` after uptake.
    induced_spend_eur : ndarray of float64
        Extra cyber spend over the envelope's period of each establishment that complied (0 otherwise).
    iterations : int
        Fixed-point iterations of the logistic model (0 otherwise).
    complied : ndarray of bool
        Candidates that raised their spend.
    probability : ndarray of float64
        Probability of complying (1 for ``full`` and the OSE obligation, 0 for non-candidates).
    details : dict
        JSON-able uptake summary (model, slope, iterations, expected and realised induced spend, ...).
    """

    eligible: np.ndarray
    share: np.ndarray
    reason: np.ndarray
    table: pd.DataFrame
    induced_spend_eur: np.ndarray
    iterations: int
    complied: np.ndarray
    probability: np.ndarray
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def induced_total_eur(self) -> float:
        """Total induced cyber spend over the envelope's period (euros)."""
        return float(np.sum(self.induced_spend_eur))


# ==============================================================================================================
# The corridor
# ==============================================================================================================


def corridor_masks(
    share: Any, it: Any, allowed: Any, min_share: float, max_share: float, exclude_above_max: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Who passes the corridor, and who fails only the ``min_share`` test (the uptake candidates).

    Parameters
    ----------
    share : array_like (n,) or (D, n)
        Cyber spend / IT budget, float64 (any value where the IT budget is 0).
    it : array_like
        IT budget; ``it == 0`` is never eligible.
    allowed : array_like of bool, or True
        The status and medico-social filters passed (``True``: every applicant).
    min_share, max_share, exclude_above_max
        ``eligibility:``.

    Returns
    -------
    eligible, candidate : ndarray of bool

    Examples
    --------
    >>> ok, cand = corridor_masks(np.array([0.05, 0.032, 0.2]), np.array([1.0, 1.0, 1.0]), True, 0.05, 0.1, True)
    >>> ok.tolist(), cand.tolist()
    ([True, False, False], [False, True, False])
    """
    has_it = np.asarray(it) > 0
    share = np.asarray(share)
    everyone = allowed is True  # the simulation passes only the allowed applicants
    with np.errstate(invalid="ignore"):
        above_min = has_it & (share >= min_share)
        eligible = above_min if everyone else above_min & allowed
        if exclude_above_max:
            eligible = eligible & ~(has_it & (share > max_share))
    candidate = has_it & ~above_min
    if not everyone:
        candidate &= allowed
    return eligible, candidate


def _fmt_share(share: np.ndarray, threshold: float, side: str = "any") -> np.ndarray:
    """Shares in percent with 1 decimal; more (floored or ceiled) when 1 decimal would show the wrong side of
    ``threshold`` (``side="below"``: the text must read below the threshold, ``"above"``: above)."""
    pct = np.asarray(share, dtype=np.float64) * 100
    rounded = np.round(pct, 1)
    codes, inv = np.unique(rounded, return_inverse=True)
    out = np.array([f"{v:.1f}" for v in codes], dtype=object)[inv] if len(codes) else np.array([], dtype=object)
    thr = threshold * 100
    wrong = (rounded >= thr - 1e-9) if side == "below" else (rounded <= thr + 1e-9) if side == "above" else None
    if wrong is not None and wrong.any():
        fixed = []
        for v in pct[wrong]:
            for d in range(2, 7):
                scale = 10**d
                shown = math.floor(v * scale + 1e-9) / scale if side == "below" else math.ceil(v * scale - 1e-9) / scale
                if (side == "below" and shown < thr - 1e-12) or (side == "above" and shown > thr + 1e-12):
                    break
            fixed.append(f"{shown:.{d}f}")
        out[wrong] = fixed
    return out


def _pct(x: float) -> str:
    return f"{round(x * 100, 6):g}"


def corridor(table: pd.DataFrame, scenario: Scenario) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The corridor without uptake, with the reasons.

    Returns
    -------
    eligible, share, reason, candidate
        ``candidate``: rows failing only the ``min_share`` test (those uptake may change).

    Examples
    --------
    >>> import pandas as pd
    >>> from cyberbudget.policy.scenario import load_scenario
    >>> t = pd.DataFrame({"it_budget_eur": [1000.0, 1000.0, 0.0], "cyber_spend_eur": [50.0, 32.0, 0.0],
    ...                   "status": ["public"] * 3})
    >>> ok, share, reason, cand = corridor(t, load_scenario({"name": "x", "envelope": {"total_eur": 1}}))
    >>> ok.tolist(), reason.tolist()
    ([True, False, False], ['eligible: cyber share 5.0 % >= 5 %', 'ineligible: cyber share 3.2 % < 5 %', 'ineligible: no IT budget'])
    """
    el = scenario.eligibility
    it = table["it_budget_eur"].to_numpy(dtype=np.float64)
    cyber = table["cyber_spend_eur"].to_numpy(dtype=np.float64)
    has_it = it > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(has_it, cyber / np.where(has_it, it, 1.0), np.nan)
    status_ok = table["status"].isin(list(el.statuses)).to_numpy(dtype=bool)
    medico = (table["medico_social"].to_numpy(dtype=bool) if "medico_social" in table.columns
              else np.zeros(len(table), dtype=bool))
    medico_ok = ~medico | el.medico_social
    eligible, candidate = corridor_masks(share, it, status_ok & medico_ok, el.min_share, el.max_share,
                                         el.exclude_above_max)
    with np.errstate(invalid="ignore"):
        above_min = has_it & (share >= el.min_share)
        above_max = has_it & (share > el.max_share)
    excluded_max = above_max & el.exclude_above_max

    share0 = np.nan_to_num(share)
    text = _fmt_share(share0, el.min_share)
    reason = np.empty(len(table), dtype=object)
    mn, mx = _pct(el.min_share), _pct(el.max_share)
    reason[:] = "eligible"
    # eligible wording
    reason[eligible] = "eligible: cyber share " + text[eligible] + f" % >= {mn} %"
    in_band = eligible & ~above_max
    if el.exclude_above_max:
        reason[in_band] = "eligible: cyber share " + text[in_band] + f" % within {mn}–{mx} %"
    # ineligible, last assignment wins: apply in reverse order of precedence
    m = ~medico_ok
    reason[m] = "ineligible: medico-social establishment (eligibility.medico_social is false)"
    m = ~status_ok
    reason[m] = ("ineligible: status " + table["status"].to_numpy(dtype=object)[m]
                 + " not in eligibility.statuses") if m.any() else reason[m]
    m = excluded_max
    reason[m] = "ineligible: cyber share " + _fmt_share(share0[m], el.max_share, "above") + (
        f" % > {mx} % (exclude_above_max: renegotiate)")
    m = has_it & ~above_min
    reason[m] = "ineligible: cyber share " + _fmt_share(share0[m], el.min_share, "below") + f" % < {mn} %"
    reason[~has_it] = "ineligible: no IT budget"
    return eligible, share, reason, candidate


# ==============================================================================================================
# Uptake
# ==============================================================================================================


def raised_spend(it: np.ndarray, min_share: float) -> np.ndarray:
    """Smallest float64 ``c >= min_share × it`` with ``c / it >= min_share`` (and ``c <= it``).

    Examples
    --------
    >>> float(raised_spend(np.array([1000.0]), 0.05)[0])
    50.0
    """
    it = np.asarray(it, dtype=np.float64)
    c = min_share * it
    for _ in range(4):
        low = (it > 0) & (c / np.where(it > 0, it, 1.0) < min_share)
        if not low.any():
            break
        c = np.where(low, np.nextafter(c, np.inf), c)
    return np.minimum(c, it)


def uptake_slope(scenario: Scenario) -> float:
    """The logistic slope: the scenario's, or the reference assumption when null."""
    if scenario.uptake.slope is not None:
        return float(scenario.uptake.slope)
    from cyberbudget.data.reference import value

    return float(value("policy", "uptake.slope"))


def uptake_uniforms(seed: int, n: int) -> np.ndarray:
    """The uniforms that decide realised logistic uptake: ``default_rng(SeedSequence([seed, 1])).random(n)``, one
    per applicant in ``finess`` (unit key) order.

    Examples
    --------
    >>> u = uptake_uniforms(7, 3)
    >>> bool(np.array_equal(u, np.random.default_rng(np.random.SeedSequence([7, 1])).random(3)))
    True
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), UPTAKE_STREAM])).random(int(n))


def _log(x: Any) -> Any:
    """``log`` of a scalar with ``math.log`` (the exact path's historical bits), of an array with ``numpy.log``."""
    return math.log(x) if np.ndim(x) == 0 else np.log(x)


def logistic_probability(grant_cents: Any, cost_eur: Any, slope: Any, midpoint: Any) -> np.ndarray:
    """``1 / (1 + exp(−slope × (ln(G / C) − ln(midpoint))))`` with ``G`` the expected grant (cents → euros) and
    ``C`` the compliance cost (euros); 0 when ``G = 0``; 1 when there is nothing to pay and something to gain.

    Examples
    --------
    >>> logistic_probability(np.array([1000.0, 0.0]), np.array([10.0, 10.0]), 2.0, 1.0).tolist()
    [0.5, 0.0]
    """
    g = np.asarray(grant_cents, dtype=np.float64) / 100.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = slope * (np.log(g / cost_eur) - _log(midpoint))
        p = np.where(g > 0, 0.5 * (1.0 + np.tanh(0.5 * z)), 0.0)
    return np.where(cost_eur > 0, p, np.where(g > 0, 1.0, 0.0))


@dataclass
class Uptake:
    """What :func:`uptake` decides, per draw (arrays (D, n), or (D,) per draw).

    Attributes
    ----------
    forced : ndarray of bool
        Candidates bound by the OSE obligation.
    probability : ndarray
        Probability of complying.
    complied : ndarray of bool
        Candidates that raised their spend.
    cyber : ndarray
        Cyber spend after uptake (euros a year).
    raised : ndarray
        Cyber spend of every candidate at the threshold (the others' unchanged).
    cost : ndarray
        Compliance cost of each candidate over the envelope's years (euros; 0 for the others).
    induced : ndarray
        ``cost`` where complied, 0 elsewhere.
    iterations : ndarray of int (D,)
        Fixed-point iterations of the logistic model (0 for the other models).
    converged : ndarray of bool (D,)
        The logistic fixed point converged (always true for the other models).
    delta : ndarray (D,)
        Last largest change of a probability.
    """

    forced: np.ndarray
    probability: np.ndarray
    complied: np.ndarray
    cyber: np.ndarray
    raised: np.ndarray
    cost: np.ndarray
    induced: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    delta: np.ndarray


def uptake(
    params: PolicyParameters,
    it: Any,
    cyber: Any,
    eligible0: Any,
    candidate: Any,
    ose: Any,
    *,
    expected: ExpectedGrants | None = None,
    uniforms: Any = None,
    slope: Any = None,
    midpoint: Any = None,
    strict: bool = True,
) -> Uptake:
    """The behavioural uptake and the OSE obligation (module docstring), per draw.

    Parameters
    ----------
    params : PolicyParameters
        ``uptake:``, ``ose.obligation``, ``eligibility.min_share``, the envelope's years.
    it, cyber : array_like (D, n)
        IT budget and cyber spend before uptake (euros a year); ``cyber`` may be None under ``uptake.model:
        none`` without an OSE obligation binding (nobody changes: the spend is not read).
    eligible0, candidate : array_like of bool (D, n)
        :func:`corridor_masks`.
    ose : array_like of bool (n,) or (D, n)
        Operators of essential services.
    expected : callable, optional
        ``expected(rows, cyber, participation) -> cents (len(rows), n)``: the grant each applicant of the draws
        ``rows`` would get if it took part, with ``cyber`` the candidates' spend at the threshold and
        ``participation`` everyone's probability of taking part (logistic model only).
    uniforms : array_like (D, n), optional
        Decide realised logistic compliance (``u < p``); default 1/2 (comply when ``p >= 1/2``).
    slope, midpoint : float or array_like (D, 1), optional
        Override ``params.slope`` / ``params.midpoint`` (the Monte Carlo factors).
    strict : bool
        True: a fixed point that does not converge raises; False: the draw is marked ``converged = False``.

    Returns
    -------
    Uptake

    Raises
    ------
    ConvergenceError
        ``strict`` and the logistic fixed point did not converge within ``uptake.max_iterations``.
    """
    it = np.atleast_2d(np.asarray(it, dtype=np.float64))
    eligible0 = np.atleast_2d(np.asarray(eligible0, dtype=bool))
    candidate = np.atleast_2d(np.asarray(candidate, dtype=bool))
    n_draws = it.shape[0]
    if params.ose_obligation:
        forced = candidate & np.asarray(ose, dtype=bool)
    else:
        forced = np.broadcast_to(np.False_, candidate.shape)
    iterations = np.zeros(n_draws, dtype=np.int64)
    converged = np.ones(n_draws, dtype=bool)
    delta = np.zeros(n_draws)
    if params.uptake_model == "none" and not forced.any():  # nobody changes (the spend may be left out: None)
        zero = np.broadcast_to(np.float64(0.0), it.shape)  # read-only views: nothing to allocate or touch
        return Uptake(forced, zero, np.broadcast_to(np.False_, it.shape), cyber, cyber, zero, zero, iterations,
                      converged, delta)
    cyber = np.atleast_2d(np.asarray(cyber, dtype=np.float64))
    raised = np.where(candidate, raised_spend(it, params.min_share), cyber)
    cost = np.where(candidate, (raised - cyber) * params.n_years, 0.0)
    prob = forced.astype(np.float64)
    if params.uptake_model == "full":
        prob = candidate.astype(np.float64)
    elif params.uptake_model == "logistic":
        if expected is None:
            raise ValueError("uptake: the logistic model needs the expected grants")
        slope = params.slope if slope is None else slope
        midpoint = params.midpoint if midpoint is None else midpoint
        free = candidate & ~forced
        base_p = eligible0.astype(np.float64) + forced
        p = np.zeros(it.shape)
        delta[:] = np.inf
        converged[:] = False
        rows = np.arange(n_draws)
        while rows.size:
            stuck = iterations[rows] >= params.max_iterations
            if stuck.any():
                if strict:
                    d = float(delta[rows[stuck][0]])
                    raise ConvergenceError(
                        f"uptake: the logistic fixed point did not converge in {params.max_iterations} iterations "
                        f"(last max change of a probability {d:.3g} >= tolerance {params.tolerance:g}); "
                        "lower uptake.damping (stronger damping) or uptake.slope, or raise uptake.max_iterations"
                    )
                rows = rows[~stuck]
                if not rows.size:
                    break
            fr = free[rows]
            pr = p[rows]
            participation = base_p[rows] + np.where(fr, pr, 0.0)
            grants = expected(rows, raised[rows], participation)
            sl = slope if np.ndim(slope) == 0 else np.asarray(slope)[rows]
            mp = midpoint if np.ndim(midpoint) == 0 else np.asarray(midpoint)[rows]
            target = np.where(fr, logistic_probability(grants, cost[rows], sl, mp), 0.0)
            new = (1 - params.damping) * pr + params.damping * target
            step = np.max(np.abs(new - pr), axis=1, initial=0.0)
            p[rows] = new
            iterations[rows] += 1
            delta[rows] = step
            done = step < params.tolerance
            converged[rows[done]] = True
            rows = rows[~done]
        prob = np.where(free, p, 0.0) + forced
    if params.uptake_model == "logistic":
        u = np.full(it.shape, 0.5) if uniforms is None else np.atleast_2d(np.asarray(uniforms, dtype=np.float64))
        complied = candidate & ((u < prob) | forced)
    else:
        complied = candidate & (prob >= 1.0)
    after = np.where(complied, raised, cyber)
    induced = np.where(complied, cost, 0.0)
    return Uptake(forced, prob, complied, after, raised, cost, induced, iterations, converged, delta)


# ==============================================================================================================
# On a table
# ==============================================================================================================


def _expected_for(table: pd.DataFrame, scenario: Scenario, params: PolicyParameters,
                  mask: np.ndarray) -> ExpectedGrants:
    """The expected-grant function of the scenario's rule on ``table`` (one draw)."""
    rule = params.rule
    n_years, env = params.n_years, params.envelope_cents
    if registry.is_builtin(rule):
        inputs = rules.rule_inputs(table, params, mask)
        it = table["it_budget_eur"].to_numpy(dtype=np.float64)[None, :]

        def builtin(rows: np.ndarray, cyber: np.ndarray, participation: np.ndarray) -> np.ndarray:
            return rules.expected_grants(params, it, cyber, participation, base=inputs.base,
                                         tier_group=inputs.tier_group, forfait=inputs.forfait)

        return builtin
    reg = registry.lookup(rule)
    if reg is None or reg.expected is None:
        raise ScenarioError(
            f"uptake.model logistic is not available with rule {rule}",
            [Problem("uptake.model", f"expected none or full with rule {rule} (it gives no expected grants), "
                     "found logistic")],
            source=scenario.source,
        )
    func = reg.expected
    cache: dict[bytes, pd.DataFrame] = {}

    def plugin(rows: np.ndarray, cyber: np.ndarray, participation: np.ndarray) -> np.ndarray:
        key = cyber.tobytes()
        if key not in cache:
            cache.clear()
            t = table.copy()
            t["cyber_spend_eur"] = cyber[0]
            cache[key] = t
        return np.asarray(func(cache[key], participation[0], scenario, env, n_years), dtype=np.float64)[None, :]

    return plugin


def assess(table: pd.DataFrame, scenario: Scenario) -> EligibilityResult:
    """Eligibility after uptake (see the module docstring), on one table.

    Parameters
    ----------
    table : DataFrame
        Establishment table, sorted by ``finess`` (as :func:`cyberbudget.policy.allocation.allocate` passes it),
        or one row per funding unit.
    scenario : Scenario

    Returns
    -------
    EligibilityResult

    Raises
    ------
    ConvergenceError
        The logistic fixed point did not converge within ``uptake.max_iterations``.
    ScenarioError
        Logistic uptake with a registered rule that gives no expected grants.
    """
    params = PolicyParameters.of(scenario)
    up_model = params.uptake_model
    min_share = params.min_share
    eligible0, share, reason, candidate = corridor(table, scenario)
    n = len(table)
    it = table["it_budget_eur"].to_numpy(dtype=np.float64)
    cyber = table["cyber_spend_eur"].to_numpy(dtype=np.float64)
    ose = table["ose"].to_numpy(dtype=bool) if params.ose_obligation else np.zeros(n, dtype=bool)
    expected = _expected_for(table, scenario, params, eligible0 | candidate) if up_model == "logistic" else None
    uniforms = uptake_uniforms(params.seed, n) if up_model == "logistic" else None
    up = uptake(params, it, cyber, eligible0, candidate, ose, expected=expected, uniforms=uniforms, strict=True)
    forced, prob, complied = up.forced[0], up.probability[0], up.complied[0]
    cost, induced = up.cost[0], up.induced[0]
    iterations = int(up.iterations[0])
    details: dict[str, Any] = {"model": up_model, "n_candidates": int(candidate.sum()),
                               "ose_obligation": scenario.ose.obligation, "n_obliged": int(forced.sum())}
    if up_model == "logistic":
        details.update({"slope": params.slope, "midpoint": params.midpoint, "damping": params.damping,
                        "tolerance": params.tolerance, "iterations": iterations, "converged": True,
                        "expected_induced_spend_eur": float(np.dot(prob, cost)),
                        "expected_compliers": float(prob.sum())})
    after = table
    if up_model != "none" or forced.any():
        after = table.copy()
        after["cyber_spend_eur"] = up.cyber[0]
    eligible = eligible0 | complied
    if complied.any():
        how = np.where(forced[complied], "OSE obligation", f"uptake {up_model}")
        before_txt = _fmt_share(np.nan_to_num(share[complied]), min_share, "below")
        reason = reason.copy()
        reason[complied] = [
            f"eligible after raising cyber share from {b} % to {_pct(min_share)} % ({h})"
            for b, h in zip(before_txt, how, strict=True)
        ]
    details.update({"iterations": iterations, "n_complied": int(complied.sum()),
                    "induced_spend_eur": float(induced.sum())})
    return EligibilityResult(eligible, share, reason, after, induced, iterations, complied, prob, details)
