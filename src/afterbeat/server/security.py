"""The local web surface's guard: a pure ASGI middleware in front of the whole app.

Every request, in this order (docs/security.md, W-HOST .. W-ERR):

1. **Host**: exactly ``127.0.0.1``, ``localhost`` or ``[::1]``, with or without ``:PORT``, any
   case (plus the ``--lan`` host). Anything else, several Host headers or none → 400. Proxy
   headers (``X-Forwarded-*``) are never read.
2. **Origin**: when present it must be exactly ``http://127.0.0.1:PORT``,
   ``http://localhost:PORT`` or ``http://[::1]:PORT`` (or the ``--lan`` host's origin) → else
   403, on every path. ``Sec-Fetch-Site: cross-site|same-site`` on ``/api`` → 403 as well.
3. **Token** on ``/api/*`` (``/api/live`` included): only the header ``X-Afterbeat-Token``,
   compared with :func:`hmac.compare_digest` → else 401. There is no cookie: cookies are not
   port-scoped, so a page on any other local port would receive one.
4. **Writes** (POST, PUT, PATCH, DELETE) on ``/api``: a body must be ``application/json``
   (UTF-8; any other charset → 415) of at most 1 MiB (→ 413), valid JSON without NaN,
   Infinity, numbers beyond the double range, unpaired surrogates or nesting deeper than
   32 (→ 422 naming the field).
5. Every response, refusals included, gets the CSP ``default-src 'self'; script-src 'self';
   object-src 'none'; base-uri 'none'; frame-ancestors 'none'``, ``nosniff``, no referrer, no
   framing; ``/api`` responses and refusals are ``no-store``. No CORS headers are ever sent.
6. An error escaping the app is logged as its type and code location only (never its message,
   which may quote request text) and answered 500.

**Bootstrap** (the token never appears in a URL, a cookie or a log): at launch the server
mints a one-time *launch ticket*, a separate random nonce, and opens the browser on
``/#launch=<ticket>``. The fragment never leaves the browser (no request line, no log, no
``Referer``; a HEAD or GET probe of the link cannot use it up). The page posts the ticket once
to ``POST /api/session`` (``{"ticket": ...}``; no token needed) and receives the token, which
it keeps in ``localStorage`` (scoped to scheme, host *and port*) and sends as
``X-Afterbeat-Token``. The live stream is read with ``fetch()`` so it carries the header too.
``GET /api/session`` says whether the presented token is valid (always 200, so a signed-out
page stays quiet). Non-browser clients read the token from ``server.json`` (0600 in the data
directory); ``afterbeat open`` mints a fresh browser link with ``POST /api/launch``.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import time
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "LOOPBACK_NAMES",
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "SESSION_PATH",
    "TOKEN_HEADER",
    "LaunchTickets",
    "SecurityMiddleware",
    "SecurityPolicy",
    "json_body_problem",
]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_HEADER: Final = "x-afterbeat-token"
SESSION_PATH: Final = "/api/session"
MAX_BODY_BYTES: Final = 1 << 20
MAX_JSON_DEPTH: Final = 32
_MAX_TICKET_BODY_BYTES: Final = 4096
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
    """What the guard allows for one launch: port, token, bind/LAN host, body limit (bytes)."""

    port: int
    token: str = field(repr=False)
    lan_host: str | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    https: bool = False
    bind_host: str = "127.0.0.1"

    @classmethod
    def for_launch(cls, port: int, lan_host: str | None = None, *, https: bool = False,
                   bind_host: str = "127.0.0.1") -> SecurityPolicy:
        """A policy with a fresh per-launch token (``secrets.token_urlsafe(32)``)."""
        return cls(port=port, token=secrets.token_urlsafe(32), lan_host=lan_host, https=https,
                   bind_host=bind_host)

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
        origins = {f"http://{name}:{self.port}" for name in LOOPBACK_NAMES}
        if self.lan_host:
            scheme = "https" if self.https else "http"
            origins.add(f"{scheme}://{self.lan_host.lower()}:{self.port}")
        return frozenset(origins)

    @property
    def base_url(self) -> str:
        """The address people open: the LAN host, ``[::1]`` when bound there, else 127.0.0.1."""
        scheme = "https" if self.https else "http"
        if self.lan_host:
            host = self.lan_host
        elif self.bind_host == "::1":
            host = "[::1]"
        else:
            host = "127.0.0.1"
        return f"{scheme}://{host}:{self.port}"

    def launch_url(self, ticket: str) -> str:
        """The one-time browser link: the ticket rides in the fragment, never sent to a server."""
        return f"{self.base_url}/#launch={ticket}"

    def token_matches(self, candidate: str | None) -> bool:
        """Constant-time comparison of a presented token with this launch's token."""
        if not candidate:
            return False
        return hmac.compare_digest(candidate.encode("utf-8", "replace"), self.token.encode())


class LaunchTickets:
    """One-time browser launch nonces (not the token); each redeems once within ``ttl_s``."""

    def __init__(self, ttl_s: float = 600.0, clock: Callable[[], float] = time.monotonic,
                 max_open: int = 8) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._max_open = max_open
        self._open: dict[str, float] = {}

    def issue(self) -> str:
        """A new ticket for ``/#launch=<ticket>``; the oldest is forgotten beyond ``max_open``."""
        ticket = secrets.token_urlsafe(24)
        self._open[ticket] = self._clock() + self._ttl_s
        while len(self._open) > self._max_open:
            self._open.pop(next(iter(self._open)))
        return ticket

    def redeem(self, candidate: str) -> bool:
        """True once for a valid, unexpired ticket; it is consumed either way."""
        now = self._clock()
        found: str | None = None
        raw = candidate.encode("utf-8", "replace")
        for ticket in list(self._open):
            if hmac.compare_digest(ticket.encode(), raw):
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


def _is_json(content_type: str | None) -> bool:
    """``application/json``, optionally ``; charset=utf-8`` (JSON is UTF-8: RFC 8259 §8.1)."""
    if content_type is None:
        return False
    media, *params = content_type.split(";")
    if media.strip().lower() != "application/json":
        return False
    for param in params:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() != "charset" or value.strip().strip('"').lower() not in (
                "utf-8", "utf8"):
            return False
    return True


def json_body_problem(body: bytes, max_depth: int = MAX_JSON_DEPTH
                      ) -> tuple[list[str | int], str] | None:
    """The first field of a JSON body that no route may receive, with why; None when clean.

    Refused: text that is not UTF-8, NaN/Infinity/±1e999 (not JSON numbers a double holds),
    unpaired surrogates (not Unicode text; they cannot be stored), nesting deeper than
    ``max_depth``, numbers too long to parse. Plain syntax errors are left to the route, which
    answers its own 422 with the position.
    """
    if not body.strip():
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return [], "the body is not UTF-8 text"
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    except RecursionError:
        return [], f"the body is nested more than {max_depth} levels deep"
    except ValueError:
        return [], "the body holds a number too long to read"
    stack: list[tuple[list[str | int], Any]] = [([], value)]
    while stack:
        loc, item = stack.pop()
        if len(loc) > max_depth:
            return loc[:max_depth], f"the body is nested more than {max_depth} levels deep"
        if isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                return loc, "must be a finite number (NaN, Infinity and numbers beyond " \
                    "±1.8e308 are not accepted)"
        elif isinstance(item, str):
            if not _is_unicode(item):
                return loc, "contains an unpaired surrogate (not valid Unicode text)"
        elif isinstance(item, dict):
            for key, child in item.items():
                if not _is_unicode(key):
                    return loc, "a field name contains an unpaired surrogate"
                stack.append(([*loc, key], child))
        elif isinstance(item, list):
            stack.extend(([*loc, index], child) for index, child in enumerate(item))
    return None


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _refusal_headers(extra: list[tuple[bytes, bytes]] | None = None
                     ) -> list[tuple[bytes, bytes]]:
    return [*_SECURITY_HEADERS, (b"cache-control", b"no-store"), *(extra or [])]


async def _send_body(send: Send, status: int, payload: Any,
                     extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), *_refusal_headers(extra)]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_json(send: Send, status: int, detail: str, code: str,
                     extra: list[tuple[bytes, bytes]] | None = None) -> None:
    log.debug("refused a request with %d (%s)", status, code)  # no headers, no query
    await _send_body(send, status, {"detail": detail, "error": code}, extra)


async def _send_field_error(send: Send, loc: list[str | int], message: str) -> None:
    log.debug("refused a request body with 422 (%s)", message)  # the field, never its value
    await _send_body(send, 422, {"detail": [{"loc": ["body", *loc], "msg": message,
                                             "type": "value_error"}], "error": "bad_body"})


def _where(exc: BaseException) -> str:
    """Code locations of an exception (file:line in function), never its message."""
    frames = traceback.extract_tb(exc.__traceback__)[-4:]
    return " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}"
                       for f in reversed(frames))


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
            # afterbeat pushes over SSE only; no WebSocket route exists.
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
        await self._guarded(scope, receive, self._with_headers(send, api=False))

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; an escaping error is logged by type and place only, answered 500."""
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            log.error("internal error %s answering %s %s (at %s)", type(exc).__name__,
                      scope.get("method", "?"), scope.get("path", "?"), _where(exc))
            if not started:
                await _send_json(send, 500, "internal error; the server log has its place",
                                 "internal")

    async def _api(self, scope: Scope, receive: Receive, send: Send,
                   headers: dict[bytes, list[bytes]], method: str) -> None:
        fetch_site = _one(headers, b"sec-fetch-site")
        if fetch_site in ("cross-site", "same-site"):
            await _send_json(send, 403, "cross-site request refused", "cross_site")
            return
        presented = _one(headers, TOKEN_HEADER.encode())
        if scope.get("path") == SESSION_PATH:
            await self._session(receive, send, headers, method, presented)
            return
        if not self.policy.token_matches(presented):
            await _send_json(send, 401, "missing or wrong token", "no_token")
            return
        if method not in _WRITE_METHODS:
            await self._guarded(scope, receive, self._with_headers(send, api=True))
            return
        body = await self._json_body(receive, send, headers, self.policy.max_body_bytes)
        if body is None:
            return
        await self._guarded(scope, _replay(body, receive), self._with_headers(send, api=True))

    async def _json_body(self, receive: Receive, send: Send,
                         headers: dict[bytes, list[bytes]], limit: int) -> bytes | None:
        """The request body when it is acceptable JSON (or empty); else refused and None."""
        content_type = _one(headers, b"content-type")
        length_text = _one(headers, b"content-length")
        declared = int(length_text) if length_text and length_text.isdigit() else None
        if declared is not None and declared > limit:
            await _send_json(send, 413, "request body larger than 1 MiB", "too_large")
            return None
        has_body = bool(declared) or b"transfer-encoding" in headers
        if (has_body or content_type) and not _is_json(content_type):
            await _send_json(send, 415, "send the body as application/json (UTF-8)",
                             "not_json")
            return None
        body = await self._read_body(receive, limit)
        if body is None:
            await _send_json(send, 413, "request body larger than 1 MiB", "too_large")
            return None
        problem = json_body_problem(body)
        if problem is not None:
            await _send_field_error(send, *problem)
            return None
        return body

    async def _session(self, receive: Receive, send: Send, headers: dict[bytes, list[bytes]],
                       method: str, presented: str | None) -> None:
        """``GET``: is the presented token valid? ``POST {"ticket"}``: exchange it once."""
        if method in ("GET", "HEAD"):
            await _send_body(send, 200, {"signed_in": self.policy.token_matches(presented)})
            return
        if method != "POST":
            await _send_json(send, 405, "Method Not Allowed", "method",
                             [(b"allow", b"GET, HEAD, POST")])
            return
        body = await self._json_body(receive, send, headers, _MAX_TICKET_BODY_BYTES)
        if body is None:
            return
        try:
            ticket = json.loads(body or b"{}").get("ticket")
        except (ValueError, AttributeError):
            ticket = None
        if not isinstance(ticket, str) or not 0 < len(ticket) <= 256:
            await _send_field_error(send, ["ticket"], "send the launch ticket as text")
            return
        if not self.tickets.redeem(ticket):
            # 200, not 403: a used or expired link is an ordinary event the page explains.
            await _send_body(send, 200, {"signed_in": False, "reason": "used_or_expired"})
            return
        await _send_body(send, 200, {"signed_in": True, "token": self.policy.token})

    async def _read_body(self, receive: Receive, limit: int) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > limit:
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
    b"set-cookie", *(name for name, _ in _SECURITY_HEADERS)})


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
