"""Where a run keeps what nobody else may read: a private per-user folder, and what a killed run left there.

While it works, a run holds establishment-level data outside its report folder — the results it hands to the
notebook (:mod:`cyberbudget.reports.handover`), and the kernels' sockets. They live in a private folder:

- :func:`private_root`: ``$TMPDIR/cyberbudget-<uid>/`` (``CYBERBUDGET_TMPDIR`` replaces ``$TMPDIR``), created
  with mode 0700, refused if it is a link or another user's;
- :func:`private_dir` / :func:`make_private_dir`: one folder per use in it (mode 0700), named
  ``<kind>-<owner>-XXXXXXXX`` where ``<owner>`` identifies the process that made it (:func:`owner_tag`);
- :func:`remove_stale`: what a process killed outright (``kill -9``, power loss) left there — folders whose
  owner process is gone — is removed by the next ``run``, ``batch``, ``verify`` or ``diff --report``.

The hidden folders a run builds its report in, beside the report in ``--out``
(:func:`cyberbudget.reports.folders.atomic_folder`), carry the same owner tag, so the next run removes those of
dead processes and never those of a run still going.

An owner tag is ``<host>.<pid>.<start>``: an 8-hex-digit hash of the host name (a folder shared between machines
never takes another machine's live process for a dead one), the process id and the process's start time (a
recycled process id is not taken for the old process).

Examples
--------
>>> tag = owner_tag()
>>> is_alive(tag), is_alive(tag.rsplit(".", 1)[0] + ".1")
(True, False)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from cyberbudget.errors import ReportError

__all__ = [
    "TMPDIR_ENV", "is_alive", "make_private_dir", "owner_tag", "owner_of", "private_dir", "private_root",
    "remove_stale",
]

#: Environment variable naming the folder that holds the private root instead of the system temp folder.
TMPDIR_ENV: str = "CYBERBUDGET_TMPDIR"


@lru_cache(maxsize=1)
def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot, Linux), ``"0"`` where unknown, None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return None
    except OSError:  # no /proc (not Linux): the process id alone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "0"
    fields = text[text.rfind(")") + 2:].split()
    if not fields or fields[0] in ("Z", "X"):  # a zombie has finished: nothing of it runs any more
        return None
    return fields[19] if len(fields) > 19 else "0"


def owner_tag(pid: int | None = None) -> str:
    """``<host>.<pid>.<start>`` of this process (or of ``pid``, a live process of this host)."""
    pid = os.getpid() if pid is None else pid
    return f"{_host()}.{pid}.{_start_time(pid) or '0'}"


def is_alive(tag: str) -> bool:
    """Whether the process an owner tag names still runs (a tag of another host, or unreadable: assumed alive)."""
    parts = tag.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return True
    host, pid, start = parts[0], int(parts[1]), parts[2]
    if host != _host():
        return True
    now = _start_time(pid)
    return now is not None and (start == "0" or now == "0" or now == start)


def owner_of(name: str) -> str | None:
    """The owner tag inside a file name made by this module or by ``atomic_folder`` (None if there is none).

    Examples
    --------
    >>> owner_of("results-0a1b2c3d.4242.9876-x1y2z3w4"), owner_of(".baseline.tmp-0a1b2c3d.4242.9876-q1w2e3r4")
    ('0a1b2c3d.4242.9876', '0a1b2c3d.4242.9876')
    >>> owner_of(".baseline.tmp-1a2b3c4d") is None
    True
    """
    for piece in name.split("-"):
        parts = piece.split(".")
        if len(parts) == 3 and len(parts[0]) == 8 and parts[1].isdigit() and parts[2].isdigit():
            try:
                int(parts[0], 16)
            except ValueError:
                continue
            return piece
    return None


def private_root() -> Path:
    """This user's private folder for temporary files: ``<temp>/cyberbudget-<uid>``, mode 0700.

    Raises
    ------
    ReportError
        The path exists and is not a folder owned by this user (a link, a file, another user's folder): using it
        could hand data to someone else.
    """
    base = Path(os.environ.get(TMPDIR_ENV) or tempfile.gettempdir())
    uid = os.getuid() if hasattr(os, "getuid") else 0
    root = base / f"cyberbudget-{uid}"
    try:
        root.mkdir(mode=0o700, parents=False)
    except FileExistsError:
        pass
    except FileNotFoundError:
        base.mkdir(parents=True, exist_ok=True)
        root.mkdir(mode=0o700, exist_ok=True)
    st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != uid):
        raise ReportError(f"{root}: expected a private folder of this user for temporary files, found "
                          f"{'a link or a file' if not stat.S_ISDIR(st.st_mode) else f'a folder of uid {st.st_uid}'}"
                          f"; remove it or set {TMPDIR_ENV} to another folder")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(root, 0o700)
    return root


def make_private_dir(kind: str) -> Path:
    """A new private folder (mode 0700) ``<root>/<kind>-<owner>-XXXXXXXX``; the caller removes it.

    Keep ``kind`` short: kernels put their socket files in such folders, and a socket path has at most 107 bytes.
    """
    return Path(tempfile.mkdtemp(prefix=f"{kind}-{owner_tag()}-", dir=private_root()))


@contextmanager
def private_dir(kind: str) -> Iterator[Path]:
    """A private folder (:func:`make_private_dir`) for the duration of the block, removed at its end."""
    path = make_private_dir(kind)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def remove_stale(root: Path | None = None) -> list[Path]:
    """Remove what dead processes left in the private root (or ``root``); return what was removed.

    Only entries whose name carries an owner tag (:func:`owner_of`) of a process of this host that is gone are
    removed; everything else — a live run's folders, anything not made here — stays.
    """
    folder = private_root() if root is None else Path(root)
    removed: list[Path] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        tag = owner_of(entry.name)
        if tag is None or is_alive(tag):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
