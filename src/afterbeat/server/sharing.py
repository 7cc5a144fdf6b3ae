"""What the person may take away: the summary across sessions and the plan file and card.

Nothing here sends anything anywhere: the routes answer the page, which lets the person save or
print the result. Building the summary replays stored sessions (cached reports are reused); the
routes run it in a worker thread, so the live stream never waits for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from afterbeat.resets.plan import Plan
from afterbeat.resets.plan_file import parse_plan_text, plan_changes, plan_to_toml, render_plan_card
from afterbeat.server.models import SummaryIn
from afterbeat.storage.history import session_digests, stored_plan
from afterbeat.storage.store import Store
from afterbeat.summary import (
    build_summary,
    render_summary_html,
)

__all__ = ["make_summary", "plan_card", "plan_file", "plan_preview", "summary_notes"]

def make_summary(store: Store, body: SummaryIn, now: datetime) -> dict[str, Any]:
    """The summary page (self-contained HTML), its first line, a file name and its numbers."""
    digests = list(session_digests(store, now - timedelta(days=body.since_days)))
    chosen: list[tuple[int, float]] | bool = (
        True if body.notes == "all" else [(n.session_id, n.t_s) for n in body.notes])
    summary = build_summary(digests, until=now, since_days=body.since_days,
                            plan=stored_plan(store), include_ratings=body.include_ratings,
                            note_filter=chosen)
    return {"contents": summary.contents(), "html": render_summary_html(summary, made_at=now),
            "filename": f"afterbeat-summary-{now:%Y-%m-%d}.html", "summary": summary.to_json()}


def summary_notes(store: Store, since_days: float, now: datetime) -> list[dict[str, Any]]:
    """The notes written in the period, for the person to tick the ones to include."""
    return [{"session_id": n.session_id, "t_s": n.t_s, "text": n.text,
             "started_at": d.started_at.isoformat()}
            for d in session_digests(store, now - timedelta(days=since_days)) for n in d.notes]


def plan_file(store: Store) -> dict[str, str]:
    """The plan in use as a readable TOML file (name and text)."""
    return {"filename": "afterbeat-plan.toml",
            "text": plan_to_toml(stored_plan(store) or Plan())}


def plan_card(store: Store, now: datetime | None = None) -> dict[str, str]:
    """The plan in use as a one-page printable card (self-contained HTML), dated ``now``."""
    return {"filename": "afterbeat-plan-card.html",
            "html": render_plan_card(stored_plan(store) or Plan(),
                                     made_on=None if now is None else now.date())}


def plan_preview(store: Store, text: str) -> dict[str, Any]:
    """Check a plan file's text and say what it would change; nothing is applied here."""
    new = parse_plan_text(text.encode("utf-8", "surrogatepass"), None)
    return {"plan": new.to_json(), "changes": plan_changes(stored_plan(store) or Plan(), new)}
