"""Parseval-scaled Lomb-Scargle: analytic sines, gaps, scipy agreement, respiration, coherence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from afterbeat.hrv.spectral import (
    HF_BAND_HZ,
    LF_BAND_HZ,
    RollingLomb,
    band_power_ms2,
    coherence_ratio,
    lomb_psd,
    respiration_rate_bpm,
    summarize,
)

DATA = Path(__file__).resolve().parent / "data"


def _beats(rr_of_t: Callable[[Any], Any], span_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Beat times (s) and RR (ms) of a heart whose interval follows rr_of_t(t) (ms)."""
    f = rr_of_t
    t = [0.0]
    while t[-1] < span_s:
        t.append(t[-1] + f(t[-1]) / 1000.0)
    times = np.array(t[1:])
    return times, np.asarray(f(times))


def _two_sines(t: np.ndarray | float) -> np.ndarray | float:
    # LF: 40 ms at 0.1 Hz (800 ms²), HF: 30 ms at 0.25 Hz (450 ms²)
    return 1000.0 + 40.0 * np.sin(2 * np.pi * 0.1 * t) + 30.0 * np.sin(2 * np.pi * 0.25 * t)


def _drop(t: np.ndarray, rr: np.ndarray, starts: tuple[float, ...], width_s: float = 10.0
          ) -> tuple[np.ndarray, np.ndarray]:
    keep = np.ones(t.size, dtype=bool)
    for s in starts:
        keep &= ~((t >= s) & (t < s + width_s))
    return t[keep], rr[keep]


def test_sines_give_their_band_powers_in_ms2() -> None:
    t, rr = _beats(_two_sines, 300.0)
    s = summarize(t, rr)
    assert s.lf_ms2 == pytest.approx(800.0, rel=0.02)
    assert s.hf_ms2 == pytest.approx(450.0, rel=0.02)
    assert s.lf_hf == pytest.approx(800.0 / 450.0, rel=0.04)


@pytest.mark.parametrize("gaps", [(30.0, 120.0, 200.0), (80.0, 160.0, 210.0),
                                  (20.0, 100.0, 270.0)])
def test_three_ten_second_gaps_do_not_bias_the_bands(gaps: tuple[float, ...]) -> None:
    t, rr = _drop(*_beats(_two_sines, 300.0), gaps)
    assert np.max(np.diff(t)) > 10.0
    s = summarize(t, rr)
    assert s.lf_ms2 == pytest.approx(800.0, rel=0.02)
    assert s.hf_ms2 == pytest.approx(450.0, rel=0.02)


def test_parseval_integral_equals_variance() -> None:
    rng = np.random.default_rng(7)
    rr = 900.0 + rng.normal(0.0, 35.0, 400)
    t = np.cumsum(rr) / 1000.0
    t, rr = _drop(t, rr, (60.0, 200.0))
    nyquist_hz = 0.5 / (rr.mean() / 1000.0)
    spec = lomb_psd(t, rr, f_max_hz=nyquist_hz)
    total = band_power_ms2(spec, 0.0, nyquist_hz + 1.0)
    assert total == pytest.approx(spec.variance_ms2, rel=0.05)
    assert spec.variance_ms2 == pytest.approx(np.var(rr), rel=0.02)
    classic = lomb_psd(t, rr, f_max_hz=nyquist_hz, weighting="none")
    assert classic.variance_ms2 == pytest.approx(np.var(rr))
    assert band_power_ms2(classic, 0.0, nyquist_hz + 1.0) == pytest.approx(np.var(rr), rel=0.05)


def test_fast_path_equals_scipy_lombscargle() -> None:
    rr = np.load(DATA / "kubios-reference/series_1.npy").astype(float)[:380]
    t = np.cumsum(rr) / 1000.0
    t, rr = _drop(t, rr, (40.0, 150.0))
    for weighting in ("interval", "none"):
        fast = lomb_psd(t, rr, weighting=weighting)
        ref = lomb_psd(t, rr, method="scipy", weighting=weighting)
        np.testing.assert_allclose(fast.psd_ms2_per_hz, ref.psd_ms2_per_hz,
                                   rtol=1e-9, atol=1e-9 * ref.psd_ms2_per_hz.max())


def test_real_series_bands_agree_with_spline_periodogram_of_the_same_window() -> None:
    # Kubios series_1 in 5-minute windows: the time-weighted Lomb band powers against cubic-spline
    # interpolation at 4 Hz + a plain (boxcar) periodogram, which weighs time the same way
    from scipy.interpolate import CubicSpline
    from scipy.signal import periodogram

    rr_all = np.load(DATA / "kubios-reference/series_1.npy").astype(float)
    t_all = np.cumsum(rr_all) / 1000.0
    diffs = []
    for start in range(0, 3000, 300):
        sel = (t_all >= start) & (t_all < start + 300.0)
        t, rr = t_all[sel], rr_all[sel]
        grid = np.arange(t[0], t[-1], 0.25)
        y = CubicSpline(t, rr)(grid)
        f, p = periodogram(y - y.mean(), fs=4.0, window="boxcar")
        df = f[1] - f[0]
        lf_ref = p[(f >= LF_BAND_HZ[0]) & (f < LF_BAND_HZ[1])].sum() * df
        hf_ref = p[(f >= HF_BAND_HZ[0]) & (f < HF_BAND_HZ[1])].sum() * df
        s = summarize(t, rr)
        diffs.append((np.log(s.lf_ms2 / lf_ref), np.log(s.hf_ms2 / hf_ref)))
    d = np.abs(np.asarray(diffs))
    assert np.all(d < 0.12)
    assert np.all(np.median(d, axis=0) < 0.05)
    # unweighted, the classical periodogram reads HF about 20 % low on this series
    t, rr = t_all[t_all < 300.0], rr_all[t_all < 300.0]
    classic = lomb_psd(t, rr, weighting="none")
    weighted = lomb_psd(t, rr)
    assert band_power_ms2(classic, *HF_BAND_HZ) < 0.9 * band_power_ms2(weighted, *HF_BAND_HZ)


def test_broadband_series_sampled_at_its_own_beats_is_unbiased() -> None:
    from scipy.signal import periodogram

    rng = np.random.default_rng(11)
    errors = []
    fr = np.arange(0.005, 0.45, 0.002)
    for _ in range(8):
        amp = np.where(fr < 0.04, 10.0, np.where(fr < 0.15, 14.0, np.where(fr < 0.4, 9.0, 0.0)))
        amp = amp * rng.rayleigh(1.0, fr.size) / 1.25
        ph = rng.uniform(0.0, 2 * np.pi, fr.size)

        def f(x: np.ndarray | float, amp: np.ndarray = amp, ph: np.ndarray = ph) -> np.ndarray:
            x = np.atleast_1d(x)
            return np.asarray(775.0 + (amp[:, None] * np.sin(2 * np.pi * fr[:, None] * x[None, :]
                                                             + ph[:, None])).sum(axis=0))

        t, _ = _beats(lambda x: f(x)[0] if np.ndim(x) == 0 else f(x), 300.0)
        rr = f(t)
        grid = np.arange(t[0], t[-1], 0.25)
        q, p = periodogram(f(grid) - f(grid).mean(), fs=4.0, window="boxcar")
        df = q[1] - q[0]
        hf_true = p[(q >= HF_BAND_HZ[0]) & (q < HF_BAND_HZ[1])].sum() * df
        lf_true = p[(q >= LF_BAND_HZ[0]) & (q < LF_BAND_HZ[1])].sum() * df
        s = summarize(t, rr)
        errors.append((np.log(s.lf_ms2 / lf_true), np.log(s.hf_ms2 / hf_true)))
    assert np.all(np.abs(np.median(errors, axis=0)) < 0.05)


def test_respiration_rate_from_a_quarter_hertz_sine() -> None:
    t, rr = _beats(lambda x: 950.0 + 35.0 * np.sin(2 * np.pi * 0.25 * x), 120.0)
    spec = lomb_psd(t, rr)
    assert respiration_rate_bpm(spec) == pytest.approx(15.0, abs=0.1)
    t, rr = _beats(lambda x: 950.0 + 35.0 * np.sin(2 * np.pi * 0.1 * x), 180.0)
    assert respiration_rate_bpm(lomb_psd(t, rr)) == pytest.approx(6.0, abs=0.1)


def test_coherence_high_for_a_slow_sine_low_for_noise() -> None:
    t, rr = _beats(lambda x: 900.0 + 60.0 * np.sin(2 * np.pi * 0.1 * x), 120.0)
    coherent = coherence_ratio(lomb_psd(t, rr))
    rng = np.random.default_rng(3)
    noise = 900.0 + rng.normal(0.0, 40.0, t.size)
    incoherent = coherence_ratio(lomb_psd(np.cumsum(noise) / 1000.0, noise))
    assert coherent is not None and incoherent is not None
    assert coherent > 5.0
    assert incoherent < 1.0


def test_too_few_beats_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="at least 4 beats"):
        lomb_psd([0.0, 1.0, 2.0], [1000.0, 1000.0, 1000.0])
    with pytest.raises(ValueError, match="must span a positive time"):
        lomb_psd([1.0] * 5, [1000.0] * 5)


def test_rolling_lomb_equals_batch_lomb_on_a_sliding_window() -> None:
    rr_all = np.load(DATA / "kubios-reference/series_1.npy").astype(float)[:1500]
    t_all = np.cumsum(rr_all) / 1000.0
    rolling = RollingLomb(df_hz=1.0 / 600.0, capacity=64)  # small: the ring must grow and wrap
    lo = 0
    checked = 0
    for k in range(t_all.size):
        rolling.push(float(t_all[k]), float(rr_all[k]))
        while t_all[lo] <= t_all[k] - 300.0:
            rolling.pop_left()
            lo += 1
        assert len(rolling) == k + 1 - lo
        if k % 97 == 0 and k - lo > 100:
            ref = lomb_psd(t_all[lo:k + 1], rr_all[lo:k + 1], df_hz=1.0 / 600.0)
            got = rolling.spectrum()
            np.testing.assert_allclose(got.psd_ms2_per_hz, ref.psd_ms2_per_hz, rtol=1e-7,
                                       atol=1e-9 * ref.psd_ms2_per_hz.max())
            assert got.variance_ms2 == pytest.approx(ref.variance_ms2)
            checked += 1
    assert checked > 10
    rolling.clear()
    assert len(rolling) == 0 and rolling.first_t_s is None
