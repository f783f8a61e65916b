"""Headless Chromium for the tests that open what traceparse draws (HTML reports, flame graphs).

Debian's chromium, driven by playwright (PyPI) with that browser: no browser download. ``page(path)``
opens a file:// page and records what a reader's browser would complain about: console errors,
uncaught exceptions and every request that is not the file itself (a report must open offline).
"""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


@dataclass
class Opened:
    page: object  # playwright's Page
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    requests: list[str] = field(default_factory=list)  # URLs other than the opened file


@contextmanager
def opened(path: Path, width: int = 1280, height: int = 900):
    """The page at ``path`` loaded in headless Chromium; skips the test where no browser can run."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[test]')")
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    url = Path(path).resolve().as_uri()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            seen = Opened(page)
            page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: seen.errors.append(str(e)))
            page.on("request", lambda r: None if r.url == url else seen.requests.append(r.url))
            page.goto(url)
            page.wait_for_load_state("load")
            yield seen
        finally:
            browser.close()
