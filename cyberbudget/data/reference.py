"""Calibration figures and nomenclatures from ``data/reference/*.yaml``.

Every number the model uses lives in a YAML file of ``data/reference/`` with its unit, its source and the year
it refers to. A *figure* is a mapping with at least the keys ``value``, ``unit``, ``source`` and ``year``
(``note`` optional); figures may be grouped in nested mappings::

    description: Operating, IT and cyber budget ratios
    it_share:
      mean:
        value: 0.017
        unit: share of operating expenses
        source: Cour des comptes, La cybersécurité des établissements de santé, January 2025
        year: 2023
        note: 1.5 % in 2011, 1.6 % in 2012 (ATIH/DGOS)

A value that no publication gives is marked ``source: assumption`` (its ``year`` may then be null); the report's
provenance sheet lists every figure with its source (:func:`provenance`), and the sensitivity analysis varies the
assumptions.

A file whose top level has ``kind: nomenclature`` (a code table, e.g. ``categories.yaml``) or ``kind: aggregates``
(derived counts, e.g. ``sae2023_marginals.yaml``) is not a set of figures: it is returned as read, after checking
it has a ``source``, and appears as one row of the provenance.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from cyberbudget import config
from cyberbudget.errors import InputError, Problem

#: Keys every figure must carry.
FIGURE_KEYS: tuple[str, ...] = ("value", "unit", "source", "year")
#: Keys a figure may carry.
ALLOWED_FIGURE_KEYS: frozenset[str] = frozenset(FIGURE_KEYS + ("note", "low", "high", "distribution"))
#: Top-level keys describing a file rather than holding figures.
METADATA_KEYS: frozenset[str] = frozenset({"description", "kind", "source", "year", "note"})
#: Top-level ``kind`` of files that are tables (code lists, aggregates) rather than sets of figures.
TABLE_KINDS: frozenset[str] = frozenset({"nomenclature", "aggregates"})
#: The ``source`` value marking a figure that no publication gives.
ASSUMPTION: str = "assumption"

_CACHE: dict[tuple[str, int], dict[str, Any]] = {}


def reference_path(name: str, directory: Path | None = None) -> Path:
    """Path of the reference file ``name`` (with or without ``.yaml``).

    Parameters
    ----------
    name : str
        File stem, e.g. ``"finance"``.
    directory : Path, optional
        Folder to look in; default ``config.REFERENCE_DIR``.

    Returns
    -------
    Path
    """
    stem = name[:-5] if name.endswith(".yaml") else name
    return Path(directory or config.REFERENCE_DIR) / f"{stem}.yaml"


def _is_figure(node: Any) -> bool:
    return isinstance(node, Mapping) and "value" in node


def _check_figure(node: Mapping[str, Any], where: str) -> list[Problem]:
    problems = []
    missing = [k for k in FIGURE_KEYS if k not in node]
    if node.get("source") == ASSUMPTION and "year" in missing:
        missing.remove("year")
    if missing:
        problems.append(Problem(where, f"expected keys {', '.join(FIGURE_KEYS)}; missing {', '.join(missing)}"))
    unknown = sorted(set(node) - ALLOWED_FIGURE_KEYS)
    if unknown:
        problems.append(Problem(where, f"unknown keys {', '.join(unknown)}; expected {', '.join(sorted(ALLOWED_FIGURE_KEYS))}"))
    source = node.get("source")
    if "source" in node and (not isinstance(source, str) or not source.strip()):
        problems.append(Problem(where, f"expected a non-empty source (a publication or 'assumption'), found {source!r}"))
    year = node.get("year")
    if year is not None and "year" in node and not (isinstance(year, int) and 1900 <= year <= 2100):
        problems.append(Problem(where, f"expected year an integer like 2023, found {year!r}"))
    value = node.get("value")
    if isinstance(value, float) and not math.isfinite(value):
        problems.append(Problem(where, f"expected a finite value, found {value!r}"))
    return problems


def _walk(node: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    """Yield ``(dotted key, node)`` for every figure or non-figure leaf below ``node``."""
    for key, child in node.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if _is_figure(child):
            yield path, child
        elif isinstance(child, Mapping):
            yield from _walk(child, path)
        else:
            yield path, child


def _validate(data: Any, path: Path) -> list[Problem]:
    where0 = path.name
    if not isinstance(data, Mapping):
        return [Problem(where0, f"expected a mapping of figures, found {type(data).__name__}")]
    if data.get("kind") in TABLE_KINDS:
        if not data.get("source"):
            return [Problem(f"{where0}: source", "expected the nomenclature's source, found nothing")]
        return []
    problems: list[Problem] = []
    body = {k: v for k, v in data.items() if k not in METADATA_KEYS}
    for key, node in _walk(body, ""):
        where = f"{where0}: {key}"
        if _is_figure(node):
            problems.extend(_check_figure(node, where))
        else:
            problems.append(
                Problem(where, f"expected a figure {{value, unit, source, year, note}}, found {node!r}")
            )
    return problems


def load_reference(name: str, directory: Path | None = None) -> dict[str, Any]:
    """Read and check ``data/reference/<name>.yaml``.

    Parameters
    ----------
    name : str
        File stem, e.g. ``"finance"``.
    directory : Path, optional
        Folder to read from; default ``config.REFERENCE_DIR``.

    Returns
    -------
    dict
        The file's content (a fresh copy: callers may modify it).

    Raises
    ------
    InputError
        The file is missing, is not YAML, or a figure lacks its value, unit, source or year.

    Examples
    --------
    >>> fin = load_reference("finance")
    >>> fin["it_share"]["mean"]["unit"]
    'share of operating expenses'
    """
    path = reference_path(name, directory)
    try:
        stat = path.stat()
    except OSError:
        raise InputError(
            f"{path}: reference file not found (expected one of "
            f"{', '.join(sorted(p.stem for p in path.parent.glob('*.yaml'))) or 'none'})",
            source=str(path),
        ) from None
    key = (str(path), stat.st_mtime_ns)
    if key not in _CACHE:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not valid UTF-8 YAML ({exc})", source=str(path)) from None
        problems = _validate(data, path)
        if problems:
            raise InputError(f"{path}: {len(problems)} invalid reference figure(s)", problems, source=str(path))
        _CACHE[key] = data
    return copy.deepcopy(_CACHE[key])


def figure(name: str, key: str, directory: Path | None = None) -> dict[str, Any]:
    """The full figure mapping at dotted ``key`` of reference file ``name``.

    Raises
    ------
    InputError
        No such key, or the key is a group rather than a figure.
    """
    node: Any = load_reference(name, directory)
    parts = key.split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, Mapping) or part not in node:
            where = ".".join(parts[: i + 1])
            available = ", ".join(sorted(map(str, node))) if isinstance(node, Mapping) else "nothing"
            raise InputError(
                f"{reference_path(name, directory).name}: no figure '{where}' (available: {available})",
                source=str(reference_path(name, directory)),
            )
        node = node[part]
    if not _is_figure(node):
        raise InputError(
            f"{reference_path(name, directory).name}: '{key}' is a group, not a figure "
            f"(it holds {', '.join(sorted(map(str, node))) if isinstance(node, Mapping) else repr(node)})",
            source=str(reference_path(name, directory)),
        )
    return dict(node)


def value(name: str, key: str, directory: Path | None = None) -> Any:
    """The ``value`` of the figure at dotted ``key`` of reference file ``name``.

    Examples
    --------
    >>> value("finance", "it_share.mean")
    0.017
    """
    return figure(name, key, directory)["value"]


def provenance(directory: Path | None = None) -> pd.DataFrame:
    """Every figure of every reference file, one row each, for the report's provenance sheet.

    Returns
    -------
    DataFrame
        Columns ``file, key, value, unit, source, year, note, assumption`` sorted by file and key; values that
        are lists or mappings are rendered as compact text. Nomenclature files appear as one row each.
    """
    folder = Path(directory or config.REFERENCE_DIR)
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.yaml")):
        data = load_reference(path.stem, folder)
        if data.get("kind") in TABLE_KINDS:
            rows.append({
                "file": path.name, "key": f"({data['kind']})", "value": data.get("description", ""),
                "unit": "", "source": data.get("source", ""), "year": data.get("year"),
                "note": data.get("note", ""), "assumption": False,
            })
            continue
        body = {k: v for k, v in data.items() if k not in METADATA_KEYS}
        for key, node in _walk(body, ""):
            val = node["value"]
            if isinstance(val, (list, dict)):
                val = yaml.safe_dump(val, default_flow_style=True, allow_unicode=True, width=10_000).strip()
            rows.append({
                "file": path.name, "key": key, "value": val, "unit": node.get("unit", ""),
                "source": node.get("source", ""), "year": node.get("year"), "note": node.get("note", "") or "",
                "assumption": node.get("source") == ASSUMPTION,
            })
    columns = ["file", "key", "value", "unit", "source", "year", "note", "assumption"]
    return pd.DataFrame(rows, columns=columns).astype({"value": object, "year": object})
