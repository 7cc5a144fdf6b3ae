"""Choosing a reset: defaults, the plan, switching kind when one stalls, quiet and gentle."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from afterbeat.resets.choice import (
    ChoiceContext,
    ChoicePolicy,
    ResetSuggestion,
    choose_reset,
    closing_suggestion,
)
from afterbeat.resets.library import LIBRARY, ResetKind, get_reset
from afterbeat.resets.plan import Plan, plan_from_json

FORBIDDEN = re.compile(r"diagnos|clinical|disorder|ptsd|panic|treat|\bcure|alarm|danger|"
                       r"emergency|\bmust\b|\bshould\b|warning", re.IGNORECASE)


def suggest(ctx: ChoiceContext, now_s: float, *, index: float | None = None,
            gentle: bool = False, plan: Plan | None = None) -> ResetSuggestion:
    s = choose_reset(ctx, now_s, index=index, gentle=gentle, plan=plan)
    assert s is not None
    assert not FORBIDDEN.search(s.reason), s.reason
    return s


def test_breathing_by_default() -> None:
    s = suggest(ChoiceContext(), 600.0, index=2.0)
    assert (s.reset_id, s.kind, s.gentle, s.switch_from) == ("resonance", ResetKind.BREATHING,
                                                            False, None)
    assert s.t_s == 600.0
    assert "slow, even breathing" in s.reason
    assert s.to_json() == {"t_s": 600.0, "reset": "resonance", "kind": "breathing",
                           "reason": s.reason, "gentle": False, "switch_from": None,
                           "breaths_per_min": None}


def test_plan_preferences_and_avoidances_override_the_default() -> None:
    plan = plan_from_json({"preferred": ["cold_water", "walk"], "breaths_per_min": 5.0})
    s = suggest(ChoiceContext(), 0.0, plan=plan)
    assert s.reset_id == "cold_water" and "your plan" in s.reason
    by_kind = plan_from_json({"preferred": ["movement"]})
    assert suggest(ChoiceContext(), 0.0, plan=by_kind).reset_id == "walk"
    no_breathing = plan_from_json({"avoided": ["breathing"]})
    s = suggest(ChoiceContext(), 0.0, plan=no_breathing)
    assert get_reset(s.reset_id).kind is not ResetKind.BREATHING
    paced = plan_from_json({"breaths_per_min": 5.0})
    assert suggest(ChoiceContext(), 0.0, plan=paced).breaths_per_min == 5.0
    avoid_resonance = plan_from_json({"avoided": ["resonance"]})
    assert suggest(ChoiceContext(), 0.0, plan=avoid_resonance).reset_id == "cyclic_sighing"


def test_everything_avoided_means_no_suggestion() -> None:
    plan = plan_from_json({"avoided": [str(k) for k in ResetKind]})
    assert choose_reset(ChoiceContext(), 0.0, plan=plan) is None


def test_closing_ritual_only_when_the_plan_names_it() -> None:
    ids = set()
    ctx = ChoiceContext()
    for _ in range(len(LIBRARY)):
        s = choose_reset(ctx, 0.0)
        if s is None:
            break
        ids.add(s.reset_id)
        ctx = ctx.with_start(s.reset_id, 0.0, 2.0).with_end(1000.0, 2.0)
    assert "closing_ritual" not in ids
    plan = plan_from_json({"preferred": ["closing_ritual"]})
    assert suggest(ChoiceContext(), 0.0, plan=plan).reset_id == "closing_ritual"


def test_a_stalled_breathing_reset_is_followed_by_another_kind_once() -> None:
    ctx = ChoiceContext().with_start("resonance", 100.0, index=2.0)
    assert choose_reset(ctx, 200.0, index=2.0) is None            # too early to judge
    assert choose_reset(ctx, 280.0, index=1.5) is None            # moved by 0.5: fine
    s = suggest(ctx, 280.0, index=1.9)                            # 3 min, barely moved
    assert s.switch_from == "resonance" and s.kind is ResetKind.MOVEMENT
    assert s.reset_id == "walk" and "carry on" in s.reason
    ctx = ctx.with_suggestion(s)
    assert choose_reset(ctx, 300.0, index=1.9) is None            # offered once only
    ctx = ctx.with_end(400.0, index=1.9)
    assert ctx.not_helped == ("resonance",)
    again = suggest(ctx, 2000.0, index=2.0)
    assert again.reset_id != "resonance"


def test_switch_respects_the_plan_and_falls_back_to_sensory() -> None:
    plan = plan_from_json({"avoided": ["movement"]})
    ctx = ChoiceContext().with_start("resonance", 0.0, index=2.0)
    s = suggest(ctx, 200.0, index=2.2, plan=plan)
    assert s.reset_id == "cold_water" and s.kind is ResetKind.SENSORY
    prefers_sensory = plan_from_json({"preferred": ["sensory"]})
    assert suggest(ctx, 200.0, index=2.2, plan=prefers_sensory).kind is ResetKind.MOVEMENT
    sensory_first = ChoiceContext().with_start("cold_water", 0.0, index=2.0)
    assert suggest(sensory_first, 200.0, index=2.0).kind is ResetKind.MOVEMENT


def test_movement_is_not_judged_while_it_runs_and_unknown_index_is_not_judged() -> None:
    walking = ChoiceContext().with_start("walk", 0.0, index=2.0)
    assert choose_reset(walking, 250.0, index=2.0) is None
    breathing = ChoiceContext().with_start("resonance", 0.0, index=None)
    assert choose_reset(breathing, 250.0, index=2.0) is None
    assert choose_reset(ChoiceContext().with_start("resonance", 0.0, 2.0), 250.0) is None
    unknown = ChoiceContext().with_start("not-a-reset", 0.0, index=2.0)
    assert choose_reset(unknown, 250.0, index=2.0) is None


def test_not_now_starts_a_quiet_period() -> None:
    ctx = ChoiceContext().with_dismissal(1000.0)
    assert ctx.quiet_until_s == 1000.0 + ChoicePolicy().quiet_period_s
    assert choose_reset(ctx, 1001.0, index=3.0) is None
    assert choose_reset(ctx, 1000.0 + 1199.0, index=3.0) is None
    assert choose_reset(ctx, 1000.0 + 1200.0, index=3.0) is not None
    short = ChoiceContext(policy=ChoicePolicy(quiet_period_s=60.0)).with_dismissal(0.0)
    assert choose_reset(short, 59.0) is None and choose_reset(short, 60.0) is not None
    # starting a reset yourself ends the quiet period
    assert ctx.with_start("resonance", 1100.0).quiet_until_s is None


def test_gentle_second_suggestion_has_no_holds_and_differs_from_the_first() -> None:
    ctx = ChoiceContext()
    first = suggest(ctx, 0.0, index=2.0)
    ctx = ctx.with_suggestion(first)
    second = suggest(ctx, 600.0, index=2.0, gentle=True)
    assert second.gentle and second.reset_id != first.reset_id
    assert not get_reset(second.reset_id).has_hold
    assert "nothing you need to do" in second.reason
    holds = plan_from_json({"preferred": ["box", "four_seven_eight"]})
    gentle = suggest(ChoiceContext(), 0.0, gentle=True, plan=holds)
    assert not get_reset(gentle.reset_id).has_hold
    assert suggest(ChoiceContext(), 0.0, plan=holds).reset_id == "box"


@given(st.lists(st.tuples(st.sampled_from(["suggest", "gentle", "start", "end", "dismiss"]),
                          st.floats(0, 600), st.floats(-3, 5)), max_size=30),
       st.lists(st.sampled_from([r.id for r in LIBRARY] + [str(k) for k in ResetKind]),
                max_size=4, unique=True))
def test_choice_never_offers_an_avoided_reset_or_speaks_during_quiet(
        steps: list[tuple[str, float, float]], avoided: list[str]) -> None:
    plan = plan_from_json({"avoided": avoided})
    ctx = ChoiceContext()
    now = 0.0
    for action, dt, index in steps:
        now += dt
        if action in ("suggest", "gentle"):
            s = choose_reset(ctx, now, index=index, gentle=action == "gentle", plan=plan)
            if ctx.quiet_until_s is not None and now < ctx.quiet_until_s:
                assert s is None
            if s is not None:
                reset = get_reset(s.reset_id)
                assert not plan.avoids(reset)
                assert not (s.gentle and reset.has_hold)
                ctx = ctx.with_suggestion(s)
        elif action == "start" and ctx.running is None:
            ctx = ctx.with_start("resonance", now, index)
        elif action == "end":
            ctx = ctx.with_end(now, index)
        elif action == "dismiss":
            ctx = ctx.with_dismissal(now)


@pytest.mark.parametrize("gentle", [False, True])
def test_reasons_are_warm_and_name_the_reset(gentle: bool) -> None:
    s = suggest(ChoiceContext(), 0.0, gentle=gentle)
    assert get_reset(s.reset_id).short_name in s.reason
    assert "If you like" in s.reason or "if you like" in s.reason


def test_closing_ritual_is_offered_at_the_end_of_a_session_unless_avoided() -> None:
    s = closing_suggestion(3600.0, plan_from_json({"breaths_per_min": 5.5}))
    assert s is not None and s.reset_id == "closing_ritual" and s.kind is ResetKind.RITUAL
    assert s.breaths_per_min == 5.5 and not FORBIDDEN.search(s.reason)
    assert closing_suggestion(0.0, plan_from_json({"avoided": ["ritual"]})) is None
