"""The house style of the tables shown in reports: one HTML rendering, numbers in the report's language.

Templates never format a table themselves; the report modules build the frame and call :func:`html_table`
(class ``cb-table``, styled by the report's CSS in :mod:`cyberbudget.reports.html_export`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget import formatting
from cyberbudget.reports.i18n import column

__all__ = ["Formatter", "html_table", "number", "percent"]

#: Turns one cell value into its text.
Formatter = Callable[[Any], str]


def number(decimals: int = 0, lang: str = "fr") -> Formatter:
    """A formatter of numbers with thousands separators (``–`` for a missing value).

    Examples
    --------
    >>> number(2, "en")(1234.5)
    '1,234.50'
    """
    return lambda x: formatting.fmt_number(x, decimals, lang)


def percent(decimals: int = 1, lang: str = "fr") -> Formatter:
    """A formatter of shares as percentages (0.055 → ``5.5 %``).

    Examples
    --------
    >>> percent(1, "en")(0.055)
    '5.5 %'
    """
    return lambda x: formatting.fmt_pct(x, lang, decimals)


def _general(lang: str, decimals: int | None) -> Formatter:
    """Integers with thousands separators; floats with ``decimals`` decimals, or 6 significant digits."""

    def fmt(x: Any) -> str:
        if isinstance(x, np.generic):
            x = x.item()
        if isinstance(x, bool | str) or not isinstance(x, int | float):
            return str(x)
        if decimals is not None:
            return formatting.fmt_number(x, decimals, lang)
        if isinstance(x, int) or float(x).is_integer() or abs(x) >= 1e4:
            return formatting.fmt_number(x, 0, lang)
        text = f"{x:.6g}"
        return text.replace(".", ",") if lang == "fr" else text

    return fmt


def html_table(frame: pd.DataFrame, formats: Mapping[str, Formatter] | None = None, *, lang: str = "fr",
               decimals: int | None = None, na_rep: str = "–", headers: bool = True) -> str:
    """A frame as an HTML table in the house style (no index, class ``cb-table``).

    Parameters
    ----------
    frame : DataFrame
        What to show, already aggregated and suppressed where needed.
    formats : mapping of column to formatter, optional
        How to write a column (:func:`number`, :func:`percent`, or any ``value -> str``). Other columns:
        integers with thousands separators, floats with ``decimals`` decimals (None: whole numbers without
        decimals, others with 6 significant digits), anything else as text.
    lang : {"fr", "en"}
        Number format and headers.
    na_rep : str
        Text of a missing (e.g. suppressed) value.
    headers : bool
        Show each column under its reader's name from the catalogue (:func:`cyberbudget.reports.i18n.column`;
        a column the catalogue does not know keeps its name); False: the column names as they are.

    Examples
    --------
    >>> html = html_table(pd.DataFrame({"group": ["a"], "grant_share": [0.25]}), {"grant_share": percent(0, "en")},
    ...                   lang="en")
    >>> "25 %" in html and 'class="dataframe cb-table"' in html and "<th>Share of the grants</th>" in html
    True
    """
    formats = dict(formats or {})
    fallback = _general(lang, decimals)
    formatters = {}
    for col in frame.columns:
        fmt = formats.get(col, fallback)
        formatters[col] = (lambda f: lambda x: na_rep if x is None or x is pd.NA or x != x else f(x))(fmt)
    shown = frame.rename(columns={c: column(str(c), lang) for c in frame.columns}) if headers else frame
    formatters = {column(str(c), lang) if headers else c: f for c, f in formatters.items()}
    return shown.to_html(index=False, classes="cb-table", formatters=formatters, na_rep=na_rep, escape=True)
