"""Batch analysis of 100 recordings: afterbeat's process pool against NeuroKit2 in a loop.

Plain script (not part of the test run). It builds 100 RR text files from the shared 24-hour
recordings (10 whole days and 90 one-hour stretches, real RR), then times in one run:

- ``afterbeat analyze DIR --out results.csv --no-sampen --jobs N`` (N = CPUs, and 1);
- NeuroKit2's ``hrv_time`` + ``hrv_frequency`` over the same files in a plain loop, the way a
  researcher would script it (afterbeat's run also computes Poincare and DFA, so the comparison
  favours NeuroKit2).

It prints wall time, beats per second, the ratio, and the peak resident memory of the largest
afterbeat worker (flat whatever the number of files: each worker holds one file at a time).

    python bench/bench_batch.py [--data tests/data/physionet-healthy-24h] [--skip-peer]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "tests" / "data" / "physionet-healthy-24h"


def build(folder: Path, data: Path) -> int:
    """Write the 100 recordings; returns the number of beats in all of them."""
    sys.path.insert(0, str(ROOT / "src"))
    from afterbeat.storage.importers import load_rr

    days = [load_rr(p).rr_ms for p in sorted(data.glob("*.txt"))]
    beats = 0
    for i in range(10):
        rr = days[i % len(days)]
        np.savetxt(folder / f"day-{i:02d}.txt", rr, fmt="%.3f")
        beats += rr.size
    hour = 0
    for i in range(90):
        rr = days[i % len(days)]
        t = np.cumsum(rr) / 1000.0
        start = (hour % 22) * 3600.0
        chunk = rr[(t >= start) & (t < start + 3600.0)]
        hour += i % len(days)
        np.savetxt(folder / f"hour-{i:02d}.txt", chunk, fmt="%.3f")
        beats += chunk.size
    return beats


def run_afterbeat(folder: Path, jobs: int) -> tuple[float, float]:
    """Wall seconds and the peak RSS (MB) of the largest worker process."""
    out = folder.parent / f"results-{jobs}.csv"
    code = ("import resource, sys; from afterbeat.cli import main; "
            f"status = main(['analyze', {str(folder)!r}, '--out', {str(out)!r}, '--no-sampen', "
            f"'--jobs', '{jobs}']); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
            "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, check=False)
    wall = time.perf_counter() - started
    children_kb, self_kb = (int(v) for v in done.stderr.strip().splitlines()[-1].split())
    return wall, max(children_kb, self_kb if jobs == 1 else 0) / 1024.0


def run_neurokit(folder: Path) -> float:
    """Wall seconds of NeuroKit2 time + frequency HRV over every file, one after another."""
    code = (
        "import warnings, glob, numpy as np, neurokit2 as nk\n"
        "warnings.simplefilter('ignore')\n"
        f"for p in sorted(glob.glob({str(folder)!r} + '/*.txt')):\n"
        "    rr = np.loadtxt(p)\n"
        "    peaks = np.r_[0, np.cumsum(np.round(rr)).astype(np.int64)]\n"
        "    nk.hrv_time(peaks, sampling_rate=1000)\n"
        "    nk.hrv_frequency(peaks, sampling_rate=1000, normalize=False, "
        "interpolation_rate=4)\n")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--skip-peer", action="store_true", help="do not run NeuroKit2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "recordings"
        folder.mkdir()
        beats = build(folder, args.data)
        cpus = os.cpu_count() or 1
        print(f"100 recordings, {beats} beats; {cpus} CPUs, load {os.getloadavg()[0]:.1f}")
        for jobs in sorted({cpus, 1}, reverse=True):
            wall, peak_mb = run_afterbeat(folder, jobs)
            print(f"afterbeat --jobs {jobs}: {wall:.1f} s, {beats / wall:,.0f} beats/s, "
                  f"peak RSS of the largest worker {peak_mb:.0f} MB")
            if jobs == cpus:
                ours = wall
        if not args.skip_peer:
            peer = run_neurokit(folder)
            print(f"NeuroKit2 loop (time + frequency only): {peer:.1f} s, "
                  f"{beats / peer:,.0f} beats/s; ratio {peer / ours:.1f}x")
    print(f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
