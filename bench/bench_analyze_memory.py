"""Peak memory and time of ``afterbeat analyze --no-sampen`` on 10^6 and 10^7-beat RR files.

Run: python bench/bench_analyze_memory.py [--beats 1000000 10000000] [--before REF]
Generates plausible RR text files (one value per line, one gap-free segment, as the issue 14
case) in a temporary folder that is removed afterwards (never in the repository) and runs the
CLI on each under ``/usr/bin/time -v``: exit status, peak RSS (MiB) and wall time (s). With
``--before REF`` the same files also run against the ``src/`` of a git ref (``git archive``
into the temporary folder), for a before/after table, and the JSON results of both are
compared key by key (largest relative difference). ``--stages`` adds an in-process breakdown
(tracemalloc peak and time of correction, spectrum, time domain and DFA).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def write_rr(path: Path, n: int, seed: int = 1) -> Path:
    """n plausible RR values (ms, integers), one per line."""
    rng = np.random.default_rng(seed)
    np.savetxt(path, np.clip(800 + 50 * rng.standard_normal(n), 300, 2000).round(), fmt="%d")
    return path


def run_cli(src: Path, rr_file: Path, timeout_s: float) -> tuple[float, float, dict[str, object]]:
    """Peak RSS (MiB), wall time (s) and JSON result of ``analyze --no-sampen --json``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "afterbeat", "analyze",
               "--no-sampen", "--json", str(rr_file)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                          check=False, env=env)
    elapsed_s = time.perf_counter() - started
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    rss_mib = int(match.group(1)) / 1024 if match else math.nan
    result: dict[str, object] = json.loads(done.stdout) if done.returncode == 0 else {}
    return rss_mib, elapsed_s, result


def largest_difference(a: dict[str, object], b: dict[str, object]) -> tuple[str, float]:
    """The key whose float values differ most (relative), and by how much."""
    worst = ("-", 0.0)
    for key, value in a.items():
        other = b.get(key)
        if isinstance(value, float) and isinstance(other, float) and value != other:
            rel = abs(other - value) / max(abs(value), 1e-300)
            if rel > worst[1]:
                worst = (key, rel)
    return worst


def stages(n: int) -> None:
    """tracemalloc peak and time of each stage of the analysis, in this process."""
    from afterbeat.hrv import metrics as hrv
    from afterbeat.hrv.artifacts import correct_beats

    rng = np.random.default_rng(1)
    rr = np.clip(800 + 50 * rng.standard_normal(n), 300, 2000).round()
    t = np.cumsum(rr) / 1000.0
    seg = np.zeros(n, dtype=np.int64)

    def measure(label: str, action: Callable[[], T]) -> T:
        tracemalloc.start()
        started = time.perf_counter()
        try:
            out = action()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        print(f"  {label:<24} peak {peak / 2**20:8.1f} MiB  {time.perf_counter() - started:6.1f} s")
        return out

    print(f"stages on {n} beats (beat arrays {3 * rr.nbytes / 2**20:.0f} MiB)")
    fixed = measure("artifact correction", lambda: correct_beats(t, rr, seg))
    r, s = fixed.rr_ms, fixed.segment
    measure("spectrum (detrended)", lambda: hrv.hrv_spectrum(r, s, detrend="smoothness-priors"))
    measure("time domain", lambda: (hrv.sdnn_ms(r), hrv.rmssd_ms(r, s),
                                    hrv.pnn_pct(r, 50.0, s), hrv.poincare_sd_ms(r, s)))
    measure("DFA alpha1 + alpha2", lambda: (hrv.dfa_alpha(r, hrv.DFA_ALPHA1_SCALES, s),
                                            hrv.dfa_alpha(r, hrv.DFA_ALPHA2_SCALES, s)))


def main() -> None:
    """Generate the files, run each against this tree (and the ref), print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beats", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--before", metavar="REF", default=None,
                        help="also run the src/ of this git ref (e.g. main)")
    parser.add_argument("--stages", action="store_true", help="in-process stage breakdown")
    parser.add_argument("--timeout", type=float, default=3600.0)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="afterbeat-analyze-memory-"))
    try:
        trees = {"after": ROOT / "src"}
        if args.before:
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before, "src"],
                                     capture_output=True, check=True).stdout
            before = folder / "before"
            before.mkdir()
            archive_path = folder / "before.tar"
            archive_path.write_bytes(archive)
            with tarfile.open(archive_path) as tar:
                tar.extractall(before, filter="data")
            trees = {f"before ({args.before})": before / "src", **trees}
        for n in args.beats:
            rr_file = write_rr(folder / f"rr-{n}.txt", n)
            results: dict[str, dict[str, object]] = {}
            for label, src in trees.items():
                rss_mib, elapsed_s, result = run_cli(src, rr_file, args.timeout)
                results[label] = result
                print(f"analyze --no-sampen {n:>9} beats  {label:<18} peak RSS "
                      f"{rss_mib:8.1f} MiB  {elapsed_s:7.1f} s", flush=True)
            if len(results) == 2:
                a, b = results.values()
                key, rel = largest_difference(a, b)
                print(f"  results: largest relative difference {rel:.1e} ({key})")
            if args.stages:
                stages(n)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
