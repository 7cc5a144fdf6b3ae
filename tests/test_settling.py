"""One settling: the watch, its recovery and a reset's effect time the same stretch alike."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from afterbeat.activation.arousal import ArousalReading, Quality
from afterbeat.activation.recovery import recovery_metrics
from afterbeat.activation.settings import Settings
from afterbeat.activation.settling import SettleRule, settled_from
from afterbeat.activation.watch import AfterSessionWatch, StateChange
from afterbeat.pipeline import Pipeline
from afterbeat.records import Marker, MarkerKind, Record
from afterbeat.resets.effects import EffectTracker, MetricsSample, ResetEffect
from afterbeat.resets.plan import plan_from_json
from afterbeat.sources.replay import with_marks
from afterbeat.storage.session_file import iter_session

S = Settings()
RULE = SettleRule.from_settings(S)
ABSENT = "absent"
"""An update that never came (no reading at all), unlike None (a reading without an index)."""

Update = tuple[float, float | None | str]


def _reading(t_s: float, index: float | None) -> ArousalReading:
    """A reading carrying index A (None: a patchy signal, no index)."""
    if index is None:
        return ArousalReading(t_s, Quality.POOR, None, None, None, None, None)
    return ArousalReading(t_s, Quality.GOOD, index, None, 60.0 + 3.0 * index, 33.0, 3.5,
                          heart_rate_delta_bpm=3.0 * index, ln_rmssd_delta=-0.1 * index)


@dataclass(frozen=True)
class Seen:
    """What each consumer made of one series (seconds after the anchor; None: not settled)."""

    watch_s: float | None
    said_s: float | None
    recovery_s: float | None
    within_grace: bool
    effect_s: float | None


def _feed(series: Sequence[Update], anchor_s: float) -> Seen:
    """The series through the watch (session end at anchor_s) and recovery, and through the
    effect tracker (a reset starting at anchor_s, ending a minute later), public APIs only."""
    watch = AfterSessionWatch(S)
    tracker = EffectTracker()
    said: list[float] = []
    effects: list[ResetEffect] = []
    for t_s, index in series:
        if t_s == anchor_s:  # markers come after the tick of their own time, as in the pipeline
            watch.session_end(t_s)
            effects += tracker.push_marker(Marker(t_s, MarkerKind.RESET_START, text="cold_water"))
        if t_s == anchor_s + 60.0:
            effects += tracker.push_marker(Marker(t_s, MarkerKind.RESET_END, text="cold_water"))
        if isinstance(index, str):  # ABSENT
            continue
        events = watch.push(_reading(t_s, index))
        said += [e.t_s for e in events
                 if isinstance(e, StateChange) and e.reason.startswith("Settled")]
        effects += tracker.push_metrics(MetricsSample(t_s, index, None, None))
    effects += tracker.finish()
    effects = [e for e in effects if e.final]
    assert len(effects) == 1
    recovery = recovery_metrics([], anchor_s, None, watch.settled_at_s, S)
    at = watch.settled_at_s
    return Seen(None if at is None else at - anchor_s,
                None if not said else said[0] - anchor_s,
                recovery.time_to_settle_s, recovery.settled_within_grace, effects[0].settle_s)


@dataclass(frozen=True)
class Settling:
    """When readings settled (s, first valid update of the stretch) and when that could be
    said (s, the stretch's last update)."""

    settled_at_s: float
    confirmed_at_s: float


LEVEL_INDEX, SPAN_S, INTERVAL_S, VALID_PERCENT = 0.75, 120.0, 5.0, 80
"""The rule as activation/settling.py's docstring states it (checked against the settings)."""


def reference_stretch(updates: Sequence[tuple[float, float | None]], end_s: float,
                      anchor_s: float = -math.inf) -> float | None:
    """Brute force, straight from the docstring: the first valid update (s) of the stretch
    (end - 2 min, end] when it counts as settled, else None."""
    start_s = end_s - SPAN_S
    if start_s < anchor_s:  # must begin at or after the anchor
        return None
    observed = False  # an update at (or within half an interval after) the stretch's start
    for t_s, _ in updates:
        if t_s <= start_s + INTERVAL_S / 2:
            observed = True
    if not observed:
        return None
    inside: list[tuple[float, float]] = []
    for t_s, index in updates:
        if start_s < t_s <= end_s and index is not None:
            inside.append((t_s, index))
    expected = round(SPAN_S / INTERVAL_S)
    if 100 * len(inside) < VALID_PERCENT * expected:  # at least 80 % of the expected updates
        return None
    for _, index in inside:
        if index > LEVEL_INDEX:  # one reading above the level, however short: not settled
            return None
    return inside[0][0]


def reference_settling(updates: Sequence[tuple[float, float | None]],
                       anchor_s: float = -math.inf) -> Settling | None:
    """Brute force: each update's stamp tried in turn as a stretch's end; the first that counts."""
    for end_s, _ in updates:
        at_s = reference_stretch(updates, end_s, anchor_s)
        if at_s is not None:
            return Settling(at_s, end_s)
    return None


def test_the_reference_states_the_rule_in_force() -> None:
    assert RULE == SettleRule(LEVEL_INDEX, SPAN_S, INTERVAL_S, VALID_PERCENT / 100)


def _batch(series: Sequence[Update], anchor_s: float) -> Settling | None:
    """The brute-force reference over the whole series (absent updates left out), checking
    the production rule (settled_from) on every stretch on the way."""
    updates = [(t, i) for t, i in series if not isinstance(i, str)]
    for end_s, _ in updates:
        assert settled_from(updates, end_s, RULE, anchor_s) == reference_stretch(
            updates, end_s, anchor_s)
    return reference_settling(updates, anchor_s)


def _series(spans: Sequence[tuple[float, float, float | None | str]]) -> list[Update]:
    """5-s updates: each (from_s, to_s, value) fills [from_s, to_s)."""
    out: list[Update] = []
    for lo, hi, value in spans:
        out += [(float(t), value) for t in range(int(lo), int(hi), 5)]
    return out


def _assert_all_agree(series: Sequence[Update], anchor_s: float) -> Seen:
    seen = _feed(series, anchor_s)
    batch = _batch(series, anchor_s)
    assert seen.watch_s == seen.recovery_s == seen.effect_s
    if batch is None:
        assert seen.watch_s is None and seen.said_s is None
    else:
        assert seen.watch_s == batch.settled_at_s - anchor_s
        assert seen.said_s == batch.confirmed_at_s - anchor_s
    return seen


def test_one_series_one_settling_moment_for_watch_recovery_and_reset_effect() -> None:
    # Activated until 200 s after the anchor, calm after: the first calm reading is at 200 s
    # and the stretch (195, 315] is the first to count, so it is said at 315 s.
    series = _series([(0, 100, 1.2), (100, 300, 1.2), (300, 1400, 0.3)])
    seen = _assert_all_agree(series, 100.0)
    assert (seen.watch_s, seen.said_s) == (200.0, 315.0)
    assert seen.within_grace  # 200 s after the session end: within the 5-min grace


def test_settled_from_the_anchor_on_is_timed_at_its_first_reading() -> None:
    series = _series([(0, 1300, 0.2)])
    seen = _assert_all_agree(series, 100.0)
    # the stretch must begin at the anchor: (100, 220], first reading 105 s, said at 220 s
    assert (seen.watch_s, seen.said_s) == (5.0, 120.0)


def test_short_gap_of_up_to_a_fifth_neither_counts_nor_breaks_the_stretch() -> None:
    # calm from 200 s after the anchor; 4 readings without an index (20 s, a fifth of the 24
    # expected is allowed) inside the first stretch: timing unchanged, said on time
    base = [(0, 300, 1.2), (300, 1400, 0.3)]
    clean = _assert_all_agree(_series(base), 100.0)
    gap = _series([(0, 300, 1.2), (300, 350, 0.3), (350, 370, None), (370, 1400, 0.3)])
    with_gap = _assert_all_agree(gap, 100.0)
    assert (with_gap.watch_s, with_gap.said_s) == (clean.watch_s, clean.said_s) == (200.0, 315.0)
    # the same gap as updates that never came (a short disconnect): the same
    absent = _series([(0, 300, 1.2), (300, 350, 0.3), (350, 370, ABSENT), (370, 1400, 0.3)])
    assert _assert_all_agree(absent, 100.0) == with_gap


def test_a_longer_gap_leaves_too_few_valid_readings_and_settling_counts_from_after_it() -> None:
    # 5 readings without an index (25 s): only 19 of 24 valid in every stretch holding the gap,
    # so the first stretch that counts begins at the gap's first update, 250 s after the anchor
    # (its first valid reading 275 s), said at 370 s
    gap = _series([(0, 300, 1.2), (300, 350, 0.3), (350, 375, None), (375, 1400, 0.3)])
    seen = _assert_all_agree(gap, 100.0)
    assert (seen.watch_s, seen.said_s) == (275.0, 370.0)


def test_a_short_excursion_above_the_level_starts_the_stretch_over() -> None:
    # calm from 200 s after the anchor, one reading at 0.9 at 260 s, calm again: the first
    # stretch that counts begins at that reading (its first valid one 5 s later)
    spiky = _series([(0, 300, 1.2), (300, 360, 0.3), (360, 365, 0.9), (365, 1400, 0.3)])
    seen = _assert_all_agree(spiky, 100.0)
    assert (seen.watch_s, seen.said_s) == (265.0, 380.0)
    # a reading exactly at the level is close to usual ("at or below"): no restart
    level = _series([(0, 300, 1.2), (300, 360, 0.3), (360, 365, 0.75), (365, 1400, 0.3)])
    assert _assert_all_agree(level, 100.0).watch_s == 200.0


def test_a_stretch_that_ends_on_a_reading_without_an_index_counts_for_the_watch_too() -> None:
    # calm from the anchor for 21 readings, then 4 without an index: the stretch (0, 120]
    # holds 20 valid calm readings and ends on one without an index (found by the reference)
    series = _series([(0, 105, 0.0), (105, 125, None)])
    seen = _assert_all_agree(series, 0.0)
    assert (seen.watch_s, seen.said_s) == (5.0, 120.0)


def test_never_calm_for_long_enough_is_not_settled_anywhere() -> None:
    # calm for 110 s at a time, with one excursion between: no stretch of 2 min counts
    spans: list[tuple[float, float, float | None | str]] = [(0, 150, 1.2)]
    for k in range(10):
        lo = 150 + 120 * k
        spans += [(lo, lo + 115, 0.3), (lo + 115, lo + 120, 1.0)]
    seen = _assert_all_agree(_series(spans), 100.0)
    assert seen == Seen(None, None, None, False, None)


def test_a_stretch_must_be_observed_from_its_start() -> None:
    # a recording that begins calm: no stretch counts before 2 min of it have been seen
    updates: list[tuple[float, float | None]] = [(float(t), 0.2) for t in range(50, 400, 5)]
    assert settled_from(updates, 165.0, RULE) is None  # (45, 165]: began before the first update
    assert settled_from(updates, 170.0, RULE) == 55.0  # (50, 170]: observed from its start
    assert reference_stretch(updates, 165.0) is None
    assert reference_stretch(updates, 170.0) == 55.0
    assert reference_settling(updates) == Settling(55.0, 170.0)


_VALUES = st.one_of(st.floats(-1.0, 2.0), st.none(), st.just(ABSENT))


@settings(max_examples=120, deadline=None)
@given(lead=st.integers(0, 40), runs=st.lists(st.tuples(st.integers(1, 40), _VALUES),
                                               min_size=1, max_size=30))
def test_watch_recovery_and_effects_agree_on_any_series(
        lead: int, runs: list[tuple[int, float | None | str]]) -> None:
    # runs of equal values (k updates each) after `lead` updates before the anchor; the series
    # stops within the effect's 20-min horizon so both consumers look over the same span
    anchor_s = 5.0 * lead
    series: list[Update] = [(5.0 * k, 1.2) for k in range(lead)]
    t = anchor_s
    for count, value in runs:
        for _ in range(count):
            if t <= anchor_s + 1200.0:
                series.append((t, value))
            t += 5.0
    if not series or series[-1][0] < anchor_s:
        series.append((anchor_s, 1.2))
    if all(t < anchor_s + 60.0 for t, _ in series):
        series.append((anchor_s + 60.0, ABSENT))
    seen = _assert_all_agree(series, anchor_s)
    event("settled" if seen.watch_s is not None else "not settled")


DEMO = Path(__file__).resolve().parents[1] / "src" / "afterbeat" / "data" / "demo.jsonl"


@dataclass(frozen=True)
class Demo:
    """The bundled demo's records, its session end (s) and a sensory reset started there."""

    records: list[Record]
    end_s: float
    marks: list[Marker]


@pytest.fixture(scope="module")
def demo() -> Demo:
    """The demo recording with a cold-water reset from its session end, for 2 minutes."""
    _, stream = iter_session(DEMO)
    records = list(stream)
    end_s = next(r.t_s for r in records
                 if isinstance(r, Marker) and r.kind is MarkerKind.SESSION_END)
    marks = [Marker(end_s, MarkerKind.RESET_START, text="cold_water"),
             Marker(end_s + 120.0, MarkerKind.RESET_END, text="cold_water")]
    return Demo(records, end_s, marks)


def test_demo_recording_settles_at_the_same_moment_after_the_session_and_after_a_reset(
        demo: Demo) -> None:
    """Real Holter RR (the bundled demo): a sensory reset (it changes nothing the index sees)
    started at the session end: the recovery and the reset's effect give the same time."""
    records, end_s, marks = demo.records, demo.end_s, demo.marks
    pipeline = Pipeline()
    events: list[dict[str, Any]] = []
    for record in with_marks(records, marks):
        events += [e.to_json() for e in pipeline.push(record)]
    events += [e.to_json() for e in pipeline.finish()]
    recovery = [e for e in events if e["type"] == "recovery"][-1]
    effect = [e for e in events if e["type"] == "reset_effect" and e["final"]][-1]
    metrics = [(float(e["t_s"]), e["arousal"]) for e in events
               if e["type"] == "metrics" and e["t_s"] >= end_s - 10.0]
    batch = reference_settling(metrics, end_s)
    assert batch is not None, "the demo settles after its session"
    assert recovery["time_to_settle_s"] == effect["settle_s"] == pytest.approx(
        batch.settled_at_s - end_s)
    said = [e for e in events if e["type"] == "state" and e["reason"].startswith("Settled")]
    assert said[0]["t_s"] == batch.confirmed_at_s
    # the live words name the same moment, in the whole minutes the page shows (Math.round)
    minutes = math.floor(recovery["time_to_settle_s"] / 60.0 + 0.5)
    assert f"Settled about {minutes} minutes after the session ended" in said[0]["reason"]


def test_live_words_follow_the_rule_s_own_length() -> None:
    short = Settings(settle_s=30.0)
    watch = AfterSessionWatch(short)
    watch.session_end(0.0)
    said = [e for t in range(0, 400, 5)
            for e in watch.push(_reading(float(t), 1.2 if t < 200 else 0.2))
            if isinstance(e, StateChange) and e.reason.startswith("Settled")]
    assert watch.settled_at_s == 200.0 and said[0].t_s == 225.0
    assert said[0].reason == ("Settled about 3 minutes after the session ended: close to your "
                              "usual for 30 seconds now. No reset needed.")


def test_results_carry_the_rule_they_were_judged_by(demo: Demo) -> None:
    """A plan that asks for 5 calm minutes: recovery and reset effects say so themselves, so
    the page's words about settling name the rule each result was judged by."""
    records, marks = demo.records, demo.marks
    plan = plan_from_json({"thresholds": {"settle_s": 300.0, "grace_s": 600.0}})
    for pipeline, hold_s, grace_s in ((Pipeline(), 120.0, 300.0),
                                      (Pipeline(plan=plan), 300.0, 600.0)):
        events = [e.to_json() for r in with_marks(records, marks) for e in pipeline.push(r)]
        events += [e.to_json() for e in pipeline.finish()]
        recovery = [e for e in events if e["type"] == "recovery"][-1]
        effect = [e for e in events if e["type"] == "reset_effect"][-1]
        assert pipeline.settings.settle_s == hold_s
        assert (recovery["settle_hold_s"], recovery["grace_s"]) == (hold_s, grace_s)
        assert effect["settle_hold_s"] == hold_s
