"""Shared fixtures.

``small_table``: 30 hand-made, valid establishments (normalised by ``schema.validate_table``) covering every
status, the hospital categories, two GHT with their support establishments, an OSE outside any GHT, Corsica
and overseas departments, a zero IT budget, shares below, inside and above the 5-10 % corridor.
``small_table_raw``: the same rows as strings, as read from a CSV file.
``browser``: a headless Chromium for a module's browser tests, with :func:`guard_page` to keep a page from
reaching anything outside; :func:`descendants` and :func:`running` for tests of what dies with whom.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from cyberbudget import config

_COLUMNS = ("finess name region department status category ght ght_support ose beds places "
            "operating_budget_eur it_budget_eur cyber_spend_eur imputed").split()

# finess, name, region, dep, status, category, ght, support, ose, beds, places, operating, it, cyber, imputed
_ROWS = [
    ("010000024", "CH Alpha", "84", "01", "public", "ch", "ARA-01", False, False, 442, 59, 119_000_000.00, 2_000_000.00, 70_000.00, ""),
    ("690000001", "CHU Beta", "84", "69", "public", "chu", "ARA-01", True, True, 2_000, 300, 900_000_000.00, 18_000_000.00, 1_100_000.00, ""),
    ("380000002", "CH Gamma", "84", "38", "public", "ch", "ARA-01", False, False, 80, 10, 22_000_000.00, 250_000.00, 12_500.00, ""),
    ("380000003", "CHS Delta", "84", "38", "public", "chs", "ARA-01", False, False, 200, 60, 45_000_000.00, 700_000.00, 21_000.00, ""),
    ("750000004", "CHU Epsilon", "11", "75", "public", "chu", "IDF-01", True, True, 1_500, 400, 800_000_000.00, 16_000_000.00, 1_600_000.00, ""),
    ("920000005", "CH Zeta", "11", "92", "public", "ch", "IDF-01", False, False, 300, 50, 95_000_000.00, 1_600_000.00, 80_000.00, ""),
    ("930000006", "USLD Eta", "11", "93", "public", "usld", "IDF-01", False, False, 60, 0, 6_000_000.00, 60_000.00, 1_800.00, ""),
    ("940000007", "CH Theta", "11", "94", "public", "ch", "", False, False, 150, 20, 40_000_000.00, 600_000.00, 36_000.00, "ght"),
    ("130000008", "CHU Iota", "93", "13", "public", "chu", "", False, True, 3_000, 500, 1_400_000_000.00, 28_000_000.00, 2_900_000.00, ""),
    ("2A0000009", "CH Kappa", "94", "2A", "public", "ch", "", False, False, 250, 30, 70_000_000.00, 1_100_000.00, 44_000.00, ""),
    ("2B0000010", "CH Lambda", "94", "2B", "public", "ch", "", False, False, 180, 20, 52_000_000.00, 800_000.00, 0.00, ""),
    ("971000011", "CHU Mu", "01", "971", "public", "chu", "", False, False, 700, 90, 330_000_000.00, 6_000_000.00, 360_000.00, ""),
    ("974000012", "CH Nu", "04", "974", "public", "ch", "", False, False, 400, 60, 120_000_000.00, 2_000_000.00, 250_000.00, ""),
    ("976000013", "CH Xi", "06", "976", "public", "ch", "", False, False, 350, 40, 100_000_000.00, 0.00, 0.00, ""),
    ("590000014", "CLCC Omicron", "32", "59", "private_nonprofit", "clcc", "", False, False, 200, 80, 150_000_000.00, 3_600_000.00, 200_000.00, ""),
    ("590000015", "ESPIC Pi", "32", "59", "private_nonprofit", "mco", "", False, False, 250, 40, 60_000_000.00, 1_000_000.00, 45_000.00, ""),
    ("620000016", "SSR Rho", "32", "62", "private_nonprofit", "ssr", "", False, False, 100, 20, 18_000_000.00, 300_000.00, 9_000.00, ""),
    ("330000017", "Psy Sigma", "75", "33", "private_nonprofit", "psy", "", False, False, 90, 30, 15_000_000.00, 250_000.00, 20_000.00, ""),
    ("330000018", "HAD Tau", "75", "33", "private_nonprofit", "had", "", False, False, 0, 0, 8_000_000.00, 120_000.00, 6_000.00, ""),
    ("310000019", "USLD Upsilon", "76", "31", "private_nonprofit", "usld", "", False, False, 40, 0, 4_000_000.00, 50_000.00, 1_000.00, ""),
    ("310000020", "Clinique Phi", "76", "31", "private_forprofit", "mco", "", False, False, 180, 60, 40_000_000.00, 700_000.00, 35_000.00, ""),
    ("340000021", "Clinique Chi", "76", "34", "private_forprofit", "mco", "", False, False, 120, 40, 27_000_000.00, 450_000.00, 13_500.00, ""),
    ("440000022", "Clinique Psi", "52", "44", "private_forprofit", "psy", "", False, False, 80, 20, 11_000_000.00, 180_000.00, 9_000.00, ""),
    ("440000023", "SSR Omega", "52", "44", "private_forprofit", "ssr", "", False, False, 90, 30, 14_000_000.00, 230_000.00, 25_000.00, ""),
    ("350000024", "Clinique Alef", "53", "35", "private_forprofit", "mco", "", False, False, 150, 50, 34_000_000.00, 580_000.00, 58_000.00, ""),
    ("670000025", "Clinique Bet", "44", "67", "private_forprofit", "chs", "", False, False, 60, 10, 8_000_000.00, 120_000.00, 3_000.00, ""),
    ("210000026", "HAD Gimel", "27", "21", "private_forprofit", "had", "", False, False, 0, 0, 3_000_000.00, 50_000.00, 2_500.00, ""),
    ("450000027", "Centre Dalet", "24", "45", "private_forprofit", "other", "", False, False, 20, 10, 3_500_000.00, 60_000.00, 3_000.00, ""),
    ("140000028", "CH He", "28", "14", "public", "ch", "", False, False, 60, 5, 14_000_000.00, 160_000.00, 6_400.00, ""),
    ("973000029", "CH Vav", "03", "973", "public", "ch", "", False, False, 500, 50, 160_000_000.00, 2_700_000.00, 135_000.00, ""),
]

_HAD_PLACES = {"330000018": 120, "210000026": 45, "010000024": 45}


def _frame() -> pd.DataFrame:
    df = pd.DataFrame(_ROWS, columns=_COLUMNS)
    df["had_places"] = [_HAD_PLACES.get(f, 0) for f in df["finess"]]
    df["medico_social"] = False
    return df


@pytest.fixture
def small_table() -> pd.DataFrame:
    """30 valid establishments, normalised (typed columns, sorted by finess)."""
    from cyberbudget.data.schema import validate_table

    return validate_table(_frame(), source="small_table")


@pytest.fixture
def small_table_raw() -> pd.DataFrame:
    """The rows of ``small_table`` with every cell a string, in the order above (as read from a CSV)."""
    df = _frame()
    out = pd.DataFrame(index=df.index)
    for c in df.columns:
        if df[c].dtype == bool:
            out[c] = df[c].map({True: "true", False: "false"})
        elif c.endswith("_eur"):
            out[c] = df[c].map(lambda x: f"{x:.2f}")
        else:
            out[c] = df[c].astype(str)
    return out


@pytest.fixture(scope="session")
def sae_dir():
    """The DREES SAE 2023 folder (tests using it are skipped when it is absent)."""
    if not (config.SAE_DIR / "ID_2023r.csv").exists():
        pytest.skip(f"SAE 2023 files not found in {config.SAE_DIR}")
    return config.SAE_DIR


@pytest.fixture(scope="session")
def sae_table(sae_dir):
    """The SAE 2023 import (budgets imputed with the default seed), computed once per session."""
    from cyberbudget.data.registry import import_sae

    return import_sae(sae_dir)


# ------------------------------------------------------------------------------------------- published language


def _visible_text(page: str) -> str:
    """The text a reader sees in an HTML page: no script, style, code, preformatted block, nor text quoted as
    written in the inputs (class ``cb-quoted``: a scenario's description, the reference files' notes)."""
    from html.parser import HTMLParser

    class Visible(HTMLParser):
        SKIP = {"script", "style", "code", "pre", "head", "title"}
        VOID = {"br", "img", "meta", "link", "input", "hr", "wbr", "col", "area", "base", "source"}

        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.stack: list[bool] = []
            self.parts: list[str] = []

        def handle_starttag(self, tag: str, attrs: list) -> None:
            if tag in self.VOID:
                return
            classes = (dict(attrs).get("class") or "").split()
            self.stack.append(tag in self.SKIP or "cb-quoted" in classes or bool(self.stack and self.stack[-1]))

        def handle_endtag(self, tag: str) -> None:
            if tag not in self.VOID and self.stack:
                self.stack.pop()

        def handle_data(self, data: str) -> None:
            if not (self.stack and self.stack[-1]):
                self.parts.append(data)

    parser = Visible()
    parser.feed(page)
    return " ".join(" ".join(parser.parts).split())


def _figure_text(nb) -> str:
    """Every word the notebook's plotly figures show: titles, axis titles, legends, hover text, annotations,
    category labels and bar texts (the HTML page draws them from JSON inside a script)."""
    import re

    out: list[str] = []

    def walk(node, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and key in ("text", "name", "hovertemplate", "x", "y", "label", "title"):
            out.append(re.sub(r"<[^>]+>|%\{[^}]*\}", " ", node))

    for cell in nb.cells if nb is not None else []:
        for o in cell.get("outputs", []):
            fig = o.get("data", {}).get("application/vnd.plotly.v1+json")
            if fig:
                walk({"data": fig.get("data", []), "layout": fig.get("layout", {})})
    return " ".join(" ".join(out).split())


@pytest.fixture(scope="session")
def foreign_words():
    """``foreign_words(report_html, notebook, lang)``: the phrases of the other language's catalogue that the
    report shows (visible text and the notebook's figures; ``notebook`` None: the page alone) although it should
    be all in ``lang``."""
    from cyberbudget.reports.i18n import foreign_words_in

    def check(page: str, nb, lang: str) -> list[str]:
        return foreign_words_in(_visible_text(page) + " " + _figure_text(nb), lang)

    return check


# ---------------------------------------------------------------------------------------------------------------
# A real browser (headless Chromium driven by Playwright) and the processes a test starts
# ---------------------------------------------------------------------------------------------------------------

#: Debian's Chromium (`.ci/run` installs it); else `chromium` on PATH.
CHROMIUM = Path("/usr/bin/chromium")
#: No background traffic, and no host name resolves but the machine's own: a page can reach nothing outside.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-default-apps",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
#: URLs of a self-contained page: nothing else may be requested.
LOCAL_URLS = ("file:", "data:", "blob:", "about:")


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium for the module's tests (skipped without Playwright or a Chromium)."""
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    path = CHROMIUM if CHROMIUM.exists() else Path(shutil.which("chromium") or "/nonexistent")
    if not path.exists():
        pytest.skip("headless Chromium not found (/usr/bin/chromium): apt-get install chromium (.ci/run does)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(path), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@dataclass
class PageLog:
    """What a page did (:func:`guard_page`): requests outside the allowed URLs (aborted), requests allowed, and
    script errors."""

    outside: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def guard_page(page, local: tuple[str, ...] = LOCAL_URLS) -> PageLog:
    """Abort (and record) every request of ``page`` whose URL does not start with one of ``local``; record the
    others and the page's script errors."""
    log = PageLog()

    def route(r):
        if r.request.url.startswith(local):
            log.allowed.append(r.request.url)
            r.continue_()
        else:
            log.outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda e: log.errors.append(str(e)))
    return log


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state, parent, …), None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def running(pid: int) -> bool:
    """The process exists and is neither a zombie nor dead."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")
