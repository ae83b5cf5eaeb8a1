"""Benchmark of cyberbudget.uncertainty.montecarlo.simulate against its anchor, measured side by side in the same run.

Anchor: drawing one standard normal (float64) per establishment and draw, in the same fixed blocks of 1,024
draws (``block_rng(seed, b)``) and the same sub-batches of ``SUB_BATCH`` draws — the random-number floor of any
simulation with per-establishment noise. Both run on one thread (``simulate`` uses no threads and no BLAS call
in its kernel). Goal (issue 7): ``simulate`` on the default table with the medico-social layer (about 38,000
rows, baseline scenario) at 10,000 draws within 3x the anchor, peak memory <= 1 GiB, and linear in draws and in
establishments.

Timing on a shared machine: each case runs simulate and the anchor alternately ``--repeat`` times and keeps the
fastest of each (the run least disturbed by other processes); ``ratio`` is wall-clock, ``cpu_ratio`` the same
with the process CPU time. Memory: ``traced_peak_MiB`` is the peak of memory allocated during one ``simulate``
call (tracemalloc, numpy arrays included); ``peak_rss_MiB`` is the peak RSS of this whole process (interpreter,
libraries, the table) at the end of that case.

Cases: the goal (baseline scenario); the same with the medico-social establishments eligible
(``eligibility.medico_social: true``: every row goes through eligibility and the allocation and has two normals
per draw, IT budget and cyber share) — shown for information, not the goal; linearity in draws and in
establishments (baseline).

Run: ``.venv/bin/python benchmarks/bench_montecarlo.py [--draws 10000] [--repeat 3] [--quick]``. Prints a table.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget.data.registry import synthesize
from cyberbudget.policy.scenario import load_scenario
from cyberbudget.uncertainty import montecarlo


def anchor(n: int, draws: int, seed: int = 7) -> float:
    """Seconds to draw one normal per establishment and draw in the simulation's blocks and sub-batches."""
    t0 = time.perf_counter()
    buf = np.empty((montecarlo.SUB_BATCH, n))
    for b, _, size in montecarlo.plan_blocks(draws):
        rng = montecarlo.block_rng(seed, b)
        for s in range(0, size, montecarlo.SUB_BATCH):
            d = min(montecarlo.SUB_BATCH, size - s)
            rng.standard_normal(out=buf[:d])
    return time.perf_counter() - t0


def _timed(fn: Any) -> tuple[float, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def measure(table: pd.DataFrame, scenario: Any, draws: int, repeat: int) -> dict[str, float]:
    """Fastest of ``repeat`` alternated runs of simulate and of the anchor (wall and CPU seconds)."""
    sim, anc = [], []
    for _ in range(repeat):
        sim.append(_timed(lambda: montecarlo.simulate(table, scenario, draws=draws, seed=7)))
        anc.append(_timed(lambda: anchor(len(table), draws)))
    (ws, cs), (wa, ca) = min(sim), min(anc)
    return {"establishments": len(table), "draws": draws, "simulate_s": ws, "anchor_s": wa, "ratio": ws / wa,
            "cpu_ratio": cs / ca, "ns_per_cell": ws / (len(table) * draws) * 1e9}


def traced_peak_mib(table: pd.DataFrame, scenario: Any, draws: int) -> float:
    """Peak memory allocated during one simulate call (MiB, tracemalloc)."""
    tracemalloc.start()
    try:
        montecarlo.simulate(table, scenario, draws=draws, seed=7)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="alternated runs per case; the fastest is kept")
    ap.add_argument("--quick", action="store_true", help="smaller linearity sizes, one run per linearity case")
    args = ap.parse_args(argv)
    table = synthesize(medico_social=True)  # synthetic default table with the medico-social layer
    baseline = load_scenario("scenarios/baseline.yaml")
    ms_eligible = load_scenario(baseline.to_dict() | {
        "name": "baseline_medico_social_eligible",
        "eligibility": baseline.to_dict()["eligibility"] | {"medico_social": True}})
    rows = []
    goal = measure(table, baseline, args.draws, args.repeat)
    goal_mem = traced_peak_mib(table, baseline, args.draws)
    rows.append({"case": "goal: simulate vs anchor", **goal, "traced_peak_MiB": goal_mem,
                 "peak_rss_MiB": peak_rss_mib()})
    variant = measure(table, ms_eligible, args.draws, 1)
    rows.append({"case": "medico-social eligible (info)", **variant,
                 "traced_peak_MiB": traced_peak_mib(table, ms_eligible, args.draws), "peak_rss_MiB": peak_rss_mib()})
    sizes_d = (512, 1024, 2048) if args.quick else (2048, 4096, 8192)
    rep = 1 if args.quick else 2
    for d in sizes_d:
        rows.append({"case": "linearity in draws", **measure(table, baseline, d, rep)})
    d = sizes_d[1]
    for frac in (0.25, 0.5, 1.0):
        sub = table.sample(frac=frac, random_state=1) if frac < 1 else table
        rows.append({"case": "linearity in establishments", **measure(sub, baseline, d, rep)})
    df = pd.DataFrame(rows)
    with pd.option_context("display.width", 220, "display.max_columns", 20, "display.float_format", "{:,.2f}".format):
        print(df.to_string(index=False, na_rep=""))
    print(f"\ngoal: ratio <= 3 (measured {goal['ratio']:.2f}, CPU time {goal['cpu_ratio']:.2f}); "
          f"peak memory <= 1024 MiB (simulate {goal_mem:,.0f} MiB, whole process {rows[0]['peak_rss_MiB']:,.0f} MiB); "
          f"linear: ns_per_cell constant down the linearity rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
