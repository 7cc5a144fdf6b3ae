"""The live SSE stream over a real uvicorn socket: ids, resume, heartbeat, limits, slow clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import struct
import time
from pathlib import Path

import httpx
import pytest

from afterbeat.records import Marker, MarkerKind
from serverkit import (
    QueueSource,
    QuietPipeline,
    Running,
    SseEvent,
    SseReader,
    no_egress,
    read_events,
    running_server,
)

EVENT_TIMEOUT_S = 20.0  # a guard against hanging, not a performance limit

pytestmark = pytest.mark.usefixtures("no_egress")  # docs/security.md D-EGRESS: loopback only
__all__ = ["no_egress"]  # the fixture, imported so pytest finds it here


async def _open_stream(client: httpx.AsyncClient, srv: Running, **headers: str
                       ) -> tuple[httpx.Response, contextlib.AsyncExitStack]:
    stack = contextlib.AsyncExitStack()
    response = await stack.enter_async_context(
        client.stream("GET", "/api/live", headers={**srv.auth, **headers}))
    return response, stack


async def test_events_carry_seq_type_and_emitted_at(tmp_path: Path) -> None:
    async with running_server(tmp_path, pipeline=QuietPipeline()) as srv, srv.client() as client:
        response, stack = await _open_stream(client, srv)
        async with stack:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            sse = SseReader(response)
            hello = await sse.read(1)
            assert hello[0].event == "hello" and hello[0].id is None
            before = time.time()
            for i in range(3):
                srv.state.hub.publish("metrics", {"type": "metrics", "t_s": 5.0 * i,
                                                  "heart_rate_bpm": 70.0 + i})
            after = time.time()
            events = await asyncio.wait_for(sse.read(3), EVENT_TIMEOUT_S)
    assert [e.id for e in events] == [1, 2, 3]
    assert [e.event for e in events] == ["metrics"] * 3
    assert [e.data["heart_rate_bpm"] for e in events] == [70.0, 71.0, 72.0]
    for event in events:
        assert before <= event.data["emitted_at"] <= after


async def test_last_event_id_resumes_without_gaps_or_duplicates(tmp_path: Path) -> None:
    async with running_server(tmp_path, pipeline=QuietPipeline()) as srv, srv.client() as client:
        for i in range(1, 161):
            srv.state.hub.publish("metrics", {"n": i})
        response, stack = await _open_stream(client, srv, **{"Last-Event-ID": "100"})
        async with stack:
            events = await asyncio.wait_for(read_events(response, 61), EVENT_TIMEOUT_S)
        assert events[0].event == "hello"
        assert [e.id for e in events[1:]] == list(range(101, 161))
        assert [e.data["n"] for e in events[1:]] == list(range(101, 161))
        # First load: ?last_event_id=0 gets everything still kept.
        async with client.stream("GET", "/api/live?last_event_id=0", headers=srv.auth) as first:
            backlog = await asyncio.wait_for(read_events(first, 161), EVENT_TIMEOUT_S)
        assert [e.id for e in backlog[1:]] == list(range(1, 161))
        bad = await client.get("/api/live", headers={**srv.auth, "Last-Event-ID": "x"})
        assert bad.status_code == 400


async def test_heartbeat_when_quiet(tmp_path: Path) -> None:
    async with running_server(tmp_path, pipeline=QuietPipeline(), heartbeat_s=0.2) as srv, \
            srv.client() as client:
        response, stack = await _open_stream(client, srv)
        async with stack:
            events = await asyncio.wait_for(read_events(response, 3, until="heartbeat"),
                                            EVENT_TIMEOUT_S)
    beat = events[-1]
    assert beat.event == "heartbeat" and beat.id is None
    assert isinstance(beat.data["emitted_at"], float)
    assert beat.data["last_seq"] == 0


def test_heartbeat_interval_is_bounded() -> None:
    from afterbeat.server.app import ServerSettings
    from afterbeat.server.hub import Hub

    assert ServerSettings().heartbeat_s <= 15
    with pytest.raises(ValueError, match="heartbeat_s must be in"):
        Hub(heartbeat_s=20)


async def test_seventeenth_stream_is_refused(tmp_path: Path) -> None:
    async with running_server(tmp_path, pipeline=QuietPipeline()) as srv, \
            srv.client(limits=httpx.Limits(max_connections=40)) as client:
        stacks, readers = [], []
        for _ in range(16):
            response, stack = await _open_stream(client, srv)
            readers.append(SseReader(response))  # kept: a collected reader closes its stream
            await readers[-1].read(1)
            stacks.append(stack)
        assert srv.state.hub.subscriber_count == 16
        extra = await client.get("/api/live", headers=srv.auth)
        assert extra.status_code == 503
        assert "16" in extra.json()["detail"]
        await stacks.pop().aclose()
        for _ in range(100):
            if srv.state.hub.subscriber_count < 16:
                break
            await asyncio.sleep(0.01)
        response, stack = await _open_stream(client, srv)
        stacks.append(stack)
        assert response.status_code == 200
        for stack in stacks:
            await stack.aclose()


@pytest.mark.slow
async def test_frozen_client_is_dropped_while_sixteen_others_receive_everything(
        tmp_path: Path) -> None:
    total, size = 300, 16_000  # the frozen socket's buffers hold about 3.5 MB (~220 events)
    async with running_server(tmp_path, pipeline=QuietPipeline(), max_streams=17,
                              queue_size=32) as srv:
        frozen = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        frozen.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        frozen.connect(("127.0.0.1", srv.port))
        frozen.sendall(f"GET /api/live HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                       f"X-Afterbeat-Token: {srv.token}\r\n\r\n".encode())
        while srv.state.hub.subscriber_count < 1:
            await asyncio.sleep(0.01)
        received_by = [0] * 16  # events each reader has taken off its stream so far

        async def reader(index: int, client: httpx.AsyncClient) -> list[int]:
            ids: list[int] = []
            async with client.stream("GET", "/api/live", headers=srv.auth) as response:
                stream = SseReader(response)
                while len(ids) < total and (batch := await stream.read(1)):
                    ids.extend(e.id for e in batch if e.id is not None)
                    received_by[index] = len(ids)
            return ids

        clients = [srv.client() for _ in range(16)]
        readers = [asyncio.create_task(reader(i, c)) for i, c in enumerate(clients)]
        while srv.state.hub.subscriber_count < 17:
            await asyncio.sleep(0.01)
        blob = "x" * size
        for seq in range(1, total + 1):
            srv.state.hub.publish("metrics", {"n": seq, "pad": blob})  # never awaits
            while seq - min(received_by) > 8:  # the sixteen keep up; the frozen one cannot
                await asyncio.sleep(0.002)
        received = await asyncio.wait_for(asyncio.gather(*readers), 60)
        assert srv.state.hub.dropped_count == 1
        for ids in received:
            assert ids == list(range(1, total + 1))
        # The frozen client, read at last: the first events, then the end of its stream.
        frozen_ids = await asyncio.wait_for(_read_to_end_of_stream(frozen), 30)
        assert frozen_ids == list(range(1, len(frozen_ids) + 1))
        assert len(frozen_ids) < total
        for c in clients:
            await c.aclose()
        frozen.close()


async def _read_to_end_of_stream(sock: socket.socket) -> list[int]:
    """Event ids of a raw chunked SSE response, read until its last (zero) chunk."""
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    raw = bytearray()
    while b"\r\n0\r\n\r\n" not in raw:
        chunk = await loop.sock_recv(sock, 1 << 16)
        if not chunk:
            break
        raw += chunk
    return [int(line[4:]) for line in raw.decode("latin-1").splitlines()
            if line.startswith("id: ")]


async def test_records_markers_and_events_flow_to_the_stream(tmp_path: Path) -> None:
    from serverkit import demo_records

    _, records = demo_records(limit_s=100.0)
    source = QueueSource()
    async with running_server(tmp_path, source) as srv, srv.client() as client:
        async with client.stream("GET", "/api/live", headers=srv.auth) as response:
            sse = SseReader(response)
            await sse.read(1)
            source.feed(records)
            events: list[SseEvent] = []
            while not any(e.event == "metrics" and e.data["heart_rate_bpm"] for e in events):
                events += await asyncio.wait_for(sse.read(1), EVENT_TIMEOUT_S)
            posted = await client.post("/api/markers", json={"kind": "note", "text": "tea"},
                                       headers=srv.auth)
            assert posted.status_code == 201
            echoed: list[SseEvent] = []
            while not echoed or echoed[-1].data.get("text") != "tea":
                echoed += await asyncio.wait_for(sse.read(1, until="marker"), EVENT_TIMEOUT_S)
        kinds = {e.event for e in events}
        assert {"metrics", "marker", "status"} <= kinds
        metrics = [e.data for e in events if e.event == "metrics"]
        assert any(m["heart_rate_bpm"] for m in metrics)
        assert echoed[-1].event == "marker" and echoed[-1].data["kind"] == "note"
        session_id = srv.state.live_session_id
        assert session_id is not None

        async def committed() -> None:  # the writer thread may lag behind a loaded machine
            while not await srv.state.recorded():
                await asyncio.sleep(0.05)

        await asyncio.wait_for(committed(), EVENT_TIMEOUT_S)
        _, stored = srv.store.iter_records(session_id)
        notes = [r for r in stored if getattr(r, "text", None) == "tea"]
        assert len(notes) == 1
        status = (await client.get("/api/status", headers=srv.auth)).json()
        assert status["recording"]["active"] and not status["recording"]["failing"]
        assert json.dumps(status)  # serialisable


async def test_a_failing_recording_is_reported_and_the_live_view_goes_on(tmp_path: Path) -> None:
    from serverkit import demo_records

    _, records = demo_records(limit_s=160.0)
    early = [r for r in records if r.t_s <= 20.0]
    late = [r for r in records if r.t_s > 20.0]
    source = QueueSource()
    async with running_server(tmp_path, source) as srv, srv.client() as client:
        async with client.stream("GET", "/api/live", headers=srv.auth) as response:
            sse = SseReader(response)
            await sse.read(1)
            source.feed(early)
            while srv.state.status.records < len(early):
                await asyncio.sleep(0.01)
            size = srv.store.path.stat().st_size
            srv.store.limit_size(size)  # a real "database or disk is full" from SQLite
            source.feed(late)
            events: list[SseEvent] = []

            def failing(event: SseEvent) -> bool | None:
                if event.event != "status" or "recording" not in event.data:
                    return None
                return bool(event.data["recording"]["failing"])

            while not any(failing(e) for e in events):
                events += await asyncio.wait_for(sse.read(1), EVENT_TIMEOUT_S)
            told = next(e for e in events if failing(e)).data["recording"]
            assert told["error"] and told["unrecorded"] >= 1
            while not any(e.event == "metrics" and e.data["heart_rate_bpm"] for e in events):
                events += await asyncio.wait_for(sse.read(1), EVENT_TIMEOUT_S)
            status = (await client.get("/api/status", headers=srv.auth)).json()
            assert status["recording"]["failing"] is True
            assert status["recording"]["unrecorded"] > 0
            srv.store.limit_size(None)
            source.feed([Marker(t_s=161.0, kind=MarkerKind.NOTE, text="space again")])
            later: list[SseEvent] = []
            while not later or failing(later[-1]) is not False:
                later += await asyncio.wait_for(sse.read(1, until="status"), EVENT_TIMEOUT_S)
            assert later[-1].data["recording"]["active"] is True


async def test_clients_leaving_abruptly_are_quiet(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """A tab closed mid-stream: the stream ends without an ERROR (no ASGI traceback)."""
    caplog.set_level(logging.WARNING)
    async with running_server(tmp_path, pipeline=QuietPipeline(), heartbeat_s=0.05,
                              max_streams=16) as srv:
        request = (f"GET /api/live HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                   f"X-Afterbeat-Token: {srv.token}\r\n\r\n").encode()
        for round_ in range(6):
            clients = []
            for _ in range(8):
                reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
                writer.write(request)
                await writer.drain()
                clients.append((reader, writer))
            for reader, _ in clients:
                head = await asyncio.wait_for(reader.readuntil(b"event: hello"), EVENT_TIMEOUT_S)
                assert head.startswith(b"HTTP/1.1 200")
            for i in range(40):  # events in flight while the clients go
                srv.state.hub.publish("metrics", {"n": i, "pad": "x" * 2000})
                if i == 20:
                    for _, writer in clients:
                        sock = writer.get_extra_info("socket")
                        if round_ % 2:  # a reset (RST) as well as an orderly close
                            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                            struct.pack("ii", 1, 0))
                        writer.close()
                await asyncio.sleep(0)
            for _ in range(500):
                if srv.state.hub.subscriber_count == 0:
                    break
                await asyncio.sleep(0.01)
            assert srv.state.hub.subscriber_count == 0
        await asyncio.sleep(0.2)  # heartbeats to closed streams would fail now
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
