"""Shared helpers for the strap reader tests: derived payloads and a virtual-time event loop.

Derived fixtures: the RR values of tests/data/polar-h10-pvc (a real Polar H10 recording)
re-encoded as 0x2A37 payloads, keeping the real notification grouping and arrival times;
RR raw = rr_ms_to_raw(ms). They are *derived*, not captured bytes.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from afterbeat.heart_rate import (
    HeartRateMeasurement,
    SensorContact,
    encode_measurement,
    rr_ms_to_raw,
)

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


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock jumps to the next timer whenever nothing is ready."""

    def __init__(self) -> None:
        super().__init__()
        self._virtual_s = 1000.0

    def time(self) -> float:
        return self._virtual_s

    def _run_once(self) -> None:
        if not self._ready:  # type: ignore[attr-defined]
            pending = [h.when() for h in self._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
            if pending and min(pending) > self._virtual_s:
                self._virtual_s = min(pending)
        super()._run_once()  # type: ignore[misc]


def run_virtual(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh virtual-time loop."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
