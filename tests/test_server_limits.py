"""Crowding the server: a slow-header flood under 1024 descriptors, and a frozen stream reader.

docs/security.md W-SLOW and W-FROZEN. Loopback only, every loop bounded, everything stops by
itself. The flood test prints its numbers (``-s`` shows them).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from afterbeat.server.connections import ConnectionGuard
from afterbeat.server.hub import Hub
from afterbeat.storage.store import Store
from serverkit import QuietPipeline, Running, demo_records, running_server

ROOT = Path(__file__).resolve().parents[1]
FLOOD = 1100
"""Slow-header connections: more than the server's 1024 descriptors."""
DRIBBLE_S = 16
"""How long each flood connection keeps dribbling header bytes (one line a second)."""


def _limit_descriptors() -> None:  # runs in the child between fork and exec
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, min(1024, hard)))


@pytest.fixture
def enough_descriptors() -> Iterator[None]:
    """This test process needs room for the flood's sockets; skip if the machine has none."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = FLOOD + 512
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"needs {need} file descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def _slow_client(port: int, stop: asyncio.Event) -> str:
    """One slowloris connection: a partial request, then a header line a second."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 20)
    except (OSError, TimeoutError):
        return "not connected"
    try:
        writer.write(f"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
        for _ in range(DRIBBLE_S):
            if stop.is_set():
                return "still open"
            with contextlib.suppress(TimeoutError):
                if await asyncio.wait_for(reader.read(1), 1.0) == b"":
                    return "closed by server"
            writer.write(b"X-Slow: 1\r\n")
            await writer.drain()
        return "still open"
    except OSError:
        return "closed by server"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _flood(port: int, token: str) -> tuple[Counter[str], list[float]]:
    stop = asyncio.Event()
    attackers = [asyncio.create_task(_slow_client(port, stop)) for _ in range(FLOOD)]
    await asyncio.sleep(3.0)  # the flood is connected (or queued) before the real requests
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
        for _ in range(3):
            started = time.monotonic()
            response = await client.get("/api/status", headers={"X-Afterbeat-Token": token})
            assert response.status_code == 200
            assert response.json()["demo"] is True
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(1.0)
    outcomes = Counter(await asyncio.gather(*attackers))
    stop.set()
    return outcomes, latencies


@pytest.mark.slow
def test_slow_header_flood_under_1024_descriptors(tmp_path: Path,
                                                  enough_descriptors: None) -> None:
    err_path = tmp_path / "server-stderr.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "afterbeat", "demo", "--no-open", "--port", "0", "--speed",
             "1", "--data-dir", str(tmp_path / "data")],
            env=env, stdout=subprocess.DEVNULL, stderr=err, preexec_fn=_limit_descriptors)
    server_file = tmp_path / "data" / "demo" / "server.json"
    try:
        for _ in range(600):
            assert proc.poll() is None, err_path.read_text()
            with contextlib.suppress(OSError, ValueError):
                info: dict[str, Any] = json.loads(server_file.read_text())
                break
            time.sleep(0.05)
        else:
            pytest.fail("server.json never appeared")
        started = time.monotonic()
        outcomes, latencies = asyncio.run(_flood(int(info["port"]), str(info["token"])))
        took_s = time.monotonic() - started
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - only if the server hangs
            proc.kill()
            proc.wait(timeout=10)
    log = err_path.read_text(errors="replace")
    print(f"\nslow-header flood: {FLOOD} connections, outcomes {dict(outcomes)}, real requests "
          f"{[round(x, 3) for x in latencies]} s, run {took_s:.1f} s, server stderr "
          f"{len(log)} bytes: {log.strip()[:300]!r}")
    assert len(latencies) == 3  # every real request succeeded during the flood
    # The request deadline closed every slow connection that got in, dribbling or not.
    assert outcomes["still open"] == 0, outcomes
    assert "Traceback" not in log and "out of system resource" not in log
    assert len(log) < 10_000, log[:2000]
    assert proc.returncode == 0


async def test_connection_cap_evicts_the_oldest_waiting_connection() -> None:
    """The guard's bookkeeping, through its public seam (admit/leave) with stand-ins."""

    class Conn:
        def __init__(self, waiting: bool) -> None:
            self.waiting = waiting
            self.dropped = False

        def drop(self) -> None:
            self.dropped = True

    guard = ConnectionGuard(max_connections=2)
    busy, idle = Conn(waiting=False), Conn(waiting=True)
    assert guard.admit(busy) and guard.admit(idle)  # type: ignore[arg-type]
    newcomer = Conn(waiting=True)
    assert guard.admit(newcomer)  # type: ignore[arg-type]
    assert idle.dropped and not busy.dropped and guard.evicted == 1
    guard.leave(idle)  # type: ignore[arg-type]
    guard.leave(newcomer)  # type: ignore[arg-type]
    other_busy = Conn(waiting=False)
    assert guard.admit(other_busy)  # type: ignore[arg-type]
    assert not guard.admit(Conn(waiting=True))  # type: ignore[arg-type]
    assert guard.refused == 1 and not busy.dropped and not other_busy.dropped


async def test_slow_headers_and_slow_bodies_are_closed_at_the_deadline() -> None:
    """A real uvicorn with the guard at a 0.5 s deadline: dribbling does not extend it."""
    import uvicorn

    from afterbeat.server.connections import guarded_protocol
    from serverkit import free_socket

    async def echo(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    guard = ConnectionGuard(max_connections=16, request_timeout_s=0.5)
    sock = free_socket()
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(echo, http=guarded_protocol(guard), lifespan="off",
                                           log_config=None, access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)

        async def dribble(head: bytes) -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(head)
                for _ in range(40):  # a byte every 0.25 s, for at most 10 s
                    with contextlib.suppress(TimeoutError):
                        data = await asyncio.wait_for(reader.read(1024), 0.25)
                        return data
                    writer.write(b"x")
                return b"still open"
            except OSError:
                return b""
            finally:
                writer.close()

        slow_head = await dribble(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        slow_body = await dribble(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  b"Content-Length: 1000\r\n\r\nabc")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            good = await client.post("/", content=b"a" * 1000)
    finally:
        server.should_exit = True
        await task
        sock.close()
    assert (slow_head, slow_body) == (b"", b""), "closed without an answer"
    assert guard.timed_out == 2
    assert good.status_code == 200 and good.text == "ok"


# -- a live-stream client that stops reading is dropped, freeing its slot --------------------

async def _open_stream(port: int, token: str) -> tuple[asyncio.StreamReader,
                                                      asyncio.StreamWriter, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /api/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 f"X-Afterbeat-Token: {token}\r\n\r\n".encode())
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    return reader, writer, int(status_line.split()[1])


async def _open_frozen_stream(port: int, token: str) -> tuple[socket.socket, int]:
    """A stream whose reader never reads: a plain socket with a 4 kB receive buffer."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(sock, f"GET /api/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                            f"X-Afterbeat-Token: {token}\r\n\r\n".encode())
    head = await asyncio.wait_for(loop.sock_recv(sock, 12), 10)  # "HTTP/1.1 200"
    return sock, int(head.split()[1])


async def _drain(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(OSError):
        while await reader.read(65536):
            pass


async def test_frozen_stream_client_is_dropped_and_its_slot_freed(tmp_path: Path) -> None:
    async with running_server(tmp_path, pipeline=QuietPipeline(), max_streams=16,
                              queue_size=64) as srv:
        await _crowd_with_a_frozen_reader(srv)


async def _crowd_with_a_frozen_reader(srv: Running) -> None:
    hub = srv.state.hub
    frozen, status = await _open_frozen_stream(srv.port, srv.token)
    assert status == 200
    readers = []
    for _ in range(15):
        reader, writer, status = await _open_stream(srv.port, srv.token)
        assert status == 200
        readers.append((writer, asyncio.create_task(_drain(reader))))
    assert hub.subscriber_count == 16
    payload = {"filler": "x" * 1000}
    for _ in range(200):  # ~4 s of a busy stream at most, paced so readers keep up
        if hub.subscriber_count < 16:
            break
        for _ in range(10):
            hub.publish("metrics", payload)
        await asyncio.sleep(0.02)
    assert hub.subscriber_count == 15, "the frozen reader should have been dropped"
    assert hub.dropped_count == 1  # only the frozen one: the 15 readers kept up
    _, late_writer, status = await _open_stream(srv.port, srv.token)
    assert status == 200, "the 16th reader is served in the freed slot"
    frozen.close()
    for writer in (late_writer, *(w for w, _ in readers)):
        writer.close()
    for _, task in readers:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_stalled_subscriber_is_dropped_once_it_lags_too_long() -> None:
    """Hub seam with an injected clock: a queue that stops moving is dropped by its age."""
    now = [1000.0]
    hub = Hub(queue_size=1000, max_lag_s=30.0, clock=lambda: now[0])
    stalled = hub.subscribe()
    lively = hub.subscribe()
    for step in range(40):
        now[0] += 1.0
        hub.publish("metrics", {"step": step})
        assert await lively.get(0.01) is not None
    assert hub.subscriber_count == 1 and hub.dropped_count == 1
    assert stalled.dropped and not lively.dropped


async def _count_frames(reader: asyncio.StreamReader, seen: list[bytes]) -> None:
    """Read a stream to its end, keeping each SSE ``event:`` line."""
    with contextlib.suppress(OSError):
        while line := await reader.readline():
            if line.startswith(b"event: "):
                seen.append(line.strip())


async def test_a_frozen_reader_loses_its_slot_on_an_idle_server(tmp_path: Path) -> None:
    """Nothing is published (no recording): only heartbeats flow. A reader that stops reading
    fills its socket with them, the server's send to it stalls, and the stalled connection is
    closed, freeing its slot; the reader that keeps reading is untouched (W-FROZEN)."""
    guard = ConnectionGuard(send_buffer_bytes=4096, send_timeout_s=0.5)
    async with running_server(tmp_path, pipeline=QuietPipeline(), max_streams=2,
                              heartbeat_s=0.005, guard=guard) as srv:
        hub = srv.state.hub
        frozen, status = await _open_frozen_stream(srv.port, srv.token)
        assert status == 200
        reader, writer, status = await _open_stream(srv.port, srv.token)
        assert status == 200
        seen: list[bytes] = []
        reading = asyncio.create_task(_count_frames(reader, seen))
        _, refused, status = await _open_stream(srv.port, srv.token)
        assert status == 503, "both slots are taken"
        refused.close()
        for _ in range(600):  # a bound, not a limit: heartbeats fill its buffers in ~1 s
            if hub.subscriber_count < 2:
                break
            await asyncio.sleep(0.05)
        assert hub.subscriber_count == 1, "the frozen reader should have lost its slot"
        assert hub.published_count == 0, "nothing but heartbeats was sent"
        assert guard.stalled == 1
        before = seen.count(b"event: heartbeat")
        _, late, status = await _open_stream(srv.port, srv.token)
        assert status == 200, "a new reader is served in the freed slot"
        for _ in range(200):
            if seen.count(b"event: heartbeat") > before:
                break
            await asyncio.sleep(0.05)
        assert seen.count(b"event: heartbeat") > before, "the reading client still hears"
        frozen.close()
        for w in (writer, late):
            w.close()
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading


async def test_a_slow_reader_of_a_big_answer_is_not_cut_off(tmp_path: Path) -> None:
    """The send deadline ends a reader that stopped, never one that reads slowly: a session
    export read 4 kB at a time, slower than the deadline per buffer-full, arrives whole."""
    header, records = demo_records()
    with Store.open(tmp_path) as store:
        session_id = store.import_session(header, records, "import")
        expected = io.StringIO()
        store.export(session_id, expected)
    guard = ConnectionGuard(send_buffer_bytes=4096, send_timeout_s=0.5)
    async with running_server(tmp_path, pipeline=QuietPipeline(), guard=guard) as srv:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", srv.port))
        await loop.sock_sendall(sock, (
            f"GET /api/sessions/{session_id}/export HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
            f"X-Afterbeat-Token: {srv.token}\r\nConnection: close\r\n\r\n").encode())
        received = bytearray()
        with contextlib.closing(sock):
            while chunk := await asyncio.wait_for(loop.sock_recv(sock, 4096), 10):
                received += chunk
                await asyncio.sleep(0.05)  # ~80 kB/s: a 64 kB buffer takes ~1 s to go down
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert body.decode() == expected.getvalue()
    assert len(body) > 200_000 and guard.stalled == 0
