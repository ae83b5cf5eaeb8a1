"""Imputation of operating, IT and cybersecurity budgets; user overrides with real figures.

No public file gives per-establishment budgets. :func:`impute_budgets` fills the money columns from the
published ratios of ``data/reference/finance.yaml`` (every ratio with its source, or ``source: assumption``):

- operating expenses = (beds + places) x a ratio by status and category (public mean about 288,000 EUR per
  bed or place, derived from 82.9 bn EUR and DREES capacity) + HAD places x a HAD ratio, times a lognormal
  establishment factor of mean 1;
- IT budget = operating expenses x an IT share (1.7 % on average; CLCC 2.4 %, CHU 2.0 %, small public CH
  1.15 %, medico-social 1.0 %), times a lognormal factor of mean 1;
- cyber spend = IT budget x a share drawn from a Beta distribution (mean 4 %: most below 5-6 %, as officials
  said in February 2021).

Every imputed value is flagged in the ``imputed`` column. Draws are per establishment: row ``finess`` uses the
generator ``numpy.random.default_rng(SeedSequence([seed, int.from_bytes(finess.encode(), "big")]))`` and draws,
in this order, two standard normals (operating, IT) and one Beta variate (cyber share). A value therefore
depends only on the seed, the establishment's own row and the reference ratios - never on row order or on the
other rows. Amounts are rounded to the cent.

:func:`apply_overrides` replaces imputed figures with real ones from a file (``finess`` + any money column).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget import config
from cyberbudget.data import reference
from cyberbudget.data.schema import MAX_PROBLEMS, MONEY_COLUMNS, REQUIRED_COLUMNS, validate_table
from cyberbudget.data.tableio import read_table
from cyberbudget.errors import Problem, TableError

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


def impute_budgets(df: pd.DataFrame, seed: int = config.DEFAULT_SEED) -> pd.DataFrame:
    """Fill the missing operating, IT and cyber amounts from the reference ratios.

    Parameters
    ----------
    df : DataFrame
        Establishments with at least ``finess, status, category, beds, places`` (``had_places`` and
        ``medico_social`` optional). Money columns that are absent or empty (NaN) are imputed; observed values
        are kept and used for the columns that depend on them (IT from an observed operating budget, ...).
    seed : int
        Seed of the per-establishment draws (see the module docstring).

    Returns
    -------
    DataFrame
        A copy with the three money columns filled (rounded to the cent) and ``imputed`` listing the imputed
        columns of each row (existing flags kept).

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
    beds = pd.to_numeric(out["beds"], errors="coerce").fillna(0).to_numpy(dtype="float64")
    places = pd.to_numeric(out["places"], errors="coerce").fillna(0).to_numpy(dtype="float64")
    had = (pd.to_numeric(out["had_places"], errors="coerce").fillna(0).to_numpy(dtype="float64")
           if "had_places" in out else np.zeros(n))
    capacity = beds + places

    alpha, beta = float(cy_ref["alpha"]["value"]), float(cy_ref["beta"]["value"])
    draws = establishment_draws(finess, seed, alpha, beta)

    # Operating expenses.
    per_capacity = np.zeros(n)
    medico = np.isin(category, ("ehpad", "esms"))
    hospital = ~medico
    for st in config.STATUSES:
        rows = hospital & (status == st)
        if rows.any():
            per_capacity[rows] = _lookup(op_ref[st]["value"], category[rows], f"operating ratio of {st}")
    per_capacity[category == "ehpad"] = float(ms_ref["ehpad_operating_per_place"]["value"])
    per_capacity[category == "esms"] = float(ms_ref["esms_operating_per_place"]["value"])
    sigma_op = float(op_ref["dispersion_sigma"]["value"])
    base = capacity * per_capacity + had * float(op_ref["had_place"]["value"])
    op_imputed = np.maximum(float(op_ref["minimum_eur"]["value"]),
                            base * np.exp(sigma_op * draws[:, 0] - sigma_op**2 / 2))

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
    op = np.where(miss_op, np.round(np.maximum(op_imputed, op_floor), 2), op)
    it = np.where(miss_it, np.round(np.minimum(op, np.maximum(op * it_share, it_floor)), 2), it)
    cy = np.where(miss_cy, np.round(np.minimum(it, it * cyber_share), 2), cy)

    out["operating_budget_eur"] = op
    out["it_budget_eur"] = it
    out["cyber_spend_eur"] = cy
    flags = {"operating_budget_eur": miss_op, "it_budget_eur": miss_it, "cyber_spend_eur": miss_cy}
    out["imputed"] = _merge_flags(out["imputed"] if "imputed" in out else None, flags, n)
    return out


def _read_overrides(path: Path | pd.DataFrame, source: str) -> pd.DataFrame:
    if isinstance(path, pd.DataFrame):
        return path.reset_index(drop=True)
    return read_table(path).reset_index(drop=True)


def apply_overrides(df: pd.DataFrame, path: str | os.PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    """Replace imputed budgets with real figures from an overrides file.

    Parameters
    ----------
    df : DataFrame
        A validated establishment table (e.g. from :func:`impute_budgets`).
    path : path or DataFrame
        A table file (CSV, Parquet, Excel) with a ``finess`` column and one or more money columns
        (``operating_budget_eur``, ``it_budget_eur``, ``cyber_spend_eur``); an empty cell leaves that figure
        as it was.

    Returns
    -------
    DataFrame
        The validated table with the figures replaced and removed from ``imputed``. Imputed figures that
        depend on an overridden one follow it with the same ratio: an overridden operating budget carries
        the row's imputed IT share to an imputed IT budget, and an IT budget carries the cyber share; an
        imputed figure that would fall below an observed one downstream is raised to keep
        ``cyber <= IT <= operating``.

    Raises
    ------
    TableError
        Naming the overrides file, its row and column: no ``finess`` column, a column that is not a money
        column, an unknown or repeated ``finess``, a value that is not a non-negative amount, or overridden
        figures that contradict each other (cyber > IT or IT > operating).
    """
    source = "<overrides>" if isinstance(path, pd.DataFrame) else str(path)
    raw = _read_overrides(path, source)
    problems: list[Problem] = []
    cols = [str(c).strip() for c in raw.columns]
    raw.columns = cols
    if "finess" not in cols:
        raise TableError(f"{source}: expected a finess column, found {', '.join(cols) or 'no column'}",
                         [Problem(f"{source}, column finess", "required column missing")], source=source)
    unknown = [c for c in cols if c != "finess" and c not in MONEY_COLUMNS]
    for c in unknown:
        problems.append(Problem(f"{source}, column {c}",
                                f"expected one of {', '.join(MONEY_COLUMNS)} (money columns only), found {c!r}"))
    money = [c for c in MONEY_COLUMNS if c in cols]
    if not money and not unknown:
        problems.append(Problem(source, f"expected at least one of {', '.join(MONEY_COLUMNS)}, found none"))

    table = df.reset_index(drop=True).copy()
    index = pd.Series(np.arange(len(table)), index=table["finess"].astype(str).to_numpy())
    finess = raw["finess"].astype(str).str.strip().to_numpy()
    seen: dict[str, int] = {}
    positions = np.full(len(raw), -1)
    for i, f in enumerate(finess):
        row = i + 2
        if f in seen:
            problems.append(Problem(f"{source}, row {row}, column finess",
                                    f"expected each finess once, found {f!r} also on row {seen[f]}"))
            continue
        seen[f] = row
        if f not in index.index:
            problems.append(Problem(f"{source}, row {row}, column finess",
                                    f"expected a finess of the table, found {f!r} (unknown establishment)"))
            continue
        positions[i] = index[f]

    values: dict[str, np.ndarray] = {}
    for c in money:
        text = raw[c]
        parsed = pd.to_numeric(text.astype(str).str.strip().str.replace(",", ".", regex=False).replace("", None),
                               errors="coerce").to_numpy(dtype="float64", na_value=np.nan) \
            if not pd.api.types.is_numeric_dtype(text) else text.to_numpy(dtype="float64", na_value=np.nan)
        empty = text.isna().to_numpy() | (text.astype(str).str.strip() == "").to_numpy()
        for i in np.flatnonzero(~empty & (~np.isfinite(parsed) | (parsed < 0))):
            problems.append(Problem(f"{source}, row {i + 2}, column {c}",
                                    f"expected an amount in euros >= 0, found {str(text.iloc[i])!r}"))
        if c == "operating_budget_eur":
            for i in np.flatnonzero(~empty & (parsed == 0)):
                problems.append(Problem(f"{source}, row {i + 2}, column {c}", "expected an amount > 0, found 0"))
        values[c] = np.where(empty, np.nan, parsed)

    if problems:
        raise _overrides_error(source, problems)

    op = table["operating_budget_eur"].to_numpy(dtype="float64", copy=True)
    it = table["it_budget_eur"].to_numpy(dtype="float64", copy=True)
    cy = table["cyber_spend_eur"].to_numpy(dtype="float64", copy=True)
    flags = table["imputed"].astype(str).to_numpy().copy()
    for i, pos in enumerate(positions):
        if pos < 0:
            continue
        tokens = set(flags[pos].split())
        new = {c: values[c][i] for c in money if not np.isnan(values[c][i])}
        s_it = it[pos] / op[pos] if op[pos] > 0 else 0.0
        s_cy = cy[pos] / it[pos] if it[pos] > 0 else 0.0
        o, t, y = new.get("operating_budget_eur"), new.get("it_budget_eur"), new.get("cyber_spend_eur")
        imp_op = o is None and "operating_budget_eur" in tokens
        imp_it = t is None and "it_budget_eur" in tokens
        imp_cy = y is None and "cyber_spend_eur" in tokens
        op_i = o if o is not None else op[pos]
        it_i = t if t is not None else (round(op_i * s_it, 2) if imp_it and o is not None else it[pos])
        if y is not None and imp_it and y > it_i:
            it_i = round(y / s_cy, 2) if s_cy > 0 else y
        cy_i = y if y is not None else (round(it_i * s_cy, 2) if imp_cy and it_i != it[pos] else cy[pos])
        if imp_op and it_i > op_i:
            op_i = round(it_i / s_it, 2) if s_it > 0 else it_i
        row = i + 2
        if it_i > op_i:
            problems.append(Problem(f"{source}, row {row}, column it_budget_eur",
                                    f"expected at most the operating budget ({op_i:,.2f}), found {it_i:,.2f}"))
        if cy_i > it_i:
            problems.append(Problem(f"{source}, row {row}, column cyber_spend_eur",
                                    f"expected at most the IT budget ({it_i:,.2f}), found {cy_i:,.2f}"))
        op[pos], it[pos], cy[pos] = op_i, it_i, cy_i
        tokens -= set(new)
        flags[pos] = " ".join(sorted(tokens, key=lambda tok: (_ORDER.get(tok, 99), tok)))
    if problems:
        raise _overrides_error(source, problems)
    table["operating_budget_eur"] = op
    table["it_budget_eur"] = it
    table["cyber_spend_eur"] = cy
    table["imputed"] = flags
    return validate_table(table, source=f"table after overrides from {source}")


def _overrides_error(source: str, problems: list[Problem]) -> TableError:
    count = len(problems)
    shown = problems[:MAX_PROBLEMS]
    if count > MAX_PROBLEMS:
        shown.append(Problem("", f"... and {count - MAX_PROBLEMS} more problem(s)"))
    return TableError(f"{source}: {count} problem{'s' if count > 1 else ''} in the overrides file", shown,
                      source=source)
