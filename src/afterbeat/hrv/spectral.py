"""Lomb-Scargle spectra of beat series in ms²/Hz, band powers, respiration rate and coherence.

Pure code. The periodogram works directly on uneven beat times (RR value at the time of the beat
ending it), so gaps inside a window bias nothing: no interpolation, no resampling. It is scaled to
a one-sided power spectral density so that its integral from 0 to the mean Nyquist frequency
(1 / (2 x mean RR)) equals the variance of the RR values (Parseval): PSD = 2 x mean RR (s) x P,
where P is the Lomb-Scargle power (Scargle 1982; scipy's ``normalize=False``). With this scaling
only the bands of interest need computing.

Samples are weighted by the time they stand for (the mean of the interval ending at the beat and
the next one), because beats come closer together when RR is short: the tachogram samples itself
unevenly. Measured: on synthetic broadband series sampled at their own beat times the classical
(unweighted) periodogram over-reads LF and HF by 8-25 % (median; more with strong VLF), the
weighted one by under 2 %; on Kubios series_1 in 5-minute windows the weighted one agrees with a
cubic-spline periodogram of the same window within 12 % (median 2 %), the unweighted one reads HF
about 20 % low. ``weighting="none"`` gives the classical periodogram.

Bands: VLF 0.0033-0.04, LF 0.04-0.15, HF 0.15-0.40 Hz. Respiration: the highest peak in
0.05-0.5 Hz. Coherence (HeartMath, McCraty 2009): the highest peak in 0.04-0.26 Hz, its power
integrated over 0.030 Hz around it, divided by the total power in 0.0033-0.4 Hz minus that peak
power.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "COHERENCE_PEAK_BAND_HZ",
    "COHERENCE_PEAK_WIDTH_HZ",
    "COHERENCE_TOTAL_BAND_HZ",
    "HF_BAND_HZ",
    "LF_BAND_HZ",
    "RESPIRATION_BAND_HZ",
    "VLF_BAND_HZ",
    "RollingLomb",
    "SpectralSummary",
    "Spectrum",
    "band_power_ms2",
    "coherence_ratio",
    "lomb_psd",
    "respiration_rate_bpm",
    "summarize",
    "summarize_spectrum",
]

FloatArray = NDArray[np.float64]

VLF_BAND_HZ = (0.0033, 0.04)
LF_BAND_HZ = (0.04, 0.15)
HF_BAND_HZ = (0.15, 0.40)
RESPIRATION_BAND_HZ = (0.05, 0.5)
COHERENCE_PEAK_BAND_HZ = (0.04, 0.26)
COHERENCE_PEAK_WIDTH_HZ = 0.030
COHERENCE_TOTAL_BAND_HZ = (0.0033, 0.4)

DEFAULT_F_MAX_HZ = 0.5
"""Highest frequency (Hz) computed by default: covers HF and the respiration band."""


@dataclass(frozen=True, slots=True)
class Spectrum:
    """A one-sided PSD (ms²/Hz) on an even frequency grid (Hz) starting at ``df_hz``."""

    freqs_hz: FloatArray
    psd_ms2_per_hz: FloatArray
    df_hz: float
    variance_ms2: float
    """Weighted variance (ms², ddof 0) of the RR values the spectrum came from."""
    span_s: float
    """Time from the first to the last beat (s)."""
    n_beats: int


@dataclass(frozen=True, slots=True)
class SpectralSummary:
    """Band powers (ms²), LF/HF, respiration rate (breaths/min) and coherence of one window."""

    lf_ms2: float
    hf_ms2: float
    lf_hf: float | None
    vlf_ms2: float
    respiration_rate_bpm: float | None
    coherence: float | None
    span_s: float
    n_beats: int


def _lomb_from_sums(yc: NDArray[np.complex128], s2: NDArray[np.complex128], n: float
                    ) -> FloatArray:
    """Lomb-Scargle power from sum w y e^{iwt} (``yc``), sum w e^{2iwt} (``s2``) and sum w."""
    two_wtau = np.angle(s2)
    c = np.cos(two_wtau / 2.0)
    s = np.sin(two_wtau / 2.0)
    a = yc.real * c + yc.imag * s
    b = yc.imag * c - yc.real * s
    # sum w cos²(w(t - tau)) and sum w sin²(w(t - tau)) from |sum w e^{2iwt}|
    cc = (n + np.abs(s2)) / 2.0
    ss = (n - np.abs(s2)) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 0.5 * (a * a / cc + np.where(ss > 1e-12 * n, b * b / ss, 0.0))
    return np.asarray(p, dtype=np.float64)


def _lomb_power_fast(
    t: FloatArray, y: FloatArray, w: FloatArray, df_hz: float, n_freqs: int
) -> FloatArray:
    """Lomb-Scargle power at k x df (k = 1..n_freqs) of mean-removed y, weights w (mean 1).

    exp(i w_k t) is built by complex rotation (a cumulative product along frequency), which costs
    one complex multiply per point instead of a sine and a cosine.
    """
    rot = np.exp(2j * math.pi * df_hz * t)
    e = np.cumprod(np.broadcast_to(rot, (n_freqs, t.size)), axis=0)
    # plain reductions rather than BLAS: no thread start-up on a busy machine for small sizes
    yc = np.einsum("ij,j->i", e, (w * y).astype(np.complex128))  # sum wy cos + i sum wy sin
    s2 = np.einsum("ij,ij,j->i", e, e, w.astype(np.complex128))  # sum w e^{2iwt}
    return _lomb_from_sums(yc, s2, float(w.sum()))


def _lomb_power_scipy(
    t: FloatArray, y: FloatArray, w: FloatArray, df_hz: float, n_freqs: int
) -> FloatArray:
    from scipy.signal import lombscargle

    omega = 2.0 * math.pi * df_hz * np.arange(1, n_freqs + 1)
    return np.asarray(lombscargle(t, y, omega, normalize=False, weights=w), dtype=np.float64)


def _weights(rr: FloatArray, weighting: str) -> FloatArray:
    """Sample weights (mean 1): the time each RR value stands for, or all ones."""
    if weighting == "interval":
        w = np.empty(rr.size)
        w[:-1] = (rr[:-1] + rr[1:]) / 2.0
        w[-1] = rr[-1]
        return np.asarray(w / w.mean(), dtype=np.float64)
    if weighting == "none":
        return np.ones(rr.size)
    raise ValueError(f"unknown weighting {weighting!r}")


def _check(t: FloatArray, rr: FloatArray) -> float:
    if t.shape != rr.shape or t.ndim != 1:
        raise ValueError("t_s and rr_ms must be one-dimensional and of the same length")
    if t.size < 4:
        raise ValueError("at least 4 beats are needed for a spectrum")
    span_s = float(t[-1] - t[0])
    if not span_s > 0.0:
        raise ValueError("beat times must span a positive time")
    return span_s


def _spectrum(rr: FloatArray, w: FloatArray, y: FloatArray, p: FloatArray, df_hz: float,
              span_s: float) -> Spectrum:
    mean_rr_s = float(rr.mean()) / 1000.0
    psd = np.asarray(2.0 * mean_rr_s * p, dtype=np.float64)
    freqs = np.asarray(df_hz * np.arange(1, p.size + 1), dtype=np.float64)
    return Spectrum(freqs_hz=freqs, psd_ms2_per_hz=psd, df_hz=df_hz,
                    variance_ms2=float(np.sum(w * y * y) / w.sum()), span_s=span_s,
                    n_beats=int(rr.size))


def lomb_psd(
    t_s: FloatArray | Sequence[float],
    rr_ms: FloatArray | Sequence[float],
    *,
    f_max_hz: float = DEFAULT_F_MAX_HZ,
    oversampling: float = 2.0,
    df_hz: float | None = None,
    method: Literal["fast", "scipy"] = "fast",
    weighting: Literal["interval", "none"] = "interval",
) -> Spectrum:
    """Lomb-Scargle PSD (ms²/Hz) of RR values (ms) at beat times (s), Parseval-scaled.

    The grid step is ``df_hz`` or else 1 / (oversampling x span). ``method="scipy"`` uses
    ``scipy.signal.lombscargle`` (same values, slower); ``"fast"`` is the default.
    """
    t = np.asarray(t_s, dtype=np.float64)
    rr = np.asarray(rr_ms, dtype=np.float64)
    span_s = _check(t, rr)
    step_hz = df_hz if df_hz is not None else 1.0 / (oversampling * span_s)
    n_freqs = max(1, int(f_max_hz / step_hz))
    w = _weights(rr, weighting)
    y = np.asarray(rr - float(np.sum(w * rr) / w.sum()), dtype=np.float64)
    tc = t - t[0]
    if method == "fast":
        p = _lomb_power_fast(tc, y, w, step_hz, n_freqs)
    elif method == "scipy":
        p = _lomb_power_scipy(tc, y, w, step_hz, n_freqs)
    else:
        raise ValueError(f"unknown method {method!r}")
    return _spectrum(rr, w, y, p, step_hz, span_s)


class RollingLomb:
    """Lomb-Scargle spectra of a sliding beat window on a fixed grid, for live use.

    Each beat's e^{i w t} and e^{2i w t} over the grid are computed once, when it arrives, and
    kept in a ring; a spectrum then costs two matrix-vector products. Same values as
    :func:`lomb_psd` with the same ``df_hz``.
    """

    def __init__(self, *, df_hz: float = 1.0 / 600.0, f_max_hz: float = DEFAULT_F_MAX_HZ,
                 capacity: int = 1024) -> None:
        self.df_hz = df_hz
        self._omega = 2.0 * math.pi * df_hz * np.arange(1, max(1, int(f_max_hz / df_hz)) + 1)
        self._cap = capacity
        self._alloc(capacity)
        self.clear()

    def _alloc(self, capacity: int) -> None:
        nf = self._omega.size
        self._cap = capacity
        self._e = np.empty((2 * capacity, nf), dtype=np.complex128)
        self._e2 = np.empty((2 * capacity, nf), dtype=np.complex128)
        self._t = np.empty(2 * capacity)
        self._rr = np.empty(2 * capacity)

    def clear(self) -> None:
        """Forget every beat."""
        self._start = 0
        self._n = 0
        self._origin_s: float | None = None

    def __len__(self) -> int:
        return self._n

    @property
    def first_t_s(self) -> float | None:
        """Time (s) of the oldest beat held."""
        return float(self._t[self._start % self._cap]) if self._n else None

    @property
    def last_t_s(self) -> float | None:
        """Time (s) of the newest beat held."""
        return float(self._t[(self._start + self._n - 1) % self._cap]) if self._n else None

    def push(self, t_s: float, rr_ms: float) -> None:
        """Add the newest beat: time (s), interval (ms)."""
        if self._n == self._cap:
            self._grow()
        if self._origin_s is None:
            self._origin_s = t_s
        i = (self._start + self._n) % self._cap
        e = np.exp(1j * self._omega * (t_s - self._origin_s))
        e2 = e * e
        for row in (i, i + self._cap):
            self._e[row] = e
            self._e2[row] = e2
            self._t[row] = t_s
            self._rr[row] = rr_ms
        self._n += 1

    def pop_left(self) -> None:
        """Drop the oldest beat."""
        if self._n:
            self._start = (self._start + 1) % self._cap
            self._n -= 1

    def _grow(self) -> None:
        lo = self._start % self._cap
        sl = slice(lo, lo + self._n)
        e, e2, t, rr = self._e[sl].copy(), self._e2[sl].copy(), self._t[sl].copy(), \
            self._rr[sl].copy()
        self._alloc(2 * self._cap)
        n = self._n
        for off in (0, self._cap):
            self._e[off:off + n] = e
            self._e2[off:off + n] = e2
            self._t[off:off + n] = t
            self._rr[off:off + n] = rr
        self._start = 0

    def spectrum(self, weighting: Literal["interval", "none"] = "interval") -> Spectrum:
        """The Parseval-scaled PSD (ms²/Hz) of the beats held."""
        lo = self._start % self._cap
        sl = slice(lo, lo + self._n)
        t = self._t[sl]
        rr = self._rr[sl]
        span_s = _check(t, rr)
        w = _weights(rr, weighting)
        y = np.asarray(rr - float(np.sum(w * rr) / w.sum()), dtype=np.float64)
        # real weights against complex rows: contract over the float64 view (re, im interleaved),
        # a third of the work of a complex product, and no BLAS threads on a busy machine
        yc = np.einsum("i,ij->j", w * y, self._e[sl].view(np.float64)).view(np.complex128)
        s2 = np.einsum("i,ij->j", w, self._e2[sl].view(np.float64)).view(np.complex128)
        p = _lomb_from_sums(yc, s2, float(w.sum()))
        return _spectrum(rr, w, y, p, self.df_hz, span_s)


def band_power_ms2(spectrum: Spectrum, lo_hz: float, hi_hz: float) -> float:
    """Power (ms²) in [lo_hz, hi_hz): the PSD summed over grid points times the step."""
    f = spectrum.freqs_hz
    sel = (f >= lo_hz) & (f < hi_hz)
    return float(spectrum.psd_ms2_per_hz[sel].sum() * spectrum.df_hz)


def _peak_hz(spectrum: Spectrum, lo_hz: float, hi_hz: float) -> float | None:
    """Frequency (Hz) of the highest local peak in [lo_hz, hi_hz], refined by a parabola."""
    f = spectrum.freqs_hz
    p = spectrum.psd_ms2_per_hz
    idx = np.flatnonzero((f >= lo_hz) & (f <= hi_hz))
    if idx.size == 0:
        return None
    k = int(idx[np.argmax(p[idx])])
    if not p[k] > 0.0:
        return None
    if 0 < k < p.size - 1:
        a, b, c = p[k - 1], p[k], p[k + 1]
        denom = a - 2.0 * b + c
        if denom < 0.0:
            shift = 0.5 * (a - c) / denom
            return float(f[k] + max(-0.5, min(0.5, shift)) * spectrum.df_hz)
    return float(f[k])


def respiration_rate_bpm(spectrum: Spectrum) -> float | None:
    """Breaths per minute from the highest peak of the PSD in 0.05-0.5 Hz (RSA)."""
    peak = _peak_hz(spectrum, *RESPIRATION_BAND_HZ)
    return None if peak is None else 60.0 * peak


def coherence_ratio(spectrum: Spectrum) -> float | None:
    """HeartMath coherence ratio: peak power / (total - peak power), both in ms²."""
    f = spectrum.freqs_hz
    p = spectrum.psd_ms2_per_hz
    idx = np.flatnonzero((f >= COHERENCE_PEAK_BAND_HZ[0]) & (f <= COHERENCE_PEAK_BAND_HZ[1]))
    if idx.size == 0:
        return None
    peak_f = float(f[int(idx[np.argmax(p[idx])])])
    half = COHERENCE_PEAK_WIDTH_HZ / 2.0
    peak = float(p[(f >= peak_f - half) & (f <= peak_f + half)].sum() * spectrum.df_hz)
    total = band_power_ms2(spectrum, *COHERENCE_TOTAL_BAND_HZ)
    rest = total - peak
    if not rest > 0.0:
        return None
    return peak / rest


def summarize_spectrum(spec: Spectrum) -> SpectralSummary:
    """LF, HF, VLF (ms²), LF/HF, respiration (breaths/min) and coherence of one spectrum."""
    lf = band_power_ms2(spec, *LF_BAND_HZ)
    hf = band_power_ms2(spec, *HF_BAND_HZ)
    return SpectralSummary(
        lf_ms2=lf,
        hf_ms2=hf,
        lf_hf=lf / hf if hf > 0.0 else None,
        vlf_ms2=band_power_ms2(spec, *VLF_BAND_HZ),
        respiration_rate_bpm=respiration_rate_bpm(spec),
        coherence=coherence_ratio(spec),
        span_s=spec.span_s,
        n_beats=spec.n_beats,
    )


def summarize(
    t_s: FloatArray | Sequence[float],
    rr_ms: FloatArray | Sequence[float],
    *,
    oversampling: float = 2.0,
) -> SpectralSummary:
    """LF, HF, VLF (ms²), LF/HF, respiration (breaths/min) and coherence of one beat window."""
    return summarize_spectrum(lomb_psd(t_s, rr_ms, oversampling=oversampling))
