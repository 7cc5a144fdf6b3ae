"""The fan-out hub on its own: numbering, emitted_at, resume ring, bounded queues, slots."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from afterbeat.server.hub import Hub, SubscriberDropped, TooManySubscribers


def _clock(start: float = 1_700_000_000.0) -> list[float]:
    return [start]


async def test_publish_numbers_stamps_and_serialises_once() -> None:
    now = _clock()
    hub = Hub(clock=lambda: now[0])
    sub = hub.subscribe()
    first = hub.publish("metrics", {"t_s": 5.0, "heart_rate_bpm": 70.5, "bad": float("nan")})
    now[0] += 1.5
    second = hub.publish("state", {"state": "settled"})
    assert (first.seq, second.seq) == (1, 2)
    assert json.loads(first.data_json) == {"t_s": 5.0, "heart_rate_bpm": 70.5, "bad": None,
                                           "emitted_at": 1_700_000_000.0}
    assert json.loads(second.data_json)["emitted_at"] == 1_700_000_001.5
    assert await sub.get(1.0) is first
    assert await sub.get(1.0) is second


async def test_get_times_out_for_a_heartbeat() -> None:
    hub = Hub(heartbeat_s=0.01)
    sub = hub.subscribe()
    assert await sub.get(hub.heartbeat_s) is None


async def test_full_queue_drops_only_that_subscriber_without_waiting() -> None:
    hub = Hub(queue_size=4)
    slow, fast = hub.subscribe(), hub.subscribe()
    for i in range(10):
        hub.publish("metrics", {"n": i})
        assert await fast.get(1.0) is not None
    assert slow.dropped and hub.dropped_count == 1
    assert hub.subscriber_count == 1
    with pytest.raises(SubscriberDropped):
        await slow.get(1.0)


async def test_slots_are_limited_and_freed() -> None:
    hub = Hub(max_subscribers=2)
    first, _ = hub.subscribe(), hub.subscribe()
    with pytest.raises(TooManySubscribers):
        hub.subscribe()
    first.close()
    first.close()
    hub.subscribe()
    assert hub.subscriber_count == 2


async def test_resume_after_a_restart_sends_everything_kept() -> None:
    hub = Hub()
    for i in range(5):
        hub.publish("metrics", {"n": i})
    sub = hub.subscribe(last_event_id=900)  # an id from the previous server run
    got = [await sub.get(1.0) for _ in range(5)]
    assert [e.seq if e is not None else None for e in got] == [1, 2, 3, 4, 5]


@given(published=st.integers(0, 300), ring=st.integers(1, 100), last=st.integers(0, 300))
def test_since_returns_exactly_the_newer_kept_events(published: int, ring: int,
                                                     last: int) -> None:
    hub = Hub(ring_size=ring)
    for i in range(published):
        hub.publish("metrics", {"n": i})
    seqs = [e.seq for e in hub.since(last)]
    expected = [s for s in range(max(1, published - ring + 1), published + 1) if s > last]
    assert seqs == expected


async def test_resume_backlog_larger_than_the_queue_is_not_dropped() -> None:
    hub = Hub(queue_size=4, ring_size=50)
    for i in range(40):
        hub.publish("metrics", {"n": i})
    sub = hub.subscribe(last_event_id=0)
    hub.publish("metrics", {"n": 40})
    got = [await sub.get(1.0) for _ in range(41)]
    assert [e.seq for e in got if e is not None] == list(range(1, 42))


def test_heartbeat_bound() -> None:
    with pytest.raises(ValueError, match=r"heartbeat_s must be in \(0, 15\]"):
        Hub(heartbeat_s=16)
    with pytest.raises(ValueError, match=r"heartbeat_s must be in \(0, 15\]"):
        Hub(heartbeat_s=0)


async def test_publish_is_synchronous() -> None:
    hub = Hub(queue_size=1)
    hub.subscribe()
    # A publish loop never yields to the event loop: no client can slow it down.
    assert not asyncio.iscoroutinefunction(hub.publish)
    for i in range(100):
        hub.publish("metrics", {"n": i})
    assert hub.dropped_count == 1 and hub.last_seq == 100


async def test_close_ends_waiting_streams_and_refuses_new_ones() -> None:
    hub = Hub()
    sub = hub.subscribe()
    waiting = asyncio.create_task(sub.get(10.0))
    await asyncio.sleep(0)
    hub.close()
    with pytest.raises(SubscriberDropped):
        await waiting
    with pytest.raises(TooManySubscribers):
        hub.subscribe()
    assert hub.subscriber_count == 0
