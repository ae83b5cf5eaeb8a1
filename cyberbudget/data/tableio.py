"""Reading and writing table files: CSV (UTF-8 or Latin-1, ``,`` or ``;``), Parquet and Excel.

This is the lowest layer of the establishment table: it turns a file into a DataFrame of strings (CSV, Excel) or
of the file's own types (Parquet) without interpreting any column, and writes a validated table as a
deterministic CSV. Any problem with the file itself (missing, empty, binary, unreadable, wrong delimiter)
raises :class:`TableError` with a message naming the file; cell-level problems are left to
:func:`cyberbudget.data.schema.validate_table`. :mod:`cyberbudget.data.registry` re-exports :func:`read_table` and
:func:`write_table`.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.csv as pacsv

from cyberbudget.errors import TableError

CSV_SUFFIXES = frozenset({".csv", ".txt", ".tsv"})
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
EXCEL_SUFFIXES = frozenset({".xlsx", ".xlsm"})
#: Delimiters recognised in a CSV header line, in order of preference on a tie.
DELIMITERS: tuple[str, ...] = (",", ";", "\t")

_SNIFF_BYTES = 64 * 1024


def _fail(path: Path, message: str) -> TableError:
    return TableError(f"{path}: {message}", source=str(path))


def _kind(path: Path, head: bytes) -> str:
    suffix = path.suffix.lower()
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        return "excel"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in EXCEL_SUFFIXES:
        return "excel"
    if suffix == ".xls" or head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    return "csv"


def _decode_head(head: bytes) -> tuple[str, str]:
    """Pick the encoding from the first bytes: UTF-8 (with or without BOM), else Latin-1 (cp1252)."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig", head[3:].decode("utf-8", errors="ignore")
    try:
        return "utf-8", head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:  # a multi-byte character cut by the sniffing window
            return "utf-8", head[: exc.start].decode("utf-8")
    try:
        return "cp1252", head.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1", head.decode("latin-1")


def _header_delimiter(path: Path, text: str) -> str:
    header = text.splitlines()[0] if text.splitlines() else ""
    counts = {d: 0 for d in DELIMITERS}
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    if counts[best] == 0:
        shown = header if len(header) <= 80 else header[:77] + "..."
        raise _fail(
            path,
            f"cannot find the column delimiter: expected columns separated by ',' or ';' in the header line, "
            f"found {shown!r}",
        )
    return best


def _read_csv(path: Path) -> pd.DataFrame:
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head.strip():
        raise _fail(path, "the file is empty: expected a header line and one row per establishment")
    if b"\x00" in head:
        raise _fail(path, "binary content (NUL bytes): expected a CSV text file, a Parquet file or an .xlsx workbook")
    encoding, text = _decode_head(head)
    control = sum(1 for ch in text if ord(ch) < 32 and ch not in "\r\n\t")
    if control > max(8, len(text) // 100):
        raise _fail(path, "binary content: expected a CSV text file, a Parquet file or an .xlsx workbook")
    sep = _header_delimiter(path, text.lstrip("\ufeff"))
    try:
        df = _read_csv_arrow(path, sep, encoding)
    except UnicodeDecodeError:
        # The sniffing window was UTF-8 but a later byte is not: the file is Latin-1 / cp1252.
        df = _read_csv_arrow(path, sep, "cp1252")
    if df.shape[1] == 1 and len(df.columns) and any(d in str(df.columns[0]) for d in (",", ";", "|", "\t")):
        raise _fail(path, f"the header holds a single column {str(df.columns[0])[:80]!r}: expected columns "
                          f"separated by ',' or ';'")
    df.columns = [str(c).lstrip("\ufeff").strip() for c in df.columns]
    return df


def _read_csv_arrow(path: Path, sep: str, encoding: str) -> pd.DataFrame:
    """Parse with pyarrow (multi-threaded): every column as text, empty cells as ``""``."""
    encodings = [encoding] if encoding != "cp1252" else ["cp1252", "latin-1"]
    last: Exception | None = None
    for enc in encodings:
        try:
            with path.open("rb") as fh:
                first = fh.readline()
            header = next(csv.reader([first.decode("utf-8-sig" if enc.startswith("utf-8") else enc, errors="replace")],
                                     delimiter=sep))
            names = [h.lstrip("\ufeff").strip() for h in header]
            read = pacsv.ReadOptions(encoding="utf8" if enc.startswith("utf-8") else enc, skip_rows=1,
                                     column_names=[f"c{i}" for i in range(len(names))], block_size=1 << 24)
            parse = pacsv.ParseOptions(delimiter=sep, quote_char='"', double_quote=True, newlines_in_values=True,
                                       ignore_empty_lines=True)
            convert = pacsv.ConvertOptions(column_types={f"c{i}": pyarrow.string() for i in range(len(names))},
                                           strings_can_be_null=False, quoted_strings_can_be_null=False)
            table = pacsv.read_csv(path, read_options=read, parse_options=parse, convert_options=convert)
            df = table.to_pandas()
            df.columns = names
            return df
        except UnicodeDecodeError as exc:
            last = exc
            if enc == "utf-8":
                raise
            continue
        except pyarrow.ArrowInvalid as exc:
            message = _short(exc)
            if "UTF8" in message or "utf8" in message or "UTF-8" in message:
                if enc.startswith("utf-8"):
                    raise UnicodeDecodeError("utf-8", b"", 0, 1, message) from None
                last = exc
                continue
            hint = ""
            if sep == "," and "columns" in message:
                hint = ("; a decimal comma in a ','-separated file must be quoted (\"2 500 000,00\"), or separate "
                        "the columns with ';'")
            raise _fail(path, f"cannot read as CSV with delimiter {sep!r} ({message}){hint}") from None
    raise _fail(path, f"cannot decode the text ({_short(last) if last else 'unknown encoding'})")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for corrupt files
        raise _fail(path, f"cannot read as Parquet ({_short(exc)})") from None


def _read_excel(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_excel(path, sheet_name=0, dtype=str, keep_default_na=False, na_filter=False)
    except (zipfile.BadZipFile, ValueError, KeyError, OSError) as exc:
        raise _fail(path, f"cannot read as an Excel workbook ({_short(exc)})") from None
    except Exception as exc:  # openpyxl raises its own exception types for corrupt workbooks
        raise _fail(path, f"cannot read as an Excel workbook ({_short(exc)})") from None
    df.columns = [str(c).strip() for c in df.columns]
    if df.shape[1] == 0:
        raise _fail(path, "the first sheet is empty: expected a header line and one row per establishment")
    return df.astype("str")


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a table file without interpreting its columns.

    Parameters
    ----------
    path : str or PathLike
        A CSV file (UTF-8, with or without BOM, or Latin-1/cp1252; ``,``, ``;`` or tab sniffed from the header
        line), a Parquet file, or an ``.xlsx`` workbook (first sheet). The format is recognised from the
        content's first bytes, then from the suffix.

    Returns
    -------
    DataFrame
        CSV and Excel: every cell a string (``""`` for an empty cell), so that a bad cell is reported by
        validation rather than lost in type conversion. Parquet: the file's own column types.

    Raises
    ------
    TableError
        The file is missing, a directory, empty, binary, an old ``.xls`` workbook, or cannot be parsed.
    """
    path = Path(path)
    if not path.exists():
        raise _fail(path, "file not found")
    if path.is_dir():
        raise _fail(path, "is a directory: expected a CSV, Parquet or .xlsx file")
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise _fail(path, f"cannot open ({exc.strerror})") from None
    kind = _kind(path, head)
    if kind == "xls":
        raise _fail(path, "old Excel .xls format: save it as .xlsx or CSV")
    if kind == "parquet":
        return _read_parquet(path)
    if kind == "excel":
        return _read_excel(path)
    return _read_csv(path)


def _format_column(series: pd.Series, decimals: int | None) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return pd.Series(np.where(series.to_numpy(dtype=bool), "true", "false"), index=series.index)
    if pd.api.types.is_integer_dtype(series):
        return series.astype("int64").astype(str)
    if pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype="float64")
        if decimals is not None:
            text = [f"{v:.{decimals}f}" if np.isfinite(v) else "" for v in values]
        else:
            text = [repr(float(v)) if np.isfinite(v) else "" for v in values]
        return pd.Series(text, index=series.index, dtype=object)
    return series.astype(object).where(series.notna(), "").astype(str)


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str], money_columns: tuple[str, ...] = ()) -> Path:
    """Write ``df`` as a deterministic CSV, atomically (temporary file in the same folder, then rename).

    UTF-8 without BOM, ``,`` delimiter, ``\\n`` line ends, minimal quoting, booleans ``true``/``false``,
    integers as digits, ``money_columns`` with 2 decimals, other floats with Python's shortest round-trip
    representation, missing values as empty cells. The index is not written.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    formatted = pd.DataFrame(
        {c: _format_column(df[c], 2 if c in money_columns else None) for c in df.columns}, index=df.index
    )
    buffer = io.StringIO()
    formatted.to_csv(buffer, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    data = buffer.getvalue().encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
