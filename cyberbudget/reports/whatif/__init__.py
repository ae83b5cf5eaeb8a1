"""The what-if app (issue 13): change the rules, see the allocation move — ``cyberbudget app``.

Public API:

- :class:`WhatIf` — state → scenario → :func:`~cyberbudget.policy.allocation.allocate` → aggregated, suppressed
  figure data; :meth:`WhatIf.update` is the one path every control change takes; :meth:`WhatIf.save` writes
  the settings as a scenario file;
- :func:`build_app` — the ipywidgets page bound to a :class:`WhatIf` (``notebooks/what_if.ipynb``);
- :func:`voila_command`, :func:`serve` — how ``cyberbudget app`` serves the notebook with Voilà;
- :data:`CONTROLS`, :func:`control_choices`, :func:`unit_choices`, :func:`list_references`, :data:`DATA_ENV`.

The widgets module imports ipywidgets lazily, so the logic runs (tests, benchmark) without a front end.
"""

from __future__ import annotations

from typing import Any

from cyberbudget.reports.whatif.model import (
    CONTROLS,
    DATA_ENV,
    KeyFigure,
    Outcome,
    Update,
    WhatIf,
    control_choices,
    list_references,
    unit_choices,
)
from cyberbudget.reports.whatif.server import serve, voila_command

__all__ = [
    "CONTROLS", "DATA_ENV", "KeyFigure", "Outcome", "Update", "WhatIf", "build_app", "control_choices",
    "list_references", "serve", "unit_choices", "voila_command",
]


def build_app(app: WhatIf, **kwargs: Any) -> Any:
    """The ipywidgets page of ``app`` (see :func:`cyberbudget.reports.whatif.widgets.build`)."""
    from cyberbudget.reports.whatif.widgets import build

    return build(app, **kwargs)
