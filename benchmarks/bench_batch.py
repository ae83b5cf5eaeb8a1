"""Batch speed: ``run_batch`` (warm kernels, in-process computation) vs a naive papermill + nbconvert loop.

Both sides execute the same template (``notebooks/templates/allocation_report.ipynb``) for the same scenarios, in
the same environment, in the same run:

- **naive**: for each scenario, ``papermill TEMPLATE out.ipynb -p scenario_path S -p data_path D`` then
  ``jupyter nbconvert --to html out.ipynb`` (the CLIs of ``.venv/bin``): a fresh kernel, fresh imports and a
  fresh exporter per scenario. It writes no workbook, CSV or manifest — less work than the batch does;
- **batch**: :func:`cyberbudget.reports.batch.run_batch` with ``--jobs`` warm kernels: every notebook is really
  executed (its outputs come from running its cells, in a kernel), plus ``allocation.csv``, ``summary.json``,
  ``allocation.xlsx``, ``report.html``, ``manifest.json``, ``batch.json`` and ``index.html``.

The scenarios are variants of ``scenarios/baseline.yaml`` (envelope, floor, cap, rule), written to a temporary
folder. Usage::

    .venv/bin/python benchmarks/bench_batch.py [--scenarios 20] [--jobs 2] [--naive-sample N] [--skip-naive]

``--naive-sample N`` times the naive loop on the first N scenarios only and scales it to all of them (the
naive loop costs the same for every scenario); by default every scenario is run both ways. ``--skip-naive`` runs
the batch side only (quick iteration; its table has no speed-up and is not a result to publish).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from cyberbudget import config
from cyberbudget.reports.batch import run_batch

VENV_BIN = Path(sys.executable).parent


def write_variants(folder: Path, n: int) -> list[Path]:
    """``n`` scenario files derived from the baseline (different envelopes, floors, caps and rules)."""
    base = yaml.safe_load((config.SCENARIOS_DIR / "baseline.yaml").read_text(encoding="utf-8"))
    paths = []
    envelopes = [350_000_000, 300_000_000, 250_000_000, 400_000_000, 175_000_000]
    for i in range(n):
        s = dict(base)
        s["name"] = f"variant-{i:02d}"
        s["description"] = f"Benchmark variant {i} of the baseline"
        s["envelope"] = {**base["envelope"], "total_eur": envelopes[i % len(envelopes)]}
        alloc = dict(base["allocation"])
        kind = i % 4
        if kind == 1:
            alloc.update(floor_eur=10_000 * (1 + i % 3), cap_eur=1_500_000 + 250_000 * (i % 5))
        elif kind == 2:
            alloc.update(rule="matching", match_rate=0.5)
        elif kind == 3:
            alloc.update(rule="gap", target_share=0.10)
        s["allocation"] = alloc
        s["eligibility"] = {**base["eligibility"], "min_share": [0.05, 0.04, 0.06][i % 3]}
        path = folder / f"variant-{i:02d}.yaml"
        path.write_text(yaml.safe_dump(s, sort_keys=False, allow_unicode=True), encoding="utf-8")
        paths.append(path)
    return paths


def naive(paths: list[Path], out: Path, template: Path, data: Path) -> list[float]:
    """papermill CLI then nbconvert CLI, one scenario after the other; wall time of each."""
    times = []
    env = dict(os.environ)
    for p in paths:
        t0 = time.perf_counter()
        nb = out / f"{p.stem}.ipynb"
        subprocess.run(
            [str(VENV_BIN / "papermill"), str(template), str(nb), "-p", "scenario_path", str(p),
             "-p", "data_path", str(data), "--no-progress-bar", "--log-level", "WARNING"],
            check=True, env=env, capture_output=True,
        )
        subprocess.run([str(VENV_BIN / "jupyter"), "nbconvert", "--to", "html", str(nb)],
                       check=True, env=env, capture_output=True)
        times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--naive-sample", type=int, default=0, help="time the naive loop on N scenarios only")
    parser.add_argument("--skip-naive", action="store_true",
                        help="batch side only, for quick iteration (no speed-up column; not for the README)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="cyberbudget-bench-"))
    try:
        (work / "scenarios").mkdir()
        paths = write_variants(work / "scenarios", args.scenarios)
        template = config.TEMPLATES_DIR / f"{config.DEFAULT_TEMPLATE}.ipynb"
        data = config.DEFAULT_TABLE
        (work / "naive").mkdir()

        sample = paths[: args.naive_sample] if args.naive_sample else paths
        if args.skip_naive:
            sample, naive_total = [], float("nan")
        else:
            naive_times = naive(sample, work / "naive", template, data)
            naive_total = sum(naive_times) * len(paths) / len(sample)

        finished: list[float] = []

        def on_event(kind: str, name: str | None, info: dict) -> None:
            if kind in ("ok", "failed"):
                finished.append(time.perf_counter())

        t0 = time.perf_counter()
        result = run_batch(paths, data=data, out=work / "batch", jobs=args.jobs, on_event=on_event)
        batch_total = time.perf_counter() - t0
        if not result.ok:
            failed = [(o.name, o.error) for o in result.outcomes if o.status != "ok"]
            print(f"batch had failures: {failed}", file=sys.stderr)
            return 1

        n = len(paths)
        rows = [
            ("naive papermill + nbconvert CLIs", naive_total, naive_total / n, 1.0,
             "skipped (--skip-naive)" if not sample else
             f"scaled from {len(sample)}" if len(sample) < n else "measured"),
            (f"run_batch, jobs={args.jobs} (warm kernels)", batch_total, batch_total / n,
             naive_total / batch_total, "measured, incl. kernel start-up"),
        ]
        print(f"\n{n} scenarios, template {template.name}, table {data.name}, {os.cpu_count()} CPUs\n")
        print(f"| {'method':<40} | {'total (s)':>9} | {'per scenario (s)':>16} | {'speed-up':>8} | note |")
        print(f"|{'-' * 42}|{'-' * 11}|{'-' * 18}|{'-' * 10}|------|")
        for name, total, per, speed, note in rows:
            print(f"| {name:<40} | {total:>9.1f} | {per:>16.2f} | {speed:>7.1f}× | {note} |")
        if len(finished) > args.jobs:
            # after the first `jobs` reports (worker and kernel start-up), one report every ... seconds
            steady = (finished[-1] - finished[args.jobs - 1]) / (len(finished) - args.jobs)
            print(f"| {'run_batch, steady state (after start-up)':<40} | {'':>9} | {steady:>16.2f} | "
                  f"{naive_total / n / steady:>7.1f}× | start-up {finished[args.jobs - 1] - t0:.1f} s |")
        print("\nnaive: notebook + HTML only; batch: notebook + HTML + xlsx + csv + json + manifest + index.html")
        steps: dict[str, list[float]] = {}
        for o in result.outcomes:
            timings = json.loads((work / "batch" / o.name / "manifest.json").read_text(encoding="utf-8"))["timings_s"]
            for step, seconds in timings.items():
                steps.setdefault(step, []).append(seconds)
        print("batch, median seconds per step of one scenario (manifest timings, one worker's view): "
              + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in sorted(steps.items())))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
