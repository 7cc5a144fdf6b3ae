"""Importers: RR files of many kinds into afterbeat's one beat stream, read as a stream.

Supported: plain RR text (ms or s, one a line or separated by spaces or commas), Polar HRM
exports (``[HRData]`` in R-R mode), Elite HRV exports (per-reading text, one RR in ms a line),
CSV with an RR/IBI column (Empatica E4 ``IBI.csv`` included), NumPy ``.npy`` RR arrays, and
afterbeat session files (``.jsonl``). A stray bad line is skipped and counted in a
``SkipReport``; a file that cannot be read at all raises ``SessionFileError`` naming the file
and line. Units are detected only when the values leave no doubt, and the detection is
reported; otherwise ``AmbiguousUnit`` asks for ``unit=``.
"""

from __future__ import annotations

import csv
import enum
import io
import math
import os
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TextIO

import numpy as np
import numpy.typing as npt

from afterbeat.errors import (
    AmbiguousUnit,
    SessionFileError,
    UnsupportedFormat,
)
from afterbeat.hrv.beats import Beat, record_beats
from afterbeat.records import (
    MAX_RR_MS,
    MAX_T_S,
    SkipReport,
    describe_value,
)
from afterbeat.storage.lines import (
    MAX_LINE_CHARS,
    MAX_TOKEN_CHARS,
    bounded_lines,
    text_tokens,
)
from afterbeat.storage.session_file import FORMAT_NAME, iter_session

__all__ = [
    "BeatArrays",
    "FileKind",
    "ImportInfo",
    "RRUnit",
    "detect_kind",
    "iter_beats",
    "load_rr",
]

_DETECT_COUNT = 64
"""How many leading values decide the unit."""
_MS_RANGE = (200.0, 3000.0)
_S_RANGE = (0.2, 3.0)
_SNIFF_CHARS = 4096
"""Characters of the first line read to tell a file's kind."""
_RR_COLUMN_NAMES = ("rr", "rri", "ibi", "nn", "rr_interval", "rr_intervals", "r-r", "rr-interval")


class RRUnit(enum.StrEnum):
    """Unit of RR values in a file."""

    MS = "ms"
    S = "s"


class FileKind(enum.StrEnum):
    """The importable file kinds."""

    SESSION = "session"
    RR_TEXT = "rr_text"
    POLAR_HRM = "polar_hrm"
    CSV = "csv"
    NPY = "npy"


@dataclass(slots=True)
class ImportInfo:
    """What an import found: file kind, unit and how it was known, skipped lines."""

    path: str
    kind: FileKind | None = None
    unit: RRUnit | None = None
    unit_detected: bool = False
    """True when the unit was inferred from unambiguous values rather than given or stated."""
    skips: SkipReport = field(default_factory=SkipReport)

    def describe(self) -> str:
        """One line for people: kind, unit (and whether detected), skipped lines."""
        unit = "-" if self.unit is None else str(self.unit)
        how = " (detected from the values)" if self.unit_detected else ""
        return f"{self.path}: {self.kind}, RR in {unit}{how}; {self.skips.summary()}"


@dataclass(frozen=True, slots=True)
class BeatArrays:
    """A whole beat stream as arrays: beat times (s), RR (ms) and segment numbers."""

    t_s: npt.NDArray[np.float64]
    rr_ms: npt.NDArray[np.float64]
    segment: npt.NDArray[np.int64]
    info: ImportInfo

    @property
    def skips(self) -> SkipReport:
        """Lines skipped while reading."""
        return self.info.skips

    def __len__(self) -> int:
        return int(self.rr_ms.size)


def detect_kind(path: str | os.PathLike[str]) -> FileKind:
    """Tell the file kind from its name and first line."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".npy":
        return FileKind.NPY
    try:
        with open(p, encoding="utf-8", errors="replace") as handle:
            first = handle.readline(_SNIFF_CHARS).strip()
    except OSError as exc:
        raise SessionFileError(f"cannot open: {exc.strerror or exc}", path=str(p)) from exc
    if first.startswith("{") and FORMAT_NAME in first:
        return FileKind.SESSION
    if suffix == ".hrm" or first == "[Params]":
        return FileKind.POLAR_HRM
    if suffix == ".csv" or (first and any(c.isalpha() for c in first) and "," in first):
        return FileKind.CSV
    return FileKind.RR_TEXT


def _resolve_unit(values: list[float], given: RRUnit | None, info: ImportInfo) -> float:
    """Return the factor to milliseconds; detect the unit only when the values are unambiguous."""
    if given is not None:
        info.unit = given
        return 1000.0 if given is RRUnit.S else 1.0
    finite = [v for v in values if math.isfinite(v) and v > 0]
    if not finite:
        raise AmbiguousUnit(
            "no positive RR values to tell the unit from; pass --unit ms or --unit s",
            path=info.path,
        )
    median = float(np.median(finite))
    if _MS_RANGE[0] <= median <= _MS_RANGE[1]:
        info.unit, info.unit_detected = RRUnit.MS, True
        return 1.0
    if _S_RANGE[0] <= median <= _S_RANGE[1]:
        info.unit, info.unit_detected = RRUnit.S, True
        return 1000.0
    raise AmbiguousUnit(
        f"RR values around {median:g} fit neither milliseconds nor seconds; "
        "pass --unit ms or --unit s",
        path=info.path,
    )


def _cumulative(rr_values: Iterable[float], factor: float, info: ImportInfo) -> Iterator[Beat]:
    t_s = 0.0
    for index, value in enumerate(rr_values, start=1):
        rr_ms = value * factor
        if rr_ms > MAX_RR_MS:
            info.skips.add(f"{info.path} value {index}",
                           f"RR of {rr_ms:g} ms is longer than {MAX_RR_MS:g} ms")
            continue
        t_s += rr_ms / 1000.0
        if t_s > MAX_T_S:
            raise SessionFileError(
                f"value {index}: the beats add up to more than {MAX_T_S:g} s (a year); "
                "is this an RR file?", path=info.path)
        yield Beat(t_s=t_s, rr_ms=rr_ms, segment=0)


def _with_unit(
    numbers: Iterator[float], unit: RRUnit | None, info: ImportInfo
) -> Iterator[Beat]:
    head = [v for _, v in zip(range(_DETECT_COUNT), numbers, strict=False)]
    if not head:
        return iter(())
    factor = _resolve_unit(head, unit, info)
    return _cumulative(chain(head, numbers), factor, info)


def _parse_number(token: str, where: str, skips: SkipReport,
                  high: float = MAX_RR_MS) -> float | None:
    """A number in [0, high] from ``token``, or None with the reason counted in ``skips``."""
    if len(token) > MAX_TOKEN_CHARS:
        skips.add(where, f"value longer than {MAX_TOKEN_CHARS} characters")
        return None
    try:
        value = float(token)
    except ValueError:
        skips.add(where, f"not a number: {describe_value(token)}")
        return None
    if not 0.0 <= value <= high:  # NaN fails too
        skips.add(where, f"not a valid value (0..{high:g}): {describe_value(token)}")
        return None
    return value


def _text_numbers(handle: TextIO, path: str, skips: SkipReport, first_line: int = 1
                  ) -> Iterator[float]:
    for number, token in text_tokens(handle, first_line):
        value = _parse_number(token, f"{path}:{number}", skips)
        if value is not None:
            yield value


def _rr_text(path: str, unit: RRUnit | None, info: ImportInfo) -> Iterator[Beat]:
    handle = open(path, encoding="utf-8", errors="replace")  # closed by the generator
    with handle:
        yield from _with_unit(_text_numbers(handle, path, info.skips), unit, info)


def _polar_hrm(path: str, unit: RRUnit | None, info: ImportInfo) -> Iterator[Beat]:
    with open(path, encoding="utf-8", errors="replace") as handle:
        section = ""
        interval: str | None = None
        for number, raw in bounded_lines(handle):
            if raw is None:
                info.skips.add(f"{path}:{number}", f"line longer than {MAX_LINE_CHARS} "
                               "characters")
                continue
            line = raw.strip()
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                if section == "HRData":
                    if interval is not None and interval != "238":
                        raise UnsupportedFormat(
                            f"this HRM file holds heart rate samples every {interval} s, not R-R "
                            "intervals (Interval=238 marks R-R recordings)",
                            path=path, line=number,
                        )
                    numbers = _text_numbers(handle, path, info.skips, first_line=number + 1)
                    # Polar HRM R-R data is in milliseconds unless told otherwise.
                    yield from _with_unit(numbers, unit or RRUnit.MS, info)
                    return
                continue
            if section == "Params" and line.startswith("Interval="):
                interval = line.split("=", 1)[1].strip()
        raise SessionFileError("no [HRData] section in this Polar HRM file", path=path)


def _csv_rr_column(names: list[str]) -> tuple[int, RRUnit | None]:
    lowered = [n.strip().lower() for n in names]
    for index, name in enumerate(lowered):
        base = name.replace("(", " ").replace(")", " ").replace("[", " ").replace("]", " ")
        words = base.replace("_", " ").split()
        stem = words[0] if words else ""
        if stem in _RR_COLUMN_NAMES or name in _RR_COLUMN_NAMES:
            unit: RRUnit | None = None
            if "ms" in words[1:] or name.endswith("_ms"):
                unit = RRUnit.MS
            elif "s" in words[1:] or "sec" in words[1:] or name.endswith("_s"):
                unit = RRUnit.S
            return index, unit
    raise ValueError("no RR column (looked for rr, rri, ibi, nn, rr_interval, rr_ms ...)")


def _e4_ibi(reader: Iterator[tuple[int, list[str]]], path: str, unit: RRUnit | None,
            info: ImportInfo) -> Iterator[Beat]:
    """Empatica E4 IBI.csv: beat time (s), IBI; a new segment where beats are lost."""

    def rows() -> Iterator[tuple[float, float]]:
        for number, row in reader:
            if len(row) < 2:
                info.skips.add(f"{path}:{number}", "expected two columns")
                continue
            t_s = _parse_number(row[0].strip(), f"{path}:{number}", info.skips, MAX_T_S)
            ibi = _parse_number(row[1].strip(), f"{path}:{number}", info.skips)
            if t_s is not None and ibi is not None:
                yield t_s, ibi

    stream = rows()
    head = [pair for _, pair in zip(range(_DETECT_COUNT), stream, strict=False)]
    if not head:
        return
    # E4 writes seconds; the values still decide, so a file in ms is never read 1000x off.
    factor = _resolve_unit([ibi for _, ibi in head], unit, info)
    segment = 0
    previous_t_s: float | None = None
    for t_s, ibi in chain(head, stream):
        rr_ms = ibi * factor
        if rr_ms > MAX_RR_MS:
            info.skips.add(f"{path} t={t_s:.3f}s",
                           f"RR of {rr_ms:g} ms is longer than {MAX_RR_MS:g} ms")
            continue
        if previous_t_s is not None and t_s - previous_t_s > rr_ms / 1000.0 + 0.25:
            segment += 1
        previous_t_s = t_s
        yield Beat(t_s=t_s, rr_ms=rr_ms, segment=segment)


def _csv_rows(handle: TextIO, path: str, skips: SkipReport) -> Iterator[tuple[int, list[str]]]:
    """(line number, row) pairs of a CSV file read in bounded lines; bad rows are counted."""

    def lines() -> Iterator[str]:
        for number, line in bounded_lines(handle):
            if line is None:
                skips.add(f"{path}:{number}", f"line longer than {MAX_LINE_CHARS} characters")
                yield "\n"  # keeps the reader's line count
            else:
                yield line

    reader = csv.reader(lines())
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over csv.field_size_limit()
            skips.add(f"{path}:{reader.line_num}", f"unreadable CSV row: {exc}")
            continue
        yield reader.line_num, row


def _csv(path: str, unit: RRUnit | None, info: ImportInfo) -> Iterator[Beat]:
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        reader = _csv_rows(handle, path, info.skips)
        try:
            _, header = next(reader)
        except StopIteration:
            raise SessionFileError("empty CSV file", path=path, line=1) from None
        if len(header) == 2 and header[1].strip().upper() == "IBI":
            yield from _e4_ibi(reader, path, unit, info)
            return
        try:
            column, stated = _csv_rr_column(header)
        except ValueError as exc:
            shown = describe_value(",".join(header))
            raise SessionFileError(f"{exc}; header is {shown}", path=path, line=1) from exc

        def numbers() -> Iterator[float]:
            for number, row in reader:
                if column >= len(row) or not row[column].strip():
                    continue  # rows of other kinds (e.g. an HR row) leave the RR cell empty
                value = _parse_number(row[column].strip(), f"{path}:{number}", info.skips)
                if value is not None:
                    yield value

        yield from _with_unit(numbers(), unit or stated, info)


def _npy(path: str, unit: RRUnit | None, info: ImportInfo) -> Iterator[Beat]:
    try:
        values = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SessionFileError(f"not a readable .npy array: {exc}", path=path) from exc
    if values.ndim != 1 or values.dtype.kind not in "iuf":
        raise SessionFileError(
            f"expected a 1-D numeric RR array, got shape {values.shape} of {values.dtype}",
            path=path,
        )

    def chunks() -> Iterator[float]:
        for start in range(0, values.size, 8192):
            for index, value in enumerate(values[start : start + 8192].tolist(), start=start):
                if 0 <= value <= MAX_RR_MS:  # NaN fails too
                    yield float(value)
                else:
                    info.skips.add(f"{path}[{index}]", f"not a valid RR value: {value!r}")

    yield from _with_unit(chunks(), unit, info)


def _session(path: str, info: ImportInfo) -> Iterator[Beat]:
    info.unit = RRUnit.MS
    _header, records = iter_session(path, info.skips)
    yield from record_beats(records, path, info.skips)


def iter_beats(
    path: str | os.PathLike[str],
    unit: RRUnit | str | None = None,
    info: ImportInfo | None = None,
) -> Iterator[Beat]:
    """Stream the beats of any importable file in constant memory."""
    name = os.fspath(path)
    info = info if info is not None else ImportInfo(path=name)
    given = RRUnit(unit) if unit is not None else None
    kind = detect_kind(name)
    info.kind = kind
    match kind:
        case FileKind.SESSION:
            return _session(name, info)
        case FileKind.POLAR_HRM:
            return _polar_hrm(name, given, info)
        case FileKind.CSV:
            return _csv(name, given, info)
        case FileKind.NPY:
            return _npy(name, given, info)
        case FileKind.RR_TEXT:
            return _rr_text(name, given, info)


def load_rr(path: str | os.PathLike[str], unit: RRUnit | str | None = None) -> BeatArrays:
    """Read a whole file into beat arrays (streamed, so memory is that of the result)."""
    info = ImportInfo(path=os.fspath(path))
    t_s = array("d")
    rr_ms = array("d")
    segment = array("q")
    for beat in iter_beats(path, unit, info):
        t_s.append(beat.t_s)
        rr_ms.append(beat.rr_ms)
        segment.append(beat.segment)
    if not rr_ms:
        raise SessionFileError(f"no RR intervals found ({info.skips.summary()})", path=info.path)
    # The arrays share the buffers (no copy): peak memory is that of the result.
    return BeatArrays(
        t_s=np.frombuffer(t_s, dtype=np.float64),
        rr_ms=np.frombuffer(rr_ms, dtype=np.float64),
        segment=np.frombuffer(segment, dtype=np.int64),
        info=info,
    )


def read_text_rr(text: str, unit: RRUnit | str | None = None) -> BeatArrays:
    """Parse RR values given as text (for tests and the API)."""
    info = ImportInfo(path="<text>", kind=FileKind.RR_TEXT)
    given = RRUnit(unit) if unit is not None else None
    beats = list(_with_unit(_text_numbers(io.StringIO(text), "<text>", info.skips), given, info))
    return BeatArrays(
        t_s=np.array([b.t_s for b in beats], dtype=np.float64),
        rr_ms=np.array([b.rr_ms for b in beats], dtype=np.float64),
        segment=np.zeros(len(beats), dtype=np.int64),
        info=info,
    )
