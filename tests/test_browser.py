"""The dashboard in a real browser: Debian's chromium (headless) against `afterbeat demo`.

One `afterbeat demo --no-open --port 0` subprocess and one page serve the whole module, in
story order: the page loads clean, the charts move, a typed note stays text, the demo's marked
session end leads to a suggestion that starts by itself after a countdown, the replay slows to
real time while the pacer follows the clock, a focus mode gives the reset the screen, and
screenshots are kept in ``test-artifacts/``. axe-core (axe-playwright-python) scans every view
in light and dark for serious or critical violations. The note goes in early so that it is
part of the recording the report page replays. Every request the browser makes is
recorded; anything not addressed to the demo server is aborted and fails the test.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from afterbeat.resets.pacing import (
    Direction,
    Pattern,
    Phase,
    PhaseState,
    Prompt,
    Timeline,
    phase_at,
)
from browserkit import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DemoServer,
    demo_server,
    missing_part,
    playwright_or_skip,
    spills,
    wait_for,
)
from browserkit import axe_clean_light_and_dark as _axe_clean_light_and_dark

pytestmark = pytest.mark.browser

DEMO_SPEED = "60"
"""Session seconds per real second: the demo's session end (570 s) arrives within ~10 s."""
XSS_NOTE = "<img src=x onerror=alert(1)>"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SCOLDING = ("poor", "bad", "fail", "wrong", "low score", "try harder", "not good")


def _labels_whole_and_apart(page: Any, selector: str) -> list[dict[str, Any]]:
    """The chart's drawn labels (data-labels): inside the canvas and never overlapping."""
    data = _dataset(page, selector)
    width, height = (float(v) for v in data["size"].split("x"))
    labels: list[dict[str, Any]] = json.loads(data["labels"])
    for box in labels:
        assert 0 <= box["x0"] and box["x1"] <= width, (selector, box, width)
        assert 0 <= box["y0"] and box["y1"] <= height, (selector, box, height)
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            apart = (a["x1"] <= b["x0"] or b["x1"] <= a["x0"] or a["y1"] <= b["y0"]
                     or b["y1"] <= a["y0"])
            assert apart, f"{selector}: {a} overlaps {b}"
    return labels


def _in_viewport(page: Any, selector: str) -> bool:
    box = page.eval_on_selector(
        selector, "el => { const r = el.getBoundingClientRect();"
        " return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,"
        " w: innerWidth, h: innerHeight}; }")
    return bool(box["top"] >= 0 and box["bottom"] <= box["h"] and box["left"] >= 0
                and box["right"] <= box["w"])


# One skip for the module, with its reason; AFTERBEAT_REQUIRE_ALL=1 (CI) makes it a failure
# (tests/require_all.py).
if (_MISSING := missing_part()) is not None:
    pytest.skip(_MISSING, allow_module_level=True)


@dataclass
class Watch:
    """What the page did: console messages, page errors, dialogs and every request URL."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def sync_playwright() -> Any:
    """Playwright's sync entry point."""
    return playwright_or_skip()


@pytest.fixture(scope="module")
def demo(sync_playwright: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """`afterbeat demo --no-open --port 0` in a subprocess; its server.json tells the port."""
    with demo_server(tmp_path_factory.mktemp("browser-data"), DEMO_SPEED) as running:
        yield running


@pytest.fixture(scope="module")
def watch() -> Watch:
    return Watch()


@pytest.fixture(scope="module")
def page(sync_playwright: Any, demo: DemoServer, watch: Watch) -> Iterator[Any]:
    """One chromium page on the dashboard, logged in through the launch link."""
    origin = urlsplit(demo.url)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=DESKTOP,
                                      locale="en-US", timezone_id="UTC")

        def route(route: Any) -> None:
            url = route.request.url
            watch.requests.append(url)
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") and parts.netloc == origin.netloc:
                route.continue_()
            elif parts.scheme == "data":
                route.continue_()
            else:
                watch.foreign.append(url)
                route.abort()

        context.route("**/*", route)
        pg = context.new_page()
        pg.on("console", lambda m: watch.console_errors.append(m.text)
              if m.type == "error" else None)
        pg.on("pageerror", lambda e: watch.page_errors.append(str(e)))

        def on_dialog(dialog: Any) -> None:
            watch.dialogs.append(dialog.message)
            dialog.dismiss()

        pg.on("dialog", on_dialog)
        pg.goto(demo.launch_url, wait_until="load")
        yield pg
        context.close()
        browser.close()


def _dataset(page: Any, selector: str) -> dict[str, str]:
    return dict(page.eval_on_selector(selector, "el => ({...el.dataset})"))


def _timeline_from_json(obj: dict[str, Any]) -> Timeline:
    pattern = None
    if obj.get("pattern"):
        pattern = Pattern(tuple(Phase(p["name"], float(p["duration_s"]), Direction(p["direction"]))
                                for p in obj["pattern"]["phases"]))
    return Timeline(pattern=pattern, start_s=float(obj["start_s"]),
                    origin_s=float(obj["origin_s"]),
                    end_s=None if obj.get("end_s") is None else float(obj["end_s"]),
                    cycle_base=int(obj.get("cycle_base", 0)),
                    prompts=tuple(Prompt(float(p["offset_s"]), str(p["text"]))
                                  for p in obj.get("prompts", [])),
                    reset_id=obj.get("reset_id"))


def _breath_fraction(timeline: Timeline, state: PhaseState) -> float:
    """How far through the breath: same-direction phases in a row count as one breath."""
    assert timeline.pattern is not None
    phases = timeline.pattern.phases
    first = last = state.index
    while first > 0 and phases[first - 1].direction is state.phase.direction:
        first -= 1
    while last < len(phases) - 1 and phases[last + 1].direction is state.phase.direction:
        last += 1
    run_s = sum(p.duration_s for p in phases[first:last + 1])
    into_s = sum(p.duration_s for p in phases[first:state.index])
    return min(1.0, (into_s + state.progress * state.phase.duration_s) / run_s)


def _api(page: Any, path: str) -> Any:
    """GET an API path from inside the page (same origin, with the page's token header)."""
    return page.evaluate(
        "async (p) => { const { authHeaders } = await import('/js/api.js'); "
        "const r = await fetch(p, {headers: authHeaders()}); "
        "return {status: r.status, body: await r.json()}; }", path)


def _post(page: Any, path: str, body: dict[str, Any]) -> Any:
    """POST JSON to an API path from inside the page (same origin, the page's token header)."""
    return page.evaluate(
        "async ([p, b]) => { const { authHeaders } = await import('/js/api.js'); "
        "const r = await fetch(p, {method: 'POST', body: JSON.stringify(b),"
        " headers: authHeaders({'Content-Type': 'application/json'})}); "
        "return {status: r.status, body: await r.json()}; }", [path, body])


def test_page_loads_clean_and_only_talks_to_its_server(page: Any, demo: DemoServer,
                                                       watch: Watch) -> None:
    wait_for(lambda: page.evaluate("() => document.body.dataset.live === 'open'"), 15,
              "the live stream to open")
    assert page.url.rstrip("/") == demo.url, "the launch link should land on the dashboard"
    assert page.title() == "afterbeat"
    assert "not a medical device" in page.inner_text("footer")
    chip = page.inner_text("#chip-recording")
    assert "Recording" in chip, chip
    assert watch.requests, "requests were recorded"
    assert watch.foreign == [], f"requests outside the server: {watch.foreign}"
    assert watch.page_errors == [], watch.page_errors
    assert watch.console_errors == [], watch.console_errors


def test_now_view_passes_axe_in_light_and_dark(page: Any) -> None:
    wait_for(lambda: int(_dataset(page, "#chart-hr").get("points") or 0) >= 2, 20,
              "the first chart points")
    _axe_clean_light_and_dark(page, "now")
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".calm-card").screenshot(path=str(ARTIFACTS / "now-calm-card.png"))


BREATHING_REASONS = ("too_short", "poor_signal", "no_clear_peak", "competing_peaks",
                     "estimates_disagree")
RECORD_BREATHING = """() => {
  if (window.breathingSeen) return;
  window.breathingSeen = [];
  window.afterbeatLive.on('metrics', (m) => window.breathingSeen.push({
    synthetic: m._synthetic === true,
    rate: m.respiration_rate_bpm ?? null, reason: m.respiration_reason ?? null,
    pacer: m.pacer_bpm ?? null, following: m.pacer_following ?? null,
    ok: m.pacer_following_ok ?? null, followReason: m.pacer_following_reason ?? null,
    signal: m.signal ?? null, compare: m.compare_words ?? null,
    signalShown: document.getElementById('num-quality').textContent.trim(),
    numbers: document.getElementById('calm-numbers').textContent.trim(),
    cycle: window.afterbeatLive.last.reset?.timeline?.pattern?.cycle_s ?? null,
    shown: document.getElementById('num-resp').textContent.trim(),
    why: document.getElementById('resp-why').textContent.trim(),
    follow: document.getElementById('follow').hidden ? null
      : document.getElementById('follow-words').textContent.trim(),
    fill: parseFloat(document.getElementById('follow-fill').style.width || '0')}));
}"""
"""Keeps what the page showed beside every metrics event (handlers run after the page's own)."""


def _breathing_seen(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate("() => window.breathingSeen ?? []"))


def _check_breathing_tile(page: Any, words: dict[str, str]) -> None:
    """Every metrics update so far: the tile showed the server's rate, or a dash and why."""
    for seen in _breathing_seen(page):
        if seen["rate"] is None:  # never a guessed number: a dash and the server's reason
            assert seen["shown"] == "—", seen
            if seen["pacer"] is None and seen["reason"]:
                assert seen["why"] == words[seen["reason"]], seen
        else:
            assert seen["shown"] == str(round(seen["rate"])), seen
        if seen["pacer"] is not None:  # the pacer sets the pace: no rate is guessed
            assert seen["why"] == "Not counted while the pacer sets the pace.", seen
        elif seen["rate"] is not None:
            assert seen["why"] == "", seen


def test_breathing_tile_shows_a_dash_and_why_when_the_rate_is_unknown(page: Any) -> None:
    page.evaluate(RECORD_BREATHING)
    words: dict[str, str] = page.evaluate(
        "async () => (await import('/js/now.js')).BREATHING_WHY")
    assert set(words) == set(BREATHING_REASONS)
    for reason, line in words.items():
        assert line.count(".") == 1 and len(line.split()) <= 12, (reason, line)
        assert not any(w in line.lower() for w in SCOLDING), line
    unknown = wait_for(lambda: [s for s in _breathing_seen(page) if s["rate"] is None
                                 and s["reason"]], 20, "an update with no breathing rate")
    _check_breathing_tile(page, words)
    assert unknown


def test_page_phase_arithmetic_equals_pacing_py(page: Any) -> None:
    """The page's phaseAt (web/js/pacer.js) against afterbeat.pacing.phase_at, many cases."""
    import random

    from afterbeat.resets.library import LIBRARY, resonance_pattern, timeline_for
    from afterbeat.resets.pacing import change_pattern

    rng = random.Random(7)
    cases: list[dict[str, Any]] = []
    for reset in LIBRARY:
        if reset.pattern is None:
            continue
        start_s = 1.7e9 + rng.uniform(0, 1e6)
        timelines = [timeline_for(reset.id, start_s)]
        changed_at = start_s + rng.uniform(1, 60)
        timelines.append(change_pattern(timelines[0], resonance_pattern(4.5), changed_at))
        for timeline in timelines:
            assert timeline.pattern is not None
            for t_s in [timeline.start_s - 3, timeline.start_s,
                        *(timeline.start_s + rng.uniform(0, 900) for _ in range(40)),
                        *(timeline.start_s + k * timeline.pattern.cycle_s for k in (1, 7))]:
                state = phase_at(timeline, t_s)
                cases.append({"timeline": timeline.to_json(unix_offset_s=0.0), "t": t_s,
                              "want": [state.index, state.progress, state.remaining_s,
                                       state.cycle, state.elapsed_s, state.finished,
                                       _breath_fraction(timeline, state)]})
    got = page.evaluate(
        """async (cases) => {
             const { phaseAt, breathFraction } = await import('/js/pacer.js');
             return cases.map(({timeline, t}) => {
               const s = phaseAt(timeline, t);
               return [s.index, s.progress, s.remainingS, s.cycle, s.elapsedS, s.finished,
                       breathFraction(timeline, s)];
             });
           }""", cases)
    assert len(got) == len(cases) > 300
    for case, page_state in zip(cases, got, strict=True):
        want: list[Any] = case["want"]
        assert page_state[0] == want[0] and page_state[3] == want[3], (case, page_state)
        assert page_state[1:3] == pytest.approx(want[1:3], abs=1e-6), (case, page_state)
        assert page_state[4] == pytest.approx(want[4], abs=1e-6)
        assert page_state[5] == want[5]
        assert page_state[6] == pytest.approx(want[6], abs=1e-6), "shape follows the breath"


def test_charts_update_over_time(page: Any) -> None:
    # The live charts keep a sliding window, so once it is full the number of points stays
    # about the same: progress is the time of the newest point moving on.
    def points() -> int:
        return int(_dataset(page, "#chart-hr").get("points") or 0)

    def last_t_s() -> float:
        return float(_dataset(page, "#chart-hr").get("lastT") or "nan")

    wait_for(lambda: points() >= 3, 20, "the heart-rate chart's first points")
    before_t_s = last_t_s()
    before_pixels = page.eval_on_selector("#chart-hr", "c => c.toDataURL()")
    before_rmssd = page.eval_on_selector("#chart-rmssd", "c => c.toDataURL()")
    wait_for(lambda: last_t_s() >= before_t_s + 3, 15, "newer heart-rate points",
              detail=lambda: f"newest point at {last_t_s()} s, was {before_t_s} s")
    # Both canvases redraw on the next animation frame, not at once: wait for each.
    wait_for(lambda: page.eval_on_selector("#chart-hr", "c => c.toDataURL()") != before_pixels,
              5, "the heart-rate canvas to be redrawn")
    wait_for(lambda: page.eval_on_selector("#chart-rmssd", "c => c.toDataURL()") != before_rmssd,
              5, "the RMSSD canvas to be redrawn")
    assert page.inner_text("#num-hr").strip() not in ("", "—")


def test_typed_note_is_rendered_as_text(page: Any, watch: Watch) -> None:
    page.fill("#note-text", XSS_NOTE)
    page.press("#note-text", "Enter")
    item = wait_for(lambda: page.query_selector('#marks-list li[data-kind="note"]'), 5,
                     "the note echoed back by the server")
    assert item.eval_on_selector(".mark-text", "el => el.textContent") == XSS_NOTE
    assert page.evaluate("() => document.querySelectorAll('img').length") == 0
    page.wait_for_timeout(200)
    assert watch.dialogs == [], "no script from the note ran"


def test_score_and_words_are_the_servers_and_say_what_50_means(page: Any) -> None:
    read = ("() => ({last: window.afterbeatLive.last.metrics ?? null,"
            " text: document.getElementById('score-value').textContent.trim(),"
            " words: document.getElementById('score-words').textContent.trim(),"
            " band: document.getElementById('score').dataset.band,"
            " now: document.getElementById('score-meter').getAttribute('aria-valuenow'),"
            " label: document.getElementById('score-label').textContent})")

    def shown() -> Any:
        got = page.evaluate(read)  # one read: the page and the last event it showed
        last = got["last"]
        return got if last and last.get("score") is not None else None

    got = wait_for(shown, 20, "a scored update on the page")
    last = got["last"]
    assert got["text"] == got["now"] == str(int(last["score"])), got
    assert got["words"] == last["score_words"] and got["words"], got
    assert last["score_band"] == last["state"] == got["band"], got
    assert "50 is your usual" in got["label"]


def test_marked_session_end_leads_to_a_suggestion(page: Any) -> None:
    wait_for(lambda: page.query_selector('#marks-list li[data-kind="session_end"]'), 30,
              "the demo's session end marker on the page")
    end_t_s = float(page.evaluate(
        "() => window.afterbeatLive.last.marker_session_end?.t_s ?? NaN"))
    card = wait_for(lambda: page.query_selector("#suggestion:not([hidden])"), 45,
                     "a suggested reset after the session end")
    data = _dataset(page, "#suggestion")
    assert data.get("resetId"), data
    suggestion_t_s = float(data["tS"])
    assert suggestion_t_s > end_t_s, (suggestion_t_s, end_t_s)
    assert card.inner_text().strip()
    assert page.inner_text("#suggestion-title").strip() != data["resetId"], \
        "the suggestion shows the reset's title from the library"
    calm = page.inner_text("#calm-line").strip()
    assert calm, "the calm line says what is happening"
    # The demo counts down before starting it by itself, visibly.
    countdown = page.inner_text("#suggestion-countdown")
    assert "starts this by itself in" in countdown, countdown
    # Before Start: the title and at most two short sentences; the rest is folded away.
    reason = page.inner_text("#suggestion-reason").strip()
    assert 0 < reason.count(".") <= 2 and len(reason.split()) <= 40, reason
    # Back to settled while the card is up: it stays as an offer, re-worded; and back again.
    # One synchronous run in the page, so no real state event can land between the steps.
    said: list[str] = page.evaluate("""() => {
      const live = window.afterbeatLive;
      const was = live.last.state;
      const reason = () => document.getElementById('suggestion-reason').textContent.trim();
      live.emit('state', {...was, state: 'settled'});
      const settled = reason();
      live.emit('state', was);
      return [settled, reason()];
    }""")
    settled_words = page.evaluate(
        "async () => (await import('/js/resetcard.js')).SETTLED_AGAIN_WORDS")
    assert said == [settled_words, reason], said
    assert not page.is_visible("#suggestion-instructions"), "instructions fold under Start"
    page.set_viewport_size(PHONE)
    try:
        page.evaluate("() => window.scrollTo(0, 0)")
        page.wait_for_timeout(150)
        for selector in ("#suggestion-title", "#suggestion-reason", "#btn-reset-start"):
            assert _in_viewport(page, selector), f"{selector} is not on the phone's first screen"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "suggestion-phone.png"))
    finally:
        page.set_viewport_size(DESKTOP)


def test_the_demo_starts_the_reset_by_itself_and_slows_to_real_time(page: Any) -> None:
    wait_for(lambda: page.query_selector("#pacer-card:not([hidden])"), 15,
              "the demo to start the suggested reset after its countdown",
              detail=lambda: page.inner_text("#suggestion-countdown"))
    reset = _api(page, "/api/status")["body"]["reset"]
    assert reset and reset["timeline"]["clock"] == "unix", reset
    assert "shortened for the demo" in page.inner_text("#pacer-total")
    assert "reset is running" in page.inner_text("#calm-line"), "the words agree with the pacer"
    # While the reset runs, the session clock runs in real time (60x before it).
    clock = "() => window.afterbeatLive.last.metrics.t_s"
    first = float(page.evaluate(clock))
    time.sleep(6.0)
    later = float(page.evaluate(clock))
    assert 0.0 < later - first <= 15.0, (first, later)  # at 60x it would be about 360 s


def test_pacer_phase_follows_the_clock(page: Any) -> None:
    wait_for(lambda: page.query_selector("#pacer-card:not([hidden])"), 5, "the pacer card")
    status = _api(page, "/api/status")
    assert status["status"] == 200
    reset = status["body"]["reset"]
    assert reset and reset["timeline"]["clock"] == "unix", reset
    timeline = _timeline_from_json(reset["timeline"])
    assert timeline.pattern is not None
    seen_phases = set()
    scales = set()
    for _ in range(12):
        before_s = time.time()
        sample = page.evaluate(
            "() => ({...document.getElementById('pacer').dataset, readAt: Date.now() / 1000,"
            " words: document.getElementById('pacer-phase').textContent,"
            " count: document.getElementById('pacer-count').textContent,"
            " transform: document.getElementById('pacer-shape').style.transform})")
        after_s = time.time()
        shown_at_s = float(sample["nowS"])
        # The page shows the phase of a moment within 100 ms of the real clock (bracketed by
        # the test's own clock around the read, so the round trip does not count) ...
        assert before_s - 0.1 <= shown_at_s <= after_s, (before_s, shown_at_s, after_s)
        assert 0 <= float(sample["readAt"]) - shown_at_s < 0.1, sample
        # ... and exactly the phase afterbeat.resets.pacing computes for that moment.
        expected = phase_at(timeline, shown_at_s)
        assert sample["phase"] == str(expected.phase.direction), (sample, expected)
        assert int(sample["phaseIndex"]) == expected.index
        assert float(sample["progress"]) == pytest.approx(expected.progress, abs=1e-3)
        assert float(sample["remainingS"]) == pytest.approx(expected.remaining_s, abs=2e-3)
        assert int(sample["cycle"]) == expected.cycle
        assert sample["words"] == expected.phase.name, "the library's words for the phase"
        assert int(sample["count"]) == max(1, math.ceil(expected.remaining_s - 1e-6))
        seen_phases.add(sample["phase"])
        scales.add(sample["transform"])
        time.sleep(0.45)
    assert len(scales) > 3, "the shape expands and contracts"
    assert seen_phases, seen_phases


def test_sound_cues_are_opt_in_and_follow_the_phases(page: Any) -> None:
    assert not page.is_checked("#opt-audio"), "sound is off until the person turns it on"
    assert "cues" not in _dataset(page, "#pacer")
    page.check("#opt-audio")
    data = wait_for(lambda: (d := _dataset(page, "#pacer")).get("nextCueS") and d, 5,
                     "tones handed to the audio clock ahead of time")
    assert int(data["cues"]) >= 1
    # Each tone starts exactly at a breath's start, by the same timeline arithmetic.
    timeline = _timeline_from_json(_api(page, "/api/status")["body"]["reset"]["timeline"])
    cue_s = float(data["nextCueS"])
    at = phase_at(timeline, cue_s + 1e-3)
    assert at.progress < 1e-2 and at.phase.direction is not Direction.HOLD, at
    stored = wait_for(lambda: _api(page, "/api/settings")["body"].get("audio_cues"), 3,
                       "the choice kept in the person's settings")
    assert stored is True
    page.uncheck("#opt-audio")


def test_reduced_motion_keeps_words_and_countdown_without_scaling(page: Any) -> None:
    page.emulate_media(reduced_motion="reduce")
    try:
        wait_for(lambda: _dataset(page, "#pacer").get("motion") == "reduced", 3,
                  "the pacer to notice prefers-reduced-motion")
        transform = page.eval_on_selector("#pacer-shape", "el => getComputedStyle(el).transform")
        assert transform == "none"
        assert page.inner_text("#pacer-phase") in ("Breathe in", "Hold", "Breathe out")
        assert page.inner_text("#pacer-count").strip().isdigit()
    finally:
        page.emulate_media(reduced_motion="no-preference")


def test_during_breathing_the_page_says_whether_the_heart_follows_the_pacer(
        page: Any) -> None:
    wait_for(lambda: page.is_visible("#follow"), 5, "the heart-follows-the-pacer line")

    def same_pace(seen: dict[str, Any]) -> bool:
        return bool(seen["pacer"] is not None and seen["cycle"]
                    and abs(seen["pacer"] - 60.0 / seen["cycle"]) < 0.05)

    wait_for(lambda: [s for s in _breathing_seen(page) if s["follow"] is not None], 15,
              "the first update shown beside the pacer")
    # The demo's recording (a person not following any pacer) often reads as patchy here, so
    # besides the real updates, the page's own dispatcher gets the last update with each kind
    # of answer: following, starting to, not yet, and a reading at another pace.
    pace = float(page.evaluate("() => window.afterbeatLive.last.metrics.pacer_bpm"))
    for following, ok, at_pace in ((0.72, True, pace), (0.4, False, pace), (0.1, False, pace),
                                   (0.8, True, pace + 1.0)):
        page.evaluate(
            """([f, ok, p]) => window.afterbeatLive.emit('metrics', {
                 ...window.afterbeatLive.last.metrics, pacer_following: f,
                 pacer_following_ok: ok, pacer_bpm: p, _synthetic: true})""",
            [following, ok, at_pace])
    # Only the four updates sent here (a real one may arrive between them).
    told = [s["follow"] for s in _breathing_seen(page) if s["synthetic"]][-4:]
    assert told[0] == "Yes: your heart rhythm is following the pacer.", told
    assert told[1] == "Your heart rhythm is starting to follow the pacer.", told
    assert told[2] == ("Your heart rhythm is not moving with this pace yet. Just keep following "
                       "the circle."), told
    new_pace: str = page.evaluate("async () => (await import('/js/resetcard.js')).NEW_PACE_WORDS")
    assert told[3] == new_pace, "a reading at another pace than the one on screen waits"
    for seen in _breathing_seen(page):
        if seen["follow"] is None:
            continue
        # Only a reading at the pace on screen is put in words; any other waits.
        same = same_pace(seen)
        shown_share: float | None = seen["following"] if same else None
        shown_ok: bool | None = seen["ok"] if same else None
        expected = new_pace if not same and seen["pacer"] is not None else page.evaluate(
            "async ([f, ok, r]) => (await import('/js/resetcard.js')).followWords(f, ok, r)",
            [shown_share, shown_ok, seen["followReason"] if same else None])
        assert seen["follow"] == expected, seen
        assert ("following the pacer" in expected) == (shown_ok is True), seen
        assert seen["fill"] == pytest.approx(100 * (shown_share or 0.0), abs=0.1), seen
        assert not any(word in expected.lower() for word in SCOLDING), expected
        if seen["signal"] == "clean":  # a good signal is never blamed
            assert "signal" not in expected.lower() and "patchy" not in expected.lower(), seen
    assert page.inner_text("#follow-label") == "Does your heart rhythm follow the pacer?"


def test_pace_chosen_during_resonance_breathing_applies_at_once(page: Any) -> None:
    reset = _api(page, "/api/status")["body"]["reset"]
    assert reset and reset["reset"]["adjustable_pace"], reset
    wait_for(lambda: page.query_selector("#pacer-pace-box:not([hidden])"), 3,
              "the pace chooser in the running reset")
    page.select_option("#pacer-pace", "5")
    paced = wait_for(lambda: (t := _api(page, "/api/status")["body"]["reset"]["timeline"])
                      ["pattern"]["cycle_s"] == pytest.approx(12.0) and t, 5,
                      "the server to pace 5 breaths a minute")
    assert paced["origin_s"] == reset["timeline"]["origin_s"], "the same reset, not a restart"
    wait_for(lambda: float(_dataset(page, "#pacer")["startS"]) == paced["start_s"], 3,
              "the pacer to follow the new timeline")
    timeline = _timeline_from_json(paced)
    sample = _dataset(page, "#pacer")
    expected = phase_at(timeline, float(sample["nowS"]))
    assert sample["phase"] == str(expected.phase.direction)
    assert float(sample["progress"]) == pytest.approx(expected.progress, abs=1e-3)
    assert page.inner_text("#pacer-pace-status") == ""


def test_focus_mode_gives_the_reset_the_screen(page: Any) -> None:
    assert _dataset(page, "body").get("focus") == "off", "desktop: everything, by default"
    page.click("#btn-focus")
    wait_for(lambda: _dataset(page, "body").get("focus") == "on", 3, "focus mode")
    assert not page.is_visible("header.top") and not page.is_visible(".charts-card")
    assert _in_viewport(page, ".pacer-stage") and _in_viewport(page, "#btn-reset-stop")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "pacer-focus.png"))
    _axe_clean_light_and_dark(page, "pacer")
    page.set_viewport_size(PHONE)
    try:
        page.wait_for_timeout(300)
        stage = page.eval_on_selector(
            ".pacer-stage", "el => { const r = el.getBoundingClientRect();"
            " return [r.left, r.right, innerWidth]; }")
        assert _in_viewport(page, ".pacer-stage"), "the pacer is whole on the phone"
        assert abs(stage[0] - (stage[2] - stage[1])) <= 2, f"the pacer is centred: {stage}"
        page.screenshot(path=str(ARTIFACTS / "pacer-focus-phone.png"))
        # Support and its contacts stay one step away while only the reset is on screen,
        # and the Support view is whole (header, navigation) while the reset runs.
        assert page.is_visible("#pacer-support-link")
        page.click("#pacer-support-link")
        wait_for(lambda: page.is_visible("#view-support"), 3, "the Support view")
        assert page.is_visible("header.top") and _dataset(page, "body").get("focus") == "on"
        page.evaluate("() => { location.hash = '#/now'; }")
        wait_for(lambda: page.is_visible("#pacer-card"), 3, "back to the running reset")
        assert not page.is_visible("header.top")
    finally:
        page.set_viewport_size(DESKTOP)
    page.click("#btn-focus")
    wait_for(lambda: _dataset(page, "body").get("focus") == "off", 3, "everything back")
    assert page.is_visible("header.top")


def test_screenshots_are_kept(page: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        page.wait_for_timeout(400)
        page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
        assert spills(page, ".calm-card, #pacer-card") == []
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"the phone layout scrolls sideways by {overflow} px"
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
    background = "() => getComputedStyle(document.documentElement).backgroundColor"
    light_bg = page.evaluate(background)
    page.emulate_media(color_scheme="dark")
    try:
        page.wait_for_timeout(400)
        assert page.evaluate(background) != light_bg
        page.screenshot(path=str(ARTIFACTS / "dashboard-dark.png"), full_page=True)
    finally:
        page.emulate_media(color_scheme="light")
    for name in ("dashboard.png", "dashboard-phone.png", "dashboard-dark.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000


def test_stopping_the_reset_shows_the_after_card(page: Any) -> None:
    page.click("#btn-reset-stop")
    wait_for(lambda: page.query_selector("#after-card:not([hidden])"), 5, "the after card")
    assert page.query_selector("#pacer-card[hidden]")
    calm = page.inner_text("#calm-line")
    assert "reset is running" not in calm
    # Never the suggestion that led to the reset, to someone who has just done one.
    assert "reset may help" not in calm and calm.startswith("The reset has ended."), calm
    page.click("#rating-after button:nth-child(4)")  # 3 of 10
    wait_for(lambda: page.query_selector('#marks-list li[data-kind="rating"]'), 5,
              "the rating marker echoed back")
    # The demo's session clock runs fast, so the 3 minutes after the reset pass quickly.
    table = wait_for(lambda: page.query_selector("#effect-table:not([hidden])"), 20,
                      "the before-and-after numbers of the reset")
    text = table.inner_text()
    assert "Heart rate" in text and "Before" in text and "After" in text, text
    assert "lower usually means calmer" in text and "higher usually means more relaxed" in text
    # The definition names the rule the effect was judged by (a plan may change it), and
    # the note names the effect's own windows: nothing on the card is a fixed string.
    effect = page.evaluate("() => window.afterbeatLive.last.reset_effect")
    assert effect["settle_hold_s"] == 120.0
    assert "for 2 minutes" in page.inner_text("#after-card .settle-definition")
    note = page.inner_text("#effect-note")
    assert "the 2 minutes before and the 3 minutes after" in note, note
    _axe_clean_light_and_dark(page, "results")


def test_settling_words_follow_the_rule_in_force(page: Any) -> None:
    said: list[str] = page.evaluate(
        "async () => { const { spanText, settledMeans } = await import('/js/dom.js');"
        " return [spanText(30), spanText(60), spanText(120), spanText(1800),"
        " settledMeans(300), settledMeans(null)]; }")
    assert said[:4] == ["30 seconds", "1 minute", "2 minutes", "30 minutes"]
    assert "close to your usual for 5 minutes" in said[4] and "those 5 minutes began" in said[4]
    assert "2 minutes unless your plan changes it" in said[5], said[5]
    status = _api(page, "/api/status")["body"]
    assert status["rule"] == {"settle_hold_s": 120.0, "grace_s": 300.0}


def test_soon_after_a_reset_is_one_rule_that_a_new_session_forgets(page: Any) -> None:
    """0 <= t - end < 600 s after the last reset's end; a session clock that goes back (a new
    session, the page still open) forgets the end."""
    said: list[bool] = page.evaluate(
        "async () => { const { ResetEnd } = await import('/js/dom.js');"
        " const r = new ResetEnd(); r.seen(900); r.ended(1000);"
        " const out = [r.soonAfter(990), r.soonAfter(1000), r.soonAfter(1599),"
        " r.soonAfter(1600)]; r.seen(1200); r.seen(30); out.push(r.soonAfter(1100));"
        " return out; }")
    assert said == [False, True, True, False, False], said


def test_breathing_tile_agreed_with_every_update_of_the_story(page: Any) -> None:
    words: dict[str, str] = page.evaluate(
        "async () => (await import('/js/now.js')).BREATHING_WHY")
    seen = _breathing_seen(page)
    assert any(s["pacer"] is not None for s in seen) and any(s["pacer"] is None for s in seen)
    _check_breathing_tile(page, words)
    # The Signal tile speaks of the beats alone, and the numbers beside the tiles in words come
    # from the same update as the tiles, on every update of the story.
    signal_words: dict[str, str] = page.evaluate(
        "async () => (await import('/js/now.js')).SIGNAL_WORDS")
    assert any(s["compare"] for s in seen)
    for s in seen:
        assert s["signalShown"] == signal_words[s["signal"]], s
        assert s["numbers"] == (s["compare"] or ""), s
        if s["signal"] == "clean":
            assert "patchy" not in s["why"].lower() and "signal" not in s["why"].lower(), s


def test_the_page_says_when_the_demo_has_finished_and_how_to_stop(page: Any) -> None:
    banner = wait_for(lambda: page.query_selector("#demo-banner:not([hidden])"), 60,
                       "the demo's end", detail=lambda: page.inner_text("#chip-connection"))
    assert "Ctrl+C" in banner.inner_text()
    # No beats arrive any more: the last score stays, dimmed, and its words say it is the last.
    held = wait_for(lambda: page.query_selector('#score[data-held="true"]'), 30,
                    "the score to be held once no beats arrive")
    words = held.query_selector("#score-words").inner_text()
    assert words.startswith("Not read right now"), words
    # Nothing else speaks as if a strap were still worn and read.
    assert page.inner_text("#calm-line").startswith("No beats are arriving now. At the last "
                                                     "reading:"), page.inner_text("#calm-line")
    assert page.inner_text("#num-quality").strip() == "No beats"
    assert not page.is_visible("#chip-contact") and not page.is_visible("#chip-battery")
    # Decisive: a scored update shows the score un-held; the finished status alone holds it.
    status = _api(page, "/api/status")["body"]
    assert status["connection"]["state"] == "finished", status
    said: dict[str, Any] = page.evaluate("""(status) => {
      const live = window.afterbeatLive;
      const score = document.getElementById('score');
      const words = () => document.getElementById('score-words').textContent.trim();
      live.emit('metrics', {...live.last.metrics, score: 62, score_band: 'activated',
                            score_words: 'Somewhat above your usual', _synthetic: true});
      const scored = {held: score.dataset.held, words: words()};
      live.emit('status', status);
      return {scored, after: {held: score.dataset.held, words: words()}};
    }""", status)
    assert said["scored"] == {"held": "false", "words": "Somewhat above your usual"}, said
    assert said["after"]["held"] == "true", said
    assert said["after"]["words"].startswith("Not read right now"), said


def test_keyboard_reaches_the_marks_and_shows_focus(page: Any) -> None:
    page.focus("a.skip")  # start from the top of the page, as after a fresh load
    reached = []
    for _ in range(80):
        page.keyboard.press("Tab")
        info = page.evaluate(
            "() => { const el = document.activeElement; const cs = getComputedStyle(el);"
            " return {tag: el.tagName, mark: el.dataset.mark ?? '', id: el.id,"
            " text: el.textContent.trim().slice(0, 40), outline: cs.outlineStyle}; }")
        reached.append(info)
        if info["id"] == "marks-list":
            break
    marks = [r["mark"] for r in reached if r["mark"]]
    assert marks == ["baseline_start", "baseline_end", "session_start", "session_end"], reached
    assert all(r["tag"] in ("A", "BUTTON", "INPUT", "SELECT", "SUMMARY") for r in reached[:-1]), \
        [(r["tag"], r["id"], r["text"]) for r in reached]
    buttons = [r for r in reached if r["tag"] == "BUTTON"]
    assert buttons and all(r["outline"] != "none" for r in reached), "focus is visible"
    ids = [r["id"] for r in reached]
    assert "note-text" in ids and ids[-1] == "marks-list", "the marks list is reachable"
    # ... and scrolls from the keyboard.
    page.keyboard.press("End")
    wait_for(lambda: page.eval_on_selector(
        "#marks-list", "el => el.scrollHeight > el.clientHeight + 1 ? el.scrollTop > 0 : true"),
        3, "the marks list to scroll from the keyboard")


def test_history_report_and_support_views(page: Any, demo: DemoServer) -> None:
    page.click('nav a[data-view-link="history"]')
    link = wait_for(lambda: page.query_selector("#session-list a.session-link"), 5,
                     "the demo recording in the history list")
    listed = page.inner_text("#session-list")
    assert "Demo recording (real heartbeats replayed)" in listed and "derived" not in listed
    link.click()
    wait_for(lambda: int(_dataset(page, "#report-hr").get("points") or 0) > 10, 20,
              "the session report's heart-rate series",
              detail=lambda: page.inner_text("#report-meta"))
    note = wait_for(
        lambda: page.query_selector('#report-markers li[data-kind="note"] .mark-text'), 5,
        "the note in the report's marks")
    assert XSS_NOTE in note.text_content()
    assert page.evaluate("() => document.querySelectorAll('img').length") == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    recovery = page.inner_text("#report-recovery")
    assert "after the session ended" in recovery, recovery
    assert ":" not in page.inner_text("#report-markers .mark-time >> nth=0"), "no clock-like times"
    _labels_whole_and_apart(page, "#report-hr")
    page.set_viewport_size(PHONE)
    try:
        page.wait_for_timeout(500)  # the charts redraw at the new width
        labels = _labels_whole_and_apart(page, "#report-hr")
        _labels_whole_and_apart(page, "#report-rmssd")
        assert labels, "the phone report still labels its chart"
        page.screenshot(path=str(ARTIFACTS / "report-phone.png"), full_page=True)
    finally:
        page.set_viewport_size(DESKTOP)
    _axe_clean_light_and_dark(page, "report")
    page.click('nav a[data-view-link="history"]')
    wait_for(lambda: page.query_selector("#session-list a.session-link"), 5, "the list")
    _axe_clean_light_and_dark(page, "history")
    page.click('nav a[data-view-link="trends"]')
    wait_for(lambda: page.inner_text("#trends-summary").strip(), 5, "the learned summary")
    assert "2 minutes" in page.inner_text("#view-trends .settle-definition")
    # Every settle dot is at or below the axis' highest label; one use is no "median".
    sessions = _api(page, "/api/trends")["body"]["sessions"]
    settle_min = [s["time_to_settle_s"] / 60 for s in sessions
                  if s.get("time_to_settle_s") is not None]
    assert settle_min, sessions
    wait_for(lambda: int(_dataset(page, "#trend-settle").get("points") or 0) == len(settle_min),
             5, "the settle chart")
    y_labels = [float(b["text"]) for b in _labels_whole_and_apart(page, "#trend-settle")
                if b["x1"] <= 38 and b["text"].replace(".", "", 1).isdigit()]
    assert y_labels and max(y_labels) >= max(settle_min), (y_labels, settle_min)
    lines = page.inner_text("#trends-lines")
    assert "over 1 time" not in lines and "one time so far" in lines, lines
    wait_for(lambda: page.query_selector("#summary-notes > *"), 5,
              "the notes to choose from in the summary card")
    _axe_clean_light_and_dark(page, "trends (with the summary to share)")
    page.set_viewport_size(PHONE)
    try:
        page.wait_for_timeout(300)
        assert spills(page, "#summary-card") == []
        page.locator("#summary-card").screenshot(path=str(ARTIFACTS / "summary-card-phone.png"))
    finally:
        page.set_viewport_size(DESKTOP)
    page.click('nav a[data-view-link="support"]')
    wait_for(lambda: page.query_selector("#crisis-lines li"), 5, "crisis lines")
    _axe_clean_light_and_dark(page, "support")
    assert "not a medical device" in page.inner_text("#view-support")
    assert "988" in page.inner_text("#crisis-lines"), "en-US browser: the US line"
    page.click('nav a[data-view-link="resonance"]')
    wait_for(lambda: page.is_visible("#btn-resonance-start"), 5, "the pace check's intro")
    page.click("#resonance-intro summary")  # the options too
    _axe_clean_light_and_dark(page, "resonance")
    page.set_viewport_size(PHONE)
    try:
        page.wait_for_timeout(300)
        assert spills(page, "#view-resonance .card") == []
    finally:
        page.set_viewport_size(DESKTOP)


def test_plan_saved_from_the_page_is_text_and_sets_the_lines_locale(page: Any) -> None:
    contact = "<b>Text Sam</b> & then rest"
    page.click('nav a[data-view-link="support"]')
    page.click("#plan-details summary")
    wait_for(lambda: page.is_visible("#btn-plan-save-file"), 3, "the plan's file controls")
    _axe_clean_light_and_dark(page, "support (the plan and its file controls)")
    page.focus("#plan-file-input")  # the file picker is reached by keyboard and shows focus
    assert page.eval_on_selector(
        "label.file-pick", "el => getComputedStyle(el).outlineStyle") != "none"
    page.set_viewport_size(PHONE)
    try:
        page.wait_for_timeout(300)
        assert spills(page, "#plan-details") == []
        page.locator("#plan-details").screenshot(path=str(ARTIFACTS / "plan-phone.png"))
    finally:
        page.set_viewport_size(DESKTOP)
    page.fill("#plan-contact-text", contact)
    page.fill("#plan-locale", "de-DE")
    page.check('#plan-preferred input[value="walk"]')
    page.click("#plan-form button[type=submit]")
    wait_for(lambda: page.inner_text("#plan-saved") == "Saved.", 5, "the plan to be saved",
              detail=lambda: page.inner_text("#plan-saved"))
    assert page.eval_on_selector("#plan-contact", "el => el.textContent") == contact
    assert page.evaluate("() => document.querySelectorAll('#view-support b').length") == 0
    wait_for(lambda: "de-DE" in page.inner_text("#crisis-locale"), 5, "lines for de-DE")
    assert "TelefonSeelsorge" in page.inner_text("#crisis-lines")
    assert "988" not in page.inner_text("#crisis-lines"), "de-DE never shows 988"
    stored = _api(page, "/api/plan")["body"]
    assert stored["contact_text"] == contact and stored["preferred"] == ["walk"]
    # The plan as a file, edited in a text editor and loaded again: a preview first.
    text = str(_api(page, "/api/plan/file")["body"]["text"])
    assert "then rest" in text, text
    edited = text.replace("then rest", "then rest a while").encode()
    page.set_input_files("#plan-file-input", files=[
        {"name": "plan.toml", "mimeType": "text/plain", "buffer": edited}])
    wait_for(lambda: page.is_visible("#btn-plan-apply"), 5, "the preview of the loaded plan",
              detail=lambda: page.inner_text("#plan-file-status"))
    assert "then rest a while" in page.inner_text("#plan-file-changes")
    _axe_clean_light_and_dark(page, "support (a plan file loaded, before it is used)")
    page.set_viewport_size(PHONE)
    try:
        page.wait_for_timeout(300)
        assert spills(page, "#plan-details") == []
        page.locator(".plan-files").screenshot(path=str(ARTIFACTS / "plan-file-phone.png"))
    finally:
        page.set_viewport_size(DESKTOP)
    page.click("#btn-plan-apply")
    wait_for(lambda: "in use now" in page.inner_text("#plan-file-status"), 5,
              "the loaded plan to be used")
    assert _api(page, "/api/plan")["body"]["contact_text"] == contact + " a while"
    page.click('nav a[data-view-link="now"]')


def test_provisional_baseline_is_shown_and_can_be_started_over(page: Any) -> None:
    wait_for(lambda: "your usual is still being learned: 1 of 3 rests so far"
              in page.inner_text("#baseline-note"), 10,
              "the provisional baseline next to the chart legend",
              detail=lambda: page.inner_text(".charts-card .legend"))
    page.click('nav a[data-view-link="support"]')
    wait_for(lambda: "still being learned (1 of 3" in page.inner_text("#baseline-description"), 5,
              "the baseline described on the support view",
              detail=lambda: page.inner_text("#baseline-card"))
    page.click("#btn-baseline-reset")
    page.click("#btn-baseline-reset-no")  # asked first; keeping it changes nothing
    assert _api(page, "/api/baseline")["body"]["baseline"] is not None
    page.click("#btn-baseline-reset")
    page.click("#btn-baseline-reset-yes")
    wait_for(lambda: "No resting baseline yet" in page.inner_text("#baseline-description"), 5,
              "the baseline to be reset", detail=lambda: page.inner_text("#baseline-card"))
    assert _api(page, "/api/baseline")["body"]["baseline"] is None
    page.click('nav a[data-view-link="now"]')
    wait_for(lambda: "none yet" in page.inner_text("#baseline-note"), 5,
              "the legend to say there is no baseline now")


def test_any_time_movement_reset_runs_a_timer_with_prompts(page: Any) -> None:
    wait_for(lambda: page.query_selector("#pacer-card[hidden]"), 3, "no reset running")
    page.click("#btn-any-reset")
    page.select_option("#reset-picker", "shake_out")
    assert page.inner_text("#suggestion-title") == "Shaking out"
    page.click("#btn-reset-start")
    wait_for(lambda: page.query_selector("#movement:not([hidden])"), 5, "the movement timer")
    assert page.query_selector("#pacer[hidden]"), "no breathing shape for a movement reset"
    timeline = _timeline_from_json(_api(page, "/api/status")["body"]["reset"]["timeline"])
    first = _dataset(page, "#movement")
    assert first["promptIndex"] == "0"
    assert page.inner_text("#movement-prompt") == timeline.prompts[0].text
    assert page.inner_text("#movement-time").strip() in ("2:00", "1:59", "1:58")
    wait_for(lambda: float(_dataset(page, "#movement")["elapsedS"])
              > float(first["elapsedS"]) + 1, 5, "the timer to move on the clock")
    page.click("#btn-reset-stop")
    wait_for(lambda: page.query_selector("#after-card:not([hidden])"), 5, "the after card")


def test_a_reset_after_the_demo_ended_shows_only_its_own_numbers(page: Any,
                                                                 watch: Watch) -> None:
    """The demo has ended: the after card never shows an earlier reset's numbers, says plainly
    that none can come, and its marks are at the recording's end, not past it."""
    assert page.query_selector("#after-card:not([hidden])")
    assert page.query_selector("#effect-table[hidden]"), page.inner_text("#after-card")
    assert page.query_selector("#effect-settle[hidden]"), page.inner_text("#after-card")
    assert "No heartbeats are arriving" in page.inner_text("#effect-note")
    last = page.evaluate("() => ({start: window.afterbeatLive.last.marker_reset_start.t_s,"
                         " metrics: window.afterbeatLive.last.metrics.t_s})")
    assert last["start"] <= last["metrics"] + 5.0, last
    # A reload replays the started and stopped resets: the page asks nothing to stop.
    stops = sum("/api/resets/stop" in url for url in watch.requests)
    page.reload()
    wait_for(lambda: page.evaluate("() => (window.afterbeatLive?.counts.reset ?? 0) >= 2"), 15,
              "the replayed reset events after the reload")
    # The demo's suggestion is replayed too, yet the finished demo starts nothing by itself.
    assert page.evaluate("() => window.afterbeatLive.counts.suggestion ?? 0") >= 1
    assert page.query_selector("#suggestion-countdown[hidden]"), \
        page.inner_text("#suggestion-countdown")
    # A kept start whose planned end has passed (as after a full reset): history, not run again.
    page.evaluate(_REPLAY_ENDED_RESET)
    assert _api(page, "/api/status")["body"]["reset"] is None
    assert sum("/api/resets/stop" in url for url in watch.requests) == stops
    assert page.query_selector("#pacer-card[hidden]")


def test_a_reload_keeps_a_reset_that_runs_again_after_an_earlier_stop(page: Any) -> None:
    """The kept history holds a start and a stop of cold_water, then a new start of it: after
    a reload the page shows the one running (the old stop is history), and a live stop ends it."""
    for path, body in (("/api/resets/start", {"reset_id": "cold_water"}),
                       ("/api/resets/stop", {"finished": False}),
                       ("/api/resets/start", {"reset_id": "cold_water"})):
        assert _post(page, path, body)["status"] in (200, 201), path
    page.reload()
    wait_for(lambda: page.evaluate(
        "() => { const l = window.afterbeatLive; return Boolean(l && l.helloSeq !== null"
        " && l.lastEventId !== null && l.lastEventId >= l.helloSeq); }"), 15,
        "every kept event up to the hello dispatched after the reload")
    assert _api(page, "/api/status")["body"]["reset"]["reset_id"] == "cold_water"
    assert page.query_selector("#pacer-card:not([hidden])"), page.inner_text("#calm-line")
    assert not page.inner_text("#calm-line").startswith("The reset has ended"), \
        page.inner_text("#calm-line")
    assert _post(page, "/api/resets/stop", {"finished": False})["status"] == 200
    wait_for(lambda: page.query_selector("#pacer-card[hidden]"), 5,
              "the live stop of the running reset to end it on the page")


_REPLAY_ENDED_RESET = """() => {
  const live = window.afterbeatLive;
  const now = Date.now() / 1000;
  const kept = live.lastEventId;
  live.lastEventId = live.helloSeq;  // an event numbered before this connection's hello
  live.dispatch('reset', JSON.stringify({type: 'reset', action: 'started', reset_id: 'cold_water',
    t_s: 1, timeline: {start_s: now - 300, origin_s: now - 300, end_s: now - 180, pattern: null,
                       prompts: [], cycle_base: 0}}));
  live.lastEventId = kept;
}"""
"""Dispatch a kept ``reset`` start of a reset that ended minutes ago, as a reload replays it."""


def test_no_console_errors_or_outside_requests_at_the_end(watch: Watch) -> None:
    assert watch.foreign == []
    assert watch.page_errors == []
    assert watch.console_errors == []
    assert watch.dialogs == []


def test_missing_chromium_is_named_with_its_path() -> None:
    """Without chromium the module skips, saying where chromium was looked for."""
    assert missing_part(Path("/nonexistent/chromium")) == (
        "chromium not found at /nonexistent/chromium (apt-get install chromium)")
