"""Checks on the folders the command writes into, made before any work (DESIGN.md, "Command line": bad input
exits 2 before anything runs, and nothing is left half-written).

:func:`check_writable_dir` is called by ``run``, ``batch`` and the other writing commands on their ``--out``
folder before they read any input: a folder that cannot be written (a path that is a file, a name too long for
the file system, a read-only location, a folder without write permission) is refused with an
:class:`~cyberbudget.errors.OptionError` naming the path and the reason, instead of failing after minutes of
work.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from cyberbudget.errors import OptionError

__all__ = ["check_writable_dir"]

#: Fallbacks when the file system does not say (``os.pathconf``): Linux's NAME_MAX and PATH_MAX.
_NAME_MAX = 255
_PATH_MAX = 4096
_PROBE_PREFIX = ".cyberbudget-write-check-"


def _shown(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 200 else text[:120] + "..." + text[-60:]


def _limit(folder: Path, name: str, fallback: int) -> int:
    try:
        value = os.pathconf(folder, name)
    except (OSError, ValueError):
        return fallback
    return value if value and value > 0 else fallback


def _nearest_existing(path: Path) -> Path:
    """The deepest existing ancestor of ``path`` (``path`` itself if it exists)."""
    current = path
    while True:
        try:
            current.lstat()
            return current
        except FileNotFoundError:
            pass
        except OSError as exc:  # e.g. ENOTDIR: an ancestor is a file; ENAMETOOLONG
            raise _refuse(path, exc) from None
        if current.parent == current:
            return current
        current = current.parent


def _refuse(path: Path, exc: OSError, what: str = "output folder") -> OptionError:
    reasons = {
        errno.EROFS: "the location is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted (read-only or immutable location)",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.ENAMETOOLONG: "a name in the path is too long for the file system",
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
        errno.ENOENT: "the location cannot hold new folders",
        errno.ELOOP: "too many levels of symbolic links",
    }
    reason = reasons.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    return OptionError(f"{_shown(path)}: cannot write the {what} there ({reason})", source=str(path))


def check_writable_dir(path: str | os.PathLike[str], what: str = "output folder") -> None:
    """Raise :class:`~cyberbudget.errors.OptionError` unless ``path`` is, or can become, a writable folder.

    Nothing is left behind: when ``path`` exists, a probe folder is created in it and removed; when it does not,
    the probe is made in its deepest existing ancestor (proving that the missing folders can be created) and
    ``path`` itself is not created.

    Parameters
    ----------
    path : str or PathLike
        The folder (e.g. ``--out``).
    what : str
        What the folder is, for the message (default ``"output folder"``).

    Raises
    ------
    OptionError
        ``path`` (or one of its ancestors) is a file; a name in it is longer than the file system allows
        (``NAME_MAX``, or the whole path longer than ``PATH_MAX``); the location is read-only, immutable or not
        writable by this user; or a probe folder cannot be created there for any other reason. The message names
        the path and the reason.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     check_writable_dir(Path(tmp) / "reports" / "2025")
    >>> try:
    ...     check_writable_dir("/dev/null/reports")
    ... except OptionError as exc:
    ...     print(exc)
    /dev/null/reports: cannot write the output folder there (a part of the path is a file, not a folder)
    """
    target = Path(os.path.abspath(os.fspath(path)))
    existing = _nearest_existing(target)
    if not existing.is_dir():
        if existing == target:
            raise OptionError(f"{_shown(target)}: cannot write the {what} there (it is a file, not a folder)",
                              source=str(target))
        raise OptionError(
            f"{_shown(target)}: cannot write the {what} there ({_shown(existing)} is a file, not a folder)",
            source=str(target))
    name_max = _limit(existing, "PC_NAME_MAX", _NAME_MAX)
    path_max = _limit(existing, "PC_PATH_MAX", _PATH_MAX)
    too_long = [part for part in target.relative_to(existing).parts if len(os.fsencode(part)) > name_max]
    if too_long:
        raise OptionError(
            f"{_shown(target)}: cannot write the {what} there (the name {_shown(Path(too_long[0]))} has "
            f"{len(os.fsencode(too_long[0])):,} bytes; the file system allows {name_max:,})", source=str(target))
    if len(os.fsencode(str(target))) >= path_max:
        raise OptionError(
            f"{_shown(target)}: cannot write the {what} there (the path has {len(os.fsencode(str(target))):,} "
            f"bytes; the file system allows {path_max - 1:,})", source=str(target))
    try:
        probe = tempfile.mkdtemp(prefix=_PROBE_PREFIX, dir=existing)
    except OSError as exc:
        raise _refuse(target, exc, what) from None
    try:
        # A report folder holds files: creating one proves more than creating a folder (e.g. a full disk).
        with open(os.path.join(probe, "probe"), "wb") as fh:
            fh.write(b"\n")
    except OSError as exc:
        raise _refuse(target, exc, what) from None
    finally:
        try:
            Path(probe, "probe").unlink(missing_ok=True)
            os.rmdir(probe)
        except OSError:
            pass
