"""Warm Jupyter kernels: execute many parameterised notebooks without paying kernel start-up each time.

A papermill run of a small report spends most of its time starting a kernel and importing pandas and plotly
(about 5 s here), not running the notebook's cells. :class:`WarmKernel` starts one IPython kernel once,
pre-imports the libraries the templates use, and then executes notebook after notebook in it through
papermill's engine interface (engine :data:`ENGINE_NAME`), so that every executed notebook is still a genuine
papermill output: its cells are really run in a kernel, the ``injected-parameters`` cell is there, and
``metadata.papermill.parameters`` records the parameters.

No state leaks from one run to the next
---------------------------------------
Before every notebook the kernel is reset (:meth:`WarmKernel.reset`):

- ``%reset -f`` empties the user namespace (variables, functions, imported names, ``In``/``Out``/``_``), so a
  notebook sees exactly the namespace of a fresh kernel — nothing defined by an earlier notebook and nothing
  pre-imported by the warm-up (a notebook that forgets an ``import`` fails as it would in a fresh kernel);
- the working directory is set to the run's folder;
- plotly's default renderer and template are set back to their start-up values, which also re-arms the
  one-time injection of plotly.js, so each executed notebook embeds it like a fresh kernel would;
- the execution counter is set back to 1, so cells are numbered ``[1]``, ``[2]``... as in a fresh kernel.

What is kept on purpose is ``sys.modules``: imported modules stay loaded, which is the whole speed-up.
cyberbudget's modules hold no mutable global state (STYLE.md: pure functions, no global state) other than
read-only caches keyed by file path and modification time, so a module object carries nothing from one
scenario to the next. A notebook that monkey-patches a library module would defeat this; the templates only
call the library (STYLE.md, "Notebooks are thin").

If a run goes wrong in a way that may leave the kernel unusable (the kernel dies, a cell times out, the run is
interrupted), the kernel is restarted and warmed up again before it is used.

Threads: a :class:`WarmKernel` talks to its kernel through asyncio sockets bound to the thread that started
it; use each kernel from one thread. :class:`KernelPool` hands every thread its own kernel.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat
import papermill
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbformat import NotebookNode
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.exceptions import PapermillExecutionError

from cyberbudget.errors import ReportError

logger = logging.getLogger(__name__)

#: Name under which the warm-kernel engine is registered with papermill.
ENGINE_NAME: str = "cyberbudget-warm"

#: Modules imported once when a kernel starts (they stay in ``sys.modules``; names are then cleared).
DEFAULT_PRELOAD: tuple[str, ...] = (
    "numpy",
    "pandas",
    "plotly",
    "plotly.graph_objects",
    "plotly.express",
    "plotly.io",
    "IPython.display",
    "cyberbudget",
    "cyberbudget.config",
    "cyberbudget.errors",
    "cyberbudget.data.reference",
    "cyberbudget.data.schema",
    "cyberbudget.data.registry",
    "cyberbudget.data.finance",
    "cyberbudget.policy.scenario",
    "cyberbudget.policy.eligibility",
    "cyberbudget.policy.allocation",
    "cyberbudget.policy.audits",
    "cyberbudget.risk.model",
    "cyberbudget.risk.optimal",
    "cyberbudget.reports.plots",
    "cyberbudget.reports.disclosure",
    "cyberbudget.reports.handover",
    "cyberbudget.reports.allocation_sections",
)


class KernelError(ReportError):
    """The warm kernel could not be started, warmed up or reset."""


def _warmup_code(preload: Iterable[str]) -> str:
    names = ", ".join(repr(m) for m in preload)
    # A module that does not exist (yet) is skipped; any other import error is real and raised.
    return (
        "import importlib as _cb_importlib\n"
        f"for _cb_module in [{names}]:\n"
        "    try:\n"
        "        _cb_importlib.import_module(_cb_module)\n"
        "    except ModuleNotFoundError as _cb_exc:\n"
        "        if _cb_exc.name is None or not _cb_module.startswith(_cb_exc.name):\n"
        "            raise\n"
        "import plotly.io as _cb_pio\n"
        "_cb_state = {'renderer': _cb_pio.renderers.default, 'template': _cb_pio.templates.default}\n"
        # Move the preloaded modules' objects out of the collector's reach: `%reset` runs a full collection
        # before every notebook, which otherwise walks every object of pandas and plotly (~0.2 s each time).
        "import gc as _cb_gc\n"
        "_cb_gc.collect()\n"
        "_cb_gc.freeze()\n"
    )


def _reset_code(cwd: Path, renderer: str, template: str) -> str:
    return (
        # chdir first: the previous notebook's folder may be gone, and %reset needs a working directory
        "import os as _cb_os\n"
        f"_cb_os.chdir({str(cwd)!r})\n"
        "get_ipython().run_line_magic('reset', '-f')\n"
        "import os as _cb_os\n"
        "import plotly.io as _cb_pio\n"
        f"_cb_pio.renderers.default = {renderer!r}\n"
        f"_cb_pio.templates.default = {template!r}\n"
        "del _cb_os, _cb_pio\n"
        "get_ipython().execution_count = 1\n"
    )


def _names_expression(baseline: Iterable[str]) -> str:
    """Public names of the user namespace beyond a fresh kernel's (evaluated as a user expression)."""
    return f"sorted(n for n in globals() if not n.startswith('_') and n not in {sorted(baseline)!r})"


class WarmKernel:
    """One IPython kernel started once and reused, with a clean namespace for every notebook.

    Parameters
    ----------
    kernel_name : str
        Jupyter kernel spec name.
    preload : iterable of str
        Modules imported at start-up (names are cleared afterwards; modules stay loaded).
    startup_timeout : float
        Seconds to wait for the kernel to start and answer.

    Examples
    --------
    >>> with WarmKernel() as kernel:                                   # doctest: +SKIP
    ...     nb = kernel.execute("report.ipynb", "out.ipynb", parameters={"scenario": "a.yaml"})
    """

    def __init__(
        self,
        kernel_name: str = "python3",
        preload: Iterable[str] = DEFAULT_PRELOAD,
        startup_timeout: float = 60.0,
    ) -> None:
        self.kernel_name = kernel_name
        self.preload = tuple(preload)
        self.startup_timeout = startup_timeout
        self.km: AsyncKernelManager | None = None
        self.kc: Any = None
        #: Notebooks executed in this kernel since it was (re)started.
        self.runs: int = 0
        #: Times the kernel was started (1 + restarts).
        self.starts: int = 0
        self._state: dict[str, str] = {"renderer": "plotly_mimetype+notebook", "template": "plotly"}
        self._thread = threading.get_ident()
        self._needs_restart = False
        self._socket_dir: str | None = None
        self._baseline: frozenset[str] = frozenset()
        self._warming = False

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self, wait: bool = True) -> WarmKernel:
        """Start the kernel and warm it up (no-op if it is already running).

        Parameters
        ----------
        wait : bool
            False: launch the kernel process and return at once; the warm-up (waiting for the kernel, the
            pre-imports) completes on the next call that needs the kernel, so the caller can do other work
            (its own imports) meanwhile.

        Returns
        -------
        WarmKernel
            ``self``.

        Raises
        ------
        KernelError
            The kernel did not start or a pre-loaded module failed to import.
        """
        if self.km is None or self.kc is None:
            self._thread = threading.get_ident()
            # IPC sockets in a private folder: local only, nothing listens on the network (see
            # cyberbudget.reports.execution.local_kernel_manager_class: quiet, own session, dies with us).
            from cyberbudget.reports.execution import local_kernel_manager_class
            from cyberbudget.reports.private import make_private_dir

            self._socket_dir = str(make_private_dir("w"))
            self.km = local_kernel_manager_class()(
                kernel_name=self.kernel_name, transport="ipc", ip=os.path.join(self._socket_dir, "kernel")
            )
            try:
                run_sync(self.km.start_kernel)(extra_arguments=["--HistoryManager.hist_file=:memory:"])
                self.kc = self.km.client()
                self.kc.start_channels()
            except BaseException:
                self.shutdown()
                raise
            self._warming = True
            _LIVE.add(self)
        if wait:
            self._finish_start()
        return self

    def _finish_start(self) -> None:
        if not self._warming:
            return
        self._warming = False
        try:
            run_sync(self.kc.wait_for_ready)(timeout=self.startup_timeout)
            self.kc.allow_stdin = False
            # Names a fresh kernel defines itself (In, Out, exit, quit, get_ipython, ipykernel's `open`).
            names = self.run_code("", user_expressions={"names": "sorted(globals())"})
            self._baseline = frozenset(_user_expression(names, "names") or ())
            reply = self.run_code(_warmup_code(self.preload), user_expressions={"state": "_cb_state"})
        except BaseException:
            self.shutdown()
            raise
        state = _user_expression(reply, "state")
        if isinstance(state, dict):
            self._state = {k: str(v) for k, v in state.items()}
        self.runs = 0
        self.starts += 1
        self._needs_restart = False

    def shutdown(self) -> None:
        """Stop the kernel (safe to call twice)."""
        km, kc = self.km, self.kc
        self.km = self.kc = None
        self._warming = False
        _LIVE.discard(self)
        if kc is not None:
            try:
                kc.stop_channels()
            except Exception:  # pragma: no cover - best effort at teardown
                logger.debug("stopping kernel channels failed", exc_info=True)
        if km is not None:
            try:
                run_sync(km.shutdown_kernel)(now=True)
            except Exception:  # pragma: no cover - best effort at teardown
                logger.debug("kernel shutdown failed", exc_info=True)
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def restart(self) -> None:
        """Stop and start the kernel again (after a crash, a time-out or an interruption)."""
        self.shutdown()
        self.start()

    @property
    def alive(self) -> bool:
        """Whether the kernel process is running."""
        return self.km is not None and bool(run_sync(self.km.is_alive)())

    def __enter__(self) -> WarmKernel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- execution -----------------------------------------------------------------------------------------

    def run_code(
        self, code: str, timeout: float = 60.0, user_expressions: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Run ``code`` silently in the kernel (no history, no outputs kept).

        Parameters
        ----------
        code : str
            Python source.
        timeout : float
            Seconds to wait for the reply.
        user_expressions : mapping, optional
            Expressions evaluated after ``code``; their ``repr`` comes back in the reply.

        Returns
        -------
        dict
            The ``execute_reply`` content.

        Raises
        ------
        KernelError
            The code raised; the message carries the kernel's error name and value.
        """
        if self.kc is None:
            raise KernelError("the warm kernel is not running (call start() first)")
        self._finish_start()
        msg_id = self.kc.execute(
            code, silent=False, store_history=False, user_expressions=dict(user_expressions or {}),
            allow_stdin=False,
        )
        reply = run_sync(self._reply)(msg_id, timeout)
        content = reply["content"]
        if content.get("status") != "ok":
            raise KernelError(
                f"warm kernel code failed: {content.get('ename', '?')}: {content.get('evalue', '')}"
            )
        return content

    async def _reply(self, msg_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._needs_restart = True
                raise KernelError(f"the warm kernel did not answer within {timeout:g} s")
            msg = await self.kc.get_shell_msg(timeout=remaining)
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                # Drain what the code printed so that it never shows up in the next notebook's outputs.
                await self._drain_iopub(msg_id)
                return msg

    async def _drain_iopub(self, msg_id: str) -> None:
        while True:
            try:
                msg = await self.kc.get_iopub_msg(timeout=5)
            except Exception:  # queue empty: the kernel went idle without telling us (should not happen)
                return
            if (
                msg.get("parent_header", {}).get("msg_id") == msg_id
                and msg["msg_type"] == "status"
                and msg["content"].get("execution_state") == "idle"
            ):
                return

    def reset(self, cwd: str | Path | None = None) -> list[str]:
        """Give the kernel a fresh namespace (see the module docstring for what is reset).

        Parameters
        ----------
        cwd : path, optional
            Working directory for the next notebook; default the current directory of this process.

        Returns
        -------
        list of str
            Public names left in the user namespace after the reset (normally none).
        """
        if self._needs_restart or self.km is None:
            self.restart() if self.km is not None else self.start()
        folder = Path(cwd) if cwd is not None else Path.cwd()
        # One round trip: the names left are a user expression, evaluated after the reset and stored nowhere.
        reply = self.run_code(
            _reset_code(folder.resolve(), self._state["renderer"], self._state["template"]),
            user_expressions={"names": _names_expression(self._baseline)},
        )
        names = _user_expression(reply, "names")
        return list(names) if isinstance(names, list) else []

    def execute(
        self,
        notebook: str | Path | NotebookNode,
        output_path: str | Path | None = None,
        parameters: Mapping[str, Any] | None = None,
        cwd: str | Path | None = None,
        timeout: float | None = None,
    ) -> NotebookNode:
        """Execute a notebook in this kernel with papermill, after a namespace reset.

        Parameters
        ----------
        notebook : path or NotebookNode
            The template (its ``parameters``-tagged cell receives ``parameters``).
        output_path : path, optional
            Where papermill writes the executed notebook (also when a cell fails); None: not written.
        parameters : mapping, optional
            Values injected in an ``injected-parameters`` cell after the ``parameters`` cell.
        cwd : path, optional
            Working directory of the kernel while the notebook runs (default: this process's).
        timeout : float, optional
            Seconds allowed per cell (default: no limit).

        Returns
        -------
        NotebookNode
            The executed notebook.

        Raises
        ------
        papermill.exceptions.PapermillExecutionError
            A cell raised: ``cell_index``, ``ename``, ``evalue`` say which and why; the executed notebook, with
            the error, has been written to ``output_path``.
        """
        self.start()
        try:
            nb = papermill.execute_notebook(
                str(notebook) if isinstance(notebook, Path) else notebook,
                str(output_path) if output_path is not None else None,
                parameters=dict(parameters or {}),
                engine_name=ENGINE_NAME,
                kernel_name=self.kernel_name,
                progress_bar=False,
                request_save_on_cell_execute=False,
                execution_timeout=timeout,
                warm_kernel=self,
                warm_cwd=cwd,
            )
        except PapermillExecutionError:
            # A cell raised: the kernel itself is fine, the next reset cleans the namespace.
            self.runs += 1
            raise
        except BaseException:
            # Dead kernel, time-out, interruption: the kernel may be busy or gone; restart it before reuse.
            self._needs_restart = True
            raise
        self.runs += 1
        return nb


def _user_expression(reply: Mapping[str, Any], key: str) -> Any:
    import ast

    data = reply.get("user_expressions", {}).get(key, {})
    if data.get("status") != "ok":
        return None
    try:
        return ast.literal_eval(data["data"]["text/plain"])
    except (KeyError, ValueError, SyntaxError):
        return None


_CURRENT = threading.local()


@contextmanager
def use_kernel(kernel: WarmKernel | None) -> Iterator[WarmKernel | None]:
    """Make ``kernel`` the one :class:`WarmKernelEngine` uses in this thread when it is not given one.

    This lets code that only chooses a papermill engine by name (e.g. ``runner.run(engine=ENGINE_NAME)``) run
    in a warm kernel.
    """
    previous = getattr(_CURRENT, "kernel", None)
    _CURRENT.kernel = kernel
    try:
        yield kernel
    finally:
        _CURRENT.kernel = previous


def current_kernel() -> WarmKernel | None:
    """The kernel set by :func:`use_kernel` in this thread, if any."""
    return getattr(_CURRENT, "kernel", None)


class WarmKernelEngine(NBClientEngine):
    """papermill engine executing a notebook in a :class:`WarmKernel`.

    The kernel is ``warm_kernel=`` if given, else the one set by :func:`use_kernel`; with neither, the engine
    behaves like papermill's default one (a fresh kernel per notebook). The kernel's working directory is
    ``warm_cwd=`` if given, else this process's (where papermill's ``cwd=`` has moved it).
    """

    @classmethod
    def execute_notebook(cls, nb: NotebookNode, kernel_name: str, output_path: str | None = None,
                         **kwargs: Any) -> NotebookNode:
        """Like papermill's, minus the save after every cell when running warm.

        papermill re-serialises the whole notebook to ``output_path`` after each cell; with plotly.js
        embedded (~5 MB) that alone costs seconds per report. papermill still writes the executed notebook
        once at the end, and before raising when a cell fails, so the file on disk is the same.
        """
        if kwargs.get("warm_kernel") is not None or current_kernel() is not None:
            output_path = None
        return super().execute_notebook(nb, kernel_name, output_path=output_path, **kwargs)

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: float = 60,
        execution_timeout: float | None = None,
        warm_kernel: WarmKernel | None = None,
        warm_cwd: str | Path | None = None,
        **kwargs: Any,
    ) -> NotebookNode:
        warm_kernel = warm_kernel or current_kernel()
        if warm_kernel is None:
            return super().execute_managed_notebook(
                nb_man, kernel_name, log_output=log_output, stdout_file=stdout_file,
                stderr_file=stderr_file, start_timeout=start_timeout, execution_timeout=execution_timeout,
                **kwargs,
            )
        warm_kernel.start()
        # papermill's own `cwd=` has already moved this process there: the kernel follows, as a fresh one would.
        warm_kernel.reset(warm_cwd if warm_cwd is not None else os.getcwd())
        client = PapermillNotebookClient(
            nb_man,
            km=warm_kernel.km,
            timeout=execution_timeout,
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=logging.getLogger("papermill"),
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        # Reuse the kernel's client: nbclient then neither starts nor shuts down anything.
        client.kc = warm_kernel.kc
        return client.execute()


papermill_engines.register(ENGINE_NAME, WarmKernelEngine)

_LIVE: weakref.WeakSet[WarmKernel] = weakref.WeakSet()


@atexit.register
def _shutdown_live_kernels() -> None:  # pragma: no cover - runs at interpreter exit
    for kernel in list(_LIVE):
        kernel.shutdown()


class KernelPool:
    """Warm kernels handed out one per thread, started on first use and reused for every later notebook.

    Parameters
    ----------
    **kernel_options
        Passed to :class:`WarmKernel`.

    Examples
    --------
    >>> pool = KernelPool()                                             # doctest: +SKIP
    >>> nb = pool.get().execute("template.ipynb", parameters={"x": 1})  # doctest: +SKIP
    >>> pool.shutdown()                                                 # doctest: +SKIP
    """

    def __init__(self, **kernel_options: Any) -> None:
        self._options = kernel_options
        self._local = threading.local()
        self._kernels: list[WarmKernel] = []
        self._lock = threading.Lock()

    def get(self, wait: bool = True) -> WarmKernel:
        """The calling thread's kernel, started (and warmed up unless ``wait=False``) if needed."""
        kernel = getattr(self._local, "kernel", None)
        if kernel is None:
            kernel = WarmKernel(**self._options)
            self._local.kernel = kernel
            with self._lock:
                self._kernels.append(kernel)
        return kernel.start(wait=wait)

    @property
    def kernels(self) -> list[WarmKernel]:
        """Every kernel this pool has created."""
        with self._lock:
            return list(self._kernels)

    def shutdown(self) -> None:
        """Stop every kernel of the pool."""
        for kernel in self.kernels:
            kernel.shutdown()
        with self._lock:
            self._kernels.clear()
        self._local = threading.local()

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def read_notebook(path: str | Path) -> NotebookNode:
    """Read a notebook file (nbformat 4)."""
    return nbformat.read(str(path), as_version=4)
