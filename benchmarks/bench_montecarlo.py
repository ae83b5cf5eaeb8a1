"""Benchmark of cyberbudget.montecarlo.simulate against its anchor, measured side by side in the same run.

Anchor: drawing one standard normal per establishment and draw, in the same fixed blocks of 1,024 draws
(``block_rng(seed, b)``) and the same sub-batches of ``SUB_BATCH`` draws — the random-number floor of any
simulation with per-establishment noise. Goal (issue 7): ``simulate`` on the default table with the
medico-social layer (about 38,000 rows) at 10,000 draws within 3x the anchor, peak memory <= 1 GiB (peak RSS of
this process, which includes the interpreter and libraries), and linear in draws and in establishments.

Run: ``.venv/bin/python benchmarks/bench_montecarlo.py [--draws 10000] [--quick]``. Prints a table.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import pandas as pd

from cyberbudget import montecarlo
from cyberbudget.registry import synthesize
from cyberbudget.scenario import load_scenario


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


def run(table: pd.DataFrame, scenario: object, draws: int) -> float:
    t0 = time.perf_counter()
    montecarlo.simulate(table, scenario, draws=draws, seed=7)
    return time.perf_counter() - t0


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=10_000)
    ap.add_argument("--quick", action="store_true", help="smaller linearity sizes")
    args = ap.parse_args(argv)
    table = synthesize(medico_social=True)  # synthetic default table with the medico-social layer
    scenario = load_scenario("scenarios/baseline.yaml")
    n = len(table)
    rows = []
    rss0 = peak_rss_mib()
    t_sim = run(table, scenario, args.draws)
    rss = peak_rss_mib()
    t_anchor = anchor(n, args.draws)
    rows.append({"case": "simulate vs anchor", "establishments": n, "draws": args.draws,
                 "simulate_s": t_sim, "anchor_s": t_anchor, "ratio": t_sim / t_anchor,
                 "ns_per_cell": t_sim / (n * args.draws) * 1e9, "peak_rss_MiB": rss,
                 "rss_before_MiB": rss0})
    sizes_d = (512, 1024, 2048) if args.quick else (1024, 2048, 4096)
    for d in sizes_d:
        t = run(table, scenario, d)
        rows.append({"case": "linearity in draws", "establishments": n, "draws": d, "simulate_s": t,
                     "anchor_s": anchor(n, d), "ratio": np.nan, "ns_per_cell": t / (n * d) * 1e9})
    d = sizes_d[1]
    for frac in (0.25, 0.5, 1.0):
        sub = table.sample(frac=frac, random_state=1) if frac < 1 else table
        t = run(sub, scenario, d)
        rows.append({"case": "linearity in establishments", "establishments": len(sub), "draws": d,
                     "simulate_s": t, "anchor_s": anchor(len(sub), d), "ratio": np.nan,
                     "ns_per_cell": t / (len(sub) * d) * 1e9})
    df = pd.DataFrame(rows)
    df["ratio"] = df["simulate_s"] / df["anchor_s"]
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:,.2f}".format):
        print(df.to_string(index=False))
    print(f"\ngoal: ratio <= 3 (measured {rows[0]['ratio']:.2f}); peak RSS <= 1024 MiB (measured {rss:,.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
