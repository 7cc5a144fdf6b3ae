"""Issue 14 item 6: ``analyze`` of a long recording needs memory in proportion to its beats.

The spectrum of a segment longer than ``SPECTRUM_CHUNK_SAMPLES`` and the batch artifact
detection are computed a chunk at a time; these tests pin that chunking does not change the
results and that the peak traced memory stays a small multiple of the beat arrays.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import numpy.typing as npt
import pytest

from afterbeat.hrv import metrics as hrv
from afterbeat.hrv.analysis import analyze
from afterbeat.hrv.artifacts import ArtifactFlags, correct_beats, detect_artifacts

FloatArray = npt.NDArray[np.float64]


def rr_series(n: int, seed: int, artifact_share: float = 0.0) -> FloatArray:
    """n RR intervals (ms) with breathing and slow drift, and some artifacts if asked."""
    rng = np.random.default_rng(seed)
    beat = np.arange(n, dtype=np.float64)
    rr = (800.0 + 40.0 * np.sin(2 * np.pi * beat / 4.2) + 30.0 * np.sin(2 * np.pi * beat / 97.0)
          + 20.0 * rng.standard_normal(n))
    count = int(n * artifact_share)
    if count:
        at = rng.choice(np.arange(2, n - 2), count, replace=False)
        quarter = count // 4
        rr[at[:quarter]] *= 0.55  # premature beats
        rr[at[:quarter] + 1] += 300.0  # ... with their compensatory pause
        rr[at[quarter:2 * quarter]] *= 2.0  # missed beats
        rr[at[2 * quarter:3 * quarter]] = 5000.0  # implausible values
        rr[at[3 * quarter:]] *= 0.45  # extra beats
    return rr


def same_flags(a: ArtifactFlags, b: ArtifactFlags) -> bool:
    """Every flag array equal."""
    names = ("ectopic", "missed", "extra", "long", "short", "invalid", "split_parts",
             "pair_start")
    return all(np.array_equal(getattr(a, name), getattr(b, name)) for name in names)


@pytest.mark.slow
def test_analyze_peak_memory_is_a_small_multiple_of_the_beats() -> None:
    n = 1_000_000  # one gap-free segment of about 9 days: the spectrum goes in chunks
    rr = rr_series(n, seed=1, artifact_share=0.0005)
    t = np.cumsum(rr) / 1000.0
    segment = np.zeros(n, dtype=np.int64)
    beat_bytes = t.nbytes + rr.nbytes + segment.nbytes
    tracemalloc.start()
    try:
        result = analyze(t, rr, segment, sampen=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.n_beats > 0.999 * n
    assert result.lf_ms2 is not None and result.hf_ms2 is not None
    assert result.vlf_ms2 is not None and result.dfa_alpha1 is not None
    # before the chunking the spectrum alone took 12 times the beat arrays
    assert peak < 6 * beat_bytes, f"peak {peak / 2**20:.0f} MiB for {beat_bytes / 2**20:.0f}"


@pytest.mark.parametrize("detrend", ["smoothness-priors", "none"])
def test_chunked_spectrum_equals_the_whole_one(detrend: hrv.Detrend) -> None:
    rr = rr_series(30_000, seed=2)  # about 6.7 h: 96,000 samples at 4 Hz
    segment = (np.arange(rr.size) >= 21_000).astype(np.int64)
    whole = hrv.hrv_spectrum(rr, segment, detrend=detrend)
    for chunk in (1_200, 5_000, 40_000):
        part = hrv.hrv_spectrum(rr, segment, detrend=detrend, chunk_samples=chunk)
        assert (part.n_windows, part.n_segments, part.span_s, part.window_s) == (
            whole.n_windows, whole.n_segments, whole.span_s, whole.window_s)
        np.testing.assert_array_equal(part.freq_hz, whole.freq_hz)
        scale = float(np.max(whole.psd_ms2_per_hz))
        assert np.max(np.abs(part.psd_ms2_per_hz - whole.psd_ms2_per_hz)) < 1e-10 * scale
        a, b = hrv.band_powers(part), hrv.band_powers(whole)
        for name in ("vlf_ms2", "lf_ms2", "hf_ms2", "total_power_ms2"):
            assert getattr(a, name) == pytest.approx(getattr(b, name), rel=1e-9)
        assert (a.lf_peak_hz, a.hf_peak_hz) == (b.lf_peak_hz, b.hf_peak_hz)


def test_artifact_flags_do_not_depend_on_the_chunk_size() -> None:
    rr = rr_series(3_000, seed=3, artifact_share=0.08)
    rr[1_500:1_530] = np.nan  # a run longer than nothing but shorter than the margins
    whole = detect_artifacts(rr, chunk_beats=rr.size)
    assert whole.n_flagged > 200 and whole.pair_start.any() and (whole.split_parts != 1).any()
    for chunk in (64, 100, 999):
        assert same_flags(detect_artifacts(rr, chunk_beats=chunk), whole), chunk
    short = rr[:300]  # chunks shorter than the reach of a corrected ectopic pair
    for chunk in (1, 3):
        assert same_flags(detect_artifacts(short, chunk_beats=chunk),
                          detect_artifacts(short, chunk_beats=short.size)), chunk


def test_correction_of_many_segments_keeps_times_and_segments_in_order() -> None:
    rr = rr_series(20_000, seed=4, artifact_share=0.02)
    t = np.cumsum(np.nan_to_num(rr, nan=800.0)) / 1000.0
    segment = np.searchsorted([5_000, 5_100, 12_000], np.arange(rr.size), side="right")
    fixed = correct_beats(t, rr, segment.astype(np.int64))
    assert fixed.t_s.size == fixed.rr_ms.size == fixed.segment.size == fixed.corrected.size
    assert np.all(np.diff(fixed.segment) >= 0)
    assert np.all(np.diff(fixed.t_s) > 0)
    assert set(np.unique(fixed.segment).tolist()) == {0, 1, 2, 3}
    assert fixed.t_s[-1] == t[-1]
