"""The deterministic files of a report: ``allocation.csv``, ``summary.json``, and the workbook.

``allocation.csv`` and ``summary.json`` are internal and complete (DESIGN.md, "Command line"): the same inputs and
seed give the same bytes on every machine with the lock file's packages, which is what ``verify`` checks.

- ``allocation.csv``: one row per establishment sorted by ``finess``; columns ``finess, eligible, grant_cents,
  grant_eur, reason``, then ``unit`` when the allocation has funding units, then every other column of the
  allocation table in its order, then ``grant_cents_<year>`` per year; UTF-8, ``,``, LF, booleans
  ``true``/``false``, ``grant_eur`` with two decimals, floats as their shortest round-trip text; a text cell a
  spreadsheet would evaluate (leading ``=``, ``+``, ``-``, ``@``, tab, carriage return: a name from the table can)
  starts with ``'`` (:mod:`cyberbudget.reports.spreadsheets`), deterministically.
- ``summary.json``: the allocation summary plus the audit plan's; sorted keys, floats to 12 significant digits,
  UTF-8, LF.
- ``allocation.xlsx`` (published, aggregated): written by :mod:`cyberbudget.reports.excel` from the
  :class:`~cyberbudget.reports.published.Published` tables.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cyberbudget.reports.computed import Computed
from cyberbudget.reports.inputs import PathArg
from cyberbudget.reports.published import Published, by_year_frame, publish
from cyberbudget.reports.spreadsheets import neutralise_text_columns

if TYPE_CHECKING:
    from cyberbudget.policy import AllocationResult

__all__ = [
    "CSV_LEADING", "CSV_NAME", "SUMMARY_NAME", "XLSX_NAME", "allocation_frame", "summary_dict",
    "write_allocation_csv", "write_outputs", "write_summary_json", "write_workbook",
]

CSV_NAME: str = "allocation.csv"
SUMMARY_NAME: str = "summary.json"
XLSX_NAME: str = "allocation.xlsx"
#: Columns that lead ``allocation.csv``, in this order (DESIGN.md); ``unit`` follows when present.
CSV_LEADING: tuple[str, ...] = ("finess", "eligible", "grant_cents", "grant_eur", "reason")
#: The funding-unit column of an allocation under ``allocation.unit`` (written right after ``reason``).
UNIT_COLUMN: str = "unit"


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
        if isinstance(x, bool | np.bool_):
            return "true" if x else "false"
        if isinstance(x, float | np.floating):
            return repr(float(x))
        if isinstance(x, Fraction):
            return f"{x.numerator}/{x.denominator}" if x.denominator != 1 else str(x.numerator)
        return str(x)

    return pd.Series([one(x) for x in series], index=series.index, dtype=object)


def allocation_frame(result: AllocationResult) -> pd.DataFrame:
    """``allocation.csv`` as text columns (see the module docstring for the order)."""
    t = result.table.sort_values("finess", kind="stable").reset_index(drop=True)
    cents = np.asarray(t["grant_cents"], dtype=np.int64)
    leading = CSV_LEADING + ((UNIT_COLUMN,) if UNIT_COLUMN in t.columns else ())
    out = pd.DataFrame({
        "finess": t["finess"].astype(str).astype(object),
        "eligible": _text_column(t["eligible"].astype(bool)),
        "grant_cents": pd.Series([str(int(c)) for c in cents], dtype=object),
        "grant_eur": pd.Series(_cents_text(cents), dtype=object),
        "reason": _text_column(t["reason"]),
    })
    for col in leading[len(CSV_LEADING):] + tuple(c for c in t.columns if c not in leading):
        out[col] = _text_column(t[col])
    # text columns (names, reasons, codes): nothing a spreadsheet would evaluate; numbers are untouched
    text = [c for c in out.columns if c in t.columns and pd.api.types.is_string_dtype(t[c])]
    out = neutralise_text_columns(out, text)
    years = by_year_frame(result).reindex(t["finess"].astype(str).tolist())
    for year in years.columns:
        out[f"grant_cents_{year}"] = [str(int(v)) for v in years[year].to_numpy(np.int64)]
    return out


def write_allocation_csv(result: AllocationResult, path: PathArg) -> Path:
    """Write ``allocation.csv`` (UTF-8, ``,``, LF, ``true``/``false``, ``grant_eur`` with 2 decimals, sorted)."""
    path = Path(path)
    text = allocation_frame(result).to_csv(index=False, lineterminator="\n")
    path.write_bytes(text.encode("utf-8"))
    return path


def _json_ready(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _json_ready(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_ready(v) for v in x]
    if isinstance(x, pd.DataFrame):
        return _json_ready(x.to_dict(orient="records"))
    if isinstance(x, pd.Series):
        return _json_ready(x.to_dict())
    if isinstance(x, np.ndarray):
        return _json_ready(x.tolist())
    if x is None or x is pd.NA:
        return None
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        v = float(x)
        if math.isnan(v) or math.isinf(v):
            return None
        return float(f"{v:.12g}")
    if isinstance(x, Decimal | Fraction):
        return str(x)
    if isinstance(x, Path):
        return x.as_posix()
    return x if isinstance(x, str) else str(x)


def summary_dict(computed: Computed) -> dict[str, Any]:
    """``summary.json``: the allocation summary (it names the scenario and gives the year totals) and, when the
    scenario has an audit envelope, the audit plan's summary under ``audits``."""
    summary = dict(computed.result.summary)
    if computed.audits is not None:
        summary["audits"] = dict(computed.audits.summary)
    return _json_ready(summary)


def write_summary_json(computed: Computed, path: PathArg) -> Path:
    """Write ``summary.json`` deterministically (sorted keys, 12 significant digits, UTF-8, LF)."""
    path = Path(path)
    text = json.dumps(summary_dict(computed), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    path.write_bytes((text + "\n").encode("utf-8"))
    return path


def _summary_rows(pub: Published, lang: str = "fr") -> list[tuple[str, Any, str]]:
    from cyberbudget.reports.i18n import t

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
        *([("unit", t(f"kf.unit.{k['unit']}", lang), "text"), ("n_units", k["n_units"], "int"),
           ("n_units_eligible", k["n_units_eligible"], "int")]
          if k.get("unit", "establishment") != "establishment" else []),
        ("eligible_share", k["eligible_share"], "share"),
        ("induced_spend_eur_over_period", k["induced_spend_eur"], "eur"),
    ]


def write_workbook(computed: Computed, pub: Published, path: PathArg, lang: str = "fr") -> Path:
    """Write ``allocation.xlsx`` from the published tables, in ``lang`` (see :mod:`cyberbudget.reports.excel`)."""
    from cyberbudget.data.reference import provenance
    from cyberbudget.reports import excel
    from cyberbudget.reports.provenance_line import provenance_of

    return excel.write_workbook(
        path, summary=_summary_rows(pub, lang), breakdowns=pub.breakdowns, years=pub.years,
        parameters=computed.scenario.to_dict(), provenance=provenance(), establishments=pub.establishments,
        marking=pub.marking, title=f"cyberbudget — {pub.name}", data=pub.provenance or provenance_of(computed),
        lang=lang, names=pub.names,
    )


def write_outputs(computed: Computed, folder: PathArg, *, xlsx: bool = True,
                  pub: Published | None = None, lang: str = "fr") -> dict[str, Path]:
    """Write ``allocation.csv``, ``summary.json`` and (``xlsx=True``) ``allocation.xlsx`` into ``folder``.

    Parameters
    ----------
    computed : Computed
    folder : path
        An existing folder.
    xlsx : bool
        Also write the workbook (``verify`` does not).
    pub : Published, optional
        The published tables if already built (default: built here when ``xlsx``).
    lang : {"fr", "en"}
        Language of the workbook (``allocation.csv`` and ``summary.json`` are internal and the same in any).

    Returns
    -------
    dict of str to Path
        File name → path. Timings are added to ``computed.timings`` (``csv_json``, ``xlsx``, and ``publish``
        when the published tables are built here).
    """
    folder = Path(folder)
    t0 = time.perf_counter()
    paths = {CSV_NAME: write_allocation_csv(computed.result, folder / CSV_NAME),
             SUMMARY_NAME: write_summary_json(computed, folder / SUMMARY_NAME)}
    t1 = time.perf_counter()
    computed.timings["csv_json"] = t1 - t0
    if xlsx:
        if pub is None:
            pub = publish(computed)
            computed.timings["publish"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        paths[XLSX_NAME] = write_workbook(computed, pub, folder / XLSX_NAME, lang)
        computed.timings["xlsx"] = time.perf_counter() - t2
    return paths
