"""Live cost per beat: ArtifactFilter + LiveMetricsTracker over a 24-hour Holter RR series.

Run: PYTHONPATH=src python bench/bench_live.py [RR_FILE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from afterbeat.hrv.artifacts import ArtifactFilter
from afterbeat.hrv.beats import Beat
from afterbeat.hrv.live import LiveMetricsTracker
from afterbeat.storage.importers import load_rr

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "tests" / "data" / "physionet-healthy-24h" / "000.txt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT)
    args = parser.parse_args()
    rr = load_rr(args.path).rr_ms
    t = np.cumsum(rr) / 1000.0
    beats = [Beat(float(ti), float(r), 0) for ti, r in zip(t, rr, strict=True)]
    print(f"{args.path.name}: {rr.size} beats, {t[-1] / 3600:.1f} h")

    f = ArtifactFilter()
    t0 = time.perf_counter()
    c0 = time.process_time()
    cleans = []
    for b in beats:
        cleans.extend(f.push(b))
    cleans.extend(f.flush())
    t_filter = time.perf_counter() - t0
    c_filter = time.process_time() - c0

    tracker = LiveMetricsTracker()
    t0 = time.perf_counter()
    c0 = time.process_time()
    n_metrics = 0
    spectral = 0
    last = None
    for c in cleans:
        m = tracker.push_beat(c)
        if m is not None:
            n_metrics += 1
            if m.lf_ms2 is not None and m.lf_ms2 != last:
                spectral += 1
                last = m.lf_ms2
    t_tracker = time.perf_counter() - t0
    c_tracker = time.process_time() - c0

    corrected = sum(c.corrected for c in cleans)
    n = rr.size
    print(f"{'':20s} {'wall s':>8s} {'wall us/beat':>13s} {'cpu us/beat':>12s}")
    rows = (("ArtifactFilter", t_filter, c_filter), ("LiveMetricsTracker", t_tracker, c_tracker),
            ("total", t_filter + t_tracker, c_filter + c_tracker))
    for name, wall, cpu in rows:
        print(f"{name:20s} {wall:8.3f} {wall / n * 1e6:13.1f} {cpu / n * 1e6:12.1f}")
    print(f"{corrected} beats corrected ({corrected / len(cleans):.2%}); {n_metrics} metrics; "
          f"{spectral} spectral refreshes")
    print("(cpu = process time; wall time grows with other load on the machine)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
