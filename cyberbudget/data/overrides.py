"""Real budget figures from a finance team's file, replacing imputed ones.

An overrides file is a table (CSV with ``;`` or ``,``, UTF-8 or Latin-1; Parquet; ``.xlsx``) with a key column and
one or more money columns (``operating_budget_eur``, ``it_budget_eur``, ``cyber_spend_eur``); a ``name`` column
may be kept for the reader and is ignored. Each row is keyed by

- ``finess``: one establishment (site) of the table, or
- ``finess_ej``: a legal entity (entité juridique) - the level at which a public hospital's accounts (EPRD) and
  IT budget are held. Its figures are split among its sites pro rata to their imputed operating budget, in exact
  cents with Hamilton rounding (:func:`cyberbudget.money.hamilton`, ties by ascending ``finess``). When sites of
  the same legal entity have rows of their own, their figures are kept and only the rest of the legal entity's
  figure is split among its other sites.

A row may give both keys when the site belongs to that legal entity (it is then a site row).

Amounts are read the way French spreadsheets write them (:mod:`cyberbudget.data.amounts`): ``2 500 000,00`` with
normal, no-break (U+00A0) or narrow no-break (U+202F) spaces, a decimal comma, ``1.234.567,89``, a trailing
``€``. A FINESS whose leading zero a spreadsheet dropped (``10000024``) is reported with the corrected
suggestion, never silently matched. Every problem - unknown or repeated key, unreadable or negative amount,
contradictory figures - is reported at once in a :class:`~cyberbudget.errors.TableError` naming the file, the
row and the column (the command line exits with code 2).

:func:`overrides_digest` identifies the file (SHA-256 of its bytes) for a run's manifest.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cyberbudget.data.amounts import to_cents
from cyberbudget.data.schema import MAX_PROBLEMS, MONEY_COLUMNS, REQUIRED_COLUMNS, validate_table
from cyberbudget.data.tableio import read_table
from cyberbudget.errors import Problem, TableError
from cyberbudget.money import hamilton

__all__ = ["KEY_COLUMNS", "apply_overrides", "overrides_digest"]

#: Columns that key an overrides row.
KEY_COLUMNS: tuple[str, ...] = ("finess", "finess_ej")
#: Columns kept for the reader and ignored.
IGNORED_COLUMNS: tuple[str, ...] = ("name",)
_ORDER = {c: i for i, c in enumerate(REQUIRED_COLUMNS)}


def overrides_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of an overrides file's bytes, to identify it in a run's manifest.

    Raises
    ------
    TableError
        The file cannot be read.
    """
    path = Path(path)
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise TableError(f"{path}: cannot read the overrides file ({exc.strerror or exc})", source=str(path)) from None


@dataclass
class _Rows:
    """Parsed rows: per site position and per legal entity, the cents given and the file row they come from."""

    sites: dict[int, dict[str, int]] = field(default_factory=dict)
    site_rows: dict[int, int] = field(default_factory=dict)
    entities: dict[str, dict[str, int]] = field(default_factory=dict)
    entity_rows: dict[str, int] = field(default_factory=dict)


def _cell_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return str(value).strip()


def _suggest(value: str, known: set[str]) -> str | None:
    """The FINESS a spreadsheet turned into ``value`` by dropping its leading zero, if the table has it."""
    if len(value) == 8 and value.isdigit() and "0" + value in known:
        return "0" + value
    return None


def _quoted(value: object, limit: int = 60) -> str:
    """A cell or column name as shown in a message: quoted and escaped (no control character reaches a terminal),
    cut to ``limit`` characters (an overrides file may be hostile)."""
    text = str(value)
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _label(name: object) -> str:
    """A column name in a location: as written when short and printable, else :func:`_quoted`."""
    text = str(name)
    return text if len(text) <= 60 and text.isprintable() else _quoted(text)


def _parse(raw: pd.DataFrame, table: pd.DataFrame, source: str, problems: list[Problem]) -> _Rows:
    cols = [str(c).strip().lower() for c in raw.columns]
    raw = raw.copy()
    raw.columns = cols
    keys = [c for c in KEY_COLUMNS if c in cols]
    if not keys:
        raise TableError(
            f"{source}: expected a finess or finess_ej column, found "
            f"{', '.join(_quoted(c) for c in cols[:20]) or 'no column'}",
            [Problem(f"{source}, column finess", "required column missing (finess for a site, finess_ej for a "
                                                 "legal entity)")], source=source)
    unknown = [c for c in cols if c not in KEY_COLUMNS + IGNORED_COLUMNS + MONEY_COLUMNS]
    for c in unknown:
        problems.append(Problem(f"{source}, column {_label(c)}",
                                f"expected one of {', '.join(MONEY_COLUMNS)} (money columns only, besides finess, "
                                f"finess_ej and name), found {_quoted(c)}"))
    money = [c for c in MONEY_COLUMNS if c in cols]
    if not money and not unknown:
        problems.append(Problem(source, f"expected at least one of {', '.join(MONEY_COLUMNS)}, found none"))

    finess = table["finess"].astype(str).to_numpy()
    site_pos = {f: i for i, f in enumerate(finess)}
    ej_of = table["finess_ej"].astype(str).to_numpy() if "finess_ej" in table else finess
    entities = set(ej_of)
    sites = set(site_pos)
    out = _Rows()

    for i in range(len(raw)):
        row = i + 2
        f = _cell_text(raw["finess"].iloc[i]) if "finess" in raw else ""
        e = _cell_text(raw["finess_ej"].iloc[i]) if "finess_ej" in raw else ""
        cents: dict[str, int] = {}
        for c in money:
            text = _cell_text(raw[c].iloc[i])
            if not text:
                continue
            value = to_cents(text)
            if value is None:
                problems.append(Problem(f"{source}, row {row}, column {c}",
                                        f"expected an amount in euros >= 0 (e.g. 2 500 000,00), found {_quoted(text)}"))
            elif value < 0:
                problems.append(Problem(f"{source}, row {row}, column {c}",
                                        f"expected an amount in euros >= 0, found {_quoted(text)}"))
            elif value == 0 and c == "operating_budget_eur":
                problems.append(Problem(f"{source}, row {row}, column {c}", "expected an amount > 0, found 0"))
            else:
                cents[c] = value
        if f:
            where = f"{source}, row {row}, column finess"
            if f not in sites:
                fixed = _suggest(f, sites)
                if fixed is not None:
                    problems.append(Problem(where, f"expected a FINESS of the table (9 characters), found {f}: did "
                                                   f"you mean {fixed}? (a spreadsheet dropped the leading zero: "
                                                   f"format the column as text)"))
                elif f in entities:
                    problems.append(Problem(where, f"expected a site's FINESS, found {_quoted(f)}, a legal entity: put it in "
                                                   f"a finess_ej column"))
                else:
                    problems.append(Problem(where, f"expected a finess of the table, found {_quoted(f)} (unknown "
                                                   f"establishment)"))
                continue
            pos = site_pos[f]
            if e and e != ej_of[pos]:
                problems.append(Problem(f"{source}, row {row}, column finess_ej",
                                        f"expected {ej_of[pos]} (the legal entity of site {f}) or an empty cell, "
                                        f"found {_quoted(e)}"))
                continue
            if pos in out.site_rows:
                problems.append(Problem(where, f"expected each finess once, found {_quoted(f)} also on row "
                                               f"{out.site_rows[pos]}"))
                continue
            out.site_rows[pos] = row
            out.sites[pos] = cents
        elif e:
            where = f"{source}, row {row}, column finess_ej"
            if e not in entities:
                fixed = _suggest(e, entities)
                if fixed is not None:
                    problems.append(Problem(where, f"expected a legal entity's FINESS of the table (9 characters), "
                                                   f"found {e}: did you mean {fixed}? (a spreadsheet dropped the "
                                                   f"leading zero: format the column as text)"))
                elif e in sites:
                    problems.append(Problem(where, f"expected a legal entity's FINESS, found {_quoted(e)}, a site: put it "
                                                   f"in a finess column"))
                else:
                    problems.append(Problem(where, f"expected a finess_ej of the table, found {_quoted(e)} (unknown legal "
                                                   f"entity)"))
                continue
            if e in out.entity_rows:
                problems.append(Problem(where, f"expected each finess_ej once, found {_quoted(e)} also on row "
                                               f"{out.entity_rows[e]}"))
                continue
            out.entity_rows[e] = row
            out.entities[e] = cents
        else:
            problems.append(Problem(f"{source}, row {row}, column {keys[0]}",
                                    f"expected a FINESS ({' or '.join(keys)}), found an empty cell"))
    return out


def _split_entities(parsed: _Rows, table: pd.DataFrame, source: str,
                    problems: list[Problem]) -> tuple[dict[int, dict[str, int]], dict[int, str]]:
    """Site-level cents: the site rows, plus each legal entity's figures split among its other sites."""
    values = {pos: dict(c) for pos, c in parsed.sites.items()}
    origin = {pos: f"{source}, row {parsed.site_rows[pos]}" for pos in parsed.sites}
    if not parsed.entities:
        return values, origin
    finess = table["finess"].astype(str).to_numpy()
    ej_of = table["finess_ej"].astype(str).to_numpy()
    op = table["operating_budget_eur"].to_numpy(dtype="float64")
    members_of: dict[str, list[int]] = {}
    for pos in np.argsort(finess, kind="stable"):
        members_of.setdefault(ej_of[pos], []).append(int(pos))
    for e, given in parsed.entities.items():
        row = parsed.entity_rows[e]
        members = members_of[e]
        for c, total in given.items():
            explicit = [p for p in members if c in parsed.sites.get(p, {})]
            rest = [p for p in members if p not in explicit]
            remainder = total - sum(parsed.sites[p][c] for p in explicit)
            where = f"{source}, row {row}, column {c}"
            if remainder < 0 or (remainder > 0 and not rest):
                listed = ", ".join(f"{finess[p]} (row {parsed.site_rows[p]})" for p in explicit)
                problems.append(Problem(where, f"expected the legal entity {e}'s figure ({total / 100:,.2f}) to "
                                               f"{'equal' if not rest else 'be at least'} the sum of its sites given "
                                               f"on their own rows, {listed}: found "
                                               f"{(total - remainder) / 100:,.2f}"))
                continue
            if not rest:
                continue
            weights = op[rest]
            if not np.all(np.isfinite(weights)) or weights.sum() <= 0:
                weights = np.ones(len(rest))
            exact = weights / weights.sum() * remainder
            split = hamilton(exact, int(remainder), keys=finess[rest])
            if c == "operating_budget_eur" and (split == 0).any():
                problems.append(Problem(where, f"expected an amount that gives each site of the legal entity {e} an "
                                               f"operating budget > 0, found {remainder / 100:,.2f} to split among "
                                               f"{len(rest)} sites ({finess[rest][split == 0][0]} would get 0)"))
                continue
            for p, cents in zip(rest, split, strict=True):
                values.setdefault(p, {})[c] = int(cents)
                origin.setdefault(p, f"{source}, row {row} (legal entity {e}, site {finess[p]})")
    return values, origin


def apply_overrides(df: pd.DataFrame, path: str | os.PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    """Replace imputed budgets with real figures from an overrides file (see the module docstring).

    Parameters
    ----------
    df : DataFrame
        A validated establishment table (e.g. from :func:`cyberbudget.data.finance.impute_budgets`); without a
        ``finess_ej`` column each site is its own legal entity.
    path : path or DataFrame
        The overrides file, or its content as a DataFrame (then named ``<overrides>`` in messages).

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
        Naming the overrides file, its row and column: no ``finess``/``finess_ej`` column, a column that is not a
        money column, an unknown, misspelt (dropped leading zero) or repeated key, a value that is not a
        non-negative amount, a legal entity's figure below the sum of its sites given on their own rows, or
        figures that contradict each other (cyber > IT or IT > operating).

    Examples
    --------
    >>> import pandas as pd
    >>> from cyberbudget.data.schema import validate_table
    >>> t = validate_table(pd.DataFrame({
    ...     "finess": ["010000024", "010000032"], "name": ["A", "B"], "region": "84", "department": "01",
    ...     "status": "public", "category": "ch", "ght": "", "ght_support": False, "ose": False,
    ...     "beds": [300, 100], "places": 0, "operating_budget_eur": [30e6, 10e6], "it_budget_eur": [5e5, 2e5],
    ...     "cyber_spend_eur": [1e4, 1e4], "imputed": "operating_budget_eur it_budget_eur cyber_spend_eur",
    ...     "finess_ej": "010780054"}))
    >>> out = apply_overrides(t, pd.DataFrame({"finess_ej": ["010780054"], "operating_budget_eur": ["50 000 000,01"]}))
    >>> out["operating_budget_eur"].tolist(), out["imputed"].tolist()
    ([37500000.01, 12500000.0], ['it_budget_eur cyber_spend_eur', 'it_budget_eur cyber_spend_eur'])
    """
    source = "<overrides>" if isinstance(path, pd.DataFrame) else str(path)
    raw = path.reset_index(drop=True) if isinstance(path, pd.DataFrame) else read_table(path).reset_index(drop=True)
    table = df.reset_index(drop=True).copy()
    if "finess_ej" not in table.columns:
        table["finess_ej"] = table["finess"]
    problems: list[Problem] = []
    parsed = _parse(raw, table, source, problems)
    if problems:
        raise _overrides_error(source, problems)
    values, origin = _split_entities(parsed, table, source, problems)
    if problems:
        raise _overrides_error(source, problems)

    op = table["operating_budget_eur"].to_numpy(dtype="float64", copy=True)
    it = table["it_budget_eur"].to_numpy(dtype="float64", copy=True)
    cy = table["cyber_spend_eur"].to_numpy(dtype="float64", copy=True)
    flags = table["imputed"].astype(str).to_numpy().copy()
    for pos in sorted(values):
        new = {c: cents / 100 for c, cents in values[pos].items()}
        tokens = set(flags[pos].split())
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
        if imp_it and it_i > op_i:
            it_i = op_i
        if imp_cy and cy_i > it_i:
            cy_i = it_i
        where = origin[pos]
        if it_i > op_i:
            problems.append(Problem(f"{where}, column it_budget_eur",
                                    f"expected at most the operating budget ({op_i:,.2f}), found {it_i:,.2f}"))
        if cy_i > it_i:
            problems.append(Problem(f"{where}, column cyber_spend_eur",
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
    if "finess_ej" not in df.columns:
        table = table.drop(columns="finess_ej")
    return validate_table(table, source=f"table after overrides from {source}")


def _overrides_error(source: str, problems: list[Problem]) -> TableError:
    count = len(problems)
    shown = problems[:MAX_PROBLEMS]
    if count > MAX_PROBLEMS:
        shown.append(Problem("", f"... and {count - MAX_PROBLEMS} more problem(s)"))
    return TableError(f"{source}: {count} problem{'s' if count > 1 else ''} in the overrides file", shown,
                      source=source)
