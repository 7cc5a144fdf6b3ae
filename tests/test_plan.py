"""The person's plan: JSON load and validation with errors naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from afterbeat.activation.settings import Settings
from afterbeat.resets.library import LIBRARY, ResetKind
from afterbeat.resets.plan import THRESHOLD_RANGES, Plan, PlanError, load_plan, plan_from_json

FULL: dict[str, Any] = {
    "version": 1,
    "preferred": ["walk", "breathing"],
    "avoided": ["four_seven_eight", "box"],
    "thresholds": {"elevated_index": 1.25, "sustain_s": 240, "settled_index": 0.5},
    "breaths_per_min": 5.5,
    "coping_text": "  Put on the blue jumper and call Sam.  ",
    "contact_text": "Ring the practice on 01234 567890 (Mon-Fri).",
    "locale": "en_gb",
}


def test_full_plan_validates_and_round_trips(tmp_path: Path) -> None:
    plan = plan_from_json(FULL)
    assert plan.preferred == ("walk", "breathing")
    assert plan.avoided == ("four_seven_eight", "box")
    assert plan.thresholds == {"elevated_index": 1.25, "sustain_s": 240.0, "settled_index": 0.5}
    assert plan.breaths_per_min == 5.5
    assert plan.coping_text == "Put on the blue jumper and call Sam."
    assert plan.locale == "en-GB"
    again = plan_from_json(json.loads(json.dumps(plan.to_json())))
    assert again == plan
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(FULL), encoding="utf-8")
    assert load_plan(path) == plan


def test_empty_plan_is_the_default() -> None:
    assert plan_from_json({}) == Plan()
    assert plan_from_json({"locale": None, "coping_text": None}) == Plan()


@pytest.mark.parametrize(("patch", "field"), [
    ({"favourite": "walk"}, "favourite"),
    ({"version": 2}, "version"),
    ({"version": True}, "version"),
    ({"preferred": "walk"}, "preferred"),
    ({"preferred": ["walk", "levitation"]}, "preferred[1]"),
    ({"avoided": [3]}, "avoided[0]"),
    ({"preferred": ["walk"], "avoided": ["walk"]}, "preferred[0]"),
    ({"thresholds": []}, "thresholds"),
    ({"thresholds": {"elevated_index": "high"}}, "thresholds.elevated_index"),
    ({"thresholds": {"elevated_index": True}}, "thresholds.elevated_index"),
    ({"thresholds": {"elevated_index": 99}}, "thresholds.elevated_index"),
    ({"thresholds": {"sustain_s": float("nan")}}, "thresholds.sustain_s"),
    ({"thresholds": {"score_slope": 2}}, "thresholds.score_slope"),
    ({"thresholds": {"elevated_index": 1.0, "settled_index": 1.0}}, "thresholds.settled_index"),
    ({"thresholds": {"elevated_index": 0.5}}, "thresholds.elevated_index"),
    ({"thresholds": {"settled_index": 2.0}}, "thresholds.settled_index"),
    ({"breaths_per_min": 8}, "breaths_per_min"),
    ({"breaths_per_min": "6"}, "breaths_per_min"),
    ({"coping_text": 5}, "coping_text"),
    ({"contact_text": "x" * 2001}, "contact_text"),
    ({"locale": "German"}, "locale"),
    ({"locale": 49}, "locale"),
])
def test_bad_fields_raise_plan_error_naming_the_field(patch: dict[str, Any], field: str) -> None:
    with pytest.raises(PlanError) as info:
        plan_from_json({**FULL, **patch})
    assert info.value.field == field
    assert repr(field) in str(info.value)


def test_not_an_object_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(PlanError):
        plan_from_json(["walk"])
    broken = tmp_path / "broken.json"
    broken.write_text("{\"preferred\": [", encoding="utf-8")
    with pytest.raises(PlanError) as info:
        load_plan(broken)
    assert info.value.field == "(file)"
    latin = tmp_path / "latin.json"
    latin.write_bytes(b"{\"coping_text\": \"\xe9\"}")
    with pytest.raises(PlanError):
        load_plan(latin)


def test_threshold_keys_are_real_arousal_settings_and_apply() -> None:
    assert set(THRESHOLD_RANGES) <= set(Settings.keys())
    for key, (low, high) in THRESHOLD_RANGES.items():
        default = getattr(Settings(), key)
        assert low <= default <= high, key
    plan = plan_from_json(FULL)
    settings = Settings().with_overrides(plan.thresholds)
    assert settings.elevated_index == 1.25 and settings.sustain_s == 240.0


def test_preference_rank_and_avoidance_by_id_or_kind() -> None:
    plan = plan_from_json(FULL)
    by_id = {r.id: r for r in LIBRARY}
    assert plan.preference_rank(by_id["walk"]) == 0
    assert plan.preference_rank(by_id["resonance"]) == 1  # via the kind "breathing"
    assert plan.preference_rank(by_id["cold_water"]) is None
    assert plan.avoids(by_id["box"]) and not plan.avoids(by_id["resonance"])
    kinds = plan_from_json({"avoided": ["movement"]})
    assert all(kinds.avoids(r) == (r.kind is ResetKind.MOVEMENT) for r in LIBRARY)


@given(st.dictionaries(st.sampled_from(sorted(THRESHOLD_RANGES)),
                       st.floats(allow_nan=True, allow_infinity=True) | st.integers() |
                       st.text(max_size=3) | st.none()))
def test_thresholds_either_validate_in_range_or_name_the_field(raw: dict[str, Any]) -> None:
    try:
        plan = plan_from_json({"thresholds": raw})
    except PlanError as exc:
        rejected: PlanError | None = exc
    else:
        rejected = None
    if rejected is not None:
        assert rejected.field.startswith("thresholds")
        return
    for key, value in plan.thresholds.items():
        low, high = THRESHOLD_RANGES[key]
        assert low <= value <= high
    Settings().with_overrides(plan.thresholds)  # every accepted plan can be applied
