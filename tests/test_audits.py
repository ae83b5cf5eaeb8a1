"""The 25 M€ audit / surveillance envelope."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cyberbudget.policy.audits import audit_assumptions, plan_audits
from cyberbudget.policy.scenario import load_scenario


def table() -> pd.DataFrame:
    return pd.DataFrame({
        "finess": ["010000005", "010000004", "010000003", "010000002", "010000001"], "name": "E",
        "region": ["11", "11", "84", "84", "93"], "department": "75",
        "status": ["public", "public", "private_forprofit", "public", "private_nonprofit"], "category": "ch",
        "ght": "", "ght_support": False, "ose": [False, True, False, False, False],
        "beds": [500, 10, 300, 300, 50], "places": [0, 0, 0, 0, 0], "operating_budget_eur": 1e8,
        "it_budget_eur": 1e6, "cyber_spend_eur": [10_000.0, 60_000.0, 90_000.0, 20_000.0, 50_000.0], "imputed": "",
    })


def scen(**audits) -> object:
    return load_scenario({"name": "a", "envelope": {"total_eur": 1}, "audits": audits})


def test_number_of_audits_and_unspent_in_cents() -> None:
    p = plan_audits(table(), scen(envelope_eur=1_000_000, surveillance_eur=250_000, unit_cost_eur=300_000))
    s = p.summary
    assert s["audit_budget_cents"] == 75_000_000 and s["n_audits"] == 2
    assert s["unspent_cents"] == 15_000_000
    assert s["surveillance_cents"] + s["audit_spend_cents"] + s["unspent_cents"] == s["envelope_cents"]


def test_ose_first_then_size_ties_by_finess() -> None:
    p = plan_audits(table(), scen(envelope_eur=400, surveillance_eur=0, unit_cost_eur=100)).table
    ranked = p[p["audited"]].sort_values("audit_rank")["finess"].tolist()
    # OSE (10 beds) first, then 500 beds, then the two 300-bed rows by ascending finess
    assert ranked == ["010000004", "010000005", "010000002", "010000003"]


def test_risk_priority_with_scores_and_with_the_proxy() -> None:
    t = table()
    p = plan_audits(t, scen(envelope_eur=200, surveillance_eur=0, unit_cost_eur=100, priority="risk"),
                    risk_score=np.array([1.0, 0.0, 5.0, 2.0, 3.0]))
    assert p.table[p.table["audited"]].sort_values("audit_rank")["finess"].tolist() == ["010000004", "010000003"]
    proxy = plan_audits(t, scen(envelope_eur=200, surveillance_eur=0, unit_cost_eur=100, priority="risk"))
    # proxy = size x (1 - share / 10 %): 500 x 0.9 = 450 beats 300 x 0.8 = 240 and 300 x 0.1 = 30
    assert proxy.table[proxy.table["audited"]].sort_values("audit_rank")["finess"].tolist() == ["010000004", "010000005"]
    assert "proxy" in proxy.summary["priority"]


def test_nulls_use_reference_assumptions_and_coverage_adds_up() -> None:
    used = audit_assumptions(scen())
    assert used["unit_cost_eur"]["source"] == "assumption" and used["surveillance_eur"]["source"] == "assumption"
    p = plan_audits(table(), scen())
    assert p.summary["n_audits"] == 5  # the default budget buys far more audits than five establishments
    cov = p.summary["by_region"]
    assert sum(v["n_audited"] for v in cov.values()) == 5 and cov["11"]["coverage"] == 1.0
    assert set(p.summary["by_status"]) == {"public", "private_nonprofit", "private_forprofit"}
