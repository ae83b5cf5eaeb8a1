"""The ``reason`` of each establishment's grant, in the reader's language.

The policy layer writes one short English reason per row (``ineligible: cyber share 3.2 % < 5 %``,
``capped at 2,000,000 €``, …); ``allocation.csv`` keeps those bytes (an internal contract). Published tables —
the establishment table of a report or workbook under ``disclosure: establishment``, notices — show them through
:func:`translate_reason`, which recognises each form the built-in rules write (:data:`PATTERNS`), takes its
fields out, formats their numbers in the target language and fills the catalogue's ``reason.*`` message. A
compound reason (``rule reason; eligibility reason``) is translated part by part, and the funding unit a reason
was decided for (``… (unit ARA-01)``, under ``allocation.unit``) is kept.

A reason of a form not listed (a rule registered by a plugin) is kept as written, unless ``strict=True``
(the tests translate every reason the built-in rules give, strictly).

Examples
--------
>>> translate_reason("ineligible: cyber share 3.2 % < 5 %", "fr") == "non éligible\u00a0: part cyber 3,2\u202f% < 5\u202f%"
True
>>> translate_reason("capped at 2,000,000 €", "en")
'capped at 2,000,000 €'
>>> translate_reason("ineligible: status private_forprofit not in eligibility.statuses", "en")
'ineligible: status Private for-profit not among the eligible statuses (eligibility.statuses)'
>>> translate_reason("pro rata to it_budget_eur (unit ARA-01)", "en")
'pro rata to the IT budget (unit ARA-01)'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import pandas as pd

from cyberbudget.formatting import NNBSP, check_lang, fmt_number
from cyberbudget.reports.i18n import has, label, t

__all__ = ["PATTERNS", "translate_reason", "translate_reasons"]

_NUM = r"[-+]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?"
_AMOUNT = rf"(?:{_NUM} €|none)"
_WORD = r"[a-z_]+"

#: The forms of reason the built-in rules write (``policy.eligibility``, ``policy.allocation``,
#: ``risk.optimal``) → the catalogue key that says it. Named groups are the message's fields; a group's name
#: says how its value is rewritten (see :func:`_field`).
PATTERNS: tuple[tuple[str, str], ...] = (
    (r"eligible", "reason.eligible"),
    (rf"eligible: cyber share (?P<pct_share>{_NUM}) % >= (?P<pct_min>{_NUM}) %", "reason.eligible_share"),
    (rf"eligible: cyber share (?P<pct_share>{_NUM}) % within (?P<pct_min>{_NUM})–(?P<pct_max>{_NUM}) %",
     "reason.eligible_within"),
    (r"ineligible: medico-social establishment \(eligibility\.medico_social is false\)", "reason.medico_social"),
    (rf"ineligible: status (?P<status>{_WORD}) not in eligibility\.statuses", "reason.status"),
    (rf"ineligible: cyber share (?P<pct_share>{_NUM}) % > (?P<pct_max>{_NUM}) % \(exclude_above_max: renegotiate\)",
     "reason.above_max"),
    (rf"ineligible: cyber share (?P<pct_share>{_NUM}) % < (?P<pct_min>{_NUM}) %", "reason.below_min"),
    (r"ineligible: no IT budget", "reason.no_it_budget"),
    (rf"eligible after raising cyber share from (?P<pct_from>{_NUM}) % to (?P<pct_to>{_NUM}) % \(OSE obligation\)",
     "reason.raised_ose"),
    (rf"eligible after raising cyber share from (?P<pct_from>{_NUM}) % to (?P<pct_to>{_NUM}) % "
     rf"\(uptake (?P<uptake>{_WORD})\)", "reason.raised_uptake"),
    (rf"floor (?P<eur_floor>{_AMOUNT}) \+ pro rata to (?P<base>{_WORD})", "reason.floor_pro_rata"),
    (rf"pro rata to (?P<base>{_WORD})", "reason.pro_rata"),
    (rf"capped at (?P<eur_cap>{_AMOUNT})", "reason.capped"),
    (rf"floor (?P<eur_floor>{_AMOUNT}) only \((?P<base>{_WORD}) = 0\)", "reason.floor_only"),
    (rf"nothing: (?P<base>{_WORD}) = 0", "reason.nothing_base"),
    (r"(?:matching|gap|forfait): full (?P<amount>demand|need|forfait) met", "reason.full"),
    (rf"(?:matching|gap|forfait): (?P<pct_frac>{_NUM}) % of (?P<amount>demand|need|forfait) "
     r"\((?:demand|need|forfait)s exceed the envelope\)", "reason.fraction"),
    (rf"no need: cyber share already >= target (?P<pct_target>{_NUM}) %", "reason.no_need"),
    (r"no demand: no counted cyber spend", "reason.no_demand"),
    (rf"no forfait: (?P<base>{_WORD}) in no band of allocation\.forfait", "reason.no_forfait"),
    (rf"tier (?P<tier>\d+) \((?P<group>{_WORD})\): (?P<amount>need|demand|cap) met in full", "reason.tier_full"),
    (rf"tier (?P<tier>\d+) \((?P<group>{_WORD})\): (?P<pct_frac>{_NUM}) % of (?P<amount>need|demand|cap) "
     r"\(the envelope ran out in this tier\)", "reason.tier_partial"),
    (rf"tier (?P<tier>\d+) \((?P<group>{_WORD})\): nothing left after the higher tiers", "reason.tier_nothing"),
    (r"eligible but in no group of allocation\.tiers \((?P<groups>[a-z_, ]+)\)", "reason.no_tier"),
    (rf"allocated by rule (?P<rule>{_WORD})", "reason.by_rule"),
    (rf"optimal: marginal avoided loss equalised at (?P<num_mu>{_NUM}) € per €", "reason.optimal"),
    (rf"optimal: floor only \(its first euro avoids less than the marginal value (?P<num_mu>{_NUM}) € per €\)",
     "reason.optimal_floor"),
    (rf"optimal: nothing \(its first euro avoids less than (?P<num_mu>{_NUM}) € per €\)", "reason.optimal_nothing"),
    (r"optimal: no lever \(no IT budget or no additionality\)", "reason.optimal_no_lever"),
)

_COMPILED: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), k) for p, k in PATTERNS)


def _number(text: str, lang: str) -> str:
    """An English number of a reason (``2,000,000``, ``3.25``, ``1.2e-05``) written in ``lang``."""
    clean = text.replace(",", "")
    if "e" in clean.lower():  # scientific notation: only the decimal mark changes
        return clean.replace(".", ",") if lang == "fr" else clean
    decimals = len(clean.split(".")[1]) if "." in clean else 0
    return fmt_number(float(clean), decimals, lang)


def _percent(text: str, lang: str) -> str:
    return f"{_number(text, lang)}{NNBSP if lang == 'fr' else ' '}%"


def _amount(text: str, lang: str) -> str:
    if text == "none":
        return t("label.none", lang)
    return f"{_number(text[:-2], lang)}{NNBSP if lang == 'fr' else ' '}€"


def _field(name: str, value: str, lang: str) -> str:
    """A field of a reason, rewritten for ``lang`` according to its group name."""
    if name.startswith("pct_"):
        return _percent(value, lang)
    if name.startswith("num_"):
        return _number(value, lang)
    if name.startswith("eur_"):
        return _amount(value, lang)
    if name == "status":
        return label("status", value, lang)
    if name == "rule":
        return label("rule", value, lang)
    if name == "group":
        return label("tier", value, lang)
    if name in ("base", "amount", "uptake"):
        key = f"reason.{name}.{value}"
        return t(key, lang) if has(key, lang) else value
    if name == "groups":
        return ", ".join(_field("group", g.strip(), lang) for g in value.split(","))
    return value


def _one(part: str, lang: str, strict: bool) -> str:
    for pattern, key in _COMPILED:
        m = pattern.fullmatch(part)
        if m:
            return t(key, lang, **{k: _field(k, v, lang) for k, v in m.groupdict().items()})
    if strict:
        raise KeyError(f"reason {part!r} matches no form of cyberbudget.reports.reasons.PATTERNS")
    return part


#: The funding unit a reason was decided for, appended to the whole reason under ``allocation.unit``.
_UNIT = re.compile(r"^(?P<reason>.*) \(unit (?P<unit>[^()]+)\)$", re.S)


@lru_cache(maxsize=8192)
def _translate(reason: str, lang: str, strict: bool) -> str:
    m = _UNIT.match(reason)
    body, unit = (m.group("reason"), m.group("unit")) if m else (reason, None)
    text = t("reason.join", lang).join(_one(part, lang, strict) for part in body.split("; "))
    return text + t("reason.unit", lang, unit=unit) if unit is not None else text


def translate_reason(reason: str, lang: str = "fr", *, strict: bool = False) -> str:
    """One reason (possibly compound, ``a; b``) in ``lang``.

    Raises
    ------
    KeyError
        ``strict`` and a part of the reason has no known form.
    """
    return _translate(str(reason), check_lang(lang), strict)


def translate_reasons(reasons: Iterable[str] | pd.Series, lang: str = "fr", *, strict: bool = False) -> list[str]:
    """:func:`translate_reason` of each reason (a column of a published table)."""
    return [translate_reason(r, lang, strict=strict) for r in reasons]
