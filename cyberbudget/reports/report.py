"""One-scenario reports: ``cyberbudget run`` and ``cyberbudget verify``.

:func:`run` turns a scenario file into a report folder ``DIR/<name>/`` (DESIGN.md, "Command line"):

1. :func:`load_inputs` validates the table and the scenario (and the template exists) — an
   :class:`~cyberbudget.errors.InputError` stops everything before a file is written or a kernel starts;
2. :func:`compute_from` allocates in-process (:class:`Computed`);
3. :func:`write_outputs` writes ``allocation.csv``, ``summary.json`` (byte-deterministic) and
   ``allocation.xlsx`` (published: aggregated, see :mod:`cyberbudget.reports.disclosure`);
4. :func:`execute_notebook` executes the template with papermill in the current environment's ``python3``
   kernel — templates that declare ``results_path`` receive step 2's results through a private temporary
   file (:func:`save_results`, removed after the run; run by hand they recompute them), and every template
   checks the allocated cents against step 2;
5. :func:`export_html` writes a self-contained ``report.html`` (plotly.js inlined once, no CDN, code hidden);
6. ``manifest.json`` (:mod:`cyberbudget.reports.manifest`) records input hashes, parameters, versions and timings.

Everything is written into ``DIR/.<name>.tmp-XXXX`` and renamed to ``DIR/<name>`` at the end: an error or
Ctrl-C leaves no half report. A failing notebook is kept in ``DIR/<name>.failed/`` and raises
:class:`~cyberbudget.errors.ReportError`.

The steps are public so that :mod:`cyberbudget.reports.batch` can reuse them (one exporter, warm kernels).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget import config, formatting
from cyberbudget.errors import InputError, OptionError, Problem, ReportError
from cyberbudget.reports import disclosure, manifest, plots

CSV_NAME = "allocation.csv"
SUMMARY_NAME = "summary.json"
XLSX_NAME = "allocation.xlsx"
NOTEBOOK_NAME = "report.ipynb"
HTML_NAME = "report.html"
#: The kernel papermill uses: the ``python3`` kernel of the current environment (``make`` installs it).
KERNEL_NAME = "python3"
#: Columns that lead ``allocation.csv``, in this order (DESIGN.md).
CSV_LEADING: tuple[str, ...] = ("finess", "eligible", "grant_cents", "grant_eur", "reason")
BREAKDOWNS: tuple[str, ...] = ("region", "status", "category", "ght")


# --------------------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------------------


def resolve_scenario_path(scenario: str | Path) -> Path:
    """A scenario file path; a bare name (no suffix, no folder) is looked up in ``config.SCENARIOS_DIR``."""
    p = Path(scenario)
    if not p.exists() and p.suffix == "" and len(p.parts) == 1:
        named = config.SCENARIOS_DIR / f"{p.name}.yaml"
        if named.is_file():
            return named.resolve()
    return p.resolve() if p.exists() else p


def resolve_template(template: str | Path) -> Path:
    """The template notebook: a path to an ``.ipynb``, or a name in ``notebooks/templates/``.

    Raises
    ------
    OptionError
        No such template (the message lists the available names).
    """
    p = Path(template)
    if p.suffix == ".ipynb" or len(p.parts) > 1:
        if p.is_file():
            return p.resolve()
    else:
        named = config.TEMPLATES_DIR / f"{p.name}.ipynb"
        if named.is_file():
            return named.resolve()
    names = sorted(q.stem for q in config.TEMPLATES_DIR.glob("*.ipynb"))
    raise OptionError(
        f"--template: no template {str(template)!r}",
        [Problem("--template", f"expected a notebook path or one of {names}, found {str(template)!r}")],
    )


def load_inputs(scenario_path: str | Path, data: str | Path | None = None) -> tuple[Any, pd.DataFrame, Path, Path]:
    """Read and validate the scenario and the table (both problems reported if both are bad).

    Returns
    -------
    (Scenario, DataFrame, Path, Path)
        The scenario, the validated table, and the resolved scenario and table paths.

    Raises
    ------
    InputError
        The scenario or the table is invalid.
    """
    from cyberbudget.data.registry import load_establishments
    from cyberbudget.policy.scenario import load_scenario

    spath = resolve_scenario_path(scenario_path)
    dpath = Path(data).resolve() if data is not None else Path(config.DEFAULT_TABLE)
    errors: list[InputError] = []
    scenario = table = None
    try:
        scenario = load_scenario(spath)
    except InputError as exc:
        errors.append(exc)
    try:
        table = load_establishments(dpath)
    except InputError as exc:
        errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        problems = [Problem(e.source or "", str(e)) for e in errors]
        raise InputError(f"{spath} and {dpath}: invalid inputs", problems, source=str(spath))
    return scenario, table, spath, dpath


# --------------------------------------------------------------------------------------------------------------
# Computation
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Computed:
    """Everything a report shows, computed in-process.

    Attributes
    ----------
    scenario : Scenario
    table : DataFrame
        The validated input table.
    result : AllocationResult
    audits : object or None
        :func:`cyberbudget.policy.audits.assess` result, None when the scenario does not set the audit costs.
    scenario_path, data_path : Path
    timings : dict
        Seconds per step.
    """

    scenario: Any
    table: pd.DataFrame
    result: Any
    audits: Any
    scenario_path: Path
    data_path: Path
    timings: dict[str, float] = field(default_factory=dict)
    audits_note: str = ""


def _assess_audits(table: pd.DataFrame, result: Any, scenario: Any) -> tuple[Any, str]:
    """Plan the 25 M€ audit envelope (:func:`cyberbudget.policy.audits.plan_audits`); costs left ``null`` in the
    scenario take the named assumptions of ``data/reference/policy.yaml``."""
    from cyberbudget.policy import audits

    if getattr(getattr(scenario, "audits", None), "envelope_eur", 0) in (0, None):
        return None, "the scenario sets no audit envelope (audits.envelope_eur = 0)"
    return audits.plan_audits(table, scenario), ""


def compute_from(scenario: Any, table: pd.DataFrame, scenario_path: Path, data_path: Path) -> Computed:
    """Allocate (and assess audits) for an already validated scenario and table."""
    from cyberbudget.policy.allocation import allocate

    t0 = time.perf_counter()
    result = allocate(table, scenario)
    t1 = time.perf_counter()
    audits_result, note = _assess_audits(table, result, scenario)
    t2 = time.perf_counter()
    return Computed(scenario=scenario, table=table, result=result, audits=audits_result,
                    scenario_path=Path(scenario_path), data_path=Path(data_path),
                    timings={"allocate": t1 - t0, "audits": t2 - t1}, audits_note=note)


def compute(scenario_path: str | Path, data: str | Path | None = None) -> Computed:
    """:func:`load_inputs` then :func:`compute_from` (what the notebooks call)."""
    t0 = time.perf_counter()
    scenario, table, spath, dpath = load_inputs(scenario_path, data)
    t1 = time.perf_counter()
    computed = compute_from(scenario, table, spath, dpath)
    computed.timings = {"load": t1 - t0, **computed.timings}
    return computed


def check_expected(computed: Computed, expected_allocated_cents: int) -> None:
    """Raise ReportError if the notebook's own computation differs from the run's (``-1``: no check)."""
    if expected_allocated_cents is None or int(expected_allocated_cents) < 0:
        return
    got = int(np.asarray(computed.result.table["grant_cents"], dtype=np.int64).sum())
    if got != int(expected_allocated_cents):
        raise ReportError(
            f"the notebook allocated {got} cents but `run` computed {expected_allocated_cents}: "
            "inputs changed during the run or the computation is not deterministic"
        )


def save_results(computed: Computed, pub: Published, path: str | Path) -> Path:
    """Pickle what :func:`run` computed (``computed``, ``pub``) for the notebook (parameter ``results_path``).

    The file is private to the run (a temporary folder outside the report folder, deleted after the notebook
    ran): the executed notebook then shows the run's own figures without recomputing them. A rule's
    per-establishment ``explain`` closure cannot be pickled and is left out (``result.explain`` then gives the
    common lines only; the templates do not use it).
    """
    import dataclasses
    import pickle

    result = computed.result
    rule_output = getattr(result, "rule_output", None)
    if dataclasses.is_dataclass(result) and getattr(rule_output, "explain", None) is not None:
        result = dataclasses.replace(result, rule_output=dataclasses.replace(rule_output, explain=None))
        computed = dataclasses.replace(computed, result=result)
    path = Path(path)
    with path.open("wb") as fh:
        pickle.dump({"format": 1, "computed": computed, "published": pub}, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def load_results(path: str | Path) -> tuple[Computed, Published]:
    """Read what :func:`save_results` wrote (only ever a file written by this run, never user input).

    Raises
    ------
    ReportError
        The file is not a results file of this version.
    """
    import pickle

    with Path(path).open("rb") as fh:
        data = pickle.load(fh)  # noqa: S301 - our own private temporary file, written by `run`
    if not isinstance(data, dict) or data.get("format") != 1:
        raise ReportError(f"{path}: expected a results file written by cyberbudget.reports.report.run (format 1)")
    return data["computed"], data["published"]


def notebook_context(scenario_path: str | Path, data: str | Path | None = None,
                     results_path: str | Path | None = None) -> tuple[Computed, Published]:
    """What a report notebook shows: the run's own results when it hands them over, else computed here.

    Parameters
    ----------
    scenario_path, data : path
        Used when ``results_path`` is empty (a template run by hand): load, allocate and publish.
    results_path : path, optional
        The file :func:`run` wrote with :func:`save_results`.
    """
    if results_path:
        return load_results(results_path)
    computed = compute(scenario_path, data)
    return computed, publish(computed)


# --------------------------------------------------------------------------------------------------------------
# Published (disclosure-checked) tables
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Published:
    """The aggregated, suppression-checked tables every published output is built from."""

    name: str
    marking: str | None
    key: dict[str, Any]
    breakdowns: dict[str, disclosure.Breakdown]
    flow: pd.DataFrame
    share_bins: pd.DataFrame
    share_counts: dict[str, int | None]
    lorenz: pd.DataFrame
    gini: float | None
    years: pd.DataFrame
    establishments: pd.DataFrame | None
    audits: dict[str, Any]


def _by_year_frame(result: Any) -> pd.DataFrame:
    by_year = getattr(result, "by_year", None)
    if by_year is None:
        return pd.DataFrame()
    frame = by_year.copy()
    if "finess" in frame.columns:
        frame = frame.set_index("finess")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def key_figures(computed: Computed, min_cell: int = config.MIN_CELL_SIZE) -> dict[str, Any]:
    """National key figures with suppression (a suppressed figure is None).

    ``allocated_cents`` and ``unallocated_cents`` are suppressed together when fewer than ``min_cell``
    establishments receive a grant; ``n_eligible`` and ``eligible_share`` when fewer than ``min_cell`` (but
    some) qualify; ``induced_spend_eur`` when fewer than ``min_cell`` (but some) raise their spend.
    """
    t = computed.result.table
    grant = np.asarray(t["grant_cents"], dtype=np.int64)
    n = len(t)
    n_el = int(np.asarray(t["eligible"], dtype=bool).sum())
    n_rec = int((grant > 0).sum())
    env = int(computed.result.summary.get("envelope_cents", 0))
    allocated = int(grant.sum())
    induced = np.asarray(t["induced_spend_eur"], dtype=float) if "induced_spend_eur" in t else np.zeros(n)
    n_induced = int((induced > 0).sum())
    hide_money = 0 < n_rec < min_cell
    hide_el = 0 < n_el < min_cell
    hide_induced = 0 < n_induced < min_cell
    return {
        "envelope_cents": env,
        "allocated_cents": None if hide_money else allocated,
        "unallocated_cents": None if hide_money else env - allocated,
        "n_establishments": n,
        "n_eligible": None if hide_el else n_el,
        "eligible_share": None if hide_el or n == 0 else n_el / n,
        "induced_spend_eur": None if hide_induced else float(induced.sum()),
    }


def _audits_tables(computed: Computed) -> dict[str, Any]:
    a = computed.audits
    if a is None:
        return {"note": computed.audits_note}
    summary = dict(getattr(a, "summary", {}) or {})
    out: dict[str, Any] = {"note": "", "summary": summary}
    for by in ("region", "status"):
        groups = summary.get(f"by_{by}") or {}
        out[f"by_{by}"] = pd.DataFrame(
            [{by: key, "n_establishments": int(v["n_establishments"]), "n_audited": int(v["n_audited"])}
             for key, v in groups.items()],
            columns=[by, "n_establishments", "n_audited"],
        )
    return out


def _share_counts(t: pd.DataFrame, min_share: float, min_cell: int) -> dict[str, int | None]:
    """Establishments with an IT budget, and those below ``min_share`` (None when 1–4: not disclosed)."""
    it = np.asarray(t["it_budget_eur"], dtype=float)
    cyber = np.asarray(t["cyber_spend_eur"], dtype=float)
    ok = it > 0
    n_below = int((cyber[ok] / it[ok] < min_share).sum())
    n_above = int(ok.sum()) - n_below
    hide = 0 < n_below < min_cell or 0 < n_above < min_cell
    return {"n": int(ok.sum()), "n_below": None if hide else n_below}


def publish(computed: Computed, min_cell: int = config.MIN_CELL_SIZE) -> Published:
    """Build every published table of a report (aggregated and suppressed as DESIGN.md requires)."""
    t = computed.result.table
    scenario = computed.scenario
    mark = disclosure.marking(scenario)
    breakdowns = {by: disclosure.breakdown(t, by, min_cell) for by in BREAKDOWNS if by in t.columns}
    per_bed = t[(np.asarray(t["grant_cents"], dtype=np.int64) > 0) & (t["beds"].astype("int64") > 0)] \
        if "beds" in t.columns else t.iloc[:0]
    values = per_bed["grant_cents"].astype("int64") / 100 / per_bed["beds"].astype("int64") if len(per_bed) else []
    n_values = len(per_bed)
    return Published(
        name=scenario.name,
        marking=mark,
        key=key_figures(computed, min_cell),
        breakdowns=breakdowns,
        flow=disclosure.crosstab(t, "status", "region", min_cell),
        share_bins=disclosure.share_histogram(t, min_cell=min_cell),
        share_counts=_share_counts(t, scenario.eligibility.min_share, min_cell),
        lorenz=disclosure.lorenz_points(np.asarray(values, dtype=float), min_cell=min_cell),
        gini=disclosure.gini(np.asarray(values, dtype=float)) if n_values >= min_cell else None,
        years=disclosure.year_totals(_by_year_frame(computed.result), min_cell),
        establishments=disclosure.establishment_table(t) if mark else None,
        audits=_audits_tables(computed),
    )


def key_figures_markdown(pub: Published, lang: str = "en") -> str:
    """The key figures as a Markdown table."""
    k = pub.key
    f = formatting
    nd = f"not disclosed (< {config.MIN_CELL_SIZE} establishments)"

    def cents(x: int | None) -> str:
        return nd if x is None else f.fmt_cents(x, lang)

    rows = [
        ("Envelope", cents(k["envelope_cents"])),
        ("Allocated", cents(k["allocated_cents"])),
        ("Unallocated", cents(k["unallocated_cents"])),
        ("Establishments", f.fmt_int(k["n_establishments"], lang)),
        ("Eligible establishments", nd if k["n_eligible"] is None else
         f"{f.fmt_int(k['n_eligible'], lang)} ({f.fmt_pct(k['eligible_share'], lang)})"),
        ("Induced cyber spend (over the period)", nd if k["induced_spend_eur"] is None else
         f.fmt_eur(k["induced_spend_eur"], lang)),
    ]
    lines = ["| Key figure | Value |", "|---|---:|"] + [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines)


def header_markdown(computed: Computed, pub: Published, lang: str = "en") -> str:
    """Report title, scenario description and (under ``disclosure: establishment``) the marking."""
    s = computed.scenario
    lines = []
    if pub.marking:
        lines.append(f"<div class='cb-marking'><b>{pub.marking}</b> — establishment-level figures, internal "
                     "use only. Do not publish.</div>\n")
    lines.append(f"# Cybersecurity envelope — scenario “{s.name}”")
    if getattr(s, "description", ""):
        lines.append(f"\n{s.description}")
    rule = getattr(s.allocation, "rule", "?")
    lines.append(
        f"\nRule **{rule}**; eligibility from {formatting.fmt_pct(s.eligibility.min_share, lang, 0)} "
        f"(ceiling {formatting.fmt_pct(s.eligibility.max_share, lang, 0)}) of the IT budget; years "
        f"{', '.join(str(y) for y in s.envelope.years)}. Table: `{computed.data_path.name}` "
        f"({len(computed.table)} establishments). Published figures are aggregated: a figure built from fewer "
        f"than {config.MIN_CELL_SIZE} establishments is not disclosed."
    )
    return "\n".join(lines)


def narrative_markdown(computed: Computed, pub: Published, lang: str = "en") -> str:
    """The plain-language paragraph (see :mod:`cyberbudget.reports.narrative`)."""
    from cyberbudget.reports.narrative import paragraph

    s = computed.scenario
    return paragraph(
        scenario_name=s.name, rule=str(s.allocation.rule), min_share=s.eligibility.min_share,
        max_share=s.eligibility.max_share, key=pub.key, by_status=pub.breakdowns["status"].rows,
        by_region=pub.breakdowns["region"].rows, gini=pub.gini, lang=lang,
    )


def assumptions_frame() -> pd.DataFrame:
    """Figures marked ``source: assumption`` in ``data/reference/`` (shown in the report's provenance)."""
    from cyberbudget.data.reference import provenance

    prov = provenance()
    out = prov[prov["assumption"]][["file", "key", "value", "unit", "note"]].reset_index(drop=True)
    for col in ("unit", "note"):  # folded YAML text ends with a newline
        out[col] = out[col].map(lambda x: " ".join(str(x).split()) if isinstance(x, str) else x)
    return out


def audits_markdown(computed: Computed, pub: Published, lang: str = "en") -> str:
    """What the 25 M€ audit and surveillance envelope buys (or why it is not simulated)."""
    a = pub.audits
    s = computed.scenario
    env = getattr(getattr(s, "audits", None), "envelope_eur", None)
    head = (f"The France Relance envelope of {formatting.fmt_eur_compact(env, lang)} funds cybersecurity audits of "
            "establishments and the national cyber-surveillance service (ANS, ANSSI).") if env else ""
    if a.get("note"):
        return f"{head}\n\n*{a['note']}.*"
    sm = a.get("summary") or {}

    def eur(cents: Any) -> str:
        return formatting.fmt_eur(None if cents is None else cents / 100, lang)

    assumptions = sm.get("assumptions") or {}

    def origin(key: str) -> str:
        src = (assumptions.get(key) or {}).get("source", "")
        return " (assumption)" if src == "assumption" else ""

    rows = [
        ("National cyber-surveillance service" + origin("surveillance_eur"), eur(sm.get("surveillance_cents"))),
        ("Left for audits", eur(sm.get("audit_budget_cents"))),
        ("Cost of one audit" + origin("unit_cost_eur"), eur(sm.get("unit_cost_cents"))),
        ("Audits funded", formatting.fmt_number(sm.get("n_audits"), 0, lang)),
        ("Operators of essential services audited",
         f"{formatting.fmt_number(sm.get('n_ose_audited'), 0, lang)} of {formatting.fmt_number(sm.get('n_ose'), 0, lang)}"),
        ("Unspent", eur(sm.get("unspent_cents"))),
    ]
    table = "\n".join(["| Audits and surveillance | Value |", "|---|---:|", *[f"| {k} | {v} |" for k, v in rows]])
    n, n_est = sm.get("n_audits") or 0, sm.get("n_establishments") or 0
    text = (f"Audits go first to the operators of essential services (GHT support establishments), then by "
            f"{sm.get('priority', 'size')}: {formatting.fmt_number(n, 0, lang)} of {formatting.fmt_number(n_est, 0, lang)} "
            "establishments are audited. Costs marked *assumption* are not published; they are set in "
            "`data/reference/policy.yaml` or the scenario's `audits:` keys.")
    return f"{head}\n\n{table}\n\n{text}"


def audits_figures(pub: Published, lang: str = "en", min_cell: int = config.MIN_CELL_SIZE) -> list[Any]:
    """Audits per region and per status (groups with fewer than ``min_cell`` audits are not disclosed)."""
    figs = []
    for by in ("region", "status"):
        frame = pub.audits.get(f"by_{by}")
        if not isinstance(frame, pd.DataFrame) or by not in frame.columns:
            continue
        count_col = next((c for c in ("n_audits", "audits", "n_audited") if c in frame.columns), None)
        if count_col is None:
            continue
        shown = frame.copy()
        counts = pd.to_numeric(shown[count_col], errors="coerce").fillna(0).astype("int64").to_numpy()
        n = shown["n_establishments"].to_numpy(np.int64) if "n_establishments" in shown else counts
        mask = disclosure.secondary_mask_1d(n, counts, disclosure.primary_mask(n, None, counts, min_cell), min_cell)
        shown[count_col] = shown[count_col].astype(float).where(~mask)
        figs.append(plots.coverage_by(shown, by, count_col, lang=lang, value_label="audits",
                                      title=f"Audits funded, by {by}"))
    return figs


def establishment_html(pub: Published, top: int = 50) -> str:
    """Largest grants, establishment by establishment — only under ``disclosure: establishment``."""
    if pub.establishments is None:
        return ("<p>Establishment-level figures are not published under <code>disclosure: aggregate</code>; "
                "they are in the internal file <code>allocation.csv</code>.</p>")
    est = pub.establishments.sort_values(["grant_cents", "finess"], ascending=[False, True]).head(top)
    return (f"<p class='cb-marking'><b>{pub.marking}</b> — the {len(est)} largest grants; the full list is in "
            "the workbook's <code>establishments</code> sheet.</p>" + est.to_html(index=False, classes="cb-table"))


# --------------------------------------------------------------------------------------------------------------
# Deterministic outputs
# --------------------------------------------------------------------------------------------------------------


def _cents_text(cents: np.ndarray) -> list[str]:
    return [f"{'-' if c < 0 else ''}{abs(int(c)) // 100}.{abs(int(c)) % 100:02d}" for c in cents]


def _text_column(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return series.map({True: "true", False: "false"}).astype(object)
    if pd.api.types.is_integer_dtype(series):
        return series.astype("Int64").astype(str).replace("<NA>", "").astype(object)
    if pd.api.types.is_float_dtype(series):
        return pd.Series([("" if math.isnan(x) else repr(float(x))) for x in series], index=series.index, dtype=object)

    def one(x: Any) -> str:
        if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)):
            return ""
        if isinstance(x, (bool, np.bool_)):
            return "true" if x else "false"
        if isinstance(x, (float, np.floating)):
            return repr(float(x))
        if isinstance(x, Fraction):
            return f"{x.numerator}/{x.denominator}" if x.denominator != 1 else str(x.numerator)
        return str(x)

    return pd.Series([one(x) for x in series], index=series.index, dtype=object)


def allocation_frame(result: Any) -> pd.DataFrame:
    """``allocation.csv`` as text columns: DESIGN.md's leading columns, the rest, then cents by year."""
    t = result.table.sort_values("finess", kind="stable").reset_index(drop=True)
    cents = np.asarray(t["grant_cents"], dtype=np.int64)
    rest = [c for c in t.columns if c not in CSV_LEADING]
    out = pd.DataFrame({
        "finess": t["finess"].astype(str).astype(object),
        "eligible": _text_column(t["eligible"].astype(bool)),
        "grant_cents": pd.Series([str(int(c)) for c in cents], dtype=object),
        "grant_eur": pd.Series(_cents_text(cents), dtype=object),
        "reason": _text_column(t["reason"]) if "reason" in t else "",
    })
    for col in rest:
        out[col] = _text_column(t[col].reset_index(drop=True))
    years = _by_year_frame(result)
    if len(years):
        years = years.reindex(t["finess"].astype(str).tolist())
        for year in years.columns:
            out[f"grant_cents_{year}"] = [str(int(v)) for v in years[year].to_numpy(np.int64)]
    return out


def write_allocation_csv(result: Any, path: str | Path) -> Path:
    """Write ``allocation.csv``: UTF-8, ``,``, LF, ``true``/``false``, ``grant_eur`` with 2 decimals, sorted."""
    path = Path(path)
    frame = allocation_frame(result)
    text = frame.to_csv(index=False, lineterminator="\n")
    path.write_bytes(text.encode("utf-8"))
    return path


def _json_ready(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_ready(v) for v in x]
    if isinstance(x, pd.DataFrame):
        return _json_ready(x.to_dict(orient="records"))
    if isinstance(x, pd.Series):
        return _json_ready(x.to_dict())
    if isinstance(x, np.ndarray):
        return _json_ready(x.tolist())
    if x is None or x is pd.NA:
        return None
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        v = float(x)
        if math.isnan(v) or math.isinf(v):
            return None
        return float(f"{v:.12g}")
    if isinstance(x, (Decimal, Fraction)):
        return str(x)
    if isinstance(x, Path):
        return x.as_posix()
    return x if isinstance(x, str) else str(x)


def summary_dict(computed: Computed) -> dict[str, Any]:
    """``summary.json``: the allocation summary plus the scenario name and the year totals."""
    summary = dict(computed.result.summary)
    summary.setdefault("scenario", computed.scenario.name)
    years = _by_year_frame(computed.result)
    if len(years) and "by_year" not in summary and "year_totals_cents" not in summary:
        summary["by_year"] = {y: int(years[y].astype("int64").sum()) for y in years.columns}
    if computed.audits is not None and "audits" not in summary:
        summary["audits"] = dict(getattr(computed.audits, "summary", {}) or {})
    return _json_ready(summary)


def write_summary_json(computed: Computed, path: str | Path) -> Path:
    """Write ``summary.json`` deterministically (sorted keys, 12 significant digits, UTF-8, LF)."""
    path = Path(path)
    text = json.dumps(summary_dict(computed), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    path.write_bytes((text + "\n").encode("utf-8"))
    return path


def _summary_rows(pub: Published) -> list[tuple[str, Any, str]]:
    k = pub.key

    def eur(c: int | None) -> float | None:
        return None if c is None else c / 100

    return [
        ("envelope_eur", eur(k["envelope_cents"]), "eur"),
        ("envelope_cents", k["envelope_cents"], "cents"),
        ("allocated_eur", eur(k["allocated_cents"]), "eur"),
        ("allocated_cents", k["allocated_cents"], "cents"),
        ("unallocated_eur", eur(k["unallocated_cents"]), "eur"),
        ("unallocated_cents", k["unallocated_cents"], "cents"),
        ("n_establishments", k["n_establishments"], "int"),
        ("n_eligible", k["n_eligible"], "int"),
        ("eligible_share", k["eligible_share"], "share"),
        ("induced_spend_eur_over_period", k["induced_spend_eur"], "eur"),
    ]


def write_workbook(computed: Computed, pub: Published, path: str | Path) -> Path:
    """Write ``allocation.xlsx`` from the published tables (see :mod:`cyberbudget.reports.excel`)."""
    from cyberbudget.data.reference import provenance
    from cyberbudget.reports import excel

    labels = {"region": dict(config.REGION_NAMES), "status": plots.STATUS_LABELS["en"],
              "category": plots.CATEGORY_LABELS["en"]}
    return excel.write_workbook(
        path, summary=_summary_rows(pub), breakdowns=pub.breakdowns, years=pub.years,
        parameters=computed.scenario.to_dict(), provenance=provenance(), establishments=pub.establishments,
        marking=pub.marking, title=f"cyberbudget — {pub.name}", labels=labels,
    )


def write_outputs(computed: Computed, folder: str | Path, *, xlsx: bool = True,
                  pub: Published | None = None) -> dict[str, Path]:
    """Write ``allocation.csv``, ``summary.json`` and (``xlsx=True``) ``allocation.xlsx`` into ``folder``.

    Returns
    -------
    dict
        File name → path. Timings are added to ``computed.timings`` (``csv_json``, ``publish``, ``xlsx``).
    """
    folder = Path(folder)
    t0 = time.perf_counter()
    paths = {CSV_NAME: write_allocation_csv(computed.result, folder / CSV_NAME),
             SUMMARY_NAME: write_summary_json(computed, folder / SUMMARY_NAME)}
    t1 = time.perf_counter()
    computed.timings["csv_json"] = t1 - t0
    if xlsx:
        pub = pub or publish(computed)
        t2 = time.perf_counter()
        paths[XLSX_NAME] = write_workbook(computed, pub, folder / XLSX_NAME)
        computed.timings["publish"] = t2 - t1
        computed.timings["xlsx"] = time.perf_counter() - t2
    return paths


# --------------------------------------------------------------------------------------------------------------
# Notebook execution and HTML
# --------------------------------------------------------------------------------------------------------------


def notebook_parameters(computed: Computed, lang: str = "en", dask: str | None = None) -> dict[str, Any]:
    """The parameters a template receives: paths (absolute), the cents the notebook must reproduce and, with
    ``--dask``, the scheduler address (templates that simulate declare ``dask_address``)."""
    params: dict[str, Any] = {
        "scenario_path": str(computed.scenario_path),
        "data_path": str(computed.data_path),
        "lang": lang,
        "expected_allocated_cents": int(np.asarray(computed.result.table["grant_cents"], dtype=np.int64).sum()),
    }
    if dask:
        params["dask_address"] = dask
    return params


def declared_parameters(template: Path) -> set[str]:
    """Names declared in a template's ``parameters`` cell (``name: type = default`` or ``name = default``)."""
    import nbformat

    nb = nbformat.read(template, as_version=4)
    names: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            for line in cell.source.splitlines():
                m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(?::[^=]+)?=", line)
                if m:
                    names.add(m.group(1))
    return names


_SOCKET_DIR: str | None = None


def local_kernel_manager_class() -> Any:
    """A kernel manager whose kernel talks over IPC sockets in a private temporary folder.

    Nothing listens on the network (ipykernel warns about unencrypted TCP otherwise), and the socket files
    never land in the report folder.
    """
    global _SOCKET_DIR
    import atexit

    from jupyter_client.manager import AsyncKernelManager

    if _SOCKET_DIR is None:
        _SOCKET_DIR = tempfile.mkdtemp(prefix="cyberbudget-kernels-")
        atexit.register(shutil.rmtree, _SOCKET_DIR, True)
    socket_dir = _SOCKET_DIR

    class LocalKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", os.path.join(tempfile.mkdtemp(dir=socket_dir), "kernel"))
            super().__init__(**kwargs)

    return LocalKernelManager


def execute_notebook(
    template: str | Path,
    out_path: str | Path,
    parameters: Mapping[str, Any],
    engine: str | None = None,
    kernel_manager_class: Any = None,
    *,
    cwd: str | Path | None = None,
    kernel_name: str = KERNEL_NAME,
    kernel: Any = None,
    **engine_kwargs: Any,
) -> Any:
    """Execute a template with papermill and return the executed notebook.

    Parameters
    ----------
    template : path
        The template ``.ipynb``.
    out_path : path
        Where papermill writes the executed notebook (also on failure).
    parameters : mapping
        Injected after the cell tagged ``parameters``.
    engine : str, optional
        A papermill engine name (e.g. :data:`cyberbudget.reports.kernels.ENGINE_NAME` for warm kernels).
    kernel_manager_class : optional
        Passed to papermill's engine (nbclient) to reuse a custom kernel manager.
    cwd : path, optional
        Working directory of the kernel.
    kernel : cyberbudget.reports.kernels.WarmKernel, optional
        Execute in this already started kernel (batches) instead of starting one.

    Raises
    ------
    ReportError
        A cell failed (the message names the cell and the exception); ``out_path`` holds the notebook.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    kwargs: dict[str, Any] = {
        "parameters": dict(parameters), "kernel_name": kernel_name, "progress_bar": False,
        "log_output": False, "cwd": str(cwd) if cwd is not None else None,
    }
    if engine is not None:
        kwargs["engine_name"] = engine
    if kernel_manager_class is None and engine is None and kernel is None:
        kernel_manager_class = local_kernel_manager_class()
    if kernel_manager_class is not None:
        kwargs["kernel_manager_class"] = kernel_manager_class
    kwargs.update(engine_kwargs)
    try:
        if kernel is not None:
            return kernel.execute(Path(template), out_path, parameters=dict(parameters), cwd=cwd)
        return papermill.execute_notebook(str(template), str(out_path), **kwargs)
    except PapermillExecutionError as exc:
        raise ReportError(
            f"{Path(template).name}: cell {exc.cell_index} ({exc.exec_count}) failed: {exc.ename}: {exc.evalue}"
        ) from exc


_CSS = """
body.jp-Notebook { max-width: 1100px; margin: 0 auto; }
.cb-marking { background: #C00000; color: white; padding: 6px 12px; font-weight: bold; text-align: center; }
.cb-banner { position: sticky; top: 0; z-index: 10; }
.cb-table { border-collapse: collapse; font-size: 12px; }
.cb-table td, .cb-table th { border-bottom: 1px solid #ddd; padding: 2px 8px; }
.jp-RenderedHTMLCommon .cb-table td, .jp-RenderedHTMLCommon .cb-table th { text-align: left !important; vertical-align: top; }
.jp-RenderedHTMLCommon table { font-size: 13px; }
@media print {
  body.jp-Notebook { max-width: none; font-size: 11pt; color: black; }
  .modebar, .modebar-container { display: none !important; }
  .jp-OutputArea-output, .plotly-graph-div, .jp-RenderedHTMLCommon table { break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; }
  .cb-banner { position: fixed; top: 0; left: 0; right: 0; }
  .cb-footer { position: fixed; bottom: 0; left: 0; right: 0; text-align: center; font-size: 9pt; }
  main { margin-top: 2.2em; }
  a { color: black; text-decoration: none; }
}
"""

_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block extra_css %}<style type="text/css">""" + _CSS + """</style>{% endblock extra_css %}
{%- block body_header -%}
{{ super() }}
{%- if resources.cyberbudget_marking -%}
<div class="cb-marking cb-banner">{{ resources.cyberbudget_marking }}</div>
{%- endif -%}
{%- endblock body_header -%}
{% block body_footer %}
{%- if resources.cyberbudget_marking -%}
<div class="cb-marking cb-footer">{{ resources.cyberbudget_marking }}</div>
{%- endif -%}
{{ super() }}
{% endblock body_footer %}
"""
_TEMPLATE_NAME = "cyberbudget_report.html.j2"
_REMOTE = re.compile(
    r"<script\b[^>]*\bsrc=[\"']?(?:https?:)?//[^>]*>\s*</script>|<link\b[^>]*\bhref=[\"']?(?:https?:)?//[^>]*>",
    re.IGNORECASE,
)


def html_exporter() -> Any:
    """An nbconvert HTMLExporter (``lab`` template) that hides code and links nothing from the network.

    require.js, MathJax and mermaid are templated away; build it once and pass it to :func:`export_html` to
    export many notebooks.
    """
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        mathjax_url="",
        require_js_url="",
        theme="light",
    )
    exporter.template_file = _TEMPLATE_NAME
    return exporter


def export_html(nb: Any, path: str | Path, exporter: Any = None, *, marking: str | None = None,
                title: str | None = None) -> Path:
    """Export an executed notebook to a self-contained HTML file.

    Parameters
    ----------
    nb : NotebookNode or path
    path : path
        Output ``.html``.
    exporter : HTMLExporter, optional
        From :func:`html_exporter` (built once and reused in batches).
    marking : str, optional
        Protective marking shown as a banner on screen and on every printed page.
    title : str, optional
        The HTML ``<title>``.

    Raises
    ------
    ReportError
        The HTML would still reference a remote script or stylesheet.
    """
    import nbformat

    if not hasattr(nb, "cells"):
        nb = nbformat.read(str(nb), as_version=4)
    exporter = exporter or html_exporter()
    if title:
        nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb, resources={"cyberbudget_marking": marking or ""})
    body = _REMOTE.sub("", body)
    if _REMOTE.search(body):  # pragma: no cover - the substitution removes every match
        raise ReportError(f"{path}: the HTML still links a remote resource")
    path = Path(path)
    path.write_text(body, encoding="utf-8", newline="\n")
    return path


# --------------------------------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publishable_permissions(folder: Path) -> None:
    """mkdtemp/mkstemp create private (0700/0600) entries; give the report the usual umask permissions."""
    mask = _umask()
    folder.chmod(0o777 & ~mask)
    for p in folder.iterdir():
        if p.is_file():
            p.chmod(0o666 & ~mask)


def _replace_dir(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``, replacing an existing ``dst`` with two renames (never a half folder)."""
    old = None
    if dst.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old-", dir=dst.parent))
        os.replace(dst, old / dst.name)
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _compute_on_dask(address: str, scenario: Any, table: pd.DataFrame, spath: Path, dpath: Path) -> Computed:
    from distributed import Client

    with Client(address, timeout="30s") as client:
        return client.submit(compute_from, scenario, table, spath, dpath, pure=False).result()


def run(
    scenario_path: str | Path,
    data: str | Path | None = None,
    out: str | Path = "reports",
    template: str | Path = config.DEFAULT_TEMPLATE,
    dask: str | None = None,
    *,
    engine: str | None = None,
    exporter: Any = None,
    kernel_manager_class: Any = None,
    kernel: Any = None,
    lang: str = "en",
) -> Path:
    """Run one scenario and write its report folder ``out/<name>/``.

    Parameters
    ----------
    scenario_path : path
        Scenario YAML (or a name in ``scenarios/``).
    data : path, optional
        Establishment table (default: the committed table).
    out : path
        Parent folder of the report folder.
    template : str or path
        Template name in ``notebooks/templates/`` or a notebook path.
    dask : str, optional
        Address of a Dask scheduler: the in-process computation is submitted there.
    engine, exporter, kernel_manager_class, kernel :
        Reuse hooks for batches (papermill engine name, a pre-built :func:`html_exporter`, a kernel manager
        class, a started :class:`cyberbudget.reports.kernels.WarmKernel`).
    lang : {"en", "fr"}
        Number format of the report.

    Returns
    -------
    Path
        ``out/<name>``.

    Raises
    ------
    InputError
        Bad scenario, table or template: raised before anything is written.
    ReportError
        The notebook failed (kept in ``out/<name>.failed/``) or an output could not be written.
    """
    t_start = time.perf_counter()
    template_path = resolve_template(template)
    scenario, table, spath, dpath = load_inputs(scenario_path, data)
    t_loaded = time.perf_counter()
    if dask:
        computed = _compute_on_dask(dask, scenario, table, spath, dpath)
    else:
        computed = compute_from(scenario, table, spath, dpath)
    computed.timings["load"] = t_loaded - t_start
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = scenario.name
    final = out / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=out))
    try:
        pub = publish(computed)
        paths = write_outputs(computed, tmp, pub=pub)
        params = notebook_parameters(computed, lang, dask)
        declared = declared_parameters(template_path)
        if declared:  # pass only what the template declares (papermill warns about the rest)
            params = {k: v for k, v in params.items() if k in declared}
        t0 = time.perf_counter()
        private = None
        try:
            run_params = dict(params)
            if "results_path" in declared:
                # hand the computed results to the notebook through a private file outside the report folder
                private = Path(tempfile.mkdtemp(prefix="cyberbudget-results-"))
                run_params["results_path"] = str(save_results(computed, pub, private / "results.pickle"))
            nb = execute_notebook(template_path, tmp / NOTEBOOK_NAME, run_params, engine=engine,
                                  kernel_manager_class=kernel_manager_class, cwd=tmp, kernel=kernel)
        except ReportError:
            failed = out / f"{name}.failed"
            keep = Path(tempfile.mkdtemp(prefix=f".{name}.failed-", dir=out))
            if (tmp / NOTEBOOK_NAME).exists():
                shutil.copy2(tmp / NOTEBOOK_NAME, keep / NOTEBOOK_NAME)
            _publishable_permissions(keep)
            _replace_dir(keep, failed)
            raise
        finally:
            if private is not None:
                shutil.rmtree(private, ignore_errors=True)
        t1 = time.perf_counter()
        export_html(nb, tmp / HTML_NAME, exporter, marking=pub.marking, title=f"cyberbudget — {name}")
        t2 = time.perf_counter()
        computed.timings.update({"papermill": t1 - t0, "html": t2 - t1})
        computed.timings["total"] = time.perf_counter() - t_start
        inputs = manifest.input_entries(table=dpath, scenario=spath, template=template_path,
                                        extends=getattr(scenario, "extends_chain", None))
        man = manifest.build_manifest(
            name=name, inputs=inputs, parameters=scenario.to_dict(), seed=getattr(scenario, "seed", None),
            notebook_parameters=params, outputs={k: v for k, v in paths.items() if k != XLSX_NAME},
            timings=computed.timings, template=template_path.stem,
        )
        man["dask"] = dask
        manifest.write_manifest(tmp / manifest.MANIFEST_NAME, man)
        _publishable_permissions(tmp)
        _replace_dir(tmp, final)
        stale = out / f"{name}.failed"
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


# --------------------------------------------------------------------------------------------------------------
# verify
# --------------------------------------------------------------------------------------------------------------


@dataclass
class VerifyResult:
    """Outcome of :func:`verify`: ``ok`` when allocation.csv and summary.json are byte-identical."""

    ok: bool
    differences: list[str]
    warnings: list[str]


def _describe_csv(name: str, recorded: bytes, rerun: bytes, limit: int = 3) -> list[str]:
    a, b = recorded.decode("utf-8", "replace").split("\n"), rerun.decode("utf-8", "replace").split("\n")
    out = []
    n_diff = sum(1 for x, y in zip(a, b, strict=False) if x != y) + abs(len(a) - len(b))
    out.append(f"{name}: {n_diff} line(s) differ ({len(a)} recorded vs {len(b)} re-run)")
    shown = 0
    for i, (x, y) in enumerate(zip(a, b, strict=False), start=1):
        if x != y:
            out.append(f"{name}: line {i}: recorded {x[:160]!r}, re-run {y[:160]!r}")
            shown += 1
            if shown >= limit:
                break
    return out


def _json_paths(x: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(x, dict):
        out: dict[str, Any] = {}
        for k, v in x.items():
            out.update(_json_paths(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(x, list):
        out = {}
        for i, v in enumerate(x):
            out.update(_json_paths(v, f"{prefix}[{i}]"))
        return out
    return {prefix: x}


def _describe_json(name: str, recorded: bytes, rerun: bytes, limit: int = 5) -> list[str]:
    try:
        a = _json_paths(json.loads(recorded))
        b = _json_paths(json.loads(rerun))
    except ValueError:
        return _describe_csv(name, recorded, rerun)
    keys = sorted(set(a) | set(b))
    diff = [k for k in keys if a.get(k, "<missing>") != b.get(k, "<missing>")]
    if not diff:
        return [f"{name}: same values, different bytes (formatting)"]
    out = [f"{name}: {len(diff)} key(s) differ"]
    out += [f"{name}: {k}: recorded {a.get(k, '<missing>')!r}, re-run {b.get(k, '<missing>')!r}"
            for k in diff[:limit]]
    return out


def verify(path: str | Path) -> VerifyResult:
    """Re-run a report from its manifest and compare ``allocation.csv`` and ``summary.json`` byte for byte.

    Inputs are located from the manifest (absolute path, else relative to the project root) and their
    SHA-256 checked: a changed input is reported as a difference. Package versions that differ from the
    manifest's are warnings.

    Raises
    ------
    InputError
        No such folder, no manifest, or a recorded input is missing (exit 2).
    """
    folder = Path(path)
    man = manifest.read_manifest(folder)
    differences: list[str] = []
    warnings: list[str] = []
    located: dict[str, Path] = {}
    missing = []
    for entry in man["inputs"]:
        p = manifest.locate_input(entry)
        if p is None:
            missing.append(Problem(f"{folder / manifest.MANIFEST_NAME}: inputs ({entry['role']})",
                                   f"expected the file {entry['path']}, found nothing"))
            continue
        located.setdefault(entry["role"], p)
        now = manifest.sha256_file(p)
        if now != entry["sha256"]:
            message = (f"input changed since the run: {entry['role']} {p} "
                       f"(sha256 {entry['sha256'][:12]}… recorded, {now[:12]}… now)")
            # The template shapes the report, not allocation.csv / summary.json: a warning, not a difference.
            (warnings if entry["role"] == "template" else differences).append(message)
    if missing:
        raise InputError(f"{folder}: inputs recorded in the manifest are missing", missing, source=str(folder))
    now_versions = manifest.package_versions(man["packages"].keys() - {"python"})
    for pkg, was in sorted(man["packages"].items()):
        now = now_versions.get(pkg) if pkg != "python" else manifest.package_versions(())["python"]
        if now != was:
            warnings.append(f"{pkg} {now} installed, the report was made with {was}")
    computed = compute(located["scenario"], located["table"])
    with tempfile.TemporaryDirectory(prefix=".verify-", dir=None) as tmp:
        outputs = write_outputs(computed, tmp, xlsx=False)
        for name, rerun_path in outputs.items():
            recorded_path = folder / name
            rerun = rerun_path.read_bytes()
            if not recorded_path.is_file():
                differences.append(f"{name}: missing from {folder}")
                continue
            recorded = recorded_path.read_bytes()
            if recorded != rerun:
                describe = _describe_json if name.endswith(".json") else _describe_csv
                differences += describe(name, recorded, rerun)
    return VerifyResult(ok=not differences, differences=differences, warnings=warnings)


# --------------------------------------------------------------------------------------------------------------
# Scenario comparison (notebook scenario_comparison)
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Comparison:
    """Published tables of several scenarios on the same table, for side-by-side figures."""

    names: list[str]
    groups: dict[str, pd.DataFrame]
    totals: pd.DataFrame
    parameters: pd.DataFrame
    diff_text: str


def _flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(_flat(v, key))
        else:
            out[key] = v
    return out


def comparison_tables(scenario_paths: Sequence[str | Path] | Iterable[str | Path],
                      data: str | Path | None = None, min_cell: int = config.MIN_CELL_SIZE) -> Comparison:
    """Allocate several scenarios on one table and build their published (suppressed) breakdowns.

    Returns
    -------
    Comparison
        ``groups[by]``: long ``scenario, <by>, n_establishments, n_eligible, grant_eur`` (suppressed cells
        missing); ``totals``: one row per scenario (``allocated_eur``, ``unallocated_eur``, ``n_eligible``,
        ``n_establishments``, suppressed figures missing); ``parameters``: the parameters that differ;
        ``diff_text``: :func:`cyberbudget.policy.diff.diff` of the first two scenarios when available.
    """
    computed = [compute(p, data) for p in scenario_paths]
    if not computed:
        raise OptionError("scenario_paths: expected at least one scenario, found none")
    names = [c.scenario.name for c in computed]
    groups: dict[str, pd.DataFrame] = {}
    for by in ("region", "status", "category"):
        frames = []
        for c in computed:
            rows = disclosure.breakdown(c.result.table, by, min_cell).rows
            frames.append(rows[[by, "n_establishments", "n_eligible", "grant_eur"]].assign(scenario=c.scenario.name))
        groups[by] = pd.concat(frames, ignore_index=True)[["scenario", by, "n_establishments", "n_eligible",
                                                           "grant_eur"]]
    totals = []
    for c in computed:
        k = key_figures(c, min_cell)
        totals.append({
            "scenario": c.scenario.name, "rule": str(c.scenario.allocation.rule),
            "allocated_eur": None if k["allocated_cents"] is None else k["allocated_cents"] / 100,
            "unallocated_eur": None if k["unallocated_cents"] is None else k["unallocated_cents"] / 100,
            "n_eligible": k["n_eligible"], "n_establishments": k["n_establishments"],
            "eligible_share": k["eligible_share"],
        })
    flats = [_flat(c.scenario.to_dict()) for c in computed]
    keys = sorted({k for f in flats for k in f} - {"name", "description"})
    rows = [{"parameter": k, **{n: f.get(k) for n, f in zip(names, flats, strict=True)}}
            for k in keys if len({json.dumps(f.get(k), sort_keys=True, default=str) for f in flats}) > 1]
    params = pd.DataFrame(rows, columns=["parameter", *names])
    diff_text = ""
    if len(computed) >= 2:
        try:
            from cyberbudget.policy import diff as compare
        except ImportError:
            compare = None
        if compare is not None and computed[0].scenario.disclosure == "establishment":
            diff_text = compare.diff(computed[0].scenario, computed[1].scenario, computed[0].table).to_text()
    return Comparison(names=names, groups=groups, totals=pd.DataFrame(totals), parameters=params,
                      diff_text=diff_text)


def compare(
    scenario_paths: Sequence[str | Path],
    data: str | Path | None = None,
    out: str | Path = "reports",
    *,
    lang: str = "en",
    exporter: Any = None,
) -> Path:
    """Execute the ``scenario_comparison`` template for several scenarios and write its report.

    Writes ``out/compare-<a>-vs-<b>…/`` with ``report.ipynb`` (really executed) and ``report.html``
    (self-contained, aggregated under the confidentiality rules), through a temporary folder renamed at the end.

    Parameters
    ----------
    scenario_paths : sequence of path
        Two or more scenario files; the first is the reference.
    data : path, optional
        Establishment table (default: the committed table).
    out : path
        Parent folder of the comparison folder.

    Returns
    -------
    Path
        The comparison folder.

    Raises
    ------
    InputError
        Fewer than two scenarios, a bad scenario or a bad table: raised before anything is written.
    ReportError
        The notebook failed.
    """
    from cyberbudget.policy.scenario import load_scenario

    if len(scenario_paths) < 2:
        raise OptionError(f"compare: expected at least two scenarios, found {len(scenario_paths)}")
    spaths = [resolve_scenario_path(p) for p in scenario_paths]
    names = [load_scenario(p).name for p in spaths]
    template = resolve_template("scenario_comparison")
    _, _, _, dpath = load_inputs(scenario_paths[0], data)  # validates the table before anything is written
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    final = out / ("compare-" + "-vs-".join(names))
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=out))
    try:
        params = {"scenario_paths": [str(Path(p).absolute()) for p in spaths],
                  "data_path": str(dpath), "lang": lang}
        nb = execute_notebook(template, tmp / NOTEBOOK_NAME, params, cwd=tmp)
        export_html(nb, tmp / HTML_NAME, exporter, title=f"cyberbudget — {' vs '.join(names)}")
        _publishable_permissions(tmp)
        _replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
