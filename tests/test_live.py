"""LiveMetricsTracker: incremental windows equal batch ones, segments, HR-only mode, spectra."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afterbeat.hrv.artifacts import ArtifactFilter, ArtifactKind, CleanBeat
from afterbeat.hrv.beats import Beat
from afterbeat.hrv.live import LiveMetrics, LiveMetricsTracker

DATA = Path(__file__).resolve().parent / "data"


def _clean(t_s: float, rr_ms: float, segment: int = 0, corrected: bool = False) -> CleanBeat:
    kind = ArtifactKind.ECTOPIC if corrected else ArtifactKind.NORMAL
    return CleanBeat(t_s, rr_ms, rr_ms, segment, corrected, kind)


def _feed(tracker: LiveMetricsTracker, t: np.ndarray, rr: np.ndarray, segment: int = 0,
          corrected: np.ndarray | None = None) -> list[LiveMetrics]:
    out = []
    for i, (ti, r) in enumerate(zip(t, rr, strict=True)):
        m = tracker.push_beat(_clean(float(ti), float(r), segment,
                                     bool(corrected[i]) if corrected is not None else False))
        assert m is not None
        out.append(m)
    return out


def _batch(t: np.ndarray, rr: np.ndarray, k: int, span_s: float) -> dict[str, float]:
    """Plain numpy reference over the beats in (t_k - span, t_k]."""
    lo = int(np.searchsorted(t, t[k] - span_s, side="right"))
    w = rr[lo:k + 1]
    d = np.diff(w)
    return {
        "coverage": min(1.0, w.sum() / 1000.0 / span_s) if w.size else 0.0,
        "hr": 60000.0 / w.mean(),
        "rmssd": float(np.sqrt(np.mean(d ** 2))) if d.size else math.nan,
        "sdnn": float(np.std(w, ddof=1)) if w.size > 1 else math.nan,
        "pnn50": 100.0 * np.count_nonzero(np.abs(d) > 50.0) / d.size if d.size else math.nan,
        "n": float(w.size),
    }


@pytest.mark.slow
def test_incremental_metrics_equal_batch_ones_on_kubios_series() -> None:
    rr = np.load(DATA / "kubios-reference/series_1.npy").astype(float)
    t = np.cumsum(rr) / 1000.0
    tracker = LiveMetricsTracker()
    metrics = _feed(tracker, t, rr)
    checked = 0
    for k, m in enumerate(metrics):
        b60 = _batch(t, rr, k, 60.0)
        b120 = _batch(t, rr, k, 120.0)
        assert m.coverage_120 == pytest.approx(b120["coverage"], abs=1e-12)
        assert m.n_beats_120 == b120["n"]
        if b60["coverage"] >= 0.8:
            assert m.heart_rate_bpm is not None and m.rmssd_60_ms is not None
            assert m.heart_rate_bpm == pytest.approx(b60["hr"], abs=1e-9)
            assert m.rmssd_60_ms == pytest.approx(b60["rmssd"], abs=1e-9)
        else:
            assert m.heart_rate_bpm is None and m.rmssd_60_ms is None
        if b120["coverage"] >= 0.8:
            assert m.rmssd_120_ms is not None and m.sdnn_120_ms is not None
            assert m.rmssd_120_ms == pytest.approx(b120["rmssd"], abs=1e-9)
            assert m.sdnn_120_ms == pytest.approx(b120["sdnn"], abs=1e-9)
            assert m.pnn50_120_pct == pytest.approx(b120["pnn50"], abs=1e-9)
            assert m.ln_rmssd_120 == pytest.approx(math.log(b120["rmssd"]), abs=1e-12)
            checked += 1
        else:
            assert m.rmssd_120_ms is None
    assert checked > 4400


def test_no_window_spans_a_segment_gap() -> None:
    a = np.diff(np.loadtxt(DATA / "gudb-chest-strap/subject_04/sitting/annotation_cs.tsv")) * 4.0
    b = np.diff(np.loadtxt(DATA / "gudb-chest-strap/subject_04/maths/annotation_cs.tsv")) * 4.0
    t_a = np.cumsum(a) / 1000.0
    t_b = t_a[-1] + 20.0 + np.cumsum(b) / 1000.0
    tracker = LiveMetricsTracker()
    first = _feed(tracker, t_a, a, segment=0)
    assert first[-1].rmssd_120_ms is not None
    second = _feed(tracker, t_b, b, segment=1)
    assert second[0].n_beats_120 == 1
    assert second[0].rmssd_60_ms is None and second[0].heart_rate_bpm is None
    assert second[0].lf_ms2 is None and second[0].respiration_rate_bpm is None
    for k, m in enumerate(second):
        assert m.segment == 1
        assert m.n_beats_120 == _batch(t_b, b, k, 120.0)["n"]
        if m.rmssd_60_ms is not None:
            assert m.rmssd_60_ms == pytest.approx(_batch(t_b, b, k, 60.0)["rmssd"], abs=1e-9)
    assert second[-1].rmssd_120_ms == pytest.approx(
        _batch(t_b, b, len(b) - 1, 120.0)["rmssd"], abs=1e-9)


def test_break_segment_forgets_everything() -> None:
    rr = np.full(200, 800.0)
    t = np.cumsum(rr) / 1000.0
    tracker = LiveMetricsTracker()
    assert _feed(tracker, t, rr)[-1].rmssd_60_ms == 0.0
    tracker.break_segment()
    m = tracker.push_beat(_clean(float(t[-1] + 1.0), 800.0, 0))
    assert m is not None and m.n_beats_120 == 1 and m.rmssd_60_ms is None


def test_heart_rate_only_mode() -> None:
    tracker = LiveMetricsTracker()
    got = []
    for i in range(90):
        m = tracker.push_heart_rate(float(i), 70.0 + (i % 7))
        assert m is not None and not m.rr_available
        assert m.rmssd_60_ms is None and m.rmssd_120_ms is None
        got.append(m)
    assert got[10].heart_rate_bpm is None
    expected = np.mean([70.0 + (i % 7) for i in range(30, 90)])
    assert got[-1].heart_rate_bpm == pytest.approx(expected)
    # once RR arrives, beats drive the metrics and strap heart rates are not reported separately
    m_beat = tracker.push_beat(_clean(90.5, 850.0))
    assert m_beat is not None and m_beat.rr_available
    assert tracker.push_heart_rate(91.0, 71.0) is None
    # RR stops: after the timeout the strap's heart rate takes over again
    m = tracker.push_heart_rate(105.0, 72.0)
    assert m is not None and not m.rr_available and m.heart_rate_bpm is not None


def test_spectral_values_refresh_every_five_seconds_and_find_breathing() -> None:
    t = [0.0]
    while t[-1] < 400.0:
        t.append(t[-1] + (900.0 + 45.0 * math.sin(2 * math.pi * 0.25 * t[-1])) / 1000.0)
    times = np.array(t[1:])
    rr = 900.0 + 45.0 * np.sin(2 * np.pi * 0.25 * times)
    tracker = LiveMetricsTracker()
    metrics = _feed(tracker, times, rr)
    with_spec = [m for m in metrics if m.lf_ms2 is not None]
    assert with_spec and with_spec[0].t_s >= 120.0
    assert all(m.lf_ms2 is None for m in metrics if m.t_s < 119.0)
    changes = [m.t_s for a, m in zip(with_spec, with_spec[1:], strict=False)
               if m.hf_ms2 != a.hf_ms2]
    assert len(changes) > 40
    assert np.all(np.diff(changes) >= 5.0 - 1e-9)
    last = metrics[-1]
    assert last.respiration_rate_bpm == pytest.approx(15.0, abs=0.2)
    assert last.hf_ms2 is not None and last.lf_ms2 is not None
    assert last.hf_ms2 == pytest.approx(45.0 ** 2 / 2, rel=0.05)
    assert last.spectral_span_s is not None and 290.0 <= last.spectral_span_s <= 300.0
    assert last.coherence is not None and last.lf_hf is not None


def test_corrected_share_follows_the_artifact_filter() -> None:
    rr = np.array((DATA / "welltory-polar-h10/subject_10/RR.txt").read_text().split(), float)
    rr = np.concatenate([rr, rr, rr])  # ~4.5 minutes
    rng = np.random.default_rng(5)
    for i in rng.choice(np.arange(60, rr.size - 10, 9), size=6, replace=False):
        rr[i] -= 250.0
        rr[i + 1] += 250.0
    t = np.cumsum(rr) / 1000.0
    f = ArtifactFilter()
    tracker = LiveMetricsTracker()
    cleans: list[CleanBeat] = []
    last = None
    for ti, r in zip(t, rr, strict=True):
        for c in f.push(Beat(float(ti), float(r), 0)):
            cleans.append(c)
            last = tracker.push_beat(c)
    assert last is not None
    ts = np.array([c.t_s for c in cleans])
    in_window = ts > ts[-1] - 120.0
    # Corrected beats, not intervals: an ectopic beat's short and long interval count half each.
    weight = {ArtifactKind.ECTOPIC: 0.5}
    expected = 100.0 * sum(weight.get(c.kind, 1.0)
                           for c, w in zip(cleans, in_window, strict=True) if w and c.corrected)
    assert last.corrected_120_pct == pytest.approx(expected / np.count_nonzero(in_window))
    assert last.corrected_120_pct > 0.0
    assert any(c.kind is ArtifactKind.ECTOPIC for c in cleans)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=300.0, max_value=1800.0), min_size=2, max_size=400))
def test_rmssd_is_never_negative(values: list[float]) -> None:
    rr = np.asarray(values)
    t = np.cumsum(rr) / 1000.0
    tracker = LiveMetricsTracker(min_coverage=0.0)
    for m in _feed(tracker, t, rr):
        for v in (m.rmssd_60_ms, m.rmssd_120_ms, m.sdnn_120_ms, m.pnn50_120_pct):
            assert v is None or v >= 0.0


@settings(max_examples=30, deadline=None)
@given(st.floats(min_value=350.0, max_value=1500.0), st.integers(min_value=2, max_value=300))
def test_constant_series_gives_zero_variability(rr_ms: float, n: int) -> None:
    rr = np.full(n, rr_ms)
    t = np.cumsum(rr) / 1000.0
    m = _feed(LiveMetricsTracker(min_coverage=0.0), t, rr)[-1]
    assert m.rmssd_60_ms == 0.0 and m.rmssd_120_ms == 0.0
    assert m.sdnn_120_ms == 0.0 and m.pnn50_120_pct == 0.0
    assert m.heart_rate_bpm == pytest.approx(60000.0 / rr_ms)


def test_unusable_beats_are_skipped() -> None:
    tracker = LiveMetricsTracker()
    assert tracker.push_beat(_clean(1.0, float("nan"))) is None
    assert tracker.push_beat(_clean(float("inf"), 800.0)) is None
    assert tracker.push_heart_rate(1.0, float("nan")) is None
    m = tracker.push_beat(_clean(2.0, 800.0))
    assert m is not None and m.n_beats_120 == 1
