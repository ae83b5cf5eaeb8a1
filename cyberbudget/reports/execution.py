"""Executing a template notebook with papermill: its parameters, its kernel, its failure.

- :func:`notebook_parameters` — what ``run`` injects (absolute paths, the language, the cents the notebook must
  reproduce, the Dask address), filtered down to what the template declares (:func:`declared_parameters`);
- :func:`execute_notebook` — papermill in the current environment's ``python3`` kernel, either a fresh kernel
  talking over private IPC sockets (:func:`local_kernel_manager_class`) or a warm one chosen through the papermill
  engine :data:`cyberbudget.reports.kernels.ENGINE_NAME` (batches). The executed notebook is written once, at
  the end. A failing cell becomes a :class:`~cyberbudget.errors.ReportError` naming the cell and the exception;
  the executed notebook, with the error, is still written.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cyberbudget.errors import ReportError
from cyberbudget.reports.computed import Computed
from cyberbudget.reports.inputs import PathArg

__all__ = [
    "KERNEL_NAME", "NOTEBOOK_NAME", "declared_parameters", "execute_notebook", "local_kernel_manager_class",
    "notebook_parameters",
]

NOTEBOOK_NAME: str = "report.ipynb"
#: The kernel papermill uses: the ``python3`` kernel of the current environment (``make`` installs it).
KERNEL_NAME: str = "python3"


def notebook_parameters(computed: Computed, lang: str = "en", dask: str | None = None) -> dict[str, Any]:
    """The parameters a template receives from ``run``.

    ``scenario_path``, ``data_path`` and ``overrides_path`` (absolute; empty without ``--overrides``), ``lang``,
    ``expected_allocated_cents`` (the notebook fails if its own computation gives other cents) and, with
    ``--dask``, ``dask_address``.
    """
    params: dict[str, Any] = {
        "scenario_path": str(computed.scenario_path),
        "data_path": str(computed.data_path),
        "overrides_path": "" if computed.overrides_path is None else str(computed.overrides_path),
        "lang": lang,
        "expected_allocated_cents": computed.allocated_cents,
    }
    if dask:
        params["dask_address"] = dask
    return params


def declared_parameters(template: PathArg) -> set[str]:
    """Names declared in a template's ``parameters`` cell (``name: type = default`` or ``name = default``)."""
    import nbformat

    nb = nbformat.read(str(template), as_version=4)
    names: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            for line in cell.source.splitlines():
                m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(?::[^=]+)?=", line)
                if m:
                    names.add(m.group(1))
    return names


_SOCKET_DIR: str | None = None


def local_kernel_manager_class() -> type:
    """A kernel manager whose kernel talks over IPC sockets in a private temporary folder.

    Nothing listens on the network (ipykernel warns about unencrypted TCP otherwise), and the socket files
    never land in the report folder.
    """
    global _SOCKET_DIR
    from jupyter_client.manager import AsyncKernelManager

    if _SOCKET_DIR is None:
        _SOCKET_DIR = tempfile.mkdtemp(prefix="cyberbudget-kernels-")
        atexit.register(shutil.rmtree, _SOCKET_DIR, True)
    socket_dir = _SOCKET_DIR

    class LocalKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", os.path.join(tempfile.mkdtemp(dir=socket_dir), "kernel"))
            super().__init__(**kwargs)

        async def _async_interrupt_kernel(self) -> None:
            # jupyter_client interrupts a kernel before asking it to shut down; the notebook has finished, and
            # an interrupt landing as the kernel closes its last request only makes it log "KeyboardInterrupt
            # caught in kernel" on the user's terminal. The shutdown request (then a kill) still stops it.
            if getattr(self, "shutting_down", False):
                return
            await super()._async_interrupt_kernel()

    return LocalKernelManager


def execute_notebook(template: PathArg, out_path: PathArg, parameters: Mapping[str, Any],
                     engine: str | None = None, *, cwd: PathArg | None = None) -> Any:
    """Execute a template with papermill and return the executed notebook.

    Parameters
    ----------
    template : path
        The template ``.ipynb``.
    out_path : path
        Where papermill writes the executed notebook (also on failure).
    parameters : mapping
        Injected after the cell tagged ``parameters``.
    engine : str, optional
        A papermill engine name: :data:`cyberbudget.reports.kernels.ENGINE_NAME` runs the notebook in the warm
        kernel of the current thread (:func:`cyberbudget.reports.kernels.use_kernel`); default: a fresh kernel
        on private IPC sockets.
    cwd : path, optional
        Working directory of the kernel.

    Returns
    -------
    nbformat.NotebookNode

    Raises
    ------
    ReportError
        A cell failed (the message names the cell and the exception); ``out_path`` holds the notebook.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    kwargs: dict[str, Any] = {
        "parameters": dict(parameters), "kernel_name": KERNEL_NAME, "progress_bar": False,
        "log_output": False, "cwd": str(cwd) if cwd is not None else None,
        # One write at the end (and on failure) instead of two per cell: nobody watches the notebook of a report
        # being written (its folder is hidden until complete), and once the first figure has embedded plotly.js
        # every save re-serialises and re-validates megabytes.
        "request_save_on_cell_execute": False,
    }
    if engine is None:
        kwargs["kernel_manager_class"] = local_kernel_manager_class()
    else:
        kwargs["engine_name"] = engine
    try:
        return papermill.execute_notebook(str(template), str(out_path), **kwargs)
    except PapermillExecutionError as exc:
        raise ReportError(
            f"{Path(template).name}: cell {exc.cell_index} ({exc.exec_count}) failed: {exc.ename}: {exc.evalue}"
        ) from exc
