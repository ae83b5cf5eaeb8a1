"""Numbers as spreadsheets write them, French conventions included.

A finance team's file often comes from a French spreadsheet: ``2 500 000,00`` (a space, a no-break space
U+00A0 or a narrow no-break space U+202F between thousands, a decimal comma), sometimes ``2.500.000,00`` or
``2,500,000.00``, sometimes followed by ``€``. :func:`parse_number` reads every one of these and refuses
anything ambiguous or malformed rather than guessing; :func:`to_cents` turns an amount into exact integer cents.

Rules (after stripping surrounding spaces and an optional ``€``/``EUR`` sign):

- spaces of any kind (U+0020, U+00A0, U+202F, U+2009) are thousands separators and are removed;
- with both ``,`` and ``.``, the one that comes last is the decimal separator and the other one must group
  thousands (``1.234.567,89`` or ``1,234,567.89``);
- a single ``,`` or a single ``.`` is the decimal separator (``2,5`` and ``2.5`` are both 2.5);
- two or more of the same separator are thousands separators and must group digits by three (``2.500.000``);
- what is left must be digits with an optional sign, decimal part and exponent (``1e6``).

Examples
--------
>>> parse_number("2 500 000,00"), parse_number("2\\u202f500\\u202f000,5 €"), parse_number("1,234,567.89")
(2500000.0, 2500000.5, 1234567.89)
>>> parse_number("2,50.000") is None, parse_number("abc") is None
(True, True)
>>> to_cents("2 500 000,10")
250000010
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

__all__ = ["SPACES", "normalize_number", "parse_number", "to_cents"]

#: Characters a spreadsheet may put between groups of thousands.
SPACES: str = " \u00a0\u202f\u2009"

_SPACE_RE = re.compile(f"[{SPACES}]")
_CURRENCY_RE = re.compile(r"^(?:€|EUR)\s*|\s*(?:€|EUR)$", re.IGNORECASE)
_PLAIN_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED_RE = {sep: re.compile(rf"[+-]?\d{{1,3}}(?:{re.escape(sep)}\d{{3}})+") for sep in (",", ".")}


def normalize_number(text: str) -> str | None:
    """The canonical form of a number written in a spreadsheet (``.`` decimal, no grouping), or ``None``.

    Examples
    --------
    >>> normalize_number("1 234,50"), normalize_number("1.234.567"), normalize_number("1,2,3")
    ('1234.50', '1234567', None)
    """
    s = _CURRENCY_RE.sub("", str(text).strip()).strip()
    s = _SPACE_RE.sub("", s)
    if not s:
        return None
    commas, dots = s.count(","), s.count(".")
    if commas and dots:
        decimal, group = (",", ".") if s.rfind(",") > s.rfind(".") else (".", ",")
        if s.count(decimal) > 1:
            return None
        whole, frac = s.rsplit(decimal, 1)
        if not _GROUPED_RE[group].fullmatch(whole) or not frac.isdigit():
            return None
        s = whole.replace(group, "") + "." + frac
    elif commas > 1 or dots > 1:
        group = "," if commas else "."
        if not _GROUPED_RE[group].fullmatch(s):
            return None
        s = s.replace(group, "")
    elif commas == 1:
        s = s.replace(",", ".")
    return s if _PLAIN_RE.fullmatch(s) else None


def parse_number(text: str) -> float | None:
    """A number written in a spreadsheet as a float, or ``None`` when it is not one (see the module rules)."""
    s = normalize_number(text)
    if s is None:
        return None
    value = float(s)
    return value if value == value and abs(value) != float("inf") else None


def to_cents(text: str) -> int | None:
    """Exact integer cents of an amount written in a spreadsheet, or ``None`` (not a number, beyond float64, or
    fractions of a cent)."""
    s = normalize_number(text)
    if s is None:
        return None
    try:
        cents = Decimal(s) * 100
    except InvalidOperation:
        return None
    if not cents.is_finite() or cents != cents.to_integral_value() or not math.isfinite(float(cents)):
        return None
    return int(cents)
