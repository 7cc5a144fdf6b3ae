"""The record types every stage passes along: notifications, markers, gaps and device facts (pure).

A session is one :class:`Header` and a stream of :data:`Record` values in arrival order. These
types carry no file format: ``afterbeat.storage.session_file`` writes and reads them as JSON Lines.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "FORMAT_VERSION",
    "DeviceEvent",
    "DeviceEventKind",
    "Disconnect",
    "Header",
    "Marker",
    "MarkerKind",
    "Notification",
    "Reconnect",
    "Record",
    "SkipReport",
]

FORMAT_VERSION = 1
"""Version of the session format these records belong to (see docs/session-format.md)."""


class MarkerKind(enum.StrEnum):
    """What a marker marks."""

    BASELINE_START = "baseline_start"
    BASELINE_END = "baseline_end"
    SESSION_START = "session_start"
    SESSION_END = "session_end"
    RESET_START = "reset_start"
    RESET_END = "reset_end"
    MOVING_START = "moving_start"
    MOVING_END = "moving_end"
    NOTE = "note"
    RATING = "rating"
    DISMISS = "dismiss"
    """"Not now" for the current suggestion: a quiet period starts."""
    PLAN = "plan"
    """The person's plan from here on; ``text`` holds the plan as JSON."""
    RESONANCE_BLOCK_START = "resonance_block_start"
    """A paced block of the resonance assessment begins; ``value`` is its rate (breaths/min),
    ``text`` the block as JSON (see ``afterbeat.resets.resonance``)."""
    RESONANCE_BLOCK_END = "resonance_block_end"
    """A paced block ends (``text``: JSON with ``index`` and ``completed``)."""


@dataclass(frozen=True, slots=True)
class Header:
    """First line of a session file."""

    started_at: datetime
    """Wall-clock time (UTC) of t_s = 0."""
    device: dict[str, Any] = field(default_factory=dict)
    """What is known of the strap: name, address, model, body sensor location, source."""
    version: int = FORMAT_VERSION
    provenance: dict[str, Any] = field(default_factory=dict)
    """Where the data came from, which parts are real and which were added (free form)."""


@dataclass(frozen=True, slots=True)
class Notification:
    """One 0x2A37 notification as it arrived: monotonic seconds since start and raw bytes."""

    t_s: float
    wall_s: float
    """Unix time (s) of arrival, for display only; order and durations use t_s."""
    payload: bytes


@dataclass(frozen=True, slots=True)
class Marker:
    """A moment the person (or a replay) marked."""

    t_s: float
    kind: MarkerKind
    value: float | None = None
    """A 0-10 rating for ``rating`` markers; reset or plan details go in ``text``."""
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Disconnect:
    """The strap link dropped or went silent; a gap starts."""

    t_s: float
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Reconnect:
    """The strap link is back; the gap ends."""

    t_s: float


class DeviceEventKind(enum.StrEnum):
    """Device facts that are not measurements."""

    BATTERY = "battery"
    CONTACT = "contact"
    BODY_SENSOR_LOCATION = "body_sensor_location"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """Battery level (%), contact state, sensor location or device information."""

    t_s: float
    kind: DeviceEventKind
    value: int | str | None = None


Record = Notification | Marker | Disconnect | Reconnect | DeviceEvent


@dataclass(slots=True)
class SkipReport:
    """Lines skipped while reading a file: counted and described, never silently dropped."""

    count: int = 0
    examples: list[str] = field(default_factory=list)
    max_examples: int = 5

    def add(self, where: str, why: str) -> None:
        """Count one skipped line and keep its description if room remains."""
        self.count += 1
        if len(self.examples) < self.max_examples:
            self.examples.append(f"{where}: {why}")

    def summary(self) -> str:
        """One line for people: how many lines were skipped and the first reasons."""
        if not self.count:
            return "no lines skipped"
        hidden = self.count - len(self.examples)
        more = f" (+{hidden} more)" if hidden else ""
        return f"{self.count} line(s) skipped: " + "; ".join(self.examples) + more
