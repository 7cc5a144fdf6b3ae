"""``afterbeat decode HEX...``: decode one Heart Rate Measurement payload, e.g. from nRF Connect."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from afterbeat.errors import MalformedMeasurement
from afterbeat.heart_rate import HeartRateMeasurement, decode_measurement

__all__ = ["measurement_fields", "parse_hex", "register", "run"]

_SEPARATORS = re.compile(r"[\s:\-,]+")


def parse_hex(parts: list[str]) -> bytes:
    """Join hex bytes written with spaces, colons, dashes or nothing between them."""
    text = _SEPARATORS.sub("", " ".join(parts))
    if text.lower().startswith("0x"):
        text = text[2:]
    if not text:
        raise MalformedMeasurement("no bytes given")
    if len(text) % 2:
        raise MalformedMeasurement(f"odd number of hex digits ({len(text)}) in {text!r}")
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise MalformedMeasurement(f"not hexadecimal: {text!r}") from exc


def measurement_fields(payload: bytes, m: HeartRateMeasurement) -> dict[str, Any]:
    """The decoded fields as a JSON-ready dict, with units in the keys."""
    return {
        "payload_hex": payload.hex(" "),
        "flags": f"0x{payload[0]:02x}",
        "heart_rate_bpm": m.heart_rate_bpm,
        "heart_rate_format": "uint16" if m.heart_rate_uint16 else "uint8",
        "sensor_contact": str(m.sensor_contact),
        "energy_expended_kj": m.energy_expended_kj,
        "rr_count": len(m.rr_raw),
        "rr_raw_1024": list(m.rr_raw),
        "rr_ms": [round(v, 3) for v in m.rr_ms],
        "reserved_bits": f"0x{payload[0] & 0xE0:02x}",
    }


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``decode`` sub-command."""
    parser = subparsers.add_parser(
        "decode",
        help="decode one Heart Rate Measurement (0x2A37) payload given in hex",
        description="Decode one 0x2A37 payload: bytes separated by spaces, colons or nothing "
        "(e.g. '16 4d 16 03', '16:4D:16:03' or 164d1603).",
    )
    parser.add_argument("hex", nargs="+", metavar="HEX", help="payload bytes in hexadecimal")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Decode and print; exit status 2 on a malformed payload."""
    payload = parse_hex(args.hex)
    fields = measurement_fields(payload, decode_measurement(payload))
    if args.json:
        print(json.dumps(fields))
        return 0
    width = max(len(k) for k in fields)
    for key, value in fields.items():
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else value
        print(f"{key:<{width}}  {'-' if shown in (None, '') else shown}")
    return 0
