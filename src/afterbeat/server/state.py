"""What one running server holds: the live path and the services around it, wired once.

:class:`ServerState` builds the ingest (source → recorder → pipeline → hub) and the small
services the routes call: :class:`~afterbeat.server.recording.RecordingService`,
:class:`~afterbeat.server.marks.Marks`, :class:`~afterbeat.server.resets.ResetService`,
:class:`~afterbeat.server.documents.PersonDocuments`,
:class:`~afterbeat.server.crisis.CrisisLines` and :class:`~afterbeat.server.history.History`.
None of them speaks HTTP; they raise domain errors that :mod:`afterbeat.server.routes` maps to
status codes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from afterbeat import __version__
from afterbeat.events import BaselineEvent, Event, StatusEvent
from afterbeat.pipeline import EventPipeline
from afterbeat.records import MarkerKind
from afterbeat.server.crisis import CrisisLines
from afterbeat.server.documents import PersonDocuments, plan_marker_text
from afterbeat.server.errors import NoStore
from afterbeat.server.history import History
from afterbeat.server.hub import Hub
from afterbeat.server.ingest import Ingest, IngestObserver, LiveStatus
from afterbeat.server.marks import Marks
from afterbeat.server.recording import RecordingService
from afterbeat.server.resets import ResetService
from afterbeat.server.resonance import ResonanceRunner
from afterbeat.server.settings import ServerSettings
from afterbeat.sources import Source
from afterbeat.storage.history import person_pipeline
from afterbeat.storage.recorder import QueuedRecorder
from afterbeat.storage.store import Store

__all__ = ["ServerState"]


class ServerState:
    """The server's parts: hub, live status, ingest and the services (one per server)."""

    def __init__(self, settings: ServerSettings, source: Source | None, store: Store | None, *,
                 pipeline: EventPipeline | None = None,
                 clock: Callable[[], float] = time.time,
                 observers: Sequence[IngestObserver] = ()) -> None:
        self.settings = settings
        self.clock = clock
        """Unix time now (s); injected so tests control it."""
        self.source = source
        self.store = store
        self.notes: dict[str, str] = {}
        """Things the person should know about this start (a stored plan that was left out)."""
        self.hub = Hub(max_subscribers=settings.max_streams, queue_size=settings.queue_size,
                       ring_size=settings.ring_size, heartbeat_s=settings.heartbeat_s,
                       clock=clock)
        self.status = LiveStatus(source=source.name if source is not None else "none")
        self.recording = RecordingService(store, source)
        self.ingest = Ingest(self.hub, pipeline or person_pipeline(store, self.notes), None,
                             self.status, on_finish=self.end_recording, on_event=self.on_event,
                             status_event=self.live_status_event, observers=observers)
        self.recording.on_change = self.ingest.publish_status
        self.marks = Marks(self.ingest, source)
        self.documents = PersonDocuments(store, self.notes, self.ingest, self.marks)
        self.crisis_lines = CrisisLines(self.documents)
        self.resets = ResetService(self.hub, self.marks, self.documents.preferred_pace, clock)
        self.resonance = ResonanceRunner(self)
        self.history = History(store, lambda: self.live_session_id,
                               lambda: person_pipeline(store),
                               self.ingest.pipeline.forget_baseline)

    # -- recording -------------------------------------------------------------------------

    def begin_recording(self) -> None:
        """Start recording the source's session into the store (if both exist)."""
        if not self.recording.begin():
            return
        self.ingest.sink = self.recording
        plan = self.ingest.pipeline.plan
        if plan is not None:
            # The plan in effect from the start goes into the recording, so replays use it too.
            self.marks.mark(MarkerKind.PLAN, text=plan_marker_text(plan))

    def end_recording(self) -> None:
        """Close the recording: the session becomes complete (idempotent)."""
        if self.recording.active:
            self.ingest.sink = None
            self.recording.end(self.status.last_t_s)

    async def recorded(self) -> bool:
        """Wait (off the loop) until what was queued so far is on disk; False if not yet."""
        return await self.recording.recorded()

    async def wait_recording_closed(self) -> None:
        """After :meth:`end_recording`: wait (off the loop) until the recorder has ended."""
        await self.recording.wait_closed()

    @property
    def recorder(self) -> QueuedRecorder | None:
        """The recorder of this server's session (None before recording began)."""
        return self.recording.recorder

    @property
    def recording_active(self) -> bool:
        """True while records go to disk."""
        return self.recording.active

    @property
    def live_session_id(self) -> int | None:
        """The session being recorded now, if any."""
        return self.recording.session_id

    def on_event(self, event: Event) -> None:
        """Keep what the pipeline learns: the baseline document, recovery, reset effects.

        While recording they queue behind the session's records; a baseline built while
        nothing records is stored at once.
        """
        if not self.recording.keep(event) and isinstance(event, BaselineEvent):
            self.documents.keep_baseline(event)

    # -- for routes added by other modules -------------------------------------------------

    def now_s(self) -> float:
        """The session clock (s) for markers made now."""
        return self.marks.now_s()

    def required_store(self) -> Store:
        """The store (NoStore when this server keeps no recordings)."""
        if self.store is None:
            raise NoStore("no recording store in this server")
        return self.store

    def document(self, key: str) -> Any:
        """A stored person document or None, read now (async handlers use
        ``documents.read``, which reads in a worker thread)."""
        return None if self.store is None else self.store.get_document(key)

    # -- status ----------------------------------------------------------------------------

    def live_status_event(self) -> StatusEvent:
        """A ``status`` event: the connection, the recording and the notes."""
        return StatusEvent(self.status.connection(), self.recording.state(),
                           tuple(self.notes.values()))

    def rule_json(self) -> dict[str, float]:
        """The watch's rule in force (the plan's thresholds applied): what the page's words
        about settling and the quiet watch say (s)."""
        rule = self.ingest.pipeline.settings
        return {"settle_hold_s": rule.settle_s, "grace_s": rule.grace_s}

    async def status_json(self) -> dict[str, Any]:
        """The body of ``/api/status``."""
        running = self.resets.running
        return {
            "version": __version__,
            "demo": self.settings.demo,
            "source": self.status.source,
            "connection": self.status.to_json(),
            "battery_pct": self.status.battery_pct,
            "recording": self.recording.state().to_json(),
            "baseline": await self.documents.baseline_summary(),
            "reset": None if running is None else running.to_json(),
            "live": {"streams": self.hub.subscriber_count, "last_seq": self.hub.last_seq,
                     "dropped_clients": self.hub.dropped_count},
            "lan": self.settings.lan_host is not None,
            "notes": list(self.notes.values()),
            "rule": self.rule_json(),
        }
