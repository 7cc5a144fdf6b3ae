"""The person's history from the store: per-session reports and the digests a summary needs.

A report is a recording replayed through a fresh live pipeline built with the person's stored
baseline and plan (:func:`person_pipeline`), exactly as live; finished sessions cache theirs.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from afterbeat.activation.baseline import Baseline
from afterbeat.activation.settings import DEFAULT_SETTINGS
from afterbeat.errors import AfterbeatError
from afterbeat.pipeline import EventPipeline, Pipeline
from afterbeat.report import ReportBuilder, build_report
from afterbeat.resets.plan import Plan, PlanError, plan_from_json
from afterbeat.storage.store import SessionStatus, Store
from afterbeat.summary import SessionDigest, digest_report

__all__ = ["REPORT_KEY", "UNUSABLE_NOTES", "LiveReports", "note_unusable", "person_key",
           "person_pipeline", "session_digests", "session_report", "stored_plan"]

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


def person_key(store: Store) -> str:
    """What a person pipeline is built from (the stored baseline and plan), as one text:
    a report replayed with one key is valid while the key is the same."""
    return json.dumps([store.get_document("baseline"), store.get_document("plan")],
                      sort_keys=True, separators=(",", ":"))


class LiveReports:
    """The report of the session being recorded, kept up to date record by record.

    A report replays the whole session, which takes seconds for a session hours long; the
    session still recording changes with every record, so it cannot be stored like a finished
    one's. This keeps one :class:`~afterbeat.report.ReportBuilder` for it and, on each request,
    pushes only the records added since; it starts over when the session, the pipeline's
    ``key`` (:func:`person_key`: the stored baseline or plan changed) or the pipeline factory
    (compared with ``==``) is another, and after anything raised while updating. When the
    session has ended, its builder gives the final report. Safe to share between threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._session_id: int | None = None
        self._key: str | None = None
        self._factory: Callable[[], EventPipeline] | None = None
        self._seq = 0
        self._builder: ReportBuilder | None = None
        self.records_replayed = 0
        """Records pushed through a pipeline by this cache, all sessions together."""

    def report(self, store: Store, session_id: int, key: str,
               pipeline_factory: Callable[[], EventPipeline], *, final: bool = False
               ) -> dict[str, Any]:
        """The report of ``session_id`` as a full replay would give it now (``final``: the
        session has ended; its report is finished and the builder let go)."""
        with self._lock:
            try:
                builder = self._builder
                if (builder is None or self._session_id != session_id or self._key != key
                        or self._factory != pipeline_factory):
                    header = store.get_session(session_id).header
                    builder = ReportBuilder(header, pipeline_factory())
                    self._session_id, self._key, self._seq = session_id, key, 0
                    self._factory, self._builder = pipeline_factory, builder
                for seq, record in store.iter_numbered(session_id, self._seq):
                    builder.push(record)
                    self._seq = seq
                    self.records_replayed += 1
                if final:
                    self._drop()
                    return builder.report(final=True)
                return builder.report()
            except BaseException:
                # the builder may hold part of a record its sequence number does not count:
                # let it go, so the next request replays from the start
                self._drop()
                raise

    def holds(self, session_id: int) -> bool:
        """True while a builder for ``session_id`` is kept."""
        with self._lock:
            return self._session_id == session_id and self._builder is not None

    def forget(self, session_id: int | None = None) -> None:
        """Let go of the builder (of ``session_id`` only, if given): e.g. it was erased."""
        with self._lock:
            if session_id is None or session_id == self._session_id:
                self._drop()

    def _drop(self) -> None:
        self._session_id = self._key = self._builder = self._factory = None
        self._seq = 0


@dataclass(frozen=True, slots=True)
class _PersonFactory:
    """The person pipeline of one store, equal for the same store (the live cache's key)."""

    store: Store

    def __call__(self) -> Pipeline:
        return person_pipeline(self.store)


def session_report(store: Store, session_id: int,
                   pipeline_factory: Callable[[], EventPipeline] | None = None,
                   live: LiveReports | None = None) -> dict[str, Any]:
    """The report of one session: cached for finished sessions, else replayed now through
    ``pipeline_factory`` (default: the person's pipeline from the store).

    ``live`` keeps the report of the session still recording up to date incrementally (for
    the person pipeline, or a factory that, like it, depends only on the stored baseline and
    plan); without it that session is replayed in full.
    """
    summary = store.get_session(session_id)
    finished = summary.status is not SessionStatus.RECORDING
    if finished:
        cached = store.get_results(session_id).get(REPORT_KEY)
        if isinstance(cached, dict):
            return cached
    factory = pipeline_factory or _PersonFactory(store)
    if live is not None and (not finished or live.holds(session_id)):
        report = live.report(store, session_id, person_key(store), factory, final=finished)
    else:
        header, records = store.iter_records(session_id)
        report = build_report(header, records, factory)
    if finished:
        store.put_result(session_id, REPORT_KEY, report)
    return report


def session_digests(store: Store, since: datetime,
                    live: LiveReports | None = None) -> Iterator[SessionDigest]:
    """Digests of the sessions started at or after ``since`` (UTC), oldest first (``live``:
    see :func:`session_report`)."""
    for summary in sorted(store.list_sessions(), key=lambda s: s.started_at):
        if summary.started_at < since:
            continue
        yield digest_report(summary.id, summary.started_at,
                            session_report(store, summary.id, live=live))
