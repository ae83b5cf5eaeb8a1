"""Published files carry data, never code (issue 14, the output half: injection).

Reports travel: a ministry forwards ``report.html`` and ``allocation.xlsx`` outside. Whatever a scenario or a table
holds — a ``description`` with an ``<img onerror>``, an establishment named ``=HYPERLINK(...)``, a GHT name with
``</script>`` — reaches the reader as text: no script runs in a page (report, batch index, what-if app), no
formula in a workbook, no formula in a CSV meant for spreadsheets.

The payloads set ``window.__pwned``: a browser that opens the pages must leave it undefined, and show the
payload's text as typed.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import nbformat
import openpyxl
import pandas as pd
import pytest

from cyberbudget import config

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(text: str) -> bool:
    """What a spreadsheet evaluates in a CSV text cell (OWASP): a leading = + - @ tab or CR, unless a number."""
    return bool(text) and text[0] in FORMULA_TRIGGERS and not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", text)

#: A description a hostile (or careless) scenario author could write: every way into a page or a sheet at once.
HOSTILE_DESCRIPTION = ('=HYPERLINK("http://example.org/x","click") <img src=x onerror="window.__pwned=1"> '
                       '</script><script>window.__pwned=2</script> [link](javascript:window.__pwned=3) '
                       '<b>bold?</b> & *emphasis?* | cell | $x$')
#: Establishment and GHT names from a hostile table (the first character makes spreadsheets evaluate some).
HOSTILE_NAMES = {
    "010000024": '<img src=x onerror="window.__pwned=4">',
    "690000001": "=1+1",
    "380000002": "+33 cmd|' /C calc'!A0",
    "380000003": "@SUM(A1:A9)",
    "750000004": "-2+3",
    "920000005": '</script><script>window.__pwned=5</script>',
}
HOSTILE_GHT_NAME = '<svg onload="window.__pwned=6">GHT'


def hostile_table(small_table: pd.DataFrame) -> pd.DataFrame:
    table = small_table.copy()
    table["name"] = [HOSTILE_NAMES.get(f, n) for f, n in zip(table["finess"], table["name"], strict=True)]
    table["ght_name"] = [HOSTILE_GHT_NAME if g else "" for g in table["ght"]]
    return table


def scenario_file(folder: Path, name: str, *, establishment: bool = False, description: str = HOSTILE_DESCRIPTION,
                  ) -> Path:
    path = folder / f"{name}.yaml"
    text = (f"name: {name}\ndescription: {json.dumps(description)}\nenvelope:\n  total_eur: 350000000\n"
            + ("disclosure: establishment\n" if establishment else ""))
    path.write_text(text, encoding="utf-8")
    return path


# ==============================================================================================================
# The escaping helpers
# ==============================================================================================================


def test_markdown_text_renders_as_the_literal_text_through_the_report_exporter():
    from cyberbudget.reports import escaping
    from cyberbudget.reports.html_export import export_html

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("display_data", {"text/markdown": escaping.markdown_text(HOSTILE_DESCRIPTION)})]
    nb.cells = [cell]
    out = Path(__import__("tempfile").mkdtemp()) / "page.html"
    try:
        body = export_html(nb, out).read_text(encoding="utf-8")
    finally:
        shutil.rmtree(out.parent)
    main = body[body.index("<main"):]
    assert not re.search(r"<(img|script|b|em|a|code|table)\b", main)  # no tag, link, emphasis or table
    text = re.sub(r"<[^>]+>", "", main)
    import html

    assert " ".join(HOSTILE_DESCRIPTION.split()) in html.unescape(text)


def test_raw_html_in_any_markdown_is_shown_as_text_and_links_and_images_are_defused(tmp_path):
    """Whatever a template displays as Markdown, unescaped: no tag, no handler, no javascript: link, no fetch."""
    from cyberbudget.reports.html_export import export_html

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("display_data", {"text/markdown": HOSTILE_DESCRIPTION
                                                            + "\n\n![x](http://example.org/track.png)"})]
    nb.cells = [nbformat.v4.new_markdown_cell("<img src=x onerror='window.__pwned=7'>"), cell]
    body = export_html(nb, tmp_path / "page.html").read_text(encoding="utf-8")
    main = body[body.index("<main"):]
    assert not re.search(r"<(img|script|svg|b)\b", main)  # raw HTML is text
    assert not re.search(r"""href=["']?\s*javascript""", main, re.IGNORECASE)
    assert "http://example.org/track.png" not in main  # an image that is not embedded is not fetched


def test_published_pages_carry_a_policy_that_runs_only_their_own_figures_scripts(tmp_path):
    from cyberbudget.reports import escaping
    from cyberbudget.reports.html_export import PLOTLY_MIME, export_html

    figure = nbformat.v4.new_output("display_data", {
        PLOTLY_MIME: {"data": [], "layout": {}},
        "text/html": "<div id='f'></div><script type=\"text/javascript\">window.__figure = 1;</script>"})
    html_out = nbformat.v4.new_output("display_data", {"text/html": "<script>window.__pwned = 8;</script>"})
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [figure, html_out]
    nb = nbformat.v4.new_notebook()
    nb.cells = [cell]
    body = export_html(nb, tmp_path / "page.html").read_text(encoding="utf-8")
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)"', body)
    assert policy is not None and body.index(policy.group(0)) < body.index("<script")
    import html

    text = html.unescape(policy.group(1))
    assert "default-src 'none'" in text
    assert escaping.script_hash("window.__figure = 1;") in text
    assert escaping.script_hash("window.__pwned = 8;") not in text


def test_the_other_escaping_helpers():
    from cyberbudget.reports import escaping

    assert escaping.html_text("<a href='x'>&</a>") == "&lt;a href=&#x27;x&#x27;&gt;&amp;&lt;/a&gt;"
    assert escaping.plot_text("<b>R&D</b>") == "&lt;b&gt;R&amp;D&lt;/b&gt;"
    data = {"name": "</script><!--<script>", "s": "\u2028"}
    text = escaping.script_json(data)
    assert "<" not in text and ">" not in text and json.loads(text) == data
    assert ":" not in escaping.href("javascript:alert(1)") and escaping.href("a b<c>") == "a%20b%3Cc%3E"
    assert escaping.href("//example.org/x") == "example.org/x"  # relative: not a host


# ==============================================================================================================
# report.html and the batch index in a real browser
# ==============================================================================================================


def open_page(browser, html: Path, wait_for_charts: bool):
    """Open a page offline; returns (text of the page, window.__pwned, count of elements with handlers)."""
    context = browser.new_context(offline=True)
    page = context.new_page()
    try:
        page.goto(html.as_uri(), wait_until="load")
        if wait_for_charts:
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
        page.wait_for_timeout(500)  # any handler of a broken image would have fired by now
        return (page.inner_text("body"), page.evaluate("typeof window.__pwned"),
                page.locator("[onerror], [onload], [onmouseover]").count(),
                page.locator(".plotly-graph-div").count(), page.locator(".js-plotly-plot").count())
    finally:
        context.close()


@pytest.fixture(scope="module")
def hostile_batch(tmp_path_factory):
    """A batch on a hostile table: a scenario with a hostile description (establishment disclosure: names shown),
    a scenario file with a hostile name that cannot be read, and one whose error quotes a hostile value."""
    from conftest import _frame

    from cyberbudget.data.registry import write_table
    from cyberbudget.data.schema import validate_table

    folder = tmp_path_factory.mktemp("hostile")
    table = write_table(hostile_table(validate_table(_frame(), source="t")),
                        folder / "table <b onmouseover=window.__pwned=9>.csv")
    good = scenario_file(folder, "hostile", establishment=True)
    unreadable = folder / '<img src=x onerror="window.__pwned=10">.yaml'
    unreadable.write_text("name: [unclosed\n", encoding="utf-8")
    bad_value = folder / "bad_value.yaml"
    bad_value.write_text('name: "<img src=x onerror=window.__pwned=11>"\nenvelope:\n  total_eur: 1\n',
                         encoding="utf-8")
    from cyberbudget.reports.batch import run_batch

    out = folder / "out"
    result = run_batch([good, unreadable, bad_value], data=table, out=out)
    assert [o.status for o in result.outcomes] == ["ok", "failed", "failed"]
    return out


@pytest.mark.slow
@pytest.mark.browser
def test_a_hostile_description_and_names_run_no_script_in_the_report(browser, hostile_batch):
    text, pwned, handlers, divs, rendered = open_page(browser, hostile_batch / "hostile" / "report.html", True)
    assert pwned == "undefined"
    assert handlers == 0
    assert divs >= 8 and rendered == divs  # the report's own scripts still run: every chart is drawn
    assert " ".join(HOSTILE_DESCRIPTION.split()) in text  # the description, as typed
    assert HOSTILE_NAMES["010000024"] in text and HOSTILE_NAMES["920000005"] in text  # establishment names
    assert "table <b onmouseover=window.__pwned=9>.csv" in text  # the table's file name


@pytest.mark.slow
@pytest.mark.browser
def test_hostile_file_names_and_error_messages_run_no_script_in_the_batch_index(browser, hostile_batch):
    text, pwned, handlers, _, _ = open_page(browser, hostile_batch / "index.html", False)
    assert pwned == "undefined" and handlers == 0
    assert '<img src=x onerror="window.__pwned=10">' in text  # the unreadable file, named as it is
    assert "<img src=x onerror=window.__pwned=11>" in text  # the refused value, quoted as text
    assert "table <b onmouseover=window.__pwned=9>.csv" in text


@pytest.mark.slow
def test_every_page_of_the_batch_carries_a_content_security_policy(hostile_batch):
    """Defence in depth, held for every published page (report, index, and pages added later): a policy that
    lets no script run but the page's own and fetches nothing."""
    pages = sorted(hostile_batch.rglob("*.html"))
    assert len(pages) >= 2
    for page in pages:
        head = page.read_text(encoding="utf-8")[:20_000]
        assert 'http-equiv="Content-Security-Policy"' in head, page
        assert "default-src &#x27;none&#x27;" in head, page


# ==============================================================================================================
# Workbooks: strings stay strings
# ==============================================================================================================


def test_the_cell_writer_stores_every_string_as_a_string():
    from cyberbudget.reports.spreadsheets import set_cell

    ws = openpyxl.Workbook().active
    for i, text in enumerate(["=1+1", "#N/A", "@SUM(A1)", "-1+2", "plain"], start=1):
        cell = set_cell(ws, i, 1, text)
        assert (cell.value, cell.data_type) == (text, "s")
    assert set_cell(ws, 9, 1, 3).data_type == "n" and set_cell(ws, 10, 1, float("nan")).value is None


@pytest.mark.slow
def test_no_input_string_becomes_a_formula_in_the_published_workbook(tmp_path, small_table):
    from cyberbudget import reports
    from cyberbudget.data.registry import write_table

    table = write_table(hostile_table(small_table), tmp_path / "table.csv")
    description = "=HYPERLINK(\"http://example.org\",\"open\") and " + HOSTILE_DESCRIPTION
    scenario = scenario_file(tmp_path, "formula", establishment=True, description=description)
    folder = reports.run(scenario, data=table, out=tmp_path / "out")
    book = folder / "allocation.xlsx"
    with zipfile.ZipFile(book) as z:  # no formula anywhere in the file
        assert not any(re.search(rb"<(\w+:)?f[ >]", z.read(n)) for n in z.namelist() if n.startswith("xl/worksheets/"))
    wb = openpyxl.load_workbook(book)
    cells = {c.value: c for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert cells[description].data_type == "s"  # parameters: description, as typed
    for name in HOSTILE_NAMES.values():  # establishments sheet (disclosure: establishment)
        assert cells[name].data_type == "s", name
    assert all(c.data_type != "f" for ws in wb.worksheets for row in ws.iter_rows() for c in row)


# ==============================================================================================================
# CSV files meant for spreadsheets
# ==============================================================================================================


def test_csv_text_neutralises_what_a_spreadsheet_would_evaluate_and_nothing_else():
    from cyberbudget.reports.spreadsheets import csv_text, neutralise_text_columns
    from cyberbudget.reports.spreadsheets import is_formula_like as library_rule

    assert [csv_text(t) for t in ("=1+1", "+1+1", "-1+1", "@A1", "\tx", "\rx")] == [
        "'=1+1", "'+1+1", "'-1+1", "'@A1", "'\tx", "'\rx"]
    assert [csv_text(t) for t in ("-12.5", "+3", "1e-3", "CH d'Arles", "", "Clinique = A")] == [
        "-12.5", "+3", "1e-3", "CH d'Arles", "", "Clinique = A"]
    assert not library_rule("-0.5") and library_rule("-A1")
    assert all(library_rule(t) == is_formula_like(t) for t in ("=1", "-1", "-1-1", "@", "+x", "1e5", "-.5", "a"))
    frame = pd.DataFrame({"name": ["=x", "y"], "n": [-1, 2]})
    assert neutralise_text_columns(frame).to_dict("list") == {"name": ["'=x", "y"], "n": [-1, 2]}


def test_allocation_csv_neutralises_hostile_names_deterministically_and_leaves_numbers(tmp_path, small_table):
    from cyberbudget.policy import allocate
    from cyberbudget.policy.scenario import load_scenario
    from cyberbudget.reports.outputs import write_allocation_csv

    table = hostile_table(small_table)
    result = allocate(table, load_scenario(config.SCENARIOS_DIR / "baseline.yaml"))
    first = write_allocation_csv(result, tmp_path / "a.csv").read_bytes()
    second = write_allocation_csv(allocate(table, load_scenario(config.SCENARIOS_DIR / "baseline.yaml")),
                                  tmp_path / "b.csv").read_bytes()
    assert first == second  # the same inputs, the same bytes
    rows = {r["finess"]: r for r in csv.DictReader(io.StringIO(first.decode("utf-8")))}
    for finess, name in HOSTILE_NAMES.items():
        expected = "'" + name if name[0] in "=+-@" else name
        assert rows[finess]["name"] == expected
    for row in rows.values():  # every text cell is inert; numbers (negative ones included) are untouched
        for column, value in row.items():
            assert not is_formula_like(value), (column, value)
    assert all(re.fullmatch(r"\d+\.\d\d", r["grant_eur"]) for r in rows.values())


def test_the_default_table_gives_the_same_allocation_csv_as_before(tmp_path):
    """No name of the committed table starts with a formula character: its allocation.csv is unchanged."""
    from cyberbudget.data.registry import load_establishments

    names = load_establishments()["name"].astype(str)
    assert not names.map(is_formula_like).any()


# ==============================================================================================================
# The what-if app
# ==============================================================================================================


def test_a_hostile_reference_file_name_is_text_in_the_app_figures_and_tables(tmp_path):
    from cyberbudget.data.registry import load_establishments
    from cyberbudget.reports.whatif import WhatIf
    from cyberbudget.reports.whatif.widgets import key_figures_html

    hostile = tmp_path / '<img src=x onerror="window.__pwned=12">.yaml'
    shutil.copy(config.SCENARIOS_DIR / "baseline.yaml", hostile)
    app = WhatIf(load_establishments(), hostile, scenarios_dir=tmp_path)
    assert app.reference_name == hostile.stem
    figures = json.dumps(app.figures)
    assert "<img" not in figures and "&lt;img src=x onerror=" in figures
    page = key_figures_html(app)
    assert "<img" not in page and "&lt;img" in page


@pytest.mark.slow
def test_no_csv_of_a_batch_folder_holds_a_cell_a_spreadsheet_would_evaluate(hostile_batch):
    """allocation.csv, and every CSV a batch writes beside it (its results' CSV twins), are meant for spreadsheets."""
    files = sorted(hostile_batch.rglob("*.csv"))
    assert files
    for path in files:
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.reader(fh):
                assert not any(is_formula_like(cell) for cell in row), (path.name, row)


# ==============================================================================================================
# Notices (one letter per recipient): held to the same rules as soon as the command exists
# ==============================================================================================================


def _has_notices() -> bool:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "cyberbudget.cli", "notices", "--help"], capture_output=True,
                          text=True, cwd=config.ROOT, timeout=120)
    return proc.returncode == 0


@pytest.mark.slow
@pytest.mark.browser
def test_notices_of_hostile_names_run_no_script_and_their_index_csv_is_inert(browser, hostile_batch, tmp_path):
    import subprocess
    import sys

    if not _has_notices():
        pytest.skip("no `cyberbudget notices` command yet")
    report = tmp_path / "hostile"
    shutil.copytree(hostile_batch / "hostile", report)
    proc = subprocess.run([sys.executable, "-m", "cyberbudget.cli", "notices", str(report), "--confidential",
                           "--unit", "establishment"], capture_output=True, text=True, cwd=config.ROOT, timeout=900)
    assert proc.returncode == 0, proc.stderr
    pages = sorted((report / "notices").glob("*.html"))
    assert pages
    shown = ""
    for page in pages:
        text, pwned, handlers, _, _ = open_page(browser, page, False)
        assert pwned == "undefined" and handlers == 0, page.name
        assert 'http-equiv="Content-Security-Policy"' in page.read_text(encoding="utf-8")[:20_000], page.name
        shown += text
    assert HOSTILE_NAMES["010000024"] in shown  # the name, as typed
    with (report / "notices" / "index.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows and not any(is_formula_like(cell) for row in rows for cell in row)


@pytest.mark.slow
def test_notices_refuse_an_unwritable_report_folder_before_any_work(hostile_batch, tmp_path):
    import subprocess
    import sys

    if not _has_notices():
        pytest.skip("no `cyberbudget notices` command yet")
    chattr = shutil.which("chattr")
    report = tmp_path / "hostile"
    shutil.copytree(hostile_batch / "hostile", report)
    if chattr is None or subprocess.run([chattr, "+i", str(report)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        before = sorted(p.name for p in report.iterdir())
        proc = subprocess.run([sys.executable, "-m", "cyberbudget.cli", "notices", str(report), "--confidential"],
                              capture_output=True, text=True, cwd=config.ROOT, timeout=900)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and str(report) in proc.stderr
        assert sorted(p.name for p in report.iterdir()) == before
    finally:
        subprocess.run([chattr, "-i", str(report)], capture_output=True)


# ----------------------------------------------------------------------------------------------------------------
# Finding a page's scripts (the CSP allows by hash exactly the ones the figures brought)
# ----------------------------------------------------------------------------------------------------------------

_FRAGMENTS = ["<script", "<SCRIPT", "<scripts", "</script", "</script>", "</script >", "</ScRiPt\n>", "</scripts>",
              ">", "<", "</", "/", "x", " src=a.js", " type='application/json'", "\n", "script", "\u017f", "é"]


@pytest.mark.parametrize("seed", range(40))
def test_script_elements_finds_exactly_what_the_reference_pattern_finds(seed):
    """The fast scan (no lazy regex over the 3.5 MB of plotly.js) is the reference regex, on random pages."""
    import numpy as np

    from cyberbudget.reports.escaping import SCRIPT_ELEMENT, script_elements

    rng = np.random.default_rng(seed)
    for _ in range(50):
        page = "".join(rng.choice(_FRAGMENTS, size=int(rng.integers(0, 40))))
        assert list(script_elements(page)) == SCRIPT_ELEMENT.findall(page), page
