"""Session files: afterbeat's versioned JSON Lines recording format (see docs/session-format.md).

One header line, then one record per line in arrival order. Notification records keep the
raw payload bytes, so every later stage can be replayed from them. Serialisation is pure;
``iter_session`` and ``write_session`` are thin streaming wrappers over files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from datetime import UTC
from pathlib import Path
from typing import IO, Any

from afterbeat.errors import InvalidValue, SessionFileError
from afterbeat.records import (
    FORMAT_VERSION,
    MAX_DEVICE_INT,
    MAX_MARKER_VALUE,
    MAX_PAYLOAD_BYTES,
    MAX_RATING,
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
    check_number,
    check_t_s,
    check_wall_s,
    clean_json,
    clean_text,
    describe_value,
    parse_started_at,
)
from afterbeat.storage.lines import MAX_LINE_CHARS, bounded_lines

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


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _text_of(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ValueError(key)
    return value


def _header_from(obj: dict[str, Any]) -> Header:
    if obj.get("type") != "header" or obj.get("format") != FORMAT_NAME:
        raise InvalidValue("type", f"first line is not an {FORMAT_NAME} header")
    version = obj.get("version")
    if type(version) is not int or not 1 <= version <= FORMAT_VERSION:
        raise InvalidValue("version", f"unsupported format version {describe_value(version)} "
                           f"(this afterbeat reads {FORMAT_VERSION})")
    started_at = parse_started_at(obj.get("started_at"))
    device = obj.get("device")
    provenance = obj.get("provenance")
    device = {} if device is None else device
    provenance = {} if provenance is None else provenance
    if not isinstance(device, dict):
        raise InvalidValue("device", "must be an object")
    if not isinstance(provenance, dict):
        raise InvalidValue("provenance", "must be an object")
    return Header(started_at=started_at, device=clean_json(device, "device"), version=version,
                  provenance=clean_json(provenance, "provenance"))


def _record_from(obj: dict[str, Any]) -> Record:
    kind = obj.get("type")
    t_s = check_t_s(obj.get("t_s"))
    match kind:
        case "notification":
            hex_text = obj.get("hex")
            if not isinstance(hex_text, str):
                raise InvalidValue("hex", "notification lacks 'hex'")
            if len(hex_text) > 2 * MAX_PAYLOAD_BYTES:
                raise InvalidValue("hex", f"payload longer than {MAX_PAYLOAD_BYTES} bytes")
            try:
                payload = bytes.fromhex(hex_text)
            except ValueError:
                raise InvalidValue("hex", f"{describe_value(hex_text)} is not hexadecimal"
                                   ) from None
            return Notification(t_s=t_s, wall_s=check_wall_s(obj.get("wall_s")), payload=payload)
        case "marker":
            try:
                marker_kind = MarkerKind(_text_of(obj, "kind"))
            except ValueError:
                shown = describe_value(obj.get("kind"))
                raise InvalidValue("kind", f"unknown marker kind {shown}") from None
            value = obj.get("value")
            if value is not None:
                value = (check_number(value, "value", 0.0, MAX_RATING)
                         if marker_kind is MarkerKind.RATING
                         else check_number(value, "value", -MAX_MARKER_VALUE, MAX_MARKER_VALUE))
            text = obj.get("text")
            if text is not None:
                text = clean_text(text, "text")
            return Marker(t_s=t_s, kind=marker_kind, value=value, text=text)
        case "disconnect":
            reason = obj.get("reason")
            return Disconnect(t_s=t_s,
                              reason=clean_text(reason, "reason") if isinstance(reason, str)
                              else None)
        case "reconnect":
            return Reconnect(t_s=t_s)
        case "device":
            try:
                device_kind = DeviceEventKind(_text_of(obj, "kind"))
            except ValueError:
                shown = describe_value(obj.get("kind"))
                raise InvalidValue("kind", f"unknown device event kind {shown}") from None
            value = obj.get("value")
            if isinstance(value, str):
                value = clean_text(value, "value")
            elif value is not None:
                if type(value) is not int:
                    raise InvalidValue("value", "device event value must be an integer or a "
                                       "string")
                check_number(value, "value", -MAX_DEVICE_INT, MAX_DEVICE_INT)
            return DeviceEvent(t_s=t_s, kind=device_kind, value=value)
    raise InvalidValue("type", f"unknown record type {describe_value(kind)}")


def decode_line(line: str, *, header: bool = False) -> Header | Record:
    """Parse one line; raise SessionFileError (a ValueError naming the field) when it is not a
    valid header or record."""
    if len(line) > MAX_LINE_CHARS:
        raise SessionFileError(f"line longer than {MAX_LINE_CHARS} characters")
    try:
        obj = json.loads(line, parse_constant=_refuse_constant)
    except RecursionError:
        raise SessionFileError("not JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, over-long integers
        raise SessionFileError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise SessionFileError("a line must hold a JSON object")
    try:
        return _header_from(obj) if header else _record_from(obj)
    except InvalidValue as exc:
        raise SessionFileError(str(exc)) from None


def iter_session(
    path: str | os.PathLike[str], skips: SkipReport | None = None
) -> tuple[Header, Iterator[Record]]:
    """Open a session file: its header now, its records as a stream; bad lines are skipped.

    Lines longer than MAX_LINE_CHARS are skipped (and counted) without being read whole.
    """
    name = os.fspath(path)
    try:
        # Undecodable bytes become U+FFFD: the line then fails to parse and is skipped, counted.
        handle = open(name, encoding="utf-8", errors="replace")  # closed by the generator
    except OSError as exc:
        raise SessionFileError(f"cannot read: {exc.strerror or exc}", path=name) from exc
    try:
        lines = bounded_lines(handle)
        number, first = next(lines, (1, ""))
        if first is None:
            raise SessionFileError(f"header line longer than {MAX_LINE_CHARS} characters",
                                   path=name, line=1)
        if not first.strip():
            raise SessionFileError("empty file: no session header", path=name, line=1)
        try:
            header = decode_line(first, header=True)
        except ValueError as exc:
            raise SessionFileError(f"bad header: {exc}", path=name, line=1) from exc
    except BaseException:
        handle.close()
        raise
    assert isinstance(header, Header)
    report = skips if skips is not None else SkipReport()

    def records() -> Iterator[Record]:
        with handle:
            for number, line in lines:
                if line is None:
                    report.add(f"{name}:{number}", f"line longer than {MAX_LINE_CHARS} "
                               "characters")
                    continue
                if not line.strip():
                    continue
                try:
                    record = decode_line(line)
                except ValueError as exc:
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
