"""Scripted live metrics for the arousal, watch and recovery tests."""

from __future__ import annotations

import math

from afterbeat.activation.baseline import Baseline, RestRecording
from afterbeat.activation.settings import Settings
from afterbeat.hrv.live import LiveMetrics


def metrics(
    t_s: float,
    heart_rate_bpm: float | None = 60.0,
    ln_rmssd: float | None = 3.5,
    *,
    coverage: float = 1.0,
    corrected_pct: float = 0.0,
    rr_available: bool = True,
    respiration_rate_bpm: float | None = 12.0,
    coherence: float | None = None,
) -> LiveMetrics:
    """One LiveMetrics value as the tracker would give it."""
    rmssd = None if ln_rmssd is None else math.exp(ln_rmssd)
    return LiveMetrics(
        t_s=t_s, segment=0, heart_rate_bpm=heart_rate_bpm, rmssd_60_ms=rmssd,
        rmssd_120_ms=rmssd, ln_rmssd_120=ln_rmssd, sdnn_120_ms=None, pnn50_120_pct=None,
        coverage_120=coverage, corrected_120_pct=corrected_pct, rr_available=rr_available,
        respiration_rate_bpm=respiration_rate_bpm, coherence=coherence,
    )


def flat_baseline(
    heart_rate_bpm: float = 60.0, ln_rmssd: float | None = 3.5, n: int = 3,
    settings: Settings | None = None,
) -> Baseline:
    """A baseline of n identical rests (spreads fall to their floors: 3 bpm, 0.15)."""
    rec = RestRecording(
        label="rest", heart_rate_bpm=(heart_rate_bpm,) * 40,
        ln_rmssd=() if ln_rmssd is None else (ln_rmssd,) * 40, span_s=200.0,
    )
    return Baseline.from_recordings([rec] * n, settings or Settings())
