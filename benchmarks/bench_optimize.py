"""Benchmark: the ``optimal`` rule (KKT bisection on μ, closed-form inverse marginals) against naive optimisers.

Run ``.venv/bin/python benchmarks/bench_optimize.py [--quick]``. On the committed default table and the baseline
scenario with ``rule: optimal``, it measures in the same run:

- **kkt** — :func:`cyberbudget.risk.optimal.solve_optimal` on every eligible establishment (exact optimum);
- **allocate** — the whole :func:`cyberbudget.policy.allocation.allocate` with ``rule: optimal`` (eligibility, rule,
  Hamilton rounding, year split, summary, the proportional comparison);
- **slsqp** — ``scipy.optimize.minimize(method="SLSQP")`` on the same objective, with analytic gradients, on the
  first ``m`` eligible establishments (the envelope scaled to their share of IT budgets) — and the KKT solver on
  the same subset, to compare time and objective;
- **greedy** — a naive greedy: the envelope handed out in equal increments, each to the establishment whose next
  increment avoids the most loss (a heap), on every eligible establishment.

It prints a table: method, establishments, median time, expected avoided loss (over the envelope years) and the
gap to the exact optimum.
"""

from __future__ import annotations

import argparse
import heapq
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scipy.optimize import minimize  # noqa: E402

from cyberbudget.data.registry import load_establishments  # noqa: E402
from cyberbudget.policy import eligibility
from cyberbudget.policy.allocation import allocate  # noqa: E402
from cyberbudget.policy.scenario import load_scenario  # noqa: E402
from cyberbudget.risk import optimal as optimize  # noqa: E402
from cyberbudget.risk.model import GrantBenefit, grant_benefit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def timed(func, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def subset(b: GrantBenefit, idx: np.ndarray) -> GrantBenefit:
    return GrantBenefit(b.loss[idx], b.investment[idx], b.alpha[idx], b.vulnerability, b.beta, b.kind,
                        b.additionality, b.n_years)


def slsqp(b: GrantBenefit, envelope: float) -> np.ndarray:
    n = b.loss.size
    scale = envelope / n  # variables in units of the equal share keep SLSQP well conditioned
    res = minimize(
        lambda x: -b.avoided(x * scale).sum() / envelope,
        np.ones(n),
        jac=lambda x: -b.marginal(x * scale) * scale / envelope,
        bounds=[(0.0, None)] * n,
        constraints=[{"type": "eq", "fun": lambda x: x.sum() * scale / envelope - 1.0,
                      "jac": lambda x: np.full(n, scale / envelope)}],
        method="SLSQP",
        options={"maxiter": 500, "ftol": 1e-12},
    )
    return res.x * scale


def greedy(b: GrantBenefit, envelope: float, steps: int) -> np.ndarray:
    step = envelope / steps
    g = np.zeros(b.loss.size)
    gain = b.avoided(np.full(b.loss.size, step))  # the avoided loss of each one's first increment
    heap = [(-v, i) for i, v in enumerate(gain)]
    heapq.heapify(heap)
    one = np.zeros(1)
    for _ in range(steps):
        _, i = heapq.heappop(heap)
        g[i] += step
        bi = subset(b, np.array([i]))
        one[0] = g[i]
        nxt = bi.avoided(one + step)[0] - bi.avoided(one)[0]
        heapq.heappush(heap, (-nxt, i))
    return g


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and a smaller SLSQP subset")
    args = ap.parse_args(argv)
    repeat = 3 if args.quick else 7
    m = 60 if args.quick else 120
    steps = 5_000 if args.quick else 20_000

    table = load_establishments()
    base = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    sc = base.model_copy(update={"allocation": base.allocation.model_copy(update={"rule": "optimal"})})
    el = eligibility.assess(table, sc)
    t = el.table.reset_index(drop=True)
    elig = np.asarray(el.eligible, dtype=bool)
    b_all = grant_benefit(t, sc)
    idx = np.flatnonzero(elig)
    b = subset(b_all, idx)
    envelope = float(sc.envelope.total_eur)

    rows = []
    t_kkt, sol = timed(lambda: optimize.solve_optimal(b, envelope, np.ones(idx.size, bool)), repeat)
    best = b.avoided(sol.grant_eur).sum()
    rows.append(("kkt (solve_optimal)", idx.size, t_kkt, best, 0.0))
    t_alloc, res = timed(lambda: allocate(table, sc), repeat)
    rounded = b_all.avoided(res.table["grant_cents"].to_numpy() / 100.0)[elig].sum()
    rows.append(("allocate(rule=optimal)", idx.size, t_alloc, rounded, rounded / best - 1))
    t_greedy, g = timed(lambda: greedy(b, envelope, steps), 1)
    val = b.avoided(g).sum()
    rows.append((f"naive greedy ({steps:,} steps)", idx.size, t_greedy, val, val / best - 1))

    sub = np.arange(min(m, idx.size))
    bs = subset(b, sub)
    it_all = t["it_budget_eur"].to_numpy()[idx]
    env_s = envelope * it_all[sub].sum() / it_all.sum()
    t_kkt_s, sol_s = timed(lambda: optimize.solve_optimal(bs, env_s, np.ones(sub.size, bool)), repeat)
    best_s = bs.avoided(sol_s.grant_eur).sum()
    rows.append(("kkt (solve_optimal), subset", sub.size, t_kkt_s, best_s, 0.0))
    t_slsqp, x = timed(lambda: slsqp(bs, env_s), 1)
    val_s = bs.avoided(x).sum()
    rows.append(("scipy SLSQP, subset", sub.size, t_slsqp, val_s, val_s / best_s - 1))

    print(f"Optimal rule on the default table ({len(table):,} establishments, {idx.size:,} eligible), "
          f"envelope {envelope:,.0f} EUR, mu = {sol.mu:.4f} EUR per EUR")
    print(f"{'method':<34}{'n':>7}{'median time':>14}{'avoided loss (EUR)':>22}{'gap to exact':>15}")
    for name, n, sec, value, gap in rows:
        print(f"{name:<34}{n:>7,}{sec * 1000:>11.1f} ms{value:>22,.0f}{gap:>15.2e}")
    print(f"speed-up of kkt over SLSQP on the subset: {t_slsqp / t_kkt_s:,.0f}x; "
          f"over the greedy on all eligible: {t_greedy / t_kkt:,.0f}x")


if __name__ == "__main__":
    main()
