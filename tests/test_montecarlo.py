"""Monte Carlo simulation (cyberbudget.uncertainty.montecarlo): seeding contract, exactness of the fast path, convergence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cyberbudget import config
from cyberbudget.errors import OptionError, ScenarioError
from cyberbudget.policy.allocation import allocate
from cyberbudget.policy.scenario import load_scenario
from cyberbudget.risk.model import establishment_risk
from cyberbudget.uncertainty.montecarlo import (
    MonteCarloResult,
    _alias_table,
    _share_of_rest,
    block_rng,
    block_seed_sequence,
    evaluate,
    make_layout,
    plan_blocks,
    prepare_inputs,
    simulate,
)

IMPUTED = "operating_budget_eur it_budget_eur cyber_spend_eur"


def make_table(n: int = 120, seed: int = 1, imputed: str = IMPUTED) -> pd.DataFrame:
    """A synthetic establishment table (DESIGN.md columns; labelled synthetic by its names)."""
    rng = np.random.default_rng(seed)
    status = rng.choice(["public", "private_nonprofit", "private_forprofit"], n)
    category = np.where(status == "public", rng.choice(["chu", "ch", "chs"], n), rng.choice(["mco", "ssr", "psy"], n))
    beds = rng.integers(10, 800, n)
    places = rng.integers(0, 100, n)
    op = (beds + places) * 250_000.0
    it = np.round(op * rng.uniform(0.01, 0.025, n), 2)
    cyber = np.round(it * rng.uniform(0.01, 0.09, n), 2)
    ose = (status == "public") & (rng.random(n) < 0.15)
    return pd.DataFrame({
        "finess": [f"{i:09d}" for i in range(10**8, 10**8 + n)], "name": [f"Synthetic {i}" for i in range(n)],
        "region": rng.choice(["11", "84", "93"], n), "department": "75", "status": status, "category": category,
        "ght": "", "ght_support": ose, "ose": ose, "beds": beds, "places": places, "operating_budget_eur": op,
        "it_budget_eur": it, "cyber_spend_eur": cyber, "imputed": imputed,
    })


def scenario(**sections) -> object:
    base = {"name": "mc", "seed": 11, "envelope": {"total_eur": 10_000_000}}
    base.update(sections)
    return load_scenario(base)


FIXED = {  # no uncertainty at all: every factor at 1, no idiosyncratic noise
    name: [1.0, 1.0] for name in ("it_budget_factor", "cyber_share_factor", "uptake_slope_factor",
                                  "uptake_midpoint_factor", "frequency_factor", "magnitude_factor")
} | {"it_budget_sigma": 0.0, "cyber_share_sigma": 0.0}


# --------------------------------------------------------------------------------------------- seeding


def test_block_b_uses_the_bth_spawned_child_of_the_seed():
    for b in (0, 3, 9):
        expected = np.random.default_rng(np.random.SeedSequence(2021).spawn(10)[b]).standard_normal(4)
        assert np.array_equal(block_rng(2021, b).standard_normal(4), expected)
        assert block_seed_sequence(2021, b).spawn_key == (b,)


def test_draws_are_split_in_fixed_blocks_of_1024():
    assert config.MC_BLOCK_SIZE == 1024
    assert plan_blocks(1024) == [(0, 0, 1024)]
    assert plan_blocks(2049) == [(0, 0, 1024), (1, 1024, 1024), (2, 2048, 1)]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_table()


#: Private for-profit establishments excluded: some rows only go through the risk path (Layout.rest).
PARTIAL = {"eligibility": {"statuses": ["public", "private_nonprofit"]}}


@pytest.fixture(scope="module")
def reference_run(table) -> MonteCarloResult:
    return simulate(table, scenario(**PARTIAL), draws=2100, seed=5)


def test_one_row_per_draw_and_one_per_establishment(reference_run, table):
    mc = reference_run
    assert len(mc.draws) == 2100 and mc.draws["draw"].tolist() == list(range(2100))
    for col in ("eligible", "allocated_cents", "unallocated_cents", "induced_spend_eur", "avoided_loss_eur",
                "sector_loss_eur", "it_budget_factor", "frequency_factor"):
        assert col in mc.draws.columns
    assert mc.draws["allocated_cents"].dtype == np.int64
    assert (mc.draws["allocated_cents"] + mc.draws["unallocated_cents"] == 1_000_000_000).all()
    assert len(mc.establishments) == len(table)
    assert mc.establishments["finess"].is_monotonic_increasing
    assert mc.quantile_method == "exact"
    est = mc.establishments
    assert ((est["p_eligible"] >= 0) & (est["p_eligible"] <= 1)).all()
    assert (est["grant_p5_eur"] <= est["grant_p50_eur"]).all() and (est["grant_p50_eur"] <= est["grant_p95_eur"]).all()
    excluded = est["status"] == "private_forprofit"  # outside the scenario's statuses: never eligible, no grant
    assert 0 < excluded.sum() < len(est)
    assert (est.loc[excluded, ["p_eligible", "grant_mean_eur", "grant_p95_eur"]] == 0).all().all()
    assert (est.loc[~excluded, "p_eligible"] > 0).any()


@pytest.mark.parametrize("chunk_blocks", [1, 2, 3])
def test_results_do_not_depend_on_chunk_size(table, reference_run, chunk_blocks):
    other = simulate(table, scenario(**PARTIAL), draws=2100, seed=5, chunk_blocks=chunk_blocks)
    pd.testing.assert_frame_equal(other.draws, reference_run.draws, check_exact=True)
    pd.testing.assert_frame_equal(other.establishments, reference_run.establishments, check_exact=True)


def test_results_identical_on_a_dask_cluster(table, reference_run):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        other = simulate(table, scenario(**PARTIAL), draws=2100, seed=5, client=client, chunk_blocks=1)
    pd.testing.assert_frame_equal(other.draws, reference_run.draws, check_exact=True)
    pd.testing.assert_frame_equal(other.establishments, reference_run.establishments, check_exact=True)


def test_another_seed_gives_other_draws_and_none_means_the_scenario_seed(table, reference_run):
    # the same scenario as the reference run (seed 5), another seed: every random input differs
    other = simulate(table, scenario(**PARTIAL), draws=2100, seed=6)
    assert other.seed == 6 and reference_run.seed == 5
    for col in ("it_budget_factor", "frequency_factor", "sector_loss_eur", "eligible"):
        assert not np.array_equal(other.draws[col], reference_run.draws[col]), col
    assert not np.array_equal(other.establishments["grant_mean_eur"], reference_run.establishments["grant_mean_eur"])
    # ... and the same seed again gives the same draws
    again = simulate(table, scenario(**PARTIAL), draws=2100, seed=5)
    pd.testing.assert_frame_equal(again.draws, reference_run.draws, check_exact=True)
    # seed None is the scenario's seed (11)
    default = simulate(table, scenario(**PARTIAL), draws=300)
    assert default.seed == 11
    same = simulate(table, scenario(**PARTIAL), draws=300, seed=11)
    pd.testing.assert_frame_equal(default.draws, same.draws, check_exact=True)
    assert not np.array_equal(default.draws["sector_loss_eur"], reference_run.draws["sector_loss_eur"].iloc[:300])


def test_progress_reports_every_chunk(table):
    calls = []
    simulate(table, scenario(), draws=2100, seed=1, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1024, 2100), (2048, 2100), (2100, 2100)]


# ---------------------------------------------------------------------------- the fast path is exact in total


RULES = [
    {"allocation": {"rule": "proportional"}},
    {"allocation": {"rule": "proportional", "cap_eur": 150_000, "floor_eur": 10_000}},
    {"allocation": {"rule": "proportional", "cap_eur": 20_000}},  # everyone capped: money left
    {"allocation": {"rule": "matching", "match_rate": 0.5}},
    {"allocation": {"rule": "gap", "cap_eur": 500_000}},
    {"allocation": {"rule": "tiered", "tier_amount": "need"}},
    {"allocation": {"rule": "tiered", "tier_amount": "demand"}, "envelope": {"total_eur": 300_000_000}},
    {"eligibility": {"exclude_above_max": True, "statuses": ["public", "private_nonprofit"]}},
    {"uptake": {"model": "full"}},
    {"ose": {"obligation": "min_share"}, "allocation": {"rule": "gap"}},
    {"eligibility": {"medico_social": False}},  # with make_table's medico-social rows (see the test)
]


@pytest.mark.parametrize("sections", RULES)
@pytest.mark.parametrize("seed", [1, 2])
def test_fast_path_totals_equal_the_cent_exact_allocator(sections, seed):
    t = make_table(150, seed)
    t["medico_social"] = np.arange(len(t)) % 4 == 0  # a medico-social layer, excluded by default
    s = scenario(**sections)
    exact = allocate(t, s)
    out = evaluate(prepare_inputs(t, s), np.ones((1, len(prepare_inputs(t, s).parameters))))
    assert int(out.per_draw["allocated_cents"][0]) == exact.summary["allocated_cents"]
    assert int(out.per_draw["unallocated_cents"][0]) == exact.summary["unallocated_cents"]
    assert int(out.per_draw["eligible"][0]) == exact.summary["n_eligible"]
    np.testing.assert_allclose(out.grants[0] * 100, exact.table["exact_cents"], rtol=1e-9, atol=1e-4)
    assert np.array_equal(out.eligible[0], exact.table["eligible"].to_numpy())
    assert out.per_draw["induced_spend_eur"][0] == pytest.approx(exact.summary["induced_spend_eur"], rel=1e-9,
                                                                   abs=1e-6)


def test_observed_rows_keep_their_eligibility_in_every_draw():
    t = make_table(80, 3, imputed="")
    mc = simulate(t, scenario(), draws=200, seed=2)
    truth = allocate(t, scenario()).table["eligible"].to_numpy()
    assert np.array_equal(mc.establishments["p_eligible"].to_numpy(), truth.astype(float))
    assert (mc.draws["eligible"] == truth.sum()).all()


def test_optimal_rule_and_bad_options_are_rejected(table):
    with pytest.raises(ScenarioError, match="allocation.rule"):
        simulate(table, scenario(allocation={"rule": "optimal"}), draws=10)
    with pytest.raises(OptionError) as err:
        simulate(table, scenario(), draws=0, seed=-1, chunk_blocks=0)
    assert len(err.value.problems) == 3


# ---------------------------------------------------------------------- sparse incidents, cheap noise


def test_alias_table_by_hand():
    # weights 1, 3 (n = 2): scaled 0.5, 1.5; column 0 keeps itself with 0.5 and sends the rest to 1
    prob, alias = _alias_table(np.array([1.0, 3.0]))
    assert prob.tolist() == [0.5, 1.0] and alias.tolist() == [1, 1]
    prob, alias = _alias_table(np.array([0.0, 2.0, 2.0]))  # a zero weight is never picked
    assert prob[0] == 0.0 and alias[0] in (1, 2)


def _alias_probabilities(prob: np.ndarray, alias: np.ndarray) -> np.ndarray:
    """Exact probability of each index under the alias method (column j with 1/n, kept or sent to alias)."""
    n = len(prob)
    p = prob / n
    np.add.at(p, alias, (1.0 - prob) / n)
    return p


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1e6, allow_nan=False), min_size=1, max_size=60).filter(lambda w: sum(w) > 0))
def test_alias_table_picks_each_index_with_its_weight(weights):
    w = np.array(weights)
    prob, alias = _alias_table(w)
    assert ((prob >= 0) & (prob <= 1)).all() and ((alias >= 0) & (alias < len(w))).all()
    np.testing.assert_allclose(_alias_probabilities(prob, alias), w / w.sum(), atol=1e-12)


def test_rest_shares_fast_path_is_the_noise_formula():
    t = make_table(200, 6)
    s = scenario(**PARTIAL)
    inp = prepare_inputs(t, s)
    lay = make_layout(inp)
    rest = lay.rest.inp
    assert rest.n > 0 and rest.imp_cyber.all()
    rng = np.random.default_rng(3)
    theta = np.ones((5, len(inp.parameters)))
    theta[:, inp.theta_index("cyber_share_factor")] = [0.7, 0.9, 1.0, 1.2, 1.3]
    z = rng.standard_normal((5, rest.n))
    z[0, :3] = 20.0  # shares far above 1: clipped at 1
    sigma = inp.cyber_share_sigma
    share = rest.share0 * theta[:, [inp.theta_index("cyber_share_factor")]] * np.exp(sigma * z - sigma**2 / 2)
    expected = np.minimum(share, 1.0) / inp.alpha_share
    np.testing.assert_allclose(_share_of_rest(inp, lay, theta, None, z.copy()), expected, rtol=1e-12)
    assert (expected == 1.0 / inp.alpha_share).any()


def test_noise_only_on_allowed_rows_for_it_and_layout_splits_the_table():
    t = make_table(100, 7)
    inp = prepare_inputs(t, scenario(**PARTIAL))
    lay = make_layout(inp)
    assert sorted(np.concatenate([lay.allowed.index, lay.rest.index]).tolist()) == list(range(100))
    assert inp.allowed[lay.allowed.index].all() and not inp.allowed[lay.rest.index].any()
    # every imputed cyber share has its noise; the IT budget only where it can change a result
    assert sum(lay.m_cyber) == inp.imp_cyber.sum()
    assert lay.m_it == (int(inp.imp_it[lay.allowed.index].sum()), 0)


def test_realised_losses_converge_to_expected_losses_with_grants():
    # with grants the breach probability differs between establishments: thinning must weight the picks by it
    t = make_table(60, 4)
    s = scenario(envelope={"total_eur": 50_000_000}, uncertainty=FIXED, **PARTIAL)
    mc = simulate(t, s, draws=4000, seed=9)
    expected = mc.draws["expected_loss_eur"].to_numpy()
    assert np.ptp(expected) == 0 and mc.draws["avoided_loss_eur"].iloc[0] > 0
    x = mc.draws["sector_loss_eur"].to_numpy()
    assert abs(x.mean() - expected[0]) < 4 * x.std(ddof=1) / np.sqrt(len(x))
    lam = float(mc.draws["expected_incidents"].iloc[0])
    k = mc.draws["incidents"].to_numpy()
    assert abs(k.mean() - lam) < 4 * np.sqrt(lam / len(k))


# ------------------------------------------------------------------------------------------- convergence


def test_mean_sector_loss_converges_to_frequency_times_mean_magnitude():
    t = make_table(60, 4)
    s = scenario(envelope={"total_eur": 0}, uncertainty=FIXED)
    mc = simulate(t, s, draws=4000, seed=3)
    risk = establishment_risk(t, s)
    expected_loss = float(risk["expected_loss_eur"].sum())  # sum of rate_i x mean magnitude_i
    expected_incidents = float(risk["incidents"].sum())
    assert mc.draws["expected_loss_eur"].to_numpy() == pytest.approx(expected_loss, rel=1e-9)
    x = mc.draws["sector_loss_eur"].to_numpy()
    se = x.std(ddof=1) / np.sqrt(len(x))
    assert abs(x.mean() - expected_loss) < 4 * se
    k = mc.draws["incidents"].to_numpy()
    assert abs(k.mean() - expected_incidents) < 4 * np.sqrt(expected_incidents / len(k))
    assert k.var(ddof=1) == pytest.approx(expected_incidents, rel=0.1)  # Poisson: variance = mean


def test_common_factors_scale_the_expected_loss_on_average():
    t = make_table(60, 4)
    unc = FIXED | {"frequency_factor": [0.5, 1.5], "magnitude_factor": [0.8, 1.2]}
    mc = simulate(t, scenario(envelope={"total_eur": 0}, uncertainty=unc), draws=3000, seed=8)
    base = float(establishment_risk(t, scenario()).loc[:, "expected_loss_eur"].sum())
    f, m = mc.draws["frequency_factor"], mc.draws["magnitude_factor"]
    assert np.allclose(mc.draws["expected_loss_eur"], base * f * m, rtol=1e-9)
    assert f.min() >= 0.5 and f.max() <= 1.5
    assert mc.draws["expected_loss_eur"].mean() == pytest.approx(base, rel=0.03)  # E[F] E[M] = 1


def test_histogram_quantiles_approximate_the_exact_ones(table):
    exact = simulate(table, scenario(), draws=1500, seed=4)
    approx = simulate(table, scenario(), draws=1500, seed=4, exact_quantiles_max=0)
    assert approx.quantile_method == "histogram"
    p_zero = 1.0 - exact.establishments["p_eligible"].to_numpy()  # proportional: eligible <=> grant > 0
    for level, q in ((0.05, "grant_p5_eur"), (0.5, "grant_p50_eur"), (0.95, "grant_p95_eur")):
        e, a = exact.establishments[q].to_numpy(), approx.establishments[q].to_numpy()
        clear = np.abs(p_zero - level) > 0.01  # away from the jump of the distribution at 0
        assert np.array_equal(e[clear & (p_zero > level)], a[clear & (p_zero > level)])  # both 0
        pos = clear & (p_zero < level)
        assert pos.sum() > 20 or level < 0.5
        assert np.all(np.abs(a[pos] / e[pos] - 1) < 0.06)  # within one bin (5.7 %)
    pd.testing.assert_frame_equal(exact.draws, approx.draws)


# -------------------------------------------------------------------------------------- VaR, CVaR, LEC


def test_var_cvar_and_exceedance_on_a_hand_made_sample():
    draws = pd.DataFrame({"sector_loss_eur": np.arange(1.0, 101.0)})
    mc = MonteCarloResult(draws=draws, establishments=pd.DataFrame(), quantile_method="exact", seed=0,
                          parameters=[])
    assert mc.var(0.95) == pytest.approx(95.05)  # numpy's linear quantile of 1..100
    assert mc.cvar(0.95) == pytest.approx((96 + 97 + 98 + 99 + 100) / 5)
    lec = mc.loss_exceedance(points=11)
    assert lec["loss_eur"].tolist() == pytest.approx([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    assert lec["probability"].tolist() == pytest.approx([1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0])
    with pytest.raises(OptionError):
        mc.var(1.5)
