"""What a report shows, computed in-process: the allocation and the audit plan of one scenario on one table.

:func:`compute` (paths in) and :func:`compute_from` (validated :class:`~cyberbudget.reports.inputs.Inputs` in)
return a :class:`Computed`. ``run`` computes once, writes the deterministic files from it and hands it to the
notebook (:mod:`cyberbudget.reports.handover`); a template run by hand computes it itself, and
:func:`check_expected` makes a notebook fail when its own computation differs from the run's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cyberbudget.errors import ReportError
from cyberbudget.policy import AllocationResult, Scenario
from cyberbudget.policy.audits import AuditPlan
from cyberbudget.reports.inputs import Inputs, PathArg, load_inputs

__all__ = ["Computed", "check_expected", "compute", "compute_from"]


@dataclass
class Computed:
    """Everything a report shows, computed in-process.

    Attributes
    ----------
    scenario : Scenario
        The validated scenario.
    table : DataFrame
        The validated input table.
    result : AllocationResult
        :func:`cyberbudget.policy.allocation.allocate` of the scenario on the table.
    audits : AuditPlan or None
        :func:`cyberbudget.policy.audits.plan_audits`; None when the scenario sets no audit envelope.
    audits_note : str
        Why ``audits`` is None (empty otherwise).
    scenario_path, data_path : Path
        The files the scenario and the table were read from (absolute).
    overrides_path : Path or None
        The file of real budget figures applied to the table (``--overrides``), if any.
    timings : dict of str to float
        Seconds per step (``load``, ``allocate``, ``audits``, then what ``run`` adds).
    """

    scenario: Scenario
    table: pd.DataFrame
    result: AllocationResult
    audits: AuditPlan | None
    audits_note: str
    scenario_path: Path
    data_path: Path
    timings: dict[str, float] = field(default_factory=dict)
    overrides_path: Path | None = None

    @property
    def allocated_cents(self) -> int:
        """Cents handed out (the sum of ``grant_cents``)."""
        return int(np.asarray(self.result.table["grant_cents"], dtype=np.int64).sum())


def compute_from(inputs: Inputs) -> Computed:
    """Allocate, and plan the audit envelope, for an already validated scenario and table.

    The audit costs a scenario leaves ``null`` take the named assumptions of ``data/reference/policy.yaml``
    (:func:`cyberbudget.policy.audits.plan_audits`).
    """
    from cyberbudget.policy.allocation import allocate
    from cyberbudget.policy.audits import plan_audits

    scenario, table = inputs.scenario, inputs.table
    t0 = time.perf_counter()
    result = allocate(table, scenario)
    t1 = time.perf_counter()
    if scenario.audits.envelope_eur:
        audits, note = plan_audits(table, scenario), ""
    else:
        audits, note = None, "the scenario sets no audit envelope (audits.envelope_eur = 0)"
    t2 = time.perf_counter()
    return Computed(scenario=scenario, table=table, result=result, audits=audits, audits_note=note,
                    scenario_path=Path(inputs.scenario_path), data_path=Path(inputs.data_path),
                    timings={"allocate": t1 - t0, "audits": t2 - t1}, overrides_path=inputs.overrides_path)


def compute(scenario_path: PathArg, data: PathArg | None = None, overrides: PathArg | None = None) -> Computed:
    """:func:`~cyberbudget.reports.inputs.load_inputs` then :func:`compute_from` (what a template run by hand
    and ``verify`` call)."""
    t0 = time.perf_counter()
    inputs = load_inputs(scenario_path, data, overrides)
    t1 = time.perf_counter()
    computed = compute_from(inputs)
    computed.timings = {"load": t1 - t0, **computed.timings}
    return computed


def check_expected(computed: Computed, expected_allocated_cents: int) -> None:
    """Fail when a notebook's computation differs from the run's (``expected_allocated_cents < 0``: no check).

    Raises
    ------
    ReportError
        The cents allocated differ from ``expected_allocated_cents``.
    """
    if int(expected_allocated_cents) < 0:
        return
    got = computed.allocated_cents
    if got != int(expected_allocated_cents):
        raise ReportError(
            f"the notebook allocated {got} cents but `run` computed {expected_allocated_cents}: "
            "inputs changed during the run or the computation is not deterministic"
        )
