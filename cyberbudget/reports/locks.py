"""One writer at a time per output folder, and a clear word about who holds it.

:func:`output_lock` guards ``DIR/<name>`` (a report folder, a comparison, the notices of a report) or one of a
batch's own files (``DIR/batch.json``) with a lock file beside it, ``DIR/.<name>.lock`` (``filelock``: an OS lock
on the file, released by the system if the process dies). The lock file says who holds it: process id, host,
command line and since when (UTC). A second process that wants the same folder gets a
:class:`FolderBusyError` (exit 2) quoting that, at once — or after waiting up to ``CYBERBUDGET_LOCK_TIMEOUT``
seconds when that variable is set (default 0: no wait).

When the holder is done, successful or not, it deletes the lock file while it still holds the lock (a process
waiting on the deleted file sees it gone and takes a fresh one), so an output folder keeps no lock file. A
process killed outright leaves it behind, with its owner tag: :func:`remove_stale_locks` (called when ``run`` and
``batch`` start) deletes the lock files of dead processes.

A process may take the lock of a folder it already holds (nested calls): it is released when the outermost
holder is done.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cyberbudget.errors import OptionError
from cyberbudget.reports.private import is_alive, owner_tag

__all__ = ["TIMEOUT_ENV", "FolderBusyError", "holder", "lock_path", "output_lock", "remove_stale_locks"]

#: Seconds a command waits for an output folder held by another process before giving up (default 0).
TIMEOUT_ENV: str = "CYBERBUDGET_LOCK_TIMEOUT"
_SUFFIX = ".lock"


class FolderBusyError(OptionError):
    """Another process is writing the same output folder (exit 2, with who and since when)."""


def lock_path(target: str | os.PathLike[str]) -> Path:
    """The lock file of ``target``: ``<parent>/.<name>.lock``.

    Examples
    --------
    >>> lock_path("reports/baseline").as_posix()
    'reports/.baseline.lock'
    """
    target = Path(target)
    return target.parent / f".{target.name}{_SUFFIX}"


def _command() -> str:
    """This process's command line, short (``cyberbudget run ...`` also when started as ``python -m``)."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if Path(sys.argv[0] if sys.argv else "").parent.name == "cyberbudget" and program in ("cli.py", "__main__.py"):
        program = "cyberbudget"
    args = [program, *sys.argv[1:]]
    text = " ".join(args)
    return text if len(text) <= 300 else text[:297] + "..."


def holder(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """What a lock file says about its holder (None when it is missing or says nothing readable)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _describe(info: dict[str, Any] | None) -> str:
    if not info:
        return "another process (it is starting)"
    pid = info.get("pid", "?")
    host = info.get("host")
    where = f" on {host}" if host else ""
    return f"PID {pid}{where} ({info.get('command', '?')}), since {info.get('since', '?')}"


def _timeout(timeout: float | None) -> float:
    if timeout is not None:
        return max(0.0, float(timeout))
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise OptionError(f"{TIMEOUT_ENV}: expected a number of seconds, found {text[:40]!r}") from None
    if not value >= 0:
        raise OptionError(f"{TIMEOUT_ENV}: expected a number of seconds >= 0, found {text[:40]!r}")
    return value


# Locks this process holds: lock path → (lock, depth). Nested holders of the same folder share one lock.
_HELD: dict[str, tuple[Any, int]] = {}
_HELD_GUARD = threading.Lock()


@contextmanager
def output_lock(target: str | os.PathLike[str], *, what: str = "output folder",
                timeout: float | None = None) -> Iterator[Path]:
    """Hold the lock of the output folder (or file) ``target`` for the duration of the block.

    Parameters
    ----------
    target : path
        ``DIR/<name>``; ``DIR`` is created if needed (check it first with
        :func:`cyberbudget.paths.check_writable_dir`).
    what : str
        What ``target`` is, for the message.
    timeout : float, optional
        Seconds to wait for another holder; default ``CYBERBUDGET_LOCK_TIMEOUT`` (0: do not wait).

    Yields
    ------
    Path
        The lock file (deleted when the block ends).

    Raises
    ------
    FolderBusyError
        Another process holds it (past the time-out): the message names ``target`` and the holder.
    """
    from filelock import FileLock, Timeout

    final = Path(target).absolute()
    path = lock_path(final)
    key = str(path)
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is not None:
            _HELD[key] = (held[0], held[1] + 1)
    if held is not None:
        try:
            yield path
        finally:
            with _HELD_GUARD:
                lock, depth = _HELD[key]
                _HELD[key] = (lock, depth - 1)
        return

    wait = _timeout(timeout)
    final.parent.mkdir(parents=True, exist_ok=True)
    info = {"pid": os.getpid(), "host": os.uname().nodename if hasattr(os, "uname") else "",
            "owner": owner_tag(), "command": _command(),
            "since": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
    text = json.dumps(info, ensure_ascii=False) + "\n"

    def write_info(fd: int) -> None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode("utf-8"), 0)

    lock = FileLock(key, thread_local=False, on_acquired=write_info)
    deadline = time.monotonic() + wait
    while True:
        try:
            lock.acquire(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
            break
        except Timeout:
            if time.monotonic() >= deadline:
                raise FolderBusyError(
                    f"{final}: this {what} is being written by {_describe(holder(path))}; wait for it to finish "
                    f"(or set {TIMEOUT_ENV} to wait) or write elsewhere", source=str(final)) from None
    with _HELD_GUARD:
        _HELD[key] = (lock, 1)
    try:
        yield path
    finally:
        with _HELD_GUARD:
            _HELD.pop(key, None)
        with suppress(FileNotFoundError):
            os.unlink(path)  # while held: a waiter on this file sees it deleted and takes a fresh one
        with suppress(FileNotFoundError):
            lock.release()


def remove_stale_locks(out: str | os.PathLike[str]) -> list[Path]:
    """Delete the lock files in ``out`` whose holder process is gone (killed outright); return them.

    A lock file is deleted only if its holder is dead *and* it can be locked now (nobody holds it).
    """
    from filelock import FileLock, Timeout

    removed: list[Path] = []
    try:
        candidates = sorted(p for p in Path(out).iterdir() if p.name.startswith(".") and p.name.endswith(_SUFFIX))
    except OSError:
        return removed
    for path in candidates:
        info = holder(path)
        tag = info.get("owner") if info else None
        if not isinstance(tag, str) or is_alive(tag):
            continue
        lock = FileLock(str(path), thread_local=False)
        try:
            lock.acquire(timeout=0)
        except (Timeout, OSError):
            continue
        try:
            if holder(path) == info:
                with suppress(FileNotFoundError):
                    os.unlink(path)
                removed.append(path)
        finally:
            with suppress(FileNotFoundError):
                lock.release()
    return removed
