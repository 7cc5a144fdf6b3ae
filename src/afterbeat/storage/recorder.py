"""Recorder: writes one live session to the Store and never raises into the stream.

A failed write (disk full, read-only, database locked, I/O error) turns into a status with a
count of unrecorded records while the live view goes on. Failed records wait in a bounded
in-memory backlog and are retried, oldest first, with every later record; when the backlog
overflows, the oldest are dropped and a Disconnect/Reconnect pair marks the hole in the
recording, so nothing downstream computes across it.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import deque
from dataclasses import dataclass
from typing import Final

from afterbeat.errors import AfterbeatError
from afterbeat.records import Disconnect, Header, Reconnect, Record
from afterbeat.storage.store import Store

__all__ = ["GAP_REASON", "Recorder", "RecorderStatus"]

log = logging.getLogger(__name__)

GAP_REASON: Final = "recording_failed"
"""Reason of the Disconnect written where records had to be dropped."""


@dataclass(frozen=True, slots=True)
class RecorderStatus:
    """How recording goes: counts of records on disk and not, and the last failure."""

    session_id: int | None
    """None until the session row could be written."""
    recorded: int
    """Records of this session that are on disk."""
    unrecorded: int
    """Records not on disk: still waiting in the backlog plus those dropped."""
    pending: int
    """Records waiting in memory to be retried."""
    dropped: int
    """Records lost for good because the backlog overflowed."""
    failing: bool
    """True while the last write attempt failed."""
    last_error: str | None
    last_seq: int | None
    """Sequence number (1, 2, …) of the last record written."""


class Recorder:
    """Records one session into a Store; ``record`` never raises, ``status`` says how it goes."""

    def __init__(self, store: Store, header: Header, source: str, *,
                 max_pending: int = 3600) -> None:
        self._store = store
        self._header = header
        self._source = source
        self._max_pending = max(1, max_pending)
        self._pending: deque[Record] = deque()
        self._session_id: int | None = None
        self._recorded = 0
        self._dropped = 0
        self._gap_t_s: float | None = None
        self._reconnect_t_s: float | None = None
        self._failing = False
        self._last_error: str | None = None
        self._last_seq: int | None = None
        self._closed = False

    @property
    def status(self) -> RecorderStatus:
        """The current recording status."""
        return RecorderStatus(
            session_id=self._session_id, recorded=self._recorded,
            unrecorded=len(self._pending) + self._dropped, pending=len(self._pending),
            dropped=self._dropped, failing=self._failing, last_error=self._last_error,
            last_seq=self._last_seq,
        )

    @property
    def session_id(self) -> int | None:
        """The session's id in the store, once it exists."""
        return self._session_id

    def start(self) -> bool:
        """Create the session now (optional: ``record`` does it too); True on success."""
        return self._flush()

    def record(self, record: Record) -> bool:
        """Queue one record and write everything queued; True when all of it is on disk."""
        if self._closed:
            log.warning("record after the recorder was closed; ignored")
            return False
        if len(self._pending) >= self._max_pending and not self._flush():
            lost = self._pending.popleft()
            self._dropped += 1
            if self._gap_t_s is None:
                self._gap_t_s = lost.t_s
        self._pending.append(record)
        return self._flush()

    def close(self, *, end_t_s: float | None = None) -> RecorderStatus:
        """Write what is left and mark the session complete; a failure leaves it to recovery."""
        if not self._closed and self._flush() and self._session_id is not None:
            try:
                self._store.end_session(self._session_id, end_t_s=end_t_s)
            except (AfterbeatError, OSError, sqlite3.Error) as exc:
                self._fail(exc)
        self._closed = True
        return self.status

    def _flush(self) -> bool:
        try:
            if self._session_id is None:
                self._session_id = self._store.start_session(self._header, self._source)
            while self._pending:
                self._write_gap(self._pending[0].t_s)
                self._last_seq = self._store.append(self._session_id, self._pending[0])
                self._pending.popleft()
                self._recorded += 1
        except (AfterbeatError, OSError, sqlite3.Error) as exc:  # never into the stream
            self._fail(exc)
            return False
        except (ValueError, TypeError) as exc:
            # This record cannot be stored at all (e.g. a non-finite number): retrying would
            # block every later one, so it is counted as unrecorded and the rest go on.
            self._pending.popleft()
            self._dropped += 1
            self._last_error = f"a record could not be stored: {exc}"
            log.warning("%s", self._last_error)
            self._flush()
            return False
        if self._failing:
            log.info("recording resumed; %d record(s) were lost", self._dropped)
        self._failing = False
        return True

    def _write_gap(self, next_t_s: float) -> None:
        """Mark dropped records as a gap, each half written once even across failures."""
        assert self._session_id is not None
        if self._gap_t_s is not None:
            self._store.append(self._session_id, Disconnect(t_s=self._gap_t_s, reason=GAP_REASON))
            self._reconnect_t_s = self._gap_t_s
            self._gap_t_s = None
        if self._reconnect_t_s is not None:
            self._store.append(self._session_id,
                               Reconnect(t_s=max(self._reconnect_t_s, next_t_s)))
            self._reconnect_t_s = None

    def _fail(self, exc: Exception) -> None:
        if not self._failing:
            log.warning("recording failed, the live view goes on: %s", exc)
        self._failing = True
        self._last_error = str(exc)
