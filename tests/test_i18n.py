"""The message catalogue: every published word exists in French and in English, with the same fields."""

from __future__ import annotations

import string

import pytest

from cyberbudget.reports import i18n


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_french_and_english_catalogues_translate_the_same_keys():
    fr, en = i18n.keys("fr"), i18n.keys("en")
    assert sorted(fr - en) == [], "keys with a French text but no English one"
    assert sorted(en - fr) == [], "keys with an English text but no French one"


def test_a_message_has_the_same_fields_in_both_languages():
    fr, en = i18n.catalogue("fr"), i18n.catalogue("en")
    assert {k: (_fields(fr[k]), _fields(en[k])) for k in fr if _fields(fr[k]) != _fields(en.get(k, ""))} == {}


def test_a_missing_key_is_an_error_not_a_fallback():
    with pytest.raises(KeyError, match="no translation"):
        i18n.t("no.such.key", "fr")


def test_fields_are_filled_in():
    key = next((k for k, v in i18n.catalogue("fr").items() if _fields(v)), None)
    if key is None:
        pytest.skip("no message with fields yet")
    fields = {name: "X" for name in _fields(i18n.catalogue("fr")[key])}
    assert "{" not in i18n.t(key, "fr", **fields)


def test_every_language_has_the_same_catalogue_files():
    assert [p.name for p in i18n.catalogue_files("fr")] == [p.name for p in i18n.catalogue_files("en")]
