"""The personal baseline: pooled resting values, floors, provisional, roll-over, JSON."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest

from afterbeat.activation.baseline import Baseline, BaselineError, RestCollector, RestRecording
from afterbeat.activation.settings import Settings
from arousal_helpers import metrics

S = Settings()


def _windows(rr_ms: np.ndarray, step_s: float = 5.0) -> tuple[list[float], list[float]]:
    """5-s values of HR over 60 s and ln RMSSD over 120 s, computed plainly from real RR."""
    t = np.cumsum(rr_ms) / 1000.0
    hr, ln = [], []
    end = 120.0
    while end <= t[-1]:
        w60 = rr_ms[(t > end - 60.0) & (t <= end)]
        w120 = rr_ms[(t > end - 120.0) & (t <= end)]
        hr.append(60000.0 / float(np.mean(w60)))
        ln.append(math.log(float(np.sqrt(np.mean(np.diff(w120) ** 2)))))
        end += step_s
    return hr, ln


def test_baseline_from_real_resting_recordings(data_dir: Path) -> None:
    recs = []
    for name in ("rest_rri.txt",):
        rr = np.loadtxt(data_dir / "polar-hrm" / name)
        hr, ln = _windows(rr)
        recs.append(RestRecording(name, tuple(hr), tuple(ln), span_s=5.0 * len(hr)))
    for subject in ("subject_00", "subject_01"):
        peaks = np.loadtxt(data_dir / "gudb-chest-strap" / subject / "sitting" /
                           "annotation_cs.tsv")
        hr, ln = _windows(np.diff(peaks) * 4.0)
        recs.append(RestRecording(subject, tuple(hr), tuple(ln), span_s=5.0 * len(hr)))
    base = Baseline.from_recordings(recs, S)
    all_hr = [v for r in recs for v in r.heart_rate_bpm]
    all_ln = [v for r in recs for v in r.ln_rmssd]
    assert base.heart_rate_bpm == pytest.approx(statistics.median(all_hr))
    assert base.heart_rate_spread_bpm == pytest.approx(max(3.0, statistics.stdev(all_hr)))
    assert base.ln_rmssd == pytest.approx(statistics.median(all_ln))
    assert base.ln_rmssd_spread == pytest.approx(max(0.15, statistics.stdev(all_ln)))
    assert not base.provisional
    assert 40.0 < base.heart_rate_bpm < 100.0
    assert base.ln_rmssd is not None
    assert base.rmssd_ms == pytest.approx(math.exp(base.ln_rmssd))


def test_floors_apply_to_tight_spreads() -> None:
    rec = RestRecording("r", (60.0, 60.5, 59.5), (3.5, 3.52, 3.48), 15.0)
    base = Baseline.from_recordings([rec], S)
    assert base.heart_rate_spread_bpm == 3.0
    assert base.ln_rmssd_spread == 0.15


def test_provisional_until_three_and_rolls_over_seven() -> None:
    recs = [RestRecording(f"r{i}", (60.0 + i,), (3.5,), 5.0) for i in range(9)]
    base = Baseline.from_recordings(recs[:1], S)
    assert base.provisional
    base = base.add(recs[1], S)
    assert base.provisional
    base = base.add(recs[2], S)
    assert not base.provisional
    for rec in recs[3:]:
        base = base.add(rec, S)
    assert [r.label for r in base.recordings] == [f"r{i}" for i in range(2, 9)]
    assert base.heart_rate_bpm == pytest.approx(65.0)


def test_json_round_trip_and_errors() -> None:
    recs = [RestRecording("2026-11-20T08:00Z", (58.0, 61.0, 63.0), (3.4, 3.6, 3.5), 15.0),
            RestRecording("hr only", (70.0, 72.0), (), 10.0)]
    base = Baseline.from_recordings(recs, S)
    doc = json.loads(json.dumps(base.to_json()))
    again = Baseline.from_json(doc, S)
    assert again == base
    assert doc["provisional"] is True and doc["recording_count"] == 2
    with pytest.raises(BaselineError, match="version"):
        Baseline.from_json({**doc, "version": 99})
    with pytest.raises(BaselineError, match="no resting"):
        Baseline.from_json({**doc, "recordings": []})
    bad = {**doc, "recordings": [{"label": "x", "heart_rate_bpm": ["fast"]}]}
    with pytest.raises(BaselineError, match="heart_rate_bpm"):
        Baseline.from_json(bad)
    with pytest.raises(BaselineError):
        Baseline.from_recordings([], S)


def test_heart_rate_only_baseline() -> None:
    base = Baseline.from_recordings([RestRecording("hr", (70.0, 71.0), (), 10.0)], S)
    assert base.ln_rmssd is None and base.ln_rmssd_spread is None and base.rmssd_ms is None
    assert "still being learned" in base.describe()


def test_collector_keeps_only_clean_still_values() -> None:
    c = RestCollector("rest", S)
    assert c.push(metrics(0.0, 60.0, 3.5))
    assert not c.push(metrics(5.0, 60.0, 3.5, coverage=0.5))
    assert not c.push(metrics(10.0, 60.0, 3.5, corrected_pct=8.0))
    assert not c.push(metrics(15.0, None, None))
    assert not c.push(metrics(20.0, 60.0, 3.5), moving=True)
    with pytest.raises(BaselineError, match="rest a little longer"):
        c.finish()
    for i in range(20):
        c.push(metrics(25.0 + 5 * i, 61.0, 3.6))
    rec = c.finish()
    assert len(rec.heart_rate_bpm) == 21 and len(rec.ln_rmssd) == 21
    assert rec.span_s == pytest.approx(105.0)
