"""Reading and writing table files: CSV (UTF-8 or Latin-1, ``,`` or ``;``), Parquet and Excel.

This is the lowest layer of the establishment table: it turns a file into a DataFrame of strings (CSV, Excel) or
of the file's own types (Parquet) without interpreting any column, and writes a validated table as a
deterministic CSV. Any problem with the file itself (missing, empty, binary, unreadable, wrong delimiter, too
large) raises :class:`TableError` with a message naming the file (and the row when there is one); cell-level
problems are left to :func:`cyberbudget.data.schema.validate_table`. :mod:`cyberbudget.data.registry` re-exports
:func:`read_table` and :func:`write_table`.

Bounded work for any input: every limit of :mod:`cyberbudget.config` (``MAX_TABLE_BYTES``, ``MAX_TABLE_ROWS``,
``MAX_TABLE_COLUMNS``, ``MAX_TABLE_CELLS``, ``MAX_WORKBOOK_BYTES``, ``MAX_WORKBOOK_RATIO``) is checked *before* the
file is parsed, from what costs little to read:

- CSV: the file size, then one streaming pass over the bytes (NUL bytes, invalid UTF-8, line count) and the
  header line (column count);
- Parquet: the file size, then the footer (rows, columns, values, uncompressed size, encodings); text columns
  are read dictionary-encoded and their decoded size is computed before they are expanded;
- Excel: the file size, the zip's end record and central directory (number of parts, the sum of their
  uncompressed sizes, each part's compression ratio and method), then one streaming XML pass over the first
  sheet (rows, largest row number, largest column) before openpyxl reads it.

A refusal names the file, what was found, the limit and the environment variable that raises it.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import posixpath
import re
import stat
import struct
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cyberbudget import config
from cyberbudget.errors import TableError

CSV_SUFFIXES = frozenset({".csv", ".txt", ".tsv"})
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
EXCEL_SUFFIXES = frozenset({".xlsx", ".xlsm"})
#: Delimiters recognised in a CSV header line, in order of preference on a tie.
DELIMITERS: tuple[str, ...] = (",", ";", "\t")

_SNIFF_BYTES = 64 * 1024
#: Bytes read at a time by the streaming checks.
_CHUNK_BYTES = 16 * 2**20
#: Most parts (files) in an .xlsx zip (a workbook has a few dozen) and the largest central directory.
MAX_WORKBOOK_PARTS: int = 10_000
_MAX_CENTRAL_DIRECTORY = 16 * 2**20
#: Parts smaller than this are not held to :data:`cyberbudget.config.MAX_WORKBOOK_RATIO` (small XML compresses
#: well and cannot grow far).
_RATIO_MIN_BYTES = 2**20


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


def _printable(text: str) -> str:
    """``text`` with control and other unprintable characters escaped (``\\x00``), safe to show on a terminal."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _clip(text: str, limit: int = 80) -> str:
    text = _printable(str(text))
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit:,} more characters)"


def _too_large(path: Path, found: str, limit: config.Limit) -> TableError:
    return _fail(path, f"{found}; {limit.hint()}")


def _check_shape(path: Path, rows: int, columns: int, cells: int | None = None, *,
                 rows_are_lines: bool = False) -> None:
    """Refuse a table with more rows, columns or cells than the limits (counts known before parsing)."""
    max_rows = config.MAX_TABLE_ROWS.value()
    if rows > max_rows:
        what = f"{rows:,} lines after the header" if rows_are_lines else f"{rows:,} rows"
        raise _too_large(path, f"the table has {what}", config.MAX_TABLE_ROWS)
    if columns > config.MAX_TABLE_COLUMNS.value():
        raise _too_large(path, f"the table has {columns:,} columns", config.MAX_TABLE_COLUMNS)
    cells = rows * columns if cells is None else cells
    if cells > config.MAX_TABLE_CELLS.value():
        raise _too_large(path, f"the table has {cells:,} cells ({rows:,} rows x {columns:,} columns)",
                         config.MAX_TABLE_CELLS)


# --------------------------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TextScan:
    """What one streaming pass over a text file found (lines are 1-based; the header is line 1)."""

    lines: int
    invalid_utf8_line: int | None
    utf8_before_invalid: bool


def _scan_text(path: Path) -> _TextScan:
    """One pass over the bytes, :data:`_CHUNK_BYTES` at a time: the first NUL byte (an error naming its line), the
    line count (an error as soon as it exceeds the row limit), and where the text stops being UTF-8."""
    max_lines = config.MAX_TABLE_ROWS.value() + 1
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    invalid: int | None = None
    non_ascii = False
    utf8_before = False
    last = b""
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK_BYTES):
            nul = chunk.find(b"\x00")
            if nul >= 0:
                line = lines + chunk.count(b"\n", 0, nul) + 1
                raise _fail(path, f"binary content (a NUL byte) at row {line:,} (line {line:,} of the file): expected "
                                  "a CSV text file, a Parquet file or an .xlsx workbook")
            if invalid is None and (not chunk.isascii() or decoder.getstate()[0]):
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    at = max(exc.start - pending, 0)
                    invalid = lines + chunk.count(b"\n", 0, at) + 1
                    utf8_before = non_ascii or not chunk[:at].isascii()
                else:
                    non_ascii = True
            lines += chunk.count(b"\n")
            if lines > max_lines:
                raise _too_large(path, f"the table has more than {max_lines - 1:,} lines after the header",
                                 config.MAX_TABLE_ROWS)
            last = chunk[-1:]
    if invalid is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            invalid, utf8_before = lines + 1, non_ascii
    if last and last != b"\n":
        lines += 1
    return _TextScan(lines=lines, invalid_utf8_line=invalid, utf8_before_invalid=utf8_before)


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
    scan = _scan_text(path)
    if scan.invalid_utf8_line is not None:
        if scan.utf8_before_invalid:
            line = scan.invalid_utf8_line
            raise _fail(path, f"invalid text at row {line:,} (line {line:,} of the file): the file is UTF-8 before it "
                              "but this line holds bytes that are not UTF-8 (binary content, or two encodings mixed); "
                              "save the file as UTF-8")
        encoding = "cp1252"  # no UTF-8 character before the first byte that is not UTF-8: Latin-1 / cp1252
    elif encoding not in ("utf-8", "utf-8-sig"):
        encoding = "utf-8"
    df = _read_csv_arrow(path, sep, encoding, rows=max(scan.lines - 1, 0))
    if df.shape[1] == 1 and len(df.columns) and any(d in str(df.columns[0]) for d in (",", ";", "|", "\t")):
        raise _fail(path, f"the header holds a single column {str(df.columns[0])[:80]!r}: expected columns "
                          f"separated by ',' or ';'")
    df.columns = [str(c).lstrip("\ufeff").strip() for c in df.columns]
    return df


def _header_names(path: Path, sep: str, enc: str) -> list[str]:
    with path.open("rb") as fh:
        first = fh.readline(_SNIFF_BYTES * 16 + 1)
    if len(first) > _SNIFF_BYTES * 16:
        raise _fail(path, f"the header line is longer than {_SNIFF_BYTES * 16:,} bytes: expected column names")
    text = first.decode("utf-8-sig" if enc.startswith("utf-8") else enc, errors="replace")
    header = next(csv.reader([text], delimiter=sep), [])
    return [h.lstrip("\ufeff").strip() for h in header]


def _read_csv_arrow(path: Path, sep: str, encoding: str, rows: int = 0) -> pd.DataFrame:
    """Parse with pyarrow (multi-threaded): every column as text, empty cells as ``""``.

    ``rows`` is the number of lines after the header (an upper bound of the rows), checked with the header's
    column count against the limits before parsing.
    """
    encodings = [encoding] if encoding != "cp1252" else ["cp1252", "latin-1"]
    last: Exception | None = None
    for enc in encodings:
        names = _header_names(path, sep, enc)
        _check_shape(path, rows, len(names), rows_are_lines=True)
        try:
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
            located = _locate_parse_error(path, sep, enc, len(names))
            detail = located if located is not None else _clip(message, 200)
            raise _fail(path, f"cannot read as CSV with delimiter {sep!r} ({detail}){hint}") from None
    raise _fail(path, f"cannot decode the text ({_short(last) if last else 'unknown encoding'})")


def _locate_parse_error(path: Path, sep: str, enc: str, columns: int) -> str | None:
    """The first row pyarrow could not read, found again with the ``csv`` module (an error path only, bounded
    by the size limit): ``"row N: expected C columns as in the header, found F"``; ``None`` if not found."""
    codec = "utf-8-sig" if enc.startswith("utf-8") else enc
    with path.open("r", encoding=codec, errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=sep, quotechar='"', doublequote=True)
        try:
            next(reader, None)
            for record in reader:
                if record and len(record) != columns and record != [""]:
                    return (f"row {reader.line_num:,}: expected {columns} columns as in the header, "
                            f"found {len(record)}")
        except csv.Error as exc:
            return f"row {reader.line_num + 1:,}: {_clip(str(exc), 120)}"
    return None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return _printable(text[:200])


# --------------------------------------------------------------------------------------------------------------
# Parquet
# --------------------------------------------------------------------------------------------------------------

_TEXT_TYPES = (pyarrow.types.is_string, pyarrow.types.is_large_string, pyarrow.types.is_binary,
               pyarrow.types.is_large_binary)


def _is_text(kind: pyarrow.DataType) -> bool:
    return any(test(kind) for test in _TEXT_TYPES) or kind == pyarrow.string_view()


def _read_parquet(path: Path) -> pd.DataFrame:
    """Read a Parquet file after checking its footer, keeping text dictionary-encoded until its decoded size is
    known (a few bytes of dictionary index can stand for a very long repeated value)."""
    try:
        parquet = pq.ParquetFile(path)
        meta = parquet.metadata
        schema = parquet.schema_arrow
    except Exception as exc:  # pyarrow raises many types for corrupt files
        raise _fail(path, f"cannot read as Parquet ({_short(exc)})") from None
    values = 0
    uncompressed = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            chunk = group.column(c)
            values += chunk.num_values
            uncompressed += chunk.total_uncompressed_size
            if "DELTA_BYTE_ARRAY" in chunk.encodings:
                raise _fail(path, f"column {_clip(chunk.path_in_schema)} is written with the DELTA_BYTE_ARRAY "
                                  "encoding, which is not read (a value can expand without bound): write the file "
                                  "with the default encodings (pandas.DataFrame.to_parquet)")
    _check_shape(path, meta.num_rows, len(schema.names), cells=max(values, meta.num_rows * len(schema.names)))
    if uncompressed > config.MAX_TABLE_BYTES.value():
        raise _too_large(path, f"the Parquet data has {uncompressed:,} bytes uncompressed", config.MAX_TABLE_BYTES)
    text = [f.name for f in schema if _is_text(f.type)]
    try:
        table = pq.read_table(path, read_dictionary=text or None)
    except Exception as exc:  # pyarrow raises many types for corrupt files
        raise _fail(path, f"cannot read as Parquet ({_short(exc)})") from None
    decoded = 0
    for column in table.columns:
        if pyarrow.types.is_dictionary(column.type) and _is_text(column.type.value_type):
            for chunk in column.chunks:
                lengths = pc.take(pc.binary_length(chunk.dictionary), chunk.indices)
                decoded += pc.sum(lengths).as_py() or 0
    if decoded > config.MAX_TABLE_BYTES.value():
        raise _too_large(path, f"the Parquet table's text has {decoded:,} bytes once decoded", config.MAX_TABLE_BYTES)
    for name in text:
        i = table.schema.get_field_index(name)
        column = table.column(i)
        if pyarrow.types.is_dictionary(column.type):
            plain = pyarrow.chunked_array([c.dictionary_decode() for c in column.chunks], type=column.type.value_type)
            table = table.set_column(i, schema.field(name), plain.cast(schema.field(name).type))
    try:
        return table.to_pandas()
    except Exception as exc:  # an unsupported type, an invalid value
        raise _fail(path, f"cannot read as Parquet ({_short(exc)})") from None


# --------------------------------------------------------------------------------------------------------------
# Excel
# --------------------------------------------------------------------------------------------------------------


class _Stop(Exception):
    """Ends an XML scan early (the answer is known, or a limit is exceeded: ``args[0]`` then says which)."""


_CELL_REF = re.compile(r"([A-Za-z]{1,7})(\d{0,12})")


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - 64
    return index


def _xml_scan(zf: zipfile.ZipFile, member: str, on_start: object) -> None:
    """Stream ``member`` through expat, calling ``on_start(local_name, attributes)`` for each element (names
    without their namespace). A DTD (never in a workbook; the vehicle of entity-expansion bombs) is refused."""
    parser = expat.ParserCreate(namespace_separator="}")

    def start(name: str, attrs: dict[str, str]) -> None:
        on_start(name.rsplit("}", 1)[-1], {k.rsplit("}", 1)[-1]: v for k, v in attrs.items()})  # type: ignore[operator]

    def doctype(*_args: object) -> None:
        raise _Stop("a DTD (<!DOCTYPE ...>), which a workbook never holds")

    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = doctype
    with zf.open(member) as fh:
        while chunk := fh.read(2**20):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)


def _first_sheet(zf: zipfile.ZipFile) -> list[str]:
    """The part of the workbook's first sheet (``xl/workbook.xml`` and its relationships), or every worksheet
    part when that cannot be resolved."""
    names = set(zf.namelist())
    fallback = sorted(n for n in names if re.search(r"(^|/)worksheets/[^/]+\.xml$", n))
    found: dict[str, str] = {}

    def on_sheet(local: str, attrs: dict[str, str]) -> None:
        if local == "sheet" and "id" in attrs:
            found["id"] = attrs["id"]
            raise _Stop

    def on_rel(local: str, attrs: dict[str, str]) -> None:
        if local == "Relationship" and attrs.get("Id") == found.get("id"):
            found["target"] = attrs.get("Target", "")
            raise _Stop

    for member, handler in (("xl/workbook.xml", on_sheet), ("xl/_rels/workbook.xml.rels", on_rel)):
        if member not in names:
            return fallback
        try:
            _xml_scan(zf, member, handler)
        except _Stop as stop:
            if stop.args:
                raise
        except (expat.ExpatError, zipfile.BadZipFile, OSError, EOFError):
            return fallback
    target = found.get("target", "")
    part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
    return [part] if part in names else fallback


def _scan_sheet(path: Path, zf: zipfile.ZipFile, member: str) -> None:
    """Count a sheet's rows and find its largest row number and column, streaming, before openpyxl reads it
    (openpyxl pads every row to the largest column and fills the gaps between row numbers)."""
    max_rows = config.MAX_TABLE_ROWS.value() + 1  # + the header row
    max_columns = config.MAX_TABLE_COLUMNS.value()
    max_cells = config.MAX_TABLE_CELLS.value()
    state = {"rows": 0, "row": 0, "col": 0, "max_col": 0}

    def on_start(local: str, attrs: dict[str, str]) -> None:
        if local == "row":
            state["rows"] += 1
            r = attrs.get("r")
            if r is not None and not (r.isdigit() and len(r) <= 12):
                raise _Stop(f"a row number {_clip(r, 20)!r} that is not a number")
            state["row"] = int(r) if r is not None else state["row"] + 1
            state["col"] = 0
            if state["rows"] > max_rows:
                raise _Stop(("rows", state["rows"]))
            if state["row"] > max_rows:
                raise _Stop(("row_number", state["row"]))
        elif local == "c":
            r = attrs.get("r")
            if r is not None:
                match = _CELL_REF.fullmatch(r)
                if match is None:
                    raise _Stop(f"a cell reference {_clip(r, 20)!r} that is not a cell reference")
                state["col"] = _column_index(match.group(1))
            else:
                state["col"] += 1
            if state["col"] > max_columns:
                raise _Stop(("columns", state["col"]))
            if state["col"] > state["max_col"]:
                state["max_col"] = state["col"]
                if state["row"] * state["max_col"] > max_cells:
                    raise _Stop(("cells", state["row"] * state["max_col"]))

    try:
        _xml_scan(zf, member, on_start)
    except _Stop as stop:
        what = stop.args[0] if stop.args else None
        if isinstance(what, tuple):
            kind, count = what
            limit = {"rows": config.MAX_TABLE_ROWS, "row_number": config.MAX_TABLE_ROWS,
                     "columns": config.MAX_TABLE_COLUMNS, "cells": config.MAX_TABLE_CELLS}[kind]
            found = {"rows": f"the first sheet has more than {max_rows - 1:,} rows after the header",
                     "row_number": f"the first sheet has a row numbered {count:,}",
                     "columns": f"the first sheet has a cell in column {count:,}",
                     "cells": f"the first sheet spans more than {max_cells:,} cells"}[kind]
            raise _too_large(path, found, limit) from None
        raise _fail(path, f"cannot read as an Excel workbook (sheet {_clip(member)} holds {what})") from None
    except (expat.ExpatError, zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise _fail(path, f"cannot read as an Excel workbook (sheet {_clip(member)}: {_short(exc)})") from None


def _zip_end_record(path: Path, size: int) -> tuple[int, int]:
    """``(number of parts, size of the central directory)`` from the zip's end record, read from the last
    64 KiB of the file, before :mod:`zipfile` loads the directory."""
    with path.open("rb") as fh:
        fh.seek(max(0, size - (22 + 65_535)))
        tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise _fail(path, "cannot read as an Excel workbook (no zip end record: the file is truncated or not an "
                          ".xlsx workbook)")
    parts, directory = struct.unpack_from("<HI", tail, at + 10)
    return parts, directory


def _check_workbook(path: Path, size: int) -> None:
    """Check an .xlsx workbook's zip directory and first sheet against the limits, before openpyxl reads it."""
    parts, directory = _zip_end_record(path, size)
    if parts == 0xFFFF or directory == 0xFFFFFFFF:
        raise _fail(path, "cannot read as an Excel workbook (a ZIP64 archive: an .xlsx table is far smaller)")
    if parts > MAX_WORKBOOK_PARTS or directory > _MAX_CENTRAL_DIRECTORY:
        raise _fail(path, f"cannot read as an Excel workbook (the zip holds {parts:,} parts in a directory of "
                          f"{directory:,} bytes; a workbook holds a few dozen)")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_WORKBOOK_PARTS:
                raise _fail(path, f"cannot read as an Excel workbook (the zip holds {len(infos):,} parts)")
            total = sum(info.file_size for info in infos)
            if total > config.MAX_WORKBOOK_BYTES.value():
                raise _too_large(path, f"the workbook expands to {total:,} bytes once uncompressed (from {size:,})",
                                 config.MAX_WORKBOOK_BYTES)
            ratio = config.MAX_WORKBOOK_RATIO.value()
            for info in infos:
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise _fail(path, f"cannot read as an Excel workbook (part {_clip(info.filename)} is compressed "
                                      f"with method {info.compress_type}; a workbook uses deflate)")
                packed = max(info.compress_size, 1)
                if info.file_size >= _RATIO_MIN_BYTES and info.file_size > ratio * packed:
                    raise _too_large(
                        path, f"part {_clip(info.filename)} of the workbook expands {info.file_size / packed:,.0f} "
                              f"times (from {info.compress_size:,} to {info.file_size:,} bytes)",
                        config.MAX_WORKBOOK_RATIO)
            for member in _first_sheet(zf):
                _scan_sheet(path, zf, member)
    except TableError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, KeyError) as exc:
        raise _fail(path, f"cannot read as an Excel workbook ({_short(exc)})") from None


def _read_excel(path: Path, size: int) -> pd.DataFrame:
    _check_workbook(path, size)
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
    """Read a table file without interpreting its columns, with bounded work whatever the file holds.

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
        The file is missing, a directory or a special file, empty, binary (a NUL byte anywhere, or text that
        stops being UTF-8, named by its row), an old ``.xls`` workbook, cannot be parsed (the first bad row
        named), or exceeds a limit of :mod:`cyberbudget.config` — ``MAX_TABLE_BYTES`` (file size, and a Parquet
        table's decoded text), ``MAX_TABLE_ROWS``, ``MAX_TABLE_COLUMNS``, ``MAX_TABLE_CELLS``, and for a
        workbook ``MAX_WORKBOOK_BYTES`` (uncompressed) and ``MAX_WORKBOOK_RATIO`` — all checked before parsing;
        the message names the limit and its environment variable.
    """
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise _fail(path, "file not found") from None
    except OSError as exc:
        raise _fail(path, f"cannot open ({exc.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise _fail(path, "is a directory: expected a CSV, Parquet or .xlsx file")
    if not stat.S_ISREG(info.st_mode):
        raise _fail(path, "is not a regular file (a device, pipe or socket): expected a CSV, Parquet or .xlsx file")
    if info.st_size > config.MAX_TABLE_BYTES.value():
        raise _too_large(path, f"the file has {info.st_size:,} bytes", config.MAX_TABLE_BYTES)
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise _fail(path, f"cannot open ({exc.strerror})") from None
    kind = _kind(path, head)
    if kind == "xls":
        raise _fail(path, "old Excel .xls format: save it as .xlsx or CSV")
    if kind == "parquet":
        df = _read_parquet(path)
    elif kind == "excel":
        df = _read_excel(path, info.st_size)
    else:
        df = _read_csv(path)
    _check_shape(path, len(df), df.shape[1])
    return df


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
