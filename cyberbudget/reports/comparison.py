"""Scenario comparison: ``cyberbudget diff A B --report DIR`` and the ``scenario_comparison`` template.

:func:`comparison_tables` allocates several scenarios on one table and builds their published (suppressed)
breakdowns side by side; the section functions turn them into what the template displays; :func:`compare`
executes the template and writes ``DIR/compare-<a>-vs-<b>/`` (``report.ipynb``, ``report.html``) through
:func:`cyberbudget.reports.folders.atomic_folder`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cyberbudget import config
from cyberbudget.errors import OptionError
from cyberbudget.reports import disclosure, tables
from cyberbudget.reports.computed import compute
from cyberbudget.reports.execution import NOTEBOOK_NAME, execute_notebook
from cyberbudget.reports.folders import atomic_folder
from cyberbudget.reports.html_export import HTML_NAME, export_html
from cyberbudget.reports.inputs import PathArg, resolve_scenario_path, resolve_table_path, resolve_template
from cyberbudget.reports.published import key_figures

__all__ = ["TEMPLATE", "Comparison", "compare", "comparison_tables", "diff_markdown", "parameters_html",
           "title_markdown"]

#: The template :func:`compare` executes.
TEMPLATE: str = "scenario_comparison"


@dataclass
class Comparison:
    """Published tables of several scenarios on the same table, for side-by-side figures.

    Attributes
    ----------
    names : list of str
        The scenarios' names; the first is the reference.
    groups : dict of str to DataFrame
        By ``region``, ``status``, ``category``: long ``scenario, <by>, n_establishments, n_eligible,
        grant_eur`` (suppressed cells missing).
    totals : DataFrame
        One row per scenario: ``scenario, rule, allocated_eur, unallocated_eur, n_eligible, n_establishments,
        eligible_share`` (suppressed figures missing).
    parameters : DataFrame
        The parameters that differ: ``parameter`` then one column per scenario.
    diff_text : str
        :func:`cyberbudget.policy.diff.diff` of the first two scenarios — only under ``disclosure:
        establishment`` (it names establishments), else empty.
    """

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


def comparison_tables(scenario_paths: Iterable[PathArg], data: PathArg | None = None,
                      min_cell: int = config.MIN_CELL_SIZE, *, overrides: PathArg | None = None) -> Comparison:
    """Allocate several scenarios on one table and build their published (suppressed) breakdowns.

    Raises
    ------
    OptionError
        No scenario given.
    InputError
        A scenario or the table is missing or invalid.
    """
    from cyberbudget.policy.diff import diff

    computed = [compute(p, data, overrides or None) for p in scenario_paths]
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
    if len(computed) >= 2 and disclosure.disclosure_mode(computed[0].scenario) == "establishment":
        diff_text = diff(computed[0].scenario, computed[1].scenario, computed[0].table).to_text()
    return Comparison(names=names, groups=groups, totals=pd.DataFrame(totals), parameters=params,
                      diff_text=diff_text)


def title_markdown(cmp: Comparison, lang: str = "en") -> str:
    """The comparison's title: the scenarios, the reference, and the disclosure rule."""
    return (f"# Scenario comparison: {', '.join(cmp.names)}\n\nReference: **{cmp.names[0]}**. Published figures "
            f"are aggregated; a figure built from fewer than {config.MIN_CELL_SIZE} establishments is not disclosed.")


def parameters_html(cmp: Comparison, lang: str = "en") -> str:
    """The parameters that differ between the scenarios, as an HTML table (values as in the scenarios)."""
    return tables.html_table(cmp.parameters, dict.fromkeys(cmp.parameters.columns, str), lang=lang)


def diff_markdown(cmp: Comparison) -> str:
    """The establishment-level diff of the first two scenarios as a code block (empty when not published)."""
    return f"```\n{cmp.diff_text}\n```" if cmp.diff_text else ""


def compare(scenario_paths: Sequence[PathArg], data: PathArg | None = None, out: PathArg = "reports", *,
            lang: str = "en", exporter: Any = None, overrides: PathArg | None = None) -> Path:
    """Execute the ``scenario_comparison`` template for several scenarios and write its report.

    Writes ``out/compare-<a>-vs-<b>…/`` with ``report.ipynb`` (really executed) and ``report.html``
    (self-contained, aggregated under the confidentiality rules), all at once or not at all.

    Parameters
    ----------
    scenario_paths : sequence of path
        Two or more scenario files; the first is the reference.
    data : path, optional
        Establishment table (default: the committed table).
    out : path
        Parent folder of the comparison folder.
    overrides : path, optional
        Real budget figures replacing imputed ones in the table (``--overrides``).

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
    from cyberbudget.data.overrides import apply_overrides
    from cyberbudget.data.registry import load_establishments
    from cyberbudget.policy.scenario import load_scenario

    if len(scenario_paths) < 2:
        raise OptionError(f"compare: expected at least two scenarios, found {len(scenario_paths)}")
    spaths = [resolve_scenario_path(p) for p in scenario_paths]
    names = [load_scenario(p).name for p in spaths]
    template = resolve_template(TEMPLATE)
    dpath = resolve_table_path(data)
    table = load_establishments(dpath)  # validates the table (and the overrides) before anything is written
    opath = resolve_table_path(overrides) if overrides else None
    if opath is not None:
        apply_overrides(table, opath)
    final = Path(out) / ("compare-" + "-vs-".join(names))
    with atomic_folder(final) as tmp:
        params = {"scenario_paths": [str(p) for p in spaths], "data_path": str(dpath), "lang": lang,
                  "overrides_path": "" if opath is None else str(opath)}
        nb = execute_notebook(template, tmp / NOTEBOOK_NAME, params, cwd=tmp)
        export_html(nb, tmp / HTML_NAME, exporter, title=f"cyberbudget — {' vs '.join(names)}")
    return final
