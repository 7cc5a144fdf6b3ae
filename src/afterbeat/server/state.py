"""What one running server holds and does: recording, resets, sessions, person documents.

The route functions in :mod:`afterbeat.server.app` are thin; the work happens here so each piece
can be read in one place. Only this module and the server touch the store from the web side.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException
from fastapi.responses import Response

from afterbeat import __version__
from afterbeat.errors import AfterbeatError
from afterbeat.records import Marker, MarkerKind, Record
from afterbeat.server.hub import Hub
from afterbeat.server.ingest import EventPipeline, Ingest, LiveStatus
from afterbeat.server.models import PersonSettings
from afterbeat.sources import Source
from afterbeat.storage.recorder import QueuedRecorder
from afterbeat.storage.store import SessionStatus, SessionSummary, Store

if TYPE_CHECKING:
    from afterbeat.resets.pacing import Timeline
    from afterbeat.server.app import ServerSettings
    from afterbeat.server.security import LaunchTickets, SecurityPolicy

__all__ = ["ServerState", "open_pipeline"]

log = logging.getLogger(__name__)

REPORT_KEY = "report_v1"


def open_pipeline(store: Store | None, notes: dict[str, str] | None = None) -> EventPipeline:
    """A fresh live pipeline with the person's stored baseline and plan.

    A stored document that cannot be used is logged (its field, never its values), left out,
    and described in ``notes`` (keyed ``baseline`` / ``plan``) for the status line: a bad
    document never stops the server from starting.
    """
    from afterbeat.activation.baseline import Baseline
    from afterbeat.activation.settings import DEFAULT_SETTINGS
    from afterbeat.pipeline import Pipeline
    from afterbeat.resets.plan import plan_from_json

    baseline = plan = None
    if store is not None:
        doc = store.get_document("baseline")
        if isinstance(doc, dict):
            try:
                baseline = Baseline.from_json(doc)
            except AfterbeatError as exc:
                _unusable(notes, "baseline", exc)
        doc = store.get_document("plan")
        if isinstance(doc, dict):
            try:
                plan = plan_from_json(doc)
            except AfterbeatError as exc:
                _unusable(notes, "plan", exc)
    if plan is not None:
        try:
            return Pipeline(DEFAULT_SETTINGS, baseline, plan=plan)
        except AfterbeatError as exc:
            _unusable(notes, "plan", exc)
    return Pipeline(DEFAULT_SETTINGS, baseline)


_UNUSABLE_NOTES = {
    "plan": "Your saved plan could not be applied ({where}), so the usual settings are in use. "
            "Open Settings to look at the plan and save it again.",
    "baseline": "Your saved baseline could not be read, so readings start without it. "
                "Mark a few minutes of seated rest to build it again.",
}


def _unusable(notes: dict[str, str] | None, what: str, exc: AfterbeatError) -> None:
    where = getattr(exc, "field", None) or type(exc).__name__
    log.warning("the stored %s cannot be used (%s); starting without it", what, where)
    if notes is not None:
        notes[what] = _UNUSABLE_NOTES[what].format(where=where)


def _summary_json(s: SessionSummary, live_id: int | None) -> dict[str, Any]:
    return {
        "id": s.id,
        "started_at": s.started_at.isoformat().replace("+00:00", "Z"),
        "ended_at": None if s.ended_at is None else s.ended_at.isoformat().replace("+00:00",
                                                                                     "Z"),
        "duration_s": s.duration_s,
        "status": str(s.status),
        "notifications": s.notification_count,
        "source": s.source,
        "device_name": s.device_name,
        "live": s.id == live_id,
    }


@dataclass(slots=True)
class ServerState:
    """The server's parts and the little state the API keeps (the running reset)."""

    settings: ServerSettings
    source: Source | None
    store: Store | None
    hub: Hub
    status: LiveStatus
    ingest: Ingest = field(init=False)
    recorder: QueuedRecorder | None = None
    policy: SecurityPolicy | None = None
    tickets: LaunchTickets | None = None
    reset: dict[str, Any] | None = None
    reset_timeline: Timeline | None = None
    """The running reset's pacing timeline (Unix seconds), for pace changes."""
    notes: dict[str, str] = field(default_factory=dict)
    """Things the person should know about this start (a stored plan that was left out)."""
    _effects: dict[int, dict[str, Any]] = field(default_factory=dict)
    _report_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    # -- recording ---------------------------------------------------------------------------

    def begin_recording(self) -> None:
        """Start recording the source's session into the store (if both exist)."""
        if self.store is None or self.source is None or self.recorder is not None:
            return
        loop = asyncio.get_running_loop()

        def changed() -> None:  # on the recorder's writer thread
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self.ingest.publish_status)

        # The loop only queues records; the recorder's own thread commits them.
        self.recorder = QueuedRecorder(self.store, self.source.header, self.source.name,
                                       on_change=changed)
        self.recorder.start()
        self.ingest.sink = self
        plan = getattr(self.ingest.pipeline, "plan", None)
        if plan is not None:
            # The plan in effect from the start goes into the recording, so replays use it too.
            self.mark(MarkerKind.PLAN, text=json.dumps(plan.to_json(), separators=(",", ":")))

    def record(self, record: Record) -> bool:
        """Queue one item for the recorder (live clients hear when writes start or stop failing)."""
        assert self.recorder is not None
        return self.recorder.record(record)

    async def recorded(self, timeout_s: float = 5.0) -> bool:
        """Wait (off the loop) until what was queued so far is on disk; False if not yet."""
        if self.recorder is None or not self.recording_active:
            return False
        ticket = self.recorder.last_ticket
        return await asyncio.to_thread(self.recorder.wait_written, ticket, timeout_s)

    async def wait_recording_closed(self) -> None:
        """After ``end_recording``: wait (off the loop) until the recorder has ended."""
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.wait_closed)

    def live_status_json(self) -> dict[str, Any]:
        """A ``status`` event: the connection fields at the top level, ``recording``, ``notes``."""
        return {**self.status.to_json(), "recording": self.recording_json(),
                "notes": list(self.notes.values())}

    def recording_json(self) -> dict[str, Any]:
        """Recording status: active, session id, failing, unrecorded count, last error."""
        recording: dict[str, Any] = {"active": self.recording_active}
        if self.recorder is not None:
            st = self.recorder.status
            recording.update(session_id=st.session_id, failing=st.failing,
                             unrecorded=st.unrecorded, error=st.last_error)
        return recording

    def end_recording(self) -> None:
        """Close the recording: the session becomes complete (idempotent)."""
        if self.recorder is None:
            return
        self.ingest.sink = None
        self.recorder.close(end_t_s=self.status.last_t_s)  # the writer thread finishes it

    @property
    def recording_active(self) -> bool:
        """True while records go to disk."""
        return self.ingest.sink is not None and self.recorder is not None

    @property
    def live_session_id(self) -> int | None:
        """The session being recorded now, if any."""
        return self.recorder.session_id if self.recording_active and self.recorder else None

    def now_s(self) -> float:
        """The session clock (s) for markers made now."""
        if self.source is not None:
            return round(self.source.now_s(), 6)
        return self.status.last_t_s or 0.0

    def base_url(self) -> str:
        """Where the page is served (loopback unless --lan)."""
        host = self.settings.lan_host or "127.0.0.1"
        scheme = "https" if self.policy is not None and self.policy.https else "http"
        return f"{scheme}://{host}:{self.settings.port}"

    # -- status ----------------------------------------------------------------------------

    def status_json(self) -> dict[str, Any]:
        """The body of ``/api/status``."""
        recording = self.recording_json()
        return {
            "version": __version__,
            "demo": self.settings.demo,
            "source": self.status.source,
            "connection": self.status.to_json(),
            "battery_pct": self.status.battery_pct,
            "recording": recording,
            "baseline": self._baseline_summary(),
            "reset": self.reset,
            "live": {"streams": self.hub.subscriber_count, "last_seq": self.hub.last_seq,
                     "dropped_clients": self.hub.dropped_count},
            "lan": self.settings.lan_host is not None,
            "notes": list(self.notes.values()),
        }

    def _baseline_summary(self) -> dict[str, Any] | None:
        from afterbeat.activation.settings import DEFAULT_SETTINGS

        doc = self.document("baseline")
        if not isinstance(doc, dict):
            return None
        keys = ("heart_rate_bpm", "heart_rate_spread_bpm", "ln_rmssd", "ln_rmssd_spread",
                "rmssd_ms", "provisional", "recording_count")
        return {**{k: doc.get(k) for k in keys},
                "recordings_needed": DEFAULT_SETTINGS.baseline_recordings_needed}

    def get_baseline(self) -> dict[str, Any]:
        """The stored baseline document with a plain description (``baseline`` None if none)."""
        from afterbeat.activation.baseline import Baseline
        from afterbeat.activation.settings import DEFAULT_SETTINGS

        needed = DEFAULT_SETTINGS.baseline_recordings_needed
        doc = self.document("baseline")
        out: dict[str, Any] = {"baseline": None, "provisional": None, "recording_count": 0,
                               "recordings_needed": needed}
        if not isinstance(doc, dict):
            out["description"] = (
                "No resting baseline yet. Mark a few minutes of seated rest, away from "
                f"sessions, with Baseline start and Baseline end; after {needed} rests it "
                "is settled.")
            return out
        out["baseline"] = doc
        try:
            baseline = Baseline.from_json(doc)
        except AfterbeatError:
            out["description"] = ("The stored baseline could not be read. Reset it and mark "
                                  "a few minutes of seated rest to build it again.")
            return out
        out.update(provisional=baseline.provisional, recording_count=len(baseline.recordings),
                   description=baseline.describe())
        return out

    def delete_baseline(self) -> dict[str, Any]:
        """Forget the baseline: stored document and the running pipeline's (rests start over)."""
        store = self._store()
        existed = store.get_document("baseline") is not None
        store.delete_document("baseline")
        pipeline = self.ingest.pipeline
        if getattr(pipeline, "baseline", None) is not None:
            pipeline.baseline = None  # type: ignore[attr-defined]
        self.notes.pop("baseline", None)
        self.hub.publish("baseline", {"type": "baseline", "t_s": self.now_s(), "ok": True,
                                      "reset": True, "baseline": None,
                                      "reason": "The baseline was reset; rests start over."})
        return {"deleted": existed}

    # -- markers and resets ------------------------------------------------------------------

    def mark(self, kind: MarkerKind, value: float | None = None, text: str | None = None
             ) -> Marker:
        """Make a marker now and send it down the live path (recording + pipeline + hub)."""
        marker = Marker(t_s=self.now_s(), kind=kind, value=value, text=text)
        self.ingest.inject(marker)
        return marker

    def reset_library(self) -> list[dict[str, Any]]:
        """The reset library as JSON."""
        from afterbeat.resets.library import library_json

        return library_json()

    def start_reset(self, reset_id: str, breaths_per_min: float | None) -> dict[str, Any]:
        """Begin a reset now; the pacer's timeline runs on Unix time (real time, any speed)."""
        from afterbeat.resets.library import get_reset, timeline_for

        reset = get_reset(reset_id)
        if breaths_per_min is None and reset.adjustable_pace:
            breaths_per_min = self._preferred_pace()
        timeline = timeline_for(reset_id, time.time(), breaths_per_min=breaths_per_min)
        if self.reset is not None:
            self.stop_reset(False)
        pace = breaths_per_min if breaths_per_min is not None else (
            reset.pattern.breaths_per_min if reset.pattern is not None else None)
        # the pacer's rate rides on the marker so the pipeline (live and in replays) knows it
        marker = self.mark(MarkerKind.RESET_START, text=reset_id,
                           value=pace if str(reset.kind) == "breathing" else None)
        self.reset_timeline = timeline
        self.reset = {"reset_id": reset_id, "t_s": marker.t_s, "reset": reset.to_json(),
                      "timeline": timeline.to_json(unix_offset_s=0.0)}
        self.hub.publish("reset", {"type": "reset", "action": "started", **self.reset})
        return self.reset

    def change_pace(self, breaths_per_min: float) -> dict[str, Any]:
        """A new pace for the running resonance reset from now on, continuing the breath."""
        from afterbeat.resets.library import get_reset, resonance_pattern
        from afterbeat.resets.pacing import change_pattern

        if self.reset is None or self.reset_timeline is None:
            raise HTTPException(409, "no reset is running")
        reset_id = str(self.reset["reset_id"])
        if not get_reset(reset_id).adjustable_pace:  # a valid request the running reset refuses
            raise HTTPException(409, f"the running reset ({reset_id}) keeps its own pace; "
                                "only resonance breathing can change pace")
        timeline = change_pattern(self.reset_timeline, resonance_pattern(breaths_per_min),
                                  time.time())
        self.reset_timeline = timeline
        self.reset = {**self.reset, "timeline": timeline.to_json(unix_offset_s=0.0)}
        self.hub.publish("reset", {"type": "reset", "action": "paced",
                                   "breaths_per_min": breaths_per_min, **self.reset})
        return self.reset

    def _preferred_pace(self) -> float | None:
        plan = self.document("plan")
        pace = plan.get("breaths_per_min") if isinstance(plan, dict) else None
        if isinstance(pace, int | float):
            return float(pace)
        settings = self.document("settings")
        pace = settings.get("breaths_per_min") if isinstance(settings, dict) else None
        return float(pace) if isinstance(pace, int | float) else None

    def stop_reset(self, finished: bool) -> dict[str, Any]:
        """End the running reset (409 if none)."""
        if self.reset is None:
            raise HTTPException(409, "no reset is running")
        running = self.reset
        self.reset = None
        self.reset_timeline = None
        marker = self.mark(MarkerKind.RESET_END, text=str(running["reset_id"]))
        out = {"reset_id": running["reset_id"], "t_s": marker.t_s, "finished": finished,
               "duration_s": round(marker.t_s - float(running["t_s"]), 3)}
        self.hub.publish("reset", {"type": "reset", "action": "stopped", **out})
        return out

    def rate_reset(self, rating: int, when: str, reset_id: str | None) -> dict[str, Any]:
        """Record a 0-10 self-rating before or after a reset."""
        if reset_id is None and self.reset is not None:
            reset_id = str(self.reset["reset_id"])
        marker = self.mark(MarkerKind.RATING, value=float(rating), text=when)
        return {"t_s": marker.t_s, "rating": rating, "when": when, "reset_id": reset_id}

    def dismiss(self) -> dict[str, Any]:
        """"Not now": a recorded marker, so the pipeline (live and in replays) starts a quiet
        period with no new suggestion soon."""
        t_s = self.mark(MarkerKind.DISMISS).t_s
        self.hub.publish("dismissed", {"type": "dismissed", "t_s": t_s})
        return {"t_s": t_s, "dismissed": True}

    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        """Keep what the pipeline learns: the baseline document, recovery, reset effects."""
        if self.store is None:
            return
        # While recording, these writes queue behind the session's records (off the loop).
        recorder = self.recorder if self.recording_active else None
        try:
            if kind == "baseline" and data.get("ok") and isinstance(data.get("baseline"), dict):
                if recorder is not None:  # the rest came from this session
                    recorder.put_document("baseline", data["baseline"], derived=True)
                else:
                    self.store.put_document("baseline", data["baseline"])
            if recorder is None:
                return
            if kind == "recovery":
                recorder.put_result("recovery", data)
            elif kind == "reset_effect":
                self._effects[int(data.get("number", 0))] = data
                recorder.put_result("reset_effects", list(self._effects.values()))
        except (AfterbeatError, ValueError, TypeError) as exc:
            log.warning("could not keep a %s result: %s", kind, exc)

    # -- sessions --------------------------------------------------------------------------

    def _store(self) -> Store:
        if self.store is None:
            raise HTTPException(409, "no recording store in this server")
        return self.store

    def list_sessions(self) -> list[dict[str, Any]]:
        """Sessions, newest first."""
        live = self.live_session_id
        return [_summary_json(s, live) for s in reversed(self._store().list_sessions())]

    def get_session(self, session_id: int) -> dict[str, Any]:
        """Summary plus stored results."""
        store = self._store()
        out = _summary_json(store.get_session(session_id), self.live_session_id)
        out["results"] = {k: v for k, v in store.get_results(session_id).items()
                          if k != REPORT_KEY}
        return out

    async def export_session(self, session_id: int) -> Response:
        """The session as JSON Lines to download (written in a worker thread)."""
        store = self._store()
        store.get_session(session_id)
        buffer = io.StringIO()
        await asyncio.to_thread(store.export, session_id, buffer)
        return Response(buffer.getvalue(), media_type="application/x-ndjson", headers={
            "Content-Disposition": f'attachment; filename="afterbeat-session-{session_id}.jsonl"'})

    def delete_session(self, session_id: int) -> dict[str, Any]:
        """Erase a session for real (not the one recording now)."""
        store = self._store()
        if session_id == self.live_session_id:
            raise HTTPException(409, "this session is being recorded; stop the server first")
        # Waits at most 1 s for another reader here (this runs on the loop); the store's
        # background thread finishes emptying the log if the reader holds on longer.
        erasure = store.erase(session_id, wait_s=1.0)
        if "baseline" in erasure.documents:  # it held rests of the erased session only
            pipeline = self.ingest.pipeline
            if getattr(pipeline, "baseline", None) is not None:
                pipeline.baseline = None  # type: ignore[attr-defined]
        return {"id": session_id, "deleted": True, "wal_emptied": erasure.wal_emptied}

    async def session_report(self, session_id: int) -> dict[str, Any]:
        """Report series of a session, computed by replaying it through the pipeline."""
        from afterbeat.report import build_report

        store = self._store()
        summary = store.get_session(session_id)
        if summary.status is not SessionStatus.RECORDING:
            cached = store.get_results(session_id).get(REPORT_KEY)
            if isinstance(cached, dict):
                return cached
        async with self._report_lock:
            header, records = store.iter_records(session_id)
            report = await asyncio.to_thread(build_report, header, records,
                                             lambda: open_pipeline(store))
        report["session"] = _summary_json(summary, self.live_session_id)
        report["results"] = {k: v for k, v in store.get_results(session_id).items()
                             if k != REPORT_KEY}
        if summary.status is not SessionStatus.RECORDING:
            store.put_result(session_id, REPORT_KEY, report)
        return report

    # -- person documents ----------------------------------------------------------------

    def document(self, key: str) -> Any:
        """A stored person document or None."""
        return None if self.store is None else self.store.get_document(key)

    def get_plan(self) -> dict[str, Any]:
        """The stored plan (validated) or an empty one."""
        from afterbeat.resets.plan import Plan, plan_from_json

        doc = self.document("plan")
        plan = Plan()
        if isinstance(doc, dict):
            try:
                plan = plan_from_json(doc)
            except AfterbeatError as exc:  # the page shows an empty plan to save again
                _unusable(self.notes, "plan", exc)
        return plan.to_json()

    def put_plan(self, body: dict[str, Any]) -> dict[str, Any]:
        """Validate and store the plan; the running pipeline uses it from now on (no restart).

        Validation checks the thresholds against the default settings, which the live pipeline
        is built on, so the plan marker that carries the plan down the live path applies.
        """
        from afterbeat.resets.plan import plan_from_json

        plan = plan_from_json(body).to_json()
        store = self._store()
        store.put_document("plan", plan)
        # A recorded marker: the pipeline applies it, and a replay changes plan at the same time.
        self.mark(MarkerKind.PLAN, text=json.dumps(plan, separators=(",", ":")))
        if self.notes.pop("plan", None) is not None:
            self.ingest.publish_status()  # the page drops its note
        return plan

    def get_settings(self) -> PersonSettings:
        """The stored display settings, defaults filled in."""
        doc = self.document("settings")
        if isinstance(doc, dict):
            try:
                return PersonSettings.model_validate(doc)
            except ValueError:
                log.warning("stored settings no longer validate; using defaults")
        return PersonSettings()

    def put_settings(self, body: PersonSettings) -> PersonSettings:
        """Store the display settings."""
        self._store().put_document("settings", body.model_dump())
        return body

    def trends(self) -> dict[str, Any]:
        """Across-session summary: what settled you fastest, settling and rating trends."""
        from afterbeat.resets.effects import ResetEffect
        from afterbeat.resets.plan import plan_from_json
        from afterbeat.resets.trends import SessionOutcome, trends

        store = self._store()
        outcomes = []
        for summary in store.list_sessions():
            results = store.get_results(summary.id)
            recovery = results.get("recovery")
            settle = recovery.get("time_to_settle_s") if isinstance(recovery, dict) else None
            effects = []
            for item in results.get("reset_effects") or []:
                try:
                    effects.append(ResetEffect.from_json(item))
                except (KeyError, TypeError, ValueError):
                    log.warning("skipped a stored reset effect that no longer parses")
            outcomes.append(SessionOutcome(
                session_id=summary.id, started_at=summary.started_at.isoformat(),
                time_to_settle_s=float(settle) if isinstance(settle, int | float) else None,
                effects=tuple(effects)))
        doc = self.document("plan")
        plan = None
        if isinstance(doc, dict):
            with contextlib.suppress(AfterbeatError):
                plan = plan_from_json(doc)
        return trends(outcomes, plan).to_json()

    def crisis_lines(self, locale: str | None) -> dict[str, Any]:
        """Crisis lines for ``locale`` (default: plan, then settings locale)."""
        from afterbeat.resets.crisis_lines import lines_for_locale

        if locale is None:
            plan = self.document("plan")
            value = plan.get("locale") if isinstance(plan, dict) else None
            locale = value if isinstance(value, str) else None
        if locale is None:
            locale = self.get_settings().locale
        return lines_for_locale(locale).to_json()
