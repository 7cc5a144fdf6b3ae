"""Recorders: write one live session to the Store and never raise into the stream.

Records wait in one bounded in-memory queue (oldest first) until they are on disk:

* :class:`Recorder` writes on the caller's thread: ``record`` returns True when everything
  queued is committed (the CLI, tests, the SIGKILL test's writer).
* :class:`QueuedRecorder` is for an event loop: ``record`` only appends to the queue and
  returns at once; ONE writer thread commits what is queued, many records per transaction.
  A record counts as recorded (``status.recorded``, ``last_seq``) only once its transaction
  has committed, so "acknowledged" still means "on disk". A slow or failing disk or another
  process holding the database's write lock delays the recording, never the caller.

A failed write (disk full, read-only, database locked, I/O error) turns into a status with a
count of unrecorded records while the live view goes on; the queue is retried, oldest first,
until it goes in. When the queue overflows, the oldest are dropped and a Disconnect/Reconnect
pair marks the hole in the recording, so nothing downstream computes across it. A record that
can never be stored (a non-finite time, text that is not valid Unicode) is dropped and counted
without holding up the rest. When the recording ends while writes fail, the queue is retried
for a while; the final status then says plainly what was and was not recorded.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from afterbeat.errors import AfterbeatError
from afterbeat.records import Disconnect, Header, Reconnect, Record
from afterbeat.storage.session_file import decode_line, encode_header
from afterbeat.storage.store import SessionNotRecording, Store, UnstorableValue

__all__ = ["GAP_REASON", "QueuedRecorder", "Recorder", "RecorderStatus"]

log = logging.getLogger(__name__)

GAP_REASON: Final = "recording_failed"
"""Reason of the Disconnect written where records had to be dropped."""

_WRITE_ERRORS: Final = (AfterbeatError, OSError, sqlite3.Error)


@dataclass(frozen=True, slots=True)
class RecorderStatus:
    """How recording goes: counts of records on disk and not, and the last failure."""

    session_id: int | None
    """None until the session row could be written."""
    recorded: int
    """Records of this session that are on disk."""
    unrecorded: int
    """Records not on disk: still waiting in the queue plus those dropped."""
    pending: int
    """Records waiting in memory to be written (or retried)."""
    dropped: int
    """Records lost for good: the queue overflowed, or the record could not be stored."""
    failing: bool
    """True while the last write attempt failed."""
    last_error: str | None
    """What went wrong, in words: the current failure, or at the end what was not recorded.
    None while everything goes in (a recovered failure leaves no stale error)."""
    last_seq: int | None
    """Sequence number (1, 2, …) of the last record committed."""
    closed: bool = False
    """True once the recording has ended (the session is complete, or left to recovery)."""
    message: str | None = None
    """One sentence for people on what was and was not recorded."""


@dataclass(frozen=True, slots=True)
class _Gap:
    """Queue item: records from ``start_t_s`` on were dropped here."""

    start_t_s: float


@dataclass(frozen=True, slots=True)
class _Job:
    """Queue item: a write of derived data (a result, a document), in order with records."""

    what: str
    run: Callable[[Store, int | None], None]


_Item = Record | _Gap | _Job


def _storable_header(header: Header) -> tuple[Header, str | None]:
    """The header, or a copy whose text SQLite can hold (lone surrogates replaced by '?')."""
    try:
        encode_header(header).encode("utf-8")
    except UnicodeEncodeError:
        text = encode_header(header).encode("utf-8", "replace").decode("utf-8")
        fixed = decode_line(text, header=True)
        assert isinstance(fixed, Header)
        return fixed, "the session header held text that is not valid Unicode; it was " \
            "stored with '?' in its place"
    except (ValueError, OverflowError):
        pass  # the store clamps or refuses it with a clear error
    return header, None


class Recorder:
    """Records one session into a Store on the caller's thread; ``record`` never raises."""

    def __init__(self, store: Store, header: Header, source: str, *,
                 max_pending: int = 3600, batch_size: int = 256) -> None:
        self._store = store
        self._header, note = _storable_header(header)
        self._source = source
        self._max_pending = max(1, max_pending)
        self._batch_size = max(1, batch_size)
        self._lock = threading.Condition(threading.Lock())
        self._queue: deque[_Item] = deque()
        self._queued = 0  # records (not gaps or jobs) not on disk yet: queued or being written
        self._enqueued_total = 0  # records and jobs ever queued (their tickets: 1, 2, …)
        self._settled_total = 0  # of those, written or given up; FIFO, so tickets settle in order
        self._session_id: int | None = None
        self._recorded = 0
        self._dropped = 0
        self._failing = False
        self._last_error: str | None = None
        self._note: str | None = note
        self._last_seq: int | None = None
        self._closed = False
        self._ended = False
        self._end_message: str | None = None

    # -- status ----------------------------------------------------------------------------

    @property
    def status(self) -> RecorderStatus:
        """The current recording status."""
        with self._lock:
            return RecorderStatus(
                session_id=self._session_id, recorded=self._recorded,
                unrecorded=self._queued + self._dropped, pending=self._queued,
                dropped=self._dropped, failing=self._failing, last_error=self._last_error,
                last_seq=self._last_seq, closed=self._closed and self._ended,
                message=self._message(),
            )

    @property
    def session_id(self) -> int | None:
        """The session's id in the store, once it exists."""
        return self._session_id

    def _message(self) -> str | None:
        lost = self._queued + self._dropped
        done = self._closed and self._ended
        if done and self._end_message is not None:
            return self._end_message
        if self._failing and not done:
            return (f"Recording is failing ({self._last_error}); {self._queued} record(s) "
                    "wait in memory and are saved when it works again. The live view goes on.")
        if done and lost:
            return (f"Recording ended: {self._recorded} record(s) were saved, {lost} could "
                    "not be saved" + (f" (last error: {self._last_error})."
                                      if self._last_error else "."))
        if done:
            return f"Recording ended: all {self._recorded} record(s) were saved."
        if self._dropped:
            return (f"Recording works; {self._dropped} record(s) could not be saved earlier "
                    "and are marked as a gap.")
        return self._note

    # -- the caller's side -------------------------------------------------------------------

    def start(self) -> bool:
        """Create the session now (optional: ``record`` does it too); True on success."""
        return self._drain()

    def record(self, record: Record) -> bool:
        """Queue one record and write everything queued; True when all of it is on disk."""
        if self._closed:
            log.warning("record after the recorder was closed; ignored")
            return False
        if self._queued >= self._max_pending:
            self._drain()  # space again? then nothing needs to be dropped
        self._enqueue(record)
        return self._drain()

    def put_result(self, key: str, value: Any) -> bool:
        """Keep a result of this session (in order with its records); True when on disk."""
        def run(store: Store, session_id: int | None) -> None:
            if session_id is not None:
                store.put_result(session_id, key, value)
        return self._submit(_Job(f"the {key} result", run))

    def put_document(self, key: str, value: Any, *, derived: bool = False) -> bool:
        """Keep a person document; ``derived``: it holds data of this session (a rest)."""
        def run(store: Store, session_id: int | None) -> None:
            store.put_document(key, value, derived_from=session_id if derived else None)
        return self._submit(_Job(f"the {key} document", run))

    def _submit(self, job: _Job) -> bool:
        if self._closed:
            return False
        with self._lock:
            self._queue.append(job)
            self._enqueued_total += 1
        return self._drain()

    def close(self, *, end_t_s: float | None = None) -> RecorderStatus:
        """Write what is left and mark the session complete; a failure leaves it to recovery."""
        if not self._closed:
            self._closed = True
            self._finish(end_t_s)
        return self.status

    # -- queue -----------------------------------------------------------------------------

    def _enqueue(self, record: Record) -> None:
        with self._lock:
            if self._queued >= self._max_pending:
                self._drop_oldest()
            self._queue.append(record)
            self._queued += 1
            self._enqueued_total += 1
            self._lock.notify_all()

    def _drop_oldest(self) -> None:
        """Drop the oldest queued record; a gap item takes its place (merged with its
        neighbours), so the hole is written exactly where it is. Lock held."""
        index = next((i for i, item in enumerate(self._queue)
                      if not isinstance(item, _Gap | _Job)), None)
        if index is None:
            return  # every waiting record is being written right now: nothing to drop yet
        lost = self._queue[index]
        assert not isinstance(lost, _Gap | _Job)
        del self._queue[index]
        self._queued -= 1
        self._dropped += 1
        self._settled_total += 1
        before = self._queue[index - 1] if index > 0 else None
        if not isinstance(before, _Gap):
            self._queue.insert(index, _Gap(lost.t_s))
            index += 1
        if index < len(self._queue) and isinstance(self._queue[index], _Gap):
            del self._queue[index]  # two holes side by side are one

    def _take(self) -> list[_Item]:
        """The next batch from the head: one job, or records and gaps. Lock held."""
        if not self._queue:
            return []
        if isinstance(self._queue[0], _Job):
            return [self._queue.popleft()]
        batch: list[_Item] = []
        count = 0
        while self._queue and not isinstance(self._queue[0], _Job):
            item = self._queue[0]
            if count >= self._batch_size and not isinstance(batch[-1], _Gap):
                break
            batch.append(self._queue.popleft())
            if not isinstance(item, _Gap):
                count += 1
        return batch

    def _put_back(self, batch: list[_Item]) -> None:
        """A batch that did not go in returns to the head, in order. Lock held."""
        self._queue.extendleft(reversed(batch))

    # -- writing (the caller's thread here, the writer thread in QueuedRecorder) ------------

    def _drain(self) -> bool:
        """Write everything queued; False when a write failed (the rest waits) or a record
        had to be dropped as unstorable."""
        clean = True
        while True:
            with self._lock:
                batch = self._take() if self._session_id is not None else []
                if self._session_id is not None and not batch:
                    self._recovered()
                    self._lock.notify_all()
                    return clean
            try:
                if self._session_id is None:
                    session_id = self._store.start_session(self._header, self._source)
                    with self._lock:
                        self._session_id = session_id
                    continue
                self._write(batch)
            except UnstorableValue as exc:
                if not batch:  # the session itself cannot be started: nothing can go in
                    with self._lock:
                        self._fail(exc)
                    return False
                self._unstorable_item(batch, exc)
                clean = False
            except Exception as exc:  # never into the stream; the batch waits to be retried
                if not isinstance(exc, _WRITE_ERRORS):
                    log.exception("unexpected error while recording")
                with self._lock:
                    self._put_back(batch)
                    self._fail(exc)
                    self._lock.notify_all()
                return False

    def _write(self, batch: list[_Item]) -> None:
        assert self._session_id is not None
        if len(batch) == 1 and isinstance(batch[0], _Job):
            job = batch[0]
            try:
                job.run(self._store, self._session_id)
            except (ValueError, TypeError, LookupError) as exc:
                log.warning("could not keep %s: %s", job.what, exc)  # retrying cannot help
            with self._lock:
                self._settled_total += 1
            return
        records: list[Record] = []
        for i, item in enumerate(batch):
            if isinstance(item, _Gap):
                following = next((r.t_s for r in batch[i + 1:] if not isinstance(r, _Gap | _Job)),
                                 item.start_t_s)
                records += [Disconnect(t_s=item.start_t_s, reason=GAP_REASON),
                            Reconnect(t_s=max(item.start_t_s, following))]
            else:
                assert not isinstance(item, _Job)
                records.append(item)
        seqs = self._store.append_many(self._session_id, records)
        with self._lock:
            written = sum(1 for item in batch if not isinstance(item, _Gap | _Job))
            self._recorded += written
            self._queued -= written
            self._settled_total += written
            if seqs:
                self._last_seq = seqs[-1]

    def _unstorable_item(self, batch: list[_Item], exc: UnstorableValue) -> None:
        """Drop the one record that can never be stored; the rest go back to be written."""
        position = _batch_position(batch, exc.index)
        with self._lock:
            lost = batch.pop(position) if position is not None else None
            self._put_back(batch)
            if lost is not None and not isinstance(lost, _Gap | _Job):
                self._queued -= 1
                self._dropped += 1
                self._settled_total += 1
            self._last_error = f"a record could not be stored: {exc}"
            log.warning("%s", self._last_error)

    def _recovered(self) -> None:
        """Everything queued went in: a failure is over. Lock held."""
        if self._failing:
            log.info("recording resumed; %d record(s) were lost", self._dropped)
            self._failing = False
            self._last_error = None
            self._changed()

    def _fail(self, exc: BaseException) -> None:
        """Lock held."""
        if not self._failing:
            log.warning("recording failed, the live view goes on: %s", exc)
            self._failing = True
            self._last_error = str(exc)
            self._changed()
        self._last_error = str(exc)

    def _changed(self) -> None:
        """Hook: ``failing`` flipped or the recording ended. Lock held."""

    def _finish(self, end_t_s: float | None) -> None:
        """Write what is left and end the session (the caller's thread)."""
        self._drain()
        self._end_session(end_t_s, store_end=not self._failing)

    def _end_session(self, end_t_s: float | None, *, store_end: bool) -> None:
        """Mark the session complete in the store (when ``store_end``), then say how it went."""
        if store_end and self._session_id is not None:
            try:
                self._store.end_session(self._session_id, end_t_s=end_t_s)
            except SessionNotRecording as exc:
                log.warning("the session was ended elsewhere: %s", exc)
            except _WRITE_ERRORS as exc:
                with self._lock:
                    self._fail(exc)
        with self._lock:
            self._ended = True
            self._report_end()
            self._changed()
            self._lock.notify_all()

    def _report_end(self) -> None:
        """At the end, say plainly what was and was not recorded. Lock held."""
        lost = self._queued + self._dropped
        self._end_message = self._message()
        if lost or self._failing:
            self._last_error = self._end_message
            log.warning("%s", self._end_message)
        else:
            log.info("%s", self._end_message)


def _batch_position(batch: list[_Item], record_index: int | None) -> int | None:
    """Which batch item the ``index``-th written record came from (gaps write two)."""
    if record_index is None:
        return None
    written = 0
    for position, item in enumerate(batch):
        written += 2 if isinstance(item, _Gap) else 1
        if record_index < written:
            return position
    return None


class QueuedRecorder(Recorder):
    """Records one session from an event loop: ``record`` only queues; a thread writes.

    ``on_change`` is called (on the writer thread) when writes start or stop failing and when
    the recording has ended; a server uses it to tell live clients
    (``loop.call_soon_threadsafe``). ``retry_s`` is the pause before a failed write is tried
    again; ``close`` keeps retrying for ``close_wait_s`` before it gives up.
    """

    def __init__(self, store: Store, header: Header, source: str, *,
                 max_pending: int = 3600, batch_size: int = 256, retry_s: float = 0.5,
                 close_wait_s: float = 30.0,
                 on_change: Callable[[], None] | None = None) -> None:
        super().__init__(store, header, source, max_pending=max_pending, batch_size=batch_size)
        self._retry_s = retry_s
        self._close_wait_s = close_wait_s
        self._on_change = on_change
        self._end_t_s: float | None = None
        self._close_deadline: float | None = None
        self._thread = threading.Thread(target=self._run, name="afterbeat-recorder",
                                        daemon=True)

    def start(self) -> bool:
        """Try to create the session now (on this thread), then start the writer thread.

        True when the session exists; if not, the writer keeps trying.
        """
        if self._thread.is_alive() or self._closed:
            return self._session_id is not None
        ok = self._drain()
        self._thread.start()
        return ok

    def record(self, record: Record) -> bool:
        """Queue one record for the writer thread; never blocks, never raises.

        False only after ``close`` (the record is ignored). A full queue drops its oldest
        record (counted, marked as a gap), never the new one.
        """
        if self._closed:
            log.warning("record after the recorder was closed; ignored")
            return False
        self._enqueue(record)
        return True

    def _submit(self, job: _Job) -> bool:
        if self._closed:
            return False
        with self._lock:
            self._queue.append(job)
            self._enqueued_total += 1
            self._lock.notify_all()
        return True

    def close(self, *, end_t_s: float | None = None, wait: bool = False) -> RecorderStatus:
        """End the recording: the writer writes what is left (retrying for ``close_wait_s``)
        and marks the session complete. Returns at once unless ``wait``."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._end_t_s = end_t_s
                self._close_deadline = time.monotonic() + self._close_wait_s
                self._lock.notify_all()
        if not self._thread.is_alive() and not self._ended:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()  # never started: the close still writes and ends
        if wait:
            self.wait_closed()
        return self.status

    def wait_closed(self, timeout_s: float | None = None) -> bool:
        """Block until the recording has ended (``close``); True if it has."""
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        return self._ended

    @property
    def last_ticket(self) -> int:
        """The ticket of the last record or write queued (1, 2, …), for ``wait_written``."""
        with self._lock:
            return self._enqueued_total

    def wait_written(self, ticket: int, timeout_s: float | None = None) -> bool:
        """Block until everything queued up to ``ticket`` is written; True if it is.

        Returns False at the timeout, while writes fail or after the recording ended, so a
        caller never says "recorded" for something that is not on disk.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._lock:
            while self._settled_total < ticket:
                if self._failing or self._ended:
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return not self._failing

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        """Block until every record queued so far is written or dropped; True if it is.

        Returns False at the timeout or while writes fail (the records wait in memory).
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._lock:
            while self._settled_total < self._enqueued_total:
                if self._failing or self._ended:
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True

    def _changed(self) -> None:
        if self._on_change is not None:
            try:
                self._on_change()
            except Exception:  # a listener's bug must not stop the recording
                log.exception("recording status listener failed")

    def _run(self) -> None:
        """The writer thread: write what is queued; on failure wait ``retry_s`` and retry."""
        while True:
            try:
                self._drain()
            except Exception as exc:  # a bug must not end the writer: count it as a failure
                log.exception("the recorder's writer failed")
                with self._lock:
                    self._fail(exc)
            with self._lock:
                ok = not self._failing
                if self._closed:
                    deadline = self._close_deadline or 0.0
                    if ok or time.monotonic() >= deadline:
                        break
                    self._lock.wait(min(self._retry_s, max(0.0, deadline - time.monotonic())))
                    continue
                if ok:
                    while not self._queue and not self._closed:
                        self._lock.wait()
                else:
                    self._lock.wait(self._retry_s)
        self._end_session(self._end_t_s, store_end=ok)

    def _finish(self, end_t_s: float | None) -> None:  # pragma: no cover - close overrides
        raise AssertionError("QueuedRecorder ends on its writer thread")

