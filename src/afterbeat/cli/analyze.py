"""``afterbeat analyze FILE``: HRV of a whole recording (any importable file), Kubios-style."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import TextIO

import numpy as np

from afterbeat.cli.batch import BatchOptions, run_batch
from afterbeat.cli.common import CommandError, number_in, printable
from afterbeat.hrv.analysis import RESULT_KEYS, AnalysisResult, ProgressCallback, analyze
from afterbeat.records import MAX_T_S
from afterbeat.storage.importers import load_rr

__all__ = ["format_table", "register", "run"]

PROGRESS_MIN_BEATS = 20_000
"""Files with at least this many beats show progress on stderr."""

_LABELS: dict[str, tuple[str, str, int]] = {
    "n_beats": ("Beats", "", 0),
    "duration_s": ("Duration", "s", 1),
    "mean_rr_ms": ("Mean RR", "ms", 4),
    "sdnn_ms": ("SDNN", "ms", 4),
    "rmssd_ms": ("RMSSD", "ms", 4),
    "pnn50_pct": ("pNN50", "%", 4),
    "mean_hr_bpm": ("Mean HR", "bpm", 4),
    "min_hr_bpm": ("Min HR", "bpm", 4),
    "max_hr_bpm": ("Max HR", "bpm", 4),
    "vlf_ms2": ("VLF power (0-0.04 Hz)", "ms2", 4),
    "lf_ms2": ("LF power (0.04-0.15 Hz)", "ms2", 4),
    "hf_ms2": ("HF power (0.15-0.4 Hz)", "ms2", 4),
    "lf_hf": ("LF/HF", "", 4),
    "total_power_ms2": ("Total power", "ms2", 4),
    "lf_peak_hz": ("LF peak", "Hz", 6),
    "hf_peak_hz": ("HF peak", "Hz", 6),
    "sd1_ms": ("Poincare SD1", "ms", 6),
    "sd2_ms": ("Poincare SD2", "ms", 6),
    "dfa_alpha1": ("DFA alpha1 (4-16 beats)", "", 4),
    "dfa_alpha2": ("DFA alpha2 (17-64 beats)", "", 4),
    "sampen": ("Sample entropy (m=2, r=0.2 SD)", "", 4),
    "respiration_rate_bpm": ("Breathing rate (RSA peak)", "/min", 1),
    "corrected_beats_pct": ("Corrected beats", "%", 2),
}


def format_table(result: AnalysisResult) -> str:
    """The result as an aligned two-column table, then its notes."""
    data = result.to_json()
    width = max(len(label) for label, _, _ in _LABELS.values())
    lines = []
    for key in RESULT_KEYS:
        label, unit, digits = _LABELS[key]
        value = data[key]
        if isinstance(value, float):
            shown = f"{value:.{digits}f}"
        else:
            shown = "-" if value is None else str(value)
        lines.append(f"{label:<{width}}  {shown:>14} {unit}".rstrip())
    for note in result.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``analyze`` sub-command."""
    parser = subparsers.add_parser(
        "analyze",
        help="HRV of a recording (session, RR text, Polar HRM, CSV, .npy), Kubios-style",
        description="Time-domain, frequency-domain (Welch, 4 Hz) and nonlinear HRV of a "
        "recording, with Kubios HRV's conventions. Values that cannot be computed are "
        "shown as '-' (null in JSON) with the reason in the notes.",
    )
    parser.add_argument("file", metavar="PATH", nargs="+",
                        help="recording or RR file to analyse; several files or folders make a "
                        "batch with one row per file")
    seconds = number_in(0.0, MAX_T_S, "a time in seconds from the recording's start")
    parser.add_argument("--start", type=seconds, default=None, metavar="S",
                        help="analyse beats from this time (s from the recording's start)")
    parser.add_argument("--end", type=seconds, default=None, metavar="S",
                        help="analyse beats up to this time (s)")
    parser.add_argument("--correction", choices=("auto", "none"), default="auto",
                        help="artifact correction before the metrics (default: auto)")
    parser.add_argument("--detrend", choices=("smoothness-priors", "none"),
                        default="smoothness-priors",
                        help="detrending before the spectrum (default: smoothness-priors, "
                        "lambda 500)")
    parser.add_argument("--unit", choices=("ms", "s"), default=None,
                        help="unit of RR values in the file when it cannot be detected")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-sampen", dest="sampen", action="store_false",
                        help="skip sample entropy (the slowest metric on long files)")
    batch = parser.add_argument_group("batch (several files or folders)")
    batch.add_argument("--out", type=Path, default=None, metavar="FILE",
                       help="write one row per file to FILE (.csv, .jsonl, or .parquet with "
                       "pyarrow); default: CSV on standard output")
    batch.add_argument("--json-lines", action="store_true",
                       help="rows as JSON Lines instead of CSV")
    batch.add_argument("--jobs", type=_jobs, default=None, metavar="N",
                       help="worker processes (default: the number of CPUs)")
    batch.add_argument("--resume", action="store_true",
                       help="skip files that already have a row in --out")
    parser.set_defaults(run=run)


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError("--jobs must be between 1 and 256")
    return value


def _progress_to(stream: TextIO) -> ProgressCallback:
    started_s = time.monotonic()

    def show(stage: str, done: float) -> None:
        elapsed_s = time.monotonic() - started_s
        print(f"analyze: {stage} ({done:.0%}, {elapsed_s:.1f} s)", file=stream, flush=True)

    return show


def run(args: argparse.Namespace) -> int:
    """Import the file, analyse it and print a table or JSON; exit status 0 (2 on bad input;
    a batch: 1 if any file failed)."""
    if args.start is not None and args.end is not None and args.start >= args.end:
        raise CommandError(f"--start {args.start:g} must come before --end {args.end:g}")
    paths: list[str] = list(args.file)
    if len(paths) > 1 or Path(paths[0]).is_dir() or args.out is not None or args.json_lines \
            or args.resume:
        options = BatchOptions(start_s=args.start, end_s=args.end, correction=args.correction,
                               detrend=args.detrend, unit=args.unit, sampen=args.sampen)
        return run_batch(paths, options, out=args.out, json_lines=args.json_lines,
                         jobs=args.jobs, resume=args.resume)
    beats = load_rr(paths[0], unit=args.unit)
    if args.start is not None or args.end is not None:
        low = -math.inf if args.start is None else args.start
        high = math.inf if args.end is None else args.end
        if not np.any((beats.t_s >= low) & (beats.t_s <= high)):
            span = f"{float(beats.t_s[0]):.1f}-{float(beats.t_s[-1]):.1f} s"
            raise CommandError(f"no beats between --start and --end in {printable(paths[0])} "
                               f"(its beats span {span})")
    progress: ProgressCallback | None = None
    if len(beats) >= PROGRESS_MIN_BEATS:
        progress = _progress_to(sys.stderr)
        print(f"analyze: {len(beats)} beats read from {printable(paths[0])}", file=sys.stderr)
    result = analyze(
        beats.t_s, beats.rr_ms, beats.segment,
        start_s=args.start, end_s=args.end, correction=args.correction,
        detrend=args.detrend, sampen=args.sampen,
        progress=progress,
    )
    if beats.skips.count or beats.info.unit_detected:
        print(f"analyze: {printable(beats.info.describe())}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(format_table(result))
    return 0
