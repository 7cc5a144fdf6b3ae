"""Arousal relative to the person's own resting baseline (pure code, time passed in).

The index compares the last minute of heart rate and the last two minutes of ln RMSSD with
the person's own calm: ``zHR = (HR60 - base_HR) / s_HR``, ``zV = (base_lnR - lnR120) / s_lnR``,
``A = 0.5 * zHR + 0.5 * zV``, shown as a 0-100 score (50 = baseline) by
:mod:`afterbeat.activation.display`, the one mapping from A and the watch state to the page.
With no RR from the strap, or while breathing is paced, the RMSSD term is dropped and
``A = zHR``. Paced means: a breathing reset running and 2 minutes after it; or the breathing
estimate from RR (:mod:`afterbeat.hrv.breathing`, last 64 s) above 24/min, or below 9/min with
a coherent rhythm (coherence ratio >= 0.3 over the last 2-5 min, or its 64-s normalised form
while the longer window fills). The estimate gives no rate for a slow heart-rate wave at rest
that it cannot tell from breathing, so those keep the RMSSD term.
Movement (a movement reset, or moving_start/moving_end markers) pauses scoring until 3 minutes
after it ends; poor signal (coverage under 90 % or over 5 % corrected beats) gives no score.

These are engineering defaults to tune, not published cut-offs (see docs/arousal-evaluation.md);
every one of them lives in :class:`Settings`, which a person's plan can override.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

from afterbeat.activation.baseline import Baseline
from afterbeat.activation.display import score_curve
from afterbeat.activation.settings import DEFAULT_SETTINGS, Settings
from afterbeat.hrv.live import LiveMetrics

__all__ = [
    "ArousalReading",
    "ArousalScorer",
    "Quality",
    "breathing_out_of_range",
    "score_metrics",
]


class Quality(enum.StrEnum):
    """How a reading could be scored."""

    GOOD = "good"
    HR_ONLY = "hr_only"
    """The strap sends no RR: A = zHR."""
    BREATHING = "breathing"
    """Paced breathing (respiration out of range or a breathing reset): A = zHR."""
    MOVEMENT = "movement"
    """Moving or within the washout after it: no score."""
    POOR = "poor"
    """Low beat coverage or too many corrected beats: no score."""
    WARMING_UP = "warming_up"
    """Windows not full yet (start or after a gap): no score."""
    NO_BASELINE = "no_baseline"
    """No resting baseline to compare with: no score."""
    NO_BEATS = "no_beats"
    """No beats arrived lately (strap off or disconnected): no score."""

    @property
    def scored(self) -> bool:
        """Whether readings of this quality carry an index."""
        return self in (Quality.GOOD, Quality.HR_ONLY, Quality.BREATHING)


@dataclass(frozen=True, slots=True)
class ArousalReading:
    """The index at ``t_s`` with what went into it; arousal and score are None when unscored."""

    t_s: float
    quality: Quality
    arousal: float | None
    score: float | None
    heart_rate_bpm: float | None
    rmssd_ms: float | None
    ln_rmssd: float | None
    z_heart_rate: float | None = None
    z_ln_rmssd: float | None = None
    """(base - lnR120) / s_lnR; None when the RMSSD term is not used."""
    heart_rate_delta_bpm: float | None = None
    """HR60 minus the baseline heart rate (bpm)."""
    ln_rmssd_delta: float | None = None
    """lnR120 minus the baseline ln RMSSD; None when the RMSSD term is not used."""
    respiration_rate_bpm: float | None = None
    coverage: float | None = None
    corrected_pct: float | None = None
    rr_available: bool = True

    @property
    def scored(self) -> bool:
        """True when the reading carries an index."""
        return self.arousal is not None

    def meets_effect_floor(self, settings: Settings) -> bool:
        """HR at least the floor above baseline, or ln RMSSD at least the floor below it."""
        hr = self.heart_rate_delta_bpm
        ln = self.ln_rmssd_delta
        return (hr is not None and hr >= settings.elevated_heart_rate_delta_bpm) or (
            ln is not None and ln <= -settings.elevated_ln_rmssd_delta
        )


def breathing_out_of_range(metrics: LiveMetrics, settings: Settings) -> bool:
    """Whether the breathing estimate says breathing is paced (the guard, without a reset).

    Above ``max_respiration_bpm``; or below ``min_respiration_bpm`` with a coherent rhythm:
    coherence ratio >= ``paced_min_coherence`` on the 2-5 min spectrum, or, while that is not
    available yet, the 64-s normalised coherence >= c / (1 + c), the same threshold.
    """
    resp = metrics.respiration_rate_bpm
    if resp is not None and resp > settings.max_respiration_bpm:
        return True
    if resp is None or resp >= settings.min_respiration_bpm:
        return False
    c = settings.paced_min_coherence
    if metrics.coherence is not None:
        return metrics.coherence >= c
    share = metrics.coherence_share
    return share is not None and share >= c / (1.0 + c)


def score_metrics(
    metrics: LiveMetrics,
    baseline: Baseline | None,
    settings: Settings,
    *,
    moving: bool = False,
    paced_breathing: bool = False,
) -> ArousalReading:
    """Score one set of live metrics against the baseline (pure)."""
    rmssd = metrics.rmssd_120_ms
    common: dict[str, Any] = {
        "t_s": metrics.t_s,
        "heart_rate_bpm": metrics.heart_rate_bpm,
        "rmssd_ms": rmssd,
        "ln_rmssd": metrics.ln_rmssd_120,
        "respiration_rate_bpm": metrics.respiration_rate_bpm,
        "coverage": metrics.coverage_120,
        "corrected_pct": metrics.corrected_120_pct,
        "rr_available": metrics.rr_available,
    }

    def unscored(quality: Quality) -> ArousalReading:
        return ArousalReading(quality=quality, arousal=None, score=None, **common)

    if moving:
        return unscored(Quality.MOVEMENT)
    hr = metrics.heart_rate_bpm
    ln = metrics.ln_rmssd_120
    if metrics.rr_available:
        if metrics.coverage_120 < settings.min_coverage and hr is not None and ln is not None:
            return unscored(Quality.POOR)
        if metrics.corrected_120_pct > settings.max_corrected_pct:
            return unscored(Quality.POOR)
        if hr is None or ln is None:
            return unscored(Quality.WARMING_UP)
    elif hr is None:
        return unscored(Quality.WARMING_UP)
    if baseline is None:
        return unscored(Quality.NO_BASELINE)
    z_hr = (hr - baseline.heart_rate_bpm) / baseline.heart_rate_spread_bpm
    hr_delta = hr - baseline.heart_rate_bpm
    resp_out = breathing_out_of_range(metrics, settings)
    if not metrics.rr_available or ln is None or baseline.ln_rmssd is None:
        quality = Quality.HR_ONLY
    elif paced_breathing or resp_out:
        quality = Quality.BREATHING
    else:
        quality = Quality.GOOD
    if quality is Quality.GOOD:
        assert ln is not None and baseline.ln_rmssd is not None
        assert baseline.ln_rmssd_spread is not None
        z_v: float | None = (baseline.ln_rmssd - ln) / baseline.ln_rmssd_spread
        ln_delta: float | None = ln - baseline.ln_rmssd
        w = settings.heart_rate_weight
        arousal = w * z_hr + (1.0 - w) * (z_v or 0.0)
    else:
        z_v = None
        ln_delta = None
        arousal = z_hr
    return ArousalReading(
        quality=quality,
        arousal=arousal,
        score=score_curve(arousal, settings),
        z_heart_rate=z_hr,
        z_ln_rmssd=z_v,
        heart_rate_delta_bpm=hr_delta,
        ln_rmssd_delta=ln_delta,
        **common,
    )


@dataclass(slots=True)
class ArousalScorer:
    """Scores live metrics, remembering movement and paced breathing (time passed in)."""

    settings: Settings = DEFAULT_SETTINGS
    _moving_since_s: float | None = None
    _movement_until_s: float = -math.inf
    _breathing_since_s: float | None = None
    _breathing_until_s: float = -math.inf

    def start_movement(self, t_s: float) -> None:
        """Movement began (moving_start marker or a movement reset)."""
        if self._moving_since_s is None:
            self._moving_since_s = t_s

    def end_movement(self, t_s: float) -> None:
        """Movement ended: scoring resumes after the washout."""
        self._movement_until_s = max(
            self._movement_until_s, t_s + self.settings.movement_washout_s
        )
        self._moving_since_s = None

    def start_breathing(self, t_s: float) -> None:
        """A breathing reset began: the RMSSD term is dropped."""
        if self._breathing_since_s is None:
            self._breathing_since_s = t_s

    def end_breathing(self, t_s: float) -> None:
        """A breathing reset ended: the RMSSD term returns after its washout."""
        self._breathing_since_s = None
        self._breathing_until_s = max(
            self._breathing_until_s, t_s + self.settings.breathing_washout_s
        )

    def moving(self, t_s: float) -> bool:
        """Whether scoring is paused for movement at ``t_s``."""
        return self._moving_since_s is not None or t_s < self._movement_until_s

    def movement_resumes_at_s(self) -> float | None:
        """When scoring resumes after movement (None while still moving or not paused)."""
        if self._moving_since_s is not None or not math.isfinite(self._movement_until_s):
            return None
        return self._movement_until_s

    def paced_breathing(self, t_s: float) -> bool:
        """Whether a breathing reset (or its washout) is running at ``t_s``."""
        return self._breathing_since_s is not None or t_s < self._breathing_until_s

    def push(self, metrics: LiveMetrics, baseline: Baseline | None) -> ArousalReading:
        """Score one set of live metrics."""
        return score_metrics(
            metrics,
            baseline,
            self.settings,
            moving=self.moving(metrics.t_s),
            paced_breathing=self.paced_breathing(metrics.t_s),
        )
