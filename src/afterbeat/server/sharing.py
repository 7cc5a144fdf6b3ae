"""What the person may take away: the summary across sessions and the plan file and card.

Nothing here sends anything anywhere: each route answers the page, which lets the person save
or print the result. Building the summary replays stored sessions (cached reports are reused)
in a worker thread, so the live stream never waits for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

from afterbeat.resets.plan import Plan
from afterbeat.resets.plan_file import parse_plan_text, plan_changes, plan_to_toml, render_plan_card
from afterbeat.server.models import WholeNumber
from afterbeat.storage.history import session_digests, stored_plan
from afterbeat.storage.store import Store
from afterbeat.summary import (
    DEFAULT_SINCE_DAYS,
    build_summary,
    render_summary_html,
)

__all__ = ["install_sharing_routes"]

_MAX_PLAN_TEXT = 64 * 1024


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NoteRef(_In):
    """One note the person ticked: its session and time into the recording (s)."""

    session_id: WholeNumber = Field(ge=1, le=2**53)
    t_s: float = Field(ge=0.0, le=1e9, allow_inf_nan=False)


class SummaryIn(_In):
    """What the summary covers: the period (days), ratings, and the notes the person chose."""

    since_days: float = Field(default=float(DEFAULT_SINCE_DAYS), gt=0.0, le=3660.0,
                              allow_inf_nan=False)
    include_ratings: bool = True
    notes: list[NoteRef] | Literal["all"] = Field(default_factory=list, max_length=1000)


class PlanTextIn(_In):
    """A plan file's text, as the person picked or pasted it."""

    text: str = Field(max_length=_MAX_PLAN_TEXT)


def _summary(store: Store, body: SummaryIn, now: datetime) -> dict[str, Any]:
    digests = list(session_digests(store, now - timedelta(days=body.since_days)))
    chosen: list[tuple[int, float]] | bool = (
        True if body.notes == "all" else [(n.session_id, n.t_s) for n in body.notes])
    summary = build_summary(digests, until=now, since_days=body.since_days,
                            plan=stored_plan(store), include_ratings=body.include_ratings,
                            note_filter=chosen)
    return {"contents": summary.contents(), "html": render_summary_html(summary, made_at=now),
            "filename": f"afterbeat-summary-{now:%Y-%m-%d}.html", "summary": summary.to_json()}


def _notes(store: Store, since_days: float, now: datetime) -> list[dict[str, Any]]:
    return [{"session_id": n.session_id, "t_s": n.t_s, "text": n.text,
             "started_at": d.started_at.isoformat()}
            for d in session_digests(store, now - timedelta(days=since_days)) for n in d.notes]


def install_sharing_routes(app: FastAPI, store_of: Callable[[], Store],
                           clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
    """Add the summary and plan-file routes; ``store_of`` raises when nothing is stored."""
    lock = asyncio.Lock()  # one replay at a time: reports are CPU work

    @app.post("/api/summary", tags=["sharing"])
    async def make_summary(body: SummaryIn) -> dict[str, Any]:
        """The summary page (self-contained HTML) and its numbers, for the person to save."""
        store = store_of()
        async with lock:
            return await asyncio.to_thread(_summary, store, body, clock())

    @app.get("/api/summary/notes", tags=["sharing"])
    async def summary_notes(since_days: Annotated[float, Query(gt=0.0, le=3660.0,
                                                               allow_inf_nan=False)]
                            = float(DEFAULT_SINCE_DAYS)) -> list[dict[str, Any]]:
        """The notes written in the period, for the person to tick the ones to include."""
        store = store_of()
        async with lock:
            return await asyncio.to_thread(_notes, store, since_days, clock())

    @app.get("/api/plan/file", tags=["person"])
    async def plan_file() -> dict[str, str]:
        """The plan in use as a readable TOML file (name and text)."""
        plan = stored_plan(store_of()) or Plan()
        return {"filename": "afterbeat-plan.toml", "text": plan_to_toml(plan)}

    @app.get("/api/plan/card", tags=["person"])
    async def plan_card() -> dict[str, str]:
        """The plan in use as a one-page printable card (self-contained HTML)."""
        plan = stored_plan(store_of()) or Plan()
        return {"filename": "afterbeat-plan-card.html", "html": render_plan_card(plan)}

    @app.post("/api/plan/preview", tags=["person"])
    async def plan_preview(body: PlanTextIn) -> dict[str, Any]:
        """Check a plan file and say what it would change; nothing is applied here."""
        new = parse_plan_text(body.text.encode("utf-8", "surrogatepass"), "the plan file")
        old = stored_plan(store_of()) or Plan()
        return {"plan": new.to_json(), "changes": plan_changes(old, new)}
