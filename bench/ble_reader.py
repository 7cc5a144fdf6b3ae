"""Strap reader cost: notifications per second through bleak + the replay backend + BleSource.

Plain script (not a test): ``PYTHONPATH=src python bench/ble_reader.py``. Delivers a burst of
distinct 0x2A37 payloads to the bleak notification callback at once, on a real asyncio loop,
and prints the wall time per notification from the callback to a yielded ``Notification``
(stamping, queueing, duplicate check, decode and quality tracking included).
"""

from __future__ import annotations

import asyncio
import random
import time

from afterbeat.heart_rate import HeartRateMeasurement, SensorContact, encode_measurement
from afterbeat.records import Notification
from afterbeat.sources.ble import BleSettings, BleSource
from afterbeat.sources.replay_backend import Link, LinkEnd, ReplayWorld, StrapScript

COUNT = 20_000


def payload(i: int) -> bytes:
    m = HeartRateMeasurement(heart_rate_bpm=50 + i % 100, sensor_contact=SensorContact.DETECTED,
                             rr_raw=(600 + i // 100, 610 + i // 100))
    return encode_measurement(m)


async def main() -> None:
    burst = tuple((0.1, payload(i)) for i in range(COUNT))
    world = ReplayWorld(StrapScript(links=(Link(burst, LinkEnd.SILENCE),), connect_delay_s=0.0))
    source = BleSource(backend=world.backend(), rng=random.Random(1),
                       settings=BleSettings(queue_max=COUNT + 1))
    got = 0
    started = time.perf_counter()
    first = started
    async for item in source.stream():
        if isinstance(item, Notification):
            if got == 0:
                first = time.perf_counter()
            got += 1
            if got >= COUNT:
                break
    elapsed = time.perf_counter() - first
    await source.aclose()
    print(f"setup (scan + connect + reads + subscribe): {(first - started) * 1000:.1f} ms")
    print(f"notifications: {got} yielded, {source.counters.duplicates} duplicates, "
          f"{source.counters.overflow} overflow")
    print(f"throughput: {got / elapsed:,.0f} notifications/s ({elapsed / got * 1e6:.1f} us each; "
          "a strap sends about 1/s)")


if __name__ == "__main__":
    asyncio.run(main())
