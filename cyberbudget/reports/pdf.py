"""``report.pdf`` for briefings, and the one browser a run, a batch or the notices print with.

``cyberbudget run --pdf`` (and ``batch --pdf``) print ``report.html`` into ``report.pdf`` inside the report's
atomic folder, so the PDF appears together with the other files or not at all. The page (:func:`report_setup`):
A4 portrait, the report laid out at the printed width (no ligatures, so that the PDF's words can be searched)
and every plotly chart drawn before printing; a header
with the report's title and, under ``disclosure: establishment``, the marking "Diffusion restreinte" on every
page, repeated in the footer beside the page number ("Page 3 sur 16"). The on-page banners of ``report.html``
are hidden in the PDF since the header and footer carry the marking.

One browser serves a whole command (:func:`open_printer`): a run starts it before loading its inputs, a batch
once for every scenario. Worker processes of ``batch --jobs N`` print through the batch's browser with a
:class:`PrintClient` connected to its :class:`PrintServer` (a Unix socket in a private folder, authenticated
with a random key), so that there is still one browser for the whole batch.
"""

from __future__ import annotations

import html
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

from cyberbudget.reports.browser import Browser, BrowserError, PageSetup, Printer, find_chromium
from cyberbudget.reports.i18n import t

__all__ = [
    "MARKING_STYLE", "PDF_NAME", "PrintClient", "PrintServer", "footer_html", "header_html", "open_printer",
    "print_report", "report_setup", "require_chromium",
]

PDF_NAME: str = "report.pdf"
#: Colour of the protective marking (the house red of the HTML banners and the workbook).
MARKING_STYLE: str = "color:#C00000;font-weight:bold"
_BOX = ("font-family:'DejaVu Sans',Arial,sans-serif;font-size:8pt;font-variant-ligatures:none;width:100%;"
        "padding:0 12mm;box-sizing:border-box;"
        "display:flex;justify-content:space-between;align-items:center;color:#333")
#: Added to report pages when printing: the header and footer carry the marking, the page's own fixed banners
#: would only cover the text.
_REPORT_CSS = (".cb-banner, .cb-footer { display: none !important; } main { margin-top: 0 !important; } "
               "body { font-variant-ligatures: none; }")  # no ligature: the PDF's words stay searchable


def require_chromium() -> Path:
    """The Chromium :func:`~cyberbudget.reports.browser.find_chromium` finds, checked before anything runs.

    Raises
    ------
    ChromiumNotFound
        None on this machine (exit 2, with how to install one).
    """
    return find_chromium()


def header_html(*, title: str, marking: str | None) -> str:
    """Chromium's header template: the title on the left, the marking (if any) on the right."""
    mark = f"<span style=\"{MARKING_STYLE}\">{html.escape(marking)}</span>" if marking else "<span></span>"
    return f"<div style=\"{_BOX}\"><span>{html.escape(title)}</span>{mark}</div>"


def footer_html(*, marking: str | None, lang: str) -> str:
    """Chromium's footer template: the marking (if any) on the left, "Page n sur N" on the right."""
    text = html.escape(t("pdf.page_of", lang, page="\x00page", pages="\x00pages"))
    page = text.replace("\x00pages", '<span class="totalPages"></span>').replace(
        "\x00page", '<span class="pageNumber"></span>')
    mark = f"<span style=\"{MARKING_STYLE}\">{html.escape(marking)}</span>" if marking else "<span></span>"
    return f"<div style=\"{_BOX}\">{mark}<span>{page}</span></div>"


def report_setup(*, title: str, marking: str | None, lang: str) -> PageSetup:
    """The page of ``report.pdf``: A4, header and footer as in the module docstring, charts awaited."""
    return PageSetup(header_html=header_html(title=title, marking=marking),
                     footer_html=footer_html(marking=marking, lang=lang), css=_REPORT_CSS,
                     wait_for_charts=True, scale=0.85)


def print_report(printer: Printer, source: str | os.PathLike[str], pdf: str | os.PathLike[str], *, title: str,
                 marking: str | None, lang: str) -> Path:
    """Print ``report.html`` (``source``) into ``pdf`` with :func:`report_setup`."""
    return printer.print_file(Path(source), Path(pdf), report_setup(title=title, marking=marking, lang=lang))


@contextmanager
def open_printer(pdf: bool | Printer | None) -> Iterator[Printer | None]:
    """The printer of a command: None without ``--pdf``; a browser started here (and closed on exit, also on
    Ctrl-C) for ``True``; the caller's printer as it is.

    Raises
    ------
    ChromiumNotFound
        ``pdf=True`` and no Chromium on this machine (before anything is started).
    """
    if pdf is None or pdf is False:
        yield None
        return
    if pdf is True:
        with Browser(require_chromium()) as browser:
            yield browser
        return
    yield pdf


# ----------------------------------------------------------------------------------------------------------------
# One browser for the worker processes of a batch
# ----------------------------------------------------------------------------------------------------------------


class PrintServer:
    """Lends a printer (the batch's browser) to other processes of this machine.

    Listens on a Unix socket in a private temporary folder; a client must know the random ``authkey`` (handed
    to the batch's worker processes with their task). Each connection is served by its own thread, printing
    with the shared printer (a :class:`~cyberbudget.reports.browser.Browser` prints from several threads at
    once). Use it as a context manager.
    """

    def __init__(self, printer: Printer) -> None:
        self.printer = printer
        self._folder = Path(tempfile.mkdtemp(prefix="cyberbudget-print-"))
        self.address = str(self._folder / "printer.sock")
        self.authkey = os.urandom(32)
        self._listener = Listener(self.address, family="AF_UNIX", authkey=self.authkey)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="cyberbudget-print-server", daemon=True)
        self._thread.start()

    def __enter__(self) -> PrintServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def client_args(self) -> tuple[str, bytes]:
        """What a :class:`PrintClient` needs: ``(address, authkey)``."""
        return self.address, self.authkey

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                conn = self._listener.accept()
            except Exception:  # noqa: BLE001 - a client that failed authentication, or the listener closed
                continue
            if self._closed.is_set():
                conn.close()
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: Connection) -> None:
        with conn:
            while True:
                try:
                    request: dict[str, Any] = conn.recv()
                except (EOFError, OSError):
                    return
                try:
                    path = self.printer.print_file(Path(request["source"]), Path(request["pdf"]), request["setup"])
                    reply: tuple[str, str] = ("ok", str(path))
                except Exception as exc:  # noqa: BLE001 - reported to the client, which raises it
                    reply = ("error", f"{type(exc).__name__}: {exc}")
                try:
                    conn.send(reply)
                except OSError:
                    return

    def close(self) -> None:
        """Stop serving and remove the socket's folder."""
        if self._closed.is_set():
            return
        self._closed.set()
        try:  # wake the thread blocked in accept()
            Client(self.address, family="AF_UNIX", authkey=self.authkey).close()
        except Exception:  # noqa: BLE001 - already stopped
            pass
        self._listener.close()
        self._thread.join(timeout=5.0)
        shutil.rmtree(self._folder, ignore_errors=True)


class PrintClient:
    """A printer in another process, reached through a :class:`PrintServer` (one connection, kept open)."""

    def __init__(self, address: str, authkey: bytes) -> None:
        self.address = address
        self._authkey = authkey
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def print_file(self, source: Path, pdf: Path, setup: PageSetup) -> Path:
        """Print ``source`` into ``pdf`` with the server's browser.

        Raises
        ------
        BrowserError
            The server could not be reached or the printing failed.
        """
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = Client(self.address, family="AF_UNIX", authkey=self._authkey)
                self._conn.send({"source": str(Path(source).absolute()), "pdf": str(Path(pdf).absolute()),
                                 "setup": setup})
                status, value = self._conn.recv()
            except (OSError, EOFError) as exc:
                self._conn = None
                raise BrowserError(f"the batch's browser cannot be reached: {exc}") from exc
        if status != "ok":
            raise BrowserError(value)
        return Path(value)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
