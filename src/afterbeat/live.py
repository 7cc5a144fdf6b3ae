"""Live metrics: per-beat HRV values on trailing windows, with their quality (pure code)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LiveMetrics"]


@dataclass(frozen=True, slots=True)
class LiveMetrics:
    """Trailing-window values at time ``t_s``; None where a window is not full or has a gap."""

    t_s: float
    segment: int
    heart_rate_bpm: float | None
    """60 s: 60000 / mean clean RR, or the mean strap heart rate when no RR arrives."""
    rmssd_60_ms: float | None
    rmssd_120_ms: float | None
    ln_rmssd_120: float | None
    """Natural log of rmssd_120_ms (ms)."""
    sdnn_120_ms: float | None
    pnn50_120_pct: float | None
    coverage_120: float
    """Share (0-1) of the trailing 120 s covered by beats of the current segment."""
    corrected_120_pct: float
    """Share (%) of beats in the trailing 120 s that artifact correction replaced."""
    rr_available: bool
    respiration_rate_bpm: float | None = None
    """Breaths per minute from the RSA peak (refreshed every 5 s)."""
    lf_ms2: float | None = None
    hf_ms2: float | None = None
    coherence: float | None = None
    """Peak power in 0.04-0.26 Hz over the rest (HeartMath's coherence ratio)."""
