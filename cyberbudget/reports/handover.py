"""Handing the run's results to the report notebook, so that it shows exactly what ``run`` computed.

A template that declares the parameter ``results_path`` receives the path of a private file written by
:func:`save_results` (in a temporary folder outside the report folder, deleted once the notebook ran): the
executed notebook then shows the run's own figures without recomputing them, and still checks its cents
against the run's (:func:`cyberbudget.reports.computed.check_expected`). Run by hand, with ``results_path``
empty, the template computes everything itself (:func:`notebook_context`).
"""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

from cyberbudget.errors import ReportError
from cyberbudget.reports.computed import Computed, check_expected, compute
from cyberbudget.reports.inputs import PathArg
from cyberbudget.reports.published import Published, publish

__all__ = ["FORMAT", "load_results", "notebook_context", "save_results"]

#: Version of the results file.
FORMAT: int = 1


def save_results(computed: Computed, pub: Published, path: PathArg) -> Path:
    """Pickle what ``run`` computed (``computed``, ``pub``) for the notebook.

    A rule's per-establishment ``explain`` closure cannot be pickled and is left out (``result.explain`` then
    gives the common lines only; the templates do not use it).
    """
    result = computed.result
    rule_output = getattr(result, "rule_output", None)
    if getattr(rule_output, "explain", None) is not None:
        result = dataclasses.replace(result, rule_output=dataclasses.replace(rule_output, explain=None))
        computed = dataclasses.replace(computed, result=result)
    path = Path(path)
    with path.open("wb") as fh:
        pickle.dump({"format": FORMAT, "computed": computed, "published": pub}, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def load_results(path: PathArg) -> tuple[Computed, Published]:
    """Read what :func:`save_results` wrote (only ever a file written by this run, never user input).

    Raises
    ------
    ReportError
        The file is not a results file of this version.
    """
    with Path(path).open("rb") as fh:
        data = pickle.load(fh)  # noqa: S301 - our own private temporary file, written by `run`
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ReportError(f"{path}: expected a results file written by cyberbudget.reports.runner.run "
                          f"(format {FORMAT})")
    return data["computed"], data["published"]


def notebook_context(scenario_path: PathArg, data: PathArg | None = None, results_path: PathArg | None = None,
                     expected_allocated_cents: int = -1, overrides: PathArg | None = None,
                     ) -> tuple[Computed, Published]:
    """What a report notebook shows: the run's own results when it hands them over, else computed here.

    Parameters
    ----------
    scenario_path, data : path
        Used when ``results_path`` is empty (a template run by hand): load, allocate and publish
        (paths resolved as in :mod:`cyberbudget.reports.inputs`; an empty ``data`` is the default table).
    results_path : path, optional
        The file ``run`` wrote with :func:`save_results`.
    expected_allocated_cents : int
        The cents ``run`` allocated; negative: no check.
    overrides : path, optional
        Real budget figures applied to the table when computing here (empty: none).

    Raises
    ------
    ReportError
        The cents allocated differ from ``expected_allocated_cents``
        (:func:`cyberbudget.reports.computed.check_expected`).
    """
    if results_path:
        computed, pub = load_results(results_path)
    else:
        computed = compute(scenario_path, data or None, overrides or None)
        pub = publish(computed)
    check_expected(computed, expected_allocated_cents)
    return computed, pub
