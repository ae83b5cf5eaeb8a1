"""Output folders under pressure (issue 14, the output half): unwritable, foreign, killed, concurrent, edited.

- an output folder that cannot be written is refused before any work (exit 2), and nothing is written;
- ``run`` never deletes what it did not write: a ``DIR/<name>`` without our manifest is left alone (exit 2);
- after ``kill -9``, what the run held lives only in this user's private (0700) temporary folder, and the next
  run removes it; nothing is left under ``--out``;
- killing a batch outright leaves no worker or kernel process behind;
- two runs on the same report folder: the second waits or exits 2 naming the first; the result is one complete
  report, never a mix; replacing a folder is atomic even when processes race;
- SIGTERM is Ctrl-C: one line, exit 130, nothing left; no worker or kernel prints a traceback;
- ``verify`` checks every output file: an edited workbook is a difference naming it (exit 1).

The end-to-end cases run the command line in subprocesses with their own private temporary folder
(``CYBERBUDGET_TMPDIR``). A run is caught "mid-way" by a template that sleeps (it runs until stopped), so that no
test depends on timing; every wait is bounded generously.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from conftest import descendants, running

from cyberbudget import config
from cyberbudget.errors import OptionError
from cyberbudget.reports import store
from cyberbudget.reports.folders import atomic_folder

CLI = [sys.executable, "-m", "cyberbudget.cli"]
SCENARIOS = config.SCENARIOS_DIR
#: Bound of every wait for a subprocess to reach a state (a loaded 2-core machine runs a report in 5-20 s).
PATIENCE = float(os.environ.get("CYBERBUDGET_TEST_PATIENCE", "240"))


def lock_path(target: Path) -> Path:
    """Where the lock of an output folder lives (the contract of cyberbudget.reports.locks)."""
    return target.parent / f".{target.name}.lock"


@pytest.fixture
def private(monkeypatch) -> Path:
    """A short private temporary folder for this test's runs (kernel socket paths must stay under 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="cb", dir="/tmp"))
    monkeypatch.setenv("CYBERBUDGET_TMPDIR", str(folder))
    yield folder / f"cyberbudget-{os.getuid()}"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    """A small table (8 establishments per region): fast runs."""
    from cyberbudget.data.registry import synthesize, write_table

    return write_table(synthesize().groupby("region", sort=True).head(8),
                       tmp_path_factory.mktemp("table") / "table.csv")


@pytest.fixture(scope="module")
def sleeper(tmp_path_factory) -> Path:
    """A template that takes the run's results (so the run hands them over) and then sleeps until stopped."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell('scenario_path: str = "baseline"\ndata_path: str = ""\nlang: str = "en"\n'
                                  'expected_allocated_cents: int = -1\nresults_path: str = ""',
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import time\nfor _ in range(6000):\n    time.sleep(0.1)"),
    ]
    path = tmp_path_factory.mktemp("templates") / "sleeper.ipynb"
    nbformat.write(nb, str(path))
    return path


def start(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """The command line in its own process group (as a terminal runs it), output captured."""
    return subprocess.Popen([*CLI, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=config.ROOT, env={**os.environ, "CYBERBUDGET_DEBUG": "", **(env or {})},
                            start_new_session=True)


def cyberbudget(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, cwd=config.ROOT, timeout=900,
                          env={**os.environ, "CYBERBUDGET_DEBUG": "", **(env or {})})


def wait_until(condition: Callable[[], bool], what: str, proc: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the command ended ({proc.returncode}) before {what}: {proc.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) if folder.exists() else []


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def kernels(pid: int) -> int:
    """How many Jupyter kernels run below ``pid``."""
    return sum("ipykernel" in cmdline(p) for p in descendants(pid))


def staging(out: Path) -> int:
    """How many report folders are being written in ``out`` (hidden ``.<name>.tmp-*`` folders)."""
    return sum(1 for p in out.iterdir() if ".tmp-" in p.name and p.is_dir()) if out.is_dir() else 0


def assert_one_line(stderr: str, start_of_line: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("batch ")]
    assert "Traceback" not in stderr and "Exception" not in stderr, stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith(start_of_line), stderr[-3000:]


# ==============================================================================================================
# Unwritable output: exit 2 before any work, nothing written
# ==============================================================================================================


def unwritable_folders(tmp_path: Path) -> list[Path]:
    """Places no one can write (root included): inside a file; an immutable folder where ``chattr`` works."""
    a_file = tmp_path / "file.txt"
    a_file.write_text("x", encoding="utf-8")
    places = [a_file / "reports"]
    immutable = tmp_path / "immutable"
    immutable.mkdir()
    chattr = shutil.which("chattr")
    if chattr and subprocess.run([chattr, "+i", str(immutable)], capture_output=True).returncode == 0:
        places.append(immutable / "reports")
    return places


@pytest.mark.slow  # one interpreter per command
@pytest.mark.parametrize("command", ["run", "batch", "diff --report"])
def test_an_unwritable_output_folder_exits_2_before_any_work_and_writes_nothing(tmp_path, private, command):
    places = unwritable_folders(tmp_path)
    try:
        before = listing(tmp_path)
        for place in places:
            if command == "run":
                args = ["run", SCENARIOS / "baseline.yaml", "--out", place]
            elif command == "batch":
                args = ["batch", SCENARIOS / "baseline.yaml", SCENARIOS / "capped.yaml", "--out", place]
            else:
                args = ["diff", SCENARIOS / "baseline.yaml", SCENARIOS / "capped.yaml", "--report", place]
            proc = cyberbudget(*args)
            assert proc.returncode == 2, proc.stderr
            assert_one_line(proc.stderr, "error: ")
            assert str(place) in proc.stderr and "cannot write the output folder there" in proc.stderr
            assert "Parameters" not in proc.stdout  # diff refused before comparing anything
            assert listing(tmp_path) == before and listing(private) == []
    finally:
        subprocess.run(["chattr", "-i", str(tmp_path / "immutable")], capture_output=True)


# ==============================================================================================================
# A folder that is not ours is left alone
# ==============================================================================================================


@pytest.mark.slow
@pytest.mark.parametrize("which", ["report", "failed"])
def test_run_leaves_a_folder_it_did_not_write_alone_and_exits_2(tmp_path, private, table, which):
    out = tmp_path / "out"
    foreign = out / ("baseline" if which == "report" else "baseline.failed")
    foreign.mkdir(parents=True)
    (foreign / "thesis.docx").write_bytes(b"years of work")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    proc = cyberbudget("run", SCENARIOS / "baseline.yaml", "--data", table, "--out", out)
    assert proc.returncode == 2, proc.stderr
    assert_one_line(proc.stderr, "error: ")
    assert str(foreign.name) in proc.stderr and "did not write" in proc.stderr and "left as it is" in proc.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # untouched, nothing added
    assert listing(out) == [foreign.name, f"{foreign.name}/thesis.docx"]


def test_a_report_folder_of_ours_is_recognised_by_its_manifest(tmp_path):
    from cyberbudget.reports.runner import check_report_target

    ours = tmp_path / "baseline"
    ours.mkdir()
    (ours / "manifest.json").write_text(json.dumps(
        {"name": "baseline", "inputs": [], "outputs": {}, "packages": {}, "template": "t"}), encoding="utf-8")
    check_report_target(tmp_path, "baseline")  # ours: may be replaced
    (tmp_path / "other").symlink_to(ours)
    with pytest.raises(OptionError, match="found a link"):
        check_report_target(tmp_path, "other")
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(OptionError, match="found a file"):
        check_report_target(tmp_path, "file")


# ==============================================================================================================
# Killed outright: nothing lingers where others may read it; the next run cleans up
# ==============================================================================================================


@pytest.mark.slow
def test_after_kill_9_the_run_s_data_is_private_and_the_next_run_removes_it(tmp_path, private, table, sleeper):
    out = tmp_path / "out"
    proc = start("run", SCENARIOS / "baseline.yaml", "--data", table, "--out", out, "--template", sleeper)
    try:
        wait_until(lambda: kernels(proc.pid) >= 1 and staging(out) == 1, "the notebook to run", proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # what the killed run held: in this user's private folder (0700), the results file included
    assert private.is_dir(), "nothing of the run in its private folder"
    assert stat.S_IMODE(private.stat().st_mode) == 0o700 and private.stat().st_uid == os.getuid()
    left = [p for p in private.iterdir() if str(proc.pid) in p.name]
    assert any(p.name.startswith("r-") and (p / "results.pickle").is_file() for p in left)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in left)
    # under --out: only its hidden, private (0700) folder being written and its lock, no report
    hidden = [p for p in out.iterdir()]
    assert all(p.name.startswith(".baseline.") for p in hidden) and not (out / "baseline").exists()
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in hidden if p.is_dir())

    done = cyberbudget("run", SCENARIOS / "baseline.yaml", "--data", table, "--out", out)
    assert done.returncode == 0, done.stderr
    assert listing(private) == []  # the dead run's private folders are gone (and the new run's own)
    assert [p.name for p in out.iterdir()] == ["baseline"]  # nothing else under --out


@pytest.mark.slow
def test_killing_a_batch_outright_leaves_no_worker_or_kernel_behind(tmp_path, private, table, sleeper):
    scenarios = [SCENARIOS / f"{n}.yaml" for n in ("baseline", "capped", "matching", "gap_to_target", "ose_first")]
    proc = start("batch", *scenarios, "--data", table, "--out", tmp_path / "out", "--jobs", "2",
                 "--template", sleeper)
    try:
        wait_until(lambda: kernels(proc.pid) >= 2 and staging(tmp_path / "out") >= 2, "two notebooks to run", proc)
        family = descendants(proc.pid)
        assert len(family) >= 4  # two workers, their two kernels (and multiprocessing's resource tracker)
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # the parent only, as `kill -9 PID` does
        proc.wait()
    deadline = time.monotonic() + 30  # kernels notice within a second or two; workers die at once
    while any(running(p) for p in family) and time.monotonic() < deadline:
        time.sleep(0.2)
    survivors = {p: cmdline(p)[:120] for p in family if running(p)}
    for p in survivors:  # do not leave them to the next test
        os.kill(p, signal.SIGKILL)
    assert survivors == {}


# ==============================================================================================================
# Concurrent runs: one at a time per folder, never a mix
# ==============================================================================================================


def _hold(target: str, ready: str, release: str) -> None:
    from cyberbudget.reports.locks import output_lock

    with output_lock(target):
        Path(ready).touch()
        while not Path(release).exists():
            time.sleep(0.05)


def test_a_held_folder_is_refused_naming_its_holder_and_no_lock_file_remains(tmp_path):
    from cyberbudget.reports.locks import FolderBusyError, output_lock

    target = tmp_path / "out" / "baseline"
    ctx = multiprocessing.get_context("spawn")
    holder = ctx.Process(target=_hold, args=(str(target), str(tmp_path / "ready"), str(tmp_path / "release")))
    holder.start()
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "ready").exists():
            assert time.monotonic() < deadline and holder.is_alive()
            time.sleep(0.05)
        with pytest.raises(FolderBusyError) as info, output_lock(target):
            pass
        message = str(info.value)
        assert str(target) in message and f"PID {holder.pid}" in message and "since " in message
        assert "UTC" in message and "CYBERBUDGET_LOCK_TIMEOUT" in message
    finally:
        (tmp_path / "release").touch()
        holder.join(60)
    with output_lock(target, timeout=0) as lock:  # free again
        assert lock == lock_path(target) and lock.exists()
        with output_lock(target):  # the same process may nest
            pass
        assert lock.exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []  # the lock file went with the lock


@pytest.mark.slow
def test_a_second_run_on_the_same_folder_exits_2_naming_the_first(tmp_path, private, table, sleeper):
    out = tmp_path / "out"
    first = start("run", SCENARIOS / "baseline.yaml", "--data", table, "--out", out, "--template", sleeper)
    try:
        wait_until(lambda: kernels(first.pid) >= 1 and staging(out) == 1, "the first run's notebook", first)
        second = cyberbudget("run", SCENARIOS / "baseline.yaml", "--data", table, "--out", out)
        assert second.returncode == 2, second.stderr
        assert_one_line(second.stderr, "error: ")
        assert f"PID {first.pid}" in second.stderr and "cyberbudget" in second.stderr and "since" in second.stderr
        assert first.poll() is None  # the first run goes on, undisturbed
    finally:
        os.killpg(first.pid, signal.SIGTERM)
        first.communicate(timeout=PATIENCE)
    assert first.returncode == 130
    assert not out.exists() or listing(out) == []


@pytest.mark.slow
def test_two_runs_that_wait_for_each_other_leave_one_complete_report(tmp_path, private, table):
    out = tmp_path / "out"
    env = {"CYBERBUDGET_LOCK_TIMEOUT": str(int(PATIENCE))}
    first = start("run", SCENARIOS / "baseline.yaml", "--data", table, "--out", out, env=env)
    wait_until(lambda: staging(out) == 1, "the first run to write", first)
    waiting = start("run", SCENARIOS / "baseline.yaml", "--data", table, "--out", out, env=env)  # same folder
    beside = start("run", SCENARIOS / "capped.yaml", "--data", table, "--out", out, env=env)  # another one
    for proc in (first, waiting, beside):
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["baseline", "capped"]
    for name in ("baseline", "capped"):
        check = cyberbudget("verify", out / name)
        assert check.returncode == 0, check.stderr  # every file matches its manifest: complete, not a mix


def _replace_many(target: str, writer: str, rounds: int) -> None:
    for i in range(rounds):
        with atomic_folder(target) as tmp:
            for part in ("a", "b", "c"):
                (tmp / part).write_text(f"{writer}-{i}", encoding="utf-8")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="atomic exchange of folders is Linux's")
def test_folders_replaced_by_racing_processes_are_always_whole(tmp_path):
    target = tmp_path / "report"
    _replace_many(str(target), "init", 1)
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_replace_many, args=(str(target), name, 40)) for name in ("x", "y")]
    for w in writers:
        w.start()
    snapshots = 0
    try:
        while any(w.is_alive() for w in writers):
            folder = os.open(target, os.O_RDONLY | os.O_DIRECTORY)  # never missing: no FileNotFoundError
            try:
                contents = set()
                for part in ("a", "b", "c"):  # the files of this one folder, wherever it has been moved
                    fd = os.open(part, os.O_RDONLY, dir_fd=folder)
                    with os.fdopen(fd, encoding="utf-8") as fh:
                        contents.add(fh.read())
            except FileNotFoundError:  # the folder was replaced and is being deleted: not a snapshot
                continue
            finally:
                os.close(folder)
            assert len(contents) == 1, contents  # one writer's complete folder, never a mix
            snapshots += 1
    finally:
        for w in writers:
            w.join(120)
    assert [w.exitcode for w in writers] == [0, 0]  # neither writer failed on the other's folder
    final = {(target / part).read_text(encoding="utf-8") for part in ("a", "b", "c")}
    assert len(final) == 1 and final <= {"x-39", "y-39"} and snapshots > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no temporary folder left


# ==============================================================================================================
# SIGTERM = Ctrl-C: one line, exit 130, nothing left
# ==============================================================================================================


@pytest.mark.slow
def test_sigterm_stops_a_run_like_ctrl_c(tmp_path, private, table, sleeper):
    out = tmp_path / "out"
    proc = start("run", SCENARIOS / "baseline.yaml", "--data", table, "--out", out, "--template", sleeper)
    wait_until(lambda: kernels(proc.pid) >= 1 and staging(out) == 1, "the notebook to run", proc)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=PATIENCE)
    assert proc.returncode == 130
    assert_one_line(err, "interrupted: ")
    assert listing(out) == [] and listing(private) == []


@pytest.mark.slow
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_a_batch_stops_on_ctrl_c_or_sigterm_with_one_line_and_no_worker_traceback(tmp_path, private, table,
                                                                                  sleeper, how):
    out = tmp_path / "out"
    scenarios = [SCENARIOS / f"{n}.yaml" for n in ("baseline", "capped", "matching")]
    proc = start("batch", *scenarios, "--data", table, "--out", out, "--jobs", "2", "--template", sleeper)
    wait_until(lambda: kernels(proc.pid) >= 2 and staging(out) >= 2, "two notebooks to run", proc)
    family = descendants(proc.pid)
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole foreground group
    else:
        os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=PATIENCE)
    assert proc.returncode == 130
    assert_one_line(err, "interrupted: ")
    # the batch's own files only (the store of no finished report is empty, but written): no lock, no staging
    assert sorted(p.name for p in out.iterdir()) == sorted(["batch.json", "index.html", store.RESULTS_NAME,
                                                            store.SUMMARY_NAME, store.RESULTS_CSV, store.SUMMARY_CSV])
    record = json.loads((out / "batch.json").read_text(encoding="utf-8"))
    assert {s["status"] for s in record["scenarios"]} == {"interrupted"}
    assert listing(private) == []
    deadline = time.monotonic() + 30
    while any(running(p) for p in family) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [p for p in family if running(p)] == []


# ==============================================================================================================
# verify checks every output file
# ==============================================================================================================


@pytest.fixture(scope="module")
def report(tmp_path_factory, table) -> Path:
    from cyberbudget import reports

    return reports.run(SCENARIOS / "baseline.yaml", data=table, out=tmp_path_factory.mktemp("verify") / "out")


def test_the_manifest_hashes_every_output_file(report):
    from cyberbudget.reports.manifest import sha256_file

    man = json.loads((report / "manifest.json").read_text(encoding="utf-8"))
    files = sorted(p.name for p in report.iterdir() if p.name != "manifest.json")
    assert sorted(man["outputs"]) == files == ["allocation.csv", "allocation.xlsx", "report.html", "report.ipynb",
                                               "summary.json"]
    assert all(man["outputs"][f] == sha256_file(report / f) for f in files)


@pytest.mark.slow
@pytest.mark.parametrize("edited", ["allocation.xlsx", "report.html"])
def test_verify_names_an_edited_output_file_and_exits_1(tmp_path, report, edited):
    copy = tmp_path / "baseline"
    shutil.copytree(report, copy)
    if edited.endswith(".xlsx"):
        import openpyxl

        wb = openpyxl.load_workbook(copy / edited)
        wb["summary"]["B3"] = 1.0  # the envelope, "corrected" by hand
        wb.save(copy / edited)
    else:
        path = copy / edited
        path.write_text(path.read_text(encoding="utf-8").replace("</body>", "<p>edited</p></body>"),
                        encoding="utf-8")
    proc = cyberbudget("verify", copy)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"{edited}: edited since the run" in proc.stderr
    assert "allocation.csv" not in proc.stderr  # the deterministic files still re-run identical
    assert cyberbudget("verify", report).returncode == 0
