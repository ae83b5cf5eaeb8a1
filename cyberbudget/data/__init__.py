"""The data layer: the establishment table — its schema, files, the SAE import, the synthetic registry, budget
imputation and overrides — and the reference figures of ``data/reference/``.

It imports only :mod:`cyberbudget.config` and :mod:`cyberbudget.errors` (and :mod:`cyberbudget.money`).
"""

from __future__ import annotations

from cyberbudget.data.reference import load_reference, provenance
from cyberbudget.data.registry import import_sae, load_establishments, read_table, synthesize, write_table
from cyberbudget.data.schema import validate_table

__all__ = [
    "import_sae", "load_establishments", "load_reference", "provenance", "read_table", "synthesize",
    "validate_table", "write_table",
]
