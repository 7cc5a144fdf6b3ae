"""The reset library: what it holds, its words, its patterns and its cautions."""

from __future__ import annotations

import json
import re

import pytest

from afterbeat.resets.library import (
    LIBRARY,
    PaceOutOfRange,
    ResetKind,
    UnknownReset,
    get_reset,
    library_json,
    resonance_pattern,
    timeline_for,
)
from afterbeat.resets.pacing import Direction

FORBIDDEN = re.compile(r"diagnos|clinical|disorder|ptsd|panic|treat|\bcure|therap|symptom|"
                       r"patient|alarm|danger|emergency|\bmust\b|\bshould\b", re.IGNORECASE)


def _all_text() -> list[str]:
    out: list[str] = []
    for reset in LIBRARY:
        out += [reset.title, reset.short_name, *reset.instructions, *reset.cautions]
        out += [p.text for p in reset.prompts]
        if reset.pattern is not None:
            out += [p.name for p in reset.pattern.phases]
    return out


def test_library_holds_every_reset_the_issue_names() -> None:
    ids = {r.id for r in LIBRARY}
    assert {"resonance", "cyclic_sighing", "box", "four_seven_eight", "extended_exhale", "walk",
            "shake_out", "stretch", "muscle_release", "cold_water", "closing_ritual"} <= ids
    assert len(ids) == len(LIBRARY)
    kinds = {r.kind for r in LIBRARY}
    assert kinds == set(ResetKind)
    assert get_reset("walk").kind is ResetKind.MOVEMENT
    assert get_reset("cold_water").kind is ResetKind.SENSORY
    ritual = get_reset("closing_ritual")
    assert ritual.kind is ResetKind.RITUAL and 300 <= ritual.duration_s <= 600


def test_every_reset_has_words_duration_and_cautions() -> None:
    for reset in LIBRARY:
        assert reset.instructions and reset.cautions, reset.id
        assert 60 <= reset.duration_s <= 600, reset.id
        assert reset.pattern is not None or reset.prompts, reset.id
        assert any("later" in line for line in reset.instructions), reset.id
        if reset.prompts:
            offsets = [p.offset_s for p in reset.prompts]
            assert offsets == sorted(offsets) and offsets[0] == 0
            assert offsets[-1] <= reset.duration_s


def test_words_are_plain_and_non_clinical() -> None:
    for text in _all_text():
        assert not FORBIDDEN.search(text), text
        assert text.strip() == text and text


def test_holds_are_not_for_everyone_and_breathing_stops_if_dizzy() -> None:
    for reset in LIBRARY:
        joined = " ".join(reset.cautions).lower()
        if reset.has_hold:
            assert "not for everyone" in joined, reset.id
        if reset.pattern is not None:
            assert "dizzy" in joined, reset.id
    assert get_reset("box").has_hold and get_reset("four_seven_eight").has_hold
    assert not get_reset("resonance").has_hold and not get_reset("extended_exhale").has_hold


def test_patterns_match_their_names() -> None:
    box = get_reset("box").pattern
    assert box is not None
    assert [p.duration_s for p in box.phases] == [4, 4, 4, 4]
    assert [p.direction for p in box.phases] == [Direction.INHALE, Direction.HOLD,
                                                 Direction.EXHALE, Direction.HOLD]
    four_seven_eight = get_reset("four_seven_eight").pattern
    assert four_seven_eight is not None
    assert [p.duration_s for p in four_seven_eight.phases] == [4, 7, 8]
    exhale = get_reset("extended_exhale").pattern
    assert exhale is not None
    inhale_s, exhale_s = (p.duration_s for p in exhale.phases)
    assert exhale_s > inhale_s
    sigh = get_reset("cyclic_sighing").pattern
    assert sigh is not None
    assert [p.direction for p in sigh.phases] == [Direction.INHALE, Direction.INHALE,
                                                  Direction.EXHALE]
    assert sigh.phases[2].duration_s > sigh.phases[0].duration_s + sigh.phases[1].duration_s


@pytest.mark.parametrize("rate", [4.5, 5.0, 5.5, 6.0, 6.5, 7.0])
def test_resonance_pace_is_adjustable_from_4_5_to_7(rate: float) -> None:
    pattern = resonance_pattern(rate)
    assert pattern.breaths_per_min == pytest.approx(rate, rel=1e-3)
    inhale, exhale = pattern.phases
    assert inhale.direction is Direction.INHALE and exhale.direction is Direction.EXHALE
    assert inhale.duration_s / pattern.cycle_s == pytest.approx(0.4, abs=1e-3)


def test_default_resonance_is_6_per_minute_4_in_6_out() -> None:
    pattern = get_reset("resonance").pattern
    assert pattern is not None
    assert [p.duration_s for p in pattern.phases] == [4.0, 6.0]


@pytest.mark.parametrize("rate", [4.4, 7.1, 0.0, -6.0, float("nan"), float("inf")])
def test_resonance_pace_out_of_range_is_refused(rate: float) -> None:
    with pytest.raises(PaceOutOfRange):
        resonance_pattern(rate)


def test_timeline_for_applies_a_personal_pace_only_where_adjustable() -> None:
    tl = timeline_for("resonance", 10.0, breaths_per_min=5.0)
    assert tl.pattern is not None and tl.pattern.cycle_s == pytest.approx(12.0)
    assert tl.end_s == 10.0 + get_reset("resonance").duration_s
    with pytest.raises(PaceOutOfRange):
        timeline_for("box", 0.0, breaths_per_min=5.0)
    with pytest.raises(UnknownReset) as info:
        timeline_for("levitation", 0.0)
    assert "resonance" in str(info.value)


def test_library_json_is_serialisable_and_complete() -> None:
    data = json.loads(json.dumps(library_json()))
    assert [d["id"] for d in data] == [r.id for r in LIBRARY]
    resonance = next(d for d in data if d["id"] == "resonance")
    assert resonance["pace_range_breaths_per_min"] == [4.5, 7.0]
    assert resonance["pattern"]["cycle_s"] == 10.0
    walk = next(d for d in data if d["id"] == "walk")
    assert walk["pattern"] is None and walk["prompts"][0]["offset_s"] == 0
