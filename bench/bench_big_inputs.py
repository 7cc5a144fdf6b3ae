"""Big hostile inputs (issue 14 item 6): peak RSS and wall time of the CLI on generated files.

Run: python bench/bench_big_inputs.py [--size-gb 2] [--lines 10000000] [--values 2000000]
Generates, in a temporary folder that is removed afterwards (never in the repository):
a file with no newline (RR text and a session file whose second line never ends), a CSV with
a field over csv's 131072-character limit, an RR file of ``--lines`` lines, ``--values`` RR
values on one line and a session file with a record at t_s = 1e300. Each case runs the
``afterbeat`` CLI in a subprocess under ``/usr/bin/time -v`` and prints exit status, peak RSS
(MiB) and wall time (s). ``--quick`` scales everything down for a smoke run.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

HEADER = ('{"type":"header","format":"afterbeat-session","version":1,'
          '"started_at":"2026-11-26T09:30:00Z","device":{}}\n')
BEAT = '{"type":"notification","t_s":%s,"wall_s":1795000000,"hex":"1046ee03"}\n'


def no_newline(path: Path, size_bytes: int, prefix: str = "") -> Path:
    """A file of ``prefix`` and then ``size_bytes`` digits without a newline."""
    chunk = "1" * 2**20
    with path.open("w", encoding="ascii") as handle:
        handle.write(prefix)
        for _ in range(max(1, size_bytes // len(chunk))):
            handle.write(chunk)
    return path


def rr_series(n: int, seed: int = 1) -> npt.NDArray[np.int64]:
    """n plausible RR values (ms, integers)."""
    rng = np.random.default_rng(seed)
    return np.clip(800 + 50 * rng.standard_normal(n), 300, 2000).round().astype(np.int64)


def run(label: str, argv: list[str], timeout_s: float) -> None:
    """Run ``afterbeat ARGV`` under /usr/bin/time -v; print status, peak RSS and time."""
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "afterbeat", *argv]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                              check=False)
    except subprocess.TimeoutExpired:
        print(f"{label:<44} did not finish in {timeout_s:.0f} s")
        return
    elapsed_s = time.perf_counter() - started
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    rss_mib = int(match.group(1)) / 1024 if match else float("nan")
    message = [line for line in done.stderr.splitlines()
               if line.startswith(("afterbeat", "replay:", "analyze: ")) and "%" not in line]
    print(f"{label:<44} rc {done.returncode}  peak RSS {rss_mib:8.1f} MiB  "
          f"{elapsed_s:7.1f} s  {(message or [''])[-1][:110]}")


def main() -> None:
    """Generate the files, run every case, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--values", type=int, default=2_000_000)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--quick", action="store_true", help="small files, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.size_gb, args.lines, args.values = 0.05, 200_000, 200_000
    folder = Path(tempfile.mkdtemp(prefix="afterbeat-big-"))
    try:
        size = int(args.size_gb * 2**30)
        flat = no_newline(folder / "flat.txt", size)
        flat_session = no_newline(folder / "flat.jsonl", size, HEADER + '{"type":"note","x":"')
        wide = folder / "wide.csv"
        wide.write_text("rr_ms,x\n" + '"' + "1" * 200_000 + '",1\n'
                        + "".join(f"{v},1\n" for v in rr_series(600)))
        many = folder / "many.txt"
        np.savetxt(many, rr_series(args.lines), fmt="%d")
        one_line = folder / "one-line.txt"
        one_line.write_text(" ".join(map(str, rr_series(args.values, 2).tolist())))
        far = folder / "far.jsonl"
        far.write_text(HEADER + "".join(BEAT % i for i in range(1, 200)) + BEAT % "1e300")
        data = folder / "data"
        print(f"files in {folder}: {args.size_gb:g} GB without newline, {args.lines} lines, "
              f"{args.values} values on one line")
        t = args.timeout
        run(f"analyze {args.size_gb:g} GB no newline (txt)", ["analyze", str(flat)], t)
        run(f"analyze {args.size_gb:g} GB no newline (jsonl)", ["analyze", str(flat_session)], t)
        run(f"sessions import {args.size_gb:g} GB line (jsonl)",
            ["sessions", "import", str(flat_session), "--data-dir", str(data)], t)
        run("analyze CSV field of 200000 characters", ["analyze", str(wide)], t)
        run(f"analyze {args.lines} lines (read only: --start 0 --end 1)",
            ["analyze", "--start", "0", "--end", "1", "--json", str(many)], t)
        run(f"analyze {args.lines} lines, --no-sampen", ["analyze", "--no-sampen", str(many)], t)
        run(f"replay --fast {args.lines} lines", ["replay", "--fast", str(many)], t)
        run(f"analyze {args.values} values on one line", ["analyze", str(one_line)], t)
        run("replay --speed 10000, a record at 1e300", ["replay", "--speed", "10000", str(far)],
            t)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
