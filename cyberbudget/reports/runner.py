"""``cyberbudget run``: one scenario → one report folder ``DIR/<name>/`` (DESIGN.md, "Command line").

:func:`run` goes through these steps:

1. resolve the template and load the inputs (:mod:`cyberbudget.reports.inputs`) — a bad scenario, table or
   template stops everything before a file is written or a kernel starts;
2. allocate and plan the audits in-process (:mod:`cyberbudget.reports.computed`; on a Dask cluster with
   ``dask``);
3. write ``allocation.csv``, ``summary.json`` and ``allocation.xlsx`` (:mod:`cyberbudget.reports.outputs`);
4. execute the template (:mod:`cyberbudget.reports.execution`); a template that declares ``results_path``
   receives step 2's results through a private file (:mod:`cyberbudget.reports.handover`), and every template
   checks its allocated cents against step 2's;
5. export ``report.html`` (:mod:`cyberbudget.reports.html_export`) and, with ``pdf``, print it into
   ``report.pdf`` (:mod:`cyberbudget.reports.pdf`: a headless Chromium, found before anything else is done);
6. write ``manifest.json`` (:mod:`cyberbudget.reports.manifest`), with the SHA-256 of every file written, what
   the data is (``data``: the table and its nature, :mod:`cyberbudget.reports.provenance_line`) and the report's
   language.

Every published word of the report and the workbook is in ``lang`` (French by default).

Before any work, ``DIR`` must be writable (:func:`cyberbudget.paths.check_writable_dir`), and once the scenario is
read, ``DIR/<name>`` is locked for this run (:func:`cyberbudget.reports.locks.output_lock`: a second run of the
same name exits 2 naming this one) and must be absent or a report of ours (a folder without our manifest is never
replaced: exit 2). What killed runs left behind — their hidden folders in ``DIR``, their private temporary
folders (:mod:`cyberbudget.reports.private`) and lock files — is removed first.

Everything is written through :func:`cyberbudget.reports.folders.atomic_folder`: an error or Ctrl-C leaves no
half report, and a previous report of the same name stays as it was; when the run ends, ``DIR`` holds the report
folder and nothing else of this run (no lock, no temporary file; a ``DIR`` this run created and could not fill is
removed). A failing notebook is kept in ``DIR/<name>.failed/`` (removed by the next successful run) and raises
:class:`~cyberbudget.errors.ReportError`.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cyberbudget import config
from cyberbudget.errors import InputError, ReportError
from cyberbudget.paths import check_writable_dir
from cyberbudget.reports import manifest
from cyberbudget.reports.browser import Printer
from cyberbudget.reports.computed import Computed, compute_from
from cyberbudget.reports.execution import (
    NOTEBOOK_NAME,
    declared_parameters,
    execute_notebook,
    notebook_parameters,
)
from cyberbudget.reports.folders import (
    atomic_folder,
    check_replaceable,
    created_folder,
    remove_partial_folders,
)
from cyberbudget.reports.handover import save_results
from cyberbudget.reports.html_export import HTML_NAME, export_html
from cyberbudget.reports.i18n import require_lang
from cyberbudget.reports.inputs import Inputs, PathArg, load_inputs, resolve_template
from cyberbudget.reports.locks import output_lock, remove_stale_locks
from cyberbudget.reports.outputs import write_outputs
from cyberbudget.reports.pdf import PDF_NAME, open_printer, print_report
from cyberbudget.reports.private import private_dir, remove_stale
from cyberbudget.reports.provenance_line import provenance_of
from cyberbudget.reports.published import Published, publish

__all__ = ["check_report_target", "failed_folder", "is_failed_folder", "is_report_folder", "run"]


def failed_folder(out: PathArg, name: str) -> Path:
    """Where a failing notebook of scenario ``name`` is kept: ``out/<name>.failed``."""
    return Path(out) / f"{name}.failed"


def _compute_on_dask(address: str, inputs: Inputs) -> Computed:
    from distributed import Client

    with Client(address, timeout="30s") as client:
        return client.submit(compute_from, inputs, pure=False).result()


@contextmanager
def _results_file(computed: Computed, pub: Published, wanted: bool) -> Iterator[str | None]:
    """The private results file handed to the notebook (None when the template does not take one)."""
    if not wanted:
        yield None
        return
    with private_dir("r") as private:  # 0700, this user's; removed after the notebook, or by the next run if killed
        yield str(save_results(computed, pub, private / "results.pickle"))


def is_report_folder(path: Path) -> bool:
    """Whether ``path`` is a report folder written by ``run`` (it holds a cyberbudget ``manifest.json``)."""
    try:
        manifest.read_manifest(path)
    except InputError:
        return False
    return True


def is_failed_folder(path: Path) -> bool:
    """Whether ``path`` is a ``DIR/<name>.failed`` folder written by ``run`` (its executed notebook, nothing else)."""
    return {p.name for p in path.iterdir()} <= {NOTEBOOK_NAME}


def check_report_target(out: PathArg, name: str) -> None:
    """Refuse (exit 2) when ``out/<name>`` or ``out/<name>.failed`` exists and was not written by ``run``.

    Raises
    ------
    OptionError
        The message names the folder, which is left as it is.
    """
    check_replaceable(Path(out) / name, is_report_folder, "a cyberbudget report folder (with its manifest.json)")
    check_replaceable(failed_folder(out, name), is_failed_folder,
                      "the executed notebook of a failed cyberbudget run")


def _keep_failed(notebook: Path, folder: Path) -> None:
    """Keep the executed notebook of a failed run in ``folder`` (replacing an older one)."""
    with atomic_folder(folder) as keep:
        if notebook.exists():
            shutil.copy2(notebook, keep / NOTEBOOK_NAME)


def run(
    scenario_path: PathArg,
    data: PathArg | None = None,
    out: PathArg = "reports",
    template: PathArg = config.DEFAULT_TEMPLATE,
    dask: str | None = None,
    *,
    engine: str | None = None,
    exporter: Any = None,
    lang: str = "fr",
    overrides: PathArg | None = None,
    pdf: bool | Printer = False,
) -> Path:
    """Run one scenario and write its report folder ``out/<name>/``.

    Parameters
    ----------
    scenario_path : path
        Scenario YAML (or a name in ``scenarios/``; see :func:`cyberbudget.reports.inputs.resolve_scenario_path`).
    data : path, optional
        Establishment table (default: the committed table).
    out : path
        Parent folder of the report folder.
    template : str or path
        Template name in ``notebooks/templates/`` or a notebook path.
    dask : str, optional
        Address of a Dask scheduler: the in-process computation is submitted there, and templates that
        simulate receive it as ``dask_address``.
    engine : str, optional
        papermill engine (batches: :data:`cyberbudget.reports.kernels.ENGINE_NAME`, the thread's warm kernel).
    exporter : HTMLExporter, optional
        A pre-built :func:`cyberbudget.reports.html_export.html_exporter` (batches).
    lang : {"fr", "en"}
        Language of every published word and number (report, workbook); ``allocation.csv`` and
        ``summary.json`` are the same in any.
    overrides : path, optional
        Real budget figures replacing imputed ones (``--overrides``); hashed in the manifest.
    pdf : bool or Printer
        Also write ``report.pdf``: ``True`` starts a headless Chromium for this run (found first, before the
        inputs are read); a :class:`~cyberbudget.reports.browser.Browser` (or any printer) is used as it is
        (batches: one browser for every scenario).

    Returns
    -------
    Path
        ``out/<name>``.

    Raises
    ------
    InputError
        Bad scenario, table or template, ``pdf=True`` without a Chromium on the machine
        (:class:`~cyberbudget.reports.browser.ChromiumNotFound`), an output folder that cannot be written,
        ``out/<name>`` held by another run (:class:`~cyberbudget.reports.locks.FolderBusyError`) or not a report
        of ours: raised before anything is written.
    ReportError
        The notebook failed (kept in ``out/<name>.failed/``), the PDF could not be printed or an output could not
        be written.
    """
    lang = require_lang(lang)
    check_writable_dir(out)  # before any work: an output folder that cannot be written is bad input
    with open_printer(pdf) as printer:  # no Chromium: stops here, before anything runs
        return _run(scenario_path, data, out, template, dask, engine=engine, exporter=exporter, lang=lang,
                    overrides=overrides, printer=printer)


def _run(scenario_path: PathArg, data: PathArg | None, out: PathArg, template: PathArg, dask: str | None, *,
         engine: str | None, exporter: Any, lang: str, overrides: PathArg | None, printer: Printer | None) -> Path:
    t_start = time.perf_counter()
    template_path = resolve_template(template)
    inputs = load_inputs(scenario_path, data, overrides)
    scenario = inputs.scenario
    name = scenario.name
    final = Path(out) / name
    remove_stale()  # private temporary folders of killed runs
    with created_folder(out), output_lock(final, what="report folder"):
        remove_partial_folders(out, [name])  # hidden folders of killed runs (of any name, once their owner is gone)
        remove_stale_locks(out)
        check_report_target(out, name)
        t_loaded = time.perf_counter()
        computed = _compute_on_dask(dask, inputs) if dask else compute_from(inputs)
        computed.timings["load"] = t_loaded - t_start
        _write_report(computed, inputs, template_path, final, lang=lang, dask=dask, engine=engine,
                      exporter=exporter, t_start=t_start, printer=printer)
        stale = failed_folder(out, name)
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    return final


def _write_report(computed: Computed, inputs: Inputs, template_path: Path, final: Path, *, lang: str,
                  dask: str | None, engine: str | None, exporter: Any, t_start: float,
                  printer: Printer | None = None) -> None:
    """Steps 3 to 6 of :func:`run`, into ``final`` (whole or not at all)."""
    scenario = inputs.scenario
    name = scenario.name
    with atomic_folder(final) as tmp:
        t0 = time.perf_counter()
        pub = publish(computed)
        computed.timings["publish"] = time.perf_counter() - t0
        write_outputs(computed, tmp, pub=pub, lang=lang)
        declared = declared_parameters(template_path)
        params = notebook_parameters(computed, lang, dask)
        if declared:  # pass only what the template declares (papermill warns about the rest)
            params = {k: v for k, v in params.items() if k in declared}
        t0 = time.perf_counter()
        with _results_file(computed, pub, "results_path" in declared) as results_path:
            run_params = params if results_path is None else {**params, "results_path": results_path}
            try:
                nb = execute_notebook(template_path, tmp / NOTEBOOK_NAME, run_params, engine, cwd=tmp)
            except ReportError:
                _keep_failed(tmp / NOTEBOOK_NAME, failed_folder(final.parent, name))
                raise
        t1 = time.perf_counter()
        title = f"cyberbudget — {name}"
        export_html(nb, tmp / HTML_NAME, exporter, marking=pub.marking, title=title, lang=lang)
        t2 = time.perf_counter()
        computed.timings.update({"papermill": t1 - t0, "html": t2 - t1})
        if printer is not None:
            print_report(printer, tmp / HTML_NAME, tmp / PDF_NAME, title=title, marking=pub.marking, lang=lang)
            computed.timings["pdf"] = time.perf_counter() - t2
        computed.timings["total"] = time.perf_counter() - t_start
        inputs_hashes = manifest.input_entries(table=inputs.data_path, scenario=inputs.scenario_path,
                                               template=template_path, extends=scenario.extends_chain,
                                               overrides=inputs.overrides_path)
        man = manifest.build_manifest(  # every file written above is hashed (verify checks each one)
            name=name, inputs=inputs_hashes, parameters=scenario.to_dict(), seed=scenario.seed,
            notebook_parameters=params, outputs=tmp, timings=computed.timings, template=template_path.stem,
        )
        man["dask"] = dask
        man["data"] = (pub.provenance or provenance_of(computed)).to_dict()
        man["lang"] = lang
        manifest.write_manifest(tmp / manifest.MANIFEST_NAME, man)
