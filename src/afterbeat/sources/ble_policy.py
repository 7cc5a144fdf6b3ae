"""Pure decisions of the strap reader: reconnect backoff, duplicate filter, signal quality.

No I/O, no clock reads: times (s, on the reader's monotonic clock) are passed in, randomness
comes from the ``random.Random`` handed over. ``afterbeat.sources.ble`` wires them to bleak.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

from afterbeat.heart_rate import HeartRateMeasurement, SensorContact

__all__ = ["DuplicateFilter", "Quality", "QualityTracker", "backoff_s"]


def backoff_s(
    attempt: int,
    rng: random.Random,
    *,
    base_s: float = 1.0,
    cap_s: float = 30.0,
    jitter: float = 0.2,
) -> float:
    """Delay (s) before reconnect attempt ``attempt`` (1-based): base·2^(n-1), capped, jittered.

    The jitter only shortens the delay (by up to ``jitter`` of it), so the cap is never exceeded
    and the sequence 1, 2, 4, ... 30 s stays recognisable.
    """
    if attempt < 1:
        return 0.0
    ceiling_s = min(cap_s, base_s * 2.0 ** min(attempt - 1, 32))
    return ceiling_s * (1.0 - jitter * rng.random())


@dataclass(slots=True)
class DuplicateFilter:
    """Drops a payload identical to one accepted less than ``window_s`` (s) before (bleak #2002).

    BlueZ with bleak 3.0.2+ can deliver each notification twice after a reconnect; a strap
    never sends two frames within 50 ms, so identical bytes that close together are one frame.
    Identical payloads further apart (an HR-only strap at a steady rate) are kept.
    """

    window_s: float = 0.05
    dropped: int = 0
    _recent: deque[tuple[float, bytes]] = field(default_factory=deque)
    _live: dict[bytes, int] = field(default_factory=dict)
    """Payloads in the window and how often each was accepted there (O(1) lookups in bursts)."""

    def accept(self, payload: bytes, t_s: float) -> bool:
        """True when the payload arriving at ``t_s`` (s) is new, False for a duplicate."""
        while self._recent and t_s - self._recent[0][0] >= self.window_s:
            _, old = self._recent.popleft()
            left = self._live[old] - 1
            if left:
                self._live[old] = left
            else:
                del self._live[old]
        if payload in self._live:
            self.dropped += 1
            return False
        self._recent.append((t_s, payload))
        self._live[payload] = 1
        return True


@dataclass(frozen=True, slots=True)
class Quality:
    """What the strap says about its own signal: contact, a zero heart rate, RR availability."""

    contact: SensorContact | None = None
    heart_rate_zero: bool = False
    rr_available: bool | None = None
    """None until known; False once the strap has sent heart rate without RR for a while."""


@dataclass(slots=True)
class QualityTracker:
    """Follows contact, HR 0 and RR presence over one connection; reports changes only."""

    no_rr_after_s: float = 15.0
    """Streaming this long (s) with a heart rate but no RR means a heart-rate-only sensor."""
    quality: Quality = field(default_factory=Quality)
    _since_s: float | None = None
    _rr_seen: bool = False

    def start_connection(self, t_s: float) -> None:
        """Forget per-connection state (a strap may be swapped between connections)."""
        self._since_s = t_s
        self._rr_seen = False
        self.quality = Quality()

    def push(self, t_s: float, measurement: HeartRateMeasurement | None) -> Quality | None:
        """Take one decoded notification (None if malformed); return the new quality if changed."""
        if self._since_s is None:
            self._since_s = t_s
        if measurement is None:
            return None
        old = self.quality
        rr_available = old.rr_available
        if measurement.rr_raw:
            self._rr_seen = True
            rr_available = True
        elif (
            not self._rr_seen
            and measurement.heart_rate_bpm > 0
            and measurement.sensor_contact is not SensorContact.NOT_DETECTED
            and t_s - self._since_s >= self.no_rr_after_s
        ):
            rr_available = False
        new = Quality(
            contact=measurement.sensor_contact,
            heart_rate_zero=measurement.heart_rate_bpm == 0,
            rr_available=rr_available,
        )
        if new == old:
            return None
        self.quality = new
        return new
