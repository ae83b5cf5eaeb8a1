"""``report.html``: the executed notebook as one self-contained page.

:func:`html_exporter` builds an nbconvert ``HTMLExporter`` (``lab`` template) that hides the code, templates
require.js, MathJax and mermaid away and adds the house CSS (screen and print: the allocation report's synthèse,
``<section id="synthese">``, ends the first printed page) and, under ``disclosure: establishment``, the protective
marking as a banner on screen and on every printed page.
:func:`export_html` writes the page after removing any remaining remote ``<script src>`` or ``<link href>``: the
page fetches nothing when opened (plotly.js is embedded once by the notebook's renderer,
:func:`cyberbudget.reports.plots.register_renderer`). Build the exporter once to export many notebooks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cyberbudget.formatting import check_lang
from cyberbudget.reports.inputs import PathArg

__all__ = ["HTML_NAME", "export_html", "html_exporter"]

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


def html_exporter() -> Any:
    """An nbconvert HTMLExporter (``lab`` template) that hides code and links nothing from the network.

    require.js, MathJax and mermaid are templated away; build it once and pass it to :func:`export_html` to
    export many notebooks.
    """
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
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
    path = Path(path)
    path.write_text(body, encoding="utf-8", newline="\n")
    return path
