"""Lab Streaming Layer timing, measured with real pylsl inlets on this machine.

Plain script (not part of the test run; needs the ``lab`` extra). Two measurements:

1. **Spacing.** A real recording (default: the first ``--hours`` of the shared 24-hour RR
   recording) is re-encoded as strap notifications and published as fast as possible through
   :class:`afterbeat.lsl.LslPublisher`; an inlet reads every RR sample back. Reported: the
   largest ``|diff(timestamp) - RR|`` over all consecutive beats (the session clock is mapped
   to ``pylsl.local_clock()`` once, so this is only floating-point rounding).
2. **Latency.** Notifications (real heart rate and RR bytes) are published live, one every
   ``--interval`` seconds for ``--seconds`` seconds, each stamped with the session clock at
   the moment afterbeat handles it (``time.monotonic()``, as a live source stamps records). A
   second thread holds inlets on the heart-rate and marker streams and reads
   ``pylsl.local_clock()`` as each sample arrives. Reported: median, 95th percentile and
   maximum of arrival minus timestamp, i.e. from afterbeat handling a record to a recorder
   holding it (both on this machine; a busy CPU adds to it).

    LSLAPICFG=tests/lsl_api.cfg python bench/bench_lsl.py [--hours 1] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("LSLAPICFG", str(ROOT / "tests" / "lsl_api.cfg"))
sys.path.insert(0, str(ROOT / "src"))

import pylsl  # noqa: E402

from afterbeat.hrv.beats import record_beats  # noqa: E402
from afterbeat.lsl import LslPublisher  # noqa: E402
from afterbeat.records import Marker, MarkerKind, Notification, Record  # noqa: E402
from afterbeat.sources.replay import derived_notifications  # noqa: E402
from afterbeat.storage.importers import iter_beats  # noqa: E402

DEFAULT_DATA = ROOT / "tests" / "data" / "physionet-healthy-24h" / "000.txt"


def _inlet(source_id: str) -> Any:
    found = pylsl.resolve_byprop("source_id", source_id, timeout=10.0)
    if not found:
        raise SystemExit(f"stream {source_id} not found (is LSL discovery blocked?)")
    inlet = pylsl.StreamInlet(found[0], max_buflen=3600, recover=False)
    inlet.open_stream(timeout=10.0)
    return inlet


def spacing(data: Path, hours: float) -> tuple[int, float, float]:
    """Beats published, max |diff(stamp) - RR| in ms, wall seconds to publish and read."""
    source_id = f"bench-spacing-{uuid.uuid4().hex[:8]}"
    publisher = LslPublisher(source_id)
    inlet = _inlet(f"{source_id}-rr")
    records = [r for r in derived_notifications(iter_beats(data)) if r.t_s <= hours * 3600]
    beats = list(record_beats(records))
    start = time.perf_counter()
    rr: list[float] = []
    stamps: list[float] = []
    for record in records:
        publisher.on_record(record)
    empty = 0
    while len(rr) < len(beats) and empty < 20:
        chunk, times = inlet.pull_chunk(timeout=0.5, max_samples=65536)
        empty = 0 if chunk else empty + 1
        rr += [s[0] for s in chunk]
        stamps += times
    wall_s = time.perf_counter() - start
    publisher.close()
    if len(rr) != len(beats):
        raise SystemExit(f"only {len(rr)} of {len(beats)} beats arrived")
    worst_ms = max(abs((b - a) * 1000.0 - value)
                   for a, b, value in zip(stamps, stamps[1:], rr[1:], strict=False))
    return len(beats), worst_ms, wall_s


def latency(data: Path, seconds: float, interval_s: float) -> tuple[list[float], list[float]]:
    """Arrival minus timestamp (ms) of heart-rate samples and of markers, published live."""
    source_id = f"bench-latency-{uuid.uuid4().hex[:8]}"
    publisher = LslPublisher(source_id)
    inlets = {key: _inlet(f"{source_id}-{key}") for key in ("heart_rate", "markers")}
    arrivals: dict[str, list[float]] = {"heart_rate": [], "markers": []}
    stop = threading.Event()

    def listen(key: str) -> None:
        inlet = inlets[key]
        while not stop.is_set():
            sample, stamp = inlet.pull_sample(timeout=0.2)
            if sample is not None:
                arrivals[key].append((pylsl.local_clock() - stamp) * 1000.0)

    threads = [threading.Thread(target=listen, args=(key,)) for key in inlets]
    for thread in threads:
        thread.start()
    payloads = [r.payload for r in derived_notifications(iter_beats(data))
                if isinstance(r, Notification)]
    t0 = time.monotonic()
    count = int(seconds / interval_s)
    try:
        for i in range(count):
            time.sleep(max(0.0, t0 + i * interval_s - time.monotonic()))
            record: Record = Notification(time.monotonic() - t0, time.time(),
                                          payloads[i % len(payloads)])
            publisher.on_record(record)
            if i % 10 == 5:
                publisher.on_record(Marker(time.monotonic() - t0, MarkerKind.RESET_START,
                                           text="bench"))
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    publisher.close()
    return arrivals["heart_rate"], arrivals["markers"]


def _describe(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (f"n={len(values)}, median {statistics.median(values):.2f} ms, p95 {p95:.2f} ms, "
            f"max {max(values):.2f} ms")


def main() -> None:
    """Run both measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="an RR file")
    parser.add_argument("--hours", type=float, default=1.0,
                        help="hours of the recording to publish for the spacing check")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="how long to publish live for the latency check")
    parser.add_argument("--interval", type=float, default=0.05,
                        help="seconds between live notifications (a strap sends about 1)")
    args = parser.parse_args()
    print(f"pylsl {pylsl.__version__}, liblsl {pylsl.library_version()}, "
          f"{os.cpu_count()} CPU(s)")
    beats, worst_ms, wall_s = spacing(args.data, args.hours)
    print(f"spacing: {beats} beats ({args.hours:g} h of {args.data.name}) read back in "
          f"{wall_s:.2f} s; max |diff(timestamp) - RR| = {worst_ms:.2e} ms")
    heart, markers = latency(args.data, args.seconds, args.interval)
    print(f"latency, heart rate: {_describe(heart)}")
    print(f"latency, markers:    {_describe(markers)}")


if __name__ == "__main__":
    main()
