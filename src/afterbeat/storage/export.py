"""RR export as CSV: one row per RR interval, raw (1/1024 s) and in ms, for spreadsheets and peers.

The session file (JSONL) stays the lossless export; this table is for people who want their
raw RR elsewhere. Times are the notification's arrival on the session clock (``t_s``) and in
UTC (the header's start plus ``t_s``). Gaps, markers and device events get their own rows, so
nobody computes across a gap by accident. Text cells that a spreadsheet would run as a formula
(starting with = + - @ tab or CR) are written with a leading apostrophe (OWASP's advice on CSV
injection). Pure apart from ``write_rr_csv``'s file.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import IO, Final

from afterbeat.errors import MalformedMeasurement
from afterbeat.heart_rate import decode_measurement
from afterbeat.records import (
    DeviceEvent,
    Disconnect,
    Header,
    Marker,
    Notification,
    Reconnect,
    Record,
)

__all__ = ["FORMULA_STARTS", "RR_CSV_COLUMNS", "RR_CSV_SCHEMA", "neutralise_cell", "rr_csv_rows",
           "write_rr_csv"]

RR_CSV_SCHEMA: Final = "afterbeat-rr-csv/1"
"""Value of the ``schema`` column; changes when the columns do."""

RR_CSV_COLUMNS: Final = (
    "schema", "t_s", "utc", "type", "heart_rate_bpm", "sensor_contact", "energy_expended_kj",
    "rr_index", "rr_raw_1024", "rr_ms", "detail",
)

Row = dict[str, str | int | float | None]


def _utc(header: Header, t_s: float) -> str:
    moment = header.started_at.astimezone(UTC) + timedelta(seconds=t_s)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rr_csv_rows(header: Header, records: Iterable[Record]) -> Iterator[Row]:
    """Rows of the RR table: one per RR value, per RR-less or malformed notification, per event."""
    for record in records:
        base: Row = {"schema": RR_CSV_SCHEMA, "t_s": round(record.t_s, 6),
                     "utc": _utc(header, record.t_s)}
        match record:
            case Notification(payload=payload):
                try:
                    m = decode_measurement(payload)
                except MalformedMeasurement as exc:
                    yield base | {"type": "malformed", "detail": f"{payload.hex()}: {exc}"}
                    continue
                beat = base | {"heart_rate_bpm": m.heart_rate_bpm,
                               "sensor_contact": str(m.sensor_contact),
                               "energy_expended_kj": m.energy_expended_kj}
                if not m.rr_raw:
                    yield beat | {"type": "heart_rate"}
                for index, (raw, ms) in enumerate(zip(m.rr_raw, m.rr_ms, strict=True)):
                    yield beat | {"type": "rr", "rr_index": index, "rr_raw_1024": raw,
                                  "rr_ms": round(ms, 3)}
            case Disconnect(reason=reason):
                yield base | {"type": "gap_start", "detail": reason}
            case Reconnect():
                yield base | {"type": "gap_end"}
            case Marker(kind=kind, value=value, text=text):
                detail = " ".join(str(v) for v in (value, text) if v is not None)
                yield base | {"type": f"marker:{kind}", "detail": detail or None}
            case DeviceEvent(kind=kind, value=value):
                yield base | {"type": f"device:{kind}",
                              "detail": None if value is None else str(value)}


def write_rr_csv(target: str | os.PathLike[str] | IO[str], header: Header,
                 records: Iterable[Record]) -> None:
    """Write the RR table as CSV (a new file is created 0600)."""
    if isinstance(target, str | os.PathLike):
        path = Path(target)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        if os.fstat(fd).st_mode & 0o077:
            path.chmod(0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            _write(handle, header, records)
    else:
        _write(target, header, records)


FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is read as a formula by spreadsheets (OWASP CSV
injection); such cells are written with a leading apostrophe."""


def neutralise_cell(value: str | int | float | None) -> str | int | float | None:
    """A CSV cell made safe from formula injection: text starting with = + - @ tab or CR gets
    a leading ``'`` (numbers are left as they are)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _write(handle: IO[str], header: Header, records: Iterable[Record]) -> None:
    # CRLF line ends (RFC 4180): Python's writer then quotes cells holding CR or LF, so a
    # note with a carriage return cannot split its row.
    writer = csv.DictWriter(handle, fieldnames=RR_CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({key: neutralise_cell(value) for key, value in row.items()}
                     for row in rr_csv_rows(header, records))
