"""Test harness for the server: a real uvicorn on 127.0.0.1 (free port), sources, SSE reading."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import secrets
import socket
import tempfile
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from afterbeat.activation.settings import DEFAULT_SETTINGS
from afterbeat.records import Header, Record
from afterbeat.server import app as server
from afterbeat.server.app import ServerSettings, create_app
from afterbeat.server.connections import ConnectionGuard, guarded_protocol
from afterbeat.server.security import LaunchTickets, SecurityPolicy
from afterbeat.server.state import ServerState
from afterbeat.sources import SourceStatus
from afterbeat.storage.session_file import iter_session
from afterbeat.storage.store import Store

DEMO = Path(__file__).resolve().parents[1] / "src" / "afterbeat" / "data" / "demo.jsonl"
LOOPBACK = ("127.0.0.1", "::1")


class QueueSource:
    """A source fed by the test: put records/statuses in, ``None`` ends the stream."""

    name = "test"

    def __init__(self, header: Header | None = None) -> None:
        self.queue: asyncio.Queue[Record | SourceStatus | None] = asyncio.Queue()
        self._header = header or Header(started_at=datetime(2026, 1, 1, tzinfo=UTC),
                                        device={"name": "test strap"})
        self.clock_s = 0.0
        self.closed = False

    @property
    def header(self) -> Header:
        return self._header

    def now_s(self) -> float:
        return self.clock_s

    async def stream(self) -> AsyncIterator[Record | SourceStatus]:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            if not isinstance(item, SourceStatus):
                self.clock_s = max(self.clock_s, item.t_s)
            yield item

    async def aclose(self) -> None:
        self.closed = True
        self.queue.put_nowait(None)

    def feed(self, items: Iterable[Record | SourceStatus]) -> None:
        for item in items:
            self.queue.put_nowait(item)


class QuietPipeline:
    """A pipeline that emits nothing (for tests of the transport, not of the signal)."""

    plan = None
    baseline = None
    settings = DEFAULT_SETTINGS

    def forget_baseline(self) -> None:
        pass

    def push(self, record: Record) -> list[Any]:
        return []

    def finish(self) -> list[Any]:
        return []


def demo_records(limit_s: float | None = None) -> tuple[Header, list[Record]]:
    """The bundled demo recording (real RR re-encoded), optionally cut at ``limit_s``."""
    header, records = iter_session(DEMO)
    out = [r for r in records if limit_s is None or r.t_s <= limit_s]
    return header, out


def state_of(app: Any) -> ServerState:
    """The ServerState behind the app returned by create_app."""
    return server.state_of(app)


@dataclass
class Running:
    """A server running in this event loop."""

    port: int
    token: str
    app: Any
    store: Store
    tickets: LaunchTickets
    server: uvicorn.Server
    base: str = field(init=False)

    def __post_init__(self) -> None:
        self.base = f"http://127.0.0.1:{self.port}"

    @property
    def state(self) -> ServerState:
        return state_of(self.app)

    @property
    def auth(self) -> dict[str, str]:
        return {"X-Afterbeat-Token": self.token}

    def client(self, **kw: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base, timeout=10.0, **kw)


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    return sock


@contextlib.asynccontextmanager
async def running_server(data_dir: Path, source: Any = None, *, pipeline: Any = None,
                         log_level: str = "warning", guard: ConnectionGuard | None = None,
                         **settings: Any) -> AsyncIterator[Running]:
    """Serve ``create_app`` with uvicorn on a free loopback port inside the test's loop
    (``guard``: the connection limits, default ``ConnectionGuard()``)."""
    sock = free_socket()
    port = int(sock.getsockname()[1])
    token = secrets.token_urlsafe(32)
    store = Store.open(data_dir)
    tickets = LaunchTickets()
    try:
        app = create_app(ServerSettings(port=port, **settings), source, store,
                         policy=SecurityPolicy(port=port, token=token), tickets=tickets,
                         pipeline=pipeline)
        config = uvicorn.Config(app, access_log=False, proxy_headers=False,
                                log_level=log_level, log_config=None, server_header=False,
                                lifespan="on", http=guarded_protocol(guard or ConnectionGuard()),
                                ws="none", timeout_graceful_shutdown=1)
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        try:
            yield Running(port, token, app, store, tickets, server)
        finally:
            server.should_exit = True
            await task
    finally:
        store.close()
        sock.close()


@dataclass
class SseEvent:
    event: str
    data: dict[str, Any]
    id: int | None


class SseReader:
    """Reads SSE frames from one streaming response (its lines can only be read once)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def read(self, count: int, until: str | None = None) -> list[SseEvent]:
        """Frames until ``count`` of them (or an ``until`` event) arrived or the stream ended."""
        out: list[SseEvent] = []
        event, data, ident = "message", "", None
        async for line in self._lines:
            if line == "":
                if data:
                    out.append(SseEvent(event, json.loads(data), ident))
                    if len(out) >= count or (until is not None and event == until):
                        return out
                event, data, ident = "message", "", None
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data += line[6:]
            elif line.startswith("id: "):
                ident = int(line[4:])
        return out


async def read_events(response: httpx.Response, count: int,
                      until: str | None = None) -> list[SseEvent]:
    """Frames of a response read once (see SseReader for reading in several steps)."""
    return await SseReader(response).read(count, until)


async def raw_request(port: int, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send a hand-written HTTP/1.1 request; return the status and the raw response."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.replace("\n", "\r\n").encode("latin-1") + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(65536), 10)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Run an ASGI app's lifespan (startup before, shutdown after) for in-process tests."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive() -> dict[str, Any]:
        return await inbox.get()

    async def send(message: dict[str, Any]) -> None:
        await outbox.put(message)

    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"},
                                    "state": {}}, receive, send))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        stopped = await outbox.get()
        assert stopped["type"] == "lifespan.shutdown.complete", stopped
        await task


def scratch_dir(tmp_path: Path) -> Path:
    """A data directory on tmpfs when there is one: the store fsyncs every record (~6 ms on
    disk), which only slows tests that fill it with thousands of records."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="afterbeat-test-", dir=shm))
    return tmp_path


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _loopback_only(address: Any) -> None:
    if isinstance(address, tuple):
        host = str(address[0])
        if host != "localhost" and not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            raise AssertionError(f"non-loopback connection attempted to {host}")


@pytest.fixture
def no_egress(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connect to a non-loopback address fails the test (docs/security.md D-EGRESS)."""

    def connect(self: socket.socket, address: Any) -> None:
        _loopback_only(address)
        _real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _loopback_only(address)
        return _real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
