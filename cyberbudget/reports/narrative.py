"""Plain-language paragraphs generated from a report's published (disclosure-checked) numbers, in the report's
language: every sentence is a message of the catalogue (``narrative.*``, :mod:`cyberbudget.reports.i18n`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from cyberbudget import config, formatting
from cyberbudget.reports.i18n import label, t

__all__ = ["gini_level", "paragraph"]


def _largest(rows: pd.DataFrame, by: str) -> tuple[str, float] | None:
    values = pd.to_numeric(rows["grant_share"], errors="coerce")
    if values.notna().sum() == 0:
        return None
    i = values.idxmax()
    return str(rows.loc[i, by]), float(values.loc[i])


def _is_missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def gini_level(gini: float) -> str:
    """The word for a Gini coefficient: ``very_unequal`` (≥ 0.6), ``unequal`` (≥ 0.4), ``moderate`` (≥ 0.2),
    ``even`` (the catalogue's ``narrative.gini.<level>``)."""
    return "very_unequal" if gini >= 0.6 else "unequal" if gini >= 0.4 else "moderate" if gini >= 0.2 else "even"


def paragraph(
    *,
    scenario_name: str,
    rule: str,
    min_share: float,
    max_share: float,
    key: Mapping[str, Any],
    by_status: pd.DataFrame,
    by_region: pd.DataFrame,
    gini: float | None,
    lang: str = "fr",
) -> str:
    """A paragraph that says what the numbers mean, in ``lang``.

    Parameters
    ----------
    key : mapping
        Key figures as returned by :func:`cyberbudget.reports.published.key_figures` (suppressed values are None).
    by_status, by_region : DataFrame
        :attr:`cyberbudget.reports.disclosure.Breakdown.rows`.

    Examples
    --------
    >>> key = {"envelope_cents": 10_000_00, "allocated_cents": 8_000_00, "unallocated_cents": 2_000_00,
    ...        "n_establishments": 40, "n_eligible": 10, "eligible_share": 0.25, "induced_spend_eur": 0.0}
    >>> rows = pd.DataFrame({"status": ["public"], "grant_share": [1.0]})
    >>> text = paragraph(scenario_name="demo", rule="gap", min_share=0.05, max_share=0.1, key=key,
    ...                  by_status=rows, by_region=rows.rename(columns={"status": "region"}).assign(region="53"),
    ...                  gini=0.3, lang="en")
    >>> "10 of 40 establishments (25 %)" in text and "2,000 € (20.0 % of the envelope) is left unallocated" in text
    True
    >>> "10 établissements sur 40" in paragraph(scenario_name="demo", rule="gap", min_share=0.05, max_share=0.1,
    ...     key=key, by_status=rows, by_region=rows.rename(columns={"status": "region"}).assign(region="53"),
    ...     gini=0.3, lang="fr")
    True
    """
    f = formatting
    parts: list[str] = []
    env = key["envelope_cents"] / 100
    n, n_el = key["n_establishments"], key.get("n_eligible")
    common = {"scenario": scenario_name, "rule": label("rule", rule, lang), "min": f.fmt_share(min_share, lang),
              "max": f.fmt_share(max_share, lang)}
    if _is_missing(n_el):
        return t("narrative.not_disclosed", lang, **common, k=config.MIN_CELL_SIZE, n=f.fmt_int(n, lang))
    parts.append(t("narrative.eligible", lang, **common, n_eligible=f.fmt_int(n_el, lang), n=f.fmt_int(n, lang),
                   share=f.fmt_pct(key["eligible_share"], lang, 0), envelope=f.fmt_eur_compact(env, lang)))
    allocated, unallocated = key.get("allocated_cents"), key.get("unallocated_cents")
    if not _is_missing(allocated) and not _is_missing(unallocated):
        if unallocated == 0:
            parts.append(t("narrative.all_allocated", lang, allocated=f.fmt_eur(allocated / 100, lang)))
        else:
            parts.append(t("narrative.unallocated", lang, allocated=f.fmt_eur(allocated / 100, lang),
                           unallocated=f.fmt_eur(unallocated / 100, lang),
                           share=f.fmt_pct(unallocated / key["envelope_cents"], lang)))
    status = _largest(by_status, "status") if "grant_share" in by_status else None
    if status:
        region = _largest(by_region, "region") if "grant_share" in by_region else None
        args = {"status": label("status", status[0], lang), "share": f.fmt_pct(status[1], lang, 0)}
        if region:
            parts.append(t("narrative.largest_with_region", lang, **args, region=label("region", region[0], lang),
                           region_share=f.fmt_pct(region[1], lang, 0)))
        else:
            parts.append(t("narrative.largest", lang, **args))
    if not _is_missing(gini):
        parts.append(t("narrative.gini", lang, level=t(f"narrative.gini.{gini_level(gini)}", lang),
                       gini=f.fmt_number(gini, 2, lang)))
    induced = key.get("induced_spend_eur")
    if not _is_missing(induced) and induced:
        parts.append(t("narrative.induced", lang, amount=f.fmt_eur_compact(induced, lang), min=common["min"]))
    elif not _is_missing(induced):
        parts.append(t("narrative.no_uptake", lang))
    return " ".join(parts)
