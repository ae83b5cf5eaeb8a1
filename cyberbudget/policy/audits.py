"""The 25 M€ France Relance envelope (ANSSI): security audits of establishments and the national
cyber-surveillance service run with the ANS (scenario section ``audits:``).

The envelope (``audits.envelope_eur``, 25 M€ by default) pays first for the surveillance service
(``audits.surveillance_eur``), the rest buys audits at ``audits.unit_cost_eur`` each:
``n_audits = floor((envelope − surveillance) / unit_cost)`` (integer cents), and what is left below one audit
is reported as unspent. Neither the split nor the unit cost is published: a ``null`` in the scenario means
*use the reference default* of ``data/reference/policy.yaml`` (``audits.surveillance_eur``,
``audits.unit_cost_eur``, both marked ``source: assumption``); the summary says which values were used and
where they come from.

Who is audited first: the operators of essential services (column ``ose``: the GHT support establishments
designated in 2021), then everybody else, each group ordered by

- ``size`` (default): ``beds + places + had_places``, largest first;
- ``risk``: a risk score given by the caller (e.g. expected loss from :mod:`cyberbudget.risk.model`; this module does
  not import the risk side), highest first. Without a score, the documented proxy
  ``size × max(0, 1 − cyber_share / max_share)`` is used (larger and less protected first).

Ties by ascending ``finess``. Medico-social rows are audited only when ``eligibility.medico_social`` is true.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget import config
from cyberbudget.data.reference import load_reference
from cyberbudget.policy.scenario import Scenario, euros_to_cents

__all__ = ["AuditPlan", "audit_assumptions", "plan_audits"]


@dataclass
class AuditPlan:
    """Result of :func:`plan_audits`.

    Attributes
    ----------
    table : DataFrame
        Per establishment (sorted by finess): ``finess, region, status, ose, size, priority_score, audited,
        audit_rank`` (1 = first, 0 = not audited).
    summary : dict
        JSON-able: ``envelope_cents``, ``surveillance_cents``, ``audit_budget_cents``, ``unit_cost_cents``,
        ``n_audits``, ``audit_spend_cents``, ``unspent_cents``, ``n_ose``, ``n_ose_audited``, ``priority``,
        ``assumptions`` and coverage ``by_region`` / ``by_status`` (n_establishments, n_audited, coverage,
        capacity_coverage).
    """

    table: pd.DataFrame
    summary: dict[str, Any]


def audit_assumptions(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """The values used for the surveillance cost and the unit cost, with their origin.

    Returns
    -------
    dict
        ``{"surveillance_eur": {"value", "source", "note"}, "unit_cost_eur": {...}}``; ``source`` is
        ``"scenario"`` when the scenario gives the value, else the reference figure's source (``assumption``).
    """
    ref = load_reference("policy")["audits"]
    out = {}
    for key in ("surveillance_eur", "unit_cost_eur"):
        given = getattr(scenario.audits, key)
        if given is not None:
            out[key] = {"value": given, "source": "scenario", "note": f"audits.{key} in the scenario"}
        else:
            fig = ref[key]
            out[key] = {"value": fig["value"], "source": fig["source"], "note": fig.get("note", "")}
    return out


def _coverage(keys: pd.Series, audited: np.ndarray, size: np.ndarray, order: list[str]) -> dict[str, dict]:
    codes, uniq = pd.factorize(keys, sort=True)
    n = np.bincount(codes, minlength=len(uniq))
    a = np.bincount(codes, weights=audited.astype(np.float64), minlength=len(uniq))
    cap = np.bincount(codes, weights=size, minlength=len(uniq))
    cap_a = np.bincount(codes, weights=size * audited, minlength=len(uniq))
    names = [str(u) for u in uniq]
    listing = [u for u in order if u in names] + [u for u in names if u not in order]
    out = {}
    for u in listing:
        i = names.index(u)
        out[u] = {
            "n_establishments": int(n[i]),
            "n_audited": int(round(a[i])),
            "coverage": float(a[i] / n[i]) if n[i] else 0.0,
            "capacity_coverage": float(cap_a[i] / cap[i]) if cap[i] else 0.0,
        }
    return out


def plan_audits(table: pd.DataFrame, scenario: Scenario, risk_score: np.ndarray | pd.Series | None = None) -> AuditPlan:
    """How many audits the envelope buys and who gets them first.

    Parameters
    ----------
    table : DataFrame
        Establishment table (DESIGN.md columns).
    scenario : Scenario
        Uses ``audits.*`` (nulls: reference defaults) and ``eligibility.medico_social``.
    risk_score : array-like, optional
        One score per row of ``table`` (higher = audit first) for ``audits.priority: risk``.

    Returns
    -------
    AuditPlan

    Raises
    ------
    ValueError
        ``risk_score`` does not have one value per row.
    """
    t = table.sort_values("finess", kind="stable").reset_index(drop=True)
    n = len(t)
    used = audit_assumptions(scenario)
    env = euros_to_cents(scenario.audits.envelope_eur)
    surv = min(euros_to_cents(used["surveillance_eur"]["value"]), env)
    unit = euros_to_cents(used["unit_cost_eur"]["value"])
    budget = env - surv
    n_affordable = budget // unit if unit > 0 else 0

    beds = t["beds"].to_numpy(dtype=np.float64)
    places = t["places"].to_numpy(dtype=np.float64)
    had = t["had_places"].to_numpy(dtype=np.float64) if "had_places" in t.columns else np.zeros(n)
    size = beds + places + had
    ose = t["ose"].to_numpy(dtype=bool)
    medico = t["medico_social"].to_numpy(dtype=bool) if "medico_social" in t.columns else np.zeros(n, dtype=bool)
    candidate = ~medico | scenario.eligibility.medico_social
    priority = scenario.audits.priority
    proxy = False
    if priority == "risk":
        if risk_score is not None:
            score_in = np.asarray(risk_score, dtype=np.float64)
            if score_in.shape != (n,):
                raise ValueError(f"risk_score: expected {n} values (one per row), found shape {score_in.shape}")
            score = score_in[_positions(table, t)]
        else:
            proxy = True
            it = t["it_budget_eur"].to_numpy(dtype=np.float64)
            cyber = t["cyber_spend_eur"].to_numpy(dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(it > 0, cyber / np.where(it > 0, it, 1.0), 0.0)
            score = size * np.maximum(0.0, 1.0 - share / scenario.eligibility.max_share)
    else:
        score = size
    # order: candidates first, OSE first, then score descending, then finess ascending (rows are in finess order)
    rank_order = np.lexsort((np.arange(n), -score, ~ose, ~candidate))
    n_audits = int(min(n_affordable, int(candidate.sum())))
    audited = np.zeros(n, dtype=bool)
    audit_rank = np.zeros(n, dtype=np.int64)
    chosen = rank_order[:n_audits]
    audited[chosen] = True
    audit_rank[chosen] = np.arange(1, n_audits + 1)
    out = pd.DataFrame({
        "finess": t["finess"].array, "region": t["region"].array, "status": t["status"].array,
        "ose": ose, "size": size, "priority_score": score, "audited": audited, "audit_rank": audit_rank,
    })
    spend = n_audits * unit
    summary: dict[str, Any] = {
        "envelope_cents": env,
        "surveillance_cents": surv,
        "audit_budget_cents": budget,
        "unit_cost_cents": unit,
        "n_audits_affordable": int(n_affordable),
        "n_audits": n_audits,
        "audit_spend_cents": spend,
        "unspent_cents": budget - spend,
        "n_establishments": n,
        "n_candidates": int(candidate.sum()),
        "n_ose": int((ose & candidate).sum()),
        "n_ose_audited": int((ose & audited).sum()),
        "priority": priority + (" (proxy: size × shortfall to max_share)" if proxy else ""),
        "assumptions": used,
        "by_region": _coverage(out["region"], audited, size, list(config.REGIONS)),
        "by_status": _coverage(out["status"], audited, size, list(config.STATUSES)),
    }
    return AuditPlan(out, summary)


def _positions(original: pd.DataFrame, sorted_table: pd.DataFrame) -> np.ndarray:
    """For each row of ``sorted_table``, its position in ``original`` (both keyed by unique finess)."""
    pos = pd.Series(np.arange(len(original)), index=original["finess"].array)
    return pos.loc[sorted_table["finess"].array].to_numpy()
