"""The recording service: the source's session into the store, and the results kept with it.

The loop only queues: a :class:`~afterbeat.storage.recorder.QueuedRecorder` commits records,
results and derived documents on its own thread, in order, so a slow disk never holds up the
live stream. Waiting for the disk (a marker acknowledged as recorded, the end of the
recording) happens in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from afterbeat.errors import AfterbeatError
from afterbeat.events import BaselineEvent, Event, Recording, RecoveryEvent, ResetEffectEvent
from afterbeat.records import Record
from afterbeat.sources import Source
from afterbeat.storage.recorder import QueuedRecorder
from afterbeat.storage.store import Store

__all__ = ["RecordingService"]

log = logging.getLogger(__name__)


def _nothing() -> None:
    return None


class RecordingService:
    """Records one live session while the server runs (a record sink for the ingest)."""

    def __init__(self, store: Store | None, source: Source | None,
                 on_change: Callable[[], None] = _nothing) -> None:
        self._store = store
        self._source = source
        self.on_change = on_change
        """Called on the loop when recording starts or stops failing or has ended."""
        self._recorder: QueuedRecorder | None = None
        self._open = False
        self._effects: dict[int, dict[str, Any]] = {}

    def begin(self) -> bool:
        """Start recording the source's session (if store and source exist); True if it did.

        Called on the event loop: the recorder's writer thread reports changes back to it.
        """
        if self._store is None or self._source is None or self._recorder is not None:
            return False
        loop = asyncio.get_running_loop()

        def changed() -> None:  # on the recorder's writer thread
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self.on_change)

        self._recorder = QueuedRecorder(self._store, self._source.header, self._source.name,
                                        on_change=changed)
        self._recorder.start()
        self._open = True
        return True

    def record(self, record: Record) -> bool:
        """Queue one item for the recorder's writer thread (never blocks)."""
        if self._recorder is None:
            return False
        return self._recorder.record(record)

    async def recorded(self, timeout_s: float = 5.0) -> bool:
        """Wait (off the loop) until what was queued so far is on disk; False if not yet."""
        if self._recorder is None or not self._open:
            return False
        ticket = self._recorder.last_ticket
        return await asyncio.to_thread(self._recorder.wait_written, ticket, timeout_s)

    def end(self, end_t_s: float | None) -> None:
        """Close the recording at ``end_t_s`` (session s): the writer thread completes the
        session (idempotent)."""
        if self._recorder is None or not self._open:
            return
        self._open = False
        self._recorder.close(end_t_s=end_t_s)

    async def wait_closed(self) -> None:
        """After :meth:`end`: wait (off the loop) until the recorder has ended."""
        if self._recorder is not None:
            await asyncio.to_thread(self._recorder.wait_closed)

    @property
    def recorder(self) -> QueuedRecorder | None:
        """The recorder of this server's session (None before recording began)."""
        return self._recorder

    @property
    def active(self) -> bool:
        """True while records go to disk."""
        return self._open

    @property
    def session_id(self) -> int | None:
        """The session being recorded now, if any."""
        return self._recorder.session_id if self._open and self._recorder else None

    def state(self) -> Recording:
        """Recording status: active, and with a recorder its session, failing, losses, error."""
        if self._recorder is None:
            return Recording(active=self.active)
        st = self._recorder.status
        return Recording(active=self.active, session_id=st.session_id, failing=st.failing,
                         unrecorded=st.unrecorded, error=st.last_error)

    def keep(self, event: Event) -> bool:
        """Keep what the live session taught: recovery, the latest effect of each reset, and a
        baseline built from its rest (queued behind its records). False when not recording."""
        recorder = self._recorder if self._open else None
        if recorder is None:
            return False
        try:
            if isinstance(event, BaselineEvent):
                if event.ok and event.baseline is not None:
                    recorder.put_document("baseline", event.baseline, derived=True)
            elif isinstance(event, RecoveryEvent):
                recorder.put_result("recovery", event.to_json())
            elif isinstance(event, ResetEffectEvent):
                self._effects[event.effect.number] = event.to_json()
                recorder.put_result("reset_effects", list(self._effects.values()))
        except (AfterbeatError, ValueError, TypeError) as exc:
            log.warning("could not keep a %s result: %s", event.type, exc)
        return True
