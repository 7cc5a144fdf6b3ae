"""Measuring resets: index, heart rate and RMSSD before, during and after each one, plus ratings.

Pure code, time passed in. The pipeline feeds :class:`EffectTracker` with its per-5-s metrics
(``push_metrics``) and with the session's markers (``push_marker``); both return the effect
records that changed, which the pipeline emits as ``{"type": "reset_effect", **effect.to_json()}``
and the store keeps with the session (the latest record per ``number`` wins).

Windows, in session seconds: *before* is the 2 minutes before ``reset_start``; *during* runs
from start to ``reset_end``; *after* is the 3 minutes after the end. RMSSD is guarded by
respiration: paced breathing raises RMSSD by itself, so a value counts only when the
respiration rate is within 9-24 breaths/min (values with no respiration estimate count but
are tallied as ``rmssd_unguarded``; values outside are tallied as ``rmssd_excluded``).

*Time to settle* is the time from the reset's start to the moment the readings settled, by the
one definition and timing of :mod:`afterbeat.activation.settling` that the after-session watch
and its recovery use too: the first reading of the first 2-minute stretch (beginning at or
after the start) in which at least 80 % of the expected updates carry an index and every one
that does is at or below ``settle_index`` (0.75). A short gap (movement pause, patchy signal)
neither counts nor breaks the stretch; one reading above the level starts it over. The stretch
must be complete by ``horizon_s`` (20 min) after the start. A reset keeps only the updates its
windows read (up to the horizon, or the end of its after-window when later), so a reset that
runs long or never gets a ``reset_end`` has a *during* window of at most the horizon.

Marker conventions (what the server writes, so replays give the same records):

- ``reset_start``: ``text`` = the reset id (``"resonance"``);
- ``reset_end``: ``text`` = the reset id (optional);
- ``rating``: ``value`` = 0-10 (how stirred up the person feels: 0 calm, 10 very),
  ``text`` = ``"before"`` or ``"after"`` (optional; without it a rating in the first minute
  of a reset, or before one, counts as *before*, otherwise as *after*).

Emission: a record is sent when its after-window is complete (``complete``), again whenever a
rating or the time to settle arrives later, and once more as ``final`` when nothing more can
change (settled, horizon passed, or ``finish()``).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from afterbeat.activation.settling import SettleRule, settled_from
from afterbeat.records import Marker, MarkerKind

__all__ = ["EffectTracker", "MetricsSample", "ResetEffect", "WindowStats", "window_stats"]


@dataclass(frozen=True, slots=True)
class MetricsSample:
    """One per-5-s metrics update: index A, heart rate (bpm), RMSSD (ms), respiration (/min)."""

    t_s: float
    index: float | None
    heart_rate_bpm: float | None
    rmssd_ms: float | None
    respiration_rate_bpm: float | None = None
    rmssd_guarded: bool | None = None
    """True when the activation index set RMSSD aside for paced breathing, False when it used
    it; None leaves the decision to the respiration range (e.g. when the quality is unknown)."""

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> MetricsSample:
        """From the pipeline's ``metrics`` event JSON (keys t_s, arousal, heart_rate_bpm, ...)."""
        def num(key: str) -> float | None:
            value = event.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                return None
            return float(value) if math.isfinite(value) else None

        t_s = num("t_s")
        if t_s is None:
            raise ValueError("metrics event lacks a numeric 't_s'")
        # The index's own quality says whether it set RMSSD aside for paced breathing.
        guarded = {"good": False, "breathing": True}.get(str(event.get("quality")))
        return cls(t_s, num("arousal"), num("heart_rate_bpm"), num("rmssd_ms"),
                   num("respiration_rate_bpm"), rmssd_guarded=guarded)


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Medians over one window [start_t_s, end_t_s] (s); None where no value was available."""

    start_t_s: float
    end_t_s: float
    samples: int
    index: float | None
    heart_rate_bpm: float | None
    rmssd_ms: float | None
    """Median RMSSD (ms) over samples whose respiration was within range or unknown."""
    rmssd_excluded: int
    """Samples whose RMSSD was left out: respiration outside the guard range."""
    rmssd_unguarded: int
    """Samples whose RMSSD counted without a respiration estimate."""
    respiration_rate_bpm: float | None

    def to_json(self) -> dict[str, Any]:
        """JSON object with the same keys as the fields."""
        return {"start_t_s": self.start_t_s, "end_t_s": self.end_t_s, "samples": self.samples,
                "index": self.index, "heart_rate_bpm": self.heart_rate_bpm,
                "rmssd_ms": self.rmssd_ms, "rmssd_excluded": self.rmssd_excluded,
                "rmssd_unguarded": self.rmssd_unguarded,
                "respiration_rate_bpm": self.respiration_rate_bpm}


def _median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def window_stats(samples: Sequence[MetricsSample], start_t_s: float, end_t_s: float,
                 min_breaths_per_min: float = 9.0,
                 max_breaths_per_min: float = 24.0) -> WindowStats:
    """Medians of the samples with start_t_s <= t_s <= end_t_s (s), RMSSD respiration-guarded."""
    inside = [s for s in samples if start_t_s <= s.t_s <= end_t_s]
    rmssd: list[float] = []
    excluded = unguarded = 0
    for s in inside:
        if s.rmssd_ms is None:
            continue
        guarded = s.rmssd_guarded
        if guarded is None:
            if s.respiration_rate_bpm is None:
                unguarded += 1
            else:
                guarded = not min_breaths_per_min <= s.respiration_rate_bpm <= max_breaths_per_min
        if guarded:
            excluded += 1
            continue
        rmssd.append(s.rmssd_ms)
    return WindowStats(
        start_t_s=start_t_s, end_t_s=end_t_s, samples=len(inside),
        index=_median([s.index for s in inside if s.index is not None]),
        heart_rate_bpm=_median([s.heart_rate_bpm for s in inside if s.heart_rate_bpm is not None]),
        rmssd_ms=_median(rmssd), rmssd_excluded=excluded, rmssd_unguarded=unguarded,
        respiration_rate_bpm=_median([s.respiration_rate_bpm for s in inside
                                      if s.respiration_rate_bpm is not None]),
    )


@dataclass(frozen=True, slots=True)
class ResetEffect:
    """What one reset did: windows before/during/after, ratings (0-10), time to settle (s)."""

    number: int
    """1 for the first reset of the session, 2 for the next, ..."""
    reset_id: str
    start_t_s: float
    end_t_s: float | None
    before: WindowStats
    during: WindowStats | None
    after: WindowStats | None
    rating_before: float | None
    rating_after: float | None
    settle_s: float | None
    """Seconds from the start until the readings settled: the first reading of the first
    settled stretch (None: no stretch complete within the horizon)."""
    started_activated: bool
    """True when the index before the start was above the settle level."""
    complete: bool
    """True once the after-window has been fully observed."""
    final: bool
    settle_hold_s: float | None = None
    """How long readings had to stay close to the usual to count as settled (s; the rule in
    force; None in effects stored before it was kept)."""

    @property
    def index_change(self) -> float | None:
        """Index A after minus before (negative = calmer)."""
        if self.after is None or self.after.index is None or self.before.index is None:
            return None
        return self.after.index - self.before.index

    def to_json(self) -> dict[str, Any]:
        """JSON object for the ``reset_effect`` event and the store."""
        return {
            "number": self.number, "reset_id": self.reset_id, "start_t_s": self.start_t_s,
            "end_t_s": self.end_t_s, "before": self.before.to_json(),
            "during": None if self.during is None else self.during.to_json(),
            "after": None if self.after is None else self.after.to_json(),
            "rating_before": self.rating_before, "rating_after": self.rating_after,
            "settle_s": self.settle_s, "started_activated": self.started_activated,
            "index_change": self.index_change, "complete": self.complete, "final": self.final,
            "settle_hold_s": self.settle_hold_s,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ResetEffect:
        """Inverse of ``to_json`` (for trends over stored sessions)."""
        def win(value: Any) -> WindowStats | None:
            if value is None:
                return None
            return WindowStats(**{f.name: value[f.name] for f in fields(WindowStats)})

        before = win(obj["before"])
        if before is None:
            raise ValueError("reset effect lacks 'before'")
        return cls(number=int(obj["number"]), reset_id=str(obj["reset_id"]),
                   start_t_s=float(obj["start_t_s"]), end_t_s=obj.get("end_t_s"),
                   before=before, during=win(obj.get("during")), after=win(obj.get("after")),
                   rating_before=obj.get("rating_before"), rating_after=obj.get("rating_after"),
                   settle_s=obj.get("settle_s"),
                   started_activated=bool(obj.get("started_activated", False)),
                   complete=bool(obj.get("complete", False)), final=bool(obj.get("final", True)),
                   settle_hold_s=obj.get("settle_hold_s"))


@dataclass(slots=True)
class _Open:
    number: int
    reset_id: str
    start_t_s: float
    before: WindowStats
    end_t_s: float | None = None
    rating_before: float | None = None
    rating_after: float | None = None
    settle_s: float | None = None
    emitted: bool = False
    samples: list[MetricsSample] = field(default_factory=list)
    lead: list[MetricsSample] = field(default_factory=list)
    """The last update before the start (shows whether a stretch was observed from its start)."""
    last_t_s: float | None = None
    """Stamp (s) of the latest update seen, kept or not."""


@dataclass(slots=True)
class EffectTracker:
    """Turns metrics and markers into per-reset effect records (state here, time passed in)."""

    before_s: float = 120.0
    after_s: float = 180.0
    settle_index: float = 0.75
    settle_s: float = 120.0
    metrics_interval_s: float = 5.0
    min_valid_share: float = 0.8
    """Share of the updates expected in a settle stretch that must carry an index."""
    horizon_s: float = 1200.0
    min_breaths_per_min: float = 9.0
    max_breaths_per_min: float = 24.0
    _recent: deque[MetricsSample] = field(default_factory=deque)
    _open: list[_Open] = field(default_factory=list)
    _count: int = 0
    _pending_before: tuple[float, float] | None = None
    _last_closed: ResetEffect | None = None

    def push_metrics(self, sample: MetricsSample) -> list[ResetEffect]:
        """Add one metrics update; returns the effect records that changed."""
        self._recent.append(sample)
        while self._recent and self._recent[0].t_s < sample.t_s - self.before_s - 5.0:
            self._recent.popleft()
        out: list[ResetEffect] = []
        for item in list(self._open):
            item.last_t_s = sample.t_s
            if sample.t_s <= self._keep_until_s(item):
                item.samples.append(sample)
            changed = self._settle(item, sample)
            out.extend(self._maybe_emit(item, sample.t_s, changed))
        return out

    def push_marker(self, marker: Marker) -> list[ResetEffect]:
        """Handle reset_start, reset_end and rating markers; others are ignored."""
        if marker.kind is MarkerKind.RESET_START:
            return self._start(marker)
        if marker.kind is MarkerKind.RESET_END:
            running = self._running(marker.text)
            if running is not None:
                running.end_t_s = marker.t_s
            return []
        if marker.kind is MarkerKind.RATING and marker.value is not None:
            return self._rate(marker)
        return []

    def finish(self) -> list[ResetEffect]:
        """End of the session: every open record, final (after-windows may be partial)."""
        out = [self._record(item, item.start_t_s if item.last_t_s is None else item.last_t_s,
                            final=True) for item in self._open]
        self._open.clear()
        return out

    def _start(self, marker: Marker) -> list[ResetEffect]:
        for item in self._open:  # a new reset ends one still running
            if item.end_t_s is None:
                item.end_t_s = marker.t_s
        self._count += 1
        before = window_stats(list(self._recent), marker.t_s - self.before_s, marker.t_s - 1e-9,
                              self.min_breaths_per_min, self.max_breaths_per_min)
        item = _Open(self._count, (marker.text or "unknown").strip() or "unknown",
                     marker.t_s, before)
        # an update stamped at the start itself may have arrived just before the marker
        item.samples.extend(s for s in self._recent if s.t_s >= marker.t_s)
        item.lead.extend([s for s in self._recent if s.t_s < marker.t_s][-1:])
        pending = self._pending_before
        if pending is not None and marker.t_s - pending[0] <= 600.0:
            item.rating_before = pending[1]
        self._pending_before = None
        self._open.append(item)
        return []

    def _running(self, reset_id: str | None) -> _Open | None:
        for item in reversed(self._open):
            if item.end_t_s is None and (not reset_id or item.reset_id == reset_id.strip()):
                return item
        return None

    def _rate(self, marker: Marker) -> list[ResetEffect]:
        value = float(marker.value) if marker.value is not None else math.nan
        if not 0.0 <= value <= 10.0:
            return []
        when = (marker.text or "").strip().lower()
        running = self._running(None)
        ended = next((i for i in reversed(self._open) if i.end_t_s is not None), None)
        last = self._last_closed
        if last is not None and marker.t_s - (last.end_t_s or last.start_t_s) > 1800.0:
            last = None
        if when.startswith("before"):
            is_before = True
        elif when.startswith("after"):
            is_before = False
        elif running is not None:
            is_before = running.rating_before is None and marker.t_s - running.start_t_s < 60.0
        else:
            is_before = ended is None and (last is None or last.rating_after is not None)
        if is_before:
            if running is not None and running.rating_before is None:
                running.rating_before = value
            else:
                self._pending_before = (marker.t_s, value)
            return []
        target = running or ended
        if target is not None:
            target.rating_after = value
            return [self._record(target, marker.t_s)] if target.emitted else []
        if last is not None:
            self._last_closed = replace(last, rating_after=value)
            return [self._last_closed]
        return []

    @property
    def settle_rule(self) -> SettleRule:
        """The settling rule these fields describe (afterbeat.activation.settling)."""
        return SettleRule(self.settle_index, self.settle_s, self.metrics_interval_s,
                          self.min_valid_share)

    def _keep_until_s(self, item: _Open) -> float:
        """The last stamp (s) any window of this reset reads: the settle horizon, or the end of
        the after-window when later (updates past it are not kept)."""
        horizon_s = item.start_t_s + self.horizon_s
        if item.end_t_s is None:
            return horizon_s
        return max(horizon_s, item.end_t_s + self.after_s)

    def _settle(self, item: _Open, sample: MetricsSample) -> bool:
        """Look for settling in the stretch ending at this update; only stretches complete
        by the horizon (start + horizon_s) count."""
        if item.settle_s is not None or sample.t_s > item.start_t_s + self.horizon_s:
            return False
        updates = ((s.t_s, s.index) for s in (*item.lead, *item.samples))
        settled_at = settled_from(updates, sample.t_s, self.settle_rule, item.start_t_s)
        if settled_at is None:
            return False
        item.settle_s = settled_at - item.start_t_s
        return True

    def _maybe_emit(self, item: _Open, t_s: float, changed: bool) -> list[ResetEffect]:
        complete = item.end_t_s is not None and t_s >= item.end_t_s + self.after_s
        done = complete and (item.settle_s is not None
                             or t_s >= item.start_t_s + self.horizon_s)
        if done:
            self._open.remove(item)
            record = self._record(item, t_s, final=True)
            self._last_closed = record
            return [record]
        if complete and (not item.emitted or changed):
            item.emitted = True
            return [self._record(item, t_s)]
        return []

    def _record(self, item: _Open, t_s: float, final: bool = False) -> ResetEffect:
        during = after = None
        if item.samples:
            end = item.end_t_s if item.end_t_s is not None else t_s
            during = window_stats(item.samples, item.start_t_s, end,
                                  self.min_breaths_per_min, self.max_breaths_per_min)
            if item.end_t_s is not None:
                after = window_stats(item.samples, item.end_t_s + 1e-9,
                                     item.end_t_s + self.after_s,
                                     self.min_breaths_per_min, self.max_breaths_per_min)
        complete = item.end_t_s is not None and t_s >= item.end_t_s + self.after_s
        before_index = item.before.index
        return ResetEffect(
            number=item.number, reset_id=item.reset_id, start_t_s=item.start_t_s,
            end_t_s=item.end_t_s, before=item.before, during=during, after=after,
            rating_before=item.rating_before, rating_after=item.rating_after,
            settle_s=item.settle_s,
            started_activated=before_index is not None and before_index > self.settle_index,
            complete=complete, final=final, settle_hold_s=self.settle_s,
        )
