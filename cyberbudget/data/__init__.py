"""The data layer: the establishment table — its schema, files, the SAE import, the synthetic registry, budget
imputation and overrides — and the reference figures of ``data/reference/``.

Modules: :mod:`~cyberbudget.data.schema` (the table's rules), :mod:`~cyberbudget.data.tableio` (files),
:mod:`~cyberbudget.data.amounts` (numbers as spreadsheets write them), :mod:`~cyberbudget.data.ght` (GHT
membership and support establishments), :mod:`~cyberbudget.data.sae` (the DREES SAE import),
:mod:`~cyberbudget.data.synthetic` (the default table), :mod:`~cyberbudget.data.finance` (budget imputation),
:mod:`~cyberbudget.data.overrides` (real figures from finance teams), :mod:`~cyberbudget.data.reference`
(calibration figures) and :mod:`~cyberbudget.data.registry` (loading, writing, summaries; the entry points).

It imports only :mod:`cyberbudget.config` and :mod:`cyberbudget.errors` (and :mod:`cyberbudget.money`).
"""

from __future__ import annotations

from cyberbudget.data.overrides import apply_overrides, overrides_digest
from cyberbudget.data.reference import load_reference, provenance
from cyberbudget.data.registry import (
    import_sae,
    load_establishments,
    read_table,
    summarize_table,
    synthesize,
    table_counts,
    write_table,
)
from cyberbudget.data.schema import validate_table

__all__ = [
    "apply_overrides", "import_sae", "load_establishments", "load_reference", "overrides_digest", "provenance",
    "read_table", "summarize_table", "synthesize", "table_counts", "validate_table", "write_table",
]
