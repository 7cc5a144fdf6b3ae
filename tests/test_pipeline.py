"""The one pipeline shared by live and replay, on real RR re-encoded as notifications."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest

from afterbeat.activation.baseline import Baseline
from afterbeat.events import (
    BaselineEvent,
    Event,
    MarkerEvent,
    MetricsEvent,
    RecoveryEvent,
    StateEvent,
    SuggestionEvent,
)
from afterbeat.heart_rate import HeartRateMeasurement, SensorContact, encode_measurement
from afterbeat.hrv.beats import Beat
from afterbeat.pipeline import Pipeline, rest_recording_from
from afterbeat.records import Disconnect, Marker, MarkerKind, Notification, Reconnect, Record
from afterbeat.resets.plan import plan_from_json
from afterbeat.sources.replay import derived_notifications, parse_mark, with_marks
from evaluation import rest_recording, rr_windows

E = TypeVar("E", bound=Event)

METRICS_KEYS = {"type", "t_s", "heart_rate_bpm", "rmssd_ms", "arousal", "score", "quality"}


@pytest.fixture(scope="module")
def rest_rr(data_dir: Path) -> np.ndarray:
    return np.loadtxt(data_dir / "polar-hrm" / "rest_rri.txt")


@pytest.fixture(scope="module")
def base(rest_rr: np.ndarray) -> Baseline:
    """The person's baseline from the whole rest, computed in batch (cheap)."""
    return Baseline.from_recordings([rest_recording("rest", rr_windows(rest_rr))])


def beats_of(rr_ms: Iterable[float], start_s: float = 0.0) -> list[Beat]:
    out, t = [], start_s
    for v in rr_ms:
        t += float(v) / 1000.0
        out.append(Beat(t, float(v), 0))
    return out


def run(records: Iterable[Record], pipeline: Pipeline | None = None) -> tuple[Pipeline,
                                                                            list[Event]]:
    p = pipeline or Pipeline()
    events: list[Event] = []
    for r in records:
        events.extend(p.push(r))
    events.extend(p.finish())
    return p, events


def of(events: Sequence[Event], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def marks(*texts: str) -> list[Marker]:
    return [parse_mark(t) for t in texts]


def story_beats(rest_rr: np.ndarray) -> list[Beat]:
    """Rest (~2.5 min), activation (real rest RR shortened by 22 %, ~11 min), rest (~8 min)."""
    rr = list(rest_rr[:150])
    active = list(rest_rr[150:800] * 0.78)
    return beats_of(rr + active + list(rest_rr[:480]))


@pytest.fixture(scope="module")
def story(rest_rr: np.ndarray, base: Baseline) -> list[Event]:
    records = with_marks(derived_notifications(story_beats(rest_rr)), marks("session_end@150"))
    return run(records, Pipeline(baseline=base))[1]


def test_calm_rest_builds_a_baseline_and_stays_settled(rest_rr: np.ndarray) -> None:
    records = with_marks(derived_notifications(beats_of(rest_rr)),
                         marks("baseline_start@0", "baseline_end@420", "session_end@480"))
    p, events = run(records)
    metrics = of(events, MetricsEvent)
    times = [m.t_s for m in metrics]
    assert all(b - a == pytest.approx(5.0) for a, b in zip(times, times[1:], strict=False))
    assert all(t % 5.0 == 0 for t in times)
    base = of(events, BaselineEvent)
    assert len(base) == 1 and base[0].ok and base[0].baseline is not None
    assert base[0].baseline["provisional"] is True
    assert p.baseline is not None and 50 < p.baseline.heart_rate_bpm < 110
    assert of(events, SuggestionEvent) == []
    assert {e.state for e in of(events, StateEvent)} <= {"calibrating", "settled", "activated",
                                                          "unknown"}
    scored = [m for m in metrics if m.arousal is not None]
    assert len(scored) > 0.8 * len([m for m in metrics if m.t_s > 540])
    assert abs(float(np.median([m.arousal for m in scored]))) < 1.0
    rec = of(events, RecoveryEvent)
    assert len(rec) == 1 and rec[0].recovery.session_end_s == 480.0
    assert [e.kind for e in of(events, MarkerEvent)] == ["baseline_start", "baseline_end",
                                                         "session_end"]
    for m in metrics:
        obj = json.loads(json.dumps(m.to_json()))
        assert METRICS_KEYS <= set(obj) and obj["type"] == "metrics"


def test_activation_after_session_leads_to_a_suggestion_then_settles(story: list[Event]) -> None:
    events = story
    states = [(e.t_s, e.state) for e in of(events, StateEvent)]
    assert any(s == "elevated" for _, s in states)
    sugg = of(events, SuggestionEvent)
    assert sugg and sugg[0].t_s >= 150.0 + 300.0
    assert sugg[0].reset == "resonance" and not sugg[0].gentle
    assert "usual calm" in (sugg[0].detail or "")
    elevated_at = min(t for t, s in states if s == "elevated")
    settled_after = [t for t, s in states if s == "settled" and t > elevated_at]
    assert settled_after, states
    rec = of(events, RecoveryEvent)[0].recovery
    assert rec.time_to_settle_s is not None and rec.time_to_settle_s > 600.0
    assert not rec.settled_within_grace
    text = json.dumps([e.to_json() for e in events]).lower()
    for word in ("alarm", "panic", "diagnos", "clinical", "disorder", "ptsd", "treat"):
        assert word not in text


def test_plan_preferences_and_thresholds_reach_the_pipeline(rest_rr: np.ndarray,
                                                             base: Baseline) -> None:
    plan = plan_from_json({"version": 1, "preferred": ["walk"],
                           "thresholds": {"grace_s": 420, "sustain_s": 120}})
    records = with_marks(derived_notifications(beats_of(
        list(rest_rr[:150]) + list(rest_rr[150:750] * 0.78))), marks("session_end@150"))
    p, events = run(records, Pipeline(baseline=base, plan=plan))
    assert p.settings.grace_s == 420.0 and p.settings.sustain_s == 120.0
    sugg = of(events, SuggestionEvent)
    assert sugg and sugg[0].reset == "walk" and sugg[0].t_s >= 570.0


def test_movement_and_reset_marks(rest_rr: np.ndarray, base: Baseline) -> None:
    records = with_marks(derived_notifications(beats_of(rest_rr[:820])),
                         marks("moving_start@150", "moving_end@200", "reset_start@400:walk",
                               "reset_end@420:walk", "reset_start@600:resonance",
                               "reset_end@620:resonance"))
    _, events = run(records, Pipeline(baseline=base))
    q = {m.t_s: m.quality for m in of(events, MetricsEvent)}
    # a tick at a marker's own time comes before the marker
    assert q[150.0] in ("good", "breathing") and q[155.0] == "movement"
    assert all(q[t] == "movement" for t in np.arange(155.0, 380.0, 5.0))
    assert q[380.0] != "movement" and q[405.0] == "movement" and q[595.0] == "movement"
    assert q[605.0] == "breathing" and q[705.0] == "breathing" and q[760.0] == "good"
    effects = [e.to_json() for e in events if e.to_json()["type"] == "reset_effect"]
    assert {e["reset_id"] for e in effects} == {"walk", "resonance"}


def test_malformed_notifications_are_counted_and_skipped(rest_rr: np.ndarray) -> None:
    records: list[Record] = list(derived_notifications(beats_of(rest_rr[:200])))
    bad = [Notification(r.t_s, r.wall_s, r.payload[:-1]) for r in records[100:110]
           if isinstance(r, Notification)]
    mixed = records[:100] + bad + records[100:]
    p, events = run(mixed)
    assert p.stats.malformed == 10
    assert p.stats.notifications == len([r for r in mixed if isinstance(r, Notification)])
    assert of(events, MetricsEvent)


def test_disconnect_shows_unknown_and_starts_a_new_segment(rest_rr: np.ndarray,
                                                            base: Baseline) -> None:
    first = list(derived_notifications(beats_of(rest_rr[:200])))
    t_end = first[-1].t_s
    second = list(derived_notifications(beats_of(rest_rr[200:350], start_s=t_end + 30.0)))
    records = (first + [Disconnect(t_end + 1.0, "link lost"), Reconnect(t_end + 29.0)]
               + second)
    p, events = run(records, Pipeline(baseline=base))
    states = [(e.t_s, e.state) for e in of(events, StateEvent)]
    assert (t_end + 1.0, "unknown") in states
    after = [m for m in of(events, MetricsEvent) if t_end + 30 < m.t_s < t_end + 100]
    assert after and all(m.arousal is None for m in after)  # windows refill after a gap
    assert p.timeline.segment >= 1


def test_heart_rate_only_strap(data_dir: Path) -> None:
    hr = np.loadtxt(data_dir / "stress-predict-e4" / "S03" / "HR.csv")[2:]
    records: list[Record] = [
        Notification(float(i + 1), 0.0, encode_measurement(HeartRateMeasurement(
            heart_rate_bpm=int(round(v)), sensor_contact=SensorContact.DETECTED)))
        for i, v in enumerate(hr[:1500])]
    records = list(with_marks(records, marks("baseline_start@0", "baseline_end@400")))
    p, events = run(records)
    metrics = of(events, MetricsEvent)
    assert p.stats.heart_rate_only > 1000
    assert p.baseline is not None and p.baseline.ln_rmssd is None
    late = [m for m in metrics if m.t_s > 500]
    assert late and all(not m.rr_available for m in late)
    assert {m.quality for m in late} == {"hr_only"}


def test_baseline_from_a_whole_resting_recording(rest_rr: np.ndarray) -> None:
    rec = rest_recording_from(derived_notifications(beats_of(rest_rr[:300])), "rest")
    assert 20 < len(rec.heart_rate_bpm) < 60 and len(rec.ln_rmssd) == len(rec.heart_rate_bpm)
    base = Baseline.from_recordings([rec])
    assert base.provisional and base.ln_rmssd is not None


def test_post_session_rest_never_enters_the_baseline(rest_rr: np.ndarray, base: Baseline) -> None:
    records = with_marks(derived_notifications(beats_of(rest_rr[:500])),
                         marks("session_start@10", "baseline_start@20", "baseline_end@60",
                               "session_end@100", "baseline_start@150", "baseline_end@450"))
    p, events = run(records, Pipeline(baseline=base))
    outcomes = of(events, BaselineEvent)
    assert [e.ok for e in outcomes] == [False, False]
    assert "away from sessions" in outcomes[-1].reason
    assert p.baseline is base


def test_a_plan_applied_while_running_acts_like_one_given_at_start(rest_rr: np.ndarray,
                                                                   base: Baseline) -> None:
    plan = plan_from_json({"version": 1, "preferred": ["walk"],
                           "thresholds": {"grace_s": 300, "sustain_s": 240}})
    records = list(with_marks(derived_notifications(beats_of(
        list(rest_rr[:150]) + list(rest_rr[150:900] * 0.78))), marks("session_end@150")))
    _, from_start = run(records, Pipeline(baseline=base, plan=plan))
    live = Pipeline(baseline=base)
    early = [r for r in records if r.t_s < 200.0]
    events = [e for r in early for e in live.push(r)]
    live.apply_plan(plan)  # a longer sustain_s: the watch keeps a longer history from now on
    assert live.settings.sustain_s == 240.0 and live.watch.settings.sustain_s == 240.0
    _, rest = run(records[len(early):], live)
    events += rest
    as_json = [e.to_json() for e in of(events, SuggestionEvent)]
    assert as_json and as_json == [e.to_json() for e in of(from_start, SuggestionEvent)]
    assert as_json[0]["reset"] == "walk"
    live.apply_plan(None)
    assert live.settings == Pipeline().settings and live.plan is None


@pytest.mark.slow
def test_plan_and_not_now_markers_replay_what_happened_live(rest_rr: np.ndarray,
                                                            base: Baseline) -> None:
    plan_json = {"version": 1, "preferred": ["walk"],
                 "thresholds": {"grace_s": 300, "sustain_s": 240}}
    records = list(with_marks(derived_notifications(beats_of(
        list(rest_rr[:150]) + list(rest_rr[150:900] * 0.78))), marks("session_end@150")))
    _, from_start = run(records, Pipeline(baseline=base, plan=plan_from_json(plan_json)))
    plan_marker = Marker(t_s=200.0, kind=MarkerKind.PLAN, text=json.dumps(plan_json))
    _, replayed = run(with_marks(records, [plan_marker]), Pipeline(baseline=base))
    suggested = [e.to_json() for e in of(from_start, SuggestionEvent)]
    assert suggested and suggested == [e.to_json() for e in of(replayed, SuggestionEvent)]
    # A longer activated stretch brings a second, gentler suggestion 10 minutes after the
    # first; "not now" at the first one starts a quiet period instead, and a replay of the
    # recorded marker does the same.
    activated = list(rest_rr[150:900] * 0.78)
    longer = list(with_marks(derived_notifications(beats_of(
        list(rest_rr[:150]) + activated + activated)), marks("session_end@150")))
    _, plain = run(longer, Pipeline(baseline=base))
    first_t_s = of(plain, SuggestionEvent)[0].t_s
    assert any(e.t_s > first_t_s for e in of(plain, SuggestionEvent))
    dismiss = Marker(t_s=first_t_s, kind=MarkerKind.DISMISS)
    _, quiet = run(with_marks(longer, [dismiss]), Pipeline(baseline=base))
    assert [e.t_s for e in of(quiet, SuggestionEvent)] == [first_t_s]


def test_an_unreadable_plan_marker_is_counted_and_changes_nothing(rest_rr: np.ndarray) -> None:
    p = Pipeline()
    settings = p.settings
    p.push(Marker(t_s=1.0, kind=MarkerKind.PLAN, text="{not json"))
    p.push(Marker(t_s=2.0, kind=MarkerKind.PLAN, text='{"version": 1, "thresholds": {"x": 1}}'))
    assert p.stats.bad_plan_markers == 2
    assert p.settings == settings
