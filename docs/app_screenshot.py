"""Take the README's screenshot of the what-if app: ``docs/app-screenshot.png``.

Usage::

    .venv/bin/python docs/app_screenshot.py

Starts ``cyberbudget app`` on a free port of 127.0.0.1, opens the page in headless Chromium
(``/usr/bin/chromium``) with every request outside 127.0.0.1 refused, moves the threshold slider from 5 % to
6 % (two steps of the keyboard), and saves the top of the page (1400 × 1500 px: the controls, the key figures
against the baseline and the corridor histogram). Stops the server with SIGTERM. Raises if the page tried to
reach anything outside the machine.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "app-screenshot.png"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL = ("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:", "about:")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def screenshot(out: Path = OUT) -> Path:
    """Serve the app, move the threshold to 6 %, save a PNG of the top of the page."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cyberbudget.cli", "app", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    attempted: list[str] = []
    try:
        line = ""
        while "what-if app:" not in line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                raise RuntimeError(f"cyberbudget app exited with code {proc.returncode}")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_context(viewport={"width": 1400, "height": 1500}, device_scale_factor=1).new_page()

            def route(r):
                if r.request.url.startswith(LOCAL):
                    r.continue_()
                else:
                    attempted.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.goto(f"http://127.0.0.1:{port}/", wait_until="load", timeout=120_000)
            cell = page.locator("td.cb-current[data-key='n_eligible']")
            cell.wait_for(timeout=120_000)
            page.wait_for_selector(".cb-figure-histogram.js-plotly-plot .main-svg", timeout=60_000)
            before = cell.inner_text()
            page.locator(".cb-control-min_share .noUi-handle").focus()
            for _ in range(2):
                shown = cell.inner_text()
                page.keyboard.press("ArrowRight")
                page.wait_for_function(
                    "t => document.querySelector(\"td.cb-current[data-key='n_eligible']\").innerText !== t",
                    arg=shown, timeout=60_000)
            if cell.inner_text() == before:
                raise RuntimeError("the eligible count did not change")
            page.wait_for_timeout(1500)  # let plotly finish drawing
            page.mouse.move(5, 5)
            page.screenshot(path=str(out))
            browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    if attempted:
        raise RuntimeError(f"the app tried to fetch {attempted}")
    return out


if __name__ == "__main__":
    print(screenshot())
