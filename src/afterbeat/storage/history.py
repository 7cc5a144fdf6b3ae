"""The person's history from the store: per-session reports and the digests a summary needs.

A report is a recording replayed through a fresh live pipeline built with the person's stored
baseline and plan (:func:`person_pipeline`), exactly as live; finished sessions cache theirs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from afterbeat.activation.baseline import Baseline
from afterbeat.activation.settings import DEFAULT_SETTINGS
from afterbeat.errors import AfterbeatError
from afterbeat.pipeline import EventPipeline, Pipeline
from afterbeat.report import build_report
from afterbeat.resets.plan import Plan, PlanError, plan_from_json
from afterbeat.storage.store import SessionStatus, Store
from afterbeat.summary import SessionDigest, digest_report

__all__ = ["REPORT_KEY", "UNUSABLE_NOTES", "note_unusable", "person_pipeline",
           "session_digests", "session_report", "stored_plan"]

log = logging.getLogger(__name__)

REPORT_KEY = "report_v4"
"""Key of the cached report among a session's stored results (v3: reset-effect windows carry
no display score; marker JSON is the marker event's; v4: times to settle are timed at the first
reading of the settled stretch, by one rule for the watch and the resets)."""

UNUSABLE_NOTES = {
    "plan": "Your saved plan could not be applied ({where}), so the usual settings are in use. "
            "Open Settings to look at the plan and save it again.",
    "baseline": "Your saved baseline could not be read, so readings start without it. "
                "Mark a few minutes of seated rest to build it again.",
}


def note_unusable(notes: dict[str, str] | None, what: str, exc: AfterbeatError) -> None:
    """Log that a stored ``baseline`` or ``plan`` cannot be used (its field, never its values)
    and describe it in ``notes`` for the status line."""
    where = exc.field if isinstance(exc, PlanError) else type(exc).__name__
    log.warning("the stored %s cannot be used (%s); starting without it", what, where)
    if notes is not None:
        notes[what] = UNUSABLE_NOTES[what].format(where=where)


def stored_plan(store: Store, notes: dict[str, str] | None = None) -> Plan | None:
    """The person's stored plan, or None when there is none or it no longer validates."""
    doc = store.get_document("plan")
    if not isinstance(doc, dict):
        return None
    try:
        return plan_from_json(doc)
    except AfterbeatError as exc:
        note_unusable(notes, "plan", exc)
        return None


def person_pipeline(store: Store | None, notes: dict[str, str] | None = None) -> Pipeline:
    """A fresh live pipeline with the person's stored baseline and plan.

    A stored document that cannot be used is logged (its field, never its values), left out,
    and described in ``notes`` (keyed ``baseline`` / ``plan``): it never stops anything.
    """
    baseline = plan = None
    if store is not None:
        doc = store.get_document("baseline")
        if isinstance(doc, dict):
            try:
                baseline = Baseline.from_json(doc)
            except AfterbeatError as exc:
                note_unusable(notes, "baseline", exc)
        plan = stored_plan(store, notes)
    if plan is not None:
        try:
            return Pipeline(DEFAULT_SETTINGS, baseline, plan=plan)
        except AfterbeatError as exc:
            note_unusable(notes, "plan", exc)
    return Pipeline(DEFAULT_SETTINGS, baseline)


def session_report(store: Store, session_id: int,
                   pipeline_factory: Callable[[], EventPipeline] | None = None
                   ) -> dict[str, Any]:
    """The report of one session: cached for finished sessions, else replayed now through
    ``pipeline_factory`` (default: the person's pipeline from the store)."""
    summary = store.get_session(session_id)
    finished = summary.status is not SessionStatus.RECORDING
    if finished:
        cached = store.get_results(session_id).get(REPORT_KEY)
        if isinstance(cached, dict):
            return cached
    header, records = store.iter_records(session_id)
    report = build_report(header, records,
                          pipeline_factory or (lambda: person_pipeline(store)))
    if finished:
        store.put_result(session_id, REPORT_KEY, report)
    return report


def session_digests(store: Store, since: datetime) -> Iterator[SessionDigest]:
    """Digests of the sessions started at or after ``since`` (UTC), oldest first."""
    for summary in sorted(store.list_sessions(), key=lambda s: s.started_at):
        if summary.started_at < since:
            continue
        yield digest_report(summary.id, summary.started_at, session_report(store, summary.id))
