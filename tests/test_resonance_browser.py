"""The resonance assessment in a real browser (Debian's chromium through Playwright).

A simulated heart (tests/resonance_model.py) is replayed in real time by ``afterbeat demo
--recording``; an earlier assessment is kept in the data folder first (``afterbeat resonance
--replay``). The page shows that result (chart, table, words), then runs a short assessment:
settling, pacing per block, a break, the next block, stop early, and the result page.
Screenshots go to test-artifacts/resonance-*.png.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.request import Request, urlopen

import numpy as np
import pytest

from afterbeat.cli import main
from afterbeat.records import Marker, MarkerKind
from afterbeat.resets.pacing import Pattern, phase_at, start_timeline
from afterbeat.resets.resonance import Protocol, schedule
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
from resonance_model import Person, simulate

pytestmark = pytest.mark.browser

FLOW = Protocol(block_s=30.0, break_s=6.0, settle_s=6.0)
"""What the test sets in the page's options: short blocks so the flow fits in a minute."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """An earlier assessment kept in the data folder, then the demo server on a live heart."""
    playwright_or_skip()
    data_dir = tmp_path_factory.mktemp("resonance-browser")
    store_dir = data_dir / "demo"
    earlier = data_dir / "earlier.txt"
    blocks = list(schedule(Protocol(), 0.0))
    np.savetxt(earlier, simulate(Person(resonance_bpm=5.5, rsa_bpm=10.0, noise_bpm=1.0),
                                 blocks, Protocol().duration_s + 10, seed=31), fmt="%.1f")
    assert main(["resonance", "--replay", str(earlier), "--data-dir", str(store_dir),
                 "--json"]) == 0
    live = data_dir / "live.txt"
    flow_blocks = list(schedule(FLOW, 4.0))
    np.savetxt(live, simulate(Person(resonance_bpm=5.5), flow_blocks, 600.0, seed=32),
               fmt="%.1f")
    with demo_server(data_dir, "1", "--recording", str(live)) as running:
        yield running


def _api(server: DemoServer, path: str) -> Any:
    request = Request(server.url + path, headers={"X-Afterbeat-Token": server.token})
    with urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def page(server: DemoServer) -> Iterator[Any]:
    """A chromium page logged in through the launch link, no request leaving the server."""
    with playwright_or_skip()() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1100, "height": 1000},
                                      locale="en-US", timezone_id="UTC")
        errors: list[str] = []
        pg = context.new_page()
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(server.launch_url, wait_until="load")
        pg.wait_for_selector("body[data-status-loaded='true']")
        yield pg
        assert errors == []
        context.close()
        browser.close()


def _dataset(page: Any, selector: str) -> dict[str, str]:
    return dict(page.eval_on_selector(selector, "el => ({...el.dataset})"))


def test_result_page_shows_the_kept_assessment(page: Any, server: DemoServer) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(server.url + "/#/resonance")
    page.wait_for_selector("#resonance-result:not([hidden])")
    result = _dataset(page, "#resonance-result")
    assert result["verdict"] in ("clear", "likely") and result["rate"] == "5.5"
    assert _dataset(page, "#resonance-chart")["bars"] == "5"
    assert page.locator("#resonance-table-body tr").count() == 5
    assert "5.5 breaths a minute" in page.inner_text("#resonance-words")
    assert "now paces you at 5.5" in page.inner_text("#resonance-pace-line")
    page.screenshot(path=str(ARTIFACTS / "resonance-result.png"), full_page=True)
    for summary in page.query_selector_all("#resonance-result details summary"):
        summary.click()  # all the numbers and "How this was decided" too
    axe_clean_light_and_dark(page, "resonance result")
    page.emulate_media(color_scheme="dark")
    try:
        page.screenshot(path=str(ARTIFACTS / "resonance-result-dark.png"), full_page=True)
    finally:
        page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        page.wait_for_timeout(500)  # the chart redraws at the new width
        assert spills(page, "#view-resonance .card") == []
        page.screenshot(path=str(ARTIFACTS / "resonance-result-phone.png"), full_page=True)
        axe_clean_light_and_dark(page, "resonance result on a phone")
    finally:
        page.set_viewport_size({"width": 1100, "height": 1000})
    page.click("#btn-resonance-again")
    page.wait_for_selector("#resonance-intro:not([hidden])")
    page.screenshot(path=str(ARTIFACTS / "resonance-intro.png"), full_page=True)


def _timeline(block: dict[str, Any]) -> Any:
    obj = block["timeline"]
    pattern = Pattern.of(*((p["name"], p["duration_s"], p["direction"])
                           for p in obj["pattern"]["phases"]))
    return start_timeline(pattern, obj["start_s"], duration_s=obj["end_s"] - obj["start_s"])


def _words_agree_with_the_pacer(detail: str, timeline: Any) -> None:
    """The block's words say each breath's length rounded to a half second at most."""
    found = re.search(r"in for (about )?(\d+(?:\.5)?) s, out for (about )?(\d+(?:\.5)?) s\.",
                      detail)
    assert found is not None, detail
    for (about, said), phase in zip(((found.group(1), found.group(2)),
                                     (found.group(3), found.group(4))),
                                    timeline.pattern.phases, strict=True):
        assert abs(float(said) - phase.duration_s) <= 0.25, (detail, phase)
        assert (about is None) == (abs(float(said) - phase.duration_s) < 0.05), detail


def test_the_flow_paces_each_block_breaks_and_stops_early(page: Any, server: DemoServer) -> None:
    page.goto(server.url + "/#/resonance")
    page.wait_for_selector("#resonance-intro:not([hidden])")
    page.click("#resonance-intro summary")
    page.fill("#resonance-block-min", str(FLOW.block_s / 60))
    page.fill("#resonance-settle-s", str(FLOW.settle_s))
    page.fill("#resonance-break-s", str(FLOW.break_s))
    page.click("#btn-resonance-start")
    page.wait_for_selector("#resonance-run[data-stage='settle']")
    page.screenshot(path=str(ARTIFACTS / "resonance-settle.png"), full_page=True)
    run = _api(server, "/api/resonance")["run"]
    assert [b["rate_bpm"] for b in run["blocks"]] == list(FLOW.rates_bpm)

    for index in (0, 1):
        block = run["blocks"][index]
        page.wait_for_selector(f"#resonance-run[data-stage='block'][data-block-index='{index}']",
                               timeout=45_000)
        assert _dataset(page, "#resonance-run")["rate"] == f"{block['rate_bpm']:g}"
        timeline = _timeline(block)
        _words_agree_with_the_pacer(page.inner_text("#resonance-detail"), timeline)
        seen = set()
        for _ in range(12):  # the pacer's phase is the timeline's at the page's clock
            state = page.evaluate("""() => ({now: Date.now() / 1000,
                ...document.getElementById('resonance-pacer').dataset})""")
            expected = phase_at(timeline, float(state["now"]))
            if abs(expected.remaining_s - expected.phase.duration_s) > 0.3 and \
                    expected.remaining_s > 0.3:
                assert state["phase"] == str(expected.phase.direction)
            seen.add(state["phase"])
            assert abs(float(state["remainingS"]) - expected.remaining_s) < 0.3
            assert page.inner_text("#resonance-count").isdigit()
            time.sleep(0.5)
        assert seen == {"inhale", "exhale"}
        if index == 0:
            page.screenshot(path=str(ARTIFACTS / "resonance-block.png"), full_page=True)
            page.wait_for_selector("#resonance-run[data-stage='break']", timeout=30_000)
            assert "Next: 6 breaths a minute" in page.inner_text("#resonance-detail")
            page.screenshot(path=str(ARTIFACTS / "resonance-break.png"), full_page=True)

    page.click("#btn-resonance-stop")
    page.wait_for_selector("#resonance-result:not([hidden])")
    result = _dataset(page, "#resonance-result")
    assert result["blocks"] == "2" and result["verdict"] == "cannot_tell"
    assert "Stopped early" in page.inner_text("#resonance-verdict")
    assert "earlier pace of 5.5" in page.inner_text("#resonance-pace-line")
    page.screenshot(path=str(ARTIFACTS / "resonance-stopped.png"), full_page=True)
    # the earlier pace stays the default; the recording carries the markers
    assert _api(server, "/api/settings")["breaths_per_min"] == 5.5
    with Store.open(server.data_dir / "demo") as store:
        live = [s for s in store.list_sessions() if s.source == "replay"][-1]
        _header, records = store.iter_records(live.id)
        ends = [json.loads(r.text or "{}")["completed"] for r in records
                if isinstance(r, Marker) and r.kind is MarkerKind.RESONANCE_BLOCK_END]
    assert ends == [True, False]
    # the person can still choose another pace
    page.select_option("#resonance-pace", "5")
    page.click("#btn-resonance-pace")
    wait_for(lambda: _api(server, "/api/settings")["breaths_per_min"] == 5.0, 10,
              "the new pace to be stored")
