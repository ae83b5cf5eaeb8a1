"""Loading and validating a 1,000,000-row establishment table (goal: <= 10 s and <= 2 GiB peak here).

Usage::

    python benchmarks/bench_load.py [--rows 1000000] [--anchor-rows 20000]

Writes a synthetic table of ``--rows`` rows (from the committed default with all its optional columns - legal
entity, GHT name, staff, headcount, dialysis stations - replicated with fresh FINESS) as CSV
and Parquet into a temporary folder, then measures, each in a fresh subprocess (so that peak memory is that
of one load): ``registry.load_establishments`` on the CSV and on the Parquet file (wall time and peak
resident memory from ``resource.getrusage``). The anchor, measured in the same run, is the naive method:
validating row by row with a pydantic-style per-row check (here: a Python loop applying every rule to each
row), on ``--anchor-rows`` rows and scaled linearly to the full size.

The loads run under the default input limits of :mod:`cyberbudget.config` (any ``CYBERBUDGET_MAX_*`` variable
is removed from the children's environment): the 1,000,000-row table must load by default, as CSV and as
Parquet, every check of a hostile file included. The last line shows how much of each limit the table uses.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cyberbudget import config  # noqa: E402
from cyberbudget.data.registry import load_establishments, write_table  # noqa: E402

_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from cyberbudget.data.registry import load_establishments
t1 = time.perf_counter()
table = load_establishments(sys.argv[1])
t2 = time.perf_counter()
# VmHWM is the peak resident size of this process image (ru_maxrss would carry the parent's peak across exec).
with open("/proc/self/status") as f:
    hwm = [line for line in f if line.startswith("VmHWM:")]
peak_kib = int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rows": len(table), "seconds": t2 - t1, "import_seconds": t1 - t0, "peak_mib": peak_kib / 1024}))
"""


def make_table(rows: int) -> pd.DataFrame:
    base = load_establishments(config.DEFAULT_TABLE)
    reps = -(-rows // len(base))
    big = pd.concat([base] * reps, ignore_index=True).iloc[:rows].copy()
    dep = big["department"].str[:2].to_numpy(dtype=str)
    seq = np.arange(rows) % 10_000_000
    big["finess"] = [f"{d}{s:07d}" for d, s in zip(dep, seq, strict=True)]
    big = big.drop_duplicates("finess")
    big["ght"] = ""
    big["ght_name"] = ""
    big["ght_support"] = False
    return big.reset_index(drop=True)


def naive_validate(df: pd.DataFrame) -> int:
    """Row-by-row validation: the anchor. Returns the number of problems."""
    import re

    finess_re = re.compile(r"(?:\d{2}|2A|2B)\d{7}")
    dep_re = re.compile(r"(?:0[1-9]|1\d|2[1-9]|[3-8]\d|9[0-5]|2A|2B|97[1-6])")
    seen: set[str] = set()
    problems = 0
    for rec in df.to_dict("records"):
        f = str(rec["finess"])
        problems += not finess_re.fullmatch(f) or f in seen
        seen.add(f)
        problems += not str(rec["name"]).strip()
        problems += rec["region"] not in config.REGIONS
        problems += not dep_re.fullmatch(str(rec["department"]))
        problems += rec["status"] not in config.STATUSES
        problems += rec["category"] not in config.CATEGORIES
        problems += not finess_re.fullmatch(str(rec["finess_ej"]))
        for c in ("beds", "places", "had_places", "headcount", "dialysis_stations"):
            try:
                v = float(rec[c])
                problems += v < 0 or v != int(v)
            except ValueError:
                problems += 1
        try:
            staff, medical = float(rec["staff_fte"]), float(rec["medical_fte"])
            problems += not (0 <= medical <= staff)
        except ValueError:
            problems += 1
        try:
            op, it, cy = (float(rec[c]) for c in ("operating_budget_eur", "it_budget_eur", "cyber_spend_eur"))
            problems += not (op > 0 and 0 <= cy <= it <= op)
        except ValueError:
            problems += 1
        for c in ("ght_support", "ose", "medico_social"):
            problems += str(rec[c]).lower() not in ("true", "false")
    return problems


def measure(path: Path) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CYBERBUDGET_MAX_")}
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, cwd=ROOT,
                          check=True, env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--anchor-rows", type=int, default=20_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        t = time.perf_counter()
        table = make_table(args.rows)
        csv_path = write_table(table, tmp_path / "big.csv")
        parquet_path = tmp_path / "big.parquet"
        table.to_parquet(parquet_path, index=False)
        prep = time.perf_counter() - t
        raw_sample = pd.read_csv(csv_path, dtype=str, keep_default_na=False, nrows=args.anchor_rows)

        results = []
        for label, path in (("load_establishments, CSV", csv_path), ("load_establishments, Parquet", parquet_path)):
            r = measure(path)
            results.append((label, r["rows"], r["seconds"], r["peak_mib"], path.stat().st_size / 2**20))
        t = time.perf_counter()
        naive_validate(raw_sample)
        naive = (time.perf_counter() - t) * len(table) / len(raw_sample)

    print(f"table: {len(table):,} rows (prepared in {prep:.1f} s); goal <= 10 s and <= 2,048 MiB peak")
    print(f"{'method':<44}{'rows':>11}{'seconds':>10}{'peak MiB':>10}{'file MiB':>10}")
    for label, rows, seconds, peak, size in results:
        print(f"{label:<44}{rows:>11,}{seconds:>10.2f}{peak:>10.0f}{size:>10.0f}")
    print(f"{'anchor: row-by-row checks (scaled from ' + format(args.anchor_rows, ',') + ')':<44}"
          f"{len(table):>11,}{naive:>10.2f}{'-':>10}{'-':>10}")
    csv_bytes = results[0][4] * 2**20
    used = [("MAX_TABLE_BYTES", csv_bytes, config.MAX_TABLE_BYTES.default),
            ("MAX_TABLE_ROWS", len(table), config.MAX_TABLE_ROWS.default),
            ("MAX_TABLE_CELLS", len(table) * table.shape[1], config.MAX_TABLE_CELLS.default)]
    print("default limits used by the CSV: " + ", ".join(
        f"{name} {value:,.0f} of {limit:,} ({value / limit:.0%})" for name, value, limit in used))


if __name__ == "__main__":
    main()
