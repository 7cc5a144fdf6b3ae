"""Whole minutes read the same in every view: the watch, Trends and the shared summary.

Halves round up (as the page's Math.round): 150 s is 3 minutes and 270 s is 5 minutes
everywhere (Python's round() would say 2 and 4), and under a minute has one phrase.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from afterbeat.activation.arousal import ArousalScorer
from afterbeat.activation.settings import Settings
from afterbeat.activation.settling import FIRST_MINUTE, UNDER_A_MINUTE, whole_minutes
from afterbeat.activation.watch import AfterSessionWatch, StateChange, WatchState
from afterbeat.resets.effects import ResetEffect, WindowStats
from afterbeat.resets.trends import learned_summary
from afterbeat.summary import build_summary, digest_report, render_summary_html
from arousal_helpers import flat_baseline, metrics

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
CASES = [(150.0, 3), (270.0, 5), (30.0, None)]
"""(time to settle in s, whole minutes shown; None: under a minute)."""


_W = WindowStats(0.0, 60.0, 12, 1.2, 70.0, 30.0, 0, 0, None)


def _effect(settle_s: float) -> ResetEffect:
    return ResetEffect(number=1, reset_id="walk", start_t_s=0.0, end_t_s=300.0, before=_W,
                       during=_W, after=_W, rating_before=None, rating_after=None,
                       settle_s=settle_s, started_activated=True, complete=True, final=True)


def _watch_reason(settle_s: float) -> tuple[float, str]:
    """Activated until ``settle_s`` after the session end, calm from then: (settled at, words)."""
    settings = Settings()
    watch, scorer = AfterSessionWatch(settings), ArousalScorer(settings)
    base = flat_baseline(60.0, 3.5)
    events = watch.session_end(0.0)
    t_s = 0.0
    while t_s < 900.0:
        hr_bpm, rmssd_ln = (72.0, 3.0) if t_s < settle_s else (60.0, 3.5)
        events += watch.push(scorer.push(metrics(t_s, hr_bpm, rmssd_ln), base))
        t_s += 5.0
    said = [e.reason for e in events
            if isinstance(e, StateChange) and e.state is WatchState.SETTLED]
    assert watch.settled_at_s is not None and len(said) == 1
    return watch.settled_at_s, said[0]


def test_whole_minutes_rounds_halves_up() -> None:
    assert [whole_minutes(s) for s in (29.9, 30.0, 90.0, 150.0, 210.0, 270.0)] == [
        0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize(("settle_s", "minutes"), CASES)
def test_the_watch_says_whole_minutes_halves_up(settle_s: float, minutes: int | None) -> None:
    settled_at_s, reason = _watch_reason(settle_s)
    assert settled_at_s == pytest.approx(settle_s)
    if minutes is None:
        assert reason.startswith(f"Settled {FIRST_MINUTE} after the session ended:")
    else:
        assert reason.startswith(f"Settled about {minutes} minutes after the session ended:")


@pytest.mark.parametrize(("settle_s", "minutes"), CASES)
def test_trends_say_the_same_minutes(settle_s: float, minutes: int | None) -> None:
    once = learned_summary([_effect(settle_s)])[1]
    ranked = learned_summary([_effect(settle_s)] * 3)
    if minutes is None:
        assert once == f"Walking: settled {FIRST_MINUTE} after it began (one time so far)."
        assert ranked[0].startswith(f"Walking has settled you fastest: a median {FIRST_MINUTE} "
                                    "after it began,")
    else:
        assert once == f"Walking: settled {minutes} minutes after it began (one time so far)."
        assert ranked[0].startswith(f"Walking has settled you fastest: a median {minutes} "
                                    "minutes after it began,")


@pytest.mark.parametrize(("settle_s", "minutes"), CASES)
def test_the_summary_says_the_same_minutes(settle_s: float, minutes: int | None) -> None:
    report = {"duration_s": 7200.0, "markers": [{"t_s": 2400.0, "kind": "session_end"}],
              "recovery": [{"time_to_settle_s": settle_s}],
              "resets": [_effect(settle_s).to_json()]}
    digest = digest_report(1, NOW - timedelta(days=1), report)
    summary = build_summary([digest], until=NOW)
    assert [r.median_settle_s for r in summary.resets] == [settle_s]
    page = render_summary_html(summary, made_at=NOW)
    if minutes is None:
        assert f"typically {FIRST_MINUTE} after the session ended (median)" in page
        assert f'data-label="Typical time to settle">{UNDER_A_MINUTE}<' in page
    else:
        assert f"typically {minutes} min after the session ended (median)" in page
        assert f'data-label="Typical time to settle">{minutes} min<' in page
