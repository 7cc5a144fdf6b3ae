"""The recording database: every record of every session, crash-safe, private and erasable.

``sessions.sqlite3`` in the data directory (stdlib sqlite3). WAL with ``synchronous=FULL``: each
``append`` is one transaction that is on disk when it returns, so a crash or SIGKILL loses
nothing that was acknowledged. The database, ``-wal`` and ``-shm`` files are 0600 whatever the
umask. ``delete`` erases for real: ``secure_delete`` zeroes the freed content and a
``wal_checkpoint(TRUNCATE)`` empties the WAL. A live session holds an exclusive lock on a small
file, so a session left ``recording`` by a dead process (lock free) is found by the next
``Store.open`` and marked ``interrupted``; it stays replayable. See docs/storage.md.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import sqlite3
import stat
import sys
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

from afterbeat.errors import AfterbeatError
from afterbeat.paths import ensure_private_dir
from afterbeat.records import (
    DeviceEvent,
    Disconnect,
    Header,
    Marker,
    Notification,
    Reconnect,
    Record,
)
from afterbeat.storage.session_file import decode_line, encode_header, encode_record, write_session

__all__ = [
    "DB_FILENAME",
    "SCHEMA_VERSION",
    "RecordingFailed",
    "SessionBusy",
    "SessionNotFound",
    "SessionNotRecording",
    "SessionStatus",
    "SessionSummary",
    "Store",
    "StoreError",
]

log = logging.getLogger(__name__)

DB_FILENAME: Final = "sessions.sqlite3"
LOCK_DIRNAME: Final = "recording-locks"
EXPORT_DIRNAME: Final = "exports"
SCHEMA_VERSION: Final = 1
_PAGE_ROWS: Final = 2000

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    header TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('recording', 'complete', 'interrupted')),
    source TEXT NOT NULL,
    lock_token TEXT,
    duration_s REAL,
    notification_count INTEGER
);
CREATE TABLE IF NOT EXISTS records (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    t_s REAL NOT NULL,
    type TEXT NOT NULL,
    wall_s REAL,
    payload BLOB,
    data TEXT,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS session_results (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (session_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS documents (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"""

_RECORD_TYPES: Final[dict[type, str]] = {
    Notification: "notification",
    Marker: "marker",
    Disconnect: "disconnect",
    Reconnect: "reconnect",
    DeviceEvent: "device",
}

_APPEND_SQL: Final = """
INSERT INTO records (session_id, seq, t_s, type, wall_s, payload, data)
SELECT s.id, coalesce((SELECT max(seq) FROM records WHERE session_id = s.id), 0) + 1,
       ?, ?, ?, ?, ?
FROM sessions AS s WHERE s.id = ? AND s.status = 'recording'
RETURNING seq
"""


class StoreError(AfterbeatError):
    """The recording database cannot do what was asked."""


class SessionNotFound(StoreError, LookupError):
    """No session with that id (it may have been deleted)."""


class SessionNotRecording(StoreError):
    """Records can only be appended to a session that is still recording."""


class SessionBusy(StoreError):
    """The session is being recorded right now by a live process."""


class RecordingFailed(StoreError, OSError):
    """A write to the database failed (disk full, read-only, locked, I/O error)."""


class SessionStatus(enum.StrEnum):
    """Where a session stands."""

    RECORDING = "recording"
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One session as listed: start (UTC), length (s), status and notification count."""

    id: int
    started_at: datetime
    duration_s: float
    status: SessionStatus
    notification_count: int
    source: str
    header: Header
    ended_at: datetime | None = None

    @property
    def device_name(self) -> str | None:
        """The strap's name from the header, if known."""
        name = self.header.device.get("name")
        return name if isinstance(name, str) else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _make_private(path: Path) -> None:
    """Create ``path`` if missing, 0600; tighten it if it exists with a looser mode."""
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            path.chmod(0o600)
    finally:
        os.close(fd)
    if created and sys.platform != "win32":
        # Make the new directory entry durable too, or a power cut could take the file.
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _tighten(path: Path) -> None:
    try:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
    except FileNotFoundError:
        pass


# A live session holds an exclusive advisory lock on its own lock file. The OS drops it
# when the process dies (even by SIGKILL), which is how a crashed session is recognised.
if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


class _SessionLock:
    """An exclusive lock file held for as long as one session records."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, path: Path) -> _SessionLock | None:
        """Take the lock, or None when another live store holds it."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if not _try_lock(fd):
            os.close(fd)
            return None
        return cls(path, fd)

    def release(self, *, unlink: bool) -> None:
        """Let go of the lock; remove the file when the session is finished."""
        if self._fd is None:
            return
        os.close(self._fd)  # before unlinking: Windows cannot remove an open file
        self._fd = None
        if unlink:
            try:
                self.path.unlink(missing_ok=True)
            except OSError as exc:  # a stale lock file is harmless: recovery removes it
                log.debug("could not remove %s: %s", self.path, exc)


def _row_of(record: Record) -> tuple[float, str, float | None, bytes | None, str | None]:
    kind = _RECORD_TYPES.get(type(record))
    if kind is None:
        raise TypeError(f"not a session record: {type(record).__name__}")
    # Times are kept at the session file's precision so a DB row and its export are equal.
    t_s = round(record.t_s, 6)
    if isinstance(record, Notification):
        return t_s, kind, round(record.wall_s, 6), bytes(record.payload), None
    return t_s, kind, None, None, encode_record(record)


def _record_of(t_s: float, kind: str, wall_s: float | None, payload: bytes | None,
               data: str | None) -> Record:
    if kind == "notification":
        return Notification(t_s=t_s, wall_s=wall_s or 0.0, payload=bytes(payload or b""))
    record = decode_line(data or "{}")
    assert not isinstance(record, Header)
    return record


class Store:
    """The recording database of one data directory; safe to share between threads."""

    def __init__(self, conn: sqlite3.Connection, data_dir: Path, recovered: tuple[int, ...]
                 ) -> None:
        self._conn = conn
        self._mutex = threading.RLock()
        self._locks: dict[int, _SessionLock] = {}
        self.data_dir = data_dir
        self.path = data_dir / DB_FILENAME
        self.recovered = recovered
        """Sessions found left ``recording`` by a dead process and marked interrupted on open."""

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, data_dir: str | os.PathLike[str], *, busy_timeout_s: float = 1.0) -> Store:
        """Open (creating if needed) the database in ``data_dir``; mark crashed sessions."""
        folder = ensure_private_dir(Path(data_dir))
        path = folder / DB_FILENAME
        try:
            _make_private(path)
            conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None,
                                   check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the recording database {path}: {exc}") from exc
        try:
            cls._configure(conn, path)
            store = cls(conn, folder, ())
            store.recovered = store._recover()
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot open the recording database {path}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return store

    @staticmethod
    def _configure(conn: sqlite3.Connection, path: Path) -> None:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{path}: the file system does not support SQLite WAL mode")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA fullfsync=ON")  # macOS: F_FULLFSYNC; ignored elsewhere
        conn.execute("PRAGMA checkpoint_fullfsync=ON")
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA foreign_keys=ON")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{path} was written by a newer afterbeat (schema {version})")
        if version < SCHEMA_VERSION:
            conn.executescript(
                f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
            )
        for suffix in ("-wal", "-shm"):
            _tighten(path.with_name(path.name + suffix))

    def _lock_path(self, token: str) -> Path:
        return ensure_private_dir(self.data_dir / LOCK_DIRNAME) / f"{token}.lock"

    def _recover(self) -> tuple[int, ...]:
        rows = self._conn.execute(
            "SELECT id, lock_token FROM sessions WHERE status = 'recording' ORDER BY id"
        ).fetchall()
        found: list[int] = []
        for session_id, token in rows:
            lock = _SessionLock.acquire(self._lock_path(str(token))) if token else None
            if token and lock is None:
                continue  # recording right now in another live store
            try:
                if self._finish(session_id, SessionStatus.INTERRUPTED, None):
                    found.append(session_id)
                    log.info("session %d was cut short and is marked interrupted",
                                session_id)
            finally:
                if lock is not None:
                    lock.release(unlink=True)
        return tuple(found)

    # -- recording -----------------------------------------------------------------------

    def _write(self, what: str, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Run one statement as its own durable transaction; RecordingFailed on failure."""
        with self._mutex:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                rows = self._conn.execute(sql, params).fetchall()
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise RecordingFailed(f"could not {what}: {exc}") from exc
            return rows

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.debug("rollback failed", exc_info=True)

    def start_session(self, header: Header, source: str) -> int:
        """Create a session in ``recording`` status and hold its lock; return its id."""
        token = uuid.uuid4().hex
        try:
            lock = _SessionLock.acquire(self._lock_path(token))
        except OSError as exc:
            raise RecordingFailed(f"could not start a session: {exc}") from exc
        assert lock is not None  # a fresh random name
        try:
            rows = self._write(
                "start a session",
                "INSERT INTO sessions (header, started_at, status, source, lock_token) "
                "VALUES (?, ?, 'recording', ?, ?) RETURNING id",
                (encode_header(header), _iso(header.started_at), source, token),
            )
        except BaseException:
            lock.release(unlink=True)
            raise
        session_id = int(rows[0][0])
        with self._mutex:
            self._locks[session_id] = lock
        return session_id

    def append(self, session_id: int, record: Record) -> int:
        """Write one record in its own transaction, on disk on return; give its seq (1, 2, …)."""
        t_s, kind, wall_s, payload, data = _row_of(record)
        rows = self._write("record", _APPEND_SQL, (t_s, kind, wall_s, payload, data, session_id))
        if not rows:
            status = self._status(session_id)
            raise SessionNotRecording(f"session {session_id} is {status}, not recording")
        return int(rows[0][0])

    def end_session(self, session_id: int, *, end_t_s: float | None = None) -> SessionSummary:
        """Mark a recording session complete; its length is ``end_t_s`` or its last record's."""
        try:
            with self._mutex:
                if not self._finish(session_id, SessionStatus.COMPLETE, end_t_s):
                    status = self._status(session_id)
                    raise SessionNotRecording(f"session {session_id} is already {status}")
        except sqlite3.Error as exc:
            raise RecordingFailed(f"could not end session {session_id}: {exc}") from exc
        with self._mutex:
            lock = self._locks.pop(session_id, None)
        if lock is not None:
            lock.release(unlink=True)
        return self.get_session(session_id)

    def _finish(self, session_id: int, status: SessionStatus, end_t_s: float | None) -> bool:
        with self._mutex:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                finished = self._finish_in_transaction(session_id, status, end_t_s)
                self._conn.execute("COMMIT" if finished else "ROLLBACK")
            except BaseException:
                self._rollback()
                raise
            return finished

    def _finish_in_transaction(self, session_id: int, status: SessionStatus,
                               end_t_s: float | None) -> bool:
        row = self._conn.execute(
            "SELECT started_at FROM sessions WHERE id = ? AND status = 'recording'",
            (session_id,),
        ).fetchone()
        if row is None:
            return False
        count, last_t_s = self._tally(session_id)
        duration_s = max(last_t_s, end_t_s or 0.0)
        ended_at = _parse_iso(row[0]) + timedelta(seconds=duration_s)
        self._conn.execute(
            "UPDATE sessions SET status = ?, ended_at = ?, duration_s = ?, "
            "notification_count = ?, lock_token = NULL WHERE id = ?",
            (str(status), _iso(ended_at), duration_s, count, session_id),
        )
        return True

    def import_session(self, header: Header, records: Iterable[Record], source: str, *,
                       end_t_s: float | None = None) -> int:
        """Store a whole finished session (an import or a replay) in one transaction."""
        rows = (_row_of(record) for record in records)
        with self._mutex:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                session_id = int(self._conn.execute(
                    "INSERT INTO sessions (header, started_at, status, source) "
                    "VALUES (?, ?, 'recording', ?) RETURNING id",
                    (encode_header(header), _iso(header.started_at), source),
                ).fetchall()[0][0])
                self._conn.executemany(
                    "INSERT INTO records (session_id, seq, t_s, type, wall_s, payload, data) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    ((session_id, seq, *row) for seq, row in enumerate(rows, start=1)),
                )
                self._finish_in_transaction(session_id, SessionStatus.COMPLETE, end_t_s)
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise RecordingFailed(f"could not import the session: {exc}") from exc
            except BaseException:
                self._rollback()
                raise
        return session_id

    def _tally(self, session_id: int) -> tuple[int, float]:
        count, last_t_s = self._conn.execute(
            "SELECT coalesce(sum(type = 'notification'), 0), coalesce(max(t_s), 0.0) "
            "FROM records WHERE session_id = ?",
            (session_id,),
        ).fetchone()
        return int(count), float(last_t_s)

    def _status(self, session_id: int) -> SessionStatus:
        with self._mutex:
            try:
                row = self._conn.execute(
                    "SELECT status FROM sessions WHERE id = ?", (session_id,)
                ).fetchone()
            except sqlite3.Error as exc:
                raise StoreError(f"could not read session {session_id}: {exc}") from exc
        if row is None:
            raise SessionNotFound(f"no session {session_id}")
        return SessionStatus(row[0])

    def limit_size(self, max_bytes: int | None) -> None:
        """Cap the database size (bytes; None lifts the cap); writes beyond fail as disk full."""
        with self._mutex:
            page_size = int(self._conn.execute("PRAGMA page_size").fetchone()[0])
            pages = 0x7FFFFFFE if max_bytes is None else max(1, max_bytes // page_size)
            self._conn.execute(f"PRAGMA max_page_count={int(pages)}")

    # -- reading -------------------------------------------------------------------------

    _SUMMARY_SQL: Final = (
        "SELECT id, header, started_at, ended_at, status, source, duration_s, "
        "notification_count FROM sessions"
    )

    def _summary(self, row: tuple[Any, ...]) -> SessionSummary:
        session_id, header_text, started, ended, status, source, duration_s, count = row
        if status == SessionStatus.RECORDING:
            count, duration_s = self._tally(session_id)
        header = decode_line(header_text, header=True)
        assert isinstance(header, Header)
        return SessionSummary(
            id=session_id, started_at=_parse_iso(started), duration_s=float(duration_s or 0.0),
            status=SessionStatus(status), notification_count=int(count or 0), source=source,
            header=header, ended_at=_parse_iso(ended) if ended else None,
        )

    def list_sessions(self) -> list[SessionSummary]:
        """Every session, oldest first."""
        with self._mutex:
            rows = self._conn.execute(self._SUMMARY_SQL + " ORDER BY id").fetchall()
            return [self._summary(row) for row in rows]

    def get_session(self, session_id: int) -> SessionSummary:
        """One session's summary; SessionNotFound if there is none."""
        with self._mutex:
            row = self._conn.execute(self._SUMMARY_SQL + " WHERE id = ?",
                                     (session_id,)).fetchone()
            if row is None:
                raise SessionNotFound(f"no session {session_id}")
            return self._summary(row)

    def iter_records(self, session_id: int) -> tuple[Header, Iterator[Record]]:
        """A session's header and its records in order, replayable like a session file."""
        header = self.get_session(session_id).header

        def records() -> Iterator[Record]:
            after = 0
            while True:
                with self._mutex:
                    rows = self._conn.execute(
                        "SELECT seq, t_s, type, wall_s, payload, data FROM records "
                        "WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                        (session_id, after, _PAGE_ROWS),
                    ).fetchall()
                for seq, t_s, kind, wall_s, payload, data in rows:
                    after = seq
                    yield _record_of(t_s, kind, wall_s, payload, data)
                if len(rows) < _PAGE_ROWS:
                    return

        return header, records()

    # -- export and erasure --------------------------------------------------------------

    def export_path(self, session_id: int, suffix: str = ".jsonl") -> Path:
        """Where exports of a session go by default (inside the data directory, 0700)."""
        folder = ensure_private_dir(self.data_dir / EXPORT_DIRNAME)
        return folder / f"session-{session_id}{suffix}"

    def export(self, session_id: int, target: str | os.PathLike[str] | IO[str] | None = None
               ) -> Path | None:
        """Write a session as a JSONL session file (0600); return the path written, if any."""
        header, records = self.iter_records(session_id)
        if target is None:
            target = self.export_path(session_id)
        if isinstance(target, str | os.PathLike):
            path = Path(target)
            write_session(path, header, records)
            _tighten(path)
            return path
        write_session(target, header, records)
        return None

    def delete(self, session_id: int) -> bool:
        """Erase a session, its results and default exports; True when the WAL was emptied."""
        with self._mutex:
            row = self._conn.execute(
                "SELECT status, lock_token FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise SessionNotFound(f"no session {session_id}")
            lock = self._locks.pop(session_id, None)
            if row[0] == SessionStatus.RECORDING and lock is None and row[1]:
                lock = _SessionLock.acquire(self._lock_path(str(row[1])))
                if lock is None:
                    raise SessionBusy(f"session {session_id} is being recorded; stop it first")
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                for table, column in (("records", "session_id"),
                                      ("session_results", "session_id"), ("sessions", "id")):
                    self._conn.execute(f"DELETE FROM {table} WHERE {column} = ?",
                                       (session_id,))
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise RecordingFailed(f"could not delete session {session_id}: {exc}") from exc
            finally:
                if lock is not None:
                    lock.release(unlink=True)
            for exported in (self.data_dir / EXPORT_DIRNAME).glob(f"session-{session_id}.*"):
                exported.unlink(missing_ok=True)
            return self._checkpoint()

    def _checkpoint(self) -> bool:
        try:
            busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            log.warning("could not empty the write-ahead log: %s", exc)
            return False
        if busy:
            log.warning("the write-ahead log is in use by another reader; it will be emptied "
                        "at a later delete or checkpoint")
        return not busy

    # -- derived results and person-level documents ----------------------------------------

    def put_result(self, session_id: int, key: str, value: Any) -> None:
        """Store one JSON-serialisable result of a session under ``key`` (replacing it)."""
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        try:
            self._write("save a result",
                        "INSERT INTO session_results (session_id, key, value) VALUES (?, ?, ?) "
                        "ON CONFLICT (session_id, key) DO UPDATE SET value = excluded.value",
                        (session_id, key, text))
        except RecordingFailed as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise SessionNotFound(f"no session {session_id}") from exc
            raise

    def get_results(self, session_id: int) -> dict[str, Any]:
        """Every stored result of a session, by key."""
        self._status(session_id)
        with self._mutex:
            rows = self._conn.execute(
                "SELECT key, value FROM session_results WHERE session_id = ? ORDER BY key",
                (session_id,),
            ).fetchall()
        return {key: json.loads(value) for key, value in rows}

    def put_document(self, key: str, value: Any) -> None:
        """Store a person-level JSON document (baseline, plan, settings) under ``key``."""
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        self._write("save a document",
                    "INSERT INTO documents (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, text))

    def get_document(self, key: str) -> Any:
        """The document stored under ``key``, or None."""
        with self._mutex:
            row = self._conn.execute("SELECT value FROM documents WHERE key = ?",
                                     (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def delete_document(self, key: str) -> None:
        """Erase the document stored under ``key`` (no error if absent)."""
        self._write("delete a document", "DELETE FROM documents WHERE key = ?", (key,))
        with self._mutex:
            self._checkpoint()

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` verdict: ``ok`` when the file is sound."""
        with self._mutex:
            rows = self._conn.execute("PRAGMA integrity_check").fetchall()
        return "; ".join(str(row[0]) for row in rows)

    # -- closing -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database; sessions still recording will be found interrupted later."""
        with self._mutex:
            for lock in self._locks.values():
                lock.release(unlink=False)
            self._locks.clear()
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
