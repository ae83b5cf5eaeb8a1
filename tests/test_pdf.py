"""``--pdf``: report.pdf printed by one headless Chromium (A4, page numbers, the marking on every page, charts
drawn before printing); without a Chromium, exit 2 before anything is written; no browser left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import unicodedata
from pathlib import Path

import pytest
from conftest import running

from cyberbudget import config, reports
from cyberbudget.reports import browser as browser_mod
from cyberbudget.reports.browser import Browser, BrowserError, ChromiumNotFound, PageSetup, find_chromium

CLI = [sys.executable, "-m", "cyberbudget.cli"]
MARK = "Diffusion restreinte"


def _chromium() -> Path:
    try:
        return find_chromium()
    except ChromiumNotFound as exc:
        pytest.skip(str(exc))


def _text(page) -> str:
    return unicodedata.normalize("NFC", page.extract_text())


def _no_chromium_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != browser_mod.ENV_VAR}
    return {**env, "PATH": str(tmp_path / "empty-bin"), "CYBERBUDGET_DEBUG": ""}


# ----------------------------------------------------------------------------------------------------------------
# Finding the browser
# ----------------------------------------------------------------------------------------------------------------


def test_the_variable_names_the_browser_before_path(tmp_path):
    exe = tmp_path / "my-chromium"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    other = tmp_path / "bin"
    other.mkdir()
    (other / "chromium").write_text("#!/bin/sh\nexit 0\n")
    (other / "chromium").chmod(0o755)
    assert find_chromium({browser_mod.ENV_VAR: str(exe), "PATH": str(other)}) == exe
    assert find_chromium({"PATH": str(other)}) == other / "chromium"
    assert find_chromium({browser_mod.ENV_VAR: "chromium", "PATH": str(other)}) == other / "chromium"


def test_without_a_browser_the_error_says_how_to_install_one(tmp_path):
    with pytest.raises(ChromiumNotFound, match="apt-get install chromium") as caught:
        find_chromium({"PATH": str(tmp_path)})
    assert browser_mod.ENV_VAR in str(caught.value)
    with pytest.raises(ChromiumNotFound, match=f"{browser_mod.ENV_VAR}={tmp_path / 'nope'}"):
        find_chromium({browser_mod.ENV_VAR: str(tmp_path / "nope"), "PATH": ""})


@pytest.mark.parametrize("command", ["run", "batch"])
def test_pdf_without_chromium_exits_2_before_anything_is_written(tmp_path, command):
    out = tmp_path / "out"
    proc = subprocess.run([*CLI, command, str(config.SCENARIOS_DIR / "baseline.yaml"), "--out", str(out), "--pdf"],
                          capture_output=True, text=True, cwd=config.ROOT, env=_no_chromium_env(tmp_path),
                          timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "apt-get install chromium" in proc.stderr and browser_mod.ENV_VAR in proc.stderr
    assert not out.exists()


def test_the_library_refuses_too_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv(browser_mod.ENV_VAR, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(ChromiumNotFound):
        reports.run(config.SCENARIOS_DIR / "baseline.yaml", out=tmp_path / "out", pdf=True)
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------------------------------------------
# The browser
# ----------------------------------------------------------------------------------------------------------------

_LATE_CHART = """<!DOCTYPE html><html><head><meta charset="utf-8"><script>{plotly}</script></head><body>
<h1>Late chart</h1><div id="fig" class="plotly-graph-div" style="height:300px;width:100%"></div>
<script>setTimeout(function () {{
  Plotly.newPlot("fig", [{{type: "bar", x: ["drawn-after-a-second"], y: [3]}}], {{}});
}}, {delay});</script></body></html>"""


@pytest.mark.browser
@pytest.mark.slow
def test_charts_are_drawn_before_printing_and_a_chart_that_never_draws_is_an_error(tmp_path):
    from plotly.offline import get_plotlyjs
    from pypdf import PdfReader

    exe = _chromium()
    late = tmp_path / "late.html"
    late.write_text(_LATE_CHART.format(plotly=get_plotlyjs(), delay=1000), encoding="utf-8")
    never = tmp_path / "never.html"
    never.write_text(_LATE_CHART.format(plotly="", delay=10), encoding="utf-8")  # no plotly.js: never drawn
    with Browser(exe, timeout=8) as browser:
        pdf = browser.print_file(late, tmp_path / "late.pdf", PageSetup())
        assert "drawn-after-a-second" in _text(PdfReader(str(pdf)).pages[0])
        with pytest.raises(BrowserError, match="not drawn"):
            browser.print_file(never, tmp_path / "never.pdf", PageSetup())
        assert not (tmp_path / "never.pdf").exists()
        # the browser still serves after a failed page
        assert browser.print_html("<p>encore</p>", tmp_path / "after.pdf").exists()


@pytest.mark.browser
@pytest.mark.slow
def test_ctrl_c_leaves_no_browser_behind(tmp_path):
    exe = _chromium()
    script = textwrap.dedent(f"""
        import sys, time
        from cyberbudget.reports.browser import Browser
        with Browser({str(exe)!r}) as b:
            print(b._proc.pid, flush=True)
            time.sleep(120)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=config.ROOT)
    try:
        pid = int(child.stdout.readline())
        assert running(pid)
        child.send_signal(signal.SIGINT)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    deadline = time.monotonic() + 20
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not running(pid)


@pytest.mark.browser
@pytest.mark.slow
def test_a_killed_process_leaves_no_browser_behind(tmp_path):
    exe = _chromium()
    script = textwrap.dedent(f"""
        import os
        from cyberbudget.reports.browser import Browser
        b = Browser({str(exe)!r}).start()
        print(b._proc.pid, flush=True)
        os._exit(0)  # no clean-up at all: the browser reads the end of its pipe
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=config.ROOT,
                         timeout=120)
    pid = int(out.stdout.strip())
    deadline = time.monotonic() + 20
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not running(pid)


# ----------------------------------------------------------------------------------------------------------------
# report.pdf
# ----------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def restricted_pdf(tmp_path_factory) -> Path:
    from cyberbudget.data.registry import synthesize, write_table

    try:
        find_chromium()
    except ChromiumNotFound as exc:
        pytest.skip(str(exc))
    folder = tmp_path_factory.mktemp("pdf")
    table = write_table(synthesize().groupby("region", sort=True).head(12), folder / "table.csv")
    scenario = folder / "restricted.yaml"
    scenario.write_text(f"name: restricted\nextends: {config.SCENARIOS_DIR / 'baseline.yaml'}\n"
                        "disclosure: establishment\nallocation:\n  unit: legal_entity\n", encoding="utf-8")
    return reports.run(scenario, data=table, out=folder / "reports", pdf=True, lang="fr")


@pytest.mark.browser
@pytest.mark.slow
def test_report_pdf_has_numbered_a4_pages_the_key_figures_and_the_marking_on_every_page(restricted_pdf):
    from pypdf import PdfReader

    pdf = restricted_pdf / "report.pdf"
    reader = PdfReader(str(pdf))
    n = len(reader.pages)
    assert n >= 5
    texts = [_text(page) for page in reader.pages]
    for i, text in enumerate(texts, start=1):
        assert MARK in text, i
        assert f"Page {i} sur {n}" in text, i
        box = reader.pages[i - 1].mediabox
        assert (round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4)) == (210, 297)
    everything = " ".join(texts)
    assert "350\u202f000\u202f000,00\u202f€" in everything  # the envelope, a key figure
    assert "Unités éligibles" in everything and "établissements" in everything  # units and sites
    assert "cyberbudget — restricted" in texts[0]  # the header


@pytest.mark.browser
@pytest.mark.slow
def test_one_browser_serves_a_whole_batch(tmp_path, monkeypatch):
    from cyberbudget.reports.batch import run_batch

    _chromium()
    starts = []
    original = Browser.start

    def counting(self):
        starts.append(self)
        return original(self)

    monkeypatch.setattr(Browser, "start", counting)
    table = tmp_path / "table.csv"
    from cyberbudget.data.registry import synthesize, write_table

    write_table(synthesize().groupby("region", sort=True).head(6), table)
    scenarios = []
    for name in ("first", "second"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(f"name: {name}\nextends: {config.SCENARIOS_DIR / 'baseline.yaml'}\n", encoding="utf-8")
        scenarios.append(path)
    result = run_batch(scenarios, data=table, out=tmp_path / "out", jobs=2, pdf=True)
    assert result.exit_code == 0, [o.error for o in result.outcomes]
    assert len(starts) == 1  # the worker processes printed through this process's browser
    for name in ("first", "second"):
        assert (tmp_path / "out" / name / "report.pdf").read_bytes().startswith(b"%PDF-")
    assert not starts[0].running  # closed at the end
