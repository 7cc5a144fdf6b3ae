"""Codec for the Bluetooth Heart Rate Service: bytes to values and back, no I/O.

Heart Rate Measurement (0x2A37), Body Sensor Location (0x2A38) and Battery Level (0x2A19),
per the GATT Specification Supplement and the SIG characteristic XML. Reserved flag bits
(5-7) are ignored on decode, as the specification asks, and never set on encode.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

from afterbeat.errors import MalformedMeasurement

__all__ = [
    "RR_UNITS_PER_S",
    "BodySensorLocation",
    "Flag",
    "HeartRateMeasurement",
    "SensorContact",
    "decode_battery_level",
    "decode_body_sensor_location",
    "decode_measurement",
    "encode_battery_level",
    "encode_body_sensor_location",
    "encode_measurement",
    "rr_ms_to_raw",
    "rr_raw_to_ms",
]

RR_UNITS_PER_S = 1024
"""RR intervals travel in units of 1/1024 s."""

_UINT16_MAX = 0xFFFF


class Flag(enum.IntFlag):
    """Bits of the Heart Rate Measurement flags byte."""

    HEART_RATE_UINT16 = 0x01
    CONTACT_DETECTED = 0x02
    CONTACT_SUPPORTED = 0x04
    ENERGY_EXPENDED = 0x08
    RR_INTERVALS = 0x10


class SensorContact(enum.StrEnum):
    """Skin contact as the strap reports it: a tri-state, not a boolean."""

    NOT_SUPPORTED = "not_supported"
    NOT_DETECTED = "not_detected"
    DETECTED = "detected"


class BodySensorLocation(enum.IntEnum):
    """Where the sensor sits (0x2A38); values 7-255 are reserved."""

    OTHER = 0
    CHEST = 1
    WRIST = 2
    FINGER = 3
    HAND = 4
    EAR_LOBE = 5
    FOOT = 6


def rr_raw_to_ms(rr_raw: int) -> float:
    """Convert one RR interval from 1/1024 s units to milliseconds."""
    return rr_raw * 1000.0 / RR_UNITS_PER_S


def rr_ms_to_raw(rr_ms: float) -> int:
    """Convert one RR interval from milliseconds to the nearest 1/1024 s unit (unclamped)."""
    return round(rr_ms * (RR_UNITS_PER_S / 1000.0))


@dataclass(frozen=True, slots=True)
class HeartRateMeasurement:
    """One decoded 0x2A37 notification; RR intervals kept raw (1/1024 s), oldest first."""

    heart_rate_bpm: int
    sensor_contact: SensorContact = SensorContact.NOT_SUPPORTED
    energy_expended_kj: int | None = None
    rr_raw: tuple[int, ...] = ()
    heart_rate_uint16: bool = False
    """Wire detail: the heart rate travelled as uint16 (forced when above 255 bpm)."""
    rr_flag: bool = False
    """Wire detail: flag bit 4 was set (forced when RR values are present)."""
    rr_ms: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        limit = _UINT16_MAX if self.heart_rate_uint16 or self.heart_rate_bpm > 0xFF else 0xFF
        if not 0 <= self.heart_rate_bpm <= limit:
            raise MalformedMeasurement(f"heart rate {self.heart_rate_bpm} bpm is not a uint16")
        energy_kj = self.energy_expended_kj
        if energy_kj is not None and not 0 <= energy_kj <= _UINT16_MAX:
            raise MalformedMeasurement(f"energy expended {energy_kj} kJ is not a uint16")
        for value in self.rr_raw:
            if not 0 <= value <= _UINT16_MAX:
                raise MalformedMeasurement(f"RR value {value} (1/1024 s) is not a uint16")
        if self.heart_rate_bpm > 0xFF:
            object.__setattr__(self, "heart_rate_uint16", True)
        if self.rr_raw:
            object.__setattr__(self, "rr_flag", True)
        object.__setattr__(self, "rr_ms", tuple(rr_raw_to_ms(v) for v in self.rr_raw))

    @property
    def flags(self) -> Flag:
        """The flags byte this measurement encodes to."""
        flags = Flag(0)
        if self.heart_rate_uint16:
            flags |= Flag.HEART_RATE_UINT16
        if self.sensor_contact is not SensorContact.NOT_SUPPORTED:
            flags |= Flag.CONTACT_SUPPORTED
        if self.sensor_contact is SensorContact.DETECTED:
            flags |= Flag.CONTACT_DETECTED
        if self.energy_expended_kj is not None:
            flags |= Flag.ENERGY_EXPENDED
        if self.rr_flag:
            flags |= Flag.RR_INTERVALS
        return flags

    def __bytes__(self) -> bytes:
        return encode_measurement(self)


# Plain ints for the decoder's hot path (IntFlag arithmetic costs a function call per bit).
_HR16 = int(Flag.HEART_RATE_UINT16)
_DETECTED = int(Flag.CONTACT_DETECTED)
_SUPPORTED = int(Flag.CONTACT_SUPPORTED)
_ENERGY = int(Flag.ENERGY_EXPENDED)
_RR = int(Flag.RR_INTERVALS)


def _contact(flags: int) -> SensorContact:
    if not flags & _SUPPORTED:
        # Bit 1 means nothing without bit 2 (SIG XML).
        return SensorContact.NOT_SUPPORTED
    if flags & _DETECTED:
        return SensorContact.DETECTED
    return SensorContact.NOT_DETECTED


def decode_measurement(payload: bytes | bytearray | memoryview) -> HeartRateMeasurement:
    """Decode a Heart Rate Measurement payload; raise MalformedMeasurement, never anything else."""
    data = bytes(payload)
    if not data:
        raise MalformedMeasurement("empty payload: a measurement needs at least a flags byte")
    flags = data[0]
    offset = 1
    uint16 = bool(flags & _HR16)
    width = 2 if uint16 else 1
    if len(data) < offset + width:
        kind = "uint16" if uint16 else "uint8"
        raise MalformedMeasurement(
            f"truncated {kind} heart rate: {len(data)} byte(s), need {offset + width} "
            f"(flags 0x{flags:02x})"
        )
    heart_rate_bpm = int.from_bytes(data[offset : offset + width], "little")
    offset += width
    energy_kj: int | None = None
    if flags & _ENERGY:
        if len(data) < offset + 2:
            raise MalformedMeasurement(
                f"truncated energy expended field: {len(data)} byte(s), need {offset + 2} "
                f"(flags 0x{flags:02x})"
            )
        energy_kj = int.from_bytes(data[offset : offset + 2], "little")
        offset += 2
    rest = len(data) - offset
    rr_flag = bool(flags & _RR)
    if rest and not rr_flag:
        raise MalformedMeasurement(
            f"{rest} unexpected trailing byte(s) with no RR flag (flags 0x{flags:02x})"
        )
    if rest % 2:
        raise MalformedMeasurement(
            f"odd RR byte count: {rest} byte(s) after the fixed fields (flags 0x{flags:02x})"
        )
    rr_raw = struct.unpack_from(f"<{rest // 2}H", data, offset)
    return HeartRateMeasurement(
        heart_rate_bpm=heart_rate_bpm,
        sensor_contact=_contact(flags),
        energy_expended_kj=energy_kj,
        rr_raw=rr_raw,
        heart_rate_uint16=uint16,
        rr_flag=rr_flag,
    )


def encode_measurement(measurement: HeartRateMeasurement) -> bytes:
    """Encode a measurement to its 0x2A37 payload."""
    m = measurement
    out = bytearray([int(m.flags)])
    out += m.heart_rate_bpm.to_bytes(2 if m.heart_rate_uint16 else 1, "little")
    if m.energy_expended_kj is not None:
        out += m.energy_expended_kj.to_bytes(2, "little")
    for value in m.rr_raw:
        out += value.to_bytes(2, "little")
    return bytes(out)


def decode_body_sensor_location(payload: bytes | bytearray) -> BodySensorLocation | int:
    """Decode 0x2A38; a reserved value comes back as a plain int."""
    data = bytes(payload)
    if len(data) != 1:
        raise MalformedMeasurement(f"body sensor location must be 1 byte, got {len(data)}")
    try:
        return BodySensorLocation(data[0])
    except ValueError:
        return data[0]


def encode_body_sensor_location(location: BodySensorLocation | int) -> bytes:
    """Encode 0x2A38."""
    return bytes([int(location)])


def decode_battery_level(payload: bytes | bytearray) -> int:
    """Decode 0x2A19 to a percentage from 0 to 100."""
    data = bytes(payload)
    if len(data) != 1:
        raise MalformedMeasurement(f"battery level must be 1 byte, got {len(data)}")
    if data[0] > 100:
        raise MalformedMeasurement(f"battery level {data[0]} % is above 100 %")
    return data[0]


def encode_battery_level(percent: int) -> bytes:
    """Encode 0x2A19 from a percentage."""
    if not 0 <= percent <= 100:
        raise MalformedMeasurement(f"battery level {percent} % is outside 0-100 %")
    return bytes([percent])
