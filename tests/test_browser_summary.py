"""The summary to share, in Debian's chromium: made from the page, saved, printed to PDF.

Sessions built from real RR (tests/data/physionet-healthy-24h, CC BY 4.0; a "person" following
every suggestion, research/closed_loop.py) are stored in the demo's data folder before the demo
server starts; the page then makes the summary from the Trends view.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from afterbeat.records import Header, Marker, MarkerKind
from afterbeat.sources.replay import derived_notifications
from afterbeat.storage.importers import iter_beats
from afterbeat.storage.store import Store
from browserkit import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DemoServer,
    axe_clean_light_and_dark,
    demo_server,
    playwright_or_skip,
    spills,
    wait_for,
)
from closed_loop import closed_loop

pytestmark = pytest.mark.browser

RR_FILE = Path(__file__).parent / "data" / "physionet-healthy-24h" / "008.txt"
CLINICAL = re.compile(r"\b(diagnos[a-z]*|disorder|ptsd|depression|panic attack|clinical(ly)?|"
                      r"medical[- ]grade|cures?|treats?)\b", re.I)
"""The wording check of the project's before-stop hook."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    playwright_or_skip()
    data_dir = tmp_path_factory.mktemp("summary-browser")
    with Store.open(data_dir / "demo") as store:
        for day, hour in enumerate((9.0, 13.0, 17.0)):
            first = hour * 3600.0
            beats = (b for b in iter_beats(RR_FILE) if first <= b.t_s < first + 2400.0)
            shifted = [type(b)(b.t_s - first, b.rr_ms, b.segment) for b in beats]
            marks = [Marker(120.0, MarkerKind.SESSION_START),
                     Marker(900.0, MarkerKind.SESSION_END),
                     Marker(960.0, MarkerKind.NOTE, text=f"tea with Ana, day {day}")]
            run = closed_loop(list(derived_notifications(shifted)), marks)
            started = datetime.now(UTC) - timedelta(days=3 * (3 - day))
            store.import_session(Header(started_at=started), run.records, "test")
    with demo_server(data_dir, speed="1") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_or_skip()() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                      args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def test_trends_on_a_phone_say_what_is_missing_and_fit(browser: Any,
                                                         server: DemoServer) -> None:
    """Sessions without ratings: the ratings chart says so in words that wrap at 320 px."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    # Signed in with the launch's token (the one-time link is the other test's).
    context.add_init_script(f"localStorage.setItem('afterbeat-token', {server.token!r});")
    try:
        page = context.new_page()
        page.goto(server.url, wait_until="load")
        wait_for(lambda: page.evaluate("() => document.body.dataset.live === 'open'"), 20,
                 "the signed-in dashboard")
        page.goto(f"{server.url}/#/trends")
        words = wait_for(lambda: page.is_visible("#trend-ratings-empty")
                         and page.inner_text("#trend-ratings-empty"), 20,
                         "the ratings chart to say what is missing")
        assert words.startswith("No ratings yet"), words
        assert page.is_hidden("#trend-ratings")
        for chart in ("#trend-settle", "#trend-ratings"):  # a drawing or words, never both
            assert page.is_visible(chart) != page.is_visible(f"{chart}-empty"), chart
        for width in (390, 320):
            page.set_viewport_size({"width": width, "height": 844})
            wait_for(lambda: spills(page, "#view-trends > .card") == [], 5,
                     f"the trends view to fit {width} px",
                     detail=lambda: spills(page, "#view-trends > .card"))
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "trends-320.png"), full_page=True)
        axe_clean_light_and_dark(page, "trends on a phone, no ratings yet")
    finally:
        context.close()


def test_summary_from_the_page_prints_on_two_pages_at_most(browser: Any, server: DemoServer,
                                                         tmp_path: Path) -> None:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    try:
        page = context.new_page()
        page.goto(server.launch_url, wait_until="load")
        wait_for(lambda: page.evaluate("() => document.body.dataset.live === 'open'"), 20,
                 "the signed-in dashboard")
        page.goto(f"{server.url}/#/trends")
        wait_for(lambda: page.query_selector_all("#summary-notes input[type=checkbox]"), 60,
                 "the notes of the period to choose from")
        boxes = page.query_selector_all("#summary-notes input[type=checkbox]")
        assert len(boxes) == 3 and not any(b.is_checked() for b in boxes)
        boxes[1].check()
        with page.expect_download(timeout=120_000) as download:
            page.click("#btn-summary")
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        wait_for(lambda: page.inner_text("#summary-status").startswith("This page"),
                          10, "the page to say what the summary contains")
        assert f"saved it as {saved.name}, in your Downloads folder" in page.inner_text(
            "#summary-status"), page.inner_text("#summary-status")
        page.screenshot(path=str(ARTIFACTS / "summary-trends.png"), full_page=True)
        axe_clean_light_and_dark(page, "trends, after saving a summary")
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(300)
        assert spills(page, "#summary-card") == []
        page.locator("#summary-card").screenshot(path=str(ARTIFACTS / "summary-card.png"))
    finally:
        context.close()
    html = saved.read_text()
    assert "1 note you chose to include" in html and "tea with Ana, day 1" in html
    assert "day 0" not in html and "day 2" not in html
    assert "<script" not in html.lower()
    text = re.sub(r"<[^>]+>", " ", html)
    assert CLINICAL.search(text.replace("not a medical device", "")) is None
    assert all(url.startswith(server.url) for url in requests), \
        [u for u in requests if not u.startswith(server.url)]

    printed = browser.new_context()
    outside: list[str] = []
    printed.on("request", lambda r: outside.append(r.url) if not r.url.startswith("file:")
               else None)
    try:
        view = printed.new_page()
        view.goto(saved.as_uri(), wait_until="load")
        ARTIFACTS.mkdir(exist_ok=True)
        view.screenshot(path=str(ARTIFACTS / "summary.png"), full_page=True)
        view.set_viewport_size({"width": 320, "height": 700})  # a phone: nothing sideways
        wide = view.evaluate("() => [document.documentElement.scrollWidth,"
                             " ...[...document.querySelectorAll('table')]"
                             ".map((t) => Math.ceil(t.getBoundingClientRect().right))]")
        assert max(wide) <= 320, wide
        view.screenshot(path=str(ARTIFACTS / "summary-320.png"), full_page=True)
        view.set_viewport_size({"width": 1280, "height": 720})
        for size in ("A4", "Letter"):
            pdf = view.pdf(format=size, print_background=True)
            pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
            assert 1 <= pages <= 2, (size, pages)
            (ARTIFACTS / f"summary-{size.lower()}.pdf").write_bytes(pdf)
    finally:
        printed.close()
    assert outside == [], "the saved summary loads nothing from anywhere"
