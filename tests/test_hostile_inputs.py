"""Hostile and extreme inputs (issue 14, the input half): bounded work for any scenario or table file.

A scenario or table file may come from anyone (a ministry forwards them). Whatever it holds, reading it must
end in seconds and well under 1 GiB of memory, with either a valid input or one clear message (exit 2) naming
the file and the row, column or key, and the limit with the environment variable that raises it - never a
crash, a hang or a quote of another file's content.

The bounds are measured here, not assumed: the bombs run in a subprocess whose address space is capped
(``RLIMIT_AS``) and whose wall time is bounded generously (a refusal takes a few seconds; the code before these
limits took minutes and gigabytes on the same files).
"""

from __future__ import annotations

import os
import resource
import shutil
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pandas as pd
import pytest

from cyberbudget import config
from cyberbudget.data.registry import load_establishments, read_table
from cyberbudget.data.schema import validate_table
from cyberbudget.errors import OptionError, ScenarioError, TableError
from cyberbudget.policy.scenario import load_scenario

CLI = [sys.executable, "-m", "cyberbudget.cli"]
#: Address space allowed to a subprocess reading a bomb: the command with all its imports runs in less.
ADDRESS_SPACE = 1024 * 2**20
#: Wall time allowed to such a subprocess; a refusal takes 2-5 s on a loaded 2-core machine.
SECONDS = 20
MINIMAL = "name: hostile\nenvelope:\n  total_eur: 350000000\n"


def cyberbudget(*args: str | Path, env: dict[str, str] | None = None, limit_memory: bool = False,
                timeout: float = 300) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the command line; returns the process and its wall time. With ``limit_memory``, the process cannot
    map more than :data:`ADDRESS_SPACE` bytes (an allocation beyond fails, and the command exits 1, not 2)."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    start = time.perf_counter()
    proc = subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, cwd=config.ROOT, timeout=timeout,
        env={**os.environ, "CYBERBUDGET_DEBUG": "", **(env or {})}, preexec_fn=cap if limit_memory else None,
    )
    return proc, time.perf_counter() - start


def assert_refused(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit 2, one short message on stderr naming what it should, no traceback, nothing unprintable."""
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(proc.stderr) < 3000, proc.stderr[:3000]
    assert not any(ch in proc.stderr for ch in "\x00\x1b\x07\x9b"), repr(proc.stderr[:500])
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr


# ==============================================================================================================
# Scenario files
# ==============================================================================================================

def alias_bomb(path: Path) -> Path:
    """430 bytes of YAML: 9 lists of 9 aliases to the list before, nested 9 deep - 9**9 = 387,420,489 strings
    once expanded (the "billion laughs")."""
    lines = ["name: bomb", "envelope: {total_eur: 1}", "a: &a [l,l,l,l,l,l,l,l,l]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
    lines.append("description: *i")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_alias_bomb_is_refused_in_seconds_within_1_gib(tmp_path):
    bomb = alias_bomb(tmp_path / "bomb.yaml")
    assert bomb.stat().st_size <= 430
    proc, seconds = cyberbudget("run", bomb, "--out", tmp_path / "out", limit_memory=True, timeout=120)
    assert_refused(proc, "bomb.yaml", "aliases", "CYBERBUDGET_MAX_SCENARIO_NODES")
    assert seconds < SECONDS
    assert not (tmp_path / "out").exists()


def test_a_recursive_alias_and_deep_nesting_are_refused(tmp_path):
    recursive = tmp_path / "loop.yaml"
    recursive.write_text(MINIMAL + "x: &x [*x]\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"loop\.yaml: .*recursive"):
        load_scenario(recursive)
    deep = tmp_path / "deep.yaml"
    deep.write_text(MINIMAL + "description: " + "[" * 3000 + "]" * 3000 + "\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"deep\.yaml: not valid YAML \(nested too deeply\)|deep\.yaml: .*deep"):
        load_scenario(deep)


def test_a_scenario_over_the_size_limit_is_refused_before_parsing(tmp_path, monkeypatch):
    path = tmp_path / "large.yaml"
    path.write_text(MINIMAL + f"description: \"{'x' * 5000}\"\n", encoding="utf-8")
    monkeypatch.setenv("CYBERBUDGET_MAX_SCENARIO_BYTES", "4096")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "large.yaml" in message and f"{path.stat().st_size:,} bytes" in message
    assert "4,096 bytes" in message and "CYBERBUDGET_MAX_SCENARIO_BYTES" in message


def test_a_huge_key_or_value_is_truncated_in_the_message(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text(MINIMAL + f"seed: \"{'7' * 200_000}\"\n" + "allocation:\n  " + "k" * 900 + ": 1\n"
                    + f"extends_typo: \"{'v' * 200_000}\"\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "huge.yaml: seed" in message and "huge.yaml: allocation.kkk" in message
    assert len(message) < 3000


@pytest.mark.parametrize(
    ("yaml_text", "key_path", "limit"),
    [
        ("envelope: {total_eur: 10000000000000}", "envelope.total_eur", "1,000,000,000,000 euros"),
        ("envelope: {total_eur: 1, years: [" + ", ".join(str(2000 + i) for i in range(51)) + "]}",
         "envelope.years", "at most 50 items"),
        ("envelope: {total_eur: 1, years: [2021, 99999]}", "envelope.years.1", "between 1900 and 2200"),
        ("envelope: {total_eur: 1}\ndescription: \"" + "d" * 10_001 + "\"", "description", "at most 10,000 characters"),
        ("envelope: {total_eur: 1}\nallocation: {cap_eur: 2000000000000}", "allocation.cap_eur",
         "1,000,000,000,000 euros"),
        ("envelope: {total_eur: 1}\nseed: 100000000000000000000000", "seed", "2**64 - 1"),
        ("envelope: {total_eur: 1}\nallocation: {tiers: [" + ", ".join(["ose"] * 101) + "]}", "allocation.tiers",
         "at most 100 items"),
        ("envelope: {total_eur: 1}\nrisk: {frequency_scale: 1.0e+300}", "risk.frequency_scale", "at most 1e+15"),
    ],
    ids=["envelope", "years", "year", "description", "cap", "seed", "tiers", "number"],
)
def test_scenario_maxima_are_named_with_their_key_path(tmp_path, yaml_text, key_path, limit):
    path = tmp_path / "big.yaml"
    path.write_text("name: big\n" + yaml_text + "\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert any(p.where == f"{path}: {key_path}" and limit in p.message for p in info.value.problems), \
        str(info.value)[:2000]


def test_a_name_longer_than_64_characters_is_refused():
    with pytest.raises(ScenarioError, match="name: expected at most 64 characters, found 65"):
        load_scenario({"name": "n" * 65, "envelope": {"total_eur": 1}})


SECRET = "root:x:0:0:SECRET-TOKEN-4242:/root:/bin/bash"


@pytest.mark.parametrize("kind", ["path", "link", "foreign_yaml", "not_yaml"])
def test_extends_reads_only_scenario_files_and_never_echoes_another_file(tmp_path, kind):
    secret = tmp_path / "passwd"
    secret.write_text(SECRET + "\ndaemon:x:1:1:" + SECRET + "\n", encoding="utf-8")
    ref = {"path": str(secret), "link": "link.yaml", "foreign_yaml": "secrets.yaml", "not_yaml": "notes.yaml"}[kind]
    (tmp_path / "link.yaml").symlink_to(secret)
    (tmp_path / "secrets.yaml").write_text(f"password: x\nseed: \"{SECRET}\"\n", encoding="utf-8")
    (tmp_path / "notes.yaml").write_text(SECRET + "\n  bad: [" + SECRET + "\n", encoding="utf-8")
    child = tmp_path / "child.yaml"
    child.write_text(f"extends: {ref}\n" + MINIMAL, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(child)
    message = str(info.value)
    assert "SECRET-TOKEN" not in message and "root:x" not in message
    assert "extends" in message or "not valid YAML" in message


def test_extends_still_reads_scenarios_by_name_and_by_yaml_path(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yaml").write_text("name: b\nenvelope: {total_eur: 5}\n", encoding="utf-8")
    (tmp_path / "a.yaml").write_text("extends: sub/b.yaml\nname: a\n", encoding="utf-8")
    assert load_scenario(tmp_path / "a.yaml").envelope.total_eur == 5
    (tmp_path / "c.yaml").write_text("extends: baseline\nname: c\n", encoding="utf-8")
    assert load_scenario(tmp_path / "c.yaml").envelope.total_eur == 350_000_000


# ==============================================================================================================
# Tables: size, rows, columns, workbooks, Parquet
# ==============================================================================================================

def default_csv_bytes() -> bytes:
    return config.DEFAULT_TABLE.read_bytes()


def test_a_csv_over_the_size_limit_is_refused_by_the_limit(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(default_csv_bytes())
    proc, _ = cyberbudget("validate", path, env={"CYBERBUDGET_MAX_TABLE_BYTES": "100000"})
    assert_refused(proc, "big.csv", f"{path.stat().st_size:,} bytes", "100,000 bytes",
                   "CYBERBUDGET_MAX_TABLE_BYTES")
    assert cyberbudget("validate", path)[0].returncode == 0  # the default limit lets it through


def test_rows_columns_and_cells_limits_apply_to_csv(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    path.write_bytes(default_csv_bytes())
    monkeypatch.setenv("CYBERBUDGET_MAX_TABLE_ROWS", "1000")
    with pytest.raises(TableError, match=r"t\.csv: the table has more than 1,000 lines .*CYBERBUDGET_MAX_TABLE_ROWS"):
        read_table(path)
    monkeypatch.delenv("CYBERBUDGET_MAX_TABLE_ROWS")
    monkeypatch.setenv("CYBERBUDGET_MAX_TABLE_COLUMNS", "10")
    with pytest.raises(TableError, match=r"t\.csv: the table has 23 columns; .*CYBERBUDGET_MAX_TABLE_COLUMNS"):
        read_table(path)
    monkeypatch.delenv("CYBERBUDGET_MAX_TABLE_COLUMNS")
    monkeypatch.setenv("CYBERBUDGET_MAX_TABLE_CELLS", "50000")
    with pytest.raises(TableError, match=r"CYBERBUDGET_MAX_TABLE_CELLS"):
        read_table(path)


def test_a_bad_limit_value_is_bad_input(tmp_path, monkeypatch):
    monkeypatch.setenv("CYBERBUDGET_MAX_TABLE_BYTES", "lots")
    with pytest.raises(OptionError, match="CYBERBUDGET_MAX_TABLE_BYTES: expected a positive whole number"):
        read_table(config.DEFAULT_TABLE)


def test_parquet_rows_and_decoded_text_are_bounded(tmp_path, monkeypatch):
    """A Parquet file stores a repeated value once (dictionary encoding): 20,000 rows of one 1,000-character
    name is a 30 KB file holding 20 MB of text once decoded - refused before it is decoded."""
    table = load_establishments().head(20).copy()
    big = pd.concat([table] * 1000, ignore_index=True)
    big["finess"] = [f"{i:09d}" for i in range(len(big))]
    big["name"] = "N" * 1000
    path = tmp_path / "t.parquet"
    big.to_parquet(path, index=False)
    assert path.stat().st_size < 200_000
    monkeypatch.setenv("CYBERBUDGET_MAX_TABLE_BYTES", str(5 * 2**20))
    with pytest.raises(TableError, match=r"t\.parquet: the Parquet table's text has .* once decoded; .*"
                                         r"CYBERBUDGET_MAX_TABLE_BYTES"):
        read_table(path)
    monkeypatch.delenv("CYBERBUDGET_MAX_TABLE_BYTES")
    monkeypatch.setenv("CYBERBUDGET_MAX_TABLE_ROWS", "10000")
    with pytest.raises(TableError, match=r"t\.parquet: the table has 20,000 rows; .*CYBERBUDGET_MAX_TABLE_ROWS"):
        read_table(path)


def test_parquet_still_reads_as_pandas_does(tmp_path):
    table = load_establishments()
    path = tmp_path / "t.parquet"
    table.to_parquet(path, index=False)
    pd.testing.assert_frame_equal(read_table(path), pd.read_parquet(path))


# ---- workbooks: built byte by byte, so that the zip can say what a hostile one says ---------------------------

def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def _zip(parts: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip of ``(name, deflated data, crc, uncompressed size)`` parts, as a writer (or an attacker) lays it."""
    out, central = bytearray(), bytearray()
    for name, data, crc, size in parts:
        offset, encoded = len(out), name.encode()
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(encoded), 0)
        out += encoded + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(data), size,
                               len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts), len(central), len(out), 0)
    return bytes(out + central + end)


_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_FRAME = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships'
        '+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
        'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.worksheet+xml"/></Types>'),
    "_rels/.rels": (f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
                    f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
    "xl/workbook.xml": (f'<?xml version="1.0" encoding="UTF-8"?><workbook {_NS} xmlns:r="{_REL}"><sheets><sheet '
                        'name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'),
    "xl/_rels/workbook.xml.rels": (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
        f'Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'),
}


def workbook(path: Path, sheet_parts: list[tuple[bytes, int]]) -> Path:
    """An .xlsx whose first sheet is the concatenation of ``(bytes, repeat)`` pieces. Each piece is deflated once
    and its output repeated (a full flush makes each copy independent), so a 1 MB file can declare and hold 1 GB."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream, size, crc = bytearray(), 0, 0
    for piece, repeat in sheet_parts:
        unit = c.compress(piece) + c.flush(zlib.Z_FULL_FLUSH)
        stream += unit * repeat
        size += len(piece) * repeat
        for _ in range(repeat if size <= 2**26 else 0):
            crc = zlib.crc32(piece, crc)
    if size > 2**26:
        crc = 0  # a bomb's CRC would be checked only after inflating it all
    stream += c.flush()
    parts = [(name, _deflate(text.encode()), zlib.crc32(text.encode()), len(text.encode()))
             for name, text in _FRAME.items()]
    parts.append(("xl/worksheets/sheet1.xml", bytes(stream), crc, size))
    path.write_bytes(_zip(parts))
    return path


def _row(*cells: str, r: str = "") -> bytes:
    attr = f' r="{r}"' if r else ""
    inner = "".join(f'<c t="inlineStr"><is><t>{c}</t></is></c>' for c in cells)
    return f"<row{attr}>{inner}</row>".encode()


def test_the_test_workbooks_are_real_workbooks(tmp_path):
    """The byte-level builder makes workbooks that openpyxl reads (so the refusals below are not parse errors)."""
    path = workbook(tmp_path / "ok.xlsx", [(f"<worksheet {_NS}><sheetData>".encode(), 1),
                                           (_row("finess", "name"), 1), (_row("010000024", "CH A"), 1),
                                           (b"</sheetData></worksheet>", 1)])
    assert read_table(path).to_dict("list") == {"finess": ["010000024"], "name": ["CH A"]}


def test_a_workbook_bomb_is_refused_in_seconds_within_1_gib(tmp_path):
    """About 1 MB on disk, 1 GiB once inflated: rows of one cell of 1 MiB of the same letter."""
    cell = _row("A" * 2**20)
    path = workbook(tmp_path / "bomb.xlsx", [(f"<worksheet {_NS}><sheetData>".encode(), 1),
                                             (_row("finess", "name"), 1), (cell, 1024),
                                             (b"</sheetData></worksheet>", 1)])
    assert path.stat().st_size < 2 * 2**20
    proc, seconds = cyberbudget("validate", path, limit_memory=True, timeout=120)
    assert_refused(proc, "bomb.xlsx", "once uncompressed", "CYBERBUDGET_MAX_WORKBOOK_BYTES")
    assert seconds < SECONDS


@pytest.mark.parametrize(
    ("pieces", "env", "fragment"),
    [
        # 1,500 rows when 1,000 are allowed: counted while streaming, before openpyxl
        ([(_row("finess"), 1), (_row("010000024"), 1500)], {"CYBERBUDGET_MAX_TABLE_ROWS": "1000"},
         "more than 1,000 rows after the header; the limit is 1,000 rows"),
        # one row numbered 1,000,000,000: openpyxl would yield a billion empty rows before it
        ([(_row("finess"), 1), (_row("x", r="1000000000"), 1)], {},
         "a row numbered 1,000,000,000; the limit is 2,000,000 rows"),
        # one cell in column XFD (16,384): openpyxl pads every row to it
        ([(_row("finess"), 1), (b'<row><c r="XFD2" t="inlineStr"><is><t>x</t></is></c></row>', 1)], {},
         "column 16,384"),
        # a part that inflates 1,000 times: refused by the ratio even under the size limit
        ([(_row("finess"), 1), (_row("A" * 2**20), 3)], {"CYBERBUDGET_MAX_WORKBOOK_RATIO": "100"},
         "CYBERBUDGET_MAX_WORKBOOK_RATIO"),
    ],
    ids=["rows", "row-number", "column", "ratio"],
)
def test_workbook_shapes_are_checked_before_parsing(tmp_path, monkeypatch, pieces, env, fragment):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    path = workbook(tmp_path / "w.xlsx", [(f"<worksheet {_NS}><sheetData>".encode(), 1), *pieces,
                                          (b"</sheetData></worksheet>", 1)])
    start = time.perf_counter()
    with pytest.raises(TableError) as info:
        read_table(path)
    assert time.perf_counter() - start < SECONDS
    assert str(info.value).startswith(f"{path}: ") and fragment in str(info.value), str(info.value)


def test_a_workbook_with_a_dtd_is_refused(tmp_path):
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
              + f"<worksheet {_NS}><sheetData>".encode())
    path = workbook(tmp_path / "dtd.xlsx", [(laughs, 1), (_row("&lol2;"), 1), (b"</sheetData></worksheet>", 1)])
    with pytest.raises(TableError, match=r"dtd\.xlsx: cannot read as an Excel workbook .*DTD"):
        read_table(path)


# ==============================================================================================================
# Binary content anywhere in a text table
# ==============================================================================================================

def _with_line(n: int, edit) -> bytes:
    """The default table with line ``n`` (1-based; the header is line 1) replaced by ``edit(line)``, far beyond
    the first 64 KB."""
    lines = default_csv_bytes().split(b"\n")
    lines[n - 1] = edit(lines[n - 1])
    data = b"\n".join(lines)
    assert data.index(lines[n - 1]) > 64 * 1024
    return data


def _cell(index: int, value: bytes):
    def edit(line: bytes) -> bytes:
        cells = line.split(b",")
        cells[index] = value
        return b",".join(cells)
    return edit


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (_cell(1, b"CH \x00 NUL"), "binary content (a NUL byte) at row 1,501"),
        (lambda _line: b"\x00" * 300, "binary content (a NUL byte) at row 1,501"),
        (_cell(1, b"CH \xff\xfe\x81"), "invalid text at row 1,501"),
        (lambda _line: bytes(range(1, 256)).replace(b"\n", b"") * 3, "at row 1,501"),
        (lambda _line: bytes(range(1, 128)).replace(b"\n", b"").replace(b",", b"") * 3, "row 1,501"),
    ],
    ids=["nul-in-cell", "nul-line", "invalid-utf8", "binary-line", "control-line"],
)
def test_binary_content_after_64_kb_is_a_clean_error_naming_the_row(tmp_path, edit, fragment):
    path = tmp_path / "late.csv"
    path.write_bytes(_with_line(1501, edit))
    proc, _ = cyberbudget("validate", path)
    assert_refused(proc, "late.csv", fragment)


def test_a_latin1_file_whose_first_accent_is_late_still_reads(tmp_path):
    """No UTF-8 character before the first byte that is not UTF-8: the file is Latin-1 (as before)."""
    df = read_table(config.DEFAULT_TABLE)
    df["name"] = "CH " + df["finess"]
    df["ght_name"] = df["ght"]
    df.loc[len(df) - 1, "name"] = "Hôpital Sainte-Thérèse"
    path = tmp_path / "latin1.csv"
    df.to_csv(path, index=False, sep=";", encoding="cp1252", lineterminator="\n")
    assert path.read_bytes().index("ô".encode("cp1252")) > 64 * 1024
    assert load_establishments(path)["name"].eq("Hôpital Sainte-Thérèse").sum() == 1


# ==============================================================================================================
# Control characters: the same rule for validate and run
# ==============================================================================================================

@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x7f", "\x9b", "\ufffe"])
@pytest.mark.parametrize("column", ["name", "ght_name", "notes"])
def test_control_characters_in_text_cells_are_refused_with_row_and_column(small_table_raw, char, column):
    df = small_table_raw.copy()
    df["ght_name"] = ""
    df["notes"] = "ok"
    df.loc[3, column] = f"A{char}B"
    with pytest.raises(TableError) as info:
        validate_table(df, source="t.csv")
    assert any(p.where == f"t.csv, row 5, column {column}" and f"U+{ord(char):04X}" in p.message
               for p in info.value.problems), str(info.value)


def test_a_hostile_column_name_is_refused_and_shown_escaped_and_cut(small_table_raw):
    df = small_table_raw.copy()
    df["\x1b[2J" + "x" * 5000] = "1"
    with pytest.raises(TableError) as info:
        validate_table(df, source="t.csv")
    message = str(info.value)
    assert "without control characters" in message and "\x1b" not in message and len(message) < 1000


def test_tabs_and_line_breaks_inside_text_are_allowed(small_table_raw):
    df = small_table_raw.copy()
    df.loc[3, "name"] = "Centre\thospitalier\nde Gamma"
    assert "Centre\thospitalier\nde Gamma" in set(validate_table(df)["name"])


def test_a_text_cell_is_at_most_1000_characters(small_table_raw):
    df = small_table_raw.copy()
    df.loc[0, "name"] = "N" * 1001
    with pytest.raises(TableError, match="row 2, column name: expected at most 1,000 characters, found 1,001"):
        validate_table(df)


@pytest.fixture
def control_table(tmp_path) -> Path:
    path = tmp_path / "ctrl.csv"
    path.write_bytes(_with_line(1501, _cell(1, b"CH \x1b[31m rouge")))
    return path


def test_validate_refuses_a_control_character_with_row_and_column(control_table):
    proc, _ = cyberbudget("validate", control_table)
    assert_refused(proc, "ctrl.csv, row 1501, column name", "U+001B")


def test_run_refuses_the_same_table_with_the_same_message(tmp_path, control_table):
    """Before: ``validate`` accepted the table and ``run`` crashed (exit 1) writing the workbook's
    establishment sheet. Now both read it through the same schema."""
    scenario = tmp_path / "estab.yaml"
    scenario.write_text("name: estab\ndisclosure: establishment\nenvelope: {total_eur: 350000000}\n",
                        encoding="utf-8")
    proc, _ = cyberbudget("run", scenario, "--data", control_table, "--out", tmp_path / "out")
    assert_refused(proc, "ctrl.csv, row 1501, column name", "U+001B")
    assert not (tmp_path / "out" / "estab").exists()


# ==============================================================================================================
# Magnitudes
# ==============================================================================================================

@pytest.mark.parametrize(
    ("column", "value", "limit"),
    [
        ("beds", str(2**62), "from 0 to 1,000,000"),
        ("places", "1e30", "from 0 to 1,000,000"),
        ("had_places", "1000001", "from 0 to 1,000,000"),
        ("operating_budget_eur", "1e12", "at most 100,000,000,000 euros"),
        ("it_budget_eur", "200000000000", "at most 100,000,000,000 euros"),
        ("staff_fte", "2e6", "at most 1,000,000"),
    ],
)
def test_magnitudes_are_bounded_with_the_limit_named(small_table_raw, column, value, limit):
    df = small_table_raw.copy()
    df["staff_fte"] = "10"
    df.loc[0, column] = value
    with pytest.raises(TableError) as info:
        validate_table(df, source="t.csv")
    assert any(p.where == f"t.csv, row 2, column {column}" and limit in p.message
               for p in info.value.problems), str(info.value)


def test_typed_huge_counts_do_not_overflow(small_table):
    df = small_table.copy()
    df.loc[0, "beds"] = 2**62
    with pytest.raises(TableError, match="column beds: expected an integer from 0 to 1,000,000"):
        validate_table(df)


def test_the_largest_allowed_figures_still_validate(small_table):
    df = small_table.copy()
    df.loc[0, ["beds", "places"]] = config.MAX_COUNT
    df.loc[0, ["operating_budget_eur", "it_budget_eur"]] = config.MAX_BUDGET_EUR
    assert validate_table(df).loc[lambda t: t["beds"] == config.MAX_COUNT, "places"].tolist() == [config.MAX_COUNT]


# ==============================================================================================================
# Output folder: refused before any work
# ==============================================================================================================

def _immutable_folder(tmp_path: Path) -> Path | None:
    """A folder in which nobody, root included, can create anything: ``chattr +i`` (root ignores permission
    bits, so ``chmod`` would not do); None where the file system or the sandbox does not allow it."""
    folder = tmp_path / "immutable"
    folder.mkdir()
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode != 0:
        return None
    return folder


def test_an_unwritable_output_folder_is_refused_before_any_work(tmp_path):
    from cyberbudget.paths import check_writable_dir

    a_file = tmp_path / "file.txt"
    a_file.write_text("x", encoding="utf-8")
    cases = {
        "a file": (a_file, "it is a file"),
        "inside a file": (a_file / "reports", "is a file, not a folder"),
        "a name too long": (tmp_path / ("n" * 300), "too long"),
        "a read-only location": (Path("/proc/cyberbudget-reports"), "cannot write the output folder there"),
    }
    for label, (path, fragment) in cases.items():
        with pytest.raises(OptionError) as info:
            check_writable_dir(path)
        assert str(path)[:60] in str(info.value) and fragment in str(info.value), (label, str(info.value))
    folder = _immutable_folder(tmp_path)
    if folder is not None:
        try:
            for path in (folder, folder / "reports"):
                with pytest.raises(OptionError, match="cannot write the output folder there"):
                    check_writable_dir(path)
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        with pytest.raises(OptionError, match="permission denied"):
            check_writable_dir(locked / "reports")


def test_a_writable_output_folder_passes_and_nothing_is_left_behind(tmp_path):
    from cyberbudget.paths import check_writable_dir

    check_writable_dir(tmp_path)
    check_writable_dir(tmp_path / "reports" / "2025")
    assert list(tmp_path.iterdir()) == []


def test_every_limit_is_in_the_readme_with_its_default_and_variable():
    """Each limit has a default and an environment variable, and the README's table names both."""
    readme = (config.ROOT / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[-2].strip(" `"): line for line in readme.splitlines() if "CYBERBUDGET_MAX_" in line
            and line.startswith("|")}
    for limit in config.LIMITS.values():
        assert limit.env in rows, limit.env
        default = limit.default
        shown = (f"{default // 2**20} MiB" if limit.what == "bytes" and default % 2**20 == 0 else f"{default:,}")
        assert f"| {shown} |" in rows[limit.env], (limit.env, shown)
