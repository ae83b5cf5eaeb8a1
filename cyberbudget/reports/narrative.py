"""Plain-language paragraphs generated from a report's published (disclosure-checked) numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from cyberbudget import formatting
from cyberbudget.reports import plots


def _largest(rows: pd.DataFrame, by: str) -> tuple[str, float] | None:
    values = pd.to_numeric(rows["grant_share"], errors="coerce")
    if values.notna().sum() == 0:
        return None
    i = values.idxmax()
    return str(rows.loc[i, by]), float(values.loc[i])


def _is_missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


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
    lang: str = "en",
) -> str:
    """A paragraph that says what the numbers mean, in English (``lang`` only changes number formats).

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
    """
    f = formatting
    parts: list[str] = []
    env = key["envelope_cents"] / 100
    n, n_el = key["n_establishments"], key.get("n_eligible")
    corridor = f"{f.fmt_pct(min_share, lang, 0)}–{f.fmt_pct(max_share, lang, 0)}"
    if _is_missing(n_el):
        parts.append(
            f"Under scenario “{scenario_name}” (rule {rule}, eligibility corridor {corridor} of the IT budget), "
            f"fewer than 5 of the {f.fmt_int(n, lang)} establishments qualify: the detailed figures are not "
            "disclosed."
        )
        return " ".join(parts)
    parts.append(
        f"Under scenario “{scenario_name}” (rule {rule}), {f.fmt_int(n_el, lang)} of {f.fmt_int(n, lang)} "
        f"establishments ({f.fmt_pct(key['eligible_share'], lang, 0)}) spend at least "
        f"{f.fmt_pct(min_share, lang, 0)} of their IT budget on cybersecurity and qualify for the "
        f"{f.fmt_eur_compact(env, lang)} envelope."
    )
    allocated, unallocated = key.get("allocated_cents"), key.get("unallocated_cents")
    if not _is_missing(allocated) and not _is_missing(unallocated):
        if unallocated == 0:
            parts.append(f"The whole envelope is allocated ({f.fmt_eur(allocated / 100, lang)}).")
        else:
            parts.append(
                f"They receive {f.fmt_eur(allocated / 100, lang)}; {f.fmt_eur(unallocated / 100, lang)} "
                f"({f.fmt_pct(unallocated / key['envelope_cents'], lang)} of the envelope) is left unallocated, "
                "because eligible establishments' needs, demands or caps are met before the money runs out."
            )
    status = _largest(by_status, "status") if "grant_share" in by_status else None
    if status:
        parts.append(
            f"{plots.label('status', status[0], lang)} establishments receive the largest share "
            f"({f.fmt_pct(status[1], lang, 0)})"
            + (
                f", and {plots.label('region', region[0], lang)} is the region receiving most "
                f"({f.fmt_pct(region[1], lang, 0)})."
                if (region := _largest(by_region, "region") if "grant_share" in by_region else None)
                else "."
            )
        )
    if not _is_missing(gini):
        level = "very unequal" if gini >= 0.6 else "unequal" if gini >= 0.4 else "moderately even" \
            if gini >= 0.2 else "even"
        parts.append(
            f"Per bed, grants are {level} across recipients (Gini {f.fmt_number(gini, 2, lang)})."
        )
    induced = key.get("induced_spend_eur")
    if not _is_missing(induced) and induced:
        parts.append(
            f"To qualify, establishments raise their cyber spend by {f.fmt_eur_compact(induced, lang)} in total "
            "over the period — the behavioural effect the 5 % rule is meant to have."
        )
    elif not _is_missing(induced):
        parts.append("No behavioural response is simulated in this scenario (uptake model: none).")
    return " ".join(parts)
