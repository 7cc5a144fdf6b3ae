"""The local FastAPI app: JSON API, the live SSE stream, and the static page from ``web/``.

``create_app(settings, source, store)`` builds the app. Its lifespan runs ONE task group whose
single task takes ``source.stream()`` through the recorder (store), the pipeline and the hub
(:class:`afterbeat.ingest.Ingest`). Markers and resets from the API are injected into the same
path, so recordings and replays show them. Everything sits behind
:class:`afterbeat.security.SecurityMiddleware` (Host allow-list, token, Origin, JSON-only
writes, body limit, CSP); see that module for the browser bootstrap.

SSE (``GET /api/live``): ``event:`` is the event type (``metrics``, ``state``, ``suggestion``,
``recovery``, ``marker``, ``baseline``, ``reset_effect`` from the pipeline; ``status``
(connection fields at the top level plus ``recording`` and ``notes``), ``reset``
(started/paced/stopped, with the pacing timeline), ``baseline`` (also when it is reset) and
``dismissed`` from the server),
``id:`` its sequence number, ``data:`` its JSON with ``emitted_at`` (Unix seconds). A
``heartbeat`` event (no id) follows every ``heartbeat_s`` (≤ 15 s) of quiet. Resume with
the ``Last-Event-ID`` header, or ``?last_event_id=0`` on first load to get the kept backlog.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import Body, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.sse import format_sse_event
from fastapi.staticfiles import StaticFiles
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from afterbeat import __version__
from afterbeat.errors import AfterbeatError
from afterbeat.records import MarkerKind
from afterbeat.server.hub import (
    Hub,
    SubscriberDropped,
    Subscription,
    TooManySubscribers,
    encode_data,
)
from afterbeat.server.ingest import EventPipeline, Ingest, LiveStatus
from afterbeat.server.models import (
    BaselineDeletedOut,
    BaselineOut,
    DeletedOut,
    DismissedOut,
    ErrorOut,
    LaunchOut,
    MarkerIn,
    MarkerOut,
    PersonSettings,
    RatingOut,
    ResetPaceIn,
    ResetRateIn,
    ResetStartedOut,
    ResetStartIn,
    ResetStopIn,
    ResetStoppedOut,
    SessionDetailOut,
    SessionOut,
    StatusOut,
    SuggestionDismissIn,
)
from afterbeat.server.resonance import install as install_resonance
from afterbeat.server.security import LaunchTickets, SecurityMiddleware, SecurityPolicy
from afterbeat.server.sharing import install_sharing_routes
from afterbeat.server.state import ServerState, open_pipeline
from afterbeat.sources import Source
from afterbeat.storage.store import Store

__all__ = ["ServerSettings", "create_app", "state_of", "web_dir"]

log = logging.getLogger(__name__)

_SessionId = PathParam(ge=1, le=2**62, description="session number")
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 403: {"model": ErrorOut},
    404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 413: {"model": ErrorOut},
    415: {"model": ErrorOut},
}


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How the server runs: port, bind host, LAN host, demo flag, stream limits (s, counts)."""

    port: int = 8765
    host: str = "127.0.0.1"
    lan_host: str | None = None
    demo: bool = False
    heartbeat_s: float = 10.0
    max_streams: int = 16
    queue_size: int = 256
    ring_size: int = 2048
    web_dir: Path | None = None


def web_dir() -> Path:
    """The page's files: installed ``afterbeat/web``, else the repository's ``web/``."""
    installed = importlib.resources.files("afterbeat") / "web"
    if installed.is_dir():
        return Path(str(installed))
    return Path(__file__).resolve().parents[3] / "web"


def create_app(
    settings: ServerSettings,
    source: Source | None,
    store: Store | None,
    *,
    policy: SecurityPolicy | None = None,
    tickets: LaunchTickets | None = None,
    pipeline: EventPipeline | None = None,
) -> ASGIApp:
    """The whole ASGI app (FastAPI wrapped by the security middleware)."""
    policy = policy or SecurityPolicy.for_launch(settings.port, settings.lan_host)
    tickets = tickets or LaunchTickets()
    hub = Hub(max_subscribers=settings.max_streams, queue_size=settings.queue_size,
              ring_size=settings.ring_size, heartbeat_s=settings.heartbeat_s)
    status = LiveStatus(source=source.name if source is not None else "none")
    state = ServerState(settings=settings, source=source, store=store, hub=hub, status=status)
    state.ingest = Ingest(hub, pipeline or open_pipeline(store, state.notes), None, status,
                          on_finish=state.end_recording, on_event=state.on_event,
                          status_json=state.live_status_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.begin_recording()
        async with asyncio.TaskGroup() as group:
            task = None
            if source is not None:
                task = group.create_task(state.ingest.run(source), name="afterbeat-ingest")
            try:
                yield
            finally:
                hub.close()
                if source is not None:
                    with suppress(Exception):
                        await source.aclose()
                if task is not None:
                    task.cancel()
        state.ingest.finish()  # recovery and final reset effects are kept with the session
        state.end_recording()
        await state.wait_recording_closed()  # the store is closed after the app

    app = FastAPI(
        title="afterbeat",
        version=__version__,
        summary="Local, private heart-rate biofeedback (a wellness tool, not a medical device)",
        docs_url=None, redoc_url=None, lifespan=lifespan,
    )
    app.state.afterbeat = state
    _install_errors(app)
    _routes(app, state)
    install_sharing_routes(app, state._store)
    install_resonance(app, state)
    static = settings.web_dir or web_dir()
    pages = None
    if static.is_dir():  # a small app of its own, so its 404s are answered, not raised
        pages = Starlette(routes=[Mount("/", StaticFiles(directory=static, html=True))])
    state.policy = policy
    state.tickets = tickets
    return SecurityMiddleware(_Split(app, pages), policy, tickets)


class _Split:
    """``/api/*`` and ``/openapi.json`` to the API, every other request to the page's files.

    Not a mount inside FastAPI: a catch-all mount would answer every wrong method on an API
    path with the static files' 405 (``Allow: GET, HEAD``) instead of the route's own.
    """

    def __init__(self, api: FastAPI, pages: ASGIApp | None) -> None:
        self.api = api
        self.pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        is_api = path == "/api" or path.startswith("/api/") or path == "/openapi.json"
        if scope["type"] == "http" and self.pages is not None and not is_api:
            await self.pages(scope, receive, send)
        else:
            await self.api(scope, receive, send)


def state_of(app: ASGIApp) -> ServerState:
    """The :class:`ServerState` of an app made by :func:`create_app` (tests, benchmarks)."""
    assert isinstance(app, SecurityMiddleware) and isinstance(app.app, _Split)
    state: ServerState = app.app.api.state.afterbeat
    return state


def _field_of(exc: AfterbeatError) -> list[str] | None:
    """The request field an error is about, for a 422 shaped like FastAPI's own."""
    from afterbeat.resets.library import PaceOutOfRange, UnknownReset
    from afterbeat.resets.plan import PlanError

    if isinstance(exc, PlanError):
        return [exc.field]
    if isinstance(exc, UnknownReset):
        return ["reset_id"]
    if isinstance(exc, PaceOutOfRange):
        return ["breaths_per_min"]
    return None


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code != 405:
            return await http_exception_handler(request, exc)
        # Starlette's Allow names only the first route of the path; list every method.
        allowed: set[str] = set()
        for route in app.router.routes:
            if isinstance(route, Route) and route.methods and \
                    route.matches(request.scope)[0] is not Match.NONE:
                allowed |= route.methods
        return JSONResponse({"detail": "Method Not Allowed"}, status_code=405,
                            headers={"Allow": ", ".join(sorted(allowed))})

    @app.exception_handler(AfterbeatError)
    async def afterbeat_error(request: Request, exc: AfterbeatError) -> JSONResponse:
        name = type(exc).__name__
        message = str(exc.args[0]) if exc.args else name
        field = _field_of(exc)
        if field is not None:
            return JSONResponse({"detail": [{"loc": ["body", *field], "msg": message,
                                             "type": "value_error"}], "error": name}, 422)
        if isinstance(exc, LookupError):
            status = 404
        elif isinstance(exc, OSError):
            status = 503  # the recording database failed (disk full, read-only, ...)
        elif isinstance(exc, ValueError):
            status = 422
        else:
            status = 409
        return JSONResponse({"detail": message, "error": name}, status_code=status)


async def _subscribe(
    request: Request,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[int | None, Query(ge=0, le=2**53)] = None,
) -> AsyncIterator[Subscription]:
    """Open a hub subscription for one stream (503 when all slots are taken)."""
    state: ServerState = request.app.state.afterbeat
    resume = last_event_id
    if last_event_id_header is not None and last_event_id_header.strip():
        text = last_event_id_header.strip()
        if not text.isdigit() or len(text) > 16:
            raise HTTPException(400, "Last-Event-ID must be an event number")
        resume = int(text)
    try:
        sub = state.hub.subscribe(resume)
    except TooManySubscribers as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from exc
    try:
        yield sub
    finally:
        sub.close()


_SSE_HEADERS: Final = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class LiveStreamResponse(StreamingResponse):
    """``text/event-stream`` frames from :func:`_live_frames`.

    A plain streaming response rather than FastAPI's SSE generator mode: that mode's keep-alive
    task could fail with BrokenResourceError (an "Exception in ASGI application" traceback)
    when a client went away while a frame was being handed over.
    """

    media_type = "text/event-stream"


async def _live_frames(state: ServerState, sub: Subscription) -> AsyncIterator[bytes]:
    """One stream's SSE frames: hello, then events and heartbeats until the server stops.

    When the client leaves, the response cancels this generator while it waits; it closes its
    subscription and ends without an error.
    """
    hub = state.hub
    try:
        yield format_sse_event(event="hello", retry=2000, data_str=encode_data({
            "emitted_at": time.time(), "last_seq": hub.last_seq, "status": state.status_json()}))
        while True:
            event = await sub.get(hub.heartbeat_s)
            if event is None:
                yield format_sse_event(event="heartbeat", data_str=encode_data({
                    "emitted_at": time.time(), "last_seq": hub.last_seq}))
                continue
            yield format_sse_event(data_str=event.data_json, event=event.type,
                                   id=str(event.seq))
    except SubscriberDropped:
        return
    finally:
        sub.close()


def _routes(app: FastAPI, state: ServerState) -> None:
    @app.get("/api/status", response_model=StatusOut, responses=_ERRORS, tags=["status"])
    async def get_status() -> dict[str, Any]:
        """Source, connection, battery, recording, baseline and the running reset."""
        return state.status_json()

    @app.get("/api/live", response_class=LiveStreamResponse, tags=["live"],
             responses={**_ERRORS, 503: {"model": ErrorOut}})
    async def live(
        sub: Annotated[Subscription, Depends(_subscribe)],
    ) -> LiveStreamResponse:
        """Live events as Server-Sent Events (see the module docs for types and resume)."""
        return LiveStreamResponse(_live_frames(state, sub), headers=_SSE_HEADERS)

    @app.post("/api/markers", response_model=MarkerOut, status_code=201, responses=_ERRORS,
              tags=["markers"])
    async def post_marker(marker: MarkerIn) -> dict[str, Any]:
        """Mark baseline/session start or end, moving, a note or a 0-10 rating."""
        record = state.mark(MarkerKind(marker.kind), marker.value, marker.text)
        recorded = await state.recorded()  # acknowledged as recorded only once on disk
        return {"t_s": record.t_s, "kind": marker.kind, "value": marker.value,
                "text": marker.text, "recorded": recorded}

    @app.get("/api/resets", tags=["resets"], responses=_ERRORS)
    async def get_resets() -> list[dict[str, Any]]:
        """The reset library: breathing, movement, sensory, closing ritual."""
        return state.reset_library()

    @app.post("/api/resets/start", tags=["resets"], status_code=201, responses=_ERRORS,
              response_model=ResetStartedOut)
    async def start_reset(body: ResetStartIn) -> dict[str, Any]:
        """Start a reset: recorded as a marker; returns its pacing timeline (Unix seconds)."""
        return state.start_reset(body.reset_id, body.breaths_per_min)

    @app.put("/api/resets/pace", tags=["resets"], responses=_ERRORS,
             response_model=ResetStartedOut)
    async def change_pace(body: ResetPaceIn) -> dict[str, Any]:
        """Change the running resonance reset's pace now; the breath goes on without a jump."""
        return state.change_pace(body.breaths_per_min)

    @app.post("/api/resets/stop", tags=["resets"], responses=_ERRORS,
              response_model=ResetStoppedOut)
    async def stop_reset(body: ResetStopIn) -> dict[str, Any]:
        """Stop the running reset (409 when none runs)."""
        return state.stop_reset(body.finished)

    @app.post("/api/resets/rate", tags=["resets"], status_code=201, responses=_ERRORS,
              response_model=RatingOut)
    async def rate_reset(body: ResetRateIn) -> dict[str, Any]:
        """A 0-10 self-rating before or after a reset, recorded as a rating marker."""
        return state.rate_reset(body.rating, body.when, body.reset_id)

    @app.post("/api/suggestion/dismiss", tags=["resets"], responses=_ERRORS,
              response_model=DismissedOut)
    async def dismiss(body: SuggestionDismissIn) -> dict[str, Any]:
        """"Not now": no new suggestion for a quiet period."""
        return state.dismiss()

    @app.get("/api/sessions", tags=["sessions"], responses=_ERRORS,
             response_model=list[SessionOut])
    async def list_sessions() -> list[dict[str, Any]]:
        """Recorded sessions, newest first."""
        return state.list_sessions()

    @app.get("/api/sessions/{session_id}", tags=["sessions"], responses=_ERRORS,
             response_model=SessionDetailOut)
    async def get_session(session_id: Annotated[int, _SessionId]) -> dict[str, Any]:
        """One session: summary, header and stored results."""
        return state.get_session(session_id)

    @app.get("/api/sessions/{session_id}/export", tags=["sessions"], response_class=Response,
             responses={**_ERRORS, 200: {"description": "the session file",
                                         "content": {"application/x-ndjson": {}}}})
    async def export_session(session_id: Annotated[int, _SessionId]) -> Response:
        """The session as an afterbeat session file (JSON Lines) to download."""
        return await state.export_session(session_id)

    @app.delete("/api/sessions/{session_id}", tags=["sessions"], responses=_ERRORS,
                response_model=DeletedOut)
    async def delete_session(session_id: Annotated[int, _SessionId]) -> dict[str, Any]:
        """Erase a session for real (rows, results; the database file is scrubbed)."""
        return state.delete_session(session_id)

    @app.get("/api/sessions/{session_id}/report", tags=["sessions"], responses=_ERRORS)
    async def session_report(session_id: Annotated[int, _SessionId]) -> dict[str, Any]:
        """Series for the report page: HR and RMSSD per 5 s, markers, recovery, resets."""
        return await state.session_report(session_id)

    @app.get("/api/plan", tags=["person"], responses=_ERRORS)
    async def get_plan() -> dict[str, Any]:
        """The plan made with the therapist (empty plan when none is stored)."""
        return state.get_plan()

    @app.put("/api/plan", tags=["person"], responses=_ERRORS)
    async def put_plan(plan: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        """Replace the plan; a bad field gets a 422 naming it."""
        return state.put_plan(plan)

    @app.get("/api/baseline", tags=["person"], responses=_ERRORS, response_model=BaselineOut)
    async def get_baseline() -> dict[str, Any]:
        """The stored resting baseline with a plain description (provisional under 3 rests)."""
        return state.get_baseline()

    @app.delete("/api/baseline", tags=["person"], responses=_ERRORS,
                response_model=BaselineDeletedOut)
    async def delete_baseline() -> dict[str, Any]:
        """Reset the baseline: it is built again from the next resting recordings."""
        return state.delete_baseline()

    @app.get("/api/settings", response_model=PersonSettings, tags=["person"],
             responses=_ERRORS)
    async def get_settings() -> PersonSettings:
        """Display settings: locale, audio and vibration cues, pace, chart span."""
        return state.get_settings()

    @app.put("/api/settings", response_model=PersonSettings, tags=["person"],
             responses=_ERRORS)
    async def put_settings(body: PersonSettings) -> PersonSettings:
        """Replace the display settings."""
        return state.put_settings(body)

    @app.get("/api/trends", tags=["person"], responses=_ERRORS)
    async def get_trends() -> dict[str, Any]:
        """What has settled you fastest, and how settling and ratings change over sessions."""
        return state.trends()

    @app.get("/api/crisis-lines", tags=["person"], responses=_ERRORS)
    async def crisis_lines(
        locale: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,3})?$")]
        = None,
    ) -> dict[str, Any]:
        """Crisis lines for a locale (each with its source and check date)."""
        return state.crisis_lines(locale)

    @app.post("/api/launch", tags=["status"], status_code=201, responses=_ERRORS,
              response_model=LaunchOut)
    async def launch() -> dict[str, str]:
        """A fresh one-time browser link (for clients holding the token)."""
        assert state.tickets is not None and state.policy is not None
        return {"url": state.policy.launch_url(state.tickets.issue())}

