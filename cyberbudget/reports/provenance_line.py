"""What the data is: the line every published output opens with (issue 12 §2).

A reader must never take synthetic establishments for real ones, nor imputed budgets for observed ones. Every
published output — ``report.html`` (and the PDF printed from it), the workbook's ``summary`` sheet, the batch
``index.html``, the what-if app — states in its first lines the table used and its *nature*, the scenario, the
production date and the cyberbudget version, through :func:`provenance_line` (one sentence) or
:func:`banner_html` (the same, as a banner: loud for synthetic data). ``manifest.json`` records it
(:meth:`DataProvenance.to_dict`).

The nature is decided from the table's ``imputed`` column (DESIGN.md, "The establishment table"):

- ``synthetic`` — some row carries the token ``synthetic`` (:data:`cyberbudget.data.synthetic.SYNTHETIC_TOKEN`):
  the establishments are fictitious;
- ``imputed`` — otherwise, some row has an imputed budget column (``operating_budget_eur``, ``it_budget_eur``,
  ``cyber_spend_eur``): the real registry (SAE import) with budgets estimated from published ratios;
- ``supplied`` — no budget is imputed: the budgets are the user's own figures.

Examples
--------
>>> import pandas as pd
>>> data_nature(pd.DataFrame({"imputed": ["it_budget_eur cyber_spend_eur synthetic", ""]}))
'synthetic'
>>> data_nature(pd.DataFrame({"imputed": ["ght", "it_budget_eur"]})), data_nature(pd.DataFrame({"imputed": ["ght"]}))
('imputed', 'supplied')
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from cyberbudget.data.schema import MONEY_COLUMNS
from cyberbudget.data.synthetic import SYNTHETIC_TOKEN
from cyberbudget.reports.i18n import long_date, t

if TYPE_CHECKING:
    from cyberbudget.reports.computed import Computed

__all__ = [
    "NATURES", "DataProvenance", "banner_html", "batch_provenance", "data_nature", "describe", "imputed_rows",
    "nature_text",
    "provenance_line", "provenance_of", "summary_lines",
]

#: The natures of an establishment table, from the least to the most real.
NATURES: tuple[str, ...] = ("synthetic", "imputed", "supplied")

#: Inline style of the banners (the page's CSS may be replaced by another template: the banner keeps its look).
_STYLES: dict[str, str] = {
    "synthetic": ("background:#FFF3CD;border:2px solid #B45F06;color:#5C3300;padding:8px 12px;margin:6px 0 10px 0;"
                  "font-size:14px;border-radius:4px"),
    "imputed": ("background:#F3F4F6;border-left:4px solid #0072B2;color:#222;padding:6px 12px;margin:6px 0 10px 0;"
                "font-size:13px"),
    "supplied": ("background:#F3F4F6;border-left:4px solid #009E73;color:#222;padding:6px 12px;margin:6px 0 10px 0;"
                 "font-size:13px"),
}


def _tokens(table: pd.DataFrame) -> list[set[str]]:
    if "imputed" not in table.columns:
        return [set() for _ in range(len(table))]
    return [set(str(x).split()) if isinstance(x, str) else set() for x in table["imputed"].tolist()]


def imputed_rows(table: pd.DataFrame) -> int:
    """Rows with at least one imputed budget column (``operating_budget_eur``, ``it_budget_eur``,
    ``cyber_spend_eur``)."""
    money = set(MONEY_COLUMNS)
    return int(sum(bool(tok & money) for tok in _tokens(table)))


def data_nature(table: pd.DataFrame) -> str:
    """``synthetic``, ``imputed`` or ``supplied`` (see the module docstring)."""
    tokens = _tokens(table)
    if any(SYNTHETIC_TOKEN in tok for tok in tokens):
        return "synthetic"
    if imputed_rows(table):
        return "imputed"
    return "supplied"


def _version() -> str:
    from cyberbudget import __version__

    return str(__version__)


@dataclass(frozen=True)
class DataProvenance:
    """What a published output is built from.

    Attributes
    ----------
    nature : str
        One of :data:`NATURES`.
    table : str
        The table's file name (no folder: published outputs carry no local path).
    scenario : str
        The scenario's name (several names, comma-separated, for a comparison).
    produced : datetime.date
        The production date.
    version : str
        The cyberbudget version that produced the output.
    n_establishments : int
        Rows of the table.
    n_imputed : int
        Rows with at least one imputed budget column (after ``overrides``).
    overrides : str
        The file name of the real budget figures applied to the table (``--overrides``), empty if none.
    """

    nature: str
    table: str
    scenario: str
    produced: dt.date = field(default_factory=dt.date.today)
    version: str = field(default_factory=_version)
    n_establishments: int = 0
    n_imputed: int = 0
    overrides: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the ``data`` entry of ``manifest.json``)."""
        return {"nature": self.nature, "table": self.table, "scenario": self.scenario,
                "produced": self.produced.isoformat(), "cyberbudget": self.version,
                "n_establishments": self.n_establishments, "n_imputed": self.n_imputed, "overrides": self.overrides}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DataProvenance:
        """The inverse of :meth:`to_dict` (e.g. read back from a manifest)."""
        return cls(nature=str(d["nature"]), table=str(d["table"]), scenario=str(d["scenario"]),
                   produced=dt.date.fromisoformat(str(d["produced"])), version=str(d["cyberbudget"]),
                   n_establishments=int(d.get("n_establishments", 0)), n_imputed=int(d.get("n_imputed", 0)),
                   overrides=str(d.get("overrides") or ""))


def describe(table: pd.DataFrame, table_path: str | Path | None, scenario: str,
             produced: dt.date | None = None, overrides: str | Path | None = None) -> DataProvenance:
    """The provenance of an output built from ``table`` (read from ``table_path``, with the real figures of
    ``overrides`` applied) under ``scenario``.

    ``table_path`` None means the committed default table.
    """
    from cyberbudget import config

    name = Path(table_path).name if table_path else Path(config.DEFAULT_TABLE).name
    return DataProvenance(nature=data_nature(table), table=name, scenario=str(scenario),
                          produced=produced or dt.date.today(), n_establishments=int(len(table)),
                          n_imputed=imputed_rows(table), overrides=Path(overrides).name if overrides else "")


def provenance_of(computed: Computed, produced: dt.date | None = None) -> DataProvenance:
    """:func:`describe` for what ``run`` computed."""
    return describe(computed.table, computed.data_path, computed.scenario.name, produced,
                    getattr(computed, "overrides_path", None))


def batch_provenance(out: str | Path, outcomes: Sequence[Any], data: str | Path | None = None) -> DataProvenance | None:
    """What a batch's reports are built from (its ``index.html`` opens with it): the ``data`` entry of the first
    finished report's ``manifest.json``, else the table ``data`` described now; the scenarios are the batch's.
    None when neither can be read.

    Parameters
    ----------
    out : path
        The batch folder.
    outcomes : sequence of :class:`cyberbudget.reports.batch.Outcome`
    data : path, optional
        The batch's establishment table.
    """
    import json

    names = ", ".join(str(o.name) for o in outcomes)
    for o in outcomes:
        if o.status in ("ok", "skipped") and o.output:
            try:
                entry = json.loads((Path(out) / o.output / "manifest.json").read_text(encoding="utf-8"))["data"]
                prov = DataProvenance.from_dict(entry)
            except (OSError, ValueError, KeyError, TypeError):
                continue
            return dataclasses.replace(prov, scenario=names, produced=dt.date.today())
    if data is None:
        return None
    from cyberbudget.data.registry import load_establishments
    from cyberbudget.errors import CyberbudgetError

    try:
        return describe(load_establishments(data), data, names)
    except (CyberbudgetError, OSError):
        return None


def nature_text(prov: DataProvenance, lang: str = "fr") -> str:
    """The nature of the data, as a sentence: ``Données synthétiques : …``.

    Examples
    --------
    >>> p = DataProvenance("imputed", "sae.csv", "baseline", dt.date(2026, 11, 30), "1.0", 3000, 2990)
    >>> nature_text(p, "en").startswith("SAE 2023 registry, imputed budgets")
    True
    """
    from cyberbudget.formatting import fmt_int

    text = t(f"data.nature.{prov.nature}", lang, n=fmt_int(prov.n_establishments, lang),
             n_imputed=fmt_int(prov.n_imputed, lang))
    return text + (t("data.overrides", lang, file=prov.overrides) if prov.overrides else "")


def provenance_line(prov: DataProvenance, lang: str = "fr") -> str:
    """The opening line of every published output: the data's nature, the table, the scenario, the production
    date and the cyberbudget version.

    Examples
    --------
    >>> p = DataProvenance("synthetic", "establishments.csv", "baseline", dt.date(2026, 11, 30), "1.0", 10, 10)
    >>> provenance_line(p, "en").split(" — ")[1:]
    ['table “establishments.csv”', 'scenario “baseline”', 'produced on 30 November 2026 with cyberbudget 1.0']
    >>> provenance_line(p, "fr").split(" — ")[-1]
    'produit le 30 novembre 2026 avec cyberbudget 1.0'
    """
    names = prov.scenario.split(", ")  # a comparison's scenarios
    if len(names) > 1:
        scenarios = ", ".join(t("plot.quoted", lang, name=n) for n in names)
        return t("data.line_many", lang, nature=nature_text(prov, lang), table=prov.table, scenarios=scenarios,
                 date=long_date(prov.produced, lang), version=prov.version)
    return t("data.line", lang, nature=nature_text(prov, lang), table=prov.table, scenario=prov.scenario,
             date=long_date(prov.produced, lang), version=prov.version)


def banner_html(prov: DataProvenance, lang: str = "fr") -> str:
    """:func:`provenance_line` as a banner (``<div class="cb-data cb-data-<nature>">``), with, for synthetic data,
    a loud warning first: impossible to mistake for real figures."""
    line = html.escape(provenance_line(prov, lang))
    warning = (f"<strong style='font-size:16px;letter-spacing:0.02em'>{html.escape(t('data.banner.synthetic', lang))}"
               "</strong><br>" if prov.nature == "synthetic" else "")
    return (f"<div class='cb-data cb-data-{prov.nature}' role='note' style='{_STYLES[prov.nature]}'>"
            f"{warning}{line}</div>")


def summary_lines(prov: DataProvenance, lang: str = "fr") -> list[str]:
    """The banner as plain lines (workbook, terminal): the warning for synthetic data, then the line."""
    first = [t("data.banner.synthetic", lang)] if prov.nature == "synthetic" else []
    return [*first, provenance_line(prov, lang)]
