"""One catalogue of every published word, in French (the default) and English.

The words of published outputs — report, workbook, batch index, notices, PDF, the what-if app — live in gettext
catalogues, one folder per language: ``locale/fr/LC_MESSAGES/*.po`` and ``locale/en/LC_MESSAGES/*.po``, read with
Babel. A language's catalogue is the union of its ``.po`` files (one per part of the product: ``cyberbudget.po``
for reports and workbooks, ``notices.po``, ``app.po``, …); a key defined in two files is an error. Message ids are stable *keys* (``key_figures.title``), not English sentences, so that both languages
are translations of the same key and a missing translation is an error, never a silent fallback. A message may
hold ``str.format`` fields (``{n}``) filled by :func:`t`.

Dates follow the language: ``30 novembre 2026`` / ``30 November 2026`` (:func:`long_date`).

Examples
--------
>>> t("lang.name", "fr"), t("lang.name", "en")
('français', 'English')
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.messages.pofile import read_po

from cyberbudget.formatting import LANGS, check_lang

__all__ = [
    "DOMAIN", "LOCALE_DIR", "LOCALES", "catalogue", "catalogue_files", "catalogue_path", "keys", "long_date", "t",
]

#: Folder of the catalogues.
LOCALE_DIR: Path = Path(__file__).resolve().parent / "locale"
#: gettext domain (file name of the catalogues).
DOMAIN: str = "cyberbudget"
#: Babel locale of each language.
LOCALES: dict[str, str] = {"fr": "fr_FR", "en": "en_GB"}


def catalogue_path(lang: str) -> Path:
    """The folder of ``lang``'s ``.po`` files."""
    return LOCALE_DIR / check_lang(lang) / "LC_MESSAGES"


def catalogue_files(lang: str) -> list[Path]:
    """The ``.po`` files of ``lang``, sorted by name."""
    return sorted(catalogue_path(lang).glob("*.po"))


@lru_cache(maxsize=len(LANGS))
def catalogue(lang: str) -> dict[str, str]:
    """Every key of ``lang``'s catalogue and its text (empty translations are left out).

    Raises
    ------
    ValueError
        A key is defined in two ``.po`` files of the language.
    """
    out: dict[str, str] = {}
    origin: dict[str, str] = {}
    for path in catalogue_files(lang):
        with path.open("rb") as fh:
            cat = read_po(fh, locale=LOCALES[check_lang(lang)], domain=DOMAIN)
        for m in cat:
            if not m.id or not m.string:
                continue
            key = str(m.id)
            if key in out:
                raise ValueError(f"message {key!r} is defined in {origin[key]} and in {path.name}")
            out[key], origin[key] = str(m.string), path.name
    return out


def keys(lang: str) -> frozenset[str]:
    """The keys translated in ``lang``."""
    return frozenset(catalogue(lang))


def t(key: str, lang: str = "fr", /, **fields: Any) -> str:
    """The text of ``key`` in ``lang``, with ``fields`` filled in (``str.format``).

    Raises
    ------
    KeyError
        ``key`` has no translation in ``lang`` (never falls back to another language).
    """
    try:
        text = catalogue(lang)[key]
    except KeyError:
        raise KeyError(f"message {key!r} has no translation in {catalogue_path(lang)}") from None
    return text.format(**fields) if fields else text


def long_date(day: dt.date, lang: str = "fr") -> str:
    """A date in full: ``30 novembre 2026`` / ``30 November 2026``.

    Examples
    --------
    >>> long_date(dt.date(2026, 11, 30), "fr")
    '30 novembre 2026'
    """
    return format_date(day, format="long", locale=LOCALES[check_lang(lang)])
