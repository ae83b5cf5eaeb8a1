"""The text and tables of the allocation report (template ``allocation_report``), built from published tables.

Each function returns one section's Markdown or HTML (or figures) from a
:class:`~cyberbudget.reports.computed.Computed` and its :class:`~cyberbudget.reports.published.Published`
tables, in the report's language (``lang``, French by default; every word from the catalogue,
:mod:`cyberbudget.reports.i18n`); the template only displays them. Nothing here sees an establishment-level figure
except :func:`establishment_html`, which shows one only under ``disclosure: establishment``.

The report opens with :func:`header_markdown` (the data's nature, the scenario, the date and version, see
:mod:`cyberbudget.reports.provenance_line`) and the one-page *synthèse* (:func:`synthese_html`): the five key
figures and the generated paragraph in ``<section id="synthese">``, followed by a page break when printed.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from cyberbudget import config, formatting
from cyberbudget.reports import plots, tables
from cyberbudget.reports.computed import Computed
from cyberbudget.reports.escaping import html_text, markdown_text
from cyberbudget.reports.html_export import markdown_html
from cyberbudget.reports.i18n import heading, label, t
from cyberbudget.reports.provenance_line import banner_html, provenance_of
from cyberbudget.reports.published import Published
from cyberbudget.reports.reasons import translate_reasons

__all__ = [
    "QUOTED", "SYNTHESE_ID", "assumptions_frame", "assumptions_html", "audits_figures", "audits_markdown",
    "corridor_heading", "establishment_html", "header_html", "key_figure_rows", "key_figures_html",
    "narrative_markdown", "synthese_html",
]

#: ``id`` of the synthèse's ``<section>`` (the PDF and the print CSS find it by this id; class ``cb-synthese``).
SYNTHESE_ID: str = "synthese"
#: Class of the text a report quotes as written in its inputs (a scenario's description, the notes of the reference
#: files), in whatever language they were written: not the report's own words.
QUOTED: str = "cb-quoted"


def header_html(computed: Computed, pub: Published, lang: str = "fr") -> str:
    """The report's first lines, as HTML: under ``disclosure: establishment`` the marking, then the data's nature
    (a banner, loud for synthetic data), the title, the scenario's description, its rule and the disclosure rule.

    The description is an input, quoted as written (class :data:`QUOTED`, :func:`html_text`, one paragraph per
    paragraph); the catalogue's Markdown is rendered by :func:`~cyberbudget.reports.html_export.markdown_html`.
    """
    s = computed.scenario
    prov = pub.provenance or provenance_of(computed)
    parts = []
    if pub.marking:
        parts.append(f"<div class='cb-marking'><b>{html_text(pub.marking)}</b> — {html_text(t('report.marking', lang))}"
                     "</div>")
    parts.append(banner_html(prov, lang))
    parts.append(markdown_html(f"# {t('report.title', lang, scenario=markdown_text(s.name))}"))
    for paragraph in s.description.replace("\r\n", "\n").split("\n\n"):  # the scenario's own words, as written
        if paragraph.strip():
            parts.append(f"<p class='{QUOTED}'>{html_text(' '.join(paragraph.split()))}</p>")
    years = ", ".join(str(y) for y in s.envelope.years)
    parts.append(markdown_html(t(
        "report.scope", lang, rule=markdown_text(label("rule", s.allocation.rule, lang)), code=s.allocation.rule,
        min=formatting.fmt_share(s.eligibility.min_share, lang), max=formatting.fmt_share(s.eligibility.max_share, lang),
        years=years, n=formatting.fmt_int(len(computed.table), lang), k=config.MIN_CELL_SIZE)))
    return "\n".join(parts)


def key_figure_rows(computed: Computed, pub: Published, lang: str = "fr") -> list[tuple[str, str]]:
    """The five key figures of the synthèse, ``(label, value)``: envelope, eligible establishments (and units
    under a funding unit), allocated, unallocated, induced spend — amounts in full (``350 000 000,00 €``), a
    suppressed figure as "non diffusé"."""
    k = pub.key
    f = formatting
    nd = t("nd.long", lang, k=config.MIN_CELL_SIZE)

    def cents(x: int | None) -> str:
        return nd if x is None else f.fmt_cents(x, lang)

    eligible = nd if k["n_eligible"] is None else t(
        "kf.eligible_value", lang, n=f.fmt_int(k["n_eligible"], lang), total=f.fmt_int(k["n_establishments"], lang),
        share=f.fmt_pct(k["eligible_share"], lang))
    rows = [(t("kf.envelope", lang), cents(k["envelope_cents"])), (t("kf.eligible", lang), eligible)]
    kind = k.get("unit", "establishment")
    if kind != "establishment":  # units counted as published (1 to k - 1 eligible units: not disclosed)
        rows.append((t("kf.eligible_units", lang, unit=t(f"kf.unit.{kind}", lang)),
                     nd if k["n_units_eligible"] is None else t(
                         "kf.eligible_units_value", lang, n=f.fmt_int(k["n_units_eligible"], lang),
                         total=f.fmt_int(k["n_units"], lang))))
    rows += [
        (t("kf.allocated", lang), cents(k["allocated_cents"])),
        (t("kf.unallocated", lang), cents(k["unallocated_cents"])),
        (t("kf.induced", lang), nd if k["induced_spend_eur"] is None else f.fmt_eur(k["induced_spend_eur"], lang, 2)),
    ]
    return rows


def key_figures_html(computed: Computed, pub: Published, lang: str = "fr") -> str:
    """:func:`key_figure_rows` as an HTML table (class ``cb-table cb-keyfigures``)."""
    body = "".join(f"<tr><th scope='row'>{html.escape(a)}</th><td class='cb-num'>{html.escape(b)}</td></tr>"
                   for a, b in key_figure_rows(computed, pub, lang))
    head = (f"<thead><tr><th>{html.escape(t('kf.head.figure', lang))}</th>"
            f"<th>{html.escape(t('kf.head.value', lang))}</th></tr></thead>")
    return f"<table class='cb-table cb-keyfigures'>{head}<tbody>{body}</tbody></table>"


def narrative_markdown(computed: Computed, pub: Published, lang: str = "fr") -> str:
    """The plain-language paragraph (see :mod:`cyberbudget.reports.narrative`)."""
    from cyberbudget.reports.narrative import paragraph

    s = computed.scenario
    return paragraph(
        scenario_name=s.name, rule=str(s.allocation.rule), min_share=s.eligibility.min_share,
        max_share=s.eligibility.max_share, key=pub.key, by_status=pub.breakdowns["status"].rows,
        by_region=pub.breakdowns["region"].rows, gini=pub.gini, lang=lang,
    )


def synthese_html(computed: Computed, pub: Published, lang: str = "fr") -> str:
    """The one-page synthèse: its heading, the five key figures and the generated paragraph, in
    ``<section id="synthese" class="cb-synthese">`` (printed alone on the first page with the header)."""
    return (f"<section id='{SYNTHESE_ID}' class='cb-synthese'>"
            f"<h2>{html.escape(t('report.synthese', lang))}</h2>"
            f"{key_figures_html(computed, pub, lang)}"
            f"<p class='cb-narrative'>{html.escape(narrative_markdown(computed, pub, lang))}</p></section>")


def corridor_heading(computed: Computed, lang: str = "fr") -> str:
    """The heading of the cyber-share section, with the scenario's own threshold (``min_share``)."""
    return heading("report.corridor", lang, 2, min=formatting.fmt_share(computed.scenario.eligibility.min_share, lang))


def audits_markdown(computed: Computed, pub: Published, lang: str = "fr") -> str:
    """What the 25 M€ audit and surveillance envelope buys (or why it is not simulated)."""
    a = pub.audits
    env = computed.scenario.audits.envelope_eur
    f = formatting
    head = t("audits.head", lang, amount=f.fmt_eur_compact(env, lang)) if env else ""
    if a["note"]:
        return f"{head}\n\n*{t('audits.no_envelope', lang)}*"
    sm = a["summary"]

    def eur(cents: Any) -> str:
        return f.fmt_eur(None if cents is None else cents / 100, lang)

    assumptions = sm.get("assumptions") or {}

    def origin(key: str) -> str:
        src = (assumptions.get(key) or {}).get("source", "")
        return t("audits.assumption_mark", lang) if src == "assumption" else ""

    rows = [
        (t("audits.surveillance", lang) + origin("surveillance_eur"), eur(sm.get("surveillance_cents"))),
        (t("audits.left", lang), eur(sm.get("audit_budget_cents"))),
        (t("audits.unit_cost", lang) + origin("unit_cost_eur"), eur(sm.get("unit_cost_cents"))),
        (t("audits.n_audits", lang), f.fmt_number(sm.get("n_audits"), 0, lang)),
        (t("audits.ose", lang), t("audits.of", lang, n=f.fmt_number(sm.get("n_ose_audited"), 0, lang),
                                   total=f.fmt_number(sm.get("n_ose"), 0, lang))),
        (t("audits.unspent", lang), eur(sm.get("unspent_cents"))),
    ]
    table = "\n".join([f"| {t('audits.table_head', lang)} | {t('kf.head.value', lang)} |", "|---|---:|",
                       *[f"| {k} | {v} |" for k, v in rows]])
    n, n_est = sm.get("n_audits") or 0, sm.get("n_establishments") or 0
    priority = str(sm.get("priority", "size")).split(" ")[0]
    text = t("audits.text", lang, priority=t(f"audits.priority.{priority}", lang), n=f.fmt_number(n, 0, lang),
             total=f.fmt_number(n_est, 0, lang))
    return f"{head}\n\n{table}\n\n{text}"


def audits_figures(pub: Published, lang: str = "fr") -> list[Any]:
    """Audits funded per region and per status (counts already suppressed in ``pub.audits``)."""
    figs = []
    for by in ("region", "status"):
        frame = pub.audits.get(f"by_{by}")
        if frame is None:
            continue
        figs.append(plots.coverage_by(frame, by, "n_audited", lang=lang, value_label=t("audits.fig_value", lang),
                                      title=t(f"audits.fig_title.{by}", lang)))
    return figs


def establishment_html(pub: Published, top: int = 50, lang: str = "fr") -> str:
    """Largest grants, establishment by establishment — only under ``disclosure: establishment`` (headers,
    labels and reasons in ``lang``)."""
    if pub.establishments is None:
        return f"<p>{t('report.establishments_not_published', lang)}</p>"
    est = pub.establishments.sort_values(["grant_cents", "finess"], ascending=[False, True]).head(top).copy()
    for kind in ("status", "category", "region"):
        if kind in est:
            est[kind] = [label(kind, c, lang) for c in est[kind]]
    for col in ("eligible", "ose"):
        if col in est:
            est[col] = [t("label.yes" if bool(v) else "label.no", lang) for v in est[col]]
    if "reason" in est:
        est["reason"] = translate_reasons(est["reason"], lang)
    formats = {"grant_eur": lambda x: formatting.fmt_eur(x, lang, 2), "cyber_share": tables.percent(2, lang),
               "finess": str, "department": str}
    body = tables.html_table(est, formats, lang=lang)
    return (f"<p class='cb-marking'><b>{html_text(pub.marking)}</b> — "
            f"{html.escape(t('report.establishments_top', lang, n=len(est)))}</p>" + body)


def assumptions_frame() -> pd.DataFrame:
    """Figures marked ``source: assumption`` in ``data/reference/`` (shown in the report's provenance)."""
    from cyberbudget.data.reference import provenance

    prov = provenance()
    out = prov[prov["assumption"]][["file", "key", "value", "unit", "note"]].reset_index(drop=True)
    for col in ("unit", "note"):  # folded YAML text ends with a newline
        out[col] = out[col].map(lambda x: " ".join(str(x).split()) if isinstance(x, str) else x)
    return out


def assumptions_html(lang: str = "fr") -> str:
    """:func:`assumptions_frame` as an HTML table (values and notes quoted as written in the reference files)."""
    return f"<div class='{QUOTED}'>{tables.html_table(assumptions_frame(), {'value': str}, lang=lang)}</div>"
