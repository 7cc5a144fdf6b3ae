"""The server's one live path: source → recorder (store) → pipeline → hub.

:class:`Ingest` is synchronous glue: ``handle(item)`` records a record, pushes it through the
pipeline and publishes the resulting events. The server's lifespan runs :meth:`Ingest.run`
over ``source.stream()`` in one task; API handlers call :meth:`Ingest.inject` for markers
and resets so they take exactly the same path (recording, pipeline, live stream). Nothing
here awaits a client: the hub's ``publish`` never blocks.

Observers (:class:`IngestObserver`, e.g. the Lab Streaming Layer publisher) are told of every
record and the events it produced, after the hub; one that raises is counted in
``LiveStatus.observer_errors`` and logged, and never stops the stream or the recording.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from afterbeat.errors import AfterbeatError
from afterbeat.events import (
    Connection,
    Event,
    EventType,
    MarkerEvent,
    Recording,
    StatusEvent,
)
from afterbeat.pipeline import EventPipeline
from afterbeat.records import DeviceEvent, DeviceEventKind, Marker, MarkerKind, Record
from afterbeat.server.hub import Hub
from afterbeat.sources import ConnectionState, Source, SourceStatus

__all__ = ["Ingest", "IngestObserver", "LiveStatus", "RecordSink"]

log = logging.getLogger(__name__)


class IngestObserver(Protocol):
    """Told of each record and the events it produced (``None`` with the closing events when
    the source ends); called on the event loop, so it must not block."""

    def __call__(self, record: Record | None, events: Sequence[Event]) -> None: ...


class RecordSink(Protocol):
    """Where records are kept (a store ``Recorder``); must never raise into the stream."""

    def record(self, record: Record) -> object: ...


@dataclass(slots=True)
class LiveStatus:
    """What the status endpoint reports about the source (mutable, owned by the ingest)."""

    source: str
    state: ConnectionState = ConnectionState.IDLE
    detail: str | None = None
    attempt: int | None = None
    next_delay_s: float | None = None
    battery_pct: int | None = None
    contact: str | None = None
    rr_available: bool | None = None
    device_name: str | None = None
    records: int = 0
    pipeline_errors: int = 0
    observer_errors: int = 0
    last_t_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def apply(self, status: SourceStatus) -> None:
        """Take over the fields a source status carries."""
        self.state = status.state
        self.detail = status.detail
        self.attempt = status.attempt
        self.next_delay_s = status.next_delay_s
        if status.battery_pct is not None:
            self.battery_pct = status.battery_pct
        if status.contact is not None:
            self.contact = str(status.contact)
        if status.rr_available is not None:
            self.rr_available = status.rr_available
        if status.device_name is not None:
            self.device_name = status.device_name

    def connection(self) -> Connection:
        """The connection part of ``/api/status`` (battery in %, times in session seconds)."""
        return Connection(source=self.source, state=str(self.state), detail=self.detail,
                          attempt=self.attempt, next_delay_s=self.next_delay_s,
                          battery_pct=self.battery_pct, contact=self.contact,
                          rr_available=self.rr_available, device_name=self.device_name,
                          session_t_s=self.last_t_s)

    def to_json(self) -> dict[str, Any]:
        """The connection part of ``/api/status`` as JSON."""
        return self.connection().to_json()


class Ingest:
    """Feed records through recorder, pipeline and hub; statuses update ``status`` and publish."""

    def __init__(self, hub: Hub, pipeline: EventPipeline, sink: RecordSink | None,
                 status: LiveStatus,
                 on_finish: Callable[[], None] | None = None,
                 on_event: Callable[[Event], None] | None = None,
                 status_event: Callable[[], StatusEvent] | None = None,
                 observers: Sequence[IngestObserver] = ()) -> None:
        self.hub = hub
        self.observers: list[IngestObserver] = list(observers)
        """Told of every record and its events after the hub (see :class:`IngestObserver`)."""
        self.pipeline = pipeline
        self.sink = sink
        self.status = status
        self._on_finish = on_finish
        self._on_event = on_event
        self._status_event = status_event or self._bare_status
        self.finished = False
        self.source: object | None = None
        """The source being consumed (set by ``run``)."""

    def _bare_status(self) -> StatusEvent:
        return StatusEvent(self.status.connection(), Recording(active=self.sink is not None))

    def handle(self, item: Record | SourceStatus) -> None:
        """Process one item from the source (or from the API); never raises."""
        if isinstance(item, SourceStatus):
            self.status.apply(item)
            self.publish_status()
            return
        self.status.records += 1
        self.status.last_t_s = item.t_s
        if isinstance(item, DeviceEvent):
            self._device(item)
        if self.sink is not None:
            self.sink.record(item)
        try:
            events = self.pipeline.push(item)
        except Exception:  # a bug downstream must not stop the live view or the recording
            self.status.pipeline_errors += 1
            log.exception("pipeline failed on a %s record", type(item).__name__)
            self._notify(item, ())
            return
        kinds = self.publish_events(events)
        self._notify(item, events)
        if isinstance(item, Marker) and item.kind in (MarkerKind.RESET_START,
                                                      MarkerKind.RESET_END):
            self.real_time(item.kind is MarkerKind.RESET_START)
        if isinstance(item, Marker) and EventType.MARKER not in kinds:
            self.hub.publish_event(MarkerEvent.from_record(item))

    def real_time(self, running: bool) -> None:
        """A paced reset or assessment started (True) or ended: a replay that slows for them
        (the demo) runs in real time meanwhile, so the wall-clock pacer and the data agree."""
        hook = getattr(self.source, "reset_running", None)
        if callable(hook):
            hook(running)

    def _notify(self, record: Record | None, events: Sequence[Event]) -> None:
        """Tell every observer; one that raises is counted and logged (first, then every
        1000th), never passed on."""
        for observer in self.observers:
            try:
                observer(record, events)
            except Exception:
                self.status.observer_errors += 1
                count = self.status.observer_errors
                if count == 1 or count % 1000 == 0:
                    log.exception("an ingest observer failed (%d failure(s) so far)", count)

    def inject(self, record: Record) -> None:
        """A record made by the server (marker, reset) taking the same path as the source's."""
        self.handle(record)

    def publish_status(self) -> None:
        """Send the connection (and recording) status to live clients."""
        self.hub.publish_event(self._status_event())

    def finish(self) -> None:
        """The source ended: let the pipeline close (recovery) and say so."""
        if self.finished:
            return
        self.finished = True
        events: Sequence[Event] = ()
        try:
            events = self.pipeline.finish()
            self.publish_events(events)
        except Exception:
            self.status.pipeline_errors += 1
            log.exception("pipeline failed to finish")
        self._notify(None, events)
        if self._on_finish is not None:
            self._on_finish()

    async def run(self, source: Source) -> None:
        """Consume the source until it ends or the task is cancelled."""
        self.source = source
        try:
            async for item in source.stream():
                self.handle(item)
        except Exception as exc:
            log.exception("the source stopped with an error")
            # Our own errors carry advice for people (e.g. how to turn Bluetooth on).
            detail = str(exc) if isinstance(exc, AfterbeatError) else type(exc).__name__
            self.handle(SourceStatus(t_s=self.status.last_t_s or 0.0,
                                     state=ConnectionState.STOPPED,
                                     detail=f"the source stopped: {detail}"))
        else:
            if self.status.state not in (ConnectionState.FINISHED, ConnectionState.STOPPED):
                self.status.state = ConnectionState.FINISHED
                self.publish_status()
        self.finish()

    def _device(self, event: DeviceEvent) -> None:
        if event.kind is DeviceEventKind.BATTERY and isinstance(event.value, int):
            self.status.battery_pct = event.value
            self.publish_status()
        elif event.kind is DeviceEventKind.CONTACT and event.value is not None:
            self.status.contact = str(event.value)
            self.publish_status()

    def publish_events(self, events: Sequence[Event]) -> set[EventType]:
        """Publish pipeline events; return their types."""
        kinds: set[EventType] = set()
        for event in events:
            kinds.add(event.type)
            self.hub.publish_event(event)
            if self._on_event is not None:
                self._on_event(event)
        return kinds
