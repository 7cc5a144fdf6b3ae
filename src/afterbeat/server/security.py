"""The local web surface's guard: a pure ASGI middleware in front of the whole app.

Every request, in this order (security note NET-2..13):

1. **Host**: exactly ``127.0.0.1``, ``localhost`` or ``[::1]``, with or without ``:PORT``, any
   case (plus the ``--lan`` host). Anything else, several Host headers or none → 400. Proxy
   headers (``X-Forwarded-*``) are never read.
2. **Origin**: when present it must be exactly ``http://127.0.0.1:PORT`` or
   ``http://localhost:PORT`` (or the ``--lan`` host's origin) → else 403, on every path.
   ``Sec-Fetch-Site: cross-site|same-site`` on ``/api`` → 403 as well.
3. **Token** on ``/api/*`` (``/api/live`` included): the header ``X-Afterbeat-Token`` or the
   cookie ``afterbeat-<port>``, both compared with :func:`hmac.compare_digest` → else 401.
4. **Writes** (POST, PUT, PATCH, DELETE) on ``/api``: a cookie alone needs an allowed Origin
   (browsers always send one on writes); without Origin only the token header is accepted
   (non-browser clients). A body must be ``application/json`` (→ 415) and at most 1 MiB
   (→ 413); a write without a body goes on to the route (which wants JSON or answers 405).
5. Every response gets the CSP ``default-src 'self'; script-src 'self'; object-src 'none';
   base-uri 'none'; frame-ancestors 'none'``, ``nosniff``, no referrer, no framing;
   ``/api`` responses are ``no-store``. No CORS headers are ever sent.

**Bootstrap** (the token never appears in a URL or a log): at launch the server mints a
one-time *launch ticket*, a separate random nonce, and opens the browser on
``/?launch=<ticket>``. That request redeems the ticket (once, within ``ticket_ttl_s``) and gets
a 303 back to ``/`` carrying ``Set-Cookie: afterbeat-<port>=<token>; HttpOnly;
SameSite=Strict; Path=/``. Non-browser clients read the token from ``server.json`` (0600 in the
data directory) and send it in ``X-Afterbeat-Token``; they can mint a fresh browser link with
``POST /api/launch``.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "LOOPBACK_NAMES",
    "MAX_BODY_BYTES",
    "TOKEN_HEADER",
    "LaunchTickets",
    "SecurityMiddleware",
    "SecurityPolicy",
]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_HEADER: Final = "x-afterbeat-token"
MAX_BODY_BYTES: Final = 1 << 20
LOOPBACK_NAMES: Final = ("127.0.0.1", "localhost", "[::1]")
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
_WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SECURITY_HEADERS: Final = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    """What the guard allows for one launch: port, token, optional LAN host, body limit (bytes)."""

    port: int
    token: str = field(repr=False)
    lan_host: str | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    https: bool = False

    @classmethod
    def for_launch(cls, port: int, lan_host: str | None = None) -> SecurityPolicy:
        """A policy with a fresh per-launch token (``secrets.token_urlsafe(32)``)."""
        return cls(port=port, token=secrets.token_urlsafe(32), lan_host=lan_host)

    @property
    def cookie_name(self) -> str:
        """Name of the token cookie: ``afterbeat-<port>``."""
        return f"afterbeat-{self.port}"

    @property
    def allowed_hosts(self) -> frozenset[str]:
        """Exact Host header values accepted (lower case)."""
        names = [*LOOPBACK_NAMES]
        if self.lan_host:
            names.append(self.lan_host.lower())
        return frozenset(h for name in names for h in (name, f"{name}:{self.port}"))

    @property
    def allowed_origins(self) -> frozenset[str]:
        """Exact Origin header values accepted."""
        origins = {f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}"}
        if self.lan_host:
            scheme = "https" if self.https else "http"
            origins.add(f"{scheme}://{self.lan_host.lower()}:{self.port}")
        return frozenset(origins)

    def token_matches(self, candidate: str | None) -> bool:
        """Constant-time comparison of a presented token with this launch's token."""
        if not candidate:
            return False
        return hmac.compare_digest(candidate.encode(), self.token.encode())

    def cookie_header(self) -> str:
        """The Set-Cookie value that hands the token to the browser."""
        secure = "; Secure" if self.https else ""
        return f"{self.cookie_name}={self.token}; Path=/; HttpOnly; SameSite=Strict{secure}"


class LaunchTickets:
    """One-time browser launch nonces (not the token); each redeems once within ``ttl_s``."""

    def __init__(self, ttl_s: float = 600.0, clock: Callable[[], float] = time.monotonic,
                 max_open: int = 8) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._max_open = max_open
        self._open: dict[str, float] = {}

    def issue(self) -> str:
        """A new ticket for ``/?launch=<ticket>``; the oldest is forgotten beyond ``max_open``."""
        ticket = secrets.token_urlsafe(24)
        self._open[ticket] = self._clock() + self._ttl_s
        while len(self._open) > self._max_open:
            self._open.pop(next(iter(self._open)))
        return ticket

    def redeem(self, candidate: str) -> bool:
        """True once for a valid, unexpired ticket; it is consumed either way."""
        now = self._clock()
        found: str | None = None
        for ticket in list(self._open):
            if hmac.compare_digest(ticket.encode(), candidate.encode()):
                found = ticket
        if found is None:
            return False
        expires = self._open.pop(found)
        return now <= expires


def _headers(scope: Scope) -> dict[bytes, list[bytes]]:
    out: dict[bytes, list[bytes]] = {}
    for key, value in scope.get("headers", ()):
        out.setdefault(bytes(key).lower(), []).append(bytes(value))
    return out


def _one(headers: dict[bytes, list[bytes]], name: bytes) -> str | None:
    values = headers.get(name)
    if not values:
        return None
    return values[0].decode("latin-1")


def _cookie(headers: dict[bytes, list[bytes]], name: str) -> str | None:
    # Split by hand: http.cookies stops at the first cookie it dislikes, and other apps on
    # localhost (any port) share this cookie jar.
    for raw in headers.get(b"cookie", ()):
        for part in raw.decode("latin-1").split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key == name:
                return value.strip().strip('"')
    return None


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json"


async def _send_json(send: Send, status: int, detail: str, code: str,
                     extra: list[tuple[bytes, bytes]] | None = None) -> None:
    log.debug("refused a request with %d (%s)", status, code)  # no headers, no query
    body = json.dumps({"detail": detail, "error": code}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SecurityMiddleware:
    """Pure ASGI middleware applying :class:`SecurityPolicy` to every HTTP and WebSocket scope."""

    def __init__(self, app: ASGIApp, policy: SecurityPolicy,
                 tickets: LaunchTickets | None = None) -> None:
        self.app = app
        self.policy = policy
        self.tickets = tickets if tickets is not None else LaunchTickets()
        self._hosts = policy.allowed_hosts
        self._origins = policy.allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            # afterbeat pushes over SSE only; no WebSocket route exists (NET-8).
            await send({"type": "websocket.close", "code": 1008})
        else:
            await self.app(scope, receive, send)

    def _host_ok(self, headers: dict[bytes, list[bytes]]) -> bool:
        hosts = headers.get(b"host", [])
        if len(hosts) != 1:
            return False
        return hosts[0].decode("latin-1").lower() in self._hosts

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        if not self._host_ok(headers):
            await _send_json(send, 400, "Host not allowed", "bad_host")
            return
        origins = headers.get(b"origin", [])
        if len(origins) > 1 or (origins and origins[0].decode("latin-1") not in self._origins):
            await _send_json(send, 403, "Origin not allowed", "bad_origin")
            return
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET").upper()
        if path == "/api" or path.startswith("/api/"):
            await self._api(scope, receive, send, headers, method)
            return
        if path == "/" and method in ("GET", "HEAD"):
            query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
            launch = query.get("launch")
            if launch is not None:
                await self._launch(send, launch[0])
                return
        await self.app(scope, receive, self._with_headers(send, api=False))

    async def _launch(self, send: Send, ticket: str) -> None:
        if not self.tickets.redeem(ticket):
            await _send_json(send, 403, "This launch link was already used or has expired; "
                             "restart afterbeat or ask it for a new link", "bad_launch")
            return
        await send({"type": "http.response.start", "status": 303, "headers": [
            (b"location", b"/"), (b"set-cookie", self.policy.cookie_header().encode()),
            (b"cache-control", b"no-store"), (b"content-length", b"0"), *_SECURITY_HEADERS]})
        await send({"type": "http.response.body", "body": b""})

    async def _api(self, scope: Scope, receive: Receive, send: Send,
                   headers: dict[bytes, list[bytes]], method: str) -> None:
        fetch_site = _one(headers, b"sec-fetch-site")
        if fetch_site in ("cross-site", "same-site"):
            await _send_json(send, 403, "cross-site request refused", "cross_site")
            return
        by_header = self.policy.token_matches(_one(headers, TOKEN_HEADER.encode()))
        by_cookie = self.policy.token_matches(_cookie(headers, self.policy.cookie_name))
        if not (by_header or by_cookie):
            await _send_json(send, 401, "missing or wrong token", "no_token")
            return
        if method not in _WRITE_METHODS:
            await self.app(scope, receive, self._with_headers(send, api=True))
            return
        if not by_header and not headers.get(b"origin"):
            await _send_json(send, 403, "writes from a browser need an Origin", "no_origin")
            return
        content_type = _one(headers, b"content-type")
        length_text = _one(headers, b"content-length")
        declared = int(length_text) if length_text and length_text.isdigit() else None
        if declared is not None and declared > self.policy.max_body_bytes:
            await _send_json(send, 413, "request body larger than 1 MiB", "too_large")
            return
        has_body = bool(declared) or b"transfer-encoding" in headers
        if (has_body or content_type) and not _is_json(content_type):
            await _send_json(send, 415, "send the body as application/json", "not_json")
            return
        body = await self._read_body(receive)
        if body is None:
            await _send_json(send, 413, "request body larger than 1 MiB", "too_large")
            return
        await self.app(scope, _replay(body, receive), self._with_headers(send, api=True))

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > self.policy.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    @staticmethod
    def _with_headers(send: Send, *, api: bool) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = [(k, v) for k, v in message.get("headers", [])
                       if bytes(k).lower() not in _STRIPPED]
                raw.extend(_SECURITY_HEADERS)
                if api and not any(bytes(k).lower() == b"cache-control" for k, _ in raw):
                    raw.append((b"cache-control", b"no-store"))
                message["headers"] = raw
            await send(message)

        return wrapped


_STRIPPED: Final = frozenset({
    b"access-control-allow-origin", b"access-control-allow-credentials", b"server",
    *(name for name, _ in _SECURITY_HEADERS)})


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
