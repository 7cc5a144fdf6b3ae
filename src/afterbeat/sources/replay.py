"""Replay a recording as a live source: a session file, or any RR file the importers read.

Session files (``.jsonl``) are replayed record by record. RR-only files (text, Polar HRM, CSV,
E4 IBI, ``.npy``) become *derived* notifications so that everything goes through the same
codec path as a live strap: the beats ending within each second travel together in one
0x2A37 payload sent at the end of that second (RR raw = ``rr_ms_to_raw(ms)``, at most 9 per
payload, heart-rate field = 60000 / mean of the last 8 RR), and a gap between beat segments
becomes a Disconnect/Reconnect pair. Markers given as ``KIND@SECONDS[:TEXT]`` are merged in
at their session time.

The session clock runs ``speed`` times faster than the wall clock (``speed=None``: as fast
as possible); ``now_s()`` reads it, and once the recording has ended it stays at the last
record's time (a mark made later is at the recording's end, not past it). Records are
identical at every speed, so the pipeline's events are too. ``set_speed`` changes the speed
from now on without a jump in the session clock; with ``reset_speed`` given (the demo: 1.0),
``reset_running(True)`` switches to it while a reset (or a resonance assessment) runs, so a
wall-clock pacer and the data agree, and ``reset_running(False)`` back once every holder has
let go (a reset inside an assessment does not speed the assessment up).
"""

from __future__ import annotations

import asyncio
import heapq
import math
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from afterbeat.errors import AfterbeatError, InvalidValue, SessionFileError
from afterbeat.heart_rate import (
    HeartRateMeasurement,
    SensorContact,
    encode_measurement,
    rr_ms_to_raw,
)
from afterbeat.hrv.beats import Beat
from afterbeat.records import (
    EARLIEST_START,
    MAX_RATING,
    MAX_T_S,
    Disconnect,
    Header,
    Marker,
    MarkerKind,
    Notification,
    Reconnect,
    Record,
    check_number,
    check_started_at,
    check_t_s,
    clean_text,
    describe_value,
)
from afterbeat.sources import ConnectionState, SourceStatus
from afterbeat.storage.importers import FileKind, ImportInfo, detect_kind, iter_beats
from afterbeat.storage.session_file import iter_session

__all__ = [
    "MAX_SPEED",
    "MIN_SPEED",
    "BadMark",
    "ReplaySource",
    "check_speed",
    "derived_notifications",
    "open_recording",
    "parse_mark",
    "with_marks",
]

MAX_RR_PER_PAYLOAD = 9
"""A 20-byte payload with a uint8 heart rate holds at most 9 RR values."""
_HR_FROM_LAST = 8
MIN_SPEED = 0.001
MAX_SPEED = 1e6
"""Replay speeds (session seconds per wall second) outside these are refused."""
_YIELD_EVERY = 256
"""In fast mode, give the event loop a turn every this many records."""


class BadMark(AfterbeatError, ValueError):
    """A ``--mark`` that is not ``KIND@SECONDS[:TEXT]`` with a known kind."""


def parse_mark(text: str) -> Marker:
    """Parse ``KIND@SECONDS[:TEXT]`` (e.g. ``session_end@600``, ``reset_start@700:walk``)."""
    kind_text, at, rest = text.partition("@")
    if not at:
        raise BadMark(f"mark {describe_value(text)} must look like KIND@SECONDS, "
                      "e.g. session_end@600")
    seconds_text, _, note = rest.partition(":")
    try:
        kind = MarkerKind(kind_text.strip().lower())
    except ValueError:
        kinds = ", ".join(k.value for k in MarkerKind)
        raise BadMark(f"unknown marker kind {describe_value(kind_text)}; one of: {kinds}"
                      ) from None
    shown = describe_value(text)
    try:
        t_s = check_t_s(float(seconds_text), "seconds")
    except ValueError as exc:
        raise BadMark(f"mark {shown}: {_reason(exc, seconds_text)} (seconds from the start, "
                      f"0 to {MAX_T_S:g})") from None
    value: float | None = None
    note_text: str | None = clean_text(note, "text") if note else None
    if kind is MarkerKind.RATING and note:
        try:
            value, note_text = check_number(float(note), "rating", 0.0, MAX_RATING), None
        except ValueError as exc:
            raise BadMark(f"rating mark {shown}: {_reason(exc, note)} (a rating is a number "
                          f"from 0 to {MAX_RATING:g})") from None
    return Marker(t_s=t_s, kind=kind, value=value, text=note_text)


def _reason(exc: ValueError, token: str) -> str:
    if isinstance(exc, InvalidValue):
        return str(exc)
    return f"{describe_value(token)} is not a number"


def check_speed(speed: float | None) -> float | None:
    """A replay speed: a positive finite factor up to MAX_SPEED, or None (as fast as possible)."""
    if speed is None:
        return None
    return check_number(speed, "speed", MIN_SPEED, MAX_SPEED)


def _payload(rr_ms: Sequence[float], recent_ms: Sequence[float]) -> bytes:
    mean_ms = sum(recent_ms) / len(recent_ms)
    heart_rate_bpm = min(255, max(0, round(60000.0 / mean_ms))) if mean_ms > 0 else 0
    raw = tuple(min(0xFFFF, max(0, rr_ms_to_raw(v))) for v in rr_ms)
    m = HeartRateMeasurement(heart_rate_bpm=heart_rate_bpm,
                             sensor_contact=SensorContact.DETECTED, rr_raw=raw)
    return encode_measurement(m)


def derived_notifications(beats: Iterable[Beat], wall_start_s: float = 0.0) -> Iterator[Record]:
    """Re-encode beats as about one notification a second; segment gaps become disconnects."""
    recent: list[float] = []
    group: list[float] = []
    group_second: int | None = None
    segment: int | None = None
    last_sent_s = 0.0

    def flush() -> Iterator[Record]:
        nonlocal last_sent_s
        if group_second is None or not group:
            return
        t_s = float(group_second)
        for i in range(0, len(group), MAX_RR_PER_PAYLOAD):
            chunk = group[i : i + MAX_RR_PER_PAYLOAD]
            recent.extend(chunk)
            del recent[:-_HR_FROM_LAST]
            yield Notification(t_s=t_s, wall_s=wall_start_s + t_s, payload=_payload(chunk, recent))
        last_sent_s = t_s

    for beat in beats:
        second = math.floor(beat.t_s) + 1
        if segment is not None and beat.segment != segment:
            yield from flush()
            group, group_second = [], None
            yield Disconnect(t_s=last_sent_s + 0.5, reason="gap in the recording")
            yield Reconnect(t_s=max(last_sent_s + 0.5, beat.t_s - beat.rr_ms / 1000.0))
            recent.clear()
        segment = beat.segment
        if group_second is not None and second != group_second:
            yield from flush()
            group = []
        group_second = second
        group.append(beat.rr_ms)
    yield from flush()


def with_marks(records: Iterable[Record], marks: Sequence[Marker]) -> Iterator[Record]:
    """Merge markers into a record stream by session time (a marker goes before a record at
    the same time)."""
    ordered = sorted(marks, key=lambda m: m.t_s)
    keyed_marks = ((m.t_s, 0, i, m) for i, m in enumerate(ordered))
    keyed_records = ((r.t_s, 1, i, r) for i, r in enumerate(records))
    for _, _, _, item in heapq.merge(keyed_marks, keyed_records, key=lambda k: (k[0], k[1])):
        yield item


def open_recording(
    path: str | os.PathLike[str], unit: str | None = None, info: ImportInfo | None = None
) -> tuple[Header, Iterator[Record]]:
    """Header and records of a session file, or derived records of an RR file.

    ``info`` collects the file kind, the RR unit (and whether it was detected) and the lines
    skipped, filled in as the records are read.
    """
    name = os.fspath(path)
    info = info if info is not None else ImportInfo(path=name)
    if detect_kind(name) is FileKind.SESSION:
        info.kind = FileKind.SESSION
        return iter_session(name, info.skips)
    try:
        stat = Path(name).stat()
    except OSError as exc:
        raise SessionFileError(f"cannot read: {exc.strerror or exc}", path=name) from exc
    if stat.st_size == 0:
        raise SessionFileError("empty file: nothing to replay", path=name)
    try:
        started = check_started_at(datetime.fromtimestamp(math.floor(stat.st_mtime), tz=UTC))
    except (OverflowError, ValueError, OSError):
        started = EARLIEST_START  # a file dated outside 1970..2199: the start is unknown
    header = Header(
        started_at=started,
        device={"name": "Replayed recording (real heartbeats)", "source": Path(name).name},
        provenance={
            "real": f"RR intervals from {Path(name).name}",
            "derived": "notifications re-encoded from the RR values (RR in 1/1024 s = "
            "round(ms * 1.024), about one a second, heart rate from the last 8 RR)",
        },
    )
    return header, derived_notifications(iter_beats(name, unit, info), started.timestamp())


_MAX_SLEEP_S = 0.25
"""Longest single sleep of a paced replay (s), so speed changes apply promptly."""


class ReplaySource:
    """A :class:`~afterbeat.sources.Source` over a recording at ``speed`` (None: as fast as
    possible)."""

    name = "replay"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        speed: float | None = 1.0,
        marks: Sequence[Marker] = (),
        unit: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        reset_speed: float | None = None,
        max_t_s: float | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.speed = check_speed(speed)
        self.base_speed = self.speed
        """The speed outside resets."""
        self.reset_speed = check_speed(reset_speed)
        """The speed while a reset runs (None: unchanged)."""
        self.max_t_s = None if max_t_s is None else check_number(max_t_s, "max_t_s", 0.0, MAX_T_S)
        """Replay stops at the first record after this session time (s); None: the whole."""
        self.cut_at_s: float | None = None
        """The time of the first record not replayed because of ``max_t_s``, if any."""
        self._clock = clock
        self.import_info = ImportInfo(path=self.path)
        """File kind, RR unit and skipped lines, filled in as the replay reads."""
        self._header, records = open_recording(self.path, unit, self.import_info)
        self._records = with_marks(records, marks) if marks else records
        self._start_wall: float | None = None
        self._last_t_s = 0.0
        self._closed = False
        self._ended = False
        self._real_time_holds = 0

    @property
    def header(self) -> Header:
        """The recording's header (derived for RR files)."""
        return self._header

    def now_s(self) -> float:
        """Session clock (s): scaled wall time since the start, or the last record's time
        (as fast as possible, and once the recording has ended: no time passes after its end)."""
        if self.speed is None or self._start_wall is None or self._ended:
            return self._last_t_s
        return (self._clock() - self._start_wall) * self.speed

    def set_speed(self, speed: float) -> None:
        """Replay ``speed`` times faster than real time from now on (session clock unbroken)."""
        speed = check_number(speed, "speed", MIN_SPEED, MAX_SPEED)
        if self.speed is None:
            return  # as fast as possible: no clock to rescale
        if self._start_wall is not None:
            now = self._clock()
            self._start_wall = now - (now - self._start_wall) * self.speed / speed
        self.speed = speed

    def reset_running(self, running: bool) -> None:
        """A paced reset or assessment started (True) or ended: ``reset_speed`` while any runs,
        the base speed once none does (an end without a start is ignored)."""
        self._real_time_holds = max(0, self._real_time_holds + (1 if running else -1))
        if self.reset_speed is None or self.base_speed is None:
            return
        self.set_speed(self.reset_speed if self._real_time_holds else self.base_speed)

    async def stream(self) -> AsyncIterator[Record | SourceStatus]:
        """Yield the records on the scaled clock, between a streaming and a finished status."""
        self._start_wall = self._clock()
        device = self._header.device.get("name")
        yield SourceStatus(t_s=0.0, state=ConnectionState.STREAMING,
                           detail=f"replaying {Path(self.path).name}",
                           device_name=device if isinstance(device, str) else None)
        count = 0
        for record in self._records:
            if self._closed:
                break
            if self.max_t_s is not None and record.t_s > self.max_t_s:
                self.cut_at_s = record.t_s
                self.import_info.skips.add(
                    f"{self.path} t={record.t_s:.3f}s",
                    f"the rest of the recording is not replayed (replay stops after "
                    f"{self.max_t_s:g} s)")
                break
            if self.speed is not None:
                # Short sleeps: a speed change (set_speed) takes effect within a quarter second.
                while self.speed is not None and not self._closed:
                    delay = self._start_wall + record.t_s / self.speed - self._clock()
                    if delay <= 0:
                        break
                    await asyncio.sleep(min(delay, _MAX_SLEEP_S))
            else:
                count += 1
                if count % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
            if self._closed:
                break
            self._last_t_s = max(self._last_t_s, record.t_s)
            yield record
        state = ConnectionState.STOPPED if self._closed else ConnectionState.FINISHED
        self._ended = True  # the session clock stops at the last record replayed
        yield SourceStatus(t_s=self._last_t_s, state=state, detail="end of the recording")

    async def aclose(self) -> None:
        """Stop at the next record and close the file."""
        self._closed = True
        close = getattr(self._records, "close", None)
        if callable(close):
            close()
