"""RR table export: every RR of a real capture, raw and in ms, gaps and events as their own rows."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path

import pytest

from afterbeat.cli import main
from afterbeat.heart_rate import decode_measurement
from afterbeat.records import (
    DeviceEvent,
    DeviceEventKind,
    Disconnect,
    Marker,
    MarkerKind,
    Notification,
    Reconnect,
    Record,
)
from afterbeat.storage.export import RR_CSV_COLUMNS, RR_CSV_SCHEMA, rr_csv_rows, write_rr_csv
from afterbeat.storage.store import Store
from kill_writer import derived_notifications


def test_every_rr_of_the_capture_is_a_row_equal_to_the_stored_bytes(tmp_path: Path) -> None:
    header, notifications = derived_notifications()
    with Store.open(tmp_path / "data") as store:
        session_id = store.import_session(header, notifications, "import")
        stored_header, stored = store.iter_records(session_id)
        stored_records = list(stored)
        old = os.umask(0o022)
        try:
            write_rr_csv(tmp_path / "rr.csv", stored_header, stored_records)
        finally:
            os.umask(old)
    assert stat.S_IMODE((tmp_path / "rr.csv").stat().st_mode) == 0o600
    with open(tmp_path / "rr.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == RR_CSV_COLUMNS
    assert {row["schema"] for row in rows} == {RR_CSV_SCHEMA}
    expected = [
        (n.t_s, raw) for n in stored_records if isinstance(n, Notification)
        for raw in decode_measurement(n.payload).rr_raw
    ]
    rr_rows = [row for row in rows if row["type"] == "rr"]
    assert len(rr_rows) == len(expected) == 798  # every RR of the capture (tests/data/SOURCES.md)
    assert [(float(r["t_s"]), int(r["rr_raw_1024"])) for r in rr_rows] == expected
    for row in rr_rows:
        assert float(row["rr_ms"]) == round(int(row["rr_raw_1024"]) * 1000 / 1024, 3)
        assert row["sensor_contact"] == "detected"
    # The 26 notifications that carried no RR are rows of their own, not silently lost.
    assert [row["type"] for row in rows if row not in rr_rows] == ["heart_rate"] * 26
    assert rows[0]["utc"] == "2024-05-05T14:50:00.436Z"
    assert rows[0]["heart_rate_bpm"] == "90" and rows[0]["rr_ms"] == "420.898"


def test_gaps_events_and_malformed_payloads_get_their_own_rows() -> None:
    header, notifications = derived_notifications()
    records: list[Record] = [
        DeviceEvent(t_s=0.0, kind=DeviceEventKind.BATTERY, value=80),
        Notification(t_s=1.0, wall_s=0.0, payload=bytes.fromhex("0646")),  # no RR
        Notification(t_s=2.0, wall_s=0.0, payload=bytes.fromhex("104600")),  # odd RR bytes
        Disconnect(t_s=3.0, reason="silence watchdog"),
        Reconnect(t_s=15.0),
        Marker(t_s=16.0, kind=MarkerKind.RATING, value=4.0, text="a, \"quoted\" note"),
    ]
    buffer = io.StringIO()
    write_rr_csv(buffer, header, records)
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert [r["type"] for r in rows] == [
        "device:battery", "heart_rate", "malformed", "gap_start", "gap_end", "marker:rating"]
    assert rows[0]["detail"] == "80"
    assert rows[1]["heart_rate_bpm"] == "70" and rows[1]["rr_raw_1024"] == ""
    assert rows[2]["detail"].startswith("104600: odd RR byte count")
    assert rows[3]["detail"] == "silence watchdog"
    assert rows[5]["detail"] == "4.0 a, \"quoted\" note"
    assert len(list(rr_csv_rows(header, records))) == len(rows)


def test_cli_exports_csv_and_delete_removes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    header, notifications = derived_notifications()
    with Store.open(data) as store:
        session_id = store.import_session(header, notifications, "import")
    assert main(["sessions", "export", str(session_id), "--format", "csv", "--json",
                 "--data-dir", str(data)]) == 0
    path = Path(json.loads(capsys.readouterr().out)["path"])
    assert path == data / "exports" / f"session-{session_id}.csv"
    assert path.read_text().count("\n") == 1 + 798 + 26  # header, RR rows, RR-less rows
    assert main(["sessions", "export", str(session_id), "-o", str(tmp_path / "x.csv"),
                 "--data-dir", str(data)]) == 0
    assert (tmp_path / "x.csv").read_bytes() == path.read_bytes()
    assert main(["sessions", "delete", str(session_id), "--yes", "--data-dir",
                 str(data)]) == 0
    assert not path.exists()

