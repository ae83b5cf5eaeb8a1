"""``report.html``: the executed notebook as one self-contained page that carries data, never code.

:func:`html_exporter` builds an nbconvert ``HTMLExporter`` (``lab`` template) that hides the code, templates
require.js, MathJax and mermaid away and adds the house CSS (screen and print: the allocation report's synthèse,
``<section id="synthese">``, ends the first printed page) and, under ``disclosure: establishment``, the protective
marking as a banner on screen and on every printed page.
:func:`export_html` writes the page after removing any remaining remote ``<script src>`` or ``<link href>``: the
page fetches nothing when opened (plotly.js is embedded once by the notebook's renderer,
:func:`cyberbudget.reports.plots.register_renderer`). Build the exporter once to export many notebooks.

Whatever a notebook displays, the page runs no code that came with the data (issue 14):

- Markdown (markdown cells and ``display(Markdown(...))`` outputs) is rendered with raw HTML *shown as text*,
  ``javascript:``-style links neutralised and images kept only when embedded (``data:``): a string that
  reaches Markdown unescaped still cannot add a tag, a handler or a request. Library text that needs markup
  displays it with ``HTML(...)``, each input string in it through
  :func:`cyberbudget.reports.escaping.html_text`.
- The page carries a Content-Security-Policy (:func:`cyberbudget.reports.escaping.csp_meta`) that lets run only
  the scripts of the notebook's plotly figures (by hash; plotly writes a figure's data as JSON with ``<`` escaped)
  — no other script, no inline event handler, no ``javascript:`` URL — and forbids every request.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cyberbudget.formatting import check_lang
from cyberbudget.reports import escaping
from cyberbudget.reports.inputs import PathArg

__all__ = ["HTML_NAME", "PLOTLY_MIME", "export_html", "html_exporter", "markdown_html", "trusted_scripts"]

HTML_NAME: str = "report.html"

_CSS = """
body.jp-Notebook { max-width: 1100px; margin: 0 auto; }
.cb-marking { background: #C00000; color: white; padding: 6px 12px; font-weight: bold; text-align: center; }
.cb-banner { position: sticky; top: 0; z-index: 10; }
.cb-table { border-collapse: collapse; font-size: 12px; }
.cb-table td, .cb-table th { border-bottom: 1px solid #ddd; padding: 2px 8px; }
.jp-RenderedHTMLCommon .cb-table td, .jp-RenderedHTMLCommon .cb-table th { text-align: left !important; vertical-align: top; }
.jp-RenderedHTMLCommon table { font-size: 13px; }
.cb-synthese { border: 1px solid #d0d7de; border-radius: 6px; padding: 2px 18px 10px 18px; margin: 6px 0 18px 0; }
.cb-synthese .cb-keyfigures { font-size: 14px; margin: 4px 0 10px 0; }
.jp-RenderedHTMLCommon .cb-synthese .cb-keyfigures td.cb-num { text-align: right !important; white-space: nowrap;
  font-variant-numeric: tabular-nums; }
.cb-synthese .cb-narrative { font-size: 14px; line-height: 1.5; max-width: 60em; }
@media print {
  /* the synthèse is page 1 with the header: a forced break after it (block boxes, so that the break applies) */
  .jp-Cell, .jp-Cell-outputWrapper, .jp-OutputArea, .jp-OutputArea-child, .jp-OutputArea-output { display: block !important; }
  #synthese { break-after: page; page-break-after: always; border: none; padding: 0; }
  body.jp-Notebook { max-width: none; font-size: 11pt; color: black; }
  .modebar, .modebar-container { display: none !important; }
  .jp-OutputArea-output, .plotly-graph-div, .jp-RenderedHTMLCommon table { break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; }
  .cb-banner { position: fixed; top: 0; left: 0; right: 0; }
  .cb-footer { position: fixed; bottom: 0; left: 0; right: 0; text-align: center; font-size: 9pt; }
  main { margin-top: 2.2em; }
  a { color: black; text-decoration: none; }
}
"""

_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block extra_css %}<style type="text/css">""" + _CSS + """</style>{% endblock extra_css %}
{%- block body_header -%}
{{ super() }}
{%- if resources.cyberbudget_marking -%}
<div class="cb-marking cb-banner">{{ resources.cyberbudget_marking }}</div>
{%- endif -%}
{%- endblock body_header -%}
{% block body_footer %}
{%- if resources.cyberbudget_marking -%}
<div class="cb-marking cb-footer">{{ resources.cyberbudget_marking }}</div>
{%- endif -%}
{{ super() }}
{% endblock body_footer %}
"""
_TEMPLATE_NAME = "cyberbudget_report.html.j2"
_HTML_LANG = re.compile(r'<html lang="[^"]*">')
_REMOTE = re.compile(
    r"<script\b[^>]*\bsrc=[\"']?(?:https?:)?//[^>]*>\s*</script>|<link\b[^>]*\bhref=[\"']?(?:https?:)?//[^>]*>",
    re.IGNORECASE,
)


#: The mime type of a figure displayed by :class:`cyberbudget.reports.plots.EmbeddedRenderer` (with its HTML).
PLOTLY_MIME: str = "application/vnd.plotly.v1+json"
_IMG_SRC = re.compile(r"""<img\b[^>]*\bsrc="(?!data:)""", re.IGNORECASE)


_SAFE_EXPORTER: type | None = None


_SAFE_RENDERER: type | None = None


def _safe_renderer_class() -> type:
    """nbconvert's Markdown renderer minus raw HTML, harmful link protocols and remote images; built on first use."""
    global _SAFE_RENDERER
    if _SAFE_RENDERER is not None:
        return _SAFE_RENDERER
    import html

    from nbconvert.filters.markdown_mistune import IPythonRenderer

    class SafeRenderer(IPythonRenderer):
        """nbconvert's Markdown renderer, minus raw HTML, harmful link protocols and images fetched from anywhere."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(escape=False, allow_harmful_protocols=False, **kwargs)

        def block_html(self, html_text: str) -> str:
            return "<p>" + html.escape(html_text.strip(), quote=False) + "</p>\n"

        def inline_html(self, html_text: str) -> str:
            return html.escape(html_text, quote=False)

        def block_mermaidjs(self, code: str) -> str:
            return f"<pre>{html.escape(code.strip(), quote=False)}</pre>"

        def image(self, text: str, url: str, title: str | None = None) -> str:
            rendered = super().image(text, url, title)
            # an image not embedded (a remote or missing file) would be fetched when the page opens: its alt text
            return html.escape(text, quote=False) if _IMG_SRC.search(rendered) else rendered

    _SAFE_RENDERER = SafeRenderer
    return SafeRenderer


def markdown_html(source: str) -> str:
    """Markdown rendered to HTML by the page's own rules (raw HTML in ``source`` shown as text).

    For library text that mixes the catalogue's Markdown (``**rule**``, `` `code` ``) with markup of its own (a
    banner, a quoted description): render the Markdown here, put it beside the markup, and display the whole with
    ``HTML(...)`` — input strings go into the Markdown through
    :func:`~cyberbudget.reports.escaping.markdown_text` and into the markup through
    :func:`~cyberbudget.reports.escaping.html_text`.

    Examples
    --------
    >>> markdown_html("Rule **proportional** <b>x</b>")
    '<p>Rule <strong>proportional</strong> &lt;b&gt;x&lt;/b&gt;</p>\\n'
    """
    from nbconvert.filters.markdown_mistune import MarkdownWithMath

    return MarkdownWithMath(renderer=_safe_renderer_class()(exclude_anchor_links=True)).render(source)


def _safe_exporter_class() -> type:
    """``HTMLExporter`` whose Markdown shows raw HTML as text (see the module docstring); built on first use."""
    global _SAFE_EXPORTER
    if _SAFE_EXPORTER is not None:
        return _SAFE_EXPORTER
    from jinja2 import pass_context
    from nbconvert import HTMLExporter
    from nbconvert.filters.markdown_mistune import MarkdownWithMath

    SafeRenderer = _safe_renderer_class()  # noqa: N806 - a class

    class SafeHTMLExporter(HTMLExporter):  # type: ignore[misc]
        """An HTMLExporter whose Markdown carries no HTML of its own (raw HTML is shown as text)."""

        @pass_context
        def markdown2html(self, context: Any, source: str) -> str:
            cell = context.get("cell", {})
            path = context.get("resources", {}).get("metadata", {}).get("path", "")
            renderer = SafeRenderer(attachments=cell.get("attachments", {}), embed_images=self.embed_images,
                                    path=path, anchor_link_text=self.anchor_link_text,
                                    exclude_anchor_links=self.exclude_anchor_links, **self.lexer_options)
            return MarkdownWithMath(renderer=renderer).render(source)

    _SAFE_EXPORTER = SafeHTMLExporter
    return SafeHTMLExporter


def html_exporter() -> Any:
    """An nbconvert HTMLExporter (``lab`` template) that hides code and links nothing from the network.

    require.js, MathJax and mermaid are templated away, and Markdown shows raw HTML as text (see the module
    docstring); build it once and pass it to :func:`export_html` to export many notebooks.
    """
    from jinja2 import DictLoader

    exporter = _safe_exporter_class()(
        template_name="lab",
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        mathjax_url="",
        require_js_url="",
        theme="light",
    )
    exporter.template_file = _TEMPLATE_NAME
    return exporter


def export_html(nb: Any, path: PathArg, exporter: Any = None, *, marking: str | None = None,
                title: str | None = None, lang: str = "fr") -> Path:
    """Export an executed notebook to a self-contained HTML file.

    Parameters
    ----------
    nb : NotebookNode or path
    path : path
        Output ``.html``.
    exporter : HTMLExporter, optional
        From :func:`html_exporter` (built once and reused in batches).
    marking : str, optional
        Protective marking shown as a banner on screen and on every printed page.
    title : str, optional
        The HTML ``<title>``.
    lang : {"fr", "en"}
        The page's language (``<html lang>``: screen readers, hyphenation, the browser's translation offer).

    Returns
    -------
    Path
    """
    import nbformat

    if not hasattr(nb, "cells"):
        nb = nbformat.read(str(nb), as_version=4)
    exporter = exporter or html_exporter()
    if title:
        nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb, resources={"cyberbudget_marking": marking or ""})
    body = _REMOTE.sub("", body)  # no remote <script src> or <link href> survives
    # the exporter is shared by a batch's reports: the language is set on the page, not on the exporter
    body = _HTML_LANG.sub(f'<html lang="{check_lang(lang)}">', body, count=1)
    trusted = trusted_scripts(nb)
    body = escaping.with_csp(body, [s for s in escaping.inline_scripts(body) if s in trusted])
    path = Path(path)
    path.write_text(body, encoding="utf-8", newline="\n")
    return path


def trusted_scripts(nb: Any) -> set[str]:
    """The inline scripts of the figures a notebook displayed with :class:`~cyberbudget.reports.plots.EmbeddedRenderer`.

    Those outputs carry the figure's JSON beside its HTML; their scripts are plotly.js and ``Plotly.newPlot``
    calls whose data plotly serialised with ``<``, ``>`` and ``/`` escaped. They are the only scripts the page
    lets run (:func:`cyberbudget.reports.escaping.csp_meta`); any other script in the page — from a string
    displayed as HTML, say — is blocked.
    """
    out: set[str] = set()
    for cell in getattr(nb, "cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIME in data and "text/html" in data:
                text = data["text/html"]
                out.update(escaping.inline_scripts("".join(text) if isinstance(text, list) else str(text)))
    return out
