"""Serving the what-if notebook with Voilà: ``cyberbudget app [--data TABLE] [--port N]``.

:func:`serve` starts Voilà as a child process (:func:`voila_command`) on ``127.0.0.1`` only, with the
``cyberbudget`` page template (``jupyter/voila/templates/cyberbudget`` beside this module, put on
``JUPYTER_PATH``): Voilà's ``lab`` template without its CDN links, so the page loads nothing from outside the
machine — widget and plotly JavaScript come from the installed labextensions, MathJax and require.js are not
loaded. Voilà strips the code cells (``strip_sources``) and shows no tracebacks. The notebook is served at the
root URL ``/``. The table reaches the notebook through the environment variable
:data:`~cyberbudget.reports.whatif.model.DATA_ENV` (kernels inherit the server's environment).

The figures are plotly ``FigureWidget`` objects (anywidget widgets). Their front-end module is plotly's own
``widgetbundle.js`` (about 5 MB, plotly.js included); by default every figure would carry a copy of it in its
widget state and the page would compile it once per figure — four times, within the 2 s anywidget allows a
model to initialise, which a busy machine sometimes misses (the figure then never updates). So :func:`serve`
copies the installed bundle into a temporary folder served by Voilà as a static file
(``/voila/static/plotly-widget-<plotly version>.js``, the folder put on ``JUPYTER_PATH``) and tells the kernels
its URL (:data:`PLOTLY_ESM_ENV`, an ``http://127.0.0.1:<port>/`` address): the page then imports the module
once, from the machine, and every figure shares it.

Stopping: Ctrl-C or SIGTERM to ``cyberbudget app`` sends SIGTERM to Voilà, which shuts its kernels down before
exiting (``Voila.stop``); the command then returns 0.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from cyberbudget import config
from cyberbudget.errors import OptionError, ReportError
from cyberbudget.reports.whatif.model import DATA_ENV

__all__ = ["DEFAULT_PORT", "HOST", "NOTEBOOK", "PLOTLY_ESM_ENV", "TEMPLATE", "check_port", "plotly_widget_module",
           "serve", "served_widget_module", "voila_command", "voila_environment"]

#: The notebook ``cyberbudget app`` serves.
NOTEBOOK: Path = config.NOTEBOOKS_DIR / "what_if.ipynb"
#: Folder put on ``JUPYTER_PATH``: it holds ``voila/templates/cyberbudget``.
JUPYTER_DIR: Path = Path(__file__).resolve().parent / "jupyter"
#: Name of the Voilà template (``lab`` without CDN links).
TEMPLATE: str = "cyberbudget"
#: The only interface the server listens on.
HOST: str = "127.0.0.1"
#: Voilà's usual port.
DEFAULT_PORT: int = 8866
#: Environment variable telling the kernels the URL of plotly's widget module served by ``cyberbudget app``.
PLOTLY_ESM_ENV: str = "CYBERBUDGET_PLOTLY_ESM"
#: How long Voilà may take to shut its kernels down after SIGTERM before it is killed.
STOP_TIMEOUT_S: float = 30.0


def voila_command(port: int = DEFAULT_PORT, notebook: str | os.PathLike[str] = NOTEBOOK) -> list[str]:
    """The Voilà command line ``cyberbudget app`` runs.

    Examples
    --------
    >>> cmd = voila_command(8866)
    >>> cmd[1:3], "--Voila.ip=127.0.0.1" in cmd, "--template=cyberbudget" in cmd
    (['-m', 'voila'], True, True)
    """
    return [
        sys.executable, "-m", "voila", str(notebook),
        "--no-browser",
        f"--Voila.ip={HOST}",
        f"--port={int(port)}",
        "--Voila.port_retries=0",            # the port asked for, or an error: never another one silently
        f"--template={TEMPLATE}",
        "--theme=light",
        "--VoilaConfiguration.strip_sources=True",   # no code on the page
        "--VoilaConfiguration.show_tracebacks=False",
        "--Voila.log_level=ERROR",          # no start-up chatter; errors still show
        # a kernel whose page never connected or went away without closing it is stopped after 15 min idle
        # (kernels of open pages are never culled: cull_connected stays False)
        "--MappingKernelManager.cull_idle_timeout=900",
        "--MappingKernelManager.cull_interval=60",
    ]


def voila_environment(data: str | os.PathLike[str] | None = None,
                      base: Mapping[str, str] | None = None, *,
                      widget_module: tuple[Path, str] | None = None) -> dict[str, str]:
    """Environment of the Voilà process: the template folder on ``JUPYTER_PATH``, the table in ``DATA_ENV``.

    ``widget_module``: ``(folder, url)`` of :func:`served_widget_module` — the folder joins ``JUPYTER_PATH`` and
    the URL is given to the kernels in :data:`PLOTLY_ESM_ENV`.
    """
    env = dict(os.environ if base is None else base)
    paths = [str(JUPYTER_DIR)] + ([str(widget_module[0])] if widget_module else [])
    paths += [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_PATH"] = os.pathsep.join(paths)
    if widget_module:
        env[PLOTLY_ESM_ENV] = widget_module[1]
    else:
        env.pop(PLOTLY_ESM_ENV, None)
    if data is not None:
        env[DATA_ENV] = str(Path(data).resolve())
    else:
        env.pop(DATA_ENV, None)
    return env


def plotly_widget_module() -> Path:
    """The front-end module of plotly's ``FigureWidget`` in the installed plotly package (``widgetbundle.js``)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:  # pragma: no cover - plotly is a dependency
        raise ReportError("plotly is not installed")
    return Path(spec.origin).parent / "package_data" / "widgetbundle.js"


@contextmanager
def served_widget_module(port: int) -> Iterator[tuple[Path, str]]:
    """A temporary ``JUPYTER_PATH`` folder serving plotly's widget module as a Voilà static file, and its URL.

    Yields
    ------
    (Path, str)
        The folder (its ``voila/templates/cyberbudget/static`` holds ``plotly-widget-<version>.js``) and the URL
        the page imports it from, ``http://127.0.0.1:<port>/voila/static/plotly-widget-<version>.js``. The folder
        is removed when the block ends.
    """
    from importlib.metadata import version

    name = f"plotly-widget-{version('plotly')}.js"
    with tempfile.TemporaryDirectory(prefix="cyberbudget-app-") as tmp:
        static = Path(tmp) / "voila" / "templates" / TEMPLATE / "static"
        static.mkdir(parents=True)
        shutil.copyfile(plotly_widget_module(), static / name)
        yield Path(tmp), f"http://{HOST}:{int(port)}/voila/static/{name}"


def check_port(port: int) -> None:
    """Raise :class:`~cyberbudget.errors.OptionError` unless ``port`` is valid and free on 127.0.0.1."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise OptionError(f"--port: expected a port number between 1 and 65535, found {port!r}")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError as exc:
            raise OptionError(f"--port {port}: cannot listen on {HOST}:{port} ({exc.strerror or exc}); "
                              "choose another port with --port") from None


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to Voilà (it shuts its kernels down), then wait; further Ctrl-C / SIGTERM are ignored meanwhile."""
    if proc.poll() is not None:
        return
    handlers = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:  # pragma: no cover - Voilà did not stop: last resort
            proc.kill()
            proc.wait()
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)


def serve(data: str | os.PathLike[str] | None = None, port: int = DEFAULT_PORT, *,
          on_ready: Callable[[str], None] | None = None, startup_timeout_s: float = 120.0) -> int:
    """Serve ``notebooks/what_if.ipynb`` with Voilà until Ctrl-C or SIGTERM.

    Parameters
    ----------
    data : str or Path, optional
        Establishment table handed to the notebook (validate it first: :func:`cyberbudget.load_establishments`).
    port : int
        Port on 127.0.0.1; it must be free (no fallback to another port).
    on_ready : callable, optional
        Called with the page's URL once the server accepts connections.

    Returns
    -------
    int
        0 when stopped by Ctrl-C or SIGTERM, else Voilà's exit code.

    Raises
    ------
    OptionError
        The port is invalid or taken.
    ReportError
        The notebook is missing, or Voilà exited or did not listen within ``startup_timeout_s``.
    """
    if not NOTEBOOK.is_file():
        raise ReportError(f"{NOTEBOOK}: the what-if notebook is missing (run from a source checkout)")
    check_port(port)
    with served_widget_module(port) as module:
        return _serve(data, port, module, on_ready, startup_timeout_s)


def _serve(data: str | os.PathLike[str] | None, port: int, module: tuple[Path, str],
           on_ready: Callable[[str], None] | None, startup_timeout_s: float) -> int:
    proc = subprocess.Popen(voila_command(port), env=voila_environment(data, widget_module=module),
                            cwd=str(NOTEBOOK.parent))

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not _listening(port):
            if proc.poll() is not None:
                raise ReportError(f"Voilà exited with code {proc.returncode} before serving the app "
                                  "(its messages are above)")
            if time.monotonic() > deadline:
                raise ReportError(f"Voilà did not listen on {HOST}:{port} within {startup_timeout_s:.0f} s")
            time.sleep(0.1)
        if on_ready is not None:
            on_ready(f"http://{HOST}:{port}/")
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(proc)
        signal.signal(signal.SIGTERM, previous)
