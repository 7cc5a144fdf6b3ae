"""Session files: afterbeat's versioned JSON Lines recording format (see docs/session-format.md).

One header line, then one record per line in arrival order. Notification records keep the
raw payload bytes, so every later stage can be replayed from them. Serialisation is pure;
``iter_session`` and ``write_session`` are thin streaming wrappers over files.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from afterbeat.errors import SessionFileError
from afterbeat.records import (
    FORMAT_VERSION,
    DeviceEvent,
    DeviceEventKind,
    Disconnect,
    Header,
    Marker,
    MarkerKind,
    Notification,
    Reconnect,
    Record,
    SkipReport,
)

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "decode_line",
    "encode_header",
    "encode_record",
    "iter_session",
    "write_session",
]

FORMAT_NAME = "afterbeat-session"


def _round_t(t_s: float) -> float:
    return round(t_s, 6)


def encode_header(header: Header) -> str:
    """Serialise a header to one JSON line (no newline)."""
    started = header.started_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    obj: dict[str, Any] = {
        "type": "header",
        "format": FORMAT_NAME,
        "version": header.version,
        "started_at": started,
        "device": header.device,
    }
    if header.provenance:
        obj["provenance"] = header.provenance
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def encode_record(record: Record) -> str:
    """Serialise one record to one JSON line (no newline)."""
    obj: dict[str, Any]
    match record:
        case Notification(t_s, wall_s, payload):
            obj = {"type": "notification", "t_s": _round_t(t_s), "wall_s": round(wall_s, 6),
                   "hex": payload.hex()}
        case Marker(t_s, kind, value, text):
            obj = {"type": "marker", "t_s": _round_t(t_s), "kind": str(kind)}
            if value is not None:
                obj["value"] = value
            if text is not None:
                obj["text"] = text
        case Disconnect(t_s, reason):
            obj = {"type": "disconnect", "t_s": _round_t(t_s)}
            if reason is not None:
                obj["reason"] = reason
        case Reconnect(t_s):
            obj = {"type": "reconnect", "t_s": _round_t(t_s)}
        case DeviceEvent(t_s, kind, value):
            obj = {"type": "device", "t_s": _round_t(t_s), "kind": str(kind), "value": value}
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _number(obj: dict[str, Any], key: str) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"'{key}' must be a finite number, got {value!r}")
    return float(value)


def _header_from(obj: dict[str, Any]) -> Header:
    if obj.get("type") != "header" or obj.get("format") != FORMAT_NAME:
        raise ValueError(f"first line is not an {FORMAT_NAME} header")
    version = obj.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ValueError(f"unsupported format version {version!r} (this afterbeat reads 1)")
    started = obj.get("started_at")
    if not isinstance(started, str):
        raise ValueError("header lacks 'started_at'")
    started_at = datetime.fromisoformat(started.replace("Z", "+00:00"))
    if started_at.tzinfo is None:
        raise ValueError("'started_at' must carry a UTC offset")
    device = obj.get("device") or {}
    provenance = obj.get("provenance") or {}
    if not isinstance(device, dict) or not isinstance(provenance, dict):
        raise ValueError("'device' and 'provenance' must be objects")
    return Header(started_at=started_at, device=device, version=version, provenance=provenance)


def _record_from(obj: dict[str, Any]) -> Record:
    kind = obj.get("type")
    t_s = _number(obj, "t_s")
    match kind:
        case "notification":
            hex_text = obj.get("hex")
            if not isinstance(hex_text, str):
                raise ValueError("notification lacks 'hex'")
            return Notification(t_s=t_s, wall_s=_number(obj, "wall_s"),
                                payload=bytes.fromhex(hex_text))
        case "marker":
            value = obj.get("value")
            text = obj.get("text")
            if value is not None:
                value = _number(obj, "value")
            if text is not None and not isinstance(text, str):
                raise ValueError("marker 'text' must be a string")
            return Marker(t_s=t_s, kind=MarkerKind(str(obj.get("kind"))), value=value, text=text)
        case "disconnect":
            reason = obj.get("reason")
            return Disconnect(t_s=t_s, reason=reason if isinstance(reason, str) else None)
        case "reconnect":
            return Reconnect(t_s=t_s)
        case "device":
            value = obj.get("value")
            if value is not None and not isinstance(value, int | str):
                raise ValueError("device event 'value' must be an integer or a string")
            return DeviceEvent(t_s=t_s, kind=DeviceEventKind(str(obj.get("kind"))), value=value)
    raise ValueError(f"unknown record type {kind!r}")


def decode_line(line: str, *, header: bool = False) -> Header | Record:
    """Parse one line; raise ValueError (with the reason) when it is not a valid record."""
    obj = json.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("a line must hold a JSON object")
    return _header_from(obj) if header else _record_from(obj)


def iter_session(
    path: str | os.PathLike[str], skips: SkipReport | None = None
) -> tuple[Header, Iterator[Record]]:
    """Open a session file: its header now, its records as a stream; bad lines are skipped."""
    name = os.fspath(path)
    # Undecodable bytes become U+FFFD: the line then fails to parse and is skipped and counted.
    handle = open(name, encoding="utf-8", errors="replace")  # closed by the records generator
    try:
        first = handle.readline()
        if not first.strip():
            raise SessionFileError("empty file: no session header", path=name, line=1)
        try:
            header = decode_line(first, header=True)
        except (ValueError, KeyError) as exc:
            raise SessionFileError(f"bad header: {exc}", path=name, line=1) from exc
    except BaseException:
        handle.close()
        raise
    assert isinstance(header, Header)
    report = skips if skips is not None else SkipReport()

    def records() -> Iterator[Record]:
        with handle:
            for number, line in enumerate(handle, start=2):
                if not line.strip():
                    continue
                try:
                    record = decode_line(line)
                except (ValueError, KeyError) as exc:
                    report.add(f"{name}:{number}", str(exc))
                    continue
                assert not isinstance(record, Header)
                yield record

    return header, records()


def write_session(
    path: str | os.PathLike[str] | IO[str], header: Header, records: Iterable[Record]
) -> None:
    """Write a whole session file (mode 0600 when given a path)."""
    if isinstance(path, str | os.PathLike):
        fd = os.open(Path(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            _write(handle, header, records)
    else:
        _write(path, header, records)


def _write(handle: IO[str], header: Header, records: Iterable[Record]) -> None:
    handle.write(encode_header(header) + "\n")
    for record in records:
        handle.write(encode_record(record) + "\n")
