"""Paths and defaults, resolved from the package location (never from the working directory), and the limits on
inputs with the environment variables that change them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cyberbudget.errors import OptionError

PACKAGE_DIR: Path = Path(__file__).resolve().parent
ROOT: Path = PACKAGE_DIR.parent
DATA_DIR: Path = ROOT / "data"
REFERENCE_DIR: Path = DATA_DIR / "reference"
SYNTHETIC_DIR: Path = DATA_DIR / "synthetic"
DEFAULT_TABLE: Path = SYNTHETIC_DIR / "establishments.csv"
SCENARIOS_DIR: Path = ROOT / "scenarios"
NOTEBOOKS_DIR: Path = ROOT / "notebooks"
TEMPLATES_DIR: Path = NOTEBOOKS_DIR / "templates"
REPORTS_DIR: Path = ROOT / "reports"
SHARED_DIR: Path = ROOT.parent / "shared"
SAE_DIR: Path = SHARED_DIR / "data" / "sae2023"

DEFAULT_TEMPLATE: str = "allocation_report"
DEFAULT_SEED: int = 20210218

#: Monte Carlo draws come in fixed blocks of this size (DESIGN.md, "Monte Carlo seeding").
MC_BLOCK_SIZE: int = 1024

#: Cells built from fewer establishments than this are suppressed in published outputs.
MIN_CELL_SIZE: int = 5

REGIONS: tuple[str, ...] = (
    "11", "24", "27", "28", "32", "44", "52", "53", "75", "76", "84", "93", "94",
    "01", "02", "03", "04", "06",
)
REGION_NAMES: dict[str, str] = {
    "11": "Île-de-France", "24": "Centre-Val de Loire", "27": "Bourgogne-Franche-Comté",
    "28": "Normandie", "32": "Hauts-de-France", "44": "Grand Est", "52": "Pays de la Loire",
    "53": "Bretagne", "75": "Nouvelle-Aquitaine", "76": "Occitanie", "84": "Auvergne-Rhône-Alpes",
    "93": "Provence-Alpes-Côte d'Azur", "94": "Corse", "01": "Guadeloupe", "02": "Martinique",
    "03": "Guyane", "04": "La Réunion", "06": "Mayotte",
}
STATUSES: tuple[str, ...] = ("public", "private_nonprofit", "private_forprofit")
CATEGORIES: tuple[str, ...] = (
    "chu", "ch", "chs", "clcc", "usld", "mco", "ssr", "psy", "had", "dialysis", "other", "ehpad", "esms",
)

#: Allocation rules provided by higher layers, loaded on first use through the rule registry so that
#: ``allocation.py`` never imports the risk side (DESIGN.md, "Layout").
RULE_PLUGINS: dict[str, str] = {"optimal": "cyberbudget.risk.optimal"}


# --------------------------------------------------------------------------------------------------------------
# Limits on inputs (bounded work for any input: a hostile or broken file is refused before it is parsed)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """A bound on an input, with its default and the environment variable that changes it.

    The value is read from the environment at each use (not at import), so that a process, or a test, can change
    it. A value that is not a positive integer is bad input (:class:`~cyberbudget.errors.OptionError`).

    Parameters
    ----------
    env : str
        The environment variable, e.g. ``CYBERBUDGET_MAX_TABLE_BYTES``.
    default : int
        The value when the variable is unset or empty.
    what : str
        What is counted, for messages (e.g. ``"bytes"``).

    Examples
    --------
    >>> MAX_SCENARIO_BYTES.value() == MAX_SCENARIO_BYTES.default or "CYBERBUDGET_MAX_SCENARIO_BYTES" in os.environ
    True
    >>> MAX_SCENARIO_BYTES.hint()
    'the limit is 1,048,576 bytes: set the environment variable CYBERBUDGET_MAX_SCENARIO_BYTES to raise it'
    """

    env: str
    default: int
    what: str

    def value(self) -> int:
        """The limit in force: the environment variable when set, else the default."""
        raw = os.environ.get(self.env, "").strip().replace("_", "")
        if not raw:
            return self.default
        if not raw.isdigit() or int(raw) <= 0:
            shown = raw[:40] + ("..." if len(raw) > 40 else "")
            raise OptionError(
                f"environment variable {self.env}: expected a positive whole number of {self.what}, found {shown!r}")
        return int(raw)

    def hint(self) -> str:
        """``"the limit is N <what>: set the environment variable ... to raise it"`` for error messages."""
        return (f"the limit is {self.value():,} {self.what}: set the environment variable {self.env} to raise it")


#: Size of a CSV or Parquet table file, and of a Parquet table's text once decoded (its dictionary-encoded cells
#: expanded). The 1,000,000-row benchmark table is about 210 MiB.
MAX_TABLE_BYTES = Limit("CYBERBUDGET_MAX_TABLE_BYTES", 512 * 2**20, "bytes")
#: Rows of a table (CSV: lines of the file; Parquet: rows in its metadata; Excel: rows of the first sheet and its
#: largest row number).
MAX_TABLE_ROWS = Limit("CYBERBUDGET_MAX_TABLE_ROWS", 2_000_000, "rows")
#: Columns of a table (the SAE's GHT file has about 200).
MAX_TABLE_COLUMNS = Limit("CYBERBUDGET_MAX_TABLE_COLUMNS", 1_000, "columns")
#: Cells of a table: rows x columns (the benchmark table has 23,000,000).
MAX_TABLE_CELLS = Limit("CYBERBUDGET_MAX_TABLE_CELLS", 100_000_000, "cells")
#: Uncompressed size of an .xlsx workbook: the sum of its parts' sizes in the zip's central directory.
MAX_WORKBOOK_BYTES = Limit("CYBERBUDGET_MAX_WORKBOOK_BYTES", 256 * 2**20, "bytes")
#: Compression ratio of any part of an .xlsx workbook of 1 MiB or more (uncompressed / compressed).
MAX_WORKBOOK_RATIO = Limit("CYBERBUDGET_MAX_WORKBOOK_RATIO", 200, "times")
#: Size of a scenario YAML file (each file of an ``extends:`` chain).
MAX_SCENARIO_BYTES = Limit("CYBERBUDGET_MAX_SCENARIO_BYTES", 2**20, "bytes")
#: Nodes of a scenario file once its YAML aliases are expanded (a scenario has about 100).
MAX_SCENARIO_NODES = Limit("CYBERBUDGET_MAX_SCENARIO_NODES", 10_000, "nodes")

#: Every limit, by name (documentation, ``cyberbudget`` messages and tests).
LIMITS: dict[str, Limit] = {
    "MAX_TABLE_BYTES": MAX_TABLE_BYTES, "MAX_TABLE_ROWS": MAX_TABLE_ROWS, "MAX_TABLE_COLUMNS": MAX_TABLE_COLUMNS,
    "MAX_TABLE_CELLS": MAX_TABLE_CELLS, "MAX_WORKBOOK_BYTES": MAX_WORKBOOK_BYTES,
    "MAX_WORKBOOK_RATIO": MAX_WORKBOOK_RATIO, "MAX_SCENARIO_BYTES": MAX_SCENARIO_BYTES,
    "MAX_SCENARIO_NODES": MAX_SCENARIO_NODES,
}

#: Largest bed, place, station or headcount figure of one establishment (the largest French CHU, AP-HP's sites
#: taken one by one, has a few thousand beds). Not configurable: beyond it a figure is an error, not a size.
MAX_COUNT: int = 1_000_000
#: Largest full-time-equivalent figure of one establishment.
MAX_FTE: float = 1_000_000.0
#: Largest euro amount of one establishment's budget or spend (AP-HP's whole budget is about 8.5e9 EUR).
MAX_BUDGET_EUR: float = 1e11
#: Longest text cell of a table, in characters (names are under 100; Excel holds at most 32,767).
MAX_TEXT_LENGTH: int = 1_000
