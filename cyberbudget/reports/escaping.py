"""Input strings made inert in everything a reader opens: published files carry data, never code (issue 14).

A scenario's ``description``, an establishment's or a GHT's name, a file name, a reason or an error message may
come from anyone, and ``report.html``, ``index.html`` and the notices travel outside. Every such string goes
through one of these functions on its way into a page; the template and the function around it decide which:

=====================  ==========================================================================================
:func:`html_text`      text or an attribute value in HTML (``<``, ``>``, ``&``, quotes escaped)
:func:`markdown_text`  text inside Markdown (a template's ``display(Markdown(...))``): shown literally — no tag,
                       no link, no emphasis, no heading, no table cell break, whatever the string holds
:func:`plot_text`      text in a plotly figure (titles, axis and legend labels, hover text): plotly renders a
                       subset of HTML there, so ``<``, ``>`` and ``&`` are written as entities
:func:`script_json`    data embedded in a page's ``<script type="application/json">`` (``</script>`` cannot close
                       it, nor can ``<!--``)
:func:`href`           a relative link to a file of the output folder (never a ``javascript:`` URL)
:func:`csp_meta`       the Content-Security-Policy ``<meta>`` of a self-contained page: no script runs but the
                       page's own (by hash), no inline event handler, nothing fetched or sent
=====================  ==========================================================================================

Markup built by the library itself (``<b>`` around a title) is not escaped; what goes *inside* it is.

Examples
--------
>>> html_text('<img src=x onerror="alert(1)">')
'&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
>>> markdown_text("*Budget* <b>2025</b>")
'&#42;Budget&#42; &#60;b&#62;2025&#60;&#47;b&#62;'
>>> plot_text("R&D <i>")
'R&amp;D &lt;i&gt;'
>>> script_json({"name": "</script><script>alert(1)</script>"})
'{"name": "\\\\u003c/script\\\\u003e\\\\u003cscript\\\\u003ealert(1)\\\\u003c/script\\\\u003e"}'
>>> href("baseline/report.html"), href("javascript:alert(1)")
('baseline/report.html', 'javascript%3Aalert%281%29')
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import string
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

__all__ = [
    "CSP_BASE", "SCRIPT_ELEMENT", "content_security_policy", "csp_meta", "href", "html_text", "inline_scripts",
    "markdown_text", "plot_text", "script_elements", "script_hash", "script_json", "with_csp",
]

#: Every ASCII punctuation character: the ones Markdown (CommonMark, and nbconvert's mistune with its plugins:
#: tables, autolinks, task lists, definition lists, math) can read as structure.
_MARKDOWN_SPECIAL = frozenset(string.punctuation)

#: What a self-contained page may do besides running its own scripts: inline styles (plotly sets them), images
#: and fonts embedded as ``data:`` or ``blob:`` URLs. Nothing is fetched (``default-src 'none'``), no form posts,
#: no ``<base>``, no frame, no plugin.
CSP_BASE: str = ("default-src 'none'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
                 "base-uri 'none'; form-action 'none'")

#: A script element: ``<script ATTRS>BODY</script>``, BODY up to the first closing tag (what a browser does).
#: :func:`script_elements` finds the same matches as ``SCRIPT_ELEMENT.findall`` without the regex's lazy
#: character-by-character scan of the bodies (plotly.js is 3.5 MB).
SCRIPT_ELEMENT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_SCRIPT_OPEN = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
_SCRIPT_CLOSE_TAIL = re.compile(r"script\s*>", re.IGNORECASE)
_TYPE = re.compile(r"""\btype\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
#: ``type`` values a browser executes (an absent type is JavaScript too).
_JS_TYPES = frozenset({"", "text/javascript", "application/javascript", "module", "text/ecmascript",
                       "application/ecmascript"})
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)


def html_text(value: Any) -> str:
    """``value`` as text in HTML, for element content or a quoted attribute value.

    Examples
    --------
    >>> html_text("Clinique <Saint & Co>")
    'Clinique &lt;Saint &amp; Co&gt;'
    """
    return html.escape(str(value), quote=True)


def markdown_text(value: Any) -> str:
    """``value`` as literal text inside Markdown, on one line.

    Runs of white space (line breaks included) become one space, so the text can sit in a heading, a paragraph or
    a table cell; every ASCII punctuation character is written as a numeric character reference, which CommonMark
    never reads as structure: no raw HTML, no link or autolink, no emphasis, no heading, list, table cell break or
    math. The reader sees the string as it was written.

    Examples
    --------
    >>> markdown_text("[click](javascript:alert(1))")
    '&#91;click&#93;&#40;javascript&#58;alert&#40;1&#41;&#41;'
    >>> markdown_text("two\\n\\n# lines")
    'two &#35; lines'
    """
    text = " ".join(str(value).split())
    return "".join(f"&#{ord(c)};" if c in _MARKDOWN_SPECIAL else c for c in text)


def plot_text(value: Any) -> str:
    """``value`` as literal text in a plotly figure (title, label, legend, hover text, annotation).

    plotly renders a subset of HTML in text (``<b>``, ``<a href>``, ``<br>``, ``<span style>``) and decodes the
    entities ``&amp;``, ``&lt;`` and ``&gt;``: writing those three characters as entities shows them as typed.

    Examples
    --------
    >>> plot_text('<a href="https://example.org">GHT</a>')
    '&lt;a href="https://example.org"&gt;GHT&lt;/a&gt;'
    """
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def script_json(value: Any, **dumps: Any) -> str:
    """JSON text safe to embed in an HTML ``<script>`` element (and in JavaScript source).

    ``<``, ``>`` and ``&`` are written as ``\\u003c``, ``\\u003e`` and ``\\u0026``, and the line separators
    U+2028/U+2029 escaped: the text cannot end the element (``</script>``), open a comment (``<!--``) or break
    a JavaScript string, and ``JSON.parse`` gives back the same value.

    Parameters
    ----------
    value : JSON-serialisable
    **dumps
        Passed to :func:`json.dumps` (e.g. ``sort_keys=True``, ``default=str``).
    """
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, **dumps)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


def href(path: str) -> str:
    """A relative link to ``path`` (a file or folder of the output folder), percent-encoded and HTML-escaped.

    Every character but letters, digits and ``/._-~`` is percent-encoded — ``:`` included, so no part of ``path``
    can be read as a scheme (``javascript:``, ``data:``) — and leading slashes are dropped, so it cannot name a
    host (``//example.org``) or leave the folder from its root.
    """
    return html_text(quote(str(path).lstrip("/"), safe="/._-~"))


def script_hash(source: str) -> str:
    """The CSP source allowing exactly this inline script: ``'sha256-<base64>'`` of its UTF-8 text."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy(scripts: Iterable[str] = ()) -> str:
    """The Content-Security-Policy of a self-contained page that runs only the inline ``scripts`` given.

    Parameters
    ----------
    scripts : iterable of str
        The exact text of each inline ``<script>`` the page may run (between the tags). None: no script at all.

    Examples
    --------
    >>> content_security_policy()
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; base-uri 'none'; \
form-action 'none'; script-src 'none'"
    """
    hashes = sorted({script_hash(s) for s in scripts})
    return f"{CSP_BASE}; script-src {' '.join(hashes) if hashes else chr(39) + 'none' + chr(39)}"


def csp_meta(scripts: Iterable[str] = ()) -> str:
    """The ``<meta http-equiv="Content-Security-Policy">`` element of :func:`content_security_policy`.

    Put it first in ``<head>``, before any script: a page built from input strings then runs only its own
    scripts even if a string slipped through unescaped — an ``onerror=`` attribute, a ``javascript:`` link or an
    injected ``<script>`` do nothing — and can fetch or send nothing.
    """
    return f'<meta http-equiv="Content-Security-Policy" content="{html_text(content_security_policy(scripts))}">'


def script_elements(page: str) -> Iterator[tuple[str, str]]:
    """``(attributes, body)`` of every ``<script>`` element of ``page``, as ``SCRIPT_ELEMENT.findall(page)``.

    Examples
    --------
    >>> list(script_elements("<p><script type='x'>a</script ><SCRIPT>b</script>"))
    [(" type='x'", 'a'), ('', 'b')]
    """
    pos = 0
    while True:
        opening = _SCRIPT_OPEN.search(page, pos)
        if opening is None:
            return
        start = i = opening.end()
        while True:
            i = page.find("</", i)
            if i < 0:
                return  # no closing tag after this element, so none after any later one either
            tail = _SCRIPT_CLOSE_TAIL.match(page, i + 2)
            if tail is not None:
                yield opening.group(1), page[start:i]
                pos = tail.end()
                break
            i += 1


def inline_scripts(page: str) -> list[str]:
    """The text of every inline script a browser would run in ``page`` (JSON data blocks excluded)."""
    out = []
    for attrs, body in script_elements(page):
        if re.search(r"\bsrc\s*=", attrs, re.IGNORECASE):
            continue
        kind = _TYPE.search(attrs)
        if (kind.group(1).lower() if kind else "") in _JS_TYPES:
            out.append(body)
    return out


def with_csp(page: str, scripts: Iterable[str] = ()) -> str:
    """``page`` with :func:`csp_meta` inserted right after its ``<head>`` tag (before anything else).

    Raises
    ------
    ValueError
        The page has no ``<head>``.
    """
    match = _HEAD.search(page)
    if match is None:
        raise ValueError("with_csp: expected an HTML page with a <head> element")
    return page[:match.end()] + csp_meta(scripts) + page[match.end():]
