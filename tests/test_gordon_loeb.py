"""Gordon & Loeb (2002) breach functions and optimal investment: the closed forms of the paper.

Class I ``S(z, v) = v / (αz + 1)^β``, class II ``S(z, v) = v^(αz + 1)``; the optimum maximises
``(v − S(z, v)) L − z`` over ``z ≥ 0`` and never exceeds ``vL/e``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from cyberbudget.errors import InputError
from cyberbudget.risk.model import (
    breach_marginal,
    breach_probability,
    gordon_loeb_optimum,
    investment_at_marginal,
)

# ---------------------------------------------------------------------------------------------- hand-computed


def test_breach_functions_by_hand():
    # class I: 0.5 / (1 x 1 + 1)^1 = 0.25; beta = 2: 0.5 / 4 = 0.125; class II: 0.5^(1 + 1) = 0.25
    assert breach_probability(1.0, 0.5, 1.0) == 0.25
    assert breach_probability(1.0, 0.5, 1.0, beta=2.0) == 0.125
    assert breach_probability(1.0, 0.5, 1.0, kind="II") == 0.25
    # no investment: the vulnerability itself, both classes
    assert breach_probability(0.0, 0.3, 2.0) == pytest.approx(0.3)
    assert breach_probability(0.0, 0.3, 2.0, kind="II") == pytest.approx(0.3)


def test_class_one_optimum_by_hand():
    # v β α L = 0.5 x 1 x 1e-5 x 2e6 = 10 -> z* = (sqrt(10) - 1) / 1e-5
    assert gordon_loeb_optimum(v=0.5, loss=2e6, alpha=1e-5) == pytest.approx((math.sqrt(10) - 1) / 1e-5, rel=1e-12)
    # beta = 2: (0.5 x 2 x 1e-5 x 2e6)^(1/3) = 20^(1/3)
    assert gordon_loeb_optimum(0.5, 2e6, 1e-5, beta=2.0) == pytest.approx((20 ** (1 / 3) - 1) / 1e-5, rel=1e-12)


def test_class_two_optimum_by_hand():
    # z* = ln(-1 / (α v L ln v)) / (α ln v) with α v L = 10, ln 0.5 = -0.6931...
    expected = math.log(-1 / (10 * math.log(0.5))) / (1e-5 * math.log(0.5))
    assert expected == pytest.approx(279_316.17, abs=0.01)
    assert gordon_loeb_optimum(0.5, 2e6, 1e-5, kind="II") == pytest.approx(expected, rel=1e-12)


def test_no_investment_pays_when_the_first_euro_returns_less_than_a_euro():
    # class I: v β α L = 0.5 x 1e-5 x 1e5 = 0.5 <= 1
    assert gordon_loeb_optimum(0.5, 1e5, 1e-5) == 0.0
    # class II: -α v L ln v = 0.5 x 0.693 < 1
    assert gordon_loeb_optimum(0.5, 1e5, 1e-5, kind="II") == 0.0
    # degenerate: no loss, no productivity, no vulnerability, class II certain breach
    assert gordon_loeb_optimum(0.5, 0.0, 1e-5) == 0.0
    assert gordon_loeb_optimum(0.5, 2e6, 0.0) == 0.0
    assert gordon_loeb_optimum(0.0, 2e6, 1e-5) == 0.0
    assert gordon_loeb_optimum(1.0, 2e6, 1e-5, kind="II") == 0.0


def test_scalars_in_scalars_out_arrays_broadcast():
    assert isinstance(gordon_loeb_optimum(0.5, 2e6, 1e-5), float)
    assert isinstance(breach_probability(1.0, 0.5, 1e-5), float)
    z = gordon_loeb_optimum(np.array([0.2, 0.5, 0.8])[:, None], np.array([1e5, 1e6, 1e7, 1e8]), 1e-5)
    assert z.shape == (3, 4)
    assert z[1, 2] == pytest.approx(gordon_loeb_optimum(0.5, 1e7, 1e-5))


def test_invalid_arguments_are_all_reported():
    with pytest.raises(InputError) as err:
        gordon_loeb_optimum(v=1.5, loss=-1.0, alpha=-2.0, beta=0.0, kind="III")
    text = str(err.value)
    for name in ("kind", "v", "alpha", "beta", "loss"):
        assert f"  - {name}:" in text
    assert len(err.value.problems) == 5


# ---------------------------------------------------------------------------------------------- optimality


@pytest.mark.parametrize("kind,beta", [("I", 1.0), ("I", 2.0), ("I", 3.0), ("I", 0.5), ("II", 1.0)])
@pytest.mark.parametrize("v,loss,alpha", [(0.5, 2e6, 1e-5), (0.9, 3e5, 1e-4), (0.2, 5e7, 2e-6), (0.65, 1e6, 3e-6)])
def test_optimum_maximises_expected_net_benefit(kind, beta, v, loss, alpha):
    def neg_enbis(z: float) -> float:
        return -((v - breach_probability(z, v, alpha, beta, kind)) * loss - z)

    z_star = gordon_loeb_optimum(v, loss, alpha, beta, kind)
    numeric = minimize_scalar(neg_enbis, bounds=(0.0, v * loss), method="bounded", options={"xatol": 1e-3})
    assert -neg_enbis(z_star) >= -numeric.fun - 1e-6 * loss
    assert z_star == pytest.approx(numeric.x, rel=1e-4, abs=1.0)
    if z_star > 0:  # first-order condition: the last euro avoids exactly one euro of expected loss
        assert loss * breach_marginal(z_star, v, alpha, beta, kind) == pytest.approx(1.0, rel=1e-9)


def test_optimum_is_the_investment_where_the_marginal_value_is_one():
    v = np.linspace(0.05, 0.95, 19)[:, None]
    loss = np.logspace(4, 9, 11)
    for kind in ("I", "II"):
        assert np.allclose(investment_at_marginal(1.0, v, loss, 1e-5, 1.5, kind),
                           gordon_loeb_optimum(v, loss, 1e-5, 1.5, kind), rtol=1e-12, atol=1e-9)


# ---------------------------------------------------------------------------------------------- the 1/e rule


@pytest.mark.parametrize("kind", ["I", "II"])
@pytest.mark.parametrize("beta", [0.1, 0.5, 1.0, 2.0, 3.0, 20.0])
def test_never_more_than_v_l_over_e_on_a_grid(kind, beta):
    v = np.linspace(0.001, 0.999, 120)[:, None, None]
    loss = np.logspace(0, 9, 60)[None, :, None]
    alpha = np.logspace(-9, 0, 40)[None, None, :]
    z = gordon_loeb_optimum(v, loss, alpha, beta, kind)
    assert z.shape == (120, 60, 40)
    assert (z >= 0).all()
    assert (z <= v * loss / math.e * (1 + 1e-9)).all()


@settings(max_examples=300, deadline=None)
@given(
    v=st.floats(1e-6, 1 - 1e-6),
    loss=st.floats(0.0, 1e10),
    alpha=st.floats(0.0, 10.0),
    beta=st.floats(0.01, 50.0),
    kind=st.sampled_from(["I", "II"]),
)
def test_never_more_than_v_l_over_e_property(v, loss, alpha, beta, kind):
    z = gordon_loeb_optimum(v, loss, alpha, beta, kind)
    assert 0.0 <= z <= v * loss / math.e * (1 + 1e-9) + 1e-9


@settings(max_examples=200, deadline=None)
@given(
    v=st.floats(0.01, 0.99),
    loss=st.floats(1e3, 1e9),
    alpha=st.floats(1e-8, 1e-2),
    beta=st.floats(0.2, 5.0),
    kind=st.sampled_from(["I", "II"]),
    dz=st.floats(1.0, 1e6),
)
def test_breach_probability_falls_with_investment_and_is_convex(v, loss, alpha, beta, kind, dz):
    z = np.array([0.0, dz, 2 * dz])
    s = breach_probability(z, v, alpha, beta, kind)
    assert s[0] >= s[1] >= s[2] >= 0
    assert s[0] - s[1] >= s[1] - s[2] - 1e-15  # convex: diminishing returns
    assert breach_marginal(z[1], v, alpha, beta, kind) >= breach_marginal(z[2], v, alpha, beta, kind)
