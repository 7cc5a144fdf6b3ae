"""The after-session watch on scripted 5-s timelines: grace, sustain, hysteresis, gaps, guards."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afterbeat.activation.arousal import ArousalScorer
from afterbeat.activation.baseline import Baseline
from afterbeat.activation.settings import Settings
from afterbeat.activation.watch import (
    AfterSessionWatch,
    StateChange,
    Suggestion,
    WatchEvent,
    WatchState,
)
from afterbeat.hrv.live import LiveMetrics
from arousal_helpers import flat_baseline, metrics

S = Settings()
BASE = flat_baseline(60.0, 3.5)
CALM = (60.0, 3.5)  # A = 0
HIGH = (72.0, 3.0)  # zHR 4, zV 3.3: A 3.7, floor met
MILD = (64.5, 3.4)  # A ~ 1.08: activated, not elevated
WEAK_HIGH = (64.4, 3.3)  # zHR 1.47 zV 1.33: A 1.4 < 1.5


def run(
    watch: AfterSessionWatch,
    script: Iterable[tuple[float, float, Callable[[float], LiveMetrics]]],
    scorer: ArousalScorer | None = None,
    baseline: Baseline | None = BASE,
) -> list[WatchEvent]:
    """Feed 5-s updates: (start, end, make) runs make(t) for t in [start, end)."""
    scorer = scorer or ArousalScorer(watch.settings)
    events: list[WatchEvent] = []
    for start, end, make in script:
        t = start
        while t < end - 1e-9:
            events.extend(watch.push(scorer.push(make(t), baseline)))
            t += 5.0
    return events


def level(values: tuple[float, float], **kw: Any) -> Callable[[float], LiveMetrics]:
    return lambda t: metrics(t, values[0], values[1], **kw)


def states(events: list[WatchEvent]) -> list[tuple[float, WatchState]]:
    return [(e.t_s, e.state) for e in events if isinstance(e, StateChange)]


def suggestions(events: list[WatchEvent]) -> list[Suggestion]:
    return [e for e in events if isinstance(e, Suggestion)]


def test_calm_after_session_settles_within_grace_and_says_so() -> None:
    w = AfterSessionWatch(S)
    events = w.session_end(0.0)
    events += run(w, [(0.0, 1800.0, level(CALM))])
    assert (0.0, WatchState.SETTLED) in states(events)
    said = [e for e in events if isinstance(e, StateChange) and "Settled within" in e.reason]
    assert len(said) == 1 and said[0].t_s == pytest.approx(120.0)
    assert "first minute" in said[0].reason and "No reset needed" in said[0].reason
    # said when the 2-min stretch (0, 120] is complete; timed at its first reading
    assert w.settled_said_at_s == pytest.approx(120.0)
    assert w.settled_at_s == pytest.approx(5.0)
    assert suggestions(events) == []


def test_elevated_after_sustain_then_suggestion_after_grace_then_gentle_repeat() -> None:
    w = AfterSessionWatch(S)
    events = w.session_end(0.0) + run(w, [(0.0, 1500.0, level(HIGH))])
    assert (180.0, WatchState.ELEVATED) in states(events)
    sug = suggestions(events)
    assert [(s.t_s, s.gentle) for s in sug] == [(300.0, False), (900.0, True)]
    assert "usual calm" in sug[0].reason
    assert w.settled_at_s is None


def test_elevated_before_grace_ends_waits_for_grace() -> None:
    w = AfterSessionWatch(S.with_overrides({"grace_s": 600}))
    events = w.session_end(0.0) + run(w, [(0.0, 700.0, level(HIGH))])
    assert [s.t_s for s in suggestions(events)] == [600.0]


def test_no_suggestion_without_session_end_or_during_a_session() -> None:
    w = AfterSessionWatch(S)
    events = run(w, [(0.0, 1200.0, level(HIGH))])
    assert (180.0, WatchState.ELEVATED) in states(events)
    assert suggestions(events) == []
    w.session_start(1200.0)
    assert suggestions(run(w, [(1200.0, 2400.0, level(HIGH))])) == []


def test_short_burst_does_not_reach_elevated() -> None:
    w = AfterSessionWatch(S)
    w.session_end(0.0)
    events = run(w, [(0.0, 400.0, level(CALM)), (400.0, 570.0, level(HIGH)),
                     (570.0, 1200.0, level(CALM))])
    assert WatchState.ELEVATED not in [s for _, s in states(events)]
    assert (425.0, WatchState.ACTIVATED) in states(events)
    assert suggestions(events) == []


def test_effect_size_floor_blocks_small_absolute_changes() -> None:
    # A very tight personal spread makes small changes large in z; the floor needs 5 bpm.
    w = AfterSessionWatch(S)
    w.session_end(0.0)
    events = run(w, [(0.0, 1200.0, level((64.0, 3.42)))])  # A 1.6, HR +4, lnR -0.08
    assert WatchState.ELEVATED not in [s for _, s in states(events)]
    assert suggestions(events) == []


def test_hysteresis_between_elevated_and_settled() -> None:
    w = AfterSessionWatch(S)
    w.session_end(0.0)
    events = run(w, [(0.0, 400.0, level(HIGH)), (400.0, 1000.0, level(WEAK_HIGH)),
                     (1000.0, 1300.0, level(CALM))])
    st = states(events)
    assert (180.0, WatchState.ELEVATED) in st
    # A 1.4 lies between 0.75 and 1.5: stays elevated; settles only after 2 min at A <= 0.75
    assert not any(WatchState.SETTLED is s for t, s in st if t < 1000.0)
    assert (1115.0, WatchState.SETTLED) in st
    # said at 1115 (the stretch (995, 1115] complete), timed at its first calm reading
    assert w.settled_said_at_s == pytest.approx(1115.0)
    assert w.settled_at_s == pytest.approx(1000.0)


def test_new_episode_after_settling_gets_a_new_suggestion() -> None:
    w = AfterSessionWatch(S)
    w.session_end(0.0)
    events = run(w, [(0.0, 400.0, level(HIGH)), (400.0, 700.0, level(CALM)),
                     (700.0, 1000.0, level(HIGH))])
    assert [(s.t_s, s.gentle) for s in suggestions(events)] == [(300.0, False), (875.0, False)]


def test_gap_in_updates_delays_elevated_until_enough_valid_updates() -> None:
    w = AfterSessionWatch(S)
    w.session_end(0.0)
    # 60 s without any update (e.g. a disconnect): more than 20 % of the 3-min stretch missing
    events = run(w, [(0.0, 100.0, level(HIGH)), (160.0, 400.0, level(HIGH))])
    first = [t for t, s in states(events) if s is WatchState.ELEVATED][0]
    assert first > 180.0
    assert first == pytest.approx(300.0)  # the 3 min before it hold 29 of 36 updates


def test_low_quality_holds_state_as_unknown_without_new_suggestions() -> None:
    w = AfterSessionWatch(S)
    w.session_end(0.0)
    events = run(w, [(0.0, 400.0, level(HIGH)),
                     (400.0, 600.0, level(HIGH, coverage=0.7)),
                     (600.0, 700.0, level(HIGH))])
    st = states(events)
    assert (415.0, WatchState.UNKNOWN) in st  # after 15 s of patchy signal
    assert (600.0, WatchState.ELEVATED) in st  # held level comes back
    assert [s.t_s for s in suggestions(events)] == [300.0]
    unknown = [e for e in events if isinstance(e, StateChange) and e.state is WatchState.UNKNOWN]
    assert "patchy" in unknown[0].reason


def test_held_level_returning_after_a_pause_quotes_no_contradicting_numbers() -> None:
    w = AfterSessionWatch(S)
    w.session_end(0.0)
    # elevated, a patchy spell, then readings come back at baseline: the level is held (it
    # takes 2 min near baseline to settle), so the return must not quote today's -0 bpm
    events = run(w, [(0.0, 400.0, level(HIGH)), (400.0, 500.0, level(HIGH, coverage=0.7)),
                     (500.0, 700.0, level((58.0, 3.6)))])
    back = [e for e in events if isinstance(e, StateChange) and e.t_s == 500.0]
    assert len(back) == 1 and back[0].state is WatchState.ELEVATED
    assert back[0].previous is WatchState.UNKNOWN
    assert "clear again" in back[0].reason
    assert "bpm" not in back[0].reason and "%" not in back[0].reason
    # settles once the readings have stayed near baseline (80 % of 2 min of updates)
    assert (595.0, WatchState.SETTLED) in states(events)


def test_suggestions_only_on_a_reading_that_meets_the_elevated_rule() -> None:
    w = AfterSessionWatch(S)
    w.session_end(0.0)
    # elevated by 180 s, then readings ease off to the hysteresis band before the grace ends:
    # the level stays elevated, but the readings themselves no longer meet the rule
    events = run(w, [(0.0, 250.0, level(HIGH)), (250.0, 400.0, level(WEAK_HIGH)),
                     (400.0, 500.0, level(HIGH))])
    assert w.level is WatchState.ELEVATED
    sug = suggestions(events)
    assert [s.t_s for s in sug] == [400.0]
    for s in sug:
        assert not any(ch.isdigit() for ch in s.reason)


def test_session_end_changes_no_state_and_the_next_change_says_the_watch_started() -> None:
    w = AfterSessionWatch(S)
    run(w, [(0.0, 100.0, level(CALM))])
    assert w.session_end(100.0) == []
    events = run(w, [(100.0, 400.0, level(HIGH))])
    changes = [e for e in events if isinstance(e, StateChange)]
    assert changes[0].state is WatchState.ACTIVATED
    assert "Watching gently since the session ended" in changes[0].reason
    assert all("Watching gently" not in e.reason for e in changes[1:])


def test_short_patchy_moments_keep_the_shown_state() -> None:
    w = AfterSessionWatch(S)
    w.session_end(0.0)
    events = run(w, [(0.0, 400.0, level(HIGH)), (400.0, 410.0, level(HIGH, corrected_pct=9.0)),
                     (410.0, 500.0, level(HIGH))])
    assert WatchState.UNKNOWN not in [s for _, s in states(events)]
    assert w.state is WatchState.ELEVATED


def test_movement_guard_pauses_then_resumes_after_washout() -> None:
    w = AfterSessionWatch(S)
    scorer = ArousalScorer(S)
    w.session_end(0.0)
    events = run(w, [(0.0, 100.0, level(CALM))], scorer)
    scorer.start_movement(100.0)
    # walking raises heart rate a lot, but scoring is paused
    events += run(w, [(100.0, 400.0, level((100.0, 2.5)))], scorer)
    scorer.end_movement(400.0)
    events += run(w, [(400.0, 580.0, level((80.0, 3.0))), (580.0, 800.0, level(CALM))], scorer)
    st = states(events)
    assert (100.0, WatchState.UNKNOWN) in st
    assert all(s is not WatchState.ELEVATED for _, s in st)
    assert (580.0, WatchState.SETTLED) in st
    assert suggestions(events) == []


def test_heart_rate_only_timeline() -> None:
    w = AfterSessionWatch(S)
    base = flat_baseline(60.0, None)
    w.session_end(0.0)
    events = run(w, [(0.0, 400.0, level((70.0, 0.0), rr_available=False))], baseline=base)
    assert (180.0, WatchState.ELEVATED) in states(events)
    assert [s.t_s for s in suggestions(events)] == [300.0]


def test_calibrating_until_baseline_and_windows() -> None:
    w = AfterSessionWatch(S)
    events = run(w, [(0.0, 30.0, level(CALM))], baseline=None)
    assert w.state is WatchState.CALIBRATING
    events += run(w, [(30.0, 40.0, level(CALM))])
    assert states(events)[-1] == (30.0, WatchState.SETTLED)


def test_hold_on_disconnect_shows_unknown() -> None:
    w = AfterSessionWatch(S)
    run(w, [(0.0, 30.0, level(CALM))])
    events = w.hold(30.0, "The strap is not connected.")
    assert states(events) == [(30.0, WatchState.UNKNOWN)]
    assert states(run(w, [(35.0, 40.0, level(CALM))])) == [(35.0, WatchState.SETTLED)]


def test_suggestions_stop_after_the_watch_span() -> None:
    w = AfterSessionWatch(S.with_overrides({"watch_span_s": 500.0}))
    w.session_end(0.0)
    events = run(w, [(0.0, 300.0, level(CALM)), (400.0, 1500.0, level(HIGH))])
    assert suggestions(events) == []


def test_reasons_use_wellness_wording() -> None:
    w = AfterSessionWatch(S)
    events = w.session_end(0.0) + run(w, [(0.0, 1000.0, level(HIGH)),
                                          (1000.0, 1200.0, level(CALM))])
    text = " ".join(e.reason for e in events).lower()
    assert "usual" in text and text.count("baseline") == 0
    for word in ("alarm", "panic", "diagnos", "clinical", "disorder", "danger", "warning"):
        assert word not in text


step = st.tuples(
    st.floats(min_value=-10.0, max_value=25.0),  # HR offset (bpm)
    st.floats(min_value=-0.8, max_value=0.4),  # ln RMSSD offset
    st.booleans() | st.just(True),  # clean signal (mostly)
)


@settings(max_examples=60, deadline=None)
@given(st.lists(step, min_size=1, max_size=400), st.integers(min_value=0, max_value=400))
def test_watch_invariants(steps: list[tuple[float, float, bool]], end_index: int) -> None:
    w = AfterSessionWatch(S)
    scorer = ArousalScorer(S)
    events: list[WatchEvent] = []
    end_s = None
    for i, (dhr, dln, clean) in enumerate(steps):
        t = 5.0 * i
        if i == end_index:
            end_s = t
            events += w.session_end(t)
        m = metrics(t, 60.0 + dhr, 3.5 + dln, coverage=1.0 if clean else 0.5)
        events += w.push(scorer.push(m, BASE))
    for e in events:
        if isinstance(e, StateChange):
            assert e.reason
            # The page keeps this sentence while the tiles change every 5 s: no numbers of
            # heart rate or variability in it (they come with each metrics event).
            assert not any(unit in e.reason for unit in ("bpm", "%", " ms", "RMSSD")), e
            # a state event is a real change; only settling after the session end is said
            # again while already settled
            assert e.state is not e.previous or e.reason.startswith("Settled")
        else:
            assert end_s is not None and e.t_s >= end_s + S.grace_s
    sug = suggestions(events)
    # at most two per elevated stretch, the second gentle and 10 min after the first
    by_episode: dict[float, list[Suggestion]] = {}
    for s in sug:
        by_episode.setdefault(s.elevated_since_s, []).append(s)
    for group in by_episode.values():
        assert len(group) <= 2 and not group[0].gentle
        if len(group) == 2:
            assert group[1].gentle and group[1].t_s - group[0].t_s >= S.repeat_after_s


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(min_value=-10.0, max_value=2.0),
                          st.floats(min_value=-0.1, max_value=0.4)), min_size=1, max_size=300))
def test_low_index_never_reaches_elevated(steps: list[tuple[float, float]]) -> None:
    w = AfterSessionWatch(S)
    w.session_end(0.0)
    scorer = ArousalScorer(S)
    for i, (dhr, dln) in enumerate(steps):
        w.push(scorer.push(metrics(5.0 * i, 60.0 + dhr, 3.5 + dln), BASE))
        assert w.level is not WatchState.ELEVATED
    assert w.suggestions == []


def _first_elevated(events: list[WatchEvent]) -> float | None:
    return next((t for t, s in states(events) if s is WatchState.ELEVATED), None)


def test_with_sustain_240_elevated_comes_at_exactly_240_s_not_before() -> None:
    w = AfterSessionWatch(Settings(sustain_s=240.0))
    before = run(w, [(0.0, 240.0, level(HIGH))])  # readings at 0, 5, ..., 235 s
    assert WatchState.ELEVATED not in [s for _, s in states(before)]
    at = run(w, [(240.0, 245.0, level(HIGH))])
    assert states(at) == [(240.0, WatchState.ELEVATED)]


def test_settings_applied_mid_stream_use_readings_seen_before_them() -> None:
    """A longer sustain applied at 100 s still counts the readings from 0 s on."""
    w = AfterSessionWatch(S)
    scorer = ArousalScorer(S)
    events = run(w, [(0.0, 100.0, level(HIGH))], scorer)
    longer = Settings(sustain_s=240.0)
    w.apply_settings(longer)
    scorer.settings = longer
    events += run(w, [(100.0, 400.0, level(HIGH))], scorer)
    assert _first_elevated(events) == 240.0
    assert "for 4 minutes" in next(
        e.reason for e in events if isinstance(e, StateChange) and e.state is WatchState.ELEVATED)
