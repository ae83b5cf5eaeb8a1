"""Every word the what-if app shows, from the message catalogue (French first; English for the internal audience).

The words live in ``cyberbudget/reports/locale/{fr,en}/LC_MESSAGES/cyberbudget.po`` under ``app.<key>`` (page,
controls, key figures, figures, messages) and ``app.choice.<control>.<code>`` (the labels of a control's
values); :func:`word` and :func:`choice` look them up (:mod:`cyberbudget.reports.i18n`). Labels of statuses,
categories and regions come from :func:`cyberbudget.reports.i18n.label`, numbers from
:mod:`cyberbudget.formatting`.

Examples
--------
>>> word("fr", "n_eligible")
'Établissements éligibles'
>>> word("en", "saved", path="scenarios/x.yaml")
'Saved: scenarios/x.yaml'
>>> choice("fr", "rule", "gap"), choice("fr", "base", "no_such_column")
('Écart à la cible', 'no_such_column')
"""

from __future__ import annotations

from cyberbudget.reports.i18n import has, require_lang, t

__all__ = ["choice", "word"]


def word(lang: str, key: str, **values: object) -> str:
    """The app's text ``key`` (catalogue ``app.<key>``) in ``lang``, placeholders filled.

    Raises
    ------
    KeyError
        No such key (every key exists in every language; ``tests/test_i18n.py`` checks it).
    """
    return t(f"app.{key}", require_lang(lang), **values)


def choice(lang: str, control: str, code: str) -> str:
    """Label of the value ``code`` of ``control`` (catalogue ``app.choice.<control>.<code>``; the code itself when
    it has no label, e.g. a column added to the table)."""
    key = f"app.choice.{control}.{code}"
    return t(key, lang) if has(key, require_lang(lang)) else code
