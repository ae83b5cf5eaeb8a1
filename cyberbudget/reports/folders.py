"""Output folders that appear whole or not at all, even when processes race or are killed.

Every command that writes a folder (``run``, ``batch``, ``diff --report``, and later notices and PDF) builds it
with :func:`atomic_folder`: the files are written into a hidden temporary folder beside the target
(``DIR/.<name>.tmp-<owner>-XXXXXXXX``, mode 0700, same file system), which is put in place as ``DIR/<name>`` only
once everything is written. An existing ``DIR/<name>`` is *exchanged* with the new folder in one atomic step
(Linux ``renameat2(RENAME_EXCHANGE)``) and then deleted, so at every instant ``DIR/<name>`` is either the complete
old folder or the complete new one — also when two processes put the same folder in place at once: each
exchange is atomic, the last one wins, and no reader ever sees a mix or a missing folder. (Where the exchange is
not available the old folder is moved aside first, leaving a moment without ``DIR/<name>``.) On any exception —
including ``KeyboardInterrupt`` — the temporary folder is removed and ``DIR/<name>`` is left as it was.

A process killed outright (``SIGKILL``, power loss) cannot clean up: its hidden folders carry its owner tag
(:func:`cyberbudget.reports.private.owner_tag`), are recognised by :func:`is_partial` and removed by
:func:`remove_partial_folders` once their owner is gone (``run`` and ``batch`` do so when they start), never
while it still runs.

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

import ctypes
import errno
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cyberbudget.errors import OptionError
from cyberbudget.reports.private import is_alive, owner_of, owner_tag

__all__ = [
    "PARTIAL_TAGS", "atomic_folder", "check_replaceable", "created_folder", "is_partial", "remove_partial_folders",
    "write_bytes_atomic", "write_text_atomic",
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


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically (Linux ``renameat2``); False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _replace(src: Path, dst: Path) -> None:
    """Put ``src`` in place as ``dst``: a rename, or an atomic exchange with an existing ``dst`` (then deleted)."""
    for _ in range(100):  # a new rival folder can only appear a few times in a row: bounded, never a spin
        if not os.path.lexists(dst):
            try:
                os.rename(src, dst)
                return
            except OSError as exc:  # a rival put a folder there meanwhile: exchange with it
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                continue
        if _exchange(src, dst):
            _remove(src)  # the previous folder, now at the temporary name
            return
        old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old-{owner_tag()}-", dir=dst.parent))
        try:
            os.replace(dst, old / dst.name)
        except FileNotFoundError:  # a rival moved it first
            shutil.rmtree(old, ignore_errors=True)
            continue
        try:
            os.replace(src, dst)
        finally:
            shutil.rmtree(old, ignore_errors=True)
        return
    raise OSError(errno.EBUSY, "other processes keep replacing the folder", str(dst))


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
        An empty private (0700) temporary folder beside ``target`` (``.<name>.tmp-<owner>-XXXXXXXX``): write
        everything there.

    Notes
    -----
    When the ``with`` block ends normally, the temporary folder gets the usual permissions (umask) and is put in
    place as ``target``, replacing an existing ``target`` atomically (see the module docstring). When it raises,
    the temporary folder is removed, ``target`` is untouched and the exception propagates. Whether ``target``
    may be replaced at all (is it ours?) is the caller's decision, made before any work.
    """
    final = Path(target).absolute()  # papermill may change the working directory while a notebook runs
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-{owner_tag()}-", dir=final.parent))
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
    return write_bytes_atomic(path, text.encode("utf-8"))  # written as given: no newline translation


def write_bytes_atomic(path: str | os.PathLike[str], content: bytes) -> Path:
    """Write one binary file whole or not at all: into ``.<name>.tmp-XXXXXXXX`` beside it, then renamed.

    For the batch's results store (``results.parquet``, ``summary.parquet`` and their CSV twins) and the
    comparison files beside ``index.html``.
    """
    final = Path(path).absolute()
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.tmp-{owner_tag()}-", dir=final.parent)
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
    """Whether ``path`` is a hidden folder or file left by :func:`atomic_folder` / :func:`write_text_atomic`
    (of one of ``names``).

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
    """Remove the partial folders and files (:func:`is_partial`) directly under ``out``; return what was removed.

    One carrying an owner tag is removed only when its owner process is gone (whatever its name): a run still
    writing keeps its temporary folder. One without a tag (written by an older version) is removed when it
    belongs to ``names`` (all when ``names`` is None).
    """
    wanted = None if names is None else set(names)
    removed = []
    try:
        children = sorted(Path(out).iterdir())
    except OSError:
        return removed
    for child in children:
        if not is_partial(child):
            continue
        tag = owner_of(child.name)
        if tag is not None:
            if is_alive(tag):
                continue
        elif wanted is not None and not is_partial(child, wanted):
            continue
        _remove(child)
        removed.append(child)
    return removed


def check_replaceable(target: str | os.PathLike[str], ours: Callable[[Path], bool], what: str) -> None:
    """Refuse (exit 2) to replace ``target`` unless it is absent or ``ours(target)`` says we wrote it.

    A command replaces only what it wrote: a folder of the same name that is not one of ours (no manifest of
    ours, files we never write, a link) is left as it is.

    Raises
    ------
    OptionError
        ``target`` exists and is not ours; the message names it and what was expected.
    """
    path = Path(target)
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir() or not ours(path):
        kind = "a link" if path.is_symlink() else "a file" if not path.is_dir() else "a folder"
        raise OptionError(f"{path}: expected {what} or nothing, found {kind} that cyberbudget did not write; it is "
                          "left as it is (move it away or write elsewhere with --out)", source=str(path))


@contextmanager
def created_folder(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """``folder`` for the duration of the block; if it did not exist before and is empty after, it is removed.

    So a command that fails or is interrupted leaves no empty ``--out`` folder behind it.
    """
    path = Path(folder).absolute()
    existed = os.path.lexists(path)
    try:
        yield path
    finally:
        if not existed:
            try:
                path.rmdir()  # only when empty
            except OSError:
                pass
