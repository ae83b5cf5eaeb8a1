"""Imputation of operating, IT and cybersecurity budgets; user overrides with real figures.

No public file gives per-establishment budgets. :func:`impute_budgets` fills the money columns from the
published figures of ``data/reference/finance.yaml`` (every figure with its source, or ``source: assumption``):

- operating expenses, from the first basis the row has:

  1. *salaried staff* (``staff_fte > 0``): personnel cost = medical FTE x cost per medical FTE + non-medical FTE x
     cost per non-medical FTE, divided by the personnel share of charges of the row's status (public 59 %).
     The costs per FTE come from the public establishments' personnel spending (48.7 bn EUR in 2019: 68 %
     non-medical, 21 % medical, the other 12 % spread pro rata) divided by the public FTE of the SAE 2023 -
     never from the 82.9 bn EUR total the public result is checked against. Without a ``medical_fte`` column
     every FTE costs the blended average;
  2. *capacity* (beds, places, HAD places or dialysis stations): (beds + places) x a ratio by status and
     category (public mean about 288,000 EUR per bed or place) + HAD places x a HAD ratio + dialysis stations x
     a station ratio, at least ``minimum_eur``;
  3. *neither*: the median operating budget of the row's category in the SAE 2023 import
     (``operating_without_size``), so that no row is left at 0;

  times a lognormal establishment factor of mean 1 (a smaller spread for the staff basis);
- IT budget = operating expenses x an IT share (1.7 % on average; CLCC 2.4 %, CHU 2.0 %, small public CH
  1.15 %, medico-social 1.0 %), times a lognormal factor of mean 1;
- cyber spend = IT budget x a share drawn from a Beta distribution (mean 4 %: most below 5-6 %, as officials
  said in February 2021).

Every imputed value is flagged in the ``imputed`` column. Draws are per establishment: row ``finess`` uses the
generator ``numpy.random.default_rng(SeedSequence([seed, int.from_bytes(finess.encode(), "big")]))`` and draws,
in this order, two standard normals (operating, IT) and one Beta variate (cyber share). A value therefore
depends only on the seed, the establishment's own row and the reference figures - never on row order or on the
other rows. Amounts are rounded to the cent.

:func:`apply_overrides` (from :mod:`cyberbudget.data.overrides`) replaces imputed figures with real ones from a
file keyed by ``finess`` or by ``finess_ej``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cyberbudget import config
from cyberbudget.data import reference
from cyberbudget.data.overrides import apply_overrides, overrides_digest
from cyberbudget.data.schema import MONEY_COLUMNS, REQUIRED_COLUMNS
from cyberbudget.errors import TableError

__all__ = [
    "BUDGET_COLUMNS", "apply_overrides", "establishment_draws", "impute_budgets", "operating_basis",
    "overrides_digest", "staff_costs",
]

#: Columns :func:`impute_budgets` may fill, in dependency order.
BUDGET_COLUMNS: tuple[str, ...] = MONEY_COLUMNS
_ORDER = {c: i for i, c in enumerate(REQUIRED_COLUMNS + ("had_places", "medico_social"))}


def _finess_entropy(finess: str) -> int:
    return int.from_bytes(finess.encode("utf-8"), "big")


def establishment_draws(finess: np.ndarray, seed: int, alpha: float, beta: float) -> np.ndarray:
    """Per-establishment random variates, independent of row order.

    Parameters
    ----------
    finess : array of str
        Identifiers.
    seed : int
        Imputation seed.
    alpha, beta : float
        Beta shape of the cyber share.

    Returns
    -------
    ndarray of shape (n, 3)
        Column 0 and 1: standard normals (operating and IT factors); column 2: Beta(alpha, beta) variate.
    """
    out = np.empty((len(finess), 3), dtype="float64")
    for i, f in enumerate(finess):
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), _finess_entropy(str(f))]))
        out[i, :2] = rng.standard_normal(2)
        out[i, 2] = rng.beta(alpha, beta)
    return out


def _lookup(table: dict[str, Any], keys: np.ndarray, what: str) -> np.ndarray:
    missing = sorted(set(keys) - set(table))
    if missing:
        raise TableError(f"finance.yaml: no {what} for {', '.join(missing)}")
    return np.array([table[k] for k in keys], dtype="float64")


def _merge_flags(existing: pd.Series, flags: dict[str, np.ndarray], n: int) -> np.ndarray:
    out = np.empty(n, dtype=object)
    old = existing.fillna("").astype(str).to_numpy() if existing is not None else np.full(n, "", dtype=object)
    cache: dict[tuple[str, tuple[str, ...]], str] = {}
    for i in range(n):
        new = tuple(c for c, mask in flags.items() if mask[i])
        key = (old[i], new)
        if key not in cache:
            tokens = set(old[i].split()) | set(new)
            cache[key] = " ".join(sorted(tokens, key=lambda t: (_ORDER.get(t, 99), t)))
        out[i] = cache[key]
    return out


def _missing(df: pd.DataFrame, column: str) -> np.ndarray:
    if column not in df.columns:
        return np.ones(len(df), dtype=bool)
    values = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return np.isnan(values)


def _values(df: pd.DataFrame, column: str) -> np.ndarray:
    if column not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan, copy=True)


def operating_basis(df: pd.DataFrame) -> np.ndarray:
    """Which basis :func:`impute_budgets` uses for each row's operating expenses.

    Returns
    -------
    ndarray of str
        ``"staff"`` (salaried FTE > 0), ``"capacity"`` (beds, places, HAD places or dialysis stations > 0) or
        ``"category"`` (neither: the category's median).
    """
    n = len(df)
    staff = _column(df, "staff_fte", n)
    size = sum(_column(df, c, n) for c in ("beds", "places", "had_places", "dialysis_stations"))
    return np.where(staff > 0, "staff", np.where(size > 0, "capacity", "category"))


def _column(df: pd.DataFrame, column: str, n: int) -> np.ndarray:
    if column not in df.columns:
        return np.zeros(n)
    return pd.to_numeric(df[column], errors="coerce").fillna(0).to_numpy(dtype="float64")


def staff_costs(fin: dict[str, Any] | None = None) -> dict[str, float]:
    """Annual cost of one full-time equivalent, derived from ``finance.yaml`` (``operating_from_staff``).

    Returns
    -------
    dict
        ``medical``, ``non_medical`` and ``blended`` (EUR per FTE per year, other personnel charges included)
        and ``personnel_share`` by status.

    Examples
    --------
    >>> c = staff_costs()
    >>> round(c["non_medical"]), round(c["medical"]), c["personnel_share"]["public"]
    (46650, 150664, 0.59)
    """
    fin = fin if fin is not None else reference.load_reference("finance")
    ref = fin["operating_from_staff"]
    spending = float(ref["personnel_spending_public"]["value"])
    s_nm, s_m = float(ref["non_medical_share"]["value"]), float(ref["medical_share"]["value"])
    fte_nm, fte_m = float(ref["public_non_medical_fte"]["value"]), float(ref["public_medical_fte"]["value"])
    spread = s_nm + s_m  # the other personnel charges are spread pro rata
    return {
        "non_medical": spending * s_nm / spread / fte_nm,
        "medical": spending * s_m / spread / fte_m,
        "blended": spending / (fte_nm + fte_m),
        "personnel_share": {st: float(ref["personnel_share"][st]["value"]) for st in config.STATUSES},
    }


def impute_budgets(df: pd.DataFrame, seed: int = config.DEFAULT_SEED) -> pd.DataFrame:
    """Fill the missing operating, IT and cyber amounts from the reference figures.

    Parameters
    ----------
    df : DataFrame
        Establishments with at least ``finess, status, category, beds, places``; optional ``had_places``,
        ``dialysis_stations``, ``staff_fte``, ``medical_fte`` (salaried medical FTE, part of ``staff_fte``) and
        ``medico_social``. Money columns that are absent or empty (NaN) are imputed; observed values are kept
        and used for the columns that depend on them (IT from an observed operating budget, ...).
    seed : int
        Seed of the per-establishment draws (see the module docstring).

    Returns
    -------
    DataFrame
        A copy with the three money columns filled (rounded to the cent) and ``imputed`` listing the imputed
        columns of each row (existing flags kept).

    Raises
    ------
    TableError
        ``finance.yaml`` has no ratio for a status x category of the table.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"finess": ["010000024"], "status": ["public"], "category": ["chu"],
    ...                   "beds": [1000], "places": [100]})
    >>> out = impute_budgets(t, seed=1)
    >>> out.loc[0, "imputed"]
    'operating_budget_eur it_budget_eur cyber_spend_eur'
    >>> bool(2e8 < out.loc[0, "operating_budget_eur"] < 8e8)
    True
    """
    fin = reference.load_reference("finance")
    op_ref = fin["operating_per_capacity"]
    it_ref = fin["it_share"]
    cy_ref = fin["cyber_share"]
    ms_ref = fin["medico_social"]
    if cy_ref["distribution"]["value"] != "beta":
        raise TableError(f"finance.yaml: cyber_share.distribution: expected beta, found {cy_ref['distribution']['value']!r}")
    out = df.copy()
    n = len(out)
    finess = out["finess"].astype(str).to_numpy()
    status = out["status"].astype(str).to_numpy()
    category = out["category"].astype(str).to_numpy()
    beds, places = _column(out, "beds", n), _column(out, "places", n)
    had, stations = _column(out, "had_places", n), _column(out, "dialysis_stations", n)
    capacity = beds + places

    alpha, beta = float(cy_ref["alpha"]["value"]), float(cy_ref["beta"]["value"])
    draws = establishment_draws(finess, seed, alpha, beta)

    # Operating expenses: staff, else capacity, else the category's median.
    basis = operating_basis(out)
    medico = np.isin(category, ("ehpad", "esms"))
    hospital = ~medico
    costs = staff_costs(fin)
    staff = _column(out, "staff_fte", n)
    if "medical_fte" in out.columns:
        medical = np.minimum(_column(out, "medical_fte", n), staff)
        personnel = medical * costs["medical"] + (staff - medical) * costs["non_medical"]
    else:
        personnel = staff * costs["blended"]
    share = np.ones(n)
    for st in config.STATUSES:
        share[status == st] = costs["personnel_share"][st]
    from_staff = personnel / share

    per_capacity = np.zeros(n)
    for st in config.STATUSES:
        rows = hospital & (status == st) & (basis == "capacity")
        if rows.any():
            per_capacity[rows] = _lookup(op_ref[st]["value"], category[rows], f"operating ratio of {st}")
    per_capacity[category == "ehpad"] = float(ms_ref["ehpad_operating_per_place"]["value"])
    per_capacity[category == "esms"] = float(ms_ref["esms_operating_per_place"]["value"])
    from_capacity = np.maximum(
        float(op_ref["minimum_eur"]["value"]),
        capacity * per_capacity + had * float(op_ref["had_place"]["value"])
        + stations * float(op_ref["dialysis_station"]["value"]))

    from_category = np.zeros(n)
    without = basis == "category"
    if without.any():
        from_category[without] = _lookup(fin["operating_without_size"]["value"], category[without],
                                         "operating_without_size")

    sigma_op = float(op_ref["dispersion_sigma"]["value"])
    sigma_staff = float(fin["operating_from_staff"]["dispersion_sigma"]["value"])
    sigma = np.where(basis == "staff", sigma_staff, sigma_op)
    base = np.where(basis == "staff", from_staff, np.where(basis == "capacity", from_capacity, from_category))
    op_imputed = base * np.exp(sigma * draws[:, 0] - sigma**2 / 2)

    # IT share.
    share = np.full(n, float(it_ref["mean"]["value"]))
    share[category == "chu"] = float(it_ref["chu"]["value"])
    share[category == "clcc"] = float(it_ref["clcc"]["value"])
    small = (category == "ch") & (status == "public") & (capacity < float(it_ref["small_capacity_threshold"]["value"]))
    share[small] = float(it_ref["small"]["value"])
    share[medico] = float(it_ref["medico_social"]["value"])
    sigma_it = float(it_ref["dispersion_sigma"]["value"])
    it_share = np.minimum(float(it_ref["maximum"]["value"]), share * np.exp(sigma_it * draws[:, 1] - sigma_it**2 / 2))
    cyber_share = np.minimum(float(cy_ref["maximum"]["value"]), draws[:, 2])

    op = _values(out, "operating_budget_eur")
    it = _values(out, "it_budget_eur")
    cy = _values(out, "cyber_spend_eur")
    miss_op, miss_it, miss_cy = np.isnan(op), np.isnan(it), np.isnan(cy)

    # Observed values downstream constrain the imputed ones upstream (never imputed below an observed figure).
    it_floor = np.where(miss_cy, 0.0, cy)
    it_known = np.where(miss_it, np.nan, it)
    op_floor = np.where(~np.isnan(it_known), it_known, np.where(miss_cy, 0.0, cy / np.maximum(it_share, 1e-12)))
    op = np.where(miss_op, np.maximum(np.round(np.maximum(op_imputed, op_floor), 2), 0.01), op)
    it = np.where(miss_it, np.round(np.minimum(op, np.maximum(op * it_share, it_floor)), 2), it)
    cy = np.where(miss_cy, np.round(np.minimum(it, it * cyber_share), 2), cy)

    out["operating_budget_eur"] = op
    out["it_budget_eur"] = it
    out["cyber_spend_eur"] = cy
    flags = {"operating_budget_eur": miss_op, "it_budget_eur": miss_it, "cyber_spend_eur": miss_cy}
    out["imputed"] = _merge_flags(out["imputed"] if "imputed" in out else None, flags, n)
    return out
