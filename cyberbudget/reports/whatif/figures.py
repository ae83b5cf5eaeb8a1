"""Figure data of the what-if app: plotly JSON dictionaries in the house style of :mod:`cyberbudget.reports.plots`.

The inputs are already aggregated and suppressed (:mod:`cyberbudget.reports.disclosure`): a suppressed cell
arrives as a missing value and is drawn as "non diffusé", never as zero.

Figures are plain dictionaries (``{"data": [...], "layout": {...}}``) rather than ``plotly.graph_objects``
objects: building and validating a ``go.Figure`` costs about 40 ms, more than the allocation itself, and the app
redraws four figures on every change. The house layout (:func:`cyberbudget.reports.plots.house_layout`) is
computed once per language and figure height and reused; ``plotly.graph_objects.Figure(fig)`` turns any of
these dictionaries back into a figure object.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from cyberbudget import config
from cyberbudget.formatting import fmt_eur_compact, fmt_int, fmt_share
from cyberbudget.reports import plots
from cyberbudget.reports.escaping import plot_text
from cyberbudget.reports.whatif.words import choice, word

__all__ = ["corridor_histogram", "difference", "grants_by", "tier_label"]

_TITLE = "\x00title\x00"
_SUBTITLE = "\x00subtitle\x00"


@functools.lru_cache(maxsize=32)
def _house(lang: str, height: int) -> str:
    """The house layout as JSON text, with markers where the title and subtitle go."""
    fig = plots.house_layout(go.Figure(), _TITLE, subtitle=_SUBTITLE, lang=lang, height=height)
    return json.dumps(fig.to_plotly_json()["layout"])


def _layout(lang: str, height: int, title: str, subtitle: str) -> dict[str, Any]:
    layout = json.loads(_house(lang, height))
    text = layout["title"]["text"]
    layout["title"]["text"] = text.replace(_TITLE, title).replace(_SUBTITLE, subtitle)
    return layout


def _num(x: Any) -> float | None:
    """A float for JSON, None for a missing value."""
    if x is None or x is pd.NA:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def tier_label(code: str, lang: str = "fr") -> str:
    """Label of a tier group (``ose``, ``ght_support``, a status or a category).

    Examples
    --------
    >>> tier_label("private_nonprofit"), tier_label("ose"), tier_label("chu")
    ('Privé non lucratif', 'OSE', 'CHR/CHU')
    """
    if code in config.STATUSES:
        return plots.label("status", code, lang)
    if code in config.CATEGORIES:
        return plots.label("category", code, lang)
    return choice(lang, "tier_group", code)


# --------------------------------------------------------------------------------------------------------------
# The corridor histogram
# --------------------------------------------------------------------------------------------------------------


def corridor_histogram(
    bins: pd.DataFrame, min_share: float, max_share: float, exclude_above_max: bool, *, n_below: int | None,
    n_total: int, units: bool = False, lang: str = "fr",
) -> dict[str, Any]:
    """Establishments (or units) by cyber share of the IT budget, with the corridor's two lines.

    Parameters
    ----------
    bins : DataFrame
        :func:`cyberbudget.reports.disclosure.share_histogram` (``left, right, n``; ``n`` missing when
        suppressed; the last bin is open-ended).
    min_share, max_share : float
        The corridor, drawn as dashed lines; bars are coloured by where their centre falls.
    exclude_above_max : bool
        Above the ceiling is ineligible (colour and legend say so).
    n_below : int or None
        How many are below ``min_share`` (None: fewer than 5, not disclosed); ``n_total`` all of them.
    """
    k = config.MIN_CELL_SIZE
    left = bins["left"].to_numpy(float)
    right = bins["right"].to_numpy(float)
    width = right - left
    last = len(bins) - 1
    if last >= 0:
        right = right.copy()
        right[last] = left[last] + (width[0] if last else 0.005)
        width = right - left
    centre = (left + right) / 2
    counts = pd.to_numeric(bins["n"], errors="coerce").to_numpy(float)
    hidden = np.isnan(counts)
    below = centre < min_share
    above = centre > max_share
    groups = [
        ("hist_below", below, plots.PALETTE[3]),
        ("hist_corridor", ~below & ~above, plots.PALETTE[0]),
        ("hist_above_excluded" if exclude_above_max else "hist_above", above,
         plots.PALETTE[1] if exclude_above_max else plots.PALETTE[5]),
    ]
    what = word(lang, "hist_y_units" if units else "hist_y").lower()
    ranges = [f"{100 * lo:.1f}–{100 * hi:.1f} %" if i < last else f"≥ {100 * lo:.0f} %"
              for i, (lo, hi) in enumerate(zip(left, right, strict=True))]
    if lang == "fr":
        ranges = [r.replace(".", ",") for r in ranges]
    data: list[dict[str, Any]] = []
    for key, sel, colour in groups:
        sel = sel & ~hidden & (np.nan_to_num(counts) > 0)
        data.append({
            "type": "bar", "name": word(lang, key), "x": (100 * centre[sel]).round(4).tolist(),
            "y": counts[sel].astype(int).tolist(), "width": (100 * width[sel]).round(4).tolist(),
            "marker": {"color": colour}, "customdata": [r for r, s in zip(ranges, sel, strict=True) if s],
            "hovertemplate": "%{customdata} : %{y} " + what + "<extra></extra>" if lang == "fr"
            else "%{customdata}: %{y} " + what + "<extra></extra>",
        })
    if hidden.any():
        data.append({
            "type": "scatter", "mode": "markers", "name": word(lang, "not_disclosed_long", k=k),
            "x": (100 * centre[hidden]).round(4).tolist(), "y": [0] * int(hidden.sum()),
            "marker": {"symbol": "x", "color": plots.GREY, "size": 9},
            "customdata": [r for r, h in zip(ranges, hidden, strict=True) if h],
            "hovertemplate": "%{customdata}<extra></extra>",
        })
    below_text = fmt_int(n_below, lang) if n_below is not None else word(lang, "below_k", k=k)
    title = word(lang, "hist_title", below=below_text, what=what,
                 total=fmt_int(n_total, lang), min=fmt_share(min_share, lang))
    subtitle = word(lang, "hist_subtitle", width=fmt_share(float(width[0]) if len(width) else 0.005, lang), k=k)
    layout = _layout(lang, 430, title, subtitle)
    line = {"color": "#222222", "dash": "dash", "width": 1.5}
    layout["shapes"] = [
        {"type": "line", "xref": "x", "yref": "paper", "x0": 100 * s, "x1": 100 * s, "y0": 0, "y1": 1, "line": line}
        for s in (min_share, max_share)
    ]
    layout["annotations"] = [
        {"x": 100 * s, "y": 1, "xref": "x", "yref": "paper", "yanchor": "bottom", "showarrow": False,
         "xanchor": anchor, "text": word(lang, key, value=fmt_share(s, lang)), "font": {"size": 12}}
        for s, key, anchor in ((min_share, "hist_min", "right"), (max_share, "hist_max", "left"))
    ]
    layout["barmode"] = "overlay"
    layout["bargap"] = 0
    layout["xaxis"] = {**layout.get("xaxis", {}), "title": {"text": word(lang, "hist_x")},
                       "range": [0, 100 * float(right[-1]) if len(right) else 21]}
    layout["yaxis"] = {**layout.get("yaxis", {}), "title": {"text": word(lang, "hist_y_units" if units else "hist_y")},
                       "rangemode": "tozero"}
    layout["legend"] = {**layout.get("legend", {}), "y": -0.3}
    return {"data": data, "layout": layout}


# --------------------------------------------------------------------------------------------------------------
# Grants by group, and the difference with the reference
# --------------------------------------------------------------------------------------------------------------


def _grants(rows: pd.DataFrame, by: str) -> dict[str, float | None]:
    """Group code → grant in euros (None when suppressed)."""
    return {str(code): _num(v) for code, v in zip(rows[by], rows["grant_eur"], strict=True)}


def grants_by(current: pd.DataFrame, reference: pd.DataFrame, by: str, *, reference_name: str,
              lang: str = "fr") -> dict[str, Any]:
    """Horizontal bars of the grants by region or status (M€): the scenario, and the reference beside it in grey.

    Parameters
    ----------
    current, reference : DataFrame
        Breakdown rows (``<by>``, ``n_establishments``, ``grant_eur`` missing where suppressed). A suppressed
        cell is a grey bar of length 0 labelled "non diffusé", never a value.
    by : {"region", "status"}
    """
    k = config.MIN_CELL_SIZE
    order = list(config.REGIONS if by == "region" else config.STATUSES)
    cur, ref = _grants(current, by), _grants(reference, by)
    codes = [c for c in order if c in cur or c in ref]
    labels = [plots.label(by, c, lang) for c in codes]
    counts = dict(zip(current[by].astype(str), current["n_establishments"], strict=True))
    hidden_text = word(lang, "not_disclosed_long", k=k)
    est = word(lang, "hist_y").lower()

    def bars(values: dict[str, float | None], name: str, colour: str, with_text: bool) -> dict[str, Any]:
        x = [values.get(c) for c in codes]
        return {
            "type": "bar", "orientation": "h", "name": name, "y": labels,
            "x": [0.0 if v is None else v / 1e6 for v in x],
            "marker": {"color": [plots.GREY if v is None else colour for v in x]},
            "text": [(hidden_text if v is None else fmt_eur_compact(v, lang)) if with_text else "" for v in x],
            "textposition": "outside", "cliponaxis": False, "constraintext": "none", "textfont": {"size": 12},
            "customdata": [hidden_text if v is None else f"{fmt_eur_compact(v, lang)} "
                           f"({fmt_int(int(counts.get(c, 0)), lang)} {est})" for c, v in zip(codes, x, strict=True)],
            "hovertemplate": "%{y} : %{customdata}<extra>" + name + "</extra>",
        }

    reference_name = plot_text(reference_name)  # a file name: text in the figure, never markup
    quote = f"« {reference_name} »" if lang == "fr" else f"\"{reference_name}\""
    data = [bars(cur, word(lang, "current"), plots.PALETTE[0], True),
            bars(ref, f"{word(lang, 'reference_marker')} {quote}", "#BBBBBB", False)]
    title = word(lang, "by_region_title" if by == "region" else "by_status_title")
    subtitle = word(lang, "by_subtitle", name=reference_name, k=k)
    height = max(320, 36 * len(codes) + 180)
    layout = _layout(lang, height, title, subtitle)
    values = [v for v in [*cur.values(), *ref.values()] if v is not None]
    top = max(values, default=0.0) / 1e6
    layout["yaxis"] = {**layout.get("yaxis", {}), "categoryorder": "array", "categoryarray": labels,
                       "autorange": "reversed", "showgrid": False, "title": None, "type": "category"}
    layout["xaxis"] = {**layout.get("xaxis", {}), "title": {"text": word(lang, "meur")}, "showgrid": True,
                       "gridcolor": "#E5E5E5", "range": [0, top * 1.3 if top > 0 else 1]}
    layout["barmode"] = "group"
    layout["bargap"] = 0.25
    layout["bargroupgap"] = 0.05
    layout["showlegend"] = True
    # the legend below the axis title, whatever the figure's height (paper units depend on it)
    layout["margin"] = {**layout.get("margin", {}), "b": 100}
    plot_height = height - layout["margin"].get("t", 90) - 100
    layout["legend"] = {**layout.get("legend", {}), "y": -72 / max(plot_height, 1), "yanchor": "top"}
    return {"data": data, "layout": layout}


def difference(pairs: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]], *, reference_name: str,
               lang: str = "fr") -> dict[str, Any]:
    """Grants of the scenario minus the reference, by status then by region (M€, bars coloured by sign).

    A difference is shown only when both cells are published.

    Parameters
    ----------
    pairs : mapping
        ``{"status": (current rows, reference rows), "region": (...)}`` (breakdown rows).
    """
    k = config.MIN_CELL_SIZE
    section: list[str] = []
    label: list[str] = []
    value: list[float | None] = []
    for by, (cur_rows, ref_rows) in pairs.items():
        cur, ref = _grants(cur_rows, by), _grants(ref_rows, by)
        order = list(config.REGIONS if by == "region" else config.STATUSES)
        for code in [c for c in order if c in cur or c in ref]:
            a, b = cur.get(code, 0.0), ref.get(code, 0.0)  # a group absent from one table received nothing there
            section.append(word(lang, "diff_status" if by == "status" else "diff_region"))
            label.append(plots.label(by, code, lang))
            value.append(None if a is None or b is None else round(a - b, 2))
    v = np.array([np.nan if x is None else x for x in value], dtype=float)
    hide = np.isnan(v)
    gain = ~hide & (v > 0)
    loss = ~hide & (v < 0)
    colours = np.where(gain, plots.PALETTE[0], np.where(loss, plots.PALETTE[3], plots.GREY)).tolist()
    not_disclosed = word(lang, "not_disclosed_long", k=k)
    texts = [not_disclosed if hide[i] else ("+" if v[i] > 0 else "") + fmt_eur_compact(float(v[i]), lang)
             for i in range(len(v))]
    data = [{
        "type": "bar", "orientation": "h", "name": word(lang, "kf_difference"), "y": [section, label],
        "x": [0.0 if hide[i] else float(v[i]) / 1e6 for i in range(len(v))], "marker": {"color": colours},
        "text": texts, "textposition": "outside", "cliponaxis": False,
        "hovertemplate": "%{y} : %{text}<extra></extra>",
    }]
    if not (gain.any() or loss.any()):
        text = word(lang, "diff_none")
    else:
        parts = []
        if gain.any():
            i = int(np.nanargmax(np.where(gain, v, -np.inf)))
            parts.append(word(lang, "diff_most", group=label[i], value="+" + fmt_eur_compact(float(v[i]), lang)))
        if loss.any():
            i = int(np.nanargmin(np.where(loss, v, np.inf)))
            parts.append(word(lang, "diff_least", group=label[i], value=fmt_eur_compact(float(v[i]), lang)))
        text = " ; ".join(parts) if lang == "fr" else "; ".join(parts)
    title = word(lang, "diff_title", name=plot_text(reference_name), text=text)  # a file name: text, not markup
    layout = _layout(lang, max(320, 26 * len(label) + 190), title, word(lang, "diff_subtitle"))
    span = float(np.nanmax(np.abs(v))) / 1e6 if np.isfinite(v).any() else 0.0
    span = span * 1.35 if span > 0 else 1.0
    layout["yaxis"] = {**layout.get("yaxis", {}), "type": "multicategory", "autorange": "reversed",
                       "showgrid": False, "title": None}
    layout["xaxis"] = {**layout.get("xaxis", {}), "title": {"text": word(lang, "meur")}, "range": [-span, span],
                       "zeroline": True, "zerolinecolor": "#444444", "showgrid": True, "gridcolor": "#E5E5E5"}
    layout["showlegend"] = False
    return {"data": data, "layout": layout}
