"""Codec tests: real payloads, the spec's edge cases, and properties over arbitrary bytes."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from afterbeat.errors import MalformedMeasurement
from afterbeat.heart_rate import (
    BodySensorLocation,
    HeartRateMeasurement,
    SensorContact,
    decode_battery_level,
    decode_body_sensor_location,
    decode_measurement,
    encode_battery_level,
    encode_body_sensor_location,
    encode_measurement,
    rr_ms_to_raw,
    rr_raw_to_ms,
)


def _snippets(data_dir: Path) -> list[dict[str, str]]:
    path = data_dir / "packet-snippets" / "packets.tsv"
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    names = ["source_id", "device", "payload_hex", "flags", "hr", "rr_1024", "rr_ms"]
    return [dict(zip(names, row, strict=True)) for row in csv.reader(lines, delimiter="\t")]


def test_real_payloads_decode_as_published(data_dir: Path) -> None:
    rows = _snippets(data_dir)
    assert len(rows) == 10
    for row in rows:
        m = decode_measurement(bytes.fromhex(row["payload_hex"]))
        assert m.heart_rate_bpm == int(row["hr"]), row
        expected_raw = (
            () if row["rr_1024"] == "-" else tuple(int(v) for v in row["rr_1024"].split(";"))
        )
        assert m.rr_raw == expected_raw, row
        if expected_raw:
            expected_ms = [float(v) for v in row["rr_ms"].split(";")]
            assert m.rr_ms == pytest.approx(expected_ms, abs=0.05), row
        assert bytes(m) == bytes.fromhex(row["payload_hex"]), row


def test_polar_h10_flags_0x10_has_no_contact_bits(data_dir: Path) -> None:
    (h10,) = [r for r in _snippets(data_dir) if r["payload_hex"] == "10 3b 53 04"]
    m = decode_measurement(bytes.fromhex(h10["payload_hex"]))
    assert m.sensor_contact is SensorContact.NOT_SUPPORTED
    assert m.rr_raw == (1107,)


@pytest.mark.parametrize(
    ("hex_payload", "heart_rate_bpm", "contact", "energy_kj", "rr_raw"),
    [
        ("16 4d 16 03", 77, SensorContact.DETECTED, None, (790,)),  # Polar H7
        (
            "10 38 2d 04 35 00",
            56,
            SensorContact.NOT_SUPPORTED,
            None,
            (1069, 53),
        ),  # HRM-Dual bogus RR
        ("04 00", 0, SensorContact.NOT_DETECTED, None, ()),  # HR 0, contact lost
        ("1f 2c 01 05 00 c8 00", 300, SensorContact.DETECTED, 5, (200,)),  # uint16 HR + EE
        ("00 46", 70, SensorContact.NOT_SUPPORTED, None, ()),
        ("06 46", 70, SensorContact.DETECTED, None, ()),
        ("02 46", 70, SensorContact.NOT_SUPPORTED, None, ()),  # bit 1 alone means nothing
        ("01 2c 01", 300, SensorContact.NOT_SUPPORTED, None, ()),
        ("18 46 10 00 00 04", 70, SensorContact.NOT_SUPPORTED, 16, (1024,)),
        ("10 46 00 04 00 03", 70, SensorContact.NOT_SUPPORTED, None, (1024, 768)),
        ("10 46", 70, SensorContact.NOT_SUPPORTED, None, ()),  # RR flag, no RR
        ("f6 46", 70, SensorContact.DETECTED, None, ()),  # reserved bits 5-7 ignored
    ],
)
def test_edge_cases(
    hex_payload: str,
    heart_rate_bpm: int,
    contact: SensorContact,
    energy_kj: int | None,
    rr_raw: tuple[int, ...],
) -> None:
    m = decode_measurement(bytes.fromhex(hex_payload))
    assert (m.heart_rate_bpm, m.sensor_contact, m.energy_expended_kj, m.rr_raw) == (
        heart_rate_bpm,
        contact,
        energy_kj,
        rr_raw,
    )


def test_garmin_bogus_trailing_rr_is_kept_for_the_filter_downstream() -> None:
    m = decode_measurement(bytes.fromhex("10382d043500"))
    assert m.rr_ms == pytest.approx((1043.945, 51.758), abs=1e-3)


def test_nine_rr_frame_counts_every_value() -> None:
    rr = tuple(range(800, 809))
    payload = bytes([0x10, 72]) + b"".join(v.to_bytes(2, "little") for v in rr)
    assert len(payload) == 20  # fills one ATT_MTU 23 notification
    assert decode_measurement(payload).rr_raw == rr


def test_more_rr_than_a_default_mtu_is_never_capped() -> None:
    rr = tuple(range(700, 730))
    payload = bytes([0x10, 72]) + b"".join(v.to_bytes(2, "little") for v in rr)
    assert decode_measurement(payload).rr_raw == rr


@pytest.mark.parametrize(
    ("hex_payload", "message"),
    [
        ("", "empty payload"),
        ("16", "truncated uint8 heart rate"),
        ("01 2c", "truncated uint16 heart rate"),
        ("08 46 10", "truncated energy expended"),
        ("19 46 10 00 00 04", "odd RR byte count"),
        ("10 46 00", "odd RR byte count"),
        ("00 46 00 04", "unexpected trailing"),
    ],
)
def test_malformed_payloads_raise_one_typed_error_saying_what(
    hex_payload: str, message: str
) -> None:
    with pytest.raises(MalformedMeasurement, match=message):
        decode_measurement(bytes.fromhex(hex_payload))


def test_malformed_is_a_value_error_for_callers_that_catch_broadly() -> None:
    assert issubclass(MalformedMeasurement, ValueError)


measurements = st.builds(
    HeartRateMeasurement,
    heart_rate_bpm=st.integers(0, 0xFFFF),
    sensor_contact=st.sampled_from(SensorContact),
    energy_expended_kj=st.none() | st.integers(0, 0xFFFF),
    rr_raw=st.lists(st.integers(0, 0xFFFF), max_size=12).map(tuple),
    heart_rate_uint16=st.booleans(),
    rr_flag=st.booleans(),
)


@given(measurements)
def test_encode_then_decode_is_the_identity(m: HeartRateMeasurement) -> None:
    assert decode_measurement(encode_measurement(m)) == m


@given(st.binary(max_size=40))
def test_arbitrary_bytes_raise_only_malformed_measurement(data: bytes) -> None:
    try:
        m = decode_measurement(data)
    except MalformedMeasurement:
        return
    # Whatever decodes re-encodes to the same bytes, less the bits the spec says to ignore:
    # reserved bits 5-7, and bit 1 when bit 2 (contact supported) is clear.
    flags = data[0] & 0x1F
    if not flags & 0x04:
        flags &= ~0x02
    assert encode_measurement(m) == bytes([flags]) + data[1:]


def test_rr_conversion_keeps_raw_and_derives_ms() -> None:
    assert rr_raw_to_ms(1024) == 1000.0
    assert rr_raw_to_ms(512) == 500.0
    assert rr_ms_to_raw(1000.0) == 1024 and rr_ms_to_raw(500.0) == 512


@given(st.integers(min_value=0, max_value=0xFFFF))
def test_rr_ms_to_raw_inverts_raw_to_ms(rr_raw: int) -> None:
    assert rr_ms_to_raw(rr_raw_to_ms(rr_raw)) == rr_raw


@given(st.floats(min_value=0.0, max_value=60_000.0))
def test_rr_ms_to_raw_is_the_nearest_unit(rr_ms: float) -> None:
    raw = rr_ms_to_raw(rr_ms)
    assert abs(rr_raw_to_ms(raw) - rr_ms) <= 1000.0 / 1024 / 2 + 1e-9


def test_value_checks_reject_out_of_range_fields() -> None:
    with pytest.raises(MalformedMeasurement):
        HeartRateMeasurement(heart_rate_bpm=70, rr_raw=(70000,))
    with pytest.raises(MalformedMeasurement):
        HeartRateMeasurement(heart_rate_bpm=-1)


def test_body_sensor_location_and_battery() -> None:
    assert decode_body_sensor_location(b"\x01") is BodySensorLocation.CHEST
    assert decode_body_sensor_location(b"\x09") == 9  # reserved value passes through
    assert encode_body_sensor_location(BodySensorLocation.WRIST) == b"\x02"
    assert decode_battery_level(b"\x57") == 87
    assert encode_battery_level(100) == b"\x64"
    for bad in (b"", b"\x01\x02"):
        with pytest.raises(MalformedMeasurement):
            decode_body_sensor_location(bad)
        with pytest.raises(MalformedMeasurement):
            decode_battery_level(bad)
    with pytest.raises(MalformedMeasurement, match="above 100"):
        decode_battery_level(b"\x65")
