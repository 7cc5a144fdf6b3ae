"""Where records come from: a live strap (``ble``) or a recording (``replay``).

A source is the only part of the pipeline that touches a clock or a radio. It yields
session records (stamped on its own monotonic clock, seconds since the session started)
interleaved with connection statuses, in arrival order.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from afterbeat.heart_rate import SensorContact
from afterbeat.records import Header, Record

__all__ = ["ConnectionState", "Source", "SourceStatus"]


class ConnectionState(enum.StrEnum):
    """What the source is doing now."""

    IDLE = "idle"
    SCANNING = "scanning"
    CONNECTING = "connecting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    BLUETOOTH_OFF = "bluetooth_off"
    FINISHED = "finished"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A change in the source's state, for the status line and the dashboard."""

    t_s: float
    state: ConnectionState
    detail: str | None = None
    attempt: int | None = None
    next_delay_s: float | None = None
    battery_pct: int | None = None
    contact: SensorContact | None = None
    rr_available: bool | None = None
    """False once a strap has streamed for a while without any RR (heart-rate-only mode)."""
    device_name: str | None = None


class Source(Protocol):
    """An async stream of records and statuses on one session clock."""

    name: str

    @property
    def header(self) -> Header:
        """The session header (device, start time) of what this source produces."""
        ...

    def now_s(self) -> float:
        """Current time on the session clock (s); replays scale it by their speed."""
        ...

    def stream(self) -> AsyncIterator[Record | SourceStatus]:
        """Yield records and statuses until the source ends or is closed."""
        ...

    async def aclose(self) -> None:
        """Stop streaming and release the radio or file."""
        ...
