"""``cyberbudget notices``: one letter per recipient of a run's grants (DESIGN.md, "Command line").

:func:`write_notices` reads a report folder ``DIR/NAME`` written by ``cyberbudget run``:

1. **confidentiality first** — a notice names one recipient and its grant: it is written only when the run was
   under ``disclosure: establishment`` or with ``confidential=True`` (``--confidential``); otherwise
   :class:`~cyberbudget.errors.OptionError` (exit 2) before anything is read or written;
2. the manifest's inputs (the table, its overrides file if any, and the scenario, checked against their recorded
   SHA-256) are loaded again and allocated, and the re-run must give ``allocation.csv``'s cents, establishment by establishment: the
   money of every notice is ``allocation.csv``'s, the re-run gives the names, budgets, the corridor and how each
   amount was computed;
3. the establishments are grouped by the unit asked (default: the run's ``allocation.unit``;
   :mod:`cyberbudget.reports.recipients`): a legal entity's notice sums its sites, a GHT's its public members;
4. each recipient gets ``notices/<key>.html`` (and ``<key>.pdf`` with ``pdf``): its grant, its split by year,
   how it was computed in plain words (its budgets and its own cyber share, the corridor, the rule, the exact
   amount and the rounding, the split among the members of its application), and — when an application is not
   eligible for want of cyber spending — how far it is from the threshold (the extra annual spend it would
   need); then the conditions of the programme. Every page is marked "Diffusion restreinte" (screen banner,
   the printed page's top and bottom, the PDF's header and footer). No published page links to them.
5. ``notices/index.csv`` (UTF-8, ``,``, LF): one row per notice — ``key, name, grant_cents``, then
   :data:`INDEX_COLUMNS`, then ``grant_cents_<year>``; its ``grant_cents`` sum to ``allocation.csv``'s to the
   cent (every recipient when ``only`` is not given). A name that a spreadsheet would run as a formula (leading
   ``=``, ``+``, ``-``, ``@``) is written with a leading ``'``.

The ``notices/`` folder is written through :func:`~cyberbudget.reports.folders.atomic_folder`, under the report
folder's lock (:func:`~cyberbudget.reports.locks.output_lock`: a run replacing the report meanwhile, or other
notices being written, exit 2): it appears whole or not at all (a previous one is replaced). Every string that
comes from an input is escaped in the HTML (:mod:`cyberbudget.reports.escaping`), and every notice carries the
Content-Security-Policy that lets no script run and nothing be fetched.
French by default (``lang="en"`` for English); the words are in the catalogue ``notices.po``.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget.errors import InputError, OptionError, Problem
from cyberbudget.formatting import check_lang, fmt_cents, fmt_eur, fmt_int, fmt_number, fmt_share
from cyberbudget.paths import check_writable_dir
from cyberbudget.reports import manifest as mf
from cyberbudget.reports.browser import Browser, PageSetup, Printer, PrintJob
from cyberbudget.reports.disclosure import RESTRICTED_MARKING
from cyberbudget.reports.escaping import csp_meta, html_text
from cyberbudget.reports.folders import atomic_folder
from cyberbudget.reports.i18n import long_date, require_lang, t
from cyberbudget.reports.inputs import PathArg
from cyberbudget.reports.locks import output_lock
from cyberbudget.reports.pdf import open_printer
from cyberbudget.reports.recipients import UNIT_KINDS, recipient_keys, unit_names
from cyberbudget.reports.spreadsheets import csv_text

__all__ = [
    "INDEX_COLUMNS", "INDEX_NAME", "NOTICES_DIR", "Notice", "NoticesResult", "RunView", "load_run", "notice_html",
    "notice_setup", "recipients", "write_notices",
]

NOTICES_DIR: str = "notices"
INDEX_NAME: str = "index.csv"
#: Columns of ``index.csv`` after ``key, name, grant_cents`` (then one ``grant_cents_<year>`` per year):
#: the unit kind, the establishments of the recipient and how many are eligible, its own IT budget, cyber spend
#: and cyber share (annual, before any uptake), the extra annual cyber spend its ineligible application(s) would
#: need to reach ``min_share`` (0 when none), and the notice's files.
INDEX_COLUMNS: tuple[str, ...] = (
    "grant_eur", "unit", "n_establishments", "n_eligible", "eligible", "it_budget_eur", "cyber_spend_eur",
    "cyber_share", "missing_cyber_spend_eur", "html", "pdf",
)
_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


# ================================================================================================================
# The run, re-loaded from its manifest
# ================================================================================================================


@dataclass
class RunView:
    """A report folder's run, re-computed from its manifest and checked against its ``allocation.csv``.

    Attributes
    ----------
    folder : Path
        ``DIR/NAME``.
    scenario, table, result
        The scenario, the establishment table (sorted by ``finess``) and ``allocate(table, scenario)``.
    grants : ndarray of int64
        ``allocation.csv``'s ``grant_cents`` in the table's row order.
    years : DataFrame
        ``allocation.csv``'s ``grant_cents_<year>`` (columns: the years as text), in the table's row order.
    applicant_of : ndarray of int
        Each row's application: its row under ``allocation.unit: establishment``, else its unit's position in
        ``result.applicants``.
    """

    folder: Path
    scenario: Any
    table: pd.DataFrame
    result: Any
    grants: np.ndarray
    years: pd.DataFrame
    applicant_of: np.ndarray
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def run_unit(self) -> str:
        """The run's ``allocation.unit``."""
        return str(self.scenario.allocation.unit)

    @property
    def applicants(self) -> pd.DataFrame:
        """One row per application (``result.applicants``, or the establishments)."""
        apps = self.result.applicants
        return self.result.table if apps is None else apps

    def members(self, j: int) -> np.ndarray:
        """The rows (table positions, ascending ``finess``) of application ``j``."""
        u = self.result.units
        if u is None:
            return np.array([j])
        return np.sort(u.order[u.starts[j]:u.starts[j] + u.sizes[j]])


def _read_allocation_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{path}: not found (expected the allocation.csv written by `cyberbudget run`)",
                         source=str(path))
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: cannot read it: {exc}", source=str(path)) from exc
    missing = [c for c in ("finess", "grant_cents") if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: not an allocation.csv",
                         [Problem(f"{path}: column {c}", "missing") for c in missing], source=str(path))
    for col in ["grant_cents", *[c for c in frame.columns if c.startswith("grant_cents_")]]:
        bad = ~frame[col].str.fullmatch(r"-?\d{1,15}")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"{path}: row {i + 2}, column {col}: expected whole cents, found {frame[col].iloc[i]!r}",
                             source=str(path))
    return frame


def _inputs_of(folder: Path, man: dict[str, Any]) -> tuple[Path, Path, Path | None]:
    """The run's scenario, table and overrides file (None: none), located from the manifest and unchanged since
    the run."""
    located: dict[str, Path] = {}
    problems = []
    for entry in man.get("inputs", []):
        role = entry.get("role")
        if role not in ("scenario", "table", "scenario_extends", "overrides"):
            continue
        p = mf.locate_input(entry)
        where = f"{folder / mf.MANIFEST_NAME}: inputs ({role})"
        if p is None:
            problems.append(Problem(where, f"expected the file {entry.get('path')}, found nothing"))
        elif mf.sha256_file(p) != entry.get("sha256"):
            problems.append(Problem(where, f"{p} changed since the run (its SHA-256 differs from the manifest's): "
                                           "run `cyberbudget run` again before writing notices"))
        else:
            located.setdefault(role, p)
    for role in ("scenario", "table"):
        if role not in located and not any(role in str(pr.where) for pr in problems):
            problems.append(Problem(f"{folder / mf.MANIFEST_NAME}: inputs", f"expected a {role} entry, found none"))
    if problems:
        raise InputError(f"{folder}: the run's inputs cannot be loaded again", problems, source=str(folder))
    return located["scenario"], located["table"], located.get("overrides")


def check_confidential(folder: PathArg, confidential: bool) -> dict[str, Any]:
    """The folder's manifest, once notices are allowed: under ``disclosure: establishment`` or ``confidential``.

    Raises
    ------
    InputError
        Not a report folder.
    OptionError
        The run was under ``disclosure: aggregate`` and ``confidential`` is false.
    """
    folder = Path(folder)
    man = mf.read_manifest(folder)
    disclosure = str((man.get("parameters") or {}).get("disclosure") or "aggregate")
    if disclosure != "establishment" and not confidential:
        raise OptionError(
            f"{folder}: notices are establishment-level (one grant per recipient) and this run was made under "
            f"disclosure: {disclosure}; re-run the scenario with `disclosure: establishment`, or pass --confidential "
            f"to write them anyway (every page is marked \"{RESTRICTED_MARKING}\")"
        )
    return man


def load_run(folder: PathArg, man: dict[str, Any] | None = None) -> RunView:
    """Re-compute a report folder's run from its manifest (see the module docstring, step 2).

    Raises
    ------
    InputError
        No manifest or ``allocation.csv``; an input missing or changed since the run; the re-run's cents differ
        from ``allocation.csv``'s.
    """
    from cyberbudget.policy.allocation import allocate
    from cyberbudget.reports.inputs import load_inputs

    folder = Path(folder)
    man = man if man is not None else mf.read_manifest(folder)
    csv_path = folder / "allocation.csv"
    recorded = _read_allocation_csv(csv_path)
    scenario_path, table_path, overrides_path = _inputs_of(folder, man)
    inputs = load_inputs(scenario_path, table_path, overrides_path)
    result = allocate(inputs.table, inputs.scenario)
    rt = result.table
    finess = rt["finess"].astype(str).to_numpy()
    rec = recorded.set_index("finess", drop=False)
    if len(rec) != len(finess) or not rec.index.is_unique or not np.isin(finess, rec.index.to_numpy()).all():
        raise InputError(f"{csv_path}: its establishments are not those of the run's table {table_path} "
                         "(`cyberbudget verify` says more)", source=str(csv_path))
    rec = rec.loc[finess]
    grants = rec["grant_cents"].astype(np.int64).to_numpy()
    again = rt["grant_cents"].to_numpy(dtype=np.int64)
    differ = np.flatnonzero(grants != again)
    if differ.size:
        i = int(differ[0])
        raise InputError(
            f"{csv_path}: a re-run of the manifest's inputs does not give its cents ({differ.size} establishment(s) "
            f"differ; first: finess {finess[i]}, {grants[i]} recorded, {again[i]} re-run): run `cyberbudget verify "
            f"{folder}`", source=str(csv_path))
    year_cols = [f"grant_cents_{y}" for y in inputs.scenario.envelope.years]
    if all(c in rec.columns for c in year_cols):
        years = pd.DataFrame({str(y): rec[c].astype(np.int64).to_numpy()
                              for y, c in zip(inputs.scenario.envelope.years, year_cols, strict=True)})
    else:
        years = result.by_year.reset_index(drop=True)
        years.columns = [str(c) for c in years.columns]
    table = inputs.table.sort_values("finess", kind="stable").reset_index(drop=True)
    units = result.units
    applicant_of = np.arange(len(table)) if units is None else np.asarray(units.of_row)
    return RunView(folder=folder, scenario=inputs.scenario, table=table, result=result, grants=grants,
                   years=years, applicant_of=applicant_of)


# ================================================================================================================
# Recipients
# ================================================================================================================


@dataclass
class Notice:
    """One recipient's notice: who, which establishments, what money.

    Attributes
    ----------
    key : str
        The recipient key: a site's ``finess``, a legal entity's FINESS or a GHT code.
    name : str
    unit : str
        ``establishment``, ``legal_entity`` or ``ght``.
    rows : ndarray of int
        Its establishments (table positions, ascending ``finess``).
    grant_cents : int
        The sum of their ``allocation.csv`` grants.
    years : dict of str to int
        The sum of their grants each year.
    """

    key: str
    name: str
    unit: str
    rows: np.ndarray
    grant_cents: int
    years: dict[str, int]

    @property
    def file_stem(self) -> str:
        """The notice's file name without extension (the key)."""
        return self.key


def recipients(view: RunView, unit: str | None = None) -> list[Notice]:
    """Every recipient of the run under ``unit`` (default: the run's unit), in ascending key order."""
    kind = unit or view.run_unit
    keys = recipient_keys(view.table, kind)
    names = unit_names(view.table, kind, str(view.scenario.allocation.base))
    codes, uniques = pd.factorize(pd.Series(keys, dtype=str), sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    groups = np.split(order, bounds) if len(order) else []
    year_values = view.years.to_numpy(dtype=np.int64)
    out = []
    for key, rows in zip(uniques, groups, strict=True):
        rows = np.sort(rows)
        if not _SAFE_KEY.match(str(key)):
            raise InputError(f"{view.folder}: recipient key {str(key)[:40]!r} cannot name a file "
                             "(expected letters, digits, '-' or '_')", source=str(view.folder))
        by_year = year_values[rows].sum(axis=0)
        out.append(Notice(key=str(key), name=names.get(str(key), str(key)), unit=kind, rows=rows,
                          grant_cents=int(view.grants[rows].sum()),
                          years={str(y): int(v) for y, v in zip(view.years.columns, by_year, strict=True)}))
    return out


def _select(notices: list[Notice], only: Sequence[str], view: RunView, kind: str) -> list[Notice]:
    by_key = {n.key: n for n in notices}
    wanted = list(dict.fromkeys(str(k).strip() for k in only))
    unknown = [k for k in wanted if k not in by_key]
    if unknown:
        finess = view.table["finess"].astype(str).to_numpy()
        keys = recipient_keys(view.table, kind)
        problems = []
        for k in unknown:
            hit = np.flatnonzero(finess == k)
            hint = (f"; {k} is an establishment of recipient {keys[hit[0]]} under --unit {kind} "
                    "(or use --unit establishment)") if hit.size else ""
            problems.append(Problem(f"--only {k}", f"expected a recipient key under --unit {kind} "
                                                   f"({_key_kind(kind)}), found no recipient {k}{hint}"))
        raise OptionError(f"--only: {', '.join(unknown)}: no such recipient in {view.folder}", problems)
    return [by_key[k] for k in sorted(wanted)]


def _key_kind(kind: str) -> str:
    return {"establishment": "a site FINESS", "legal_entity": "a legal entity's FINESS",
            "ght": "a GHT code, or the legal-entity FINESS of an establishment outside any GHT"}[kind]


# ================================================================================================================
# Words and numbers
# ================================================================================================================


def _e(x: Any) -> str:
    return html_text(x)


def _share_text(share: float, lang: str, threshold: float | None = None, below: bool | None = None) -> str:
    """A share in percent, rounded to 2 decimals — with more decimals (floored or ceiled) when 2 would show it on
    the wrong side of ``threshold`` (``below=True``: it must read below, ``False``: at or above).

    Examples
    --------
    >>> _share_text(0.0774612, "en"), _share_text(0.049996, "en", 0.05, True)
    ('7.75 %', '4.999 %')
    """
    if share is None or not math.isfinite(share):
        return "–"
    pct = share * 100
    decimals, shown = 2, round(pct, 2)
    if threshold is not None and below is not None:
        limit = threshold * 100

        def wrong(x: float) -> bool:
            return x >= limit - 1e-12 if below else x < limit - 1e-12

        while wrong(shown) and decimals < 8:
            decimals += 1
            scale = 10 ** decimals
            shown = (math.floor(pct * scale + 1e-9) if below else math.ceil(pct * scale - 1e-9)) / scale
    return fmt_number(shown, decimals, lang) + ("\u202f%" if lang == "fr" else " %")


def _pct(share: float, lang: str) -> str:
    return fmt_share(share, lang)


def _eur2(x: float, lang: str) -> str:
    return fmt_eur(x, lang, 2)


def _cents_up(euros: float) -> int:
    """Euros as whole cents, rounded up (a spend that must be reached)."""
    return int(math.ceil(round(euros * 100, 6) - 1e-9))


def _missing_spend(it: float, cyber: float, min_share: float) -> float:
    """The extra annual cyber spend that brings ``cyber / it`` to ``min_share`` (0 when reached or no IT)."""
    from cyberbudget.policy.eligibility import raised_spend

    if not it > 0:
        return 0.0
    target = float(raised_spend(np.array([it]), min_share)[0])
    return max(0.0, target - cyber)


def _base_label(base: str, lang: str) -> str:
    key = f"units.base.{base}"
    try:
        return t(key, lang)
    except KeyError:
        return base


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def _date_text(day: dt.date, lang: str) -> str:
    """:func:`~cyberbudget.reports.i18n.long_date`, with the French ordinal of the first day (``1er mars``)."""
    text = long_date(day, lang)
    return f"1er{text[1:]}" if lang == "fr" and day.day == 1 and text.startswith("1 ") else text


def _status_label(status: str, lang: str) -> str:
    from cyberbudget.reports.plots import label

    return label("status", status, lang)


def _period(years: Sequence[Any]) -> str:
    years = [str(y) for y in years]
    return years[0] if len(years) == 1 else f"{years[0]}–{years[-1]}"


# ================================================================================================================
# One notice as HTML
# ================================================================================================================

_CSS = """
* { box-sizing: border-box; }
body { font-family: 'DejaVu Sans', Arial, Helvetica, sans-serif; font-size: 10.5pt; color: #111; line-height: 1.42;
       max-width: 186mm; margin: 0 auto; padding: 0 4mm; font-variant-ligatures: none; }
.nt-mark { background: #C00000; color: #fff; font-weight: bold; text-align: center; padding: 3px 8px;
           font-size: 9.5pt; letter-spacing: .02em; }
.nt-top { margin: 0 0 6mm 0; }
.nt-bottom { margin: 6mm 0 0 0; }
header.nt-head { display: flex; justify-content: space-between; gap: 10mm; align-items: flex-start; }
.nt-from { font-size: 9pt; color: #333; }
.nt-to { border: 1px solid #999; padding: 3mm 4mm; min-width: 75mm; }
.nt-to b { font-size: 11pt; }
h1 { font-size: 15pt; margin: 7mm 0 1mm 0; }
h2 { font-size: 12pt; margin: 6mm 0 2mm 0; border-bottom: 1px solid #C8C8C8; padding-bottom: 1mm;
     break-after: avoid; }
.nt-sub { color: #444; margin: 0 0 4mm 0; }
.nt-amount { font-size: 16pt; font-weight: bold; margin: 2mm 0 3mm 0; }
table { border-collapse: collapse; margin: 2mm 0 3mm 0; font-size: 9.5pt; }
tr { break-inside: avoid; }
th, td { border-bottom: 1px solid #DDD; padding: 1.5mm 2.5mm; text-align: left; vertical-align: top; }
th { background: #EEF2F7; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr.nt-self td { font-weight: bold; }
tr.nt-total td { font-weight: bold; border-top: 1px solid #777; }
.nt-gap { border-left: 3px solid #C00000; padding: 1mm 0 1mm 3mm; background: #FBF1F1; }
.nt-note { font-size: 8.5pt; color: #444; }
ul { margin: 1mm 0 2mm 0; padding-left: 6mm; }
@media print { body { max-width: none; padding: 0; } }
"""
_MARGIN_BOX = "font-family: 'DejaVu Sans', Arial, sans-serif; font-size: 8pt;"


def _css_string(text: str) -> str:
    """``text`` as a CSS string literal."""
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("<", "\\3C ")
    return f'"{out}"'


def page_css(title: str, lang: str) -> str:
    """The ``@page`` rule of a notice: A4; on every printed page the title and the marking at the top, the
    marking and "Page n sur N" at the bottom (CSS margin boxes: the notice printed from a browser and its PDF
    carry the same)."""
    page = t("pdf.page_of", lang, page="\x00page", pages="\x00pages")
    parts = []
    for piece in re.split("(\x00pages|\x00page)", page):
        if piece == "\x00page":
            parts.append("counter(page)")
        elif piece == "\x00pages":
            parts.append("counter(pages)")
        elif piece:
            parts.append(_css_string(piece))
    mark = _css_string(RESTRICTED_MARKING)
    red = "color: #C00000; font-weight: bold;"
    return (
        "@page { size: A4; margin: 16mm 12mm 15mm 12mm;\n"
        f"  @top-left {{ content: {_css_string(title)}; {_MARGIN_BOX} color: #333; }}\n"
        f"  @top-right {{ content: {mark}; {_MARGIN_BOX} {red} }}\n"
        f"  @bottom-left {{ content: {mark}; {_MARGIN_BOX} {red} }}\n"
        f"  @bottom-right {{ content: {' '.join(parts)}; {_MARGIN_BOX} }}\n}}\n"
    )


def notice_setup() -> PageSetup:
    """The printed page of a notice: its own ``@page`` rule (:func:`page_css`: A4, the marking at the top and the
    bottom of every page, page numbers), nothing to wait for, the PDF in one message."""
    return PageSetup(css_page=True, wait_for_charts=False, stream=False)


@dataclass
class _Application:
    """One application (the run's unit) as a notice explains it."""

    j: int
    key: str
    name: str
    members: np.ndarray
    it: float
    cyber: float
    share: float
    eligible: bool
    grant_cents: int
    exact_cents: float
    cap_cents: float
    status: str
    allowed: bool
    complied: bool
    cyber_after: float


class _Writer:
    """Builds the notices of one run (shares what every notice needs)."""

    def __init__(self, view: RunView, lang: str, date: dt.date) -> None:
        self.view = view
        self.lang = check_lang(lang)
        self.date = date
        s = view.scenario
        self.el = s.eligibility
        self.base = str(s.allocation.base)
        t_ = view.table
        self.finess = t_["finess"].astype(str).to_numpy()
        self.names = t_["name"].astype(str).to_numpy()
        self.it = t_["it_budget_eur"].to_numpy(dtype=np.float64)
        self.cyber = t_["cyber_spend_eur"].to_numpy(dtype=np.float64)
        self.imputed = (t_["imputed"].fillna("").astype(str).str.contains("budget|cyber|it_", regex=True).to_numpy()
                        if "imputed" in t_.columns else np.zeros(len(t_), dtype=bool))
        self.base_rows = (pd.to_numeric(t_[self.base], errors="coerce").fillna(0).to_numpy(dtype=np.float64)
                          if self.base in t_.columns else self.it)
        res = view.result
        self.split_weights = res.split_weights if res.split_weights is not None else self.base_rows
        self.row_exact = res.table["exact_cents"].to_numpy(dtype=np.float64)
        apps = view.applicants
        self.app_keys = apps["finess"].astype(str).to_numpy()
        self.app_names = apps["name"].astype(str).to_numpy()
        self.app_it = apps["it_budget_eur"].to_numpy(dtype=np.float64)
        self.app_cyber = apps["cyber_spend_before_eur"].to_numpy(dtype=np.float64)
        self.app_cyber_after = apps["cyber_spend_eur"].to_numpy(dtype=np.float64)
        self.app_eligible = apps["eligible"].to_numpy(dtype=bool)
        self.app_grant = apps["grant_cents"].to_numpy(dtype=np.int64)
        self.app_exact = apps["exact_cents"].to_numpy(dtype=np.float64)
        self.app_status = apps["status"].astype(str).to_numpy()
        self.app_complied = apps["complied"].to_numpy(dtype=bool)
        self.app_cap = np.asarray(res.rule_output.cap_cents, dtype=np.float64)
        medico = (t_["medico_social"].to_numpy(dtype=bool) if "medico_social" in t_.columns
                  else np.zeros(len(t_), dtype=bool))
        if res.units is None:
            app_medico = medico
        else:
            app_medico = medico[np.asarray(res.units.representative)]
        self.app_allowed = np.isin(self.app_status, list(self.el.statuses)) & (~app_medico | self.el.medico_social)
        self.n_eligible_apps = int(self.app_eligible.sum())
        self.years = [str(y) for y in s.envelope.years]
        self.title = t("notice.title", self.lang)
        self.page_css = page_css(self.title, self.lang)

    # -- facts ---------------------------------------------------------------------------------------------------

    def application(self, j: int) -> _Application:
        it, cyber = float(self.app_it[j]), float(self.app_cyber[j])
        share = cyber / it if it > 0 else float("nan")
        return _Application(
            j=j, key=str(self.app_keys[j]), name=str(self.app_names[j]), members=self.view.members(j), it=it,
            cyber=cyber, share=share, eligible=bool(self.app_eligible[j]), grant_cents=int(self.app_grant[j]),
            exact_cents=float(self.app_exact[j]), cap_cents=float(self.app_cap[j]), status=str(self.app_status[j]),
            allowed=bool(self.app_allowed[j]), complied=bool(self.app_complied[j]),
            cyber_after=float(self.app_cyber_after[j]),
        )

    def missing(self, app: _Application) -> float:
        """The extra annual spend that would make ``app`` eligible, when only its cyber share stands in the way."""
        if app.eligible or not app.allowed or not app.it > 0 or not app.share < self.el.min_share:
            return 0.0
        return _missing_spend(app.it, app.cyber, self.el.min_share)

    def applications(self, notice: Notice) -> list[_Application]:
        return [self.application(int(j)) for j in np.unique(self.view.applicant_of[notice.rows])]

    # -- sections ------------------------------------------------------------------------------------------------

    def _t(self, msg: str, /, **fields: Any) -> str:
        """A catalogue text as HTML: the text and its fields escaped."""
        return _html_t(msg, self.lang, **fields)

    def money(self, cents: int) -> str:
        return fmt_cents(int(cents), self.lang)

    def head(self, notice: Notice) -> str:
        s = self.view.scenario
        n = len(notice.rows)
        kind = self._t(f"notice.kind.{notice.unit}", key=notice.key)
        return (
            "<header class='nt-head'>"
            f"<div class='nt-from'>{self._t('notice.from')}<br>{self._t('notice.scenario', scenario=s.name)}<br>"
            f"{self._t('notice.date', date=_date_text(self.date, self.lang))}</div>"
            f"<div class='nt-to'>{self._t('notice.recipient')}<br><b>{_e(notice.name)}</b><br>{kind}<br>"
            f"{self._t('notice.sites', n=fmt_int(n, self.lang))}</div></header>"
            f"<h1>{_e(self.title)}</h1>"
            f"<p class='nt-sub'>{self._t('notice.simulation', scenario=s.name)}</p>"
        )

    def grant(self, notice: Notice) -> str:
        s = self.view.scenario
        period = _period(s.envelope.years)
        parts = [f"<h2>{self._t('notice.grant.heading')}</h2>"]
        if notice.grant_cents == 0:
            parts.append(f"<p class='nt-amount'>{self.money(0)}</p><p>{self._t('notice.grant.none')}</p>")
        else:
            parts.append(f"<p>{self._t('notice.grant.amount', period=period)}</p>"
                         f"<p class='nt-amount'>{_e(self.money(notice.grant_cents))}</p>")
        if notice.grant_cents == 0:
            return "".join(parts)
        rows = "".join(f"<tr><td>{_e(y)}</td><td class='num'>{_e(self.money(c))}</td></tr>"
                       for y, c in notice.years.items())
        parts.append(
            f"<table class='nt-years'><thead><tr><th>{self._t('notice.col.year')}</th>"
            f"<th class='num'>{self._t('notice.col.amount')}</th></tr></thead><tbody>{rows}"
            f"<tr class='nt-total'><td>{self._t('notice.total')}</td>"
            f"<td class='num'>{_e(self.money(sum(notice.years.values())))}</td></tr></tbody></table>")
        return "".join(parts)

    def corridor(self) -> str:
        el = self.el
        key = "notice.how.corridor_exclude" if el.exclude_above_max else "notice.how.corridor"
        return self._t(key, min=_pct(el.min_share, self.lang), max=_pct(el.max_share, self.lang))

    def verdict(self, app: _Application) -> str:
        el, lang = self.el, self.lang
        if not app.it > 0:
            return self._t("notice.eligible.no_it")
        if app.share < el.min_share:
            text = self._t("notice.eligible.below", share=_share_text(app.share, lang, el.min_share, True),
                           min=_pct(el.min_share, lang))
            if app.complied:
                text += " " + self._t("notice.uptake", after=_eur2(app.cyber_after, lang))
            if not app.allowed:
                text += " " + self.filters(app)
            return text
        if el.exclude_above_max and app.share > el.max_share:
            return self._t("notice.eligible.above", share=_share_text(app.share, lang, el.max_share, False),
                           max=_pct(el.max_share, lang))
        if not app.allowed:
            return self.filters(app)
        return self._t("notice.eligible.yes", share=_share_text(app.share, lang, el.min_share, False),
                       min=_pct(el.min_share, lang))

    def filters(self, app: _Application) -> str:
        if app.status not in self.el.statuses:
            return self._t("notice.eligible.status", status=_status_label(app.status, self.lang))
        return self._t("notice.eligible.medico")

    def rule(self) -> str:
        """The scenario's rule in plain words (with its floor, cap and how far the envelope went)."""
        s, lang = self.view.scenario, self.lang
        a = s.allocation
        res = self.view.result
        details = res.summary.get("rule_details") or {}
        envelope = self.money(res.summary["envelope_cents"])
        n_years = len(s.envelope.years)
        fraction = details.get("fraction")
        served = (self._t("notice.served.full") if fraction is None or fraction >= 1 - 1e-12 else
                  self._t("notice.served.partial", fraction=_share_text(float(fraction), lang)))
        rule = str(a.rule)
        if rule == "proportional":
            text = self._t("notice.rule.proportional", envelope=envelope, base=_base_label(a.base, lang),
                           n=fmt_int(self.n_eligible_apps, lang))
            if a.floor_eur:
                text += " " + self._t("notice.rule.floor", floor=fmt_eur(a.floor_eur, lang, 2))
        elif rule == "matching":
            text = self._t("notice.rule.matching", rate=_pct(a.match_rate, lang), max=_pct(self.el.max_share, lang),
                           years=fmt_int(n_years, lang)) + " " + served
        elif rule == "gap":
            text = self._t("notice.rule.gap", target=_pct(a.target_share, lang), years=fmt_int(n_years, lang),
                           envelope=envelope)
        elif rule == "tiered":
            text = self._t("notice.rule.tiered", tiers=", ".join(str(x) for x in a.tiers),
                           amount=self._t(f"notice.tier_amount.{a.tier_amount}"))
        elif rule == "forfait":
            column = getattr(getattr(a, "forfait", None), "column", "") or ""
            text = self._t("notice.rule.forfait", column=_base_label(str(column), lang)) + " " + served
        else:
            text = self._t("notice.rule.other", rule=rule)
        if a.cap_eur is not None:
            text += " " + self._t("notice.rule.cap", cap=fmt_eur(a.cap_eur, lang, 2))
        return text

    def amount(self, app: _Application) -> str:
        lang = self.lang
        text = self._t("notice.amount", exact=fmt_eur(app.exact_cents / 100, lang, 4), grant=self.money(app.grant_cents))
        if math.isfinite(app.cap_cents) and app.exact_cents >= app.cap_cents - 1e-6:
            text += " " + self._t("notice.capped", cap=self.money(int(round(app.cap_cents))))
        return text

    def split(self, app: _Application, notice: Notice) -> str:
        lang = self.lang
        members = app.members
        w = self.split_weights[members]
        total = float(w.sum())
        shares = w / total if total > 0 else np.full(members.size, 1.0 / members.size)
        mine = set(notice.rows.tolist())
        lines = []
        for m, sh in zip(members.tolist(), shares.tolist(), strict=True):
            cls = " class='nt-self'" if m in mine and len(mine) < members.size else ""
            lines.append(f"<tr{cls}><td>{_e(self.finess[m])}</td><td>{_e(self.names[m])}</td>"
                         f"<td class='num'>{_e(fmt_number(float(self.split_weights[m]), 2, lang))}</td>"
                         f"<td class='num'>{_e(_share_text(sh, lang))}</td>"
                         f"<td class='num'>{_e(self.money(int(self.view.grants[m])))}</td></tr>")
        return (f"<p>{self._t('notice.split', grant=self.money(app.grant_cents), n=fmt_int(members.size, lang), base=_base_label(self.base, lang))}</p>"
                f"<table><thead><tr><th>FINESS</th><th>{self._t('notice.col.name')}</th>"
                f"<th class='num'>{_e(_capitalized(_base_label(self.base, lang)))}</th><th class='num'>{self._t('notice.col.share')}</th>"
                f"<th class='num'>{self._t('notice.col.grant')}</th></tr></thead><tbody>{''.join(lines)}</tbody></table>")

    def sites(self, notice: Notice) -> str:
        """The recipient's establishments with their budgets and grants."""
        lang = self.lang
        lines = "".join(
            f"<tr><td>{_e(self.finess[m])}</td><td>{_e(self.names[m])}</td>"
            f"<td class='num'>{_e(_eur2(float(self.it[m]), lang))}</td>"
            f"<td class='num'>{_e(_eur2(float(self.cyber[m]), lang))}</td>"
            f"<td class='num'>{_e(self.money(int(self.view.grants[m])))}</td></tr>" for m in notice.rows.tolist())
        return (f"<p>{self._t('notice.sites.list', n=fmt_int(notice.rows.size, lang))}</p>"
                f"<table><thead><tr><th>FINESS</th><th>{self._t('notice.col.name')}</th>"
                f"<th class='num'>{self._t('notice.col.it')}</th><th class='num'>{self._t('notice.col.cyber')}</th>"
                f"<th class='num'>{self._t('notice.col.grant')}</th></tr></thead><tbody>{lines}</tbody></table>")

    def how(self, notice: Notice) -> str:
        lang, el = self.lang, self.el
        apps = self.applications(notice)
        parts = [f"<h2>{self._t('notice.how.heading')}</h2>",
                 f"<p>{self._t(f'notice.how.unit.{self.view.run_unit}')}</p>"]
        it = float(self.it[notice.rows].sum())
        cyber = float(self.cyber[notice.rows].sum())
        own_share = cyber / it if it > 0 else float("nan")
        parts.append(f"<p>{self._t('notice.how.own', it=_eur2(it, lang), cyber=_eur2(cyber, lang), share=_share_text(own_share, lang))} "
                     f"{self.corridor()}</p>")
        gaps: list[str] = []
        if len(apps) == 1:
            app = apps[0]
            if app.members.size != notice.rows.size:  # the recipient is part of a larger application
                parts.append(f"<p>{self._t('notice.how.applicant', name=app.name, key=app.key, n=fmt_int(app.members.size, lang))} "
                             f"{self._t('notice.how.budgets', it=_eur2(app.it, lang), cyber=_eur2(app.cyber, lang), share=_share_text(app.share, lang))}</p>")
            parts.append(f"<p>{self.verdict(app)}</p>")
            if app.eligible:
                parts.append(f"<p>{self.rule()}</p><p>{self.amount(app)}</p>")
            if app.members.size > 1 and app.grant_cents > 0:
                parts.append(self.split(app, notice))
            elif notice.rows.size > 1:
                parts.append(self.sites(notice))
            extra = self.missing(app)
            if extra > 0:
                gaps.append(self._t("notice.gap.text", name=app.name, min=_pct(el.min_share, lang),
                                    extra=self.money(_cents_up(extra)), target=self.money(_cents_up(app.cyber + extra)),
                                    current=_eur2(app.cyber, lang)))
        else:
            parts.append(f"<p>{self._t('notice.how.several', n=fmt_int(len(apps), lang), name=notice.name)}</p>")
            lines = []
            total_missing = 0.0
            n_missing = 0
            for app in apps:
                extra = self.missing(app)
                total_missing += extra
                n_missing += extra > 0
                yes = self._t("notice.yes") if app.eligible else self._t("notice.no")
                lines.append(
                    f"<tr><td>{_e(app.key)}</td><td>{_e(app.name)}</td>"
                    f"<td class='num'>{_e(_share_text(app.share, lang, el.min_share, not app.eligible if app.it > 0 else None))}</td>"
                    f"<td>{yes}</td><td class='num'>{_e(self.money(_cents_up(extra)) if extra > 0 else '–')}</td>"
                    f"<td class='num'>{_e(self.money(int(self.view.grants[app.members[np.isin(app.members, notice.rows)]].sum())))}</td></tr>")
            parts.append(
                f"<table><thead><tr><th>FINESS</th><th>{self._t('notice.col.name')}</th>"
                f"<th class='num'>{self._t('notice.col.cyber_share')}</th><th>{self._t('notice.col.eligible')}</th>"
                f"<th class='num'>{self._t('notice.col.missing')}</th><th class='num'>{self._t('notice.col.grant')}</th>"
                f"</tr></thead><tbody>{''.join(lines)}"
                f"<tr class='nt-total'><td></td><td>{self._t('notice.total')}</td><td></td><td></td>"
                f"<td class='num'>{_e(self.money(_cents_up(total_missing)) if total_missing > 0 else '–')}</td>"
                f"<td class='num'>{_e(self.money(notice.grant_cents))}</td></tr></tbody></table>")
            if any(a.eligible for a in apps):
                parts.append(f"<p>{self.rule()}</p>")
            if total_missing > 0:
                gaps.append(self._t("notice.gap.several", n=fmt_int(n_missing, lang), min=_pct(el.min_share, lang),
                                    extra=self.money(_cents_up(total_missing))))
        if gaps:
            parts.append(f"<h2>{self._t('notice.gap.heading')}</h2>")
            parts += [f"<p class='nt-gap'>{g}</p>" for g in gaps]
        return "".join(parts)

    def conditions(self, notice: Notice) -> str:
        s, lang, el = self.view.scenario, self.lang, self.el
        items = [
            self._t("notice.conditions.corridor", min=_pct(el.min_share, lang), max=_pct(el.max_share, lang)),
            self._t("notice.conditions.guidance"),
            self._t("notice.conditions.envelope", envelope=self.money(self.view.result.summary["envelope_cents"]),
                    period=_period(s.envelope.years), rule=str(s.allocation.rule)),
            self._t("notice.conditions.schedule"),
        ]
        n_imputed = int(self.imputed[notice.rows].sum())
        if n_imputed:
            items.append(self._t("notice.conditions.imputed", n=fmt_int(n_imputed, lang),
                                 total=fmt_int(len(notice.rows), lang)))
        lis = "".join(f"<li>{x}</li>" for x in items)
        return (f"<h2>{self._t('notice.conditions.heading')}</h2><ul>{lis}</ul>"
                f"<p class='nt-note'>{self._t('notice.marking_note')}</p>")

    def html(self, notice: Notice) -> str:
        mark = _e(RESTRICTED_MARKING)
        title = f"{self.title} — {notice.name}"
        return (
            f"<!DOCTYPE html>\n<html lang='{self.lang}'><head>{csp_meta()}<meta charset='utf-8'>"
            "<meta name='robots' content='noindex, nofollow'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_e(title)}</title>"
            f"<style>{self.page_css}{_CSS}</style></head><body>"
            f"<div class='nt-mark nt-top' role='note'>{mark}</div><main>"
            f"{self.head(notice)}{self.grant(notice)}{self.how(notice)}{self.conditions(notice)}"
            f"</main><div class='nt-mark nt-bottom' role='note'>{mark}</div></body></html>\n"
        )

    def index_row(self, notice: Notice, with_pdf: bool) -> dict[str, str]:
        rows = notice.rows
        apps = self.applications(notice)
        it = float(self.it[rows].sum())
        cyber = float(self.cyber[rows].sum())
        n_el = int(self.view.result.table["eligible"].to_numpy(dtype=bool)[rows].sum())
        missing = sum(self.missing(a) for a in apps)
        row = {
            "key": notice.key, "name": notice.name, "grant_cents": str(notice.grant_cents),
            "grant_eur": f"{notice.grant_cents // 100}.{notice.grant_cents % 100:02d}", "unit": notice.unit,
            "n_establishments": str(len(rows)), "n_eligible": str(n_el), "eligible": "true" if n_el else "false",
            "it_budget_eur": f"{it:.2f}", "cyber_spend_eur": f"{cyber:.2f}",
            "cyber_share": "" if not it > 0 else repr(cyber / it),
            "missing_cyber_spend_eur": f"{_cents_up(missing) / 100:.2f}" if missing > 0 else "0.00",
            "html": f"{notice.file_stem}.html", "pdf": f"{notice.file_stem}.pdf" if with_pdf else "",
        }
        row.update({f"grant_cents_{y}": str(v) for y, v in notice.years.items()})
        return row


def _html_t(msg: str, lang: str, /, **fields: Any) -> str:
    """:func:`~cyberbudget.reports.i18n.t` as HTML: the catalogue's text and every field value escaped."""
    marks = {k: f"\x00{i}\x00" for i, k in enumerate(fields)}
    text = html.escape(t(msg, lang, **marks) if fields else t(msg, lang), quote=False)
    for k, mark in marks.items():
        text = text.replace(mark, _e(fields[k]))
    return text


def notice_html(view: RunView, notice: Notice, lang: str = "fr", date: dt.date | None = None) -> str:
    """The HTML of one notice (self-contained: no script, no link, nothing fetched)."""
    return _Writer(view, lang, date or dt.date.today()).html(notice)


# ================================================================================================================
# Writing them all
# ================================================================================================================


@dataclass
class NoticesResult:
    """What :func:`write_notices` wrote.

    Attributes
    ----------
    folder : Path
        ``DIR/NAME/notices``.
    unit : str
        The recipients' unit.
    keys : list of str
        The notices written, in key order.
    grant_cents : int
        Their total (``allocation.csv``'s total when every recipient is written).
    allocated_cents : int
        ``allocation.csv``'s total.
    pdf : bool
        Whether a PDF was printed for each notice.
    timings : dict of str to float
        Seconds spent loading the run, writing the HTML, printing the PDFs.
    """

    folder: Path
    unit: str
    keys: list[str]
    grant_cents: int
    allocated_cents: int
    pdf: bool
    timings: dict[str, float]

    @property
    def index_csv(self) -> Path:
        """``notices/index.csv``."""
        return self.folder / INDEX_NAME


def _index_csv(rows: list[dict[str, str]], years: Sequence[str]) -> str:
    rows = [{**r, "name": csv_text(r["name"])} for r in rows]
    columns = ["key", "name", "grant_cents", *INDEX_COLUMNS, *[f"grant_cents_{y}" for y in years]]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_notices(
    report: PathArg,
    *,
    unit: str | None = None,
    confidential: bool = False,
    pdf: bool | Printer = False,
    only: Sequence[str] | None = None,
    lang: str = "fr",
    date: dt.date | None = None,
    tabs: int | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> NoticesResult:
    """Write one notice per recipient of a run into ``report/notices/`` (see the module docstring).

    Parameters
    ----------
    report : path
        A report folder ``DIR/NAME`` written by ``cyberbudget run``.
    unit : {"establishment", "legal_entity", "ght"}, optional
        The recipients (default: the run's ``allocation.unit``).
    confidential : bool
        Write them although the run was under ``disclosure: aggregate``.
    pdf : bool or Printer
        Also print each notice into ``<key>.pdf``: ``True`` starts a headless Chromium (found before anything
        else is done); a :class:`~cyberbudget.reports.browser.Browser` is used as it is.
    only : sequence of str, optional
        Only these recipient keys.
    lang : {"fr", "en"}
    date : date, optional
        The date of the notices (default: today).
    tabs : int, optional
        Pages printed at the same time (default: the browser's, 2).
    on_progress : callable, optional
        ``on_progress(step, done, total)`` with ``step`` ``"html"`` or ``"pdf"`` (for a progress bar).

    Returns
    -------
    NoticesResult

    Raises
    ------
    OptionError
        Notices not allowed (aggregate run without ``confidential``), an unknown ``unit`` or ``only`` key, or
        ``pdf=True`` without Chromium — all before anything is written.
    InputError
        Not a report folder, its inputs changed or are missing, or its ``allocation.csv`` does not match them.
    """
    t0 = time.perf_counter()
    folder = Path(report)
    lang = require_lang(lang)
    if unit is not None and unit not in UNIT_KINDS:
        raise OptionError(f"--unit: expected one of {', '.join(UNIT_KINDS)}, found {unit!r}")
    man = check_confidential(folder, confidential)
    check_writable_dir(folder)  # before any work: notices/ is written inside the report folder
    if pdf is True:
        from cyberbudget.reports.pdf import require_chromium

        require_chromium()
    view = load_run(folder, man)
    kind = unit or view.run_unit
    everyone = recipients(view, kind)
    chosen = _select(everyone, only, view, kind) if only else everyone
    t1 = time.perf_counter()
    writer = _Writer(view, lang, date or dt.date.today())
    setup = notice_setup()
    with_pdf = pdf is not None and pdf is not False
    timings = {"load": t1 - t0}
    with output_lock(folder, what="report folder"), atomic_folder(folder / NOTICES_DIR) as tmp:
        jobs: list[PrintJob] = []
        rows = []
        for i, notice in enumerate(chosen, start=1):
            text = writer.html(notice)
            (tmp / f"{notice.file_stem}.html").write_text(text, encoding="utf-8", newline="\n")
            rows.append(writer.index_row(notice, with_pdf))
            if with_pdf:
                jobs.append(PrintJob(pdf=tmp / f"{notice.file_stem}.pdf", setup=setup, html=text))
            if on_progress is not None:
                on_progress("html", i, len(chosen))
        (tmp / INDEX_NAME).write_text(_index_csv(rows, writer.years), encoding="utf-8", newline="\n")
        t2 = time.perf_counter()
        timings["html"] = t2 - t1
        if with_pdf:
            with open_printer(pdf) as printer:
                done = [0]

                def tick(_job: PrintJob) -> None:
                    done[0] += 1
                    if on_progress is not None:
                        on_progress("pdf", done[0], len(jobs))

                if isinstance(printer, Browser):
                    printer.print_many(jobs, tabs=tabs, on_done=tick)
                else:  # any other printer prints from the files
                    for job in jobs:
                        assert printer is not None
                        printer.print_file(job.pdf.with_suffix(".html"), job.pdf, setup)
                        tick(job)
            timings["pdf"] = time.perf_counter() - t2
    return NoticesResult(folder=folder / NOTICES_DIR, unit=kind, keys=[n.key for n in chosen],
                         grant_cents=sum(n.grant_cents for n in chosen), allocated_cents=int(view.grants.sum()),
                         pdf=with_pdf, timings=timings)
