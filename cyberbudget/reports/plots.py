"""Every plotly figure of cyberbudget, in one house style.

House rules
-----------
- one accessible palette (Okabe–Ito, safe for the common colour-vision deficiencies), one font, white background;
- titles say what to see ("Public hospitals receive most of the envelope"), not what is plotted; the caller can
  pass its own;
- every word — titles, subtitles, axis labels, legends, hover text, group labels — comes from the message
  catalogue (``plot.*``, ``label.*``; :mod:`cyberbudget.reports.i18n`) and numbers are formatted the French way
  (``350 000 000 €``, ``5,0 %``, the default) or the English way (``350,000,000 €``, ``5.0 %``): every function
  takes ``lang="fr" | "en"``;
- figures draw *aggregated, disclosure-checked* data (see :mod:`cyberbudget.reports.disclosure`): a suppressed cell
  arrives as a missing value and is drawn as "not disclosed", never as zero.

Reports embed plotly.js once and fetch nothing from the network: :func:`register_renderer` installs the
``cyberbudget`` renderer (``pio.renderers.default = "cyberbudget"`` in the notebooks) which inlines plotly.js
in the first figure of a kernel session and never links MathJax or a CDN.

Other modules append their figures (risk, uncertainty) at the end of this file, using :func:`house_layout`,
:data:`PALETTE` and the ``fmt_*`` helpers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from cyberbudget import config
from cyberbudget.formatting import (
    check_lang,
    fmt_eur,
    fmt_eur_compact,
    fmt_int,
    fmt_number,
    fmt_pct,
    fmt_share,
    tick_format,
)
from cyberbudget.reports import i18n
from cyberbudget.reports.escaping import plot_text

# --------------------------------------------------------------------------------------------------------------
# Palette, fonts, labels
# --------------------------------------------------------------------------------------------------------------

#: Okabe & Ito (2008) colour-blind-safe palette, in the order figures use it.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
#: Grey used for "not disclosed", "unallocated" and reference lines.
GREY: str = "#8C8C8C"
#: Colour of each establishment status.
STATUS_COLORS: dict[str, str] = {
    "public": PALETTE[0],
    "private_nonprofit": PALETTE[2],
    "private_forprofit": PALETTE[1],
}
FONT_FAMILY: str = "Inter, 'Segoe UI', Helvetica, Arial, sans-serif"
#: Name of the plotly renderer installed by :func:`register_renderer`.
RENDERER_NAME: str = "cyberbudget"

def _lang(lang: str) -> str:
    return check_lang(lang)


def label(kind: str, code: str, lang: str = "fr") -> str:
    """Human label of a status, category, region or rule code (from the catalogue, :func:`cyberbudget.reports.i18n.label`).

    Examples
    --------
    >>> label("status", "private_nonprofit", "fr")
    'Privé non lucratif'
    >>> label("region", "53")
    'Bretagne'
    """
    return i18n.label(kind, code, _lang(lang))


def _t(key: str, lang: str, **fields: Any) -> str:
    return i18n.t(key, lang, **fields)


def _colon(lang: str) -> str:
    """``" : "`` in French (a no-break space before the colon), ``": "`` in English."""
    return i18n.t("plot.colon", lang)


def _nd(lang: str) -> str:
    """The legend of a suppressed cell: ``non diffusé (< 5 établissements)``."""
    return i18n.t("nd.long", lang, k=config.MIN_CELL_SIZE)


# --------------------------------------------------------------------------------------------------------------
# Layout and renderer
# --------------------------------------------------------------------------------------------------------------


def house_layout(
    fig: go.Figure, title: str, *, subtitle: str | None = None, lang: str = "fr", height: int | None = None
) -> go.Figure:
    """Apply the house style to a figure (in place) and return it.

    Parameters
    ----------
    fig : plotly Figure
    title : str
        What the reader should see in the chart, as a sentence. plotly reads it as (a subset of) HTML: a string
        from an input in it (a description, a name, a file name) goes through
        :func:`cyberbudget.reports.escaping.plot_text`.
    subtitle : str, optional
        Source, unit or caveat, shown in small grey text under the title (same rule).
    lang : {"fr", "en"}
        Number separators on axes and hover labels.
    height : int, optional
        Figure height in pixels (default: plotly's).
    """
    text = f"<b>{title}</b>"
    if subtitle:
        text += f"<br><span style='font-size:12px;color:{GREY}'>{subtitle}</span>"
    fig.update_layout(
        title={"text": text, "x": 0.0, "xanchor": "left", "font": {"size": 17}},
        font={"family": FONT_FAMILY, "size": 13, "color": "#222222"},
        colorway=list(PALETTE),
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin={"l": 70, "r": 30, "t": 90 if subtitle else 70, "b": 60},
        legend={"orientation": "h", "yanchor": "bottom", "y": -0.25, "xanchor": "left", "x": 0.0},
        hoverlabel={"font": {"family": FONT_FAMILY}},
        **tick_format(lang),
    )
    if height is not None:
        fig.update_layout(height=height)
    fig.update_xaxes(showgrid=False, linecolor="#444444", ticks="outside", zeroline=False)
    fig.update_yaxes(gridcolor="#E5E5E5", linecolor="#444444", zeroline=False)
    return fig


class EmbeddedRenderer(pio.base_renderers.MimetypeRenderer):
    """Renderer that embeds plotly.js once per kernel session and links nothing from the network.

    The first figure's HTML carries the whole plotly.js bundle inline; later ones reuse it. Each output also
    carries the plotly JSON mime type, so JupyterLab shows the interactive figure natively, while nbconvert
    (which does not know that mime type) exports the self-contained HTML.
    """

    def __init__(self) -> None:
        # plotly shallow-copies a renderer before each use: the state lives in a shared mutable mapping.
        self.state = {"plotlyjs_sent": False}

    def to_mimebundle(self, fig_dict: dict) -> dict:  # noqa: D102 - plotly renderer protocol
        include = not self.state["plotlyjs_sent"]
        self.state["plotlyjs_sent"] = True
        html = pio.to_html(
            fig_dict,
            include_plotlyjs=include,
            include_mathjax=False,
            full_html=False,
            default_width="100%",
            default_height=480,
            validate=False,
            config={"displaylogo": False, "responsive": True},
        )
        return {"application/vnd.plotly.v1+json": {"data": fig_dict.get("data", []),
                                                   "layout": fig_dict.get("layout", {})},
                "text/html": html}


def register_renderer() -> str:
    """Install a fresh :class:`EmbeddedRenderer` as ``pio.renderers["cyberbudget"]``.

    Call it once at the top of every notebook: a fresh renderer embeds plotly.js again in the notebook's first
    figure, even in a kernel that already rendered another notebook (warm kernels, :mod:`cyberbudget.reports.kernels`).

    Returns
    -------
    str
        The renderer name, to assign to ``plotly.io.renderers.default``.
    """
    pio.renderers[RENDERER_NAME] = EmbeddedRenderer()
    return RENDERER_NAME


# --------------------------------------------------------------------------------------------------------------
# Allocation report figures (inputs come from cyberbudget.reports.disclosure, already aggregated)
# --------------------------------------------------------------------------------------------------------------


def _group_labels(kind: str, codes: Sequence[str], lang: str) -> list[str]:
    """Labels of groups as figure text: a code from a table (a GHT code, a name) is shown, never read as markup."""
    return [plot_text(label(kind, str(c), lang)) for c in codes]


def share_distribution(
    bins: pd.DataFrame, min_share: float, max_share: float, *, lang: str = "fr", title: str | None = None,
    n_below: int | None = None, n_total: int | None = None,
) -> go.Figure:
    """Bar chart of establishments by cyber share of IT budget, with the corridor lines.

    The bars below ``min_share`` and those at or above it are two traces of two colours, both named in the
    legend.

    Parameters
    ----------
    bins : DataFrame
        From :func:`cyberbudget.reports.disclosure.share_histogram`: ``left, right, n`` (``n`` missing when suppressed).
    min_share, max_share : float
        The scenario's corridor (e.g. 0.05 and 0.10), drawn as vertical lines.
    n_below, n_total : int, optional
        Establishments below ``min_share`` and in all (for the title; default: sums of the visible bins).
    """
    lang = _lang(lang)
    centers = (bins["left"].to_numpy(float) + bins["right"].to_numpy(float)) / 2 * 100
    widths = (bins["right"].to_numpy(float) - bins["left"].to_numpy(float)) * 100
    counts = pd.to_numeric(bins["n"], errors="coerce")
    below = centers < 100 * min_share
    edges = np.stack([bins["left"].to_numpy(float) * 100, bins["right"].to_numpy(float) * 100], axis=1)
    hover = "%{customdata[0]:.1f}–%{customdata[1]:.1f} %: %{y:,.0f} " + _t("plot.word.establishments", lang) \
        + "<extra></extra>"
    fig = go.Figure()
    threshold = fmt_share(min_share, lang)
    for mask, color, key in ((below, PALETTE[3], "plot.share.below"), (~below, PALETTE[0], "plot.share.above")):
        fig.add_bar(x=centers[mask], y=counts[mask].fillna(0), width=widths[mask], marker_color=color,
                    name=_t(key, lang, min=threshold), customdata=edges[mask], hovertemplate=hover)
    hidden = counts.isna()
    if hidden.any():
        fig.add_scatter(
            x=centers[hidden.to_numpy()], y=np.zeros(int(hidden.sum())), mode="markers",
            marker={"symbol": "x", "color": GREY, "size": 9}, name=_nd(lang),
        )
    for share, key in ((min_share, "plot.share.min_line"), (max_share, "plot.share.max_line")):
        fig.add_vline(x=100 * share, line={"color": "#222222", "dash": "dash", "width": 1.5},
                      annotation_text=_t(key, lang, value=fmt_share(share, lang)), annotation_position="top")
    n_below = int(counts[below].fillna(0).sum()) if n_below is None else n_below
    total = int(counts.fillna(0).sum()) if n_total is None else n_total
    default = _t("plot.share.title", lang, n_below=fmt_int(n_below, lang), n=fmt_int(total, lang), min=threshold)
    house_layout(fig, title or default, lang=lang,
                 subtitle=_t("plot.share.subtitle", lang, k=config.MIN_CELL_SIZE))
    fig.update_xaxes(title=_t("plot.share.x", lang))
    fig.update_yaxes(title=_t("plot.share.y", lang))
    fig.update_layout(showlegend=True, bargap=0.05, barmode="overlay")
    return fig


def allocation_by(
    breakdown: pd.DataFrame, by: str, *, lang: str = "fr", title: str | None = None, top: int | None = None
) -> go.Figure:
    """Horizontal bars: grant by group (region, status, category, GHT), largest first.

    Parameters
    ----------
    breakdown : DataFrame
        From :func:`cyberbudget.reports.disclosure.breakdown` (rows only): the group column ``by``, ``n_establishments``,
        ``n_eligible``, ``grant_eur`` (missing when suppressed).
    by : str
        ``region``, ``status``, ``category`` or ``ght``.
    top : int, optional
        Keep the largest ``top`` groups; suppressed groups are then counted in the subtitle rather than listed
        (without ``top`` they are listed last, marked "not disclosed").
    """
    lang = _lang(lang)
    df = breakdown.copy()
    df["grant_eur"] = pd.to_numeric(df["grant_eur"], errors="coerce")
    shown = df[df["grant_eur"].notna()].sort_values("grant_eur", ascending=False)
    hidden = df[df["grant_eur"].isna()]
    subtitle = _t("plot.alloc.subtitle", lang)
    if top is not None:
        n_not_shown = len(shown) - min(top, len(shown))
        shown = shown.head(top)
        if len(hidden):
            subtitle += _t("plot.alloc.hidden_groups", lang, n=len(hidden), k=config.MIN_CELL_SIZE)
        if n_not_shown:
            subtitle += _t("plot.alloc.smaller_groups", lang, n=n_not_shown)
        hidden = hidden.iloc[0:0]
    labels = _group_labels(by, shown[by].tolist(), lang)
    fig = go.Figure()
    fig.add_bar(
        y=labels, x=shown["grant_eur"] / 1e6, orientation="h", marker_color=PALETTE[0],
        name=_t("plot.word.grant", lang),
        text=[fmt_eur_compact(v, lang) for v in shown["grant_eur"]], textposition="outside",
        customdata=np.stack([shown["n_establishments"], shown["n_eligible"].astype(float)], axis=1)
        if len(shown) else None,
        hovertemplate="%{y}" + _colon(lang) + "%{x:,.2f} M€<br>%{customdata[0]} " + _t("plot.word.establishments", lang)
        + ", %{customdata[1]:.0f} " + _t("plot.word.eligible", lang) + "<extra></extra>",
    )
    if len(hidden):
        hidden_labels = _group_labels(by, hidden[by].tolist(), lang)
        fig.add_bar(
            y=hidden_labels, x=[0] * len(hidden), orientation="h", marker_color=GREY,
            name=_nd(lang), text=[_nd(lang)] * len(hidden), textposition="outside", hoverinfo="skip",
        )
    if title is None and len(shown):
        total = df["grant_eur"].sum()
        lead_share = shown["grant_eur"].iloc[0] / total if total else float("nan")
        title = _t("plot.alloc.title", lang, group=labels[0], share=fmt_pct(lead_share, lang, 0))
    house_layout(fig, title or _t(f"plot.alloc.default.{by}", lang), lang=lang,
                 height=max(320, 28 * (len(shown) + len(hidden)) + 160),
                 subtitle=subtitle)
    fig.update_yaxes(autorange="reversed", showgrid=False, title=None)
    fig.update_xaxes(title="M€", showgrid=True, gridcolor="#E5E5E5")
    fig.update_layout(showlegend=len(hidden) > 0, barmode="overlay")
    return fig


def flow_sankey(
    cells: pd.DataFrame,
    *,
    envelope_cents: int,
    unallocated_cents: int | None,
    lang: str = "fr",
    title: str | None = None,
) -> go.Figure:
    """Sankey diagram: envelope → statuses → regions.

    Parameters
    ----------
    cells : DataFrame
        From :func:`cyberbudget.reports.disclosure.crosstab` in long form: ``status, region, grant_cents`` with
        ``grant_cents`` missing for suppressed cells; suppressed cells of a status are drawn together as one
        flow to a "small cells" node (secondary suppression guarantees that sum is itself publishable).
    envelope_cents, unallocated_cents : int
        Totals; ``unallocated_cents`` None when suppressed.
    """
    lang = _lang(lang)
    statuses = [s for s in config.STATUSES if s in set(cells["status"])]
    regions = [r for r in config.REGIONS if r in set(cells["region"])]
    nodes = [_t("plot.sankey.envelope", lang)] + [label("status", s, lang) for s in statuses]
    nodes += [label("region", r, lang) for r in regions] + [_t("plot.sankey.other", lang),
                                                            _t("plot.sankey.unallocated", lang)]
    idx_status = {s: 1 + i for i, s in enumerate(statuses)}
    idx_region = {r: 1 + len(statuses) + i for i, r in enumerate(regions)}
    idx_other = len(nodes) - 2
    idx_unalloc = len(nodes) - 1
    src: list[int] = []
    dst: list[int] = []
    val: list[float] = []
    colors: list[str] = []
    grants = pd.to_numeric(cells["grant_cents"], errors="coerce")
    status_total = cells.assign(g=grants).groupby("status")["status_total_cents"].first()
    for s in statuses:
        total = status_total.get(s)
        if total is not None and not pd.isna(total) and total > 0:
            src.append(0), dst.append(idx_status[s]), val.append(total / 100)
            colors.append(STATUS_COLORS.get(s, GREY))
    for (s, r), g in zip(zip(cells["status"], cells["region"], strict=True), grants, strict=True):
        if pd.notna(g) and g > 0:
            src.append(idx_status[s]), dst.append(idx_region[r]), val.append(g / 100)
            colors.append(STATUS_COLORS.get(s, GREY))
    for s in statuses:
        hidden = cells[(cells["status"] == s) & grants.isna()]
        total = status_total.get(s)
        if len(hidden) and total is not None and not pd.isna(total):
            rest = total - grants[(cells["status"] == s) & grants.notna()].sum()
            if rest > 0:
                src.append(idx_status[s]), dst.append(idx_other), val.append(rest / 100)
                colors.append(GREY)
    if unallocated_cents:
        src.append(0), dst.append(idx_unalloc), val.append(unallocated_cents / 100)
        colors.append(GREY)
    link_colors = [_with_alpha(c, 0.45) for c in colors]
    node_colors = [PALETTE[7]] + [STATUS_COLORS.get(s, GREY) for s in statuses]
    node_colors += [PALETTE[5]] * len(regions) + [GREY, GREY]
    fig = go.Figure(go.Sankey(
        arrangement="snap",
        node={"label": nodes, "color": node_colors, "pad": 12, "thickness": 14},
        link={"source": src, "target": dst, "value": val, "color": link_colors,
              "hovertemplate": "%{source.label} → %{target.label}" + _colon(lang) + "%{value:,.0f} €<extra></extra>"},
    ))
    if title is None:
        title = _t("plot.sankey.title", lang, envelope=fmt_eur_compact(envelope_cents / 100, lang))
    house_layout(fig, title, lang=lang, height=640,
                 subtitle=_t("plot.sankey.subtitle", lang, k=config.MIN_CELL_SIZE, other=_t("plot.sankey.other", lang)))
    return fig


def _with_alpha(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def lorenz_curve(points: pd.DataFrame, gini: float | None, *, lang: str = "fr", title: str | None = None,
                 what: str | None = None) -> go.Figure:
    """Lorenz curve of a distribution (e.g. grant per bed) with its Gini coefficient.

    Parameters
    ----------
    points : DataFrame
        From :func:`cyberbudget.reports.disclosure.lorenz_points`: ``population_share, value_share`` (each step
        aggregates at least 5 establishments).
    gini : float or None
        Gini coefficient (None when not disclosed).
    what : str, optional
        What is distributed, in ``lang`` (default: the grant per bed).
    """
    lang = _lang(lang)
    what = what or _t("plot.lorenz.what", lang)
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"color": GREY, "dash": "dot"},
                    name=_t("plot.lorenz.equality", lang))
    fig.add_scatter(x=points["population_share"], y=points["value_share"], mode="lines+markers",
                    line={"color": PALETTE[0], "width": 2.5}, name=_t("plot.lorenz.curve", lang),
                    hovertemplate="%{x:.0%} → %{y:.1%}<extra></extra>")
    g = "–" if gini is None else fmt_number(gini, 2, lang)
    if title is None:
        title = _t("plot.lorenz.title", lang, what=what, gini=g)
    house_layout(fig, title, lang=lang, height=480, subtitle=_t("plot.lorenz.subtitle", lang))
    fig.update_xaxes(title=_t("plot.lorenz.x", lang), tickformat=".0%", range=[0, 1])
    fig.update_yaxes(title=_t("plot.lorenz.y", lang, what=what), tickformat=".0%", range=[0, 1], scaleanchor="x")
    return fig


def per_bed_by(breakdown: pd.DataFrame, by: str, *, lang: str = "fr", title: str | None = None) -> go.Figure:
    """Bars: grant per bed (€) by group, from a :func:`cyberbudget.reports.disclosure.breakdown`."""
    lang = _lang(lang)
    df = breakdown.copy()
    df["grant_per_bed_eur"] = pd.to_numeric(df["grant_per_bed_eur"], errors="coerce")
    df = df[df["grant_per_bed_eur"].notna()].sort_values("grant_per_bed_eur", ascending=False)
    labels = _group_labels(by, df[by].tolist(), lang)
    fig = go.Figure(go.Bar(x=labels, y=df["grant_per_bed_eur"], marker_color=PALETTE[2],
                           text=[fmt_eur(v, lang) for v in df["grant_per_bed_eur"]], textposition="outside",
                           hovertemplate="%{x}" + _colon(lang) + "%{y:,.0f} " + _t("plot.perbed.unit", lang)
                           + "<extra></extra>"))
    if title is None and len(df):
        title = _t("plot.perbed.title", lang, group=labels[0], amount=fmt_eur(df["grant_per_bed_eur"].iloc[0], lang))
    house_layout(fig, title or _t("plot.perbed.default", lang), lang=lang, subtitle=_t("plot.perbed.subtitle", lang))
    fig.update_yaxes(title=_t("plot.perbed.unit", lang))
    return fig


def schedule(years: pd.DataFrame, *, lang: str = "fr", title: str | None = None) -> go.Figure:
    """Bars: grants paid each year of the envelope (``year, grant_eur``)."""
    lang = _lang(lang)
    values = pd.to_numeric(years["grant_eur"], errors="coerce")
    fig = go.Figure(go.Bar(x=years["year"].astype(str), y=values / 1e6, marker_color=PALETTE[0],
                           text=[fmt_eur_compact(v, lang) for v in values], textposition="outside",
                           hovertemplate="%{x}" + _colon(lang) + "%{y:,.2f} M€<extra></extra>"))
    if title is None:
        first, last = years["year"].iloc[0], years["year"].iloc[-1]
        title = _t("plot.schedule.title", lang, first=first, last=last)
    house_layout(fig, title, lang=lang, subtitle=_t("plot.schedule.subtitle", lang))
    fig.update_yaxes(title="M€")
    fig.update_xaxes(type="category")
    return fig


def coverage_by(
    df: pd.DataFrame, by: str, value: str, *, lang: str = "fr", title: str | None = None,
    value_label: str | None = None, percent: bool = False,
) -> go.Figure:
    """Bars of one measure by group (e.g. audits per region, audit coverage by status); ``value_label`` names the
    measure in ``lang`` (default: the column's reader's name)."""
    lang = _lang(lang)
    vals = pd.to_numeric(df[value], errors="coerce")
    labels = _group_labels(by, df[by].astype(str).tolist(), lang)
    text = [fmt_pct(v, lang) if percent else fmt_number(v, 0, lang) for v in vals]
    fig = go.Figure(go.Bar(x=labels, y=vals, marker_color=PALETTE[4], text=text, textposition="outside"))
    what = value_label or i18n.column(value, lang)
    house_layout(fig, title or _t(f"plot.coverage.title.{by}", lang, what=what), lang=lang)
    fig.update_yaxes(title=what, tickformat=".0%" if percent else None)
    return fig


# --------------------------------------------------------------------------------------------------------------
# Scenario comparison
# --------------------------------------------------------------------------------------------------------------


def compare_groups(
    long: pd.DataFrame, by: str, *, baseline: str | None = None, lang: str = "fr", title: str | None = None
) -> go.Figure:
    """Who gains, who loses: change in grant by group against a baseline scenario.

    Parameters
    ----------
    long : DataFrame
        ``scenario, <by>, grant_eur`` (``grant_eur`` missing when suppressed), e.g. from
        :func:`cyberbudget.reports.comparison.comparison_tables`.
    baseline : str, optional
        Scenario the others are compared with (default: the first one).
    """
    lang = _lang(lang)
    scenarios = list(dict.fromkeys(long["scenario"]))
    baseline = baseline or scenarios[0]
    # pivot, not pivot_table(aggfunc="sum"): a suppressed (missing) cell must stay missing, not become 0
    wide = long.assign(grant_eur=pd.to_numeric(long["grant_eur"], errors="coerce")).pivot(
        index=by, columns="scenario", values="grant_eur")
    wide = wide.reindex(columns=scenarios)
    fig = go.Figure()
    others = [s for s in scenarios if s != baseline]
    versus = _t("plot.compare.versus", lang, baseline=baseline)
    for i, s in enumerate(others):
        delta = (wide[s] - wide[baseline]) / 1e6
        fig.add_bar(x=_group_labels(by, wide.index.tolist(), lang), y=delta, name=s,
                    marker_color=PALETTE[(i + 1) % len(PALETTE)],
                    hovertemplate=s + _colon(lang) + "%{y:+,.2f} M€ " + versus + "<extra></extra>")
    if title is None and others:
        delta = (wide[others[0]] - wide[baseline]).dropna()
        if len(delta):
            gain, loss = delta.idxmax(), delta.idxmin()
            top = "plot.compare.gains_most" if delta.max() > 0 else "plot.compare.loses_least"
            bottom = "plot.compare.loses_most" if delta.min() < 0 else "plot.compare.gains_least"
            title = _t("plot.compare.title", lang, scenario=others[0], baseline=baseline,
                       top=_t(top, lang, group=label(by, str(gain), lang)),
                       bottom=_t(bottom, lang, group=label(by, str(loss), lang)))
    house_layout(fig, title or _t(f"plot.compare.default.{by}", lang), lang=lang,
                 subtitle=_t("plot.compare.subtitle", lang, baseline=baseline, k=config.MIN_CELL_SIZE))
    fig.add_hline(y=0, line={"color": "#222222", "width": 1})
    fig.update_yaxes(title="M€ " + versus)
    fig.update_layout(barmode="group")
    return fig


def compare_totals(totals: pd.DataFrame, *, lang: str = "fr", title: str | None = None) -> go.Figure:
    """Allocated and unallocated money per scenario (stacked bars; ``scenario, allocated_eur, unallocated_eur``).

    The default title names the scenario that leaves the most money unspent — or says that every scenario
    allocates the whole envelope, or that several tie.
    """
    lang = _lang(lang)
    fig = go.Figure()
    fig.add_bar(x=totals["scenario"], y=totals["allocated_eur"] / 1e6, name=_t("plot.compare.allocated", lang),
                marker_color=PALETTE[0],
                text=[fmt_eur_compact(v, lang) for v in totals["allocated_eur"]], textposition="inside")
    fig.add_bar(x=totals["scenario"], y=totals["unallocated_eur"] / 1e6, name=_t("plot.compare.unallocated", lang),
                marker_color=GREY,
                text=[fmt_eur_compact(v, lang) for v in totals["unallocated_eur"]], textposition="inside")
    if title is None:
        unspent = pd.to_numeric(totals["unallocated_eur"], errors="coerce")
        known = unspent.dropna()
        if known.empty:
            title = _t("plot.compare.unspent_not_disclosed", lang)
        elif (known == 0).all():
            title = _t("plot.compare.all_allocated", lang) if len(known) == len(unspent) else \
                _t("plot.compare.none_unspent_known", lang)
        else:
            most = known[known == known.max()].index
            names = ", ".join(_t("plot.quoted", lang, name=totals.loc[i, "scenario"]) for i in most)
            key = "plot.compare.most_unspent" if len(most) == 1 else "plot.compare.most_unspent_tie"
            title = _t(key, lang, scenario=names, amount=fmt_eur_compact(known.max(), lang))
    house_layout(fig, title, lang=lang, subtitle="M€")
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title="M€")
    return fig


def compare_eligibility(totals: pd.DataFrame, *, lang: str = "fr", title: str | None = None) -> go.Figure:
    """Eligible establishments per scenario (``scenario, n_eligible, n_establishments``)."""
    lang = _lang(lang)
    share = totals["n_eligible"] / totals["n_establishments"]
    fig = go.Figure(go.Bar(x=totals["scenario"], y=totals["n_eligible"], marker_color=PALETTE[2],
                           name=_t("plot.compare.eligible_axis", lang),
                           text=[f"{fmt_int(n, lang)} ({fmt_pct(s, lang, 0)})"
                                 for n, s in zip(totals["n_eligible"], share, strict=True)],
                           textposition="outside"))
    if title is None:
        lo, hi = totals["n_eligible"].min(), totals["n_eligible"].max()
        if lo == hi:
            title = _t("plot.compare.eligible_same", lang, n=fmt_int(lo, lang))
        else:
            title = _t("plot.compare.eligible_range", lang, lo=fmt_int(lo, lang), hi=fmt_int(hi, lang))
    house_layout(fig, title, lang=lang, subtitle=_t("plot.compare.eligible_subtitle", lang))
    fig.update_yaxes(title=_t("plot.compare.eligible_axis", lang))
    return fig


def figure_kinds() -> Mapping[str, Any]:
    """The report figures of this section, by name (used by tests and the docs)."""
    return {
        "share_distribution": share_distribution, "allocation_by": allocation_by, "flow_sankey": flow_sankey,
        "lorenz_curve": lorenz_curve, "per_bed_by": per_bed_by, "schedule": schedule, "coverage_by": coverage_by,
        "compare_groups": compare_groups, "compare_totals": compare_totals,
        "compare_eligibility": compare_eligibility,
    }


# --------------------------------------------------------------------------------------------------------------
# Sections appended by other modules (risk, uncertainty) go below this line.
# --------------------------------------------------------------------------------------------------------------


# --- risk figures ---
# Figures of the risk report (cyberbudget.risk.model, cyberbudget.risk.optimal); inputs are aggregated and
# disclosure-checked (reports.risk_tables.published_breakdown), never establishment-level.


def risk_losses_by(breakdown: pd.DataFrame, by: str, *, lang: str = "fr", title: str | None = None) -> go.Figure:
    """Grouped horizontal bars: expected annual loss before and after the policy, by group.

    Parameters
    ----------
    breakdown : DataFrame
        From :func:`cyberbudget.reports.risk_tables.published_breakdown`: ``by``, ``expected_loss_before_eur``,
        ``expected_loss_after_eur`` (NaN when suppressed).
    by : str
        ``region``, ``status`` or ``category``.
    """
    lang = _lang(lang)
    df = breakdown.copy()
    shown = df[df["expected_loss_before_eur"].notna()].sort_values("expected_loss_before_eur", ascending=False)
    hidden = df[df["expected_loss_before_eur"].isna()]
    labels = _group_labels(by, shown[by].tolist(), lang)
    hover = "%{y}" + _colon(lang) + "%{x:,.2f} " + _t("plot.risk.meur_year", lang) + "<extra></extra>"
    fig = go.Figure()
    fig.add_bar(y=labels, x=shown["expected_loss_before_eur"] / 1e6, orientation="h",
                name=_t("plot.risk.before", lang), marker_color=PALETTE[3], hovertemplate=hover)
    fig.add_bar(y=labels, x=shown["expected_loss_after_eur"] / 1e6, orientation="h",
                name=_t("plot.risk.after", lang), marker_color=PALETTE[0], hovertemplate=hover,
                text=[fmt_pct(1 - a / b if b else None, lang, 1) for a, b in
                      zip(shown["expected_loss_after_eur"], shown["expected_loss_before_eur"], strict=True)],
                textposition="outside")
    if len(hidden):
        fig.add_bar(y=_group_labels(by, hidden[by].tolist(), lang), x=[0] * len(hidden), orientation="h",
                    marker_color=GREY, name=_nd(lang), hoverinfo="skip")
    if title is None and len(shown):
        before, after = shown["expected_loss_before_eur"].sum(), shown["expected_loss_after_eur"].sum()
        cut = 1 - after / before if before else 0.0
        title = _t("plot.risk.title", lang, cut=fmt_pct(cut, lang, 1))
    house_layout(fig, title or _t("plot.risk.default", lang), lang=lang, subtitle=_t("plot.risk.subtitle", lang),
                 height=max(320, 40 * (len(shown) + len(hidden)) + 160))
    fig.update_layout(barmode="group")
    fig.update_yaxes(autorange="reversed", showgrid=False, title=None)
    fig.update_xaxes(title=_t("plot.risk.meur_year", lang), showgrid=True, gridcolor="#E5E5E5")
    return fig


def avoided_per_euro_by(breakdown: pd.DataFrame, by: str, *, lang: str = "fr", title: str | None = None) -> go.Figure:
    """Horizontal bars: expected loss avoided per euro of grant, by group (``avoided_per_euro``), with a
    reference line at 1 € (a grant that pays for itself in avoided losses)."""
    lang = _lang(lang)
    df = breakdown.copy()
    df["avoided_per_euro"] = pd.to_numeric(df["avoided_per_euro"], errors="coerce")
    shown = df[df["avoided_per_euro"].notna()].sort_values("avoided_per_euro", ascending=False)
    hidden = df[df["avoided_per_euro"].isna()]
    labels = _group_labels(by, shown[by].tolist(), lang)
    fig = go.Figure()
    fig.add_bar(y=labels, x=shown["avoided_per_euro"], orientation="h", marker_color=PALETTE[2],
                text=[fmt_number(v, 2, lang) + " €" for v in shown["avoided_per_euro"]], textposition="outside",
                hovertemplate="%{y}" + _colon(lang) + "%{x:.3f} " + _t("plot.ape.unit", lang) + "<extra></extra>",
                name="€ / €")
    if len(hidden):
        fig.add_bar(y=_group_labels(by, hidden[by].tolist(), lang), x=[0] * len(hidden), orientation="h",
                    marker_color=GREY, name=_t("plot.ape.hidden", lang, nd=_nd(lang)), hoverinfo="skip")
    fig.add_vline(x=1.0, line_dash="dot", line_color=GREY)
    if title is None and len(shown):
        title = _t("plot.ape.title", lang, group=labels[0],
                   amount=fmt_number(shown["avoided_per_euro"].iloc[0], 2, lang))
    house_layout(fig, title or _t("plot.ape.default", lang), lang=lang, subtitle=_t("plot.ape.subtitle", lang),
                 height=max(320, 28 * (len(shown) + len(hidden)) + 160))
    fig.update_yaxes(autorange="reversed", showgrid=False, title=None)
    fig.update_xaxes(title=_t("plot.ape.unit", lang), showgrid=True, gridcolor="#E5E5E5")
    fig.update_layout(showlegend=len(hidden) > 0)
    return fig


def rule_comparison(comparison: pd.DataFrame, *, lang: str = "fr", title: str | None = None) -> go.Figure:
    """Bars: expected loss avoided by the grants under each rule (``optimize.compare_rules`` output:
    ``rule, avoided_grant_eur_over_years, avoided_per_euro``)."""
    lang = _lang(lang)
    df = comparison.copy()
    colors = [PALETTE[0] if r == "optimal" else PALETTE[1] for r in df["rule"]]
    fig = go.Figure(go.Bar(
        x=[label("rule", r, lang) for r in df["rule"]], y=df["avoided_grant_eur_over_years"] / 1e6,
        marker_color=colors,
        text=[f"{fmt_eur_compact(v, lang)} ({fmt_number(p, 2, lang)} €/€)" if p == p and p is not None else
              fmt_eur_compact(v, lang) for v, p in zip(df["avoided_grant_eur_over_years"], df["avoided_per_euro"],
                                                       strict=True)],
        textposition="outside", hovertemplate="%{x}" + _colon(lang) + "%{y:,.2f} M€<extra></extra>",
    ))
    if title is None and len(df) >= 2 and "optimal" in set(df["rule"]):
        best = df.set_index("rule")["avoided_grant_eur_over_years"]
        others = best.drop("optimal")
        gain = best["optimal"] / others.max() - 1 if others.max() > 0 else 0.0
        title = _t("plot.rules.title", lang, gain=fmt_pct(gain, lang, 1))
    house_layout(fig, title or _t("plot.rules.default", lang), lang=lang, subtitle=_t("plot.rules.subtitle", lang))
    fig.update_yaxes(title="M€")
    return fig


def marginal_value_curve(curve: pd.DataFrame, *, lang: str = "fr", title: str | None = None) -> go.Figure:
    """Expected loss avoided as the envelope varies (optimal vs proportional), and the marginal value of the
    last euro μ on a second axis (``optimize.envelope_curve`` output)."""
    lang = _lang(lang)
    fig = go.Figure()
    x = curve["envelope_eur"] / 1e6
    fig.add_scatter(x=x, y=curve["optimal_avoided_eur"] / 1e6, mode="lines+markers",
                    name=label("rule", "optimal", lang), line={"color": PALETTE[0]})
    fig.add_scatter(x=x, y=curve["proportional_avoided_eur"] / 1e6, mode="lines+markers",
                    name=label("rule", "proportional", lang), line={"color": PALETTE[1]})
    fig.add_scatter(x=x, y=curve["mu"], mode="lines", name=_t("plot.mv.mu", lang), yaxis="y2",
                    line={"color": GREY, "dash": "dot"})
    if title is None and len(curve):
        last = curve.loc[(curve["fraction"] - 1.0).abs().idxmin()]
        title = _t("plot.mv.title", lang, mu=fmt_number(last["mu"], 2, lang))
    house_layout(fig, title or _t("plot.mv.default", lang), lang=lang, subtitle=_t("plot.mv.subtitle", lang))
    fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "title": "μ (€/€)", "showgrid": False,
                              "rangemode": "tozero"})
    fig.update_xaxes(title=_t("plot.mv.x", lang))
    fig.update_yaxes(title=_t("plot.mv.y", lang), selector={"anchor": "x"}, rangemode="tozero")
    return fig


def risk_figure_kinds() -> Mapping[str, Any]:
    """The risk report figures, by name."""
    return {"risk_losses_by": risk_losses_by, "avoided_per_euro_by": avoided_per_euro_by,
            "rule_comparison": rule_comparison, "marginal_value_curve": marginal_value_curve}


# --- uncertainty figures ---
# Figures of the uncertainty and sensitivity reports (cyberbudget.uncertainty.montecarlo, cyberbudget.uncertainty.sensitivity,
# cyberbudget.uncertainty.search); inputs are sector totals or groups already checked by
# cyberbudget.reports.disclosure.simulated_groups.


def mc_fan_by(per_draw: pd.DataFrame, by: str = "category", *, scale: float = 1e6, unit: str = "M€",
              lang: str = "fr", title: str | None = None) -> go.Figure:
    """Fan chart: the distribution over draws of a total per group (median, 50 % and 90 % bands).

    Parameters
    ----------
    per_draw : DataFrame
        One row per draw, one column per group (e.g. ``MonteCarloResult.grants_by_category``).
    by : str
        Kind of group (for labels): ``category``, ``status`` or ``region``.
    scale, unit : float, str
        Values are divided by ``scale`` and shown in ``unit``.
    """
    lang = _lang(lang)
    cols = sorted(per_draw.columns, key=lambda c: -float(per_draw[c].median()))
    q = per_draw[cols].quantile([0.05, 0.25, 0.5, 0.75, 0.95]) / scale
    labels = _group_labels(by, [str(c) for c in cols], lang)
    fig = go.Figure()
    fig.add_bar(x=labels, y=q.loc[0.95] - q.loc[0.05], base=q.loc[0.05], marker_color=_with_alpha(PALETTE[0], 0.25),
                name=_t("plot.fan.band90", lang), hovertemplate="%{x}" + _colon(lang) + "P5–P95<extra></extra>")
    fig.add_bar(x=labels, y=q.loc[0.75] - q.loc[0.25], base=q.loc[0.25], marker_color=_with_alpha(PALETTE[0], 0.55),
                name=_t("plot.fan.band50", lang), hovertemplate="%{x}" + _colon(lang) + "P25–P75<extra></extra>")
    fig.add_scatter(x=labels, y=q.loc[0.5], mode="markers", marker={"color": PALETTE[0], "symbol": "line-ew-open",
                    "size": 28, "line": {"width": 3}}, name=_t("plot.fan.median", lang),
                    hovertemplate="%{x}" + _colon(lang) + "%{y:,.2f} " + unit + "<extra></extra>")
    house_layout(fig, title or _t("plot.fan.title", lang), lang=lang, subtitle=_t("plot.fan.subtitle", lang, unit=unit))
    fig.update_layout(barmode="overlay", bargap=0.35)
    fig.update_yaxes(title=unit)
    return fig


def loss_exceedance_curve(lec: pd.DataFrame, var: float | None = None, cvar: float | None = None, *,
                          level: float = 0.95, lang: str = "fr", title: str | None = None) -> go.Figure:
    """Loss-exceedance curve (probability that the annual sector loss exceeds x), with VaR and CVaR marks.

    Parameters
    ----------
    lec : DataFrame
        ``loss_eur``, ``probability`` (:meth:`MonteCarloResult.loss_exceedance`).
    var, cvar : float, optional
        Value at risk and expected shortfall at ``level`` (euros).
    """
    lang = _lang(lang)
    fig = go.Figure()
    fig.add_scatter(x=lec["loss_eur"] / 1e6, y=lec["probability"], mode="lines", line={"color": PALETTE[3], "width": 3},
                    name=_t("plot.lec.curve", lang),
                    hovertemplate="%{x:,.1f} M€" + _colon(lang) + "%{y:.1%}<extra></extra>")
    pct = fmt_pct(level, lang, 0)
    for value, name, dash in ((var, f"VaR {pct}", "dash"), (cvar, f"CVaR {pct}", "dot")):
        if value is not None:
            fig.add_vline(x=value / 1e6, line_dash=dash, line_color=GREY,
                          annotation_text=f"{name}{_colon(lang)}{fmt_eur_compact(value, lang)}",
                          annotation_position="top right")
    if title is None:
        title = (_t("plot.lec.title", lang, n=round(1 / (1 - level)), amount=fmt_eur_compact(var, lang))
                 if var is not None else _t("plot.lec.default", lang))
    house_layout(fig, title, lang=lang, subtitle=_t("plot.lec.subtitle", lang))
    fig.update_xaxes(title=_t("plot.risk.meur_year", lang))
    fig.update_yaxes(title=_t("plot.lec.y", lang), tickformat=".0%", rangemode="tozero")
    return fig


def eligibility_probability_by(table: pd.DataFrame, by: str = "category", *, lang: str = "fr",
                               title: str | None = None) -> go.Figure:
    """Bars: mean probability of being eligible by group, with the share of establishments that are always or
    never eligible (``MonteCarloResult.eligibility_by``, restricted to the publishable groups by
    :func:`cyberbudget.reports.disclosure.simulated_groups`)."""
    lang = _lang(lang)
    df = table.sort_values("mean_p_eligible", ascending=False)
    labels = _group_labels(by, df[by].astype(str).tolist(), lang)
    fig = go.Figure()
    fig.add_bar(x=labels, y=df["mean_p_eligible"], marker_color=PALETTE[0], name=_t("plot.epb.mean", lang),
                text=[fmt_pct(v, lang, 0) for v in df["mean_p_eligible"]], textposition="outside")
    fig.add_scatter(x=labels, y=df["share_certain"], mode="markers", marker={"color": PALETTE[2], "size": 10},
                    name=_t("plot.epb.always", lang))
    fig.add_scatter(x=labels, y=df["share_never"], mode="markers", marker={"color": GREY, "size": 10,
                    "symbol": "x"}, name=_t("plot.epb.never", lang))
    house_layout(fig, title or _t("plot.epb.title", lang), lang=lang, subtitle=_t("plot.epb.subtitle", lang))
    fig.update_yaxes(tickformat=".0%", range=[0, 1.1])
    return fig


def tornado_chart(df: pd.DataFrame, output: str, *, lang: str = "fr", title: str | None = None,
                  unit_scale: float = 1.0, unit: str = "") -> go.Figure:
    """Tornado: for one output, the value with each factor at its low and high bound (``sensitivity.tornado``)."""
    lang = _lang(lang)
    d = df[df["output"] == output].sort_values("swing", ascending=True)
    base = float(d["base_value"].iloc[0]) / unit_scale if len(d) else 0.0
    names = _group_labels("factor", d["parameter"].tolist(), lang)
    what = label("output", output, lang)
    fig = go.Figure()
    for col, value_col, color, key in (("low", "low_value", PALETTE[1], "plot.tornado.low"),
                                       ("high", "high_value", PALETTE[0], "plot.tornado.high")):
        fig.add_bar(y=names, x=d[value_col] / unit_scale - base, base=base, orientation="h", marker_color=color,
                    name=_t(key, lang), customdata=d[col],
                    hovertemplate="%{y} = %{customdata}" + _colon(lang) + "%{x}<extra></extra>")
    fig.add_vline(x=base, line_color=GREY)
    if title is None and len(d):
        title = _t("plot.tornado.title", lang, factor=names[-1], output=what)
    house_layout(fig, title or what, lang=lang, subtitle=_t("plot.tornado.subtitle", lang, output=what, unit=unit),
                 height=max(300, 45 * len(d) + 160))
    fig.update_layout(barmode="overlay")
    return fig


def sobol_bars(indices: pd.DataFrame, output: str, *, lang: str = "fr", title: str | None = None) -> go.Figure:
    """Grouped bars of Sobol first-order (S1) and total (ST) indices with their confidence intervals."""
    lang = _lang(lang)
    d = indices[indices["output"] == output].sort_values("ST", ascending=False)
    names = _group_labels("factor", d["parameter"].tolist(), lang)
    what = label("output", output, lang)
    fig = go.Figure()
    fig.add_bar(x=names, y=d["S1"], error_y={"type": "data", "array": d["S1_conf"]}, name=_t("plot.sobol.s1", lang),
                marker_color=PALETTE[0])
    fig.add_bar(x=names, y=d["ST"], error_y={"type": "data", "array": d["ST_conf"]}, name=_t("plot.sobol.st", lang),
                marker_color=PALETTE[1])
    if title is None and len(d):
        title = _t("plot.sobol.title", lang, factor=names[0], output=what)
    house_layout(fig, title or what, lang=lang, subtitle=_t("plot.sobol.subtitle", lang))
    fig.update_layout(barmode="group")
    fig.update_yaxes(range=[0, 1.05])
    return fig


def tradeoff_curve(grid: pd.DataFrame, *, lang: str = "fr", title: str | None = None) -> go.Figure:
    """Every setting of the parameter search (unallocated vs avoided loss) with the Pareto front as a line."""
    lang = _lang(lang)
    fig = go.Figure()
    c = _colon(lang)
    hover = (i18n.column("min_share", lang) + c + "%{customdata[0]:.1%}, " + i18n.column("cap_eur", lang) + c
             + "%{customdata[1]}, %{customdata[2]}<br>" + _t("plot.trade.unallocated", lang) + c + "%{x:,.1f} M€, "
             + _t("plot.trade.avoided", lang) + c + "%{y:,.2f} " + _t("plot.risk.meur_year", lang) + "<extra></extra>")
    cap_text = grid["cap_eur"].map(lambda cap: _t("label.none", lang) if pd.isna(cap) else fmt_eur_compact(cap, lang))
    tiers = grid["tiers"].map(lambda x: " > ".join(label("tier", g.strip(), lang) for g in str(x).split(">")))
    custom = np.column_stack([grid["min_share"], cap_text, tiers])
    fig.add_scatter(x=grid["unallocated_eur"] / 1e6, y=grid["avoided_loss_eur"] / 1e6, mode="markers",
                    marker={"color": GREY, "size": 7}, customdata=custom, hovertemplate=hover,
                    name=_t("plot.trade.settings", lang))
    front = grid[grid["pareto"]].sort_values("unallocated_eur")
    fig.add_scatter(x=front["unallocated_eur"] / 1e6, y=front["avoided_loss_eur"] / 1e6, mode="lines+markers",
                    line={"color": PALETTE[0], "width": 3}, marker={"size": 9}, hovertemplate=hover,
                    customdata=custom[grid["pareto"].to_numpy()][np.argsort(grid.loc[grid["pareto"], "unallocated_eur"].to_numpy(), kind="stable")],
                    name=_t("plot.trade.front", lang))
    house_layout(fig, title or _t("plot.trade.title", lang), lang=lang, subtitle=_t("plot.trade.subtitle", lang))
    fig.update_xaxes(title=_t("plot.trade.x", lang))
    fig.update_yaxes(title=_t("plot.trade.y", lang))
    return fig


def uncertainty_figure_kinds() -> Mapping[str, Any]:
    """The uncertainty and sensitivity report figures, by name."""
    return {"mc_fan_by": mc_fan_by, "loss_exceedance_curve": loss_exceedance_curve,
            "eligibility_probability_by": eligibility_probability_by, "tornado_chart": tornado_chart,
            "sobol_bars": sobol_bars, "tradeoff_curve": tradeoff_curve}
