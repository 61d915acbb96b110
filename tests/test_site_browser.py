"""The leaderboard site in a real browser: headless Chromium, driven through the DevTools
protocol (tests/chromium.py), loads the generated pages from disk (file://), logs no error,
re-orders a board's rows when a column header is clicked, and leaves screenshots behind.

Skipped when no Chromium is installed (``apt-get install chromium``; ``.ci/run`` installs it).
The screenshots go to ``$GIBENCH_ARTIFACTS/site`` when that is set, else to pytest's
temporary folder; the test prints where.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gibench.leaderboard.board import board_names
from gibench.leaderboard.site import build_site
from gibench.registry import get_registry
from tests.chromium import Chromium, find_chromium

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
BOARDS = REPO / "leaderboards"
CHROMIUM = find_chromium()

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium installed (apt-get install chromium, or set "
                             "GIBENCH_CHROMIUM to its executable): the browser test needs one")

_CELLS = ("[...document.querySelectorAll('#board tbody tr')]"
          ".map(r => r.cells[{column}].getAttribute('data-sort'))")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    build_site(BOARDS, out, get_registry())
    return out


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    base = os.environ.get("GIBENCH_ARTIFACTS")
    folder = Path(base) / "site" if base else tmp_path_factory.mktemp("site-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser():
    with Chromium(CHROMIUM, width=1200, height=800) as chromium:
        yield chromium


def _number(value: str | None) -> float:
    return float(value) if value else float("inf")


@needs_chromium
def test_every_page_loads_without_errors(site, browser, artifacts):
    pages = sorted(site.glob("*.html"))
    assert len(pages) > len(board_names(BOARDS))
    for page in pages:
        browser.events.clear()
        browser.open(page.as_uri())
        assert browser.evaluate("document.readyState") == "complete"
        assert browser.evaluate("document.styleSheets.length") == 1, page.name
        assert browser.errors() == [], page.name
        broken = browser.evaluate("[...document.images].filter(i => !i.complete || "
                                  "i.naturalWidth === 0).map(i => i.src)")
        assert broken == [], page.name
    browser.open((site / "index.html").as_uri())
    shot = browser.screenshot(artifacts / "index.png")
    print(f"\nsite screenshots kept in {artifacts}")
    assert shot.stat().st_size > 1000


@needs_chromium
def test_clicking_a_column_header_reorders_the_rows(site, browser, artifacts):
    browser.open((site / "board-genimage-cross-generator.html").as_uri())
    browser.events.clear()
    headers = browser.evaluate("[...document.querySelectorAll('#board thead th')]"
                               ".map(th => th.textContent.trim())")
    column = headers.index("Midjourney")
    before = browser.evaluate(_CELLS.format(column=column))
    labels_before = browser.evaluate(_CELLS.format(column=0).replace(
        ".getAttribute('data-sort')", ".textContent"))
    browser.click(f"#board thead th:nth-child({column + 1}) button")
    after = browser.evaluate(_CELLS.format(column=column))
    assert sorted(after, key=_number) == sorted(before, key=_number)
    assert after == sorted(before, key=_number, reverse=True) != before
    assert browser.evaluate(f"document.querySelectorAll('#board thead th')[{column}]"
                            ".getAttribute('aria-sort')") == "descending"
    browser.click(f"#board thead th:nth-child({column + 1}) button")
    assert browser.evaluate(_CELLS.format(column=column)) == sorted(before, key=_number)
    browser.click("#board thead th:nth-child(1) button")  # text column: z to a first
    labels = browser.evaluate(_CELLS.format(column=0).replace(
        ".getAttribute('data-sort')", ".textContent"))
    assert labels == sorted(labels_before, key=str.lower, reverse=True)
    assert browser.errors() == []
    browser.screenshot(artifacts / "board-sorted.png")
    print(f"\nsite screenshots kept in {artifacts}")
