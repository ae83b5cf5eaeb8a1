"""One catalogue of every published word, in French (the default) and English.

The words of published outputs — report, workbook, batch index, notices, PDF, the what-if app — live in two
gettext catalogues, ``locale/fr/LC_MESSAGES/cyberbudget.po`` and ``locale/en/LC_MESSAGES/cyberbudget.po``, read
with Babel. Message ids are stable *keys* (``key_figures.title``), not English sentences, so that both languages
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

__all__ = ["DOMAIN", "LOCALE_DIR", "LOCALES", "catalogue", "catalogue_path", "keys", "long_date", "t"]

#: Folder of the catalogues.
LOCALE_DIR: Path = Path(__file__).resolve().parent / "locale"
#: gettext domain (file name of the catalogues).
DOMAIN: str = "cyberbudget"
#: Babel locale of each language.
LOCALES: dict[str, str] = {"fr": "fr_FR", "en": "en_GB"}


def catalogue_path(lang: str) -> Path:
    """The ``.po`` file of ``lang``."""
    return LOCALE_DIR / check_lang(lang) / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=len(LANGS))
def catalogue(lang: str) -> dict[str, str]:
    """Every key of ``lang``'s catalogue and its text (empty translations are left out)."""
    with catalogue_path(lang).open("rb") as fh:
        cat = read_po(fh, locale=LOCALES[check_lang(lang)], domain=DOMAIN)
    return {str(m.id): str(m.string) for m in cat if m.id and m.string}


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
