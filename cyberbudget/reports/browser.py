"""Headless Chromium as a PDF printer, driven through the DevTools protocol over a pipe.

:func:`find_chromium` finds the browser: the environment variable :data:`ENV_VAR` (``CYBERBUDGET_CHROMIUM``, a
path or a command name) when set, else the first of :data:`CANDIDATES` on ``PATH``. Without one,
:class:`ChromiumNotFound` (an :class:`~cyberbudget.errors.OptionError`: exit 2) says how to install it.

:class:`Browser` starts **one** browser process and prints any number of pages with it:

- the DevTools protocol runs over a pipe (``--remote-debugging-pipe``: commands on the browser's file
  descriptor 3, replies on 4, JSON messages ended by a NUL byte), so no port is opened and no package beyond the
  standard library is needed; a reader thread hands each reply to the thread that waits for it, so several
  threads may print at once, each in its own tab (:meth:`Browser.print_many`);
- every tab works offline (``Network.emulateNetworkConditions``): a page can only use what it carries;
- a page from a file is loaded, its web fonts awaited and every plotly chart drawn (``.plotly-graph-div`` with its
  ``.main-svg``) before :meth:`Browser.print_file` prints it; a page from text (:meth:`Browser.print_html`) is set
  into a tab without navigation (the notices: no script, no chart);
- the page is printed with ``Page.printToPDF`` on the paper of a :class:`PageSetup` (A4 by default), with its
  header and footer templates (page numbers, the protective marking) and streamed to the file.

The browser runs in its own session with a fresh profile (``--user-data-dir`` in a private temporary folder,
removed at the end). :meth:`Browser.close` (also on Ctrl-C, through ``with Browser() as b:``) asks it to quit,
then kills its process group; if this process dies outright, the browser reads the end of its pipe and quits
by itself: no browser is left behind.

Examples
--------
A sketch (needs Chromium)::

    with Browser() as browser:
        browser.print_file("report.html", "report.pdf", PageSetup(footer_html=page_numbers))
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import itertools
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cyberbudget.errors import OptionError, ReportError
from cyberbudget.reports.private import make_private_dir

__all__ = [
    "CANDIDATES", "ENV_VAR", "LAUNCH_ARGS", "Browser", "BrowserError", "ChromiumNotFound", "PageSetup",
    "PrintJob", "Printer", "find_chromium",
]

#: Environment variable naming the Chromium executable (a path, or a command looked up on ``PATH``).
ENV_VAR: str = "CYBERBUDGET_CHROMIUM"
#: Command names looked up on ``PATH`` when :data:`ENV_VAR` is not set, in this order.
CANDIDATES: tuple[str, ...] = (
    "chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "chrome-headless-shell",
)
#: Arguments of every launch (a fresh ``--user-data-dir`` and ``--remote-debugging-pipe`` are added).
LAUNCH_ARGS: tuple[str, ...] = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-breakpad",
    "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
    "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows", "--no-default-browser-check",
)
INSTALL_HINT: str = (
    "--pdf needs a headless Chromium: install it (Debian/Ubuntu: apt-get install chromium) or set "
    f"{ENV_VAR} to the browser's executable"
)
#: Millimetres per inch, and CSS pixels per inch (the layout width of a tab matches the printed width).
_MM_PER_INCH = 25.4
_PX_PER_INCH = 96

# Resolves to the number of charts once fonts are loaded and every plotly chart is drawn (rejects after `limit`).
_CHARTS_DRAWN_JS = """
(async (limitMs) => {
  if (document.readyState !== 'complete') {
    await new Promise(r => window.addEventListener('load', r, {once: true}));
  }
  if (document.fonts && document.fonts.ready) { await document.fonts.ready; }
  const t0 = performance.now();
  for (;;) {
    const divs = Array.from(document.querySelectorAll('.plotly-graph-div'));
    const waiting = divs.filter(d => !(d.classList.contains('js-plotly-plot') && d.querySelector('.main-svg')));
    if (!waiting.length) {
      await new Promise(r => setTimeout(r, 50));
      return divs.length;
    }
    if (performance.now() - t0 > limitMs) {
      throw new Error(waiting.length + ' of ' + divs.length + ' plotly charts were not drawn');
    }
    await new Promise(r => setTimeout(r, 50));
  }
})
"""


#: The events a tab waits for (every other event is dropped).
_TAB_EVENTS: frozenset[str] = frozenset({"Page.loadEventFired", "Inspector.targetCrashed", "Target.detachedFromTarget"})


class ChromiumNotFound(OptionError):
    """No headless Chromium on this machine (exit 2): the message says how to install one."""


class BrowserError(ReportError):
    """The browser failed: it could not start, exited, timed out, or refused a command."""


def find_chromium(environ: Mapping[str, str] | None = None) -> Path:
    """The Chromium executable: :data:`ENV_VAR` if set, else the first of :data:`CANDIDATES` on ``PATH``.

    Parameters
    ----------
    environ : mapping, optional
        The environment to read (default: ``os.environ``); its ``PATH`` is searched.

    Returns
    -------
    Path
        An executable file.

    Raises
    ------
    ChromiumNotFound
        :data:`ENV_VAR` names no executable, or none of :data:`CANDIDATES` is on ``PATH``.

    Examples
    --------
    >>> try:
    ...     find_chromium({"PATH": ""})
    ... except ChromiumNotFound as exc:
    ...     "apt-get install chromium" in str(exc)
    True
    """
    env = os.environ if environ is None else environ
    search_path = env.get("PATH", "")
    given = env.get(ENV_VAR, "").strip()
    if given:
        found = shutil.which(given, path=search_path) if os.sep not in given else (
            given if os.path.isfile(given) and os.access(given, os.X_OK) else None)
        if not found:
            raise ChromiumNotFound(f"{ENV_VAR}={given}: expected a Chromium executable, found none at that path "
                                   f"(or on PATH); {INSTALL_HINT}")
        return Path(found).absolute()
    for name in CANDIDATES:
        found = shutil.which(name, path=search_path)
        if found:
            return Path(found).absolute()
    raise ChromiumNotFound(f"no Chromium found on PATH (looked for {', '.join(CANDIDATES)}); {INSTALL_HINT}")


@dataclass(frozen=True)
class PageSetup:
    """Paper, margins, header and footer of a printed page (``Page.printToPDF``).

    Attributes
    ----------
    paper_mm : (float, float)
        Width and height in millimetres (A4 portrait: 210 × 297).
    margins_mm : (float, float, float, float)
        Top, right, bottom, left; the header and footer are drawn inside the top and bottom margins.
    header_html, footer_html : str
        Chromium's header and footer templates (their own tiny document: inline styles only; the elements
        of class ``pageNumber``, ``totalPages``, ``title``, ``date`` are filled in). Both empty: none.
    css : str
        A style sheet added to the page before printing (e.g. to hide on-page banners the header repeats).
    wait_for_charts : bool
        Wait until every plotly chart of the page is drawn.
    scale : float
        Zoom of the printed page (``Page.printToPDF``'s ``scale``, 0.1–2): below 1, the page is laid out wider
        than the paper and shrunk to fit (more room for charts and wide tables).
    css_page : bool
        The page's own ``@page`` rule decides the paper and the margins (and its margin boxes — ``@top-right``,
        ``@bottom-right`` with ``counter(page)`` — draw the header and footer) instead of the fields above.
    stream : bool
        Stream the PDF from the browser in chunks (large documents); else it comes in one message (small ones,
        one round trip less).
    """

    paper_mm: tuple[float, float] = (210.0, 297.0)
    margins_mm: tuple[float, float, float, float] = (16.0, 12.0, 16.0, 12.0)
    header_html: str = ""
    footer_html: str = ""
    css: str = ""
    wait_for_charts: bool = True
    scale: float = 1.0
    css_page: bool = False
    stream: bool = True

    @property
    def content_width_px(self) -> int:
        """The width in CSS pixels the page is laid out at when printed (the printable width over ``scale``):
        a tab is given this width before the page is drawn, so charts are drawn at the width they print at."""
        width_mm = self.paper_mm[0] - self.margins_mm[1] - self.margins_mm[3]
        return max(200, int(width_mm / _MM_PER_INCH * _PX_PER_INCH / self.scale))

    def print_params(self) -> dict[str, Any]:
        """The parameters of ``Page.printToPDF``."""
        top, right, bottom, left = (m / _MM_PER_INCH for m in self.margins_mm)
        with_hf = bool(self.header_html or self.footer_html)
        return {
            "paperWidth": self.paper_mm[0] / _MM_PER_INCH, "paperHeight": self.paper_mm[1] / _MM_PER_INCH,
            "marginTop": top, "marginRight": right, "marginBottom": bottom, "marginLeft": left,
            "printBackground": True, "preferCSSPageSize": self.css_page, "displayHeaderFooter": with_hf,
            "scale": self.scale,
            "headerTemplate": self.header_html or "<span></span>",
            "footerTemplate": self.footer_html or "<span></span>",
            "transferMode": "ReturnAsStream" if self.stream else "ReturnAsBase64",
        }


@dataclass(frozen=True)
class PrintJob:
    """One page to print: ``source`` (an HTML file) or ``html`` (its text), into ``pdf``."""

    pdf: Path
    setup: PageSetup = field(default_factory=PageSetup)
    source: Path | None = None
    html: str | None = None


class Printer(Protocol):
    """What prints a page to PDF: a :class:`Browser`, or a client of one in another process."""

    def print_file(self, source: Path, pdf: Path, setup: PageSetup) -> Path:
        """Print the HTML file ``source`` into ``pdf``."""
        ...  # pragma: no cover - protocol


# ----------------------------------------------------------------------------------------------------------------
# The protocol connection
# ----------------------------------------------------------------------------------------------------------------


class _Reply:
    """A command's reply, waited for by the thread that sent it."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: dict[str, Any] | None = None
        self.error: str | None = None


@dataclass
class _Tab:
    target_id: str
    session_id: str
    frame_id: str
    events: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)
    width_px: int = 0


class Browser:
    """One headless Chromium process that prints pages to PDF (see the module docstring).

    Parameters
    ----------
    executable : path, optional
        The browser (default: :func:`find_chromium`).
    timeout : float
        Seconds allowed for one step (start, load, charts, print) before :class:`BrowserError`.
    tabs : int
        Pages printed at the same time by :meth:`print_many`.

    Notes
    -----
    Use it as a context manager (``with Browser() as b:``): the browser starts on entry and is closed on exit,
    whatever happens. Its methods may be called from several threads at once.
    """

    def __init__(self, executable: str | os.PathLike[str] | None = None, *, timeout: float = 180.0,
                 tabs: int = 2) -> None:
        self.executable = Path(executable) if executable is not None else find_chromium()
        self.timeout = float(timeout)
        self.tabs = max(1, int(tabs))
        self._proc: subprocess.Popen[bytes] | None = None
        self._profile: Path | None = None
        self._to_browser: int | None = None
        self._from_browser: int | None = None
        self._write_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._replies: dict[int, _Reply] = {}
        self._sessions: dict[str, _Tab] = {}
        self._idle: queue.LifoQueue[_Tab] = queue.LifoQueue()
        self._n_tabs = 0
        self._gone: str | None = None
        self._reader: threading.Thread | None = None
        self.version: str = ""

    # -- life cycle ------------------------------------------------------------------------------------------

    def __enter__(self) -> Browser:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        """Whether the browser process is alive and connected."""
        return self._proc is not None and self._proc.poll() is None and self._gone is None

    def start(self) -> Browser:
        """Launch the browser and check it answers (``Browser.getVersion``).

        Raises
        ------
        BrowserError
            It could not be started or did not answer within ``timeout``.
        """
        if self._proc is not None:
            return self
        if os.name != "posix":  # pragma: no cover - the pipe hand-over below uses /bin/sh
            raise BrowserError("--pdf drives Chromium through a pipe, which needs a POSIX system (Linux, macOS)")
        self._profile = make_private_dir("chromium")  # 0700; a killed run's is removed by the next one
        r_cmd, w_cmd = os.pipe()  # we write commands, the browser reads them on its fd 3
        r_res, w_res = os.pipe()  # the browser writes replies on its fd 4, we read them
        args = [*LAUNCH_ARGS, f"--user-data-dir={self._profile}", "--remote-debugging-pipe", "about:blank"]
        # The shell moves our two pipe ends to the descriptors 3 and 4 the browser expects, then runs it.
        command = ["/bin/sh", "-c", 'exec "$@" 3<&0 4>&1 0</dev/null 1>/dev/null', "sh", str(self.executable),
                   *args]
        log = open(self._profile / "chromium.log", "wb")  # noqa: SIM115 - closed right after the launch
        try:
            self._proc = subprocess.Popen(command, stdin=r_cmd, stdout=w_res, stderr=log, close_fds=True,
                                          start_new_session=True)
        except OSError as exc:
            for fd in (r_cmd, w_cmd, r_res, w_res):
                os.close(fd)
            self._remove_profile()
            raise BrowserError(f"{self.executable}: cannot start the browser: {exc}") from exc
        finally:
            log.close()
        os.close(r_cmd)
        os.close(w_res)
        self._to_browser, self._from_browser = w_cmd, r_res
        self._reader = threading.Thread(target=self._read_loop, name="cyberbudget-chromium", daemon=True)
        self._reader.start()
        try:
            self.version = str(self._call("Browser.getVersion", timeout=min(self.timeout, 60.0)).get("product", ""))
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Quit the browser (politely, then by force) and remove its profile; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None and self._gone is None:
                try:
                    self._call("Browser.close", timeout=5.0)
                except (BrowserError, OSError):
                    pass
            try:
                proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                pass
            try:  # the browser's helpers (zygote, renderers) share its process group
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not refused
                pass
        for name in ("_to_browser", "_from_browser"):
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=5.0)
        self._remove_profile()

    def _remove_profile(self) -> None:
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    def _log_tail(self, limit: int = 600) -> str:
        try:
            text = (self._profile / "chromium.log").read_text(encoding="utf-8", errors="replace") if (
                self._profile) else ""
        except OSError:
            return ""
        lines = [line for line in text.splitlines() if line.strip()]
        return (" — browser log: " + " | ".join(lines[-4:])[-limit:]) if lines else ""

    # -- messages --------------------------------------------------------------------------------------------

    def _read_loop(self) -> None:
        buffer = b""
        fd = self._from_browser
        while fd is not None:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                self._dispatch(message)
        self._gone = "the browser closed its end of the DevTools pipe (it exited)"
        with self._state_lock:
            waiting = list(self._replies.values())
            self._replies.clear()
            tabs = list(self._sessions.values())
        for reply in waiting:
            reply.error = self._gone
            reply.done.set()
        for tab in tabs:
            tab.events.put({"method": "_gone"})

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            with self._state_lock:
                reply = self._replies.pop(int(message["id"]), None)
            if reply is not None:
                if "error" in message:
                    err = message["error"]
                    reply.error = f"{err.get('message', err)} {err.get('data', '')}".strip()
                else:
                    reply.result = message.get("result", {})
                reply.done.set()
            return
        session = message.get("sessionId")
        method = str(message.get("method", ""))
        if method == "Target.detachedFromTarget" or method == "Inspector.targetCrashed":
            session = message.get("params", {}).get("sessionId", session)
        if method not in _TAB_EVENTS:
            return
        with self._state_lock:
            tab = self._sessions.get(session) if session else None
        if tab is not None:
            tab.events.put(message)

    def _call(self, method: str, params: Mapping[str, Any] | None = None, session: str | None = None, *,
              timeout: float | None = None) -> dict[str, Any]:
        """Send one command and wait for its reply (its ``result``)."""
        if self._gone is not None or self._to_browser is None:
            raise BrowserError(f"{method}: {self._gone or 'the browser is not running'}{self._log_tail()}")
        reply = _Reply()
        with self._state_lock:
            mid = next(self._ids)
            self._replies[mid] = reply
        message: dict[str, Any] = {"id": mid, "method": method, "params": dict(params or {})}
        if session:
            message["sessionId"] = session
        data = json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\0"
        try:
            with self._write_lock:
                view = memoryview(data)
                while view:
                    written = os.write(self._to_browser, view)
                    view = view[written:]
        except OSError as exc:
            with self._state_lock:
                self._replies.pop(mid, None)
            raise BrowserError(f"{method}: cannot write to the browser: {exc}{self._log_tail()}") from exc
        if not reply.done.wait(self.timeout if timeout is None else timeout):
            with self._state_lock:
                self._replies.pop(mid, None)
            raise BrowserError(f"{method}: no answer from the browser within {timeout or self.timeout:.0f} s")
        if reply.error is not None:
            raise BrowserError(f"{method}: {reply.error}{self._log_tail() if self._gone else ''}")
        return reply.result or {}

    # -- tabs ------------------------------------------------------------------------------------------------

    def _new_tab(self) -> _Tab:
        # its own window: every tab is visible, so that pages draw (animation frames) while another tab prints
        target = self._call("Target.createTarget", {"url": "about:blank", "newWindow": True})["targetId"]
        session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        tab = _Tab(target_id=target, session_id=session, frame_id="")
        with self._state_lock:
            self._sessions[session] = tab
        self._call("Page.enable", session=session)
        self._call("Network.enable", session=session)
        self._call("Network.emulateNetworkConditions", {"offline": True, "latency": 0, "downloadThroughput": -1,
                                                        "uploadThroughput": -1}, session=session)
        tree = self._call("Page.getFrameTree", session=session)
        tab.frame_id = tree["frameTree"]["frame"]["id"]
        return tab

    @contextmanager
    def _tab(self) -> Iterator[_Tab]:
        try:
            tab = self._idle.get_nowait()
        except queue.Empty:
            tab = self._new_tab()
            with self._state_lock:
                self._n_tabs += 1
        broken = False
        try:
            yield tab
        except BaseException:
            broken = True
            raise
        finally:
            if broken:  # a tab left mid-way (timeout, Ctrl-C) is closed rather than reused
                with self._state_lock:
                    self._sessions.pop(tab.session_id, None)
                    self._n_tabs -= 1
                if self.running:
                    try:
                        self._call("Target.closeTarget", {"targetId": tab.target_id}, timeout=5.0)
                    except BrowserError:
                        pass
            else:
                self._idle.put(tab)

    def _set_width(self, tab: _Tab, setup: PageSetup) -> None:
        width = setup.content_width_px
        if tab.width_px != width:
            self._call("Emulation.setDeviceMetricsOverride",
                       {"width": width, "height": 1100, "deviceScaleFactor": 1, "mobile": False},
                       session=tab.session_id)
            tab.width_px = width

    def _wait_event(self, tab: _Tab, method: str, deadline: float) -> dict[str, Any]:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"{method}: not received within {self.timeout:.0f} s")
            try:
                event = tab.events.get(timeout=left)
            except queue.Empty:
                continue
            name = event.get("method")
            if name == method:
                return event
            if name in ("_gone", "Inspector.targetCrashed", "Target.detachedFromTarget"):
                raise BrowserError(f"the page crashed or the browser exited while waiting for {method}"
                                   f"{self._log_tail()}")

    def _print(self, tab: _Tab, pdf: Path, setup: PageSetup) -> Path:
        session = tab.session_id
        if setup.css:
            self._call("Runtime.evaluate", {"expression": _add_style_js(setup.css), "returnByValue": True},
                       session=session)
        if setup.wait_for_charts:
            limit_ms = int(self.timeout * 1000)
            result = self._call("Runtime.evaluate", {"expression": f"({_CHARTS_DRAWN_JS})({limit_ms})",
                                                     "awaitPromise": True, "returnByValue": True},
                                session=session, timeout=self.timeout + 5)
            if "exceptionDetails" in result:
                details = result["exceptionDetails"]
                text = details.get("exception", {}).get("description") or details.get("text", "")
                raise BrowserError(f"{pdf.name}: the page did not finish drawing: {text.splitlines()[0]}")
        printed = self._call("Page.printToPDF", setup.print_params(), session=session)
        stream = printed.get("stream")
        pdf = Path(pdf)
        fd, tmp = tempfile.mkstemp(prefix=f".{pdf.name}.tmp-", dir=pdf.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                if stream is None:
                    fh.write(base64.b64decode(printed.get("data", "")))
                while stream is not None:
                    chunk = self._call("IO.read", {"handle": stream, "size": 1 << 20}, session=session)
                    data = chunk.get("data", "")
                    fh.write(base64.b64decode(data) if chunk.get("base64Encoded") else data.encode("latin-1"))
                    if chunk.get("eof"):
                        break
            os.chmod(tmp, 0o666 & ~_UMASK)
            os.replace(tmp, pdf)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        finally:
            if stream is not None:
                try:
                    self._call("IO.close", {"handle": stream}, session=session, timeout=10.0)
                except BrowserError:
                    pass
        return pdf

    # -- printing --------------------------------------------------------------------------------------------

    def print_file(self, source: str | os.PathLike[str], pdf: str | os.PathLike[str],
                   setup: PageSetup | None = None) -> Path:
        """Load the HTML file ``source`` (offline), wait for it to be drawn, print it into ``pdf``.

        Raises
        ------
        BrowserError
            The page did not load or draw within ``timeout``, or the browser failed.
        """
        setup = setup or PageSetup()
        url = Path(source).absolute().as_uri()
        with self._tab() as tab:
            self._set_width(tab, setup)
            _drain(tab.events)
            deadline = time.monotonic() + self.timeout
            nav = self._call("Page.navigate", {"url": url}, session=tab.session_id)
            if nav.get("errorText"):
                raise BrowserError(f"{source}: cannot open the page: {nav['errorText']}")
            self._wait_event(tab, "Page.loadEventFired", deadline)
            return self._print(tab, Path(pdf), setup)

    def print_html(self, html: str, pdf: str | os.PathLike[str], setup: PageSetup | None = None) -> Path:
        """Print the HTML text ``html`` (a self-contained page) into ``pdf``, without loading any file."""
        setup = setup or PageSetup(wait_for_charts=False)
        with self._tab() as tab:
            self._set_width(tab, setup)
            self._call("Page.setDocumentContent", {"frameId": tab.frame_id, "html": html},
                       session=tab.session_id)
            return self._print(tab, Path(pdf), setup)

    def print_job(self, job: PrintJob) -> Path:
        """Print one :class:`PrintJob`."""
        if job.html is not None:
            return self.print_html(job.html, job.pdf, job.setup)
        if job.source is None:
            raise ValueError("PrintJob: expected a source file or html text, found neither")
        return self.print_file(job.source, job.pdf, job.setup)

    def print_many(self, jobs: Sequence[PrintJob], *, tabs: int | None = None,
                   on_done: Callable[[PrintJob], None] | None = None) -> list[Path]:
        """Print every job, ``tabs`` pages at a time (default: the browser's ``tabs``); the PDFs in job order.

        The first failure stops the rest and is raised (the jobs already printed stay written).
        """
        n = min(len(jobs), max(1, tabs or self.tabs))
        if n <= 1:
            out = []
            for job in jobs:
                out.append(self.print_job(job))
                if on_done is not None:
                    on_done(job)
            return out
        results: list[Path | None] = [None] * len(jobs)
        todo: queue.Queue[int] = queue.Queue()
        for i in range(len(jobs)):
            todo.put(i)
        stop = threading.Event()

        def worker() -> None:
            while not stop.is_set():
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    results[i] = self.print_job(jobs[i])
                except BaseException:
                    stop.set()
                    raise
                if on_done is not None:
                    on_done(jobs[i])

        with cf.ThreadPoolExecutor(max_workers=n, thread_name_prefix="cyberbudget-print") as pool:
            futures = [pool.submit(worker) for _ in range(n)]
            try:
                for fut in cf.as_completed(futures):
                    fut.result()
            except BaseException:
                stop.set()
                raise
        return [p for p in results if p is not None]


def _drain(events: queue.Queue[dict[str, Any]]) -> None:
    while True:
        try:
            events.get_nowait()
        except queue.Empty:
            return


def _add_style_js(css: str) -> str:
    return ("(() => { const s = document.createElement('style'); s.textContent = " + json.dumps(css)
            + "; document.head.appendChild(s); return true; })()")


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: The process's umask, read once at import (reading it means setting it: not something to do among threads).
_UMASK: int = _read_umask()
