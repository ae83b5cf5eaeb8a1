"""Benchmark: allocation speed (DESIGN.md issue 3 goals: ≤ 20 ms median on ~3,000 rows, ≤ 2 s on 1,000,000).

Run ``.venv/bin/python benchmarks/bench_allocation.py [--quick]``. Prints a table comparing, in the same run,
:func:`cyberbudget.policy.allocation.allocate` (eligibility + rule + Hamilton + year split + summary) with a naive
pandas implementation of the same rule (proportional with a cap: iterative water-filling with ``groupby`` /
``apply`` and a largest-remainder rounding by ``sort_values``), then a scaling check (time / (n log n)), then
funding units: ``allocate`` under ``allocation.unit: legal_entity`` and ``ght`` against ``establishment`` (the
anchor) on the same large table (goal issue 11: within 2x), wall-clock median and CPU time.

The tables are synthetic (seeded), with the DESIGN.md columns: IT budgets lognormal, cyber shares uniform in
[0, 12 %]; they are labelled synthetic and never written to disk.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cyberbudget.policy.allocation import allocate  # noqa: E402
from cyberbudget.policy.scenario import load_scenario  # noqa: E402

SEED = 20210218


def synthetic_table(n: int, seed: int = SEED) -> pd.DataFrame:
    """A synthetic establishment table of ``n`` rows (benchmark input only)."""
    rng = np.random.default_rng(seed)
    it = np.round(rng.lognormal(mean=13.5, sigma=1.0, size=n), 2)
    share = rng.uniform(0.0, 0.12, size=n)
    statuses = np.array(["public", "private_nonprofit", "private_forprofit"], dtype=object)
    regions = np.array(["11", "24", "27", "28", "32", "44", "52", "53", "75", "76", "84", "93"], dtype=object)
    cats = np.array(["ch", "chu", "mco", "ssr", "psy"], dtype=object)
    return pd.DataFrame({
        "finess": np.array([f"{i:09d}" for i in range(10_000_000, 10_000_000 + n)], dtype=object),
        "name": "synthetic", "region": regions[rng.integers(0, len(regions), n)], "department": "75",
        "status": statuses[rng.integers(0, 3, n)], "category": cats[rng.integers(0, len(cats), n)],
        "ght": "", "ght_support": False, "ose": rng.random(n) < 0.05,
        "beds": rng.integers(0, 1500, n), "places": rng.integers(0, 200, n),
        "operating_budget_eur": it * 60, "it_budget_eur": it, "cyber_spend_eur": np.round(it * share, 2),
        "imputed": "",
    })


def naive_pandas(table: pd.DataFrame, envelope_cents: int, cap_cents: float, min_share: float) -> pd.Series:
    """Anchor: iterative water-filling in pandas (cap the over-cap rows, re-share the rest, repeat)."""
    df = table.copy()
    df["eligible"] = df.apply(
        lambda r: r["it_budget_eur"] > 0 and r["cyber_spend_eur"] / r["it_budget_eur"] >= min_share, axis=1)
    el = df[df["eligible"]].copy()
    el["capped"] = False
    el["exact"] = 0.0
    while True:
        rest = envelope_cents - el.loc[el["capped"], "exact"].sum()
        free = el[~el["capped"]]
        lam = rest / free["it_budget_eur"].sum()
        amounts = free.groupby("finess")["it_budget_eur"].apply(lambda b, lam=lam: float(b.iloc[0]) * lam)
        el.loc[~el["capped"], "exact"] = el.loc[~el["capped"], "finess"].map(amounts)
        over = el["exact"] > cap_cents
        if not over.any():
            break
        el.loc[over, "exact"] = cap_cents
        el.loc[over, "capped"] = True
    el["floor"] = np.floor(el["exact"])
    el["rem"] = el["exact"] - el["floor"]
    left = int(envelope_cents - el["floor"].sum())
    el = el.sort_values(["rem", "finess"], ascending=[False, True])
    el["grant"] = el["floor"] + (np.arange(len(el)) < left)
    return el.set_index("finess")["grant"].astype(np.int64)


def timeit(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cpu_timeit(func, repeat: int) -> float:
    """Median process CPU time (less disturbed than wall-clock time by other processes on a shared machine)."""
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        func()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def with_units(table: pd.DataFrame, seed: int = SEED) -> pd.DataFrame:
    """The synthetic table with funding units: public rows in GHTs of about 25 rows (one support each), 70 % of
    the rows in legal entities of about three sites (benchmark input only)."""
    rng = np.random.default_rng(seed + 1)
    n = len(table)
    out = table.copy()
    public = out["status"].to_numpy() == "public"
    ght = rng.integers(0, max(1, n // 25), n)
    out["ght"] = np.where(public, [f"BEN-{k:05d}" for k in ght], "")
    out["ght_support"] = public & ~pd.Series(np.where(public, ght, -1)).duplicated().to_numpy()
    entity = rng.integers(0, max(1, n // 3), n)
    out["finess_ej"] = np.where(rng.random(n) < 0.7, [f"{900_000_000 + k:09d}" for k in entity], "")
    return out


def _registries() -> list[tuple[str, pd.DataFrame]]:
    """The default table (synthetic, with the SAE's legal entities and GHT structure) and, when the DREES files
    are beside the repository, the real SAE 2023 registry (read in memory, never written here)."""
    from cyberbudget import config
    from cyberbudget.data.registry import load_establishments

    out = [("default table", load_establishments())]
    if (config.SAE_DIR / "ID_2023r.csv").is_file():
        from cyberbudget.data.sae import import_sae

        out.append(("SAE 2023 registry", import_sae(config.SAE_DIR)))
    return out


def units_benchmark(quick: bool) -> None:
    """``allocate`` under each funding unit against ``establishment`` on the same table: the registry (default
    table, real SAE when present), then large synthetic tables."""
    print("\nfunding units: allocate(unit) against allocate(unit: establishment) on the same table (goal <= 2x)")
    print(f"{'table':<18} {'rows':>10} {'unit':<24} {'units':>10} {'median':>10} {'cpu':>10} {'ratio':>7} "
          f"{'cpu ratio':>10}")
    cases = _registries() + [(f"synthetic {n:,}", with_units(synthetic_table(n)))
                             for n in [30_000] + ([] if quick else [1_000_000])]
    for label, table in cases:
        n = len(table)
        repeat = 15 if n <= 5_000 else (7 if n <= 30_000 else 3)
        anchor = None
        for unit in ("establishment", "legal_entity", "ght"):
            scen = load_scenario({"name": "bench", "envelope": {"total_eur": 350_000_000},
                                  "allocation": {"cap_eur": 2_000_000, "unit": unit}})
            res = allocate(table, scen)  # warm-up
            wall = timeit(lambda table=table, scen=scen: allocate(table, scen), repeat)
            cpu = cpu_timeit(lambda table=table, scen=scen: allocate(table, scen), repeat)
            if anchor is None:
                anchor = (wall, cpu)
            print(f"{label:<18} {n:>10,} {unit + (' (anchor)' if unit == 'establishment' else ''):<24} "
                  f"{res.summary['units']['n']:>10,} {wall * 1e3:>8.1f}ms {cpu * 1e3:>8.1f}ms "
                  f"{wall / anchor[0]:>6.2f}x {cpu / anchor[1]:>9.2f}x")


def main(quick: bool = False) -> None:
    scen = load_scenario({"name": "bench", "envelope": {"total_eur": 350_000_000},
                          "allocation": {"cap_eur": 2_000_000}})
    rows = []
    print(f"cyberbudget allocation benchmark (synthetic tables, seed {SEED})")
    print(f"{'rows':>10} {'method':<34} {'median':>10} {'goal':>8}  agree")
    sizes = [3_000, 30_000] + ([] if quick else [1_000_000])
    for n in sizes:
        table = synthetic_table(n)
        allocate(table, scen)  # warm-up
        t = timeit(lambda table=table: allocate(table, scen), 15 if n <= 30_000 else 3)
        res = allocate(table, scen)
        goal = "20 ms" if n <= 3_000 else ("2 s" if n >= 1_000_000 else "")
        agree = ""
        if n <= 30_000:
            tn = timeit(lambda table=table: naive_pandas(table, 35_000_000_000, 200_000_000.0, 0.05), 1 if n > 3_000 else 3)
            naive = naive_pandas(table, 35_000_000_000, 200_000_000.0, 0.05)
            mine = res.table.set_index("finess")["grant_cents"][naive.index]
            agree = "cents identical" if (mine == naive).all() else f"{int((mine != naive).sum())} rows differ"
            print(f"{n:>10,} {'naive pandas (anchor)':<34} {tn * 1e3:>8.1f}ms {'':>8}")
        print(f"{n:>10,} {'cyberbudget.allocate':<34} {t * 1e3:>8.1f}ms {goal:>8}  {agree}")
        rows.append((n, t))
    print("\nscaling: time / (n log2 n), ns (flat or falling = O(n log n) at worst)")
    for n, t in rows:
        print(f"{n:>10,} {t / (n * math.log2(n)) * 1e9:>10.2f}")
    units_benchmark(quick)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
