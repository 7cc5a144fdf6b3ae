"""The local FastAPI app: JSON API, the live SSE stream, and the static page from ``web/``.

``create_app(settings, source, store)`` builds the app. Its lifespan runs ONE task group whose
single task takes ``source.stream()`` through the recorder (store), the pipeline and the hub
(:class:`afterbeat.server.ingest.Ingest`). Markers and resets from the API are injected into
the same path, so recordings and replays show them. The routes and the live stream are in
:mod:`afterbeat.server.routes`, the services they call in :mod:`afterbeat.server.state`.
Everything sits behind :class:`afterbeat.server.security.SecurityMiddleware` (Host allow-list,
token, Origin, JSON-only writes, body limit, CSP); see that module for the browser bootstrap.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from afterbeat import __version__
from afterbeat.pipeline import EventPipeline
from afterbeat.server.ingest import IngestObserver
from afterbeat.server.routes import install_errors, install_routes
from afterbeat.server.security import LaunchTickets, SecurityMiddleware, SecurityPolicy
from afterbeat.server.settings import ServerSettings
from afterbeat.server.state import ServerState
from afterbeat.sources import Source
from afterbeat.storage.store import Store

__all__ = ["ServerSettings", "create_app", "state_of", "web_dir"]

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
    clock: Callable[[], float] = time.time,
    observers: Sequence[IngestObserver] = (),
) -> ASGIApp:
    """The whole ASGI app (FastAPI wrapped by the security middleware).

    ``clock`` gives Unix seconds: the pacer's timelines and the live events' ``emitted_at``.
    ``observers`` are told of every record and its events (e.g. the Lab Streaming Layer).
    """
    policy = policy or SecurityPolicy.for_launch(settings.port, settings.lan_host)
    tickets = tickets or LaunchTickets()
    state = ServerState(settings, source, store, pipeline=pipeline, clock=clock,
                        observers=observers)
    hub = state.hub

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
                await state.resonance.close()  # keeps what a running assessment measured
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

    def launch_url() -> str:
        return policy.launch_url(tickets.issue())

    install_errors(app)
    install_routes(app, state, launch_url)
    static = settings.web_dir or web_dir()
    pages = None
    if static.is_dir():  # a small app of its own, so its 404s are answered, not raised
        pages = Starlette(routes=[Mount("/", StaticFiles(directory=static, html=True))])
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


