"""Start-up of the processes that only write reports: the command line and the batch's worker processes.

Nothing here runs on import; a process of ours calls :func:`skip_iri_format_checker` first thing, the command
line :func:`interrupt_on_signals` (SIGTERM stops it like Ctrl-C), a batch worker :func:`die_with_parent` (no
worker outlives a killed command). Kept apart (standard library only) so that calling them costs nothing before
the heavy imports they are meant to precede.
"""

from __future__ import annotations

import sys

__all__ = ["die_with_parent", "interrupt_on_signals", "skip_iri_format_checker"]


def skip_iri_format_checker() -> None:
    """Make importing nbformat about a second faster, in a process that only writes reports.

    jsonschema's *optional* ``iri`` format checker imports ``rfc3987_syntax``, which compiles a grammar when
    imported. nbformat validates notebooks without format checking, so a process of ours that only runs
    reports can go without that checker: call this before jsonschema is first imported. Not for a library
    user's process, whose own jsonschema validations may want it.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]


# --------------------------------------------------------------------------------------------------------------
# Interruptions and the death of a parent (issue 14): SIGTERM is Ctrl-C, children never outlive their parent
# --------------------------------------------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1
_SIGNALS_SEEN = {"count": 0}


def _interrupt_once(signum: int, frame: object) -> None:
    """First SIGINT / SIGTERM / SIGHUP: ``KeyboardInterrupt``; later ones are ignored while it cleans up."""
    _SIGNALS_SEEN["count"] += 1
    if _SIGNALS_SEEN["count"] == 1:
        raise KeyboardInterrupt


def interrupt_on_signals() -> None:
    """Make SIGTERM and SIGHUP behave like Ctrl-C (SIGINT) in this process, once.

    The first of these signals raises ``KeyboardInterrupt`` in the main thread — the command then stops the way
    it stops on Ctrl-C: one line, exit 130, no partial output — and any later one is ignored, so that a second
    Ctrl-C cannot cut the clean-up short. Call it in the main thread of a command-line process of ours.
    """
    import signal

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            signal.signal(sig, _interrupt_once)


def die_with_parent(parent_pid: int | None = None) -> bool:
    """Have the kernel kill this process (SIGKILL) the moment its parent dies (Linux ``PR_SET_PDEATHSIG``).

    For our own child processes (batch workers), called first thing in the child. When ``parent_pid`` is given
    and the parent is already gone, the process exits at once.

    Returns
    -------
    bool
        False where the system offers no such thing (not Linux): the child then relies on noticing it is
        orphaned.
    """
    import ctypes
    import os
    import signal

    if not sys.platform.startswith("linux"):
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (AttributeError, OSError):
        return False
    if prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        return False
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)  # the parent died before we asked
    return True
