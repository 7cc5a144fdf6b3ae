"""The recording service: the source's session into the store, and the results kept with it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from afterbeat.errors import AfterbeatError
from afterbeat.events import Event, Recording, RecoveryEvent, ResetEffectEvent
from afterbeat.records import Record
from afterbeat.sources import Source
from afterbeat.storage.recorder import Recorder
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
        """Called when recording starts or stops failing (the status line changes)."""
        self._recorder: Recorder | None = None
        self._open = False
        self._effects: dict[int, dict[str, Any]] = {}

    def begin(self) -> bool:
        """Start recording the source's session (if store and source exist); True if it did."""
        if self._store is None or self._source is None or self._recorder is not None:
            return False
        self._recorder = Recorder(self._store, self._source.header, self._source.name)
        self._recorder.start()
        self._open = True
        return True

    def record(self, record: Record) -> bool:
        """Record one item; tell the status line when recording starts or stops failing."""
        if self._recorder is None:
            return False
        was_failing = self._recorder.status.failing
        ok = self._recorder.record(record)
        if self._recorder.status.failing != was_failing:
            self.on_change()
        return ok

    def end(self, end_t_s: float | None) -> None:
        """Close the recording at ``end_t_s`` (session s): the session is complete (idempotent)."""
        if self._recorder is None or not self._open:
            return
        self._open = False
        self._recorder.close(end_t_s=end_t_s)

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

    def keep(self, event: Event) -> None:
        """Keep the live session's results: recovery and the latest effect of each reset."""
        session_id = self.session_id
        if self._store is None or session_id is None:
            return
        try:
            if isinstance(event, RecoveryEvent):
                self._store.put_result(session_id, "recovery", event.to_json())
            elif isinstance(event, ResetEffectEvent):
                self._effects[event.effect.number] = event.to_json()
                self._store.put_result(session_id, "reset_effects", list(self._effects.values()))
        except (AfterbeatError, ValueError, TypeError) as exc:
            log.warning("could not keep a %s result: %s", event.type, exc)
