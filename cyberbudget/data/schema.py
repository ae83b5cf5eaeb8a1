"""The establishment table's schema and its checks (DESIGN.md, "The establishment table").

:func:`validate_table` takes a table as read from a file (every cell a string) or as built in memory (typed
columns), checks every rule of DESIGN.md and returns a normalised copy, or raises :class:`TableError` listing
every problem with its spreadsheet row (the header is row 1, so the first data row is row 2), its column, what
was expected and what was found.

Validation runs in two vectorised passes:

1. *coercion*: each column is parsed to its type (text, integer, euro amount, boolean); a cell that cannot be
   parsed, an empty required cell, a text cell holding a control character (:data:`CONTROL_PATTERN`: what an
   Excel workbook cannot hold, and terminal escapes) or longer than ``config.MAX_TEXT_LENGTH`` characters, or a
   count beyond ``config.MAX_COUNT`` (before the conversion to int64, which would overflow silently), is a
   problem reported with the text found;
2. *rules*: the pandera schema :data:`SCHEMA` (codes, ranges and their maxima - ``config.MAX_COUNT`` beds,
   places, stations or staff, ``config.MAX_FTE`` FTE, ``config.MAX_BUDGET_EUR`` euros per establishment -,
   uniqueness) runs lazily on the parsed columns, then the cross-column rules
   (``cyber_spend_eur <= it_budget_eur <= operating_budget_eur``, GHT membership and support).

``cyberbudget validate`` and ``cyberbudget run`` both read a table through :func:`validate_table`: a table one
accepts, the other accepts.

At most :data:`MAX_PROBLEMS` problems are listed, followed by a count of the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc
from pandera.errors import SchemaErrors

from cyberbudget import config
from cyberbudget.data.amounts import parse_number
from cyberbudget.errors import Problem, TableError

#: Required columns in the order of DESIGN.md.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "finess", "name", "region", "department", "status", "category", "ght", "ght_support", "ose",
    "beds", "places", "operating_budget_eur", "it_budget_eur", "cyber_spend_eur", "imputed",
)
#: Optional columns and their default value (``finess_ej``: ``None`` stands for the row's own ``finess``).
OPTIONAL_COLUMNS: dict[str, Any] = {
    "had_places": 0, "medico_social": False, "finess_ej": None, "ght_name": "", "staff_fte": 0.0,
    "medical_fte": 0.0, "headcount": 0, "dialysis_stations": 0,
}

TEXT_COLUMNS: tuple[str, ...] = (
    "finess", "name", "region", "department", "status", "category", "ght", "imputed", "finess_ej", "ght_name")
BOOL_COLUMNS: tuple[str, ...] = ("ght_support", "ose", "medico_social")
INT_COLUMNS: tuple[str, ...] = ("beds", "places", "had_places", "headcount", "dialysis_stations")
#: Non-negative real quantities that are not money (full-time equivalents).
FLOAT_COLUMNS: tuple[str, ...] = ("staff_fte", "medical_fte")
MONEY_COLUMNS: tuple[str, ...] = ("operating_budget_eur", "it_budget_eur", "cyber_spend_eur")
#: Text columns where an empty cell is allowed (``finess_ej``: then the row's own ``finess``).
MAY_BE_EMPTY: frozenset[str] = frozenset({"ght", "imputed", "finess_ej", "ght_name"})

#: Most problems listed in one error; the rest are counted.
MAX_PROBLEMS: int = 50

#: Characters no text cell may hold: the C0 controls except tab, line feed and carriage return (the characters an
#: Excel workbook cannot hold, openpyxl's ``ILLEGAL_CHARACTERS_RE``), DEL, the C1 controls (U+0080-U+009F, e.g.
#: CSI, a terminal escape) and U+FFFE/U+FFFF (not characters; not allowed in XML). An RE2 pattern (pyarrow).
CONTROL_PATTERN: str = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\x{fffe}\x{ffff}]"
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_COUNT_RANGE = f"from 0 to {config.MAX_COUNT:,} (the limit for one establishment)"
_FTE_LIMIT = f"at most {config.MAX_FTE:,.0f} (the limit for one establishment)"
_MONEY_LIMIT = f"an amount of at most {config.MAX_BUDGET_EUR:,.0f} euros (the limit for one establishment)"

FINESS_PATTERN = r"(?:\d{2}|2A|2B)\d{7}"
DEPARTMENT_PATTERN = r"(?:0[1-9]|1\d|2[1-9]|[3-8]\d|9[0-5]|2A|2B|97[1-6])"
GHT_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,29}"
IMPUTED_PATTERN = r"(?:[A-Za-z0-9_]+(?: [A-Za-z0-9_]+)*)?"

_TRUE = frozenset({"true", "1", "yes", "y", "t", "vrai", "oui", "1.0"})
_FALSE = frozenset({"false", "0", "no", "n", "f", "faux", "non", "0.0"})


def _text_checks() -> dict[str, pa.Column]:
    def col(*checks: pa.Check) -> pa.Column:
        return pa.Column(None, checks=list(checks), nullable=False)

    return {
        "finess": pa.Column(
            None,
            checks=[pa.Check.str_matches(f"^{FINESS_PATTERN}$", error="9 characters, digits (2A/2B allowed first)")],
            nullable=False, unique=True, report_duplicates="all",
        ),
        "name": col(pa.Check(lambda s: s.str.len() > 0, element_wise=False, error="a non-empty name")),
        "region": col(pa.Check.isin(config.REGIONS, error=f"an INSEE region code, one of {' '.join(config.REGIONS)}")),
        "department": col(pa.Check.str_matches(
            f"^{DEPARTMENT_PATTERN}$", error="an INSEE department code (01-95, 2A, 2B, 971-976)")),
        "status": col(pa.Check.isin(config.STATUSES, error=f"one of {', '.join(config.STATUSES)}")),
        "category": col(pa.Check.isin(config.CATEGORIES, error=f"one of {', '.join(config.CATEGORIES)}")),
        "ght": col(pa.Check.str_matches(f"^(?:{GHT_PATTERN})?$", error="a GHT short code like ARA-01, or empty")),
        "imputed": col(pa.Check.str_matches(
            f"^{IMPUTED_PATTERN}$", error="column names separated by single spaces, or empty")),
    }


def _count_column() -> pa.Column:
    return pa.Column("int64", [pa.Check.ge(0, error="an integer >= 0"),
                               pa.Check.le(config.MAX_COUNT, error=f"an integer {_COUNT_RANGE}")], nullable=False)


def _fte_column() -> pa.Column:
    return pa.Column("float64", [pa.Check.ge(0, error="a number of full-time equivalents >= 0"),
                                 pa.Check.le(config.MAX_FTE,
                                             error=f"a number of full-time equivalents {_FTE_LIMIT}")],
                     nullable=False)


def _money_limit() -> pa.Check:
    return pa.Check.le(config.MAX_BUDGET_EUR, error=_MONEY_LIMIT)


#: The pandera schema of a parsed table (after coercion: text as strings, counts int64, money float64).
SCHEMA: pa.DataFrameSchema = pa.DataFrameSchema(
    {
        **_text_checks(),
        "ght_support": pa.Column(bool, nullable=False),
        "ose": pa.Column(bool, nullable=False),
        "beds": _count_column(),
        "places": _count_column(),
        "had_places": _count_column(),
        "operating_budget_eur": pa.Column(
            "float64", [pa.Check.gt(0, error="an amount > 0 (annual operating expenses)"), _money_limit()],
            nullable=False),
        "it_budget_eur": pa.Column("float64", [pa.Check.ge(0, error="an amount >= 0"), _money_limit()],
                                   nullable=False),
        "cyber_spend_eur": pa.Column("float64", [pa.Check.ge(0, error="an amount >= 0"), _money_limit()],
                                     nullable=False),
        "medico_social": pa.Column(bool, nullable=False),
        "staff_fte": _fte_column(),
        "medical_fte": _fte_column(),
        "headcount": _count_column(),
        "dialysis_stations": _count_column(),
    },
    strict=False,
    coerce=False,
    name="establishments",
)


def _where(source: str, row: int | None, column: str | None) -> str:
    parts = [source]
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column {_label(column)}")
    return ", ".join(parts)


def _label(name: str) -> str:
    """A column name as shown in a message: as written when short and printable, else quoted, escaped and cut
    (a header cell is as hostile as any other)."""
    name = str(name)
    return name if len(name) <= 60 and name.isprintable() else _show(name)


def _show(value: Any) -> str:
    text = str(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return repr(text)


class _Collector:
    """Problems keyed by (row position, column) so that one bad cell is reported once."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.cells: dict[tuple[int, str], str] = {}
        self.general: list[Problem] = []
        self.extra = 0

    def table(self, message: str, column: str | None = None) -> None:
        self.general.append(Problem(_where(self.source, None, column), message))

    def cells_from_mask(self, column: str, mask: np.ndarray, make: Callable[[int], str]) -> None:
        positions = np.flatnonzero(mask)
        for pos in positions:
            key = (int(pos), column)
            if key not in self.cells:
                if len(self.cells) >= 4 * MAX_PROBLEMS:
                    self.extra += 1
                    continue
                self.cells[key] = make(int(pos))

    def count(self) -> int:
        return len(self.general) + len(self.cells) + self.extra

    def problems(self) -> list[Problem]:
        out = list(self.general)
        order = {c: i for i, c in enumerate(REQUIRED_COLUMNS + tuple(OPTIONAL_COLUMNS))}
        for (pos, column), message in sorted(self.cells.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 99))):
            out.append(Problem(_where(self.source, pos + 2, column), message))
        total = len(out) + self.extra
        if total > MAX_PROBLEMS:
            out = out[:MAX_PROBLEMS]
            out.append(Problem("", f"... and {total - MAX_PROBLEMS} more problem(s)"))
        return out


def _as_text(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """A column as stripped Arrow-backed text; returns (text series with "" for missing, empty mask)."""
    s = series
    if not pd.api.types.is_string_dtype(s) or s.dtype == object:
        s = s.astype(object).where(s.notna(), None).astype("str")
    text = s.fillna("").str.strip()
    empty = np.asarray(pc.equal(_arrow(text), "").to_numpy(zero_copy_only=False), dtype=bool)
    return text, empty


def _parse_numbers(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse numbers: returns (float64 values, empty mask, unparseable mask)."""
    if pd.api.types.is_bool_dtype(series):
        values = series.to_numpy(dtype="float64", na_value=np.nan, copy=True)
        return values, np.isnan(values), np.zeros(len(series), bool)
    if pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype="float64", na_value=np.nan, copy=True)
        return values, np.isnan(values), np.zeros(len(series), bool)
    text, empty = _as_text(series)
    arrow = _arrow(text.where(pd.Series(~empty), None))
    try:
        values = np.array(pc.cast(arrow, pyarrow.float64()).to_numpy(zero_copy_only=False), dtype="float64")
    except (pyarrow.ArrowInvalid, pyarrow.ArrowNotImplementedError):
        values = pd.to_numeric(text.where(pd.Series(~empty), None), errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan, copy=True)
        retry = np.flatnonzero(~empty & np.isnan(values))
        # French spreadsheets: "1 234 567,89" (spaces, no-break spaces as thousands separator, decimal comma).
        for pos in retry:
            parsed = parse_number(str(text.iloc[pos]))
            if parsed is not None:
                values[pos] = parsed
    values[empty] = np.nan
    bad = ~empty & np.isnan(values)
    return values, empty, bad


def _arrow(series: pd.Series) -> pyarrow.Array:
    arr = series.array
    if hasattr(arr, "_pa_array"):
        chunked = arr._pa_array
        return chunked.combine_chunks() if isinstance(chunked, pyarrow.ChunkedArray) else chunked
    return pyarrow.array(series.to_numpy(dtype=object), type=pyarrow.string(), from_pandas=True)


def _parse_bools(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse booleans: returns (bool values, empty mask, unparseable mask)."""
    if pd.api.types.is_bool_dtype(series) and not series.isna().any():
        values = series.to_numpy(dtype=bool)
        return values, np.zeros(len(series), bool), np.zeros(len(series), bool)
    if pd.api.types.is_numeric_dtype(series):
        raw = series.to_numpy(dtype="float64", na_value=np.nan)
        empty = np.isnan(raw)
        bad = ~empty & (raw != 0) & (raw != 1)
        return raw == 1, empty, bad
    text, empty = _as_text(series)
    lower = text.str.lower()
    is_true = lower.isin(_TRUE).to_numpy(dtype=bool)
    is_false = lower.isin(_FALSE).to_numpy(dtype=bool)
    bad = ~empty & ~is_true & ~is_false
    return is_true, empty, bad


def validate_table(df: pd.DataFrame, source: str = "<table>") -> pd.DataFrame:
    """Check an establishment table against DESIGN.md and return its normalised copy.

    Parameters
    ----------
    df : DataFrame
        The table as read (cells as strings) or as built (typed columns). Row ``i`` (0-based position) is
        reported as spreadsheet row ``i + 2``.
    source : str
        Name of the file (or other origin) used in messages.

    Returns
    -------
    DataFrame
        Required columns in DESIGN.md order, then the optional columns of :data:`OPTIONAL_COLUMNS` (added with
        their defaults when absent: ``finess_ej`` the row's own ``finess``, also for an empty cell; ``ght_name``
        ``""``; counts and FTE 0), then any other column as given; text as Python ``str`` (object dtype, one
        object per distinct value except ``finess``), ``ght`` ``""`` when empty, booleans as ``bool``, counts as
        ``int64``, FTE and money as ``float64``; rows sorted by ``finess`` with a fresh ``RangeIndex``.

    Raises
    ------
    TableError
        Listing every problem (at most :data:`MAX_PROBLEMS`, then a count): missing columns, empty required
        cells, unparseable cells, codes outside their nomenclature, duplicate ``finess``, negative counts or
        amounts, FTE or stations, counts, FTE or amounts beyond their maximum (``config.MAX_COUNT``,
        ``config.MAX_FTE``, ``config.MAX_BUDGET_EUR``), text with a control character (in any column, extra
        columns included) or longer than ``config.MAX_TEXT_LENGTH``,
        ``cyber_spend_eur > it_budget_eur``, ``it_budget_eur > operating_budget_eur``,
        ``medical_fte > staff_fte``, a ``finess_ej`` that is not a FINESS, a GHT on a non-public row, a support
        establishment outside a GHT, two supports in one GHT.

    Examples
    --------
    >>> import pandas as pd
    >>> row = dict(finess="010000024", name="CH A", region="84", department="01", status="public",
    ...            category="ch", ght="ARA-01", ght_support="true", ose="true", beds="300", places="40",
    ...            operating_budget_eur="98000000", it_budget_eur="1666000", cyber_spend_eur="60000", imputed="")
    >>> t = validate_table(pd.DataFrame([row]))
    >>> t.loc[0, "beds"], t.loc[0, "ght_support"], t.loc[0, "had_places"]
    (np.int64(300), np.True_, np.int64(0))
    """
    if not isinstance(df, pd.DataFrame):
        raise TableError(f"{source}: expected a table, found {type(df).__name__}", source=source)
    problems = _Collector(source)
    df = df.reset_index(drop=True)
    columns = [str(c).strip() for c in df.columns]
    for c in columns:
        if _CONTROL_RE.search(c) or len(c) > config.MAX_TEXT_LENGTH:
            problems.table(f"expected a column name of at most {config.MAX_TEXT_LENGTH:,} characters without control "
                           "characters", c)
    dupe_cols = sorted({c for c in columns if columns.count(c) > 1})
    for c in dupe_cols:
        problems.table(f"column appears {columns.count(c)} times; expected once", c)
    df.columns = columns
    if dupe_cols:
        df = df.loc[:, ~pd.Index(columns).duplicated()]
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        found = ", ".join(_label(c) for c in columns[:20]) + (" ..." if len(columns) > 20 else "")
        for c in missing:
            problems.table(f"required column missing (found columns: {found or 'none'})", c)
    n = len(df)
    if n == 0 and not missing:
        problems.table("expected at least one establishment, found a header only")

    out: dict[str, Any] = {}
    for c in TEXT_COLUMNS:
        if c not in df.columns:
            continue
        text, empty = _as_text(df[c])
        if c not in MAY_BE_EMPTY:
            problems.cells_from_mask(c, empty, lambda _p: "expected a value, found an empty cell")
        _check_characters(text, c, problems)
        out[c] = text.array
    _default_text(out, n)
    for c in INT_COLUMNS + FLOAT_COLUMNS + MONEY_COLUMNS:
        if c not in df.columns:
            if c in OPTIONAL_COLUMNS:
                out[c] = np.full(n, OPTIONAL_COLUMNS[c], dtype="int64" if c in INT_COLUMNS else "float64")
            continue
        values, empty, bad = _parse_numbers(df[c])
        optional = c in OPTIONAL_COLUMNS
        raw = df[c]
        kind = ("an integer" if c in INT_COLUMNS else "a number of full-time equivalents" if c in FLOAT_COLUMNS
                else "an amount in euros")
        bad = bad | (~empty & ~np.isfinite(values) & ~np.isnan(values))
        problems.cells_from_mask(c, bad, lambda p, raw=raw, kind=kind: f"expected {kind}, found {_show(raw.iloc[p])}")
        if not optional:
            problems.cells_from_mask(c, empty, lambda _p: "expected a value, found an empty cell")
        if c in INT_COLUMNS:
            fractional = ~empty & ~bad & np.isfinite(values) & (values != np.round(values))
            problems.cells_from_mask(c, fractional, lambda p, raw=raw: f"expected an integer, found {_show(raw.iloc[p])}")
            with np.errstate(invalid="ignore"):
                huge = ~empty & ~bad & ~fractional & np.isfinite(values) & (np.abs(values) > config.MAX_COUNT)
            # before the conversion to int64, which would overflow silently (beds = 2**63 is negative there)
            problems.cells_from_mask(
                c, huge, lambda p, raw=raw: f"expected an integer {_COUNT_RANGE}, found {_show(raw.iloc[p])}")
            ok = np.isfinite(values) & ~fractional & ~huge
            ints = np.where(ok, values, 0 if not optional else OPTIONAL_COLUMNS[c]).astype("int64")
            if optional:
                ints[empty] = OPTIONAL_COLUMNS[c]
            out[c] = ints
        elif optional:
            out[c] = np.where(bad | empty, OPTIONAL_COLUMNS[c], values)
        else:
            out[c] = np.where(bad, np.nan, values)
    for c in BOOL_COLUMNS:
        if c not in df.columns:
            if c in OPTIONAL_COLUMNS:
                out[c] = np.full(n, OPTIONAL_COLUMNS[c], dtype=bool)
            continue
        values, empty, bad = _parse_bools(df[c])
        raw = df[c]
        problems.cells_from_mask(c, bad, lambda p, raw=raw: f"expected true or false, found {_show(raw.iloc[p])}")
        if c in OPTIONAL_COLUMNS:
            values = np.where(empty, OPTIONAL_COLUMNS[c], values)
        else:
            problems.cells_from_mask(c, empty, lambda _p: "expected true or false, found an empty cell")
        out[c] = values.astype(bool)

    for c in df.columns:  # text of the other columns: the same characters refused (they reach the outputs)
        textual = df[c].dtype == object or pd.api.types.is_string_dtype(df[c])
        if c not in out and c not in BOOL_COLUMNS and textual:
            _check_characters(_as_text(df[c])[0], c, problems)
    parsed = pd.DataFrame(out, index=pd.RangeIndex(n))
    _run_schema(parsed, problems)
    _cross_checks(parsed, problems)

    if problems.count():
        count = problems.count()
        raise TableError(
            f"{source}: {count} problem{'s' if count > 1 else ''} in the establishment table",
            problems.problems(), source=source,
        )
    extras = [c for c in df.columns if c not in parsed.columns]
    result = parsed[list(REQUIRED_COLUMNS) + list(OPTIONAL_COLUMNS)]
    if extras:
        result = pd.concat([result, df[extras].reset_index(drop=True)], axis=1)
    del out, parsed
    finess = _arrow(result["finess"])
    order = pc.array_sort_indices(finess).to_numpy()
    if not np.array_equal(order, np.arange(n)):  # tables written by write_table are already sorted
        result = result.iloc[order].reset_index(drop=True)
    for c in TEXT_COLUMNS:  # one column at a time, so that the Arrow copy is freed before the next one
        result[c] = (result[c].astype(object) if c == "finess"
                     else pd.Series(_deduplicated(result[c]), index=result.index, dtype=object))
    return result


def _check_characters(text: pd.Series, column: str, problems: _Collector) -> None:
    """Cells holding a character of :data:`CONTROL_PATTERN` or longer than ``config.MAX_TEXT_LENGTH``, each
    reported with its row and column (the same rule for ``validate`` and ``run``: both read through here)."""
    arrow = _arrow(text)
    control = np.asarray(pc.match_substring_regex(arrow, CONTROL_PATTERN).to_numpy(zero_copy_only=False),
                         dtype=bool)
    if control.any():
        def describe(p: int) -> str:
            value = str(text.iloc[p])
            found = _CONTROL_RE.search(value)
            at = f"U+{ord(found.group()):04X} at character {found.start() + 1}" if found else "a control character"
            return (f"expected text without control characters (an Excel workbook cannot hold them; tab and line "
                    f"breaks are allowed), found {at} in {_show(value)}")
        problems.cells_from_mask(column, control, describe)
    long = np.asarray(pc.greater(pc.utf8_length(arrow), config.MAX_TEXT_LENGTH).to_numpy(zero_copy_only=False),
                      dtype=bool)
    if long.any():
        problems.cells_from_mask(
            column, long, lambda p: f"expected at most {config.MAX_TEXT_LENGTH:,} characters, found "
                                    f"{len(str(text.iloc[p])):,} in {_show(text.iloc[p])}")


def _deduplicated(series: pd.Series) -> np.ndarray:
    """A text column as Python strings, one object per distinct value (codes repeat: 1,000,000 rows hold a few
    thousand names, 18 regions, ...), which keeps a large table's memory down."""
    encoded = pc.dictionary_encode(_arrow(series))
    values = np.array(encoded.dictionary.to_pylist(), dtype=object)
    return values[encoded.indices.to_numpy(zero_copy_only=False)]


def _default_text(out: dict[str, Any], n: int) -> None:
    """``finess_ej`` defaults to the row's own ``finess`` (absent column or empty cell), ``ght_name`` to ``""``."""
    finess = out.get("finess")
    if "finess_ej" in out and finess is not None:
        given = pd.Series(out["finess_ej"], copy=False)
        out["finess_ej"] = given.where(given != "", pd.Series(finess, copy=False)).array
    elif finess is not None:
        out["finess_ej"] = finess
    if "ght_name" not in out:
        out["ght_name"] = pd.array(np.full(n, "", dtype=object), dtype=finess.dtype if finess is not None else None)


def _expected_of(check: str, column: str) -> str:
    col = SCHEMA.columns.get(column)
    if col is not None:
        for chk in col.checks:
            if chk.error and (chk.name == check or check.startswith(chk.name or "\0") or chk.error == check):
                return chk.error
    if check == "field_uniqueness":
        return "a unique finess"
    if check.startswith("not_nullable"):
        return "a value"
    if check.startswith("dtype("):
        return f"type {check[6:-1]}"
    return check


def _run_schema(parsed: pd.DataFrame, problems: _Collector) -> None:
    present = {k: v for k, v in SCHEMA.columns.items() if k in parsed.columns}
    schema = SCHEMA.remove_columns([c for c in SCHEMA.columns if c not in present])
    try:
        schema.validate(parsed, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        for (column, check), group in cases.groupby(["column", "check"], sort=False, dropna=False):
            column = str(column)
            expected = _expected_of(str(check), column)
            positions = group["index"].dropna().astype("int64").to_numpy()
            found = group["failure_case"].to_numpy()
            if len(positions) == 0:
                problems.table(f"expected {expected}, found {_show(found[0]) if len(found) else 'otherwise'}", column)
                continue
            mask = np.zeros(len(parsed), bool)
            mask[positions] = True
            values = parsed[column].to_numpy() if column in parsed else None
            if str(check) == "field_uniqueness":
                finess = parsed["finess"].to_numpy()
                first: dict[str, int] = {}
                for pos in np.sort(positions):
                    first.setdefault(finess[pos], int(pos))
                problems.cells_from_mask(
                    column, mask,
                    lambda p, f=first, v=finess: (
                        f"expected a unique finess, found {_show(v[p])} also on row {f[v[p]] + 2}"
                        if f[v[p]] != p else f"expected a unique finess, found {_show(v[p])} repeated further down"),
                )
            else:
                problems.cells_from_mask(
                    column, mask, lambda p, v=values, e=expected: f"expected {e}, found {_show(v[p])}")


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _cross_checks(parsed: pd.DataFrame, problems: _Collector) -> None:
    cols = parsed.columns
    if {"finess", "finess_ej"} <= set(cols):
        ej = _arrow(pd.Series(parsed["finess_ej"], copy=False))
        own = _arrow(pd.Series(parsed["finess"], copy=False))
        ok = pc.or_(pc.match_substring_regex(ej, f"^{FINESS_PATTERN}$"), pc.equal(ej, own))
        bad = ~np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool)
        if bad.any():
            values = parsed["finess_ej"].to_numpy()
            problems.cells_from_mask(
                "finess_ej", bad, lambda p, v=values: "expected the legal entity's FINESS (9 characters, digits, "
                                                       f"2A/2B allowed first) or an empty cell, found {_show(v[p])}")
    if {"staff_fte", "medical_fte"} <= set(cols):
        staff, medical = parsed["staff_fte"].to_numpy(), parsed["medical_fte"].to_numpy()
        over = (medical > staff + 1e-6) & (staff >= 0)
        for pos in np.flatnonzero(over):  # a bad staff_fte cell is reported once, on its own
            over[pos] = (int(pos), "staff_fte") not in problems.cells
        problems.cells_from_mask(
            "medical_fte", over,
            lambda p: f"expected at most staff_fte ({staff[p]:,.2f}: medical FTE are part of the staff), "
                      f"found {medical[p]:,.2f}")
    for column, ceiling in (("it_budget_eur", "operating_budget_eur"), ("cyber_spend_eur", "it_budget_eur")):
        if {column, ceiling} <= set(cols):
            value, limit = parsed[column].to_numpy(), parsed[ceiling].to_numpy()
            problems.cells_from_mask(
                column, value > limit,
                lambda p, value=value, limit=limit, ceiling=ceiling:
                    f"expected at most {ceiling} ({_money(limit[p])}), found {_money(value[p])}")
    if {"ght", "status"} <= set(cols):
        ght = parsed["ght"].to_numpy(dtype=str)
        status = parsed["status"].to_numpy(dtype=str)
        mask = (ght != "") & (status != "public") & np.isin(status, config.STATUSES)
        problems.cells_from_mask(
            "ght", mask, lambda p: f"expected empty (GHT members are public establishments), found {_show(ght[p])} "
                                   f"on a {status[p]} establishment")
    if {"ght", "ght_support"} <= set(cols):
        ght = parsed["ght"].to_numpy(dtype=str)
        support = parsed["ght_support"].to_numpy(dtype=bool)
        mask = support & (ght == "")
        problems.cells_from_mask(
            "ght_support", mask, lambda _p: "expected false for an establishment outside any GHT, found true")
        if support.any():
            groups = pd.Series(np.flatnonzero(support & (ght != ""))).groupby(ght[support & (ght != "")])
            for code, pos in groups:
                if len(pos) > 1:
                    rows = ", ".join(str(int(p) + 2) for p in pos.to_numpy())
                    extra = np.zeros(len(parsed), bool)
                    extra[pos.to_numpy()[1:]] = True
                    problems.cells_from_mask(
                        "ght_support", extra,
                        lambda _p, code=code, rows=rows: f"expected one support establishment per GHT, found "
                                                         f"{code} supported by rows {rows}")


def pattern_ok(pattern: str, text: str) -> bool:
    """Whether ``text`` fully matches one of the module's code patterns (e.g. :data:`FINESS_PATTERN`)."""
    return re.fullmatch(pattern, text) is not None
