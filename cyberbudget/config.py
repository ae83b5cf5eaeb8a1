"""Paths and defaults, resolved from the package location (never from the working directory)."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR: Path = Path(__file__).resolve().parent
ROOT: Path = PACKAGE_DIR.parent
DATA_DIR: Path = ROOT / "data"
REFERENCE_DIR: Path = DATA_DIR / "reference"
SYNTHETIC_DIR: Path = DATA_DIR / "synthetic"
DEFAULT_TABLE: Path = SYNTHETIC_DIR / "establishments.csv"
SCENARIOS_DIR: Path = ROOT / "scenarios"
NOTEBOOKS_DIR: Path = ROOT / "notebooks"
TEMPLATES_DIR: Path = NOTEBOOKS_DIR / "templates"
REPORTS_DIR: Path = ROOT / "reports"
SHARED_DIR: Path = ROOT.parent / "shared"
SAE_DIR: Path = SHARED_DIR / "data" / "sae2023"

DEFAULT_TEMPLATE: str = "allocation_report"
DEFAULT_SEED: int = 20210218

#: Monte Carlo draws come in fixed blocks of this size (DESIGN.md, "Monte Carlo seeding").
MC_BLOCK_SIZE: int = 1024

#: Cells built from fewer establishments than this are suppressed in published outputs.
MIN_CELL_SIZE: int = 5

REGIONS: tuple[str, ...] = (
    "11", "24", "27", "28", "32", "44", "52", "53", "75", "76", "84", "93", "94",
    "01", "02", "03", "04", "06",
)
REGION_NAMES: dict[str, str] = {
    "11": "Île-de-France", "24": "Centre-Val de Loire", "27": "Bourgogne-Franche-Comté",
    "28": "Normandie", "32": "Hauts-de-France", "44": "Grand Est", "52": "Pays de la Loire",
    "53": "Bretagne", "75": "Nouvelle-Aquitaine", "76": "Occitanie", "84": "Auvergne-Rhône-Alpes",
    "93": "Provence-Alpes-Côte d'Azur", "94": "Corse", "01": "Guadeloupe", "02": "Martinique",
    "03": "Guyane", "04": "La Réunion", "06": "Mayotte",
}
STATUSES: tuple[str, ...] = ("public", "private_nonprofit", "private_forprofit")
CATEGORIES: tuple[str, ...] = (
    "chu", "ch", "chs", "clcc", "usld", "mco", "ssr", "psy", "had", "dialysis", "other", "ehpad", "esms",
)

#: Allocation rules provided by higher layers, loaded on first use through the rule registry so that
#: ``allocation.py`` never imports the risk side (DESIGN.md, "Layout").
RULE_PLUGINS: dict[str, str] = {"optimal": "cyberbudget.risk.optimal"}
