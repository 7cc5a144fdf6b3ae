"""Events the pipeline emits; the server sends each as an SSE event named after its ``type``.

Every event is a frozen value with ``to_json() -> dict`` whose ``"type"`` key names it. Times
are session seconds (``t_s``, from the record that caused the event); values are rounded so
that replays at any speed give byte-identical JSON. The stable shapes:

``metrics`` (every 5 s of session time)::

    {"type": "metrics", "t_s": 600.0, "heart_rate_bpm": 72.4, "rmssd_ms": 31.2,
     "arousal": 1.234, "score": 89.1, "quality": "good", "ln_rmssd": 3.44,
     "respiration_rate_bpm": 14.2, "coherence": 0.8, "coverage": 0.99, "corrected_pct": 0.0,
     "rr_available": true, "baseline_heart_rate_bpm": 64.0, "baseline_rmssd_ms": 42.0,
     "baseline_provisional": false, "state": "activated", "score_band": "activated",
     "score_words": "Somewhat above your usual"}

  ``score`` (a whole number, 50 = your usual), ``score_band`` and ``score_words`` come from
  :func:`afterbeat.activation.display.display` (index and watch state; the page shows them as
  sent and never recomputes them). ``arousal``/``score`` are null when unscored; ``quality``
  is one of good, hr_only, breathing (RMSSD term dropped), movement, poor, warming_up,
  no_baseline, no_beats. Breathing (:mod:`afterbeat.hrv.breathing`): ``respiration_reason``
  (why ``respiration_rate_bpm`` is null: too_short, poor_signal, no_clear_peak,
  competing_peaks, estimates_disagree), ``coherence_share`` (0-1, last 64 s), ``pacer_bpm``,
  ``pacer_following`` (0-1 share of the RR variation at the pacer's rate) and
  ``pacer_following_ok`` while a breathing reset runs.

``state`` (on every change, and at the session end or when settling early)::

    {"type": "state", "t_s": 900.0, "state": "elevated", "reason": "...", "previous": "activated"}

  states: calibrating, settled, activated, elevated, unknown.

``suggestion``::

    {"type": "suggestion", "t_s": 1200.0, "reset": "resonance", "kind": "breathing",
     "reason": "...", "gentle": false, "switch_from": null, "breaths_per_min": null,
     "detail": "..."}

``recovery`` (from ``finish()``, or when a later session ends): the fields of
:class:`afterbeat.recovery.RecoveryMetrics` plus ``t_s``.

``marker`` (every marker record, echoed)::

    {"type": "marker", "t_s": 570.0, "kind": "session_end", "value": null, "text": null}

``reset_effect`` (see :mod:`afterbeat.resets.effects`): ``t_s`` plus ``ResetEffect.to_json()``.

``baseline`` (at a baseline_end marker)::

    {"type": "baseline", "t_s": 450.0, "ok": true, "reason": "...", "baseline": {...}}

  ``baseline`` is the document to store under the person key "baseline" (null if not ok).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from afterbeat.activation.recovery import RecoveryMetrics
from afterbeat.resets.effects import ResetEffect

__all__ = [
    "BaselineEvent",
    "Event",
    "MarkerEvent",
    "MetricsEvent",
    "RecoveryEvent",
    "ResetEffectEvent",
    "StateEvent",
    "SuggestionEvent",
]


def _r(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


@dataclass(frozen=True, slots=True)
class MetricsEvent:
    """The 5-s metrics and index (bpm, ms, index A, score 0-100)."""

    t_s: float
    heart_rate_bpm: float | None
    rmssd_ms: float | None
    arousal: float | None
    score: float | None
    quality: str
    ln_rmssd: float | None = None
    respiration_rate_bpm: float | None = None
    coherence: float | None = None
    coverage: float | None = None
    corrected_pct: float | None = None
    rr_available: bool = True
    baseline_heart_rate_bpm: float | None = None
    baseline_rmssd_ms: float | None = None
    baseline_provisional: bool | None = None
    state: str | None = None
    score_band: str | None = None
    score_words: str | None = None
    respiration_reason: str | None = None
    coherence_share: float | None = None
    pacer_bpm: float | None = None
    pacer_following: float | None = None
    pacer_following_ok: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``metrics`` SSE event."""
        return {
            "type": "metrics",
            "t_s": _r(self.t_s, 3),
            "heart_rate_bpm": _r(self.heart_rate_bpm, 2),
            "rmssd_ms": _r(self.rmssd_ms, 2),
            "arousal": _r(self.arousal, 3),
            "score": _r(self.score, 1),
            "quality": self.quality,
            "ln_rmssd": _r(self.ln_rmssd, 4),
            "respiration_rate_bpm": _r(self.respiration_rate_bpm, 2),
            "coherence": _r(self.coherence, 3),
            "coverage": _r(self.coverage, 3),
            "corrected_pct": _r(self.corrected_pct, 2),
            "rr_available": self.rr_available,
            "baseline_heart_rate_bpm": _r(self.baseline_heart_rate_bpm, 2),
            "baseline_rmssd_ms": _r(self.baseline_rmssd_ms, 2),
            "baseline_provisional": self.baseline_provisional,
            "state": self.state,
            "score_band": self.score_band,
            "score_words": self.score_words,
            "respiration_reason": self.respiration_reason,
            "coherence_share": _r(self.coherence_share, 3),
            "pacer_bpm": _r(self.pacer_bpm, 2),
            "pacer_following": _r(self.pacer_following, 3),
            "pacer_following_ok": self.pacer_following_ok,
        }


@dataclass(frozen=True, slots=True)
class StateEvent:
    """The watch's shown state changed, with a plain-words reason."""

    t_s: float
    state: str
    reason: str
    previous: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``state`` SSE event."""
        return {"type": "state", "t_s": _r(self.t_s, 3), "state": self.state,
                "reason": self.reason, "previous": self.previous}


@dataclass(frozen=True, slots=True)
class SuggestionEvent:
    """A reset suggestion (from ``afterbeat.choice.choose_reset``) and why."""

    t_s: float
    reset: str
    kind: str
    reason: str
    gentle: bool
    switch_from: str | None = None
    breaths_per_min: float | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``suggestion`` SSE event."""
        return {"type": "suggestion", "t_s": _r(self.t_s, 3), "reset": self.reset,
                "kind": self.kind, "reason": self.reason, "gentle": self.gentle,
                "switch_from": self.switch_from, "breaths_per_min": self.breaths_per_min,
                "detail": self.detail}


@dataclass(frozen=True, slots=True)
class RecoveryEvent:
    """Recovery metrics of one session (see afterbeat.activation.recovery)."""

    t_s: float
    recovery: RecoveryMetrics

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``recovery`` SSE event (also the stored session result)."""
        return {"type": "recovery", "t_s": _r(self.t_s, 3), **self.recovery.to_json()}


@dataclass(frozen=True, slots=True)
class MarkerEvent:
    """A marker record, echoed so every client sees it."""

    t_s: float
    kind: str
    value: float | None = None
    text: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``marker`` SSE event."""
        return {"type": "marker", "t_s": _r(self.t_s, 3), "kind": self.kind,
                "value": self.value, "text": self.text}


@dataclass(frozen=True, slots=True)
class BaselineEvent:
    """A resting period ended: the updated baseline document, or why it was not used."""

    t_s: float
    ok: bool
    reason: str
    baseline: dict[str, Any] | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``baseline`` SSE event."""
        return {"type": "baseline", "t_s": _r(self.t_s, 3), "ok": self.ok,
                "reason": self.reason, "baseline": self.baseline}


@dataclass(frozen=True, slots=True)
class ResetEffectEvent:
    """A reset's measured effect changed (see afterbeat.resets.effects)."""

    t_s: float
    effect: ResetEffect

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``reset_effect`` SSE event (the store keeps the latest per number)."""
        return {"type": "reset_effect", "t_s": _r(self.t_s, 3), **self.effect.to_json()}


Event = (
    MetricsEvent | StateEvent | SuggestionEvent | RecoveryEvent | MarkerEvent | BaselineEvent
    | ResetEffectEvent
)
