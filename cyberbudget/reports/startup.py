"""Start-up of the processes that only write reports: the command line and the batch's worker processes.

Nothing here runs on import; a process of ours calls :func:`skip_iri_format_checker` first thing. Kept apart
(standard library only) so that calling it costs nothing before the heavy imports it is meant to speed up.
"""

from __future__ import annotations

import sys

__all__ = ["skip_iri_format_checker"]


def skip_iri_format_checker() -> None:
    """Make importing nbformat about a second faster, in a process that only writes reports.

    jsonschema's *optional* ``iri`` format checker imports ``rfc3987_syntax``, which compiles a grammar when
    imported. nbformat validates notebooks without format checking, so a process of ours that only runs
    reports can go without that checker: call this before jsonschema is first imported. Not for a library
    user's process, whose own jsonschema validations may want it.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]
