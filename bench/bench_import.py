"""Import benchmark: a 24-hour RR file streamed in well under a second, in constant memory.

Run: python bench/bench_import.py
Prints time and peak traced memory of streaming (``iter_beats``) and of loading into arrays
(``load_rr``) for the two 24-hour files, for a file three times as long (to show that streaming
memory stays flat), for a 24-hour afterbeat session file (notifications derived from 008.txt,
about one a second), and numpy.loadtxt on the RR text as a reference point in the same process.
"""

from __future__ import annotations

import gc
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from afterbeat.sources.replay import open_recording
from afterbeat.storage.importers import iter_beats, load_rr
from afterbeat.storage.session_file import write_session

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "physionet-healthy-24h"


def measure(label: str, work: Callable[[], object], repeats: int = 5) -> float:
    """Print best-of time (ms) and peak traced memory (MiB) of ``work``; return the time."""
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    gc.collect()
    tracemalloc.start()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    best_ms = min(times) * 1000
    print(f"{label:<44} {best_ms:8.1f} ms   peak {peak / 2**20:7.2f} MiB")
    return best_ms


def stream(path: Path) -> int:
    """Consume the beat stream, keeping nothing."""
    return sum(1 for _ in iter_beats(path))


def main() -> None:
    """Run the benchmark and print its table."""
    with tempfile.TemporaryDirectory() as tmp:
        triple = Path(tmp) / "72h.txt"
        text = (DATA / "000.txt").read_text()
        triple.write_text(text * 3)
        for name in ("000.txt", "008.txt"):
            path = DATA / name
            beats = stream(path)
            print(f"{name}: {beats} beats")
            ours = measure(f"  iter_beats (stream) {name}", partial(stream, path))
            measure(f"  load_rr (arrays) {name}", partial(load_rr, path))
            peer = measure(
                f"  numpy.loadtxt {name}",
                partial(np.loadtxt, path, comments="@", usecols=0),
            )
            print(f"  stream time / numpy.loadtxt time = {ours / peer:.2f}")
        print(f"72h.txt: {stream(triple)} beats")
        measure("  iter_beats (stream) 72h.txt", lambda: stream(triple), repeats=2)
        session = Path(tmp) / "day.jsonl"
        header, records = open_recording(DATA / "008.txt")
        write_session(session, header, records)
        print(f"day.jsonl (session file from 008.txt): {stream(session)} beats, "
              f"{session.stat().st_size / 1e6:.1f} MB")
        measure("  iter_beats (stream) day.jsonl", lambda: stream(session), repeats=3)
        measure("  load_rr (arrays) day.jsonl", lambda: load_rr(session), repeats=3)


if __name__ == "__main__":
    main()
