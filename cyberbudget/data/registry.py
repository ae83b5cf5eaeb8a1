"""Loading establishments: table files, their one-line summary, and the entry points of the data layer.

- :func:`load_establishments` reads and validates a table (the committed synthetic default when no path);
- :func:`write_table` writes one deterministically; :func:`summarize_table` / :func:`table_counts` describe it;
- :func:`import_sae` (from :mod:`cyberbudget.data.sae`) builds the real registry from the DREES SAE 2023
  open-data files; :func:`synthesize` (from :mod:`cyberbudget.data.synthetic`) generates the committed default
  table from the SAE aggregates of ``data/reference/sae2023_marginals.yaml``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget import config
from cyberbudget.data.ght import assign_ght, ght_support, legal_entities, normalize_name
from cyberbudget.data.sae import SAE_FILES, import_sae, sae_registry
from cyberbudget.data.schema import MONEY_COLUMNS, validate_table
from cyberbudget.data.synthetic import (
    MARGINALS_NAME,
    QUANTILE_LEVELS,
    SYNTHETIC_TOKEN,
    sae_marginals,
    synthesize,
    write_marginals,
)
from cyberbudget.data.tableio import read_table, write_csv

__all__ = [
    "MARGINALS_NAME", "QUANTILE_LEVELS", "SAE_FILES", "SYNTHETIC_TOKEN", "assign_ght", "ght_support",
    "import_sae", "load_establishments", "normalize_name", "read_table", "sae_marginals", "sae_registry",
    "summarize_table", "synthesize", "table_counts", "write_marginals", "write_table",
]


# --------------------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------------------

def load_establishments(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Read and validate an establishment table.

    Parameters
    ----------
    path : str or PathLike, optional
        CSV (UTF-8 or Latin-1, ``,`` or ``;``), Parquet or ``.xlsx``; default ``config.DEFAULT_TABLE`` (the
        committed synthetic table).

    Returns
    -------
    DataFrame
        The normalised table (see :func:`cyberbudget.data.schema.validate_table`), sorted by ``finess``.

    Raises
    ------
    TableError
        The file cannot be read, or breaks a rule of the schema (every problem listed).
    """
    path = Path(path) if path is not None else config.DEFAULT_TABLE
    return validate_table(read_table(path), source=str(path))


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Validate ``df`` and write it as a deterministic CSV, atomically.

    UTF-8, ``,``, LF, booleans ``true``/``false``, counts as integers, euro columns with 2 decimals, rows sorted
    by ``finess``, DESIGN.md column order then optional and extra columns. The same table always gives the
    same bytes.

    Returns
    -------
    Path
        The file written.
    """
    table = validate_table(df, source=str(path))
    return write_csv(table, path, money_columns=MONEY_COLUMNS)


def _count(df: pd.DataFrame, column: str) -> float:
    if column not in df.columns:
        return 0
    return pd.to_numeric(df[column], errors="coerce").fillna(0).sum()


def table_counts(df: pd.DataFrame) -> dict[str, Any]:
    """Counts describing a table, for the ``validate`` and ``data`` commands (and :func:`summarize_table`).

    Returns
    -------
    dict
        ``establishments`` and ``by_status``; ``with_beds_or_places`` and its ``by_status`` (the DREES count of
        establishments: 2,962 in 2023); ``medico_social``; ``legal_entities`` (distinct ``finess_ej``, each row its
        own when the column is absent); ``beds``, ``places``, ``had_places``, ``dialysis_stations``,
        ``staff_fte``, ``headcount``; ``ght``, ``ose``; ``at_min_share`` (cyber spend >= 5 % of the IT budget).
    """
    status = df["status"].astype(str)
    beds_or_places = ((pd.to_numeric(df["beds"]) + pd.to_numeric(df["places"])) > 0).to_numpy()
    it = df["it_budget_eur"].to_numpy(dtype="float64")
    cyber = df["cyber_spend_eur"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        at_five = int(np.sum((it > 0) & (cyber / np.where(it > 0, it, 1.0) >= 0.05)))

    def by_status(mask: np.ndarray) -> dict[str, int]:
        return {s: int(((status == s).to_numpy() & mask).sum()) for s in config.STATUSES}

    everyone = np.ones(len(df), dtype=bool)
    return {
        "establishments": len(df),
        "by_status": by_status(everyone),
        "with_beds_or_places": int(beds_or_places.sum()),
        "with_beds_or_places_by_status": by_status(beds_or_places),
        "medico_social": int(df["medico_social"].astype(bool).sum()) if "medico_social" in df else 0,
        "legal_entities": int(pd.Series(legal_entities(df)).nunique()) if "finess" in df else len(df),
        "beds": int(_count(df, "beds")), "places": int(_count(df, "places")),
        "had_places": int(_count(df, "had_places")), "dialysis_stations": int(_count(df, "dialysis_stations")),
        "staff_fte": round(float(_count(df, "staff_fte")), 2), "headcount": int(_count(df, "headcount")),
        "ght": int(df["ght"].astype(str).replace("", np.nan).dropna().nunique()) if "ght" in df else 0,
        "ose": int(df["ose"].astype(bool).sum()) if "ose" in df else 0,
        "at_min_share": at_five,
    }


def summarize_table(df: pd.DataFrame) -> str:
    """One line of counts for ``cyberbudget validate`` and the ``data`` commands (see :func:`table_counts`).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"finess": ["010000024", "010000032"], "finess_ej": ["010780054", "010780054"],
    ...                   "status": ["public", "private_forprofit"], "ght": ["ARA-01", ""],
    ...                   "ose": [True, False], "medico_social": [False, False],
    ...                   "it_budget_eur": [1000.0, 0.0], "cyber_spend_eur": [60.0, 0.0],
    ...                   "beds": [10, 0], "places": [1, 0], "dialysis_stations": [0, 12], "staff_fte": [20.5, 6.0]})
    >>> summarize_table(t)
    '2 establishments (1 public, 0 private non-profit, 1 private for-profit; 0 medico-social), of which 1 with beds or places (1 public, 0 private non-profit, 0 private for-profit); 1 legal entity; 11 beds and places, 0 HAD places, 12 dialysis stations, 26.5 salaried FTE; 1 GHT, 1 OSE, 1 with cyber spend >= 5 % of IT budget'
    """
    c = table_counts(df)
    s, b = c["by_status"], c["with_beds_or_places_by_status"]
    entities = c["legal_entities"]
    return (
        f"{c['establishments']:,} establishments ({s['public']:,} public, {s['private_nonprofit']:,} private "
        f"non-profit, {s['private_forprofit']:,} private for-profit; {c['medico_social']:,} medico-social), "
        f"of which {c['with_beds_or_places']:,} with beds or places ({b['public']:,} public, "
        f"{b['private_nonprofit']:,} private non-profit, {b['private_forprofit']:,} private for-profit); "
        f"{entities:,} legal entit{'y' if entities == 1 else 'ies'}; "
        f"{c['beds'] + c['places']:,} beds and places, {c['had_places']:,} HAD places, "
        f"{c['dialysis_stations']:,} dialysis stations, {c['staff_fte']:,.1f} salaried FTE; "
        f"{c['ght']:,} GHT, {c['ose']:,} OSE, {c['at_min_share']:,} with cyber spend >= 5 % of IT budget"
    )
