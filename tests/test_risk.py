"""The risk model: frequency x magnitude per establishment, calibration on the ANS / CERT Santé observatory,
the awareness lever, and the assessment of an allocation (expected losses before/after, avoided loss per euro)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cyberbudget import config
from cyberbudget.data import reference, registry
from cyberbudget.errors import InputError, ScenarioError
from cyberbudget.policy.scenario import load_scenario
from cyberbudget.reports.risk_tables import published_breakdown
from cyberbudget.risk.model import (
    LognormalMagnitude,
    PoissonFrequency,
    annual_loss_draws,
    assess,
    establishment_risk,
    expected_incidents,
    grant_benefit,
    risk_parameters,
)

IT_SHARE = 0.017
EUR_PER_BED = 288_000


def row(finess: str, beds: int, share: float, *, places: int = 0, medico_social: bool = False, **extra) -> dict:
    it = beds * EUR_PER_BED * IT_SHARE
    return {"finess": finess, "beds": beds, "places": places, "it_budget_eur": it, "cyber_spend_eur": share * it,
            "medico_social": medico_social, **extra}


def scenario(**sections) -> object:
    return load_scenario({"name": "t", "envelope": {"total_eur": 1_000_000}, **sections})


# ---------------------------------------------------------------------------------------------- reference data


def test_every_risk_figure_has_value_unit_source_year():
    ref = reference.load_reference("risk")  # raises on a figure without unit/source/year
    assert ref["frequency"]["rate_at_reference"]["value"] == pytest.approx(0.173)
    prov = reference.provenance()
    risk_rows = prov[prov["file"] == "risk.yaml"]
    assert len(risk_rows) >= 25
    assert risk_rows["assumption"].any() and (~risk_rows["assumption"]).any()


def test_calibration_figures_are_consistent_with_their_derivation():
    ref = reference.load_reference("risk")
    f = ref["frequency"]
    # ransomware share = (47 + 32 + 40) / (733 + 581 + 749)
    assert f["ransomware_share"]["value"] == pytest.approx(119 / 2063, abs=5e-5)
    assert f["declared_incidents_low"]["value"] <= f["declared_incidents_per_year"]["value"] <= f["declared_incidents_high"]["value"]
    # the magnitude interval per bed or place brackets the two known attacks
    m, a = ref["magnitude"], ref["anchors"]
    for attack in ("dax", "corbeil"):
        per_bed = a[f"{attack}_cost"]["value"] / a[f"{attack}_capacity"]["value"]
        assert m["ransomware_per_capacity_low"]["value"] < per_bed < m["ransomware_per_capacity_high"]["value"]


# ---------------------------------------------------------------------------------------------- hand-computed


def test_reference_establishment_has_the_reference_rate():
    # 100 beds spending the reference share (4 %): incidents = rate_at_reference exactly
    r = establishment_risk(pd.DataFrame([row("000000001", 100, 0.04)]))
    assert r.loc[0, "incidents"] == pytest.approx(0.173, rel=1e-12)
    assert r.loc[0, "ransomware"] == pytest.approx(0.173 * 0.0577, rel=1e-12)


def test_frequency_scales_with_size_share_and_sector_by_hand():
    t = pd.DataFrame([
        row("000000001", 100, 0.0),                       # no security spend
        row("000000002", 200, 0.04),                      # twice the size
        row("000000003", 100, 0.04, medico_social=True),  # medico-social
        row("000000004", 100, 0.10),                      # at the top of the corridor
    ])
    inc = establishment_risk(t)["incidents"].to_numpy()
    # class I, beta 1, alpha z = share / 0.05: S(0)/S(ref) = (1 + 0.8) / 1; S(10 %)/S(ref) = 1.8 / 3
    assert inc[0] == pytest.approx(0.173 * 1.8, rel=1e-12)
    assert inc[1] == pytest.approx(0.173 * 2 ** 0.7, rel=1e-12)
    assert inc[2] == pytest.approx(0.173 * 0.2, rel=1e-12)
    assert inc[3] == pytest.approx(0.173 * 1.8 / 3.0, rel=1e-12)


def test_ransomware_magnitude_by_hand():
    # 100 beds: 90 % interval [200 k€, 1.2 M€]; median sqrt(2e5 x 1.2e6); sigma = ln 6 / (2 x 1.6449)
    r = establishment_risk(pd.DataFrame([row("000000001", 100, 0.04)]))
    median = math.sqrt(2e5 * 1.2e6)
    sigma = math.log(6) / (2 * 1.6448536269514722)
    assert r.loc[0, "ransomware_loss_eur"] == pytest.approx(median * math.exp(sigma ** 2 / 2), rel=1e-9)
    assert r.loc[0, "ransomware_loss_eur"] == pytest.approx(568_228, abs=1)


def test_expected_loss_of_a_300_bed_hospital_by_hand():
    """300 beds + 40 places (size 340, 3.4 × the reference size) spending 3 % of an IT budget of 1,468,800 €.

    Breach: α z = 0.03 / 0.05 = 0.6, S = 0.5 / 1.6 = 0.3125; at the reference share S_ref = 0.5 / 1.8.
    Incidents 0.173 × 3.4^0.7 × S / S_ref; threat rate 0.173 × 3.4^0.7 / S_ref.
    Ransomware loss: the 90 % interval [200 k€, 1.2 M€] × 3.4 (exponent 1): mean median × exp(σ² / 2),
    σ = ln 6 / (2 × 1.6449); other incidents: [10 k€, 300 k€] × 3.4^0.5, σ = ln 30 / (2 × 1.6449).
    Mean loss 5.77 % ransomware; Gordon–Loeb L = threat × mean loss; α = 1 / (0.05 × IT);
    z* = (sqrt(v α L) − 1) / α; marginal value L α v / (α z + 1)².
    """
    r = establishment_risk(pd.DataFrame([row("000000001", 300, 0.03, places=40)]))
    x = r.iloc[0]
    z90 = 1.6448536269514722
    ransom = math.sqrt(2e5 * 1.2e6) * 3.4 * math.exp((math.log(6) / (2 * z90)) ** 2 / 2)
    other = math.sqrt(1e4 * 3e5) * math.sqrt(3.4) * math.exp((math.log(30) / (2 * z90)) ** 2 / 2)
    mean_loss = 0.0577 * ransom + (1 - 0.0577) * other
    s_ref = 0.5 / 1.8
    incidents = 0.173 * 3.4 ** 0.7 * 0.3125 / s_ref
    threat = 0.173 * 3.4 ** 0.7 / s_ref
    it = 300 * EUR_PER_BED * IT_SHARE
    alpha = 1 / (0.05 * it)
    loss = threat * mean_loss
    assert x["size"] == 340 and x["alpha"] == pytest.approx(alpha, rel=1e-12)
    assert x["breach_probability"] == pytest.approx(0.3125, rel=1e-12)
    assert x["incidents"] == pytest.approx(incidents, rel=1e-12)
    assert x["ransomware_loss_eur"] == pytest.approx(ransom, rel=1e-9)
    assert x["mean_loss_eur"] == pytest.approx(mean_loss, rel=1e-9)
    assert x["loss_eur"] == pytest.approx(loss, rel=1e-9)
    assert x["expected_loss_eur"] == pytest.approx(incidents * mean_loss, rel=1e-9)
    assert x["expected_loss_eur"] == pytest.approx(125_544.31, abs=0.01)
    assert x["gl_optimum_eur"] == pytest.approx((math.sqrt(0.5 * alpha * loss) - 1) / alpha, rel=1e-9)
    assert x["marginal_value"] == pytest.approx(loss * alpha * 0.5 / (1 + alpha * 0.03 * it) ** 2, rel=1e-9)


def test_no_it_budget_no_lever_and_no_extra_incidents():
    t = pd.DataFrame([{**row("000000001", 100, 0.0), "it_budget_eur": 0.0, "cyber_spend_eur": 0.0}])
    r = establishment_risk(t).iloc[0]
    assert r["alpha"] == 0.0 and r["gl_optimum_eur"] == 0.0 and r["marginal_value"] == 0.0
    assert r["incidents"] == pytest.approx(0.173)


def test_scenario_overrides_and_their_validation():
    p = risk_parameters(scenario(risk={"breach_function": "II", "vulnerability": 0.3, "incident_rate": 0.2},
                                 awareness={"coverage": 0.5}))
    assert (p.kind, p.vulnerability, p.rate_at_reference) == ("II", 0.3, 0.2)
    assert p.awareness_factor == pytest.approx(1 - 0.5 * 0.4 * 0.5)
    assert p.provenance["kind"] == "scenario: risk.breach_function"
    assert p.provenance["beta"].startswith("risk.yaml: gordon_loeb.beta")
    with pytest.raises(ScenarioError) as err:
        scenario(risk={"vulnerability": 1.0, "alpha_share": 5, "breach_function": "III", "magnitude_scale": -1,
                       "grant_additionality": 1.5, "betta": 2},
                 awareness={"coverage": 40, "effectiveness": -0.1})
    wheres = {p.where for p in err.value.problems}
    for key in ("risk.vulnerability", "risk.alpha_share", "risk.breach_function", "risk.magnitude_scale",
                "risk.grant_additionality", "risk.betta", "awareness.coverage", "awareness.effectiveness"):
        assert f"<dict>: {key}" in wheres, key
    assert "did you mean beta?" in str(err.value)


def test_missing_columns_are_reported_together():
    with pytest.raises(InputError) as err:
        establishment_risk(pd.DataFrame({"finess": ["000000001"], "beds": [1]}))
    assert {p.where for p in err.value.problems} == {"column places", "column it_budget_eur", "column cyber_spend_eur"}


# ---------------------------------------------------------------------------------------------- frequency x magnitude


def test_lognormal_from_interval_hits_its_quantiles():
    m = LognormalMagnitude.from_interval(2_000, 12_000, level=0.90)
    draws = m.draw(400_000, np.random.default_rng(3))
    q5, q95 = np.quantile(draws, [0.05, 0.95])
    assert q5 == pytest.approx(2_000, rel=0.02) and q95 == pytest.approx(12_000, rel=0.02)
    assert draws.mean() == pytest.approx(m.mean(), rel=0.01)
    assert m.scaled(10).mean() == pytest.approx(10 * m.mean())


def test_draws_need_a_generator_and_are_reproducible():
    f = PoissonFrequency(np.array([0.1, 2.0]))
    with pytest.raises(InputError, match="numpy.random.Generator"):
        f.draw(5, None)  # type: ignore[arg-type]
    a = f.draw(1000, np.random.default_rng(7))
    assert a.shape == (1000, 2)
    assert np.array_equal(a, f.draw(1000, np.random.default_rng(7)))
    assert not np.array_equal(a, f.draw(1000, np.random.default_rng(8)))
    with pytest.raises(InputError):
        PoissonFrequency(-1.0)
    with pytest.raises(InputError):
        LognormalMagnitude.from_interval(10, 5)


def test_annual_loss_mean_is_frequency_times_magnitude():
    f, m = PoissonFrequency(0.8), LognormalMagnitude.from_interval(1e4, 1e5)
    draws = annual_loss_draws(f, m, 200_000, np.random.default_rng(11))
    assert draws.mean() == pytest.approx(0.8 * m.mean(), rel=0.02)
    assert (draws == 0).mean() == pytest.approx(math.exp(-0.8), abs=0.01)


# ---------------------------------------------------------------------------------------------- calibration


def _hospitals(table: pd.DataFrame) -> pd.DataFrame:
    if "medico_social" in table.columns:
        return table[~table["medico_social"].astype(bool)]
    return table


def _assert_in_observatory_ranges(table: pd.DataFrame) -> None:
    ref = reference.load_reference("risk")["frequency"]
    counts = expected_incidents(_hospitals(table))
    assert ref["declared_incidents_low"]["value"] <= counts["incidents"] <= ref["declared_incidents_high"]["value"]
    assert ref["ransomware_low"]["value"] <= counts["ransomware"] <= ref["ransomware_high"]["value"]


def test_default_table_lands_in_the_observatory_ranges():
    _assert_in_observatory_ranges(registry.load_establishments())


@pytest.mark.skipif(not config.SAE_DIR.exists(), reason="SAE 2023 files absent")
def test_sae_registry_lands_in_the_observatory_ranges():
    table = registry.import_sae(config.SAE_DIR)
    assert len(table) >= 2_900
    _assert_in_observatory_ranges(table)


# ---------------------------------------------------------------------------------------------- assessment


def _allocation(grants_eur: list[float], shares: list[float], beds: list[int], induced: list[float] | None = None):
    rows = []
    for i, (g, s, b) in enumerate(zip(grants_eur, shares, beds, strict=True)):
        r = row(f"{i + 1:09d}", b, s, region="11" if i % 2 else "84", status="public",
                category="ch" if b < 500 else "chu", eligible=g > 0, grant_cents=round(g * 100),
                cyber_spend_before_eur=s * b * EUR_PER_BED * IT_SHARE - (induced[i] if induced else 0.0))
        rows.append(r)
    return pd.DataFrame(rows)


def test_no_grant_no_awareness_nothing_avoided():
    res = assess(_allocation([0.0, 0.0], [0.03, 0.06], [100, 800]), scenario())
    assert res.summary["avoided_eur"] == 0.0
    assert res.summary["expected_loss_after_eur"] == pytest.approx(res.summary["expected_loss_before_eur"])
    assert res.summary["avoided_per_euro"] is None


def test_avoided_loss_per_euro_by_hand():
    # one 100-bed hospital at 4 %: IT = 489,600 €, z0 = 19,584 €/yr; grant 500,000 € over 5 years = 100,000 €/yr
    t = _allocation([500_000.0], [0.04], [100])
    res = assess(t, scenario())
    x = res.table.iloc[0]
    alpha = 1 / (0.05 * 489_600)
    s0 = 0.5 / (1 + alpha * 19_584)
    s1 = 0.5 / (1 + alpha * 119_584)
    assert x["investment_after_eur"] == pytest.approx(119_584)
    assert x["avoided_grant_eur"] == pytest.approx(x["loss_eur"] * (s0 - s1), rel=1e-12)
    assert x["avoided_per_euro"] == pytest.approx(x["loss_eur"] * (s0 - s1) / 100_000, rel=1e-12)
    assert x["incidents_after"] == pytest.approx(0.173 * s1 / s0, rel=1e-12)


def test_avoided_loss_splits_into_awareness_uptake_and_grant():
    t = _allocation([300_000.0, 0.0, 1_000_000.0], [0.05, 0.02, 0.07], [150, 60, 900], induced=[2_000.0, 0.0, 0.0])
    res = assess(t, scenario(awareness={"coverage": 0.6}))
    tab = res.table
    parts = tab["avoided_awareness_eur"] + tab["avoided_uptake_eur"] + tab["avoided_grant_eur"]
    assert np.allclose(parts, tab["avoided_eur"], rtol=1e-12)
    assert (tab["avoided_uptake_eur"] > 0).tolist() == [True, False, False]
    # awareness alone: incidents x (1 - 0.5 x 0.4 x 0.6) on the row without grant nor uptake
    assert tab.loc[1, "incidents_after"] == pytest.approx(tab.loc[1, "incidents_before"] * 0.88, rel=1e-12)


def test_summary_is_json_and_breakdowns_add_up():
    t = _allocation([300_000.0, 0.0, 1_000_000.0, 50_000.0], [0.05, 0.02, 0.07, 0.09], [150, 60, 900, 40])
    res = assess(t, scenario())
    s = json.loads(json.dumps(res.summary))
    for key in ("by_region", "by_status", "by_category"):
        groups = s[key].values()
        assert sum(g["n"] for g in groups) == 4
        assert sum(g["avoided_eur"] for g in groups) == pytest.approx(s["avoided_eur"])
        assert sum(g["expected_loss_before_eur"] for g in groups) == pytest.approx(s["expected_loss_before_eur"])
    assert s["grant_eur"] == 1_350_000.0
    assert s["avoided_per_euro"] == pytest.approx(s["avoided_grant_eur"] / (1_350_000 / 5))


@settings(max_examples=50, deadline=None)
@given(
    grants=st.lists(st.floats(0, 5e6), min_size=1, max_size=8),
    share=st.floats(0.0, 0.2),
    coverage=st.floats(0, 1),
    kind=st.sampled_from(["I", "II"]),
)
def test_more_money_never_raises_expected_loss(grants, share, coverage, kind):
    n = len(grants)
    t = _allocation([0.0] * n, [share] * n, [50 + 100 * i for i in range(n)])
    sc = scenario(risk={"breach_function": kind}, awareness={"coverage": coverage})
    b = grant_benefit(t, sc)
    g = np.asarray(grants)
    avoided, more = b.avoided(g), b.avoided(2 * g)
    assert (avoided >= -1e-9).all()
    assert (more >= avoided - 1e-9).all()
    assert (b.marginal(2 * g) <= b.marginal(g) + 1e-15).all()  # concave
    # the benefit is the risk model's: n × L × (S(z) − S(z + g / n)) with S of class I or II
    z0 = b.investment
    s_of = (lambda z: 0.5 / (1 + b.alpha * z)) if kind == "I" else (lambda z: 0.5 ** (1 + b.alpha * z))
    # and strictly so where the money is real: a grant of a euro or more avoids some loss, and doubling it avoids
    # more unless the breach probability is already negligible (class II falls exponentially)
    real = g >= 1.0
    assert (avoided[real] > 0).all()
    room = real & (s_of(z0 + g / 5) > 1e-9)
    assert (more[room] > avoided[room]).all()
    np.testing.assert_allclose(avoided, 5 * b.loss * (s_of(z0) - s_of(z0 + g / 5)), rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------------------------------------- report pieces


def test_published_breakdown_suppresses_small_cells_and_figures_build():
    from cyberbudget.reports import plots

    # 7 public, 3 for-profit, 3 non-profit: the two small groups are suppressed (together 6 >= 5: no secondary)
    t = _allocation([300_000.0] * 13, [0.05] * 13, [150] * 7 + [40] * 6)
    t["status"] = ["public"] * 7 + ["private_forprofit"] * 3 + ["private_nonprofit"] * 3
    res = assess(t, scenario())
    pub = published_breakdown(res, "status")
    assert pub.set_index("status")["suppressed"].to_dict() == {
        "private_forprofit": "primary", "private_nonprofit": "primary", "public": ""}
    assert pub.loc[pub["suppressed"] != "", "avoided_grant_eur"].isna().all()
    assert pub.loc[pub["status"] == "public", "avoided_per_euro"].notna().all()
    for fig in (plots.risk_losses_by(pub, "status"), plots.avoided_per_euro_by(pub, "status", lang="fr")):
        assert fig.layout.title.text
    assert set(plots.risk_figure_kinds()) >= {"risk_losses_by", "avoided_per_euro_by", "rule_comparison",
                                              "marginal_value_curve"}


def test_risk_report_template_is_thin_parameterised_and_stored_without_outputs():
    import nbformat

    nb = nbformat.read(config.TEMPLATES_DIR / "risk_report.ipynb", as_version=4)
    ref = nbformat.read(config.TEMPLATES_DIR / "allocation_report.ipynb", as_version=4)

    def names(cell) -> list[str]:
        return [line.split(":")[0] for line in cell.source.splitlines() if line and not line.startswith("#")]

    first = nb.cells[0]
    assert "parameters" in first.metadata.get("tags", [])
    assert names(first) == names(ref.cells[0])  # same parameters as the allocation report: `run` injects them
    for line in first.source.splitlines()[1:]:
        assert ": " in line and "  # " in line  # typed and commented
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            for line in cell.source.splitlines():  # no logic: library calls only
                assert not line.lstrip().startswith(("def ", "for ", "class ", "while ")), line
