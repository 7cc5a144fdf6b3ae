"""The recording database: round trips, private files, crash recovery, real erasure, failures."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from afterbeat.heart_rate import decode_measurement
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
)
from afterbeat.storage.recorder import GAP_REASON, Recorder
from afterbeat.storage.session_file import decode_line, encode_record, iter_session
from afterbeat.storage.store import (
    DB_FILENAME,
    SCHEMA_VERSION,
    RecordingFailed,
    SessionBusy,
    SessionNotFound,
    SessionNotRecording,
    SessionStatus,
    Store,
    StoreError,
)
from kill_writer import derived_notifications

TESTS_DIR = Path(__file__).resolve().parent
SRC_DIR = TESTS_DIR.parent / "src"

HEADER = Header(
    started_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
    device={"name": "Polar H10 1A2B3C4D", "address": "AA:BB:CC:DD:EE:FF"},
    provenance={"real": "packet-snippets"},
)


def _packet_snippets(data_dir: Path) -> list[bytes]:
    """The real 0x2A37 payloads quoted in public posts (tests/data/packet-snippets)."""
    payloads = []
    for line in (data_dir / "packet-snippets" / "packets.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            payloads.append(bytes.fromhex(line.split("\t")[2]))
    return payloads


def _every_record_type(data_dir: Path) -> list[Record]:
    records: list[Record] = [
        DeviceEvent(t_s=0.05, kind=DeviceEventKind.BODY_SENSOR_LOCATION, value="chest"),
        DeviceEvent(t_s=0.05, kind=DeviceEventKind.BATTERY, value=87),
        DeviceEvent(t_s=0.06, kind=DeviceEventKind.INFO, value=None),
        Marker(t_s=0.1, kind=MarkerKind.SESSION_END),
    ]
    for i, payload in enumerate(_packet_snippets(data_dir)):
        records.append(Notification(t_s=1.0 + i * 0.987654321, wall_s=1795685401.0 + i,
                                    payload=payload))
    records += [
        Disconnect(t_s=40.0, reason="silence watchdog"),
        Disconnect(t_s=40.5),
        Reconnect(t_s=52.25),
        DeviceEvent(t_s=52.5, kind=DeviceEventKind.CONTACT, value="not_detected"),
        Marker(t_s=60.0, kind=MarkerKind.RATING, value=6.0, text="after the walk"),
        Marker(t_s=61.0, kind=MarkerKind.NOTE, text="<img src=x onerror=alert(1)> ünïcode ✓"),
        Notification(t_s=62.0, wall_s=1795685462.0, payload=b""),  # kept as received
    ]
    return records


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        yield opened


def _file_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob(DB_FILENAME + "*")))


# -- round trips ---------------------------------------------------------------------------


def test_every_record_type_round_trips_like_a_session_file(
    store: Store, tmp_path: Path, data_dir: Path
) -> None:
    records = _every_record_type(data_dir)
    session_id = store.start_session(HEADER, "ble")
    seqs = [store.append(session_id, record) for record in records]
    assert seqs == list(range(1, len(records) + 1))
    as_in_file = [decode_line(encode_record(r)) for r in records]

    header, replayed = store.iter_records(session_id)
    assert header == HEADER
    assert list(replayed) == as_in_file
    assert list(store.iter_records(session_id)[1]) == as_in_file  # replayable again

    exported = store.export(session_id, tmp_path / "out.jsonl")
    assert exported == tmp_path / "out.jsonl"
    file_header, file_records = iter_session(exported)
    assert file_header == HEADER
    assert list(file_records) == list(store.iter_records(session_id)[1])


def test_notifications_keep_their_raw_bytes(store: Store) -> None:
    header, notifications = derived_notifications()
    session_id = store.import_session(header, iter(notifications), "import")
    replayed = list(store.iter_records(session_id)[1])
    assert replayed == notifications
    assert len(replayed) == 600  # the capture's notification count (tests/data/SOURCES.md)
    rr_count = sum(len(decode_measurement(n.payload).rr_raw)
                   for n in replayed if isinstance(n, Notification))
    assert rr_count == 798
    summary = store.get_session(session_id)
    assert summary.status is SessionStatus.COMPLETE
    assert summary.notification_count == 600
    assert summary.duration_s == pytest.approx(notifications[-1].t_s)


def test_a_failed_import_leaves_nothing(store: Store) -> None:
    def broken() -> Iterator[Record]:
        yield Marker(t_s=0.0, kind=MarkerKind.SESSION_START)
        raise OSError("the file went away")

    with pytest.raises(OSError, match="went away"):
        store.import_session(HEADER, broken(), "import")
    assert store.list_sessions() == []


_records = st.one_of(
    st.builds(Notification, t_s=st.floats(0, 1e6), wall_s=st.floats(0, 4e9),
              payload=st.binary(max_size=40)),
    st.builds(Marker, t_s=st.floats(0, 1e6), kind=st.sampled_from(MarkerKind),
              value=st.none() | st.floats(0, 10), text=st.none() | st.text(max_size=30)),
    st.builds(Disconnect, t_s=st.floats(0, 1e6), reason=st.none() | st.text(max_size=20)),
    st.builds(Reconnect, t_s=st.floats(0, 1e6)),
    st.builds(DeviceEvent, t_s=st.floats(0, 1e6), kind=st.sampled_from(DeviceEventKind),
              value=st.none() | st.integers(0, 100) | st.text(max_size=20)),
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(_records, max_size=12))
def test_database_rows_equal_their_export(store: Store, records: list[Record]) -> None:
    session_id = store.start_session(HEADER, "property")
    for record in records:
        store.append(session_id, record)
    buffer = io.StringIO()
    assert store.export(session_id, buffer) is None
    lines = buffer.getvalue().split("\n")[:-1]  # not splitlines: U+2028 is no line end
    assert decode_line(lines[0], header=True) == HEADER
    assert [decode_line(line) for line in lines[1:]] == list(store.iter_records(session_id)[1])
    assert [decode_line(line) for line in lines[1:]] == [
        decode_line(encode_record(r)) for r in records
    ]


# -- sessions, results, documents ------------------------------------------------------------


def test_session_lifecycle_and_summaries(store: Store) -> None:
    first = store.start_session(HEADER, "ble")
    store.append(first, Notification(t_s=0.5, wall_s=1.0, payload=bytes.fromhex("163c1104")))
    store.append(first, Marker(t_s=3.0, kind=MarkerKind.NOTE, text="hello"))
    live = store.get_session(first)
    assert (live.status, live.notification_count, live.duration_s) == (
        SessionStatus.RECORDING, 1, 3.0)
    assert live.ended_at is None and live.device_name == "Polar H10 1A2B3C4D"

    done = store.end_session(first, end_t_s=10.0)
    assert done.status is SessionStatus.COMPLETE
    assert done.duration_s == 10.0
    assert done.ended_at == datetime(2026, 11, 26, 9, 30, 10, tzinfo=UTC)
    with pytest.raises(SessionNotRecording):
        store.append(first, Reconnect(t_s=11.0))
    with pytest.raises(SessionNotRecording):
        store.end_session(first)

    second = store.start_session(HEADER, "replay")
    assert second > first
    assert [(s.id, s.status, s.source) for s in store.list_sessions()] == [
        (first, SessionStatus.COMPLETE, "ble"), (second, SessionStatus.RECORDING, "replay")]
    for missing in (store.get_session, store.get_results, store.delete):
        with pytest.raises(SessionNotFound):
            missing(999)
    with pytest.raises(SessionNotFound):
        store.iter_records(999)
    with pytest.raises(SessionNotFound):
        store.append(999, Reconnect(t_s=1.0))


def test_results_and_documents(store: Store) -> None:
    session_id = store.start_session(HEADER, "ble")
    store.put_result(session_id, "recovery", {"settle_s": 420.0, "segments": [1, 2]})
    store.put_result(session_id, "rating", 7)
    store.put_result(session_id, "rating", 8)
    assert store.get_results(session_id) == {
        "rating": 8, "recovery": {"settle_s": 420.0, "segments": [1, 2]}}
    with pytest.raises(SessionNotFound):
        store.put_result(12345, "rating", 1)

    assert store.get_document("baseline") is None
    store.put_document("baseline", {"rmssd_ms": 41.5, "days": 3})
    store.put_document("settings", {"locale": "de-DE"})
    store.put_document("baseline", {"rmssd_ms": 43.0, "days": 4})
    assert store.get_document("baseline") == {"rmssd_ms": 43.0, "days": 4}
    store.delete_document("settings")
    assert store.get_document("settings") is None
    with pytest.raises(ValueError, match="not JSON compliant"):
        store.put_document("bad", float("nan"))


# -- files, crashes, erasure ---------------------------------------------------------------


def test_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old = os.umask(0o022)
    try:
        with Store.open(data) as opened:
            session_id = opened.start_session(HEADER, "ble")
            opened.append(session_id, Marker(t_s=1.0, kind=MarkerKind.NOTE, text="x"))
            exported = opened.export(session_id)
            assert exported == opened.export_path(session_id)
            files = [data / DB_FILENAME, data / (DB_FILENAME + "-wal"),
                     data / (DB_FILENAME + "-shm"), exported]
            folders = [data, exported.parent, *(p for p in data.iterdir() if p.is_dir())]
            for path in files:
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            for path in folders:
                assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
            for lock in (data / "recording-locks").iterdir():
                assert stat.S_IMODE(lock.stat().st_mode) == 0o600, lock
    finally:
        os.umask(old)


def test_loose_existing_files_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Store.open(data).close()
    for suffix in ("", "-wal", "-shm"):
        path = data / (DB_FILENAME + suffix)
        path.touch()
        path.chmod(0o644)
    with Store.open(data):
        for suffix in ("", "-wal", "-shm"):
            assert stat.S_IMODE((data / (DB_FILENAME + suffix)).stat().st_mode) == 0o600


def test_crashed_session_is_marked_interrupted_and_replayable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    recording = Store.open(data)
    session_id = recording.start_session(HEADER, "ble")
    notification = Notification(t_s=2.5, wall_s=2.5, payload=bytes.fromhex("06 3c"))
    recording.append(session_id, notification)

    with Store.open(data) as other:  # the session is alive in another store: left alone
        assert other.recovered == ()
        assert other.get_session(session_id).status is SessionStatus.RECORDING
        with pytest.raises(SessionBusy):
            other.delete(session_id)

    recording.close()  # like a crash: the lock goes, the status stays "recording"
    with Store.open(data) as after:
        assert after.recovered == (session_id,)
        summary = after.get_session(session_id)
        assert summary.status is SessionStatus.INTERRUPTED
        assert (summary.duration_s, summary.notification_count) == (2.5, 1)
        assert list(after.iter_records(session_id)[1]) == [notification]
    with Store.open(data) as again:
        assert again.recovered == ()
    assert list((data / "recording-locks").iterdir()) == []


def test_delete_erases_the_bytes(store: Store, tmp_path: Path) -> None:
    secret = f"MARKER-{uuid.uuid4()}"
    keep = store.start_session(HEADER, "ble")
    store.append(keep, Marker(t_s=1.0, kind=MarkerKind.NOTE, text="kept"))
    doomed = store.start_session(
        Header(started_at=HEADER.started_at, device={"name": secret}), "ble")
    for i in range(100):  # enough rows to span several pages
        store.append(doomed, Marker(t_s=float(i), kind=MarkerKind.NOTE, text=f"{secret} {i}"))
        store.append(doomed, Notification(t_s=i + 0.5, wall_s=0.0, payload=secret.encode()))
    store.put_result(doomed, "reset_effect", {"note": secret})
    store.end_session(doomed)
    exported = store.export(doomed)
    assert exported is not None and exported.exists()
    assert secret.encode() in _file_bytes(store.data_dir)  # the check below means something

    assert store.delete(doomed) is True
    raw = _file_bytes(store.data_dir)
    assert secret.encode() not in raw
    assert (store.data_dir / (DB_FILENAME + "-wal")).stat().st_size == 0
    assert not exported.exists()
    assert [s.id for s in store.list_sessions()] == [keep]
    with pytest.raises(SessionNotFound):
        store.get_results(doomed)
    assert store.integrity_check() == "ok"
    assert store.start_session(HEADER, "ble") > doomed  # ids are never reused


def test_delete_reports_a_wal_held_by_a_reader(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "data", busy_timeout_s=0.05, scrub_wait_s=0.1)
    session_id = store.start_session(HEADER, "ble")
    store.append(session_id, Marker(t_s=1.0, kind=MarkerKind.NOTE, text="MARKER-held"))
    reader = sqlite3.connect(store.path, timeout=0.1)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM records").fetchone()  # holds a WAL snapshot
        assert store.delete(session_id) is False
    finally:
        reader.close()
    assert store.delete(store.start_session(HEADER, "ble")) is True
    assert b"MARKER-held" not in _file_bytes(store.data_dir)
    store.close()


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / DB_FILENAME).write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="cannot open the recording database"):
        Store.open(data)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Store.open(data).close()
    with sqlite3.connect(data / DB_FILENAME) as conn:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer afterbeat"):
        Store.open(data)


# -- write failures ------------------------------------------------------------------------


def test_disk_full_becomes_a_status_and_recording_resumes(store: Store) -> None:
    header, notifications = derived_notifications()
    recorder = Recorder(store, header, "ble")
    assert recorder.record(notifications[0])
    store.limit_size(1)  # the database may not grow any more: SQLITE_FULL
    results = [recorder.record(n) for n in notifications[1:200]]
    status = recorder.status
    assert results[-1] is False
    assert status.failing and status.unrecorded > 0 and status.dropped == 0
    assert status.last_error is not None and "full" in status.last_error
    assert status.recorded + status.unrecorded == 200

    store.limit_size(None)  # space again: the backlog goes in first, in order
    assert recorder.record(notifications[200])
    status = recorder.status
    assert not status.failing and status.unrecorded == 0 and status.recorded == 201
    final = recorder.close()
    assert final.session_id is not None
    assert list(store.iter_records(final.session_id)[1]) == notifications[:201]
    assert store.get_session(final.session_id).status is SessionStatus.COMPLETE


def test_overflowing_backlog_is_dropped_and_marked_as_a_gap(store: Store) -> None:
    _, notifications = derived_notifications()
    recorder = Recorder(store, HEADER, "ble", max_pending=10)
    assert recorder.record(notifications[0])
    store.limit_size(1)
    for n in notifications[1:300]:
        recorder.record(n)
    status = recorder.status
    assert status.pending == 10 and status.recorded + status.unrecorded == 300
    assert status.dropped == status.unrecorded - 10 > 0
    lost_from = notifications[status.recorded]
    store.limit_size(None)
    assert recorder.record(notifications[300])
    assert recorder.status.unrecorded == recorder.status.dropped == status.dropped
    session_id = recorder.close().session_id
    assert session_id is not None
    records = list(store.iter_records(session_id)[1])
    gap = next(i for i, r in enumerate(records) if isinstance(r, Disconnect))
    assert records[:gap] == notifications[:status.recorded]
    assert records[gap] == Disconnect(t_s=lost_from.t_s, reason=GAP_REASON)
    assert records[gap + 1] == Reconnect(t_s=notifications[290].t_s)
    assert records[gap + 2:] == notifications[290:301]


def test_locked_database_becomes_a_status(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Store.open(data, busy_timeout_s=0.05) as opened:
        recorder = Recorder(opened, HEADER, "ble")
        assert recorder.start()
        other = sqlite3.connect(opened.path, timeout=0.05, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            marker = Marker(t_s=1.0, kind=MarkerKind.NOTE, text="while locked")
            assert recorder.record(marker) is False
            assert recorder.status.failing and recorder.status.unrecorded == 1
            assert "locked" in (recorder.status.last_error or "")
            with pytest.raises(RecordingFailed):
                opened.append(recorder.session_id or 0, marker)
        finally:
            other.close()
        assert recorder.record(Reconnect(t_s=2.0))
        assert recorder.status.unrecorded == 0
        assert recorder.close().recorded == 2


def test_file_size_limit_from_the_kernel_becomes_a_status(tmp_path: Path) -> None:
    data = tmp_path / "data"
    child = subprocess.run(
        [sys.executable, str(TESTS_DIR / "fsize_writer.py"), str(data)],
        capture_output=True, text=True, check=False,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC_DIR),
                                                         os.environ.get("PYTHONPATH", "")])),
    )
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout)
    assert report["written_before_failure"] > 0 and report["failing"]
    assert report["unrecorded"] == 1 and "error" in report["error"]
    assert report["resumed"] and report["final_unrecorded"] == 0
    assert report["final_recorded"] == report["written_before_failure"] + 2
    assert report["integrity"] == "ok"
    with Store.open(data) as store:
        summary = store.get_session(report["session_id"])
        assert summary.status is SessionStatus.COMPLETE
        records = list(store.iter_records(summary.id)[1])
    assert len(records) == report["final_recorded"]
    assert records[-1] == Marker(t_s=float(report["written_before_failure"] + 1),
                                 kind=MarkerKind.NOTE, text="after")


def test_recorder_starts_late_when_the_first_write_fails(tmp_path: Path) -> None:
    with Store.open(tmp_path / "data", busy_timeout_s=0.05) as opened:
        recorder = Recorder(opened, HEADER, "ble")
        other = sqlite3.connect(opened.path, timeout=0.05, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            assert recorder.record(Marker(t_s=0.0, kind=MarkerKind.SESSION_START)) is False
            assert recorder.session_id is None and recorder.status.unrecorded == 1
        finally:
            other.close()
        assert recorder.record(Reconnect(t_s=1.0))
        assert recorder.session_id is not None and recorder.status.recorded == 2
        assert recorder.close().unrecorded == 0
        assert recorder.record(Reconnect(t_s=2.0)) is False  # closed: ignored, not raised
        assert len(list(opened.iter_records(recorder.session_id)[1])) == 2


_steps = st.lists(st.sampled_from(["record", "record", "record", "full", "space"]),
                  min_size=1, max_size=40)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_steps, max_pending=st.integers(1, 4))
def test_recorder_keeps_order_and_marks_every_loss(
    store: Store, steps: list[str], max_pending: int
) -> None:
    store.limit_size(None)
    recorder = Recorder(store, HEADER, "property", max_pending=max_pending)
    sent: list[Record] = []
    for step in steps:
        if step == "full":
            store.limit_size(1)
        elif step == "space":
            store.limit_size(None)
        else:
            sent.append(Marker(t_s=float(len(sent)), kind=MarkerKind.NOTE, text="y" * 900))
            recorder.record(sent[-1])
            status = recorder.status
            assert status.unrecorded <= len(sent)
            assert status.unrecorded == status.pending + status.dropped
            assert status.pending <= max_pending
    store.limit_size(None)
    final = recorder.close()
    assert final.unrecorded == final.dropped and not final.failing
    event(f"dropped: {final.dropped > 0}")
    if final.session_id is None:
        assert not sent
        return
    stored = list(store.iter_records(final.session_id)[1])
    kept = [r for r in stored if isinstance(r, Marker)]
    assert len(kept) == len(sent) - final.dropped
    # Kept records come in the order sent; wherever some were lost, a gap pair says so.
    positions = [sent.index(r) for r in kept]
    assert positions == sorted(positions)
    previous = -1
    for record in stored:
        if isinstance(record, Marker):
            index = sent.index(record)
            if index != previous + 1:
                before = stored[stored.index(record) - 2: stored.index(record)]
                assert [type(r) for r in before] == [Disconnect, Reconnect]
                assert isinstance(before[0], Disconnect) and before[0].reason == GAP_REASON
            previous = index
    assert previous == len(sent) - 1  # the newest are never the ones dropped


def test_one_store_is_safe_to_share_between_threads(store: Store) -> None:
    errors: list[BaseException] = []

    def record(session_id: int) -> None:
        try:
            for i in range(40):
                store.append(session_id, Marker(t_s=float(i), kind=MarkerKind.NOTE))
                store.list_sessions()
        except BaseException as exc:  # collected and re-checked below
            errors.append(exc)

    session_ids = [store.start_session(HEADER, f"thread-{i}") for i in range(4)]
    threads = [threading.Thread(target=record, args=(sid,)) for sid in session_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for session_id in session_ids:
        records = list(store.iter_records(session_id)[1])
        assert [r.t_s for r in records] == [float(i) for i in range(40)]


def test_an_unstorable_record_is_counted_and_does_not_block_the_rest(tmp_path: Path) -> None:
    from afterbeat.records import Marker, MarkerKind, Reconnect
    from afterbeat.storage.recorder import Recorder

    store = Store.open(tmp_path)
    recorder = Recorder(store, HEADER, "test")
    assert recorder.record(Reconnect(t_s=1.0))
    assert not recorder.record(Marker(t_s=2.0, kind=MarkerKind.RATING, value=float("nan")))
    assert recorder.record(Reconnect(t_s=3.0))
    status = recorder.close()
    assert status.dropped == 1 and status.pending == 0
    assert status.last_error is not None and "could not be stored" in status.last_error
    assert status.session_id is not None
    _, records = store.iter_records(status.session_id)
    assert [r.t_s for r in records] == [1.0, 3.0]


def test_the_writer_is_durable_and_erases_for_real(tmp_path: Path) -> None:
    """docs/security.md D-CRASH: WAL, on disk at every commit, freed content zeroed."""
    with Store.open(tmp_path / "data") as store:
        assert store.durability() == {"journal_mode": "wal", "synchronous": "full",
                                      "secure_delete": "on", "foreign_keys": "on"}
