"""Shared helpers for the strap reader tests: derived payloads and a virtual-time event loop.

Derived fixtures: the RR values of tests/data/polar-h10-pvc (a real Polar H10 recording)
re-encoded as 0x2A37 payloads, keeping the real notification grouping and arrival times;
RR raw = rr_ms_to_raw(ms). They are *derived*, not captured bytes.
"""

from __future__ import annotations

import asyncio
import csv
import selectors
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from afterbeat.heart_rate import (
    HeartRateMeasurement,
    SensorContact,
    encode_measurement,
    rr_ms_to_raw,
)

if TYPE_CHECKING:  # a name that exists only in the type stubs
    from _typeshed import FileDescriptorLike

T = TypeVar("T")

H10_CSV = (Path(__file__).resolve().parent / "data" / "polar-h10-pvc"
           / "polar_h10_ecg130hz_hr_rr.csv")


def derived_h10_frames(limit: int | None = None) -> list[tuple[float, bytes]]:
    """(arrival offset s, derived payload) per real H10 notification, oldest first."""
    groups: list[tuple[float, int, list[float]]] = []
    with H10_CSV.open(newline="") as handle:
        for row in csv.DictReader(handle):
            hr, rr = row["hr"], row["rr"]
            if hr:
                if limit is not None and len(groups) >= limit:
                    break
                groups.append((float(row["time"]) / 1e9, int(float(hr)), []))
            if rr and groups:
                groups[-1][2].append(float(rr))
    t0 = groups[0][0]
    frames = []
    for t, hr, rrs in groups:
        m = HeartRateMeasurement(
            heart_rate_bpm=hr,
            sensor_contact=SensorContact.DETECTED,
            rr_raw=tuple(rr_ms_to_raw(v) for v in rrs),
            rr_flag=bool(rrs),
        )
        frames.append((round(t - t0, 6), encode_measurement(m)))
    return frames


class _JumpingSelector(selectors.BaseSelector):
    """The loop's selector: I/O that is ready now, else a jump of the clock to the next timer."""

    def __init__(self, clock: VirtualClock) -> None:
        self._real = selectors.DefaultSelector()
        self._clock = clock

    def register(self, fileobj: FileDescriptorLike, events: int,
                 data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: FileDescriptorLike, events: int,
               data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # no timer pending: only I/O can wake the loop
            return self._real.select(None)
        self._clock.now_s += timeout  # nothing to do until the next timer: jump to it
        return []

    def get_map(self) -> Mapping[FileDescriptorLike, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


@dataclass
class VirtualClock:
    """The virtual loop's time (s); starts at 1000 s."""

    now_s: float = 1000.0


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock jumps to the next timer whenever nothing is ready.

    Built from public seams only: the loop's ``selector`` argument and its ``time()`` method.
    The loop asks its selector to wait until the next timer; this selector jumps instead.
    """

    def __init__(self) -> None:
        self.clock = VirtualClock()
        super().__init__(selector=_JumpingSelector(self.clock))

    def time(self) -> float:
        return self.clock.now_s


def run_virtual(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh virtual-time loop."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
