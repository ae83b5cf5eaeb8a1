"""``cyberbudget batch``: many scenarios, every report, an index comparing them, and what failed.

:func:`run_batch` runs :func:`cyberbudget.reports.runner.run` for each scenario file, in ``jobs`` threads that each own
a warm kernel (:mod:`cyberbudget.reports.kernels`), or on an existing Dask distributed cluster (``dask=ADDRESS``). It
writes, next to the reports:

- ``DIR/batch.json`` — each scenario's outcome (``ok``, ``failed`` with the failing cell and its error,
  ``skipped`` by ``resume``, ``interrupted`` by Ctrl-C) and duration;
- ``DIR/results.parquet`` and ``DIR/summary.parquet`` (with their twins ``results.csv`` and ``summary.csv``) —
  the internal results store: one row per scenario × establishment, one row per scenario × indicator
  (:mod:`cyberbudget.reports.store`; read back with :func:`cyberbudget.reports.store.load_batch`);
- ``DIR/index.html`` — the comparison page, self-contained, aggregated under the confidentiality rules
  (:mod:`cyberbudget.reports.batch_index`), linking every report and its downloads ``DIR/comparison.csv`` and
  ``DIR/comparison.xlsx``.

Guarantees
----------
- A failing scenario never stops the others. A scenario file that cannot be read or validated is that
  scenario's failure, recorded with its message. A notebook that fails keeps its executed notebook in
  ``DIR/<name>.failed/`` (written by :mod:`cyberbudget.reports.runner`).
- Ctrl-C (``KeyboardInterrupt``; the command line turns SIGTERM into one) stops cleanly: scenarios not started
  are not started, running notebooks are interrupted (worker processes ignore the terminal's Ctrl-C and are
  stopped by this process, so none prints a traceback), reports already finished stay, no half-written report
  folder remains, and ``batch.json`` marks the scenarios that did not finish as ``interrupted``.
- One batch per ``DIR`` at a time (a lock beside ``batch.json``, :mod:`cyberbudget.reports.locks`), and each
  report folder is locked by the scenario writing it: a concurrent ``run`` or ``batch`` on the same folder exits
  2 naming the holder. A folder ``DIR/<name>`` that is not a report of ours is never replaced (that scenario
  fails, saying so).
- Killed outright (``kill -9``), a batch leaves no process behind: its worker processes die with it
  (:func:`cyberbudget.reports.startup.die_with_parent`) and their kernels within a second (ipykernel watches its
  parent); what they left on disk — hidden folders and lock files in ``DIR``, private temporary folders — is
  removed by the next ``run`` or ``batch``.
- ``resume=True`` skips a scenario whose ``DIR/<name>/manifest.json`` records exactly the current inputs
  (SHA-256 of the table, the scenario and the files it extends, the template and every reference file) and
  whose recorded outputs are all present and unchanged. The store and the index are rebuilt from every
  finished report folder, skipped ones included, so they stay complete.
- The store and the comparison files are built from the report folders of the scenarios that are ``ok`` or
  ``skipped``; a failed scenario has no rows. Every file is written atomically.
- With ``dask``, each scenario runs on a worker (with the worker's own warm kernels) into a worker-local folder;
  the files come back to this process and are moved into ``DIR`` atomically, so the cluster needs no shared
  output folder (inputs must be readable at the same paths on the workers). ``allocation.csv`` and
  ``summary.json`` are byte-identical to a local run.

Nothing here prints: progress is reported through ``on_event(kind, name, info)`` (see :func:`run_batch`).
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import multiprocessing.util
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cyberbudget import config
from cyberbudget.errors import InputError, OptionError, ReportError
from cyberbudget.paths import check_writable_dir
from cyberbudget.reports.folders import (
    atomic_folder,
    created_folder,
    remove_partial_folders,
    write_text_atomic,
)
from cyberbudget.reports.locks import output_lock, remove_stale_locks
from cyberbudget.reports.private import private_dir, remove_stale

if TYPE_CHECKING:  # imported lazily (papermill), after a --jobs worker has set up its imports
    from cyberbudget.reports.kernels import KernelPool, WarmKernel

#: Outcome statuses recorded in ``batch.json``.
STATUSES: tuple[str, ...] = ("ok", "failed", "skipped", "interrupted")
BATCH_JSON: str = "batch.json"
INDEX_HTML: str = "index.html"
FORMAT_VERSION: int = 1
#: Exit status the CLI should use when the batch was interrupted (128 + SIGINT).
EXIT_INTERRUPTED: int = 130

EventCallback = Callable[[str, "str | None", Mapping[str, Any]], None]


# ----------------------------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What became of one scenario.

    Attributes
    ----------
    name : str
        The scenario's ``name`` (the file stem when the file could not be read).
    scenario : str
        The scenario file, as given.
    status : str
        ``ok``, ``failed``, ``skipped`` or ``interrupted``.
    duration_s : float
        Wall time spent on it (0 for skipped).
    output : str or None
        ``DIR/<name>`` (ok, skipped) or ``DIR/<name>.failed`` (a failed notebook), relative to ``DIR``.
    error : dict or None
        For failures: ``type``, ``message``, and for a failing notebook cell ``cell_index``, ``ename``,
        ``evalue``.
    """

    name: str
    scenario: str
    status: str
    duration_s: float = 0.0
    output: str | None = None
    error: dict[str, Any] | None = None


@dataclass
class BatchResult:
    """The outcome of :func:`run_batch`.

    Attributes
    ----------
    out : Path
        The output folder ``DIR``.
    outcomes : list of Outcome
        One per scenario file, in the order given.
    duration_s : float
        Wall time of the batch.
    interrupted : bool
        Whether Ctrl-C stopped it.
    batch_json, index_html : Path
        ``DIR/batch.json`` and ``DIR/index.html``.
    store : dict of str to Path
        The results store: ``results.parquet``, ``summary.parquet``, ``results.csv``, ``summary.csv``.
    """

    out: Path
    outcomes: list[Outcome]
    duration_s: float
    interrupted: bool = False
    batch_json: Path | None = None
    index_html: Path | None = None
    store: dict[str, Path] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def by_status(self, status: str) -> list[Outcome]:
        """The outcomes with this status."""
        return [o for o in self.outcomes if o.status == status]

    @property
    def n_ok(self) -> int:
        """Scenarios whose report was written."""
        return len(self.by_status("ok"))

    @property
    def n_failed(self) -> int:
        """Scenarios that failed (bad file, failing notebook, ...)."""
        return len(self.by_status("failed"))

    @property
    def n_skipped(self) -> int:
        """Scenarios skipped by ``resume``."""
        return len(self.by_status("skipped"))

    @property
    def n_interrupted(self) -> int:
        """Scenarios that did not finish because of Ctrl-C."""
        return len(self.by_status("interrupted"))

    @property
    def ok(self) -> bool:
        """True when nothing failed and nothing was interrupted."""
        return not self.interrupted and not self.by_status("failed")

    @property
    def exit_code(self) -> int:
        """0 all done, 1 some scenario failed, :data:`EXIT_INTERRUPTED` interrupted."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        return 1 if self.by_status("failed") else 0


# ----------------------------------------------------------------------------------------------------------------
# Preparation: names, duplicates, resume
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class _Job:
    index: int
    path: Path
    given: str
    name: str
    error: dict[str, Any] | None = None
    lang: str = "fr"
    overrides: str | None = None


def _error_info(exc: BaseException) -> dict[str, Any]:
    """Type, message and — for a failing notebook cell — its index, error name and value, from the cause chain."""
    info: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc).strip()[:4000]}
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        for attr in ("cell_index", "ename", "evalue"):
            value = getattr(node, attr, None)
            if value is not None and attr not in info:
                info[attr] = value if attr == "cell_index" else str(value)
        node = node.__cause__ or node.__context__
    return info


def _prepare(paths: Sequence[str | os.PathLike[str]]) -> list[_Job]:
    from cyberbudget.policy.scenario import load_scenario
    from cyberbudget.reports.inputs import resolve_scenario_path

    jobs: list[_Job] = []
    used: dict[str, str] = {}
    for i, given in enumerate(paths):
        path = Path(given).absolute()
        job = _Job(index=i, path=path, given=str(given), name=path.stem)
        try:
            job.path = path = resolve_scenario_path(given)
            job.name = load_scenario(path).name
        except Exception as exc:  # a bad scenario file is this scenario's failure, never the batch's
            job.error = _error_info(exc)
        else:
            if job.name in used:
                job.error = {
                    "type": "ScenarioError",
                    "message": f"{path}: name: scenario name {job.name!r} is already used by {used[job.name]} "
                               "in this batch (expected unique names: they name the output folders)",
                }
            else:
                used[job.name] = str(given)
        jobs.append(job)
    return jobs


def _data_path(data: str | os.PathLike[str] | None) -> Path:
    return Path(data) if data is not None else config.DEFAULT_TABLE


def manifest_matches(folder: Path, scenario: Path, data: Path, template: Path, overrides: Path | None = None,
                     lang: str | None = None) -> bool:
    """Whether the report in ``folder`` was built from exactly these inputs (in ``lang``, when given) and is
    complete.

    Compares the SHA-256 of every input recorded in ``folder/manifest.json`` (table, scenario, extended
    scenarios, overrides file, template, reference files) with the files as they are now, the language the
    report was written in, and checks every output the manifest lists is present with its recorded SHA-256.
    """
    from cyberbudget.reports import manifest as mf

    try:
        recorded = mf.read_manifest(folder)
        current = mf.input_entries(table=data, scenario=scenario, template=template, overrides=overrides)
    except (InputError, OSError):
        return False

    def key(entries: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
        return sorted((str(e.get("role")), str(e.get("sha256"))) for e in entries)

    if key(recorded.get("inputs", [])) != key(current):
        return False
    written_in = (recorded.get("notebook_parameters") or {}).get("lang")  # a template may not take one
    if lang is not None and written_in is not None and written_in != lang:
        return False
    outputs = recorded.get("outputs") or {}
    if not outputs:
        return False
    for name, digest in outputs.items():
        path = folder / name
        if not path.is_file() or mf.sha256_file(path) != digest:
            return False
    return True


# ----------------------------------------------------------------------------------------------------------------
# Running one scenario
# ----------------------------------------------------------------------------------------------------------------


def _call_report_run(scenario: Path, data: str | None, out: Path, template: str, overrides: str | None = None,
                     lang: str = "fr", printer: Any = None) -> Path:
    """``runner.run`` for one scenario, executed by the warm-kernel engine with the worker's HTML exporter.

    The kernel is the one made current in this thread by :func:`cyberbudget.reports.kernels.use_kernel`;
    ``printer`` (the batch's browser, or a client of it) prints ``report.pdf``.
    """
    from cyberbudget.reports.kernels import ENGINE_NAME
    from cyberbudget.reports.runner import run

    return Path(run(scenario, data=data, out=out, template=template, engine=ENGINE_NAME,
                    exporter=_worker_exporter(), overrides=overrides, lang=lang,
                    pdf=printer if printer is not None else False))


def _failed_folder(out: Path, name: str) -> str | None:
    folder = out / f"{name}.failed"
    return folder.name if folder.is_dir() else None


def _run_one(
    job: _Job, data: str | None, out: Path, template: str, kernel: WarmKernel | None,
    runner: Callable[..., Path] | None = None, printer: Any = None,
) -> Outcome:
    """Run one scenario in ``kernel``; any exception becomes a ``failed`` outcome (KeyboardInterrupt passes)."""
    from cyberbudget.reports.kernels import use_kernel

    start = time.perf_counter()
    try:
        with use_kernel(kernel):
            if runner is None:
                folder = _call_report_run(job.path, data, out, template, job.overrides, job.lang, printer)
            else:
                folder = runner(job.path, data, out, template)
    except Exception as exc:
        return Outcome(job.name, job.given, "failed", round(time.perf_counter() - start, 3),
                       _failed_folder(out, job.name), _error_info(exc))
    rel = folder.name if folder.parent.resolve() == out.resolve() else str(folder)
    return Outcome(job.name, job.given, "ok", round(time.perf_counter() - start, 3), rel)


# Every process that runs scenarios (this one, a --jobs worker process, a Dask worker) keeps one pool of warm
# kernels (one per thread) and one HTML exporter, reused by every scenario it runs.
_WORKER_POOL: KernelPool | None = None
_WORKER_EXPORTER: Any = None
_WORKER_LOCK = threading.Lock()


def _worker_pool() -> KernelPool:
    global _WORKER_POOL
    with _WORKER_LOCK:
        if _WORKER_POOL is None:
            from cyberbudget.reports.kernels import KernelPool

            _WORKER_POOL = KernelPool()
            # multiprocessing children skip atexit: stop the kernels when the worker process ends
            multiprocessing.util.Finalize(_WORKER_POOL, _WORKER_POOL.shutdown, exitpriority=10)
        return _WORKER_POOL


def _worker_exporter() -> Any:
    global _WORKER_EXPORTER
    with _WORKER_LOCK:
        if _WORKER_EXPORTER is None:
            from cyberbudget.reports.html_export import html_exporter

            _WORKER_EXPORTER = html_exporter()
        return _WORKER_EXPORTER


def _warm_up_worker(data: str | None = None) -> None:
    """Process-pool initializer: get the worker ready before its first scenario arrives.

    The kernel process is launched first; while it starts and imports its libraries, this process imports
    what :func:`cyberbudget.reports.runner.run` needs (pandas, openpyxl, nbconvert), builds the HTML exporter and reads
    the table once (first-call costs: parquet reader, schema), instead of doing all that after the kernel is
    ready, at the first scenario.
    """
    from cyberbudget.reports.startup import skip_iri_format_checker

    skip_iri_format_checker()  # this process only runs scenarios (it is our own spawned worker)
    kernel = _worker_pool().get(wait=False)
    _worker_exporter()
    try:
        from cyberbudget.data.registry import load_establishments
        from cyberbudget.reports import excel  # noqa: F401 - import openpyxl now rather than in the first scenario

        load_establishments(_data_path(data))
    except Exception:  # a bad table is each scenario's failure, reported with the scenario
        pass
    kernel.start()


# What a --jobs worker process is doing, for its stop signal (see _init_worker).
_WORKER_STATE = {"busy": False, "warming": False, "stopping": False}


def _on_stop(signum: int, frame: object) -> None:
    """SIGTERM in a worker process: interrupt the scenario or the warm-up under way, or leave quietly if idle.

    Only the first one acts: a later SIGTERM (the pool terminates its workers when one has left) must not cut
    the clean-up short.
    """
    if _WORKER_STATE["stopping"]:
        return
    _WORKER_STATE["stopping"] = True
    _silence()
    if _WORKER_STATE["busy"] or _WORKER_STATE["warming"]:
        raise KeyboardInterrupt
    raise SystemExit(0)  # waiting for work: exit (the kernel pool is stopped by its finaliser)


def _silence() -> None:
    """Send what this worker prints from now on nowhere: it is being stopped, and the parent says so once.

    (Interrupting asyncio code — a kernel starting, a notebook running — makes it complain on stderr; the
    outcome of every scenario reaches the parent anyway.)
    """
    import warnings

    warnings.simplefilter("ignore")
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 2)
        os.close(fd)
    except OSError:  # pragma: no cover - nothing to silence
        pass


def _init_worker(parent: int, data: str | None, warm: bool) -> None:
    """Process-pool initializer: die with the parent, leave Ctrl-C to it, stop on its SIGTERM, then warm up.

    A terminal's Ctrl-C reaches every process of the foreground group: the workers ignore it, and the parent,
    which gets it too, stops them with SIGTERM (:func:`_stop_workers`) — the scenario under way is interrupted
    (its hidden folder removed, its outcome ``interrupted``) and an idle worker exits, with no traceback.
    """
    from cyberbudget.reports.startup import die_with_parent

    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_stop)
    if not warm:
        return
    _WORKER_STATE["warming"] = True
    try:
        _warm_up_worker(data)
    except KeyboardInterrupt:  # stopped while warming up
        pass
    finally:
        _WORKER_STATE["warming"] = False
    if _WORKER_STATE["stopping"]:
        _shutdown_worker_pool()
        os._exit(0)  # raising here would make concurrent.futures log the "exception in initializer"


_WORKER_PRINTER: Any = None


def _worker_printer(print_server: tuple[str, bytes] | None) -> Any:
    """This worker process's client of the batch's browser (None without ``--pdf``)."""
    global _WORKER_PRINTER
    if print_server is None:
        return None
    with _WORKER_LOCK:
        if _WORKER_PRINTER is None or _WORKER_PRINTER.address != print_server[0]:
            from cyberbudget.reports.pdf import PrintClient

            _WORKER_PRINTER = PrintClient(*print_server)
        return _WORKER_PRINTER


def _process_task(job: _Job, data: str | None, out: Path, template: str,
                  runner: Callable[..., Path] | None = None,
                  print_server: tuple[str, bytes] | None = None) -> Outcome:
    """One scenario in a ``--jobs`` worker process, written straight into ``out`` (``report.pdf`` printed by the
    batch's browser through ``print_server``)."""
    _WORKER_STATE["busy"] = True
    try:
        if _WORKER_STATE["stopping"]:
            raise KeyboardInterrupt
        return _run_one(job, data, out, template, _worker_pool().get() if runner is None else None, runner,
                        _worker_printer(print_server))
    finally:
        _WORKER_STATE["busy"] = False


def _stop_workers(executor: cf.ProcessPoolExecutor) -> None:
    """Send SIGTERM to the executor's worker processes (see :func:`_init_worker`)."""
    processes = getattr(executor, "_processes", None) or {}
    for process in list(processes.values()):
        try:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        except (OSError, ValueError):  # already gone
            pass


def _remote_run(job: _Job, data: str | None, template: str) -> dict[str, Any]:
    """Run one scenario on a Dask worker into a private folder and return its files (path → bytes)."""
    with private_dir("d") as tmp:
        out = Path(tmp)
        outcome = _run_one(job, data, out, template, _worker_pool().get())
        files: dict[str, bytes] = {}
        for top in (job.name, f"{job.name}.failed"):
            root = out / top
            if root.is_dir():
                for p in sorted(root.rglob("*")):
                    if p.is_file():
                        files[p.relative_to(out).as_posix()] = p.read_bytes()
    return {"outcome": asdict(outcome), "files": files}


def _install_files(out: Path, files: Mapping[str, bytes], pdf: Callable[[Path], None] | None = None) -> None:
    """Put files produced elsewhere into ``out``, each top folder whole or not at all (``atomic_folder``);
    ``pdf(folder)`` adds the report's PDF to a complete report folder before it is put in place."""
    from cyberbudget.reports.html_export import HTML_NAME
    from cyberbudget.reports.runner import check_report_target

    tops = sorted({rel.split("/", 1)[0] for rel in files})
    for top in tops:
        name = top.removesuffix(".failed")
        with output_lock(out / name, what="report folder"):
            check_report_target(out, name)
            with atomic_folder(out / top) as staging:
                for rel, content in files.items():
                    first, _, rest = rel.partition("/")
                    if first != top:
                        continue
                    target = staging / rest
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(content)
                if pdf is not None and not top.endswith(".failed") and (staging / HTML_NAME).is_file():
                    pdf(staging)


# ----------------------------------------------------------------------------------------------------------------
# The batch
# ----------------------------------------------------------------------------------------------------------------


class _Progress:
    """Counts and times for events; every event is emitted from the calling (main) thread."""

    def __init__(self, total: int, on_event: EventCallback | None) -> None:
        self.total = total
        self.counts = dict.fromkeys(STATUSES, 0)
        self.on_event = on_event
        self.start = time.perf_counter()
        self.run_durations: list[float] = []

    def info(self, **extra: Any) -> dict[str, Any]:
        done = sum(self.counts.values())
        elapsed = time.perf_counter() - self.start
        remaining = self.total - done
        ran = self.counts["ok"] + self.counts["failed"]
        eta = (elapsed / ran * remaining) if ran and remaining else (0.0 if not remaining else None)
        return {"total": self.total, "done": done, "remaining": remaining, **self.counts,
                "elapsed_s": round(elapsed, 3), "eta_s": None if eta is None else round(eta, 3), **extra}

    def emit(self, kind: str, name: str | None, **extra: Any) -> None:
        if self.on_event is not None:
            self.on_event(kind, name, self.info(**extra))

    def record(self, outcome: Outcome) -> None:
        self.counts[outcome.status] += 1
        self.emit(outcome.status, outcome.name, scenario=outcome.scenario, duration_s=outcome.duration_s,
                  output=outcome.output, error=outcome.error)


def run_batch(
    paths: Sequence[str | os.PathLike[str]],
    data: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] = "reports",
    jobs: int = 1,
    resume: bool = False,
    dask: Any = None,
    template: str = config.DEFAULT_TEMPLATE,
    on_event: EventCallback | None = None,
    runner: Callable[..., Path] | None = None,
    overrides: str | os.PathLike[str] | None = None,
    lang: str = "fr",
    pdf: bool = False,
) -> BatchResult:
    """Run every scenario's report; write ``DIR/batch.json``, the results store and the comparison page.

    Parameters
    ----------
    paths : sequence of path
        Scenario YAML files.
    data : path, optional
        Establishment table (default: the committed synthetic table).
    out : path
        Output folder ``DIR``; each report goes to ``DIR/<scenario name>/``.
    jobs : int
        Scenarios run at the same time (local runs: one thread and one warm kernel each).
    resume : bool
        Skip scenarios whose report's manifest already matches their inputs.
    dask : str or distributed.Client, optional
        Address of an existing Dask scheduler (``tcp://host:8786``) or a connected client: scenarios run there.
    template : str
        Notebook template name or ``.ipynb`` path.
    on_event : callable, optional
        ``on_event(kind, name, info)``, always called from the calling thread. ``kind``: ``"start"`` (name
        None; ``info["names"]``), then one of ``"ok"``, ``"failed"``, ``"skipped"``,
        ``"interrupted"`` per scenario, and ``"end"`` (name None). ``info`` always holds ``total``, ``done``,
        ``remaining``, ``ok``, ``failed``, ``skipped``, ``interrupted``, ``elapsed_s``, ``eta_s`` (None until
        known); per-scenario events add ``scenario``, ``duration_s``, ``output``, ``error``. An exception
        raised by the callback stops the batch like Ctrl-C (for ``KeyboardInterrupt``) or propagates after
        clean-up (anything else).
    runner : callable, optional
        ``runner(scenario_path, data, out, template, kernel) -> report folder``; default
        :func:`cyberbudget.reports.runner.run` in the thread's warm kernel. For tests and other report kinds.
    overrides : path, optional
        Real budget figures replacing imputed ones in every scenario's table (``--overrides``).
    lang : {"fr", "en"}
        Language of every report, of the comparison page and its downloads (French by default; ``--resume``
        re-runs a report written in another).
    pdf : bool
        Also print each report's ``report.pdf`` (inside its atomic folder). One headless Chromium, started once
        (found before anything runs), serves the whole batch: the worker thread uses it directly, ``jobs > 1``
        worker processes through a :class:`~cyberbudget.reports.pdf.PrintServer`, and with ``dask`` the PDF is
        printed here as each report folder comes back. It is closed at the end, also on Ctrl-C.

    Returns
    -------
    BatchResult
        ``exit_code`` 0 when every scenario is ok or skipped, 1 if any failed, 130 if interrupted.

    Raises
    ------
    OptionError
        ``jobs < 1``, no scenario given, an unknown template or language, ``pdf`` without a Chromium on the
        machine, or an output folder that cannot be written; :class:`~cyberbudget.reports.locks.FolderBusyError`
        when another batch is writing into ``out``.
    """
    from cyberbudget.formatting import check_lang

    try:
        lang = check_lang(lang)
    except ValueError as exc:
        raise OptionError(f"--lang: {exc}") from exc
    if jobs < 1:
        raise OptionError(f"--jobs: expected an integer >= 1, found {jobs}")
    if not paths:
        raise OptionError("batch: expected at least one SCENARIO.yaml, found none")
    check_writable_dir(out)  # before any work
    from cyberbudget.reports.inputs import resolve_template

    tpl = resolve_template(template)
    if pdf:
        from cyberbudget.reports.pdf import open_printer, require_chromium

        require_chromium()  # before anything runs
        with open_printer(True) as browser:
            return _run_locked(paths, data, out, jobs, resume, dask, template, tpl, on_event, runner, overrides,
                               lang, browser)
    return _run_locked(paths, data, out, jobs, resume, dask, template, tpl, on_event, runner, overrides, lang, None)


def _run_locked(
    paths: Sequence[str | os.PathLike[str]], data: str | os.PathLike[str] | None, out: str | os.PathLike[str],
    jobs: int, resume: bool, dask: Any, template: str, tpl: Path, on_event: EventCallback | None,
    runner: Callable[..., Path] | None, overrides: str | os.PathLike[str] | None, lang: str, printer: Any,
) -> BatchResult:
    """:func:`run_batch` once its arguments are checked: lock ``out``, remove what killed runs left, run."""
    # Absolute paths: papermill moves the process's working directory while a notebook runs, and Dask workers
    # have their own.
    out_dir = Path(out).absolute()
    data_arg = str(Path(data).absolute()) if data is not None else None
    with created_folder(out_dir), output_lock(out_dir / BATCH_JSON, what="batch folder"):
        remove_stale()  # what killed runs left: private temporary folders, hidden folders and locks in DIR
        remove_partial_folders(out_dir)
        remove_stale_locks(out_dir)
        return _run_batch(paths, data, out_dir, data_arg, jobs, resume, dask, template, tpl, on_event, runner,
                          overrides, lang, printer)


def _run_batch(
    paths: Sequence[str | os.PathLike[str]], data: str | os.PathLike[str] | None, out_dir: Path,
    data_arg: str | None, jobs: int, resume: bool, dask: Any, template: str, tpl: Path,
    on_event: EventCallback | None, runner: Callable[..., Path] | None,
    overrides: str | os.PathLike[str] | None, lang: str, printer: Any = None,
) -> BatchResult:
    """:func:`run_batch` once its output folder is checked and locked."""
    client, own_client = _connect(dask) if dask is not None else (None, False)
    started_at = datetime.now(UTC)

    job_list = _prepare(paths)
    overrides_arg = str(Path(overrides).absolute()) if overrides is not None else None
    for job in job_list:
        job.overrides = overrides_arg
        job.lang = lang
    progress = _Progress(len(job_list), on_event)
    outcomes: dict[int, Outcome] = {}
    interrupted = False
    pending_error: BaseException | None = None

    try:
        progress.emit("start", None, names=[j.name for j in job_list], jobs=jobs,
                      dask=str(dask) if dask is not None else None)
        to_run: list[_Job] = []
        for job in job_list:
            if job.error is not None:
                outcomes[job.index] = Outcome(job.name, job.given, "failed", 0.0, None, job.error)
                progress.record(outcomes[job.index])
            elif resume and manifest_matches(out_dir / job.name, job.path, _data_path(data), tpl,
                                             None if overrides_arg is None else Path(overrides_arg), lang) and (
                    printer is None or _has_pdf(out_dir / job.name)):
                outcomes[job.index] = Outcome(job.name, job.given, "skipped", 0.0, job.name)
                progress.record(outcomes[job.index])
            else:
                to_run.append(job)
        if client is not None:
            _run_dask(to_run, client, data_arg, out_dir, str(tpl), progress, outcomes, printer, lang)
        else:
            _run_local(to_run, jobs, data_arg, out_dir, template, progress, outcomes, runner, printer)
    except KeyboardInterrupt:
        interrupted = True
    except BaseException as exc:  # a failing callback: clean up, write what we know, then re-raise
        pending_error = exc
    finally:
        if own_client and client is not None:
            client.close()

    for job in job_list:
        if job.index not in outcomes:
            outcomes[job.index] = Outcome(job.name, job.given, "interrupted")
            if interrupted and progress.on_event is not None:
                try:
                    progress.record(outcomes[job.index])
                except BaseException:  # noqa: BLE001 - a second Ctrl-C while reporting: keep cleaning up
                    pass
    remove_partial_folders(out_dir, [j.name for j in job_list])

    ordered = [outcomes[j.index] for j in job_list]
    result = BatchResult(out=out_dir, outcomes=ordered, duration_s=round(time.perf_counter() - progress.start, 3),
                         interrupted=interrupted)
    result.batch_json = write_batch_json(out_dir, result, started_at=started_at, jobs=jobs, template=template,
                                         data=str(_data_path(data)), dask=dask, overrides=overrides_arg, lang=lang)
    from cyberbudget.reports.batch_index import write_index
    from cyberbudget.reports.store import write_store

    reports, table = _finished_reports(out_dir, ordered, _data_path(data))
    result.store = write_store(out_dir, list(reports.values()))
    result.index_html = write_index(out_dir, ordered, data=_data_path(data), lang=lang, reports=reports,
                                    table=table)
    if pending_error is not None:
        raise pending_error
    try:
        progress.emit("end", None, duration_s=result.duration_s, interrupted=interrupted,
                      exit_code=result.exit_code)
    except KeyboardInterrupt:
        result.interrupted = True
    return result


def _finished_reports(out: Path, outcomes: Sequence[Outcome], data: Path) -> tuple[dict[str, Any], Any]:
    """The report folders of the scenarios that are ``ok`` or ``skipped``, read once for the store and the index.

    Returns ``({name: ScenarioReport with its risk figures}, the establishment table or None)``. A report whose
    files cannot be read is left out here (the index says why); one whose risk figures cannot be computed is kept
    without them.
    """
    from cyberbudget.reports.store import add_risk, read_report

    finished = [o for o in outcomes if o.status in ("ok", "skipped") and o.output]
    if not finished:
        return {}, None
    table = None
    try:
        from cyberbudget.data.registry import load_establishments

        table = load_establishments(data)
    except (InputError, OSError, ValueError):  # the reports exist: the risk model falls back to their columns
        table = None
    reports: dict[str, Any] = {}
    for o in finished:
        try:
            report = read_report(out / (o.output or o.name))
        except (InputError, OSError, ValueError, KeyError):
            continue
        try:
            add_risk(report, table)
        except (InputError, ValueError, KeyError):  # the store keeps the report's rows; no risk figures
            pass
        reports[o.name] = report
    return reports, table


def _has_pdf(folder: Path) -> bool:
    from cyberbudget.reports.pdf import PDF_NAME

    return (folder / PDF_NAME).is_file()


def _run_local(
    to_run: list[_Job], jobs: int, data: str | None, out: Path, template: str, progress: _Progress,
    outcomes: dict[int, Outcome], runner: Callable[..., Path] | None, printer: Any = None,
) -> None:
    """``jobs == 1``: one worker thread with one warm kernel; ``jobs > 1``: that many worker processes.

    Processes rather than threads because papermill changes the process's working directory while a notebook
    runs, and because the in-process work (allocation, workbook, HTML) holds the GIL.
    """
    if not to_run:
        return
    stop = threading.Event()
    kernels: list[WarmKernel] = []

    def thread_task(job: _Job) -> Outcome:
        if stop.is_set():
            return Outcome(job.name, job.given, "interrupted")
        kernel = _worker_pool().get() if runner is None else None
        if kernel is not None and kernel not in kernels:
            kernels.append(kernel)
        outcome = _run_one(job, data, out, template, kernel, runner, printer)
        if stop.is_set() and outcome.status == "failed":
            # it failed because we interrupted it: not a real failure, and its notebook is not worth keeping
            shutil.rmtree(out / f"{job.name}.failed", ignore_errors=True)
            return Outcome(job.name, job.given, "interrupted", outcome.duration_s)
        return outcome

    executor: cf.Executor
    threaded = jobs == 1 or len(to_run) == 1
    server = None
    if threaded:
        executor = _batch_thread()
        futures = {executor.submit(thread_task, job): job for job in to_run}
    else:
        if printer is not None:  # the worker processes print with this process's browser
            from cyberbudget.reports.pdf import PrintServer

            server = PrintServer(printer)
        executor = cf.ProcessPoolExecutor(
            max_workers=min(jobs, len(to_run)), mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker, initargs=(os.getpid(), data, runner is None),
        )
        address = server.client_args if server is not None else None
        futures = {executor.submit(_process_task, job, data, out, template, runner, address): job
                   for job in to_run}
    try:
        pending = set(futures)
        while pending:
            done, pending = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: futures[f].index):
                job = futures[fut]
                try:
                    outcome = fut.result()
                except Exception as exc:  # the worker process died (BrokenProcessPool): this scenario failed
                    outcome = Outcome(job.name, job.given, "failed", 0.0, None, _error_info(exc))
                outcomes[job.index] = outcome
                progress.record(outcome)
    except BaseException:
        stop.set()
        for fut in futures:
            fut.cancel()
        for kernel in kernels:
            _interrupt(kernel)
        if threaded:
            cf.wait(list(futures))
        else:
            _stop_workers(executor)  # SIGTERM: the scenario under way stops, an idle worker leaves
            executor.shutdown(wait=True, cancel_futures=True)
        for fut, job in futures.items():
            if job.index in outcomes or not fut.done() or fut.cancelled() or fut.exception() is not None:
                continue
            outcome = fut.result()
            if outcome.status == "ok":
                outcomes[job.index] = outcome  # finished meanwhile: a complete report, kept
            elif outcome.status == "failed" and not threaded:
                outcomes[job.index] = outcome
        raise
    finally:
        if not threaded:
            executor.shutdown(wait=True)
        if server is not None:
            server.close()


# With --jobs 1 the scenarios run in one long-lived thread of this process, so its warm kernel also serves later
# batches of the same process (each notebook still starts from a namespace reset); stopped at exit.
_BATCH_THREAD: cf.ThreadPoolExecutor | None = None


def _batch_thread() -> cf.ThreadPoolExecutor:
    global _BATCH_THREAD
    with _WORKER_LOCK:
        if _BATCH_THREAD is None:
            _BATCH_THREAD = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="cyberbudget-batch")
        return _BATCH_THREAD


def _shutdown_worker_pool() -> None:
    global _WORKER_POOL
    with _WORKER_LOCK:
        pool, _WORKER_POOL = _WORKER_POOL, None
    if pool is not None:
        pool.shutdown()


def _interrupt(kernel: WarmKernel) -> None:
    from jupyter_core.utils import run_sync

    km = kernel.km
    if km is None:
        return
    try:
        run_sync(km.interrupt_kernel)()
    except Exception:  # pragma: no cover - the kernel may already be gone
        pass


def _connect(dask: Any) -> tuple[Any, bool]:
    """A Dask client for ``dask`` (an address, or a client given by the caller) and whether we own it."""
    import distributed

    if isinstance(dask, distributed.Client):
        return dask, False
    try:
        return distributed.Client(dask, timeout="20s", set_as_default=False), True
    except (OSError, ValueError, TypeError) as exc:
        raise OptionError(f"--dask: cannot connect to the Dask scheduler {dask!r}: {exc}") from exc


def _run_dask(
    to_run: list[_Job], client: Any, data: str | None, out: Path, template: str, progress: _Progress,
    outcomes: dict[int, Outcome], printer: Any = None, lang: str = "fr",
) -> None:
    if not to_run:
        return
    import distributed

    print_pdf = None
    if printer is not None:  # printed here, into the staging folder of each report that comes back
        from cyberbudget.policy.scenario import load_scenario
        from cyberbudget.reports import disclosure
        from cyberbudget.reports.html_export import HTML_NAME
        from cyberbudget.reports.pdf import PDF_NAME, print_report

        def print_pdf(folder: Path, job: _Job) -> None:
            marking = disclosure.marking(load_scenario(job.path))
            print_report(printer, folder / HTML_NAME, folder / PDF_NAME, title=f"cyberbudget — {job.name}",
                         marking=marking, lang=lang)

    futures: dict[Any, _Job] = {}
    try:
        for job in to_run:
            job.path = job.path.absolute()
            fut = client.submit(_remote_run, job, data, template, pure=False,
                                key=f"cyberbudget-{job.name}-{uuid.uuid4().hex[:8]}")
            futures[fut] = job
        for fut in distributed.as_completed(list(futures), loop=client.loop):
            job = futures[fut]
            try:
                payload = fut.result()
            except Exception as exc:  # the worker itself failed (lost, killed): this scenario's failure
                outcome = Outcome(job.name, job.given, "failed", 0.0, None, _error_info(exc))
            else:
                outcome = Outcome(**payload["outcome"])
                try:
                    _install_files(out, payload["files"], None if print_pdf is None else (
                        lambda folder, job=job: print_pdf(folder, job)))
                except Exception as exc:  # held by another run, not ours, or its PDF could not be printed
                    outcome = Outcome(job.name, job.given, "failed", outcome.duration_s, None, _error_info(exc))
            outcomes[job.index] = outcome
            progress.record(outcome)
    except BaseException:
        client.cancel([f for f in futures if not f.done()])
        raise
    finally:
        try:  # leave no kernel process behind on the cluster
            client.run(_shutdown_worker_pool)
        except Exception:  # pragma: no cover - a worker already gone
            pass


def write_batch_json(
    out: Path, result: BatchResult, *, started_at: datetime, jobs: int, template: str, data: str, dask: Any = None,
    overrides: str | None = None,
    lang: str = "fr",
) -> Path:
    """Write ``DIR/batch.json`` atomically (UTF-8, sorted keys, LF).

    Returns
    -------
    Path
    """
    counts = {s: len(result.by_status(s)) for s in STATUSES}
    document = {
        "format": FORMAT_VERSION,
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_s": result.duration_s,
        "jobs": jobs,
        "dask": None if dask is None else (dask if isinstance(dask, str) else getattr(dask.scheduler, "address", None)),
        "template": template,
        "lang": lang,
        "data": data,
        "overrides": overrides,
        "interrupted": result.interrupted,
        "exit_code": result.exit_code,
        "counts": counts,
        "scenarios": [asdict(o) for o in result.outcomes],
    }
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"
    return write_text_atomic(out / BATCH_JSON, text)


def read_batch_json(out: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``DIR/batch.json``.

    Raises
    ------
    InputError
        Missing or not JSON.
    """
    path = Path(out) / BATCH_JSON
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the batch record: {exc}", source=str(path)) from exc


__all__ = [
    "BatchResult", "Outcome", "ReportError", "manifest_matches", "read_batch_json", "run_batch",
    "write_batch_json",
]
