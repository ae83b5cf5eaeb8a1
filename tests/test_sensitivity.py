"""Sensitivity analysis (cyberbudget.uncertainty.sensitivity): Sobol wiring on Ishigami, tornado on a constructed case."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_montecarlo import FIXED, make_table, scenario

from cyberbudget.errors import OptionError
from cyberbudget.uncertainty.sensitivity import ishigami, sobol, sobol_indices, tornado


def test_sobol_wiring_recovers_the_ishigami_indices():
    pi = math.pi
    df = sobol_indices(ishigami, ["x1", "x2", "x3"], [(-pi, pi)] * 3, n=8192, seed=20210218)
    s1, st = df["S1"].to_numpy(), df["ST"].to_numpy()
    np.testing.assert_allclose(s1, [0.314, 0.442, 0.0], atol=0.03)
    np.testing.assert_allclose(st, [0.558, 0.442, 0.244], atol=0.03)


def test_sobol_sampling_is_seeded():
    pi = math.pi
    a = sobol_indices(ishigami, ["x1", "x2", "x3"], [(-pi, pi)] * 3, n=256, seed=3)
    b = sobol_indices(ishigami, ["x1", "x2", "x3"], [(-pi, pi)] * 3, n=256, seed=3)
    c = sobol_indices(ishigami, ["x1", "x2", "x3"], [(-pi, pi)] * 3, n=256, seed=4)
    assert a.equals(b) and not a.equals(c)


def test_sobol_rejects_a_sample_size_that_is_not_a_power_of_two():
    with pytest.raises(OptionError, match="power of 2"):
        sobol_indices(ishigami, ["x1", "x2", "x3"], [(0, 1)] * 3, n=1000)


def test_tornado_moves_one_factor_at_a_time():
    t = make_table(100, 2)
    unc = FIXED | {"frequency_factor": [0.5, 2.0], "magnitude_factor": [0.8, 1.25]}
    s = scenario(uncertainty=unc)
    df = tornado(t, s, outputs=["expected_loss_eur", "eligible"])
    loss = df[df["output"] == "expected_loss_eur"].set_index("parameter")
    base = loss["base_value"].iloc[0]
    # the expected loss is proportional to both factors: hand-computed bars
    assert loss.loc["frequency_factor", "low_value"] == pytest.approx(0.5 * base)
    assert loss.loc["frequency_factor", "high_value"] == pytest.approx(2.0 * base)
    assert loss.loc["magnitude_factor", "swing"] == pytest.approx((1.25 - 0.8) * base)
    assert list(loss.index[:2]) == ["frequency_factor", "magnitude_factor"]  # sorted by swing
    assert loss.loc["it_budget_factor", "swing"] == 0.0
    elig = df[df["output"] == "eligible"].set_index("parameter")
    assert elig.loc["frequency_factor", "swing"] == 0  # risk does not change who is eligible
    with pytest.raises(OptionError):
        tornado(t, s, outputs=["nonsense"])


def test_sobol_on_the_model_attributes_the_expected_loss_to_the_risk_factors():
    t = make_table(60, 5)
    unc = FIXED | {"frequency_factor": [0.5, 1.5], "cyber_share_factor": [0.7, 1.3]}
    res = sobol(t, scenario(uncertainty=unc), n=256, outputs=["expected_loss_eur", "eligible"])
    idx = res.indices.set_index(["output", "parameter"])
    assert idx.loc[("expected_loss_eur", "frequency_factor"), "ST"] > 0.8
    assert idx.loc[("eligible", "frequency_factor"), "ST"] == pytest.approx(0.0, abs=1e-9)
    assert idx.loc[("eligible", "cyber_share_factor"), "S1"] > 0.9
    assert res.seed == 11 and res.samples == 256 * (4 + 2)
