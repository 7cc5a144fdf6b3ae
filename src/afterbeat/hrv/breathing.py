"""Breathing rate from RR alone, pacer following and a normalised coherence (pure code).

Breathing moves heart rate (respiratory sinus arrhythmia, RSA), so the RR series oscillates at
the breathing rate. At rest the biggest slow oscillation of RR is usually *not* breathing but a
slower heart-rate wave near 0.1 Hz (Mayer waves, VLF drift); taking the largest spectral peak in
0.05-0.5 Hz therefore reads 4-6/min where a belt counts 16/min. :func:`estimate_breathing_rate`
follows the literature on RR-derived respiration (Schaefer & Kratky 2008; Charlton et al. 2016,
2018; Karlen et al. 2013) in six steps, on the trailing ``window_s`` (64 s) of clean beats:

1. Signal checks: the beats must span the window (else ``too_short``), cover it without gaps and
   with at most 5 % corrected beats (else ``poor_signal``; ``corrected`` may weigh each interval
   0-1, so that an ectopic beat, which changes two intervals, counts once, as in the index).
2. RR is resampled evenly at 4 Hz (linear), detrended and Hann-windowed; its periodogram is taken
   on 0.065 Hz (3.9/min) up to 0.6 Hz or 0.45 x the mean heart rate, whichever is lower (RR
   samples breathing once a beat: stay below that Nyquist frequency).
3. Candidates: the RSA candidate is the highest local peak at or above 0.15 Hz (9/min, the
   resting RSA band) that is not a harmonic of the slow candidate (within 0.01 Hz of 2x or 3x
   it, with at most 15 % / 5 % of its power); the slow candidate is the highest peak below.
4. Clarity: a candidate counts only if it holds at least ``min_prominence`` (4) times its fair
   share of its band's power (peak +-0.02 Hz against the band; 1 for a flat spectrum). Under
   white-noise RR the highest peak reaches 4 in about 5 % of windows.
5. RSA prior: the slow candidate is taken only when it stands alone: at least
   ``clear_slow_ratio`` (10) times the RSA candidate and ``slow_power_ratio`` (4) times all the
   RSA-band power beside it (its own main lobe and its harmonics aside). Slow breathing makes
   RSA several times larger than at rest and leaves the RSA band nearly empty; a Mayer wave
   comes with resting breathing beside it. A clear slow rhythm with faster variation beside it
   gives ``competing_peaks``, not a number.
6. Agreement with a time-domain count (Schaefer & Kratky's "advanced counting"): RR band-passed
   around the peak (0.6-1.6 x its frequency) has its breath cycles counted (extremum pairs of
   at least 0.3 x the upper quartile of their sizes); for a slow peak the count is also made on
   the whole band, so that a slow wave with breaths riding on it is not read as slow
   breathing. They must agree within max(2/min, 20 %); else ``estimates_disagree``. The rate
   given is the mean of the spectral and counted rates (Karlen et al.'s fusion).

:func:`pacer_following` answers a different question during a breathing reset, where the pace is
known: what share of the RR variation (0.04-0.5 Hz) lies at the pacer's frequency (+-0.015 Hz;
0-1), on the last 64 s; following when at least 0.5 and the strongest slow oscillation lies
within 1/min of the pacer.
:func:`coherence_share` is the HeartMath coherence ratio (McCraty 2009) mapped to 0-1:
``CR / (1 + CR)`` = power of the highest peak in 0.04-0.26 Hz (+-0.015 Hz) over the total power in
0.0033-0.4 Hz, on the last 64 s.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter, sosfiltfilt

__all__ = [
    "BREATHING_BAND_HZ",
    "BreathingEstimate",
    "BreathingReason",
    "PacerFollowing",
    "coherence_peak",
    "coherence_share",
    "estimate_breathing_rate",
    "pacer_following",
]

FloatArray = NDArray[np.float64]

BREATHING_BAND_HZ = (0.065, 0.6)
"""Frequencies searched (Hz): 3.9 to 36 breaths/min."""
RSA_SPLIT_HZ = 0.15
"""Lower edge (Hz) of the resting RSA band (9/min); below it lie Mayer waves and slow breathing."""
RESAMPLE_HZ = 4.0
PEAK_HALF_WIDTH_HZ = 0.02
HARMONIC_TOL_HZ = 0.01
DEFAULT_WINDOW_S = 64.0
"""Trailing window (s): 4.8 breaths at 4.5/min, as HeartMath's 64 s for coherence."""
MAX_CORRECTED_SHARE = 0.05
MIN_COVERAGE = 0.9
MAX_GAP_S = 3.0
MIN_VARIATION_MS = 1.0
"""Below this SD (ms) of detrended RR there is no rhythm to read (straps resolve about 1 ms)."""
COHERENCE_PEAK_BAND_HZ = (0.04, 0.26)
COHERENCE_TOTAL_BAND_HZ = (0.0033, 0.4)
COHERENCE_HALF_WIDTH_HZ = 0.015
PACER_HALF_WIDTH_HZ = 0.015
PACER_TOTAL_BAND_HZ = (0.04, 0.5)
"""Band (Hz) the pacer share is taken of: a 64-s window cannot resolve VLF drift, which the
breath does not steer, so it is left out."""


class BreathingReason(enum.StrEnum):
    """Why no breathing rate is given (machine-readable)."""

    TOO_SHORT = "too_short"
    """Fewer than ``window_s`` of beats in the current stretch."""
    POOR_SIGNAL = "poor_signal"
    """A gap, low coverage, more than 5 % corrected beats, or unusable values in the window."""
    NO_CLEAR_PEAK = "no_clear_peak"
    """No oscillation stands out from the rest of the heart-rate variation."""
    ESTIMATES_DISAGREE = "estimates_disagree"
    """The spectral peak and the counted breaths give different rates."""
    COMPETING_PEAKS = "competing_peaks"
    """A clear slow rhythm (below 9/min) with faster variation beside it: slow breathing, or a
    slow heart-rate wave with the breath riding on it? Not told apart."""


@dataclass(frozen=True, slots=True)
class BreathingEstimate:
    """A breathing rate (breaths/min) from RR, or None with a reason; what went into it."""

    rate_bpm: float | None
    reason: BreathingReason | None
    """None when ``rate_bpm`` is given."""
    spectral_bpm: float | None = None
    """Frequency of the chosen spectral peak (breaths/min)."""
    count_bpm: float | None = None
    """Breath cycles counted in the RSA-filtered RR (breaths/min)."""
    peak_share: float | None = None
    """Share (0-1) of the band power in the chosen peak: the estimate's clarity."""
    window_s: float = DEFAULT_WINDOW_S

    def to_json(self) -> dict[str, Any]:
        """JSON object with rounded values."""
        def r(v: float | None, d: int) -> float | None:
            return None if v is None else round(v, d)
        return {"rate_bpm": r(self.rate_bpm, 2),
                "reason": None if self.reason is None else str(self.reason),
                "spectral_bpm": r(self.spectral_bpm, 2), "count_bpm": r(self.count_bpm, 2),
                "peak_share": r(self.peak_share, 3), "window_s": self.window_s}


@dataclass(frozen=True, slots=True)
class PacerFollowing:
    """How closely the heart rhythm follows a pacer: share (0-1) of RR power at its rate."""

    pacer_bpm: float
    share: float | None
    """Power within +-0.015 Hz of the pacer frequency over the power in 0.04-0.5 Hz."""
    peak_bpm: float | None
    """Rate (breaths/min) of the strongest oscillation in 0.04-0.26 Hz."""
    following: bool | None
    """share >= ``min_share`` and the strongest oscillation within 1/min of the pacer."""
    reason: BreathingReason | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON object with rounded values."""
        return {"pacer_bpm": round(self.pacer_bpm, 2),
                "share": None if self.share is None else round(self.share, 3),
                "peak_bpm": None if self.peak_bpm is None else round(self.peak_bpm, 2),
                "following": self.following,
                "reason": None if self.reason is None else str(self.reason)}


# --------------------------------------------------------------------------------------------
# Shared steps


@dataclass(frozen=True, slots=True)
class _Even:
    x: FloatArray
    """Detrended RR (ms) at RESAMPLE_HZ."""
    mean_rr_ms: float


def _window(
    t_s: FloatArray | Sequence[float],
    rr_ms: FloatArray | Sequence[float],
    window_s: float,
    end_t_s: float | None,
    corrected: Sequence[bool] | Sequence[float] | NDArray[np.bool_] | FloatArray | None,
) -> tuple[_Even | None, BreathingReason | None]:
    """Checked, evenly resampled, detrended trailing window, or the reason it is unusable."""
    t = np.asarray(t_s, dtype=np.float64)
    rr = np.asarray(rr_ms, dtype=np.float64)
    if t.shape != rr.shape or t.ndim != 1:
        raise ValueError("t_s and rr_ms must be one-dimensional and of the same length")
    if t.size == 0:
        return None, BreathingReason.TOO_SHORT
    end = float(t[-1]) if end_t_s is None else float(end_t_s)
    sel = (t > end - window_s) & (t <= end)
    if corrected is not None:
        # True/False per interval, or a weight 0-1 (the live path: an ectopic beat changes two
        # intervals, each counting half, as the index's quality rule counts corrected beats).
        c = np.asarray(corrected, dtype=np.float64)
        if c.shape != t.shape:
            raise ValueError("corrected must have the length of t_s")
        if sel.sum() and c[sel].mean() > MAX_CORRECTED_SHARE:
            return None, BreathingReason.POOR_SIGNAL
    t = t[sel]
    rr = rr[sel]
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(rr)) and np.all(rr > 0.0)
            and np.all(np.diff(t) > 0.0)):
        return None, BreathingReason.POOR_SIGNAL
    if t.size < 8:
        return None, BreathingReason.TOO_SHORT
    first_start_s = float(t[0] - rr[0] / 1000.0)
    if end - first_start_s < 0.95 * window_s:
        return None, BreathingReason.TOO_SHORT
    if np.any(np.diff(t) > MAX_GAP_S) or float(rr.sum()) / 1000.0 < MIN_COVERAGE * window_s \
            or end - float(t[-1]) > MAX_GAP_S:
        return None, BreathingReason.POOR_SIGNAL
    grid = np.arange(float(t[0]), float(t[-1]), 1.0 / RESAMPLE_HZ)
    if grid.size < 32:
        return None, BreathingReason.TOO_SHORT
    x = np.interp(grid, t, rr)
    n = np.arange(x.size, dtype=np.float64)
    slope, intercept = np.polyfit(n, x, 1)
    x = x - (slope * n + intercept)
    if float(np.std(x)) < MIN_VARIATION_MS:
        return None, BreathingReason.NO_CLEAR_PEAK
    return _Even(np.asarray(x, dtype=np.float64), float(rr.mean())), None


def _periodogram(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Hann-windowed periodogram (ms²/Hz) on a grid of about 0.002 Hz: (freqs, psd)."""
    w = np.hanning(x.size)
    nfft = max(2048, 1 << (x.size - 1).bit_length())
    spec = np.fft.rfft(x * w, nfft)
    psd = (np.abs(spec) ** 2) * 2.0 / (RESAMPLE_HZ * float(np.sum(w * w)))
    f = np.fft.rfftfreq(nfft, 1.0 / RESAMPLE_HZ)
    return np.asarray(f, dtype=np.float64), np.asarray(psd, dtype=np.float64)


def _power(f: FloatArray, p: FloatArray, lo_hz: float, hi_hz: float) -> float:
    sel = (f >= lo_hz) & (f <= hi_hz)
    return float(p[sel].sum() * (f[1] - f[0]))


def _refine(f: FloatArray, p: FloatArray, k: int) -> float:
    """Peak frequency (Hz) refined by a parabola through bin k and its neighbours."""
    if 0 < k < p.size - 1:
        a, b, c = float(p[k - 1]), float(p[k]), float(p[k + 1])
        denom = a - 2.0 * b + c
        if denom < 0.0:
            return float(f[k] + max(-0.5, min(0.5, 0.5 * (a - c) / denom)) * (f[1] - f[0]))
    return float(f[k])


@dataclass(frozen=True, slots=True)
class _Peak:
    f_hz: float
    power: float


def _peaks(f: FloatArray, p: FloatArray, lo_hz: float, hi_hz: float) -> list[_Peak]:
    """Local maxima in [lo, hi] with their power (+-PEAK_HALF_WIDTH_HZ, inside the band)."""
    idx = np.flatnonzero((f >= lo_hz) & (f <= hi_hz))
    idx = idx[(idx > 0) & (idx < f.size - 1)]
    ks = idx[(p[idx] > p[idx - 1]) & (p[idx] >= p[idx + 1])]
    out = []
    for k in ks:
        fk = _refine(f, p, int(k))
        out.append(_Peak(fk, _power(f, p, max(lo_hz, fk - PEAK_HALF_WIDTH_HZ),
                                    min(hi_hz, fk + PEAK_HALF_WIDTH_HZ))))
    return out


@functools.lru_cache(maxsize=512)
def _bandpass(lo_hz: float, hi_hz: float) -> FloatArray:
    """Second-order Butterworth band-pass (second-order sections) at RESAMPLE_HZ; cached."""
    nyq = RESAMPLE_HZ / 2.0
    sos = butter(2, [lo_hz / nyq, hi_hz / nyq], btype="bandpass", output="sos")
    return np.asarray(sos, dtype=np.float64)


def _count_rate_bpm(x: FloatArray, lo_hz: float, hi_hz: float) -> float | None:
    """Breaths/min counted in x band-passed to [lo, hi] (Schaefer & Kratky's advanced counting).

    Extrema of the filtered signal are found; pairs (maximum to next minimum) smaller than 0.3 x
    the upper quartile of all pair sizes are merged away; the rate is the number of cycles
    between the first and last remaining maximum over the time between them.
    """
    nyq = RESAMPLE_HZ / 2.0
    lo = max(lo_hz, 0.01)
    hi = min(hi_hz, 0.95 * nyq)
    if not hi > lo:
        return None
    y = sosfiltfilt(_bandpass(round(lo, 3), round(hi, 3)), x)
    d = np.diff(y)
    ext = np.flatnonzero(np.sign(d[1:]) != np.sign(d[:-1])) + 1
    if ext.size < 4:
        return None
    vals = list(y[ext])
    pos = list(ext)
    while True:
        sizes = np.abs(np.diff(vals))
        if sizes.size < 3:
            return None
        thr = 0.3 * float(np.quantile(sizes, 0.75))
        k = int(np.argmin(sizes))
        if sizes[k] >= thr:
            break
        # drop the smallest swing: remove both extrema of it (keeps max/min alternating)
        del vals[k:k + 2]
        del pos[k:k + 2]
    maxima = [pos[i] for i in range(1, len(vals) - 1)
              if vals[i] > vals[i - 1] and vals[i] > vals[i + 1]]
    if len(maxima) < 3:
        return None
    return 60.0 * (len(maxima) - 1) / ((maxima[-1] - maxima[0]) / RESAMPLE_HZ)


HARMONIC_MAX_POWER = {2: 0.15, 3: 0.05}
"""A peak at 2x (3x) a slow peak counts as its harmonic only with at most this share of its
power: the RSA of a breath carries a 2nd harmonic of at most about 40 % of the fundamental's
amplitude, a 3rd of about 20 %; stronger ones are a rhythm of their own."""


def _multiple_of(k: _Peak, low: _Peak) -> int | None:
    """2 or 3 when peak k lies within HARMONIC_TOL_HZ of that multiple of the slow peak."""
    for m in (2, 3):
        if abs(k.f_hz - m * low.f_hz) <= HARMONIC_TOL_HZ:
            return m
    return None


def _is_harmonic(k: _Peak, low: _Peak | None) -> bool:
    """Whether peak k is a harmonic of the slow peak: at a multiple, and weak enough."""
    if low is None:
        return False
    m = _multiple_of(k, low)
    return m is not None and k.power <= HARMONIC_MAX_POWER[m] * low.power


MAIN_LOBE_HZ = 2.0 / DEFAULT_WINDOW_S
"""Half-width (Hz) of a Hann window's main lobe on 64 s: a peak's own spill-over."""


def _rsa_power_beside(f: FloatArray, p: FloatArray, low: _Peak, harmonics: Sequence[_Peak],
                      hi_hz: float) -> float:
    """RSA-band power (ms²) beside a slow peak: above its own main lobe, harmonics left out."""
    sel = (f >= max(RSA_SPLIT_HZ, low.f_hz + MAIN_LOBE_HZ)) & (f <= hi_hz)
    for k in harmonics:
        sel &= np.abs(f - k.f_hz) > PEAK_HALF_WIDTH_HZ
    return float(p[sel].sum() * (f[1] - f[0]))


def _prominence(k: _Peak, band_power: float, band_width_hz: float) -> float:
    """How many times its fair share of the band's power a peak (+-0.02 Hz) holds.

    1 for a flat spectrum; under white-noise RR the highest peak reaches 4 in about 5 % of 64-s
    windows, in the RSA band and in the whole band alike (simulated: 400 windows each).
    """
    if not band_power > 0.0:
        return 0.0
    return k.power / band_power * band_width_hz / (2.0 * PEAK_HALF_WIDTH_HZ)


def _agree(a_bpm: float, b_bpm: float) -> bool:
    return abs(a_bpm - b_bpm) <= max(2.0, 0.2 * min(a_bpm, b_bpm))


# --------------------------------------------------------------------------------------------
# Public


def estimate_breathing_rate(
    t_s: FloatArray | Sequence[float],
    rr_ms: FloatArray | Sequence[float],
    *,
    end_t_s: float | None = None,
    window_s: float = DEFAULT_WINDOW_S,
    corrected: Sequence[bool] | Sequence[float] | NDArray[np.bool_] | FloatArray | None = None,
    slow_power_ratio: float = 4.0,
    clear_slow_ratio: float = 10.0,
    min_prominence: float = 4.0,
) -> BreathingEstimate:
    """Breaths/min from clean beats (times s, RR ms) in the trailing ``window_s`` (see module).

    ``end_t_s`` ends the window (default: the last beat); ``corrected`` marks corrected beats.
    Returns a rate, or None with a :class:`BreathingReason`.
    """
    even, why = _window(t_s, rr_ms, window_s, end_t_s, corrected)
    if even is None:
        return BreathingEstimate(None, why, window_s=window_s)
    f, p = _periodogram(even.x)
    lo = BREATHING_BAND_HZ[0]
    hi = min(BREATHING_BAND_HZ[1], 0.45 * 1000.0 / even.mean_rr_ms)
    peaks = _peaks(f, p, lo, hi)
    slow = [k for k in peaks if k.f_hz < RSA_SPLIT_HZ]
    low = max(slow, key=lambda k: k.power) if slow else None
    near_multiple = [k for k in peaks if low is not None and k.f_hz >= RSA_SPLIT_HZ
                     and _multiple_of(k, low) is not None]
    harmonics = [k for k in near_multiple if _is_harmonic(k, low)]
    rsa = [k for k in peaks if k.f_hz >= RSA_SPLIT_HZ and k not in harmonics]
    high = max(rsa, key=lambda k: k.power) if rsa else None
    if high is None and low is None:
        return BreathingEstimate(None, BreathingReason.NO_CLEAR_PEAK, window_s=window_s)
    rsa_power = _power(f, p, RSA_SPLIT_HZ, hi)
    all_power = _power(f, p, lo, hi)
    # the RSA-band candidate: clear in its band and confirmed by counting around it
    high_clear = high is not None \
        and _prominence(high, rsa_power, hi - RSA_SPLIT_HZ) >= min_prominence
    high_count = (_count_rate_bpm(even.x, 0.6 * high.f_hz, min(hi, 1.6 * high.f_hz))
                  if high is not None and high_clear else None)
    high_ok = high_clear and high_count is not None and high is not None \
        and _agree(high_count, 60.0 * high.f_hz)
    # the slow candidate: clear in the whole band; no independent rhythm in the RSA band of
    # more than 1/clear_slow_ratio of its power, and the RSA band as a whole (harmonics aside)
    # under 1/slow_power_ratio of it; the whole signal (not only a band around it) oscillating
    # at its rate
    low_clear = low is not None and _prominence(low, all_power, hi - lo) >= min_prominence
    low_alone = low_clear and low is not None \
        and (high is None or low.power >= clear_slow_ratio * high.power) \
        and low.power >= slow_power_ratio * _rsa_power_beside(f, p, low, harmonics, hi)
    low_ok = low_alone
    low_count: float | None = None
    if low_ok and low is not None:
        low_count = _count_rate_bpm(even.x, 0.6 * low.f_hz, min(hi, 1.6 * low.f_hz))
        broad = _count_rate_bpm(even.x, lo, hi)
        low_ok = (low_count is not None and broad is not None
                  and _agree(low_count, 60.0 * low.f_hz) and _agree(broad, 60.0 * low.f_hz))
    if low_ok:
        assert low is not None and low_count is not None
        chosen, count, share = low, low_count, low.power / all_power
    elif high_ok and high is not None and low is not None \
            and low.power >= slow_power_ratio * high.power:
        # a slow rhythm 4-10 times as strong as a faster one (or a strong multiple of it):
        # slow breathing with a rhythm beside it, or a slow wave with breathing? Say so.
        return BreathingEstimate(None, BreathingReason.COMPETING_PEAKS,
                                 spectral_bpm=60.0 * high.f_hz, count_bpm=high_count,
                                 peak_share=high.power / rsa_power, window_s=window_s)
    elif high_ok:
        assert high is not None and high_count is not None
        chosen, count, share = high, high_count, high.power / rsa_power
    else:
        best = high if high is not None and (low is None or high.power >= low.power) else low
        assert best is not None
        share = best.power / all_power if all_power > 0.0 else 0.0
        if low_clear and not low_alone:
            reason = BreathingReason.COMPETING_PEAKS
        elif high_clear or low_clear:
            reason = BreathingReason.ESTIMATES_DISAGREE
        else:
            reason = BreathingReason.NO_CLEAR_PEAK
        return BreathingEstimate(None, reason, spectral_bpm=60.0 * best.f_hz,
                                 peak_share=share, window_s=window_s)
    spectral = 60.0 * chosen.f_hz
    return BreathingEstimate((spectral + count) / 2.0, None, spectral_bpm=spectral,
                             count_bpm=count, peak_share=share, window_s=window_s)


def pacer_following(
    t_s: FloatArray | Sequence[float],
    rr_ms: FloatArray | Sequence[float],
    pacer_bpm: float,
    *,
    end_t_s: float | None = None,
    window_s: float = DEFAULT_WINDOW_S,
    corrected: Sequence[bool] | Sequence[float] | NDArray[np.bool_] | FloatArray | None = None,
    min_share: float = 0.5,
) -> PacerFollowing:
    """Share (0-1) of RR power (0.04-0.5 Hz) within +-0.015 Hz of the pacer rate, last 64 s.

    ``following`` is True when the share is at least ``min_share`` and the strongest
    oscillation in 0.04-0.26 Hz lies within 1/min of the pacer.
    """
    if not (math.isfinite(pacer_bpm) and 2.0 <= pacer_bpm <= 30.0):
        raise ValueError(f"pacer_bpm must lie in 2-30 breaths/min, got {pacer_bpm!r}")
    even, why = _window(t_s, rr_ms, window_s, end_t_s, corrected)
    if even is None:
        return PacerFollowing(pacer_bpm, None, None, None, why)
    f, p = _periodogram(even.x)
    fp = pacer_bpm / 60.0
    total = _power(f, p, *PACER_TOTAL_BAND_HZ)
    if not total > 0.0:
        return PacerFollowing(pacer_bpm, None, None, None, BreathingReason.NO_CLEAR_PEAK)
    share = _power(f, p, fp - PACER_HALF_WIDTH_HZ, fp + PACER_HALF_WIDTH_HZ) / total
    sel = np.flatnonzero((f >= COHERENCE_PEAK_BAND_HZ[0]) & (f <= COHERENCE_PEAK_BAND_HZ[1]))
    peak_bpm = 60.0 * _refine(f, p, int(sel[np.argmax(p[sel])]))
    following = share >= min_share and abs(peak_bpm - pacer_bpm) <= 1.0
    return PacerFollowing(pacer_bpm, min(1.0, share), peak_bpm, following)


def coherence_peak(
    t_s: FloatArray | Sequence[float],
    rr_ms: FloatArray | Sequence[float],
    *,
    end_t_s: float | None = None,
    window_s: float = DEFAULT_WINDOW_S,
    corrected: Sequence[bool] | Sequence[float] | NDArray[np.bool_] | FloatArray | None = None,
) -> tuple[float, float] | None:
    """(normalised coherence 0-1, its peak rate in breaths/min) on the trailing 64 s.

    Coherence: power (ms²) within +-0.015 Hz of the highest peak in 0.04-0.26 Hz over the
    power in 0.0033-0.4 Hz, i.e. HeartMath's CR / (1 + CR) (McCraty et al. 2009). None when
    the window is unusable.
    """
    even, _ = _window(t_s, rr_ms, window_s, end_t_s, corrected)
    if even is None:
        return None
    f, p = _periodogram(even.x)
    sel = np.flatnonzero((f >= COHERENCE_PEAK_BAND_HZ[0]) & (f <= COHERENCE_PEAK_BAND_HZ[1]))
    k = int(sel[np.argmax(p[sel])])
    fk = float(f[k])
    total = _power(f, p, *COHERENCE_TOTAL_BAND_HZ)
    if not total > 0.0:
        return None
    peak = _power(f, p, fk - COHERENCE_HALF_WIDTH_HZ, fk + COHERENCE_HALF_WIDTH_HZ)
    return min(1.0, peak / total), 60.0 * _refine(f, p, k)


def coherence_share(
    t_s: FloatArray | Sequence[float],
    rr_ms: FloatArray | Sequence[float],
    *,
    end_t_s: float | None = None,
    window_s: float = DEFAULT_WINDOW_S,
    corrected: Sequence[bool] | Sequence[float] | NDArray[np.bool_] | FloatArray | None = None,
) -> float | None:
    """Normalised coherence (0-1): HeartMath's CR / (1 + CR) on the trailing 64 s.

    Power (ms²) within +-0.015 Hz of the highest peak in 0.04-0.26 Hz over the power in
    0.0033-0.4 Hz (McCraty et al. 2009). None when the window is unusable.
    """
    got = coherence_peak(t_s, rr_ms, end_t_s=end_t_s, window_s=window_s, corrected=corrected)
    return None if got is None else got[0]
