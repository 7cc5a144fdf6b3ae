"""Speed of ``afterbeat analyze`` on 24-hour Holter RR files, against NeuroKit2 and hrv-analysis.

Usage (peers from bench/requirements.txt)::

    PYTHONPATH=src python bench/bench_analyze.py [--cap-s 120] [--memory-gb 6] [FILE ...]

Default files: tests/data/physionet-healthy-24h/000.txt and 008.txt. For each file it times
afterbeat's full analysis without SampEn (default options: artifact correction and
smoothness-priors detrending; and with both off, as the peers run), exact SampEn of the whole
day separately, then the peers' equivalent steps. Every peer step runs in a child process
with a time cap and an address-space cap (NeuroKit2's nonlinear metrics build N x N
matrices and run out of memory on a day); a capped step prints as "> cap" or "MemoryError".
Ratios are peer time / afterbeat time (> 1: afterbeat is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILES = [ROOT / "tests/data/physionet-healthy-24h/000.txt",
                 ROOT / "tests/data/physionet-healthy-24h/008.txt"]
TARGET_NO_SAMPEN_S = 2.0
TARGET_SAMPEN_S = 60.0

PEER_STEPS = {
    "neurokit2 time+frequency": "nk_time_freq",
    "neurokit2 nonlinear (incl. SampEn, DFA)": "nk_nonlinear",
    "hrv-analysis time+frequency+poincare": "ha_time_freq",
    "hrv-analysis sampen": "ha_sampen",
}


def read_rr(path: Path) -> npt.NDArray[np.float64]:
    """RR (ms) of an RR file, read by afterbeat's importer (008.txt's stray '@' skipped)."""
    from afterbeat.storage.importers import load_rr

    return load_rr(path).rr_ms


def first_and_best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Seconds of the first call and the best of ``repeat`` calls."""
    times = []
    for _ in range(max(repeat, 1)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times[0], min(times)


# --- peers, run in a child process ----------------------------------------------------------


def _peer(step: str, path: Path) -> None:
    warnings.simplefilter("ignore")
    rr = read_rr(path)
    start = time.perf_counter()
    if step.startswith("nk_"):
        import neurokit2 as nk

        peaks = np.r_[0, np.cumsum(np.round(rr)).astype(np.int64)]
        if step == "nk_time_freq":
            nk.hrv_time(peaks, sampling_rate=1000)
            nk.hrv_frequency(peaks, sampling_rate=1000, normalize=False, interpolation_rate=4)
        else:
            nk.hrv_nonlinear(peaks, sampling_rate=1000)
    else:
        import hrvanalysis as ha

        nn = rr.tolist()
        if step == "ha_time_freq":
            ha.get_time_domain_features(nn)
            ha.get_frequency_domain_features(nn, method="welch", sampling_frequency=4)
            ha.get_poincare_plot_features(nn)
        else:
            ha.get_sampen(nn)
    print(json.dumps({"seconds": time.perf_counter() - start}))


def run_peer(step: str, path: Path, cap_s: float, memory_gb: float) -> str:
    """Seconds as text, or why the step did not finish."""
    limit = int(memory_gb * 2**30)

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    try:
        done = subprocess.run(
            [sys.executable, __file__, "--peer", step, str(path)],
            capture_output=True, text=True, timeout=cap_s, preexec_fn=limit_memory,
        )
    except subprocess.TimeoutExpired:
        return f"> {cap_s:.0f} s (cap)"
    if done.returncode != 0:
        err = done.stderr.strip().splitlines()
        last = err[-1] if err else f"exit {done.returncode}"
        return "MemoryError" if "MemoryError" in done.stderr else last[:60]
    return f"{json.loads(done.stdout.strip().splitlines()[-1])['seconds']:.3f}"


# --- afterbeat ------------------------------------------------------------------------------


def bench_file(path: Path, cap_s: float, memory_gb: float, repeat: int) -> None:
    from afterbeat.hrv import metrics as hrv
    from afterbeat.hrv.analysis import analyze

    rr = read_rr(path)
    t_s = np.cumsum(rr) / 1000.0
    print(f"\n{path.name}: {rr.size} beats, {rr.sum() / 3.6e6:.1f} h")
    cold, ours_default = first_and_best(lambda: analyze(t_s, rr, sampen=False), repeat)
    _, ours_plain = first_and_best(
        lambda: analyze(t_s, rr, correction="none", detrend="none", sampen=False), repeat)
    _, ours_detrend = first_and_best(
        lambda: analyze(t_s, rr, correction="none", sampen=False), repeat)
    start = time.perf_counter()
    value = hrv.sample_entropy(rr)
    ours_sampen = time.perf_counter() - start
    print(f"  afterbeat analyze, no SampEn (correction auto, smoothness priors): "
          f"{ours_default:.3f} s (first call {cold:.3f} s)  [target < "
          f"{TARGET_NO_SAMPEN_S:.0f} s: {'ok' if cold < TARGET_NO_SAMPEN_S else 'MISSED'}]")
    print(f"  afterbeat analyze, no SampEn (correction none, smoothness priors):  "
          f"{ours_detrend:.3f} s  (so artifact correction takes about "
          f"{ours_default - ours_detrend:.3f} s)")
    print(f"  afterbeat analyze, no SampEn (correction none, detrend none):       "
          f"{ours_plain:.3f} s")
    print(f"  afterbeat exact SampEn of the whole file: {ours_sampen:.2f} s (SampEn = "
          f"{value:.4f})  [target < {TARGET_SAMPEN_S:.0f} s: "
          f"{'ok' if ours_sampen < TARGET_SAMPEN_S else 'MISSED'}]")
    for label, step in PEER_STEPS.items():
        shown = run_peer(step, path, cap_s, memory_gb)
        ours = ours_sampen if "sampen" in step or "nonlinear" in step else ours_plain
        try:
            ratio = f"x{float(shown) / ours:.1f}"
        except ValueError:
            ratio = f"> x{cap_s / ours:.0f}" if shown.startswith(">") else "n/a"
        print(f"  {label:<42} {shown:>16}  ratio {ratio}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=DEFAULT_FILES)
    parser.add_argument("--cap-s", type=float, default=120.0, help="time cap per peer step")
    parser.add_argument("--memory-gb", type=float, default=6.0,
                        help="address-space cap per peer step")
    parser.add_argument("--repeat", type=int, default=3, help="best of N for afterbeat")
    parser.add_argument("--peer", nargs=2, metavar=("STEP", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        _peer(args.peer[0], Path(args.peer[1]))
        return 0
    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load average {load[0]:.1f} (timings scale with load)")
    print(f"cap per peer step: {args.cap_s:.0f} s, {args.memory_gb:.0f} GB address space; "
          "ratio = peer time / afterbeat time (afterbeat SampEn time for SampEn and "
          "nonlinear steps)")
    for path in args.files:
        bench_file(path, args.cap_s, args.memory_gb, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
