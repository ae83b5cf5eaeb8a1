"""The ``cyberbudget`` command line (DESIGN.md, "Command line").

Exit codes: 0 success; 2 bad input (one clear message on stderr naming the file and the row, column or key; no
traceback; nothing half-written) — an output folder that cannot be written or is being written by another run
included, checked before any work; 1 anything else; 130 interrupted (Ctrl-C, SIGTERM or SIGHUP: one line, no
traceback, no partial output). ``batch`` exits 1 if any scenario failed; ``verify`` exits 1 when a file was edited
or the re-run differs. This is the only module that parses arguments or prints.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from cyberbudget.errors import CyberbudgetError, InputError, OptionError
from cyberbudget.paths import check_writable_dir

app = typer.Typer(
    name="cyberbudget",
    help="Simulate the allocation of the 350 M€ Ségur cybersecurity envelope (5–10 % rule) and write reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Build establishment tables: real SAE import, synthetic default.", no_args_is_help=True)
app.add_typer(data_app, name="data")

out = Console(highlight=False, soft_wrap=True, markup=False)  # printed values are text: `[public]` is no style tag
err = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


def _fail(code: int, message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def handle_errors(func: F) -> F:
    """Turn library errors into exit codes: InputError → 2, other errors → 1, never a traceback.

    Set ``CYBERBUDGET_DEBUG=1`` to see the traceback of an unexpected error.
    """

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except InputError as exc:
            _fail(2, str(exc))
        except CyberbudgetError as exc:
            _fail(1, str(exc))
        except KeyboardInterrupt:
            print("interrupted: no partial output was left behind", file=sys.stderr)
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, exit 1
            if os.environ.get("CYBERBUDGET_DEBUG"):
                raise
            _fail(1, f"unexpected {type(exc).__name__}: {exc} (set CYBERBUDGET_DEBUG=1 for the traceback)")

    return wrapper  # type: ignore[return-value]


def _existing_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise OptionError(f"{path}: {what} not found")
    if path.is_dir():
        raise OptionError(f"{path}: expected a {what} file, found a folder")
    return path


DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="Establishment table (CSV, Parquet, Excel); default: the committed synthetic table."),
]
OverridesOpt = Annotated[
    Path | None,
    typer.Option("--overrides", help="Real budget figures replacing imputed ones: a CSV/Excel file keyed by finess "
                 "or finess_ej, with any of operating_budget_eur, it_budget_eur, cyber_spend_eur (French "
                 "number formats accepted); hashed in the manifest."),
]
OutOpt = Annotated[Path, typer.Option("--out", help="Output folder.")]
DaskOpt = Annotated[
    str | None, typer.Option("--dask", help="Address of an existing Dask distributed scheduler (tcp://host:port).")
]
LangOpt = Annotated[
    str, typer.Option("--lang", help="Language of every published word and number: fr (default) or en.")
]
PdfOpt = Annotated[
    bool,
    typer.Option("--pdf", help="Also write report.pdf (A4, page numbers) with the headless Chromium of this machine "
                               "(`chromium` on PATH, or CYBERBUDGET_CHROMIUM)."),
]


@app.command()
@handle_errors
def run(
    scenario: Annotated[
        Path, typer.Argument(help="Scenario YAML file (or the name of a file in scenarios/, e.g. baseline).")
    ],
    data: DataOpt = None,
    out_dir: OutOpt = Path("reports"),
    template: Annotated[str, typer.Option("--template", help="Notebook template name or path.")] = "allocation_report",
    pdf: PdfOpt = False,
    dask: DaskOpt = None,
    lang: LangOpt = "fr",
    overrides: OverridesOpt = None,
) -> None:
    """Run one scenario: allocation.csv, summary.json, report.ipynb/html, allocation.xlsx, manifest.json."""
    from cyberbudget.reports.runner import run as run_report

    if data is not None:  # the language, --out and --pdf are checked by run_report before any work
        _existing_file(data, "establishment table")
    if overrides is not None:
        _existing_file(overrides, "overrides file")
    start = time.perf_counter()
    with err.status(f"running {scenario} …"):
        folder = run_report(scenario, data=data, out=out_dir, template=template, dask=dask, lang=lang,
                            overrides=overrides, pdf=pdf)
    out.print(f"wrote {folder} in {time.perf_counter() - start:.1f} s")
    out.print(f"  report:   {folder / 'report.html'}")
    if pdf:
        out.print(f"  PDF:      {folder / 'report.pdf'}")
    out.print(f"  workbook: {folder / 'allocation.xlsx'}")


@app.command()
@handle_errors
def batch(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")],
    data: DataOpt = None,
    out_dir: OutOpt = Path("reports"),
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Scenarios run in parallel.")] = 1,
    resume: Annotated[bool, typer.Option("--resume", help="Skip scenarios whose manifest matches their inputs.")] = False,
    dask: DaskOpt = None,
    template: Annotated[str, typer.Option("--template", help="Notebook template name or path.")] = "allocation_report",
    lang: LangOpt = "fr",
    overrides: OverridesOpt = None,
    pdf: PdfOpt = False,
) -> None:
    """Run many scenarios; a failing scenario never stops the others (exit 1 if any failed).

    Writes each report, DIR/batch.json, the results store (results.parquet, summary.parquet and their CSV twins)
    and the comparison page DIR/index.html with its downloads comparison.csv and comparison.xlsx.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from cyberbudget.reports import batch as batch_mod

    if data is not None:  # the language, --out and --pdf are checked by run_batch before any work
        _existing_file(data, "establishment table")
    if overrides is not None:
        _existing_file(overrides, "overrides file")
        from cyberbudget.data import registry
        from cyberbudget.data.overrides import apply_overrides

        apply_overrides(registry.load_establishments(data), overrides)  # a bad file exits 2 before any scenario
    counts = {"ok": 0, "failed": 0, "skipped": 0, "interrupted": 0}
    progress = Progress(
        TextColumn("[bold]batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("ok {task.fields[ok]} · failed {task.fields[failed]} · skipped {task.fields[skipped]}"
                   " · remaining {task.fields[remaining]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal and os.environ.get("CI") == "true",
    )

    with progress:
        task = progress.add_task("batch", total=len(scenarios), remaining=len(scenarios), **counts)

        def on_event(kind: str, name: str, info: dict[str, Any] | None = None) -> None:
            if kind in counts:
                counts[kind] += 1
                remaining = len(scenarios) - sum(counts.values())
                progress.update(task, advance=1, remaining=remaining, **counts)
                if kind == "failed":
                    progress.console.print(f"failed: {name}: {_describe_failure((info or {}).get('error'))}",
                                           markup=False)

        result = batch_mod.run_batch(
            scenarios, data=data, out=out_dir, jobs=jobs, resume=resume, dask=dask, template=template,
            on_event=on_event, overrides=overrides, lang=lang, pdf=pdf,
        )
    if result.interrupted:
        print(f"interrupted: {result.n_ok} finished report(s) kept, {result.n_interrupted} scenario(s) not finished; "
              "no partial output was left behind", file=sys.stderr)
        raise typer.Exit(result.exit_code)
    interrupted = f", {result.n_interrupted} interrupted" if result.n_interrupted else ""
    out.print(
        f"batch: {result.n_ok} ok, {result.n_failed} failed, {result.n_skipped} skipped{interrupted} "
        f"in {result.duration_s:.1f} s — {Path(out_dir) / 'batch.json'}, {Path(out_dir) / 'index.html'}, "
        f"{Path(out_dir) / 'results.parquet'}"
    )
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _describe_failure(error: Any) -> str:
    """One line for a failed scenario: the failing cell and its error, or the error message."""
    if not isinstance(error, dict):
        return str(error or "")
    if "cell_index" in error:
        return f"cell {error['cell_index']}: {error.get('ename', '')}: {error.get('evalue', '')}"
    first = str(error.get("message", "")).splitlines()
    return f"{error.get('type', 'error')}: {' '.join(line.strip() for line in first[:3])}"


@app.command()
@handle_errors
def validate(table: Annotated[Path, typer.Argument(help="Establishment table (CSV, Parquet, Excel).")]) -> None:
    """Check an establishment table against the schema; list every problem (exit 2) or print one OK line."""
    from cyberbudget.data import registry

    df = registry.load_establishments(table)
    out.print(f"OK {table}: {registry.summarize_table(df)}")


@app.command()
@handle_errors
def diff(
    a: Annotated[Path, typer.Argument(help="First scenario YAML (or a name in scenarios/).")],
    b: Annotated[Path, typer.Argument(help="Second scenario YAML (or a name in scenarios/).")],
    data: DataOpt = None,
    report_dir: Annotated[
        Path | None,
        typer.Option("--report", help="Also write the scenario_comparison notebook and HTML under this folder."),
    ] = None,
    lang: LangOpt = "fr",
    overrides: OverridesOpt = None,
) -> None:
    """Parameter differences between two scenarios, then the differences in their results (eligibility changes
    split by cause); with --report, the comparison report in --lang."""
    from cyberbudget.data import registry
    from cyberbudget.policy import diff as compare
    from cyberbudget.policy.scenario import load_scenario
    from cyberbudget.reports.i18n import require_lang
    from cyberbudget.reports.inputs import resolve_scenario_path

    require_lang(lang)
    if report_dir is not None:
        check_writable_dir(report_dir)  # before any work
    sa, sb = (load_scenario(resolve_scenario_path(p)) for p in (a, b))
    table = registry.load_establishments(data)
    if overrides is not None:
        from cyberbudget.data.overrides import apply_overrides

        table = apply_overrides(table, _existing_file(overrides, "overrides file"))
    out.print(compare.diff(sa, sb, table).to_text())
    if report_dir is not None:
        from cyberbudget.reports.comparison import compare as compare_report

        with err.status("writing the comparison report …"):
            folder = compare_report([a, b], data=data, out=report_dir, lang=lang, overrides=overrides)
        out.print(f"\nwrote {folder / 'report.html'}")


@app.command()
@handle_errors
def verify(folder: Annotated[Path, typer.Argument(help="A report folder DIR/NAME written by `run`.")]) -> None:
    """Re-run a report from its manifest: exit 0 if allocation.csv and summary.json are identical, 1 if not."""
    from cyberbudget.reports.verification import verify as verify_report

    result = verify_report(folder)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if result.ok:
        out.print(f"identical: {folder}: every file matches its manifest, and allocation.csv and summary.json "
                  "re-run byte for byte")
        return
    print(f"different: {folder}", file=sys.stderr)
    for line in result.differences:
        print(f"  - {line}", file=sys.stderr)
    raise typer.Exit(1)


@app.command()
@handle_errors
def notices(
    folder: Annotated[Path, typer.Argument(help="A report folder DIR/NAME written by `run`.")],
    keys: Annotated[list[str] | None, typer.Argument(help="With --only: the recipient keys to write.",
                                                     show_default=False)] = None,
    unit: Annotated[
        str | None,
        typer.Option("--unit", help="Recipients: establishment | legal_entity | ght (default: the run's unit)."),
    ] = None,
    confidential: Annotated[
        bool, typer.Option("--confidential", help="Write them although the run was under disclosure: aggregate.")
    ] = False,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also print each notice into <key>.pdf (headless Chromium).")]
    = False,
    only: Annotated[bool, typer.Option("--only", help="Only the recipients whose keys follow: --only KEY...")]
    = False,
    lang: Annotated[str, typer.Option("--lang", help="Language of the notices: fr | en.")] = "fr",
) -> None:
    """One letter per recipient of a run's grants: DIR/NAME/notices/<key>.html (.pdf) and notices/index.csv.

    Notices are establishment-level ("Diffusion restreinte"): written only for a run under
    disclosure: establishment, or with --confidential.
    """
    from cyberbudget.reports.notices import write_notices

    if keys and not only:
        raise OptionError(f"unexpected argument {keys[0]!r}: recipient keys follow --only (--only KEY...)")
    if only and not keys:
        raise OptionError("--only: expected at least one recipient key after it, found none")
    start = time.perf_counter()
    with err.status(f"writing notices for {folder} …") as status:

        def progress(step: str, done: int, total: int) -> None:
            if done == total or done % 50 == 0:
                status.update(f"notices: {step} {done:,}/{total:,} …")

        result = write_notices(folder, unit=unit, confidential=confidential, pdf=pdf, only=keys if only else None,
                               lang=lang, on_progress=progress)
    files = "HTML and PDF" if result.pdf else "HTML"
    out.print(f"wrote {len(result.keys):,} notices ({result.unit}, {files}) in {time.perf_counter() - start:.1f} s: "
              f"{result.folder}")
    out.print(f"  index: {result.index_csv} — {result.grant_cents / 100:,.2f} € "
              f"(allocation.csv: {result.allocated_cents / 100:,.2f} €)")


@app.command("app")
@handle_errors
def app_command(
    data: DataOpt = None,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (it must be free).")] = 8866,
) -> None:
    """Serve the what-if app (notebooks/what_if.ipynb, Voilà) on 127.0.0.1; Ctrl-C stops it."""
    from cyberbudget.data import registry
    from cyberbudget.reports.whatif import server

    server.check_port(port)
    if data is not None:
        _existing_file(data, "establishment table")
    table = registry.load_establishments(data)  # a bad table exits 2 here, before the server starts
    out.print(f"table: {data or 'default synthetic table'} — {registry.summarize_table(table)}")
    del table

    def ready(url: str) -> None:
        out.print(f"what-if app: {url}  (Ctrl-C to stop)")

    code = server.serve(data, port, on_ready=ready)
    out.print("stopped")
    if code:
        raise typer.Exit(code)


@data_app.command("import-sae")
@handle_errors
def import_sae(
    sae_dir: Annotated[Path, typer.Argument(help="Folder of the DREES SAE open-data files (Latin-1, ';').")],
    ght_membership: Annotated[
        Path | None, typer.Option("--ght-membership", help="CSV finess → GHT code overriding the inferred membership.")
    ] = None,
    overrides: Annotated[
        Path | None, typer.Option("--overrides", help="CSV of real budget figures: finess + any money column.")
    ] = None,
    out_file: Annotated[Path, typer.Option("--out", help="Output table (CSV or Parquet).")] = Path(
        "data/establishments_sae2023.csv"
    ),
) -> None:
    """Build the real registry from the SAE files; budgets are imputed (flagged in `imputed`)."""
    from cyberbudget.data import registry

    if not sae_dir.is_dir():
        raise OptionError(f"{sae_dir}: SAE folder not found")
    for p, what in ((ght_membership, "GHT membership"), (overrides, "overrides")):
        if p is not None:
            _existing_file(p, what)
    with err.status("importing SAE files …"):
        df = registry.import_sae(sae_dir, ght_membership=ght_membership, overrides=overrides)
    registry.write_table(df, out_file)
    out.print(f"wrote {out_file}: {registry.summarize_table(df)}")


@data_app.command("synthesize")
@handle_errors
def synthesize(
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generator.")] = 20210218,
    medico_social: Annotated[
        bool, typer.Option("--medico-social", help="Add about 35,000 medico-social establishments (ESMS, EHPAD).")
    ] = False,
    out_file: Annotated[Path, typer.Option("--out", help="Output table (CSV or Parquet).")] = Path(
        "data/synthetic/establishments.csv"
    ),
) -> None:
    """Generate a synthetic establishment table with the marginals of the real registry."""
    from cyberbudget.data import registry

    with err.status("generating …"):
        df = registry.synthesize(seed=seed, medico_social=medico_social)
    registry.write_table(df, out_file)
    out.print(f"wrote {out_file}: {registry.summarize_table(df)}")


def main() -> None:
    """Console-script entry point."""
    from cyberbudget.reports.startup import interrupt_on_signals, skip_iri_format_checker

    skip_iri_format_checker()  # this process is ours and only writes reports: nbformat imports a second faster
    interrupt_on_signals()  # SIGTERM / SIGHUP stop a command like Ctrl-C: one line, exit 130, nothing left
    app()


if __name__ == "__main__":
    main()
