"""The reset service: start, pace, stop and rate resets, and "not now" for suggestions.

The pacer's timeline runs on Unix seconds from the injected ``clock`` (real time at any
replay speed); markers carry session seconds from the source, so recordings and replays see
every start, stop, rating and dismissal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from afterbeat.events import DismissedEvent, ResetAction, ResetEvent
from afterbeat.records import MarkerKind
from afterbeat.resets.library import Reset, get_reset, library_json, resonance_pattern, timeline_for
from afterbeat.resets.pacing import Timeline, change_pattern
from afterbeat.server.errors import FixedPace, NoResetRunning
from afterbeat.server.hub import Hub
from afterbeat.server.marks import Marks

__all__ = ["ResetService", "RunningReset"]


@dataclass(frozen=True, slots=True)
class RunningReset:
    """The reset that runs now: its library entry, start (session s) and pacing timeline."""

    reset: Reset
    t_s: float
    """Session seconds of its start marker."""
    timeline: Timeline
    """The pacing timeline on Unix seconds."""

    @property
    def reset_id(self) -> str:
        """The library id."""
        return self.reset.id

    def to_json(self) -> dict[str, Any]:
        """The ``reset`` of ``/api/status`` and the body of a start or pace change."""
        return {"reset_id": self.reset_id, "t_s": self.t_s, "reset": self.reset.to_json(),
                "timeline": self.timeline.to_json(unix_offset_s=0.0)}

    def event(self, action: ResetAction, breaths_per_min: float | None = None) -> ResetEvent:
        """The live ``reset`` event of a start or pace change."""
        return ResetEvent(action=action, reset_id=self.reset_id, t_s=self.t_s,
                          reset=self.reset.to_json(),
                          timeline=self.timeline.to_json(unix_offset_s=0.0),
                          breaths_per_min=breaths_per_min)


class ResetService:
    """At most one running reset; every change is a marker on the live path and a live event."""

    def __init__(self, hub: Hub, marks: Marks,
                 preferred_pace: Callable[[], Awaitable[float | None]],
                 clock: Callable[[], float]) -> None:
        self._hub = hub
        self._marks = marks
        self._preferred_pace = preferred_pace
        self._clock = clock
        self.running: RunningReset | None = None

    @staticmethod
    def library() -> list[dict[str, Any]]:
        """The reset library as JSON."""
        return library_json()

    async def start(self, reset_id: str, breaths_per_min: float | None) -> dict[str, Any]:
        """Begin a reset now (stopping a running one); resonance takes the preferred pace."""
        reset = get_reset(reset_id)
        if breaths_per_min is None and reset.adjustable_pace:
            breaths_per_min = await self._preferred_pace()
        timeline = timeline_for(reset_id, self._clock(), breaths_per_min=breaths_per_min)
        if self.running is not None:
            self.stop(False)
        pace = breaths_per_min if breaths_per_min is not None else (
            reset.pattern.breaths_per_min if reset.pattern is not None else None)
        # the pacer's rate rides on the marker so the pipeline (live and in replays) knows it
        marker = self._marks.mark(MarkerKind.RESET_START, text=reset_id,
                                  value=pace if str(reset.kind) == "breathing" else None)
        self.running = RunningReset(reset, marker.t_s, timeline)
        self._hub.publish_event(self.running.event(ResetAction.STARTED))
        return self.running.to_json()

    def change_pace(self, breaths_per_min: float) -> dict[str, Any]:
        """A new pace for the running resonance reset from now on, continuing the breath."""
        running = self.running
        if running is None:
            raise NoResetRunning("no reset is running")
        if not running.reset.adjustable_pace:  # a valid request the running reset refuses
            raise FixedPace(f"the running reset ({running.reset_id}) keeps its own pace; "
                            "only resonance breathing can change pace")
        timeline = change_pattern(running.timeline, resonance_pattern(breaths_per_min),
                                  self._clock())
        self.running = RunningReset(running.reset, running.t_s, timeline)
        # recorded, so the pipeline (live and in replays) follows the pacer at its new pace
        self._marks.mark(MarkerKind.PACE, value=breaths_per_min, text=running.reset.id)
        self._hub.publish_event(self.running.event(ResetAction.PACED, breaths_per_min))
        return self.running.to_json()

    def stop(self, finished: bool) -> dict[str, Any]:
        """End the running reset (NoResetRunning if none)."""
        running = self.running
        if running is None:
            raise NoResetRunning("no reset is running")
        self.running = None
        marker = self._marks.mark(MarkerKind.RESET_END, text=running.reset_id)
        duration_s = round(marker.t_s - running.t_s, 3)
        self._hub.publish_event(ResetEvent(
            action=ResetAction.STOPPED, reset_id=running.reset_id, t_s=marker.t_s,
            finished=finished, duration_s=duration_s))
        return {"reset_id": running.reset_id, "t_s": marker.t_s, "finished": finished,
                "duration_s": duration_s}

    def rate(self, rating: int, when: str, reset_id: str | None) -> dict[str, Any]:
        """Record a 0-10 self-rating before or after a reset."""
        if reset_id is None and self.running is not None:
            reset_id = self.running.reset_id
        marker = self._marks.mark(MarkerKind.RATING, value=float(rating), text=when)
        return {"t_s": marker.t_s, "rating": rating, "when": when, "reset_id": reset_id}

    def dismiss(self) -> dict[str, Any]:
        """"Not now": a recorded marker, so the pipeline (live and in replays) starts a quiet
        period with no new suggestion soon."""
        t_s = self._marks.mark(MarkerKind.DISMISS).t_s
        self._hub.publish_event(DismissedEvent(t_s))
        return {"t_s": t_s, "dismissed": True}
