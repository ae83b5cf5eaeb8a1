"""One report: where ``cyberbudget run`` spends its time, against the naive papermill + nbconvert CLIs.

Measured in the same run, on the same table and template (``allocation_report``):

- **run**: :func:`cyberbudget.reports.runner.run`, broken down from its manifest timings — load and validate, allocate
  (compute), ``allocation.csv``/``summary.json``, workbook, papermill (fresh kernel), HTML export;
- **naive**: ``papermill TEMPLATE out.ipynb -p scenario_path S -p data_path D`` then
  ``jupyter nbconvert --to html out.ipynb`` (the CLIs of ``.venv/bin``). It writes less (no CSV, workbook or
  manifest) and its HTML links require.js/MathJax from a CDN: the anchor, not an equivalent.

Usage::

    .venv/bin/python benchmarks/bench_report.py [--repeat 3] [--data TABLE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cyberbudget import config
from cyberbudget.reports.runner import run

VENV_BIN = Path(sys.executable).parent
STEPS = [("load", "load + validate"), ("allocate", "compute (allocate)"), ("csv_json", "allocation.csv + summary.json"),
         ("xlsx", "allocation.xlsx"), ("papermill", "papermill (fresh kernel)"), ("html", "HTML export")]


def run_once(scenario: Path, data: Path, tmp: Path) -> dict[str, float]:
    start = time.perf_counter()
    folder = run(scenario, data=data, out=tmp / "run")
    wall = time.perf_counter() - start
    timings = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["timings_s"]
    timings["wall"] = wall
    timings["html_mb"] = (folder / "report.html").stat().st_size / 1e6
    return timings


def naive_once(scenario: Path, data: Path, tmp: Path) -> dict[str, float]:
    nb = tmp / "naive.ipynb"
    t0 = time.perf_counter()
    subprocess.run([str(VENV_BIN / "papermill"), str(config.TEMPLATES_DIR / "allocation_report.ipynb"), str(nb),
                    "-p", "scenario_path", str(scenario), "-p", "data_path", str(data), "-k", "python3",
                    "--no-progress-bar", "--log-level", "ERROR"], check=True, cwd=tmp)
    t1 = time.perf_counter()
    subprocess.run([str(VENV_BIN / "jupyter"), "nbconvert", "--to", "html", "--log-level", "ERROR", str(nb)],
                   check=True, cwd=tmp)
    t2 = time.perf_counter()
    return {"papermill": t1 - t0, "html": t2 - t1, "wall": t2 - t0,
            "html_mb": nb.with_suffix(".html").stat().st_size / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=config.DEFAULT_TABLE)
    args = parser.parse_args()
    scenario = config.SCENARIOS_DIR / "baseline.yaml"
    runs, naive = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            runs.append(run_once(scenario, args.data.resolve(), Path(tmp)))
            naive.append(naive_once(scenario, args.data.resolve(), Path(tmp)))

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r.get(key, float("nan")) for r in rows)

    print(f"cyberbudget report benchmark — {args.data.name}, scenario baseline, median of {args.repeat}")
    print(f"{'step':<34} {'cyberbudget run':>16} {'naive CLIs':>12}")
    for key, text in STEPS:
        other = f"{med(naive, key):>11.2f}s" if key in ("papermill", "html") else f"{'—':>12}"
        print(f"{text:<34} {med(runs, key):>15.2f}s {other}")
    print(f"{'wall clock (whole command)':<34} {med(runs, 'wall'):>15.2f}s {med(naive, 'wall'):>11.2f}s")
    print(f"{'report.html size':<34} {med(runs, 'html_mb'):>14.1f}MB {med(naive, 'html_mb'):>10.1f}MB")
    print("\nnaive: no CSV/summary/workbook/manifest, and its HTML loads require.js and MathJax from a CDN.")


if __name__ == "__main__":
    main()
