"""The after-session watch: notices activation that stays above the person's own baseline.

Pure: fed one :class:`~afterbeat.arousal.ArousalReading` per 5 s of session time, plus the
session markers. States: ``calibrating`` (no baseline or first windows filling),
``settled``, ``activated``, ``elevated`` and ``unknown`` (movement, patchy signal, strap
disconnected: the underlying state is held, not forgotten).

Rules (defaults in :class:`~afterbeat.arousal.Settings`):
- settled -> activated when A >= 1.0 for 30 s;
- -> elevated when A >= 1.5 *and* the effect-size floor holds (HR >= baseline + 5 bpm or
  lnR120 <= baseline - 0.25) on every valid update of the last 3 min, with >= 80 % of the
  expected updates valid;
- activated/elevated -> settled when A <= 0.75 for 2 min (same 80 % rule): hysteresis;
  settling is judged by :mod:`afterbeat.activation.settling`, the one definition the reset
  effects use too;
- after a session_end marker: a grace period of 5 min (observe, no suggestion; settling within
  it is said so), then one suggestion per elevated stretch, and a second, gentler one if still
  elevated 10 min after the first, each only on a reading that itself meets the elevated rule;
  nothing is suggested before a session end or more than 3 h after it.
Short patches of unscored readings (under 15 s) keep the shown state; movement shows at once.
The first settling after a session end is *said* when its 2-minute stretch is complete, and
*timed* (``settled_at_s``, the recovery's time to settle) at the stretch's first reading.
Every state change carries a plain-words reason about activation relative to the person's
own baseline, without numbers: the page keeps it while the numbers beside it change every
5 s, so the numbers and their comparison with the usual come with each metrics event instead
(:func:`afterbeat.activation.display.compare`); the session end itself changes no state, so
it emits no state event: the first state change within the grace says the watch started.
Nothing here is an alarm.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from afterbeat.activation.arousal import ArousalReading, Quality
from afterbeat.activation.settings import DEFAULT_SETTINGS, Settings
from afterbeat.activation.settling import (
    SettleRule,
    settled_from,
    settled_when,
    span_text,
    sustained,
)

__all__ = ["AfterSessionWatch", "StateChange", "Suggestion", "WatchEvent", "WatchState"]


class WatchState(enum.StrEnum):
    """What the watch shows."""

    CALIBRATING = "calibrating"
    SETTLED = "settled"
    ACTIVATED = "activated"
    ELEVATED = "elevated"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class StateChange:
    """The shown state changed (or settling after the session end is worth saying)."""

    t_s: float
    state: WatchState
    reason: str
    previous: WatchState | None = None


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Time to suggest a reset: activation has stayed above baseline after the session."""

    t_s: float
    gentle: bool
    reason: str
    elevated_since_s: float


WatchEvent = StateChange | Suggestion


@dataclass(frozen=True, slots=True)
class _Update:
    t_s: float
    scored: bool
    arousal: float
    high: bool


_UNSCORED_REASON = {
    Quality.MOVEMENT: "You are moving, or just were: readings pause until 3 minutes after "
    "movement ends.",
    Quality.POOR: "The signal is patchy right now (missed or corrected beats); holding until "
    "it is clean again. Moistening the strap's electrodes can help.",
    Quality.WARMING_UP: "Collecting two minutes of beats before comparing with your usual.",
    Quality.NO_BEATS: "No beats are arriving from the strap; holding until they come back.",
    Quality.NO_BASELINE: "No resting baseline yet: mark a few minutes of seated rest so "
    "readings can be compared with your own calm.",
}


class AfterSessionWatch:
    """State machine over 5-s arousal readings, anchored on the session end (time passed in)."""

    def __init__(self, settings: Settings = DEFAULT_SETTINGS) -> None:
        self.settings = settings
        self.state = WatchState.CALIBRATING
        self.level: WatchState | None = None
        """The underlying state (settled/activated/elevated), held while unknown."""
        self.session_end_s: float | None = None
        self.in_session = False
        self.settled_at_s: float | None = None
        """When readings first settled after the session end (s): the first reading of the
        first 2-min stretch that counts (afterbeat.activation.settling)."""
        self.settled_said_at_s: float | None = None
        """When that settling was said (s): the end of its stretch."""
        self.suggestions: list[Suggestion] = []
        self._episode_suggestions = 0
        self._elevated_since_s: float | None = None
        self._last_suggestion_s: float | None = None
        self._unscored_since_s: float | None = None
        self._session_note_pending = False
        self._history: deque[_Update] = deque(maxlen=self._history_len(settings))

    @staticmethod
    def _history_len(settings: Settings) -> int:
        """Updates kept: enough for the longest sustain, settle or activated stretch."""
        span_s = max(settings.sustain_s, settings.settle_s, settings.activated_s)
        return int(span_s / settings.metrics_interval_s) + 4

    def apply_settings(self, settings: Settings) -> None:
        """Use new settings from the next reading on, keeping state and the readings seen."""
        self.settings = settings
        needed = self._history_len(settings)
        if (self._history.maxlen or 0) < needed:
            self._history = deque(self._history, maxlen=needed)

    # -- markers ---------------------------------------------------------------------------

    def session_start(self, t_s: float) -> list[WatchEvent]:
        """A session began: no suggestions until its end."""
        self.in_session = True
        return []

    def session_end(self, t_s: float) -> list[WatchEvent]:
        """Anchor the watch: grace starts now."""
        self.in_session = False
        self.session_end_s = t_s
        self.settled_at_s = None
        self.settled_said_at_s = None
        self._episode_suggestions = 0
        self._last_suggestion_s = None
        # The shown state does not change here: no state event. The page shows the session_end
        # marker; the next real state change within the grace says the watch has started.
        self._session_note_pending = True
        return []

    def hold(self, t_s: float, reason: str) -> list[WatchEvent]:
        """No readings for a while (e.g. the strap disconnected): show unknown, keep the level."""
        if self.level is None:
            return self._show(t_s, WatchState.CALIBRATING, reason)
        return self._show(t_s, WatchState.UNKNOWN, reason)

    # -- readings --------------------------------------------------------------------------

    def push(self, reading: ArousalReading) -> list[WatchEvent]:
        """Feed one 5-s reading; return the state changes and suggestions it causes."""
        s = self.settings
        t = reading.t_s
        a = reading.arousal
        high = a is not None and a >= s.elevated_index and reading.meets_effect_floor(s)
        self._history.append(_Update(t, a is not None, a if a is not None else math.nan, high))
        if a is None:
            if self._unscored_since_s is None:
                self._unscored_since_s = t
            settled = self._after_session(reading)  # a stretch may end on an unscored update
            if settled:
                return settled
            reason = _UNSCORED_REASON.get(reading.quality, "Holding: no reading right now.")
            if self.level is None:
                return self._show(t, WatchState.CALIBRATING, reason)
            if (reading.quality is Quality.MOVEMENT
                    or t - self._unscored_since_s >= s.unknown_after_s - 1e-9):
                return self._show(t, WatchState.UNKNOWN, reason)
            return []
        self._unscored_since_s = None
        events: list[WatchEvent] = []
        level = self.level
        new_level = level
        if level is None:
            new_level = WatchState.SETTLED if a <= s.settled_index else WatchState.ACTIVATED
        assert new_level is not None
        if new_level is not WatchState.ELEVATED and self._sustained(
            t, s.sustain_s, lambda u: u.high
        ):
            new_level = WatchState.ELEVATED
        elif new_level is WatchState.SETTLED and self._sustained(
            t, s.activated_s, lambda u: u.arousal >= s.activated_index
        ):
            new_level = WatchState.ACTIVATED
        elif new_level in (WatchState.ACTIVATED, WatchState.ELEVATED) and self._settled_from(
            t
        ) is not None:
            new_level = WatchState.SETTLED
        if new_level is WatchState.ELEVATED and level is not WatchState.ELEVATED:
            self._elevated_since_s = t
            self._episode_suggestions = 0
        self.level = new_level
        events.extend(self._after_session(reading))
        if not events or not isinstance(events[0], StateChange):
            if self.state is WatchState.UNKNOWN and new_level is level:
                # Back from a pause to the held level: the current reading alone may not
                # match it (a held elevated level can come back with a reading at baseline).
                reason = self._return_reason(new_level)
            else:
                reason = self._reason(new_level, reading)
            events[:0] = self._show(t, new_level, reason)
        return events + self._maybe_suggest(reading, high)

    # -- internals -------------------------------------------------------------------------

    def _sustained(self, t_s: float, span_s: float, pred: Callable[[_Update], bool]) -> bool:
        """The stretch of span_s ending at t_s holds pred (the 80 % rule of settling too)."""
        s = self.settings
        return sustained(((u.t_s, pred(u) if u.scored else None) for u in self._history), t_s,
                         span_s, interval_s=s.metrics_interval_s,
                         min_valid_share=s.min_valid_share) is not None

    def _settled_from(self, t_s: float, since_s: float = -math.inf) -> float | None:
        """When the readings settled (s), if the stretch ending at t_s counts as settled."""
        return settled_from(((u.t_s, u.arousal if u.scored else None) for u in self._history),
                            t_s, SettleRule.from_settings(self.settings), since_s)

    def _after_session(self, reading: ArousalReading) -> list[WatchEvent]:
        """Notice the first settling after the session end, and say so within the grace."""
        t0 = self.session_end_s
        s = self.settings
        if t0 is None or self.settled_at_s is not None or reading.t_s < t0:
            return []
        settled_at = self._settled_from(reading.t_s, since_s=t0)
        if settled_at is None:
            return []
        self.settled_at_s = settled_at
        self.settled_said_at_s = reading.t_s
        self._session_note_pending = False  # this message speaks of the session end itself
        if self.level is not WatchState.SETTLED:
            self.level = WatchState.SETTLED
        # Timed at the stretch's first reading, said now that the stretch is complete; whole
        # minutes, as the index itself smooths over a minute or two.
        after_s = settled_at - t0
        when = f"Settled {settled_when(after_s, 'the session ended')}"
        reason = f"{when}: close to your usual for {span_text(s.settle_s)} now."
        if after_s <= s.grace_s:
            reason += " No reset needed."
        change = StateChange(reading.t_s, WatchState.SETTLED, reason, self.state)
        self.state = WatchState.SETTLED
        return [change]

    def _show(self, t_s: float, state: WatchState, reason: str) -> list[WatchEvent]:
        if state is self.state:
            return []
        previous = self.state
        self.state = state
        return [StateChange(t_s, state, reason + self._session_note(t_s), previous)]

    def _session_note(self, t_s: float) -> str:
        """Once, on the first state change within the grace: the watch started at session end."""
        t0 = self.session_end_s
        if not self._session_note_pending or t0 is None:
            return ""
        self._session_note_pending = False
        if self.in_session or t_s >= t0 + self.settings.grace_s:
            return ""
        return " Watching gently since the session ended."

    def _return_reason(self, level: WatchState) -> str:
        """Plain words for the held level coming back after a pause (no current numbers)."""
        if level is WatchState.ELEVATED:
            settle_min = self.settings.settle_s / 60.0
            return ("Readings are clear again. Before the pause they had stayed above your "
                    f"usual; settled means close to your usual for {settle_min:.0f} minutes.")
        if level is WatchState.ACTIVATED:
            return ("Readings are clear again. Before the pause they were somewhat above your "
                    "usual.")
        return "Readings are clear again. Before the pause they were close to your usual."

    def _reason(self, level: WatchState, reading: ArousalReading) -> str:
        # No numbers: this sentence stays on the page until the next state change, while the
        # numbers beside it change every 5 s (each metrics event carries its own comparison).
        suffix = "."
        if reading.quality is Quality.BREATHING:
            suffix += " While breathing is slow, only heart rate counts."
        if level is WatchState.SETTLED:
            return "Your body looks settled, close to your usual" + suffix
        if level is WatchState.ACTIVATED:
            return "Somewhat above your usual" + suffix
        minutes = self.settings.sustain_s / 60.0
        return f"Above your usual for {minutes:.0f} minutes now" + suffix

    def _maybe_suggest(self, reading: ArousalReading, high: bool) -> list[WatchEvent]:
        s = self.settings
        t = reading.t_s
        t0 = self.session_end_s
        if (
            self.level is not WatchState.ELEVATED
            or not high  # the reading at hand must agree (a held level may be easing off)
            or t0 is None
            or self.in_session
            or t < t0 + s.grace_s
            or t > t0 + s.watch_span_s
            or self._elevated_since_s is None
        ):
            return []
        if self._episode_suggestions == 0:
            gentle = False
            reason = (
                "Your body has stayed above its usual calm for a few minutes since the session. "
                "A short reset may help it settle."
            )
        elif (
            self._episode_suggestions == 1
            and self._last_suggestion_s is not None
            and t >= self._last_suggestion_s + s.repeat_after_s
        ):
            gentle = True
            reason = (
                "Still above your usual. Something gentle can help, or let it be: this can "
                "unfold later."
            )
        else:
            return []
        self._episode_suggestions += 1
        self._last_suggestion_s = t
        suggestion = Suggestion(t, gentle, reason, self._elevated_since_s)
        self.suggestions.append(suggestion)
        return [suggestion]
