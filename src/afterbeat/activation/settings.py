"""Every threshold of the baseline, the activation index and the after-session watch (pure).

One frozen :class:`Settings` value with units in its names; a person's plan may override some
of them within the ranges :mod:`afterbeat.resets.plan` allows. These are engineering defaults
to tune, not published cut-offs (see docs/arousal-evaluation.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from afterbeat.errors import AfterbeatError

__all__ = ["DEFAULT_SETTINGS", "InvalidSettings", "Settings"]


class InvalidSettings(AfterbeatError, ValueError):
    """A settings override with an unknown key or a value of the wrong kind."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Every threshold of the baseline, the index and the after-session watch, units in names."""

    # Index
    heart_rate_weight: float = 0.5
    """Weight of zHR in A; zV gets the rest."""
    score_tail_index: float = 2.5
    """Index units over which the display score above elevated_index closes 1/e of its
    remaining gap to 100 (afterbeat.activation.display)."""
    min_respiration_bpm: float = 9.0
    max_respiration_bpm: float = 24.0
    """Breaths/min outside [min, max] mean paced breathing: the RMSSD term is dropped."""
    paced_min_coherence: float = 0.3
    """A breathing rate below the range counts as paced only with at least this coherence
    ratio (or, before the 2-min spectrum exists, a 64-s coherence share of c / (1 + c)). The
    rate comes from afterbeat.hrv.breathing, which gives none for a slow heart-rate wave it
    cannot tell from breathing (docs/breathing-and-coherence.md, docs/arousal-evaluation.md)."""
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
