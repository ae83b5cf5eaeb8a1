"""Run every benchmark in turn and print their tables (``make bench``).

Each script measures its naive or anchor method in the same run and prints a table; the README keeps the
figures. Pass ``--quick`` to forward it to the scripts that accept it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["bench_load.py", "bench_allocation.py", "bench_optimize.py", "bench_montecarlo.py", "bench_report.py",
           "bench_batch.py", "bench_notices.py", "bench_app.py"]
QUICK = {"bench_montecarlo.py"}


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    failed = []
    for name in SCRIPTS:
        print(f"\n=== {name} ===", flush=True)
        args = [sys.executable, str(HERE / name)] + (["--quick"] if quick and name in QUICK else [])
        if subprocess.run(args, cwd=HERE.parent).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
