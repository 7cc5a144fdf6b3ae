"""Measuring resets on replayed real recordings: windows, respiration guard, settle, ratings."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from afterbeat.pipeline import Pipeline
from afterbeat.records import Marker, MarkerKind, Record
from afterbeat.resets.effects import EffectTracker, MetricsSample, ResetEffect, window_stats
from afterbeat.resets.library import get_reset
from afterbeat.sources.replay import with_marks
from afterbeat.storage.session_file import iter_session
from reset_helpers import (
    Array,
    Series,
    episodes,
    read_rr_ms,
    replay_resets,
    samples,
    series_from_rr,
)


@pytest.fixture(scope="module")
def holter(data_dir: Path) -> Series:
    """Per-5-s metrics of a real 24-hour Holter RR series (PhysioNet healthy subject 000)."""
    return series_from_rr(read_rr_ms(data_dir / "physionet-healthy-24h" / "000.txt"))


@pytest.fixture(scope="module")
def rest(data_dir: Path) -> Series:
    """16 minutes of real resting RR with respiration from the RSA peak (Polar, rest_rri)."""
    return series_from_rr(read_rr_ms(data_dir / "polar-hrm" / "rest_rri.txt"), respiration=True)


def _median(series: Series, values: Array, a: float, b: float) -> float:
    sel = (series.t_s >= a) & (series.t_s <= b) & ~np.isnan(values)
    return float(np.median(values[sel]))


def test_effect_windows_match_the_recording(holter: Series) -> None:
    start = episodes(holter)[0]
    effects = replay_resets(holter, [(start, "resonance")])
    assert len(effects) == 1
    effect = effects[0]
    end = start + 300.0
    assert (effect.number, effect.reset_id, effect.start_t_s, effect.end_t_s) == (
        1, "resonance", start, end)
    assert effect.complete and effect.final and effect.started_activated
    assert effect.before.heart_rate_bpm == pytest.approx(
        _median(holter, holter.heart_rate_bpm, start - 120, start - 1e-6))
    assert effect.before.index == pytest.approx(
        _median(holter, holter.index, start - 120, start - 1e-6))
    assert effect.during is not None and effect.after is not None
    assert effect.during.heart_rate_bpm == pytest.approx(
        _median(holter, holter.heart_rate_bpm, start, end))
    assert effect.after.rmssd_ms == pytest.approx(
        _median(holter, holter.rmssd_ms, end + 1e-6, end + 180))
    assert effect.before.samples == 24 and effect.after.samples == 36
    # no respiration estimate in this series: every RMSSD counted, and said so
    assert effect.before.rmssd_unguarded == 24 and effect.before.rmssd_excluded == 0
    assert effect.after.index is not None and effect.before.index is not None
    assert effect.index_change == pytest.approx(effect.after.index - effect.before.index)


def _reference_settle_s(times_s: Sequence[float], index: Sequence[float | None],
                        start_s: float, horizon_s: float = 1200.0) -> float | None:
    """Brute force of the settling rule (docs/display-score.md): the first 2-min stretch
    (end - 120, end] beginning at or after the start, with an update at or before its
    beginning, ending by the horizon, holding >= 20 of the 24 expected updates with an index,
    each <= 0.75; seconds from the start to its first update with an index."""
    for end_s in times_s:
        lo_s = end_s - 120.0
        if lo_s < start_s or end_s > start_s + horizon_s or min(times_s) > lo_s + 2.5:
            continue
        valid = [(t, a) for t, a in zip(times_s, index, strict=True)
                 if lo_s < t <= end_s and a is not None]
        if len(valid) >= 20 and all(a <= 0.75 for _, a in valid):
            return valid[0][0] - start_s
    return None


def test_time_to_settle_is_the_first_reading_of_the_first_settled_stretch(
        holter: Series) -> None:
    effects = replay_resets(holter, [(t, "resonance") for t in episodes(holter)])
    settled = [e for e in effects if e.settle_s is not None]
    assert settled, "at least one real episode settles within 20 minutes"
    times = [float(t) for t in holter.t_s]
    index = [None if np.isnan(a) else float(a) for a in holter.index]
    for effect in effects:
        first = _reference_settle_s(times, index, effect.start_t_s)
        assert effect.settle_s == (None if first is None else pytest.approx(first))


def test_movement_pause_leaves_no_index_during_a_walk(holter: Series) -> None:
    start = episodes(holter)[1]
    effect = replay_resets(holter, [(start, "walk")])[0]
    assert effect.during is not None and effect.during.index is None
    assert effect.during.heart_rate_bpm is not None  # heart rate is still measured
    # the 3-min washout covers the after-window: only its last update (end + 180 s) is scored
    assert effect.after is not None and effect.end_t_s is not None
    resumed = holter.index[holter.t_s == effect.end_t_s + 180.0]
    assert effect.after.index == pytest.approx(float(resumed[0]))
    assert effect.settle_s is None or effect.settle_s >= 300.0 + 180.0


def test_rmssd_is_respiration_guarded_on_real_rest(rest: Series) -> None:
    resp = rest.respiration_bpm
    assert np.nanmedian(resp) == pytest.approx(15, abs=6)  # an ordinary resting rate
    inside = [s for s in samples(rest) if 300 <= s.t_s <= 600]
    stats = window_stats(inside, 300.0, 600.0)
    out_of_range = sum(1 for s in inside if s.rmssd_ms is not None
                       and s.respiration_rate_bpm is not None
                       and not 9.0 <= s.respiration_rate_bpm <= 24.0)
    assert stats.rmssd_excluded == out_of_range
    kept = [s.rmssd_ms for s in inside if s.rmssd_ms is not None
            and (s.respiration_rate_bpm is None or 9.0 <= s.respiration_rate_bpm <= 24.0)]
    assert stats.rmssd_ms == pytest.approx(float(np.median(kept)))


def test_paced_breathing_rmssd_is_left_out_of_during(rest: Series) -> None:
    """Real RR, with the respiration the pipeline reports while someone follows a 6/min pacer."""
    tracker = EffectTracker()
    out: list[ResetEffect] = []
    for s in samples(rest):
        if s.t_s == 400.0:
            tracker.push_marker(Marker(400.0, MarkerKind.RESET_START, text="resonance"))
        if s.t_s == 700.0:
            tracker.push_marker(Marker(700.0, MarkerKind.RESET_END, text="resonance"))
        paced = 400.0 <= s.t_s <= 700.0
        sample = MetricsSample(s.t_s, 1.0, s.heart_rate_bpm, s.rmssd_ms,
                               6.0 if paced else s.respiration_rate_bpm)
        out += tracker.push_metrics(sample)
    out += tracker.finish()
    last = out[-1]
    assert last.during is not None and last.during.rmssd_ms is None
    assert last.during.rmssd_excluded == last.during.samples == 61
    assert last.before.rmssd_ms is not None and last.after is not None
    assert last.after.rmssd_ms is not None


def _run(tracker: EffectTracker, items: list[MetricsSample | Marker]) -> list[ResetEffect]:
    out: list[ResetEffect] = []
    for item in items:
        if isinstance(item, Marker):
            out += tracker.push_marker(item)
        else:
            out += tracker.push_metrics(item)
    return out


def _flat(t0: float, t1: float, index: float) -> list[MetricsSample | Marker]:
    return [MetricsSample(float(t), index, 80.0, 30.0, 14.0) for t in np.arange(t0, t1, 5.0)]


def test_ratings_before_and_after_and_update_events() -> None:
    tracker = EffectTracker()
    items: list[MetricsSample | Marker] = [
        *_flat(0, 200, 2.0),
        Marker(195.0, MarkerKind.RATING, value=7.0),                 # before the reset: before
        Marker(200.0, MarkerKind.RESET_START, text="cyclic_sighing"),
        *_flat(200, 500, 1.5),
        Marker(500.0, MarkerKind.RESET_END, text="cyclic_sighing"),
        *_flat(500, 685, 1.2),
    ]
    out = _run(tracker, items)
    assert len(out) == 1 and out[0].complete and not out[0].final   # after-window done
    assert out[0].rating_before == 7.0 and out[0].rating_after is None
    update = tracker.push_marker(Marker(690.0, MarkerKind.RATING, value=4.0))  # after: update
    assert len(update) == 1 and update[0].rating_after == 4.0 and update[0].number == 1
    final = _run(tracker, _flat(690, 1405, 1.2))
    assert len(final) == 1 and final[0].final and final[0].settle_s is None
    late = tracker.push_marker(Marker(1500.0, MarkerKind.RATING, value=3.0, text="after"))
    assert late[0].rating_after == 3.0 and late[0].rating_before == 7.0
    assert json.loads(json.dumps(late[0].to_json())) == late[0].to_json()
    assert ResetEffect.from_json(late[0].to_json()) == late[0]


def test_settling_finalises_early_and_ratings_label_themselves() -> None:
    tracker = EffectTracker()
    items: list[MetricsSample | Marker] = [
        *_flat(0, 150, 2.5),
        Marker(150.0, MarkerKind.RESET_START, text="walk"),
        Marker(155.0, MarkerKind.RATING, value=8.0),                 # first minute: before
        *_flat(150, 300, 2.0),
        *_flat(300, 450, 0.5),                                       # calm from 300 s
        Marker(450.0, MarkerKind.RESET_END),
        Marker(452.0, MarkerKind.RATING, value=3.0, text="after"),
        *_flat(450, 640, 0.5),
    ]
    out = _run(tracker, items)
    assert [e.final for e in out] == [True]
    effect = out[0]
    assert effect.settle_s == 150.0 and effect.rating_before == 8.0
    assert effect.rating_after == 3.0 and effect.index_change == pytest.approx(-2.0)


def test_finish_closes_open_resets_and_odd_markers_are_ignored() -> None:
    tracker = EffectTracker()
    assert tracker.push_marker(Marker(0.0, MarkerKind.NOTE, text="hello")) == []
    assert tracker.push_marker(Marker(0.0, MarkerKind.RATING, value=11.0)) == []
    assert tracker.push_marker(Marker(0.0, MarkerKind.RATING)) == []
    assert tracker.push_marker(Marker(0.0, MarkerKind.RESET_END)) == []
    _run(tracker, [Marker(10.0, MarkerKind.RESET_START, text=""), *_flat(10, 100, math.nan)])
    final = tracker.finish()
    assert len(final) == 1 and final[0].final and not final[0].complete
    assert final[0].reset_id == "unknown" and final[0].end_t_s is None
    assert final[0].before.samples == 0 and final[0].before.index is None
    assert tracker.finish() == []


def test_metrics_sample_from_pipeline_event() -> None:
    sample = MetricsSample.from_event({"type": "metrics", "t_s": 5, "arousal": 1.25,
                                       "heart_rate_bpm": 71.5, "rmssd_ms": None,
                                       "respiration_rate_bpm": True})
    assert sample == MetricsSample(5.0, 1.25, 71.5, None, None)
    with pytest.raises(ValueError, match="lacks a numeric 't_s'"):
        MetricsSample.from_event({"type": "metrics"})


def test_a_new_reset_ends_the_one_still_running() -> None:
    tracker = EffectTracker()
    out = _run(tracker, [
        *_flat(0, 150, 2.0),
        Marker(150.0, MarkerKind.RESET_START, text="resonance"),
        *_flat(150, 250, 2.0),
        Marker(250.0, MarkerKind.RESET_START, text="walk"),          # no reset_end in between
        *_flat(250, 435, 2.0),
    ])
    assert [(e.number, e.reset_id, e.end_t_s, e.complete) for e in out] == [
        (1, "resonance", 250.0, True)]
    assert [(e.reset_id, e.end_t_s, e.final) for e in tracker.finish()] == [
        ("resonance", 250.0, True), ("walk", None, True)]


DEMO = Path(__file__).resolve().parents[1] / "src" / "afterbeat" / "data" / "demo.jsonl"


def _replay(records: list[Record]) -> list[dict[str, Any]]:
    pipeline = Pipeline()
    events = [e.to_json() for r in records for e in pipeline.push(r)]
    return events + [e.to_json() for e in pipeline.finish()]


@pytest.mark.slow
def test_suggested_reset_measured_through_the_pipeline_on_the_demo_recording() -> None:
    """The bundled demo (real Holter RR, derived notifications): take the first suggestion,
    run it with ratings, and check the effect against the pipeline's own metrics events."""
    _, stream = iter_session(DEMO)
    records = list(stream)
    first = next(e for e in _replay(records) if e["type"] == "suggestion")
    reset = get_reset(first["reset"])
    start = float(first["t_s"])
    end = start + reset.duration_s
    marks = [Marker(start - 2.0, MarkerKind.RATING, value=7.0, text="before"),
             Marker(start, MarkerKind.RESET_START, text=reset.id),
             Marker(end, MarkerKind.RESET_END, text=reset.id),
             Marker(end + 200.0, MarkerKind.RATING, value=4.0, text="after")]
    events = _replay(list(with_marks(records, marks)))
    effects = [e for e in events if e["type"] == "reset_effect"]
    assert effects, "the pipeline emits reset_effect events"
    final = [e for e in effects if e["final"]][-1]
    assert (final["number"], final["reset_id"], final["start_t_s"], final["end_t_s"]) == (
        1, reset.id, start, end)
    assert final["rating_before"] == 7.0 and final["rating_after"] == 4.0
    assert final["complete"] and final["started_activated"]
    metrics = [MetricsSample.from_event(e) for e in events if e["type"] == "metrics"]
    for name, (a, b) in {"before": (start - 120.0, start - 1e-9),
                         "during": (start, end), "after": (end + 1e-9, end + 180.0)}.items():
        expected = window_stats(metrics, a, b).to_json()
        got = final[name]
        assert got["samples"] == expected["samples"] > 0, name
        for key in ("heart_rate_bpm", "rmssd_ms", "index", "respiration_rate_bpm"):
            if expected[key] is None:
                assert got[key] is None, (name, key)
            else:
                assert got[key] == pytest.approx(expected[key], abs=0.05), (name, key)
        assert got["rmssd_excluded"] == expected["rmssd_excluded"], name
    # time to settle: the first reading of the first settled 2-min stretch after the start
    settle = _reference_settle_s([m.t_s for m in metrics], [m.index for m in metrics], start)
    assert final["settle_s"] == settle
    # every metrics update scored in the windows went into the effect, none twice
    assert final["during"]["samples"] == round(reset.duration_s / 5.0) + 1


def test_the_index_guard_decides_when_it_is_known() -> None:
    # Slow spectral peak but no coherent paced breathing: the index kept RMSSD, so do effects;
    # an ordinary rate while the index set RMSSD aside (a breathing reset): left out here too.
    samples = [MetricsSample(0.0, 1.0, 70.0, 40.0, 4.0, rmssd_guarded=False),
               MetricsSample(5.0, 1.0, 70.0, 60.0, 12.0, rmssd_guarded=True),
               MetricsSample(10.0, 1.0, 70.0, 50.0, 4.0)]  # unknown: the range decides
    stats = window_stats(samples, 0.0, 10.0)
    assert stats.rmssd_ms == 40.0 and stats.rmssd_excluded == 2
    event = {"type": "metrics", "t_s": 0.0, "arousal": 1.0, "heart_rate_bpm": 70.0,
             "rmssd_ms": 40.0, "respiration_rate_bpm": 4.0, "quality": "good"}
    assert MetricsSample.from_event(event).rmssd_guarded is False
    assert MetricsSample.from_event({**event, "quality": "breathing"}).rmssd_guarded is True
    assert MetricsSample.from_event({**event, "quality": "poor"}).rmssd_guarded is None


def test_a_reset_without_an_end_settles_only_within_the_horizon_and_keeps_what_it_reads() -> None:
    # Activated for 25 min after the start, calm from then on, no reset_end, 40 min in all:
    # the readings settle only after the 20-min horizon, so no time to settle is reported,
    # and the during-window holds no update past the horizon.
    tracker = EffectTracker()
    activated, calm = 2.0, 0.2
    for i in range(24):  # two minutes before the start
        tracker.push_metrics(MetricsSample(i * 5.0, activated, 80.0, 20.0))
    start = 120.0
    tracker.push_marker(Marker(start, MarkerKind.RESET_START, text="walk"))
    emitted: list[ResetEffect] = []
    t = start
    while t <= start + 2400.0:
        index = activated if t < start + 1500.0 else calm
        emitted += tracker.push_metrics(MetricsSample(t, index, 70.0, 30.0))
        t += 5.0
    assert emitted == []  # no end marker: never complete while the recording runs
    [effect] = tracker.finish()
    assert effect.final and effect.end_t_s is None and effect.started_activated
    assert effect.settle_s is None
    assert effect.during is not None
    assert effect.during.samples == int(tracker.horizon_s / 5.0) + 1  # start..start+horizon
    assert effect.during.index == activated


def test_a_long_reset_with_an_end_keeps_its_after_window() -> None:
    # A 30-min reset (past the horizon): its after-window is still read in full.
    tracker = EffectTracker()
    for i in range(24):
        tracker.push_metrics(MetricsSample(i * 5.0, 2.0, 80.0, 20.0))
    start, end = 120.0, 1920.0
    tracker.push_marker(Marker(start, MarkerKind.RESET_START, text="walk"))
    emitted: list[ResetEffect] = []
    t = start
    while t <= end + 400.0:
        if t == end:
            emitted += tracker.push_marker(Marker(end, MarkerKind.RESET_END, text="walk"))
        emitted += tracker.push_metrics(MetricsSample(t, 2.0 if t <= end else 0.2, 70.0, 30.0))
        t += 5.0
    final = [e for e in emitted if e.final]
    assert len(final) == 1 and final[0].complete and final[0].settle_s is None
    assert final[0].after is not None
    assert final[0].after.samples == int(tracker.after_s / 5.0)
    assert final[0].after.index == 0.2
