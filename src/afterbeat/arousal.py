"""Arousal relative to the person's own resting baseline (pure code, time passed in).

The index compares the last minute of heart rate and the last two minutes of ln RMSSD with
the person's own calm: ``zHR = (HR60 - base_HR) / s_HR``, ``zV = (base_lnR - lnR120) / s_lnR``,
``A = 0.5 * zHR + 0.5 * zV``, shown as ``S = 100 / (1 + exp(-1.7 * A))`` (0-100, 50 = baseline).
With no RR from the strap, or while breathing is paced (respiration above 24/min, below 9/min
with a coherent spectral peak, or a breathing reset running and 2 minutes after it), the RMSSD
term is dropped and ``A = zHR``.
Movement (a movement reset, or moving_start/moving_end markers) pauses scoring until 3 minutes
after it ends; poor signal (coverage under 90 % or over 5 % corrected beats) gives no score.

These are engineering defaults to tune, not published cut-offs (see docs/arousal-evaluation.md);
every one of them lives in :class:`Settings`, which a person's plan can override.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from afterbeat.errors import AfterbeatError
from afterbeat.live import LiveMetrics

if TYPE_CHECKING:
    from afterbeat.baseline import Baseline

__all__ = [
    "ArousalReading",
    "DEFAULT_SETTINGS",
    "ArousalScorer",
    "InvalidSettings",
    "Quality",
    "Settings",
    "display_score",
    "score_metrics",
]


class InvalidSettings(AfterbeatError, ValueError):
    """A settings override with an unknown key or a value of the wrong kind."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Every threshold of the baseline, the index and the after-session watch, units in names."""

    # Index
    heart_rate_weight: float = 0.5
    """Weight of zHR in A; zV gets the rest."""
    score_slope: float = 1.7
    """Slope of the logistic display score S = 100 / (1 + exp(-slope * A))."""
    min_respiration_bpm: float = 9.0
    max_respiration_bpm: float = 24.0
    """Breaths/min outside [min, max] mean paced breathing: the RMSSD term is dropped."""
    paced_min_coherence: float = 0.3
    """A respiration rate below the range counts as paced only with at least this coherence
    ratio. Measured on real RR (live tracker, updates whose peak lies below 9/min): unpaced
    rest and 24-h Holter reach 0.2 in 48 %, 0.3 in 23 % of updates; 6/min paced breathing of
    +-60 ms added to real rest RR reaches 0.3 in 75-100 % (docs/arousal-evaluation.md)."""
    breathing_washout_s: float = 120.0
    """After a breathing reset ends, the RMSSD term stays dropped this long."""
    movement_washout_s: float = 180.0
    """After movement ends, scoring stays paused this long."""
    min_coverage: float = 0.90
    """Share (0-1) of the trailing 120 s covered by beats, below which quality is poor."""
    max_corrected_pct: float = 5.0
    """Share (%) of corrected beats in the trailing 120 s above which quality is poor."""
    metrics_interval_s: float = 5.0
    """Session time between two index updates (and metrics events)."""
    # Baseline
    min_heart_rate_spread_bpm: float = 3.0
    min_ln_rmssd_spread: float = 0.15
    baseline_recordings_needed: int = 3
    """Resting recordings before the baseline stops being provisional."""
    baseline_recordings_kept: int = 7
    """The baseline rolls over this many most recent resting recordings."""
    min_baseline_span_s: float = 60.0
    """Least span (s) of valid 5-s values a resting recording must give to count."""
    # Watch
    unknown_after_s: float = 15.0
    """Patchy signal or missing beats show as unknown only after lasting this long (s);
    movement shows at once."""
    grace_s: float = 300.0
    """After the session end, observe this long before suggesting anything."""
    activated_index: float = 1.0
    activated_s: float = 30.0
    """A at or above activated_index for activated_s turns settled into activated."""
    elevated_index: float = 1.5
    elevated_heart_rate_delta_bpm: float = 5.0
    elevated_ln_rmssd_delta: float = 0.25
    """Effect-size floor: HR at least this far above, or ln RMSSD this far below, baseline."""
    sustain_s: float = 180.0
    """How long A must stay high (with the floor) to count as elevated."""
    min_valid_share: float = 0.8
    """Share of expected updates in a sustain or settle stretch that must be valid."""
    settled_index: float = 0.75
    settle_s: float = 120.0
    """A at or below settled_index for settle_s means settled (hysteresis below elevated)."""
    repeat_after_s: float = 600.0
    """A second, gentler suggestion if still elevated this long after the first."""
    watch_span_s: float = 3 * 3600.0
    """How long after the session end the watch may suggest resets."""
    # Recovery
    recovery_fit_span_s: float = 1200.0
    """HR after the session end fitted over this span for the half-recovery time."""
    ln_rmssd_recovery_at_s: float = 600.0
    """When the share of ln RMSSD recovered is measured, after the session end."""

    def __post_init__(self) -> None:
        if self.metrics_interval_s <= 0:
            raise InvalidSettings("metrics_interval_s must be positive")
        if not 0.0 <= self.heart_rate_weight <= 1.0:
            raise InvalidSettings("heart_rate_weight must lie in 0-1")
        if self.min_heart_rate_spread_bpm <= 0 or self.min_ln_rmssd_spread <= 0:
            raise InvalidSettings("spread floors must be positive")
        if self.settled_index >= self.elevated_index:
            raise InvalidSettings("settled_index must lie below elevated_index (hysteresis)")
        if self.baseline_recordings_kept < 1 or self.baseline_recordings_needed < 1:
            raise InvalidSettings("baseline recording counts must be at least 1")
        if not 0.0 < self.min_valid_share <= 1.0:
            raise InvalidSettings("min_valid_share must lie in (0, 1]")

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """Names of every setting (what a plan may override)."""
        return tuple(f.name for f in fields(cls))

    def with_overrides(self, overrides: Mapping[str, Any]) -> Settings:
        """A copy with some settings replaced; unknown keys or non-numbers raise InvalidSettings."""
        known = {f.name: f.type for f in fields(self)}
        clean: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in known:
                raise InvalidSettings(f"unknown setting {key!r}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidSettings(f"setting {key!r} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise InvalidSettings(f"setting {key!r} must be finite")
            if known[key] == "int":
                if int(value) != value:
                    raise InvalidSettings(f"setting {key!r} must be a whole number")
                value = int(value)
            else:
                value = float(value)
            clean[key] = value
        return replace(self, **clean)

    def to_json(self) -> dict[str, float | int]:
        """All settings as a JSON-ready dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


DEFAULT_SETTINGS = Settings()
"""The defaults, shared."""


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


def display_score(arousal: float, slope: float = 1.7) -> float:
    """Display score 0-100 from the index A (50 = at baseline)."""
    x = -slope * arousal
    if x > 700.0:
        return 0.0
    return 100.0 / (1.0 + math.exp(x))


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
    resp = metrics.respiration_rate_bpm
    coherence = metrics.coherence
    # Slow rates count only with a coherent peak: at rest the strongest peak in 0.05-0.5 Hz
    # is often slow heart-rate variation (Mayer waves, VLF), not breathing.
    resp_out = resp is not None and (
        resp > settings.max_respiration_bpm
        or (resp < settings.min_respiration_bpm and coherence is not None
            and coherence >= settings.paced_min_coherence)
    )
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
        score=display_score(arousal, settings.score_slope),
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
