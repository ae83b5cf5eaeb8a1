"""Scenario comparison: ``cyberbudget diff A B --report DIR`` and the ``scenario_comparison`` template.

:func:`comparison_tables` allocates several scenarios on one table and builds their published (suppressed)
breakdowns side by side, and the change in eligibility between the first two split by cause; the section functions
turn them into what the template displays, in the report's language (``lang``, French by default); :func:`compare`
executes the template and writes ``DIR/compare-<a>-vs-<b>/`` (``report.ipynb``, ``report.html``) through
:func:`cyberbudget.reports.folders.atomic_folder`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget import config, formatting
from cyberbudget.errors import OptionError
from cyberbudget.paths import check_writable_dir
from cyberbudget.reports import disclosure, tables
from cyberbudget.reports.computed import compute
from cyberbudget.reports.escaping import markdown_text
from cyberbudget.reports.execution import NOTEBOOK_NAME, execute_notebook
from cyberbudget.reports.folders import (
    atomic_folder,
    check_replaceable,
    created_folder,
    remove_partial_folders,
)
from cyberbudget.reports.html_export import HTML_NAME, export_html, markdown_html
from cyberbudget.reports.i18n import column, require_lang, t
from cyberbudget.reports.inputs import PathArg, resolve_scenario_path, resolve_table_path, resolve_template
from cyberbudget.reports.locks import output_lock
from cyberbudget.reports.private import remove_stale
from cyberbudget.reports.provenance_line import DataProvenance, banner_html, describe
from cyberbudget.reports.published import key_figures

__all__ = ["COMPARISON_FILES", "TEMPLATE", "Comparison", "compare", "comparison_tables", "diff_markdown",
           "eligibility_changes_html", "is_comparison_folder", "parameters_html", "published_changes",
           "title_html"]

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
    eligibility : dict
        :func:`cyberbudget.policy.diff.eligibility_changes` of the first two scenarios: ``lost`` and ``gained``,
        each cause → establishments (internal counts: publish them through :func:`published_changes`).
    provenance : DataProvenance or None
        The table and its nature, the scenarios, the date and version (the report's first lines).
    """

    names: list[str]
    groups: dict[str, pd.DataFrame]
    totals: pd.DataFrame
    parameters: pd.DataFrame
    diff_text: str
    eligibility: dict[str, dict[str, int]] | None = None
    provenance: DataProvenance | None = None


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
    from cyberbudget.policy.diff import DESCRIPTIVE_KEYS, diff, eligibility_changes, show_value

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
    keys = sorted(k for k in {k for f in flats for k in f} if k.split(".")[0] not in DESCRIPTIVE_KEYS)
    rows = [{"parameter": k, **{n: show_value(f.get(k)) for n, f in zip(names, flats, strict=True)}}
            for k in keys if len({json.dumps(f.get(k), sort_keys=True, default=str) for f in flats}) > 1]
    params = pd.DataFrame(rows, columns=["parameter", *names])
    diff_text = ""
    if len(computed) >= 2 and disclosure.disclosure_mode(computed[0].scenario) == "establishment":
        diff_text = diff(computed[0].scenario, computed[1].scenario, computed[0].table).to_text()
    changes = None
    if len(computed) >= 2:
        a, b = computed[0], computed[1]
        changes = eligibility_changes(a.table, a.scenario, b.scenario, a.result.table["eligible"],
                                      b.result.table["eligible"].to_numpy())
    prov = describe(computed[0].table, computed[0].data_path, ", ".join(names),
                    overrides=computed[0].overrides_path)
    return Comparison(names=names, groups=groups, totals=pd.DataFrame(totals), parameters=params,
                      diff_text=diff_text, eligibility=changes, provenance=prov)


def title_html(cmp: Comparison, lang: str = "fr") -> str:
    """The comparison's first lines, as HTML: the data's nature (a banner), the title, the reference and the
    disclosure rule (the catalogue's Markdown rendered by :func:`~cyberbudget.reports.html_export.markdown_html`)."""
    names = [markdown_text(n) for n in cmp.names]  # names are [a-z0-9_-]: "_" would still be emphasis
    banner = banner_html(cmp.provenance, lang) + "\n" if cmp.provenance is not None else ""
    return banner + markdown_html(f"# {t('cmp.title', lang, names=', '.join(names))}\n\n"
                                  f"{t('cmp.reference', lang, name=names[0], k=config.MIN_CELL_SIZE)}")


def parameters_html(cmp: Comparison, lang: str = "fr") -> str:
    """The parameters that differ between the scenarios, as an HTML table (values as written in a scenario file;
    one column per scenario, under its name)."""
    if cmp.parameters.empty:
        return f"<p>{html.escape(t('cmp.same_parameters', lang))}</p>"
    frame = cmp.parameters.rename(columns={"parameter": column("parameter", lang)})
    body = tables.html_table(frame, dict.fromkeys(frame.columns, str), lang=lang, headers=False)
    return f"<div class='cb-quoted'>{body}</div>"  # keys and values as written in the scenario files


def published_changes(cmp: Comparison, min_cell: int = config.MIN_CELL_SIZE) -> pd.DataFrame | None:
    """The change in eligibility between the first two scenarios, by cause, as published: ``cause, lost,
    gained`` then a ``total`` row, with a count of 1 to ``min_cell − 1`` establishments suppressed (missing), and
    secondary suppression so that the total reveals none (a total itself below ``min_cell`` is suppressed).
    None with fewer than two scenarios."""
    from cyberbudget.policy.diff import CHANGE_CAUSES

    if not cmp.eligibility:
        return None
    out = pd.DataFrame({"cause": [*CHANGE_CAUSES, "total"]})
    for side in ("lost", "gained"):
        counts = np.array([int(cmp.eligibility[side].get(c, 0)) for c in CHANGE_CAUSES], dtype=np.int64)
        total = int(counts.sum())
        live = counts > 0
        mask = np.zeros(len(counts), dtype=bool)
        if live.any():
            sub = counts[live]
            mask[live] = disclosure.secondary_mask_1d(sub, sub, sub < min_cell, min_cell)
        hide_total = 0 < total < min_cell or (live.any() and mask[live].all())
        values = [None if m else int(c) for c, m in zip(counts, mask, strict=True)]
        out[side] = pd.array([*values, None if hide_total else total], dtype="Int64")
    return out


def eligibility_changes_html(cmp: Comparison, lang: str = "fr") -> str:
    """:func:`published_changes` as an HTML table, with a sentence naming the scenarios (empty with fewer than
    two)."""
    frame = published_changes(cmp)
    if frame is None:
        return ""
    a, b = cmp.names[0], cmp.names[1]
    nd = t("nd.short", lang)
    shown = pd.DataFrame({
        column("cause", lang): [t(f"cmp.cause.{c}", lang) for c in frame["cause"]],
        t("cmp.lost", lang, a=a, b=b): [nd if pd.isna(v) else formatting.fmt_int(int(v), lang) for v in frame["lost"]],
        t("cmp.gained", lang, a=a, b=b): [nd if pd.isna(v) else formatting.fmt_int(int(v), lang)
                                          for v in frame["gained"]],
    })
    intro = t("cmp.changes_intro", lang, a=a, b=b, k=config.MIN_CELL_SIZE)
    return (f"<p>{html.escape(intro)}</p>"
            + tables.html_table(shown, dict.fromkeys(shown.columns, str), lang=lang, headers=False))


def diff_markdown(cmp: Comparison) -> str:
    """The establishment-level diff of the first two scenarios as a code block (empty when not published).

    The text holds establishment names: the fence is longer than any run of backticks in it, so nothing in a name
    can close the block and be read as Markdown.
    """
    if not cmp.diff_text:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", cmp.diff_text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{cmp.diff_text}\n{fence}"


def compare(scenario_paths: Sequence[PathArg], data: PathArg | None = None, out: PathArg = "reports", *,
            lang: str = "fr", exporter: Any = None, overrides: PathArg | None = None) -> Path:
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
    lang : {"fr", "en"}
        Language of every word and number of the report.
    overrides : path, optional
        Real budget figures replacing imputed ones in the table (``--overrides``).

    Returns
    -------
    Path
        The comparison folder.

    Raises
    ------
    InputError
        Fewer than two scenarios, a bad scenario or a bad table, an output folder that cannot be written, a
        comparison folder held by another process or not written by cyberbudget: raised before anything is
        written.
    ReportError
        The notebook failed.
    """
    from cyberbudget.data.overrides import apply_overrides
    from cyberbudget.data.registry import load_establishments
    from cyberbudget.policy.scenario import load_scenario

    lang = require_lang(lang)
    if len(scenario_paths) < 2:
        raise OptionError(f"compare: expected at least two scenarios, found {len(scenario_paths)}")
    check_writable_dir(out)  # before any work
    spaths = [resolve_scenario_path(p) for p in scenario_paths]
    names = [load_scenario(p).name for p in spaths]
    template = resolve_template(TEMPLATE)
    dpath = resolve_table_path(data)
    table = load_establishments(dpath)  # validates the table (and the overrides) before anything is written
    opath = resolve_table_path(overrides) if overrides else None
    if opath is not None:
        apply_overrides(table, opath)
    final = Path(out) / ("compare-" + "-vs-".join(names))
    remove_stale()
    with created_folder(out), output_lock(final, what="comparison folder"):
        remove_partial_folders(out, [final.name])
        check_replaceable(final, is_comparison_folder, "a comparison folder written by cyberbudget")
        with atomic_folder(final) as tmp:
            params = {"scenario_paths": [str(p) for p in spaths], "data_path": str(dpath), "lang": lang,
                      "overrides_path": "" if opath is None else str(opath)}
            nb = execute_notebook(template, tmp / NOTEBOOK_NAME, params, cwd=tmp)
            export_html(nb, tmp / HTML_NAME, exporter, title=f"cyberbudget — {' vs '.join(names)}",
                        lang=lang)
    return final


#: The files a comparison folder holds (``report.pdf`` when PDF output is asked for).
COMPARISON_FILES: frozenset[str] = frozenset({NOTEBOOK_NAME, HTML_NAME, "report.pdf"})


def is_comparison_folder(path: Path) -> bool:
    """Whether ``path`` holds only what :func:`compare` writes (so that it may be replaced)."""
    return {p.name for p in path.iterdir()} <= COMPARISON_FILES
