"""Errors raised by cyberbudget.

Every error a user can cause derives from :class:`CyberbudgetError`. Input problems (a bad table, scenario
file or option) are :class:`InputError` subclasses: the command line turns them into exit code 2 with one
clear message and no traceback. A message says *where* (file, row, column or key path), *what was expected*
and *what was found*; an error may carry several problems so that all of them are reported at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem found in an input.

    Parameters
    ----------
    where : str
        Location, e.g. ``"table.csv, row 12, column it_budget_eur"`` or ``"baseline.yaml: envelope.total_eur"``.
    message : str
        What was expected and what was found.
    """

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class CyberbudgetError(Exception):
    """Base class of every error raised by cyberbudget."""


class InputError(CyberbudgetError, ValueError):
    """A user input (table, scenario, option, file) is invalid. The CLI exits with code 2.

    Parameters
    ----------
    message : str
        A one-line summary.
    problems : iterable of Problem, optional
        Every individual problem found, reported together.
    source : str, optional
        The file the problems were found in.
    """

    def __init__(self, message: str, problems: Iterable[Problem] = (), source: str | None = None) -> None:
        self.problems: list[Problem] = list(problems)
        self.source = source
        super().__init__(message)

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        lines = [head] + [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class TableError(InputError):
    """The establishment table cannot be read or does not follow the schema."""


class ScenarioError(InputError):
    """A scenario file is invalid (unknown key, wrong type, inconsistent values)."""


class OptionError(InputError):
    """A command-line option or argument is invalid."""


class AllocationError(InputError):
    """The scenario cannot be allocated on this table (e.g. floors exceed the envelope)."""


class ConvergenceError(CyberbudgetError, RuntimeError):
    """An iterative computation (e.g. the uptake fixed point) did not converge."""


class ReportError(CyberbudgetError, RuntimeError):
    """Executing a report notebook or writing an output failed."""


class VerifyMismatch(CyberbudgetError):
    """A re-run from a manifest did not reproduce the recorded outputs."""
