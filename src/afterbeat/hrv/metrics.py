"""Batch HRV metrics on RR series (ms), with Kubios HRV's conventions (pure numpy/scipy).

Every function takes RR intervals in milliseconds and, where it matters, a ``segment`` array
(one integer per beat; beats of one segment are contiguous and a new segment follows every
gap). No successive difference, spline, window or template ever spans a segment boundary.

Conventions (Task Force 1996; Kubios HRV 3.1):
- SDNN with ddof=1; RMSSD, pNNxx and SD1 over the successive differences inside segments
  (N-1 of them for a single segment); mean HR = 60000 / mean RR; min/max HR from single beats.
- Spectrum: cubic spline of the RR series at 4 Hz from the first beat of a segment, mean
  removed, Welch with a 300 s Hann window (MATLAB's ``hanning``: no zero end points), 50 %
  overlap, nfft = 1200; a segment shorter than 300 s is one window of its own length,
  zero-padded. See ``band_powers`` for the band integration.
- DFA (Peng 1995): profile of the mean-removed series, non-overlapping windows from the start,
  linear fit per window, F(n) = root of the mean squared residual over all windows.
- SampEn (Richman & Moorman 2000): m = 2, r = 0.2 SD (ddof=1), the same N-m templates for
  lengths m and m+1, matches when the Chebyshev distance is <= r, self-matches excluded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from scipy.interpolate import CubicSpline
from scipy.linalg import solveh_banded
from scipy.signal import welch
from scipy.spatial import cKDTree

from afterbeat.errors import AfterbeatError

__all__ = [
    "BandPowers",
    "InsufficientData",
    "Spectrum",
    "band_powers",
    "dfa_alpha",
    "heart_rate_bpm_stats",
    "hrv_spectrum",
    "interpolate_rr",
    "mean_rr_ms",
    "pnn_pct",
    "poincare_sd_ms",
    "respiration_rate_bpm",
    "rmssd_ms",
    "sample_entropy",
    "sdnn_ms",
    "segment_bounds",
    "smoothness_priors_detrend",
    "successive_differences_ms",
    "welch_psd",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

INTERPOLATION_HZ: Final = 4.0
WELCH_WINDOW_S: Final = 300.0
SPECTRUM_CHUNK_SAMPLES: Final = 2**20
"""Segments longer than this many 4 Hz samples (about 73 h) get their spectrum a chunk at a
time (bounded memory); shorter ones are computed whole."""
_DETREND_MARGIN_SAMPLES: Final = 4096
_SPLINE_MARGIN_KNOTS: Final = 128
MIN_SPECTRUM_SPAN_S: Final = 120.0
"""Shortest segment (s) a spectrum is computed on (about two minutes for LF, Task Force)."""
MIN_VLF_SPAN_S: Final = 240.0
"""Shortest spectral window (s) for VLF and total power (a 0.04 Hz cycle lasts 25 s)."""
VLF_BAND_HZ: Final = (0.0, 0.04)
LF_BAND_HZ: Final = (0.04, 0.15)
HF_BAND_HZ: Final = (0.15, 0.4)
RESPIRATION_BAND_HZ: Final = (0.05, 0.5)
SMOOTHNESS_PRIORS_LAMBDA: Final = 500.0
KUBIOS_GRID_HZ: Final = 0.001
"""Kubios integrates band powers on the PSD linearly interpolated to a 1 mHz grid."""
DFA_ALPHA1_SCALES: Final = tuple(range(4, 17))
DFA_ALPHA2_SCALES: Final = tuple(range(17, 65))
MIN_DFA_WINDOWS: Final = 4
"""Windows (at the largest scale) that a DFA exponent needs."""
MIN_DFA_ALPHA1_BEATS: Final = 100
MIN_SAMPEN_BEATS: Final = 200
"""Richman & Moorman: 10^m to 20^m points for m = 2."""

Integration = Literal["kubios", "bins"]
Detrend = Literal["smoothness-priors", "none"]
SampEnVariant = Literal["richman-moorman", "kubios"]


class InsufficientData(AfterbeatError, ValueError):
    """Too few beats (or too short a segment) for a metric; the message says what is needed."""


# --------------------------------------------------------------------------------------------
# Segments and time domain


def _as_float(rr_ms: npt.ArrayLike) -> FloatArray:
    return np.asarray(rr_ms, dtype=np.float64).reshape(-1)


def segment_bounds(segment: npt.ArrayLike | None, n: int) -> list[tuple[int, int]]:
    """Half-open index ranges [start, stop) of the contiguous runs of equal segment numbers."""
    if n == 0:
        return []
    if segment is None:
        return [(0, n)]
    seg = np.asarray(segment).reshape(-1)
    if seg.size != n:
        raise ValueError(f"segment has {seg.size} entries for {n} beats")
    cuts = np.flatnonzero(seg[1:] != seg[:-1]) + 1
    starts = np.r_[0, cuts]
    stops = np.r_[cuts, n]
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


def successive_differences_ms(
    rr_ms: npt.ArrayLike, segment: npt.ArrayLike | None = None
) -> FloatArray:
    """Differences of adjacent RR intervals (ms) inside segments, never across a gap."""
    rr = _as_float(rr_ms)
    d = np.diff(rr)
    if segment is None or d.size == 0:
        return d
    seg = np.asarray(segment).reshape(-1)
    return np.asarray(d[seg[1:] == seg[:-1]], dtype=np.float64)


def mean_rr_ms(rr_ms: npt.ArrayLike) -> float:
    """Mean RR interval (ms)."""
    rr = _as_float(rr_ms)
    if rr.size == 0:
        raise InsufficientData("no beats")
    return float(rr.mean())


def sdnn_ms(rr_ms: npt.ArrayLike) -> float:
    """Standard deviation of the RR intervals (ms), ddof=1."""
    rr = _as_float(rr_ms)
    if rr.size < 2:
        raise InsufficientData("SDNN needs at least 2 beats")
    return float(rr.std(ddof=1))


def rmssd_ms(rr_ms: npt.ArrayLike, segment: npt.ArrayLike | None = None) -> float:
    """Root mean square of successive differences (ms) inside segments."""
    d = successive_differences_ms(rr_ms, segment)
    if d.size == 0:
        raise InsufficientData("RMSSD needs at least 2 consecutive beats")
    return float(math.sqrt(float(np.mean(d * d))))


def pnn_pct(
    rr_ms: npt.ArrayLike, threshold_ms: float = 50.0, segment: npt.ArrayLike | None = None
) -> float:
    """Share (%) of successive differences whose size exceeds ``threshold_ms`` (over N-1)."""
    d = successive_differences_ms(rr_ms, segment)
    if d.size == 0:
        raise InsufficientData("pNNxx needs at least 2 consecutive beats")
    return float(100.0 * np.count_nonzero(np.abs(d) > threshold_ms) / d.size)


def heart_rate_bpm_stats(rr_ms: npt.ArrayLike) -> tuple[float, float, float]:
    """Mean HR (60000 / mean RR), min HR (longest beat) and max HR (shortest beat), in bpm."""
    rr = _as_float(rr_ms)
    if rr.size == 0:
        raise InsufficientData("no beats")
    return 60000.0 / float(rr.mean()), 60000.0 / float(rr.max()), 60000.0 / float(rr.min())


def poincare_sd_ms(
    rr_ms: npt.ArrayLike, segment: npt.ArrayLike | None = None
) -> tuple[float, float]:
    """Poincare SD1 and SD2 (ms): SD (ddof=1) of (RR[n] -/+ RR[n+1]) / sqrt(2), within segments.

    Equal to SDSD/sqrt(2) and, up to end effects, sqrt(2 SDNN^2 - SD1^2) (Brennan 2001); the
    direct form is what Kubios reports (SD2 to 1e-8 on its reference series).
    """
    rr = _as_float(rr_ms)
    if rr.size < 3:
        raise InsufficientData("SD1/SD2 need at least 3 consecutive beats")
    keep = np.ones(rr.size - 1, dtype=np.bool_)
    if segment is not None:
        seg = np.asarray(segment).reshape(-1)
        keep = seg[1:] == seg[:-1]
    if np.count_nonzero(keep) < 2:
        raise InsufficientData("SD1/SD2 need at least 3 consecutive beats")
    x1 = (rr[:-1] - rr[1:])[keep] / math.sqrt(2.0)
    x2 = (rr[:-1] + rr[1:])[keep] / math.sqrt(2.0)
    return float(x1.std(ddof=1)), float(x2.std(ddof=1))


# --------------------------------------------------------------------------------------------
# Detrending, interpolation, spectrum


def smoothness_priors_detrend(
    x: npt.ArrayLike, lambda_: float = SMOOTHNESS_PRIORS_LAMBDA
) -> FloatArray:
    """Remove the smoothness-priors trend (Tarvainen 2002): (I - (I + l^2 D2'D2)^-1) x.

    Solved as a symmetric pentadiagonal (banded Cholesky) system in O(N), so a 24-hour series
    at 4 Hz takes milliseconds. The trend includes the mean, so the output is near zero-mean.
    References: Tarvainen, Ranta-aho & Karjalainen, IEEE TBME 49(2):172-175, 2002.
    """
    z = _as_float(x)
    n = z.size
    if n < 3:
        return z - z.mean() if n else z.copy()
    lam2 = float(lambda_) ** 2
    # lam2 * D2'D2 (+ I on the diagonal) for the second-difference operator D2 ((n-2) x n),
    # stored as upper bands in Fortran order, filled in place (LAPACK then needs no copy).
    ab = np.empty((3, n), order="F")
    ab[0, :2] = 0.0
    ab[0, 2:] = lam2 * 1.0
    ab[1, 0] = 0.0
    ab[1, 1:] = lam2 * -4.0
    ab[1, [1, -1]] = lam2 * -2.0
    ab[2, :] = 1.0 + lam2 * 6.0
    ab[2, [0, -1]] = 1.0 + lam2 * 1.0
    ab[2, [1, -2]] = 1.0 + lam2 * 5.0
    if n == 3:
        ab[2, 1] = 1.0 + lam2 * 4.0
    trend = solveh_banded(ab, z, overwrite_ab=True, check_finite=False)
    return np.asarray(np.subtract(z, trend, out=trend), dtype=np.float64)


def interpolate_rr(
    rr_ms: npt.ArrayLike, fs_hz: float = INTERPOLATION_HZ
) -> FloatArray:
    """RR (ms) of one segment as an even series at ``fs_hz``: cubic spline from the first beat.

    Beat times are the cumulative sum of the RR intervals, as in Kubios.
    """
    rr = _as_float(rr_ms)
    if rr.size < 4:
        raise InsufficientData("interpolation needs at least 4 beats")
    t_s = np.cumsum(rr) / 1000.0
    n = int(math.floor((t_s[-1] - t_s[0]) * fs_hz + 1e-9)) + 1
    grid_s = t_s[0] + np.arange(n) / fs_hz
    return np.asarray(CubicSpline(t_s, rr)(grid_s), dtype=np.float64)


def _matlab_hanning(n: int) -> FloatArray:
    """MATLAB's ``hanning(n)``: a symmetric Hann window without its zero end points."""
    k = np.arange(1, n + 1)
    return np.asarray(0.5 - 0.5 * np.cos(2.0 * np.pi * k / (n + 1)), dtype=np.float64)


def welch_psd(
    x: npt.ArrayLike, fs_hz: float = INTERPOLATION_HZ, window_s: float = WELCH_WINDOW_S
) -> tuple[FloatArray, FloatArray, int]:
    """One-sided Welch PSD (units^2/Hz) of an even series, its frequencies (Hz), window count.

    Hann windows of ``window_s`` with 50 % overlap and nfft = window length; a shorter series
    is one window of its own length, zero-padded to the same nfft (Kubios' behaviour).
    """
    data = _as_float(x)
    nfft = int(round(window_s * fs_hz))
    length = min(nfft, data.size)
    if length < 8:
        raise InsufficientData("spectrum needs a longer series")
    n_windows = 1 + (data.size - length) // (length // 2)
    freq, psd = welch(
        data, fs=fs_hz, window=_matlab_hanning(length), nperseg=length,
        noverlap=length // 2, nfft=nfft, detrend=False, scaling="density",
    )
    return np.asarray(freq, np.float64), np.asarray(psd, np.float64), int(n_windows)


@dataclass(frozen=True, slots=True)
class Spectrum:
    """An averaged RR power spectrum: frequencies (Hz), PSD (ms^2/Hz) and what it rests on."""

    freq_hz: FloatArray
    psd_ms2_per_hz: FloatArray
    window_s: float
    """Length of each Welch window (s); shorter than 300 s only for a short recording."""
    n_windows: int
    span_s: float
    """Total time (s) of the segments that went into the spectrum."""
    n_segments: int


def hrv_spectrum(
    rr_ms: npt.ArrayLike,
    segment: npt.ArrayLike | None = None,
    *,
    detrend: Detrend = "none",
    fs_hz: float = INTERPOLATION_HZ,
    window_s: float = WELCH_WINDOW_S,
    chunk_samples: int = SPECTRUM_CHUNK_SAMPLES,
) -> Spectrum:
    """Welch spectrum of the RR series (ms^2/Hz), never interpolating across a segment gap.

    Each segment is interpolated, detrended (optional smoothness priors, lambda 500 on the 4 Hz
    series: about 0.035 Hz cut-off, as Kubios states) and mean-removed on its own. When some
    segments last at least one full window, the Welch windows of all such segments are averaged
    with equal weight (Welch over their union); otherwise the longest segment alone is used,
    as one zero-padded window, if it lasts at least ``MIN_SPECTRUM_SPAN_S``. Segments are
    processed one at a time; one longer than ``chunk_samples`` (4 Hz samples) is interpolated,
    detrended and windowed a chunk at a time with overlapping margins (``_chunked_psd``), so
    memory stays bounded by the chunk whatever the recording's length.
    """
    rr = _as_float(rr_ms)
    bounds = [(a, b) for a, b in segment_bounds(segment, rr.size) if b - a >= 4]
    sizes = [_grid_size(rr[a:b], fs_hz) for a, b in bounds]
    full = int(round(window_s * fs_hz))
    chosen = [i for i, size in enumerate(sizes) if size >= full]
    if not chosen:
        longest = max(range(len(sizes)), key=lambda i: sizes[i], default=None)
        if longest is None or (sizes[longest] - 1) / fs_hz < MIN_SPECTRUM_SPAN_S:
            raise InsufficientData(
                f"spectrum needs a gap-free stretch of at least {MIN_SPECTRUM_SPAN_S:.0f} s"
            )
        chosen = [longest]
    parts: list[tuple[FloatArray, FloatArray, int]] = []
    for i in chosen:
        a, b = bounds[i]
        if sizes[i] <= chunk_samples:
            x = interpolate_rr(rr[a:b], fs_hz)
            x = smoothness_priors_detrend(x) if detrend == "smoothness-priors" else x
            parts.append(welch_psd(x - x.mean(), fs_hz, window_s))
        else:
            parts.append(_chunked_psd(rr[a:b], sizes[i], detrend, fs_hz, window_s,
                                      chunk_samples))
    freq = parts[0][0]
    n_windows = sum(k for _, _, k in parts)
    total: FloatArray = np.sum([psd * k for _, psd, k in parts], axis=0, dtype=np.float64)
    return Spectrum(
        freq_hz=freq,
        psd_ms2_per_hz=np.asarray(total / n_windows, dtype=np.float64),
        window_s=min(full, sizes[chosen[0]]) / fs_hz,
        n_windows=n_windows,
        span_s=float(sum(sizes[i] for i in chosen)) / fs_hz,
        n_segments=len(chosen),
    )


def _grid_size(rr: FloatArray, fs_hz: float) -> int:
    """Number of ``fs_hz`` samples ``interpolate_rr`` makes of one segment's RR (ms)."""
    t_s = np.cumsum(rr) / 1000.0
    return int(math.floor((t_s[-1] - t_s[0]) * fs_hz + 1e-9)) + 1


def _detrended_range(
    t_s: FloatArray, rr: FloatArray, size: int, lo: int, hi: int, detrend: Detrend,
    fs_hz: float,
) -> FloatArray:
    """Samples [lo, hi) of one segment's interpolated (and detrended) 4 Hz series.

    The spline and the detrending are computed on the range widened by margins (clipped at the
    segment's ends): the influence of a far knot or sample decays geometrically (a factor 0.27
    per knot for the spline, 0.97 per sample for lambda 500), so at these margins the values
    equal those of the whole-segment computation to rounding.
    """
    margin = _DETREND_MARGIN_SAMPLES if detrend == "smoothness-priors" else 0
    g0, g1 = max(0, lo - margin), min(size, hi + margin)
    grid_s = t_s[0] + np.arange(g0, g1) / fs_hz
    k0 = max(0, int(np.searchsorted(t_s, grid_s[0])) - _SPLINE_MARGIN_KNOTS)
    k1 = min(t_s.size, int(np.searchsorted(t_s, grid_s[-1])) + _SPLINE_MARGIN_KNOTS)
    x = np.asarray(CubicSpline(t_s[k0:k1], rr[k0:k1])(grid_s), dtype=np.float64)
    if detrend == "smoothness-priors":
        x = smoothness_priors_detrend(x)
    return x[lo - g0: hi - g0]


def _chunked_psd(
    rr: FloatArray, size: int, detrend: Detrend, fs_hz: float, window_s: float,
    chunk_samples: int,
) -> tuple[FloatArray, FloatArray, int]:
    """``welch_psd`` of one long segment's mean-removed series, computed a chunk at a time.

    Two passes over the segment: the first sums the (detrended) series for its mean, the
    second runs Welch on groups of whole windows and weights each group's mean PSD by its
    window count. Equal to the whole-segment computation to rounding.
    """
    t_s = np.cumsum(rr) / 1000.0
    nfft = int(round(window_s * fs_hz))
    step = nfft // 2
    total = 0.0
    for lo in range(0, size, chunk_samples):
        hi = min(size, lo + chunk_samples)
        total += float(np.sum(_detrended_range(t_s, rr, size, lo, hi, detrend, fs_hz)))
    mean = total / size
    n_windows = 1 + (size - nfft) // step
    per_group = max(1, chunk_samples // step)
    psd_sum: FloatArray | None = None
    freq: FloatArray | None = None
    for w0 in range(0, n_windows, per_group):
        w1 = min(n_windows, w0 + per_group)
        lo, hi = w0 * step, (w1 - 1) * step + nfft
        x = _detrended_range(t_s, rr, size, lo, hi, detrend, fs_hz)
        x -= mean
        freq, psd, k = welch_psd(x, fs_hz, window_s)
        psd_sum = psd * k if psd_sum is None else psd_sum + psd * k
    assert psd_sum is not None and freq is not None
    return freq, psd_sum / n_windows, n_windows


@dataclass(frozen=True, slots=True)
class BandPowers:
    """Band powers (ms^2), LF/HF and band peak frequencies (Hz) of one spectrum."""

    vlf_ms2: float
    lf_ms2: float
    hf_ms2: float
    total_power_ms2: float
    lf_hf: float | None
    lf_peak_hz: float
    hf_peak_hz: float


def _band_mask(freq_hz: FloatArray, band: tuple[float, float]) -> npt.NDArray[np.bool_]:
    lo, hi = band
    return np.asarray((freq_hz >= lo - 1e-9) & (freq_hz <= hi + 1e-9), dtype=np.bool_)


def _trapezoid(y: FloatArray, x: FloatArray) -> float:
    if y.size < 2:
        return 0.0
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0)


def _peak_hz(spectrum: Spectrum, band: tuple[float, float]) -> float:
    mask = _band_mask(spectrum.freq_hz, band)
    idx = np.flatnonzero(mask)
    return float(spectrum.freq_hz[idx[int(np.argmax(spectrum.psd_ms2_per_hz[idx]))]])


def band_powers(spectrum: Spectrum, integration: Integration = "kubios") -> BandPowers:
    """VLF (0-0.04), LF (0.04-0.15) and HF (0.15-0.4 Hz) powers (ms^2) by the trapezoid rule.

    ``integration="kubios"`` reproduces Kubios HRV 3.1's reported powers to 1e-8 relative on
    both reference reports: the PSD is linearly interpolated to a 1 mHz grid and integrated
    over [0, 0.04], [0.04, 0.15] and [0.15, 0.399] Hz, total power over [0, 0.401] Hz (Kubios
    stops HF one grid step short of 0.4 Hz and runs total power one step past it; measured,
    not documented). ``"bins"`` integrates the Welch bins directly with both edges inclusive
    and total = VLF + LF + HF (the shared notes' recipe; within 0.6 % of Kubios). Peaks are the
    highest Welch bin of each band, edges included, as Kubios reports them.
    """
    f = spectrum.freq_hz
    p = spectrum.psd_ms2_per_hz
    if integration == "kubios":
        step = KUBIOS_GRID_HZ
        x = np.asarray(np.arange(int(round((HF_BAND_HZ[1] + step) / step)) + 1) * step,
                       dtype=np.float64)
        y: FloatArray = np.asarray(np.interp(x, f, p), dtype=np.float64)
        hf_top = HF_BAND_HZ[1] - step
        total_top = HF_BAND_HZ[1] + step
    else:
        x, y = f, p
        hf_top = HF_BAND_HZ[1]
        total_top = -1.0

    def power(lo: float, hi: float) -> float:
        m = (x >= lo - 1e-9) & (x <= hi + 1e-9)
        return _trapezoid(y[m], x[m])

    vlf = power(*VLF_BAND_HZ)
    lf = power(*LF_BAND_HZ)
    hf = power(HF_BAND_HZ[0], hf_top)
    total = power(0.0, total_top) if total_top > 0 else vlf + lf + hf
    return BandPowers(
        vlf_ms2=vlf,
        lf_ms2=lf,
        hf_ms2=hf,
        total_power_ms2=total,
        lf_hf=lf / hf if hf > 0 else None,
        lf_peak_hz=_peak_hz(spectrum, LF_BAND_HZ),
        hf_peak_hz=_peak_hz(spectrum, HF_BAND_HZ),
    )


def respiration_rate_bpm(spectrum: Spectrum) -> float | None:
    """Breaths per minute from the RSA peak: the highest local maximum of f * PSD in 0.05-0.5 Hz.

    Weighting by frequency (power per log-frequency) flattens the 1/f background of RR
    spectra, which would otherwise put the maximum at the band's low edge on long records; the
    band reaches down to 0.05 Hz so that slow paced breathing (6/min = 0.1 Hz) is found. The
    peak is refined by a parabola through its bin and both neighbours. None when the band holds
    no local maximum.
    """
    f = spectrum.freq_hz
    p = spectrum.psd_ms2_per_hz * f
    idx = np.flatnonzero(_band_mask(f, RESPIRATION_BAND_HZ))
    idx = idx[(idx > 0) & (idx < f.size - 1)]
    peaks = idx[(p[idx] > p[idx - 1]) & (p[idx] >= p[idx + 1])]
    if peaks.size == 0:
        return None
    k = int(peaks[np.argmax(p[peaks])])
    y0, y1, y2 = (float(v) for v in p[k - 1 : k + 2])
    denom = y0 - 2.0 * y1 + y2
    shift = 0.5 * (y0 - y2) / denom if denom < 0 else 0.0
    step = float(f[1] - f[0])
    return 60.0 * (float(f[k]) + max(-0.5, min(0.5, shift)) * step)


# --------------------------------------------------------------------------------------------
# Nonlinear


def _window_rss(profile: FloatArray, n: int) -> tuple[float, int]:
    """Sum of squared residuals of per-window linear fits (non-overlapping, from the start)."""
    k = profile.size // n
    if k == 0:
        return 0.0, 0
    y = profile[: k * n].reshape(k, n)
    xc = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    yc = y - y.mean(axis=1, keepdims=True)
    slope_num = yc @ xc
    rss = np.sum(yc * yc, axis=1) - slope_num * slope_num / float(xc @ xc)
    return float(np.sum(rss)), k


def dfa_alpha(
    rr_ms: npt.ArrayLike,
    scales: tuple[int, ...] | list[int] = DFA_ALPHA1_SCALES,
    segment: npt.ArrayLike | None = None,
) -> float:
    """DFA scaling exponent over ``scales`` (beats): slope of log F(n) against log n.

    Each segment has its own profile (cumulative sum of the mean-removed RR); windows never
    span segments and F(n) pools the squared residuals of all windows of size n. For one
    segment this equals nolds 0.6.2 ``dfa(overlap=False, fit_exp="poly")``.
    References: Peng et al., Chaos 5:82, 1995.
    """
    rr = _as_float(rr_ms)
    profiles = []
    for a, b in segment_bounds(segment, rr.size):
        part = rr[a:b]
        profiles.append(np.cumsum(part - part.mean()))
    largest = max(scales)
    windows = sum(p.size // largest for p in profiles)
    if windows < MIN_DFA_WINDOWS:
        raise InsufficientData(
            f"DFA over {min(scales)}-{largest} beats needs {MIN_DFA_WINDOWS * largest} "
            "gap-free beats"
        )
    log_n: list[float] = []
    log_f: list[float] = []
    for n in scales:
        rss = 0.0
        count = 0
        for p in profiles:
            r, k = _window_rss(p, n)
            rss += r
            count += k
        if count and rss > 0:
            log_n.append(math.log(n))
            log_f.append(0.5 * math.log(rss / (count * n)))
    if len(log_n) < 2:
        raise InsufficientData("DFA found no fluctuation (constant RR)")
    slope = np.polyfit(np.asarray(log_n), np.asarray(log_f), 1)[0]
    return float(slope)


def _templates(rr: FloatArray, bounds: list[tuple[int, int]], length: int, drop: int
               ) -> FloatArray:
    """Template vectors of ``length`` from each segment, leaving out its last ``drop`` starts."""
    rows = []
    for a, b in bounds:
        count = b - a - drop
        if count > 0:
            rows.append(np.lib.stride_tricks.sliding_window_view(rr[a:b], length)[:count])
    if not rows:
        return np.empty((0, length))
    return np.concatenate(rows, axis=0)


def _pairs_within(points: FloatArray, r: float) -> int:
    """Number of unordered pairs of distinct rows whose Chebyshev distance is <= r."""
    if points.shape[0] < 2:
        return 0
    tree = cKDTree(points, leafsize=32, balanced_tree=False, compact_nodes=False)
    ordered = int(tree.count_neighbors(tree, r, p=np.inf))
    return (ordered - int(points.shape[0])) // 2


def sample_entropy(
    rr_ms: npt.ArrayLike,
    m: int = 2,
    r_ms: float | None = None,
    segment: npt.ArrayLike | None = None,
    *,
    variant: SampEnVariant = "richman-moorman",
) -> float:
    """Exact sample entropy -ln(A/B) (Richman & Moorman 2000); r defaults to 0.2 SD (ddof=1).

    B counts template pairs of length m within r (Chebyshev, <= r), A those of length m+1, over
    the same N-m templates per segment. Pairs are counted with a k-d tree's dual-tree
    neighbour count, exact and sub-quadratic in practice (about 10 s for 80,000 beats).
    ``variant="kubios"`` takes B over all N-m+1 templates of length m and compares match
    *probabilities* (each count over its number of pairs); it reproduces Kubios HRV Standard's
    SampEn to 4 decimals on its five-minute reference report.
    References: Richman & Moorman, Am J Physiol 278:H2039, 2000.
    """
    rr = _as_float(rr_ms)
    if rr.size < MIN_SAMPEN_BEATS:
        raise InsufficientData(f"SampEn needs at least {MIN_SAMPEN_BEATS} beats")
    r = 0.2 * float(rr.std(ddof=1)) if r_ms is None else float(r_ms)
    if not r >= 0.0:
        raise ValueError(f"SampEn tolerance must be >= 0 ms, got {r}")
    bounds = segment_bounds(segment, rr.size)
    b_templates = _templates(rr, bounds, m, m if variant == "richman-moorman" else m - 1)
    a_templates = _templates(rr, bounds, m + 1, m)
    b_count = _pairs_within(b_templates, r)
    a_count = _pairs_within(a_templates, r)
    if a_count == 0 or b_count == 0:
        raise InsufficientData("SampEn is undefined: no matching template pairs")
    if variant == "kubios":
        n_b = b_templates.shape[0]
        n_a = a_templates.shape[0]
        return -math.log((a_count / (n_a * (n_a - 1))) / (b_count / (n_b * (n_b - 1))))
    return -math.log(a_count / b_count)
