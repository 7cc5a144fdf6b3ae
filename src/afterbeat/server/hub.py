"""Fan-out of live events to Server-Sent-Events subscribers (docs/security.md W-FROZEN, W-RESUME).

``Hub.publish`` is synchronous and never awaits a client: it numbers the event (``seq``, the
SSE ``id``), stamps ``emitted_at`` (Unix seconds) into its data, serialises the JSON once,
keeps it in a ring buffer for ``Last-Event-ID`` resume, and appends it to each subscriber's
bounded queue. A subscriber is dropped (its stream ends and its slot is free at once; the
browser reconnects and resumes from its last id) when its queue is full, or when the oldest
event waiting in it has waited more than ``max_lag_s``: a client that stopped reading backs up
its socket (whose send buffer the server keeps small) and then its queue, so it is found
within seconds even on a quiet stream. At most ``max_subscribers`` streams at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from afterbeat.errors import AfterbeatError
from afterbeat.events import LiveEvent

__all__ = [
    "DEFAULT_HEARTBEAT_S",
    "Hub",
    "HubEvent",
    "Subscription",
    "SubscriberDropped",
    "TooManySubscribers",
    "encode_data",
]

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_S: Final = 10.0
DEFAULT_QUEUE_SIZE: Final = 256
DEFAULT_RING_SIZE: Final = 2048
DEFAULT_MAX_SUBSCRIBERS: Final = 16
DEFAULT_MAX_LAG_S: Final = 30.0


class TooManySubscribers(AfterbeatError):
    """All live-stream slots are taken (the server answers 503)."""


class SubscriberDropped(AfterbeatError):
    """This subscriber fell too far behind and was dropped; reconnect with Last-Event-ID."""


@dataclass(frozen=True, slots=True)
class HubEvent:
    """One published event: sequence number, SSE type, data as JSON text, Unix time emitted."""

    seq: int
    type: str
    data_json: str
    emitted_at: float
    """Unix seconds at publish."""


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def encode_data(data: Mapping[str, Any]) -> str:
    """Event data as compact JSON text; non-finite numbers become null."""
    return json.dumps(_clean(data), separators=(",", ":"))


class Subscription:
    """One client's bounded queue; ``get`` waits for the next event or a heartbeat timeout."""

    def __init__(self, hub: Hub, capacity: int, backlog: list[HubEvent],
                 max_lag_s: float = DEFAULT_MAX_LAG_S) -> None:
        self._hub = hub
        self._capacity = capacity + len(backlog)
        self._max_lag_s = max_lag_s
        now = hub.now()
        self._queue: deque[tuple[HubEvent, float]] = deque((e, now) for e in backlog)
        self._wake = asyncio.Event()
        if backlog:
            self._wake.set()
        self.dropped = False
        self.ended = False
        self.closed = False

    def offer(self, event: HubEvent) -> bool:
        """Queue one event without waiting; False (and the subscriber is dropped) when the
        queue is full or its oldest event has waited more than ``max_lag_s`` (hub clock)."""
        now = self._hub.now()
        stale = bool(self._queue) and now - self._queue[0][1] > self._max_lag_s
        if len(self._queue) >= self._capacity or stale:
            self.dropped = True
            self._queue.clear()
            self._wake.set()
            return False
        self._queue.append((event, now))
        self._wake.set()
        return True

    @property
    def pending(self) -> int:
        """Events queued and not yet taken."""
        return len(self._queue)

    async def get(self, timeout_s: float) -> HubEvent | None:
        """The next event, or None after ``timeout_s`` seconds of quiet (time for a heartbeat)."""
        if self.ended:
            raise SubscriberDropped("the server is shutting down")
        if not self._queue and not self.dropped:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout_s)
            except TimeoutError:
                return None
        if self.ended:
            raise SubscriberDropped("the server is shutting down")
        if self.dropped:
            raise SubscriberDropped("live stream client fell behind and was dropped")
        if not self._queue:
            return None
        return self._queue.popleft()[0]

    def end(self) -> None:
        """End this stream now (server shutdown): ``get`` raises instead of waiting."""
        self.ended = True
        self._wake.set()

    def close(self) -> None:
        """Leave the hub (idempotent)."""
        if not self.closed:
            self.closed = True
            self._hub._remove(self)


class Hub:
    """Publish events to at most ``max_subscribers`` bounded subscriber queues."""

    def __init__(
        self,
        *,
        max_subscribers: int = DEFAULT_MAX_SUBSCRIBERS,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        ring_size: int = DEFAULT_RING_SIZE,
        heartbeat_s: float = DEFAULT_HEARTBEAT_S,
        max_lag_s: float = DEFAULT_MAX_LAG_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if heartbeat_s <= 0 or heartbeat_s > 15:
            raise ValueError("heartbeat_s must be in (0, 15] seconds")
        self.max_subscribers = max_subscribers
        self.queue_size = queue_size
        self.heartbeat_s = heartbeat_s
        self.max_lag_s = max_lag_s
        self._clock = clock
        self._ring: deque[HubEvent] = deque(maxlen=ring_size)
        self._subscribers: list[Subscription] = []
        self._seq = 0
        self._closed = False
        self.dropped_count = 0
        self.published_count = 0

    @property
    def last_seq(self) -> int:
        """Sequence number of the latest event (0 before the first)."""
        return self._seq

    @property
    def subscriber_count(self) -> int:
        """Open live streams."""
        return len(self._subscribers)

    def now(self) -> float:
        """Unix seconds from the hub's clock."""
        return self._clock()

    def publish(self, event_type: str, data: Mapping[str, Any]) -> HubEvent:
        """Number, stamp and fan out one event; never waits for any client."""
        self._seq += 1
        emitted_at = self._clock()
        payload = dict(data)
        payload["emitted_at"] = round(emitted_at, 6)
        event = HubEvent(self._seq, event_type, encode_data(payload), emitted_at)
        self._ring.append(event)
        self.published_count += 1
        for sub in list(self._subscribers):
            if not sub.offer(event):
                self.dropped_count += 1
                self._remove(sub)
                log.warning("dropped a live-stream client that stopped reading")
        return event

    def publish_event(self, event: LiveEvent) -> HubEvent:
        """Publish one event of the live contract under its type (see :func:`publish`)."""
        return self.publish(str(event.type), event.to_json())

    def subscribe(self, last_event_id: int | None = None) -> Subscription:
        """Open a stream; with ``last_event_id`` it starts with every newer event still kept."""
        if self._closed:
            raise TooManySubscribers("the server is shutting down")
        if len(self._subscribers) >= self.max_subscribers:
            raise TooManySubscribers(
                f"at most {self.max_subscribers} live streams; close another tab and retry")
        if last_event_id is not None and last_event_id > self._seq:
            last_event_id = 0  # an id from before a restart: send everything still kept
        backlog = [] if last_event_id is None else self.since(last_event_id)
        sub = Subscription(self, self.queue_size, backlog, self.max_lag_s)
        self._subscribers.append(sub)
        return sub

    def since(self, last_event_id: int) -> list[HubEvent]:
        """Events kept in the ring with ``seq > last_event_id``, oldest first."""
        return [e for e in self._ring if e.seq > last_event_id]

    def close(self) -> None:
        """End every stream and accept no more (called when the server shuts down)."""
        self._closed = True
        for sub in list(self._subscribers):
            sub.end()
        self._subscribers.clear()

    def _remove(self, sub: Subscription) -> None:
        if sub in self._subscribers:
            self._subscribers.remove(sub)
