"""Numbers, euros and percentages as people read them — one style for the whole package.

French (``lang="fr"``, the default of published outputs): ``1 234 567,89 €`` with a narrow no-break space
(U+202F) as thousands separator and before ``€`` and ``%``; English (``lang="en"``, used by the internal
``reason`` and ``explain`` texts): ``1,234,567.89 €``, ``12.5 %``. A missing value prints as an en dash.
Integer cents are formatted exactly (no float rounding).

Examples
--------
>>> fmt_cents(200_000_000, "en", decimals=None), fmt_cents(123456, "en")
('2,000,000 €', '1,234.56 €')
>>> fmt_pct(0.125, "fr") == "12,5\u202f%"
True
"""

from __future__ import annotations

import math

__all__ = [
    "LANGS", "NNBSP", "check_lang", "fmt_cents", "fmt_eur", "fmt_eur_compact", "fmt_int", "fmt_number", "fmt_pct",
    "fmt_share", "tick_format",
]

#: Languages of published outputs.
LANGS: tuple[str, ...] = ("fr", "en")
#: Narrow no-break space: the French thousands separator (and before % and €).
NNBSP: str = "\u202f"


def check_lang(lang: str) -> str:
    """``lang`` if it is one of :data:`LANGS`, else ``ValueError``."""
    if lang not in LANGS:
        raise ValueError(f"lang: expected 'fr' or 'en', found {lang!r}")
    return lang


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_number(x: float | int | None, decimals: int = 0, lang: str = "en") -> str:
    """A number with thousands separators, the French or English way.

    Examples
    --------
    >>> fmt_number(1234567.891, 2, "fr") == "1\u202f234\u202f567,89"
    True
    >>> fmt_number(1234567.891, 2, "en")
    '1,234,567.89'
    >>> fmt_number(float("nan"))
    '–'
    """
    lang = check_lang(lang)
    if _missing(x):
        return "–"
    text = f"{x:,.{decimals}f}"
    if lang == "fr":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", NNBSP)
    return text


def fmt_eur(x: float | int | None, lang: str = "fr", decimals: int = 0) -> str:
    """An amount in euros (a float of euros).

    Examples
    --------
    >>> fmt_eur(350_000_000) == "350\u202f000\u202f000\u202f€"
    True
    >>> fmt_eur(1234.5, "en", 2)
    '1,234.50 €'
    """
    if _missing(x):
        return "–"
    sep = NNBSP if check_lang(lang) == "fr" else " "
    return f"{fmt_number(x, decimals, lang)}{sep}€"


def fmt_cents(cents: int | float | None, lang: str = "fr", decimals: int | None = 2) -> str:
    """Integer cents as euros, exactly; ``decimals=None`` drops ``,00`` on whole euros.

    Examples
    --------
    >>> fmt_cents(123456789, "en")
    '1,234,567.89 €'
    >>> fmt_cents(35_000_000_000, "fr") == "350\u202f000\u202f000,00\u202f€"
    True
    """
    if _missing(cents):
        return "–"
    if isinstance(cents, float) and not cents.is_integer():
        return fmt_eur(cents / 100, lang, 2 if decimals is None else decimals)
    cents = int(cents)
    whole, rest = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    sep = NNBSP if check_lang(lang) == "fr" else " "
    if decimals == 0 or (decimals is None and rest == 0):
        return f"{sign}{fmt_number(whole + (rest >= 50 and decimals == 0), 0, lang)}{sep}€"
    mark = "," if lang == "fr" else "."
    return f"{sign}{fmt_number(whole, 0, lang)}{mark}{rest:02d}{sep}€"


def fmt_eur_compact(x: float | int | None, lang: str = "fr") -> str:
    """A large amount in euros, compactly: ``350 M€``, ``58,9 M€``, ``1,2 k€`` (charts may abbreviate).

    Examples
    --------
    >>> fmt_eur_compact(350_000_000, "en")
    '350 M€'
    >>> fmt_eur_compact(58_900_000, "fr") == "58,9\u202fM€"
    True
    """
    if _missing(x):
        return "–"
    lang = check_lang(lang)
    sep = NNBSP if lang == "fr" else " "
    for factor, suffix in ((1e9, "Md" if lang == "fr" else "bn"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= factor:
            value = x / factor
            decimals = 0 if abs(value) >= 100 or float(value).is_integer() else 1
            return f"{fmt_number(value, decimals, lang)}{sep}{suffix}€"
    return fmt_eur(x, lang)


def fmt_pct(x: float | None, lang: str = "fr", decimals: int = 1) -> str:
    """A share (0.05) as a percentage: ``5,0 %`` / ``5.0 %``.

    Examples
    --------
    >>> fmt_pct(0.05, "en")
    '5.0 %'
    >>> fmt_pct(0.1234, "fr", 2) == "12,34\u202f%"
    True
    """
    if _missing(x):
        return "–"
    sep = NNBSP if check_lang(lang) == "fr" else " "
    return f"{fmt_number(100 * x, decimals, lang)}{sep}%"


def fmt_share(x: float, lang: str = "en") -> str:
    """A policy threshold as a percentage with only the digits it needs: ``5 %``, ``5.5 %``, ``12.25 %``.

    Examples
    --------
    >>> fmt_share(0.05), fmt_share(0.055)
    ('5 %', '5.5 %')
    """
    v = round(float(x) * 100, 6)
    text = f"{v:g}"
    sep = NNBSP if check_lang(lang) == "fr" else " "
    if lang == "fr":
        text = text.replace(".", ",")
    return f"{text}{sep}%"


def fmt_int(x: int | None, lang: str = "fr") -> str:
    """A count with thousands separators."""
    return fmt_number(x, 0, lang)


def tick_format(lang: str = "fr") -> dict[str, str]:
    """Plotly ``separators`` for a language: decimal mark then thousands separator."""
    return {"separators": ", " if check_lang(lang) == "fr" else ".,"}
