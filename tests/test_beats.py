"""Beat timeline: cumulative RR within a segment, anchored on arrival, never across a gap."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from afterbeat.hrv.beats import Beat, BeatTimeline


def test_beats_are_back_dated_from_the_first_arrival() -> None:
    timeline = BeatTimeline()
    beats = timeline.push(10.0, [800.0, 900.0])
    assert [(b.rr_ms, b.segment) for b in beats] == [(800.0, 0), (900.0, 0)]
    assert [b.t_s for b in beats] == [pytest.approx(9.1), 10.0]


def test_a_burst_of_queued_notifications_gives_evenly_spaced_beats() -> None:
    timeline = BeatTimeline()
    timeline.push(1.0, [1000.0])
    # Five frames delayed and delivered within 20 ms of each other.
    beats = timeline.extend((6.0 + 0.005 * i, [1000.0]) for i in range(5))
    assert [b.t_s for b in beats] == pytest.approx([2.0, 3.0, 4.0, 5.0, 6.0])
    assert {b.segment for b in beats} == {0}


def test_contact_loss_while_frames_keep_coming_starts_a_new_segment() -> None:
    timeline = BeatTimeline()
    first = timeline.extend((float(t), [1000.0]) for t in range(1, 11))
    # Five frames without RR (no skin contact): five beats were never seen.
    for t in range(11, 16):
        assert timeline.push(float(t), []) == []
    after = timeline.push(16.0, [1000.0])
    assert first[-1].segment == 0
    assert after == [Beat(t_s=16.0, rr_ms=1000.0, segment=1)]


def test_a_long_silence_with_beats_missing_starts_a_new_segment() -> None:
    timeline = BeatTimeline()
    timeline.extend((float(t), [1000.0]) for t in range(1, 11))
    # Ten seconds without any frame, then one second of RR: the RR sum lags by 10 s.
    assert timeline.push(21.0, [1000.0])[0].segment == 1


def test_explicit_break_starts_a_new_segment_even_without_lag() -> None:
    timeline = BeatTimeline()
    timeline.push(1.0, [1000.0])
    timeline.break_segment()
    assert timeline.push(2.0, [1000.0])[0].segment == 1


def test_latency_jitter_within_tolerance_keeps_one_segment() -> None:
    timeline = BeatTimeline()
    arrivals = [1.0, 2.4, 3.1, 5.9, 6.0, 7.2, 8.05, 9.5, 10.0]  # up to ~2 s late, never lost
    beats = timeline.extend((t, [1000.0]) for t in arrivals)
    assert {b.segment for b in beats} == {0}


def test_a_new_segment_never_goes_back_in_time() -> None:
    timeline = BeatTimeline()
    timeline.push(10.0, [1000.0])
    timeline.break_segment()
    beats = timeline.push(10.5, [1000.0, 1000.0])  # would back-date to 8.5 s
    assert beats[0].t_s > 10.0


def test_no_rr_no_beats() -> None:
    assert BeatTimeline().push(3.0, []) == []


@given(
    st.lists(st.lists(st.floats(300, 2000), max_size=4), max_size=60),
    st.lists(st.floats(0.0, 3.0), min_size=60, max_size=60),
)
def test_beat_times_increase_and_rr_are_untouched(
    frames: list[list[float]], jitter: list[float]
) -> None:
    timeline = BeatTimeline()
    arrival = 0.0
    beats: list[Beat] = []
    for rr, extra in zip(frames, jitter, strict=False):
        arrival += sum(rr) / 1000.0 + extra
        beats.extend(timeline.push(arrival, rr))
    assert [b.rr_ms for b in beats] == [v for f in frames for v in f][: len(beats)]
    assert all(b2.t_s > b1.t_s for b1, b2 in zip(beats, beats[1:], strict=False))
    for b1, b2 in zip(beats, beats[1:], strict=False):
        if b1.segment == b2.segment:
            assert b2.t_s - b1.t_s == pytest.approx(b2.rr_ms / 1000.0)
