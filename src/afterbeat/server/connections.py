"""Connection limits under uvicorn: a request deadline, a connection cap, bounded send buffers.

uvicorn has no header-read timeout: a connection that sends half a request and then waits
keeps its file descriptor forever, so about a thousand of them exhaust the usual 1024
descriptors, every new ``accept()`` fails and asyncio logs a traceback per failure
(docs/security.md, W-SLOW). :func:`guarded_protocol` returns uvicorn's own HTTP/1.1 protocol
(h11) with three additions:

- **Request deadline**: a connection waiting for a request (new, or idle after a response)
  must deliver the whole request (headers and body) within ``request_timeout_s``, counted
  from when it started waiting (not per byte, so dribbling a byte at a time does not extend
  it); else it is closed.
- **Connection cap**: at most ``max_connections`` open at once. A new connection beyond the
  cap closes the oldest connection that is still *waiting for a request* or its body (a slow
  or idle one; never one whose request is being answered, such as a live stream); when every
  connection is busy the new one is closed instead. A flood of partial requests therefore
  cannot hold more descriptors than the cap, and a real request, which sends its headers at
  once, is not starved.
- **Send buffer**: each socket's kernel send buffer is fixed at ``send_buffer_bytes``, so a
  client that stops reading backs up into the live stream's bounded queue quickly (and is
  dropped there) instead of into megabytes of kernel buffer.
- **Send deadline**: a connection whose sending has stalled (the transport's buffer is past
  its high-water mark and has not gone down: the peer stopped reading) for
  ``send_timeout_s`` is aborted; a slow reader, whose buffer does go down, is not. A live
  stream's reader that stopped reading thus loses its connection and its stream slot even
  on a server with nothing to publish: the heartbeats fill its buffers, the send stalls, and
  the deadline ends it (docs/security.md W-FROZEN). At the default settings that takes
  roughly (the peer's receive buffer + ``send_buffer_bytes`` + 64 KiB) / (heartbeat bytes
  per ``heartbeat_s``) + ``send_timeout_s``; a busy stream fills the buffers in seconds.

:func:`quiet_accept_errors` keeps "out of file descriptors" accept errors (should the
process run out for another reason) to one line a minute instead of a traceback each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "DEFAULT_REQUEST_TIMEOUT_S",
    "DEFAULT_SEND_TIMEOUT_S",
    "ConnectionGuard",
    "default_max_connections",
    "guarded_protocol",
    "quiet_accept_errors",
]

log = logging.getLogger(__name__)

DEFAULT_REQUEST_TIMEOUT_S: Final = 10.0
DEFAULT_SEND_BUFFER_BYTES: Final = 64 * 1024
DEFAULT_SEND_TIMEOUT_S: Final = 30.0
_CEILING: Final = 128


def default_max_connections() -> int:
    """The connection cap: 128, or fewer when the descriptor limit is low (half of it - 32)."""
    try:
        import resource  # not on Windows, whose select() loop has its own, lower, limit
    except ImportError:  # pragma: no cover - platform
        return _CEILING
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return _CEILING
    return max(8, min(_CEILING, soft // 2 - 32))


@dataclass
class ConnectionGuard:
    """Shared limits and counters of one server: cap (connections), deadline (s), buffer (B)."""

    max_connections: int = field(default_factory=default_max_connections)
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    send_buffer_bytes: int = DEFAULT_SEND_BUFFER_BYTES
    send_timeout_s: float = DEFAULT_SEND_TIMEOUT_S
    """How long (s) a connection's sending may stay stalled (its buffer full and not going
    down: the peer is not reading) before it is aborted."""
    evicted: int = 0
    """Connections closed to make room for a newer one (they were waiting for a request)."""
    refused: int = 0
    """New connections closed because every open one was busy answering."""
    timed_out: int = 0
    """Connections closed for not sending a request's headers within the deadline."""
    stalled: int = 0
    """Connections aborted because their peer stopped reading for ``send_timeout_s``."""
    _open: dict[_Guarded, None] = field(default_factory=dict, repr=False)

    @property
    def open_connections(self) -> int:
        """Connections open now."""
        return len(self._open)

    def admit(self, conn: _Guarded) -> bool:
        """Register a new connection; False when it must be closed (every slot is busy)."""
        self._open[conn] = None
        if len(self._open) <= self.max_connections:
            return True
        for older in self._open:
            if older is not conn and older.waiting:
                self.evicted += 1
                older.drop()
                return True
        self.refused += 1
        return False

    def leave(self, conn: _Guarded) -> None:
        """Forget a closed connection."""
        self._open.pop(conn, None)


class _Guarded(H11Protocol):
    """uvicorn's h11 protocol with a request deadline, a slot in the guard and a send buffer."""

    guard: ConnectionGuard
    _deadline: asyncio.TimerHandle | None = None
    _stall: asyncio.TimerHandle | None = None
    _closed_by_guard = False

    @property
    def waiting(self) -> bool:
        """True until a whole request (headers and body) is in and being answered."""
        return (self.cycle is None or self.cycle.response_complete
                or self.conn.their_state is h11.SEND_BODY)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and self.guard.send_buffer_bytes > 0:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF,
                                self.guard.send_buffer_bytes)
        if not self.guard.admit(self):
            self.drop()
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.waiting:
            self._disarm()  # the whole request is in: it is being answered

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.waiting:
            self._arm()  # the next request on this connection gets its own deadline

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall is None:
            self._arm_stall()

    def _arm_stall(self) -> None:
        self._stall = self.loop.call_later(self.guard.send_timeout_s, self._send_stalled,
                                           self.transport.get_write_buffer_size())

    def resume_writing(self) -> None:
        self._unstall()
        super().resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._unstall()
        self._disarm()
        self.guard.leave(self)
        super().connection_lost(exc)

    def drop(self) -> None:
        """Close now, without a response (the peer sent no complete request)."""
        self._disarm()
        self._closed_by_guard = True
        self.guard.leave(self)
        if not self.transport.is_closing():
            self.transport.abort()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.guard.request_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _unstall(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _send_stalled(self, buffered_bytes: int) -> None:
        self._stall = None  # connection_lost cancels this timer: the connection is still up
        if self.transport.get_write_buffer_size() < buffered_bytes:
            self._arm_stall()  # a slow reader, but a reader: its buffer went down
            return
        self.guard.stalled += 1
        log.info("closed a connection whose peer stopped reading for %g s",
                 self.guard.send_timeout_s)
        self._disarm()
        self.guard.leave(self)
        self.transport.abort()  # even when closing: close() waits for a buffer that won't drain

    def _expired(self) -> None:
        self._deadline = None
        if self.waiting and not self.transport.is_closing():
            self.guard.timed_out += 1
            self.drop()


def guarded_protocol(guard: ConnectionGuard) -> type[asyncio.Protocol]:
    """An HTTP protocol class for ``uvicorn.Config(http=...)`` enforcing ``guard``."""
    return type("GuardedH11Protocol", (_Guarded,), {"guard": guard})


def quiet_accept_errors(loop: asyncio.AbstractEventLoop,
                        clock: Callable[[], float] | None = None,
                        every_s: float = 60.0) -> None:
    """Log accept() resource errors as one line per ``every_s``; other errors as before."""
    now = clock or loop.time
    last = [float("-inf")]
    suppressed = [0]

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        if "accept" in message and isinstance(context.get("exception"), OSError):
            if now() - last[0] >= every_s:
                exc = context["exception"]
                log.warning("cannot accept connections (%s)%s", exc.strerror or exc,
                            f"; {suppressed[0]} more since the last note" if suppressed[0]
                            else "")
                last[0] = now()
                suppressed[0] = 0
            else:
                suppressed[0] += 1
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
