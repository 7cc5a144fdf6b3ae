"""Beat timeline: beat times rebuilt from cumulative RR, anchored to arrival, never bridging a gap.

Pure code: arrival times are passed in (seconds on the recording's monotonic clock).
A beat's time is that of the R wave that ends its RR interval. Within a segment, beat times
advance by the RR values themselves, so a burst of queued notifications still gives evenly
spaced beats. Arrival time is used only to anchor a segment and to notice lost beats: when
the RR sum falls behind the arrival clock (beyond the smallest lag seen in the segment,
which absorbs the strap's own delivery latency) by more than ``max_lag_s`` while
notifications kept arriving (contact lost: frames without RR), beats are missing and a new
segment starts. After a silence the link-layer usually delivers the queued frames late, in a
burst, so a larger lag (``max_silent_lag_s``) is tolerated there; longer silences end in a
recorded disconnect anyway. Every downstream window stays inside one segment.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from afterbeat.errors import MalformedMeasurement
from afterbeat.heart_rate import decode_measurement
from afterbeat.records import Disconnect, Notification, Reconnect, Record, SkipReport

__all__ = ["Beat", "BeatTimeline", "record_beats"]


@dataclass(frozen=True, slots=True)
class Beat:
    """One heartbeat: time of the R wave ending the interval (s) and the interval (ms)."""

    t_s: float
    rr_ms: float
    segment: int = 0
    """Beats of one segment are contiguous; a new segment follows every gap."""


@dataclass(slots=True)
class BeatTimeline:
    """Turns (arrival time, RR list) pairs into beats; state lives here, time is passed in."""

    max_lag_s: float = 4.0
    """Lag of the RR sum behind arrival (beyond the segment's minimum) that means lost beats."""
    max_silent_lag_s: float = 8.0
    """The same after a silence of more than ``silence_s`` (queued frames arrive late)."""
    silence_s: float = 2.5
    """Arrival gap (s) that counts as a silence rather than a strap talking without RR."""
    segment: int = -1
    last_beat_t_s: float | None = None
    _min_lag_s: float = 0.0
    _broken: bool = True
    _last_arrival_s: float | None = None

    def break_segment(self) -> None:
        """Start a new segment with the next beat (disconnect, contact loss, watchdog)."""
        self._broken = True

    def push(self, arrival_t_s: float, rr_ms: Sequence[float]) -> list[Beat]:
        """Return the beats of one notification's RR values (oldest first); [] when it has none."""
        previous_arrival_s, self._last_arrival_s = self._last_arrival_s, arrival_t_s
        if not rr_ms:
            return []
        total_s = sum(rr_ms) / 1000.0
        if not self._broken and self.last_beat_t_s is not None:
            end_t_s = self.last_beat_t_s + total_s
            lag_s = arrival_t_s - end_t_s
            silent = previous_arrival_s is None or arrival_t_s - previous_arrival_s > self.silence_s
            if lag_s - self._min_lag_s > (self.max_silent_lag_s if silent else self.max_lag_s):
                self._broken = True
            else:
                self._min_lag_s = min(self._min_lag_s, lag_s)
        if self._broken:
            self._broken = False
            self.segment += 1
            self._min_lag_s = 0.0
            floor_s = self.last_beat_t_s
            end_t_s = arrival_t_s
            if floor_s is not None and end_t_s - total_s < floor_s:
                end_t_s = floor_s + total_s
        else:
            assert self.last_beat_t_s is not None
            end_t_s = self.last_beat_t_s + total_s
        beats: list[Beat] = []
        remaining_s = total_s
        for rr in rr_ms:
            remaining_s -= rr / 1000.0
            beats.append(Beat(t_s=end_t_s - remaining_s, rr_ms=float(rr), segment=self.segment))
        self.last_beat_t_s = beats[-1].t_s
        return beats

    def extend(self, frames: Iterable[tuple[float, Sequence[float]]]) -> list[Beat]:
        """Push many (arrival time, RR list) frames; convenience for tests and importers."""
        out: list[Beat] = []
        for arrival_t_s, rr in frames:
            out.extend(self.push(arrival_t_s, rr))
        return out


def record_beats(records: Iterable[Record], where: str = "<records>",
                 skips: SkipReport | None = None) -> Iterator[Beat]:
    """Beats of a record stream (malformed notifications counted in ``skips``); gaps break
    segments."""
    timeline = BeatTimeline()
    for record in records:
        match record:
            case Notification(t_s, _wall, payload):
                try:
                    measurement = decode_measurement(payload)
                except MalformedMeasurement as exc:
                    if skips is not None:
                        skips.add(f"{where} t={t_s:.3f}s", f"malformed notification: {exc}")
                    continue
                yield from timeline.push(t_s, measurement.rr_ms)
            case Disconnect() | Reconnect():
                timeline.break_segment()
            case _:
                pass
