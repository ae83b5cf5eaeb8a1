"""The what-if app's logic: control values → scenario → allocation → aggregated, suppressed figure data.

:class:`WhatIf` holds an establishment table, a *reference* scenario (a file of ``scenarios/``) and the values
of the app's controls (:data:`CONTROLS`). :meth:`WhatIf.update` is the single path every change takes — from the
widgets, the tests and the benchmark alike:

1. the changed control values are normalised (shares rounded to 10⁻⁶, euros to the cent) and laid over the
   reference scenario's resolved keys;
2. the result is validated by :func:`cyberbudget.policy.scenario.load_scenario` (the same strict checks as a
   scenario file) and allocated by :func:`cyberbudget.policy.allocation.allocate` — the library's own rules,
   no second implementation;
3. the avoided loss comes from :func:`cyberbudget.risk.assess`;
4. everything shown is aggregated and suppressed as in published reports
   (:mod:`cyberbudget.reports.disclosure`): grants by region and by status, the cyber-share histogram in bins of
   at least 5 establishments, key figures hidden when built from 1 to 4 establishments (or units);
5. the figure data (plotly JSON dictionaries, house style of :mod:`cyberbudget.reports.plots`) is rebuilt.

An invalid combination (``min_share`` above ``max_share``, floors above the envelope, ...) leaves the figures of the
last valid scenario in place and sets :attr:`WhatIf.error` to the library's message.

:meth:`WhatIf.save` writes the current settings as a scenario file that ``extends:`` the reference and holds only
the keys that differ; the file is re-read with ``load_scenario`` and must resolve to the scenario on screen before
it replaces anything.

Examples
--------
>>> from cyberbudget.reports.whatif import WhatIf
>>> app = WhatIf.open()                                  # doctest: +SKIP
>>> app.update(min_share=0.06).ok                        # doctest: +SKIP
True
>>> app.key_figures["n_eligible"].text                   # doctest: +SKIP
'612'
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import os
import re
import time
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from cyberbudget import config
from cyberbudget.data.registry import load_establishments
from cyberbudget.errors import CyberbudgetError, OptionError, ReportError
from cyberbudget.formatting import check_lang, fmt_cents, fmt_eur, fmt_int, fmt_share
from cyberbudget.policy import scenario as scenario_mod
from cyberbudget.policy.allocation import AllocationResult, allocate
from cyberbudget.policy.registry import rule_names
from cyberbudget.policy.scenario import Scenario, load_scenario
from cyberbudget.reports import disclosure
from cyberbudget.reports.whatif import figures
from cyberbudget.reports.whatif.words import choice, word

__all__ = [
    "CONTROLS", "DATA_ENV", "KeyFigure", "Outcome", "Update", "WhatIf", "control_choices", "grants_by_group",
    "list_references", "unit_choices",
]

#: Environment variable through which ``cyberbudget app --data TABLE`` hands the table to the notebook.
DATA_ENV: str = "CYBERBUDGET_APP_DATA"

#: The app's controls: name → key path in the scenario file (DESIGN.md, "Scenario files"). ``unit`` is offered
#: only when the installed :class:`~cyberbudget.policy.scenario.Scenario` model has ``allocation.unit``.
CONTROLS: dict[str, tuple[str, str]] = {
    "total_eur": ("envelope", "total_eur"),
    "min_share": ("eligibility", "min_share"),
    "max_share": ("eligibility", "max_share"),
    "exclude_above_max": ("eligibility", "exclude_above_max"),
    "statuses": ("eligibility", "statuses"),
    "medico_social": ("eligibility", "medico_social"),
    "rule": ("allocation", "rule"),
    "base": ("allocation", "base"),
    "match_rate": ("allocation", "match_rate"),
    "target_share": ("allocation", "target_share"),
    "tiers": ("allocation", "tiers"),
    "tier_amount": ("allocation", "tier_amount"),
    "floor_eur": ("allocation", "floor_eur"),
    "cap_eur": ("allocation", "cap_eur"),
    "unit": ("allocation", "unit"),
    "uptake": ("uptake", "model"),
}

_SHARES = ("min_share", "max_share", "match_rate", "target_share")
_EUROS = ("total_eur", "floor_eur", "cap_eur")
_BOOLS = ("exclude_above_max", "medico_social")
#: Rules that take ``allocation.floor_eur`` (the scenario model rejects a floor with any other rule).
FLOOR_RULES: tuple[str, ...] = ("proportional", "optimal")
#: Numeric columns offered as the ``proportional`` key, when the table has them.
BASE_COLUMNS: tuple[str, ...] = ("it_budget_eur", "operating_budget_eur", "cyber_spend_eur", "beds", "places",
                                 "had_places", "staff_fte", "headcount")
_RULE_ORDER: tuple[str, ...] = ("proportional", "matching", "gap", "tiered", "optimal")
#: Width of the histogram's bins (shares) and where its last, open bin starts.
HIST_WIDTH: float = 0.005
HIST_UPPER: float = 0.20


# --------------------------------------------------------------------------------------------------------------
# What the installed engine accepts
# --------------------------------------------------------------------------------------------------------------


def _literal_values(model: type, field_name: str) -> tuple[str, ...]:
    """The values of a ``Literal[...]`` field of a pydantic model (empty when the field does not exist)."""
    info = getattr(model, "model_fields", {}).get(field_name)
    if info is None:
        return ()
    ann = info.annotation
    stack = [ann]
    out: list[str] = []
    while stack:
        t = stack.pop(0)
        if typing.get_origin(t) is typing.Literal:
            out.extend(str(a) for a in typing.get_args(t))
        else:
            stack.extend(typing.get_args(t))
    return tuple(out)


def unit_choices() -> tuple[str, ...]:
    """Funding units the ``Scenario`` model accepts (``allocation.unit``).

    Examples
    --------
    >>> unit_choices()
    ('establishment', 'legal_entity', 'ght')
    """
    return _literal_values(scenario_mod.Allocation, "unit")


def control_choices(table: pd.DataFrame | None = None) -> dict[str, tuple[str, ...]]:
    """Allowed values of the controls that take a code, introspected from the installed engine.

    Parameters
    ----------
    table : DataFrame, optional
        Restricts ``base`` to the numeric columns the table has.
    """
    rules = sorted(rule_names(), key=lambda r: (_RULE_ORDER.index(r) if r in _RULE_ORDER else 99, r))
    bases = tuple(c for c in BASE_COLUMNS if table is None or (c in table.columns
                                                                and pd.api.types.is_numeric_dtype(table[c])))
    return {
        "rule": tuple(rules),
        "base": bases,
        "statuses": tuple(config.STATUSES),
        "tiers": tuple(scenario_mod.TIER_GROUPS),
        "tier_amount": _literal_values(scenario_mod.Allocation, "tier_amount"),
        "unit": unit_choices(),
        "uptake": _literal_values(scenario_mod.Uptake, "model"),
    }


def list_references(folder: str | os.PathLike[str] = config.SCENARIOS_DIR) -> list[str]:
    """Names of the scenario files of ``folder`` (``baseline`` first, then alphabetical)."""
    names = sorted(p.stem for p in Path(folder).glob("*.yaml") if not p.name.startswith("."))
    return sorted(names, key=lambda n: (n != "baseline", n))


# --------------------------------------------------------------------------------------------------------------
# Normalising control values
# --------------------------------------------------------------------------------------------------------------


def _euros(value: Any, name: str) -> int | float | None:
    if value is None and name == "cap_eur":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise OptionError(f"{name}: expected an amount in euros, found {value!r}")
    try:
        dec = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise OptionError(f"{name}: expected an amount in euros, found {value!r}") from None
    return int(dec) if dec == dec.to_integral_value() else float(dec)


def _share(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise OptionError(f"{name}: expected a share (e.g. 0.05 for 5 %), found {value!r}")
    return round(float(value), 6)


def _normalise(name: str, value: Any, choices: Mapping[str, tuple[str, ...]]) -> Any:
    """One control value in the form the scenario file takes (shares to 10⁻⁶, euros to the cent)."""
    if name in _SHARES:
        return _share(value, name)
    if name in _EUROS:
        return _euros(value, name)
    if name in _BOOLS:
        if not isinstance(value, bool | np.bool_):
            raise OptionError(f"{name}: expected true or false, found {value!r}")
        return bool(value)
    if name == "statuses":
        values = [value] if isinstance(value, str) else list(value)
        unknown = [v for v in values if v not in config.STATUSES]
        if unknown:
            raise OptionError(f"statuses: expected among {', '.join(config.STATUSES)}, found {unknown}")
        return tuple(s for s in config.STATUSES if s in values)
    if name == "tiers":
        values = [value] if isinstance(value, str) else list(value)
        return tuple(str(v) for v in values)
    if name == "unit" and value not in choices["unit"]:
        raise OptionError(f"unit: expected one of {', '.join(choices['unit'])}, found {value!r}")
    if not isinstance(value, str):
        raise OptionError(f"{name}: expected a code, found {value!r}")
    return value


def _get(d: Mapping[str, Any], path: tuple[str, str]) -> Any:
    return d.get(path[0], {}).get(path[1])


def _plain(value: Any) -> Any:
    """JSON/YAML-friendly value (tuples → lists)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyFigure:
    """One key figure as published: its value, or nothing when built from 1–4 establishments (or units).

    Attributes
    ----------
    key : str
        ``n_units_eligible``, ``n_eligible``, ``allocated``, ``unallocated``, ``induced`` or ``avoided``.
    value : float or int or None
        Cents for ``allocated``/``unallocated``, euros for ``induced``/``avoided``, a count otherwise;
        None when suppressed or unavailable.
    text : str
        As shown (French number format by default; ``< 5`` or "non diffusé" when suppressed).
    suppressed : bool
    """

    key: str
    value: float | int | None
    text: str
    suppressed: bool = False


@dataclass
class Outcome:
    """Everything the app shows for one scenario, already aggregated and suppressed.

    Attributes
    ----------
    scenario : Scenario
    result : AllocationResult
        The library's result (internal: complete, establishment-level; never shown as such).
    key_figures : dict of str to KeyFigure
    by_region, by_status : DataFrame
        :func:`grants_by_group` (the cells of :func:`cyberbudget.reports.disclosure.breakdown`, grants missing
        where suppressed), extended to count units as well under a funding unit other than ``establishment``.
    avoided_error : str or None
        Why the avoided loss could not be computed, if it could not.
    """

    scenario: Scenario
    result: AllocationResult
    key_figures: dict[str, KeyFigure]
    by_region: pd.DataFrame
    by_status: pd.DataFrame
    avoided_error: str | None = None


@dataclass(frozen=True)
class Update:
    """What :meth:`WhatIf.update` did.

    Attributes
    ----------
    ok : bool
        The new settings form a valid scenario and were allocated.
    changed : tuple of str
        Controls whose value changed.
    error : str or None
        The library's message when the settings are invalid (the figures stay those of the last valid scenario).
    elapsed_ms : float
        From the call to updated figure data.
    """

    ok: bool
    changed: tuple[str, ...]
    error: str | None
    elapsed_ms: float


def _unit_kind(scenario: Scenario) -> str:
    return str(getattr(scenario.allocation, "unit", "establishment"))


def _units_column(result: AllocationResult, scenario: Scenario) -> pd.Series | None:
    """Each row's funding unit key, when the scenario funds units other than establishments."""
    if _unit_kind(scenario) == "establishment" or "unit" not in result.table.columns:
        return None
    return result.table["unit"].astype(str)


def _suppress_units(rows: pd.DataFrame, table: pd.DataFrame, by: str, units: pd.Series,
                    k: int = config.MIN_CELL_SIZE) -> pd.DataFrame:
    """Extend a breakdown's suppression so that no cell is built from fewer than ``k`` units either.

    DESIGN.md ("Units"): under a unit other than ``establishment`` the small-cell rule counts units as well as
    establishments. Primary: fewer than ``k`` units in the group, or 1 to ``k − 1`` eligible or recipient units.
    Secondary: the line (grand total) is made safe on both counts, as
    :func:`cyberbudget.reports.disclosure.secondary_mask_1d` does for establishments.
    """
    keys = table[by].astype(str)
    frame = pd.DataFrame({"key": keys, "unit": units.to_numpy(), "eligible": table["eligible"].to_numpy(bool),
                          "grant": table["grant_cents"].to_numpy(np.int64) > 0})
    n_units = frame.groupby("key")["unit"].nunique()
    n_elig = frame[frame["eligible"]].groupby("key")["unit"].nunique()
    n_rec = frame[frame["grant"]].groupby("key")["unit"].nunique()
    group = rows[by].astype(str)
    nu = group.map(n_units).fillna(0).to_numpy(np.int64)
    ne = group.map(n_elig).fillna(0).to_numpy(np.int64)
    nr = group.map(n_rec).fillna(0).to_numpy(np.int64)
    n_est = rows["n_establishments"].to_numpy(np.int64)
    # recipients per group among establishments, for the secondary rule on establishments
    est_rec = frame[frame["grant"]].groupby("key").size()
    er = group.map(est_rec).fillna(0).to_numpy(np.int64)
    already = rows["suppressed"].to_numpy(str) != ""
    primary = already | disclosure.primary_mask(nu, ne, nr, k)
    mask = primary.copy()
    while True:
        new = disclosure.secondary_mask_1d(n_est, er, mask, k)
        new = disclosure.secondary_mask_1d(nu, nr, new, k)
        if (new == mask).all():
            break
        mask = new
    if (mask == already).all():
        return rows
    out = rows.copy()
    fresh = mask & ~already
    for col in ("n_eligible", "grant_cents"):
        if col in out.columns:
            out.loc[fresh, col] = pd.NA
    for col in ("eligible_share", "grant_eur", "grant_share", "it_budget_eur", "cyber_spend_eur", "cyber_share",
                "grant_per_bed_eur"):
        if col in out.columns:
            out.loc[fresh, col] = np.nan
    reason = out["suppressed"].to_numpy(object)
    reason[fresh & primary] = "primary"
    reason[fresh & ~primary] = "secondary"
    out["suppressed"] = reason
    return out


#: Columns of the allocation table the risk model reads (``cyberbudget.risk.assess``).
_RISK_COLUMNS: tuple[str, ...] = ("finess", "eligible", "grant_cents", "beds", "places", "it_budget_eur",
                                  "cyber_spend_eur", "cyber_spend_before_eur")


def _risk_input(table: pd.DataFrame, res: pd.DataFrame) -> pd.DataFrame:
    """The allocation table as :func:`cyberbudget.risk.assess` reads it, without the grouping columns.

    ``assess`` also summarises by region, status and category, which the app does not show and which costs
    more than the model itself; without those columns it skips them. ``had_places`` and ``medico_social`` come
    from the establishment table (rows in the same ``finess`` order), as ``assess`` itself would take them.
    The totals are those of ``assess(result)`` (a test checks it).
    """
    frame = res.loc[:, list(_RISK_COLUMNS)]
    for col, default in (("had_places", 0), ("medico_social", False)):
        if col in table.columns:
            frame[col] = table[col].to_numpy()
        else:
            frame[col] = default
    return frame


def grants_by_group(res: pd.DataFrame, by: str, groups: tuple[str, ...] | list[str],
                    k: int = config.MIN_CELL_SIZE) -> pd.DataFrame:
    """Grants by group with primary and secondary suppression — the cells of
    :func:`cyberbudget.reports.disclosure.breakdown` that the app draws, computed with ``numpy.bincount``.

    The suppression itself is the library's (:func:`~cyberbudget.reports.disclosure.primary_mask` on
    establishments, eligible establishments and recipients per group, then
    :func:`~cyberbudget.reports.disclosure.secondary_mask_1d` in the order of ``groups``), so a cell is shown
    exactly when a published report shows it; a test compares both on many scenarios. ``breakdown`` builds
    every column of the published tables with pandas and costs about 35 ms a call, half of an update: the app
    needs five columns.

    Parameters
    ----------
    res : DataFrame
        ``AllocationResult.table`` (``<by>``, ``eligible``, ``grant_cents``).
    by : str
        Grouping column.
    groups : sequence of str
        The groups, in order (those absent from the table are left out, as ``breakdown(..., groups=)`` does).

    Returns
    -------
    DataFrame
        ``<by>, n_establishments, n_eligible (Int64), grant_cents (Int64), grant_eur, suppressed`` with the
        figures of suppressed cells missing and ``suppressed`` ``""``, ``"primary"`` or ``"secondary"``.
    """
    keys = res[by].astype(str).to_numpy(dtype=object)
    codes, uniques = pd.factorize(keys, sort=False)
    present = {str(u): i for i, u in enumerate(uniques)}
    order = [g for g in groups if g in present]
    idx = np.array([present[g] for g in order], dtype=np.int64)
    m = len(uniques)
    grant = res["grant_cents"].to_numpy(np.int64)
    n = np.bincount(codes, minlength=m)[idx]
    n_eligible = np.bincount(codes, weights=res["eligible"].to_numpy(bool), minlength=m)[idx].round().astype(np.int64)
    recipients = np.bincount(codes, weights=grant > 0, minlength=m)[idx].round().astype(np.int64)
    cents = np.zeros(m, dtype=np.int64)
    np.add.at(cents, codes, grant)
    cents = cents[idx]
    primary = disclosure.primary_mask(n, n_eligible, recipients, k)
    mask = disclosure.secondary_mask_1d(n, recipients, primary, k)
    out = pd.DataFrame({
        by: order,
        "n_establishments": n,
        "n_eligible": pd.array(np.where(mask, 0, n_eligible), dtype="Int64"),
        "grant_cents": pd.array(np.where(mask, 0, cents), dtype="Int64"),
        "grant_eur": np.where(mask, np.nan, cents / 100),
        "suppressed": np.where(primary, "primary", np.where(mask, "secondary", "")),
    })
    out.loc[mask, ["n_eligible", "grant_cents"]] = pd.NA
    return out


def _small(n: int, k: int = config.MIN_CELL_SIZE) -> bool:
    return 0 < n < k


def _outcome(table: pd.DataFrame, scenario: Scenario, lang: str) -> Outcome:
    """Allocate ``scenario`` on ``table`` and aggregate what the app shows (see the module docstring)."""
    from cyberbudget.risk import assess

    result = allocate(table, scenario)
    res = result.table
    summary = result.summary
    k = config.MIN_CELL_SIZE
    units = _units_column(result, scenario)
    by_region = grants_by_group(res, "region", config.REGIONS)
    by_status = grants_by_group(res, "status", config.STATUSES)
    if units is not None:
        by_region = _suppress_units(by_region, res, "region", units)
        by_status = _suppress_units(by_status, res, "status", units)

    grants = res["grant_cents"].to_numpy(np.int64)
    recipients = int((grants > 0).sum())
    recipient_units = int(units[grants > 0].nunique()) if units is not None else recipients
    hide_money = _small(recipients, k) or _small(recipient_units, k)
    figs: dict[str, KeyFigure] = {}

    def count(key: str, n: int) -> KeyFigure:
        if _small(n, k):
            return KeyFigure(key, None, word(lang, "below_k", k=k), True)
        return KeyFigure(key, n, fmt_int(n, lang))

    n_eligible = int(summary["n_eligible"])
    units_summary = summary.get("units")
    if isinstance(units_summary, Mapping) and "n_eligible" in units_summary:
        figs["n_units_eligible"] = count("n_units_eligible", int(units_summary["n_eligible"]))
    else:
        figs["n_units_eligible"] = count("n_units_eligible", n_eligible)
    figs["n_eligible"] = count("n_eligible", n_eligible)
    for key, cents in (("allocated", int(summary["allocated_cents"])), ("unallocated", int(summary["unallocated_cents"]))):
        figs[key] = (KeyFigure(key, None, word(lang, "not_disclosed"), True) if hide_money
                     else KeyFigure(key, cents, fmt_cents(cents, lang, decimals=0)))
    induced = res["induced_spend_eur"].to_numpy(np.float64)
    n_complied = int((induced > 0).sum())
    induced_total = float(summary["induced_spend_eur"])
    figs["induced"] = (KeyFigure("induced", None, word(lang, "not_disclosed"), True) if _small(n_complied, k)
                       else KeyFigure("induced", induced_total, fmt_eur(induced_total, lang)))
    avoided_error = None
    try:
        risk = assess(_risk_input(table, res), scenario)
    except CyberbudgetError as exc:
        avoided_error = str(exc)
        figs["avoided"] = KeyFigure("avoided", None, "–", True)
    else:
        per_row = risk.table["avoided_eur"].to_numpy(np.float64)
        n_contrib = int((np.abs(per_row) > 0).sum())
        avoided = float(risk.summary["avoided_eur"])
        figs["avoided"] = (KeyFigure("avoided", None, word(lang, "not_disclosed"), True) if _small(n_contrib, k)
                           else KeyFigure("avoided", avoided, fmt_eur(avoided, lang)))
    return Outcome(scenario, result, figs, by_region.reset_index(drop=True), by_status.reset_index(drop=True),
                   avoided_error)


# --------------------------------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------------------------------


class WhatIf:
    """The what-if app's state and results; :meth:`update` is the one path every control change takes.

    Parameters
    ----------
    table : DataFrame
        A validated establishment table (:func:`cyberbudget.load_establishments`).
    reference : str or Path, default ``"baseline"``
        The reference scenario: a name of ``scenarios_dir`` or a path. The controls start at its values.
    scenarios_dir : str or Path, default ``scenarios/``
        Where the reference dropdown lists ``*.yaml`` and where :meth:`save` writes.
    lang : {"fr", "en"}, default ``"fr"``
    source : str, optional
        How to name the table on the page (default: "table par défaut" or the path given to :meth:`open`).

    Attributes
    ----------
    state : dict
        Current control values (see :data:`CONTROLS`), in the form of the scenario file.
    error : str or None
        Message of the last invalid update (None when the figures match the controls).
    figures : dict of str to dict
        Plotly figure JSON (``data``, ``layout``) of ``histogram``, ``by_region``, ``by_status``,
        ``difference``; rebuilt by every valid update.
    """

    def __init__(self, table: pd.DataFrame, reference: str | os.PathLike[str] = "baseline", *,
                 scenarios_dir: str | os.PathLike[str] = config.SCENARIOS_DIR, lang: str = "fr",
                 source: str | None = None) -> None:
        self.lang = check_lang(lang)
        self.scenarios_dir = Path(scenarios_dir)
        if "finess" in table.columns and not table["finess"].is_monotonic_increasing:
            table = table.sort_values("finess", kind="stable")
        self.table = table.reset_index(drop=True)
        self.source = source
        self.choices = control_choices(self.table)
        self.controls = tuple(CONTROLS)
        self.error: str | None = None
        self._reference_cache: dict[tuple[str, float], tuple[dict[str, Any], Outcome]] = {}
        self._hist_cache: dict[tuple, pd.DataFrame] = {}
        self.reference_path = self._resolve_reference(reference)
        self.reference_dict, self.reference = self._load_reference(self.reference_path)
        self.state: dict[str, Any] = self._controls_of(self.reference.scenario)
        self.current: Outcome = self.reference
        self.figures: dict[str, dict[str, Any]] = {}
        self._redraw()

    # ---- construction ------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, data: str | os.PathLike[str] | None = None, reference: str | os.PathLike[str] = "baseline",
             **kwargs: Any) -> WhatIf:
        """Load the table (``None`` or ``""``: the committed default) and build the app.

        Raises
        ------
        TableError
            The table cannot be read or does not follow the schema.
        """
        path = data or None
        table = load_establishments(path)
        kwargs.setdefault("source", str(path) if path else None)
        return cls(table, reference, **kwargs)

    def _resolve_reference(self, reference: str | os.PathLike[str]) -> Path:
        text = str(reference)
        if isinstance(reference, Path) or "/" in text or text.endswith((".yaml", ".yml")):
            path = Path(reference)
        else:  # a name: the app's folder first, then scenarios/ (as `extends:` resolves names)
            path = self.scenarios_dir / f"{text}.yaml"
            if not path.is_file():
                path = config.SCENARIOS_DIR / f"{text}.yaml"
        if not path.is_file():
            known = ", ".join(list_references(self.scenarios_dir))
            raise OptionError(f"{path}: reference scenario not found (known: {known})")
        return path.resolve()

    def _load_reference(self, path: Path) -> tuple[dict[str, Any], Outcome]:
        key = (str(path), path.stat().st_mtime)
        if key not in self._reference_cache:
            scenario = load_scenario(path)
            resolved = scenario.to_dict()
            resolved["extends"] = None
            self._reference_cache[key] = (resolved, _outcome(self.table, scenario, self.lang))
        resolved, outcome = self._reference_cache[key]
        return copy.deepcopy(resolved), outcome

    def _controls_of(self, scenario: Scenario) -> dict[str, Any]:
        data = scenario.to_dict()
        state = {}
        for name in self.controls:
            value = _get(data, CONTROLS[name])
            if name == "unit" and value is None:
                value = "establishment"
            state[name] = _normalise(name, value, self.choices)
        return state

    # ---- properties ---------------------------------------------------------------------------------------------

    @property
    def reference_name(self) -> str:
        """File stem of the reference scenario (what the dropdown shows and ``extends:`` names)."""
        return self.reference_path.stem

    @property
    def references(self) -> list[str]:
        """Scenario names offered as references (the ``*.yaml`` of ``scenarios_dir``)."""
        names = list_references(self.scenarios_dir)
        if self.reference_name not in names:
            names.append(self.reference_name)
        return names

    @property
    def scenario(self) -> Scenario:
        """The last valid scenario (the one the figures show)."""
        return self.current.scenario

    @property
    def result(self) -> AllocationResult:
        """The library's allocation of the last valid scenario (internal, establishment-level)."""
        return self.current.result

    @property
    def key_figures(self) -> dict[str, KeyFigure]:
        """Key figures of the current scenario (published form)."""
        return self.current.key_figures

    @property
    def reference_key_figures(self) -> dict[str, KeyFigure]:
        """Key figures of the reference scenario (published form)."""
        return self.reference.key_figures

    @property
    def unit_kind(self) -> str:
        """The current funding unit (``establishment`` until units exist in the engine)."""
        return _unit_kind(self.scenario)

    @property
    def has_medico_social(self) -> bool:
        """Whether the table has medico-social rows (otherwise the medico-social control changes nothing)."""
        return "medico_social" in self.table.columns and bool(self.table["medico_social"].astype(bool).any())

    # ---- the update path ----------------------------------------------------------------------------------------

    def scenario_dict(self, state: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The reference's resolved keys with the control values laid over (what :meth:`update` validates)."""
        state = self.state if state is None else state
        data = copy.deepcopy(self.reference_dict)
        for name, value in state.items():
            section, key = CONTROLS[name]
            if name == "floor_eur" and state.get("rule") not in FLOOR_RULES:
                value = 0  # the floor applies to the proportional (and optimal) rule only
            data.setdefault(section, {})[key] = _plain(value)
        return data

    def update(self, **changes: Any) -> Update:
        """Apply control changes and recompute everything the app shows.

        Parameters
        ----------
        **changes
            Control values by name (:data:`CONTROLS`; ``unit`` only when the engine has units), e.g.
            ``min_share=0.06``, ``cap_eur=2_000_000``, ``statuses=["public"]``. ``reference=NAME`` first loads
            that reference scenario and resets every control to its values (the other changes then apply).

        Returns
        -------
        Update
            ``ok`` False with the library's message when the settings are not a valid scenario or cannot be
            allocated; the figures then stay those of the last valid scenario.

        Raises
        ------
        OptionError
            An unknown control, or a value of the wrong kind (a word where a share is expected, ...).
        """
        start = time.perf_counter()
        changes = dict(changes)
        reference = changes.pop("reference", None)
        unknown = sorted(set(changes) - set(self.controls))
        if unknown:
            raise OptionError(f"unknown control(s) {', '.join(unknown)}; "
                              f"expected among {', '.join(self.controls)}")
        values = {name: _normalise(name, value, self.choices) for name, value in changes.items()}
        changed: list[str] = []
        if reference is not None:
            path = self._resolve_reference(reference)
            self.reference_dict, self.reference = self._load_reference(path)
            self.reference_path = path
            new_state = self._controls_of(self.reference.scenario)
            changed = ["reference", *(n for n in self.controls if new_state[n] != self.state.get(n))]
            self.state = new_state
            self.error = None
            self.current = self.reference
        changed += [n for n, v in values.items() if v != self.state[n] and n not in changed]
        self.state = {**self.state, **values}
        if reference is not None and not any(v != self.reference_state(n) for n, v in values.items()):
            self._redraw()  # the reference itself: already computed
            return Update(True, tuple(changed), None, (time.perf_counter() - start) * 1000)
        if not changed and self.error is None:
            return Update(True, (), None, (time.perf_counter() - start) * 1000)
        try:
            scenario = load_scenario(self.scenario_dict())
            outcome = _outcome(self.table, scenario, self.lang)
        except CyberbudgetError as exc:
            self.error = str(exc).replace("<dict>: ", "")
            return Update(False, tuple(changed), self.error, (time.perf_counter() - start) * 1000)
        self.error = None
        self.current = outcome
        self._redraw()
        return Update(True, tuple(changed), None, (time.perf_counter() - start) * 1000)

    def reference_state(self, name: str) -> Any:
        """The reference scenario's value of control ``name`` (normalised as in :attr:`state`)."""
        return self._controls_of(self.reference.scenario)[name]

    def reset(self) -> Update:
        """Every control back to the reference scenario's value."""
        return self.update(reference=self.reference_path)

    # ---- figures ------------------------------------------------------------------------------------------------

    def corridor_bins(self) -> pd.DataFrame:
        """The cyber-share histogram of the current scenario's scope (suppressed bins have ``n`` missing).

        Scope: rows whose status is in ``eligibility.statuses`` (and medico-social rows only when included);
        shares before the policy (no uptake). Under a funding unit other than ``establishment``, the rows of
        a unit are summed first (a unit's share is ``Σ cyber / Σ IT``, as for its eligibility).
        """
        s = self.scenario
        unit = _unit_kind(s)
        key = (s.eligibility.statuses, s.eligibility.medico_social, unit)
        if key not in self._hist_cache:
            t = self.table
            scope = t["status"].isin(s.eligibility.statuses).to_numpy(dtype=bool, copy=True)
            if "medico_social" in t.columns and not s.eligibility.medico_social:
                scope &= ~t["medico_social"].astype(bool).to_numpy()
            frame = pd.DataFrame({"it_budget_eur": t["it_budget_eur"].to_numpy(np.float64)[scope],
                                  "cyber_spend_eur": t["cyber_spend_eur"].to_numpy(np.float64)[scope]})
            units = _units_column(self.result, s)
            if units is not None:
                frame["unit"] = units.to_numpy()[scope]
                frame = frame.groupby("unit", sort=True)[["it_budget_eur", "cyber_spend_eur"]].sum()
            self._hist_cache[key] = disclosure.share_histogram(frame, width=HIST_WIDTH, upper=HIST_UPPER)
            self._hist_cache[key].attrs["n_below_by"] = (frame["cyber_spend_eur"].to_numpy(),
                                                         frame["it_budget_eur"].to_numpy())
        return self._hist_cache[key]

    def _redraw(self) -> None:
        s = self.scenario
        bins = self.corridor_bins()
        cyber, it = bins.attrs["n_below_by"]
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(it > 0, cyber / np.where(it > 0, it, 1.0), np.nan)
        n_total = int(np.isfinite(share).sum())
        n_below = int((share < s.eligibility.min_share).sum())
        units = _unit_kind(s) != "establishment"
        self.figures = {
            "histogram": figures.corridor_histogram(
                bins, s.eligibility.min_share, s.eligibility.max_share, s.eligibility.exclude_above_max,
                n_below=None if _small(n_below) else n_below, n_total=n_total, units=units, lang=self.lang),
            "by_region": figures.grants_by(self.current.by_region, self.reference.by_region, "region",
                                           reference_name=self.reference_name, lang=self.lang),
            "by_status": figures.grants_by(self.current.by_status, self.reference.by_status, "status",
                                           reference_name=self.reference_name, lang=self.lang),
            "difference": figures.difference(
                {"status": (self.current.by_status, self.reference.by_status),
                 "region": (self.current.by_region, self.reference.by_region)},
                reference_name=self.reference_name, lang=self.lang),
        }

    def key_figure_rows(self) -> list[dict[str, Any]]:
        """Key figures as table rows: ``key``, ``label``, ``current``, ``reference``, ``difference`` (texts).

        The difference is given only when both sides are published; the units row appears only under a funding
        unit other than ``establishment``.
        """
        rows = []
        cur, ref = self.key_figures, self.reference_key_figures
        unit = self.unit_kind
        for key in ("n_units_eligible", "n_eligible", "allocated", "unallocated", "induced", "avoided"):
            if key == "n_units_eligible" and unit == "establishment" and _unit_kind(self.reference.scenario) == unit:
                continue
            label = (word(self.lang, key, unit=word(self.lang, f"unit_{unit}")) if key == "n_units_eligible"
                     else word(self.lang, key))
            a, b = cur[key], ref[key]
            if a.value is None or b.value is None:
                diff = word(self.lang, "not_disclosed") if (a.suppressed or b.suppressed) else "–"
            else:
                delta = a.value - b.value
                sign = "+" if delta > 0 else ""
                if key in ("allocated", "unallocated"):
                    diff = sign + fmt_cents(int(delta), self.lang, decimals=0) if delta else "0"
                elif key in ("induced", "avoided"):
                    diff = sign + fmt_eur(delta, self.lang) if round(delta) else "0"
                else:
                    diff = sign + fmt_int(int(delta), self.lang) if delta else "0"
            rows.append({"key": key, "label": label, "current": a.text, "reference": b.text, "difference": diff})
        return rows

    # ---- saving -------------------------------------------------------------------------------------------------

    def differences(self) -> dict[str, dict[str, Any]]:
        """The scenario keys whose value differs from the reference, nested as in a scenario file."""
        cur = self.scenario.to_dict()
        ref = self.reference.scenario.to_dict()
        out: dict[str, dict[str, Any]] = {}
        for name in self.controls:
            path = CONTROLS[name]
            a, b = _get(cur, path), _get(ref, path)
            if a != b:
                out.setdefault(path[0], {})[path[1]] = _plain(a)
        return out

    def _describe_changes(self) -> str:
        """The differences from the reference in words, for the saved file's description."""
        from cyberbudget.reports.plots import label as group_label

        lang = self.lang
        parts = []
        for section, keys in self.differences().items():
            for key, value in keys.items():
                name = next(n for n, p in CONTROLS.items() if p == (section, key))
                label = re.sub(r"\s*\(.*\)$", "", word(lang, "total_meur" if name == "total_eur" else name))
                if name in _SHARES:
                    text = fmt_share(value, lang)
                elif name in _EUROS:
                    text = word(lang, "none") if value is None else fmt_cents(
                        scenario_mod.euros_to_cents(value), lang, decimals=None)
                elif name == "statuses":
                    text = ", ".join(group_label("status", v, lang) for v in value)
                elif name == "tiers":
                    text = " > ".join(figures.tier_label(v, lang) for v in value)
                elif isinstance(value, bool):
                    text = word(lang, "yes" if value else "no")
                else:
                    text = choice(lang, name, str(value))
                parts.append(f"{label.lower()} {text}")
        return "; ".join(parts)

    def save(self, name: str, *, overwrite: bool = False, folder: str | os.PathLike[str] | None = None,
             description: str | None = None) -> Path:
        """Write the current settings as a scenario file that ``extends:`` the reference.

        Parameters
        ----------
        name : str
            Scenario name and file stem (``[a-z0-9_-]+``); the file is ``<folder>/<name>.yaml``.
        overwrite : bool, default False
            Replace an existing file.
        folder : str or Path, optional
            Default: ``scenarios_dir`` (the reference list then offers the new scenario).
        description : str, optional
            Default: a sentence listing the changes.

        Returns
        -------
        Path
            The file written, ready for ``cyberbudget run`` and ``batch``.

        Raises
        ------
        OptionError
            Invalid name, existing file without ``overwrite``, the reference's own file, or invalid settings.
        ReportError
            The written file did not resolve to the scenario on screen (nothing is then left behind).
        """
        lang = self.lang
        if self.error is not None:
            raise OptionError(word(lang, "save_invalid_state"))
        if not isinstance(name, str) or not scenario_mod.NAME_PATTERN.fullmatch(name):
            raise OptionError(word(lang, "save_invalid_name", name=name))
        folder_path = Path(folder) if folder is not None else self.scenarios_dir
        path = folder_path / f"{name}.yaml"
        if path.resolve() == self.reference_path:
            raise OptionError(word(lang, "save_self", name=self.reference_name))
        if path.exists() and not overwrite:
            raise OptionError(word(lang, "save_exists", path=path))
        diff = self.differences()
        if description is None:
            changes = self._describe_changes()
            description = (word(lang, "save_description", reference=self.reference_name, changes=changes)
                           if changes else word(lang, "save_no_change", reference=self.reference_name))
        head = {"extends": self._extends_value(folder_path), "name": name, "description": description}
        header = "# " + word(lang, "save_header", date=dt.date.today().isoformat(),
                             reference=self.reference_name) + "\n"
        text = header + yaml.safe_dump(head, sort_keys=False, allow_unicode=True, width=100)
        if diff:
            text += yaml.safe_dump(diff, sort_keys=False, allow_unicode=True, width=100, default_flow_style=None)
        folder_path.mkdir(parents=True, exist_ok=True)
        tmp = folder_path / f".{name}.yaml.tmp"
        try:
            tmp.write_text(text, encoding="utf-8")
            written = load_scenario(tmp)
            expect = {k: v for k, v in self.scenario.to_dict().items() if k not in ("name", "description", "extends")}
            got = {k: v for k, v in written.to_dict().items() if k not in ("name", "description", "extends")}
            if got != expect:
                raise ReportError(f"{path}: the saved scenario does not resolve to the one on screen")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def _extends_value(self, folder: Path) -> str:
        ref = self.reference_path
        stem = ref.stem
        if ref.parent == folder.resolve():
            return stem
        if ref.parent == config.SCENARIOS_DIR.resolve() and not (folder / f"{stem}.yaml").exists():
            return stem  # resolve_extends falls back to scenarios/<name>.yaml
        try:
            return os.path.relpath(ref, folder.resolve())
        except ValueError:  # another drive (Windows)
            return str(ref)


def format_ms(ms: float) -> str:
    """Milliseconds for the status line."""
    return f"{ms:.0f}" if math.isfinite(ms) else "–"
