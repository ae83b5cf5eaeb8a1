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
  complies (``cyberbudget.policy.allocation.expected_grants``: the rule's amount for ``i`` when every currently eligible
  establishment takes part and every other candidate takes part with its probability) and ``C_i`` its compliance
  cost; ``G_i = 0`` gives ``p_i = 0``. ``slope: null`` takes the reference assumption
  ``data/reference/policy.yaml: uptake.slope``. Since ``G`` depends on ``p``, the probabilities are the fixed
  point of ``p ← (1 − damping) p + damping F(p)`` from ``p = 0``, stopped when ``max |Δp| < tolerance``; more
  than ``max_iterations`` raises :class:`~cyberbudget.errors.ConvergenceError`.
  *Realised* compliance is a seeded draw: ``u = default_rng(SeedSequence([seed, 1]))`` gives one uniform per row
  in ``finess`` order and candidate ``i`` complies when ``u_i < p_i``. The expected induced spend ``Σ p_i C_i``
  is reported next to the realised one.

OSE obligation (``ose.obligation: min_share``): operators of essential services (column ``ose``) are bound to
reach ``min_share`` whatever the uptake model: OSE candidates comply (probability 1, spend counted as induced);
an OSE with no IT budget cannot comply and stays ineligible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget.errors import ConvergenceError
from cyberbudget.policy.scenario import Scenario

__all__ = ["EligibilityResult", "assess", "corridor", "raised_spend", "uptake_slope"]

#: Stream index of the uptake draw in ``SeedSequence([seed, UPTAKE_STREAM])``.
UPTAKE_STREAM: int = 1


@dataclass
class EligibilityResult:
    """Result of :func:`assess` (arrays aligned with the table's rows).

    Attributes
    ----------
    eligible : ndarray of bool
        After uptake.
    share : ndarray of float64
        Cyber share *before* uptake (NaN where the IT budget is 0).
    reason : ndarray of str
        ``eligible: ...`` or ``ineligible: ...``.
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
    """The corridor without uptake.

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
    above_min = has_it & (share >= el.min_share)
    above_max = has_it & (share > el.max_share)
    status_ok = table["status"].isin(list(el.statuses)).to_numpy(dtype=bool)
    medico = (table["medico_social"].to_numpy(dtype=bool) if "medico_social" in table.columns
              else np.zeros(len(table), dtype=bool))
    medico_ok = ~medico | el.medico_social
    excluded_max = above_max & el.exclude_above_max
    eligible = above_min & ~excluded_max & status_ok & medico_ok
    candidate = has_it & ~above_min & status_ok & medico_ok

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


def _logistic(grant_cents: np.ndarray, cost_eur: np.ndarray, slope: float, midpoint: float) -> np.ndarray:
    g = np.asarray(grant_cents, dtype=np.float64) / 100.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = slope * (np.log(g / cost_eur) - math.log(midpoint))
        p = np.where(g > 0, 0.5 * (1.0 + np.tanh(0.5 * z)), 0.0)
    return np.where(cost_eur > 0, p, np.where(g > 0, 1.0, 0.0))


def assess(table: pd.DataFrame, scenario: Scenario) -> EligibilityResult:
    """Eligibility after uptake (see the module docstring).

    Parameters
    ----------
    table : DataFrame
        Establishment table, sorted by ``finess`` (as :func:`cyberbudget.policy.allocation.allocate` passes it).
    scenario : Scenario

    Returns
    -------
    EligibilityResult

    Raises
    ------
    ConvergenceError
        The logistic fixed point did not converge within ``uptake.max_iterations``.
    """
    up = scenario.uptake
    n_years = scenario.n_years
    min_share = scenario.eligibility.min_share
    eligible0, share, reason, candidate = corridor(table, scenario)
    n = len(table)
    it = table["it_budget_eur"].to_numpy(dtype=np.float64)
    cyber = table["cyber_spend_eur"].to_numpy(dtype=np.float64)
    raised = np.where(candidate, raised_spend(it, min_share), cyber)
    cost = np.where(candidate, (raised - cyber) * n_years, 0.0)
    forced = candidate & (table["ose"].to_numpy(dtype=bool) if scenario.ose.obligation == "min_share"
                          else np.zeros(n, dtype=bool))
    prob = forced.astype(np.float64)
    iterations = 0
    details: dict[str, Any] = {"model": up.model, "n_candidates": int(candidate.sum()),
                               "ose_obligation": scenario.ose.obligation, "n_obliged": int(forced.sum())}
    after = table
    if up.model != "none" or forced.any():
        after = table.copy()
        after["cyber_spend_eur"] = raised
    if up.model == "full":
        prob = candidate.astype(np.float64)
    elif up.model == "logistic":
        from cyberbudget.policy.allocation import expected_grants

        slope = uptake_slope(scenario)
        free = candidate & ~forced
        base_p = eligible0.astype(np.float64) + forced
        p = np.zeros(n)
        delta = math.inf
        while delta >= up.tolerance:
            if iterations >= up.max_iterations:
                raise ConvergenceError(
                    f"uptake: the logistic fixed point did not converge in {up.max_iterations} iterations "
                    f"(last max change of a probability {delta:.3g} >= tolerance {up.tolerance:g}); "
                    "lower uptake.damping (stronger damping) or uptake.slope, or raise uptake.max_iterations"
                )
            participation = base_p + np.where(free, p, 0.0)
            grants = expected_grants(after, participation, scenario)
            target = np.where(free, _logistic(grants, cost, slope, up.midpoint), 0.0)
            new = (1 - up.damping) * p + up.damping * target
            delta = float(np.max(np.abs(new - p), initial=0.0))
            p = new
            iterations += 1
        prob = np.where(free, p, 0.0) + forced
        details.update({"slope": slope, "midpoint": up.midpoint, "damping": up.damping,
                        "tolerance": up.tolerance, "iterations": iterations, "converged": True,
                        "expected_induced_spend_eur": float(np.dot(prob, cost)),
                        "expected_compliers": float(prob.sum())})
    if up.model == "logistic":
        rng = np.random.default_rng(np.random.SeedSequence([scenario.seed, UPTAKE_STREAM]))
        u = rng.random(n)
        complied = candidate & ((u < prob) | forced)
    else:
        complied = candidate & (prob >= 1.0)
    if after is not table:
        after["cyber_spend_eur"] = np.where(complied, raised, cyber)
    induced = np.where(complied, cost, 0.0)
    eligible = eligible0 | complied
    if complied.any():
        how = np.where(forced[complied], "OSE obligation", f"uptake {up.model}")
        before_txt = _fmt_share(np.nan_to_num(share[complied]), min_share, "below")
        reason = reason.copy()
        reason[complied] = [
            f"eligible after raising cyber share from {b} % to {_pct(min_share)} % ({h})"
            for b, h in zip(before_txt, how, strict=True)
        ]
    details.update({"iterations": iterations, "n_complied": int(complied.sum()),
                    "induced_spend_eur": float(induced.sum())})
    return EligibilityResult(eligible, share, reason, after, induced, iterations, complied, prob, details)
