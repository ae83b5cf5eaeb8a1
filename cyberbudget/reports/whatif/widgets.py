"""The what-if page: ipywidgets controls bound to :meth:`WhatIf.update`, the figures drawn from its figure data.

Every control's ``observe`` handler calls :meth:`WhatIf.update` with that control's new value — the same path the
tests and the benchmark call — then redraws the key figures and the four figures. Sliders report on release
(``continuous_update=False``) so that one gesture is one recomputation.

Figures are plotly ``FigureWidget`` objects — widgets themselves, children of the page like the controls, so
nothing is ever displayed or captured inside another widget (the ``display()`` round trip between Voilà's
executor and the kernel that occasionally left Voilà's page unfinished). Each is built once from the app's figure
data and then updated in place (:func:`update_figure`): inside one ``batch_update`` only the trace and layout
properties that changed are sent, as one plotly ``update`` message, so the page redraws without rebuilding the
figure. ``FigureWidget`` is an ``anywidget`` widget: its front-end module is plotly's own ``widgetbundle.js``, read
from the installed plotly package, and anywidget's front end comes from its installed labextension — nothing is
fetched from outside the machine. Under ``cyberbudget app`` the module is imported once by the page from the app's
own server (:data:`~cyberbudget.reports.whatif.server.PLOTLY_ESM_ENV`; see
:mod:`cyberbudget.reports.whatif.server`); elsewhere (JupyterLab) each figure carries it in its state.
"""

from __future__ import annotations

import functools
import html
import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from cyberbudget import config
from cyberbudget.errors import CyberbudgetError
from cyberbudget.formatting import fmt_int, fmt_share
from cyberbudget.reports import plots
from cyberbudget.reports.provenance_line import banner_html, describe
from cyberbudget.reports.whatif.figures import tier_label
from cyberbudget.reports.whatif.model import FLOOR_RULES, WhatIf
from cyberbudget.reports.whatif.server import HOST, PLOTLY_ESM_ENV
from cyberbudget.reports.whatif.words import choice, word

__all__ = ["AppWidgets", "build"]

#: Plotly's configuration of every figure (no logo, no selection tools: the figures are aggregated tables).
PLOT_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"]}
#: Trace properties never reset by :func:`update_figure` (a trace keeps its type; plotly owns its ``uid``).
_KEEP = frozenset({"type", "uid"})

_CSS = """
<style>
.cb-app { font-family: Inter, 'Segoe UI', Helvetica, Arial, sans-serif; color: #222; }
.cb-app h1 { font-size: 22px; margin: 4px 0 2px 0; }
.cb-app .cb-intro { color: #555; font-size: 13px; max-width: 1100px; }
.cb-controls { background: white; border: 1px solid #e3e3e3; border-radius: 6px; padding: 6px 10px; }
.cb-controls h3 { font-size: 14px; margin: 10px 0 4px 0; color: #0072B2; }
.cb-controls .widget-label { min-width: 150px; }
.cb-results { background: white; border: 1px solid #e3e3e3; border-radius: 6px; padding: 6px 12px; }
table.cb-kf { border-collapse: collapse; font-size: 14px; margin: 4px 0 8px 0; }
table.cb-kf th, table.cb-kf td { padding: 4px 12px; border-bottom: 1px solid #eee; }
table.cb-kf td { text-align: right; font-variant-numeric: tabular-nums; }
table.cb-kf th { text-align: left; font-weight: normal; }
table.cb-kf thead th { font-weight: 600; color: #555; text-align: right; }
table.cb-kf thead th:first-child { text-align: left; }
table.cb-kf td.cb-current { font-weight: 600; }
.cb-error { color: #B00020; font-weight: 600; }
.cb-ok { color: #555; font-size: 12px; }
.cb-hint { color: #777; font-size: 12px; }
</style>
"""


def _w() -> Any:
    import ipywidgets

    return ipywidgets


def _full() -> Any:
    """A fresh full-width layout (never share a Layout: hiding one widget would hide all that share it)."""
    return _w().Layout(width="100%")


class AppWidgets:
    """The page's widgets and their wiring (built by :func:`build`).

    Attributes
    ----------
    app : WhatIf
    controls : dict of str to ipywidgets.Widget
        One widget per control of :data:`~cyberbudget.reports.whatif.model.CONTROLS` (``statuses``: a box of
        checkboxes; ``cap_eur``: the amount, with ``cap_on`` the checkbox that enables it).
    figures : dict of str to plotly.graph_objects.FigureWidget
        One per figure of :attr:`WhatIf.figures`, updated in place on every change.
    root : ipywidgets.VBox
        The page.
    """

    def __init__(self, app: WhatIf) -> None:
        W = _w()
        self.app = app
        lang = app.lang
        self.lang = lang
        self._syncing = False
        self.rows: dict[str, Any] = {}
        t = lambda key, **kw: word(lang, key, **kw)  # noqa: E731 - short alias for the many labels
        style = {"description_width": "150px"}
        self.reference = W.Dropdown(options=app.references, value=app.reference_name, description=t("reference"),
                                    style=style, layout=_full())
        self.reset_button = W.Button(description=t("reset"), icon="undo", layout=W.Layout(width="auto"))
        ch = app.choices
        c: dict[str, Any] = {}
        c["total_eur"] = W.BoundedFloatText(min=0, max=100_000, step=1, description=t("total_meur"), style=style,
                                            layout=_full())
        c["min_share"] = self._slider("min_share", 0.30, 0.005)
        c["max_share"] = self._slider("max_share", 0.50, 0.005)
        c["exclude_above_max"] = W.Checkbox(description=t("exclude_above_max"), indent=False, layout=_full())
        self.status_boxes = {s: W.Checkbox(description=plots.label("status", s, lang), indent=False,
                                           layout=W.Layout(width="auto")) for s in ch["statuses"]}
        c["statuses"] = W.HBox(list(self.status_boxes.values()))
        c["medico_social"] = W.Checkbox(description=t("medico_social"), indent=False, layout=_full(),
                                        disabled=not app.has_medico_social)
        c["rule"] = W.Dropdown(options=[(choice(lang, "rule", r), r) for r in ch["rule"]], description=t("rule"),
                               style=style, layout=_full())
        c["base"] = W.Dropdown(options=[(choice(lang, "base", b), b) for b in ch["base"]], description=t("base"),
                               style=style, layout=_full())
        c["match_rate"] = self._slider("match_rate", 1.0, 0.05)
        c["target_share"] = self._slider("target_share", 0.30, 0.005)
        self._tier_codes = {tier_label(g, lang): g for g in ch["tiers"]}
        c["tiers"] = W.TagsInput(allowed_tags=list(self._tier_codes), allow_duplicates=False, layout=_full())
        c["tier_amount"] = W.Dropdown(options=[(choice(lang, "tier_amount", v), v) for v in ch["tier_amount"]],
                                      description=t("tier_amount"), style=style, layout=_full())
        c["floor_eur"] = W.BoundedFloatText(min=0, max=1e10, step=1000, description=t("floor_eur"), style=style,
                                            layout=_full())
        self.cap_on = W.Checkbox(description=t("cap_on"), indent=False, layout=_full())
        c["cap_eur"] = W.BoundedFloatText(min=0, max=1e11, step=100_000, description=t("cap_eur"), style=style,
                                          layout=_full())
        c["unit"] = W.Dropdown(options=[(choice(lang, "unit", u), u) for u in ch["unit"]], description=t("unit"),
                               style=style, layout=_full(), disabled=len(ch["unit"]) < 2)
        c["uptake"] = W.Dropdown(options=[(choice(lang, "uptake", u), u) for u in ch["uptake"]],
                                 description=t("uptake"), style={"description_width": "150px"}, layout=_full())
        self.controls = c
        for name, widget in c.items():
            widget.add_class(f"cb-control-{name}")
        self.floor_hint = W.HTML(f"<span class='cb-hint'>{html.escape(t('floor_disabled'))}</span>")
        self.tiers_hint = W.HTML(f"<span class='cb-hint'>{html.escape(t('tiers'))} ({html.escape(t('tiers_help'))})"
                                "</span>")
        self.save_name = W.Text(placeholder=t("save_placeholder"), description=t("save_name"), style=style,
                                layout=_full())
        self.save_overwrite = W.Checkbox(description=t("save_overwrite"), indent=False, layout=_full())
        self.save_button = W.Button(description=t("save_button"), icon="save", button_style="primary",
                                    layout=W.Layout(width="auto"))
        self.save_message = W.HTML()
        self.save_message.add_class("cb-save-message")
        self.status = W.HTML()
        self.status.add_class("cb-status")
        self.key_figures = W.HTML()
        self.key_figures.add_class("cb-keyfigures")
        self.figures = {name: new_figure(fig) for name, fig in app.figures.items()}
        for name, fw in self.figures.items():
            fw.add_class(f"cb-figure-{name}")

        def section(key: str) -> Any:
            return W.HTML(f"<h3>{html.escape(t(key))}</h3>")

        self.tiers_box = W.VBox([self.tiers_hint, c["tiers"], c["tier_amount"]])
        controls = W.VBox([
            section("section_reference"), self.reference, self.reset_button,
            section("section_envelope"), c["total_eur"], self.rows["min_share"], self.rows["max_share"],
            c["exclude_above_max"],
            W.HTML(f"<span class='cb-hint'>{html.escape(t('statuses'))}</span>"), c["statuses"],
            c["medico_social"],
            section("section_rule"), c["rule"], c["base"], self.rows["match_rate"], self.rows["target_share"],
            self.tiers_box,
            c["floor_eur"], self.floor_hint, self.cap_on, c["cap_eur"],
            section("section_uptake"), c["unit"], c["uptake"],
            section("section_save"), self.save_name, self.save_overwrite, self.save_button, self.save_message,
        ], layout=W.Layout(width="390px", min_width="390px", margin="0 12px 0 0"))
        controls.add_class("cb-controls")
        results = W.VBox([self.status, self.key_figures, *self.figures.values()],
                         layout=W.Layout(flex="1 1 auto", min_width="0"))
        results.add_class("cb-results")
        source = app.source or t("default_table")
        data = banner_html(describe(app.table, app.source, app.reference_name), lang)  # what the data is, first
        header = W.HTML(
            _CSS + f"<div class='cb-app'>{data}<h1>{html.escape(t('title'))}</h1>"
            f"<div class='cb-intro'>{html.escape(t('intro', k=config.MIN_CELL_SIZE))}<br>"
            f"{html.escape(t('data_source', source=source, n=fmt_int(len(app.table), lang)))}</div></div>")
        self.root = W.VBox([header, W.HBox([controls, results], layout=_full())])
        self.root.add_class("cb-app")
        self._sync_from_state()
        self._wire()
        self.refresh(None)

    def _slider(self, name: str, top: float, step: float) -> Any:
        """A slider without ipywidgets' (English) readout, with a French one beside it (``5,5 %``)."""
        W = _w()
        slider = W.FloatSlider(min=0, max=top, step=step, readout=False, continuous_update=False,
                               description=word(self.lang, name), style={"description_width": "150px"},
                               layout=W.Layout(flex="1 1 auto", width="auto"))
        readout = W.HTML(layout=W.Layout(width="64px", min_width="64px"))
        readout.add_class(f"cb-readout-{name}")

        def show(change: dict | None = None) -> None:
            readout.value = f"<span class='cb-readout'>{html.escape(fmt_share(slider.value, self.lang))}</span>"

        slider.observe(show, names="value")
        show()
        self.rows[name] = W.HBox([slider, readout], layout=W.Layout(width="100%", align_items="center"))
        return slider

    # ---- widget values ↔ control values -------------------------------------------------------------------------

    def _sync_from_state(self) -> None:
        """Set every widget to the app's state without triggering updates."""
        s = self.app.state
        c = self.controls
        self._syncing = True
        try:
            c["total_eur"].value = float(s["total_eur"]) / 1e6
            c["min_share"].value = s["min_share"]
            c["max_share"].value = s["max_share"]
            c["exclude_above_max"].value = s["exclude_above_max"]
            for code, box in self.status_boxes.items():
                box.value = code in s["statuses"]
            c["medico_social"].value = s["medico_social"]
            c["rule"].value = s["rule"]
            if s["base"] not in [v for _, v in c["base"].options]:
                c["base"].options = [*c["base"].options, (choice(self.lang, "base", s["base"]), s["base"])]
            c["base"].value = s["base"]
            c["match_rate"].value = s["match_rate"]
            c["target_share"].value = s["target_share"]
            c["tiers"].value = [tier_label(g, self.lang) for g in s["tiers"]]
            c["tier_amount"].value = s["tier_amount"]
            c["floor_eur"].value = float(s["floor_eur"])
            self.cap_on.value = s["cap_eur"] is not None
            if s["cap_eur"] is not None:
                c["cap_eur"].value = float(s["cap_eur"])
            if "unit" in s:
                c["unit"].value = s["unit"]
            c["uptake"].value = s["uptake"]
            self.reference.value = self.app.reference_name
        finally:
            self._syncing = False

    def value_of(self, name: str) -> Any:
        """The control value a widget holds, in the form :meth:`WhatIf.update` takes."""
        c = self.controls
        if name == "total_eur":
            return Decimal(str(c["total_eur"].value)) * 1_000_000
        if name == "statuses":
            return [code for code, box in self.status_boxes.items() if box.value]
        if name == "tiers":
            return [self._tier_codes[t] for t in c["tiers"].value if t in self._tier_codes]
        if name == "cap_eur":
            return c["cap_eur"].value if self.cap_on.value else None
        return c[name].value

    def _wire(self) -> None:
        for name, widget in self.controls.items():
            if name == "statuses":
                for box in self.status_boxes.values():
                    box.observe(self._handler("statuses"), names="value")
            else:
                widget.observe(self._handler(name), names="value")
        self.cap_on.observe(self._handler("cap_eur"), names="value")
        self.reference.observe(self._on_reference, names="value")
        self.reset_button.on_click(lambda _: self._apply(reference=self.app.reference_name))
        self.save_button.on_click(self._on_save)

    def _handler(self, name: str) -> Callable[[dict], None]:
        def handler(change: dict) -> None:
            if not self._syncing:
                self._apply(**{name: self.value_of(name)})
        return handler

    def _on_reference(self, change: dict) -> None:
        if not self._syncing and change["new"] is not None:
            self._apply(reference=change["new"])

    def _apply(self, **changes: Any) -> None:
        try:
            result = self.app.update(**changes)
        except CyberbudgetError as exc:
            self.status.value = f"<span class='cb-error'>{html.escape(str(exc))}</span>"
            return
        if "reference" in changes:
            self._sync_from_state()
        self.refresh(result)

    def _on_save(self, _: Any) -> None:
        try:
            path = self.app.save(self.save_name.value.strip(), overwrite=self.save_overwrite.value)
        except CyberbudgetError as exc:
            self.save_message.value = f"<span class='cb-error'>{html.escape(str(exc))}</span>"
            return
        self.save_message.value = f"<span class='cb-ok'>{html.escape(word(self.lang, 'saved', path=str(path)))}</span>"
        self._syncing = True
        try:
            self.reference.options = self.app.references
            self.reference.value = self.app.reference_name
        finally:
            self._syncing = False

    # ---- drawing -------------------------------------------------------------------------------------------------

    def _visibility(self) -> None:
        s = self.app.state
        rule, amount = s["rule"], s["tier_amount"]
        shown = {
            "base": rule in ("proportional", "optimal"),
            "match_rate": rule == "matching" or (rule == "tiered" and amount == "demand"),
            "target_share": rule == "gap" or (rule == "tiered" and amount == "need"),
        }
        for name, visible in shown.items():
            self.rows.get(name, self.controls[name]).layout.display = "" if visible else "none"
        self.tiers_box.layout.display = "" if rule == "tiered" else "none"
        floor_ok = rule in FLOOR_RULES
        self.controls["floor_eur"].disabled = not floor_ok
        self.floor_hint.layout.display = "none" if floor_ok else ""
        self.controls["cap_eur"].disabled = not self.cap_on.value
        self.controls["max_share"].description = word(self.lang, "max_share")

    def refresh(self, result: Any) -> None:
        """Redraw the status line, the key figures and the figures from the app's current results."""
        self._visibility()
        if self.app.error is not None:
            self.status.value = (f"<div class='cb-error'>{html.escape(word(self.lang, 'invalid'))}</div>"
                                 f"<pre class='cb-error' style='white-space:pre-wrap'>{html.escape(self.app.error)}</pre>")
            return
        ms = getattr(result, "elapsed_ms", None)
        self.status.value = ("" if ms is None else
                             f"<span class='cb-ok'>{html.escape(word(self.lang, 'updated', ms=f'{ms:.0f}'))}</span>")
        self.key_figures.value = key_figures_html(self.app)
        for name, fw in self.figures.items():
            update_figure(fw, self.app.figures[name])


@functools.lru_cache(maxsize=4)
def _served_figure_class(url: str) -> type:
    """``FigureWidget`` whose front-end module is imported from ``url`` (one import per page, shared)."""
    import plotly.graph_objects as go

    return type("FigureWidget", (go.FigureWidget,), {"_esm": url, "__module__": __name__})


def figure_class() -> type:
    """The ``FigureWidget`` class of the page: plotly's own, or — under ``cyberbudget app``, which serves plotly's
    widget module on 127.0.0.1 and names it in :data:`~cyberbudget.reports.whatif.server.PLOTLY_ESM_ENV` — one
    that imports that module by URL instead of carrying 5 MB of JavaScript in every figure's state."""
    import plotly.graph_objects as go

    url = os.environ.get(PLOTLY_ESM_ENV, "")
    if url.startswith(f"http://{HOST}:") and url.endswith(".js"):
        return _served_figure_class(url)
    return go.FigureWidget


def new_figure(fig: dict[str, Any]) -> Any:
    """A ``FigureWidget`` drawing ``fig`` (a figure dictionary of :mod:`cyberbudget.reports.whatif.figures`)."""
    fw = figure_class()(fig)
    fw._config = PLOT_CONFIG  # the widget's plotly config (no public setter on FigureWidget)
    return fw


def _same(a: Any, b: Any) -> bool:
    """Whether two property values are equal once plotly has stored them (lists come back as tuples)."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b) if not hasattr(a, "shape") and not hasattr(b, "shape") else _same(list(a), list(b))


def _changes(old: dict[str, Any], new: dict[str, Any], keep: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The top-level properties to set so that ``old`` becomes ``new``: changed ones, and None for removed ones."""
    out = {k: v for k, v in new.items() if k not in keep and not _same(old.get(k), v)}
    out.update({k: None for k in old if k not in new and k not in keep})
    return out


def update_figure(fw: Any, fig: dict[str, Any]) -> None:
    """Make the widget ``fw`` draw ``fig``, sending only what changed.

    Traces are updated in place when their number and types are unchanged — all property changes of all traces
    and of the layout in one ``batch_update`` (one plotly ``update`` message to the page); otherwise the traces
    are replaced (``fw.data``), then the layout is updated.
    """
    new_data = fig.get("data", [])
    same_traces = len(fw.data) == len(new_data) and all(
        trace.type == d.get("type", "scatter") for trace, d in zip(fw.data, new_data, strict=True))
    if not same_traces:
        fw.data = ()
        fw.add_traces(new_data)
    layout = _changes(fw.layout.to_plotly_json(), fig.get("layout", {}), frozenset({"template"}))
    with fw.batch_update():
        if same_traces:
            for trace, d in zip(fw.data, new_data, strict=True):
                changed = _changes(trace.to_plotly_json(), d, _KEEP)
                if changed:
                    trace.update(changed, overwrite=True)
        if layout:
            fw.layout.update(layout, overwrite=True)


def key_figures_html(app: WhatIf) -> str:
    """The key figures as an HTML table: scenario, reference and difference (``data-key`` on every row)."""
    lang = app.lang
    head = (f"<thead><tr><th>{html.escape(word(lang, 'kf_title'))}</th>"
            f"<th>{html.escape(word(lang, 'kf_current'))}</th>"
            f"<th>{html.escape(word(lang, 'kf_reference', name=app.reference_name))}</th>"
            f"<th>{html.escape(word(lang, 'kf_difference'))}</th></tr></thead>")
    body = "".join(
        f"<tr data-key='{r['key']}'><th>{html.escape(r['label'])}</th>"
        f"<td class='cb-current' data-key='{r['key']}'>{html.escape(r['current'])}</td>"
        f"<td class='cb-reference'>{html.escape(r['reference'])}</td>"
        f"<td class='cb-difference'>{html.escape(r['difference'])}</td></tr>"
        for r in app.key_figure_rows())
    return f"<table class='cb-kf'>{head}<tbody>{body}</tbody></table>"


def build(app: WhatIf) -> Any:
    """The what-if page for ``app`` (an ``ipywidgets.VBox``; display it as the notebook's last expression).

    The :class:`AppWidgets` object is reachable as ``page.cb_widgets`` (tests drive the controls through it).
    """
    widgets = AppWidgets(app)
    widgets.root.cb_widgets = widgets
    return widgets.root
