"""Pacing timelines: the phase at any clock time, and a pattern changed mid-reset."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from afterbeat.resets.library import LIBRARY, resonance_pattern, timeline_for
from afterbeat.resets.pacing import (
    Direction,
    Pattern,
    PatternError,
    Prompt,
    Timeline,
    change_pattern,
    phase_at,
    prompt_at,
    start_timeline,
)

BOX = Pattern.of(("Breathe in", 4, "inhale"), ("Hold", 4, "hold"),
                 ("Breathe out", 4, "exhale"), ("Hold", 4, "hold"))
SIGH = Pattern.of(("Breathe in", 2.5, "inhale"), ("A little more in", 1, "inhale"),
                  ("Long, slow breath out", 6.5, "exhale"))
PATTERNS = [resonance_pattern(), resonance_pattern(4.5), resonance_pattern(7.0), BOX, SIGH,
            Pattern.of(("Breathe in", 4, "inhale"), ("Hold", 7, "hold"),
                       ("Breathe out", 8, "exhale"))]


def page_phase(sent: dict[str, Any], now_s: float) -> tuple[int, float, float, int, bool]:
    """The page's arithmetic, written from the pacing docstring, on the JSON the server sends."""
    pattern = sent["pattern"]
    assert isinstance(pattern, dict)
    durations = [float(p["duration_s"]) for p in pattern["phases"]]
    cycle_s = sum(durations)
    elapsed = max(0.0, now_s - float(sent["start_s"]))
    k = math.floor(elapsed / cycle_s)
    pos = elapsed - k * cycle_s
    offset = 0.0
    i = len(durations) - 1
    for j, d in enumerate(durations):
        if pos < offset + d:
            i = j
            break
        offset += d
    else:
        offset = cycle_s - durations[-1]
    progress = (pos - offset) / durations[i]
    end_s = sent["end_s"]
    finished = end_s is not None and now_s >= float(end_s)
    return i, progress, offset + durations[i] - pos, int(sent["cycle_base"]) + k, finished


def test_resonance_six_per_minute_phases_at_known_times() -> None:
    tl = start_timeline(resonance_pattern(6.0), 100.0, duration_s=300.0)
    assert tl.pattern is not None
    assert [p.duration_s for p in tl.pattern.phases] == [4.0, 6.0]
    cases = [(100.0, Direction.INHALE, 0.0, 4.0, 0), (102.0, Direction.INHALE, 0.5, 2.0, 0),
             (104.0, Direction.EXHALE, 0.0, 6.0, 0), (107.0, Direction.EXHALE, 0.5, 3.0, 0),
             (113.0, Direction.INHALE, 0.75, 1.0, 1), (399.0, Direction.EXHALE, 5 / 6, 1.0, 29)]
    for t_s, direction, progress, remaining, cycle in cases:
        state = phase_at(tl, t_s)
        assert state.phase.direction is direction, t_s
        assert state.progress == pytest.approx(progress)
        assert state.remaining_s == pytest.approx(remaining)
        assert state.cycle == cycle
        assert not state.finished
    assert phase_at(tl, 400.0).finished
    before = phase_at(tl, 50.0)
    assert (before.index, before.progress, before.elapsed_s) == (0, 0.0, 0.0)


def test_phase_far_from_start_stays_exact() -> None:
    start = 1_764_115_200.123  # a Unix time: the page works on Unix seconds
    tl = start_timeline(resonance_pattern(6.0), start)
    state = phase_at(tl, start + 10 * 3600 + 2.0)  # ten hours later, 2 s into a cycle
    assert state.phase.direction is Direction.INHALE
    assert state.progress == pytest.approx(0.5, abs=1e-6)
    assert state.cycle == 3600


@given(pattern=st.sampled_from(PATTERNS), start=st.floats(-1e6, 2e9),
       dt=st.floats(0, 86_400), offset=st.floats(-1e6, 2e9))
def test_page_formula_on_sent_json_matches_phase_at(pattern: Pattern, start: float, dt: float,
                                                    offset: float) -> None:
    tl = start_timeline(pattern, start, duration_s=600.0)
    sent = json.loads(json.dumps(tl.to_json(unix_offset_s=offset)))
    assert sent["clock"] == "unix"
    state = phase_at(tl, start + dt)
    index, progress, remaining, cycle, finished = page_phase(sent, start + offset + dt)
    tol = 1e-6 * max(1.0, abs(start) + abs(offset)) / 1e3 + 1e-5
    if index != state.index:  # only on a float boundary between two phases
        assert min(state.progress, 1 - state.progress) < 1e-3
        return
    assert progress == pytest.approx(state.progress, abs=max(tol, 1e-4))
    assert remaining == pytest.approx(state.remaining_s, abs=max(tol, 1e-3))
    assert cycle == state.cycle
    assert finished == state.finished


@given(pattern=st.sampled_from(PATTERNS), t=st.floats(0, 10_000))
def test_phase_state_invariants(pattern: Pattern, t: float) -> None:
    state = phase_at(start_timeline(pattern, 0.0), t)
    assert 0.0 <= state.progress <= 1.0
    assert state.remaining_s == pytest.approx((1 - state.progress) * state.phase.duration_s,
                                              abs=1e-6)
    assert state.phase is pattern.phases[state.index]


@given(old=st.sampled_from(PATTERNS), new=st.sampled_from(PATTERNS), t=st.floats(0, 3600))
def test_changing_pattern_continues_without_a_jump(old: Pattern, new: Pattern, t: float) -> None:
    tl = start_timeline(old, 0.0, duration_s=3600.0, prompts=[Prompt(0, "hello")])
    before = phase_at(tl, t)
    changed = change_pattern(tl, new, t)
    after = phase_at(changed, t)
    assert changed.origin_s == tl.origin_s and changed.end_s == tl.end_s
    assert changed.prompts == tl.prompts
    assert after.cycle == before.cycle
    assert changed.start_s <= t
    if before.phase.direction is not Direction.HOLD:
        assert after.phase.direction is before.phase.direction
    if before.phase.direction is not Direction.HOLD and len(new.phases) == 2:
        # a one-phase-per-direction pattern keeps the breath's progress exactly
        run = [p for p in old.phases if p.direction is before.phase.direction]
        if len(run) == 1:
            assert after.progress == pytest.approx(before.progress, abs=1e-6)
    later = phase_at(changed, t + 0.5)
    assert later.elapsed_s == pytest.approx(before.elapsed_s + 0.5)


def test_change_resonance_pace_mid_breath_keeps_direction_and_progress() -> None:
    tl = start_timeline(resonance_pattern(6.0), 0.0, duration_s=300.0)
    t = 60.0 + 5.5  # cycle 6, exhale progress 0.25
    before = phase_at(tl, t)
    assert (before.phase.direction, before.progress, before.cycle) == (Direction.EXHALE, 0.25, 6)
    slower = change_pattern(tl, resonance_pattern(5.0), t)  # 12-s cycle: 4.8 in, 7.2 out
    after = phase_at(slower, t)
    assert after.phase.direction is Direction.EXHALE
    assert after.progress == pytest.approx(0.25)
    assert after.cycle == 6
    assert phase_at(slower, t + 5.4).phase.direction is Direction.INHALE  # 7.2 * 0.75 later
    assert phase_at(slower, t + 5.4).cycle == 7


def test_hold_after_inhale_maps_to_start_of_exhale_when_new_pattern_has_no_hold() -> None:
    tl = start_timeline(BOX, 0.0)
    state = phase_at(tl, 5.0)  # the hold after breathing in
    assert state.phase.name == "Hold" and state.index == 1
    after = phase_at(change_pattern(tl, resonance_pattern(), 5.0), 5.0)
    assert after.phase.direction is Direction.EXHALE and after.progress == 0.0
    # the hold after breathing out continues as the start of the next in-breath
    after_empty = phase_at(change_pattern(tl, resonance_pattern(), 13.0), 13.0)
    assert after_empty.phase.direction is Direction.INHALE and after_empty.progress == 0.0


def test_hold_maps_to_the_hold_after_the_same_breath() -> None:
    tl = start_timeline(BOX, 0.0)
    four_seven_eight = PATTERNS[-1]
    after = phase_at(change_pattern(tl, four_seven_eight, 6.0), 6.0)  # box: half through hold 1
    assert after.index == 1 and after.progress == pytest.approx(0.5)


def test_cyclic_sigh_two_inhales_count_as_one_breath_in() -> None:
    tl = start_timeline(SIGH, 0.0)
    state = phase_at(tl, 3.0)  # 3 s into a 3.5-s in-breath, in its second phase
    assert state.index == 1
    after = phase_at(change_pattern(tl, resonance_pattern(), 3.0), 3.0)
    assert after.phase.direction is Direction.INHALE
    assert after.progress == pytest.approx(3.0 / 3.5)


def test_movement_timer_prompts_and_timeline_without_pattern() -> None:
    tl = timeline_for("walk", 1000.0)
    assert tl.pattern is None and tl.end_s == 1300.0
    assert prompt_at(tl, 999.0) is None
    assert prompt_at(tl, 1000.0) == tl.prompts[0]
    assert prompt_at(tl, 1061.0) == tl.prompts[1]
    assert prompt_at(tl, 5000.0) == tl.prompts[-1]
    with pytest.raises(PatternError):
        phase_at(tl, 1010.0)
    sent = tl.to_json()
    assert sent["pattern"] is None and sent["clock"] == "session"
    offsets = [p["offset_s"] for p in sent["prompts"]]
    assert offsets == sorted(offsets)
    # giving a timer a pattern later starts the breath at the change
    paced = change_pattern(tl, resonance_pattern(), 1100.0)
    assert phase_at(paced, 1100.0).progress == 0.0
    assert prompt_at(paced, 1061.0) == tl.prompts[1]


def test_prompts_stay_on_the_reset_clock_after_a_pattern_change() -> None:
    tl = timeline_for("muscle_release", 0.0)
    changed = change_pattern(tl, resonance_pattern(5.5), 47.0)
    assert prompt_at(changed, 50.0) == prompt_at(tl, 50.0)
    prompt = prompt_at(changed, 50.0)
    assert prompt is not None
    assert prompt.offset_s == 45.0


def test_invalid_patterns_are_refused() -> None:
    with pytest.raises(PatternError):
        Pattern(())
    with pytest.raises(PatternError):
        Pattern.of(("Breathe in", 0, "inhale"))
    with pytest.raises(PatternError):
        Pattern.of(("Breathe in", float("nan"), "inhale"))
    with pytest.raises(PatternError):
        start_timeline(resonance_pattern(), 0.0, duration_s=0)


def test_every_library_pattern_serialises_with_cycle_and_directions() -> None:
    for reset in LIBRARY:
        tl = timeline_for(reset.id, 0.0)
        assert isinstance(tl, Timeline)
        sent = json.loads(json.dumps(tl.to_json(unix_offset_s=1.7e9)))
        assert sent["reset_id"] == reset.id
        assert sent["start_s"] == sent["origin_s"] == 1.7e9
        assert sent["end_s"] == pytest.approx(1.7e9 + reset.duration_s)
        if reset.pattern is not None:
            phases = sent["pattern"]["phases"]
            assert sum(p["duration_s"] for p in phases) == pytest.approx(sent["pattern"]["cycle_s"])
            assert {p["direction"] for p in phases} <= {"inhale", "hold", "exhale"}
