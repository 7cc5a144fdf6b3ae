"""Artifact detection and correction (batch and causal) on real RR series with injected beats."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from afterbeat.hrv.artifacts import (
    MAX_RR_MS,
    MIN_RR_MS,
    ArtifactFilter,
    ArtifactKind,
    CleanBeat,
    correct_beats,
    correct_rr,
    detect_artifacts,
)
from afterbeat.hrv.beats import Beat

DATA = Path(__file__).resolve().parent / "data"


def _welltory(n: int) -> np.ndarray:
    return np.array((DATA / f"welltory-polar-h10/subject_{n:02d}/RR.txt").read_text().split(),
                    dtype=float)


def _gudb_sitting(n: int) -> np.ndarray:
    peaks = np.loadtxt(DATA / f"gudb-chest-strap/subject_{n:02d}/sitting/annotation_cs.tsv")
    return np.diff(peaks) * 4.0


def _kubios() -> np.ndarray:
    return np.asarray(np.load(DATA / "kubios-reference/series_1.npy"), dtype=np.float64)


def _clean_series() -> dict[str, np.ndarray]:
    out = {f"welltory{n}": _welltory(n) for n in range(1, 22)}
    out.update({f"gudb{n}": _gudb_sitting(n) for n in range(12)})
    kub = _kubios()
    for w in range(4):  # four 5-minute stretches of Kubios series_1
        out[f"kubios{w}"] = kub[w * 400:(w + 1) * 400]
    return out


def _inject(rr: np.ndarray, kind: str, seed: int) -> tuple[np.ndarray, list[int]]:
    """About 2 % artifacts of one kind, at least 6 beats apart; returns positions in the output."""
    rng = np.random.default_rng(seed)
    n = rr.size
    picks = sorted(rng.choice(np.arange(10, n - 10), size=max(1, n // 50), replace=False))
    picks = [p for k, p in enumerate(picks) if k == 0 or p - picks[k - 1] > 5]
    out = list(rr)
    marks: list[int] = []
    shift = 0
    for p in picks:
        j = int(p) + shift
        if kind == "ectopic":  # premature beat with a compensatory pause
            f = rng.uniform(0.2, 0.4) * out[j]
            out[j] -= f
            out[j + 1] += f
        elif kind == "missed":
            out[j] += out.pop(j + 1)
            shift -= 1
        else:  # extra
            a = rng.uniform(0.3, 0.7) * out[j]
            out[j:j + 1] = [a, out[j] - a]
            shift += 1
        marks.append(j)
    return np.asarray(out), marks


def _stream(rr: np.ndarray, segment: int = 0, f: ArtifactFilter | None = None) -> list[CleanBeat]:
    f = f or ArtifactFilter()
    t = np.cumsum(rr) / 1000.0
    out: list[CleanBeat] = []
    for ti, r in zip(t, rr, strict=True):
        out.extend(f.push(Beat(float(ti), float(r), segment)))
    out.extend(f.flush())
    return out


def _rmssd(rr: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.diff(rr) ** 2)))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["ectopic", "missed", "extra"])
def test_injected_artifacts_are_detected_batch_and_stream(kind: str) -> None:
    hits = kind_hits = stream_hits = total = 0
    for seed, rr in enumerate(_clean_series().values()):
        x, marks = _inject(rr, kind, seed)
        kinds = detect_artifacts(x).kinds()
        t = np.round(np.cumsum(x) / 1000.0, 9)
        flagged_t = {round(c.t_s, 9) for c in _stream(x) if c.corrected}
        for m in marks:
            total += 1
            near = kinds[m:m + 2]
            hits += any(k is not ArtifactKind.NORMAL for k in near)
            kind_hits += kind in near
            stream_hits += bool({t[m], t[m + 1]} & flagged_t)
    assert total > 80
    assert hits == total
    assert stream_hits == total
    assert kind_hits / total >= 0.93


@pytest.mark.slow
def test_low_over_flagging_on_clean_real_data() -> None:
    series = _clean_series()
    beats = sum(v.size for v in series.values())
    batch = sum(detect_artifacts(v).n_flagged for v in series.values())
    stream = sum(sum(c.corrected for c in _stream(v)) for v in series.values())
    # these clean recordings still hold a few natural ectopic beats: NeuroKit2 and systole flag
    # about 1.2 % of them, this detector flags each ectopic pair's two intervals
    assert batch / beats < 0.02
    assert stream / beats < 0.025
    assert detect_artifacts(_welltory(2)).n_flagged == 0


@pytest.mark.slow
def test_correction_restores_rmssd() -> None:
    errors = []
    for seed, rr in enumerate(_clean_series().values()):
        for kind in ("ectopic", "missed", "extra"):
            x, _ = _inject(rr, kind, 100 + seed)
            fixed, mask = correct_rr(x)
            assert fixed.shape == mask.shape
            errors.append(abs(_rmssd(fixed) - _rmssd(rr)) / _rmssd(rr))
    assert np.median(errors) < 0.03


def test_extra_beat_is_merged_and_missed_beat_split() -> None:
    rr = _gudb_sitting(1)
    x = np.concatenate([rr[:50], [rr[50] * 0.4, rr[50] * 0.6], rr[51:]])
    fixed, mask = correct_rr(x)
    assert fixed.size == rr.size
    assert fixed[50] == pytest.approx(rr[50])
    assert mask[50]
    assert np.count_nonzero(mask) <= 3
    y = np.concatenate([rr[:80], [rr[80] + rr[81]], rr[82:]])
    flags = detect_artifacts(y)
    assert flags.missed[80]
    fixed, mask = correct_rr(y)
    assert fixed.size == rr.size
    assert fixed[80] == fixed[81] == pytest.approx((rr[80] + rr[81]) / 2)
    assert mask[80] and mask[81]


def test_ectopic_pair_takes_its_mean_and_keeps_time() -> None:
    rr = _welltory(3)
    x = rr.copy()
    x[40] -= 300.0
    x[41] += 300.0
    flags = detect_artifacts(x)
    assert flags.ectopic[40] and flags.ectopic[41] and flags.pair_start[40]
    fixed, mask = correct_rr(x)
    assert fixed[40] == fixed[41] == pytest.approx((rr[40] + rr[41]) / 2)
    assert fixed.sum() == pytest.approx(rr.sum())
    assert rr[40] != x[40]  # the input is never altered in place
    assert np.array_equal(x[40:42], [rr[40] - 300.0, rr[41] + 300.0])


def test_out_of_range_values_are_never_kept() -> None:
    rr = _welltory(4).copy()
    rr[20] = 0.0
    rr[35] = 150.0
    rr[50] = float("nan")
    rr[65] = 9000.0
    flags = detect_artifacts(rr)
    for i in (20, 35, 50, 65):
        assert flags.any[i]
    fixed, mask = correct_rr(rr)
    assert np.all(np.isfinite(fixed))
    assert np.all((fixed >= MIN_RR_MS) & (fixed <= MAX_RR_MS))
    out = _stream(rr)
    assert all(MIN_RR_MS <= c.rr_ms <= MAX_RR_MS for c in out)
    assert all(math.isfinite(c.rr_ms) for c in out)


def test_stream_judges_with_three_beats_of_lookahead() -> None:
    rr = _kubios()[:300]
    f = ArtifactFilter()
    t = np.cumsum(rr) / 1000.0
    emitted = 0
    for i, (ti, r) in enumerate(zip(t, rr, strict=True)):
        out = f.push(Beat(float(ti), float(r), 0))
        emitted += len(out)
        if i >= 100:  # past the first segment's warm-up, output trails input by three beats
            judged = {round(c.t_s, 9) for c in out}
            if len(out) == 1 and out[0].kind is ArtifactKind.NORMAL:
                assert round(t[i - 3], 9) in judged
    emitted += len(f.flush())
    assert emitted >= 298


def test_stream_agrees_with_batch_on_real_data_with_pvcs() -> None:
    path = DATA / "polar-h10-pvc/polar_h10_rr_only.csv"
    lines = path.read_text().splitlines()
    rr = np.array([float(v.split(",")[-1]) for v in lines[1:] if v.split(",")[-1].strip()])
    batch = detect_artifacts(rr)
    out = _stream(rr)
    stream_flags = sum(c.corrected for c in out)
    # a recording with frequent premature ventricular beats: both forms find many; where they
    # come every second or third beat they are the rhythm itself and thresholds adapt to them
    assert batch.n_flagged > 20
    assert abs(stream_flags - batch.n_flagged) <= 0.25 * batch.n_flagged
    fixed, _ = correct_rr(rr)
    assert abs(fixed.sum() - rr.sum()) < 0.01 * rr.sum()


def test_segments_are_never_merged() -> None:
    a = _gudb_sitting(2)
    b = _gudb_sitting(3)
    f = ArtifactFilter()
    out = _stream(a, 0, f)[:0]  # fresh run below with both segments through one filter
    t_a = np.cumsum(a) / 1000.0
    t_b = t_a[-1] + 30.0 + np.cumsum(b) / 1000.0
    f = ArtifactFilter()
    for ti, r in zip(t_a, a, strict=True):
        out.extend(f.push(Beat(float(ti), float(r), 0)))
    n_first = len(out)
    first_b = f.push(Beat(float(t_b[0]), float(b[0]), 1))
    # the new segment's first beat flushes every beat of the old one
    assert len(out) + len(first_b) >= a.size - 2
    assert all(c.segment == 0 for c in first_b)
    out.extend(first_b)
    for ti, r in zip(t_b[1:], b[1:], strict=True):
        out.extend(f.push(Beat(float(ti), float(r), 1)))
    out.extend(f.flush())
    segs = [c.segment for c in out]
    assert segs == sorted(segs)
    assert n_first > 0
    assert sum(c.original_rr_ms for c in out if c.segment == 1 and c.kind is not
               ArtifactKind.MISSED) <= b.sum() + 1e-6
    batch = correct_beats(np.r_[t_a, t_b], np.r_[a, b], np.r_[np.zeros(a.size, int),
                                                             np.ones(b.size, int)])
    assert np.all(np.diff(batch.t_s) > 0)
    assert set(batch.segment.tolist()) == {0, 1}


def test_correct_beats_spreads_split_beat_times() -> None:
    rr = _welltory(6)
    x = np.concatenate([rr[:30], [rr[30] + rr[31]], rr[32:]])
    t = np.cumsum(x) / 1000.0
    fixed = correct_beats(t, x)
    assert fixed.rr_ms.size == rr.size
    k = 30
    assert fixed.t_s[k + 1] == pytest.approx(t[30])
    assert fixed.t_s[k] == pytest.approx(t[30] - x[30] / 2000.0)
    assert fixed.corrected[k] and fixed.corrected[k + 1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(min_value=-100.0, max_value=5000.0),
                          st.just(float("nan"))), min_size=0, max_size=150))
@example([1.0])  # too few beats to judge: the stand-in was the implausible value itself
@example([5000.0])
@example([0.0] * 60 + [1.0] * 60)  # a long run of garbage: its median is no stand-in either
def test_any_input_gives_finite_plausible_output(values: list[float]) -> None:
    rr = np.asarray(values, dtype=float)
    fixed, mask = correct_rr(rr)
    assert fixed.shape == mask.shape
    good = np.isfinite(fixed)
    assert np.all((fixed[good] >= MIN_RR_MS) & (fixed[good] <= MAX_RR_MS))
    f = ArtifactFilter()
    t = 0.0
    n_out = 0
    for v in values:
        t += 1.0
        for c in f.push(Beat(t, v, 0)):
            n_out += 1
            assert math.isfinite(c.rr_ms)
            assert MIN_RR_MS <= c.rr_ms <= MAX_RR_MS
    n_out += len(f.flush())
    assert n_out >= len(values) // 2


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=400.0, max_value=1500.0), st.integers(min_value=4, max_value=200))
def test_constant_series_is_never_flagged(rr_ms: float, n: int) -> None:
    rr = np.full(n, rr_ms)
    assert detect_artifacts(rr).n_flagged == 0
    assert not any(c.corrected for c in _stream(rr))
