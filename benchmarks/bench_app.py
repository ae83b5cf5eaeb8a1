"""Benchmark: the what-if app's latency, from a control change to updated figure data (issue 13).

Goals: ≤ 150 ms on the default table (3,126 establishments) and ≤ 1 s on the default table plus the
medico-social layer (about 38,000 rows, ``synthesize(medico_social=True)``).

Run ``.venv/bin/python benchmarks/bench_app.py [--quick]``. Measured in-process through
:meth:`cyberbudget.reports.whatif.WhatIf.update` — the path the widgets call: normalise the control value,
validate the scenario (``load_scenario``), ``allocate``, the risk model (avoided loss), the suppressed breakdowns
by region and status, the histogram and the four figures' JSON. The ``widgets`` columns time the same slider moves
through the page's widgets (``AppWidgets``: the control's value set, its handler, :meth:`WhatIf.update`, then the
key figures and the four figures redrawn in their widgets), without a browser attached. Not included: the
kernel → browser message and plotly's drawing in the page.

Anchors measured in the same run, on the same table and scenario:

- ``allocate``: a bare :func:`cyberbudget.policy.allocation.allocate` call (the floor of any update);
- ``naive re-render``: what a notebook cell re-run would do — read the scenario file, ``allocate``,
  ``risk.assess`` on the full result, the disclosure tables, and the figures built as validated
  ``plotly.graph_objects`` figures by :mod:`cyberbudget.reports.plots`.

The tables are synthetic (the committed default table and the seeded generator); nothing is written to disk.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cyberbudget import config  # noqa: E402
from cyberbudget.data.registry import load_establishments, synthesize  # noqa: E402
from cyberbudget.policy.allocation import allocate  # noqa: E402
from cyberbudget.policy.scenario import load_scenario  # noqa: E402
from cyberbudget.reports import disclosure, plots  # noqa: E402
from cyberbudget.reports.whatif import WhatIf  # noqa: E402

BASELINE = config.SCENARIOS_DIR / "baseline.yaml"
GOALS_MS = {"default": 150.0, "default + medico-social": 1000.0}
#: A slider being dragged back and forth by one step (0,5 point), as an analyst does.
THRESHOLDS = (0.05, 0.055, 0.06, 0.065, 0.07, 0.065, 0.06, 0.055)


def _times(func: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _updates(app: WhatIf, changes: list[dict[str, Any]]) -> list[float]:
    out = []
    for change in changes:
        result = app.update(**change)
        if not result.ok:
            raise RuntimeError(f"{change}: {result.error}")
        out.append(result.elapsed_ms)
    return out


def naive_rerender(table: Any, path: Path, min_share: float) -> None:
    """Anchor: re-run a whole report-like cell for one change (validated plotly figures, full risk summary)."""
    from cyberbudget.risk import assess

    raw = load_scenario(path).to_dict()
    raw["eligibility"]["min_share"] = min_share
    scenario = load_scenario(raw)
    result = allocate(table, scenario)
    assess(result, scenario)
    region = disclosure.breakdown(result.table, "region", groups=config.REGIONS).rows
    status = disclosure.breakdown(result.table, "status", groups=config.STATUSES).rows
    bins = disclosure.share_histogram(result.table, width=0.005)
    figs = [plots.share_distribution(bins, min_share, scenario.eligibility.max_share, lang="fr"),
            plots.allocation_by(region, "region", lang="fr"), plots.allocation_by(status, "status", lang="fr")]
    for fig in figs:
        fig.to_plotly_json()


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def bench(label: str, table: Any, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        app = WhatIf(table, BASELINE, scenarios_dir=tmp)
        scenario = app.scenario
        # warm-up: caches (house layout, histogram per scope), allocator imports
        _updates(app, [{"min_share": v} for v in THRESHOLDS[:3]])
        slider = _updates(app, [{"min_share": THRESHOLDS[i % len(THRESHOLDS)]} for i in range(1, repeat + 1)])
        mixed = _updates(app, [
            {"min_share": 0.05}, {"cap_eur": 2_000_000}, {"cap_eur": None},
            {"statuses": ["public"]}, {"statuses": ["public", "private_nonprofit", "private_forprofit"]},
            {"rule": "matching"}, {"rule": "gap"}, {"rule": "tiered"}, {"rule": "proportional"},
            {"uptake": "full"}, {"uptake": "none"}, {"total_eur": 300_000_000}, {"total_eur": 350_000_000},
        ] * max(1, repeat // 13))
        bare = _times(lambda: allocate(table, scenario), repeat)
        naive = _times(lambda: naive_rerender(table, BASELINE, 0.06), max(3, repeat // 4))
        payload = json.dumps(app.figures)
        widgets = _widget_moves(app, repeat)
        dumps = _times(lambda: json.dumps(app.figures), repeat)
    return {
        "label": label, "rows": len(table), "slider_p50": statistics.median(slider), "slider_p95": pct(slider, 0.95),
        "mixed_p50": statistics.median(mixed), "mixed_p95": pct(mixed, 0.95), "mixed_max": max(mixed),
        "allocate_p50": statistics.median(bare), "naive_p50": statistics.median(naive),
        "payload_kb": len(payload.encode()) / 1024, "json_p50": statistics.median(dumps),
        "widgets_p50": statistics.median(widgets), "widgets_p95": pct(widgets, 0.95),
    }


def _widget_moves(app: WhatIf, repeat: int) -> list[float]:
    """The slider moved through the page's widgets: control value → handler → update → widgets redrawn."""
    from cyberbudget.reports.whatif import build_app

    page = build_app(app).cb_widgets
    slider = page.controls["min_share"]
    for v in THRESHOLDS[:3]:  # warm-up
        slider.value = v
    out = []
    for i in range(1, repeat + 1):
        value = THRESHOLDS[i % len(THRESHOLDS)]
        t0 = time.perf_counter()
        slider.value = value
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    repeat = 16 if quick else 48
    default = load_establishments()
    big = synthesize(medico_social=True)
    rows = [bench("default", default, repeat), bench("default + medico-social", big, max(8, repeat // 3))]
    print("What-if app: control change → updated figure data (in-process WhatIf.update), milliseconds")
    head = (f"{'table':<26}{'rows':>8}{'slider p50':>12}{'p95':>8}{'mixed p50':>11}{'p95':>8}{'max':>8}"
            f"{'allocate':>10}{'naive':>9}{'update/alloc':>14}{'naive/update':>14}{'widgets p50':>13}{'p95':>8}"
            f"{'goal':>7}")
    print(head)
    print("-" * len(head))
    failed = False
    for r in rows:
        goal = GOALS_MS[r["label"]]
        ok = r["slider_p50"] <= goal and r["mixed_p50"] <= goal and r["widgets_p50"] <= goal
        failed |= not ok
        print(f"{r['label']:<26}{r['rows']:>8,}{r['slider_p50']:>12.1f}{r['slider_p95']:>8.1f}{r['mixed_p50']:>11.1f}"
              f"{r['mixed_p95']:>8.1f}{r['mixed_max']:>8.1f}{r['allocate_p50']:>10.1f}{r['naive_p50']:>9.1f}"
              f"{r['slider_p50'] / r['allocate_p50']:>13.1f}x{r['naive_p50'] / r['slider_p50']:>13.1f}x"
              f"{r['widgets_p50']:>13.1f}{r['widgets_p95']:>8.1f}"
              f"{'≤' + format(goal, '.0f'):>7} {'ok' if ok else 'OVER'}")
    print()
    print("slider: min_share moved by one 0.5-point step, back and forth; mixed: cap, statuses, rule, uptake and")
    print("envelope changes (statuses changes also rebuild the histogram). allocate: bare allocate() on the same")
    print("scenario; naive: scenario file + allocate + full risk.assess + disclosure + validated plotly figures.")
    print("widgets: the slider moved through the page's widgets (handler, update, key figures and the four figures")
    print("redrawn in their widgets; no browser attached).")
    for r in rows:
        print(f"figure JSON sent to the page ({r['label']}): {r['payload_kb']:.0f} KB, serialised in "
              f"{r['json_p50']:.1f} ms")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
