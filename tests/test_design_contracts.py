"""Acceptance audit of /work/shared/DESIGN.md: contracts not already pinned by the other test files.

Hand-computed cases first (allocation rules, rounding, years, scenario money), then the Python API as a user
outside the repository meets it, the Monte Carlo block seeding, and the command line's exit codes end to end.
The arithmetic of each case is written in its docstring; amounts are in cents unless said otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_allocation import make_table

from cyberbudget import config
from cyberbudget.errors import ScenarioError
from cyberbudget.policy.allocation import allocate
from cyberbudget.policy.scenario import deep_merge, envelope_cents, load_scenario


def table_of(rows: list[dict]) -> pd.DataFrame:
    """A DESIGN.md establishment table from partial rows (finess 01000000i, i from 1, unless given)."""
    return make_table(rows, first_finess=10_000_001)


def run(rows: list[dict], spec: dict):
    result = allocate(table_of(rows), load_scenario(deep_merge({"name": "audit"}, spec)))
    s = result.summary
    assert s["allocated_cents"] + s["unallocated_cents"] == s["envelope_cents"]
    assert (result.table["grant_cents"] >= 0).all()
    return result


def grants(result) -> dict[str, int]:
    return dict(zip(result.table["finess"], result.table["grant_cents"].tolist(), strict=True))


ELIGIBLE = {"it_budget_eur": 1000, "cyber_spend_eur": 60}  # 6 %: inside the corridor


# ------------------------------------------------------------------------------------------ allocation rules


def test_proportional_water_filling_cascades_through_two_caps() -> None:
    """1,000 € pro rata to IT 1,000 / 3,000 / 6,000 is 100 / 300 / 600 €; the cap of 350 € cuts the third; its
    250 € go 1:3 to the others (162.50 / 487.50 €), which now caps the second; the first gets the rest: 300 €."""
    rows = [{"it_budget_eur": it, "cyber_spend_eur": it * 0.06} for it in (1000, 3000, 6000)]
    r = run(rows, {"envelope": {"total_eur": 1000}, "allocation": {"cap_eur": 350}})
    assert grants(r) == {"010000001": 30000, "010000002": 35000, "010000003": 35000}
    assert r.summary["unallocated_cents"] == 0  # the first is below its cap
    assert r.summary["rule_details"]["lambda"] == pytest.approx(30000 / 1000)


def test_everyone_capped_hands_out_the_floor_of_the_exact_sum_ties_by_finess() -> None:
    """Matching below the envelope: demand 0.5 × 60.01 € = 30.005 € = 3,000.5 cents each (3 rows, 1 year). Exact
    sum 9,001.5: 9,001 cents handed out, the extra cent to the smallest finess; 100,000 − 9,001 unallocated."""
    rows = [{**ELIGIBLE, "cyber_spend_eur": 60.01, "finess": f} for f in ("030000003", "010000001", "020000002")]
    r = run(rows, {"envelope": {"total_eur": 1000, "years": [2021]}, "allocation": {"rule": "matching"}})
    assert grants(r) == {"010000001": 3001, "020000002": 3000, "030000003": 3000}
    assert r.summary["unallocated_cents"] == 90_999


def test_matching_above_the_envelope_equal_fractions_and_finess_ties() -> None:
    """Three equal demands (0.5 × 60 € = 30 €) exceed 1 €: 33.33 cents each, the cent left to the smallest finess."""
    rows = [{**ELIGIBLE, "finess": f} for f in ("2B0000001", "200000001", "2A0000001")]
    r = run(rows, {"envelope": {"total_eur": 1, "years": [2021]}, "allocation": {"rule": "matching"}})
    assert grants(r) == {"200000001": 34, "2A0000001": 33, "2B0000001": 33}
    assert r.summary["unallocated_cents"] == 0


def test_gap_with_a_fractional_need_leaves_the_fraction_unallocated() -> None:
    """Need (10 % × 1,000.01 − 60) € = 40.001 € = 4,000.1 cents: served in full, 4,000 cents handed out."""
    r = run([{"it_budget_eur": 1000.01, "cyber_spend_eur": 60}],
            {"envelope": {"total_eur": 1000, "years": [2021]}, "allocation": {"rule": "gap"}})
    assert grants(r) == {"010000001": 4000}
    assert r.summary["unallocated_cents"] == 96_000


def test_tiered_by_demand_runs_out_in_the_second_tier() -> None:
    """Tiers ose, public (1 year). OSE demand 0.5 × 60 = 30 €; public demands 0.5 × min(120, 100) = 50 € and
    0.5 × 50 = 25 € (75 €). 60 €: the OSE gets 30 €, the public tier 30 / 75 = 40 % of demand: 20 € and 10 €.
    The for-profit row is in no tier; the public row at 3 % is ineligible and takes nothing from its tier."""
    rows = [
        {**ELIGIBLE, "ose": True},
        {"it_budget_eur": 1000, "cyber_spend_eur": 120},
        {"it_budget_eur": 1000, "cyber_spend_eur": 50},
        {"it_budget_eur": 1000, "cyber_spend_eur": 30},
        {**ELIGIBLE, "status": "private_forprofit"},
    ]
    r = run(rows, {"envelope": {"total_eur": 60, "years": [2021]},
                   "allocation": {"rule": "tiered", "tiers": ["ose", "public"], "tier_amount": "demand"}})
    assert grants(r) == {"010000001": 3000, "010000002": 2000, "010000003": 1000, "010000004": 0, "010000005": 0}
    assert r.summary["unallocated_cents"] == 0


def test_tiered_by_cap_ties_in_the_last_tier_go_by_ascending_finess() -> None:
    """Each served its cap of 5 €; 1 € for three: 33.33 cents each, the cent to the smallest finess."""
    rows = [{**ELIGIBLE, "finess": f} for f in ("030000003", "010000001", "020000002")]
    r = run(rows, {"envelope": {"total_eur": 1, "years": [2021]},
                   "allocation": {"rule": "tiered", "tiers": ["public"], "tier_amount": "cap", "cap_eur": 5}})
    assert grants(r) == {"010000001": 34, "020000002": 33, "030000003": 33}


def test_tiered_need_everyone_served_leaves_the_rest_unallocated() -> None:
    """Needs (100 − 60) = 40 € and (100 − 55.55) = 44.45 € (1 year) are served in full out of 100 €."""
    rows = [ELIGIBLE, {"it_budget_eur": 1000, "cyber_spend_eur": 55.55}]
    r = run(rows, {"envelope": {"total_eur": 100, "years": [2021]}, "allocation": {"rule": "tiered"}})
    assert grants(r) == {"010000001": 4000, "010000002": 4445}
    assert r.summary["unallocated_cents"] == 10_000 - 8445


def test_euro_amounts_become_cents_through_decimal() -> None:
    """0.29 € and a cap of 0.1 € are 29 and 10 cents exactly (0.29 × 100 is 28.999… in float64): both capped,
    20 cents handed out, 9 unallocated."""
    r = run([ELIGIBLE, ELIGIBLE], {"envelope": {"total_eur": 0.29}, "allocation": {"cap_eur": 0.1}})
    assert envelope_cents(r.scenario) == 29
    assert grants(r) == {"010000001": 10, "010000002": 10}
    assert r.summary["unallocated_cents"] == 9


def test_default_five_years_split_ties_to_the_earlier_years() -> None:
    """100.01 € to one establishment over the 5 default years: 2,000.2 cents a year, the cent to 2021."""
    r = run([ELIGIBLE], {"envelope": {"total_eur": 100.01}})
    assert r.by_year.loc["010000001"].tolist() == [2001, 2000, 2000, 2000, 2000]
    assert r.summary["year_totals_cents"] == {"2021": 2001, "2022": 2000, "2023": 2000, "2024": 2000, "2025": 2000}


def test_corsica_and_overseas_rows_are_allocated_like_the_others() -> None:
    """Four equal IT budgets share 2 cents: 0.5 each, the two smallest finess (as text) get them."""
    rows = [{**ELIGIBLE, "finess": f, "department": d, "region": reg}
            for f, d, reg in (("970000001", "971", "01"), ("2B0000001", "2B", "94"), ("2A0000001", "2A", "94"),
                              ("200000001", "2A", "94"))]
    r = run(rows, {"envelope": {"total_eur": 0.02}})
    assert grants(r) == {"200000001": 1, "2A0000001": 1, "2B0000001": 0, "970000001": 0}
    assert set(r.summary["by_region"]) == {"01", "94"}


# ------------------------------------------------------------------------------------------------- scenarios


def test_an_unknown_rule_is_rejected_at_load_time_with_the_nearest_name(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text("name: s\nenvelope: {total_eur: 100}\nallocation: {rule: propotional}\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    text = "\n".join(map(str, info.value.problems))
    assert f"{p}: allocation.rule" in text and "did you mean proportional?" in text and "propotional" in text


def test_extends_chain_deep_merges_level_by_level(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "name: a\nseed: 5\nenvelope: {total_eur: 1000, years: [2021, 2022]}\n"
        "eligibility: {min_share: 0.04, max_share: 0.2}\nallocation: {rule: gap, target_share: 0.15}\n",
        encoding="utf-8")
    (tmp_path / "b.yaml").write_text("extends: a\nname: b\neligibility: {max_share: 0.12}\n", encoding="utf-8")
    (tmp_path / "c.yaml").write_text("extends: b.yaml\nname: c\nallocation: {target_share: 0.1}\n", encoding="utf-8")
    s = load_scenario(tmp_path / "c.yaml")
    assert (s.name, s.seed, s.envelope.total_eur, s.envelope.years) == ("c", 5, 1000, (2021, 2022))
    assert (s.eligibility.min_share, s.eligibility.max_share) == (0.04, 0.12)
    assert (s.allocation.rule, s.allocation.target_share) == ("gap", 0.1)


# ---------------------------------------------------------------------------------- Python API, Monte Carlo


def test_the_design_snippet_runs_from_outside_the_repository(tmp_path: Path) -> None:
    """The package (not a namespace stub) is imported whatever the working directory."""
    code = textwrap.dedent(f"""
        import json
        from cyberbudget import load_establishments, load_scenario, allocate
        from cyberbudget.risk.model import gordon_loeb_optimum
        table = load_establishments()
        result = allocate(table, load_scenario({str(config.SCENARIOS_DIR / "baseline.yaml")!r}))
        z = gordon_loeb_optimum(v=0.5, loss=2e6, alpha=1e-5, beta=1.0, kind="I")
        s = result.summary
        print(json.dumps([len(table), len(result.table), s["envelope_cents"], s["allocated_cents"],
                          s["unallocated_cents"], s["n_establishments"], float(z)]))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    n, n_result, env, allocated, unallocated, n_est, z = json.loads(proc.stdout.strip().splitlines()[-1])
    assert n == n_result == n_est > 0
    assert env == 35_000_000_000 and allocated + unallocated == env and unallocated == 0  # uncapped: all out
    assert z == pytest.approx((np.sqrt(1e-5 * 0.5 * 2e6) - 1) / 1e-5)  # class I, β = 1: (√(αvL) − 1) / α


def test_monte_carlo_block_seeding_makes_fewer_draws_a_prefix_of_more() -> None:
    """Block b depends only on (seed, b): the first 1,024 draws of 2,100 are the 1,024 draws of a shorter run."""
    from cyberbudget.uncertainty.montecarlo import simulate

    rng = np.random.default_rng(3)
    n = 40
    it = np.round(rng.uniform(1e5, 5e6, n), 2)
    rows = [{"finess": f"{10**8 + i:09d}", "it_budget_eur": float(it[i]),
             "cyber_spend_eur": float(np.round(it[i] * rng.uniform(0.02, 0.09), 2)),
             "operating_budget_eur": float(it[i] * 50), "imputed": "operating_budget_eur it_budget_eur cyber_spend_eur"}
            for i in range(n)]
    s = load_scenario({"name": "mc", "seed": 11, "envelope": {"total_eur": 1_000_000}})
    table = table_of(rows)
    short = simulate(table, s, draws=1024, seed=7)
    long = simulate(table, s, draws=2100, seed=7)
    pd.testing.assert_frame_equal(short.draws, long.draws.iloc[:1024], check_exact=True)
    other = simulate(table, s, draws=1024, seed=8)
    assert not short.draws["it_budget_factor"].equals(other.draws["it_budget_factor"])
    none = simulate(table, s, draws=1024)  # seed=None: the scenario's seed
    pd.testing.assert_frame_equal(none.draws, simulate(table, s, draws=1024, seed=11).draws, check_exact=True)


# ------------------------------------------------------------------------------------------------- command line


def cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CYBERBUDGET_DEBUG": ""}
    return subprocess.run([sys.executable, "-m", "cyberbudget.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=600)


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory) -> Path:
    from cyberbudget.data.registry import synthesize, write_table

    df = synthesize().groupby("region", sort=True).head(6)  # synthetic (labelled by the generator)
    return write_table(df, tmp_path_factory.mktemp("table") / "table.csv")


def test_floors_above_the_envelope_exit_2_naming_file_and_key_and_write_nothing(tmp_path, small_csv) -> None:
    scen = tmp_path / "floors.yaml"
    scen.write_text("name: floors\nenvelope: {total_eur: 100}\nallocation: {floor_eur: 60}\n", encoding="utf-8")
    proc = cli("run", scen, "--data", small_csv, "--out", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and str(scen) in proc.stderr and "allocation.floor_eur" in proc.stderr
    assert not (tmp_path / "out" / "floors").exists()


@pytest.mark.slow  # a batch with a kernel, then verify and diff, each as a separate process
def test_batch_verify_and_diff_exit_codes(tmp_path, small_csv) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("name: good\nenvelope: {total_eur: 1000000}\n", encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nenvelope: {total_eur: 1000000}\nallocation: {rule: propotional}\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = cli("batch", good, bad, "--data", small_csv, "--out", out, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr  # one failed: 1, the other still ran
    assert (out / "batch.json").is_file() and (out / "index.html").is_file()
    for name in ("allocation.csv", "summary.json", "allocation.xlsx", "report.ipynb", "report.html", "manifest.json"):
        assert (out / "good" / name).is_file(), name
    assert not (out / "bad").exists()

    assert cli("verify", out / "good", cwd=tmp_path).returncode == 0
    summary = out / "good" / "summary.json"
    data = json.loads(summary.read_text(encoding="utf-8"))
    data["allocated_cents"] += 1
    summary.write_text(json.dumps(data), encoding="utf-8")
    proc = cli("verify", out / "good", cwd=tmp_path)
    assert proc.returncode == 1 and "summary.json" in proc.stdout + proc.stderr
    assert cli("verify", out / "missing", cwd=tmp_path).returncode == 2

    assert cli("diff", good, config.SCENARIOS_DIR / "matching.yaml", "--data", small_csv, cwd=tmp_path).returncode == 0
    proc = cli("diff", good, bad, "--data", small_csv, cwd=tmp_path)
    assert proc.returncode == 2 and "allocation.rule" in proc.stderr and "Traceback" not in proc.stderr
