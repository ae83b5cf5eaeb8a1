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
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.messages.pofile import read_po

from cyberbudget.errors import OptionError
from cyberbudget.formatting import LANGS, check_lang

__all__ = [
    "DOMAIN", "LABEL_KINDS", "LOCALE_DIR", "LOCALES", "catalogue", "catalogue_files", "catalogue_path", "column",
    "foreign_phrases", "foreign_words_in", "has", "heading", "keys", "label", "long_date", "require_lang", "t",
]

#: Folder of the catalogues.
LOCALE_DIR: Path = Path(__file__).resolve().parent / "locale"
#: gettext domain (file name of the catalogues).
DOMAIN: str = "cyberbudget"
#: Babel locale of each language.
LOCALES: dict[str, str] = {"fr": "fr_FR", "en": "en_GB"}
#: Kinds of code that have a label in the catalogue (``label.<kind>.<code>``).
LABEL_KINDS: tuple[str, ...] = ("status", "category", "region", "rule", "tier", "factor", "output")


def require_lang(lang: str) -> str:
    """``lang`` if it is a language of the catalogue (:data:`cyberbudget.formatting.LANGS`).

    Raises
    ------
    OptionError
        Any other value (a bad ``--lang`` or template parameter: exit code 2, before anything is written).
    """
    if lang not in LANGS:
        raise OptionError(f"--lang: expected one of {', '.join(LANGS)}, found {lang!r}")
    return lang


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


def has(key: str, lang: str = "fr") -> bool:
    """Whether ``key`` has a translation in ``lang``."""
    return key in catalogue(lang)


def label(kind: str, code: object, lang: str = "fr") -> str:
    """The reader's name of a code (``label.<kind>.<code>``): a ``status``, ``category``, ``region``, allocation
    ``rule``, ``tier`` group, uncertain ``factor`` or simulated ``output`` (:data:`LABEL_KINDS`).

    A code the catalogue does not know (a GHT code, a rule registered by a plugin) is shown as it is.

    Examples
    --------
    >>> label("status", "private_nonprofit", "fr"), label("category", "dialysis", "en")
    ('Privé non lucratif', 'Dialysis centre')
    >>> label("region", "53"), label("ght", "ARA-01")
    ('Bretagne', 'ARA-01')
    """
    if kind not in LABEL_KINDS:
        return str(code)
    # a tier group is OSE, GHT support, or a status or category (policy.scenario.TIER_GROUPS)
    for k in (kind, "status", "category") if kind == "tier" else (kind,):
        key = f"label.{k}.{code}"
        if has(key, lang):
            return t(key, lang)
    return str(code)


def column(name: str, lang: str = "fr") -> str:
    """The header of a published table's column (``col.<name>``): ``grant_cents`` → ``Subvention (centimes)``.

    A column the catalogue does not know keeps its name.

    Examples
    --------
    >>> column("grant_eur", "fr"), column("grant_eur", "en"), column("no_such_column", "fr")
    ('Subvention (€)', 'Grant (€)', 'no_such_column')
    """
    key = f"col.{name}"
    return t(key, lang) if has(key, lang) else str(name)


def heading(key: str, lang: str = "fr", level: int = 2, /, **fields: Any) -> str:
    """A Markdown heading from the catalogue: ``## Chiffres clés`` (what the templates display between sections).

    Examples
    --------
    >>> heading("report.schedule", "fr")
    '## Calendrier pluriannuel'
    """
    return f"{'#' * level} {t(key, lang, **fields)}"


def long_date(day: dt.date, lang: str = "fr") -> str:
    """A date in full: ``30 novembre 2026`` / ``30 November 2026`` (French: ``1er décembre 2026``).

    Examples
    --------
    >>> long_date(dt.date(2026, 11, 30), "fr"), long_date(dt.date(2026, 12, 1), "fr")
    ('30 novembre 2026', '1er décembre 2026')
    """
    text = format_date(day, format="long", locale=LOCALES[check_lang(lang)])
    return "1er" + text[1:] if lang == "fr" and day.day == 1 else text


_FIELD = re.compile(r"\{[^{}]*\}")
_CODE = re.compile(r"`[^`]*`|[\w-]+(?:[._][\w-]+)+")
_SEPARATORS = re.compile(r"[:;,.()\[\]«»“”\"—–/|*`<>=+\n?!%€\u00a0\u202f]+|\s-\s")


@lru_cache(maxsize=len(LANGS))
def foreign_phrases(lang: str) -> tuple[str, ...]:
    """Phrases of the *other* language's catalogue that betray it in a page written in ``lang``.

    Each message of the other language is cut at its fields and punctuation; a piece is kept when it has two words
    or more, or one word of at least seven letters, and appears in no message of ``lang`` (so ``Total``,
    ``CHR/CHU`` or a region's name, the same in both, never count). Lower case, longest first.

    Examples
    --------
    >>> "eligible establishments" in foreign_phrases("fr"), "établissements éligibles" in foreign_phrases("en")
    (True, True)
    """
    # the own language's words, without the code it quotes (`audits.envelope_eur`, `min_share`)
    own = _CODE.sub(" ", _FIELD.sub(" ", " | ".join(catalogue(lang).values()))).lower()
    other = next(x for x in LANGS if x != check_lang(lang))
    found: set[str] = set()
    for key, text in catalogue(other).items():
        if catalogue(lang).get(key) == text:
            continue
        for piece in _SEPARATORS.split(_FIELD.sub("|", text)):
            piece = " ".join(piece.split()).strip(" '-").lower()
            words = re.findall(r"[^\W\d_]+", piece)
            if not words or "_" in piece or piece in own:
                continue
            if len(words) >= 2 or len(words[0]) >= 7:
                found.add(piece)
    return tuple(sorted(found, key=lambda x: (-len(x), x)))


def foreign_words_in(text: str, lang: str) -> list[str]:
    """The phrases of :func:`foreign_phrases` found in ``text`` (whole words, any case; code such as
    ``allocation.csv`` or ``min_share`` is no word): words of the other language in a page that should be all in
    ``lang``."""
    low = " ".join(_CODE.sub(" ", text).split()).lower()
    return [p for p, pattern in _foreign_patterns(lang) if pattern.search(low)]


@lru_cache(maxsize=len(LANGS))
def _foreign_patterns(lang: str) -> list[tuple[str, re.Pattern[str]]]:
    """:func:`foreign_phrases` compiled once per language (as whole words)."""
    return [(p, re.compile(rf"(?<![^\W_]){re.escape(p)}(?![^\W_])")) for p in foreign_phrases(lang)]
