"""The inputs of a report: where the scenario, the template and the table are, and loading them.

A path given to ``run``, to a template's ``scenario_path`` / ``data_path`` parameters or to a notebook run by
hand is resolved the same way (:func:`resolve_scenario_path`, :func:`resolve_table_path`):

1. an absolute path is taken as it is;
2. a relative path is looked up from the working directory first, then from the project root (so
   ``papermill notebooks/templates/allocation_report.ipynb out.ipynb -p scenario_path scenarios/baseline.yaml``
   works from anywhere, whatever folder the kernel runs in);
3. a scenario given as a bare name (``baseline``, or ``baseline.yaml``, no folder) is finally looked up in
   ``scenarios/``.

A scenario that is found nowhere is an input error that lists every place looked at. :func:`load_inputs` then
reads and validates the scenario and the table, reporting the problems of both at once, before anything is
written or a kernel starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from cyberbudget import config
from cyberbudget.errors import InputError, OptionError, Problem, ScenarioError, TableError
from cyberbudget.policy import Scenario

__all__ = ["Inputs", "PathArg", "load_inputs", "resolve_scenario_path", "resolve_table_path", "resolve_template",
           "template_names"]

#: A path argument: text or any path-like object.
PathArg = str | os.PathLike[str]


class Inputs(NamedTuple):
    """A validated scenario and table, with the files they were read from (absolute paths)."""

    scenario: Scenario
    table: pd.DataFrame
    scenario_path: Path
    data_path: Path
    #: The overrides file whose real figures replaced imputed ones in ``table`` (None: none).
    overrides_path: Path | None = None


def _candidates(given: Path) -> list[Path]:
    """Where a path is looked up: itself if absolute, else from the working directory, then the project root."""
    if given.is_absolute():
        return [given]
    return [Path.cwd() / given, config.ROOT / given]


def resolve_scenario_path(scenario: PathArg) -> Path:
    """The absolute path of a scenario file (see the module docstring for the search order).

    Raises
    ------
    ScenarioError
        No such file; the message lists every place looked at.

    Examples
    --------
    >>> resolve_scenario_path("baseline") == config.SCENARIOS_DIR / "baseline.yaml"
    True
    """
    given = Path(scenario)
    candidates = _candidates(given)
    if not given.is_absolute() and len(given.parts) == 1:
        name = given.name if given.suffix in (".yaml", ".yml") else f"{given.name}.yaml"
        candidates.append(config.SCENARIOS_DIR / name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    looked = list(dict.fromkeys(str(c) for c in candidates))
    raise ScenarioError(
        f"{scenario}: scenario file not found (looked in {', '.join(looked)})",
        [Problem(str(scenario), f"expected a scenario YAML file, found none at {', '.join(looked)}")],
        source=str(scenario),
    )


def resolve_table_path(data: PathArg | None) -> Path:
    """The absolute path of an establishment table; None is the committed default table.

    Raises
    ------
    TableError
        No such file; the message lists every place looked at.
    """
    if data is None or str(data) == "":
        return config.DEFAULT_TABLE
    candidates = _candidates(Path(data))
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    looked = list(dict.fromkeys(str(c) for c in candidates))
    raise TableError(
        f"{data}: establishment table not found (looked in {', '.join(looked)})",
        [Problem(str(data), f"expected a CSV, Parquet or Excel file, found none at {', '.join(looked)}")],
        source=str(data),
    )


def template_names() -> list[str]:
    """The names of the templates in ``notebooks/templates/``, sorted."""
    return sorted(p.stem for p in config.TEMPLATES_DIR.glob("*.ipynb"))


def resolve_template(template: PathArg) -> Path:
    """The template notebook: a name in ``notebooks/templates/``, or a path to an ``.ipynb`` file.

    Raises
    ------
    OptionError
        No such template (the message lists the available names).
    """
    given = Path(template)
    if given.suffix == ".ipynb" or len(given.parts) > 1:
        for candidate in _candidates(given):
            if candidate.is_file():
                return candidate.resolve()
    else:
        named = config.TEMPLATES_DIR / f"{given.name}.ipynb"
        if named.is_file():
            return named.resolve()
    raise OptionError(
        f"--template: no template {str(template)!r}",
        [Problem("--template", f"expected a notebook path or one of {template_names()}, found {str(template)!r}")],
    )


def load_inputs(scenario_path: PathArg, data: PathArg | None = None, overrides: PathArg | None = None) -> Inputs:
    """Find, read and validate the scenario and the table (the problems of both are reported together), then
    replace the table's imputed budgets with the real figures of ``overrides``.

    Parameters
    ----------
    scenario_path : path
        A scenario file or name (:func:`resolve_scenario_path`).
    data : path, optional
        An establishment table (:func:`resolve_table_path`); default: the committed table.
    overrides : path, optional
        A file of real budget figures keyed by ``finess`` or ``finess_ej``
        (:func:`cyberbudget.data.overrides.apply_overrides`).

    Returns
    -------
    Inputs

    Raises
    ------
    InputError
        The scenario or the table is missing or invalid.
    """
    from cyberbudget.data.overrides import apply_overrides
    from cyberbudget.data.registry import load_establishments
    from cyberbudget.policy.scenario import load_scenario

    errors: list[InputError] = []
    scenario = table = None
    spath = dpath = None
    try:
        spath = resolve_scenario_path(scenario_path)
        scenario = load_scenario(spath)
    except InputError as exc:
        errors.append(exc)
    try:
        dpath = resolve_table_path(data)
        table = load_establishments(dpath)
    except InputError as exc:
        errors.append(exc)
    opath = None
    if overrides is not None and str(overrides) != "" and table is not None:
        try:
            opath = resolve_table_path(overrides)
            table = apply_overrides(table, opath)
        except InputError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        problems = [Problem(e.source or "", str(e)) for e in errors]
        raise InputError(f"{scenario_path} and {data}: invalid inputs", problems, source=str(scenario_path))
    return Inputs(scenario=scenario, table=table, scenario_path=spath, data_path=dpath, overrides_path=opath)
