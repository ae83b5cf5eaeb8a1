"""Benchmark: the notices of every legal entity of the real registry, as HTML and as PDF (issue 12 §4).

Goals: the PDFs at least 10x faster than a naive ``chromium --headless --print-to-pdf`` per file, and under
3 minutes for all of them on 2 cores.

Run ``.venv/bin/python benchmarks/bench_notices.py [--naive-sample 50] [--tabs 2]``. It needs the DREES SAE 2023
files in ``../shared/data/sae2023`` (skipped with a message otherwise) and a headless Chromium. In a temporary
folder (real data never enters the repository):

1. the registry is built with the SAE import (``cyberbudget data import-sae``: 3,913 establishments, about 2,170
   legal entities, budgets imputed);
2. the baseline scenario under ``allocation.unit: legal_entity`` and ``disclosure: establishment`` is run
   (``cyberbudget run``, not timed);
3. timed, in the same run:

   - **HTML**: :func:`cyberbudget.reports.notices.write_notices` — re-load the run from its manifest, re-allocate and
     check the cents, then one notice per legal entity and ``index.csv``;
   - **HTML + PDF**: the same with ``pdf=True`` — one browser started once, pages set into ``--tabs`` tabs without
     navigation and printed (``Page.printToPDF``), each notice its own PDF, the browser's start included;
   - **naive**: ``chromium --headless --print-to-pdf=<key>.pdf <key>.html`` with a fresh ``--user-data-dir``, one
     process per notice, on the first ``--naive-sample`` notices (every notice costs about the same), scaled to
     all of them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cyberbudget import config  # noqa: E402
from cyberbudget.reports.browser import LAUNCH_ARGS, ChromiumNotFound, find_chromium  # noqa: E402

GOAL_SPEEDUP = 10.0
GOAL_PDF_S = 180.0


def naive_print(chromium: Path, html: Path, pdf: Path) -> float:
    """One naive print: a fresh browser process per file. Returns the wall time."""
    with tempfile.TemporaryDirectory(prefix="bench-naive-") as profile:
        start = time.perf_counter()
        subprocess.run([str(chromium), *LAUNCH_ARGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
                        f"--print-to-pdf={pdf}", html.as_uri()], check=True, capture_output=True, timeout=120)
        elapsed = time.perf_counter() - start
    if not pdf.is_file():
        raise RuntimeError(f"naive print wrote no {pdf}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--naive-sample", type=int, default=50, help="notices printed the naive way (scaled up)")
    parser.add_argument("--tabs", type=int, default=2, help="pages printed at the same time by the one browser")
    args = parser.parse_args()
    if not config.SAE_DIR.is_dir():
        print(f"skipped: the SAE files are not in {config.SAE_DIR} (../shared is absent)")
        return 0
    try:
        chromium = find_chromium()
    except ChromiumNotFound as exc:
        print(f"skipped: {exc}")
        return 0
    from cyberbudget.data.registry import import_sae, write_table
    from cyberbudget.reports.notices import write_notices
    from cyberbudget.reports.runner import run

    work = Path(tempfile.mkdtemp(prefix="bench-notices-"))
    try:
        table = write_table(import_sae(config.SAE_DIR), work / "sae2023.csv")
        scenario = work / "notices_bench.yaml"
        scenario.write_text(f"name: notices_bench\nextends: {config.SCENARIOS_DIR / 'baseline.yaml'}\n"
                            "disclosure: establishment\nallocation:\n  unit: legal_entity\n", encoding="utf-8")
        folder = run(scenario, data=table, out=work / "reports")

        t0 = time.perf_counter()
        html = write_notices(folder)
        html_s = time.perf_counter() - t0
        n = len(html.keys)

        t0 = time.perf_counter()
        both = write_notices(folder, pdf=True, tabs=args.tabs)
        both_s = time.perf_counter() - t0
        pdf_s = both.timings["pdf"]
        assert len(both.keys) == n and all((both.folder / f"{k}.pdf").is_file() for k in both.keys)

        sample = both.keys[: max(1, min(args.naive_sample, n))]
        naive_dir = work / "naive"
        naive_dir.mkdir()
        times = [naive_print(chromium, both.folder / f"{k}.html", naive_dir / f"{k}.pdf") for k in sample]
        per_naive = statistics.fmean(times)
        naive_all = per_naive * n
    finally:
        shutil.rmtree(work, ignore_errors=True)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"cyberbudget notices benchmark — real registry (SAE 2023), {n:,} legal-entity notices, "
          f"{os.cpu_count()} cores, load average {load:.1f}, {args.tabs} tab(s)")
    print(f"{'method':<46} {'total':>10} {'per notice':>12} {'vs naive':>9}")
    rows = [
        ("HTML (load, re-allocate, check, write)", html_s, html_s / n, None),
        ("HTML + PDF, one browser (whole command)", both_s, both_s / n, naive_all / both_s),
        ("  of which the PDFs (browser start included)", pdf_s, pdf_s / n, naive_all / pdf_s),
        (f"naive --print-to-pdf per file ({len(sample)} timed, scaled)", naive_all, per_naive, 1.0),
    ]
    for name, total, each, ratio in rows:
        print(f"{name:<46} {total:>9.1f}s {each * 1000:>10.1f}ms {'' if ratio is None else f'{ratio:>8.1f}x'}")
    speedup = naive_all / pdf_s
    print(f"\ngoal ≥ {GOAL_SPEEDUP:.0f}x faster than naive: {speedup:.1f}x — {'met' if speedup >= GOAL_SPEEDUP else 'MISSED'}")
    print(f"goal all PDFs < {GOAL_PDF_S:.0f} s: {pdf_s:.1f} s — {'met' if pdf_s < GOAL_PDF_S else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
