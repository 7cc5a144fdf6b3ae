"""The recording database: every record of every session, crash-safe, private and erasable.

``sessions.sqlite3`` in the data directory (stdlib sqlite3). WAL with ``synchronous=FULL``:
each ``append`` / ``append_many`` is one transaction that is on disk when it returns, so a
crash or SIGKILL loses nothing that was acknowledged. Every transaction rolls back on any
exception (no write lock is ever left behind); values SQLite cannot hold are refused before it
starts (``UnstorableValue``). Reads use a connection of their own, so they never wait behind a
write. The database, ``-wal`` and ``-shm`` files are 0600 whatever the umask. ``delete``
erases for real: ``secure_delete`` zeroes the freed content and a ``wal_checkpoint(TRUNCATE)``
empties the WAL (waiting for other readers, then retrying in the background); documents
derived only from a deleted session go with it. A live session holds an exclusive lock on a
small file, so a session left ``recording`` by a dead process (lock free) is found by the next
``Store.open`` and marked ``interrupted``; it stays replayable. See docs/storage.md.
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import math
import os
import sqlite3
import stat
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

from afterbeat.errors import AfterbeatError, InvalidValue
from afterbeat.paths import ensure_private_dir
from afterbeat.records import (
    DeviceEvent,
    Disconnect,
    Header,
    Marker,
    Notification,
    Reconnect,
    Record,
    check_started_at,
    check_t_s,
    check_wall_s,
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
    "UnstorableValue",
]

log = logging.getLogger(__name__)

DB_FILENAME: Final = "sessions.sqlite3"
LOCK_DIRNAME: Final = "recording-locks"
EXPORT_DIRNAME: Final = "exports"
SCHEMA_VERSION: Final = 2
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
CREATE TABLE IF NOT EXISTS document_sources (
    key TEXT NOT NULL,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    PRIMARY KEY (key, session_id)
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


class UnstorableValue(StoreError, ValueError):
    """A value the database cannot hold (text that is not valid Unicode, a time that is not a
    finite number); nothing was written and no transaction is left open."""

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index
        """Position of the offending record in a batch (``append_many``), if it was one."""


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
    problems: tuple[str, ...] = ()
    """What could not be read from this session's row (it still lists, exports and deletes)."""

    @property
    def device_name(self) -> str | None:
        """The strap's name from the header, if known."""
        name = self.header.device.get("name")
        return name if isinstance(name, str) else None


_LATEST: Final = datetime.max.replace(tzinfo=UTC)
_EARLIEST: Final = datetime.min.replace(tzinfo=UTC)
_UNKNOWN_START: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""Shown for a stored start time that cannot be read (reported in ``problems``)."""


def _iso(moment: datetime) -> str:
    """UTC ISO 8601 text; a time beyond what ``datetime`` holds in UTC is clamped to its end."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        utc = _LATEST if moment.year > 1 else _EARLIEST
    return utc.isoformat().replace("+00:00", "Z")


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _end_iso(started_text: str, duration_s: float) -> str | None:
    """The end time (UTC ISO) ``duration_s`` after a stored start, clamped to what a datetime
    holds; None when the start itself cannot be read."""
    try:
        started = _parse_iso(started_text)
    except (ValueError, OverflowError):
        return None
    try:
        return _iso(started + timedelta(seconds=duration_s))
    except OverflowError:
        log.warning("a session's end lies beyond year 9999; it is stored as the latest time")
        return _iso(_LATEST if duration_s > 0 else _EARLIEST)


def _strict_text(stored: object) -> str:
    """A column read as bytes, as text; UnicodeDecodeError when it is not UTF-8."""
    if isinstance(stored, bytes):
        return stored.decode("utf-8")
    return "" if stored is None else str(stored)


def _lenient_text(stored: object) -> str:
    """A column read as bytes, as text to show: bytes that are not UTF-8 become U+FFFD."""
    if isinstance(stored, bytes):
        return stored.decode("utf-8", "replace")
    return "" if stored is None else str(stored)


def _check_text(text: str, what: str) -> str:
    """``text`` when SQLite can store it as UTF-8; UnstorableValue (naming ``what``) if not."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnstorableValue(f"{what} holds text that is not valid Unicode (a lone surrogate "
                              f"at character {exc.start}); nothing was stored") from None
    return text


def _seconds(value: float, what: str, check: Callable[[object, str], float]) -> float:
    """A time the session format holds (afterbeat.records' one validation layer), else
    UnstorableValue: nothing is written that could not be read back."""
    try:
        return check(value, what)
    except InvalidValue as exc:
        raise UnstorableValue(f"{exc}; nothing was stored") from None


def _header_text(header: Header) -> str:
    """The header's JSON line; a start the session format cannot hold or bad text refused."""
    try:
        check_started_at(header.started_at, "the session header's started_at")
        text = encode_header(header)
    except (InvalidValue, OverflowError, ValueError) as exc:
        raise UnstorableValue(f"the session header cannot be stored: {exc}") from exc
    return _check_text(text, "the session header")


def _json_text(value: Any, what: str) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (ValueError, TypeError, RecursionError) as exc:
        raise UnstorableValue(f"{what} cannot be stored as JSON: {exc}") from exc
    return _check_text(text, what)


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
    """The row of one record; UnstorableValue (a ValueError) when it cannot be stored."""
    kind = _RECORD_TYPES.get(type(record))
    if kind is None:
        raise UnstorableValue(f"not a session record: {type(record).__name__}")
    # Times are kept at the session file's precision so a DB row and its export are equal.
    t_s = round(_seconds(record.t_s, f"a {kind} record's t_s", check_t_s), 6)
    if isinstance(record, Notification):
        wall_s = round(_seconds(record.wall_s, "a notification's wall_s", check_wall_s), 6)
        return t_s, kind, wall_s, bytes(record.payload), None
    try:
        data = encode_record(record)
    except (ValueError, TypeError) as exc:
        raise UnstorableValue(f"a {kind} record cannot be stored: {exc}") from exc
    return t_s, kind, None, None, _check_text(data, f"a {kind} record")


def _record_of(t_s: float, kind: str, wall_s: float | None, payload: bytes | None,
               data: str | None) -> Record:
    if kind == "notification":
        return Notification(t_s=t_s, wall_s=wall_s or 0.0, payload=bytes(payload or b""))
    record = decode_line(data or "{}")
    assert not isinstance(record, Header)
    return record


@dataclass(frozen=True, slots=True)
class Erasure:
    """What ``Store.erase`` did: the session is gone; the log emptied or not; documents erased."""

    session_id: int
    wal_emptied: bool
    """True when no copy of the erased content is left in the write-ahead log or the file."""
    documents: tuple[str, ...] = ()
    """Person documents erased because every session they were derived from is gone."""


class Store:
    """The recording database of one data directory; safe to share between threads.

    Writes go through one connection, one transaction at a time; reads use a second
    connection, so a read never waits behind a write that waits for the disk or a lock.
    """

    def __init__(self, conn: sqlite3.Connection, reader: sqlite3.Connection, data_dir: Path,
                 recovered: tuple[int, ...], *, scrub_wait_s: float = 5.0) -> None:
        self._conn = conn
        self._reader = reader
        self._mutex = threading.RLock()
        self._read_mutex = threading.Lock()
        self._locks: dict[int, _SessionLock] = {}
        self._scrub_wanted = threading.Event()
        self._scrub_mutex = threading.Lock()  # one checkpoint at a time: two would collide
        self._scrubber: threading.Thread | None = None
        self._closed = False
        self.scrub_wait_s = scrub_wait_s
        """How long (s) a delete waits for other readers to let go of the write-ahead log."""
        self.data_dir = data_dir
        self.path = data_dir / DB_FILENAME
        self.recovered = recovered
        """Sessions found left ``recording`` by a dead process and marked interrupted on open."""
        self.problems: list[str] = []
        """What could not be done on open (a session that could not be recovered), for people."""

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, data_dir: str | os.PathLike[str], *, busy_timeout_s: float = 1.0,
             scrub_wait_s: float = 5.0) -> Store:
        """Open (creating if needed) the database in ``data_dir``; mark crashed sessions."""
        folder = ensure_private_dir(Path(data_dir))
        path = folder / DB_FILENAME
        try:
            _make_private(path)
            conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None,
                                   check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the recording database {path}: {exc}") from exc
        reader: sqlite3.Connection | None = None
        try:
            cls._configure(conn, path)
            reader = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None,
                                     check_same_thread=False)
            reader.execute("PRAGMA foreign_keys=ON")
            store = cls(conn, reader, folder, (), scrub_wait_s=scrub_wait_s)
            store.recovered = store._recover()
        except sqlite3.Error as exc:
            if reader is not None:
                reader.close()
            conn.close()
            raise StoreError(f"cannot open the recording database {path}: {exc}") from exc
        except BaseException:
            if reader is not None:
                reader.close()
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
            # Every step is CREATE ... IF NOT EXISTS: version 1 gains document_sources.
            try:
                conn.executescript(
                    f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
                )
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
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
            except Exception as exc:  # one bad session never stops the store from opening
                problem = (f"session {session_id} was cut short but could not be marked "
                           f"interrupted ({type(exc).__name__}); it is tried again next time")
                log.warning("%s: %s", problem, exc)
                self.problems.append(problem)
            finally:
                if lock is not None:
                    lock.release(unlink=True)
        self._remove_stale_locks({str(token) for _, token in rows if token})
        return tuple(found)

    def _remove_stale_locks(self, in_use: set[str]) -> None:
        """Lock files no live process holds and no recording session names (a process that
        died between taking its lock and writing its session row) are removed."""
        folder = self.data_dir / LOCK_DIRNAME
        if not folder.is_dir():
            return
        for path in folder.glob("*.lock"):
            if path.stem in in_use:
                continue
            try:
                lock = _SessionLock.acquire(path)
            except OSError:
                continue
            if lock is not None:  # free: its process is gone
                lock.release(unlink=True)

    # -- transactions --------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` … ``COMMIT``; any exception rolls it back, never left open.

        SQLite errors become RecordingFailed, text SQLite cannot encode UnstorableValue; both
        name ``what``. Other exceptions pass through unchanged, after the rollback.
        """
        with self._mutex:
            if self._closed:
                raise StoreError("the recording database is closed")
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                yield self._conn
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise RecordingFailed(f"could not {what}: {exc}") from exc
            except UnicodeError as exc:
                self._rollback()
                raise UnstorableValue(f"could not {what}: text that is not valid Unicode"
                                      ) from exc
            except BaseException:
                self._rollback()
                raise
        if self._scrub_wanted.is_set():
            self._try_scrub(0.0)

    def _write(self, what: str, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Run one statement as its own durable transaction; RecordingFailed on failure."""
        with self._transaction(what) as conn:
            return conn.execute(sql, params).fetchall()

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.debug("rollback failed", exc_info=True)

    # -- recording -----------------------------------------------------------------------

    def start_session(self, header: Header, source: str) -> int:
        """Create a session in ``recording`` status and hold its lock; return its id."""
        header_text = _header_text(header)
        source = _check_text(source, "the source name")
        token = uuid.uuid4().hex
        try:
            lock = _SessionLock.acquire(self._lock_path(token))
        except OSError as exc:
            raise RecordingFailed(f"could not start a session: {exc}") from exc
        if lock is None:  # a fresh random name: only a concurrent stale-lock sweep could
            raise RecordingFailed("could not take the new session's lock; try again")
        try:
            rows = self._write(
                "start a session",
                "INSERT INTO sessions (header, started_at, status, source, lock_token) "
                "VALUES (?, ?, 'recording', ?, ?) RETURNING id",
                (header_text, _iso(header.started_at), source, token),
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
        return self.append_many(session_id, [record])[0]

    def append_many(self, session_id: int, records: list[Record]) -> list[int]:
        """Write records in one transaction, all on disk on return; give their seqs.

        Every record is checked before the transaction starts: UnstorableValue (with the
        record's ``index``) means nothing was written.
        """
        rows = []
        for index, record in enumerate(records):
            try:
                rows.append(_row_of(record))
            except UnstorableValue as exc:
                raise UnstorableValue(str(exc), index=index) from exc
        seqs: list[int] = []
        with self._transaction("record") as conn:
            for t_s, kind, wall_s, payload, data in rows:
                found = conn.execute(_APPEND_SQL,
                                     (t_s, kind, wall_s, payload, data, session_id)).fetchall()
                if not found:
                    status = self._status(session_id, conn)
                    raise SessionNotRecording(f"session {session_id} is {status}, not recording")
                seqs.append(int(found[0][0]))
        return seqs

    def end_session(self, session_id: int, *, end_t_s: float | None = None) -> SessionSummary:
        """Mark a recording session complete; its length is ``end_t_s`` or its last record's."""
        if not self._finish(session_id, SessionStatus.COMPLETE, end_t_s):
            status = self._status(session_id)
            raise SessionNotRecording(f"session {session_id} is already {status}")
        with self._mutex:
            lock = self._locks.pop(session_id, None)
        if lock is not None:
            lock.release(unlink=True)
        return self.get_session(session_id)

    def _finish(self, session_id: int, status: SessionStatus, end_t_s: float | None) -> bool:
        finished = False
        with contextlib.suppress(_NothingToFinish), \
                self._transaction(f"end session {session_id}"):
            finished = self._finish_in_transaction(session_id, status, end_t_s)
            if not finished:
                raise _NothingToFinish
        return finished

    def _finish_in_transaction(self, session_id: int, status: SessionStatus,
                               end_t_s: float | None) -> bool:
        row = self._conn.execute(
            "SELECT started_at FROM sessions WHERE id = ? AND status = 'recording'",
            (session_id,),
        ).fetchone()
        if row is None:
            return False
        count, last_t_s = self._tally(session_id, self._conn)
        if end_t_s is not None and not math.isfinite(end_t_s):
            end_t_s = None  # a broken clock never stops a session from ending
        duration_s = max(last_t_s, end_t_s or 0.0)
        self._conn.execute(
            "UPDATE sessions SET status = ?, ended_at = ?, duration_s = ?, "
            "notification_count = ?, lock_token = NULL WHERE id = ?",
            (str(status), _end_iso(str(row[0]), duration_s), duration_s, count, session_id),
        )
        return True

    def import_session(self, header: Header, records: Iterable[Record], source: str, *,
                       end_t_s: float | None = None) -> int:
        """Store a whole finished session (an import or a replay) in one transaction.

        A record that cannot be stored raises UnstorableValue (with its ``index``) and
        nothing of the session is kept.
        """
        header_text = _header_text(header)
        source = _check_text(source, "the source name")

        def rows(session_id: int) -> Iterator[tuple[Any, ...]]:
            for index, record in enumerate(records):
                try:
                    row = _row_of(record)
                except UnstorableValue as exc:
                    raise UnstorableValue(f"record {index + 1} of the session: {exc}",
                                          index=index) from exc
                yield (session_id, index + 1, *row)

        with self._transaction("import the session") as conn:
            session_id = int(conn.execute(
                "INSERT INTO sessions (header, started_at, status, source) "
                "VALUES (?, ?, 'recording', ?) RETURNING id",
                (header_text, _iso(header.started_at), source),
            ).fetchall()[0][0])
            conn.executemany(
                "INSERT INTO records (session_id, seq, t_s, type, wall_s, payload, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", rows(session_id))
            self._finish_in_transaction(session_id, SessionStatus.COMPLETE, end_t_s)
        return session_id

    @staticmethod
    def _tally(session_id: int, conn: sqlite3.Connection) -> tuple[int, float]:
        count, last_t_s = conn.execute(
            "SELECT coalesce(sum(type = 'notification'), 0), coalesce(max(t_s), 0.0) "
            "FROM records WHERE session_id = ?",
            (session_id,),
        ).fetchone()
        return int(count), float(last_t_s)

    def _status(self, session_id: int, conn: sqlite3.Connection | None = None
                ) -> SessionStatus:
        try:
            if conn is not None:
                row = conn.execute("SELECT status FROM sessions WHERE id = ?",
                                   (session_id,)).fetchone()
            else:
                with self._read_mutex:
                    row = self._reader.execute("SELECT status FROM sessions WHERE id = ?",
                                               (session_id,)).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"could not read session {session_id}: {exc}") from exc
        if row is None:
            raise SessionNotFound(f"no session {session_id}")
        return SessionStatus(row[0])

    def durability(self) -> dict[str, str]:
        """How the writing connection keeps records: ``journal_mode`` (``wal``),
        ``synchronous`` (``full``: on disk at commit), ``secure_delete`` and ``foreign_keys``
        (``on``/``off``), as SQLite reports them now."""
        levels = {0: "off", 1: "normal", 2: "full", 3: "extra"}
        with self._mutex:
            if self._closed:
                raise StoreError("the recording database is closed")
            try:
                read = {name: self._conn.execute(f"PRAGMA {name}").fetchone()[0]
                        for name in ("journal_mode", "synchronous", "secure_delete",
                                     "foreign_keys")}
            except sqlite3.Error as exc:
                raise StoreError(f"could not read the database settings: {exc}") from exc
        return {"journal_mode": str(read["journal_mode"]).lower(),
                "synchronous": levels.get(int(read["synchronous"]), str(read["synchronous"])),
                "secure_delete": "on" if read["secure_delete"] else "off",
                "foreign_keys": "on" if read["foreign_keys"] else "off"}

    def limit_size(self, max_bytes: int | None) -> None:
        """Cap the database size (bytes; None lifts the cap); writes beyond fail as disk full."""
        with self._mutex:
            page_size = int(self._conn.execute("PRAGMA page_size").fetchone()[0])
            pages = 0x7FFFFFFE if max_bytes is None else max(1, max_bytes // page_size)
            self._conn.execute(f"PRAGMA max_page_count={int(pages)}")

    # -- reading -------------------------------------------------------------------------

    _SUMMARY_SQL: Final = (
        # Text columns as bytes: a row whose text is not UTF-8 (damage, another program) is
        # decoded here and reported in ``problems``, never an error for the whole list.
        "SELECT id, CAST(header AS BLOB), CAST(started_at AS BLOB), CAST(ended_at AS BLOB), "
        "status, CAST(source AS BLOB), duration_s, notification_count FROM sessions"
    )

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._read_mutex:
            try:
                return self._reader.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"could not read the recording database: {exc}") from exc

    def _summary(self, row: tuple[Any, ...]) -> SessionSummary:
        """A row as a summary; a value that cannot be read is reported, never raised."""
        session_id, header_bytes, started_bytes, ended_bytes, status_text, source_bytes, \
            duration_s, count = row
        problems: list[str] = []
        try:
            status = SessionStatus(status_text)
        except ValueError:
            problems.append(f"its status {str(status_text)[:20]!r} is not one afterbeat knows")
            status = SessionStatus.INTERRUPTED
        if status == SessionStatus.RECORDING:
            with self._read_mutex:
                count, duration_s = self._tally(session_id, self._reader)
        started_at = _UNKNOWN_START
        started = _lenient_text(started_bytes)
        try:
            started_at = _parse_iso(_strict_text(started_bytes))
        except (ValueError, OverflowError):
            problems.append(f"its start time {started[:40]!r} cannot be read")
        ended_at = None
        if ended_bytes:
            try:
                ended_at = _parse_iso(_strict_text(ended_bytes))
            except (ValueError, OverflowError):
                problems.append(f"its end time {_lenient_text(ended_bytes)[:40]!r} "
                                "cannot be read")
        try:
            header = decode_line(_strict_text(header_bytes), header=True)
            assert isinstance(header, Header)
        except UnicodeDecodeError:
            problems.append("its header cannot be read (it is not UTF-8 text)")
            header = Header(started_at=started_at)
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            problems.append(f"its header cannot be read ({type(exc).__name__})")
            header = Header(started_at=started_at)
        try:
            source = _strict_text(source_bytes)
        except UnicodeDecodeError:
            problems.append("its source name is not UTF-8 text")
            source = _lenient_text(source_bytes)
        duration = float(duration_s) if isinstance(duration_s, int | float) else 0.0
        if not math.isfinite(duration):
            problems.append("its length is not a number")
            duration = 0.0
        for problem in problems:
            log.warning("session %s: %s", session_id, problem)
        return SessionSummary(
            id=session_id, started_at=started_at, duration_s=duration,
            status=status, notification_count=int(count or 0),
            source=source, header=header, ended_at=ended_at, problems=tuple(problems),
        )

    def list_sessions(self) -> list[SessionSummary]:
        """Every session, oldest first."""
        return [self._summary(row) for row in self._read(self._SUMMARY_SQL + " ORDER BY id")]

    def get_session(self, session_id: int) -> SessionSummary:
        """One session's summary; SessionNotFound if there is none."""
        rows = self._read(self._SUMMARY_SQL + " WHERE id = ?", (session_id,))
        if not rows:
            raise SessionNotFound(f"no session {session_id}")
        return self._summary(rows[0])

    def iter_records(self, session_id: int) -> tuple[Header, Iterator[Record]]:
        """A session's header and its records in order, replayable like a session file."""
        header = self.get_session(session_id).header
        return header, (record for _, record in self.iter_numbered(session_id))

    def iter_numbered(self, session_id: int, after_seq: int = 0) -> Iterator[tuple[int, Record]]:
        """A session's records with their ``seq`` (1, 2, ...) in order, from ``after_seq + 1``
        on: what a reader that has the first ones needs to catch up (nothing if none)."""
        after = after_seq
        while True:
            rows = self._read(
                "SELECT seq, t_s, type, wall_s, payload, data FROM records "
                "WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (session_id, after, _PAGE_ROWS),
            )
            for seq, t_s, kind, wall_s, payload, data in rows:
                after = seq
                yield int(seq), _record_of(t_s, kind, wall_s, payload, data)
            if len(rows) < _PAGE_ROWS:
                return

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
        return self.erase(session_id).wal_emptied

    def erase(self, session_id: int, *, wait_s: float | None = None) -> Erasure:
        """Erase a session: records, results, exports, and documents derived only from it.

        Then empty the write-ahead log, waiting up to ``wait_s`` (default ``scrub_wait_s``)
        for other connections that still read an older snapshot; if they hold on longer, the
        store keeps trying in the background until it succeeds (``erasure_pending``).
        """
        with self._mutex:
            rows = self._conn.execute(
                "SELECT status, lock_token FROM sessions WHERE id = ?", (session_id,)
            ).fetchall()
            if not rows:
                raise SessionNotFound(f"no session {session_id}")
            status, token = rows[0]
            lock = self._locks.pop(session_id, None)
            if status == SessionStatus.RECORDING and lock is None and token:
                lock = _SessionLock.acquire(self._lock_path(str(token)))
                if lock is None:
                    raise SessionBusy(f"session {session_id} is being recorded; stop it first")
            try:
                with self._transaction(f"delete session {session_id}") as conn:
                    keys = [str(k) for (k,) in conn.execute(
                        "SELECT key FROM document_sources WHERE session_id = ?", (session_id,))]
                    for table, column in (("records", "session_id"),
                                          ("session_results", "session_id"),
                                          ("document_sources", "session_id"),
                                          ("sessions", "id")):
                        conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (session_id,))
                    orphaned = tuple(
                        key for key in keys
                        if conn.execute("SELECT count(*) FROM document_sources WHERE key = ?",
                                        (key,)).fetchone()[0] == 0)
                    for key in orphaned:
                        conn.execute("DELETE FROM documents WHERE key = ?", (key,))
            finally:
                if lock is not None:
                    lock.release(unlink=True)
        for exported in (self.data_dir / EXPORT_DIRNAME).glob(f"session-{session_id}.*"):
            exported.unlink(missing_ok=True)
        if orphaned:
            log.info("erased %s: derived only from the deleted session", ", ".join(orphaned))
        return Erasure(session_id, self.scrub(self.scrub_wait_s if wait_s is None else wait_s),
                       orphaned)

    @property
    def erasure_pending(self) -> bool:
        """True while erased content may still be in the write-ahead log (a reader holds it)."""
        return self._scrub_wanted.is_set()

    def scrub(self, wait_s: float = 0.0) -> bool:
        """Empty the write-ahead log into the zeroed file, waiting up to ``wait_s`` for readers.

        True when done. Otherwise a background thread retries until it succeeds.
        """
        self._scrub_wanted.set()
        if self._try_scrub(wait_s):
            return True
        log.warning("the write-ahead log is in use by another reader; it will be emptied as "
                    "soon as that reader lets go")
        with self._mutex:
            if not self._closed and (self._scrubber is None or not self._scrubber.is_alive()):
                self._scrubber = threading.Thread(target=self._scrub_until_done,
                                                  name="afterbeat-scrub", daemon=True)
                self._scrubber.start()
        return False

    def _try_scrub(self, wait_s: float) -> bool:
        """One ``wal_checkpoint(TRUNCATE)`` on a connection of its own (readers may wait)."""
        with self._scrub_mutex:
            return self._checkpoint(wait_s)

    def _checkpoint(self, wait_s: float) -> bool:
        try:
            conn = sqlite3.connect(self.path, timeout=max(0.0, wait_s), isolation_level=None)
        except sqlite3.Error as exc:
            log.warning("could not empty the write-ahead log: %s", exc)
            return False
        try:
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.Error as exc:
            log.warning("could not empty the write-ahead log: %s", exc)
            return False
        finally:
            conn.close()
        if not busy:
            self._scrub_wanted.clear()
        return not busy

    def _scrub_until_done(self) -> None:
        while self._scrub_wanted.is_set() and not self._closed:
            if self._try_scrub(0.5):
                log.info("the write-ahead log is empty: the erased data is gone")
                return
            time.sleep(0.2)

    # -- derived results and person-level documents ----------------------------------------

    def put_result(self, session_id: int, key: str, value: Any) -> None:
        """Store one JSON-serialisable result of a session under ``key`` (replacing it)."""
        text = _json_text(value, f"the result {key!r}")
        try:
            self._write("save a result",
                        "INSERT INTO session_results (session_id, key, value) VALUES (?, ?, ?) "
                        "ON CONFLICT (session_id, key) DO UPDATE SET value = excluded.value",
                        (session_id, _check_text(key, "a result key"), text))
        except RecordingFailed as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise SessionNotFound(f"no session {session_id}") from exc
            raise

    def get_results(self, session_id: int) -> dict[str, Any]:
        """Every stored result of a session, by key."""
        self._status(session_id)
        rows = self._read(
            "SELECT key, value FROM session_results WHERE session_id = ? ORDER BY key",
            (session_id,))
        return {key: json.loads(value) for key, value in rows}

    def put_document(self, key: str, value: Any, *, derived_from: int | None = None) -> None:
        """Store a person-level JSON document (baseline, plan, settings) under ``key``.

        ``derived_from``: the session this version holds data of (a baseline rest). A
        document is erased with the last session it was derived from.
        """
        text = _json_text(value, f"the {key!r} document")
        with self._transaction("save a document") as conn:
            conn.execute("INSERT INTO documents (key, value) VALUES (?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         (_check_text(key, "a document key"), text))
            if derived_from is not None:
                conn.execute("INSERT OR IGNORE INTO document_sources (key, session_id) "
                             "SELECT ?, id FROM sessions WHERE id = ?", (key, derived_from))

    def get_document(self, key: str) -> Any:
        """The document stored under ``key``, or None."""
        rows = self._read("SELECT value FROM documents WHERE key = ?", (key,))
        return None if not rows else json.loads(rows[0][0])

    def document_sources(self, key: str) -> tuple[int, ...]:
        """The sessions the document under ``key`` holds data of (oldest first)."""
        rows = self._read("SELECT session_id FROM document_sources WHERE key = ? "
                          "ORDER BY session_id", (key,))
        return tuple(int(r[0]) for r in rows)

    def delete_document(self, key: str) -> None:
        """Erase the document stored under ``key`` (no error if absent)."""
        with self._transaction("delete a document") as conn:
            conn.execute("DELETE FROM documents WHERE key = ?", (key,))
            conn.execute("DELETE FROM document_sources WHERE key = ?", (key,))
        self.scrub(0.0)

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` verdict: ``ok`` when the file is sound."""
        rows = self._read("PRAGMA integrity_check")
        return "; ".join(str(row[0]) for row in rows)

    # -- closing -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database; sessions still recording will be found interrupted later."""
        with self._mutex:
            if self._closed:
                return
            if self._scrub_wanted.is_set():
                self._try_scrub(0.0)
            self._closed = True
            for lock in self._locks.values():
                lock.release(unlink=False)
            self._locks.clear()
            with self._read_mutex:
                self._reader.close()
            self._conn.close()
        scrubber = self._scrubber
        if scrubber is not None:
            scrubber.join(2.0)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class _NothingToFinish(Exception):
    """Internal: the session was not recording; roll the empty transaction back."""
