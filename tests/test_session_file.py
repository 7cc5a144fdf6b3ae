"""Session file format: round trips, streaming reads, bad lines counted, broken headers named."""

from __future__ import annotations

import io
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from afterbeat.errors import SessionFileError
from afterbeat.records import (
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
from afterbeat.storage.session_file import encode_header, iter_session, write_session

HEADER = Header(
    started_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
    device={"name": "Polar H10 1A2B3C4D", "address": "AA:BB:CC:DD:EE:FF"},
    provenance={"real": "test"},
)
RECORDS: list[Record] = [
    DeviceEvent(t_s=0.1, kind=DeviceEventKind.BATTERY, value=87),
    DeviceEvent(t_s=0.1, kind=DeviceEventKind.BODY_SENSOR_LOCATION, value="chest"),
    Notification(t_s=1.25, wall_s=1795685401.25, payload=bytes.fromhex("164d1603")),
    Marker(t_s=2.0, kind=MarkerKind.SESSION_END),
    Marker(t_s=3.0, kind=MarkerKind.RATING, value=6.0, text="before reset"),
    Marker(t_s=3.5, kind=MarkerKind.NOTE, text="<img src=x onerror=alert(1)> ünïcode"),
    Disconnect(t_s=4.0, reason="silence watchdog"),
    Reconnect(t_s=16.0),
    DeviceEvent(t_s=16.5, kind=DeviceEventKind.CONTACT, value="not_detected"),
    Notification(t_s=17.0, wall_s=1795685417.0, payload=bytes.fromhex("0400")),
]


def test_every_record_type_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    write_session(path, HEADER, RECORDS)
    header, records = iter_session(path)
    assert header == HEADER
    assert list(records) == RECORDS


def test_written_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_session(tmp_path / "s.jsonl", HEADER, RECORDS)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "s.jsonl").stat().st_mode) == 0o600


def test_header_line_is_versioned_and_in_utc() -> None:
    line = encode_header(HEADER)
    assert '"format":"afterbeat-session"' in line
    assert '"version":1' in line
    assert '"started_at":"2026-11-26T09:30:00Z"' in line


def test_bad_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    buffer = io.StringIO()
    write_session(buffer, HEADER, RECORDS[:3])
    text = (
        buffer.getvalue() + "@\n" + '{"type":"marker","t_s":"x"}\n' + '{"type":"alien","t_s":1}\n'
    )
    text += '{"type":"notification","t_s":5,"wall_s":1,"hex":"zz"}\n'
    (tmp_path / "s.jsonl").write_text(text + '{"type":"reconnect","t_s":9}\n')
    skips = SkipReport()
    _, records = iter_session(tmp_path / "s.jsonl", skips)
    assert list(records) == [*RECORDS[:3], Reconnect(t_s=9.0)]
    assert skips.count == 4
    assert "s.jsonl:5" in skips.summary()


@pytest.mark.parametrize(
    ("first_line", "message"),
    [
        ("", "empty file"),
        ("@", "bad header"),
        ('{"type":"header","format":"other"}', "bad header"),
        (
            '{"type":"header","format":"afterbeat-session","version":2,"started_at":"2026-01-01T00:00:00Z"}',
            "unsupported format version",
        ),
        (
            '{"type":"header","format":"afterbeat-session","version":1,"started_at":"2026-01-01T00:00:00"}',
            "UTC offset",
        ),
    ],
)
def test_a_broken_header_names_the_file_and_line(
    tmp_path: Path, first_line: str, message: str
) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(first_line + "\n")
    with pytest.raises(SessionFileError, match=message) as caught:
        iter_session(path)
    assert str(caught.value).startswith(f"{path}:1:")


def test_reading_is_a_stream(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    write_session(path, HEADER, (Marker(t_s=float(i), kind=MarkerKind.NOTE) for i in range(10_000)))
    _, records = iter_session(path)
    assert next(records) == Marker(t_s=0.0, kind=MarkerKind.NOTE)
    assert sum(1 for _ in records) == 9_999


def test_bundled_demo_recording_says_what_is_real_and_what_is_illustration() -> None:
    from importlib.resources import files

    demo = files("afterbeat") / "data" / "demo.jsonl"
    header, records = iter_session(str(demo))
    assert "PhysioNet" in header.provenance["real"]
    assert "illustration" in header.provenance["illustration"]
    kinds = [r.kind for r in records if isinstance(r, Marker)]
    assert kinds[:4] == [
        MarkerKind.BASELINE_START,
        MarkerKind.BASELINE_END,
        MarkerKind.SESSION_START,
        MarkerKind.SESSION_END,
    ]
