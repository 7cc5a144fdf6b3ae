"""THE one code path from records to events, shared by the live server and ``afterbeat replay``.

Pure and synchronous: ``Pipeline.push(record) -> list[Event]`` and ``finish() -> list[Event]``;
time comes only from the records' ``t_s`` (session seconds), so a replay at any speed gives
the same events as the live session did. The stages, in order::

    Notification -> decode_measurement (malformed: counted in ``stats``, skipped)
      -> BeatTimeline (gaps start new segments) -> ArtifactFilter (3 beats of lookahead)
      -> LiveMetricsTracker (HR 60 s, RMSSD 120 s, respiration, ...; HR-only without RR)
    every 5 s of session time:
      -> ArousalScorer (index A vs the baseline, guards) -> AfterSessionWatch (states)
      -> choose_reset (suggestion) ; EffectTracker (reset effects) ; RestCollector (baseline)
    Marker -> echoed; baseline_start/end collect a resting recording into the baseline (never
      during a session or within the watch span after one: post-session data stays out);
      session_start/end drive the watch; reset_start/end (text = reset id) pause scoring for
      movement resets, drop the RMSSD term for breathing ones, and feed the choice and effects;
      moving_start/end pause scoring.
    Disconnect -> a new beat segment, state unknown; Reconnect / DeviceEvent -> contact loss
      breaks the segment, the rest is for the server's status line.
    finish() -> recovery metrics of the last session end, final reset effects.

The event JSON shapes are documented in :mod:`afterbeat.events`.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from afterbeat.activation.arousal import ArousalReading, ArousalScorer, Quality
from afterbeat.activation.baseline import Baseline, BaselineError, RestCollector, RestRecording
from afterbeat.activation.display import compare, display, signal_of
from afterbeat.activation.recovery import RecoverySample, recovery_metrics
from afterbeat.activation.settings import DEFAULT_SETTINGS, Settings
from afterbeat.activation.watch import AfterSessionWatch, StateChange, Suggestion, WatchEvent
from afterbeat.errors import AfterbeatError, MalformedMeasurement
from afterbeat.events import (
    BaselineEvent,
    Event,
    MarkerEvent,
    MetricsEvent,
    RecoveryEvent,
    ResetEffectEvent,
    StateEvent,
    SuggestionEvent,
)
from afterbeat.heart_rate import SensorContact, decode_measurement
from afterbeat.hrv.artifacts import ArtifactFilter, CleanBeat
from afterbeat.hrv.beats import BeatTimeline
from afterbeat.hrv.live import LiveMetrics, LiveMetricsTracker
from afterbeat.records import (
    DeviceEvent,
    DeviceEventKind,
    Disconnect,
    Marker,
    MarkerKind,
    Notification,
    Reconnect,
    Record,
)
from afterbeat.resets.choice import ChoiceContext, ResetSuggestion, choose_reset
from afterbeat.resets.effects import EffectTracker, MetricsSample
from afterbeat.resets.library import ResetKind, UnknownReset, get_reset
from afterbeat.resets.plan import Plan, plan_from_json

__all__ = ["EventPipeline", "Pipeline", "PipelineStats", "rest_recording_from"]

log = logging.getLogger(__name__)

STALE_S = 15.0
"""Latest metrics older than this (s of session time) at a tick mean no beats are arriving."""
HR_ONLY_AFTER_S = 10.0
"""Notifications without RR count as heart-rate-only once no RR arrived for this long (s)."""


class EventPipeline(Protocol):
    """The pipeline as the server and the report use it: records in, events out.

    :class:`Pipeline` is the implementation; tests of the transport pass quiet ones.
    """

    @property
    def plan(self) -> Plan | None:
        """The plan in effect (None: the usual settings)."""
        ...

    @property
    def baseline(self) -> Baseline | None:
        """The resting baseline in use (None: none yet)."""
        ...

    @property
    def settings(self) -> Settings:
        """The rules in force (the plan's thresholds applied)."""
        ...

    def push(self, record: Record) -> Sequence[Event]:
        """Feed one record; return the events it causes, in order."""
        ...

    def finish(self) -> Sequence[Event]:
        """End of the recording: the closing events."""
        ...

    def forget_baseline(self) -> None:
        """Drop the baseline: resting recordings build a new one from scratch."""
        ...


@dataclass(slots=True)
class PipelineStats:
    """Counts for the status line and tests."""

    notifications: int = 0
    malformed: int = 0
    beats: int = 0
    clean_beats: int = 0
    corrected_beats: int = 0
    heart_rate_only: int = 0
    no_contact: int = 0
    ticks: int = 0
    bad_plan_markers: int = 0


class Pipeline:
    """Records in, events out (see the module docstring); one instance per session."""

    def __init__(
        self,
        settings: Settings = DEFAULT_SETTINGS,
        baseline: Baseline | None = None,
        *,
        plan: Plan | None = None,
    ) -> None:
        self.base_settings = settings
        """The settings before the plan's overrides (a new plan applies on top of these)."""
        if plan is not None and plan.thresholds:
            settings = settings.with_overrides(plan.thresholds)
        self.settings = settings
        self.baseline = baseline
        self.plan = plan
        self.stats = PipelineStats()
        self.timeline = BeatTimeline()
        self.artifacts = ArtifactFilter()
        self.tracker = LiveMetricsTracker()
        self.scorer = ArousalScorer(settings)
        self.watch = AfterSessionWatch(settings)
        self.choice = ChoiceContext()
        self.effects = EffectTracker(
            settle_index=settings.settled_index,
            settle_s=settings.settle_s,
            metrics_interval_s=settings.metrics_interval_s,
            min_valid_share=settings.min_valid_share,
            min_breaths_per_min=settings.min_respiration_bpm,
            max_breaths_per_min=settings.max_respiration_bpm,
        )
        self.latest_metrics: LiveMetrics | None = None
        self.latest_reading: ArousalReading | None = None
        self._next_tick_s: float | None = None
        self._last_rr_t_s: float | None = None
        self._contact_lost = False
        self._rest: RestCollector | None = None
        self._session_end_s: float | None = None
        self._recovery: list[RecoverySample] = []
        self._recovery_done = True
        self._last_t_s = 0.0
        self._running_reset: ResetKind | None = None

    # -- public ----------------------------------------------------------------------------

    def push(self, record: Record) -> list[Event]:
        """Feed one record; return the events it causes, in order."""
        t_s = record.t_s
        self._last_t_s = max(self._last_t_s, t_s)
        events: list[Event] = []
        match record:
            case Notification():
                self._notification(record)
                events.extend(self._tick(t_s))
            case Marker():
                events.extend(self._tick(t_s))
                events.extend(self._marker(record))
            case Disconnect():
                events.extend(self._tick(t_s))
                self._break()
                events.extend(self._watch_events(self.watch.hold(
                    t_s, "The strap is not connected; holding until beats arrive again.")))
            case Reconnect():
                events.extend(self._tick(t_s))
            case DeviceEvent():
                events.extend(self._tick(t_s))
                if record.kind is DeviceEventKind.CONTACT and str(record.value) == str(
                    SensorContact.NOT_DETECTED
                ):
                    self._break()
        return events

    def forget_baseline(self) -> None:
        """Drop the baseline: resting recordings build a new one from scratch."""
        self.baseline = None

    def apply_plan(self, plan: Plan | None) -> None:
        """Use a new plan from now on (choice and thresholds), keeping every running state.

        Raises InvalidSettings (nothing changed) when its thresholds do not fit the settings.
        """
        settings = self.base_settings
        if plan is not None and plan.thresholds:
            settings = settings.with_overrides(plan.thresholds)
        self.plan = plan
        self.settings = settings
        self.scorer.settings = settings
        self.watch.apply_settings(settings)
        self.effects.settle_index = settings.settled_index
        self.effects.settle_s = settings.settle_s
        self.effects.metrics_interval_s = settings.metrics_interval_s
        self.effects.min_valid_share = settings.min_valid_share

    def finish(self) -> list[Event]:
        """End of the recording: recovery metrics and final reset effects."""
        t_s = self._last_t_s
        events: list[Event] = []
        if self._rest is not None:
            events.extend(self._end_rest(t_s))
        events.extend(ResetEffectEvent(t_s, e) for e in self.effects.finish())
        events.extend(self._recovery_event(t_s))
        return events

    # -- records ---------------------------------------------------------------------------

    def _notification(self, record: Notification) -> None:
        self.stats.notifications += 1
        try:
            m = decode_measurement(record.payload)
        except MalformedMeasurement as exc:
            self.stats.malformed += 1
            log.debug("skipped a malformed notification at %.3f s: %s", record.t_s, exc)
            return
        if m.sensor_contact is SensorContact.NOT_DETECTED:
            self.stats.no_contact += 1
            if not self._contact_lost:
                self._contact_lost = True
                self._break()
            return
        self._contact_lost = False
        t_s = record.t_s
        if m.rr_ms:
            self._last_rr_t_s = t_s
            for beat in self.timeline.push(t_s, m.rr_ms):
                self.stats.beats += 1
                self._feed(self.artifacts.push(beat))
        elif self._last_rr_t_s is None or t_s - self._last_rr_t_s > HR_ONLY_AFTER_S:
            if m.heart_rate_bpm > 0:
                self.stats.heart_rate_only += 1
                metrics = self.tracker.push_heart_rate(t_s, float(m.heart_rate_bpm))
                if metrics is not None:
                    self.latest_metrics = metrics

    def _feed(self, cleaned: list[CleanBeat]) -> None:
        for clean in cleaned:
            self.stats.clean_beats += 1
            if clean.corrected:
                self.stats.corrected_beats += 1
            metrics = self.tracker.push_beat(clean)
            if metrics is not None:
                self.latest_metrics = metrics

    def _break(self) -> None:
        # Judge the beats still held for lookahead before the segment closes.
        self._feed(self.artifacts.flush())
        self.timeline.break_segment()
        self.tracker.break_segment()

    def _marker(self, marker: Marker) -> list[Event]:
        t_s = marker.t_s
        events: list[Event] = [MarkerEvent(t_s, str(marker.kind), marker.value, marker.text)]
        events.extend(ResetEffectEvent(t_s, e) for e in self.effects.push_marker(marker))
        index = self.latest_reading.arousal if self.latest_reading is not None else None
        match marker.kind:
            case MarkerKind.BASELINE_START:
                if self._after_session(t_s):
                    events.append(BaselineEvent(t_s, False, (
                        "Resting baselines are recorded away from sessions, so the hours after "
                        "a session never shift what counts as your calm. Try another time.")))
                elif self._rest is None:
                    self._rest = RestCollector(label=f"rest at {t_s:.0f} s", settings=self.settings)
            case MarkerKind.BASELINE_END:
                events.extend(self._end_rest(t_s))
            case MarkerKind.SESSION_START:
                if self._rest is not None:
                    self._rest = None
                    events.append(BaselineEvent(t_s, False, (
                        "The session started before the resting period was marked as ended; "
                        "that rest was not used for the baseline.")))
                events.extend(self._recovery_event(t_s))
                events.extend(self._watch_events(self.watch.session_start(t_s)))
            case MarkerKind.SESSION_END:
                events.extend(self._recovery_event(t_s))
                self._session_end_s = t_s
                self._recovery = []
                self._recovery_done = False
                events.extend(self._watch_events(self.watch.session_end(t_s)))
            case MarkerKind.MOVING_START:
                self.scorer.start_movement(t_s)
            case MarkerKind.MOVING_END:
                self.scorer.end_movement(t_s)
            case MarkerKind.RESET_START:
                kind = self._reset_kind(marker.text)
                self._end_running(t_s)
                self._running_reset = kind
                if kind is ResetKind.MOVEMENT:
                    self.scorer.start_movement(t_s)
                elif kind is ResetKind.BREATHING:
                    self.scorer.start_breathing(t_s)
                    self.tracker.set_pacer(self._pacer_bpm(marker))
                self.choice = self.choice.with_start(marker.text or "unknown", t_s, index=index)
            case MarkerKind.RESET_END:
                self._end_running(t_s)
                self.choice = self.choice.with_end(t_s, index=index)
            case MarkerKind.PACE:
                if self._running_reset is ResetKind.BREATHING and marker.value is not None \
                        and 2.0 <= marker.value <= 30.0:
                    self.tracker.set_pacer(float(marker.value))
            case MarkerKind.DISMISS:
                self.choice = self.choice.with_dismissal(t_s)
            case MarkerKind.PLAN:
                self._plan_marker(marker)
            case _:
                pass
        return events

    def _plan_marker(self, marker: Marker) -> None:
        """Apply the plan a marker carries; one that cannot be read or applied is logged."""
        try:
            document = json.loads(marker.text or "")
            self.apply_plan(plan_from_json(document) if document else None)
        except (ValueError, AfterbeatError) as exc:
            self.stats.bad_plan_markers += 1
            log.warning("plan marker at %.1f s not applied: %s", marker.t_s, type(exc).__name__)

    def _after_session(self, t_s: float) -> bool:
        """During a session, or within the watch span after its end: no baseline then."""
        if self.watch.in_session:
            return True
        end = self._session_end_s
        return end is not None and end <= t_s < end + self.settings.watch_span_s

    def _end_running(self, t_s: float) -> None:
        if self._running_reset is ResetKind.MOVEMENT:
            self.scorer.end_movement(t_s)
        elif self._running_reset is ResetKind.BREATHING:
            self.scorer.end_breathing(t_s)
            self.tracker.set_pacer(None)
        self._running_reset = None

    def _pacer_bpm(self, marker: Marker) -> float | None:
        """The pacer's rate (breaths/min) of a breathing reset: the marker's value if it carries
        one, else the plan's pace for an adjustable reset, else the reset's own pattern."""
        if marker.value is not None and 2.0 <= marker.value <= 30.0:
            return float(marker.value)
        try:
            reset = get_reset(marker.text or "")
        except AfterbeatError:
            return None
        if reset.adjustable_pace and self.plan is not None and self.plan.breaths_per_min:
            return float(self.plan.breaths_per_min)
        if reset.pattern is None:
            return None
        rate = reset.pattern.breaths_per_min
        return rate if 2.0 <= rate <= 30.0 else None

    @staticmethod
    def _reset_kind(reset_id: str | None) -> ResetKind | None:
        if not reset_id:
            return None
        try:
            return get_reset(reset_id.strip()).kind
        except UnknownReset:
            return None

    def _end_rest(self, t_s: float) -> list[Event]:
        rest, self._rest = self._rest, None
        if rest is None:
            return [] if self._after_session(t_s) else [
                BaselineEvent(t_s, False, "A resting period ended that had not started.")]
        try:
            recording = rest.finish()
        except BaselineError as exc:
            return [BaselineEvent(t_s, False, str(exc))]
        self.add_rest(recording)
        assert self.baseline is not None
        return [BaselineEvent(t_s, True, self.baseline.describe(), self.baseline.to_json())]

    def add_rest(self, recording: RestRecording) -> Baseline:
        """Add a resting recording to the baseline (new baseline if there was none)."""
        if self.baseline is None:
            self.baseline = Baseline.from_recordings([recording], self.settings)
        else:
            self.baseline = self.baseline.add(recording, self.settings)
        return self.baseline

    # -- every 5 s -------------------------------------------------------------------------

    def _tick(self, t_s: float) -> list[Event]:
        interval = self.settings.metrics_interval_s
        if self._next_tick_s is None:
            self._next_tick_s = (math.floor(t_s / interval) + 1) * interval
            return []
        if t_s < self._next_tick_s:
            return []
        tick_s = math.floor(t_s / interval) * interval
        self._next_tick_s = tick_s + interval
        self.stats.ticks += 1
        metrics = self.latest_metrics
        fresh = metrics is not None and metrics.t_s >= tick_s - STALE_S
        if metrics is not None and fresh:
            metrics = replace(metrics, t_s=tick_s)
            reading = self.scorer.push(metrics, self.baseline)
        else:
            metrics = None
            reading = ArousalReading(t_s=tick_s, quality=Quality.NO_BEATS, arousal=None,
                                     score=None, heart_rate_bpm=None, rmssd_ms=None,
                                     ln_rmssd=None)
        self.latest_reading = reading
        if metrics is not None and self._rest is not None:
            self._rest.push(metrics, moving=self.scorer.moving(tick_s))
        self._collect_recovery(reading)
        events = self._watch_events(self.watch.push(reading))
        events.extend(self._switch_offer(reading))
        base = self.baseline
        # One mapping for the number and the words: the index under the state just shown.
        shown = display(reading.arousal, str(self.watch.state), self.settings)
        # The numbers against the usual, from this reading: the words beside the tiles.
        vs = None if base is None else compare(
            reading.heart_rate_bpm, reading.rmssd_ms, base.heart_rate_bpm,
            base.heart_rate_spread_bpm, base.rmssd_ms, base.ln_rmssd_spread)
        events.insert(0, MetricsEvent(
            t_s=tick_s,
            heart_rate_bpm=reading.heart_rate_bpm,
            rmssd_ms=reading.rmssd_ms,
            arousal=reading.arousal,
            score=None if shown is None else float(shown.score),
            quality=str(reading.quality),
            ln_rmssd=reading.ln_rmssd,
            respiration_rate_bpm=reading.respiration_rate_bpm,
            coherence=metrics.coherence if metrics is not None else None,
            coverage=reading.coverage,
            corrected_pct=reading.corrected_pct,
            rr_available=reading.rr_available if metrics is not None else True,
            baseline_heart_rate_bpm=base.heart_rate_bpm if base is not None else None,
            baseline_rmssd_ms=base.rmssd_ms if base is not None else None,
            baseline_provisional=base.provisional if base is not None else None,
            state=str(self.watch.state),
            score_band=None if shown is None else shown.band,
            score_words=None if shown is None else shown.words,
            respiration_reason=metrics.respiration_reason if metrics is not None else None,
            coherence_share=metrics.coherence_share if metrics is not None else None,
            pacer_bpm=metrics.pacer_bpm if metrics is not None else None,
            pacer_following=metrics.pacer_following if metrics is not None else None,
            pacer_following_ok=metrics.pacer_following_ok if metrics is not None else None,
            pacer_following_reason=(metrics.pacer_following_reason if metrics is not None
                                    else None),
            compare_words=None if vs is None else vs.words,
            heart_rate_vs_usual=None if vs is None else vs.heart_rate,
            hrv_vs_usual=None if vs is None else vs.hrv,
            signal=signal_of(str(reading.quality),
                             reading.rr_available if metrics is not None else True,
                             reading.coverage, reading.corrected_pct, self.settings),
        ))
        # The same breathing guard as the index: RMSSD is set aside exactly where A drops it.
        guarded = {Quality.GOOD: False, Quality.BREATHING: True}.get(reading.quality)
        sample = MetricsSample(tick_s, reading.arousal, reading.heart_rate_bpm, reading.rmssd_ms,
                               reading.respiration_rate_bpm, rmssd_guarded=guarded)
        events.extend(ResetEffectEvent(tick_s, e) for e in self.effects.push_metrics(sample))
        return events

    def _collect_recovery(self, reading: ArousalReading) -> None:
        t0 = self._session_end_s
        if t0 is None or self._recovery_done or reading.t_s < t0:
            return
        if reading.quality in (Quality.MOVEMENT, Quality.POOR, Quality.NO_BEATS,
                               Quality.WARMING_UP):
            return
        ln = reading.ln_rmssd if reading.quality in (Quality.GOOD, Quality.NO_BASELINE) else None
        self._recovery.append(RecoverySample(reading.t_s, reading.heart_rate_bpm, ln))

    def _recovery_event(self, t_s: float) -> list[Event]:
        t0 = self._session_end_s
        if t0 is None or self._recovery_done:
            return []
        self._recovery_done = True
        metrics = recovery_metrics(self._recovery, t0, self.baseline, self.watch.settled_at_s,
                                   self.settings)
        return [RecoveryEvent(t_s, metrics)]

    def _watch_events(self, items: Iterable[WatchEvent]) -> list[Event]:
        events: list[Event] = []
        for item in items:
            if isinstance(item, StateChange):
                previous = None if item.previous is None else str(item.previous)
                events.append(StateEvent(item.t_s, str(item.state), item.reason, previous))
            elif isinstance(item, Suggestion):
                events.extend(self._suggest(item))
        return events

    def _suggest(self, item: Suggestion) -> list[Event]:
        index = self.latest_reading.arousal if self.latest_reading is not None else None
        choice = choose_reset(self.choice, item.t_s, index=index, gentle=item.gentle,
                              plan=self.plan)
        if choice is None:
            return []
        return [self._suggestion_event(choice, item.reason)]

    def _switch_offer(self, reading: ArousalReading) -> list[Event]:
        if self.choice.running is None or reading.arousal is None:
            return []
        choice = choose_reset(self.choice, reading.t_s, index=reading.arousal, plan=self.plan)
        if choice is None:
            return []
        return [self._suggestion_event(choice, None)]

    def _suggestion_event(self, choice: ResetSuggestion, detail: str | None) -> SuggestionEvent:
        self.choice = self.choice.with_suggestion(choice)
        return SuggestionEvent(
            t_s=choice.t_s, reset=choice.reset_id, kind=str(choice.kind), reason=choice.reason,
            gentle=choice.gentle, switch_from=choice.switch_from,
            breaths_per_min=choice.breaths_per_min, detail=detail,
        )


def rest_recording_from(
    records: Iterable[Record], label: str, settings: Settings = DEFAULT_SETTINGS
) -> RestRecording:
    """Run a whole resting recording through the pipeline; raise BaselineError if too short."""
    pipeline = Pipeline(settings)
    collector = RestCollector(label=label, settings=settings)
    pipeline._rest = collector
    for record in records:
        if isinstance(record, Marker) and record.kind not in (
            MarkerKind.MOVING_START, MarkerKind.MOVING_END,
        ):
            continue
        pipeline.push(record)
    return collector.finish()
