"""Who receives: the establishments of a table grouped into recipients — legal entities or GHT — with their
keys and names, for the unit tables of the workbook and for the notices.

A recipient under ``kind`` is a funding unit of :mod:`cyberbudget.policy.units` (DESIGN.md, "Units"):
``establishment`` (one row, keyed by its ``finess``), ``legal_entity`` (the rows sharing a ``finess_ej``) or
``ght`` (the public rows of a GHT, every other row with its legal entity). Names:

- a GHT: the table's ``ght_name`` (else ``GHT <code>``);
- a legal entity: the legal entity's own name when a column of the table carries it (the first of
  :data:`LEGAL_NAME_COLUMNS` present, non-empty), else the name of its largest site — the member with the largest
  ``allocation.base``, ties by ascending ``finess``, as the policy names a unit;
- an establishment: its ``name``.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"finess": ["010000001", "010000002", "010000003"], "name": ["Site A", "Site B", "Site C"],
...                   "finess_ej": ["010000009", "010000009", "010000003"], "status": ["public"] * 3,
...                   "ght": ["", "", ""], "it_budget_eur": [10.0, 30.0, 5.0]})
>>> unit_names(t, "legal_entity", "it_budget_eur")
{'010000003': 'Site C', '010000009': 'Site B'}
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cyberbudget.policy.units import UNIT_KINDS, build_units, unit_keys, unit_table

__all__ = ["LEGAL_NAME_COLUMNS", "UNIT_KINDS", "base_weights", "recipient_keys", "unit_names"]

#: Columns that may carry a legal entity's own name (absent from the SAE open data: its largest site's name
#: is used then).
LEGAL_NAME_COLUMNS: tuple[str, ...] = ("name_ej", "legal_entity_name")


def recipient_keys(table: pd.DataFrame, kind: str) -> np.ndarray:
    """The recipient key of each row of ``table`` under ``kind`` (:func:`cyberbudget.policy.units.unit_keys`).

    Raises
    ------
    ValueError
        ``kind`` is not one of :data:`UNIT_KINDS`.
    """
    if kind not in UNIT_KINDS:
        raise ValueError(f"unit: expected one of {', '.join(UNIT_KINDS)}, found {kind!r}")
    return unit_keys(table, kind)


def base_weights(table: pd.DataFrame, base: str | None) -> np.ndarray:
    """The values that pick a unit's largest member: the ``base`` column (missing or negative: 0), else the IT
    budget."""
    column = base if base and base in table.columns else "it_budget_eur"
    if column not in table.columns:
        return np.zeros(len(table))
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
    return np.where(np.isfinite(values) & (values > 0), values, 0.0)


def unit_names(table: pd.DataFrame, kind: str, base: str | None = "it_budget_eur") -> dict[str, str]:
    """Each recipient's name under ``kind`` (module docstring), keyed by the recipient key, keys sorted.

    Parameters
    ----------
    table : DataFrame
        The establishment table, sorted by ``finess``.
    kind : {"establishment", "legal_entity", "ght"}
    base : str, optional
        The column that decides a unit's largest member (the scenario's ``allocation.base``).
    """
    if kind not in UNIT_KINDS:
        raise ValueError(f"unit: expected one of {', '.join(UNIT_KINDS)}, found {kind!r}")
    if kind == "establishment":
        pairs = zip(table["finess"].astype(str), table["name"].astype(str), strict=True)
        return dict(sorted(pairs))
    weights = base_weights(table, base)
    units = build_units(table, kind, weights)
    frame = unit_table(table, units)
    names = frame["name"].astype(str).to_numpy(dtype=object)
    own = next((c for c in LEGAL_NAME_COLUMNS if c in table.columns), None)
    if own is not None:  # a legal entity's own name, where the table gives one
        given = table[own].fillna("").astype(str).str.strip().to_numpy(dtype=object)
        for j in np.flatnonzero(~units.is_ght):
            members = units.order[units.starts[j]:units.starts[j] + units.sizes[j]]
            found = next((given[m] for m in members if given[m]), "")
            if found:
                names[j] = found
    return {str(k): str(n) for k, n in zip(units.keys, names, strict=True)}
