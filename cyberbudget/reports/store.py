"""The results store of a batch: every scenario's figures in two tidy tables, and :func:`load_batch`.

``cyberbudget batch`` writes, beside its report folders (DESIGN.md, "Command line"):

- ``DIR/results.parquet`` — one row per scenario × establishment, columns :data:`RESULTS_COLUMNS`:
  ``scenario`` (the scenario's name), ``finess``, ``unit`` (the funding-unit key of ``allocation.unit``; the
  ``finess`` itself when the report has no ``unit`` column), ``region``, ``status``, ``category``, ``ght`` (empty
  outside any GHT), ``eligible`` (bool), ``grant_cents`` (int64), ``cyber_share`` (float64, missing without an IT
  budget), ``reason``; scenarios in the batch's order, establishments by ``finess``;
- ``DIR/summary.parquet`` — one row per scenario × indicator, long format, columns :data:`SUMMARY_COLUMNS`:
  ``scenario``, ``group`` (empty for a national figure; ``region``, ``status``, ``category``, ``ght``, ``year``
  for a breakdown; ``audits.region``, ``units.status``, ``risk.region``, … for the breakdowns of a section),
  ``key`` (the group's code, empty for a national figure), ``indicator`` (the figure's name, dotted inside a
  section: ``allocated_cents``, ``uptake.n_complied``, ``risk.avoided_eur``) and ``value`` (float64; cents are
  whole numbers, exact below 2⁵³). It holds every number of each report's ``summary.json`` (booleans as 0/1) and
  the risk model's figures (:func:`cyberbudget.risk.assess`, prefixed ``risk.``: expected losses before and after
  the grants and the avoided loss, euros a year);
- ``results.csv`` and ``summary.csv``, their twins for spreadsheets: UTF-8, ``,``, LF, booleans ``true``/``false``,
  whole numbers without decimals, other floats as their shortest round-trip text.

The four files are internal working files, complete like ``allocation.csv`` (DESIGN.md, "Confidentiality"): the
published comparison is :mod:`cyberbudget.reports.batch_index`'s. They are built from the report folders of the
scenarios that finished (``ok``) or were skipped by ``--resume`` (their existing folders), so a resumed batch's
store is complete; a failed scenario has no rows.

Determinism: the same reports give the same bytes. Rows are in a fixed order, the Arrow schema is fixed
(:data:`RESULTS_SCHEMA`, :data:`SUMMARY_SCHEMA`) with no pandas metadata, and the Parquet writer's options are fixed
(:data:`PARQUET_OPTIONS`: format version, compression and level, dictionary encoding, statistics, one row group
up to a million rows); the only other metadata is the writer's name and version, fixed by the lock file. Each
file is written whole or not at all (:func:`cyberbudget.reports.folders.write_bytes_atomic`).

Examples
--------
>>> flatten_summary({"allocated_cents": 10, "by_status": {"public": {"n_eligible": 2}}, "rule": "gap"})
[('', '', 'allocated_cents', 10.0), ('status', 'public', 'n_eligible', 2.0)]
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cyberbudget.errors import InputError
from cyberbudget.reports.folders import write_bytes_atomic

__all__ = [
    "PARQUET_OPTIONS", "RESULTS_COLUMNS", "RESULTS_CSV", "RESULTS_NAME", "RESULTS_SCHEMA", "SUMMARY_COLUMNS",
    "SUMMARY_CSV", "SUMMARY_NAME", "SUMMARY_SCHEMA", "BatchTables", "ScenarioReport", "add_risk", "csv_bytes",
    "flatten_summary", "load_batch", "parquet_bytes", "read_report", "results_frame", "summary_frame",
    "write_store",
]

RESULTS_NAME: str = "results.parquet"
SUMMARY_NAME: str = "summary.parquet"
RESULTS_CSV: str = "results.csv"
SUMMARY_CSV: str = "summary.csv"
#: Columns of ``results.parquet`` in order.
RESULTS_COLUMNS: tuple[str, ...] = (
    "scenario", "finess", "unit", "region", "status", "category", "ght", "eligible", "grant_cents", "cyber_share",
    "reason",
)
#: Columns of ``summary.parquet`` in order.
SUMMARY_COLUMNS: tuple[str, ...] = ("scenario", "group", "key", "indicator", "value")
#: Options of every Parquet file of the store (fixed: they decide the bytes).
PARQUET_OPTIONS: dict[str, Any] = {
    "version": "2.6", "compression": "zstd", "compression_level": 3, "use_dictionary": True,
    "write_statistics": True, "row_group_size": 1_000_000, "data_page_size": 1 << 20,
}
#: Sections of the risk model's summary left out of ``summary.parquet`` (its inputs, not its results).
_RISK_SKIPPED: tuple[str, ...] = ("parameters",)
#: Columns of ``allocation.csv`` the store and the comparison read, with their types.
_INTS = ("grant_cents", "beds", "places", "had_places")
_FLOATS = ("it_budget_eur", "cyber_spend_eur", "cyber_share", "induced_spend_eur", "cyber_spend_before_eur")
_BOOLS = ("eligible", "medico_social", "ose")
#: Columns of the establishment table joined to a report by :func:`add_risk`, with their default.
_FROM_TABLE: dict[str, Any] = {"had_places": 0, "medico_social": False, "ght_name": ""}


#: Arrow schema of ``results.parquet``.
RESULTS_SCHEMA: pa.Schema = pa.schema([
    ("scenario", pa.string()), ("finess", pa.string()), ("unit", pa.string()), ("region", pa.string()),
    ("status", pa.string()), ("category", pa.string()), ("ght", pa.string()), ("eligible", pa.bool_()),
    ("grant_cents", pa.int64()), ("cyber_share", pa.float64()), ("reason", pa.string()),
])
#: Arrow schema of ``summary.parquet``.
SUMMARY_SCHEMA: pa.Schema = pa.schema([
    ("scenario", pa.string()), ("group", pa.string()), ("key", pa.string()), ("indicator", pa.string()),
    ("value", pa.float64()),
])


# --------------------------------------------------------------------------------------------------------------
# One report folder
# --------------------------------------------------------------------------------------------------------------


@dataclass
class ScenarioReport:
    """What the store and the comparison need from one finished report folder.

    Attributes
    ----------
    name : str
        The scenario's name (the folder's name).
    folder : Path
    allocation : DataFrame
        ``allocation.csv``, typed: ``eligible`` bool, ``grant_cents`` int64, budgets and shares float64, the
        rest text; a ``unit`` column always (the ``finess`` when the report has none).
    summary : dict
        ``summary.json``.
    parameters : dict
        The resolved scenario recorded in ``manifest.json`` (empty when the manifest has none).
    risk : dict or None
        :func:`cyberbudget.risk.assess`'s summary (None until :func:`add_risk` ran).
    avoided_eur : ndarray or None
        The avoided loss of each establishment, euros a year, in ``allocation``'s order.
    """

    name: str
    folder: Path
    allocation: pd.DataFrame
    summary: dict[str, Any]
    parameters: dict[str, Any]
    risk: dict[str, Any] | None = None
    avoided_eur: np.ndarray | None = None

    @property
    def description(self) -> str:
        """The scenario's ``description`` (empty when not recorded)."""
        return str(self.parameters.get("description") or "")

    @property
    def rule(self) -> str:
        """``allocation.rule``."""
        return str(self.summary.get("rule") or (self.parameters.get("allocation") or {}).get("rule") or "")

    @property
    def unit_kind(self) -> str:
        """``allocation.unit``: ``establishment`` (the default), ``legal_entity`` or ``ght``."""
        units = self.summary.get("units")
        if isinstance(units, Mapping) and units.get("unit"):
            return str(units["unit"])
        return str((self.parameters.get("allocation") or {}).get("unit") or "establishment")


def _typed_allocation(frame: pd.DataFrame, source: Path) -> pd.DataFrame:
    missing = [c for c in ("finess", "eligible", "grant_cents") if c not in frame.columns]
    if missing:
        raise InputError(f"{source}: column {missing[0]}: missing (expected an allocation.csv written by "
                         "cyberbudget run)", source=str(source))
    out = frame.copy()
    for col in _BOOLS:
        if col in out.columns:
            out[col] = out[col].eq("true")
    for col in _INTS:
        if col in out.columns:
            out[col] = pd.to_numeric(out[col].replace("", "0"), errors="raise").astype("int64")
    for col in _FLOATS:
        if col in out.columns:
            out[col] = pd.to_numeric(out[col].replace("", "nan"), errors="raise").astype("float64")
    if "unit" not in out.columns:
        out["unit"] = out["finess"]
    for col in ("region", "status", "category", "ght"):
        if col not in out.columns:
            out[col] = ""
    return out


def read_report(folder: str | os.PathLike[str]) -> ScenarioReport:
    """Read ``allocation.csv``, ``summary.json`` and ``manifest.json`` of one report folder.

    Raises
    ------
    InputError
        A file is missing or unreadable (the message names it).
    """
    folder = Path(folder)
    path = folder / "allocation.csv"
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        allocation = _typed_allocation(frame, path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{path}: cannot read the allocation: {exc}", source=str(path)) from exc
    summary = _read_json(folder / "summary.json")
    manifest_path = folder / "manifest.json"
    parameters = _read_json(manifest_path).get("parameters", {}) if manifest_path.is_file() else {}
    name = str(summary.get("scenario") or folder.name)
    return ScenarioReport(name=name, folder=folder, allocation=allocation, summary=summary,
                          parameters=dict(parameters or {}))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}", source=str(path)) from exc
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a JSON object, found {type(value).__name__}", source=str(path))
    return value


def add_risk(report: ScenarioReport, table: pd.DataFrame | None = None) -> ScenarioReport:
    """Compute the report's expected losses and avoided loss with :func:`cyberbudget.risk.assess`.

    Parameters
    ----------
    report : ScenarioReport
    table : DataFrame, optional
        The establishment table the batch ran on: the columns ``allocation.csv`` does not carry that the risk
        model reads (``had_places``, ``medico_social``) or the comparison shows (``ght_name``) are joined from it
        by ``finess``, so the figures are those of the run.

    Returns
    -------
    ScenarioReport
        The same object, with ``risk`` and ``avoided_eur`` set (and those columns added to ``allocation``).
    """
    from cyberbudget.policy.scenario import load_scenario
    from cyberbudget.risk import assess

    if table is not None:
        extra = [c for c in _FROM_TABLE if c in table.columns and c not in report.allocation.columns]
        if extra:
            joined = report.allocation.join(table.set_index("finess")[extra], on="finess")
            for col in extra:
                default = _FROM_TABLE[col]
                joined[col] = joined[col].where(joined[col].notna(), default).astype(type(default))
            report.allocation = joined
    scenario = load_scenario(report.parameters) if report.parameters else None
    risk = assess(report.allocation, scenario)
    report.risk = risk.summary
    avoided = risk.table.set_index("finess")["avoided_eur"]
    report.avoided_eur = avoided.reindex(report.allocation["finess"]).to_numpy(dtype=float)
    return report


# --------------------------------------------------------------------------------------------------------------
# The two tables
# --------------------------------------------------------------------------------------------------------------


def results_frame(reports: Sequence[ScenarioReport]) -> pd.DataFrame:
    """``results.parquet`` as a DataFrame (see the module docstring)."""
    parts = []
    for r in reports:
        a = r.allocation.sort_values("finess", kind="stable")
        parts.append(pd.DataFrame({
            "scenario": r.name,
            "finess": a["finess"].astype(str).to_numpy(),
            "unit": a["unit"].astype(str).to_numpy(),
            "region": a["region"].astype(str).to_numpy(),
            "status": a["status"].astype(str).to_numpy(),
            "category": a["category"].astype(str).to_numpy(),
            "ght": a["ght"].astype(str).to_numpy(),
            "eligible": a["eligible"].to_numpy(dtype=bool),
            "grant_cents": a["grant_cents"].to_numpy(dtype=np.int64),
            "cyber_share": (a["cyber_share"].to_numpy(dtype=float) if "cyber_share" in a.columns
                            else np.full(len(a), np.nan)),
            "reason": a["reason"].astype(str).to_numpy() if "reason" in a.columns else "",
        }))
    if not parts:
        return _empty(RESULTS_COLUMNS, {"eligible": bool, "grant_cents": "int64", "cyber_share": "float64"})
    return pd.concat(parts, ignore_index=True)[list(RESULTS_COLUMNS)]


def _empty(columns: Iterable[str], dtypes: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=dtypes.get(c, str)) for c in columns})


def _number(value: Any) -> float | None:
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float | np.integer | np.floating) and math.isfinite(float(value)):
        return float(value)
    return None


def flatten_summary(summary: Mapping[str, Any], prefix: str = "", group: str = "",
                    key: str = "") -> list[tuple[str, str, str, float]]:
    """Every number of a summary as ``(group, key, indicator, value)`` rows (see the module docstring).

    A mapping named ``by_<x>`` holds groups: its entries become rows of group ``<x>`` (prefixed by the section,
    ``audits.region``) keyed by the entry's name; ``year_totals_cents`` becomes group ``year``, indicator
    ``grant_cents``. Text, lists and missing values are left out; booleans count 0 or 1.
    """
    rows: list[tuple[str, str, str, float]] = []
    for name in sorted(summary):
        value = summary[name]
        path = f"{prefix}.{name}" if prefix else str(name)
        if isinstance(value, Mapping):
            if group == "" and str(name).startswith("by_"):
                section = f"{prefix}." if prefix else ""
                for member in sorted(value):
                    if isinstance(value[member], Mapping):
                        rows += flatten_summary(value[member], "", f"{section}{str(name)[3:]}", str(member))
            elif group == "" and name == "year_totals_cents" and not prefix:
                rows += [("year", str(year), "grant_cents", float(v)) for year, v in sorted(value.items())
                         if _number(v) is not None]
            else:
                rows += flatten_summary(value, path, group, key)
            continue
        number = _number(value)
        if number is not None:
            rows.append((group, key, path, number))
    return rows


def summary_frame(reports: Sequence[ScenarioReport]) -> pd.DataFrame:
    """``summary.parquet`` as a DataFrame: ``summary.json``'s numbers, then the risk model's (``risk.``)."""
    rows: list[tuple[str, str, str, str, float]] = []
    for r in reports:
        mine = flatten_summary(r.summary)
        if r.risk is not None:
            risk = {k: v for k, v in r.risk.items() if k not in _RISK_SKIPPED}
            mine += [(f"risk.{g}" if g else g, k, f"risk.{i}" if not g else i, v)
                     for g, k, i, v in flatten_summary(risk)]
        mine.sort(key=lambda row: (row[0], row[1], row[2]))
        rows += [(r.name, *row) for row in mine]
    if not rows:
        return _empty(SUMMARY_COLUMNS, {"value": "float64"})
    frame = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    frame["value"] = frame["value"].astype("float64")
    return frame


# --------------------------------------------------------------------------------------------------------------
# Writing, deterministically
# --------------------------------------------------------------------------------------------------------------


def parquet_bytes(frame: pd.DataFrame, schema: Any) -> bytes:
    """``frame`` as Parquet bytes with the fixed schema and :data:`PARQUET_OPTIONS` (no pandas metadata)."""
    columns = {}
    for f in schema:
        values = frame[f.name]
        if pa.types.is_string(f.type):
            columns[f.name] = pa.array(values.astype(str).tolist(), type=f.type)
        else:
            columns[f.name] = pa.array(values.to_numpy(), type=f.type, from_pandas=True)
    table = pa.Table.from_pydict(columns, schema=schema).replace_schema_metadata(None)
    sink = io.BytesIO()
    pq.write_table(table, sink, **PARQUET_OPTIONS)
    return sink.getvalue()


def _csv_cell(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return ""
        return str(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)
    return str(value)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as CSV: UTF-8, ``,``, LF, ``true``/``false``, whole numbers without decimals."""
    text = pd.DataFrame({c: [_csv_cell(v) for v in frame[c].tolist()] for c in frame.columns},
                        columns=frame.columns).to_csv(index=False, lineterminator="\n")
    return text.encode("utf-8")


def write_store(out: str | os.PathLike[str], reports: Sequence[ScenarioReport]) -> dict[str, Path]:
    """Write ``results.parquet``, ``summary.parquet``, ``results.csv`` and ``summary.csv`` into ``out``.

    Parameters
    ----------
    out : path
        The batch folder ``DIR``.
    reports : sequence of ScenarioReport
        The finished reports, in the batch's order (:func:`add_risk` already applied for the risk figures).

    Returns
    -------
    dict of str to Path
        File name → path.
    """
    out = Path(out)
    results = results_frame(reports)
    summary = summary_frame(reports)
    return {
        RESULTS_NAME: write_bytes_atomic(out / RESULTS_NAME, parquet_bytes(results, RESULTS_SCHEMA)),
        SUMMARY_NAME: write_bytes_atomic(out / SUMMARY_NAME, parquet_bytes(summary, SUMMARY_SCHEMA)),
        RESULTS_CSV: write_bytes_atomic(out / RESULTS_CSV, csv_bytes(results)),
        SUMMARY_CSV: write_bytes_atomic(out / SUMMARY_CSV, csv_bytes(summary)),
    }


# --------------------------------------------------------------------------------------------------------------
# Reading a batch back
# --------------------------------------------------------------------------------------------------------------


@dataclass
class BatchTables:
    """The tidy tables of a batch folder (:func:`load_batch`).

    Attributes
    ----------
    folder : Path
        The batch folder ``DIR``.
    results : DataFrame
        ``results.parquet``: one row per scenario × establishment (:data:`RESULTS_COLUMNS`).
    summary : DataFrame
        ``summary.parquet``: one row per scenario × indicator (:data:`SUMMARY_COLUMNS`).
    outcomes : DataFrame
        One row per scenario of ``batch.json``: ``name, scenario (the file given), status, duration_s, output,
        error`` (the failure's message, empty otherwise).
    record : dict
        ``batch.json`` as written.
    """

    folder: Path
    results: pd.DataFrame
    summary: pd.DataFrame
    outcomes: pd.DataFrame
    record: dict[str, Any]

    def indicator(self, name: str, group: str = "") -> pd.DataFrame:
        """One indicator of every scenario: ``scenario, key, value`` (``group`` empty: the national figure)."""
        s = self.summary
        rows = s[(s["indicator"] == name) & (s["group"] == group)]
        return rows[["scenario", "key", "value"]].reset_index(drop=True)


def _read_parquet(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{path}: not found (expected a batch folder written by cyberbudget batch: "
                         f"{RESULTS_NAME}, {SUMMARY_NAME}, batch.json)", source=str(path))
    try:
        frame = pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise InputError(f"{path}: cannot read it as Parquet: {exc}", source=str(path)) from exc
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: column {missing[0]}: missing (expected columns {', '.join(columns)})",
                         source=str(path))
    return frame[list(columns)]


def load_batch(folder: str | os.PathLike[str]) -> BatchTables:
    """The tidy tables of a batch folder written by ``cyberbudget batch``.

    Parameters
    ----------
    folder : path
        The batch folder ``DIR`` (``results.parquet``, ``summary.parquet``, ``batch.json``).

    Returns
    -------
    BatchTables
        ``results``, ``summary``, ``outcomes`` and the ``batch.json`` record.

    Raises
    ------
    InputError
        ``folder`` is not a batch folder (not a folder, a file missing, unreadable, or without the expected
        columns): the message names the file and what was expected.

    Examples
    --------
    >>> load_batch("no/such/folder")
    Traceback (most recent call last):
    ...
    cyberbudget.errors.InputError: no/such/folder: not a folder (expected a batch folder written by cyberbudget batch)
    """
    path = Path(folder)
    if not path.is_dir():
        raise InputError(f"{folder}: not a folder (expected a batch folder written by cyberbudget batch)",
                         source=str(folder))
    record_path = path / "batch.json"
    if not record_path.is_file():
        raise InputError(f"{record_path}: not found (expected a batch folder written by cyberbudget batch)",
                         source=str(record_path))
    record = _read_json(record_path)
    scenarios = record.get("scenarios")
    if not isinstance(scenarios, list):
        raise InputError(f"{record_path}: key scenarios: missing (expected the list of the batch's scenarios)",
                         source=str(record_path))
    results = _read_parquet(path / RESULTS_NAME, RESULTS_COLUMNS)
    summary = _read_parquet(path / SUMMARY_NAME, SUMMARY_COLUMNS)
    outcomes = pd.DataFrame({
        "name": [str(s.get("name", "")) for s in scenarios],
        "scenario": [str(s.get("scenario", "")) for s in scenarios],
        "status": [str(s.get("status", "")) for s in scenarios],
        "duration_s": [float(s.get("duration_s") or 0.0) for s in scenarios],
        "output": [str(s.get("output") or "") for s in scenarios],
        "error": [str((s.get("error") or {}).get("message", "")) for s in scenarios],
    })
    return BatchTables(folder=path, results=results, summary=summary, outcomes=outcomes, record=record)
