"""The text and tables of the allocation report (template ``allocation_report``), built from published tables.

Each function returns one section's Markdown or HTML (or figures) from a
:class:`~cyberbudget.reports.computed.Computed` and its :class:`~cyberbudget.reports.published.Published`
tables; the template only displays them. Nothing here sees an establishment-level figure except
:func:`establishment_html`, which shows one only under ``disclosure: establishment``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cyberbudget import config, formatting
from cyberbudget.reports import plots, tables
from cyberbudget.reports.computed import Computed
from cyberbudget.reports.published import Published

__all__ = [
    "assumptions_frame", "assumptions_html", "audits_figures", "audits_markdown", "establishment_html",
    "header_markdown", "key_figures_markdown", "narrative_markdown", "units_key_figure",
]


def header_markdown(computed: Computed, pub: Published, lang: str = "en") -> str:
    """Report title, scenario description and (under ``disclosure: establishment``) the marking."""
    s = computed.scenario
    lines = []
    if pub.marking:
        lines.append(f"<div class='cb-marking'><b>{pub.marking}</b> — establishment-level figures, internal "
                     "use only. Do not publish.</div>\n")
    lines.append(f"# Cybersecurity envelope — scenario “{s.name}”")
    if s.description:
        lines.append(f"\n{s.description}")
    lines.append(
        f"\nRule **{s.allocation.rule}**; eligibility from {formatting.fmt_pct(s.eligibility.min_share, lang, 0)} "
        f"(ceiling {formatting.fmt_pct(s.eligibility.max_share, lang, 0)}) of the IT budget; years "
        f"{', '.join(str(y) for y in s.envelope.years)}. Table: `{computed.data_path.name}` "
        f"({len(computed.table)} establishments). Published figures are aggregated: a figure built from fewer "
        f"than {config.MIN_CELL_SIZE} establishments is not disclosed."
    )
    return "\n".join(lines)


def key_figures_markdown(pub: Published, lang: str = "en") -> str:
    """The national key figures as a Markdown table (suppressed figures say so)."""
    k = pub.key
    f = formatting
    nd = f"not disclosed (< {config.MIN_CELL_SIZE} establishments)"

    def cents(x: int | None) -> str:
        return nd if x is None else f.fmt_cents(x, lang)

    rows = [
        ("Envelope", cents(k["envelope_cents"])),
        ("Allocated", cents(k["allocated_cents"])),
        ("Unallocated", cents(k["unallocated_cents"])),
        ("Establishments", f.fmt_int(k["n_establishments"], lang)),
        ("Eligible establishments", nd if k["n_eligible"] is None else
         f"{f.fmt_int(k['n_eligible'], lang)} ({f.fmt_pct(k['eligible_share'], lang)})"),
        ("Induced cyber spend (over the period)", nd if k["induced_spend_eur"] is None else
         f.fmt_eur(k["induced_spend_eur"], lang)),
    ]
    units = units_key_figure(pub, lang)
    if units is not None:
        rows.insert(5, units)
    lines = ["| Key figure | Value |", "|---|---:|"] + [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines)


def units_key_figure(pub: Published, lang: str = "fr") -> tuple[str, str] | None:
    """Under a funding unit other than ``establishment``, the key figure that counts units and sites:
    ``("Unités de financement (entités juridiques)", "Unités éligibles : 412 (sur 1 543) ; établissements :
    1 092")``; None under ``establishment``. A count of 1 to 4 reads "non diffusé (moins de 5)".
    """
    from cyberbudget.reports.i18n import t

    k = pub.key
    kind = k.get("unit", "establishment")
    if kind == "establishment":
        return None
    nd = t("units.not_disclosed", lang, n=config.MIN_CELL_SIZE)

    def count(x: int | None) -> str:
        return nd if x is None else formatting.fmt_int(x, lang)

    return (t("units.key_figures.label", lang, kind=t(f"units.kind.{kind}", lang)),
            t("units.key_figures.value", lang, n_eligible=count(k["n_units_eligible"]), n=count(k["n_units"]),
              n_sites=count(k["n_eligible"])))


def narrative_markdown(computed: Computed, pub: Published, lang: str = "en") -> str:
    """The plain-language paragraph (see :mod:`cyberbudget.reports.narrative`)."""
    from cyberbudget.reports.narrative import paragraph

    s = computed.scenario
    return paragraph(
        scenario_name=s.name, rule=str(s.allocation.rule), min_share=s.eligibility.min_share,
        max_share=s.eligibility.max_share, key=pub.key, by_status=pub.breakdowns["status"].rows,
        by_region=pub.breakdowns["region"].rows, gini=pub.gini, lang=lang,
    )


def audits_markdown(computed: Computed, pub: Published, lang: str = "en") -> str:
    """What the 25 M€ audit and surveillance envelope buys (or why it is not simulated)."""
    a = pub.audits
    env = computed.scenario.audits.envelope_eur
    head = (f"The France Relance envelope of {formatting.fmt_eur_compact(env, lang)} funds cybersecurity audits of "
            "establishments and the national cyber-surveillance service (ANS, ANSSI).") if env else ""
    if a["note"]:
        return f"{head}\n\n*{a['note']}.*"
    sm = a["summary"]

    def eur(cents: Any) -> str:
        return formatting.fmt_eur(None if cents is None else cents / 100, lang)

    assumptions = sm.get("assumptions") or {}

    def origin(key: str) -> str:
        src = (assumptions.get(key) or {}).get("source", "")
        return " (assumption)" if src == "assumption" else ""

    rows = [
        ("National cyber-surveillance service" + origin("surveillance_eur"), eur(sm.get("surveillance_cents"))),
        ("Left for audits", eur(sm.get("audit_budget_cents"))),
        ("Cost of one audit" + origin("unit_cost_eur"), eur(sm.get("unit_cost_cents"))),
        ("Audits funded", formatting.fmt_number(sm.get("n_audits"), 0, lang)),
        ("Operators of essential services audited",
         f"{formatting.fmt_number(sm.get('n_ose_audited'), 0, lang)} of {formatting.fmt_number(sm.get('n_ose'), 0, lang)}"),
        ("Unspent", eur(sm.get("unspent_cents"))),
    ]
    table = "\n".join(["| Audits and surveillance | Value |", "|---|---:|", *[f"| {k} | {v} |" for k, v in rows]])
    n, n_est = sm.get("n_audits") or 0, sm.get("n_establishments") or 0
    text = (f"Audits go first to the operators of essential services (GHT support establishments), then by "
            f"{sm.get('priority', 'size')}: {formatting.fmt_number(n, 0, lang)} of {formatting.fmt_number(n_est, 0, lang)} "
            "establishments are audited. Costs marked *assumption* are not published; they are set in "
            "`data/reference/policy.yaml` or the scenario's `audits:` keys.")
    return f"{head}\n\n{table}\n\n{text}"


def audits_figures(pub: Published, lang: str = "en") -> list[Any]:
    """Audits funded per region and per status (counts already suppressed in ``pub.audits``)."""
    figs = []
    for by in ("region", "status"):
        frame = pub.audits.get(f"by_{by}")
        if frame is None:
            continue
        figs.append(plots.coverage_by(frame, by, "n_audited", lang=lang, value_label="audits",
                                      title=f"Audits funded, by {by}"))
    return figs


def establishment_html(pub: Published, top: int = 50) -> str:
    """Largest grants, establishment by establishment — only under ``disclosure: establishment``."""
    if pub.establishments is None:
        return ("<p>Establishment-level figures are not published under <code>disclosure: aggregate</code>; "
                "they are in the internal file <code>allocation.csv</code>.</p>")
    est = pub.establishments.sort_values(["grant_cents", "finess"], ascending=[False, True]).head(top)
    return (f"<p class='cb-marking'><b>{pub.marking}</b> — the {len(est)} largest grants; the full list is in "
            "the workbook's <code>establishments</code> sheet.</p>" + est.to_html(index=False, classes="cb-table"))


def assumptions_frame() -> pd.DataFrame:
    """Figures marked ``source: assumption`` in ``data/reference/`` (shown in the report's provenance)."""
    from cyberbudget.data.reference import provenance

    prov = provenance()
    out = prov[prov["assumption"]][["file", "key", "value", "unit", "note"]].reset_index(drop=True)
    for col in ("unit", "note"):  # folded YAML text ends with a newline
        out[col] = out[col].map(lambda x: " ".join(str(x).split()) if isinstance(x, str) else x)
    return out


def assumptions_html(lang: str = "en") -> str:
    """:func:`assumptions_frame` as an HTML table (values as written in the reference files)."""
    return tables.html_table(assumptions_frame(), {"value": str}, lang=lang)
