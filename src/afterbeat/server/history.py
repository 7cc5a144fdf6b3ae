"""Recorded sessions: list, detail, export, erase, the per-session report, and trends.

Every store call runs in a worker thread, so a slow disk never holds up the live stream.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from afterbeat.pipeline import EventPipeline
from afterbeat.resets.trends import trends
from afterbeat.server.errors import NoStore, SessionIsLive
from afterbeat.storage.history import (
    LiveReports,
    session_digests,
    session_report,
    stored_plan,
)
from afterbeat.storage.store import SessionSummary, Store

__all__ = ["History", "summary_json"]

log = logging.getLogger(__name__)

_REPORT_PREFIX = "report_v"
"""Stored results whose key starts so are cached reports (afterbeat.storage.history)."""


def _results(results: dict[str, Any]) -> dict[str, Any]:
    """Stored results without cached reports (of this or an older version)."""
    return {k: v for k, v in results.items() if not k.startswith(_REPORT_PREFIX)}


def _iso(moment: Any) -> str:
    return str(moment.isoformat()).replace("+00:00", "Z")


def summary_json(s: SessionSummary, live_id: int | None) -> dict[str, Any]:
    """One session in the history list (times UTC ISO 8601, length in s)."""
    return {
        "id": s.id,
        "started_at": _iso(s.started_at),
        "ended_at": None if s.ended_at is None else _iso(s.ended_at),
        "duration_s": s.duration_s,
        "status": str(s.status),
        "notifications": s.notification_count,
        "source": s.source,
        "device_name": s.device_name,
        "live": s.id == live_id,
        "problems": list(s.problems),
    }


class History:
    """What the store holds of past (and the live) sessions, read off the event loop."""

    def __init__(self, store: Store | None, live_session_id: Callable[[], int | None],
                 pipeline_factory: Callable[[], EventPipeline],
                 forget_baseline: Callable[[], None]) -> None:
        self._store = store
        self._live_session_id = live_session_id
        self._pipeline_factory = pipeline_factory
        self._forget_baseline = forget_baseline
        """Called when erasing a session erased the baseline built from its rests."""
        self._report_lock = asyncio.Lock()
        self.live_reports = LiveReports()
        """The live session's report, kept up to date (report page and trends of it)."""

    def _required_store(self) -> Store:
        if self._store is None:
            raise NoStore("no recording store in this server")
        return self._store

    async def list_sessions(self) -> list[dict[str, Any]]:
        """Sessions, newest first."""
        store = self._required_store()
        live = self._live_session_id()
        sessions = await asyncio.to_thread(store.list_sessions)
        return [summary_json(s, live) for s in reversed(sessions)]

    async def get_session(self, session_id: int) -> dict[str, Any]:
        """Summary plus stored results."""
        store = self._required_store()
        live = self._live_session_id()

        def read() -> dict[str, Any]:
            out = summary_json(store.get_session(session_id), live)
            out["results"] = _results(store.get_results(session_id))
            return out

        return await asyncio.to_thread(read)

    async def export_session(self, session_id: int) -> str:
        """The session as JSON Lines text (the afterbeat session file)."""
        store = self._required_store()

        def export() -> str:
            store.get_session(session_id)
            buffer = io.StringIO()
            store.export(session_id, buffer)
            return buffer.getvalue()

        return await asyncio.to_thread(export)

    async def delete_session(self, session_id: int) -> dict[str, Any]:
        """Erase a session for real (not the one recording now), and documents derived only
        from it (a baseline built from its rests is dropped from the live pipeline too)."""
        store = self._required_store()
        if session_id == self._live_session_id():
            raise SessionIsLive("this session is being recorded; stop the server first")
        # At most 1 s waiting for another reader, so the answer comes promptly; the store's
        # background thread finishes emptying the log if the reader holds on longer.
        erasure = await asyncio.to_thread(store.erase, session_id, wait_s=1.0)
        self.live_reports.forget(session_id)
        if "baseline" in erasure.documents:  # it held rests of the erased session only
            self._forget_baseline()
        return {"id": session_id, "deleted": True, "wal_emptied": erasure.wal_emptied}

    async def session_report(self, session_id: int) -> dict[str, Any]:
        """Report series of a session, computed by replaying it through the pipeline."""
        store = self._required_store()
        summary = await asyncio.to_thread(store.get_session, session_id)
        async with self._report_lock:  # the same report the shared summary is built from
            report = await asyncio.to_thread(session_report, store, session_id,
                                             self._pipeline_factory, self.live_reports)
        results = await asyncio.to_thread(store.get_results, session_id)
        return {**report, "session": summary_json(summary, self._live_session_id()),
                "results": _results(results)}

    async def trends(self) -> dict[str, Any]:
        """Across-session summary: what settled you fastest, settling and rating trends."""
        return await asyncio.to_thread(self.trends_now, self._required_store())

    def trends_now(self, store: Store) -> dict[str, Any]:
        """:meth:`trends` in the calling thread. From the same per-session reports as the
        summary to share, so the two agree; the live session's kept up to date."""
        since = datetime.min.replace(tzinfo=UTC)
        outcomes = [digest.outcome()
                    for digest in session_digests(store, since, self.live_reports)]
        return trends(outcomes, stored_plan(store)).to_json()
