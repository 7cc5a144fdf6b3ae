"""The HTTP face of the server: routes, the live SSE stream, and errors mapped to status codes.

Every route is a thin call into one service of :class:`~afterbeat.server.state.ServerState`;
this module alone speaks HTTP. The services raise domain errors
(:class:`~afterbeat.errors.AfterbeatError` subclasses) and :func:`status_code_for` maps them
in one place: a refusal of the present state 409, not found 404, a failing database 503, bad
input 422 (naming the field where one is known).

SSE (``GET /api/live``): ``event:`` is the event type (every type is in
:class:`afterbeat.events.EventType`; the JSON Schema of the stream is ``GET
/api/live/schema``), ``id:`` its sequence number, ``data:`` its JSON with ``emitted_at``
(Unix seconds). A ``hello`` frame opens each stream; a ``heartbeat`` (no id) follows every
``heartbeat_s`` (≤ 15 s) of quiet. Resume with the ``Last-Event-ID`` header, or
``?last_event_id=0`` on first load to get the kept backlog.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from fastapi import Body, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.sse import format_sse_event
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from afterbeat.errors import AfterbeatError
from afterbeat.events import HeartbeatEvent, HelloEvent
from afterbeat.records import MarkerKind
from afterbeat.resets.library import PaceOutOfRange, UnknownReset
from afterbeat.resets.plan import PlanError
from afterbeat.server import sharing
from afterbeat.server.errors import ServiceRefused
from afterbeat.server.hub import SubscriberDropped, Subscription, TooManySubscribers, encode_data
from afterbeat.server.live_schema import live_schema
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
    PlanTextIn,
    RatingOut,
    ResetPaceIn,
    ResetRateIn,
    ResetStartedOut,
    ResetStartIn,
    ResetStopIn,
    ResetStoppedOut,
    ResonancePaceIn,
    ResonanceStartIn,
    SessionDetailOut,
    SessionOut,
    StatusOut,
    SuggestionDismissIn,
    SummaryIn,
)
from afterbeat.server.state import ServerState
from afterbeat.summary import DEFAULT_SINCE_DAYS

__all__ = ["install_errors", "install_routes", "status_code_for"]

_SessionId = PathParam(ge=1, le=2**62, description="session number")
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 403: {"model": ErrorOut},
    404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 413: {"model": ErrorOut},
    415: {"model": ErrorOut},
}


def _field_of(exc: AfterbeatError) -> list[str] | None:
    """The request field an error is about, for a 422 shaped like FastAPI's own."""
    if isinstance(exc, PlanError):
        return [exc.field]
    if isinstance(exc, UnknownReset):
        return ["reset_id"]
    if isinstance(exc, PaceOutOfRange):
        return ["breaths_per_min"]
    return None


def status_code_for(exc: AfterbeatError) -> int:
    """The one table from domain errors to HTTP status codes."""
    if _field_of(exc) is not None:
        return 422  # a request field that does not validate (named in the answer)
    if isinstance(exc, ServiceRefused):
        return 409  # a valid request the server's present state refuses
    if isinstance(exc, LookupError):
        return 404
    if isinstance(exc, OSError):
        return 503  # the recording database failed (disk full, read-only, ...)
    if isinstance(exc, ValueError):
        return 422
    return 409


def install_errors(app: FastAPI) -> None:
    """Answer HTTP errors (405 with every allowed method) and domain errors (one table)."""
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
        status = status_code_for(exc)
        if field is not None:
            return JSONResponse({"detail": [{"loc": ["body", *field], "msg": message,
                                             "type": "value_error"}], "error": name}, status)
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
        hello = HelloEvent(last_seq=hub.last_seq, status=await state.status_json(),
                           emitted_at=hub.now())
        yield format_sse_event(event=hello.type, retry=2000,
                               data_str=encode_data(hello.to_json()))
        while True:
            event = await sub.get(hub.heartbeat_s)
            if event is None:
                beat = HeartbeatEvent(last_seq=hub.last_seq, emitted_at=hub.now())
                yield format_sse_event(event=beat.type, data_str=encode_data(beat.to_json()))
                continue
            yield format_sse_event(data_str=event.data_json, event=event.type,
                                   id=str(event.seq))
    except SubscriberDropped:
        return
    finally:
        sub.close()


def install_routes(app: FastAPI, state: ServerState, launch_url: Callable[[], str]) -> None:
    """The JSON API and the live stream, each route a thin call into one service."""
    @app.get("/api/status", response_model=StatusOut, responses=_ERRORS, tags=["status"])
    async def get_status() -> dict[str, Any]:
        """Source, connection, battery, recording, baseline and the running reset."""
        return await state.status_json()

    @app.get("/api/live", response_class=LiveStreamResponse, tags=["live"],
             responses={**_ERRORS, 503: {"model": ErrorOut}})
    async def live(
        sub: Annotated[Subscription, Depends(_subscribe)],
    ) -> LiveStreamResponse:
        """Live events as Server-Sent Events (see the module docs for types and resume)."""
        return LiveStreamResponse(_live_frames(state, sub), headers=_SSE_HEADERS)

    @app.get("/api/live/schema", tags=["live"], responses=_ERRORS)
    async def live_events_schema() -> dict[str, Any]:
        """The JSON Schema of every ``/api/live`` event's data, keyed by event type."""
        return live_schema()

    @app.post("/api/markers", response_model=MarkerOut, status_code=201, responses=_ERRORS,
              tags=["markers"])
    async def post_marker(marker: MarkerIn) -> dict[str, Any]:
        """Mark baseline/session start or end, moving, a note or a 0-10 rating."""
        record = state.marks.mark(MarkerKind(marker.kind), marker.value, marker.text)
        recorded = await state.recorded()  # acknowledged as recorded only once on disk
        return {"t_s": record.t_s, "kind": marker.kind, "value": marker.value,
                "text": marker.text, "recorded": recorded}

    @app.get("/api/resets", tags=["resets"], responses=_ERRORS)
    async def get_resets() -> list[dict[str, Any]]:
        """The reset library: breathing, movement, sensory, closing ritual."""
        return state.resets.library()

    @app.post("/api/resets/start", tags=["resets"], status_code=201, responses=_ERRORS,
              response_model=ResetStartedOut)
    async def start_reset(body: ResetStartIn) -> dict[str, Any]:
        """Start a reset: recorded as a marker; returns its pacing timeline (Unix seconds)."""
        return await state.resets.start(body.reset_id, body.breaths_per_min)

    @app.put("/api/resets/pace", tags=["resets"], responses=_ERRORS,
             response_model=ResetStartedOut)
    async def change_pace(body: ResetPaceIn) -> dict[str, Any]:
        """Change the running resonance reset's pace now; the breath goes on without a jump."""
        return state.resets.change_pace(body.breaths_per_min)

    @app.post("/api/resets/stop", tags=["resets"], responses=_ERRORS,
              response_model=ResetStoppedOut)
    async def stop_reset(body: ResetStopIn) -> dict[str, Any]:
        """Stop the running reset (409 when none runs)."""
        return state.resets.stop(body.finished)

    @app.post("/api/resets/rate", tags=["resets"], status_code=201, responses=_ERRORS,
              response_model=RatingOut)
    async def rate_reset(body: ResetRateIn) -> dict[str, Any]:
        """A 0-10 self-rating before or after a reset, recorded as a rating marker."""
        return state.resets.rate(body.rating, body.when, body.reset_id)

    @app.post("/api/suggestion/dismiss", tags=["resets"], responses=_ERRORS,
              response_model=DismissedOut)
    async def dismiss(body: SuggestionDismissIn) -> dict[str, Any]:
        """"Not now": no new suggestion for a quiet period."""
        return state.resets.dismiss()

    @app.get("/api/sessions", tags=["sessions"], responses=_ERRORS,
             response_model=list[SessionOut])
    async def list_sessions() -> list[dict[str, Any]]:
        """Recorded sessions, newest first."""
        return await state.history.list_sessions()

    @app.get("/api/sessions/{session_id}", tags=["sessions"], responses=_ERRORS,
             response_model=SessionDetailOut)
    async def get_session(session_id: Annotated[int, _SessionId]) -> dict[str, Any]:
        """One session: summary, header and stored results."""
        return await state.history.get_session(session_id)

    @app.get("/api/sessions/{session_id}/export", tags=["sessions"], response_class=Response,
             responses={**_ERRORS, 200: {"description": "the session file",
                                         "content": {"application/x-ndjson": {}}}})
    async def export_session(session_id: Annotated[int, _SessionId]) -> Response:
        """The session as an afterbeat session file (JSON Lines) to download."""
        text = await state.history.export_session(session_id)
        return Response(text, media_type="application/x-ndjson", headers={
            "Content-Disposition":
                f'attachment; filename="afterbeat-session-{session_id}.jsonl"'})

    @app.delete("/api/sessions/{session_id}", tags=["sessions"], responses=_ERRORS,
                response_model=DeletedOut)
    async def delete_session(session_id: Annotated[int, _SessionId]) -> dict[str, Any]:
        """Erase a session for real (rows, results; the database file is scrubbed)."""
        return await state.history.delete_session(session_id)

    @app.get("/api/sessions/{session_id}/report", tags=["sessions"], responses=_ERRORS)
    async def session_report(session_id: Annotated[int, _SessionId]) -> dict[str, Any]:
        """Series for the report page: HR and RMSSD per 5 s, markers, recovery, resets."""
        return await state.history.session_report(session_id)

    @app.get("/api/plan", tags=["person"], responses=_ERRORS)
    async def get_plan() -> dict[str, Any]:
        """The plan made with the therapist (empty plan when none is stored)."""
        return await state.documents.plan()

    @app.put("/api/plan", tags=["person"], responses=_ERRORS)
    async def put_plan(plan: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        """Replace the plan; a bad field gets a 422 naming it."""
        return await state.documents.put_plan(plan)

    @app.get("/api/baseline", tags=["person"], responses=_ERRORS, response_model=BaselineOut)
    async def get_baseline() -> dict[str, Any]:
        """The stored resting baseline with a plain description (provisional under 3 rests)."""
        return await state.documents.baseline()

    @app.delete("/api/baseline", tags=["person"], responses=_ERRORS,
                response_model=BaselineDeletedOut)
    async def delete_baseline() -> dict[str, Any]:
        """Reset the baseline: it is built again from the next resting recordings."""
        return await state.documents.delete_baseline()

    @app.get("/api/settings", response_model=PersonSettings, tags=["person"],
             responses=_ERRORS)
    async def get_settings() -> PersonSettings:
        """Display settings: locale, audio and vibration cues, pace, chart span."""
        return await state.documents.settings()

    @app.put("/api/settings", response_model=PersonSettings, tags=["person"],
             responses=_ERRORS)
    async def put_settings(body: PersonSettings) -> PersonSettings:
        """Replace the display settings."""
        return await state.documents.put_settings(body)

    @app.get("/api/trends", tags=["person"], responses=_ERRORS)
    async def get_trends() -> dict[str, Any]:
        """What has settled you fastest, and how settling and ratings change over sessions."""
        return await state.history.trends()

    @app.get("/api/crisis-lines", tags=["person"], responses=_ERRORS)
    async def crisis_lines(
        locale: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,3})?$")]
        = None,
    ) -> dict[str, Any]:
        """Crisis lines for a locale (each with its source and check date)."""
        return await state.crisis_lines.lines(locale)

    @app.post("/api/launch", tags=["status"], status_code=201, responses=_ERRORS,
              response_model=LaunchOut)
    async def launch() -> dict[str, str]:
        """A fresh one-time browser link (for clients holding the token)."""
        return {"url": launch_url()}

    _sharing_routes(app, state)
    _resonance_routes(app, state)


def _sharing_routes(app: FastAPI, state: ServerState) -> None:
    """The summary to share and the plan file and card (afterbeat.server.sharing)."""
    replaying = asyncio.Lock()  # one summary at a time: it replays recordings (CPU work)

    def now() -> datetime:
        return datetime.fromtimestamp(state.clock(), UTC)

    @app.post("/api/summary", tags=["sharing"], responses=_ERRORS)
    async def make_summary(body: SummaryIn) -> dict[str, Any]:
        """The summary page (self-contained HTML) and its numbers, for the person to save."""
        store = state.required_store()
        async with replaying:
            return await asyncio.to_thread(sharing.make_summary, store, body, now())

    @app.get("/api/summary/notes", tags=["sharing"], responses=_ERRORS)
    async def summary_notes(
        since_days: Annotated[float, Query(gt=0.0, le=3660.0, allow_inf_nan=False)]
        = float(DEFAULT_SINCE_DAYS),
    ) -> list[dict[str, Any]]:
        """The notes written in the period, for the person to tick the ones to include."""
        store = state.required_store()
        async with replaying:
            return await asyncio.to_thread(sharing.summary_notes, store, since_days, now())

    @app.get("/api/plan/file", tags=["person"], responses=_ERRORS)
    async def plan_file() -> dict[str, str]:
        """The plan in use as a readable TOML file (name and text)."""
        return await asyncio.to_thread(sharing.plan_file, state.required_store())

    @app.get("/api/plan/card", tags=["person"], responses=_ERRORS)
    async def plan_card() -> dict[str, str]:
        """The plan in use as a one-page printable card (self-contained HTML)."""
        return await asyncio.to_thread(sharing.plan_card, state.required_store(), now())

    @app.post("/api/plan/preview", tags=["person"], responses=_ERRORS)
    async def plan_preview(body: PlanTextIn) -> dict[str, Any]:
        """Check a plan file and say what it would change; nothing is applied here."""
        return await asyncio.to_thread(sharing.plan_preview, state.required_store(), body.text)


def _resonance_routes(app: FastAPI, state: ServerState) -> None:
    """The guided resonance assessment (afterbeat.server.resonance)."""
    runner = state.resonance

    @app.get("/api/resonance", tags=["resonance"], responses=_ERRORS)
    async def get_resonance() -> dict[str, Any]:
        """The stored assessment result, the running assessment and the default protocol."""
        return runner.overview()

    @app.post("/api/resonance/start", tags=["resonance"], status_code=201, responses=_ERRORS)
    async def start_resonance(body: Annotated[ResonanceStartIn, Body()]) -> dict[str, Any]:
        """Begin a resonance assessment now; answers its blocks with pacing timelines."""
        return runner.start(body)

    @app.post("/api/resonance/stop", tags=["resonance"], responses=_ERRORS)
    async def stop_resonance() -> dict[str, Any]:
        """Stop the running assessment; what was measured is evaluated and kept."""
        return await runner.stop()

    @app.put("/api/resonance/pace", tags=["resonance"], responses=_ERRORS)
    async def put_resonance_pace(body: ResonancePaceIn) -> dict[str, Any]:
        """Make this the breathing reset's default pace (the person's setting)."""
        return runner.set_pace(body.breaths_per_min)

