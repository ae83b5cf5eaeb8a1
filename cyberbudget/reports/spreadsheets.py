"""Cells of the spreadsheets the package writes: an input string is data, never a formula (issue 14).

Workbooks
---------
openpyxl turns a string that starts with ``=`` into a live formula (and ``#N/A``-like strings into error
values). Every workbook the package writes puts its cells through :func:`set_cell`, which stores a string as a
string (``data_type == "s"``) whatever it starts with; numbers, booleans and empty cells are written as they are.

CSV files meant for spreadsheets
--------------------------------
A spreadsheet opening a CSV evaluates a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return (CSV or "formula" injection). In the CSV files meant for spreadsheets, text cells get a leading ``'``
as OWASP recommends (:func:`csv_text`, :func:`neutralise_text_columns`): spreadsheets show the text as typed
and evaluate nothing. Only text columns are touched, and in them only a cell that a spreadsheet would evaluate
(a plain number such as ``-12.5`` is left as it is); the rule depends on the cell alone, so the same inputs
still give the same bytes.

Which CSV files are meant for spreadsheets:

- ``allocation.csv``: yes. It is internal and complete, and the analysts who use it open it in a spreadsheet.
  Its generated columns (``reason``, codes, numbers) never start with those characters; a free-text column
  from the table (``name``, ``ght_name``, any other text column) can, and is neutralised — deterministically,
  so ``allocation.csv`` stays byte-identical for the same inputs. Code that needs such a name exactly takes it
  from the table, not from ``allocation.csv``.
- ``notices/index.csv`` and the batch's CSV twins of its Parquet files: yes (same rule, same helper).
- establishment tables written by ``cyberbudget data synthesize`` / ``data import-sae``: no. They are inputs
  of the program, read back exactly (a prefix would change a name on every round trip); they hold what their
  sources hold.

Examples
--------
>>> csv_text("=HYPERLINK(\\"http://example.org\\")"), csv_text("-12.5"), csv_text("CH d'Arles")
('\\'=HYPERLINK("http://example.org")', '-12.5', "CH d'Arles")
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet.worksheet import Worksheet

__all__ = ["FORMULA_TRIGGERS", "csv_text", "is_formula_like", "neutralise_text_columns", "set_cell"]

#: First characters that make a spreadsheet evaluate a CSV text cell (OWASP, "CSV Injection").
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would evaluate ``text`` as a formula (a plain number is not a formula).

    Examples
    --------
    >>> [is_formula_like(t) for t in ("=1+1", "@SUM(A1)", "+33 1 23", "-3", "\\tx", "CHU")]
    [True, True, True, False, True, False]
    """
    return bool(text) and text[0] in FORMULA_TRIGGERS and not _NUMBER.match(text)


def csv_text(text: str) -> str:
    """A text cell of a CSV file meant for spreadsheets: ``'`` + ``text`` when a spreadsheet would evaluate it."""
    return "'" + text if is_formula_like(text) else text


def neutralise_text_columns(frame: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are :func:`csv_text`-neutralised.

    Parameters
    ----------
    frame : DataFrame
    columns : iterable of str, optional
        The text columns (default: every column of object or string dtype). Numeric and boolean columns are
        never touched.
    """
    import pandas as pd

    out = frame.copy()
    names = list(columns) if columns is not None else [
        c for c in frame.columns if pd.api.types.is_object_dtype(frame[c]) or pd.api.types.is_string_dtype(frame[c])]
    for col in names:
        if col in out.columns:
            out[col] = [csv_text(v) if isinstance(v, str) else v for v in out[col].tolist()]
    return out


def set_cell(ws: Worksheet, row: int, column: int, value: Any) -> Cell:
    """Write ``value`` into a worksheet cell; a string is stored as a string, never as a formula or an error.

    numpy scalars become Python values; None, NaN and ``pandas.NA`` an empty cell.

    Returns
    -------
    openpyxl.cell.Cell
        The cell (to style it).

    Examples
    --------
    >>> from openpyxl import Workbook
    >>> ws = Workbook().active
    >>> cell = set_cell(ws, 1, 1, "=1+1")
    >>> cell.value, cell.data_type
    ('=1+1', 's')
    """
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)) or type(value).__name__ == "NAType":
        value = None
    cell = ws.cell(row=row, column=column)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
    return cell
