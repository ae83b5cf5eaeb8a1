"""The reports layer: everything that is written for a reader — report folders, notebooks, HTML, workbook, CSV,
manifest, batch index — with the disclosure rules applied to everything published.

Official public API (imported lazily: ``import cyberbudget.reports`` loads nothing heavy):

- one report: :func:`run` (``cyberbudget run``), :func:`verify` / :class:`VerifyResult` (``cyberbudget verify``),
  :func:`compare` / :func:`comparison_tables` / :class:`Comparison` (``cyberbudget diff --report``);
- many reports: :func:`run_batch` / :class:`BatchResult` / :class:`Outcome` (``cyberbudget batch``), and the
  batch's results store read back: :func:`load_batch` / :class:`BatchTables`;
- folders written whole or not at all: :func:`atomic_folder`;
- PDF and notices: :class:`Browser` / :func:`find_chromium` (one headless Chromium that prints pages,
  ``--pdf``), :func:`write_notices` / :class:`NoticesResult` (``cyberbudget notices``);
- the steps, reusable: :func:`load_inputs` / :class:`Inputs` and the path resolvers, :func:`compute` /
  :func:`compute_from` / :class:`Computed`, :func:`publish` / :class:`Published`, :func:`write_outputs`,
  :func:`execute_notebook`, :func:`html_exporter` / :func:`export_html`;
- what templates call first: :func:`notebook_context` and :func:`check_expected`; :class:`Unavailable` marks an
  analysis a scenario's rule does not support.

Modules, one concern each (``cyberbudget.reports.<module>``):

========================  =====================================================================================
``inputs``                resolving scenario, template and table paths; loading and validating them
``computed``              :class:`Computed`: the allocation and audit plan of one scenario, in-process
``published``             the aggregated, suppression-checked tables of a report
``outputs``               ``allocation.csv``, ``summary.json`` (byte-deterministic) and the workbook
``folders``               :func:`atomic_folder` (atomic even when processes race) and the clean-up of interrupted
                          writes; a folder that is not ours is never replaced
``locks``                 one writer per output folder (``DIR/.<name>.lock``, says who holds it)
``private``               this user's private (0700) temporary folder; what killed runs left there
``startup``               start-up of our own report processes (command line, batch workers): SIGTERM is Ctrl-C,
                          children die with their parent
``escaping``              input strings made inert in HTML, Markdown, plotly text, embedded JSON; the pages' CSP
``spreadsheets``          workbook cells (strings never formulas) and CSV cells neutralised for spreadsheets
``execution``             executing a template with papermill (parameters, kernel, failures)
``handover``              the run's results handed to the notebook through a private file
``html_export``           the self-contained ``report.html``
``runner``                ``run``: one scenario → one report folder
``verification``          ``verify``: re-run from the manifest, compare byte for byte
``comparison``            ``diff --report`` and the ``scenario_comparison`` template
``allocation_sections``   the sections of the ``allocation_report`` template
``risk_tables``           the tables of the ``risk_report`` template
``uncertainty_sections``  the sections of the ``uncertainty`` and ``sensitivity`` templates
``tables``                the house style of HTML tables (headers in the reader's language)
``disclosure``            primary and secondary cell suppression
``plots``                 every figure, one house style
``narrative``             the plain-language paragraph
``i18n``                  the message catalogue (``locale/{fr,en}``): every published word, labels, dates
``provenance_line``       what the data is (synthetic, imputed, supplied): the first line of every output
``reasons``               the ``reason`` of each grant in the reader's language (published tables)
``excel``                 ``allocation.xlsx``
``manifest``              ``manifest.json``
``kernels``               warm Jupyter kernels for batches
``batch``                 ``batch``: many scenarios, ``batch.json``
``batch_index``           the batch's comparison page ``index.html`` and ``comparison.csv`` / ``.xlsx``
``store``                 the batch's results store (``results.parquet``, ``summary.parquet``), ``load_batch``
``browser``               headless Chromium driven over the DevTools pipe: finding it, printing pages to PDF
``pdf``                   ``report.pdf`` (page, header, footer) and the one browser a command or a batch prints with
``recipients``            establishments grouped into recipients (legal entities, GHT): keys and names
``notices``               ``notices``: one letter per recipient of a run's grants, ``notices/index.csv``
========================  =====================================================================================
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cyberbudget.reports.batch import BatchResult, Outcome, run_batch
    from cyberbudget.reports.browser import Browser, find_chromium
    from cyberbudget.reports.comparison import Comparison, compare, comparison_tables
    from cyberbudget.reports.computed import Computed, check_expected, compute, compute_from
    from cyberbudget.reports.execution import execute_notebook
    from cyberbudget.reports.folders import atomic_folder
    from cyberbudget.reports.handover import notebook_context
    from cyberbudget.reports.html_export import export_html, html_exporter
    from cyberbudget.reports.inputs import (
        Inputs,
        load_inputs,
        resolve_scenario_path,
        resolve_table_path,
        resolve_template,
    )
    from cyberbudget.reports.notices import NoticesResult, write_notices
    from cyberbudget.reports.outputs import write_outputs
    from cyberbudget.reports.published import Published, publish
    from cyberbudget.reports.runner import run
    from cyberbudget.reports.store import BatchTables, load_batch
    from cyberbudget.reports.uncertainty_sections import Unavailable
    from cyberbudget.reports.verification import VerifyResult, verify

#: Public name → the module of this package that defines it.
_EXPORTS: dict[str, str] = {
    "BatchResult": "batch", "Outcome": "batch", "run_batch": "batch",
    "Browser": "browser", "find_chromium": "browser",
    "NoticesResult": "notices", "write_notices": "notices",
    "Comparison": "comparison", "compare": "comparison", "comparison_tables": "comparison",
    "Computed": "computed", "check_expected": "computed", "compute": "computed", "compute_from": "computed",
    "execute_notebook": "execution",
    "atomic_folder": "folders",
    "notebook_context": "handover",
    "export_html": "html_export", "html_exporter": "html_export",
    "Inputs": "inputs", "load_inputs": "inputs", "resolve_scenario_path": "inputs", "resolve_table_path": "inputs",
    "resolve_template": "inputs",
    "write_outputs": "outputs",
    "Published": "published", "publish": "published",
    "run": "runner",
    "BatchTables": "store", "load_batch": "store",
    "Unavailable": "uncertainty_sections",
    "VerifyResult": "verification", "verify": "verification",
}

__all__ = [
    "BatchResult", "BatchTables", "Browser", "Comparison", "Computed", "Inputs", "NoticesResult", "Outcome",
    "Published", "Unavailable", "VerifyResult", "atomic_folder", "check_expected", "compare", "comparison_tables",
    "compute", "compute_from", "execute_notebook", "export_html", "find_chromium", "html_exporter", "load_batch",
    "load_inputs", "notebook_context", "publish", "resolve_scenario_path", "resolve_table_path", "resolve_template",
    "run", "run_batch", "verify", "write_notices", "write_outputs",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
