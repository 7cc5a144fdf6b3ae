"""The store and recorders under hostile values, other connections and failing disks.

Issue 14: times ``datetime`` cannot hold (items 1), lone surrogates and the write lock
(item 4), erasure with a concurrent reader and derived documents (item 10), and a recording
that ends while the disk is full (item 11).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from afterbeat.records import Disconnect, Header, Marker, MarkerKind, Notification, Reconnect
from afterbeat.storage.recorder import GAP_REASON, QueuedRecorder, Recorder
from afterbeat.storage.store import (
    DB_FILENAME,
    SessionStatus,
    Store,
    UnstorableValue,
)

HEADER = Header(started_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
                device={"name": "Polar H10 1A2B3C4D"})
SURROGATE = "\ud800"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        yield opened


def _file_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob(DB_FILENAME + "*")))


def _write_lock_is_free(path: Path) -> bool:
    """True when another connection can take the write lock at once."""
    other = sqlite3.connect(path, timeout=0.0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()
    return True


# -- times datetime cannot hold (issue 14 item 1) ------------------------------------------


def test_times_the_format_cannot_hold_are_refused_before_anything_is_written(
        store: Store) -> None:
    late = Header(started_at=datetime(9999, 12, 31, 23, 0, tzinfo=UTC))
    with pytest.raises(UnstorableValue, match="started_at"):
        store.import_session(late, [Marker(t_s=1.0, kind=MarkerKind.NOTE)], "import")
    live = store.start_session(HEADER, "ble")
    with pytest.raises(UnstorableValue, match="t_s"):
        store.append(live, Notification(t_s=1e12, wall_s=0.0, payload=b"\x00\x3c"))
    with pytest.raises(UnstorableValue, match="t_s"):
        store.import_session(HEADER, [Marker(t_s=1e12, kind=MarkerKind.NOTE)], "import")
    store.append(live, Notification(t_s=2.0, wall_s=0.0, payload=b"\x00\x3c"))  # no lock left
    ended = store.end_session(live)
    assert ended.duration_s == 2.0
    assert [s.id for s in store.list_sessions()] == [live]
    assert all(s.problems == () for s in store.list_sessions())


def test_a_session_cut_short_at_t_1e12_does_not_stop_the_next_open(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Store.open(data) as first:
        session_id = first.start_session(HEADER, "replay")
        first.append(session_id, Notification(t_s=1.0, wall_s=0.0, payload=b"\x00\x3c"))
        # The process dies here (its lock is gone when it closes without ending the session).
    with sqlite3.connect(data / DB_FILENAME) as raw:  # as an older version could leave it
        raw.execute("UPDATE records SET t_s = 1e12 WHERE session_id = ?", (session_id,))
    raw.close()
    with Store.open(data) as again:
        assert again.recovered == (session_id,)
        summary = again.get_session(session_id)
    assert summary.status is SessionStatus.INTERRUPTED
    assert summary.ended_at == datetime.max.replace(tzinfo=UTC)


def test_unreadable_stored_values_are_reported_not_raised(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Store.open(data) as first:
        ids = [first.import_session(HEADER, [Marker(t_s=1.0, kind=MarkerKind.NOTE)], "import")
               for _ in range(4)]
    with sqlite3.connect(data / DB_FILENAME) as raw:  # rows as another program could leave them
        raw.execute("UPDATE sessions SET ended_at = '+10000-01-01T00:00:00Z' WHERE id = ?",
                    (ids[0],))
        raw.execute("UPDATE sessions SET started_at = 'not a time' WHERE id = ?", (ids[1],))
        raw.execute("UPDATE sessions SET header = '{not json' WHERE id = ?", (ids[2],))
    raw.close()
    with Store.open(data) as again:
        summaries = {s.id: s for s in again.list_sessions()}
        records = list(again.iter_records(ids[2])[1])
    assert sorted(summaries) == ids
    assert summaries[ids[0]].ended_at is None and "end time" in summaries[ids[0]].problems[0]
    assert "start time" in summaries[ids[1]].problems[0]
    assert "header" in summaries[ids[2]].problems[0]
    assert summaries[ids[3]].problems == ()
    assert records == [Marker(t_s=1.0, kind=MarkerKind.NOTE)]


# -- lone surrogates and the write lock (issue 14 item 4) ----------------------------------


def test_a_lone_surrogate_in_a_document_rolls_back_and_frees_the_lock(store: Store) -> None:
    with pytest.raises(UnstorableValue, match="not valid Unicode"):
        store.put_document("plan", {"coping_text": SURROGATE})
    assert _write_lock_is_free(store.path)
    store.put_document("plan", {"coping_text": "tea"})  # the next write starts cleanly
    assert store.get_document("plan") == {"coping_text": "tea"}
    session_id = store.start_session(HEADER, "ble")
    with pytest.raises(UnstorableValue):
        store.put_result(session_id, "recovery", {"note": SURROGATE})
    assert _write_lock_is_free(store.path)


def test_a_lone_surrogate_in_a_record_or_header_is_refused_cleanly(store: Store) -> None:
    session_id = store.start_session(HEADER, "ble")
    good = Marker(t_s=1.0, kind=MarkerKind.NOTE, text="fine")
    bad = Marker(t_s=2.0, kind=MarkerKind.NOTE, text=f"x{SURROGATE}")
    with pytest.raises(UnstorableValue) as refused:
        store.append_many(session_id, [good, bad])
    assert refused.value.index == 1
    assert _write_lock_is_free(store.path)
    assert list(store.iter_records(session_id)[1]) == []  # all or nothing
    with pytest.raises(UnstorableValue) as imported:
        store.import_session(HEADER, [good, good, bad], "import")
    assert imported.value.index == 2
    with pytest.raises(UnstorableValue, match="header"):
        store.start_session(Header(started_at=HEADER.started_at,
                                   device={"name": SURROGATE}), "ble")
    assert _write_lock_is_free(store.path)
    assert [s.id for s in store.list_sessions()] == [session_id]


def test_the_recorder_keeps_a_session_whose_header_or_marker_has_a_surrogate(
        store: Store) -> None:
    header = Header(started_at=HEADER.started_at, device={"name": f"strap {SURROGATE}"})
    recorder = Recorder(store, header, "replay")
    assert recorder.record(Reconnect(t_s=1.0))
    assert not recorder.record(Marker(t_s=2.0, kind=MarkerKind.NOTE, text=SURROGATE))
    assert recorder.record(Reconnect(t_s=3.0))
    final = recorder.close()
    assert final.session_id is not None and final.dropped == 1 and final.recorded == 2
    summary = store.get_session(final.session_id)
    assert summary.status is SessionStatus.COMPLETE
    assert summary.device_name == "strap ?"
    assert [r.t_s for r in store.iter_records(final.session_id)[1]] == [1.0, 3.0]
    assert final.message is not None and "1 could not be saved" in final.message


# -- erasure (issue 14 item 10) ------------------------------------------------------------


def _secret_session(store: Store, secret: str) -> int:
    session_id = store.start_session(HEADER, "ble")
    for i in range(60):
        store.append(session_id, Marker(t_s=float(i), kind=MarkerKind.NOTE, text=f"{secret} {i}"))
    store.end_session(session_id)
    return session_id


@pytest.mark.slow
def test_delete_waits_for_a_reader_and_leaves_no_copy(store: Store) -> None:
    secret = f"MARKER-{uuid.uuid4()}"
    keep = store.import_session(HEADER, [Marker(t_s=1.0, kind=MarkerKind.NOTE)], "import")
    doomed = _secret_session(store, secret)
    reader = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM records").fetchone()[0] > 0  # a snapshot
    release = threading.Timer(2.0, lambda: reader.execute("COMMIT"))  # > busy timeout
    release.start()
    try:
        erasure = store.erase(doomed)
    finally:
        release.join()
        reader.close()
    assert erasure.wal_emptied
    assert secret.encode() not in _file_bytes(store.data_dir)
    assert (store.data_dir / (DB_FILENAME + "-wal")).stat().st_size == 0
    assert [s.id for s in store.list_sessions()] == [keep]


def test_a_reader_that_holds_on_is_outlasted_in_the_background(tmp_path: Path) -> None:
    secret = f"MARKER-{uuid.uuid4()}"
    with Store.open(tmp_path / "data", scrub_wait_s=0.05) as store:
        doomed = _secret_session(store, secret)
        reader = sqlite3.connect(store.path, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM records").fetchone()
        assert store.erase(doomed).wal_emptied is False
        assert store.erasure_pending
        reader.execute("COMMIT")
        reader.close()
        for _ in range(1200):  # a guard against hanging (60 s), not a performance limit
            if not store.erasure_pending:
                break
            threading.Event().wait(0.05)
        assert not store.erasure_pending
        assert secret.encode() not in _file_bytes(store.data_dir)


def test_deleting_the_sessions_a_document_came_from_erases_it(store: Store) -> None:
    secret = f"MARKER-{uuid.uuid4()}"
    first = store.import_session(HEADER, [Reconnect(t_s=1.0)], "import")
    second = store.import_session(HEADER, [Reconnect(t_s=1.0)], "import")
    store.put_document("baseline", {"recordings": [{"label": secret}]}, derived_from=first)
    store.put_document("baseline", {"recordings": [{"label": secret}, {"label": "b"}]},
                       derived_from=second)
    store.put_document("plan", {"preferred": ["walk"]})
    assert store.document_sources("baseline") == (first, second)
    assert store.erase(first).documents == ()
    assert store.get_document("baseline") is not None  # still holds the second's rest
    erasure = store.erase(second)
    assert erasure.documents == ("baseline",) and erasure.wal_emptied
    assert store.get_document("baseline") is None
    assert store.get_document("plan") == {"preferred": ["walk"]}  # not derived: kept
    assert secret.encode() not in _file_bytes(store.data_dir)


# -- failing disks: the end of a recording and stale errors (issue 14 item 11) ---------------


def _big_markers(count: int) -> list[Marker]:
    """Records too big to fit in the space left in a page: each needs the disk to grow."""
    return [Marker(t_s=float(i), kind=MarkerKind.NOTE, text=f"{i} " + "y" * 2000)
            for i in range(count)]


def test_a_recovered_failure_leaves_no_stale_error(store: Store) -> None:
    notifications = _big_markers(200)
    recorder = Recorder(store, HEADER, "ble")
    assert recorder.record(notifications[0])
    store.limit_size(1)
    assert not recorder.record(notifications[1])
    assert recorder.status.failing and recorder.status.last_error is not None
    store.limit_size(None)
    assert recorder.record(notifications[2])
    status = recorder.status
    assert not status.failing and status.last_error is None and status.unrecorded == 0


def test_the_end_of_a_failing_recording_retries_the_backlog(store: Store) -> None:
    notifications = _big_markers(200)
    changes: list[bool] = []
    recorder = QueuedRecorder(store, HEADER, "ble", retry_s=0.02, close_wait_s=60.0,
                              on_change=lambda: changes.append(True))
    assert recorder.start()
    assert recorder.record(notifications[0]) and recorder.wait_idle(30.0)
    store.limit_size(1)  # the disk is full from here on
    for n in notifications[1:120]:
        assert recorder.record(n)  # queued at once, never waits for the disk
    assert not recorder.wait_idle(30.0)
    assert recorder.status.failing and recorder.status.pending > 0
    recorder.close(end_t_s=500.0)  # the source ended while recording fails
    assert not recorder.wait_closed(0.2)  # still retrying
    store.limit_size(None)  # space again
    assert recorder.wait_closed(30.0)
    final = recorder.status
    assert final.closed and not final.failing and final.last_error is None
    assert final.recorded == 120 and final.unrecorded == 0
    assert final.message == "Recording ended: all 120 record(s) were saved."
    assert final.session_id is not None and len(changes) >= 3
    summary = store.get_session(final.session_id)
    assert summary.status is SessionStatus.COMPLETE and summary.duration_s == 500.0
    assert list(store.iter_records(final.session_id)[1]) == notifications[:120]


def test_a_recording_that_cannot_finish_says_what_was_not_saved(store: Store) -> None:
    notifications = _big_markers(200)
    recorder = QueuedRecorder(store, HEADER, "ble", retry_s=0.01, close_wait_s=0.2,
                              max_pending=50)
    assert recorder.start()
    assert recorder.record(notifications[0]) and recorder.wait_idle(30.0)
    store.limit_size(1)
    for n in notifications[1:80]:
        recorder.record(n)
    recorder.close()
    assert recorder.wait_closed(30.0)
    final = recorder.status
    assert final.closed and final.failing and final.recorded == 1
    assert final.unrecorded == 79 and final.dropped == 29 and final.pending == 50
    assert final.last_error == final.message
    assert final.message is not None and final.message.startswith(
        "Recording ended: 1 record(s) were saved, 79 could not be saved")
    store.limit_size(None)
    assert final.session_id is not None
    assert store.get_session(final.session_id).status is SessionStatus.RECORDING


def test_a_full_queue_drops_the_oldest_and_marks_the_hole(store: Store) -> None:
    notifications = _big_markers(200)
    recorder = QueuedRecorder(store, HEADER, "ble", retry_s=0.01, max_pending=20)
    assert recorder.start()
    store.limit_size(1)
    for n in notifications[:100]:
        recorder.record(n)
    store.limit_size(None)
    recorder.close(wait=True)
    final = recorder.status
    assert final.dropped == final.unrecorded and final.recorded + final.dropped == 100
    assert final.session_id is not None
    stored = list(store.iter_records(final.session_id)[1])
    kept = [r for r in stored if isinstance(r, Marker)]
    assert kept == notifications[100 - len(kept):100]  # the newest are kept, in order
    gap = [r for r in stored if isinstance(r, Disconnect)]
    assert all(g.reason == GAP_REASON for g in gap) and len(gap) >= 1


def test_written_means_on_disk_even_while_more_keeps_coming(store: Store) -> None:
    records = _big_markers(40)
    recorder = QueuedRecorder(store, HEADER, "ble", retry_s=0.01, batch_size=4)
    assert recorder.start()
    recorder.record(records[0])
    ticket = recorder.last_ticket
    for record in records[1:]:
        recorder.record(record)
    assert recorder.wait_written(ticket, 30.0)
    assert recorder.session_id is not None
    assert list(store.iter_records(recorder.session_id)[1])[0] == records[0]
    assert recorder.wait_idle(30.0)
    store.limit_size(1)
    recorder.record(Marker(t_s=99.0, kind=MarkerKind.NOTE, text="z" * 3000))
    assert recorder.wait_written(recorder.last_ticket, 30.0) is False  # failing: not on disk
    store.limit_size(None)
    recorder.close(wait=True)
    assert recorder.status.recorded == 41


def test_a_session_ends_complete_when_its_last_record_is_unstorable(store: Store) -> None:
    recorder = QueuedRecorder(store, HEADER, "ble")
    assert recorder.start()
    recorder.record(Reconnect(t_s=1.0))
    recorder.record(Marker(t_s=2.0, kind=MarkerKind.RATING, value=float("nan")))
    final = recorder.close(end_t_s=3.0, wait=True)
    sync = Recorder(store, HEADER, "ble")
    assert sync.start()
    store.limit_size(1)
    assert not sync.record(_big_markers(1)[0])  # waits: the disk is full
    assert not sync.record(Marker(t_s=2.0, kind=MarkerKind.NOTE, text=SURROGATE))
    store.limit_size(None)
    sync_final = sync.close()  # writes the first, drops the second, ends the session
    for status in (final, sync_final):
        assert status.closed and not status.failing and status.dropped == 1
        assert status.session_id is not None
        assert store.get_session(status.session_id).status is SessionStatus.COMPLETE


def test_a_lock_file_left_by_a_process_that_died_before_its_session_row_is_removed(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Store.open(data) as first:
        live = first.start_session(HEADER, "ble")  # its lock is held: it must stay
        locks = data / "recording-locks"
        (locks / "0123456789abcdef.lock").write_bytes(b"")  # no session row, no holder
        with Store.open(data) as second:
            assert second.recovered == ()
        assert [p.name for p in locks.iterdir()] != [] and \
            not (locks / "0123456789abcdef.lock").exists()
        first.end_session(live)
    assert list(locks.iterdir()) == []


def test_a_version_1_database_is_upgraded_on_open(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Store.open(data) as first:
        kept = first.import_session(HEADER, [Reconnect(t_s=1.0)], "import")
    with sqlite3.connect(data / DB_FILENAME) as raw:  # as version 1 left it
        raw.execute("DROP TABLE document_sources")
        raw.execute("PRAGMA user_version=1")
    raw.close()
    with Store.open(data) as again:
        again.put_document("baseline", {"recordings": []}, derived_from=kept)
        assert again.document_sources("baseline") == (kept,)
        assert [s.id for s in again.list_sessions()] == [kept]
