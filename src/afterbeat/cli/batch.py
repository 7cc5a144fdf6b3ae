"""``afterbeat analyze`` over many files and folders: one row per file, in a process pool.

Each worker analyses one file at a time and is replaced every few files, so its memory stays
flat. Every file gives a row with its name, the same keys as single-file ``--json``, the notes
and any error; one bad file never stops the batch. Rows are written as they finish (CSV or
JSON Lines; Parquet, which needs pyarrow, at the end), so an interrupted batch resumes with
``--resume``: files already in the output are skipped. A progress line on a terminal says
files done, beats per second and time left; it stays quiet when stderr is not a terminal.
"""

from __future__ import annotations

import csv
import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from afterbeat.errors import AfterbeatError
from afterbeat.hrv.analysis import RESULT_KEYS, Correction, analyze
from afterbeat.hrv.metrics import Detrend
from afterbeat.storage.importers import load_rr

__all__ = [
    "BATCH_KEYS",
    "RECORDING_SUFFIXES",
    "BatchOptions",
    "Progress",
    "analyze_one",
    "done_files",
    "find_recordings",
    "run_batch",
]

RECORDING_SUFFIXES: Final = frozenset({".txt", ".rr", ".csv", ".hrm", ".npy", ".jsonl"})
"""File endings taken from folders (files named on the command line are always tried)."""

BATCH_KEYS: Final = ("file", *RESULT_KEYS, "notes", "error")
"""Columns of a batch result, in order."""

_TASKS_PER_WORKER: Final = 8
"""A worker is replaced after this many files, so its memory stays that of one file."""


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """What every file is analysed with (the single-file options of ``afterbeat analyze``)."""

    start_s: float | None = None
    end_s: float | None = None
    correction: Correction = "auto"
    detrend: Detrend = "smoothness-priors"
    unit: str | None = None
    sampen: bool = True


def find_recordings(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files named, plus recordings found in folders (recursively), sorted, each once."""
    found: dict[str, Path] = {}
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in RECORDING_SUFFIXES \
                        and not child.name.startswith("."):
                    found.setdefault(str(child), child)
        else:
            found.setdefault(str(path), path)
    return list(found.values())


def analyze_one(path: str, options: BatchOptions) -> tuple[dict[str, Any], int]:
    """One row for one file (never raises for a bad file) and the number of beats read."""
    row: dict[str, Any] = {key: None for key in BATCH_KEYS}
    row["file"] = path
    beats_read = 0
    try:
        beats = load_rr(path, unit=options.unit)
        beats_read = len(beats)
        result = analyze(beats.t_s, beats.rr_ms, beats.segment, start_s=options.start_s,
                         end_s=options.end_s, correction=options.correction,
                         detrend=options.detrend, sampen=options.sampen)
    except (AfterbeatError, OSError, ValueError, MemoryError, RecursionError) as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row, beats_read
    data = result.to_json()
    row.update({key: data[key] for key in RESULT_KEYS})
    notes = list(result.notes)
    if beats.skips.count:
        notes.append(beats.skips.summary())
    row["notes"] = "; ".join(notes)
    return row, beats_read


@dataclass(slots=True)
class Progress:
    """Files done, beats per second and time left, as one line (pure: time passed in)."""

    total_files: int
    started_s: float
    done_files: int = 0
    beats: int = 0
    failed: int = 0
    _line_chars: int = field(default=0, repr=False)

    def add(self, beats: int, failed: bool) -> None:
        """Count one finished file."""
        self.done_files += 1
        self.beats += beats
        self.failed += int(failed)

    def line(self, now_s: float) -> str:
        """The progress line at ``now_s``."""
        elapsed_s = max(now_s - self.started_s, 1e-9)
        rate = self.beats / elapsed_s
        share = self.done_files / self.total_files if self.total_files else 1.0
        left = "?" if self.done_files == 0 else _clock(elapsed_s * (1.0 - share) / share)
        bar_chars = 20
        filled = int(round(share * bar_chars))
        failed = f", {self.failed} failed" if self.failed else ""
        return (f"[{'#' * filled}{'.' * (bar_chars - filled)}] {self.done_files}/"
                f"{self.total_files} files{failed}, {_si(rate)} beats/s, {left} left")


def _clock(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}" if whole >= 3600 \
        else f"{whole // 60}:{whole % 60:02d}"


def _si(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e3:
        return f"{value / 1e3:.0f}k"
    return f"{value:.0f}"


def _format_of(out: Path | None, json_lines: bool) -> str:
    if out is None:
        return "jsonl" if json_lines else "csv"
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        return "parquet"
    if suffix in (".jsonl", ".ndjson") or json_lines:
        return "jsonl"
    return "csv"


def done_files(out: Path, fmt: str) -> set[str]:
    """Files that already have a row in an earlier output (for ``--resume``)."""
    if not out.is_file():
        return set()
    if fmt == "parquet":
        import pyarrow.parquet as pq  # the optional extra; checked before we get here

        return {str(v) for v in pq.read_table(out, columns=["file"]).column("file").to_pylist()}
    seen: set[str] = set()
    with out.open(encoding="utf-8", errors="replace", newline="") as handle:
        if fmt == "jsonl":
            for line in handle:
                try:
                    seen.add(str(json.loads(line)["file"]))
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by an interrupted run is redone
        else:
            seen.update(row["file"] for row in csv.DictReader(handle) if row.get("file"))
    return seen


def _csv_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return "" if value is None else value


class _Writer:
    """Rows out as they come (CSV, JSON Lines) or all at the end (Parquet)."""

    def __init__(self, out: Path | None, fmt: str, append: bool, stdout: TextIO) -> None:
        self.fmt = fmt
        self.out = out
        self.rows: list[dict[str, Any]] = []
        self.handle: TextIO | None = None
        if fmt != "parquet":
            if out is None:
                self.handle = stdout
            else:
                fd = os.open(out, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append
                                                               else os.O_TRUNC), 0o600)
                self.handle = os.fdopen(fd, "w", encoding="utf-8", newline="")
        self.csv: csv.DictWriter[str] | None = None
        if fmt == "csv" and self.handle is not None:
            self.csv = csv.DictWriter(self.handle, fieldnames=BATCH_KEYS)
            if not (append and out is not None and out.stat().st_size > 0):
                self.csv.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        if self.fmt == "parquet":
            self.rows.append(row)
            return
        assert self.handle is not None
        if self.csv is not None:
            self.csv.writerow({k: _csv_value(v) for k, v in row.items()})
        else:
            self.handle.write(json.dumps(row, allow_nan=False, default=str) + "\n")
        self.handle.flush()

    def close(self, earlier: Sequence[dict[str, Any]] = ()) -> None:
        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            assert self.out is not None
            table = pa.Table.from_pylist([*earlier, *self.rows])
            pq.write_table(table, self.out)
            os.chmod(self.out, 0o600)
        elif self.handle is not None and self.out is not None:
            self.handle.close()


def _earlier_parquet_rows(out: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return list(pq.read_table(out).to_pylist()) if out.is_file() else []


def run_batch(paths: Sequence[str], options: BatchOptions, *, out: Path | None = None,
              json_lines: bool = False, jobs: int | None = None, resume: bool = False,
              stdout: TextIO | None = None, stderr: TextIO | None = None,
              progress: bool | None = None) -> int:
    """Analyse every recording under ``paths``; exit status 0, or 1 if any file failed."""
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    fmt = _format_of(out, json_lines)
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            raise AfterbeatError("Parquet output needs pyarrow: pip install 'afterbeat[lab]' "
                                 "(or write .csv / .jsonl)") from exc
    if resume and out is None:
        raise AfterbeatError("--resume needs --out FILE (the results to continue)")
    files = find_recordings(paths)
    skip = done_files(out, fmt) if resume and out is not None else set()
    todo = [f for f in files if str(f) not in skip]
    earlier = _earlier_parquet_rows(out) if fmt == "parquet" and resume and out else []
    writer = _Writer(out, fmt, append=resume, stdout=stdout)
    show = stderr.isatty() if progress is None else progress
    state = Progress(total_files=len(todo), started_s=time.monotonic())
    if skip:
        print(f"analyze: {len(files) - len(todo)} file(s) already in {out}, skipped",
              file=stderr)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
    try:
        for row, beats in _rows(todo, options, workers):
            writer.write(row)
            state.add(beats, failed=row["error"] is not None)
            if show:
                print("\r" + state.line(time.monotonic()), end="", file=stderr, flush=True)
    finally:
        writer.close(earlier)
        if show:
            print(file=stderr)
    where = f" to {out}" if out is not None else ""
    print(f"analyze: {state.done_files} file(s), {state.beats} beats{where}; "
          f"{state.failed} could not be analysed", file=stderr)
    return 1 if state.failed else 0


def _rows(files: Sequence[Path], options: BatchOptions, workers: int
          ) -> Iterator[tuple[dict[str, Any], int]]:
    if workers == 1:
        for path in files:
            yield analyze_one(str(path), options)
        return
    # multiprocessing.Pool rather than ProcessPoolExecutor: the executor's max_tasks_per_child
    # can deadlock on Python 3.11 when it replaces a worker (CPython gh-115634).
    with multiprocessing.Pool(workers, maxtasksperchild=_TASKS_PER_WORKER) as pool:
        yield from pool.imap_unordered(_analyze_path, [(str(p), options) for p in files])


def _analyze_path(job: tuple[str, BatchOptions]) -> tuple[dict[str, Any], int]:
    return analyze_one(*job)
