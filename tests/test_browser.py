"""A real browser opens report.html with networking disabled: every plotly chart renders and no request leaves.

Needs headless Chromium (Debian package ``chromium``; ``.ci/run`` installs it) and the playwright Python package;
skipped with the reason otherwise.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import guard_page

from cyberbudget import config, reports

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a real run, then Chromium


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    from cyberbudget.data.registry import synthesize, write_table

    folder = tmp_path_factory.mktemp("browser")
    table = write_table(synthesize().groupby("region", sort=True).head(8), folder / "table.csv")
    return reports.run(config.SCENARIOS_DIR / "baseline.yaml", data=table, out=folder / "reports") / "report.html"


def _open(browser, html: Path):
    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    log = guard_page(page)
    page.goto(html.as_uri(), wait_until="load")
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
    return context, page, log.outside, log.errors


def test_every_chart_renders_and_nothing_is_fetched(browser, html):
    context, page, attempted, errors = _open(browser, html)
    try:
        n_divs = page.locator(".plotly-graph-div").count()
        n_rendered = page.locator(".js-plotly-plot").count()
        assert n_divs >= 8
        assert n_rendered == n_divs  # Plotly.newPlot ran for every figure
        assert page.locator(".main-svg").count() >= n_divs
        assert page.locator("svg.main-svg g.sankey").count() == 1
        assert attempted == []
        assert errors == []
        assert page.evaluate("typeof window.Plotly") == "object"
    finally:
        context.close()


def test_printed_report_hides_the_chart_toolbars(browser, html):
    context, page, _, _ = _open(browser, html)
    try:
        page.emulate_media(media="print")
        shown = page.evaluate(
            "Array.from(document.querySelectorAll('.modebar-container'))"
            ".filter(e => getComputedStyle(e).display !== 'none').length"
        )
        assert shown == 0
    finally:
        context.close()


def test_the_synthese_prints_alone_on_the_first_page(browser, html, tmp_path):
    """Printed (as the PDF is), the first page holds the data banner, the title and the synthèse — and nothing
    after it: the next section starts page 2."""
    import subprocess

    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext not found (apt-get install poppler-utils)")
    context, page, _, _ = _open(browser, html)
    try:
        assert page.locator("section#synthese.cb-synthese").count() == 1
        pdf = tmp_path / "report.pdf"
        page.pdf(path=str(pdf), format="A4", print_background=True)
    finally:
        context.close()

    def text(n: int) -> str:
        return subprocess.run([pdftotext, "-f", str(n), "-l", str(n), "-layout", str(pdf), "-"], capture_output=True,
                              text=True, check=True).stdout

    first, second = text(1), text(2)
    assert "DONNÉES SYNTHÉTIQUES" in first and "Synthèse" in first and "Dépense cyber induite" in first
    assert "Dans le scénario" in first and "Qui consacre au moins" not in first
    assert "Qui consacre au moins" in second
