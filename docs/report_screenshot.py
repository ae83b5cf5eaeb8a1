"""Take the README's screenshot of a report: ``docs/report-screenshot.png``, the French report.

Usage::

    .venv/bin/python docs/report_screenshot.py [reports/baseline/report.html]

Without an argument it runs ``scenarios/baseline.yaml`` on the committed (synthetic) table into a temporary folder
first, in French (``lang="fr"``, the default of every published output). Opens the report in headless Chromium
(``/usr/bin/chromium``) with networking disabled, as tests/test_browser.py does, and saves the top of the page,
1200 px wide, down to the end of the synthèse (``<section id="synthese">``): the data banner ("DONNÉES
SYNTHÉTIQUES"), the title, the scenario and the five key figures with the generated paragraph.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from cyberbudget import config
from cyberbudget.reports.runner import run

OUT = Path(__file__).resolve().parent / "report-screenshot.png"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run"]


def screenshot(html: Path, out: Path = OUT) -> Path:
    """Save a PNG of the top of ``html``; raise if the page tried to reach the network."""
    attempted: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_context(offline=True, viewport={"width": 1200, "height": 1400},
                                   device_scale_factor=1, locale="fr-FR").new_page()

        def route(r):
            if r.request.url.startswith(("file:", "data:", "blob:", "about:")):
                r.continue_()
            else:
                attempted.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(html.resolve().as_uri(), wait_until="load")
        page.wait_for_selector(".main-svg", timeout=30_000)
        bottom = page.evaluate("document.querySelector('#synthese').getBoundingClientRect().bottom + window.scrollY")
        page.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": 1200, "height": int(bottom) + 24})
        browser.close()
    if attempted:
        raise RuntimeError(f"the report tried to fetch {attempted}")
    return out


def main() -> None:
    if len(sys.argv) > 1:
        print(screenshot(Path(sys.argv[1])))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = run(config.SCENARIOS_DIR / "baseline.yaml", out=tmp, lang="fr")
        print(screenshot(folder / "report.html"))


if __name__ == "__main__":
    main()
