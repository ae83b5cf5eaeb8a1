"""Output folders that appear whole or not at all.

Every command that writes a folder (``run``, ``batch``, ``diff --report``, and later notices and PDF) builds it
with :func:`atomic_folder`: the files are written into a hidden temporary folder beside the target
(``DIR/.<name>.tmp-XXXXXXXX``, same file system), which is renamed to ``DIR/<name>`` only once everything is
written. An existing ``DIR/<name>`` is replaced with two renames (the old folder is moved aside to
``DIR/.<name>.old-XXXXXXXX``, then deleted), so at every instant ``DIR/<name>`` is either the complete old folder
or the complete new one. On any exception — including ``KeyboardInterrupt`` — the temporary folder is removed and
``DIR/<name>`` is left as it was.

A process killed outright (``SIGKILL``, power loss) cannot clean up: its hidden folders are recognised by
:func:`is_partial` and removed by :func:`remove_partial_folders` (``batch`` does so for its scenarios).

Examples
--------
>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_folder(out / "baseline") as tmp:
...     _ = (tmp / "summary.json").write_text("{}")
>>> sorted(p.name for p in out.iterdir()), (out / "baseline" / "summary.json").read_text()
(['baseline'], '{}')
>>> import shutil; shutil.rmtree(out)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "PARTIAL_TAGS", "atomic_folder", "is_partial", "remove_partial_folders", "write_bytes_atomic", "write_text_atomic",
]

#: Markers in the names of the hidden folders :func:`atomic_folder` creates (``.tmp-``: being written;
#: ``.old-``: the replaced folder, being deleted).
PARTIAL_TAGS: tuple[str, ...] = (".tmp-", ".old-")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _usual_permissions(folder: Path) -> None:
    """``mkdtemp`` creates a private (0700) folder; give the folder and its content the umask's permissions."""
    mask = _umask()
    folder.chmod(0o777 & ~mask)
    for root, dirs, files in os.walk(folder):
        for d in dirs:
            Path(root, d).chmod(0o777 & ~mask)
        for f in files:
            Path(root, f).chmod(0o666 & ~mask)


def _replace(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst``; an existing ``dst`` is moved aside first and deleted after."""
    old = None
    if dst.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old-", dir=dst.parent))
        os.replace(dst, old / dst.name)
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_folder(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Build the folder ``target`` out of sight and put it in place in one rename.

    Parameters
    ----------
    target : path
        The folder to create or replace; its parent is created if needed.

    Yields
    ------
    Path
        An empty temporary folder beside ``target`` (``.<name>.tmp-XXXXXXXX``): write everything there.

    Notes
    -----
    When the ``with`` block ends normally, the temporary folder gets the usual permissions (umask) and is
    renamed to ``target``, replacing an existing ``target`` (see the module docstring). When it raises, the
    temporary folder is removed, ``target`` is untouched and the exception propagates.
    """
    final = Path(target).absolute()  # papermill may change the working directory while a notebook runs
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
        _usual_permissions(tmp)
        _replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write one file whole or not at all: UTF-8, LF, into ``.<name>.tmp-XXXXXXXX`` beside it, then renamed.

    For the files a batch writes next to its report folders (``batch.json``, ``index.html``).
    """
    final = Path(path).absolute()
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.tmp-", dir=final.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return final


def write_bytes_atomic(path: str | os.PathLike[str], content: bytes) -> Path:
    """Write one binary file whole or not at all: into ``.<name>.tmp-XXXXXXXX`` beside it, then renamed.

    For the batch's results store (``results.parquet``, ``summary.parquet`` and their CSV twins) and the
    comparison files beside ``index.html``.
    """
    final = Path(path).absolute()
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.tmp-", dir=final.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return final


def is_partial(path: str | os.PathLike[str], names: Iterable[str] | None = None) -> bool:
    """Whether ``path`` is a hidden folder left by an interrupted :func:`atomic_folder` (of one of ``names``).

    Examples
    --------
    >>> is_partial("reports/.baseline.tmp-1a2b3c4d"), is_partial("reports/baseline")
    (True, False)
    >>> is_partial("reports/.baseline.failed.tmp-1a2b3c4d", names=["capped"])
    False
    """
    name = Path(path).name
    if not name.startswith(".") or not any(tag in name for tag in PARTIAL_TAGS):
        return False
    if names is None:
        return True
    return name[1:].split(".", 1)[0] in set(names)


def remove_partial_folders(out: str | os.PathLike[str], names: Iterable[str] | None = None) -> list[Path]:
    """Remove the partial folders (:func:`is_partial`) directly under ``out``; return what was removed."""
    wanted = None if names is None else set(names)
    removed = []
    for child in sorted(Path(out).iterdir()):
        if child.is_dir() and is_partial(child, wanted):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed
