"""Recovery after a session: how quickly readings come back to the person's own baseline.

Pure. From the 5-s readings after the session_end marker:
- time to settle: from the session end to ``settled_at_s``, the watch's settling moment (the
  first reading of the first 2-min stretch at or below 0.75 by the rule of
  :mod:`afterbeat.activation.settling`, the same one a reset's effect uses);
- HR half-recovery time: ``HR(t) = c + (h0 - c) * exp(-(t - tp) / tau)`` fitted with
  ``scipy.optimize.curve_fit`` over 20 min from the heart-rate peak ``tp`` of the first 5 min
  after the session end (heart rate often still climbs for a moment), ``T1/2 = tau * ln 2``,
  with the fitted plateau's residual against the baseline heart rate (``c - base``);
- share of ln RMSSD recovered at 10 min: ``(lnR(t0+10 min) - lnR(t0)) / (base - lnR(t0))``.
Curve fits are used rather than difference scores (Christenfeld 2000). None means "could not
be measured" and ``notes`` says why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import curve_fit

from afterbeat.activation.baseline import Baseline
from afterbeat.activation.settings import DEFAULT_SETTINGS, Settings

__all__ = ["RecoveryMetrics", "RecoverySample", "recovery_metrics"]

_NEAR_S = 60.0
"""A value counts as "at" a time when it lies within this many seconds of it."""
_MIN_FIT_POINTS = 24
_MIN_DECLINE_BPM = 2.0
_MIN_LN_DEFICIT = 0.05


@dataclass(frozen=True, slots=True)
class RecoverySample:
    """One 5-s value after the session end: HR60 (bpm) and lnR120, None when not measured."""

    t_s: float
    heart_rate_bpm: float | None
    ln_rmssd: float | None


@dataclass(frozen=True, slots=True)
class RecoveryMetrics:
    """Per-session recovery values (seconds, bpm, share 0-1); None where not measurable."""

    session_end_s: float
    time_to_settle_s: float | None
    settled_within_grace: bool
    heart_rate_half_recovery_s: float | None
    heart_rate_plateau_bpm: float | None
    heart_rate_residual_bpm: float | None
    """Fitted plateau minus the baseline heart rate (bpm)."""
    ln_rmssd_recovered_share_10min: float | None
    heart_rate_at_end_bpm: float | None = None
    baseline_heart_rate_bpm: float | None = None
    notes: tuple[str, ...] = field(default=())
    settle_hold_s: float | None = None
    """How long readings had to stay close to the usual to count as settled (s; the rule in
    force; None in results stored before it was kept)."""
    grace_s: float | None = None
    """The quiet watch after the session end (s; the rule in force; None in older results)."""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (the ``recovery`` event body and the stored session result)."""

        def r(value: float | None, digits: int) -> float | None:
            return None if value is None else round(value, digits)

        return {
            "session_end_s": r(self.session_end_s, 3),
            "time_to_settle_s": r(self.time_to_settle_s, 1),
            "settled_within_grace": self.settled_within_grace,
            "heart_rate_half_recovery_s": r(self.heart_rate_half_recovery_s, 1),
            "heart_rate_plateau_bpm": r(self.heart_rate_plateau_bpm, 2),
            "heart_rate_residual_bpm": r(self.heart_rate_residual_bpm, 2),
            "ln_rmssd_recovered_share_10min": r(self.ln_rmssd_recovered_share_10min, 3),
            "heart_rate_at_end_bpm": r(self.heart_rate_at_end_bpm, 2),
            "baseline_heart_rate_bpm": r(self.baseline_heart_rate_bpm, 2),
            "notes": list(self.notes),
            "settle_hold_s": r(self.settle_hold_s, 1),
            "grace_s": r(self.grace_s, 1),
        }


def _decay(t: npt.NDArray[np.float64], h0: float, c: float, tau: float
           ) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = c + (h0 - c) * np.exp(-t / tau)
    return out


def _value_near(
    samples: Sequence[RecoverySample], t_s: float, attr: str
) -> float | None:
    best: tuple[float, float] | None = None
    for s in samples:
        value = getattr(s, attr)
        if value is None:
            continue
        dist = abs(s.t_s - t_s)
        if dist <= _NEAR_S and (best is None or dist < best[0]):
            best = (dist, float(value))
    return None if best is None else best[1]


def _fit_half_recovery(
    samples: Sequence[RecoverySample], t0: float, span_s: float, peak_within_s: float,
    notes: list[str],
) -> tuple[float | None, float | None]:
    early = [s for s in samples
             if s.heart_rate_bpm is not None and t0 <= s.t_s <= t0 + peak_within_s]
    if early:
        peak = max(early, key=lambda s: (s.heart_rate_bpm or 0.0, -s.t_s))
        t0 = peak.t_s
    points = [
        (s.t_s - t0, s.heart_rate_bpm)
        for s in samples
        if s.heart_rate_bpm is not None and t0 <= s.t_s <= t0 + span_s
    ]
    if len(points) < _MIN_FIT_POINTS:
        notes.append("too few heart-rate values after the session end to fit a recovery curve")
        return None, None
    t = np.array([p[0] for p in points], dtype=float)
    hr = np.array([p[1] for p in points], dtype=float)
    head = float(np.mean(hr[: min(6, len(hr))]))
    tail = float(np.mean(hr[-min(24, len(hr)) :]))
    if head - tail < _MIN_DECLINE_BPM:
        notes.append("heart rate did not come down after the session end: nothing to fit")
        return None, None
    lo = float(hr.min())
    hi = float(hr.max())
    try:
        params, _ = curve_fit(
            _decay,
            t,
            hr,
            p0=(head, min(max(tail, lo - 4.0), hi - 1e-3), max(60.0, float(t[-1]) / 4.0)),
            bounds=((lo, lo - 5.0, 5.0), (hi + 10.0, hi, 2.0 * span_s)),
            maxfev=4000,
        )
    except (RuntimeError, ValueError) as exc:
        notes.append(f"the recovery curve fit did not converge ({exc.__class__.__name__})")
        return None, None
    h0, c, tau = (float(v) for v in params)
    if h0 - c < _MIN_DECLINE_BPM or tau > span_s:
        notes.append("heart rate came down too slowly to fit within the window")
        return None, None
    return tau * math.log(2.0), c


def recovery_metrics(
    samples: Sequence[RecoverySample],
    session_end_s: float,
    baseline: Baseline | None,
    settled_at_s: float | None,
    settings: Settings = DEFAULT_SETTINGS,
) -> RecoveryMetrics:
    """Recovery values of one session from the 5-s samples after its end (pure)."""
    notes: list[str] = []
    after = [s for s in samples if s.t_s >= session_end_s]
    t0 = session_end_s
    time_to_settle = None if settled_at_s is None else settled_at_s - t0
    within = time_to_settle is not None and time_to_settle <= settings.grace_s
    if time_to_settle is None:
        notes.append("readings did not settle near the resting baseline during the recording")
    half, plateau = _fit_half_recovery(after, t0, settings.recovery_fit_span_s,
                                       settings.grace_s, notes)
    residual = None
    base_hr = None if baseline is None else baseline.heart_rate_bpm
    if plateau is not None and base_hr is not None:
        residual = plateau - base_hr
    share = None
    ln0 = _value_near(after, t0, "ln_rmssd")
    ln10 = _value_near(after, t0 + settings.ln_rmssd_recovery_at_s, "ln_rmssd")
    if baseline is None or baseline.ln_rmssd is None:
        notes.append("no ln RMSSD baseline: recovered share not measured")
    elif ln0 is None or ln10 is None:
        notes.append("no ln RMSSD value at the session end or 10 minutes later")
    elif baseline.ln_rmssd - ln0 < _MIN_LN_DEFICIT:
        notes.append("ln RMSSD was already at the resting baseline when the session ended")
    else:
        share = (ln10 - ln0) / (baseline.ln_rmssd - ln0)
    return RecoveryMetrics(
        session_end_s=t0,
        time_to_settle_s=time_to_settle,
        settled_within_grace=within,
        heart_rate_half_recovery_s=half,
        heart_rate_plateau_bpm=plateau,
        heart_rate_residual_bpm=residual,
        ln_rmssd_recovered_share_10min=share,
        heart_rate_at_end_bpm=_value_near(after, t0, "heart_rate_bpm"),
        baseline_heart_rate_bpm=base_hr,
        notes=tuple(notes),
        settle_hold_s=settings.settle_s,
        grace_s=settings.grace_s,
    )
