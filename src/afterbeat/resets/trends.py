"""Across sessions: which resets settle this person fastest, trends, and a gentle therapist hint.

Pure code over stored per-session results. Everything is said in words the person can check
against their own history ("walking has settled you fastest: a median 6 minutes after it
began, over 5 times"; a reset used once says so instead of a median).

*Learned summary.* For each reset, the resets that started while the index was above the settle
level count as uses; time to settle is ``ResetEffect.settle_s`` (a use that never settled within
the horizon counts as slower than any that did). Resets with at least ``min_uses`` uses are
ranked by their median time to settle. Movement pauses the index while it runs and for the
washout after it, so a movement reset can only show as settled after that pause (the time still
counts from its start).

*Therapist hint.* Over the last ``window`` sessions that have a value (at least ``min_sessions``;
a session watched after its end that did not settle has one: "not settled within" the time
recorded, a lower bound, so never settling is the slowest kind and not left out),
the hint appears when the time to settle after the session, or the person's first 0-10
rating of how stirred up they feel, rose at almost every step (at most one step down) and the last
is clearly above the first (``settle_margin_s`` or ``rating_margin``). Never from a single
reading, never as an alarm: it suggests talking it over, with the plan's contact text.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from afterbeat.activation.settling import minutes_text, settled_when
from afterbeat.resets.effects import ResetEffect
from afterbeat.resets.library import UnknownReset, get_reset
from afterbeat.resets.plan import Plan

__all__ = [
    "ResetStats",
    "SessionOutcome",
    "TrendHint",
    "Trends",
    "learned_summary",
    "reset_stats",
    "trend_hint",
    "trends",
]


@dataclass(frozen=True, slots=True)
class SessionOutcome:
    """One session's results: start (ISO text), time to settle after its end (s), effects."""

    session_id: int | str
    started_at: str
    time_to_settle_s: float | None = None
    """From the session's end until the readings settled (the first reading of the first
    settled 2 minutes, afterbeat.activation.settling; None: not seen)."""
    effects: tuple[ResetEffect, ...] = field(default=())
    watched_s: float | None = None
    """How long the recording went on after the session's end (s); None: no end was marked.
    A session that did not settle within it counts as "not settled within watched_s"."""

    @property
    def rating_before(self) -> float | None:
        """The first 0-10 rating given before a reset in this session."""
        return next((e.rating_before for e in self.effects if e.rating_before is not None), None)

    @property
    def rating_after(self) -> float | None:
        """The last 0-10 rating given after a reset in this session."""
        rated = [e.rating_after for e in self.effects if e.rating_after is not None]
        return rated[-1] if rated else None


@dataclass(frozen=True, slots=True)
class ResetStats:
    """How one reset went over all sessions: uses, settled uses, median time to settle (s)."""

    reset_id: str
    name: str
    uses: int
    settled: int
    median_settle_s: float | None
    """None when the median use did not settle within the horizon."""
    median_rating_change: float | None
    """Median of (after - before) ratings over uses rated both times (negative = calmer)."""

    def to_json(self) -> dict[str, Any]:
        """JSON object with the same keys as the fields."""
        return {"reset_id": self.reset_id, "name": self.name, "uses": self.uses,
                "settled": self.settled, "median_settle_s": self.median_settle_s,
                "median_rating_change": self.median_rating_change}


def _name(reset_id: str) -> str:
    try:
        return get_reset(reset_id).short_name
    except UnknownReset:
        return reset_id.replace("_", " ")


def reset_stats(effects: Sequence[ResetEffect]) -> list[ResetStats]:
    """Per-reset statistics over effects that started while activated, most uses first."""
    groups: dict[str, list[ResetEffect]] = {}
    for effect in effects:
        if effect.started_activated:
            groups.setdefault(effect.reset_id, []).append(effect)
    out: list[ResetStats] = []
    for reset_id, items in groups.items():
        times = [math.inf if e.settle_s is None else e.settle_s for e in items]
        median = float(statistics.median(times))
        changes = [e.rating_after - e.rating_before for e in items
                   if e.rating_before is not None and e.rating_after is not None]
        out.append(ResetStats(
            reset_id=reset_id, name=_name(reset_id), uses=len(items),
            settled=sum(1 for e in items if e.settle_s is not None),
            median_settle_s=median if math.isfinite(median) else None,
            median_rating_change=float(statistics.median(changes)) if changes else None))
    out.sort(key=lambda s: (-s.uses, s.reset_id))
    return out


def _median_when(seconds: float) -> str:
    return "a median " + settled_when(seconds, "it began", about="")


def _times(n: int) -> str:
    return "1 time" if n == 1 else f"{n} times"


def _line(stats: ResetStats) -> str:
    name = stats.name[:1].upper() + stats.name[1:]
    if stats.uses == 1:  # one value is not a median: say what happened, the one time
        if stats.median_settle_s is None:
            line = f"{name}: not settled within the time afterbeat watches (one time so far)"
        else:
            line = (f"{name}: settled {settled_when(stats.median_settle_s, 'it began', about='')} "
                    "(one time so far)")
    elif stats.median_settle_s is None:
        line = (f"{name}: usually not settled within the time afterbeat watches, "
                f"over {_times(stats.uses)}")
    else:
        line = (f"{name}: settled {_median_when(stats.median_settle_s)}, "
                f"over {_times(stats.uses)}")
    if stats.settled < stats.uses and stats.uses > 1:
        line += f" ({stats.settled} of {stats.uses} settled)"
    change = stats.median_rating_change
    if change is not None and change < 0:
        median = " (median)" if stats.uses > 1 else ""
        line += f"; your own rating dropped by {abs(change):g} points{median}"
    return line + "."


def learned_summary(effects: Sequence[ResetEffect], min_uses: int = 3) -> list[str]:
    """Sentences the person can check: the fastest reset first, then one line per reset."""
    stats = reset_stats(effects)
    ranked = [s for s in stats if s.uses >= min_uses and s.median_settle_s is not None]
    ranked.sort(key=lambda s: (s.median_settle_s or 0.0, -s.uses))
    lines: list[str] = []
    if ranked:
        best = ranked[0]
        assert best.median_settle_s is not None
        name = best.name[:1].upper() + best.name[1:]
        lines.append(f"{name} has settled you fastest: "
                     f"{_median_when(best.median_settle_s)}, over "
                     f"{_times(best.uses)}.")
    elif any(s.uses >= min_uses for s in stats):
        lines.append("None of your resets has usually settled you within the time afterbeat "
                     "watches yet; the lines below show how each one went.")
    else:
        used = sum(s.uses for s in stats)
        lines.append(f"Not enough resets yet to say which settles you fastest ({used} so far; "
                     f"this needs {min_uses} times with one reset).")
    lines.extend(_line(s) for s in stats)
    return lines


@dataclass(frozen=True, slots=True)
class TrendHint:
    """A gentle suggestion to talk with the therapist, the pattern behind it, the plan's contact."""

    text: str
    reasons: tuple[str, ...]
    contact_text: str

    def to_json(self) -> dict[str, Any]:
        """JSON object for ``GET /api/trends``."""
        return {"text": self.text, "reasons": list(self.reasons),
                "contact_text": self.contact_text}


def _settle_point(session: SessionOutcome) -> tuple[float, bool] | None:
    """A session's settling for the hint (s, settled), "not settled within" the time watched
    after its end as a lower bound, or None when it has neither."""
    if session.time_to_settle_s is not None:
        return session.time_to_settle_s, True
    if session.watched_s is not None and session.watched_s > 0.0:
        return session.watched_s, False
    return None


def _settle_text(seconds: float, settled: bool) -> str:
    """"12 minutes", or "not settled within the 40 minutes recorded after it"."""
    amount = minutes_text(seconds)
    return amount if settled else f"not settled within the {amount} recorded after it"


def _rising(values: Sequence[float], margin: float) -> bool:
    if len(values) < 2:
        return False
    steps_down = sum(1 for a, b in zip(values, values[1:], strict=False) if b < a)
    return steps_down <= 1 and values[-1] - values[0] >= margin


def trend_hint(
    sessions: Sequence[SessionOutcome],
    plan: Plan | None = None,
    *,
    window: int = 5,
    min_sessions: int = 4,
    settle_margin_s: float = 300.0,
    rating_margin: float = 2.0,
) -> TrendHint | None:
    """The therapist hint when settling keeps slowing or ratings keep rising, else None."""
    reasons: list[str] = []
    # A session that was watched but did not settle is the slowest kind, not a missing one: it
    # counts with what is known, "not settled within the time recorded" (a lower bound).
    settle = [p for p in map(_settle_point, sessions) if p is not None][-window:]
    if len(settle) >= min_sessions and _rising([v for v, _ in settle], settle_margin_s):
        reasons.append(f"Over your last {len(settle)} sessions, settling afterwards has taken "
                       f"longer (from {_settle_text(*settle[0])} to "
                       f"{_settle_text(*settle[-1])}).")
    ratings = [s.rating_before for s in sessions if s.rating_before is not None][-window:]
    if len(ratings) >= min_sessions and _rising(ratings, rating_margin):
        reasons.append(f"Over your last {len(ratings)} sessions, your own rating of how "
                       f"stirred up you felt has gone up (from {ratings[0]:g} to "
                       f"{ratings[-1]:g} out of 10).")
    if not reasons:
        return None
    contact = plan.contact_text if plan is not None else ""
    text = ("This is simply a pattern that may be worth talking over with your therapist, "
            "whenever it suits you.")
    text += (f" Your plan says: {contact}" if contact
             else " You could bring it up at your next session.")
    return TrendHint(text=text, reasons=tuple(reasons), contact_text=contact)


@dataclass(frozen=True, slots=True)
class Trends:
    """Everything ``GET /api/trends`` shows: per-session series, summary lines, the hint."""

    sessions: tuple[SessionOutcome, ...]
    summary: tuple[str, ...]
    stats: tuple[ResetStats, ...]
    hint: TrendHint | None

    def to_json(self) -> dict[str, Any]:
        """JSON object: sessions (time to settle, ratings), summary lines, stats and hint."""
        return {
            "sessions": [{"session_id": s.session_id, "started_at": s.started_at,
                          "time_to_settle_s": s.time_to_settle_s,
                          "rating_before": s.rating_before, "rating_after": s.rating_after,
                          "resets": len(s.effects)} for s in self.sessions],
            "summary": list(self.summary),
            "resets": [s.to_json() for s in self.stats],
            "hint": None if self.hint is None else self.hint.to_json(),
        }


def trends(sessions: Sequence[SessionOutcome], plan: Plan | None = None) -> Trends:
    """Trends over sessions given oldest first."""
    effects = [e for s in sessions for e in s.effects]
    return Trends(sessions=tuple(sessions), summary=tuple(learned_summary(effects)),
                  stats=tuple(reset_stats(effects)), hint=trend_hint(sessions, plan))
