"""Across sessions: the learned summary, trends and the therapist hint."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from afterbeat.resets.effects import ResetEffect, WindowStats
from afterbeat.resets.plan import plan_from_json
from afterbeat.resets.trends import SessionOutcome, learned_summary, reset_stats, trend_hint, trends
from reset_helpers import episodes, read_rr_ms, replay_resets, series_from_rr

ALARM = re.compile(r"alarm|danger|warning|urgent|emergency|diagnos|clinical|disorder|panic|"
                   r"treat|\bcure|crisis|\bmust\b|!", re.IGNORECASE)
_W = WindowStats(0.0, 0.0, 0, None, None, None, 0, 0, None)


def effect(reset_id: str, settle_s: float | None, *, activated: bool = True,
           before: float | None = None, after: float | None = None, n: int = 1) -> ResetEffect:
    return ResetEffect(number=n, reset_id=reset_id, start_t_s=0.0, end_t_s=300.0, before=_W,
                       during=_W, after=_W, rating_before=before, rating_after=after,
                       settle_s=settle_s, started_activated=activated, complete=True,
                       final=True)


def test_learned_summary_names_the_fastest_reset_in_checkable_words() -> None:
    effects = [effect("walk", s) for s in (300, 360, 420, 340, 400)]
    effects += [effect("resonance", s) for s in (540, 600, 480, None)]
    effects += [effect("cold_water", 60), effect("cold_water", 90)]   # too few to rank
    effects += [effect("walk", 10, activated=False)]                   # started calm: not counted
    lines = learned_summary(effects)
    assert lines[0] == ("Walking has settled you fastest: a median 6 minutes after it began, "
                        "over 5 times.")
    assert "Walking: settled a median 6 minutes after it began, over 5 times." in lines
    assert ("Slow, even breathing: settled a median 10 minutes after it began, over 4 times "
            "(3 of 4 settled).") in lines
    assert "Cool water: settled a median 1 minute after it began, over 2 times." in lines
    # One use is not a median: the line says what happened, the one time.
    never = learned_summary([effect("box", None)])
    assert never[1] == ("Box breathing: not settled within the time afterbeat watches "
                        "(one time so far).")
    once = learned_summary([effect("resonance", 1050)])
    assert once[1] == "Slow, even breathing: settled 18 minutes after it began (one time so far)."
    assert not any("median" in line for line in once), once
    for line in lines:
        assert not ALARM.search(line), line


def test_settling_within_the_first_minute_is_not_given_a_minute_count() -> None:
    # settling is timed to about a minute (the index smooths over one or two): no "1 minute"
    # for a median of 30 s, and no "0 minutes"
    lines = learned_summary([effect("cold_water", s) for s in (20, 30, 45)])
    assert lines[0] == ("Cool water has settled you fastest: a median within the first minute "
                        "after it began, over 3 times.")


def test_median_with_unsettled_uses_and_rating_change() -> None:
    effects = [effect("resonance", s, before=7, after=a)
               for s, a in ((480, 4), (600, 5), (540, 3))] + [effect("resonance", None)]
    effects.append(effect("resonance", 500))
    stats = reset_stats(effects)[0]
    assert (stats.uses, stats.settled, stats.median_settle_s) == (5, 4, 540.0)
    assert stats.median_rating_change == -3.0
    lines = learned_summary(effects)
    assert lines[0] == ("Slow, even breathing has settled you fastest: a median 9 minutes after "
                        "it began, over 5 times.")
    assert lines[1] == ("Slow, even breathing: settled a median 9 minutes after it began, over "
                        "5 times (4 of 5 settled); your own rating dropped by 3 points (median).")


def test_not_enough_data_says_so() -> None:
    assert learned_summary([]) == [
        "Not enough resets yet to say which settles you fastest (0 so far; this needs 3 times "
        "with one reset)."]
    lines = learned_summary([effect("walk", None)] * 3)
    assert lines[0].startswith("None of your resets has usually settled you")


def outcomes(settle_min: list[float | None], ratings: list[float | None] | None = None,
             ) -> list[SessionOutcome]:
    ratings = ratings or [None] * len(settle_min)
    return [SessionOutcome(i, f"2026-0{1 + i // 28}-{1 + i % 28:02d}T18:00:00Z",
                           None if m is None else m * 60.0,
                           (effect("resonance", 300, before=r),) if r is not None else ())
            for i, (m, r) in enumerate(zip(settle_min, ratings, strict=True))]


def test_hint_when_settling_keeps_getting_slower_with_the_plan_contact() -> None:
    plan = plan_from_json({"contact_text": "Ring Dr Lee's practice on 01234 567890."})
    hint = trend_hint(outcomes([8, 10, 9, 14, 21]), plan)
    assert hint is not None
    assert hint.reasons == ("Over your last 5 sessions, settling afterwards has taken longer "
                            "(from 8 minutes to 21 minutes).",)
    assert hint.contact_text == "Ring Dr Lee's practice on 01234 567890."
    assert hint.text.endswith("Your plan says: Ring Dr Lee's practice on 01234 567890.")
    assert hint.text.startswith("This is simply a pattern")
    no_plan = trend_hint(outcomes([8, 10, 12, 14, 21]))
    assert no_plan is not None and "next session" in no_plan.text


@pytest.mark.parametrize("settle", [
    [30],                          # a single reading, however long
    [8, 30],                       # two sessions
    [8, 12, 30],                   # three: still too few
    [8, 12, 9, 14, 10],            # up and down
    [8, 9, 10, 11, 12],            # slower, but by 4 minutes only
    [20, 15, 12, 10, 8],           # getting faster
    [8, None, 12, None, 30],       # missing values do not count as sessions
])
def test_no_hint_from_a_single_reading_or_noise(settle: list[float | None]) -> None:
    assert trend_hint(outcomes(settle)) is None


def test_hint_when_ratings_keep_rising_over_several_sessions() -> None:
    hint = trend_hint(outcomes([None] * 5, [3, 4, 4, 6, 7]))
    assert hint is not None and "gone up (from 3 to 7 out of 10)" in hint.reasons[0]
    assert trend_hint(outcomes([None] * 5, [3, 4, 4, 4, 4])) is None
    assert trend_hint(outcomes([None] * 2, [1, 9])) is None


@given(st.lists(st.one_of(st.none(), st.floats(0, 7200)), max_size=12))
def test_hint_needs_several_sessions(settle_s: list[float | None]) -> None:
    sessions = [SessionOutcome(i, "", s) for i, s in enumerate(settle_s)]
    hint = trend_hint(sessions)
    if hint is not None:
        assert sum(1 for s in settle_s if s is not None) >= 4
        assert not ALARM.search(hint.text)


def test_trends_json_for_the_api() -> None:
    plan = plan_from_json({"contact_text": "Call the practice."})
    data = json.loads(json.dumps(trends(outcomes([8, 10, 12, 14, 21], [5, 5, 6, 6, 6]),
                                        plan).to_json()))
    assert [s["time_to_settle_s"] for s in data["sessions"]] == [480, 600, 720, 840, 1260]
    assert data["sessions"][0]["rating_before"] == 5 and data["sessions"][0]["resets"] == 1
    assert data["summary"][0].startswith("Slow, even breathing has settled you fastest")
    assert data["resets"][0]["reset_id"] == "resonance" and data["resets"][0]["uses"] == 5
    assert data["hint"]["contact_text"] == "Call the practice."


def test_learned_summary_on_replayed_real_recordings(data_dir: Path) -> None:
    """Two real 24-hour Holter records; each stretch of high index gets a reset (labels rotate).

    The physiology is real; which reset ran is illustrative (no resets took place), so the
    test checks that the summary is consistent with the measured effects, not what it says.
    """
    ids = ("resonance", "walk", "cold_water")
    effects: list[ResetEffect] = []
    for name in ("000", "008"):
        series = series_from_rr(read_rr_ms(data_dir / "physionet-healthy-24h" / f"{name}.txt"))
        starts = episodes(series)
        effects += replay_resets(series, [(t, ids[i % 3]) for i, t in enumerate(starts)])
    assert len(effects) >= 9 and all(e.final and e.complete for e in effects)
    lines = learned_summary(effects)
    stats = reset_stats(effects)
    assert sum(s.uses for s in stats) == sum(1 for e in effects if e.started_activated)
    assert len(lines) == 1 + len(stats)
    for s, line in zip(stats, lines[1:], strict=True):
        assert f"over {s.uses} times" in line or s.uses < 3


def _watched(settle_min: list[float | None], watched_min: float) -> list[SessionOutcome]:
    """Sessions with a marked end, recorded ``watched_min`` after it; None: did not settle."""
    return [SessionOutcome(i, "", None if m is None else m * 60.0, watched_s=watched_min * 60.0)
            for i, m in enumerate(settle_min)]


def test_sessions_that_never_settled_count_as_the_slowest_not_as_missing() -> None:
    # settling took longer and longer, then did not come at all in the hour recorded
    hint = trend_hint(_watched([10, 15, 20, None, None], watched_min=60))
    assert hint is not None
    assert hint.reasons == ("Over your last 5 sessions, settling afterwards has taken longer "
                            "(from 10 minutes to not settled within the 60 minutes recorded "
                            "after it).",)
    # a recording stopped soon after the session says little: it is only a lower bound
    assert trend_hint(_watched([10, 15, 20, None, None], watched_min=3)) is None
    # without a marked session end there is nothing to count
    assert trend_hint(outcomes([10, 15, 20, None, None])) is None
